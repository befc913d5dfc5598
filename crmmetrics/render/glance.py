"""Small formatters shared by the first screen and the HTML dashboard: the change
against the previous period, sparklines, period notes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmmetrics.render.display import fmt_value

if TYPE_CHECKING:
    from crmmetrics.summary import Point, SummaryRow

BLOCKS = "▁▂▃▄▅▆▇█"
INCOMPLETE_MARK = "┊"  # sits between the complete periods and the ones not over yet
ARROWS = {True: "▲", False: "▼"}


def fmt_change(row: SummaryRow) -> str:
    """``▲ +2.9`` (points, scores), ``▼ −1.3 pp`` (percent), ``▲ +4.1 %`` (everything else).

    Rates change in percentage points because a relative change of a rate is ambiguous;
    counts, money and durations change relatively. ``—`` when there is nothing to compare.
    """
    ch = row.change
    if ch is None:
        return "—"
    if ch == 0:
        return "= 0"
    arrow = ARROWS[ch > 0]
    sign = "+" if ch > 0 else "−"
    if row.unit == "percent":
        return f"{arrow} {sign}{_small(abs(ch) * 100)} pp"
    if row.unit in ("points", "score"):
        return f"{arrow} {sign}{_small(abs(ch))}"
    ratio = row.change_ratio
    if ratio is None:  # from zero: the absolute change is all there is
        return f"{arrow} {sign}{fmt_value(abs(ch), None)}"
    return f"{arrow} {sign}{_small(abs(ratio) * 100)} %"


def _small(x: float) -> str:
    """One decimal, or two significant digits when one decimal would read ``0.0``
    (a change too small to show must not look like no change)."""
    return f"{x:.1f}" if round(x, 1) != 0 else f"{x:.2g}"


def spark_chars(points: list[Point]) -> list[str]:
    """One block character per point, scaled between the shown minimum and maximum
    (a flat series sits in the middle; a missing value is a space)."""
    vals = [p.value for p in points if p.value is not None]
    if not vals:
        return [" " for _ in points]
    lo, hi = min(vals), max(vals)
    out = []
    for p in points:
        if p.value is None:
            out.append(" ")
        elif hi == lo:
            out.append(BLOCKS[3])
        else:
            out.append(BLOCKS[round((p.value - lo) / (hi - lo) * (len(BLOCKS) - 1))])
    return out


def sparkline(points: list[Point]) -> str:
    """Complete periods, then ``┊`` and the periods not over yet."""
    chars = spark_chars(points)
    done = "".join(c for c, p in zip(chars, points) if p.complete)
    rest = "".join(c for c, p in zip(chars, points) if not p.complete)
    return done + (INCOMPLETE_MARK + rest if rest else "")


def latest_value(row: SummaryRow, currency: str | None) -> str:
    """The headline value with its unit (``—`` when no complete period has one).

    Money of 10,000 or more is shown in whole units (``172,892,439 TRY``): the cents
    add width, not information, at a glance; the data formats keep every digit.
    """
    value = row.latest.value if row.latest else None
    if row.unit == "currency" and value is not None and abs(value) >= 10_000:
        return f"{value:,.0f}" + (f" {currency}" if currency else "")
    return fmt_value(value, row.unit, currency)
