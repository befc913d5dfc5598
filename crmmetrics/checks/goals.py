"""Goal progress: how far a metric has come from its baseline toward a target, and
whether that is on schedule.

Public entry points (used by ``compute``, ``check`` and the HTML report):

- :func:`goal_progress` — pure: parsed goals + overall result rows → :class:`GoalProgress` list.
- :func:`goals_for_report` — the same for a computed :class:`~crmmetrics.engine.Report`,
  recomputing the goal metrics without ``--by`` when the report is segmented.

Definitions (README, "Checks and goals"):

- *current*: the value of the latest complete period at the as-of instant (``-p all``: the one row);
- *baseline*: the goal's ``baseline``, else the value of the period holding ``start``
  (``start`` defaults to the first period with a value);
- *share* = (current − baseline) ÷ (target − baseline): 0 at the baseline, 1 at the target,
  negative when the metric moved away;
- *expected* = time elapsed ÷ time allowed, from ``start`` to the end of the ``due`` day, measured at the end of the
  current period (the data cannot know more), clipped to [0, 1];
- *status*: ``reached`` (current is at or beyond the target), ``missed`` (due has passed
  without reaching it), ``on_track`` (share ≥ expected), ``behind``, or ``no_data``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmmetrics.checks.evaluate import Series, latest_complete_start, segments, shift
from crmmetrics.grid import Grid

if TYPE_CHECKING:
    import pandas as pd

    from crmmetrics.checks.rules import GoalSpec
    from crmmetrics.config import Config
    from crmmetrics.engine import Report

STATUSES = ("reached", "on_track", "behind", "missed", "no_data")


@dataclass
class GoalProgress:
    """Progress of one goal at the as-of instant (values in the metric's stored unit)."""

    goal: str
    metric: str
    unit: str
    target: float
    target_text: str
    due: str
    start: str | None
    baseline: float | None
    current: float | None
    period: str
    n: int
    share: float | None  # of the way from baseline to target
    expected: float | None  # of the time from start to due
    status: str

    @property
    def on_track(self) -> bool | None:
        """True when reached or on schedule, False when behind or missed, None without data."""
        return None if self.status == "no_data" else self.status in ("reached", "on_track")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the report schema's ``goals`` items)."""
        return {"goal": self.goal, "metric": self.metric, "unit": self.unit, "target": self.target, "due": self.due,
                "start": self.start, "baseline": self.baseline, "current": self.current, "period": self.period, "n": self.n,
                "share": self.share, "expected": self.expected, "status": self.status, "on_track": self.on_track}


def goal_progress(goals: list[GoalSpec], results: pd.DataFrame, grain: str, as_of: dt.datetime,
                  week_start: str = "monday") -> list[GoalProgress]:
    """Progress of each goal from overall (not segmented) result rows of ``grain``,
    judged at the as-of instant ``as_of`` (see the module docstring for the definitions)."""
    return [_one_goal(g, segments(results, g.metric, ()).get(()), grain, as_of, week_start) for g in goals]


def _day(key: str) -> dt.datetime:
    return dt.datetime.strptime(key, "%Y-%m-%d")


def _one_goal(g: GoalSpec, series: Series | None, grain: str, as_of: dt.datetime, week_start: str) -> GoalProgress:
    grid = Grid(grain, week_start)
    # Periods with a value, oldest first, as (period start "YYYY-MM-DD", value).
    points = sorted((k, v) for k, (v, n) in (series.points.items() if series else []) if v is not None and n > 0)
    if grain == "all":  # the one period, measured up to the instant
        current_start, current_end = (_day(points[-1][0]) if points else None), as_of
    else:
        current_start = latest_complete_start(as_of, grain, week_start)
        current_end = shift(current_start, grain, 1, week_start)
    current, n = series.at(current_start) if series and current_start else (None, 0)
    start = g.start or (_day(points[0][0]) if points else None)
    baseline = g.baseline
    if baseline is None and start is not None:
        holding = (start if grain == "all" else grid.floor(start)).strftime("%Y-%m-%d")
        baseline = next((v for k, v in points if k >= holding), None)
    prog = GoalProgress(g.id, g.metric, g.unit, g.target, g.target_text, g.due.strftime("%Y-%m-%d"),
                        start.strftime("%Y-%m-%d") if start else None, baseline, current,
                        grid.label(current_start) if current_start else "", n, None, None, "no_data")
    if current is not None and baseline is not None and start is not None:
        _judge(prog, g, start, current_end, as_of)
    return prog


def _judge(prog: GoalProgress, g: GoalSpec, start: dt.datetime, measured_at: dt.datetime, as_of: dt.datetime) -> None:
    """Fill share, expected and status of a goal that has a current value and a baseline."""
    current, baseline = float(prog.current), float(prog.baseline)  # type: ignore[arg-type]
    due_end = g.due + dt.timedelta(days=1)  # "by 2026-12-31" allows the whole of that day
    span = (due_end - start).total_seconds()
    prog.expected = min(max((measured_at - start).total_seconds() / span, 0.0), 1.0) if span > 0 else 1.0
    # The direction is the one from baseline to target: a goal may be to go down (churn, reply time).
    reached = current >= g.target if g.target >= baseline else current <= g.target
    prog.share = (current - baseline) / (g.target - baseline) if g.target != baseline else (1.0 if reached else 0.0)
    if reached:
        prog.status = "reached"
    elif as_of >= due_end:
        prog.status = "missed"
    else:
        prog.status = "on_track" if prog.share >= prog.expected else "behind"


def goals_for_report(config: Config, report: Report, *, inputs: dict[str, str] | None = None, stdin: Any = None,
                     compute_fn: Any = None) -> list[GoalProgress]:
    """Goal progress for a computed report (its grain and as-of).

    Uses the report's rows when they are overall and hold every goal metric; otherwise
    computes the goal metrics once more without segments, with ``compute_fn`` (the run's
    engine, :func:`crmmetrics.engines.computer`; default pandas). ``[]`` when the config has no goals.
    """
    if not config.goals:
        return []
    as_of = report.instant
    metrics = list(dict.fromkeys(g.metric for g in config.goals))
    have = set(report.results["metric"]) if len(report.results) else set()
    results = report.results
    if report.by or not set(metrics) <= have:
        from crmmetrics.engine import compute
        from crmmetrics.engines import refused_on
        from crmmetrics.errors import ConfigError

        run = compute_fn or compute
        try:
            # A goal metric the engine refuses has no value (its goal reads no_data), as in check.
            metrics = [m for m in metrics if not refused_on(run, config, m, report.period, [])]
            results = run(config, metrics, period=report.period, by=[], since=report.since, until=report.until,
                          now=as_of, inputs=inputs, stdin=stdin).results if metrics else report.results.iloc[0:0]
        except ConfigError:
            results = report.results.iloc[0:0] if report.by else report.results
    return goal_progress(config.goals, results, report.period, as_of, config.week_start)
