"""`check` end to end, without the CLI: compute what the rules and goals need, evaluate
them on the latest complete period, and check source freshness."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmmetrics.checks.evaluate import Outcome, Status, evaluate
from crmmetrics.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from crmmetrics.checks.goals import GoalProgress
    from crmmetrics.config import Config
    from crmmetrics.engine import Report
    from crmmetrics.errors import Issue


@dataclass
class CheckRun:
    """Everything the check renderers need."""

    generated_at: str
    as_of: dt.datetime  # the as-of instant: the end of the --as-of day, else the run's start
    grain: str
    period: str  # label of the period judged (the latest complete one)
    outcomes: list[Outcome] = field(default_factory=list)
    goals: list[GoalProgress] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    extra_issues: list[Issue] = field(default_factory=list)

    @property
    def issues(self) -> list[Issue]:
        """Data issues of every computation, each once."""
        seen, out = set(), []
        for i in [*self.extra_issues, *(i for r in self.reports for i in r.issues)]:
            key = (i.code, i.message, i.location, i.metric)
            if key not in seen:
                seen.add(key)
                out.append(i)
        return out

    @property
    def worst(self) -> Status:
        """The most severe status (OK when there is nothing)."""
        return max((o.status for o in self.outcomes), key=lambda s: s.rank, default=Status.OK)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.outcomes:
            out[o.status.value] = out.get(o.status.value, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``check -f json``."""
        return {"generated_at": self.generated_at, "as_of": self.as_of.isoformat(timespec="seconds"), "period": self.grain,
                "judged_period": self.period, "status": self.worst.value, "counts": self.counts(),
                "checks": [o.to_dict() for o in self.outcomes], "goals": [g.to_dict() for g in self.goals],
                "issues": [i.to_dict() for i in self.issues]}


def run_checks(config: Config, *, period: str | None = None, as_of: str | None = None, inputs: dict[str, str] | None = None,
               stdin: Any = None, now: dt.datetime | None = None, compute_fn: Any = None) -> CheckRun:
    """Evaluate every rule, goal and ``max_age`` of ``config`` at the as-of instant.

    ``period``: a grain (judge its latest complete period) or a period label such as
    ``2026-10`` (judge that one; UsageError while it is not over). Raises ConfigError
    (exit 78) when the config has nothing to check, or when every rule and goal names a
    metric the config cannot feed (one line per metric). ``compute_fn``: the engine
    (:func:`crmmetrics.engines.computer`, default pandas); a metric it refuses is SKIPPED naming why.
    """
    from zoneinfo import ZoneInfo

    from crmmetrics.checks.freshness import freshness_outcomes
    from crmmetrics.engine import nothing_to_do

    config.check_metric_options()  # a bad metrics: section is exit 78 with its line, as in compute
    if not (config.rules or config.goals or config.freshness):
        raise ConfigError(f"{config.where('checks')}: nothing to check: no checks:, thresholds:, goals: or sources max_age",
                          hint="add e.g. checks: [{metric: nps, warn: {min: 35}, crit: {min: 30}, min_n: 30}]")
    if stdin is not None and "-" in (inputs or {}).values():
        from crmmetrics.io.readers import ReplayStdin

        stdin = ReplayStdin(stdin)
    from crmmetrics.engine import config_for_inputs

    config, stdin = config_for_inputs(config, inputs, stdin)  # presets match the --input's headers (freshness reads too)
    now = now or dt.datetime.now(ZoneInfo(config.timezone))
    grain, instant, judge_at, judged = _judgement(config, period, as_of, now)
    run = CheckRun(now.isoformat(timespec="seconds"), instant, grain, judged)
    skipped: dict[str, str] = {}
    from crmmetrics.engine import compute

    results = _compute_groups(config, grain, as_of, inputs, stdin, now, skipped, run, compute_fn or compute)
    _evaluate_all(config, results, grain, judge_at, skipped, run)
    # Freshness is measured at the run's instant: as known at the end of the --as-of day.
    fresh, fresh_issues = freshness_outcomes(config, config.freshness, instant, inputs, stdin)
    run.outcomes.extend(fresh)
    run.extra_issues.extend(i for i in fresh_issues if i.code.startswith("unparseable"))
    if skipped and not fresh and all(o.status is Status.SKIPPED for o in run.outcomes):
        raise nothing_to_do(skipped)
    return run


def _judgement(config: Config, period: str | None, as_of: str | None, now: dt.datetime) -> tuple[str, dt.datetime, dt.datetime, str]:
    """(grain, as-of instant, the instant periods are judged at, label of the judged period).

    Periods are judged at the run's as-of instant (the end of the --as-of day, else now),
    the instant compute's ``complete`` column is measured at; a period label moves the
    judgement to that period's end.
    """
    from crmmetrics.engine import parse_day
    from crmmetrics.grid import build_grid
    from crmmetrics.periods import GRAINS

    grain = period or config.model.report.period
    wanted_label = None
    if grain not in GRAINS:
        wanted_label, grain = grain, grain_of_label(grain)
    grid = build_grid(grain, config.week_start, None, None, parse_day(as_of, "--as-of"), now)
    instant = judge_at = grid.horizon
    if wanted_label is not None:
        start = start_of_label(grid, wanted_label)
        if grid.end(start) > instant:
            raise UsageError(f"--period {wanted_label} is not over at the as-of instant {instant:%Y-%m-%d %H:%M}",
                             hint=f"check it after it ends, or pass --as-of {grid.end(start) - dt.timedelta(days=1):%Y-%m-%d}")
        judge_at = grid.end(start)  # the latest period complete at its own end is itself
    judged = grid.label(grid.latest_complete_start(judge_at)) if grain != "all" else "all"
    return grain, instant, judge_at, judged


def _compute_groups(config: Config, grain: str, as_of: str | None, inputs: Any, stdin: Any, now: dt.datetime,
                    skipped: dict[str, str], run: CheckRun, compute_fn: Any) -> dict[tuple[str, ...], Any]:
    """Result rows per ``by:`` group of rules (goals are overall); unfeedable metrics go to ``skipped``."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for r in config.rules:
        groups.setdefault(r.by, []).append(r.metric)
    for g in config.goals:
        groups.setdefault((), []).append(g.metric)
    results: dict[tuple[str, ...], Any] = {}
    for by, names in groups.items():
        wanted = [m for m in dict.fromkeys(names) if m not in skipped]
        wanted = [m for m in wanted if not _unfeedable(config, m, grain, by, skipped) and not _refused(compute_fn, config, m, grain, by, skipped)]
        results[by] = _compute(config, wanted, grain, by, as_of, inputs, stdin, now, skipped, run, compute_fn)
    return results


def _evaluate_all(config: Config, results: dict[tuple[str, ...], Any], grain: str, judge_at: dt.datetime,
                  skipped: dict[str, str], run: CheckRun) -> None:
    """Outcomes of every rule and goal (SKIPPED lines for metrics the config cannot feed)."""
    from crmmetrics.checks.goals import goal_progress

    for r in config.rules:
        if r.metric in skipped:
            run.outcomes.append(Outcome(r.id, r.metric, r.kind, Status.SKIPPED, period=run.period, unit=r.unit, detail=skipped[r.metric]))
        else:
            run.outcomes.extend(evaluate(r, results[r.by], grain, judge_at, config.week_start))
    if not config.goals:
        return
    run.goals = goal_progress([g for g in config.goals if g.metric not in skipped], results[()], grain, judge_at, config.week_start)
    run.outcomes.extend(_goal_outcome(p) for p in run.goals)
    run.outcomes.extend(Outcome(f"goal_{g.id}", g.metric, "goal", Status.SKIPPED, period=run.period, unit=g.unit, detail=skipped[g.metric])
                        for g in config.goals if g.metric in skipped)


LABEL_GRAINS = ((re.compile(r"^\d{4}-\d{2}-\d{2}$"), "day"), (re.compile(r"^\d{4}-W\d{2}$"), "week"),
                (re.compile(r"^\d{4}-\d{2}$"), "month"), (re.compile(r"^\d{4}-Q[1-4]$"), "quarter"), (re.compile(r"^\d{4}$"), "year"))


def grain_of_label(text: str) -> str:
    """The grain of a period label such as ``2026-10`` or ``2026-W43`` (UsageError otherwise)."""
    from crmmetrics.periods import GRAINS

    grain = next((g for rx, g in LABEL_GRAINS if rx.match(text.strip())), None)
    if grain is None:
        raise UsageError(f"unknown period {text!r}", hint=f"use a grain ({', '.join(GRAINS)}) or a period label: 2026-10-15, 2026-W43, 2026-10, 2026-Q4, 2026")
    return grain


def start_of_label(grid: Any, text: str) -> dt.datetime:
    """The start of the period labelled ``text`` on ``grid``: the first day of the period a
    date inside it floors to, checked by labelling it back (so week starts are honoured)."""
    text = text.strip()
    try:
        if grid.grain == "week":
            year, week = int(text[:4]), int(text[6:])
            inside = dt.datetime.combine(dt.date.fromisocalendar(year, week, 4), dt.time())  # the ISO week's Thursday
        elif grid.grain == "quarter":
            inside = dt.datetime(int(text[:4]), (int(text[-1]) - 1) * 3 + 1, 1)
        else:
            inside = dt.datetime.strptime(text, {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}[grid.grain])
    except ValueError:
        inside = None
    # A label names the bucket holding most of the ISO week, so its start may lie before that Thursday.
    for probe in ([inside, inside - dt.timedelta(days=3)] if inside else []):
        start = grid.floor(probe)
        if grid.label(start) == text:
            return start
    raise UsageError(f"--period {text!r} is not a valid {grid.grain}", hint="e.g. 2026-10, 2026-W43, 2026-Q4")


def _unfeedable(config: Config, metric: str, grain: str, by: tuple[str, ...], skipped: dict[str, str]) -> bool:
    """True (and the reason recorded) when the config cannot feed ``metric``."""
    from crmmetrics.engine import make_plan

    try:
        make_plan(config, [metric], grain, list(by), need_dates=False)
    except ConfigError as exc:
        skipped[metric] = exc.message
        return True
    except UsageError as exc:  # a rule's by: names a field the metric does not have
        rule = next(r for r in config.rules if r.metric == metric and r.by == by)
        raise ConfigError(f"{rule.where}: by: {exc.message}", hint=exc.hint) from None
    return False


def _refused(compute_fn: Any, config: Config, metric: str, grain: str, by: tuple[str, ...], skipped: dict[str, str]) -> bool:
    """True (and the engine's reason recorded, as compute's metric_skipped note words it) when the engine refuses ``metric``."""
    from crmmetrics.engines import refused_on

    why = refused_on(compute_fn, config, metric, grain, list(by))
    if why:
        skipped[metric] = why
    return bool(why)


def _compute(config: Config, names: list[str], grain: str, by: tuple[str, ...], as_of: str | None, inputs: Any, stdin: Any,
             now: dt.datetime, skipped: dict[str, str], run: CheckRun, compute_fn: Any) -> Any:
    """Results of ``names`` grouped by ``by``; a metric failing alone is skipped, not fatal."""
    import pandas as pd

    compute = compute_fn
    if not names:
        return pd.DataFrame(columns=["metric", "period", "period_start", "period_end", *by, "value", "unit", "n"])
    kw = dict(period=grain, by=list(by), as_of=as_of, inputs=inputs, stdin=stdin, now=now)
    try:
        report = compute(config, names, **kw)
    except ConfigError:
        frames = []
        for name in names:  # find which metric cannot run; keep the others
            try:
                report = compute(config, [name], **kw)
            except ConfigError as exc:
                skipped[name] = exc.message
                continue
            run.reports.append(report)
            frames.append(report.results)
        return pd.concat(frames, ignore_index=True) if frames else _compute(config, [], grain, by, as_of, inputs, stdin, now, skipped, run, compute_fn)
    run.reports.append(report)
    return report.results


def _goal_outcome(p: GoalProgress) -> Outcome:
    from crmmetrics.checks.text import short_value

    status = {"behind": Status.WARN, "missed": Status.WARN, "no_data": Status.INSUFFICIENT}.get(p.status, Status.OK)
    base = f" from {short_value(p.baseline, p.unit)}" if p.baseline is not None else ""
    if p.share is not None and p.expected is not None:
        detail = (f"{p.status.replace('_', ' ')}: target {p.target_text} by {p.due}, {p.share * 100:.0f}% of the way{base}, "
                  f"{p.expected * 100:.0f}% of the time gone")
    else:
        detail = f"no value yet; target {p.target_text} by {p.due}"
    return Outcome(f"goal_{p.goal}", p.metric, "goal", status, period=p.period, unit=p.unit, value=p.current, n=p.n, detail=detail,
                   extra={"goal": p.to_dict()})
