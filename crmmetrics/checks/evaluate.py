"""Evaluate check rules on computed results: which period, which segments, which level.

The period is the latest *complete* one at the as-of instant (its end is not after
as-of), so a cron run on Thursday judges last week, not three days of this one. A
period or segment with fewer than ``min_n`` observations is INSUFFICIENT: neither ok
nor a breach.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmmetrics.grid import Grid

if TYPE_CHECKING:
    import pandas as pd

    from crmmetrics.checks.rules import LevelBounds, Rule


class Status(str, enum.Enum):
    """Outcome of one rule on one segment; ``rank`` orders them for the overall status."""

    OK = "ok"
    INSUFFICIENT = "insufficient"
    SKIPPED = "skipped"
    WARN = "warn"
    CRIT = "crit"

    @property
    def rank(self) -> int:
        return {"ok": 0, "insufficient": 1, "skipped": 2, "warn": 3, "crit": 4}[self.value]


@dataclass
class Outcome:
    """One line of `check` output: a rule (or freshness, or goal) on one segment of one period."""

    rule: str
    metric: str
    kind: str
    status: Status
    period: str = ""
    unit: str | None = None
    value: float | None = None
    n: int | None = None
    segment: dict[str, str] = field(default_factory=dict)
    detail: str = ""  # what the value was compared with, e.g. "min 30" or "n=12 < min_n 30"
    warn: dict[str, float] = field(default_factory=dict)  # bounds for performance data
    crit: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN never appears: values are None or finite)."""
        return {"rule": self.rule, "metric": self.metric, "kind": self.kind, "status": self.status.value, "period": self.period,
                "segment": self.segment, "value": self.value, "unit": self.unit, "n": self.n, "detail": self.detail,
                **({"warn": self.warn} if self.warn else {}), **({"crit": self.crit} if self.crit else {}), **self.extra}


# ---------------------------------------------------------------- which period

def shift(start: dt.datetime, grain: str, steps: int, week_start: str = "monday") -> dt.datetime:
    """The bucket ``steps`` buckets after (negative: before) the one starting at ``start``."""
    return Grid(grain, week_start).shift(start, steps)


def latest_complete_start(as_of: dt.datetime, grain: str, week_start: str = "monday") -> dt.datetime:
    """Start of the latest period that has ended at the instant ``as_of`` (its end ≤ as-of); the grid's rule."""
    return Grid(grain, week_start).latest_complete_start(as_of)


# ---------------------------------------------------------------- series per segment

@dataclass
class Series:
    """One segment of one metric: value and n per period start (``YYYY-MM-DD``)."""

    unit: str | None
    points: dict[str, tuple[float | None, int]]

    def at(self, start: dt.datetime) -> tuple[float | None, int]:
        return self.points.get(start.strftime("%Y-%m-%d"), (None, 0))


def segments(results: pd.DataFrame, metric: str, by: tuple[str, ...]) -> dict[tuple[str, ...], Series]:
    """Split a metric's result rows into one Series per segment of ``by`` (one overall when empty)."""
    rows = results[results["metric"] == metric]
    out: dict[tuple[str, ...], Series] = {}
    groups = rows.groupby(list(by), dropna=False, sort=True) if by else [((), rows)]
    for key, part in groups:
        key = tuple(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        points = {}
        for start, value, n in zip(part["period_start"], part["value"], part["n"]):
            v = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
            points[str(start)] = (v, int(n) if n is not None and not (isinstance(n, float) and math.isnan(n)) else 0)
        unit = str(part["unit"].dropna().iloc[0]) if "unit" in part and part["unit"].notna().any() else None
        out[key] = Series(unit, points)
    return out


# ---------------------------------------------------------------- rules

def evaluate(rule: Rule, results: pd.DataFrame, grain: str, as_of: dt.datetime, week_start: str = "monday") -> list[Outcome]:
    """One Outcome per segment of ``rule`` for the latest complete period at ``as_of``."""
    series = segments(results, rule.metric, rule.by)
    if grain == "all":
        target = None
    else:
        target = latest_complete_start(as_of, grain, week_start)
    if not series:
        series = {tuple("" for _ in rule.by): Series(rule.unit, {})}
    out = []
    for key, s in series.items():
        start = target if target is not None else _only_start(s)
        oc = _evaluate_one(rule, s, start, grain, week_start)
        oc.segment = dict(zip(rule.by, key)) if rule.by else {}
        out.append(oc)
    return out


def _only_start(s: Series) -> dt.datetime | None:
    starts = sorted(s.points)
    return dt.datetime.strptime(starts[-1], "%Y-%m-%d") if starts else None


def _evaluate_one(rule: Rule, s: Series, start: dt.datetime | None, grain: str, week_start: str) -> Outcome:
    oc = Outcome(rule.id, rule.metric, rule.kind, Status.OK, unit=rule.unit)
    if rule.kind == "static":  # the bounds, for performance data, whatever the verdict
        for name, b in rule.levels():
            getattr(oc, name).update({k: getattr(b, k) for k in ("min", "max") if getattr(b, k) is not None})
    if start is None:
        oc.status, oc.detail = Status.INSUFFICIENT, "no period with data"
        return oc
    oc.period = Grid(grain).label(start)
    value, n = s.at(start)
    oc.value, oc.n = value, n
    if value is None or n < rule.min_n:
        oc.status = Status.INSUFFICIENT
        oc.detail = f"n={n} < min_n {rule.min_n}" if n < rule.min_n else f"no value, n={n}"
        return oc
    if rule.kind == "static":
        return _static(rule, oc, value)
    if grain == "all":
        oc.status, oc.detail = Status.INSUFFICIENT, f"a {rule.kind} rule needs a period grain, not -p all"
        return oc
    if rule.kind == "change":
        return _change(rule, oc, s, start, grain, week_start)
    return _anomaly(rule, oc, s, start, grain, week_start)


def _static(rule: Rule, oc: Outcome, value: float) -> Outcome:
    for name, b in rule.levels():
        if b.min is not None and value < b.min:
            oc.status, oc.detail = Status(name), f"min {b.text['min']}"
            return oc
        if b.max is not None and value > b.max:
            oc.status, oc.detail = Status(name), f"max {b.text['max']}"
            return oc
    oc.detail = ", ".join(d for d in (rule.describe("min"), rule.describe("max")) if d)
    return oc


def _fires_change(b: LevelBounds, delta: float, rel: float | None) -> bool:
    amount = rel if b.relative else delta
    if amount is None or b.change is None:
        return False
    return amount <= b.change if b.change < 0 else amount >= b.change


def _change(rule: Rule, oc: Outcome, s: Series, start: dt.datetime, grain: str, week_start: str) -> Outcome:
    prev_start = shift(start, grain, -1, week_start)
    prev, prev_n = s.at(prev_start)
    prev_label = Grid(grain).label(prev_start)
    if prev is None or prev_n < rule.min_n:
        oc.status, oc.detail = Status.INSUFFICIENT, f"previous period {prev_label} has n={prev_n} < min_n {rule.min_n}" if prev is not None else f"no value in previous period {prev_label}"
        return oc
    value = oc.value or 0.0
    delta = value - prev
    rel = delta / abs(prev) if prev != 0 else None
    oc.extra = {"previous": prev, "previous_period": prev_label, "change": delta, "change_relative": rel}
    needs_rel = any(b.relative for _, b in rule.levels())
    for name, b in rule.levels():
        if _fires_change(b, delta, rel):
            oc.status = Status(name)
            break
    oc.detail = f"{_change_text(delta, rel, rule.unit, needs_rel)} vs {prev_label}; {rule.describe('change', ' at ')}"
    if needs_rel and rel is None and oc.status is Status.OK:
        oc.status, oc.detail = Status.INSUFFICIENT, f"previous period {prev_label} is 0: a relative change is undefined"
    return oc


def _change_text(delta: float, rel: float | None, unit: str | None, relative: bool) -> str:
    from crmmetrics.checks.text import short_value

    parts = []
    if relative and rel is not None:
        parts.append(f"{rel * 100:+.1f}%")
    if unit == "percent":
        parts.append(f"{delta * 100:+.1f}pp")
    else:
        parts.append(("+" if delta >= 0 else "") + short_value(delta, unit))
    return "change " + " / ".join(parts)


def _anomaly(rule: Rule, oc: Outcome, s: Series, start: dt.datetime, grain: str, week_start: str) -> Outcome:
    lag = {"day": 364, "week": 52, "month": 12, "quarter": 4, "year": 1}[grain] if rule.seasonality == "year" else 0

    def point(p: dt.datetime) -> float | None:
        v, n = s.at(p)
        if v is None or n < rule.min_n:
            return None
        if not lag:
            return v
        base, bn = s.at(shift(p, grain, -lag, week_start))
        return None if base is None or bn < rule.min_n else v - base

    current = point(start)
    history = [point(shift(start, grain, -k, week_start)) for k in range(1, rule.periods + 1)]
    usable = [h for h in history if h is not None]
    what = "year-over-year differences of " if lag else ""
    if current is None or len(usable) < 3:
        oc.status = Status.INSUFFICIENT
        oc.detail = f"{len(usable)} of the trailing {rule.periods} periods usable, 3 needed" if current is not None else \
            f"no value in the same period last year ({Grid(grain).label(shift(start, grain, -lag, week_start))})"
        return oc
    mean, sd = statistics.fmean(usable), statistics.stdev(usable)
    if sd == 0:
        oc.status, oc.detail = Status.INSUFFICIENT, f"no variation in the trailing {len(usable)} periods' {what or 'values'}".rstrip()
        return oc
    z = (current - mean) / sd
    oc.extra = {"z": round(z, 4), "baseline_mean": mean, "baseline_sd": sd, "baseline_periods": len(usable), "seasonality": rule.seasonality}
    side = {"both": abs(z), "up": z, "down": -z}[rule.direction]
    for name, b in rule.levels():
        if b.z is not None and side >= b.z:
            oc.status = Status(name)
            break
    oc.detail = f"z={z:+.2f} vs {what}{len(usable)} periods; {rule.describe('z', ' at ')}"
    return oc
