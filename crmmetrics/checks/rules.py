"""Check rules and goals from the config, with every value converted to the metric's
stored unit. Parsing happens while the config loads, so a bad value is a config error
(exit 78) naming its line, never a surprise at 3 a.m.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmmetrics.checks.values import ValueProblem, parse_age, parse_bound, parse_change, parse_z, shown

if TYPE_CHECKING:
    from crmmetrics.config import Config

KIND_KEYS = {"static": ("min", "max"), "change": ("change",), "anomaly": ("z",)}


@dataclass(frozen=True)
class LevelBounds:
    """One level of a rule in stored units; ``text`` keeps what the user wrote, for output."""

    min: float | None = None
    max: float | None = None
    change: float | None = None
    relative: bool = False
    z: float | None = None
    text: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """A parsed check rule (``thresholds:`` entries become static rules with a crit level)."""

    id: str
    metric: str
    unit: str
    kind: str
    warn: LevelBounds | None
    crit: LevelBounds | None
    min_n: int = 1
    by: tuple[str, ...] = ()
    periods: int = 8
    seasonality: str = "none"
    direction: str = "both"
    where: str = ""

    def levels(self) -> list[tuple[str, LevelBounds]]:
        """(name, bounds) with crit first: the worse level wins."""
        return [(n, b) for n, b in (("crit", self.crit), ("warn", self.warn)) if b is not None]

    def describe(self, key: str, joiner: str = " ") -> str:
        """``warn min 50, crit min 0``: the bounds of ``key`` in reading order, as written."""
        return ", ".join(f"{name}{joiner}{b.text[key]}" if key in ("change", "z") else f"{name} {key} {b.text[key]}"
                         for name, b in reversed(self.levels()) if key in b.text)


@dataclass(frozen=True)
class GoalSpec:
    """A parsed goal: target and baseline in stored units, dates as naive local midnights."""

    id: str
    metric: str
    unit: str
    target: float
    due: dt.datetime
    start: dt.datetime | None
    baseline: float | None
    target_text: str
    where: str = ""


@dataclass(frozen=True)
class Freshness:
    """A source's ``max_age``: which entity and source, and the age limit in seconds."""

    entity: str
    index: int
    max_age: float
    text: str
    where: str = ""


def parse_checks(cfg: Config, single: set[str]) -> tuple[list[Rule], list[GoalSpec], list[Freshness], list[str]]:
    """Rules, goals and freshness limits of ``cfg``, plus one problem line per bad value."""
    from crmmetrics.metrics.catalog import UNITS as units  # metric name → stored unit, without importing the families

    problems: list[str] = []
    rules = _threshold_rules(cfg, units, problems) + _check_rules(cfg, units, problems)
    seen: dict[str, int] = {}
    unique = []
    for r in rules:  # ids label monitoring series: make them unique and stable
        seen[r.id] = seen.get(r.id, 0) + 1
        unique.append(r if seen[r.id] == 1 else _renamed(r, f"{r.id}_{seen[r.id]}"))
    goals = _goals(cfg, units, problems)
    fresh = _freshness(cfg, single, problems)
    return unique, goals, fresh, problems


def _renamed(rule: Rule, new_id: str) -> Rule:
    from dataclasses import replace

    return replace(rule, id=new_id)


def _unknown_metric(cfg: Config, name: str, units: dict[str, str], path: tuple[Any, ...]) -> str:
    close = difflib.get_close_matches(name, list(units), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else "; `crmmetrics metrics` lists them"
    return f"{cfg.where(*path)}: {'.'.join(map(str, path))}: unknown metric {name!r}{hint}"


def _problem(cfg: Config, path: tuple[Any, ...], exc: ValueProblem) -> str:
    return f"{cfg.where(*path)}: {'.'.join(map(str, path))}: {exc.message} (hint: {exc.hint})"


def _threshold_rules(cfg: Config, units: dict[str, str], problems: list[str]) -> list[Rule]:
    rules = []
    for name in units:
        t = cfg.threshold(name)
        if t is None or (t.min is None and t.max is None):
            continue
        level = _level(cfg, ("thresholds", name), {"min": t.min, "max": t.max}, units[name], problems)
        if level is not None:
            rules.append(Rule(f"{name}_threshold", name, units[name], "static", None, level, where=cfg.where("thresholds", name)))
    return rules


def _check_rules(cfg: Config, units: dict[str, str], problems: list[str]) -> list[Rule]:
    rules = []
    for i, raw in enumerate(cfg.model.checks):
        base = ("checks", i)
        if raw.metric not in units:
            problems.append(_unknown_metric(cfg, raw.metric, units, (*base, "metric")))
            continue
        unit = units[raw.metric]
        if raw.warn is None and raw.crit is None:
            problems.append(f"{cfg.where(*base)}: checks.{i}: a rule needs warn or crit bounds (hint: e.g. crit: {{min: 30}})")
            continue
        levels = {}
        for lv in ("warn", "crit"):
            bounds = getattr(raw, lv)
            if bounds is None:
                continue
            given = {k: v for k, v in bounds.model_dump().items() if v is not None}
            wrong = [k for k in given if k not in KIND_KEYS[raw.kind]]
            for k in wrong:
                problems.append(f"{cfg.where(*base, lv, k)}: checks.{i}.{lv}.{k}: not used by a {raw.kind} rule "
                                f"(hint: a {raw.kind} rule takes {' and '.join(KIND_KEYS[raw.kind])}; set kind: to change it)")
            if not given:
                problems.append(f"{cfg.where(*base, lv)}: checks.{i}.{lv}: no bounds (hint: a {raw.kind} rule takes {' and '.join(KIND_KEYS[raw.kind])})")
            if wrong or not given:
                continue
            levels[lv] = _level(cfg, (*base, lv), given, unit, problems)
        if any(v is None for v in levels.values()) or not levels:
            continue
        rid = raw.name or f"{raw.metric}_{raw.kind}"
        rules.append(Rule(rid, raw.metric, unit, raw.kind, levels.get("warn"), levels.get("crit"), raw.min_n, tuple(raw.by),
                          raw.periods, raw.seasonality, raw.direction, cfg.where(*base)))
    return rules


def _level(cfg: Config, path: tuple[Any, ...], given: dict[str, Any], unit: str, problems: list[str]) -> LevelBounds | None:
    """Convert one level's values; None (and problems recorded) when any is bad."""
    out: dict[str, Any] = {"text": {}}
    ok = True
    for key, raw in given.items():
        if raw is None:
            continue
        try:
            if key in ("min", "max"):
                out[key] = parse_bound(raw, unit)
            elif key == "change":
                ch = parse_change(raw, unit)
                out["change"], out["relative"] = ch.amount, ch.relative
            else:
                out["z"] = parse_z(raw)
        except ValueProblem as exc:
            problems.append(_problem(cfg, (*path, key), exc))
            ok = False
            continue
        out["text"][key] = display(raw, out.get(key), unit) if key in ("min", "max") else shown(raw)
    if ok and out.get("min") is not None and out.get("max") is not None and out["min"] > out["max"]:
        problems.append(f"{cfg.where(*path, 'min')}: {'.'.join(map(str, path))}: min {out['text']['min']} is above max {out['text']['max']}: "
                        "every value would breach (hint: swap them)")
        ok = False
    return LevelBounds(**out) if ok else None


def display(raw: Any, value: float | None, unit: str) -> str:
    """A bound as output shows it: in the metric's display unit, so a rate written as the
    fraction 0.8 reads ``80%`` beside ``77.4%`` (issue #13); anything else as written."""
    if unit == "percent" and value is not None:
        return f"{value * 100:.10g}%"
    return shown(raw)


def _day(cfg: Config, path: tuple[Any, ...], text: str | None, problems: list[str]) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return dt.datetime.strptime(str(text).strip(), "%Y-%m-%d")
    except ValueError:
        problems.append(f"{cfg.where(*path)}: {'.'.join(map(str, path))}: {text!r} is not a date (hint: write YYYY-MM-DD, e.g. 2026-12-31)")
        return None


def _goals(cfg: Config, units: dict[str, str], problems: list[str]) -> list[GoalSpec]:
    goals = []
    for i, g in enumerate(cfg.model.goals):
        base = ("goals", i)
        if g.metric not in units:
            problems.append(_unknown_metric(cfg, g.metric, units, (*base, "metric")))
            continue
        unit = units[g.metric]
        before = len(problems)
        values = {}
        for key in ("target", "baseline"):
            raw = getattr(g, key)
            if raw is None:
                continue
            try:
                values[key] = parse_bound(raw, unit)
            except ValueProblem as exc:
                problems.append(_problem(cfg, (*base, key), exc))
        due = _day(cfg, (*base, "due"), g.due, problems)
        start = _day(cfg, (*base, "start"), g.start, problems)
        if due and start and start >= due:
            problems.append(f"{cfg.where(*base, 'start')}: goals.{i}.start: {g.start} is not before due {g.due} (hint: start is when the goal was set)")
        if len(problems) > before or due is None:
            continue
        goals.append(GoalSpec(g.name or g.metric, g.metric, unit, values["target"], due, start, values.get("baseline"),
                              display(g.target, values["target"], unit), cfg.where(*base)))
    return goals


def _freshness(cfg: Config, single: set[str], problems: list[str]) -> list[Freshness]:
    from crmmetrics.schema import ENTITIES

    out = []
    for entity in ENTITIES:
        for idx, src in enumerate(cfg.sources(entity)):
            if src.max_age is None:
                continue
            path = ("sources", entity) if entity in single else ("sources", entity, idx)
            try:
                seconds = parse_age(src.max_age)
            except ValueProblem as exc:
                problems.append(_problem(cfg, (*path, "max_age"), exc))
                continue
            out.append(Freshness(entity, idx, seconds, shown(src.max_age), cfg.where(*path, "max_age")))
    return out
