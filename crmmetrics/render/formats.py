"""Data renderers: csv, json, jsonl, markdown and xlsx as bytes."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

from crmmetrics.render.display import INCOMPLETE_NOTE, has_incomplete, table_rows
from crmmetrics.render.safe import csv_field, markdown_cell, utf8_bytes, xlsx_text

if TYPE_CHECKING:
    from crmmetrics.engine import Report


def to_csv(report: Report, bom: bool = False, guard: bool = True) -> bytes:
    """The result rows: header line, raw numbers, UTF-8, ``\\n`` line ends; null → empty.

    With ``guard`` (the default), text fields that a spreadsheet would run as a formula
    get a leading ``'`` (render.safe.csv_field); ``--no-csv-guard`` writes them raw.
    """
    from crmmetrics.engine import result_records

    records = result_records(report.results)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    columns = list(report.results.columns)
    writer.writerow(columns)
    for rec in records:
        writer.writerow(["" if rec.get(c) is None else csv_field(_raw(rec.get(c)), guard) for c in columns])
    return utf8_bytes(("\ufeff" if bom else "") + buf.getvalue())


def _raw(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"  # as in JSON: `complete` reads the same in every format
    return repr(v) if isinstance(v, float) else v


def to_json(report: Report) -> bytes:
    """One JSON object (DESIGN.md section 7). NaN can never slip through: allow_nan=False."""
    return utf8_bytes(json.dumps(report.to_dict(), ensure_ascii=False, indent=2, allow_nan=False) + "\n")


def to_jsonl(report: Report) -> bytes:
    """One result object per line, for jq and streaming."""
    from crmmetrics.engine import result_records

    lines = [json.dumps(r, ensure_ascii=False, allow_nan=False) for r in result_records(report.results)]
    return utf8_bytes("\n".join(lines) + ("\n" if lines else ""))


def to_markdown(report: Report, currency: str | None = None) -> bytes:
    """A GitHub-flavoured pipe table with values formatted as on screen, every cell escaped."""
    from crmmetrics.engine import result_records

    records = result_records(report.results)
    header, rows = table_rows(records, currency)
    if not header:
        return b"_no results_\n"
    if "complete" in report.results.columns:  # the data column travels too, not only the mark
        header = [*header, "complete"]
        rows = [[*row, "true" if rec.get("complete") else "false"] for row, rec in zip(rows, records)]
    lines = ["| " + " | ".join(markdown_cell(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in rows]
    if has_incomplete(records):
        lines += ["", "\\" + INCOMPLETE_NOTE]
    if report.goals:
        from crmmetrics.render.display import goal_cells

        g_header, g_rows = goal_cells(report.goals)
        lines += ["", "| " + " | ".join(markdown_cell(h) for h in g_header) + " |", "|" + "|".join("---" for _ in g_header) + "|"]
        lines += ["| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in g_rows]
    return utf8_bytes("\n".join(lines) + "\n")


def to_xlsx(report: Report) -> bytes:
    """A workbook with sheets results, issues and inputs (raw numbers, like CSV)."""
    from openpyxl import Workbook

    from crmmetrics.engine import result_records

    wb = Workbook()
    wb.remove(wb.active)
    for name, frame in (report.tables or {"results": report.results}).items():
        ws = wb.create_sheet(name[:31])
        columns = list(frame.columns)
        _append_text_row(ws, columns)
        for rec in result_records(frame):
            _append_text_row(ws, [rec.get(c) for c in columns])
        ws.freeze_panes = "A2"
    if report.goals:
        goals = wb.create_sheet("goals")
        g_keys = list(report.goals[0])
        _append_text_row(goals, g_keys)
        for g in report.goals:
            _append_text_row(goals, [g.get(k) for k in g_keys])
    issues = wb.create_sheet("issues")
    keys = ["level", "code", "message", "location", "column", "value", "metric", "count"]
    _append_text_row(issues, keys)
    for issue in report.issues:
        d = issue.to_dict()
        _append_text_row(issues, [d.get(k) for k in keys])
    inputs = wb.create_sheet("inputs")
    in_keys = ["entity", "path", "sha256", "rows_read", "rows_rejected", "format", "encoding", "delimiter", "sheet"]
    _append_text_row(inputs, in_keys)
    for fact in report.inputs:
        d = fact.to_dict()
        _append_text_row(inputs, [d.get(k) for k in in_keys])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _append_text_row(ws: Any, values: list[Any]) -> None:
    """Append a row where every text stays text.

    openpyxl turns a string starting with ``=`` into a formula and ``#DIV/0!`` into an
    error cell; data must never run as a formula (``=HYPERLINK(...)``), so such cells are
    set back to the string type. XML-illegal characters are removed first (openpyxl
    would raise on them).
    """
    ws.append([xlsx_text(v) if isinstance(v, str) else v for v in values])
    for cell in ws[ws.max_row]:
        if cell.data_type in ("f", "e"):
            cell.data_type = "s"


def render_bytes(report: Report, fmt: str, currency: str | None = None, width: int = 160, csv_guard: bool = True) -> bytes:
    """Bytes of ``report`` in ``fmt`` (table is rendered as plain text at ``width``)."""
    if fmt == "csv":
        return to_csv(report, guard=csv_guard)
    if fmt == "json":
        return to_json(report)
    if fmt == "jsonl":
        return to_jsonl(report)
    if fmt == "markdown":
        return to_markdown(report, currency)
    if fmt == "xlsx":
        return to_xlsx(report)
    if fmt == "table":
        from crmmetrics.render.table import table_text

        return utf8_bytes(table_text(report, currency, width))
    raise ValueError(f"unknown format {fmt!r}")
