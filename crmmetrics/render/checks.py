"""Renderers of a `check` run: text lines, JSON, a Nagios plugin line and a Prometheus
textfile. Each returns text; the CLI decides where it goes (stdout or an atomic file)."""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING

from crmmetrics.checks.evaluate import Status
from crmmetrics.checks.text import short_value

if TYPE_CHECKING:
    from crmmetrics.checks.evaluate import Outcome
    from crmmetrics.checks.run import CheckRun

CHECK_FORMATS = ("text", "json", "nagios", "prometheus")
# Nagios plugin API: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. Insufficient data is not a
# failure of the plugin, so it stays OK (its line says so); a skipped rule is UNKNOWN.
NAGIOS_CODE = {Status.OK: 0, Status.INSUFFICIENT: 0, Status.WARN: 1, Status.CRIT: 2, Status.SKIPPED: 3}
NAGIOS_WORD = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}
PROM_STATUS = {Status.OK: 0, Status.WARN: 1, Status.CRIT: 2, Status.INSUFFICIENT: 3, Status.SKIPPED: 3}
SECONDS = {"minutes": 60, "hours": 3600, "days": 86400}
NAGIOS_SHOWN = 5  # non-OK lines named in the status text


def subject(o: Outcome) -> str:
    """``nps``, ``nps[plan=Pro]``, ``goal nps`` or ``freshness surveys``."""
    seg = ",".join(f"{k}={v}" for k, v in o.segment.items())
    name = o.metric + (f"[{seg}]" if seg else "")
    if o.kind == "goal":
        return f"goal {o.extra.get('goal', {}).get('goal', o.metric)}"
    if o.kind == "freshness":
        return f"freshness {o.extra.get('source', o.rule)}"
    return name


def line(o: Outcome) -> str:
    """``CRIT nps 2026-10 = 27.1 (min 30, n=214)``: status, subject, period, value, why."""
    head = f"{o.status.value.upper()} {subject(o)}" + (f" {o.period}" if o.period else "")
    if o.kind == "freshness":
        return f"{head} ({o.detail})"
    value = f" = {short_value(o.value, o.unit)}" if o.value is not None else ""
    n = f", n={o.n}" if o.n is not None and o.status is not Status.SKIPPED and "n=" not in o.detail else ""
    return f"{head}{value} ({o.detail}{n})"


def to_text(run: CheckRun, quiet: bool = False) -> str:
    """One line per outcome; with ``quiet`` only the ones that are not OK."""
    shown = [o for o in run.outcomes if not (quiet and o.status is Status.OK)]
    return "".join(line(o) + "\n" for o in shown)


def to_json(run: CheckRun) -> str:
    """The run as one JSON object (allow_nan=False: NaN can never slip through)."""
    return json.dumps(run.to_dict(), ensure_ascii=False, indent=2, allow_nan=False) + "\n"


# ---------------------------------------------------------------- Nagios

def nagios_code(run: CheckRun) -> int:
    """The plugin exit code of the worst outcome."""
    codes = {NAGIOS_CODE[o.status] for o in run.outcomes}
    # CRITICAL > WARNING > UNKNOWN > OK: a skipped rule must not hide a real breach.
    return next((c for c in (2, 1, 3) if c in codes), 0)


def _perf_scale(unit: str | None) -> tuple[float, str]:
    if unit == "percent":
        return 100.0, "%"
    if unit in SECONDS:
        return float(SECONDS[unit]), "s"
    return 1.0, ""


def _num(v: float) -> str:
    return f"{v:.6g}"


def _range(bounds: dict[str, float], scale: float) -> str:
    """Nagios threshold range: ``30:`` alerts below 30, ``~:48`` above 48, ``30:80`` outside."""
    lo, hi = bounds.get("min"), bounds.get("max")
    if lo is None and hi is None:
        return ""
    return f"{_num(lo * scale) if lo is not None else '~'}:{_num(hi * scale) if hi is not None else ''}"


def perfdata(o: Outcome) -> str | None:
    """``'label'=value[UOM];warn;crit;min;max`` for an outcome with a value."""
    if o.value is None or not math.isfinite(o.value):
        return None
    unit = "days" if o.kind == "freshness" else o.unit
    scale, uom = _perf_scale(unit)
    seg = ",".join(f"{k}:{v}" for k, v in o.segment.items())
    label = (o.rule + (f"/{seg}" if seg else "")).replace("'", "").replace("=", ":")
    lo_hi = ";0;100" if uom == "%" else ";;"
    return f"'{label}'={_num(o.value * scale)}{uom};{_range(o.warn, scale)};{_range(o.crit, scale)}{lo_hi}"


def to_nagios(run: CheckRun) -> str:
    """One status line: ``CRMMETRICS CRITICAL - 1 crit, 2 ok: <worst lines> | perfdata``."""
    code = nagios_code(run)
    counts = run.counts()
    summary = ", ".join(f"{counts[s.value]} {s.value}" for s in sorted(Status, key=lambda s: -s.rank) if counts.get(s.value))
    bad = [o for o in sorted(run.outcomes, key=lambda o: -o.status.rank) if o.status is not Status.OK]
    # Nagios keeps only the first few KB of plugin output: name the worst few, count the rest.
    text = "; ".join(line(o) for o in bad[:NAGIOS_SHOWN]) or f"{run.grain} {run.period} within bounds"
    if len(bad) > NAGIOS_SHOWN:
        text += f"; +{len(bad) - NAGIOS_SHOWN} more (crmmetrics check -q lists them)"
    perf = " ".join(p for p in (perfdata(o) for o in run.outcomes) if p)
    out = f"CRMMETRICS {NAGIOS_WORD[code]} - {summary or 'nothing checked'}: {text}".replace("|", "/")
    return out + (f" | {perf}" if perf else "") + "\n"


def nagios_unknown(message: str) -> str:
    """The UNKNOWN line for a run that could not evaluate (config, usage, input errors)."""
    return f"CRMMETRICS UNKNOWN - {message.splitlines()[0]}".replace("|", "/") + "\n"


# ---------------------------------------------------------------- Prometheus

def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**kw: str) -> str:
    return "{" + ",".join(f'{k}="{_esc(str(v))}"' for k, v in kw.items()) + "}"


def to_prometheus(run: CheckRun, now: float | None = None) -> str:
    """node_exporter textfile-collector exposition: status, value and n per rule and segment,
    goal progress, source ages, and the last-success time (no timestamps, per the collector's rules)."""
    blocks: dict[str, tuple[str, list[str]]] = {
        "crmmetrics_check_status": ("Check level: 0 ok, 1 warn, 2 crit, 3 insufficient data or skipped.", []),
        "crmmetrics_check_value": ("Value in the judged period, in the metric's stored unit (rates as fractions, durations in the metric's unit).", []),
        "crmmetrics_check_observations": ("Observations (n) behind the value.", []),
        "crmmetrics_goal_share": ("Share of the way from the goal's baseline to its target.", []),
        "crmmetrics_goal_expected_share": ("Share of the goal's time that has passed.", []),
        "crmmetrics_source_age_seconds": ("Age of the newest dated row of a source at the as-of instant.", []),
    }
    for o in run.outcomes:
        seg = ",".join(f"{k}={v}" for k, v in o.segment.items())
        lab = _labels(rule=o.rule, metric=o.metric, kind=o.kind, segment=seg)
        blocks["crmmetrics_check_status"][1].append(f"crmmetrics_check_status{lab} {PROM_STATUS[o.status]}")
        if o.kind == "freshness":
            if "age_seconds" in o.extra:
                blocks["crmmetrics_source_age_seconds"][1].append(f"crmmetrics_source_age_seconds{_labels(source=o.extra['source'], rule=o.rule)} {o.extra['age_seconds']:.0f}")
            continue
        if o.value is not None and math.isfinite(o.value):
            blocks["crmmetrics_check_value"][1].append(f"crmmetrics_check_value{lab} {o.value!r}")
        if o.n is not None:
            blocks["crmmetrics_check_observations"][1].append(f"crmmetrics_check_observations{lab} {o.n}")
    for g in run.goals:
        gl = _labels(goal=g.goal, metric=g.metric)
        if g.share is not None:
            blocks["crmmetrics_goal_share"][1].append(f"crmmetrics_goal_share{gl} {g.share!r}")
        if g.expected is not None:
            blocks["crmmetrics_goal_expected_share"][1].append(f"crmmetrics_goal_expected_share{gl} {g.expected!r}")
    out = []
    for name, (help_text, samples) in blocks.items():
        if samples:
            out += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", *samples]
    stamp = time.time() if now is None else now
    out += ["# HELP crmmetrics_check_last_success_timestamp_seconds When `crmmetrics check` last finished evaluating (alert when this gets old).",
            "# TYPE crmmetrics_check_last_success_timestamp_seconds gauge",
            f"crmmetrics_check_last_success_timestamp_seconds {stamp:.3f}"]
    return "\n".join(out) + "\n"
