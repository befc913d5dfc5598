"""A mergeable relative-error quantile sketch per period × segment cell (``engine.quantiles: approx``).

The Dask engine's exact medians need every measured value on the client (the cost of
exact quantiles: docs/performance.md, "Past one machine"). With ``approx`` each partition
instead summarises each cell's values in logarithmic buckets, as DDSketch does
(Masson, Rim and Lee, VLDB 2019): a value x > 0 falls in bucket k = ⌈log(x) / log(γ)⌉
with γ = (1 + α) / (1 − α), i.e. x ∈ (γ^(k−1), γ^k]; x < 0 in the mirrored bucket of −x;
0 in a bucket of its own. A bucket keeps its count and, beyond DDSketch, the smallest and
largest value it saw. Merging two sketches adds the counts (min of the minima, max of the
maxima) bucket by bucket, so the result does not depend on how the rows were split.

The quantile is read with pandas' rule (linear interpolation between the order statistics
at ranks ⌊h⌋ and ⌊h⌋ + 1, h = (n − 1)·q; the median is q = 0.5): each order statistic is
replaced by its bucket's representative 2γ^k / (γ + 1), clamped into the bucket's
[min, max]. Guarantee: each representative is within relative error α of the value it
stands for (|r − x| ≤ α·|x|), so the interpolated quantile is within α·((1−f)·|x_lo| +
f·|x_hi|) of the exact one: relative error α when both order statistics have the same
sign (always, for durations and amounts ≥ 0). A bucket holding one distinct value (equal
scores, zero durations) gives it exactly.

Why not the ``ddsketch`` package: it adds values one at a time in Python (a method call
per value: minutes for 50 million rows), and its sketches are objects per cell. Here a
partition's sketch is one grouped count over (cell, bucket) with numpy and pandas, and
the merge is the same group-by the other partial sums use (:mod:`crmmetrics.metrics.partial`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

ALPHA = 0.01  # relative accuracy: every reported median and p90 is within 1 % of the exact value
GAMMA = (1 + ALPHA) / (1 - ALPHA)
# The bucket column packs sign and key in one int64 that sorts like the values: positive
# keys are shifted by _OFFSET (above 0), negative values mirrored below 0, zero is 0.
# |k| stays below 40 000 for any finite double at α = 0.01, far inside _OFFSET.
_OFFSET = 1 << 40
BUCKET, COUNT, LOW, HIGH = "_bucket", "_count", "_low", "_high"


def bucket_codes(values: np.ndarray) -> np.ndarray:
    """The sortable bucket code of each (non-null) value: 0 for zero, ±(k + offset) otherwise."""
    import numpy as np

    x = np.asarray(values, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        k = np.ceil(np.log(np.abs(x)) / np.log(GAMMA))
    k = np.where(np.isfinite(k), k, np.where(np.abs(x) == 0, 0.0, 1e6))  # ±inf: one far bucket (kept by min/max)
    code = (k.astype("int64") + _OFFSET) * np.sign(x).astype("int64")
    return code


def build(rows: pd.DataFrame, keys: list[str], column: str) -> pd.DataFrame:
    """One partition's sketch: per cell (``keys``) and bucket of ``column``'s non-null values,
    the count, smallest and largest value. Vectorised: one group-by, no loop per value."""
    values = rows[column]
    present = values.notna()
    frame = rows.loc[present, keys].assign(**{BUCKET: bucket_codes(values[present].to_numpy(dtype="float64")),
                                             LOW: values[present].astype("float64").to_numpy()})
    grouped = frame.groupby([*keys, BUCKET], dropna=False, sort=False)[LOW]
    out = grouped.agg(["size", "min", "max"]).reset_index()
    return out.rename(columns={"size": COUNT, "min": LOW, "max": HIGH})


def merge(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Concatenated sketches merged: counts added, min of the minima, max of the maxima, per cell and bucket."""
    grouped = frame.groupby([*keys, BUCKET], dropna=False, sort=False)
    return grouped.agg(**{COUNT: (COUNT, "sum"), LOW: (LOW, "min"), HIGH: (HIGH, "max")}).reset_index()


def representatives(sketch: pd.DataFrame) -> np.ndarray:
    """Each bucket's value: 2γ^k / (γ + 1) with the sign (within α of any value in the bucket), clamped into [min, max]."""
    import numpy as np

    code = sketch[BUCKET].to_numpy()
    sign = np.sign(code)
    k = np.abs(code) - _OFFSET
    with np.errstate(over="ignore"):
        mid = sign * 2 * np.power(GAMMA, k.astype("float64")) / (GAMMA + 1)
    return np.clip(mid, sketch[LOW].to_numpy(), sketch[HIGH].to_numpy())


def quantiles(sketch: pd.DataFrame, keys: list[str], qs: dict[str, float]) -> pd.DataFrame:
    """Per cell of a (merged) sketch, the approximate quantile ``qs[name]`` in column ``name``.

    pandas' linear rule: h = (n − 1)·q, value = v(⌊h⌋) + (h − ⌊h⌋)·(v(⌊h⌋ + 1) − v(⌊h⌋)), where v(i)
    is the representative of the bucket holding the i-th smallest value (0-based). All cells
    at once: buckets sorted by cell then value, and one ``searchsorted`` on the running count.
    """
    import numpy as np
    import pandas as pd

    if sketch.empty:
        return pd.DataFrame({**{k: sketch[k] for k in keys}, **{name: pd.Series(dtype="float64") for name in qs}})
    cell = sketch.groupby(keys, dropna=False, sort=False).ngroup().to_numpy()
    order = np.lexsort((sketch[BUCKET].to_numpy(), cell))
    sketch, cell = sketch.iloc[order], cell[order]
    count = sketch[COUNT].to_numpy(dtype="int64")
    value = representatives(sketch)
    running = np.cumsum(count)  # over all cells: a cell's ranks are offset by the counts of the cells before it
    cells = cell.max() + 1
    n = np.bincount(cell, weights=count, minlength=cells).astype("int64")
    before = np.concatenate([[0], np.cumsum(n)[:-1]])
    first = np.searchsorted(cell, np.arange(cells))  # each cell's first bucket (cells are sorted)
    out = sketch.iloc[first][keys].reset_index(drop=True)
    for name, q in qs.items():
        h = (n - 1) * q
        lo = np.floor(h).astype("int64")
        hi = np.minimum(lo + 1, n - 1)
        v_lo = value[np.searchsorted(running, before + lo, side="right")]
        v_hi = value[np.searchsorted(running, before + hi, side="right")]
        out[name] = v_lo + (h - lo) * (v_hi - v_lo)
    return out
