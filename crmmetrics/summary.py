"""The at-a-glance summary of a Report: one row per metric (and per result dimension).

Each row holds the latest *complete* period's value, the change against the previous
complete period, the last periods for a sparkline, n and the goal / check status. The
first screen (render/firstscreen.py) and the HTML dashboard (render/html.py) both draw
from these rows, so the terminal, the HTML file and the JSON report agree on every number.

No pandas, no rich: plain records in, dataclasses out.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crmmetrics.config import Config
    from crmmetrics.engine import Report

SPARK_PERIODS = 12
# Columns that split one metric's rows besides period: the --by dimensions and the
# dimensions a metric adds itself (stage_duration's stage).
DIMENSION_COLUMNS = ("stage",)


@dataclass
class Point:
    """One period of one series: label, value and whether the period is over."""

    period: str
    period_start: str
    period_end: str
    value: float | None
    complete: bool
    n: int | None = None
    numerator: float | None = None
    denominator: float | None = None


@dataclass
class SummaryRow:
    """One metric (or one segment of it) at a glance."""

    metric: str
    title: str
    family: str
    unit: str
    better: str  # higher | lower | none
    formula: str
    segment: str  # "" for the metric as a whole, else "stage=Proposal" / "plan=Pro, region=EU"
    points: list[Point]
    latest: Point | None  # the latest complete period with a value
    previous: Point | None  # the complete period before ``latest`` with a value
    status: Status | None = None

    @property
    def change(self) -> float | None:
        """latest − previous (None when either is missing)."""
        if self.latest is None or self.previous is None or self.latest.value is None or self.previous.value is None:
            return None
        return self.latest.value - self.previous.value

    @property
    def change_ratio(self) -> float | None:
        """(latest − previous) ÷ |previous| (None when previous is 0 or missing)."""
        ch = self.change
        if ch is None or not self.previous.value:  # type: ignore[union-attr]
            return None
        return ch / abs(self.previous.value)  # type: ignore[union-attr]

    @property
    def judgement(self) -> str | None:
        """"good", "bad" or "neutral" for the change, by the metric's better direction."""
        ch = self.change
        if ch is None:
            return None
        if ch == 0 or self.better not in ("higher", "lower"):
            return "neutral"
        return "good" if (ch > 0) == (self.better == "higher") else "bad"

    @property
    def incomplete(self) -> list[Point]:
        """Periods after ``latest`` that are not over yet (shown, but marked)."""
        return [p for p in self.points if not p.complete]

    def spark(self, count: int = SPARK_PERIODS) -> list[Point]:
        """The last ``count`` complete periods, then any incomplete ones."""
        done = [p for p in self.points if p.complete][-count:]
        return done + self.incomplete


@dataclass
class Status:
    """A goal or check verdict for the latest complete period."""

    kind: str  # "check" (thresholds) or "goal"
    ok: bool
    text: str  # short, e.g. "min 30 ✓" / "max 24 ✗" / "goal 45: 82 %"
    progress: float | None = None  # goals: share of the way to the target, 0..1+


def is_complete(period_end: str, as_of: str) -> bool:
    """A period is complete when its (exclusive) end is at or before the report's as-of instant.

    Small and replaceable on purpose: once result rows carry their own ``complete`` column
    (issue #10) that column wins (see :func:`row_complete`).
    """
    try:
        end = dt.datetime.strptime(period_end[:10], "%Y-%m-%d")
        now = dt.datetime.fromisoformat(as_of)
    except (TypeError, ValueError):
        return False
    return end <= now.replace(tzinfo=None)


def row_complete(rec: dict[str, Any], as_of: str) -> bool:
    """The row's ``complete`` flag when the engine set one, else derived from period_end."""
    flag = rec.get("complete")
    if isinstance(flag, bool):
        return flag
    return is_complete(str(rec.get("period_end") or ""), as_of)


def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return None if math.isnan(v) or math.isinf(v) else float(v)


def summarise(report: Report, config: Config | None = None) -> list[SummaryRow]:
    """One SummaryRow per metric and segment, in the report's metric order."""
    from crmmetrics.engine import result_records
    from crmmetrics.metrics.registry import all_metrics

    specs = all_metrics()
    records = result_records(report.results)
    if not records or "metric" not in records[0]:
        return []
    dims = [c for c in (*report.by, *DIMENSION_COLUMNS) if c in records[0]]
    series: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rec in records:
        seg = ", ".join(f"{d}={rec[d]}" for d in dims if rec.get(d) is not None)
        series.setdefault((rec["metric"], seg), []).append(rec)
    rows = []
    for (metric, seg), recs in series.items():
        spec = specs.get(metric)
        points = [Point(r["period"], r["period_start"], r["period_end"], _num(r.get("value")), row_complete(r, report.as_of),
                        r.get("n"), _num(r.get("numerator")), _num(r.get("denominator")))
                  for r in sorted(recs, key=lambda r: r["period_start"])]
        done = [p for p in points if p.complete and p.value is not None]
        row = SummaryRow(metric, spec.title if spec else metric, spec.family if spec else "", recs[0].get("unit") or "",
                         spec.better if spec else "none", spec.formula if spec else "", seg, points,
                         done[-1] if done else None, done[-2] if len(done) > 1 else None)
        if config is not None and not seg:
            row.status = status_for(row, config)
        rows.append(row)
    return rows


def status_for(row: SummaryRow, config: Config) -> Status | None:
    """The check verdict (``thresholds:``) for the row's latest complete value.

    Goals (issue #13) plug in here when the config has them.
    """
    goal = _goal_status(row, config)
    if goal is not None:
        return goal
    # thresholds: values may be written with units ("80%", "48h"); the parsed rule holds
    # them in the metric's stored unit (crmmetrics/checks/rules.py).
    rule = next((r for r in getattr(config, "rules", []) if r.id == f"{row.metric}_threshold"), None)
    t = rule.crit if rule is not None else None
    if t is None or row.latest is None or row.latest.value is None:
        return None
    from crmmetrics.render.display import fmt_value

    v = row.latest.value
    if t.min is not None and v < t.min:
        return Status("check", False, f"✗ <{fmt_value(t.min, row.unit)}")
    if t.max is not None and v > t.max:
        return Status("check", False, f"✗ >{fmt_value(t.max, row.unit)}")
    bounds = " ".join(b for b in (f"≥{fmt_value(t.min, row.unit)}" if t.min is not None else "",
                                  f"≤{fmt_value(t.max, row.unit)}" if t.max is not None else "") if b)
    return Status("check", True, f"✓ {bounds}".strip())


def _goal_status(row: SummaryRow, config: Config) -> Status | None:
    """Goal progress from the goals module when it exists (issue #13); None otherwise."""
    return None


@dataclass
class Family:
    """Rows of one metric family, in registry order."""

    name: str
    rows: list[SummaryRow] = field(default_factory=list)


def by_family(rows: list[SummaryRow]) -> list[Family]:
    """Group rows by family, keeping the order families first appear in."""
    out: dict[str, Family] = {}
    for r in rows:
        out.setdefault(r.family, Family(r.family)).rows.append(r)
    return list(out.values())
