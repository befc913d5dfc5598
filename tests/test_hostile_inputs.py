"""Hostile and messy input files (issue #9, the reader half): every cause gets a test.

Each test runs the CLI on a crafted export and checks the exit code, the one
``crmmetrics: error:`` line (file, line or cell, column, value, hint) or the issue that
reports the problem, the numbers where a wrong number was the bug, and that the input
is byte-identical afterwards. Nothing here may exit 70.
"""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crmmetrics.cli import app
from crmmetrics.errors import ExitCode
from crmmetrics.io.detect import detect_encoding, encoding_guess
from tests.conftest import write

runner = CliRunner()

NPS_CONFIG = """
version: 1
timezone: UTC
sources:
  surveys:
    path: {path}
    {extra}
    fields: {{response_id: id, survey_type: type, score: score, responded_at: date{more}}}
"""


def nps_project(tmp_path: Path, data: bytes, name: str = "s.csv", extra: str = "", more: str = "") -> tuple[Path, Path]:
    """An export with the given bytes and a config reading it: (config, export)."""
    export = tmp_path / name
    export.write_bytes(data)
    cfg = write(tmp_path / "c.yaml", NPS_CONFIG.format(path=name, extra=extra, more=more))
    return cfg, export


def run_on(cfg: Path, export: Path, *args: str):
    """Run the CLI and check the input was not touched (bytes and all)."""
    before = export.read_bytes()
    res = runner.invoke(app, [*args, "-c", str(cfg)])
    assert export.read_bytes() == before
    assert res.exit_code != ExitCode.SOFTWARE, res.stderr
    return res


def error_line(res) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("crmmetrics: error:")]
    assert len(lines) == 1, res.stderr
    return lines[0]


def nps_value(res) -> float:
    rows = [ln.split(",") for ln in res.stdout.splitlines()]
    return float(rows[1][rows[0].index("value")])


ROWS = "id,type,score,date\n1,nps,10,2026-01-01\n{two}\n3,nps,2,2026-01-03\n4,nps,1,2026-01-04\n5,nps,0,2026-01-05\n6,nps,9,2026-01-06\n"


# ---------------------------------------------------------------- 3: runaway quotes


def test_a_stray_quote_that_glues_lines_fails_naming_its_line_column_and_value(tmp_path):
    cfg, export = nps_project(tmp_path, ROWS.format(two='2,nps,"3,2026-01-02').encode())
    res = run_on(cfg, export, "compute", "nps", "-f", "csv", "-p", "all")
    assert res.exit_code == ExitCode.DATAERR and res.stdout == ""
    line = error_line(res)
    assert "s.csv:3: column 'score':" in line and "runs to line 7" in line and "'3,2026-01-02" in line
    assert "stray or unterminated" in line


def test_an_unterminated_quote_in_the_last_column_fails_too(tmp_path):
    cfg, export = nps_project(tmp_path, ROWS.format(two='2,nps,3,"2026-01-02').encode())
    res = run_on(cfg, export, "compute", "nps", "-f", "csv", "-p", "all")
    assert res.exit_code == ExitCode.DATAERR
    assert "s.csv:3: column 'date':" in error_line(res)


def test_validate_no_longer_says_no_issues_for_glued_rows(tmp_path):
    cfg, export = nps_project(tmp_path, ROWS.format(two='2,nps,"3,2026-01-02').encode())
    res = run_on(cfg, export, "validate")
    assert res.exit_code == ExitCode.DATAERR and "unbalanced_quote" not in res.stdout
    assert "s.csv:3: column 'score': a quote opened on this line" in res.stderr and "no issues" not in res.stderr


def test_a_real_multi_line_comment_is_still_one_value(tmp_path):
    data = 'id,type,score,date,note\n1,nps,10,2026-01-01,"good,\nvery good"\n2,nps,0,2026-01-02,x\n'.encode()
    cfg, export = nps_project(tmp_path, data, more=", segment: note")
    res = run_on(cfg, export, "compute", "nps", "-f", "csv", "-p", "all")
    assert res.exit_code == 0 and nps_value(res) == 0.0


# ---------------------------------------------------------------- 4: ragged rows, -q


@pytest.mark.parametrize("quiet", [[], ["-q"]])
def test_ragged_rows_are_errors_with_their_lines_and_q_does_not_hide_them(tmp_path, quiet):
    data = b"id,type,score,date\n1,nps,10,2026-01-01\n2,nps,3,2026-01-02,extra\n3,nps\n4,nps,1,2026-01-04\n"
    cfg, export = nps_project(tmp_path, data)
    res = run_on(cfg, export, "compute", "nps", "-f", "csv", *quiet)
    assert res.exit_code == ExitCode.DATAERR and res.stdout == ""
    line = error_line(res)
    assert "2 data error(s); first: " in line and "s.csv:3: row has 5 fields, the header has 4" in line and "'2,nps,3,2026-01-02,extra'" in line
    assert "s.csv:4: row has 2 fields, the header has 4" in res.stderr
    # each error is said once: the final line names the first, the listing the rest
    assert res.stderr.count("s.csv:3: row has 5 fields") == 1 and res.stderr.count("s.csv:4: row has 2 fields") == 1


def test_ragged_rows_fail_check_too(tmp_path):
    data = b"id,type,score,date\n1,nps,10,2026-01-01\n3,nps\n"
    cfg, export = nps_project(tmp_path, data)
    cfg.write_text(cfg.read_text() + "thresholds: {nps: {min: 0}}\n")
    res = run_on(cfg, export, "check", "-q")
    assert res.exit_code == ExitCode.DATAERR and "s.csv:3: row has 2 fields" in error_line(res)


# ---------------------------------------------------------------- 17: line endings, big fields, compression


@pytest.mark.parametrize("eol", ["\r", "mixed"])
def test_old_mac_and_mixed_line_endings_read_every_row_with_lines(tmp_path, eol):
    lines = ROWS.format(two="2,nps,3,2026-01-02").splitlines()
    if eol == "\r":
        text = "\r".join(lines) + "\r"
    else:
        text = "".join(ln + ("\r", "\r\n", "\n")[i % 3] for i, ln in enumerate(lines))
    cfg, export = nps_project(tmp_path, text.encode())
    res = run_on(cfg, export, "compute", "nps", "-f", "csv", "-p", "all")
    # 2 promoters (10, 9), 4 detractors (3, 2, 1, 0) of 6: 100 × (2 − 4) / 6
    assert res.exit_code == 0 and nps_value(res) == pytest.approx(-100 / 3)


def test_a_field_over_128_kb_and_a_quoted_newline_in_the_header_are_read(tmp_path):
    big = "x" * 300_000
    data = f'id,type,score,"the\ndate"\n1,nps,10,2026-01-01\n2,nps,0,2026-01-02\n3,"{big}",9,2026-01-03\n'.encode()
    cfg, export = nps_project(tmp_path, data)
    cfg.write_text(cfg.read_text().replace("responded_at: date", 'responded_at: "the\\ndate"'))
    res = run_on(cfg, export, "compute", "nps", "-f", "csv", "-p", "all")
    assert res.exit_code == 0 and nps_value(res) == 0.0  # the long survey_type is an issue, not a crash
    assert "s.csv:5: column 'type'" in res.stderr


@pytest.mark.parametrize("pack", [gzip.compress, lzma.compress])
def test_a_compressed_export_with_a_csv_name_is_read_transparently(tmp_path, pack):
    cfg, export = nps_project(tmp_path, pack(ROWS.format(two="2,nps,3,2026-01-02").encode()))
    res = run_on(cfg, export, "compute", "nps", "-f", "csv", "-p", "all")
    assert res.exit_code == 0 and nps_value(res) == pytest.approx(-100 / 3)


def test_a_truncated_gzip_and_a_zip_named_csv_are_refused_clearly(tmp_path):
    packed = gzip.compress(ROWS.format(two="2,nps,3,2026-01-02").encode() * 50)
    cfg, export = nps_project(tmp_path, packed[: len(packed) // 2])
    res = run_on(cfg, export, "compute", "nps", "-f", "csv")
    assert res.exit_code == ExitCode.DATAERR and "s.csv: the gzip data is truncated" in error_line(res)
    export.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    res = run_on(cfg, export, "compute", "nps", "-f", "csv")
    assert res.exit_code == ExitCode.DATAERR and "s.csv: is a zip archive, not delimited text" in error_line(res)


def test_a_gzip_bomb_is_refused_at_the_ratio_cap(tmp_path):
    bomb = gzip.compress(b"0" * (80 << 20), compresslevel=9)  # 80 MB of zeros in ~80 KB
    cfg, export = nps_project(tmp_path, bomb)
    res = run_on(cfg, export, "compute", "nps", "-f", "csv")
    assert res.exit_code == ExitCode.DATAERR and "refused as a decompression bomb" in error_line(res)


# ---------------------------------------------------------------- 20: encodings decided by the letters


def test_icelandic_latin1_is_not_read_as_turkish_and_the_guess_is_said(tmp_path):
    data = "id,type,score,date,name\n1,nps,10,2026-01-01,Þórður\n2,nps,0,2026-01-02,Guðrún\n".encode("cp1252")
    assert detect_encoding(data) == "cp1252"
    cfg, export = nps_project(tmp_path, data, more=", segment: name")
    res = run_on(cfg, export, "compute", "nps", "-f", "csv", "-b", "segment", "-p", "all")
    assert res.exit_code == 0 and "Þórður" in res.stdout and "Şórğur" not in res.stdout
    assert "encoding_guessed 1" in res.stderr and "set csv.encoding" in res.stderr


def test_turkish_bytes_still_read_as_cp1254_without_a_guess_warning():
    data = "Müşteri;Şehir\nAyşe;İzmir\nIşık;Muğla\n".encode("cp1254")
    assert detect_encoding(data) == "cp1254" and encoding_guess(data, "cp1254") is None
