"""Issue #9, paths: a file whose name has glob characters reads itself, patterns are
matched relative to the config's folder, and ``-c <(...)`` (a pipe) is a config like any
other readable file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from crmmetrics.cli import app
from crmmetrics.errors import ExitCode
from tests.conftest import write

runner = CliRunner()
HEADER = "id,type,score,date\n"
CONFIG = """
version: 1
sources:
  surveys:
    path: {path}
    fields: {{response_id: id, survey_type: type, score: score, responded_at: date}}
"""


def nps_all(cfg: Path, *extra: str) -> tuple[int, str, str]:
    res = runner.invoke(app, ["compute", "nps", "-c", str(cfg), "-p", "all", "-f", "csv", *extra])
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    return res.exit_code, rows[0]["value"] if rows else "", res.stderr


def test_a_file_named_like_a_pattern_reads_itself(tmp_path):
    write(tmp_path / "deals[1].csv", HEADER + "1,nps,10,2026-01-05\n")  # NPS +100
    write(tmp_path / "deals1.csv", HEADER + "1,nps,0,2026-01-05\n")  # what "[1]" would match as a pattern: -100
    cfg = write(tmp_path / "crm.yaml", CONFIG.format(path="'deals[1].csv'"))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert nps_all(cfg)[:2] == (0, "100.0")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_path_that_does_not_exist_is_a_pattern(tmp_path):
    write(tmp_path / "parts" / "a.csv", HEADER + "1,nps,10,2026-01-05\n")
    write(tmp_path / "parts" / "b.csv", HEADER + "2,nps,0,2026-01-06\n")
    write(tmp_path / "parts" / "b.csv.bak", HEADER + "3,nps,0,2026-01-06\n")
    (tmp_path / "parts" / "sub.csv").mkdir()  # a folder a pattern matches is not an input
    cfg = write(tmp_path / "crm.yaml", CONFIG.format(path="'parts/*.csv'"))
    code, value, _ = nps_all(cfg)
    assert (code, value) == (0, "0.0")  # one promoter, one detractor
    cfg.write_text(cfg.read_text().replace("parts/*.csv", "parts/[[]x].csv"))
    write(tmp_path / "parts" / "[x].csv", HEADER + "9,nps,10,2026-01-05\n")
    assert nps_all(cfg)[:2] == (0, "100.0")  # exists: read as it is


def test_a_pattern_matching_nothing_names_the_folder(tmp_path):
    cfg = write(tmp_path / "crm.yaml", CONFIG.format(path="'exports/*.csv'"))
    res = runner.invoke(app, ["compute", "nps", "-c", str(cfg)])
    assert res.exit_code == ExitCode.NOINPUT
    assert res.stderr.splitlines()[0] == f"crmmetrics: error: no file matches 'exports/*.csv' (looked in {tmp_path})"


def test_the_config_folder_name_is_not_a_pattern(tmp_path):
    home = tmp_path / "proj[2]"
    write(home / "exports" / "a.csv", HEADER + "1,nps,10,2026-01-05\n")
    write(tmp_path / "proj2" / "exports" / "a.csv", HEADER + "1,nps,0,2026-01-05\n")
    cfg = write(home / "crm.yaml", CONFIG.format(path="'exports/*.csv'"))
    assert nps_all(cfg)[:2] == (0, "100.0")


def test_input_override_with_a_bracketed_name(tmp_path):
    write(tmp_path / "a.csv", HEADER + "1,nps,0,2026-01-05\n")
    other = write(tmp_path / "export [final].csv", HEADER + "1,nps,10,2026-01-05\n")
    cfg = write(tmp_path / "crm.yaml", CONFIG.format(path="a.csv"))
    assert nps_all(cfg, "--input", f"surveys={other}")[:2] == (0, "100.0")


def test_config_from_a_pipe(tmp_path):
    write(tmp_path / "surveys.csv", HEADER + "1,nps,10,2026-01-05\n")
    text = CONFIG.format(path="surveys.csv")
    # bash's <(...) is /dev/fd/N, a pipe; relative source paths then start at the current folder.
    res = subprocess.run(["bash", "-c", f'{sys.executable} -m crmmetrics compute nps -p all -f json -c <(cat <<"EOF"\n{text}\nEOF\n)'],
                         capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["results"][0]["value"] == 100.0


def test_config_from_a_fifo_and_a_folder(tmp_path):
    write(tmp_path / "surveys.csv", HEADER + "1,nps,10,2026-01-05\n")
    fifo = tmp_path / "cfg.fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-m", "crmmetrics", "validate", "-c", str(fifo)], cwd=tmp_path,
                            stderr=subprocess.PIPE, text=True)
    with open(fifo, "w") as fh:
        fh.write(CONFIG.format(path="surveys.csv"))
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    res = runner.invoke(app, ["validate", "-c", str(tmp_path)])
    assert res.exit_code == ExitCode.CONFIG and f"config path is a folder, not a file: {tmp_path}" in res.stderr
