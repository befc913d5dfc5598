"""The declarative metric shapes: ratio, mean/quantile, sum/count.

Each shape groups per period and ``--by`` dimensions, fills in every period of the
range (an empty period is a row with n = 0 and a null value, not a gap), and reports
zero denominators as null plus one issue. Ratio shapes keep numerator, denominator
and n, so results can be checked by hand and partial sums can be merged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmmetrics.metrics.context import PERIOD_COL, MetricContext

if TYPE_CHECKING:
    import pandas as pd


def group_keys(ctx: MetricContext) -> list[str]:
    """The grouping columns: period bucket, then the --by dimensions."""
    return [PERIOD_COL, *ctx.by]


def ratio(ctx: MetricContext, rows: pd.DataFrame, numerator: str, denominator: str, *, scale: float = 1.0,
          unit: str | None = None, extras: dict[str, str] | None = None, what: str = "rows") -> pd.DataFrame:
    """value = Σ numerator ÷ Σ denominator × scale per group; n = rows in the group.

    ``extras`` maps output column → per-row column summed alongside (e.g. promoters).
    """
    extras = extras or {}
    keys = group_keys(ctx)
    agg = {"numerator": (numerator, "sum"), "denominator": (denominator, "sum"), "n": (numerator, "size")}
    agg.update({name: (col, "sum") for name, col in extras.items()})
    grouped = rows.groupby(keys, dropna=False, sort=True).agg(**agg).reset_index() if len(rows) else _empty(keys, agg)
    if ctx.partial is not None:  # Dask engine: the sums are merged across partitions (metrics/partial.py)
        grouped = rows = ctx.partial.exchange("sums", grouped)
    grouped = complete_grid(ctx, grouped, rows, counts=tuple(extras))
    grouped["value"] = (grouped["numerator"] / grouped["denominator"].where(grouped["denominator"] != 0)) * scale
    grouped["unit"] = unit or ctx.spec.unit
    _report_zero(ctx, grouped, what)
    return grouped


def mean_quantiles(ctx: MetricContext, rows: pd.DataFrame, column: str, *, headline: str = "mean",
                   unit: str | None = None, extras: dict[str, str] | None = None, what: str = "rows") -> pd.DataFrame:
    """Mean, median and p90 of ``column`` per group; numerator = Σ, denominator = n."""
    import pandas as pd

    keys = group_keys(ctx)
    extras = extras or {}
    if ctx.partial is not None:  # Dask engine: exact quantiles need every value of a group
        rows = ctx.partial.exchange("rows", rows[list(dict.fromkeys([*keys, column, *extras.values()]))])
    agg = {"numerator": (column, "sum"), "denominator": (column, "count"), "n": (column, "count"),
           "mean": (column, "mean"), "median": (column, "median")}
    agg.update({name: (col, "sum") for name, col in extras.items()})
    if len(rows):
        groups = rows.groupby(keys, dropna=False, sort=True)
        grouped = groups.agg(**agg)
        grouped["p90"] = groups[column].quantile(0.9)  # vectorised; a lambda per group is slow
        grouped = grouped.reset_index()
    else:
        agg["p90"] = (column, "median")
        grouped = _empty(keys, agg)
    grouped = complete_grid(ctx, grouped, rows, counts=tuple(extras))
    for col in ("mean", "median", "p90"):
        grouped[col] = pd.to_numeric(grouped[col], errors="coerce")
    grouped["value"] = grouped[headline].where(grouped["n"] > 0)
    grouped["unit"] = unit or ctx.spec.unit
    _report_zero(ctx, grouped, what)
    return grouped


def _empty(keys: list[str], agg: dict[str, tuple[str, str]]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({k: pd.Series(dtype=object) for k in [*keys, *agg]})


# Count-like columns that are 0 (not null) in an added empty cell, whoever built the frame.
COUNT_COLUMNS = ("n", "numerator", "denominator", "promoters", "passives", "detractors", "satisfied", "easy")


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
