"""Cohort retention matrix by first-order period (METRICS.md B9): ``crmmetrics analyze cohorts``.

Cohort c = the calendar period (``-p``, month by default) of a customer's first order.
Cell (c, k) = customers of c with an order in period c + k ÷ cohort size ("return on",
Amplitude's N-day retention; k = 0 is 100 %). ``return_on_or_after`` counts a customer
in column k if they ordered in c + k or any later period (Amplitude's unbounded
retention). ``value: revenue`` gives revenue retention instead: net revenue of the
cohort in c + k ÷ its revenue in c (ChartMogul-style; may exceed 100 %).

Columns ``p0, p1, ...`` hold k = 0, 1, ...; a cell is empty when period c + k has not
started by the observation end. The period that holds the observation end is usually
incomplete: ``incomplete_k`` names its column for each cohort, the ``cells`` table
flags it, and a note says so. A weighted-average row (Σ active ÷ Σ size over cohorts
that reached column k) closes the matrix.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from crmmetrics.analyses import AnalysisContext, AnalysisOutput, AnalysisSpec, register_analysis
from crmmetrics.errors import ConfigError, Level, UsageError
from crmmetrics.grid import Grid
from crmmetrics.domain.orders import POLICY_FIELDS, POLICY_RULES, OrderPolicy, analysis_orders, day_after_last_order

if TYPE_CHECKING:
    import pandas as pd

AVERAGE_ROW = "weighted average"


class CohortOptions(OrderPolicy):
    """Options of ``crmmetrics analyze cohorts`` (plus the order policy). The grain is -p (default month)."""

    variant: Literal["return_on", "return_on_or_after"] = Field(
        "return_on", description="return_on (default): active in exactly period c + k; return_on_or_after: active in c + k or later "
                                 "(counted in every earlier column too).")
    value: Literal["customers", "revenue"] = Field("customers", description="customers (default): share of the cohort active; "
                                                                            "revenue: cohort revenue in c + k ÷ its revenue in c.")
    max_periods: int | None = Field(None, ge=1, description="Show at most this many columns after p0.")

    @model_validator(mode="after")
    def _check(self) -> CohortOptions:
        if self.value == "revenue" and self.variant == "return_on_or_after":
            raise ValueError("value: revenue works with variant return_on only")
        return self


def cohort_cells(orders: pd.DataFrame, grid: Grid, end: dt.datetime, variant: str = "return_on",
                 value: str = "customers") -> pd.DataFrame:
    """Long table: cohort, k, period, cohort size, active customers (or revenue), value.

    ``orders`` has ``customer_id``, ``_local``, ``_value`` and ``_order``. Example
    (month, return_on): A orders in Jan and Mar, B in Jan → cohort Jan size 2;
    k0 2 (100 %), k1 0 (0 %), k2 1 (50 %).
    """
    import numpy as np
    import pandas as pd

    buys = orders[orders["_order"] == 1]
    p = grid.bucket(orders["_local"])
    idx = grid.index(p)
    df = pd.DataFrame({"customer_id": orders["customer_id"].to_numpy(), "_k": idx.to_numpy(), "_start": p.to_numpy(),
                       "_value": orders["_value"].to_numpy(), "_order": orders["_order"].to_numpy()})
    first = df[df["_order"] == 1].groupby("customer_id")["_k"].min()
    df["_c"] = df["customer_id"].map(first)
    df = df[df["_c"].notna() & (df["_k"] >= df["_c"])]  # credits before a first order have no cohort
    df["_c"] = df["_c"].astype("int64")
    df["_age"] = df["_k"] - df["_c"]
    last_k = int(grid.index(pd.Series([pd.Timestamp(grid.floor(end))])).iloc[0])
    sizes = buys.assign(_c=buys["customer_id"].map(first)).groupby("_c")["customer_id"].nunique() if len(buys) else pd.Series(dtype="int64")
    starts = df.groupby("_c")["_start"].min()
    rows = []
    active = df[df["_order"] == 1].groupby(["_c", "_age"])["customer_id"].nunique()
    revenue = df.groupby(["_c", "_age"])["_value"].sum()
    last_age = df[df["_order"] == 1].groupby(["_c", "customer_id"])["_age"].max()
    for c, size in sizes.items():
        horizon = last_k - int(c)
        base_rev = float(revenue.get((c, 0), 0.0))
        if variant == "return_on_or_after":
            ages = last_age.loc[c].to_numpy() if c in last_age.index.get_level_values(0) else np.zeros(0)
        for k in range(0, horizon + 1):
            if value == "revenue":
                num = float(revenue.get((c, k), 0.0))
                den = base_rev
            elif variant == "return_on_or_after":
                num = int((ages >= k).sum())
                den = int(size)
            else:
                num = int(active.get((c, k), 0))
                den = int(size)
            rows.append({"_c": int(c), "k": k, "active": num, "base": den})
    cells = pd.DataFrame(rows, columns=["_c", "k", "active", "base"])
    cells["value"] = cells["active"] / cells["base"].where(cells["base"] != 0)
    # reindex, not map: Series.map with an empty datetime lookup raises in pandas 3 (no orders).
    cells["cohort_start"] = starts.reindex(cells["_c"].to_numpy()).to_numpy()
    cells["size"] = cells["_c"].map(sizes).astype("int64")
    cells["_last"] = cells["_c"] + cells["k"] == last_k
    return cells


def compute_cohorts(ctx: AnalysisContext) -> AnalysisOutput:
    """Retention matrix (wide), the same as counts, and the long cell table."""
    import pandas as pd

    opts: CohortOptions = ctx.options  # type: ignore[assignment]
    grain = ctx.grain
    if grain == "all":
        raise UsageError("cohorts need a period grain (day, week, month, quarter, year)", hint="use -p month")
    end = ctx.as_of if ctx.as_of is not None else day_after_last_order(ctx, opts) - dt.timedelta(days=1)
    day = Grid.day_start(end)
    # The observation end plays the as-of day of this analysis: its grid owns the periods.
    grid = dataclasses.replace(ctx.grid, grain=grain, week_start=ctx.config.week_start, as_of=day, as_of_given=True)
    orders = analysis_orders(ctx, opts, grid.horizon, "the observation end")
    if opts.value == "revenue" and "amount" not in ctx.dataset.mapped_fields("orders"):
        raise ConfigError("cohorts value: revenue needs orders.amount mapped")
    cells = cohort_cells(orders, grid, day, opts.variant, opts.value)
    if ctx.since is not None:
        cells = cells[cells["cohort_start"] >= pd.Timestamp(ctx.since)]
    if ctx.until is not None:
        cells = cells[cells["cohort_start"] < pd.Timestamp(ctx.until)]
    if opts.max_periods is not None:
        cells = cells[cells["k"] <= opts.max_periods]
    obs_bucket = grid.floor(day)
    incomplete = not grid.complete(obs_bucket)
    cells = cells.assign(complete=~(cells["_last"] & incomplete))
    cells["cohort"] = [grid.label(s) for s in cells["cohort_start"]]
    cells["period"] = [grid.label(grid.shift(s, int(k))) for s, k in zip(cells["cohort_start"], cells["k"])]
    long = cells[["cohort", "k", "period", "size", "active", "base", "value", "complete"]].reset_index(drop=True)
    what = "revenue" if opts.value == "revenue" else "customers"
    long = long.rename(columns={"active": "active" if what == "customers" else "revenue", "base": "base" if what == "customers" else "base_revenue"})
    retention = _wide(cells, "value", incomplete)
    counts = _wide(cells, "active", incomplete)
    if len(cells):
        retention = pd.concat([retention, _average_row(cells)], ignore_index=True)
    notes = [f"cohorts: {grain} cohorts by first order, {opts.variant}, {what}; observation end {day:%Y-%m-%d}; "
             f"{int(cells.drop_duplicates('_c')['size'].sum()) if len(cells) else 0} customers in {cells['_c'].nunique()} cohorts"]
    if incomplete and len(cells):
        notes.append(f"cohorts: the period {grid.label(obs_bucket)} is incomplete (data to {day:%Y-%m-%d}); its cells are flagged "
                     "(incomplete_k, cells.complete = false) and read low")
        ctx.issue("incomplete_period", f"period {grid.label(obs_bucket)} is not over at the observation end {day:%Y-%m-%d}; its cells read low",
                  Level.INFO)
    return AnalysisOutput({"retention": retention, "counts": counts, "cells": long}, notes, {"observation_end": day.strftime("%Y-%m-%d")})


def _wide(cells: pd.DataFrame, column: str, incomplete: bool) -> pd.DataFrame:
    """Cohorts as rows, p0..pK as columns, with size and the incomplete column index."""
    import pandas as pd

    if cells.empty:
        return pd.DataFrame(columns=["cohort", "size", "incomplete_k", "p0"])
    wide = cells.pivot(index="_c", columns="k", values=column).sort_index()
    wide.columns = [f"p{int(k)}" for k in wide.columns]
    meta = cells.drop_duplicates("_c").set_index("_c").sort_index()
    out = pd.DataFrame({"cohort": meta["cohort"], "size": meta["size"]})
    last = cells[cells["_last"]].set_index("_c")["k"]
    out["incomplete_k"] = last.reindex(out.index).astype("Int64") if incomplete else pd.array([pd.NA] * len(out), dtype="Int64")
    return pd.concat([out, wide], axis=1).reset_index(drop=True)


def _average_row(cells: pd.DataFrame) -> pd.DataFrame:
    """Σ active ÷ Σ base per column over the cohorts that reached it (Amplitude, ProfitWell)."""
    import pandas as pd

    g = cells.groupby("k").agg(active=("active", "sum"), base=("base", "sum"))
    row: dict[str, Any] = {"cohort": AVERAGE_ROW, "size": int(cells.drop_duplicates("_c")["size"].sum()), "incomplete_k": pd.NA}
    for k, rec in g.iterrows():
        row[f"p{int(k)}"] = rec["active"] / rec["base"] if rec["base"] else float("nan")
    return pd.DataFrame([row])


register_analysis(AnalysisSpec(
    name="cohorts",
    title="Cohort retention matrix",
    description="Customers grouped by the period of their first order, and the share of each cohort that orders again k periods later "
                "(or the revenue retained); a weighted-average row; the incomplete last period flagged.",
    needs={"orders": ("customer_id", "order_date")},
    optional={"orders": POLICY_FIELDS},
    compute=compute_cohorts,
    options=CohortOptions,
    edge_rules=(*POLICY_RULES,
                "Tables: retention (main, fractions), counts (customers or revenue per cell), cells (long form with complete flags).",
                "Observation end: --as-of, else the last order's day; orders after it are issues. --since/--until select cohorts.",
                "Calendar periods in the reporting time zone; the week starts on the config's week_start."),
))
