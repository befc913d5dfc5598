"""Partial aggregates: how a shape's grouping step is split across data partitions.

The Dask engine runs a metric (its row function and shape, or its compute function)
twice. On each partition (``collect``), every aggregator hands over what it grouped:
per-group sums and counts for :class:`~crmmetrics.metrics.shapes.Ratio`, the measured
values themselves for :class:`~crmmetrics.metrics.shapes.Mean` (exact medians and
p90 need every value of a group; that is the cost of exact quantiles: one column of
the selected rows travels to the client; ``engine.quantiles: approx`` sends per-cell sums and
a quantile sketch instead, :func:`approx_mean_cells`), per snapshot instant × segment sums for
:class:`~crmmetrics.metrics.shapes.Stock` (:func:`exchange_stock`). On the client (``finish``), the metric
runs again on an empty frame and each aggregator takes the merged partials in place
of its own grouping, then completes the grid and the values exactly as the pandas
engine does, so the post-processing of the metric (CES's ``finish`` hook,
``mean_raw``) is the same code. The pandas engine never sets a :class:`Partials` and is untouched by this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

SUMS = "sums"  # per-group additive columns: merged by summing
ROWS = "rows"  # the selected rows: merged by concatenating
SKETCH = "sketch"  # per-group quantile sketches (engine.quantiles: approx): merged bucket by bucket
STOCK = "stock"  # per snapshot instant × segment sums of a Stock shape: merged by summing
SNAPSHOT = "_snapshot"  # the instant column of STOCK partials (in place of the period)


@dataclass
class Partials:
    """The shape calls of one metric on one partition (collect) or merged (finish)."""

    mode: str  # "collect" or "finish"
    keys: list[str]
    parts: list[tuple[str, Any]] = field(default_factory=list)  # (kind, frame) per shape call, in call order
    # engine.quantiles: "exact" (Mean hands over its measured values) or "approx" (per-cell
    # sums and a quantile sketch: metrics/sketch.py); the same in collect and finish.
    quantiles: str = "exact"
    # Facts about the whole data a partition only sees part of (the days a business-hours
    # schedule measured, for holiday_outside_data): key → (lowest, highest), widened on merge.
    extents: dict[Any, tuple[Any, Any]] = field(default_factory=dict)
    _call: int = 0

    def exchange(self, kind: str, frame: pd.DataFrame) -> pd.DataFrame:
        """Collect: remember ``frame`` and give it back. Finish: the merged frame of this call."""
        if self.mode == "collect":
            self.parts.append((kind, frame))
            return frame
        stored_kind, merged = self.parts[self._call]
        self._call += 1
        if stored_kind != kind:
            raise RuntimeError(f"partial aggregates out of step: {stored_kind} stored, {kind} asked")  # a bug, not user data
        return merged

    def widen(self, key: Any, low: Any, high: Any) -> None:
        """Collect: remember the span ``low``..``high`` under ``key`` (merged with :func:`merge_extents`)."""
        old = self.extents.get(key)
        self.extents[key] = (low, high) if old is None else (min(old[0], low), max(old[1], high))


def merge_extents(collected: list[dict[Any, tuple[Any, Any]]]) -> dict[Any, tuple[Any, Any]]:
    """Every partition's extents merged: the lowest low and the highest high per key."""
    out = Partials("collect", [])
    for extents in collected:
        for key, (low, high) in extents.items():
            out.widen(key, low, high)
    return out.extents


def merge(collected: list[list[tuple[str, Any]]], keys: list[str]) -> list[tuple[str, Any]]:
    """The per-partition partials of one metric merged call by call."""
    import pandas as pd

    out: list[tuple[str, Any]] = []
    for call in zip(*collected):
        kind = call[0][0]
        frames = [f for _, f in call if len(f)]
        if not frames:
            out.append((kind, call[0][1]))
            continue
        merged = pd.concat(frames, ignore_index=True)
        if kind in (SUMS, STOCK):
            by = keys if kind == SUMS else [SNAPSHOT, *keys[1:]]
            merged = merged.groupby(by, dropna=False, sort=True).sum(min_count=0).reset_index()
        elif kind == SKETCH:
            from crmmetrics.metrics import sketch

            merged = sketch.merge(merged, keys)
        out.append((kind, merged))
    return out


def approx_mean_cells(partial: Partials, rows: pd.DataFrame, keys: list[str], column: str, extras: dict[str, str]) -> pd.DataFrame:
    """Mean's per-cell frame on the Dask engine with ``quantiles: approx``.

    Collect: hands over the exact per-cell sums (numerator, n, extras) and a quantile sketch
    of ``column``, instead of the values. Finish: the merged ones, as Mean's grouped frame
    (numerator, denominator, n, mean = Σ ÷ n exactly; median and p90 from the sketch, within
    :data:`crmmetrics.metrics.sketch.ALPHA` relative).
    """
    import numpy as np

    from crmmetrics.metrics import sketch
    from crmmetrics.metrics.shapes import _empty

    agg = {"numerator": (column, "sum"), "n": (column, "count"), **{name: (col, "sum") for name, col in extras.items()}}
    if partial.mode == "collect":
        sums = rows.groupby(keys, dropna=False, sort=False).agg(**agg).reset_index() if len(rows) else _empty(keys, agg)
        partial.exchange(SUMS, sums)
        partial.exchange(SKETCH, sketch.build(rows, keys, column))
        sums = sums.iloc[:0]  # the partition's own result is thrown away: only the client finishes
    else:
        sums = partial.exchange(SUMS, rows)
        cells = partial.exchange(SKETCH, rows)
    if sums.empty:
        return sums.assign(denominator=sums["n"], mean=np.nan, median=np.nan, p90=np.nan)
    n = sums["n"].astype("int64")
    grouped = sums.assign(denominator=n, n=n, mean=sums["numerator"] / n.where(n > 0))
    quantiles = sketch.quantiles(cells, keys, {"median": 0.5, "p90": 0.9})
    return grouped.merge(quantiles, on=keys, how="left")


# ------------------------------------------------------------------ Stock: snapshots of intervals


def exchange_stock(ctx: Any, rows: pd.DataFrame, at: str, agg: dict[str, tuple[str, str]]) -> tuple[list[Any], pd.DataFrame, Any]:
    """A Stock shape's cells on the Dask engine: (snapshot grid, sums per period × segment, segments seen or None).

    Which snapshots a run takes depends on the whole data (the earliest start, the newest
    date of any input: ``Grid.stock_periods``, ``Grid.stock_stop``), which no partition
    knows. So a partition (collect) hands over three things: its sums per instant × segment
    at every instant the run may snapshot at after its own earliest start and up to its
    latest start or end (``Grid.snapshot_candidates``), with a zero row per segment it saw
    (every segment seen is present in the result, as in pandas); past that latest instant
    nothing of it changes, so its open items (no end) are summed once per segment, keyed
    by that instant, and count at every later snapshot; and its earliest start, as an
    extent. The client (finish) builds the run's grid from the earliest start of all
    partitions and adds, at each of its instants, the merged sums there and the open sums
    of the partitions that ended before it: the same items the pandas engine finds in stock.
    A partition whose rows end early (exports split by month) thus sends a row per segment
    for the years after it, not one per later snapshot. Collect returns an empty grid: a
    partition's own result is not used.
    """
    import pandas as pd

    from crmmetrics.metrics.context import PERIOD_COL
    from crmmetrics.metrics.shapes import STOCK_START, snapshot_grid

    partial, by = ctx.partial, list(ctx.by)
    key = ("stock_first", ctx.spec.name)
    if partial.mode == "collect":
        starts = rows[STOCK_START]
        if starts.notna().any():
            partial.widen(key, starts.min(), starts.min())
        for frame in _stock_cells(ctx, rows, at, agg):
            partial.exchange(STOCK, frame)
        return [], pd.DataFrame({k: pd.Series(dtype=object) for k in [PERIOD_COL, *by, *agg]}), rows[by].iloc[:0] if by else None
    cells, opened = partial.exchange(STOCK, rows.iloc[:0]), partial.exchange(STOCK, rows.iloc[:0])
    low = partial.extents.get(key)
    grid = snapshot_grid(ctx, pd.Timestamp(low[0]).to_pydatetime() if low else None, at)
    ns = "datetime64[ns]"  # one resolution on both sides of the joins below
    instants = pd.DataFrame({SNAPSHOT: pd.to_datetime([t for _, t in grid]).astype(ns), PERIOD_COL: pd.to_datetime([s for s, _ in grid])})
    cells, opened = cells.astype({SNAPSHOT: ns}), opened.astype({SNAPSHOT: ns})
    combos = cells[by].drop_duplicates() if by else None
    parts = [instants.merge(cells, on=SNAPSHOT)] if len(cells) and len(instants) else []
    if len(opened) and len(instants):  # open sums of the partitions whose last instant is before t
        ended = opened.sort_values(SNAPSHOT, kind="stable")
        ended[list(agg)] = ended.groupby(by, sort=False)[list(agg)].cumsum() if by else ended[list(agg)].cumsum()
        wanted = instants.merge(combos, how="cross") if by else instants
        parts.append(pd.merge_asof(wanted.sort_values(SNAPSHOT, kind="stable"), ended, on=SNAPSHOT, by=by or None,
                                   allow_exact_matches=False, direction="backward").fillna({name: 0 for name in agg}))
    grouped = (pd.concat(parts, ignore_index=True).groupby([PERIOD_COL, *by], sort=True)[list(agg)].sum().reset_index()
               if parts else pd.DataFrame({k: pd.Series(dtype=object) for k in [PERIOD_COL, *by, *agg]}))
    return grid, grouped, combos


def _stock_cells(ctx: Any, rows: pd.DataFrame, at: str, agg: dict[str, tuple[str, str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One partition's (sums per snapshot instant × segment up to its latest instant, open
    items' sums per segment keyed by that instant), see :func:`exchange_stock`."""
    import numpy as np
    import pandas as pd

    from crmmetrics.metrics.shapes import STOCK_END, STOCK_PLACED, STOCK_START, in_stock_at

    by = list(ctx.by)
    columns = [SNAPSHOT, *by, *agg]
    items = rows[rows[STOCK_PLACED] & rows[STOCK_START].notna()].assign(_one=np.int64(1))  # an undated start is never in stock
    cells, opened = [], []
    if len(items):
        ends = items[STOCK_END].dropna()
        last = max(items[STOCK_START].max(), ends.max()) if len(ends) else items[STOCK_START].max()
        near = [t for t in ctx.grid.snapshot_candidates(items[STOCK_START].min(), at) if t <= last]
        if near:
            cells.append(_sums(in_stock_at(items, [(t, t) for t in near]), [SNAPSHOT, *by], agg))
        still = items[items[STOCK_END].isna()]  # after ``last``, exactly the open items are in stock
        if len(still):
            opened.append(_sums(still, by, agg).assign(**{SNAPSHOT: pd.Timestamp(last)}))
    if by:  # every segment seen, also one without items in stock anywhere
        cells.append(rows[by].drop_duplicates().assign(**{SNAPSHOT: pd.Series(pd.NaT, index=rows.index, dtype="datetime64[ns]")},
                                                       **{name: 0 for name in agg}))
    return _frame(cells, columns), _frame(opened, columns)


def _frame(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """``frames`` in one, with ``columns`` in order (an empty frame of them when there are none)."""
    import pandas as pd

    frames = [f[columns] for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _sums(frame: pd.DataFrame, keys: list[str], agg: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """``frame`` aggregated by ``agg`` per ``keys`` (one row when there are none)."""
    if keys:
        return frame.groupby(keys, dropna=False, sort=True).agg(**agg).reset_index()
    return frame.assign(_all=0).groupby("_all").agg(**agg).reset_index(drop=True)
