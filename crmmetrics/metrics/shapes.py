"""Executable metric shapes: the aggregators that turn per-row frames into results.

A metric supplies a ROW FUNCTION (context → one row per counted thing, with its
period in ``_period``, its ``--by`` dimensions and the columns its shape reads) and a
SHAPE (one of the aggregators below). The aggregator groups per period × ``--by``
segment, completes the grid (an empty period is a row with n = 0, not a gap), emits
its declared columns with their declared kinds, and raises the one zero-denominator
or no-data issue. Ratio and Mean keep numerator, denominator and n, so results can
be checked by hand and partial sums can be merged (the Dask engine,
:mod:`crmmetrics.metrics.partial`).

=============  =========================================  ============================================
shape          the row function supplies                  the aggregator emits
=============  =========================================  ============================================
``Ratio``      numerator and denominator columns (extras)  value = Σnum ÷ Σden × scale, n, sums, extras
``Mean``       one value column (extras)                   n, mean, median, p90; value = the headline
``CountSum``   rows (1 each) or a value column (extras)    value = count or Σ; zeros on empty cells
``Stock``      intervals (_start, _end, _placed) and values   Σ / count in stock at each snapshot instant
``Custom``     nothing: the metric's own compute function  nothing
=============  =========================================  ============================================

Output column kinds (:data:`KINDS`) decide the dtype, so it never depends on the data:
a count is int64 even on an empty result, an amount or a rate float64.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmmetrics.metrics.context import PERIOD_COL, MetricContext

if TYPE_CHECKING:
    import pandas as pd

# kind → dtype of a result column. count: whole numbers (0 on an empty cell, never
# null); amount: money; rate: a share (0..1 as stored, shown as %); ratio: a
# quotient with no unit of its own; duration: minutes, hours, days, ...; score: a
# point on a scale; text: labels such as the unit.
KINDS: dict[str, str] = {"count": "int64", "amount": "float64", "rate": "float64", "ratio": "float64",
                         "duration": "float64", "score": "float64", "text": "object"}
# The kind of a value in each metric unit (registry.UNITS).
UNIT_KINDS: dict[str, str] = {"percent": "rate", "points": "score", "currency": "amount", "days": "duration", "hours": "duration",
                              "minutes": "duration", "months": "duration", "years": "duration", "count": "count", "ratio": "ratio",
                              "score": "score"}


@dataclass(frozen=True)
class Column:
    """One declared result column: its name and kind (a key of :data:`KINDS`)."""

    name: str
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name}: unknown kind {self.kind!r}")


def _extra_spec(extras: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """``{output: row column}`` or ``{output: (row column, kind)}`` → ``{output: (column, kind)}`` (count by default)."""
    return {name: (src, "count") if isinstance(src, str) else (src[0], src[1]) for name, src in extras.items()}


def extra_columns(extras: Mapping[str, Any]) -> tuple[Column, ...]:
    """The declared columns of summed extras."""
    return tuple(Column(name, kind) for name, (_, kind) in _extra_spec(extras).items())


def measure_kind(unit: str) -> str:
    """The kind of a ratio's or a mean's value in ``unit``: a mean of counts is not a whole number."""
    kind = UNIT_KINDS[unit]
    return "ratio" if kind == "count" else kind


class Shape:
    """Base of the aggregators. ``label`` is what `explain` shows."""

    label = "custom"

    def columns(self, unit: str) -> tuple[Column, ...]:
        """The declared result columns (besides the period and --by keys) for a value in ``unit``."""
        return ()

    def aggregate(self, ctx: MetricContext, rows: pd.DataFrame) -> pd.DataFrame:
        """Result rows per period × segment from the row function's frame."""
        raise NotImplementedError(f"{type(self).__name__} does not aggregate")


@dataclass(frozen=True)
class Custom(Shape):
    """The metric's own compute function does everything; the aggregator does nothing.

    For metrics whose result is not a sum, mean or ratio of independent rows (MRR
    timelines, CLV, health scores, snapshots, per-customer windows).
    """

    label = "custom"


@dataclass(frozen=True)
class Ratio(Shape):
    """value = Σ numerator ÷ Σ denominator × ``scale`` per period × segment; n = rows.

    ``extras`` maps an output column to a per-row column summed alongside (a count
    unless given as ``(column, kind)``). A cell whose denominator sums to 0 has a null
    value and is counted in one ``zero_denominator`` issue. ``rows_in``: a column saying
    how many rows each row stands for (rows already summed per cell, as health_score
    sums each period's customers): n is its sum instead of the row count.
    """

    numerator: str
    denominator: str
    scale: float = 1.0
    extras: Mapping[str, Any] = field(default_factory=dict)
    unit: str | None = None
    what: str = "rows"
    numerator_kind: str = "count"
    denominator_kind: str = "count"
    rows_in: str | None = None
    label = "ratio"

    def columns(self, unit: str) -> tuple[Column, ...]:
        return (Column("value", measure_kind(unit)), Column("n", "count"), Column("numerator", self.numerator_kind),
                Column("denominator", self.denominator_kind), *extra_columns(self.extras), Column("unit", "text"))

    def aggregate(self, ctx: MetricContext, rows: pd.DataFrame) -> pd.DataFrame:
        extras = {k: src for k, (src, _) in _extra_spec(self.extras).items()}
        keys = group_keys(ctx)
        agg = {"numerator": (self.numerator, "sum"), "denominator": (self.denominator, "sum"),
               "n": (self.rows_in, "sum") if self.rows_in else (self.numerator, "size")}
        agg.update({name: (col, "sum") for name, col in extras.items()})
        # Integer cell codes when the keys allow (no null or object key): the same sums as
        # pandas' multi-key groupby without its row-sized temporaries (one-touch rate's peak
        # on 2M tickets by channel), and the grid reads the cells instead of every row.
        cells = cell_codes(rows, keys) if len(rows) and ctx.partial is None else None
        if cells is not None:
            grouped = cells.sums(rows, agg)
        else:
            grouped = rows.groupby(keys, dropna=False, sort=True).agg(**agg).reset_index() if len(rows) else _empty(keys, agg)
        if ctx.partial is not None:  # Dask engine: the sums are merged across partitions (metrics/partial.py)
            grouped = rows = ctx.partial.exchange("sums", grouped)
        grouped = complete_grid(ctx, grouped, grouped[keys] if cells is not None else rows, counts=tuple(extras))
        grouped["value"] = (grouped["numerator"] / grouped["denominator"].where(grouped["denominator"] != 0)) * self.scale
        unit = self.unit or ctx.spec.unit
        grouped["unit"] = unit
        _report_zero(ctx, grouped, self.what)
        return apply_kinds(grouped, self.columns(unit))


@dataclass(frozen=True)
class Mean(Shape):
    """n, mean, median and p90 of ``column`` per period × segment; value = the ``headline``.

    numerator = Σ column, denominator = n (the values measured). A cell without values
    has a null value and is counted in one ``zero_denominator`` issue.
    """

    column: str
    headline: str = "mean"  # mean | median | p90
    extras: Mapping[str, Any] = field(default_factory=dict)
    unit: str | None = None
    what: str = "rows"
    dims: tuple[str, ...] = ()  # result dimensions of the metric's own beside --by (stage_duration's stage)
    label = "mean"

    def __post_init__(self) -> None:
        if self.headline not in STATISTICS:
            raise ValueError(f"Mean headline must be one of {STATISTICS}, not {self.headline!r}")

    def columns(self, unit: str) -> tuple[Column, ...]:
        kind = measure_kind(unit)
        return (Column("value", kind), Column("n", "count"), Column("numerator", kind), Column("denominator", "count"),
                *(Column(s, kind) for s in STATISTICS), *extra_columns(self.extras), Column("unit", "text"))

    def aggregate(self, ctx: MetricContext, rows: pd.DataFrame) -> pd.DataFrame:
        import dataclasses

        import pandas as pd

        extra_dims = [d for d in self.dims if d not in ctx.by]
        if extra_dims:  # grouped and gridded like a --by dimension (the issues still go to the metric's own list)
            ctx = dataclasses.replace(ctx, by=[*ctx.by, *extra_dims])
        column = self.column
        extras = {k: src for k, (src, _) in _extra_spec(self.extras).items()}
        keys = group_keys(ctx)
        approx = ctx.partial is not None and ctx.partial.quantiles == "approx"
        if approx:  # Dask engine, engine.quantiles approx: exact sums, sketched quantiles (metrics/partial.py)
            from crmmetrics.metrics.partial import approx_mean_cells

            rows = approx_mean_cells(ctx.partial, rows, keys, column, extras)
        elif ctx.partial is not None:  # Dask engine: exact quantiles need every value of a group
            rows = ctx.partial.exchange("rows", rows[list(dict.fromkeys([*keys, column, *extras.values()]))])
            if ctx.partial.mode == "collect":
                rows = rows.iloc[:0]  # a partition's own medians would be thrown away: only the client groups
        agg = {"numerator": (column, "sum"), "denominator": (column, "count"), "n": (column, "count"),
               "mean": (column, "mean"), "median": (column, "median")}
        agg.update({name: (col, "sum") for name, col in extras.items()})
        fast = None if approx or not len(rows) else grouped_statistics(rows, keys, column, agg)
        if approx:
            grouped = rows  # already one row per cell
        elif fast is not None:
            grouped = fast
        elif len(rows):
            groups = rows.groupby(keys, dropna=False, sort=True)
            grouped = groups.agg(**agg)
            grouped["p90"] = groups[column].quantile(0.9)  # vectorised; a lambda per group is slow
            grouped = grouped.reset_index()
        else:
            agg["p90"] = (column, "median")
            grouped = _empty(keys, agg)
        # The grid needs the periods and segment combinations seen; without null keys (the
        # fast path) the cells hold exactly those, without a pass over every row.
        seen = grouped[keys] if fast is not None else rows
        grouped = complete_grid(ctx, grouped, seen, counts=tuple(extras))
        for col in STATISTICS:
            grouped[col] = pd.to_numeric(grouped[col], errors="coerce")
        grouped["value"] = grouped[self.headline].where(grouped["n"] > 0)
        unit = self.unit or ctx.spec.unit
        grouped["unit"] = unit
        _report_zero(ctx, grouped, self.what)
        return apply_kinds(grouped, self.columns(unit))


STATISTICS = ("mean", "median", "p90")
# Cells above this many take pandas' groupby (the per-cell sort loop below is Python).
_MAX_FAST_CELLS = 20_000


def grouped_statistics(rows: pd.DataFrame, keys: list[str], column: str, agg: dict[str, tuple[str, str]]) -> pd.DataFrame | None:
    """Mean's grouped frame (keys, ``agg``'s columns, then p90) through integer cell codes,
    or None when the keys need pandas' own handling (a null or object key, too many cells).

    The same numbers as ``groupby(keys, dropna=False, sort=True).agg(**agg)`` plus
    ``quantile(0.9)``, which costs 0.3 s per 2M rows on a period and a text key: the keys
    are factorized once into one small integer cell code (sorted, so the cells come in the
    key order), sums, counts and means stay pandas' own (the same compensated summation
    over the same rows in the same order), and median and p90 come from one stable sort of
    the cell codes and a sort of each cell's values, with pandas' formulas: the median is
    the middle value or the mean of the two middle ones, p90 interpolates linearly at
    0.9 × (n − 1).
    """
    import numpy as np
    import pandas as pd

    if rows[column].dtype.kind not in "fiu":
        return None
    cells = cell_codes(rows, keys)
    if cells is None:
        return None
    dense = cells.dense
    sums = {name: spec for name, spec in agg.items() if name != "median"}
    frame = cells.sums(rows, sums)
    median, p90 = _cell_median_p90(rows[column].to_numpy(dtype=np.float64, na_value=np.nan), dense, len(cells.seen))
    if "median" in agg:  # in agg's order, as pandas' named aggregation returns it
        frame.insert(len(keys) + list(agg).index("median"), "median", median)
    frame["p90"] = p90
    return frame


@dataclass(frozen=True)
class CellCodes:
    """The cells of a grouping: ``dense`` numbers every row's cell 0..len(seen)-1 in key
    order; ``seen`` holds each cell's combined key code, decoded by ``sizes`` and ``uniques``."""

    keys: list[str]
    dense: Any
    seen: Any
    sizes: list[int]
    uniques: list[Any]

    def key_frame(self) -> pd.DataFrame:
        """One row per cell with its key values, as ``groupby(keys).agg(...).reset_index()`` has them."""
        import pandas as pd

        out = {}
        rest = self.seen
        for key, size, unique in reversed(list(zip(self.keys, self.sizes, self.uniques))):
            out[key] = unique.take(rest % size)
            rest = rest // size
        return pd.DataFrame({key: pd.Series(out[key]) for key in self.keys})

    def sums(self, rows: pd.DataFrame, agg: dict[str, tuple[str, str]]) -> pd.DataFrame:
        """The key frame and ``agg`` (pandas named aggregations: sums, counts, means, sizes)
        per cell, pandas' own reductions over the same rows in the same order."""
        columns = list(dict.fromkeys(src for src, _ in agg.values()))
        grouped = rows[columns].groupby(self.dense, sort=True).agg(**agg)
        frame = self.key_frame()
        for name in agg:
            frame[name] = grouped[name].to_numpy()
        return frame


def cell_codes(rows: pd.DataFrame, keys: list[str]) -> CellCodes | None:
    """Integer cell codes of ``rows`` grouped by ``keys`` (sorted, so cells come in key
    order), or None when the keys need pandas' own handling (a null or object key, too
    many cells).

    pandas' multi-key groupby builds several row-sized int64 arrays per key (codes, a
    combined index, its compression and sort) and factorizes Arrow text through a Python
    hash table; here each key is factorized once and folded into one code in place.
    """
    import numpy as np

    sizes, uniques, cell = [], [], None
    for key in keys:
        col = rows[key]
        if col.dtype == object or col.dtype.kind not in "Mmiub" and col.dtype != "str" or col.isna().any():
            return None
        code, unique = _factorize_sorted(col)
        uniques.append(unique)
        sizes.append(len(unique))
        if float(np.prod(sizes, dtype=np.float64)) > 2**62:
            return None
        if cell is None:
            cell = code
        else:  # in place: one array of the column's size at a time (the 10M-row peak)
            cell *= len(unique)
            cell += code
        del code
    if cell is None:
        return None
    if int(np.prod(sizes)) <= 4 * len(rows):  # a lookup table instead of a sort
        seen = np.flatnonzero(np.bincount(cell))
        if len(seen) > _MAX_FAST_CELLS:
            return None
        lookup = np.zeros(int(np.prod(sizes)), dtype=np.int16 if len(seen) < 2**15 else np.int32)
        lookup[seen] = np.arange(len(seen))
        dense = lookup[cell]
        del cell, lookup
    else:
        seen, dense = np.unique(cell, return_inverse=True)
        if len(seen) > _MAX_FAST_CELLS:
            return None
        dense = dense.astype(np.int16 if len(seen) < 2**15 else np.int32)
    return CellCodes(keys, dense, seen, sizes, uniques)


def _factorize_sorted(col: pd.Series) -> tuple[Any, Any]:
    """``pd.factorize(col, sort=True)`` for a key column without nulls.

    pandas factorizes Arrow text through its own hash table (0.31 s per 10M ticket
    channels); Arrow's dictionary encoding gives the same groups in 0.14 s, and sorting
    the few distinct labels bytewise (the order pandas sorts Arrow text in) and renumbering
    the codes gives pandas' codes and uniques exactly (tests/test_shapes.py).
    """
    import numpy as np
    import pandas as pd

    if col.dtype != "str" or getattr(col.dtype, "storage", None) != "pyarrow" or not len(col):
        return pd.factorize(col, sort=True)
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(col.array)
    encoded = pc.dictionary_encode(arr)
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    # One encoding's memo table only grows, so each chunk's dictionary is a prefix of the
    # longest one and every chunk's indices are valid in it.
    labels = max((c.dictionary for c in chunks), key=len)
    order = pc.array_sort_indices(labels).to_numpy()
    rank = np.empty(len(labels), dtype=np.intp)
    rank[order] = np.arange(len(labels))
    # Renumbered chunk by chunk into one array (not a list of pieces and their concatenation).
    codes = np.empty(len(arr), dtype=np.intp)
    at = 0
    for c in chunks:
        np.take(rank, c.indices.to_numpy(), out=codes[at:at + len(c)])
        at += len(c)
    return codes, pd.Index(labels.take(pa.array(order)).to_pylist(), dtype=col.dtype)


def _cell_median_p90(values: Any, cell: Any, cells: int) -> tuple[Any, Any]:
    """Median and p90 of the non-null ``values`` of each cell 0..cells-1 (NaN where none),
    computed as pandas' grouped median and linear quantile compute them."""
    import numpy as np

    # Missing values go to an extra last cell, so the column is sorted once without a copy
    # of its present values first.
    cell = np.where(np.isnan(values), cells, cell).astype(cell.dtype if cells < np.iinfo(cell.dtype).max else np.int64)
    order = np.argsort(cell, kind="stable")  # radix sort of small integers
    ordered = values[order]
    del order
    counts = np.bincount(cell, minlength=cells + 1)[:cells]
    bounds = np.concatenate([[0], np.cumsum(counts)])
    for i in np.flatnonzero(counts > 1).tolist():
        ordered[bounds[i]:bounds[i + 1]].sort()
    median = np.full(cells, np.nan)
    p90 = np.full(cells, np.nan)
    has = counts > 0
    start, n = bounds[:-1][has], counts[has]
    middle = start + n // 2
    odd = n % 2 == 1
    median[has] = np.where(odd, ordered[middle], (ordered[middle] + ordered[np.maximum(middle - 1, start)]) / 2)
    at = 0.9 * (n - 1).astype(np.float64)
    low = start + at.astype(np.int64)
    frac = at % 1
    nxt = ordered[np.minimum(low + 1, start + n - 1)]
    p90[has] = np.where(frac == 0.0, ordered[low], ordered[low] + (nxt - ordered[low]) * frac)
    return median, p90


@dataclass(frozen=True)
class CountSum(Shape):
    """Counts (``column`` None) or sums of ``column`` per period × segment, every period present.

    value = numerator = the count or Σ column; an empty cell is a real 0, not null;
    n = rows; denominator is null (a count has none); ``extras`` are summed columns.
    Only an empty result raises an issue (``no_data``).
    """

    column: str | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)
    what: str = "rows"
    kind: str = "count"  # of a summed column (value, numerator): amount for money
    n_column: str | None = None  # n = Σ this 0/1 column instead of the rows (revenue: orders, not credit rows)

    @property
    def label(self) -> str:  # type: ignore[override]
        return "count" if self.column is None else "sum"

    def columns(self, unit: str) -> tuple[Column, ...]:
        kind = "count" if self.column is None else self.kind
        return (Column("value", kind), Column("n", "count"), Column("numerator", kind), *extra_columns(self.extras),
                Column("unit", "text"))

    def aggregate(self, ctx: MetricContext, rows: pd.DataFrame) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        keys = group_keys(ctx)
        extras = {k: src for k, (src, _) in _extra_spec(self.extras).items()}
        rows = rows.assign(_one=np.int64(1))
        col = self.column or "_one"
        n = (self.n_column, "sum") if self.n_column else ("_one", "size")
        agg = {"numerator": (col, "sum"), "n": n, **{k: (v, "sum") for k, v in extras.items()}}
        if len(rows):
            grouped = rows.groupby(keys, dropna=False, sort=True).agg(**agg).reset_index()
        else:
            grouped = pd.DataFrame({k: pd.Series(dtype=object) for k in [*keys, *agg]})
        if ctx.partial is not None:  # Dask engine: counts and sums are added across partitions (metrics/partial.py)
            grouped = rows = ctx.partial.exchange("sums", grouped)
        grouped = complete_grid(ctx, grouped, rows)
        for name in ("numerator", *extras):
            grouped[name] = pd.to_numeric(grouped[name]).fillna(0)
        grouped["value"] = grouped["numerator"]
        grouped["denominator"] = np.nan
        grouped["unit"] = ctx.spec.unit
        if grouped.empty:
            ctx.issue("no_data", f"no {self.what} in the selected range; nothing to report")
        return apply_kinds(grouped, self.columns(ctx.spec.unit))


# Row columns a Stock row function supplies: local naive instants and whether the row can be placed.
STOCK_START, STOCK_END, STOCK_PLACED = "_start", "_end", "_placed"


@dataclass(frozen=True)
class Stock(Shape):
    """A level at each snapshot instant of the grid (open pipeline, open tickets), from intervals.

    The row function supplies one row per item with ``_start`` (when it began, local
    wall-clock; NaT when unknown), ``_end`` (when it ended; NaT = still open) and
    ``_placed`` (False for a row that cannot be placed in time: it still sets the grid's
    first period and its segments, as the export holds it, but is never counted). An item
    is in the stock at t when ``_start < t <= _end`` (docs/architecture.md decision 15).
    The snapshot of a period is its end, or its start when the option named ``at_option``
    says ``start``, never later than --until or the as-of instant (``Grid.snapshot``).

    value = numerator = Σ ``column`` over the items in stock (the count when ``column`` is
    None); n = items in stock; ``extras`` are summed alongside; every period × segment seen
    is present and an empty snapshot is a real 0; ``snapshot_at`` says when each was taken.
    """

    column: str | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "count"  # of a summed column: amount for money
    at_option: str = "at"
    label = "stock"

    def columns(self, unit: str) -> tuple[Column, ...]:
        kind = "count" if self.column is None else self.kind
        return (Column("value", kind), Column("n", "count"), Column("numerator", kind), *extra_columns(self.extras),
                Column("unit", "text"))

    def aggregate(self, ctx: MetricContext, rows: pd.DataFrame) -> pd.DataFrame:
        import numpy as np

        at = getattr(ctx.options, self.at_option, "end")
        extras = {k: src for k, (src, _) in _extra_spec(self.extras).items()}
        agg = {"numerator": (self.column or "_one", "sum"), "n": ("_one", "size"), **{k: (v, "sum") for k, v in extras.items()}}
        if ctx.partial is not None:  # Dask engine: sums per snapshot instant merged across partitions (metrics/partial.py)
            from crmmetrics.metrics.partial import exchange_stock

            grid, grouped, combos = exchange_stock(ctx, rows, at, agg)
            out = snapshot_cells(ctx, grouped, grid, combos, agg)
        else:
            first = rows[STOCK_START].min() if len(rows) and rows[STOCK_START].notna().any() else None
            grid = snapshot_grid(ctx, first.to_pydatetime() if first is not None else None, at)
            # Only the segments and summed columns are repeated at every snapshot.
            summed = [*ctx.by, *([self.column] if self.column else []), *extras.values()]
            placed = rows.loc[rows[STOCK_PLACED].to_numpy(dtype=bool),
                              [STOCK_START, STOCK_END, *dict.fromkeys(c for c in summed if c in rows)]]
            stocked = in_stock_at(placed, grid, summed).assign(_one=np.int64(1))
            out = snapshot_result(ctx, stocked, grid, rows, agg)
        out["value"] = out["numerator"]
        out["denominator"] = np.nan
        out["unit"] = ctx.spec.unit
        return apply_kinds(out, self.columns(ctx.spec.unit))


def snapshot_grid(ctx: MetricContext, first: Any, at: str = "end") -> list[tuple[Any, Any]]:
    """(period start, snapshot instant) for every period of a STOCK metric.

    Periods run from --since (or ``first``, the earliest start) to --until (or the
    as-of day). The snapshot is the period end (``at="end"``) or its start, never later
    than --until or the end of the as-of day: a snapshot of the current quarter is taken
    today, not at a quarter end that has not happened yet.

    Example: grain quarter, first 2016-10-20, --until 2018-01-01 → 2016-Q4 … 2017-Q4 with
    snapshots 2017-01-01, 2017-04-01, 2017-07-01, 2017-10-01, 2018-01-01.
    """
    grid = ctx.grid
    starts = grid.stock_periods(first)
    return [(s, s if at == "start" else grid.snapshot(s)) for s in starts]


def in_stock_at(items: pd.DataFrame, grid: list[tuple[Any, Any]], columns: Any = None) -> pd.DataFrame:
    """One row per (item, snapshot) where ``_start < t <= _end`` (``_end`` NaT: still open).

    The snapshot at t is the state after every event before t (half-open periods): an
    item started at t is the next period's, one ended at t was still in stock up to t.
    Vectorised: each item's run of snapshots comes from two binary searches, then
    ``np.repeat``. Adds ``_period`` (the period start) and ``_snapshot``; only
    ``columns`` of ``items`` (default: all) are repeated with them: a monthly pipeline
    repeats each open deal at every month end, and repeating its text columns too was
    most of the metric's time.
    """
    import numpy as np

    snaps = np.array([np.datetime64(t, "ns") for _, t in grid], dtype="datetime64[ns]")
    first = np.searchsorted(snaps, items[STOCK_START].to_numpy(dtype="datetime64[ns]"), side="right")  # first t > start
    ended = items[STOCK_END]
    end = np.where(ended.isna().to_numpy(), len(snaps),
                   np.searchsorted(snaps, ended.to_numpy(dtype="datetime64[ns]"), side="right"))  # first t > end
    counts = np.maximum(end - first, 0)
    idx = np.repeat(np.arange(len(items)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    k = np.repeat(first, counts) + offsets
    kept = items if columns is None else items[[c for c in dict.fromkeys(columns) if c in items]]
    out = kept.iloc[idx].reset_index(drop=True)
    starts = np.array([np.datetime64(s, "ns") for s, _ in grid], dtype="datetime64[ns]")
    out[PERIOD_COL] = starts[k]
    out["_snapshot"] = snaps[k]
    return out


def snapshot_result(ctx: MetricContext, rows: pd.DataFrame, grid: list[tuple[Any, Any]], items: pd.DataFrame,
                    agg: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Aggregate snapshot rows per period × dimension; every period × dimension of ``items`` is present.

    Count-like columns of an empty snapshot are 0 (an empty pipeline is worth 0, not null).
    """
    keys = group_keys(ctx)
    grouped = rows.groupby(keys, dropna=False, sort=True).agg(**agg).reset_index() if len(rows) else _empty(keys, agg)
    return snapshot_cells(ctx, grouped, grid, items[ctx.by].drop_duplicates() if ctx.by else None, agg)


def snapshot_cells(ctx: MetricContext, grouped: pd.DataFrame, grid: list[tuple[Any, Any]], combos: pd.DataFrame | None,
                   agg: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Snapshot sums per period × segment (``grouped``) completed to every period of ``grid`` ×
    every segment of ``combos`` (the --by values seen), zeros in empty cells, ``snapshot_at``."""
    import pandas as pd

    keys = group_keys(ctx)
    periods = pd.DataFrame({PERIOD_COL: pd.to_datetime([s for s, _ in grid]), "snapshot_at": [t for _, t in grid]})
    if ctx.by:
        grid_df = combos.merge(periods, how="cross")
    else:
        grid_df = periods
    if len(grouped):
        grouped[PERIOD_COL] = pd.to_datetime(grouped[PERIOD_COL])
    out = grid_df.merge(grouped, on=keys, how="left") if len(grid_df) else grouped
    for col in agg:
        out[col] = pd.to_numeric(out[col]).fillna(0)
    out["n"] = out["n"].astype("int64")
    out["snapshot_at"] = pd.to_datetime(out["snapshot_at"]).dt.strftime("%Y-%m-%d %H:%M") if len(out) else out.get("snapshot_at")
    if out.empty:
        ctx.issue("no_data", "no periods to snapshot in the selected range; nothing to report")
    return out.sort_values(keys, kind="stable").reset_index(drop=True)


def apply_kinds(frame: pd.DataFrame, columns: tuple[Column, ...]) -> pd.DataFrame:
    """Give each declared column its kind's dtype (counts: 0 where the grid left a gap)."""
    import pandas as pd

    for col in columns:
        if col.name not in frame:
            continue
        dtype = KINDS[col.kind]
        if dtype == "object":
            frame[col.name] = frame[col.name].astype(object)
        elif col.kind == "count":
            values = pd.to_numeric(frame[col.name]).fillna(0)
            if (values % 1 != 0).any():  # a kind declared wrong would truncate numbers: fail loudly
                raise ValueError(f"column {col.name} is declared a count but holds fractions")
            frame[col.name] = values.astype("int64")
        else:
            frame[col.name] = pd.to_numeric(frame[col.name], errors="coerce").astype(dtype)
    return frame


ShapeOrFactory = Shape | Callable[[Any], Shape]


def distinct_per_cell(ctx: MetricContext, out: pd.DataFrame, rows: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
    """A ``finish`` helper: ``{name: column}`` → ``name`` = distinct non-null values of
    ``column`` per period × segment (0 in empty cells). Distinct counts do not add up
    across rows, so they are not extras of a sum. A column the config does not map is left
    out (a declared field is an all-null column then, which must not read as 0 customers)."""
    import pandas as pd

    keys = group_keys(ctx)
    for name, col in columns.items():
        if col not in rows or (not ctx.mapped(col) and rows[col].isna().all()):
            continue
        if len(rows) and len(out):
            distinct = rows.dropna(subset=[col]).groupby(keys)[col].nunique().rename(name).reset_index()
            distinct[PERIOD_COL] = pd.to_datetime(distinct[PERIOD_COL])
            out = out.merge(distinct, on=keys, how="left")
        else:
            out[name] = 0
        out[name] = out[name].fillna(0).astype("int64")
    return out


def shape_for(shape: ShapeOrFactory, options: Any) -> Shape:
    """The aggregator in force: ``shape`` itself, or what the factory returns for ``options``."""
    return shape if isinstance(shape, Shape) else shape(options)


# ------------------------------------------------------------------ the grid and the issues (shared by every shape)


def group_keys(ctx: MetricContext) -> list[str]:
    """The grouping columns: period bucket, then the --by dimensions."""
    return [PERIOD_COL, *ctx.by]


def _empty(keys: list[str], agg: dict[str, tuple[str, str]]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({k: pd.Series(dtype=object) for k in [*keys, *agg]})


# Count-like columns that are 0 (not null) in an added empty cell, whoever built the frame;
# a shape passes its extras as ``counts`` (no list of metric-specific names here).
COUNT_COLUMNS = ("n", "numerator", "denominator")


def complete_grid(ctx: MetricContext, grouped: pd.DataFrame, rows: pd.DataFrame, counts: tuple[str, ...] = ()) -> pd.DataFrame:
    """Add a row for every period in range × every dimension combination seen.

    Count-like columns (:data:`COUNT_COLUMNS` and ``counts``, e.g. the summed extras of
    a ratio such as win_rate's won and lost) become 0 in the added rows; value columns
    stay null.
    """
    import pandas as pd

    keys = group_keys(ctx)
    periods = period_starts(ctx, rows)
    if ctx.by:
        combos = rows[ctx.by].drop_duplicates() if len(rows) else pd.DataFrame(columns=ctx.by)
        if combos.empty:
            return grouped
        grid = combos.merge(pd.DataFrame({PERIOD_COL: periods}), how="cross")
    else:
        grid = pd.DataFrame({PERIOD_COL: periods})
    if grid.empty:
        return grouped
    grid[PERIOD_COL] = pd.to_datetime(grid[PERIOD_COL])
    if len(grouped):
        grouped[PERIOD_COL] = pd.to_datetime(grouped[PERIOD_COL])
    merged = grid.merge(grouped, on=keys, how="outer") if len(grouped) else grid.reindex(columns=list(grid.columns) + [c for c in grouped.columns if c not in grid.columns])
    for col in dict.fromkeys((*COUNT_COLUMNS, *counts)):
        if col in merged:
            merged[col] = pd.to_numeric(merged[col]).fillna(0)
    merged["n"] = merged["n"].astype("int64")
    return merged.sort_values(keys, kind="stable").reset_index(drop=True)


def period_starts(ctx: MetricContext, rows: pd.DataFrame) -> list:
    """The grid's period starts from --since (or the first row) to --until (or the last row)."""
    if len(rows):
        return ctx.grid.periods(rows[PERIOD_COL].min(), rows[PERIOD_COL].max())
    return ctx.grid.periods()


def _report_zero(ctx: MetricContext, grouped: pd.DataFrame, what: str) -> None:
    if grouped.empty:
        ctx.issue("no_data", f"no {what} in the selected range; nothing to report")
        return
    zero = grouped["value"].isna()
    if zero.any():
        count = int(zero.sum())
        first = grouped[zero].iloc[0]
        cell = first[PERIOD_COL].strftime("%Y-%m-%d") if hasattr(first[PERIOD_COL], "strftime") else str(first[PERIOD_COL])
        ctx.issue("zero_denominator", f"{count} period/segment cells have no {what}; their value is null (first: period starting {cell})", count=count)
