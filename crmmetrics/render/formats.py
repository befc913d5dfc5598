"""Data renderers: csv, json, jsonl, markdown and xlsx as bytes."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

from crmmetrics.render.display import INCOMPLETE_NOTE, has_incomplete, table_rows
from crmmetrics.render.safe import csv_field, markdown_cell, utf8_bytes

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


def to_xlsx(report: Report, currency: str | None = None) -> bytes:
    """A workbook that reads like a report (render/xlsx.py): typed, formatted, filterable."""
    from crmmetrics.render.xlsx import to_xlsx as workbook

    return workbook(report, currency)


def render_bytes(report: Report, fmt: str, currency: str | None = None, width: int = 160, csv_guard: bool = True,
                 bom: bool = False) -> bytes:
    """Bytes of ``report`` in ``fmt`` (table is rendered as plain text at ``width``; ``bom``
    prefixes CSV with a UTF-8 byte-order mark)."""
    if fmt == "csv":
        return to_csv(report, bom=bom, guard=csv_guard)
    if fmt == "json":
        return to_json(report)
    if fmt == "jsonl":
        return to_jsonl(report)
    if fmt == "markdown":
        return to_markdown(report, currency)
    if fmt == "xlsx":
        return to_xlsx(report, currency)
    if fmt == "table":
        from crmmetrics.render.table import table_text

        return utf8_bytes(table_text(report, currency, width))
    raise ValueError(f"unknown format {fmt!r}")
