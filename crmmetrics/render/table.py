"""The Rich table shown on a terminal (one per metric, so columns stay narrow)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from crmmetrics.render.display import INCOMPLETE_NOTE, has_incomplete, table_rows

if TYPE_CHECKING:
    from crmmetrics.engine import Report


def _fit(header: list[str], rows: list[list[str]], keep: set[str], width: int | None) -> list[str]:
    """The columns that fit ``width`` uncut: ``keep`` always (period, dimensions, value, n),
    then the extra columns left to right while they fit. A box table costs 3 cells per
    column (padding and rule) plus 1."""
    from rich.cells import cell_len

    if width is None:
        return header
    widths = {h: max([cell_len(h), *(cell_len(r[i]) for r in rows)]) for i, h in enumerate(header)}
    used = sum(widths[h] + 3 for h in header if h in keep) + 1
    shown = []
    for h in header:
        if h in keep:
            shown.append(h)
        elif used + widths[h] + 3 <= width:
            used += widths[h] + 3
            shown.append(h)
    return shown


def tables(report: Report, currency: str | None = None, width: int | None = None) -> list[Any]:
    """One Rich Table per metric, titled with the metric name and unit.

    With ``width``, extra columns that would not fit are left out (and the caption says
    so) rather than cut: the period, dimensions, value and n are never shortened.
    """
    from rich.table import Table

    from crmmetrics.engine import result_records

    out = []
    records = result_records(report.results)
    if records and "metric" not in records[0]:
        return [_plain_table(records, currency, width)]
    for metric in dict.fromkeys(r["metric"] for r in records):
        mine = [r for r in records if r["metric"] == metric]
        header, rows = table_rows(mine, currency)
        header_wo = [h for h in header if h != "metric"]
        keep = {"period", "value", "n", *report.by, "stage"}
        shown = _fit(header_wo, [[c for h, c in zip(header, row) if h != "metric"] for row in rows], keep, width)
        hidden = len(header_wo) - len(shown)
        unit = mine[0].get("unit") if mine else ""
        table = Table(title=f"{metric} ({unit})", title_justify="left", header_style="bold",
                      caption=_caption(hidden, has_incomplete(mine)), caption_justify="left")
        for h in shown:
            table.add_column(h, justify="right" if h not in ("period", *report.by, "stage") else "left",
                             no_wrap=h in keep, min_width=len(h) if h in keep else None)
        for row in rows:
            cells = dict(zip(header, row))
            table.add_row(*[cells[h] for h in shown])
        out.append(table)
    if report.goals:
        out.append(goals_table(report.goals))
    return out


def goals_table(goals: list[dict[str, Any]]) -> Any:
    """Goals: target, current value, share of the way from the baseline, schedule."""
    from rich.table import Table

    from crmmetrics.render.display import goal_cells

    table = Table(title="goals", title_justify="left", header_style="bold")
    header, rows = goal_cells(goals)
    for h in header:
        table.add_column(h, justify="left" if h in ("goal", "status", "due", "period") else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def _plain_table(records: list[dict[str, Any]], currency: str | None, width: int | None = None) -> Any:
    """An analysis table: the columns that fit uncut (the first always), numbers right-aligned."""
    from rich.table import Table

    header, rows = table_rows(records, currency)
    shown = _fit(header, rows, set(header[:1]), width)
    hidden = len(header) - len(shown)
    table = Table(header_style="bold", caption=f"{hidden} more column(s) in -f csv / json / xlsx" if hidden else None,
                  caption_justify="left")
    for h in shown:
        table.add_column(h, justify="right" if isinstance(records[0].get(h), (int, float)) else "left", no_wrap=h == header[0])
    index = [header.index(h) for h in shown]
    for row in rows:
        table.add_row(*[row[i] for i in index])
    return table


def table_text(report: Report, currency: str | None = None, width: int = 160) -> str:
    """The tables as plain text (for -f table -o file)."""
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, width=width, no_color=True, force_terminal=False)
    for t in tables(report, currency):
        console.print(t)
    return buf.getvalue()


def _caption(hidden: int, incomplete: bool) -> str | None:
    """The footnotes under a metric's table: hidden columns, the incomplete-period mark."""
    lines = ([f"{hidden} more column(s) in -f csv / json / xlsx"] if hidden else []) + ([INCOMPLETE_NOTE] if incomplete else [])
    return "\n".join(lines) or None
