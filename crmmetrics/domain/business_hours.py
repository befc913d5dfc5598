"""Business-hours engine: elapsed time inside a support schedule (METRICS.md E0).

A schedule is a time zone, weekly opening intervals and holiday dates (config key
``business_hours``). Business time between two instants is the overlap of ``[start,
end)`` with the open intervals, measured on the schedule's local wall clock: a ticket
created outside hours starts counting at the next opening and a reply outside hours
adds nothing (keeping.com: created 18:00, opens 07:00, reply 08:00 → 1 h business,
14 h calendar). Holidays are closed all day, for every metric (Zendesk).

The computation is vectorised: ``B(t)`` = business minutes from a fixed epoch (a
Monday 00:00) to ``t`` is a piecewise-linear function of ``t`` (whole weeks × open
minutes per week + the prefix of the current week − holiday minutes before ``t``),
so ``elapsed = B(end) − B(start)`` is two ``searchsorted`` calls per column, never a
loop over rows or days.

Zendesk measures business minutes with the **last** schedule applied to the ticket;
dbt_zendesk sums each schedule over the time it was in force. We follow Zendesk: one
schedule per ticket (the ``schedule`` option, or a ``schedule`` column on the ticket
naming its current schedule). METRICS.md WX18: created at minute 3902 after Sunday
00:00 UTC, replied at 5461.46, San Francisco schedule [3780, 4350], [5220, 5790]
→ (4350 − 3902) + (5461.46 − 5220) = 448 + 241.46 = 689.46 business minutes.

Wall-clock arithmetic means a DST jump inside opening hours is not corrected for
(schedules open at night are rare; Zendesk's own intervals are wall-clock too).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmmetrics.errors import ConfigError, Level

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from crmmetrics.config import BusinessHours
    from crmmetrics.metrics.context import MetricContext

WEEK_MINUTES = 7 * 24 * 60
DAY_MINUTES = 24 * 60
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")
# A Monday: whole weeks counted from here line up with weekdays (1970-01-05 was a Monday).
_EPOCH = dt.datetime(1970, 1, 5)


@dataclass(frozen=True)
class Schedule:
    """A compiled schedule: open intervals as minutes since Monday 00:00 (local wall
    clock), sorted and disjoint, plus holidays as day numbers since the epoch."""

    name: str
    timezone: str
    starts: Any  # np.ndarray[float], minutes since Monday 00:00
    ends: Any
    holidays: Any  # np.ndarray[int], days since 1970-01-05, sorted, unique
    holiday_dates: tuple[str, ...] = ()

    @property
    def weekly_minutes(self) -> float:
        """Open minutes in a week without holidays (Mon–Fri 09:00–18:00 → 2,700)."""
        return float((self.ends - self.starts).sum())

    def _week_prefix(self, within: np.ndarray) -> np.ndarray:
        """Open minutes from Monday 00:00 to ``within`` minutes later (0 ≤ within ≤ 10080)."""
        import numpy as np

        lengths = self.ends - self.starts
        before = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
        idx = np.searchsorted(self.starts, within, side="right") - 1
        safe = np.clip(idx, 0, len(self.starts) - 1)
        part = np.clip(within - self.starts[safe], 0.0, lengths[safe])
        return np.where(idx >= 0, before[safe] + part, 0.0)

    def cumulative(self, minutes: np.ndarray, base_day: int = 0) -> np.ndarray:
        """``B(t)``: open minutes from ``base_day`` (a Monday, in days since the epoch) to
        ``t`` given as minutes since that Monday; NaN stays NaN. Counting from a Monday
        near the data keeps the floats small, so durations carry no rounding noise."""
        import numpy as np

        m = np.asarray(minutes, dtype="float64")
        weeks = np.floor(m / WEEK_MINUTES)
        within = m - weeks * WEEK_MINUTES
        total = weeks * self.weekly_minutes + self._week_prefix(np.nan_to_num(within))
        if len(self.holidays):
            holidays = self.holidays - base_day
            day = np.floor(m / DAY_MINUTES)
            day_within = np.floor(within / DAY_MINUTES) * DAY_MINUTES
            # Open minutes of each holiday's weekday, summed over the holidays before a day.
            hol_dow = (self.holidays % 7).astype("float64") * DAY_MINUTES
            hol_open = self._week_prefix(hol_dow + DAY_MINUTES) - self._week_prefix(hol_dow)
            hol_cum = np.concatenate([[0.0], np.cumsum(hol_open)])
            safe_day = np.nan_to_num(day, nan=-1e18)
            k = np.searchsorted(holidays, safe_day, side="left")
            total = total - hol_cum[k]
            is_holiday = holidays[np.clip(k, 0, len(holidays) - 1)] == safe_day
            partial = self._week_prefix(np.nan_to_num(within)) - self._week_prefix(np.nan_to_num(day_within))
            total = total - np.where(is_holiday, partial, 0.0)
        return np.where(np.isnan(m), np.nan, total)


def parse_hhmm(text: str) -> int | None:
    """``"09:30"`` → 570 minutes; ``"24:00"`` (end of day) → 1440; None if malformed."""
    m = _HHMM.match(str(text).strip())
    if not m:
        return None
    h, mi = int(m.group(1)), int(m.group(2))
    if mi >= 60 or h > 24 or (h == 24 and mi):
        return None
    return h * 60 + mi


def compile_schedule(name: str, bh: BusinessHours, default_tz: str, where: Any = None) -> Schedule:
    """Validate a ``business_hours`` entry and compile it. ConfigError with the file
    line for bad times, overlaps, unknown zones or malformed holidays.

    Example: ``{timezone: Europe/Istanbul, intervals: {monday: [["09:00", "18:00"]]}}``
    → one interval [540, 1080) minutes after Monday 00:00 Istanbul time.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    def loc(*path: Any) -> str:
        return where("business_hours", name, *path) if where else "<config>"

    tz = bh.timezone or default_tz
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{loc('timezone')}: business_hours.{name}.timezone: unknown time zone {tz!r}",
                          hint="use an IANA name such as Europe/Istanbul or America/Chicago") from None
    spans: list[tuple[int, int]] = []
    for day, intervals in bh.intervals.items():
        offset = _WEEKDAYS.index(day) * DAY_MINUTES
        day_spans = []
        for i, (start_text, end_text) in enumerate(intervals):
            start, end = parse_hhmm(start_text), parse_hhmm(end_text)
            if start is None or end is None or start >= end:
                raise ConfigError(f"{loc('intervals', day, i)}: business_hours.{name}.intervals.{day}.{i}: "
                                  f"{[start_text, end_text]!r} is not an opening interval",
                                  hint='write ["HH:MM", "HH:MM"] with start before end, e.g. ["09:00", "18:00"]; '
                                       'use "24:00" for midnight and split intervals that cross it')
            day_spans.append((start, end))
        day_spans.sort()
        for (s1, e1), (s2, e2) in zip(day_spans, day_spans[1:]):
            if s2 < e1:
                raise ConfigError(f"{loc('intervals', day)}: business_hours.{name}.intervals.{day}: intervals overlap "
                                  f"({s1 // 60:02d}:{s1 % 60:02d}-{e1 // 60:02d}:{e1 % 60:02d} and "
                                  f"{s2 // 60:02d}:{s2 % 60:02d}-{e2 // 60:02d}:{e2 % 60:02d})")
        spans.extend((offset + s, offset + e) for s, e in day_spans)
    if not spans:
        raise ConfigError(f"{loc('intervals')}: business_hours.{name}: no opening hours on any day",
                          hint='add e.g. monday: [["09:00", "18:00"]]')
    days = []
    for i, text in enumerate(bh.holidays):
        try:
            day = dt.datetime.strptime(str(text).strip(), "%Y-%m-%d")
        except ValueError:
            raise ConfigError(f"{loc('holidays', i)}: business_hours.{name}.holidays.{i}: {text!r} is not a date",
                              hint="write holidays as YYYY-MM-DD") from None
        days.append((day - _EPOCH).days)
    return _build(name, tz, spans, days)


def schedule_from_week_minutes(name: str, intervals: list[tuple[float, float]], timezone: str = "UTC",
                               holidays: list[str] | None = None) -> Schedule:
    """A schedule from Zendesk API intervals: minutes since **Sunday** 00:00 in ``timezone``.

    Zendesk's schedule API (and dbt_zendesk) write intervals this way, and they may run
    past midnight in UTC: Chicago [720, 1560] is Sunday 12:00 → Monday 02:00.
    """
    spans: list[tuple[float, float]] = []
    for start, end in intervals:
        if not 0 <= start < end <= WEEK_MINUTES + DAY_MINUTES:
            raise ValueError(f"bad interval [{start}, {end}]")
        # Sunday-based → Monday-based minutes; an interval wrapping the week end is split.
        s, e = start - DAY_MINUTES, end - DAY_MINUTES
        if s < 0 and e <= 0:
            spans.append((s + WEEK_MINUTES, e + WEEK_MINUTES))
        elif s < 0:
            spans.extend([(s + WEEK_MINUTES, WEEK_MINUTES), (0.0, e)])
        elif e > WEEK_MINUTES:
            spans.extend([(s, WEEK_MINUTES), (0.0, e - WEEK_MINUTES)])
        else:
            spans.append((s, e))
    days = [(dt.datetime.strptime(h, "%Y-%m-%d") - _EPOCH).days for h in holidays or []]
    return _build(name, timezone, spans, days)


def _build(name: str, tz: str, spans: list[tuple[float, float]], days: list[int]) -> Schedule:
    import numpy as np

    merged: list[list[float]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:  # touching intervals (Sunday 24:00 / Monday 00:00) join
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    arr = np.array(merged, dtype="float64")
    hol = np.array(sorted(set(days)), dtype="int64")
    texts = tuple((_EPOCH + dt.timedelta(days=int(d))).strftime("%Y-%m-%d") for d in hol)
    return Schedule(name, tz, arr[:, 0], arr[:, 1], hol, texts)


def _nanos(local: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Naive wall-clock timestamps → (int64 ns since the epoch Monday, missing mask)."""
    import numpy as np
    import pandas as pd

    delta = (pd.Series(local) - pd.Timestamp(_EPOCH)).to_numpy(dtype="timedelta64[ns]")
    missing = np.isnat(delta)
    return np.where(missing, 0, delta.astype("int64")), missing


def business_minutes(schedule: Schedule, start: pd.Series, end: pd.Series) -> pd.Series:
    """Open minutes of ``schedule`` inside ``[start, end)`` per row (NaN where either is missing).

    ``start``/``end`` are tz-aware timestamps (converted to the schedule's zone) or naive
    wall-clock times already in it. A negative span gives a negative value, so callers
    must drop end < start first (support metrics report those rows as issues).
    """
    import numpy as np
    import pandas as pd

    def local(col: pd.Series) -> pd.Series:
        col = pd.Series(col)
        if getattr(col.dt, "tz", None) is not None:
            return col.dt.tz_convert(schedule.timezone).dt.tz_localize(None)
        return col

    s_ns, s_na = _nanos(local(start))
    e_ns, e_na = _nanos(local(end))
    week_ns = WEEK_MINUTES * 60 * 10**9
    present = ~s_na
    # Count from the Monday of the earliest start: whole weeks keep weekdays aligned.
    base_weeks = int(s_ns[present].min() // week_ns) if present.any() else 0
    base_ns, base_day = base_weeks * week_ns, base_weeks * 7
    s_min = np.where(s_na, np.nan, (s_ns - base_ns) / 6e10)
    e_min = np.where(e_na, np.nan, (e_ns - base_ns) / 6e10)
    out = schedule.cumulative(e_min, base_day) - schedule.cumulative(s_min, base_day)
    return pd.Series(out, index=pd.Series(start).index, dtype="float64")


def calendar_minutes(start: pd.Series, end: pd.Series) -> pd.Series:
    """Plain elapsed minutes ``end − start`` (NaN where either is missing)."""
    return (end - start) / _minute()


def _minute() -> Any:
    import pandas as pd

    return pd.Timedelta(minutes=1)


def schedules(ctx: MetricContext) -> dict[str, Any]:
    """The ``business_hours`` entries of the run's config (empty without a config)."""
    if ctx.config is None:
        return {}
    return dict(ctx.config.model.business_hours or {})


def resolve(ctx: MetricContext, name: str) -> Schedule:
    """The compiled schedule called ``name``; ConfigError with close matches otherwise."""
    known = schedules(ctx)
    if name not in known:
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f"did you mean {close[0]!r}?" if close else (
            f"defined: {', '.join(known)}" if known else 'add one under business_hours: (e.g. office: {intervals: {monday: [["09:00", "18:00"]]}})')
        raise ConfigError(f"metrics.{ctx.spec.name}.schedule: no business_hours schedule named {name!r}", hint=hint)
    where = ctx.config.where if ctx.config is not None else None
    return compile_schedule(name, known[name], ctx.timezone, where)


def elapsed(ctx: MetricContext, rows: pd.DataFrame, start_col: str, end_col: str, schedule: str | None,
            per_row_column: str = "schedule") -> pd.Series:
    """Elapsed minutes from ``start_col`` to ``end_col``: calendar, or business minutes.

    With ``schedule`` set, each row is measured on its own schedule when the frame has a
    ``schedule`` column naming one (Zendesk: the ticket's current, i.e. last, schedule),
    else on ``schedule``. A row naming an unknown schedule is an issue and gets NaN.
    Holidays outside the span of the measured timestamps are reported once (a holiday
    typed with the wrong year silently does nothing otherwise).
    """
    import numpy as np
    import pandas as pd

    if schedule is None:
        return calendar_minutes(rows[start_col], rows[end_col])
    default = resolve(ctx, schedule)
    out = pd.Series(np.nan, index=rows.index, dtype="float64")
    if per_row_column in rows and rows[per_row_column].notna().any():
        names = rows[per_row_column].astype(object).where(rows[per_row_column].notna(), None)
        names = names.where(~names.isin(["(blank)", ""]), None)
    else:
        names = pd.Series(None, index=rows.index, dtype=object)
    known = schedules(ctx)
    unknown = names.notna() & ~names.isin(list(known))
    if unknown.any():
        bad = rows[unknown]
        if "_src" in bad:
            ctx.row_issues(bad.assign(**{per_row_column: names[unknown]}), "unknown_schedule",
                           f"{per_row_column} names no business_hours schedule (defined: {', '.join(known)}); duration left out",
                           per_row_column)
    use = names.where(names.notna(), default.name)
    for name in pd.unique(use[~unknown]):
        sched = default if name == default.name else resolve(ctx, str(name))
        mask = (use == name) & ~unknown
        sub = rows[mask]
        out[mask] = business_minutes(sched, sub[start_col], sub[end_col]).to_numpy()
        _check_holidays(ctx, sched, sub[start_col], sub[end_col])
    return out


def _check_holidays(ctx: MetricContext, sched: Schedule, start: pd.Series, end: pd.Series) -> None:
    """One issue per schedule whose holidays fall outside the measured data's days."""
    if not len(sched.holiday_dates):
        return
    both = [s.dropna() for s in (start, end)]
    if not any(len(b) for b in both):
        return
    low, high = min(b.min() for b in both if len(b)), max(b.max() for b in both if len(b))
    if ctx.partial is not None:  # Dask engine: a partition sees only part of the days; merged, then reported once
        ctx.partial.widen(("holidays", sched.name), low, high)
        return
    holiday_issue(ctx, sched, low, high)


def holiday_issue(ctx: MetricContext, sched: Schedule, low: Any, high: Any) -> None:
    """The ``holiday_outside_data`` issue when holidays fall outside the days ``low``..``high``."""

    def day(t: Any) -> str:
        return (t.tz_convert(sched.timezone) if t.tzinfo is not None else t).strftime("%Y-%m-%d")

    lo, hi = day(low), day(high)
    outside = [h for h in sched.holiday_dates if h < lo or h > hi]
    if outside:
        shown = ", ".join(outside[:5]) + (f" and {len(outside) - 5} more" if len(outside) > 5 else "")
        ctx.issue("holiday_outside_data", f"business_hours.{sched.name}: holidays {shown} lie outside the data ({lo} .. {hi}) "
                  "and change nothing; check their year", Level.INFO, count=len(outside))
