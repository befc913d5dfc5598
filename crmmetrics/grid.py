"""THE period grid of a run, and the as-of policy (ENGINE.md "One time model").

One :class:`Grid` is built per ``compute``/``analyze``/``check`` run from the grain,
``--since``, ``--until``, ``--as-of``, the week start and what the loaded data spans.
Every metric and analysis asks it for period starts, ends, labels, snapshot instants
and completeness; no other module does period arithmetic (``tests/test_grid.py``
scans the source for it). The raw calendar arithmetic lives in :mod:`crmmetrics.periods`,
which only this module imports.

Times are naive wall-clock datetimes in the reporting time zone, periods half-open
``[start, end)``.

The as-of instant (``horizon``) is the end of the as-of day: ``--as-of 2025-06-30``
means "as known at 2025-07-01 00:00"; without ``--as-of`` the as-of day is today.
Nothing dated at or after it has happened yet: :func:`apply_as_of` drops rows whose
own date is later and blanks later timestamps in other columns, reported as one info
issue per entity with the count.

Example: month grain, ``--since 2026-03-15``, ``--as-of 2026-05-10`` → periods 2026-03
(cut by --since: incomplete), 2026-04 (complete), 2026-05 (ends after the as-of
instant: incomplete).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from crmmetrics import periods as _periods

if TYPE_CHECKING:
    import pandas as pd

    from crmmetrics.dataset import Dataset
    from crmmetrics.errors import Issue

_TICK = dt.timedelta(microseconds=1)
STALE_AFTER = dt.timedelta(days=31)  # an export whose newest row is older than this is named


@dataclass(frozen=True)
class Grid:
    """Period bounds, labels, completeness and the as-of instant of one run.

    ``first`` is the earliest relevant date of the whole run (the start of ``-p all``
    when there is no ``--since``); ``last`` the newest dated row of the inputs, at or
    before the as-of instant. Both come from :meth:`with_data`.
    """

    grain: str
    week_start: str = "monday"
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    as_of: dt.datetime = dt.datetime(1970, 1, 1)  # the as-of day's midnight (or now, for "today")
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    as_of_given: bool = True
    last_entity: str | None = None  # the entity holding ``last`` (for the stale-export warning)

    # ------------------------------------------------------------------ the as-of instant

    @property
    def as_of_day(self) -> dt.date:
        """The as-of day (``--as-of``, else today)."""
        return self.as_of.date()

    @property
    def horizon(self) -> dt.datetime:
        """The as-of instant: the end of the ``--as-of`` day (exclusive), else now.

        ``--as-of 2026-03-31`` → 2026-04-01 00:00, so March is complete; without it, on
        2026-03-31 at 10:00 March is not over yet.
        """
        return self.day_end(self.as_of) if self.as_of_given else self.as_of

    @property
    def stop(self) -> dt.datetime:
        """The exclusive end of everything measured: ``min(--until, as-of instant)``."""
        return min(self.until, self.horizon) if self.until else self.horizon

    # ------------------------------------------------------------------ buckets

    @property
    def all_start(self) -> dt.datetime:
        """Start of the single ``-p all`` period: --since, else the day of the run's first date."""
        if self.since is not None:
            return self.since
        if self.first is not None:
            return self.day_start(self.first)
        return self.day_start(self.as_of)

    @staticmethod
    def day_start(moment: Any) -> dt.datetime:
        """Midnight of the day holding ``moment``."""
        moment = _py(moment)
        return dt.datetime(moment.year, moment.month, moment.day)

    @classmethod
    def day_end(cls, moment: Any) -> dt.datetime:
        """The end of the day holding ``moment`` (the next midnight, exclusive)."""
        return cls.day_start(moment) + dt.timedelta(days=1)

    def floor(self, moment: dt.datetime) -> dt.datetime:
        """The start of the period holding ``moment`` (for ``all``: the one period's start)."""
        if self.grain == "all":
            return self.all_start
        return _periods.floor_one(moment, self.grain, self.week_start)

    def bucket(self, local: pd.Series) -> pd.Series:
        """Period starts of naive local timestamps (NaT stays NaT)."""
        import pandas as pd

        if self.grain == "all":
            return pd.Series(pd.Timestamp(self.all_start), index=local.index).where(local.notna())
        return _periods.floor_local(local, self.grain, self.week_start)

    def end(self, start: dt.datetime) -> dt.datetime:
        """The exclusive end of the period starting at ``start`` (``all``: --until or the as-of instant)."""
        start = _py(start)
        if self.grain == "all":
            return self.stop
        return _periods.next_start(start, self.grain)

    def end_day(self, start: dt.datetime) -> dt.datetime:
        """The period end as a day boundary, for ``period_end`` (``all`` without --as-of ends now: the next midnight)."""
        end = self.end(start)
        return end if end == self.day_start(end) else self.day_end(end)

    def shift(self, start: dt.datetime, n: int) -> dt.datetime:
        """The period start ``n`` periods after (``n`` < 0: before) the one starting at ``start``."""
        cur = _py(start)
        if n >= 0:
            for _ in range(n):
                cur = _periods.next_start(cur, self.grain)
            return cur
        # Going back: step to a day before, then floor to its bucket.
        for _ in range(-n):
            cur = _periods.floor_one(cur - dt.timedelta(days=1), self.grain, self.week_start)
        return cur

    def index(self, starts: pd.Series) -> pd.Series:
        """Consecutive integers for consecutive period starts (months count calendar months)."""
        import pandas as pd

        if self.grain in ("month", "quarter", "year"):
            months = starts.dt.year * 12 + starts.dt.month - 1
            step = {"month": 1, "quarter": 3, "year": 12}[self.grain]
            return (months // step).astype("int64")
        days = starts.to_numpy(dtype="datetime64[D]").astype("int64")
        return pd.Series(days // (7 if self.grain == "week" else 1), index=starts.index, dtype="int64")

    def label(self, start: dt.datetime) -> str:
        """``2026-11`` / ``2026-W47`` / ``2026-Q4`` / ``2026`` / ``2026-11-22`` / ``all``."""
        return _periods.label(_py(start), self.grain)

    def snapshot(self, start: dt.datetime) -> dt.datetime:
        """The STOCK snapshot instant of a period: ``min(period end, --until, as-of instant)``."""
        return min(self.end(start), self.stop)

    def measured(self, start: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """The part of the period inside [--since, stop): (lo, hi)."""
        start = _py(start)
        lo = max(start, self.since) if self.since else start
        return lo, min(self.end(start), self.stop)

    def complete(self, start: dt.datetime) -> bool:
        """False when the period ends after the as-of instant or is cut by --since/--until."""
        start = _py(start)
        end = self.end(start)
        if end > self.horizon:
            return False
        if self.grain == "all":
            return True
        if self.since is not None and self.since > start:
            return False
        return not (self.until is not None and self.until < end)

    def latest_complete_start(self, at: dt.datetime | None = None) -> dt.datetime:
        """Start of the latest period that has ended at ``at`` (default: the as-of instant).

        Example: month, as-of instant 2026-11-30 20:00 → 2026-10-01; --as-of 2026-11-30
        (instant 2026-12-01 00:00) → 2026-11-01. ``all``: the one period.
        """
        at = _py(at) if at is not None else self.horizon
        if self.grain == "all":
            return self.all_start
        current = _periods.floor_one(at - _TICK, self.grain, self.week_start)
        return current if _periods.next_start(current, self.grain) <= at else self.shift(current, -1)

    # ------------------------------------------------------------------ ranges

    def span(self, lo: dt.datetime, hi: dt.datetime) -> list[dt.datetime]:
        """Every period start from the period holding ``lo`` to the one holding ``hi`` (inclusive)."""
        if self.grain == "all":
            return [self.all_start]
        return _periods.bucket_range(_py(lo), _py(hi), self.grain, self.week_start)

    def periods(self, lo: Any = None, hi: Any = None) -> list[dt.datetime]:
        """The run's period starts for data spanning [lo, hi].

        From --since (else ``lo``) to --until (else ``hi``), never past the as-of period.
        Example: month, lo 2026-01-10, hi 2026-03-02, no flags → 2026-01, 2026-02, 2026-03.
        """
        if self.grain == "all":
            return [self.all_start] if (lo is not None or self.since is not None or self.first is not None) else []
        first = self.since or (_py(lo) if lo is not None else None)
        last = (self.until - _TICK) if self.until else (_py(hi) if hi is not None else None)
        if first is None or last is None:
            return []
        last = min(last, self.stop - _TICK)
        if first > last:
            return []
        return self.span(first, last)

    def stock_periods(self, lo: Any = None) -> list[dt.datetime]:
        """Period starts of a STOCK metric: from --since (else ``lo``) to the last period to report.

        The last period is the --until one when given, else the as-of period (see :attr:`stock_stop`).
        """
        first = self.since or (_py(lo) if lo is not None else None)
        if self.grain == "all":
            return [self.all_start] if first is not None or self.first is not None else []
        if first is None or first >= self.stock_stop:
            return []
        return self.span(first, self.stock_stop - _TICK)

    def snapshot_candidates(self, lo: Any, at: str = "end") -> list[dt.datetime]:
        """Every instant after ``lo`` at which a STOCK snapshot of this run may be taken,
        whatever the rest of the data holds (the Dask engine: a partition sees only its rows).

        The run's snapshots (:meth:`snapshot` of each :meth:`stock_periods` start, or the
        start itself for ``at="start"``) are period boundaries at or after the --since period
        and no later than :attr:`stop`, or :attr:`stop` itself; which of them the run takes
        depends on the first item and newest date of the whole data, known only once every
        partition is read. An item starting at or after an instant is never in stock there,
        so the boundaries after ``lo`` (a partition's earliest start) are enough. ``-p all``
        has one snapshot: --until or the as-of instant, --since, or (``at="start"`` without
        --since) midnight of the run's first date, a day boundary at or before this grid's own
        ``first``.

        Example: month, ``lo`` 2026-01-10, stop 2026-03-15 → 2026-02-01, 2026-03-01, 2026-03-15.
        """
        lo = _py(lo)
        if self.grain == "all":
            if at != "start":
                return [self.stop]
            if self.since is not None:
                return [self.since]
            out, day = [], self.day_end(lo)
            while self.first is not None and day <= self.day_start(self.first):
                out.append(day)
                day += dt.timedelta(days=1)
            return out
        low = max(lo, self.since) if self.since is not None else lo
        if low >= self.stop:
            return []
        starts = self.span(low, self.stop - _TICK)
        bounds = {*starts, *(self.end(s) for s in starts), self.stop}
        return sorted(b for b in bounds if lo < b <= self.stop)

    @property
    def stock_stop(self) -> dt.datetime:
        """Where STOCK snapshots stop: --until, else the end of the period holding the
        newest dated row of the inputs (never after the as-of instant).

        A 2017 export read in 2026 is not padded with flat snapshots up to today: its
        last period is 2017-12 (the stale export is named in one warning, see
        :func:`apply_as_of`). ``-p all`` keeps its one period up to the as-of instant.
        """
        if self.until is not None or self.last is None or self.grain == "all":
            return self.stop
        return min(self.stop, self.end(self.floor(self.last)))

    # ------------------------------------------------------------------ building

    def with_data(self, first: dt.datetime | None, last: dt.datetime | None, last_entity: str | None = None) -> Grid:
        """This grid knowing the run's earliest and newest dated rows."""
        return replace(self, first=first, last=last, last_entity=last_entity)

    def stale_issue(self) -> Issue | None:
        """One ``stale_export`` warning when the newest dated row of every input is more
        than a month before the as-of instant and no --until asks for the later periods.

        Example: "newest deal is dated 2017-12-31, 8 years before today (the default
        --as-of) 2026-11-30; periods after 2017-12 are not reported ...".
        """
        from crmmetrics.errors import Issue, Level

        if self.last is None or self.until is not None or self.horizon - self.last <= STALE_AFTER:
            return None
        days = (self.horizon - self.last).days
        ago = f"{days // 365} year{'s' if days // 365 > 1 else ''}" if days >= 365 else (
            f"{days // 30} month{'s' if days // 30 > 1 else ''}" if days >= 60 else f"{days} days")
        flag = "--as-of" if self.as_of_given else "today (the default --as-of)"
        after = self.label(self.floor(self.last)) if self.grain != "all" else f"{self.last:%Y-%m-%d}"
        entity = self.last_entity or "input"
        return Issue(Level.WARNING, "stale_export",
                     f"newest {_singular(entity)} is dated {self.last:%Y-%m-%d}, {ago} before {flag} {self.as_of_day:%Y-%m-%d}; "
                     f"snapshots stop at {after} (pass --as-of with the export's date, or --until to ask for later periods)",
                     entity=self.last_entity)


def _py(moment: Any) -> dt.datetime:
    """A pandas Timestamp or datetime → datetime (grid arithmetic is on plain datetimes)."""
    return moment.to_pydatetime() if hasattr(moment, "to_pydatetime") else moment


def build_grid(grain: str, week_start: str, since: dt.datetime | None, until: dt.datetime | None,
               as_of: dt.datetime | None, now: dt.datetime) -> Grid:
    """The grid of a run before the data is read (``as_of`` None: the as-of instant is ``now``)."""
    day = as_of or now.replace(tzinfo=None, microsecond=0)
    return Grid(grain, week_start, since, until, day, as_of_given=as_of is not None)


def apply_as_of(dataset: Dataset, grid: Grid, timezone: str) -> Grid:
    """The as-of policy, applied once per run before any metric or analysis sees the data.

    A row whose entity date (``schema`` ``date_field``: a deal's created_at, an order's
    order_date, a response's responded_at, ...) is at or after the as-of instant has not
    happened yet: it is dropped, and each entity gets one info issue ``after_as_of``
    with the count (located at the first such row). Customers are kept whole (they are
    the dimension table); their dates are cut where they are counted.

    Returns the grid with the run's earliest entity date (the start of ``-p all``) and
    newest date of any column before the as-of instant (where STOCK snapshots stop);
    when that newest date is more than a month before the as-of instant, one
    ``stale_export`` warning names it.
    """
    import pandas as pd

    from crmmetrics.schema import ENTITIES

    horizon = pd.Timestamp(grid.horizon)
    firsts: list[Any] = []
    newest: tuple[Any, str] | None = None  # (newest date < as-of instant, entity)
    for entity, frame in list(dataset.frames.items()):
        top = _newest(frame, timezone)
        if top is not None and (newest is None or top > newest[0]):
            newest = (top, entity)
        date_field = ENTITIES[entity].date_field
        # Rows a Parquet push-down left unread (crmmetrics.pushdown): those after the
        # as-of instant are counted with the read ones, and make the newest date reach it.
        unread = dataset.skipped.get(entity)
        unread_later = unread.later if unread is not None else 0
        if unread_later and (newest is None or horizon > newest[0]):
            newest = (horizon, entity)
        if unread is not None and unread.first is not None:
            firsts.append(pd.Timestamp(unread.first).to_pydatetime())
        if date_field and date_field in frame and hasattr(frame[date_field], "dt"):
            local = _to_local(frame[date_field], timezone)
            later = (local >= horizon).fillna(False).to_numpy(dtype=bool)
            # Customers are also the table --by dimensions are joined from: a deal lost in
            # 2025 by an account that signed up in 2026 keeps its plan. Their dated events
            # (signup, first payment, churn) are cut where they are counted (flow_rows,
            # snapshots at or before the as-of instant).
            if (later.any() or unread_later) and entity != "customers":
                _report_later(dataset, grid, entity, date_field, frame[later], unread_later)
                frame = frame[~later].reset_index(drop=True)
                dataset.frames[entity] = frame
                local = local[~later].reset_index(drop=True)
            local = local[local < horizon]
            if local.notna().any():
                firsts.append(local.min().to_pydatetime())
    last = newest[0].to_pydatetime() if newest else None
    # A date at or after the as-of instant (a scheduled end, a row just cut) shows the
    # export reaches the as-of day: nothing is stale then.
    return grid.with_data(min(firsts) if firsts else None, min(last, grid.horizon - _TICK) if last else None,
                          newest[1] if newest else None)


def _newest(frame: pd.DataFrame, timezone: str) -> Any:
    """The newest value of any date column of ``frame`` (local wall clock), or None."""
    import pandas as pd

    newest = None
    for col in frame.columns:
        if col.startswith("_") or frame[col].dtype.kind != "M":
            continue
        top = _to_local(frame[col], timezone).max()
        if pd.notna(top) and (newest is None or top > newest):
            newest = top
    return newest


def _report_later(dataset: Dataset, grid: Grid, entity: str, date_field: str, rows: pd.DataFrame, unread: int = 0) -> None:
    """One info issue for the rows of ``entity`` dated after the as-of day (``rows`` read,
    ``unread`` more skipped by a push-down), located at the first read one."""
    from crmmetrics.errors import Issue, Level

    first_loc = dataset.locate(rows["_src"].to_numpy()[:1], rows["_row"].to_numpy()[:1], date_field) if len(rows) else []
    src = int(rows["_src"].iloc[0]) if len(rows) else next(
        i for i, (t, fact) in enumerate(zip(dataset.tables, dataset.inputs)) if fact.entity == entity and t.skipped is not None and t.skipped.later)
    table = dataset.tables[src]
    n = len(rows) + unread
    dataset.issues.append(Issue(
        Level.INFO, "after_as_of", f"{n} {entity} rows dated after the as-of day {grid.as_of_day:%Y-%m-%d} excluded ({date_field})",
        entity=entity, source=table.path, location=first_loc[0] if first_loc else None,
        column=table.column_names.get(date_field, date_field), field=date_field, count=n))


def _singular(entity: str) -> str:
    """``deals`` → ``deal``, ``activities`` → ``activity`` (for messages)."""
    if entity.endswith("ies"):
        return entity[:-3] + "y"
    return {"spend": "spend row", "deal_stages": "deal stage"}.get(entity, entity[:-1] if entity.endswith("s") else entity)


def _to_local(col: pd.Series, timezone: str) -> pd.Series:
    """Tz-aware timestamps → naive wall-clock in the reporting zone (naive ones pass)."""
    if getattr(col.dt, "tz", None) is not None:
        return col.dt.tz_convert(timezone).dt.tz_localize(None)
    return col
