"""Hand-written inline SVG charts for the HTML dashboard: trend lines, stacked bars.

Why hand-written (REPORTING.md measured the options): inline SVG from matplotlib costs
~17 KiB per chart and 35 MB installed, pygal ~26 KiB per chart and loads tooltip JS from
a CDN by default, Altair/Bokeh/Plotly inline ~0.9-4.7 MiB of JavaScript before the first
chart. A line chart is a polyline, a few labels and one ``<title>`` per point (the native
browser tooltip), ~1-3 KiB: the report stays small, offline, printable and dependency-free.

Every text that came from data is escaped; colours come from CSS classes so that the
page's light / dark / print styles apply to the charts too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmmetrics.summary import Point

W, H = 320, 130  # viewBox of a trend chart
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 8, 18
SERIES_CLASSES = 8  # .s0 .. .s7 in the page's CSS


def short_number(value: float | None, unit: str) -> str:
    """Axis labels: ``45 %``, ``14.3M``, ``1.2k``, ``3.5``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "percent":
        return f"{value * 100:.0f} %" if abs(value) >= 0.1 else f"{value * 100:.1f} %"
    a = abs(value)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= size:
            return f"{value / size:.1f}{suffix}"
    return f"{value:.0f}" if a >= 100 else f"{value:.1f}" if a >= 1 or a == 0 else f"{value:.2g}"


@dataclass
class Series:
    """One line: its label (a segment, or "" for the metric as a whole) and its points."""

    label: str
    points: list[Point]
    tooltips: list[str]  # one per point: the value and how it was computed


def _value_range(values: list[float], unit: str) -> tuple[float, float]:
    """The y range: from zero for positive magnitudes, widened around a flat line."""
    lo, hi = min(values), max(values)
    if lo > 0 and unit != "points":
        lo = 0.0  # magnitudes read best from zero; NPS and signed values keep their range
    if hi == lo:
        hi, lo = hi + (abs(hi) or 1) * 0.5, lo - (abs(lo) or 1) * 0.5
    return lo, hi


@dataclass
class _Plot:
    """Where a period label and a value land in a trend chart's viewBox."""

    xs: dict[str, int]  # period label → its position among the periods
    n: int  # how many periods
    lo: float
    hi: float

    def x(self, label: str) -> float:
        """Horizontal position of a period."""
        return LEFT + (W - LEFT - RIGHT) * self.xs[label] / max(self.n - 1, 1)

    def y(self, v: float) -> float:
        """Vertical position of a value."""
        return TOP + (H - TOP - BOTTOM) * (1 - (v - self.lo) / (self.hi - self.lo))


def _axes(plot: _Plot, first: str, last: str, unit: str) -> list[str]:
    """Grid lines at the lowest and highest value, the zero line when it is inside, the first and last period."""
    parts = []
    for v in (plot.lo, plot.hi):
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{plot.y(v):.1f}" y2="{plot.y(v):.1f}"/>'
                     f'<text class="axis" x="{LEFT - 4}" y="{plot.y(v) + 3:.1f}" text-anchor="end">{escape(short_number(v, unit))}</text>')
    if plot.lo < 0 < plot.hi:
        parts.append(f'<line class="zero" x1="{LEFT}" x2="{W - RIGHT}" y1="{plot.y(0):.1f}" y2="{plot.y(0):.1f}"/>')
    parts.append(f'<text class="axis" x="{LEFT}" y="{H - 4}">{escape(first)}</text>'
                 f'<text class="axis" x="{W - RIGHT}" y="{H - 4}" text-anchor="end">{escape(last)}</text>')
    return parts


def _series_svg(plot: _Plot, cls: str, s: Series) -> list[str]:
    """One series: a solid line through its complete points, a dashed tail into the
    incomplete ones, and a point with its tooltip per value."""
    parts = []
    pts = [(p, plot.x(p.period), plot.y(p.value)) for p in s.points if p.value is not None]
    done = [f"{px:.1f},{py:.1f}" for p, px, py in pts if p.complete]
    if len(done) > 1:
        parts.append(f'<polyline class="line {cls}" points="{" ".join(done)}"/>')
    # the dashed tail: from the last complete point through the incomplete ones
    tail = [(px, py) for p, px, py in pts if p.complete][-1:] + [(px, py) for p, px, py in pts if not p.complete]
    if len(tail) > 1 and any(not p.complete for p, _, _ in pts):
        parts.append(f'<polyline class="line dash {cls}" points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in tail)}"/>')
    tips = {id(p): t for p, t in zip(s.points, s.tooltips)}
    for p, px, py in pts:
        inc = "" if p.complete else " inc"
        parts.append(f'<circle class="pt {cls}{inc}" cx="{px:.1f}" cy="{py:.1f}" r="2.6"><title>{escape(tips[id(p)])}</title></circle>')
    return parts


def line_chart(series: list[Series], unit: str, aria: str) -> str:
    """A trend chart: one polyline per series over the union of their periods.

    Complete periods are joined by a solid line; a period not over yet is joined by a
    dashed line and drawn as a hollow point (class ``inc``) with "incomplete" in its tooltip.
    """
    periods = sorted({(p.period_start, p.period) for s in series for p in s.points})
    values = [p.value for s in series for p in s.points if p.value is not None]
    if not values or len(periods) < 2:
        return ""
    plot = _Plot({label: i for i, (_, label) in enumerate(periods)}, len(periods), *_value_range(values, unit))
    parts = [f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(aria)}">']
    parts += _axes(plot, periods[0][1], periods[-1][1], unit)
    for si, s in enumerate(series):
        parts += _series_svg(plot, f"s{si % SERIES_CLASSES}", s)
    parts.append("</svg>")
    return "".join(parts)


def stacked_bars(periods: list[str], stacks: dict[str, list[float | None]], classes: dict[str, str], tips: dict[str, list[str]],
                 aria: str, incomplete: set[str] | frozenset[str] = frozenset()) -> str:
    """Positive components stack up from zero, negative ones down (MRR movements).

    Bars of periods in ``incomplete`` are faded (class ``inc``): their values are partial.
    """
    if not periods:
        return ""
    ups = [sum(max(v or 0, 0) for v in (s[i] for s in stacks.values())) for i in range(len(periods))]
    downs = [sum(min(v or 0, 0) for v in (s[i] for s in stacks.values())) for i in range(len(periods))]
    hi, lo = max(ups + [0]), min(downs + [0])
    if hi == lo:
        return ""
    width, height = 640, 200
    left, right, top, bottom = 52, 8, 8, 20
    span_x, span_y = width - left - right, height - top - bottom
    bar = span_x / len(periods)

    def y(v: float) -> float:
        return top + span_y * (1 - (v - lo) / (hi - lo))

    parts = [f'<svg class="chart wide" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(aria)}">']
    for v in sorted({lo, 0.0, hi}):
        parts.append(f'<line class="{"zero" if v == 0 else "grid"}" x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
                     f'<text class="axis" x="{left - 4}" y="{y(v) + 3:.1f}" text-anchor="end">{escape(short_number(v, "currency"))}</text>')
    step = max(len(periods) // 7, 1)  # about 7 labels, counted back from the last period
    for i, period in enumerate(periods):
        up = down = 0.0
        inc = " inc" if period in incomplete else ""
        x0 = left + i * bar + bar * 0.15
        for name, vals in stacks.items():
            v = vals[i] or 0.0
            if v == 0:
                continue
            base = up if v > 0 else down
            top_v, bottom_v = (base + v, base) if v > 0 else (base, base + v)
            parts.append(f'<rect class="{classes[name]}{inc}" x="{x0:.1f}" y="{y(top_v):.1f}" width="{bar * 0.7:.1f}" '
                         f'height="{max(y(bottom_v) - y(top_v), 0.5):.1f}"><title>{escape(tips[name][i])}</title></rect>')
            if v > 0:
                up += v
            else:
                down += v
        if (len(periods) - 1 - i) % step == 0:
            parts.append(f'<text class="axis" x="{x0 + bar * 0.35:.1f}" y="{height - 5}" text-anchor="middle">{escape(period)}</text>')
    parts.append("</svg>")
    return "".join(parts)
