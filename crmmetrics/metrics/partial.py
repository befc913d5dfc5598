"""Partial aggregates: how a shape's grouping step is split across data partitions.

The Dask engine runs a metric (its row function and shape, or its compute function)
twice. On each partition (``collect``), every aggregator hands over what it grouped:
per-group sums and counts for :class:`~crmmetrics.metrics.shapes.Ratio`, the measured
values themselves for :class:`~crmmetrics.metrics.shapes.Mean` (exact medians and
p90 need every value of a group; that is the cost of exact quantiles: one column of
the selected rows travels to the client; ``engine.quantiles: approx`` sends per-cell sums and
a quantile sketch instead, :func:`approx_mean_cells`). On the client (``finish``), the metric
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
        if kind == SUMS:
            merged = merged.groupby(keys, dropna=False, sort=True).sum(min_count=0).reset_index()
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
