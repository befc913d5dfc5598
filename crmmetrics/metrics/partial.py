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
    knows. So a partition (collect) places its items at every instant the run may snapshot
    at after its own earliest start (``Grid.snapshot_candidates``) and hands over the sums
    per instant × segment, a zero row per segment it saw (every segment seen is present in
    the result, as in pandas), and its earliest start as an extent. Past its latest start
    or end nothing of a partition changes, so its open items (no end) are summed once for
    those instants instead of being expanded to each. The client (finish) builds the run's
    grid from the earliest start of all partitions and takes the merged sums at its
    instants; each is the sum of the same items the pandas engine finds in stock there.
    Collect returns an empty grid: a partition's own result is not used.
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
        partial.exchange(STOCK, _stock_cells(ctx, rows, at, agg))
        return [], pd.DataFrame({k: pd.Series(dtype=object) for k in [PERIOD_COL, *by, *agg]}), rows[by].iloc[:0] if by else None
    merged = partial.exchange(STOCK, rows.iloc[:0])
    low = partial.extents.get(key)
    grid = snapshot_grid(ctx, pd.Timestamp(low[0]).to_pydatetime() if low else None, at)
    period_of = {pd.Timestamp(t): pd.Timestamp(s) for s, t in grid}
    cells = merged[merged[SNAPSHOT].isin(list(period_of))] if len(merged) else merged.iloc[:0]
    grouped = cells.assign(**{PERIOD_COL: cells[SNAPSHOT].map(period_of)})[[PERIOD_COL, *by, *agg]].reset_index(drop=True)
    return grid, grouped, merged[by].drop_duplicates() if by else None


def _stock_cells(ctx: Any, rows: pd.DataFrame, at: str, agg: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """One partition's sums per snapshot instant × segment at every instant the run may take (see :func:`exchange_stock`)."""
    import numpy as np
    import pandas as pd

    from crmmetrics.metrics.shapes import STOCK_END, STOCK_PLACED, STOCK_START, in_stock_at

    by = list(ctx.by)
    columns = [SNAPSHOT, *by, *agg]
    items = rows[rows[STOCK_PLACED] & rows[STOCK_START].notna()].assign(_one=np.int64(1))  # an undated start is never in stock
    frames = []
    if len(items):
        lo = items[STOCK_START].min()
        ends = items[STOCK_END].dropna()
        hi = max(items[STOCK_START].max(), ends.max()) if len(ends) else items[STOCK_START].max()
        instants = ctx.grid.snapshot_candidates(lo, at)
        near, far = [t for t in instants if t <= hi], [t for t in instants if t > hi]
        if near:
            frames.append(_sums(in_stock_at(items, [(t, t) for t in near]), [SNAPSHOT, *by], agg))
        still = items[items[STOCK_END].isna()]  # after hi, exactly the open items are in stock
        if far and len(still):
            frames.append(_sums(still, by, agg).merge(pd.DataFrame({SNAPSHOT: pd.to_datetime(far)}), how="cross"))
    if by:  # every segment seen, also one without items in stock anywhere
        frames.append(rows[by].drop_duplicates().assign(**{SNAPSHOT: pd.Series(pd.NaT, index=rows.index, dtype="datetime64[ns]")},
                                                        **{name: 0 for name in agg}))
    frames = [f[columns] for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _sums(frame: pd.DataFrame, keys: list[str], agg: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """``frame`` aggregated by ``agg`` per ``keys`` (one row when there are none)."""
    if keys:
        return frame.groupby(keys, dropna=False, sort=True).agg(**agg).reset_index()
    return frame.assign(_all=0).groupby("_all").agg(**agg).reset_index(drop=True)
