"""Partial aggregates: how a shape's grouping step is split across data partitions.

The Dask engine runs a metric (its row function and shape, or its compute function)
twice. On each partition (``collect``), every aggregator hands over what it grouped:
per-group sums and counts for :class:`~crmmetrics.metrics.shapes.Ratio`, the measured
values themselves for :class:`~crmmetrics.metrics.shapes.Mean` (exact medians and
p90 need every value of a group; that is the cost of exact quantiles: one column of
the selected rows travels to the client). On the client (``finish``), the metric
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


@dataclass
class Partials:
    """The shape calls of one metric on one partition (collect) or merged (finish)."""

    mode: str  # "collect" or "finish"
    keys: list[str]
    parts: list[tuple[str, Any]] = field(default_factory=list)  # (kind, frame) per shape call, in call order
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
        out.append((kind, merged))
    return out
