"""Hostile workbooks (issue #9 causes 5, 15, 16, 19): built with zipfile in the test,
checked for the exit code, the one error line (file, sheet or cell, hint), the numbers,
untouched inputs, and bounded memory (a subprocess under RLIMIT_AS)."""

from __future__ import annotations

import gzip
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from crmmetrics.errors import ExitCode
from tests.conftest import ROOT, write
from tests.hostile_workbooks import padded_sheet_bomb, sheet_data, xlsx
from tests.test_hostile_inputs import error_line, nps_value, run_on, runner

CONFIG = """
version: 1
timezone: UTC
sources:
  surveys:
    path: {name}
    constants: {{survey_type: nps}}
    fields: {{response_id: id, score: score, responded_at: date{more}}}
"""
ROWS = [["id", "score", "date"], ["1", 10, "2026-01-01"], ["2", 3, "2026-01-02"], ["3", 9, "2026-01-03"]]


def project(tmp_path: Path, data: bytes, name: str = "nps.xlsx", more: str = "") -> tuple[Path, Path]:
    export = tmp_path / name
    export.write_bytes(data)
    return write(tmp_path / "c.yaml", CONFIG.format(name=name, more=more)), export


def run_limited(args: list[str], cwd: Path, limit: int = 1 << 30) -> subprocess.CompletedProcess:
    """The installed CLI under an address-space limit: a bomb must be refused, not kill it."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run([sys.executable, "-m", "crmmetrics", *args], cwd=cwd, capture_output=True, text=True,
                          preexec_fn=cap, timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})


# ---------------------------------------------------------------- 15: caps and reader errors


def test_one_cell_at_xfd1048576_is_refused_within_1_gib(tmp_path):
    body = sheet_data(ROWS)[:-len("</sheetData>")] + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>'
    cfg, export = project(tmp_path, xlsx([("Data", None, body)]))
    assert export.stat().st_size < 5000
    res = run_limited(["compute", "nps", "-c", str(cfg), "-f", "csv"], tmp_path)
    assert res.returncode == ExitCode.DATAERR, res.stderr
    assert "nps.xlsx sheet 'Data': the used range reaches row 1048576, column 16384" in res.stderr
    assert "delete the empty rows and columns" in res.stderr


def test_a_zip_bomb_workbook_is_refused_within_1_gib(tmp_path):
    cfg, export = project(tmp_path, padded_sheet_bomb(300))
    assert export.stat().st_size < 2_000_000
    res = run_limited(["compute", "nps", "-c", str(cfg), "-f", "csv"], tmp_path)
    assert res.returncode == ExitCode.DATAERR, res.stderr
    assert "nps.xlsx: the workbook expands 1023x" in res.stderr and "refused as a decompression bomb" in res.stderr


def test_a_damaged_sheet_is_exit_65_with_file_and_sheet(tmp_path):
    body = '<sheetData><row r="1"><c r="A1" t="s"><v>7</v></c></row>'  # a shared string that does not exist, unclosed
    cfg, export = project(tmp_path, xlsx([("Data", None, body)]))
    res = run_on(cfg, export, "compute", "nps", "-f", "csv")
    assert res.exit_code == ExitCode.DATAERR
    assert "nps.xlsx sheet 'Data': cannot read the sheet" in error_line(res) or "nps.xlsx: not a readable Excel workbook" in error_line(res)


def test_a_truncated_workbook_is_exit_65(tmp_path):
    data = xlsx([("Data", None, sheet_data(ROWS))])
    cfg, export = project(tmp_path, data[: len(data) // 2])
    res = run_on(cfg, export, "compute", "nps", "-f", "csv")
    assert res.exit_code == ExitCode.DATAERR and "nps.xlsx: not a readable workbook (damaged zip" in error_line(res)


# ---------------------------------------------------------------- 16: visible sheet, merged cells, encryption


def test_the_first_visible_sheet_is_read_not_a_hidden_one(tmp_path):
    hidden = sheet_data([["id", "score", "date"], ["9", 0, "2026-01-01"]])
    cfg, export = project(tmp_path, xlsx([("Lookup", "hidden", hidden), ("Data", None, sheet_data(ROWS))]))
    res = run_on(cfg, export, "compute", "nps", "-f", "csv", "-p", "all", "-v")
    # 10, 3, 9 → 2 promoters, 1 detractor of 3 (the hidden sheet's 0 would make it 25)
    assert res.exit_code == 0 and nps_value(res) == pytest.approx(100 / 3)
    assert "hidden sheet(s) 'Lookup' skipped; read the first visible sheet 'Data'" in res.stderr


def test_merged_cells_are_filled_and_said(tmp_path):
    rows = [["id", "score", "date", "region"], ["1", 10, "2026-01-01", "EMEA"], ["2", 3, "2026-01-02", None],
            ["3", 9, "2026-01-03", "APAC"]]
    body = sheet_data(rows, '<mergeCells count="1"><mergeCell ref="D2:D3"/></mergeCells>')
    cfg, export = project(tmp_path, xlsx([("Data", None, body)]), more=", segment: region")
    res = run_on(cfg, export, "compute", "nps", "-f", "csv", "-p", "all", "-b", "segment", "-v")
    assert res.exit_code == 0 and "(blank)" not in res.stdout and ",EMEA," in res.stdout
    assert "info: merged_cells 1" in res.stderr and "nps.xlsx Data!D2: 1 merged range(s) filled" in res.stderr


def test_an_encrypted_workbook_is_named_as_such(tmp_path):
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + "EncryptionInfo".encode("utf-16-le") + b"\x00" * 1024
    cfg, export = project(tmp_path, ole)
    res = run_on(cfg, export, "compute", "nps", "-f", "csv")
    assert res.exit_code == ExitCode.DATAERR
    line = error_line(res)
    assert "nps.xlsx: is an encrypted (password-protected) workbook" in line and "Cannot detect" not in line
    assert "without a password" in res.stderr


# ---------------------------------------------------------------- 5: formula cells that read as blanks


def test_formula_cells_without_values_and_errors_are_warnings_that_fail_strict(tmp_path):
    rows = [["id", "score", "date"], ["1", 10, "2026-01-01"], ["2", ("=", "1/0", "#DIV/0!"), "2026-01-02"],
            ["3", ("=", "B2*2", None), "2026-01-03"], ["4", 9, "2026-01-04"]]
    cfg, export = project(tmp_path, xlsx([("Data", None, sheet_data(rows))]))
    res = run_on(cfg, export, "compute", "nps", "-f", "csv", "-p", "all")
    assert res.exit_code == 0 and nps_value(res) == 100.0
    assert "formula_error 1" in res.stderr and "formula_no_value 1" in res.stderr
    assert "nps.xlsx Data!B3: column 'score': formula error #DIV/0! in the cell" in res.stderr
    assert "nps.xlsx Data!B4: column 'score': formula cell has no saved value" in res.stderr
    strict = run_on(cfg, export, "compute", "nps", "-f", "csv", "-p", "all", "--strict")
    assert strict.exit_code == ExitCode.DATAERR and "nps.xlsx Data!B4: column 'score'" in error_line(strict)


# ---------------------------------------------------------------- 19: init on corrupt inputs


@pytest.mark.parametrize("name, data, expected", [
    ("deals.xlsx", b"PK\x03\x04" + b"\x00" * 100, "deals.xlsx: not a readable workbook"),
    ("deals.csv", gzip.compress(b"id,stage\n1,won\n" * 100)[:20], "deals.csv: the gzip data is truncated"),
    ("deals.xlsx", padded_sheet_bomb(100), "refused as a decompression bomb"),
])
def test_init_maps_reader_errors_to_one_line_and_exit_65(tmp_path, name, data, expected):
    export = tmp_path / name
    export.write_bytes(data)
    res = runner.invoke(__import__("crmmetrics.cli", fromlist=["app"]).app, ["init", str(export), "-o", str(tmp_path / "crm.yaml")])
    assert res.exit_code == ExitCode.DATAERR, res.stderr
    assert expected in error_line(res) and not (tmp_path / "crm.yaml").exists()
    assert export.read_bytes() == data


# ---------------------------------------------------------------- 9: an Excel date cell in 9999


def test_an_excel_9999_date_cell_is_an_issue_naming_the_cell(tmp_path):
    import datetime as dt
    import io

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    for row in (["id", "score", "date"], ["1", 10, dt.datetime(2026, 1, 1)], ["2", 0, dt.datetime(9999, 12, 31)]):
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    cfg, export = project(tmp_path, buf.getvalue())
    res = run_on(cfg, export, "compute", "nps", "-f", "csv", "-p", "all")
    assert res.exit_code == 0 and nps_value(res) == 100.0
    assert "nps.xlsx Data!C3: column 'date': responded_at: date outside 1678–2261; value ignored" in res.stderr


def test_a_gzip_bomb_named_csv_is_refused_within_1_gib(tmp_path):
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    block = b"0" * (1 << 20)
    bomb = b"".join(packer.compress(block) for _ in range(256)) + packer.flush()  # 256 MB of zeros in ~250 KB
    cfg, export = project(tmp_path, bomb, name="nps.csv")
    res = run_limited(["compute", "nps", "-c", str(cfg), "-f", "csv"], tmp_path)
    assert res.returncode == ExitCode.DATAERR, res.stderr
    assert "nps.csv: the gzip data expands" in res.stderr and "refused as a decompression bomb" in res.stderr
