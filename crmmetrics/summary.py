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
    status: Status | None = None  # the worst check verdict
    goal: Status | None = None  # goal progress
    measured: str | None = None  # durations: from the export's own column or timestamps (render.display.measured_note)

    @property
    def verdicts(self) -> list[Status]:
        """Check then goal, those present."""
        return [s for s in (self.status, self.goal) if s is not None]

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
    text: str  # short, e.g. "✓ ok" / "✗ crit" / "62% of 50"
    progress: float | None = None  # goals: share of the way to the target, 0..1+
    detail: str = ""  # the long form: rule and bounds, or target, due date and schedule


def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return None if math.isnan(v) or math.isinf(v) else float(v)


def summarise(report: Report, config: Config | None = None, goals: list[Any] | None = None) -> list[SummaryRow]:
    """One SummaryRow per metric and segment, in the report's metric order (``goals``: progress
    already computed, see :func:`attach_status`).

    Completeness is the engine's (the ``complete`` column set by the run's Grid, issue #10):
    a period is complete when it ends at or before the as-of instant and is not cut by
    --since/--until.
    """
    from crmmetrics.engine import result_records
    from crmmetrics.metrics.registry import all_metrics
    from crmmetrics.render.display import measured_note

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
        points = [Point(r["period"], r["period_start"], r["period_end"], _num(r.get("value")), bool(r.get("complete")),
                        r.get("n"), _num(r.get("numerator")), _num(r.get("denominator")))
                  for r in sorted(recs, key=lambda r: r["period_start"])]
        done = [p for p in points if p.complete and p.value is not None]
        row = SummaryRow(metric, spec.title if spec else metric, spec.family if spec else "", recs[0].get("unit") or "",
                         spec.better if spec else "none", spec.formula if spec else "", seg, points,
                         done[-1] if done else None, done[-2] if len(done) > 1 else None,
                         measured=measured_note(metric, report.options.get(metric)))
        rows.append(row)
    if config is not None:
        attach_status(rows, config, report, goals)
    return rows


def attach_status(rows: list[SummaryRow], config: Config, report: Report, goals: list[Any] | None = None) -> None:
    """Set each overall row's check verdict and goal progress (issue #13's modules).

    Checks: every ``checks:`` / ``thresholds:`` rule without ``by`` is evaluated by
    :func:`crmmetrics.checks.evaluate.evaluate` on the report's rows for the latest complete
    period; the worst outcome per metric is shown. Goals: :func:`goals_for_report` (pass
    ``goals`` to reuse progress already computed).
    """
    from crmmetrics.checks.evaluate import Status as Verdict
    from crmmetrics.checks.evaluate import evaluate

    overall = {r.metric: r for r in rows if not r.segment}
    as_of = report.instant  # the instant the complete column was measured at (end of the --as-of day, else now)
    worst: dict[str, Any] = {}
    for rule in getattr(config, "rules", []):
        if rule.by or rule.metric not in overall:
            continue
        for oc in evaluate(rule, report.results, report.period, as_of, config.week_start):
            if oc.status in (Verdict.SKIPPED, Verdict.INSUFFICIENT) and rule.metric in worst:
                continue
            if rule.metric not in worst or oc.status.rank > worst[rule.metric].status.rank:
                worst[rule.metric] = oc
    for metric, oc in worst.items():
        mark = {"ok": "✓", "warn": "!", "crit": "✗"}.get(oc.status.value, "?")
        overall[metric].status = Status("check", oc.status is Verdict.OK, f"{mark} {oc.status.value}", detail=f"{oc.rule}: {oc.detail}")
    if goals is None:
        from crmmetrics.checks.goals import goals_for_report

        goals = goals_for_report(config, report) if getattr(config, "goals", None) else []
    for g in goals:
        row = overall.get(g.metric)
        if row is None:
            continue
        share = f"{g.share * 100:.0f}%" if g.share is not None else "—"
        row.goal = Status("goal", bool(g.on_track), f"{share} of {g.target_text}", progress=g.share,
                          detail=f"goal {g.goal}: {g.status.replace('_', ' ')}; target {g.target_text} by {g.due}"
                                 + (f", {g.expected * 100:.0f}% of the time gone" if g.expected is not None else ""))


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
