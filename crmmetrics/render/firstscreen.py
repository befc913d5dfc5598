"""The first screen of `crmmetrics report`: one line per metric, grouped by family.

It must fit the terminal without cutting a value or a metric name: column widths are
measured from the cells, and optional columns are dropped (least useful first) until the
rest fits. Only when even the metric and value columns do not fit does Rich fold them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmmetrics.render.glance import INCOMPLETE_MARK, fmt_change, latest_value, sparkline
from crmmetrics.render.safe import terminal_text

if TYPE_CHECKING:
    from crmmetrics.engine import Report
    from crmmetrics.summary import SummaryRow

GAP = 1  # one space between two columns (left padding only, no outer edge)
# Optional columns, dropped in this order when the terminal is too narrow.
DROP_ORDER = ("title", "n", "period", "trend", "status", "change")
STYLES = {"good": "green", "bad": "red", "neutral": "dim"}


@dataclass
class Column:
    """One first-screen column: header, cells, alignment."""

    key: str
    header: str
    cells: list[str]
    justify: str = "left"

    @property
    def width(self) -> int:
        from rich.cells import cell_len

        return max([cell_len(self.header), *(cell_len(c) for c in self.cells)])


def _cells(rows: list[SummaryRow], currency: str | None) -> list[Column]:
    # A segment label is a value from the data: shown without escape sequences (render.safe).
    name = [r.metric if not r.segment else f"  · {terminal_text(r.segment.split('=', 1)[-1] if r.segment.count('=') == 1 else r.segment)}"
            for r in rows]
    cols = [
        Column("metric", "metric", name),
        Column("value", "value", [latest_value(r, currency) for r in rows], "right"),
        Column("change", "vs prev", [fmt_change(r) for r in rows], "right"),
        Column("trend", "trend", [sparkline(r.spark()) for r in rows]),
        Column("period", "period", [r.latest.period if r.latest else "—" for r in rows]),
        Column("n", "n", [f"{r.latest.n:,}" if r.latest and r.latest.n is not None else "" for r in rows], "right"),
        Column("status", "check/goal", [" · ".join(v.text for v in r.verdicts) for r in rows]),
        # a segmented metric's title sits on its name line; counted here so the width fits it
        Column("title", "title", [r.title if not r.segment or i == 0 or rows[i - 1].metric != r.metric else ""
                                  for i, r in enumerate(rows)]),
    ]
    if not any(cols[6].cells):
        cols = [c for c in cols if c.key != "status"]
    return cols


def verdict_style(row: SummaryRow) -> str:
    """Red for a critical check, yellow for a warning or a goal behind, green when all is well."""
    if row.status is not None and row.status.text.startswith("✗"):
        return "bold red"
    return "green" if all(v.ok for v in row.verdicts) else "yellow"


def fit_columns(columns: list[Column], width: int) -> list[Column]:
    """Drop optional columns (DROP_ORDER) until the rest fits ``width`` cells."""
    keep = list(columns)
    for key in DROP_ORDER:
        if sum(c.width for c in keep) + GAP * (len(keep) - 1) <= width:
            break
        keep = [c for c in keep if c.key != key]
    return keep


def headline(report: Report, rows: list[SummaryRow]) -> str:
    """``as of 2026-11-15 · month · latest complete period 2026-10``."""
    latest = {r.latest.period for r in rows if r.latest}
    parts = [f"as of {report.as_of[:10]}", report.period]
    if len(latest) == 1:
        parts.append(f"latest complete: {latest.pop()}")
    if report.by:
        parts.append("by " + ", ".join(report.by))
    return " · ".join(parts)


def incomplete_note(report: Report, rows: list[SummaryRow]) -> str:
    """The footnote that marks the periods not over yet (their values are partial)."""
    periods = sorted({p.period for r in rows for p in r.incomplete})
    if not periods:
        return ""
    shown = ", ".join(periods[:3]) + (f" and {len(periods) - 3} more" if len(periods) > 3 else "")
    return (f"{INCOMPLETE_MARK} incomplete period{'s' if len(periods) > 1 else ''} {shown} (not over at the as-of "
            f"{report.as_of[:10]}): drawn after {INCOMPLETE_MARK} in trends, never used as the latest value")


def renderables(report: Report, rows: list[SummaryRow], currency: str | None, width: int) -> list[Any]:
    """The Rich objects of the first screen at ``width`` columns."""
    from rich.table import Table
    from rich.text import Text

    from crmmetrics.summary import by_family

    out: list[Any] = [Text("crmmetrics report · " + headline(report, rows), style="bold")]
    if not rows:
        out.append(Text("no results"))
        return out
    columns = _cells(rows, currency)
    index = {id(r): i for i, r in enumerate(rows)}
    keep = fit_columns(columns, width)
    families = by_family(rows)
    for fi, fam in enumerate(families):
        table = Table(title=fam.name or "other", title_justify="left", title_style="bold cyan", box=None, pad_edge=False,
                      padding=(0, 0, 0, 1), show_header=fi == 0, header_style="bold", show_edge=False, expand=False)
        for c in keep:
            table.add_column(c.header, justify=c.justify, no_wrap=c.key not in ("metric", "value"), overflow="fold",
                             min_width=c.width, width=c.width)
        last_metric = None
        for r in fam.rows:
            if r.segment and r.metric != last_metric:
                # A metric shown only by segment gets its name on a line of its own.
                table.add_row(*[Text(r.metric if c.key == "metric" else r.title if c.key == "title" else "") for c in keep])
            last_metric = r.metric
            i = index[id(r)]
            cells = []
            for c in keep:
                text = "" if c.key == "title" and r.segment else c.cells[i]
                style = ""
                if c.key == "change":
                    style = STYLES.get(r.judgement or "", "")
                elif c.key == "value":
                    style = "bold" if not r.segment else ""
                elif c.key == "status" and r.verdicts:
                    style = verdict_style(r)
                cells.append(Text(text, style=style))
            table.add_row(*cells)
        out.append(table)
    note = incomplete_note(report, rows)
    if note:
        out.append(Text(note, style="dim"))
    # what each duration was measured from (the export's own column or timestamps), once per metric
    out.extend(Text(m, style="dim") for m in dict.fromkeys(r.measured for r in rows if r.measured))
    return out


def first_screen_text(report: Report, rows: list[SummaryRow], currency: str | None, width: int, color: bool = False) -> str:
    """The first screen as text at ``width`` columns (tests, ``-o report.txt``)."""
    import io

    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, width=width, no_color=not color, force_terminal=color, highlight=False)
    for r in renderables(report, rows, currency, width):
        console.print(r)
    return buf.getvalue()
