"""Human formatting of values for tables and Markdown (data formats keep raw numbers).

Rates are fractions in data and ``25.0 %`` on screen; NPS is points without a % sign.
"""

from __future__ import annotations

import math
from typing import Any

HIDDEN_IN_TABLES = {"period_start", "period_end", "unit", "numerator", "denominator", "complete"}
INCOMPLETE_MARK = " *"
INCOMPLETE_NOTE = "* incomplete period: it ends after the as-of day or is cut by --since/--until; its values cover only part of it"


def measured_note(metric: str, options: dict[str, Any] | None) -> str | None:
    """Which input a duration metric was measured from, for the table and the dashboard
    (issue #12: say whether the export's own durations or timestamps were used)."""
    source = (options or {}).get("measured_from")
    if not source:
        return None
    unit = (options or {}).get("measured_in") or ""
    if source.startswith("precomputed durations"):
        column = source[source.find("(") + 1: source.rfind(")")] if "(" in source else source
        return f"{metric}: from the export's own durations ({column}{', ' + unit if unit else ''})"
    return f"{metric}: from {source}{' (' + unit + ')' if unit else ''}"


def has_incomplete(records: list[dict[str, Any]]) -> bool:
    """True when some result row is of an incomplete period (``complete`` is false)."""
    return any(r.get("complete") is False for r in records)


def fmt_value(value: Any, unit: str | None, currency: str | None = None) -> str:
    """``0.25, percent`` → ``25.0 %``; ``40.0, points`` → ``40.0``; null → ``—``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if not isinstance(value, (int, float)):
        return str(value)
    if unit == "percent":
        return f"{value * 100:.1f} %"
    if unit == "points":
        return f"{value:.1f}"
    if unit == "currency":
        return f"{value:,.2f}" + (f" {currency}" if currency else "")
    if unit in {"days", "hours", "minutes", "months", "years"}:
        return f"{value:,.2f} {unit}"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def fmt_plain(value: Any) -> str:
    """Any other cell: integers without decimals, floats to 4 significant places."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        if value.is_integer():
            return f"{value:,.0f}"
        return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4g}"  # money-like vs shares
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def table_rows(records: list[dict[str, Any]], currency: str | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and string cells for screen tables: value formatted by unit, empty columns dropped.

    An incomplete period is marked ``2026-11 *`` (see :data:`INCOMPLETE_NOTE`).
    """
    if not records:
        return [], []
    columns = [c for c in records[0] if c not in HIDDEN_IN_TABLES]
    columns = [c for c in columns if any(r.get(c) is not None for r in records)]
    rows = []
    for rec in records:
        row = []
        for c in columns:
            if c == "period" and rec.get("complete") is False:
                row.append(f"{rec.get(c)}{INCOMPLETE_MARK}")  # the footnote INCOMPLETE_NOTE explains it
            elif c == "value":
                row.append(fmt_value(rec.get(c), rec.get("unit"), currency))
            elif c == "pct_easy":
                row.append(fmt_value(rec.get(c), "percent") if rec.get(c) is not None else "")
            else:
                row.append(fmt_plain(rec.get(c)))
        rows.append(row)
    return columns, rows


def goal_cells(goals: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the goals table (screen and Markdown): values in display units."""
    header = ["goal", "period", "current", "target", "due", "baseline", "progress", "time gone", "status"]
    pct = lambda v: "—" if v is None else f"{v * 100:.0f} %"  # noqa: E731
    rows = [[g["goal"], g["period"] or "—", fmt_value(g["current"], g["unit"]), fmt_value(g["target"], g["unit"]), g["due"],
             fmt_value(g["baseline"], g["unit"]), pct(g["share"]), pct(g["expected"]), g["status"].replace("_", " ")] for g in goals]
    return header, rows
