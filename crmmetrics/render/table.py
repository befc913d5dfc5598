"""The Rich table shown on a terminal (one per metric, so columns stay narrow).

Cells are data, so they go to Rich as ``Text`` (never parsed as markup: a value
``[/x]`` or ``[link=...]`` is shown as typed) after escape sequences and control
characters are removed (render.safe.terminal_text).

Rich lays a table out by measuring every cell, about 0.35 ms a row: a 182,500-row result
would take a minute. Above ``RICH_ROWS_MAX`` rows the same columns are written as plain
aligned text instead (linear and fast; nothing is left out) and the CLI says so.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from crmmetrics.render.display import INCOMPLETE_NOTE, has_incomplete, measured_note, table_rows
from crmmetrics.render.safe import terminal_text

if TYPE_CHECKING:
    from crmmetrics.engine import Report

RICH_ROWS_MAX = 2000


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


# (title, header, right-aligned flags, never-cut columns, rows, has incomplete periods,
#  what the values were measured from or None)
Block = tuple[str | None, list[str], list[bool], set[str], list[list[str]], bool, str | None]


def _blocks(report: Report, currency: str | None) -> Iterator[Block]:
    """One block per metric, or one for an analysis. Cells are already terminal-safe text."""
    from crmmetrics.engine import result_records

    records = result_records(report.results)
    if records and "metric" not in records[0]:
        header, rows = table_rows(records, currency)
        right = [isinstance(records[0].get(h), (int, float)) for h in header]
        yield None, header, right, set(header[:1]), [[terminal_text(c) for c in row] for row in rows], False, None
        return
    for metric in dict.fromkeys(r["metric"] for r in records):
        mine = [r for r in records if r["metric"] == metric]
        header, rows = table_rows(mine, currency)
        keep_idx = [i for i, h in enumerate(header) if h != "metric"]
        unit = mine[0].get("unit") if mine else ""
        shown = [header[i] for i in keep_idx]
        right = [h not in ("period", *report.by, "stage") for h in shown]
        never_cut = {"period", "value", "n", *report.by, "stage"}
        yield (f"{metric} ({unit})", shown, right, never_cut, [[terminal_text(row[i]) for i in keep_idx] for row in rows],
               has_incomplete(mine), measured_note(metric, report.options.get(metric)))


def row_count(report: Report) -> int:
    """How many rows a table rendering would show."""
    return len(report.results)


def tables(report: Report, currency: str | None = None, width: int | None = None) -> list[Any]:
    """One Rich Table per metric, titled with the metric name and unit; cells as plain Text.

    With ``width``, extra columns that would not fit are left out (and the caption says
    so) rather than cut: the period, dimensions, value and n are never shortened.
    """
    from rich.table import Table
    from rich.text import Text

    out = []
    for title, header, right, keep, rows, incomplete, measured in _blocks(report, currency):
        shown = _fit(header, rows, keep, width)
        hidden = len(header) - len(shown)
        caption = _caption(hidden, incomplete, measured)
        table = Table(title=Text(title) if title else None, title_justify="left", header_style="bold",
                      caption=Text(caption) if caption else None, caption_justify="left")
        for h in shown:
            r = right[header.index(h)]
            table.add_column(Text(terminal_text(h)), justify="right" if r else "left", no_wrap=h in keep,
                             min_width=len(h) if h in keep and title else None)
        index = [header.index(h) for h in shown]
        for row in rows:
            table.add_row(*[Text(row[i]) for i in index])
        out.append(table)
    if report.goals:
        out.append(goals_table(report.goals))
    return out


def _goal_block(goals: list[dict[str, Any]]) -> Block:
    """The goals table as a block (goals come from the config; cells still made plain)."""
    from crmmetrics.render.display import goal_cells

    header, rows = goal_cells(goals)
    right = [h not in ("goal", "status", "due", "period") for h in header]
    return "goals", header, right, set(header), [[terminal_text(c) for c in row] for row in rows], False, None


def goals_table(goals: list[dict[str, Any]]) -> Any:
    """Goals: target, current value, share of the way from the baseline, schedule."""
    from rich.table import Table
    from rich.text import Text

    _, header, right, _, rows, _, _ = _goal_block(goals)
    table = Table(title="goals", title_justify="left", header_style="bold")
    for h, r in zip(header, right):
        table.add_column(h, justify="right" if r else "left", no_wrap=True)
    for row in rows:
        table.add_row(*[Text(c) for c in row])
    return table


def plain_lines(report: Report, currency: str | None = None) -> Iterator[str]:
    """The tables as aligned plain-text lines (for results too long for Rich)."""
    blocks = list(_blocks(report, currency)) + ([_goal_block(report.goals)] if report.goals else [])
    for title, header, right, _keep, rows, incomplete, measured in blocks:
        head = [terminal_text(h) for h in header]
        widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(head)]

        def line(values: list[str]) -> str:
            return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)).rstrip() + "\n"

        if title:
            yield title + "\n"
        yield line(head)
        yield "  ".join("-" * w for w in widths) + "\n"
        for r in rows:
            yield line(r)
        if incomplete:
            yield INCOMPLETE_NOTE + "\n"
        if measured:
            yield measured + "\n"
        yield "\n"


def table_text(report: Report, currency: str | None = None, width: int = 160) -> str:
    """The tables as plain text (for -f table -o file)."""
    if row_count(report) > RICH_ROWS_MAX:
        return "".join(plain_lines(report, currency))
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, width=width, no_color=True, force_terminal=False)
    for t in tables(report, currency):
        console.print(t)
    return buf.getvalue()


def _caption(hidden: int, incomplete: bool, measured: str | None = None) -> str | None:
    """The footnotes under a metric's table: hidden columns, the incomplete-period mark,
    what a duration was measured from (the export's own column or timestamps)."""
    lines = (([f"{hidden} more column(s) in -f csv / json / xlsx"] if hidden else []) + ([INCOMPLETE_NOTE] if incomplete else [])
             + ([measured] if measured else []))
    return "\n".join(lines) or None
