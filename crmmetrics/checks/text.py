"""Short human values for `check` lines: ``77.4%``, ``27.1``, ``48h``, ``1,250.00``."""

from __future__ import annotations

UNIT_SUFFIX = {"hours": "h", "days": "d", "minutes": "min", "months": " months", "years": " years"}


def short_value(value: float | None, unit: str | None) -> str:
    """A value in its display unit, compact enough for one status line."""
    if value is None:
        return "—"
    if unit == "percent":
        return f"{value * 100:.1f}%"
    if unit in UNIT_SUFFIX:
        return f"{value:.4g}{UNIT_SUFFIX[unit]}"
    if unit == "count":
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    if unit == "currency":
        return f"{value:,.2f}"
    if unit == "points":
        return f"{value:.1f}"
    return f"{value:.4g}"
