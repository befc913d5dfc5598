"""Threshold values written in the metric's display unit: ``80%``, ``48h``, ``-10%``, ``5pp``.

Metrics store rates as fractions (0.8) and durations in their own unit (hours, days,
...). A config value is converted to that stored form once, at load time, so evaluation
compares plain floats. Anything ambiguous is refused with a hint rather than guessed:
a bare ``80`` on a percent metric would otherwise never be reached (issue #13).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# Seconds per duration suffix; "m" is minutes (months are not a duration suffix).
SUFFIX_SECONDS = {"s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "d": 86400, "w": 604800}
UNIT_SECONDS = {"minutes": 60, "hours": 3600, "days": 86400}
DURATION_SUFFIX = {"minutes": "min", "hours": "h", "days": "d"}
_VALUE_RE = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z%]*)\s*$")


class ValueProblem(ValueError):
    """A value that cannot be read for this metric: a message and a hint."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Change:
    """A change threshold: ``relative`` (a share of the previous value) or absolute (stored unit)."""

    amount: float
    relative: bool


def shown(raw: object) -> str:
    """A config value as the user wrote it: ``80`` (not ``80.0``), ``30%``."""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw).strip()


def _split(raw: object) -> tuple[float, str]:
    if isinstance(raw, bool) or raw is None:
        raise ValueProblem(f"{shown(raw)} is not a number", "write e.g. 30, 80% or 48h")
    if isinstance(raw, (int, float)):
        number, suffix = float(raw), ""
    else:
        m = _VALUE_RE.match(str(raw))
        if not m:
            raise ValueProblem(f"{shown(raw)} is not a number with an optional unit", "write e.g. 30, 80%, 48h or -10%")
        number, suffix = float(m.group(1)), m.group(2).lower()
    if math.isnan(number) or math.isinf(number):
        raise ValueProblem(f"{shown(raw)} is not a finite number", "a NaN or infinite threshold can never be crossed; write a number")
    return number, suffix


def _duration(number: float, suffix: str, unit: str, raw: object) -> float:
    if suffix not in SUFFIX_SECONDS:
        raise ValueProblem(f"{shown(raw)}: unknown unit {suffix!r} for a metric in {unit}",
                           f"use s, min, h, d or w, e.g. 48h, or a bare number of {unit}")
    return number * SUFFIX_SECONDS[suffix] / UNIT_SECONDS[unit]


def parse_bound(raw: object, unit: str) -> float:
    """A static bound (``min``/``max``) in the metric's stored unit.

    ``80%`` → 0.8 on a percent metric; a bare number there is a fraction and must lie in
    [-1, 1]; ``48h`` → 2.0 on a metric in days; ``%`` on a non-percent metric is refused.
    """
    number, suffix = _split(raw)
    if unit == "percent":
        if suffix == "%":
            return number / 100
        if suffix:
            raise ValueProblem(f"{shown(raw)}: unit {suffix!r} on a percent metric", f"write a percentage such as {number:g}%")
        if not -1 <= number <= 1:
            raise ValueProblem(f"{shown(raw)} on a percent metric: bare numbers are fractions between 0 and 1",
                               f"write {number:g}% (or {number / 100:g})")
        return number
    if suffix == "%":
        hint = "NPS and other scores are in points: write a bare number, e.g. 30" if unit in {"points", "score"} else f"write a bare number in {unit}"
        raise ValueProblem(f"{shown(raw)}: a percentage on a metric in {unit}", hint)
    if unit in UNIT_SECONDS and suffix:
        return _duration(number, suffix, unit, raw)
    if suffix:
        raise ValueProblem(f"{shown(raw)}: unit {suffix!r} on a metric in {unit}", f"write a bare number in {unit}")
    return number


def parse_change(raw: object, unit: str) -> Change:
    """A change threshold: ``-10%`` is relative to the previous period on any metric;
    ``-5pp`` (percent metrics), ``-4h`` (durations) or a bare number are absolute.

    The sign says the direction: negative fires on a fall at least that large, positive
    on a rise. Zero is refused (it would fire on every period).
    """
    number, suffix = _split(raw)
    if number == 0:
        raise ValueProblem(f"{shown(raw)}: a change of 0 fires on every period", "write a signed change, e.g. -10% for a fall of 10 %")
    if suffix == "%":
        return Change(number / 100, relative=True)
    if unit == "percent":
        if suffix == "pp":
            return Change(number / 100, relative=False)
        if suffix:
            raise ValueProblem(f"{shown(raw)}: unit {suffix!r} on a percent metric", "write -10% (relative) or -5pp (percentage points)")
        if not -1 <= number <= 1:
            raise ValueProblem(f"{shown(raw)} on a percent metric: bare changes are fractions between -1 and 1",
                               f"write {number:g}pp for percentage points, or {number:g}% for a relative change")
        return Change(number, relative=False)
    if unit in UNIT_SECONDS and suffix:
        return Change(_duration(number, suffix, unit, raw), relative=False)
    if suffix:
        raise ValueProblem(f"{shown(raw)}: unit {suffix!r} on a metric in {unit}", f"write -10% (relative) or a bare number in {unit}")
    return Change(number, relative=False)


def parse_z(raw: object) -> float:
    """An anomaly level: a positive z-score (standard deviations from the trailing mean)."""
    number, suffix = _split(raw)
    if suffix or number <= 0:
        raise ValueProblem(f"{shown(raw)} is not a positive z-score", "write e.g. z: 3 (three standard deviations)")
    return number


def parse_age(raw: object) -> float:
    """A ``max_age`` such as ``36h`` or ``7d`` → seconds (a bare number is days)."""
    number, suffix = _split(raw)
    if number <= 0:
        raise ValueProblem(f"{shown(raw)} is not a positive age", "write e.g. 36h or 7d")
    if not suffix:
        return number * 86400
    if suffix not in SUFFIX_SECONDS:
        raise ValueProblem(f"{shown(raw)}: unknown unit {suffix!r}", "use s, min, h, d or w, e.g. 7d")
    return number * SUFFIX_SECONDS[suffix]
