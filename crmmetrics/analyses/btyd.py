"""BTYD summary per customer (METRICS.md B6): ``crmmetrics analyze btyd``.

Reproduces ``lifetimes.utils.summary_data_from_transaction_data`` so the table feeds
BG/NBD, Pareto/NBD and Gamma-Gamma fitters unchanged:

1. each order time is truncated to its period of ``freq`` (D, W, M); the observation
   end is truncated too; orders whose period starts after it are left out;
2. orders of one customer in one period collapse into one purchase, amounts summed;
3. ``frequency`` = purchase periods − 1 (repeat periods; + 1 with include_first_transaction),
   ``recency`` = last − first period, ``T`` = observation end − first period, both in
   periods ÷ freq_multiplier (D with multiplier 7 gives weeks, as in the CDNOW papers),
   ``monetary_value`` = mean of the per-period sums after the first (0 without repeats).

These are not RFM semantics (recency is first→last, not days since the last order);
``crmmetrics analyze rfm`` gives those.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from crmmetrics.analyses import AnalysisContext, AnalysisOutput, AnalysisSpec, register_analysis
from crmmetrics.errors import Issue, Level
from crmmetrics.grid import Grid
from crmmetrics.domain.orders import POLICY_FIELDS, POLICY_RULES, OrderPolicy, analysis_orders, day_after_last_order

if TYPE_CHECKING:
    import pandas as pd


class BtydOptions(OrderPolicy):
    """Options of ``crmmetrics analyze btyd`` (plus the order policy)."""

    observation_period_end: dt.date | None = Field(None, description="Last day of the calibration window (lifetimes' observation_period_end); "
                                                                     "--as-of overrides it. Default: the last order's day.")
    freq: Literal["D", "W", "M"] = Field("D", description="Period length: D days, W weeks (starting on the config's week_start, "
                                                          "Monday = lifetimes), M calendar months.")
    freq_multiplier: float = Field(1, gt=0, description="Divide recency and T by this, e.g. freq D with 7 gives exact weeks (CDNOW papers).")
    include_first_transaction: bool = Field(False, description="Count the first purchase period in frequency and monetary_value "
                                                               "(lifetimes' option for RFM users); default False as in lifetimes.")


def period_index(local: pd.Series, freq: str, week_start: str = "monday") -> pd.Series:
    """An integer period number per timestamp: days, weeks or months since the epoch.

    Example: 2015-01-01 and 2015-01-04 (Thu, Sun) are the same W period (weeks from
    Monday), different D periods; 2015-01-31 and 2015-02-01 differ by one M period.
    """
    import numpy as np

    from crmmetrics.periods import WEEKDAYS

    days = local.dt.normalize().to_numpy(dtype="datetime64[D]").astype("int64")
    if freq == "D":
        return _series(local, days)
    if freq == "W":
        # 1970-01-01 was a Thursday (weekday 3); shift so that weeks start on week_start.
        offset = (3 - WEEKDAYS.index(week_start)) % 7
        return _series(local, np.floor_divide(days + offset, 7))
    months = local.dt.year.to_numpy(dtype="int64") * 12 + local.dt.month.to_numpy(dtype="int64") - 1
    return _series(local, months)


def _series(like: pd.Series, values: object) -> pd.Series:
    import pandas as pd

    return pd.Series(values, index=like.index, dtype="int64")


def btyd_summary(orders: pd.DataFrame, end: dt.datetime, freq: str = "D", freq_multiplier: float = 1.0,
                 include_first_transaction: bool = False, week_start: str = "monday", with_monetary: bool = True) -> pd.DataFrame:
    """lifetimes' summary table from orders with ``customer_id``, ``_local`` and ``_value``.

    Example (METRICS.md WX1, freq D, end 2015-02-07): customer 1 bought 2015-02-01 and
    2015-02-06 → frequency 1, recency 5, T 6.
    """
    import pandas as pd

    df = orders[["customer_id", "_local", "_value"]].copy()
    df["_p"] = period_index(df["_local"], freq, week_start)
    end_p = int(period_index(pd.Series([pd.Timestamp(end)]), freq, week_start).iloc[0])
    df = df[df["_p"] <= end_p]
    per = df.groupby(["customer_id", "_p"], sort=True).agg(_sum=("_value", "sum")).reset_index()
    first = per.groupby("customer_id", sort=True)["_p"].transform("min")
    per["_first"] = per["_p"] == first
    g = per.groupby("customer_id", sort=True)
    out = g.agg(_min=("_p", "min"), _max=("_p", "max"), _count=("_p", "size")).reset_index()
    out["frequency"] = (out["_count"] if include_first_transaction else out["_count"] - 1).astype("float64")
    out["recency"] = (out["_max"] - out["_min"]).astype("float64") / freq_multiplier
    out["T"] = (end_p - out["_min"]).astype("float64") / freq_multiplier
    cols = ["customer_id", "frequency", "recency", "T"]
    if with_monetary:
        kept = per if include_first_transaction else per[~per["_first"]]
        mean = kept.groupby("customer_id")["_sum"].mean()
        out["monetary_value"] = out["customer_id"].map(mean).astype("float64").fillna(0.0)
        cols.append("monetary_value")
    return out[cols].reset_index(drop=True)


def compute_btyd(ctx: AnalysisContext) -> AnalysisOutput:
    """The summary table, with the fitters' input checks reported as issues."""
    opts: BtydOptions = ctx.options  # type: ignore[assignment]
    if ctx.as_of is not None:
        end = ctx.as_of
    elif opts.observation_period_end is not None:
        end = dt.datetime.combine(opts.observation_period_end, dt.time())
    else:
        end = day_after_last_order(ctx, opts) - dt.timedelta(days=1)
    end = Grid.day_start(end)
    orders = analysis_orders(ctx, opts, None, "")
    with_money = "amount" in ctx.dataset.mapped_fields("orders")
    credits = orders[orders["_order"] == 0]
    if len(credits):
        ctx.issue("credits_not_purchases", f"{len(credits)} credit rows (refunds, cancellation invoices) are not purchases and are left out "
                                           "of the BTYD summary", Level.INFO, count=len(credits))
    buys = orders[orders["_order"] == 1]
    import pandas as pd

    after = buys[period_index(buys["_local"], opts.freq, ctx.config.week_start) > int(period_index(pd.Series([pd.Timestamp(end)]), opts.freq,
                                                                                                    ctx.config.week_start).iloc[0])]
    if len(after):
        first = after.iloc[:1]
        loc = ctx.dataset.locate(first["_src"].to_numpy(), first["_row"].to_numpy())[0]
        ctx.issues.append(Issue(Level.INFO, "after_observation_end", f"{len(after)} orders after the observation end {end:%Y-%m-%d} left out "
                                f"(lifetimes truncates them; use them as a holdout)", metric="btyd", entity="orders", location=loc, count=len(after)))
    table = btyd_summary(buys, end, opts.freq, float(opts.freq_multiplier), opts.include_first_transaction, ctx.config.week_start, with_money)
    notes = [f"btyd: observation end {end:%Y-%m-%d}, freq {opts.freq}, freq_multiplier {opts.freq_multiplier:g}, "
             f"include_first_transaction {opts.include_first_transaction}; {len(table)} customers, "
             f"{int((table['frequency'] > 0).sum()) if len(table) else 0} with repeat purchases"]
    if with_money and len(table):
        bad = table[(table["frequency"] > 0) & (table["monetary_value"] <= 0)]
        if len(bad):
            ctx.issue("nonpositive_monetary", f"{len(bad)} repeat customers have monetary_value ≤ 0; fit Gamma-Gamma without them", count=len(bad))
    return AnalysisOutput({"summary": table}, notes, {"observation_period_end": end.strftime("%Y-%m-%d")})


register_analysis(AnalysisSpec(
    name="btyd",
    title="BTYD summary (lifetimes semantics)",
    description="Per customer frequency (repeat purchase periods), recency (first to last purchase), T (first purchase to observation "
                "end) and monetary_value (mean repeat-period spend), exactly as lifetimes' summary_data_from_transaction_data.",
    needs={"orders": ("customer_id", "order_date")},
    optional={"orders": POLICY_FIELDS},
    compute=compute_btyd,
    options=BtydOptions,
    edge_rules=(*POLICY_RULES,
                "Periods are whole periods of freq; orders in the observation end's period count, later ones are left out (info issue).",
                "freq M counts calendar months (lifetimes divides by numpy's 30.44-day month, which current pandas rejects).",
                "Credit rows (refunds) are not purchases; without an amount column the table has no monetary_value."),
))
