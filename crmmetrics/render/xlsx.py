"""Excel output that reads like a report: typed cells, number formats by unit, dates as
dates, a frozen header row, an autofilter and column widths, one sheet per table plus
``issues`` and ``inputs``.

Written with XlsxWriter in ``constant_memory`` mode (rows stream to a temporary file, one
row in memory). Measured on this machine (100,000 rows × 8 typed, formatted cells):
openpyxl 3.1 write-only mode with ``WriteOnlyCell`` styles took 27.0 s, XlsxWriter 3.3
``constant_memory`` 9.0 s, same file size and peak memory. openpyxl stays the reader.

Text is always written with ``write_string``: a value that starts with ``=`` (or looks
like a URL or a number) stays the text it was in the export, never a formula or a link.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from crmmetrics.render.safe import xlsx_text

if TYPE_CHECKING:
    import pandas as pd

    from crmmetrics.engine import Report

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?$")  # naive local times only
SAMPLE_ROWS = 2000  # rows measured for column widths and date detection
MAX_WIDTH = 60
DURATION_UNITS = ("days", "hours", "minutes", "months", "years")
# Extra result columns that hold money, rates or whole numbers (by name, across metrics).
MONEY_COLUMNS = {"mrr", "mrr_start", "mrr_end", "new_mrr", "expansion_mrr", "reactivation_mrr", "contraction_mrr", "churned_mrr",
                 "arpa", "amount", "spend", "ltv", "cac", "gross_revenue", "credits", "total_revenue", "apv", "customer_value",
                 "average_deal_size", "revenue", "monetary", "monetary_mean"}
PERCENT_COLUMNS = {"churn_rate", "win_rate", "sla_rate", "gross_margin", "share_of_revenue", "pct_easy"}
PERCENT_PREFIXES = ("pct_", "share_")


def unit_format(unit: str | None, currency: str | None) -> str:
    """Excel number format of a value in ``unit`` (``0.0%``, ``#,##0.00 "TRY"``, ...)."""
    label = (currency or "").replace('"', "")
    if unit == "percent":
        return "0.0%"
    if unit == "currency":
        return f'#,##0.00 "{label}"' if label else "#,##0.00"
    if unit in DURATION_UNITS:
        return f'#,##0.00 "{unit}"'
    if unit == "points":
        return "0.0"
    if unit == "count":
        return "#,##0"
    return "#,##0.00"


def column_format(table: str, column: str, values: list[Any], currency: str | None) -> str | None:
    """The format of a whole column (None: the value column, formatted per row by unit)."""
    if column == "value" and table == "results":
        return None
    if column in PERCENT_COLUMNS or column.startswith(PERCENT_PREFIXES) or (table == "retention" and re.fullmatch(r"p\d+", column)) \
            or (table == "cells" and column == "value"):
        return "0.0%"
    if column in MONEY_COLUMNS:
        return unit_format("currency", currency)
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if nums and all(float(v).is_integer() for v in nums):
        return "#,##0"
    return "#,##0.00"


def date_kind(values: list[Any]) -> str | None:
    """"date" or "datetime" when every non-empty sampled value is an ISO date (time), else None."""
    texts = [v for v in values if v is not None and v != ""]
    if not texts or not all(isinstance(v, str) for v in texts):
        return None
    if all(DATE_RE.match(v) for v in texts):
        return "date"
    if all(DATE_RE.match(v) or DATETIME_RE.match(v) for v in texts):
        return "datetime"
    return None


def _shown_width(v: Any, fmt: str | None) -> int:
    if v is None:
        return 0
    if isinstance(v, float):
        text = f"{v * 100:.1f}%" if fmt == "0.0%" else f"{v:,.2f}"
        return len(text) + (len(fmt) - 8 if fmt and '"' in fmt else 0)
    if isinstance(v, int) and not isinstance(v, bool):
        return len(f"{v:,}")
    return len(str(v))


class SheetWriter:
    """Writes one table into one worksheet with types, formats, widths, freeze and filter."""

    def __init__(self, wb: Any, currency: str | None) -> None:
        self.wb = wb
        self.currency = currency
        self._formats: dict[str, Any] = {}
        self.header = wb.add_format({"bold": True, "bottom": 1})

    def fmt(self, num_format: str) -> Any:
        """A cached cell format with ``num_format``."""
        if num_format not in self._formats:
            self._formats[num_format] = self.wb.add_format({"num_format": num_format})
        return self._formats[num_format]

    def write(self, name: str, columns: list[str], records: Iterable[dict[str, Any]], sample: list[dict[str, Any]]) -> None:
        """Write ``records`` (JSON-safe dicts) under ``columns``; ``sample`` (the first rows) decides
        date columns, formats and widths, because constant-memory sheets are written row by row."""
        ws = self.wb.add_worksheet(name[:31])
        dates = {c: date_kind([r.get(c) for r in sample]) for c in columns}
        formats = {c: column_format(name, c, [r.get(c) for r in sample], self.currency) for c in columns}
        for i, c in enumerate(columns):
            if dates[c]:
                width = 10 if dates[c] == "date" else 16
            else:
                width = max([_shown_width(r.get(c), formats[c]) for r in sample] + [0])
            ws.set_column(i, i, min(max(len(c) + 2, width + 2), MAX_WIDTH))
        ws.freeze_panes(1, 0)
        for i, c in enumerate(columns):
            ws.write_string(0, i, xlsx_text(c), self.header)
        n = 0
        for n, rec in enumerate(records, start=1):
            for i, c in enumerate(columns):
                num_format = formats[c] or unit_format(rec.get("unit"), self.currency)  # None only for results' value
                self.cell(ws, n, i, rec.get(c), dates[c], num_format)
        ws.autofilter(0, 0, max(n, 1), max(len(columns) - 1, 0))

    def cell(self, ws: Any, row: int, col: int, v: Any, date: str | None, num_format: str | None) -> None:
        """One typed cell: number, boolean, date or text (never a formula)."""
        if v is None:
            return
        if isinstance(v, bool):
            ws.write_boolean(row, col, v)
        elif isinstance(v, (int, float)):
            ws.write_number(row, col, v, self.fmt(num_format or "General"))
        elif date and isinstance(v, str) and (when := _as_datetime(v)) is not None:
            ws.write_datetime(row, col, when, self.fmt("yyyy-mm-dd" if date == "date" else "yyyy-mm-dd hh:mm"))
        else:
            ws.write_string(row, col, xlsx_text(str(v)))


def _as_datetime(v: str) -> dt.datetime | None:
    """An ISO date (time) string as a naive datetime; None when it is not a real date."""
    if not (DATE_RE.match(v) or DATETIME_RE.match(v)):
        return None
    try:
        return dt.datetime.fromisoformat(v.replace(" ", "T"))
    except ValueError:
        return None


def _frame_records(frame: pd.DataFrame) -> tuple[list[str], Iterable[dict[str, Any]], list[dict[str, Any]]]:
    """Columns, an iterator over every row (JSON-safe values) and the sample rows, in chunks
    so a large table is never converted to dicts all at once."""
    from crmmetrics.engine import result_records

    columns = [str(c) for c in frame.columns]
    sample = result_records(frame.iloc[:SAMPLE_ROWS])

    def rows() -> Iterable[dict[str, Any]]:
        yield from sample
        for start in range(SAMPLE_ROWS, len(frame), 50_000):
            yield from result_records(frame.iloc[start:start + 50_000])

    return columns, rows(), sample


def to_xlsx(report: Report, currency: str | None = None) -> bytes:
    """The workbook: one sheet per table (``results`` for compute), then ``goals`` when
    the report has them, ``issues`` and ``inputs``."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False, "default_date_format": "yyyy-mm-dd"})
    sheets = SheetWriter(wb, currency)
    for name, frame in (report.tables or {"results": report.results}).items():
        sheets.write(name, *_frame_records(frame))
    goals = getattr(report, "goals", None)
    if goals:
        keys = list(goals[0])
        sheets.write("goals", keys, goals, goals[:SAMPLE_ROWS])
    keys = ["level", "code", "message", "location", "column", "value", "metric", "count"]
    issues = [i.to_dict() for i in report.issues]
    sheets.write("issues", keys, issues, issues[:SAMPLE_ROWS])
    in_keys = ["entity", "path", "sha256", "rows_read", "rows_rejected", "format", "encoding", "delimiter", "sheet"]
    inputs = [f.to_dict() for f in report.inputs]
    sheets.write("inputs", in_keys, inputs, inputs[:SAMPLE_ROWS])
    wb.close()
    return buf.getvalue()
