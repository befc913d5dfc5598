"""Date range push-down for Parquet sources: which rows a run may leave unread.

A run bounded by the as-of instant (always), ``--since`` and ``--until`` drops rows
outside that range after reading them; with a Parquet source whose date column is
stored as a timestamp, :mod:`crmmetrics.io.parquet_reader` can skip them instead:
whole row groups by their statistics, single rows before they are typed. This module
decides, per entity, the :class:`Window` that is safe to push down, so that every value,
the ``after_as_of`` count and the period grid stay exactly what a full read gives:

- the as-of bound applies to every entity the as-of policy cuts (all but customers,
  the dimension table, and line-item sources, whose roll-up needs every row of an order):
  :func:`crmmetrics.grid.apply_as_of` drops those rows anyway, and gets the count of
  the unread ones to report in the same ``after_as_of`` issue;
- ``--since``/``--until`` apply only to an entity whose every metric in the run selects
  rows by that entity's own date field and nothing else (:data:`RANGE_SAFE`): a ticket
  created before ``--since`` still counts in ``full_resolution_time`` when solved inside
  the range, so tickets are not cut by ``--since`` in a run with that metric. ``--since``
  without ``--until`` is not pushed down when a snapshot (STOCK/BASE) metric is in the
  run: an unread row's other dates could be the newest of the export, where snapshots stop.

What is not read is not checked: row issues (unparseable values, duplicate ids, unknown
statuses) of the skipped rows are not reported. ``validate`` (which reads every value)
never pushes down. The reader reports how many rows it skipped in one ``pushed_down``
info issue per entity.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crmmetrics.config import Config
    from crmmetrics.engine import MetricPlan, Plan
    from crmmetrics.grid import Grid

# Metrics that select rows only by their entity's own date field inside [--since, --until)
# (ctx.flow_rows on it), whatever happens to the rows outside: a row outside the range
# changes nothing but the issues about that row. The value is the option that must hold.
RANGE_SAFE: dict[str, tuple[str, Any] | None] = {
    "first_reply_time": None,
    "ticket_volume": ("event", "created"),
    "nps": ("unit", "response"),
    "csat": None,
    "ces": None,
}
# Metrics that snapshot at the newest date of the export (Grid.stock_stop, stale_export).
SNAPSHOT_KINDS = ("STOCK", "BASE")
# Row-group statistics decide a whole group only this far from a bound: a wall clock
# converted between zones is not monotonic across a DST fold (or a zone's date-line
# jump); rows near a bound are read and decided one by one.
STATS_MARGIN = dt.timedelta(days=2)


@dataclass(frozen=True)
class Window:
    """The rows of one entity worth reading: ``field`` in [since, until) and before
    ``horizon`` (naive wall clock in the reporting zone ``timezone``), or without a
    readable date (those are read and reported as usual).

    ``source_tz`` is the zone naive timestamps of the file are read in (the source's
    ``timezone:``, else the reporting zone), ``date_only`` whether the field is a date
    (normalised to midnight, as the parse layer does).
    """

    field: str
    horizon: dt.datetime
    timezone: str
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    source_tz: str | None = None
    date_only: bool = False

    @property
    def upper(self) -> dt.datetime:
        """The exclusive end of the kept range: ``min(--until, as-of instant)``."""
        return min(self.until, self.horizon) if self.until else self.horizon

    def for_source(self, source: Any, timezone: str, date_only: bool) -> Window:
        """This window for one source: its naive timestamps' zone and the field's type."""
        from dataclasses import replace

        return replace(self, source_tz=getattr(source, "timezone", None) or timezone, date_only=date_only)

    def local(self, values: Any) -> Any:
        """Arrow timestamps → naive wall clock in the reporting zone (numpy datetime64[ns],
        NaT where the parse layer would find no date), exactly as crmmetrics types them."""
        import numpy as np

        from crmmetrics.io.parse import parse_datetime

        series = values.to_pandas(date_as_object=False) if hasattr(values, "to_pandas") else values
        parsed = parse_datetime(series.reset_index(drop=True), tz=self.source_tz or self.timezone, date_only=self.date_only)
        local = parsed.values
        if self.source_tz and self.source_tz != self.timezone:
            local = local.dt.tz_convert(self.timezone)
        # Out-of-range dates are a problem the parse layer reports on the read row: NaT here, so kept.
        out_of_range = parsed.bad.to_numpy(dtype=bool)
        for problem in parsed.problems:
            out_of_range |= problem.mask.to_numpy(dtype=bool)
        arr = local.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]", copy=True)
        arr[out_of_range] = np.datetime64("NaT")
        return arr


def windows(config: Config, plan: Plan, grid: Grid, *, read_all: bool = False) -> dict[str, Window]:
    """Entity → the :class:`Window` a run may push down (none for an entity not listed)."""
    from crmmetrics.schema import ENTITIES

    if read_all:
        return {}
    out: dict[str, Window] = {}
    readers = _readers(plan)
    snapshots = any(mp.spec.period_kind in SNAPSHOT_KINDS for mp in plan.metrics)
    for entity in plan.needs:
        date_field = ENTITIES[entity].date_field
        if entity == "customers" or not date_field or date_field not in plan.needs[entity]:
            continue
        if any(getattr(s, "line_items", False) for s in config.sources(entity)):
            continue
        since, until = None, None
        if _range_safe(entity, date_field, readers.get(entity, [])):
            until = grid.until
            since = grid.since if (grid.until is not None or not snapshots) else None
        out[entity] = Window(date_field, grid.horizon, config.timezone, since, until)
    return out


def _readers(plan: Plan) -> dict[str, list[tuple[MetricPlan, bool]]]:
    """Entity → the metrics reading it, each with True when it is the metric's own entity."""
    out: dict[str, list[tuple[MetricPlan, bool]]] = {}
    for mp in plan.metrics:
        out.setdefault(mp.spec.entity, []).append((mp, True))
        for other in mp.spec.optional:
            if other != mp.spec.entity:
                out.setdefault(other, []).append((mp, False))
        for _, _, target in mp.joined_dims:
            out.setdefault(target, []).append((mp, False))
    return out


def _range_safe(entity: str, date_field: str, readers: list[tuple[MetricPlan, bool]]) -> bool:
    """True when every metric reading ``entity`` selects its rows by ``date_field`` alone."""
    if not readers:
        return False
    for mp, own in readers:
        name = mp.spec.name
        if not own or name not in RANGE_SAFE or mp.spec.date_field != date_field or mp.spec.entity != entity:
            return False
        need = RANGE_SAFE[name]
        if need is not None and getattr(mp.options, need[0], need[1]) != need[1]:
            return False
    return True
