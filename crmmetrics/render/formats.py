"""Data renderers: csv, json, jsonl, markdown and xlsx as bytes."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

from crmmetrics.render.display import INCOMPLETE_NOTE, has_incomplete, table_rows

if TYPE_CHECKING:
    from crmmetrics.engine import Report


def to_csv(report: Report, bom: bool = False) -> bytes:
    """The result rows: header line, raw numbers, UTF-8, ``\\n`` line ends; null → empty."""
    from crmmetrics.engine import result_records

    records = result_records(report.results)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    columns = list(report.results.columns)
    writer.writerow(columns)
    for rec in records:
        writer.writerow(["" if rec.get(c) is None else _raw(rec.get(c)) for c in columns])
    return (("\ufeff" if bom else "") + buf.getvalue()).encode("utf-8")


def _raw(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"  # as in JSON: `complete` reads the same in every format
    return repr(v) if isinstance(v, float) else v


def to_json(report: Report) -> bytes:
    """One JSON object (DESIGN.md section 7). NaN can never slip through: allow_nan=False."""
    return (json.dumps(report.to_dict(), ensure_ascii=False, indent=2, allow_nan=False) + "\n").encode("utf-8")


def to_jsonl(report: Report) -> bytes:
    """One result object per line, for jq and streaming."""
    from crmmetrics.engine import result_records

    lines = [json.dumps(r, ensure_ascii=False, allow_nan=False) for r in result_records(report.results)]
    return ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8")


def to_markdown(report: Report, currency: str | None = None) -> bytes:
    """A GitHub-flavoured pipe table with values formatted as on screen."""
    from crmmetrics.engine import result_records

    records = result_records(report.results)
    header, rows = table_rows(records, currency)
    if not header:
        return b"_no results_\n"
    if "complete" in report.results.columns:  # the data column travels too, not only the mark
        header = [*header, "complete"]
        rows = [[*row, "true" if rec.get("complete") else "false"] for row, rec in zip(rows, records)]
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    if has_incomplete(records):
        lines += ["", "\\" + INCOMPLETE_NOTE]
    if report.goals:
        from crmmetrics.render.display import goal_cells

        g_header, g_rows = goal_cells(report.goals)
        lines += ["", "| " + " | ".join(g_header) + " |", "|" + "|".join("---" for _ in g_header) + "|"]
        lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in g_rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def to_xlsx(report: Report) -> bytes:
    """A workbook with sheets results, issues and inputs (raw numbers, like CSV)."""
    from openpyxl import Workbook

    from crmmetrics.engine import result_records

    wb = Workbook()
    wb.remove(wb.active)
    for name, frame in (report.tables or {"results": report.results}).items():
        ws = wb.create_sheet(name[:31])
        columns = list(frame.columns)
        ws.append(columns)
        for rec in result_records(frame):
            ws.append([rec.get(c) for c in columns])
        ws.freeze_panes = "A2"
    if report.goals:
        goals = wb.create_sheet("goals")
        g_keys = list(report.goals[0])
        goals.append(g_keys)
        for g in report.goals:
            goals.append([g.get(k) for k in g_keys])
    issues = wb.create_sheet("issues")
    keys = ["level", "code", "message", "location", "column", "value", "metric", "count"]
    issues.append(keys)
    for issue in report.issues:
        d = issue.to_dict()
        issues.append([d.get(k) for k in keys])
    inputs = wb.create_sheet("inputs")
    in_keys = ["entity", "path", "sha256", "rows_read", "rows_rejected", "format", "encoding", "delimiter", "sheet"]
    inputs.append(in_keys)
    for fact in report.inputs:
        d = fact.to_dict()
        inputs.append([d.get(k) for k in in_keys])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def render_bytes(report: Report, fmt: str, currency: str | None = None, width: int = 160) -> bytes:
    """Bytes of ``report`` in ``fmt`` (table is rendered as plain text at ``width``)."""
    if fmt == "csv":
        return to_csv(report)
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

        return table_text(report, currency, width).encode("utf-8")
    raise ValueError(f"unknown format {fmt!r}")
