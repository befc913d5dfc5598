"""Period bucketing: grains, half-open ``[start, end)`` buckets and their labels.

All bucketing happens on wall-clock time in the reporting time zone: an event at
2026-01-31 23:30 UTC is in February for a report in Europe/Istanbul (UTC+3). Labels:
``2026-11-22`` (day), ``2026-W47`` (ISO week of the bucket's Thursday-ish middle),
``2026-11`` (month), ``2026-Q4`` (quarter), ``2026`` (year), ``all``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pandas is imported lazily so `crmmetrics --help` stays fast
    import pandas as pd

Grain = Literal["day", "week", "month", "quarter", "year", "all"]
GRAINS: tuple[str, ...] = ("day", "week", "month", "quarter", "year", "all")
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def floor_local(local: pd.Series, grain: str, week_start: str = "monday") -> pd.Series:
    """Bucket starts for naive local timestamps (NaT stays NaT).

    Example: 2026-11-22 14:05 → month 2026-11-01, quarter 2026-10-01,
    week (monday) 2026-11-16.
    """
    import pandas as pd

    day = local.dt.normalize()
    if grain == "day":
        return day
    if grain == "week":
        shift = (day.dt.day_of_week - WEEKDAYS.index(week_start)) % 7
        return day - pd.to_timedelta(shift, unit="D")
    if grain == "month":
        return day - pd.to_timedelta(day.dt.day - 1, unit="D")
    if grain == "quarter":
        month0 = (day.dt.month - 1) // 3 * 3 + 1
        return pd.to_datetime({"year": day.dt.year, "month": month0, "day": 1}, errors="coerce")
    if grain == "year":
        return pd.to_datetime({"year": day.dt.year, "month": 1, "day": 1}, errors="coerce")
    raise ValueError(f"unknown grain {grain!r}")


def next_start(start: dt.datetime, grain: str) -> dt.datetime:
    """The start of the bucket after the one starting at ``start``."""
    if grain == "day":
        return start + dt.timedelta(days=1)
    if grain == "week":
        return start + dt.timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[grain]
    total = start.year * 12 + start.month - 1 + months
    return start.replace(year=total // 12, month=total % 12 + 1, day=1)


def floor_one(moment: dt.datetime, grain: str, week_start: str = "monday") -> dt.datetime:
    """Bucket start of a single naive local datetime."""
    day = dt.datetime(moment.year, moment.month, moment.day)
    if grain == "day":
        return day
    if grain == "week":
        return day - dt.timedelta(days=(day.weekday() - WEEKDAYS.index(week_start)) % 7)
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if grain == "year":
        return day.replace(month=1, day=1)
    raise ValueError(f"unknown grain {grain!r}")


def label(start: dt.datetime, grain: str) -> str:
    """The period label of the bucket starting at ``start``."""
    if grain == "day":
        return start.strftime("%Y-%m-%d")
    if grain == "week":
        # The ISO week that holds most of the bucket (for a Sunday start, the Monday after).
        year, week, _ = (start + dt.timedelta(days=3)).isocalendar()
        return f"{year}-W{week:02d}"
    if grain == "month":
        return start.strftime("%Y-%m")
    if grain == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if grain == "year":
        return str(start.year)
    return "all"


def bucket_range(first: dt.datetime, last: dt.datetime, grain: str, week_start: str = "monday") -> list[dt.datetime]:
    """Every bucket start from the bucket holding ``first`` to the one holding ``last``."""
    out: list[dt.datetime] = []
    cur = floor_one(first, grain, week_start)
    while cur <= last:
        out.append(cur)
        cur = next_start(cur, grain)
    return out
