"""Period bucketing: grains, half-open ``[start, end)`` buckets and their labels.

All bucketing happens on wall-clock time in the reporting time zone: an event at
2026-01-31 23:30 UTC is in February for a report in Europe/Istanbul (UTC+3). Labels:
``2026-11-22`` (day), ``2026-W47`` (ISO week of the bucket's Thursday-ish middle),
``2026-11`` (month), ``2026-Q4`` (quarter), ``2026`` (year), ``all``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

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

    fast = _floor_numpy(local, grain, week_start)
    if fast is not None:
        return fast
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


def _floor_numpy(local: pd.Series, grain: str, week_start: str) -> pd.Series | None:
    """floor_local on naive ns or us timestamps through a table of the bucket start of
    every day in the column's range, or None for other columns (tz-aware, other units:
    the pandas path above).

    The same values, dtypes and names as the pandas path (quarter and year come out in
    us, unnamed, as pandas' to_datetime of components gives them) at a twentieth of its
    cost: the pandas path builds timedelta and component columns per call (0.1 s per 2M
    rows), and numpy's own cast to months is as slow, while a cast to days and a take
    from a table of a few thousand days is not.
    """
    import numpy as np
    import pandas as pd

    if grain not in ("day", "week", "month", "quarter", "year") or str(local.dtype) not in ("datetime64[ns]", "datetime64[us]"):
        return None
    values = local.to_numpy()
    unit = "datetime64[us]" if grain in ("quarter", "year") else values.dtype
    missing = np.isnat(values)
    days = values.astype("datetime64[D]").view("int64")  # floors, before 1970 too
    if missing.all():
        out = np.full(len(values), np.datetime64("NaT"), dtype=unit)
    else:
        present = days[~missing] if missing.any() else days
        first = int(present.min())
        table = _day_buckets(np.arange(first, int(present.max()) + 1), grain, week_start).astype(unit)
        days -= first  # in place: days is astype's own array (no temporaries of the column's size)
        days[missing] = 0
        out = table[days]
        del days
        out[missing] = np.datetime64("NaT")
    return pd.Series(out, index=local.index, name=None if grain in ("quarter", "year") else local.name, copy=False)  # our own array


def _day_buckets(days: Any, grain: str, week_start: str) -> Any:
    """Bucket start (datetime64[D]) of each day number (days since 1970-01-01, a Thursday)."""
    import numpy as np

    if grain == "week":
        return (days - (days + 3 - WEEKDAYS.index(week_start)) % 7).astype("datetime64[D]")
    on = days.astype("datetime64[D]")
    if grain == "day":
        return on
    if grain == "year":
        return on.astype("datetime64[Y]").astype("datetime64[D]")
    months = on.astype("datetime64[M]").view("int64")
    if grain == "quarter":
        months = months - months % 3  # month 0 is January 1970
    return months.view("datetime64[M]").astype("datetime64[D]")


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
