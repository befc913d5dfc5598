"""The Rich table shown on a terminal (one per metric, so columns stay narrow)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from crmmetrics.render.display import table_rows

if TYPE_CHECKING:
    from crmmetrics.engine import Report


def tables(report: Report, currency: str | None = None) -> list[Any]:
    """One Rich Table per metric, titled with the metric name and unit."""
    from rich.table import Table

    from crmmetrics.engine import result_records

    out = []
    records = result_records(report.results)
    if records and "metric" not in records[0]:
        return [_plain_table(records, currency)]
    for metric in dict.fromkeys(r["metric"] for r in records):
        mine = [r for r in records if r["metric"] == metric]
        header, rows = table_rows(mine, currency)
        header_wo = [h for h in header if h != "metric"]
        unit = mine[0].get("unit") if mine else ""
        table = Table(title=f"{metric} ({unit})", title_justify="left", header_style="bold")
        for h in header_wo:
            table.add_column(h, justify="right" if h not in ("period", *report.by) else "left")
        for row in rows:
            table.add_row(*[c for h, c in zip(header, row) if h != "metric"])
        out.append(table)
    return out


def _plain_table(records: list[dict[str, Any]], currency: str | None) -> Any:
    """An analysis table: every column, numbers right-aligned."""
    from rich.table import Table

    header, rows = table_rows(records, currency)
    table = Table(header_style="bold")
    for h in header:
        table.add_column(h, justify="right" if isinstance(records[0].get(h), (int, float)) else "left")
    for row in rows:
        table.add_row(*row)
    return table


def table_text(report: Report, currency: str | None = None, width: int = 160) -> str:
    """The tables as plain text (for -f table -o file)."""
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, width=width, no_color=True, force_terminal=False)
    for t in tables(report, currency):
        console.print(t)
    return buf.getvalue()
