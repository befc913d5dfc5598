"""Transactional / e-commerce metrics over ``orders`` (METRICS.md B1–B5, B10), on the
refund and cancellation policy that every order metric and order analysis shares.

The policy (:class:`crmmetrics.domain.orders.OrderPolicy`, applied by
:func:`crmmetrics.domain.orders.prepare_orders`) decides once what
an order row is worth before any metric counts it:

* ``status: canceled`` rows are dropped everywhere (the order never happened).
* ``refunds: net`` (default): a ``status: refunded`` order was refunded in full, so it
  is neither revenue nor an order; a row with a negative amount (a credit note, a
  refund line, a UCI-style ``C…`` cancellation invoice) is a *credit*: it is subtracted
  from revenue on its own date and is never an order. ``refunds: gross`` keeps
  refunded orders at their amount and ignores credits (Shopify's order counter).
* Zero amounts, duplicate order ids, orders dated after the as-of day and orders
  without a date are issues with file locations and are left out; orders without a
  customer id stay in revenue and order counts but not in customer analytics.
* ``order_lines: true`` reads a line-level export (one row per product line): lines
  sharing an ``order_id`` are summed into one order; ``amount_is_unit_price: true``
  multiplies ``amount`` by the mapped ``quantity`` column first.

Every data issue is recorded once per dataset (not once per metric), without a metric
name, because it is a property of the export rather than of one number.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from crmmetrics.domain.orders import POLICY_FIELDS, POLICY_RULES, OrderPolicy, prepare_orders
from crmmetrics.errors import ConfigError, Level
from crmmetrics.metrics.context import PERIOD_COL, MetricContext, MetricOutput
from crmmetrics.metrics.registry import UNITS, MetricSpec, Options, register
from crmmetrics.metrics.shapes import CountSum, Custom, Mean, Ratio, Shape, distinct_per_cell, group_keys, period_starts

if TYPE_CHECKING:
    import pandas as pd

FAMILY = "orders and customer analytics"
DAYS_PER_YEAR = 365.25
# Length of one period in years, for converting "1 ÷ churn per period" into years.
GRAIN_YEARS = {"day": 1 / DAYS_PER_YEAR, "week": 7 / DAYS_PER_YEAR, "month": 1 / 12, "quarter": 1 / 4, "year": 1.0}
# The registry has no "years" unit yet; lifespans are labelled "years" in the result rows.
LIFESPAN_UNIT = "years" if "years" in UNITS else "months"


def metric_orders(ctx: MetricContext, policy: OrderPolicy) -> pd.DataFrame:
    """The policy applied to the metric's frame (whole history, not yet cut to the range)."""
    return prepare_orders(ctx.frame, policy, ctx.dataset, ctx.timezone, ctx.grid.horizon)


def _customer_rows(ctx: MetricContext, rows: pd.DataFrame) -> pd.DataFrame:
    """Orders and credits of identified customers only."""
    if not ctx.mapped("customer_id"):
        raise ConfigError("this metric needs orders.customer_id mapped")
    return rows[rows["_known"] == 1]


# ------------------------------------------------------------------ revenue, order_count


class RevenueOptions(OrderPolicy):
    """Options of ``revenue`` (the order policy)."""


def dated_orders(ctx: MetricContext) -> pd.DataFrame:
    """The policy's rows dated in the period (orders and credits): _value (net), _gross,
    _credit, _order (1 for an order, 0 for a credit).

    Net revenue = Σ order amounts − Σ credits dated in the period.
    Example: paid 100 and 200 in March, a credit of −30 in March, a refunded order of 50
    → revenue 270 (gross_revenue 300, credits 30, n = 2 orders).
    """
    rows = ctx.flow_rows(metric_orders(ctx, ctx.options))  # type: ignore[arg-type]
    _need_amount(ctx)
    return rows


AMOUNT_EXTRAS = {"gross_revenue": ("_gross", "amount"), "credits": ("_credit", "amount")}


def _need_amount(ctx: MetricContext) -> None:
    """ConfigError unless orders.amount is mapped (declared, so a column either way)."""
    if not ctx.mapped("amount"):
        raise ConfigError("this metric needs orders.amount mapped")


class OrderCountOptions(OrderPolicy):
    """Options of ``order_count`` (the order policy)."""


def order_count_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per order dated in the period (credits and, under refunds: net, refunded orders excluded); _guest = 1 without a customer.

    Example: 3 paid orders (one by a guest) and a credit in March → 3; guest_orders 1, customers 2.
    """
    opts: OrderCountOptions = ctx.options  # type: ignore[assignment]
    rows = ctx.flow_rows(metric_orders(ctx, opts))
    rows = rows[rows["_order"] == 1]
    return rows.assign(_guest=1 - rows["_known"])


def ordering_customers(ctx: MetricContext, out: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """customers: distinct customers with an order per period × segment."""
    return distinct_per_cell(ctx, out, rows, {"customers": "customer_id"})


# ------------------------------------------------------------------ B1 APV


class AverageOrderValueOptions(OrderPolicy):
    """Options of ``average_purchase_value`` (the order policy)."""


def n_is_orders(ctx: MetricContext, out: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """APV = net revenue ÷ orders, both dated in the period (B1); n counts orders, not credit rows.

    Example: orders 300, 200, 100 and a credit −60 in March → (600 − 60) ÷ 3 = 180.
    """
    out["n"] = out["denominator"]
    return out


# ------------------------------------------------------------------ B2 purchase frequency


class PurchaseFrequencyOptions(OrderPolicy):
    """Options of ``purchase_frequency`` (the order policy)."""


def purchase_frequency_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per order of an identified customer dated in the period; _new_cust = 1 on a
    customer's first order in the period × segment (the denominator counts customers once).

    APF = orders ÷ distinct ordering customers in the period (B2); a ratio, not a percentage.

    Example: A orders 3 times, B twice, C once in 2026 → 6 ÷ 3 = 2.0 purchases per customer.
    """
    opts: PurchaseFrequencyOptions = ctx.options  # type: ignore[assignment]
    rows = _customer_rows(ctx, ctx.flow_rows(metric_orders(ctx, opts)))
    rows = rows[rows["_order"] == 1]
    first = ~rows.duplicated([*group_keys(ctx), "customer_id"], keep="first")
    return rows.assign(_new_cust=first.astype("int64"))


# ------------------------------------------------------------------ B5 repeat purchase rate


class RepeatPurchaseOptions(OrderPolicy):
    """Options of ``repeat_purchase_rate``."""

    variant: Literal["in_period", "shopify_returning", "lifetime"] = Field(
        "in_period", description="in_period (default, industry RPR): ≥2 orders inside the period ÷ customers ordering in it; "
                                 "shopify_returning: customers ordering in the period with >1 lifetime order (the first may be earlier) ÷ "
                                 "customers ordering in it (reads higher); lifetime: customers with ≥2 orders up to the period end ÷ "
                                 "customers with ≥1.")


def repeat_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per ordering customer and period: _repeat = 1 when a repeat customer (B5).

    Example: in March A orders twice, B once, C once; C also ordered in January.
    in_period: 1 ÷ 3 = 33.3 %; shopify_returning: A and C → 2 ÷ 3 = 66.7 %;
    lifetime at the end of March (:func:`compute_lifetime_repeat`): A and C of A, B, C → 66.7 %.
    """
    opts: RepeatPurchaseOptions = ctx.options  # type: ignore[assignment]
    history, rows = _repeat_history(ctx, opts)
    keys = group_keys(ctx)
    per_cust = rows.groupby([*keys, "customer_id"], dropna=False, sort=False).agg(_orders=("_order", "sum")).reset_index()
    if opts.variant == "in_period":
        per_cust["_repeat"] = (per_cust["_orders"] >= 2).astype("int64")
    else:
        first = history.groupby("customer_id")["_local"].min().rename("_first")
        per_cust = per_cust.merge(first, left_on="customer_id", right_index=True, how="left")
        before = per_cust["_first"] < per_cust[PERIOD_COL]
        per_cust["_repeat"] = ((per_cust["_orders"] >= 2) | before).astype("int64")
    per_cust["_one"] = 1
    return per_cust


def _repeat_history(ctx: MetricContext, opts: RepeatPurchaseOptions) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every counted order of a known customer (history) and those inside the run's range (rows)."""
    history = _customer_rows(ctx, metric_orders(ctx, opts))
    history = history[history["_order"] == 1]
    return history, ctx.flow_rows(history)


def compute_lifetime_repeat(ctx: MetricContext) -> MetricOutput:
    """The lifetime variant: not a ratio of a period's rows but of every customer seen by its end."""
    history, rows = _repeat_history(ctx, ctx.options)  # type: ignore[arg-type]
    return MetricOutput(_lifetime_repeat(ctx, history, rows))


def repeat_shape(opts: RepeatPurchaseOptions) -> Shape:
    """Ratio of repeat to ordering customers; Custom for the lifetime rate."""
    if opts.variant == "lifetime":
        return Custom()
    return Ratio("_repeat", "_one", extras={"repeat_customers": "_repeat", "customers": "_one"}, what="ordering customers")


def _lifetime_repeat(ctx: MetricContext, history: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Share of customers (first order before the period end) with a second order before it."""
    import numpy as np
    import pandas as pd

    dims = list(ctx.by)
    ordered = history.sort_values("_local", kind="stable")
    rank = ordered.groupby([*dims, "customer_id"], sort=False).cumcount()
    firsts = ordered[rank == 0]
    seconds = ordered[rank == 1]
    starts = period_starts(ctx, rows)
    ends = [ctx.grid.end(s) for s in starts]
    combos = [()] if not dims else list(rows[dims].drop_duplicates().itertuples(index=False, name=None))
    out_rows = []
    for combo in combos:
        sel_f, sel_s = firsts, seconds
        for d, v in zip(dims, combo):
            sel_f, sel_s = sel_f[sel_f[d] == v], sel_s[sel_s[d] == v]
        f = np.sort(sel_f["_local"].to_numpy(dtype="datetime64[ns]"))
        s = np.sort(sel_s["_local"].to_numpy(dtype="datetime64[ns]"))
        for start, end in zip(starts, ends):
            e = np.datetime64(pd.Timestamp(end), "ns")
            den = int(np.searchsorted(f, e, side="left"))
            num = int(np.searchsorted(s, e, side="left"))
            out_rows.append({PERIOD_COL: pd.Timestamp(start), **dict(zip(dims, combo)), "numerator": num, "denominator": den, "n": den})
    out = pd.DataFrame(out_rows, columns=[PERIOD_COL, *dims, "numerator", "denominator", "n"])
    out["value"] = out["numerator"] / out["denominator"].where(out["denominator"] != 0)
    out["repeat_customers"] = out["numerator"]
    out["customers"] = out["denominator"]
    out["unit"] = ctx.spec.unit
    if out.empty or out["value"].isna().any():
        ctx.issue("zero_denominator", f"{int(out['value'].isna().sum())} period/segment cells have no customers yet; their value is null")
    return out


# ------------------------------------------------------------------ B10 new-customer revenue


class NewCustomerRevenueOptions(OrderPolicy):
    """Options of ``new_customer_revenue`` (the order policy)."""


def new_customer_rows(ctx: MetricContext) -> pd.DataFrame:
    """The policy's rows dated in the period: _new_value (the net value when the customer's
    first order ever is in this period, else 0), _new_first (1 on a new customer's first
    row per period × segment: Σ = distinct new customers) and _value.

    Σ net revenue in the period from customers whose first order (ever) is in the period (B10).

    Example: March revenue 500 from A (first order in March) and 300 from B (customer
    since January) → 500; new_customers 1, total_revenue 800, share 62.5 %.
    """
    opts: NewCustomerRevenueOptions = ctx.options  # type: ignore[assignment]
    history = metric_orders(ctx, opts)
    _need_amount(ctx)
    known = _customer_rows(ctx, history)
    first = known[known["_order"] == 1].groupby("customer_id")["_local"].min()
    rows = ctx.flow_rows(history)
    # reindex, not map: Series.map with an empty datetime lookup raises in pandas 3.
    rows = rows.assign(_first=first.reindex(rows["customer_id"].to_numpy()).to_numpy())
    if ctx.grain == "all":
        # One period covering the range: new means a first order inside [since, until).
        is_new = rows["_first"].notna() & ((rows["_first"] >= ctx.since) if ctx.since is not None else True)
    else:
        is_new = rows["_first"].notna() & (ctx.grid.bucket(rows["_first"]) == rows[PERIOD_COL])
    is_new = is_new & (rows["_known"] == 1)
    # is_new is the same on every row of one customer in one cell (it depends on the customer's first order and the period).
    first_in_cell = is_new & ~rows.duplicated([*group_keys(ctx), "customer_id"])
    return rows.assign(_new_value=rows["_value"].where(is_new, 0.0), _new_first=first_in_cell.astype("int64"))


def new_customer_share(ctx: MetricContext, out: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """new_customers (= n) and share_of_revenue = new-customer revenue ÷ total revenue."""
    out["new_customers"] = out["n"]
    out["share_of_revenue"] = out["numerator"] / out["total_revenue"].where(out["total_revenue"] != 0)
    return out


# ------------------------------------------------------------------ activity spells (churn by inactivity)


def activity_spells(orders: pd.DataFrame, keys: list[str], inactive_days: int, horizon: dt.datetime | None) -> pd.DataFrame:
    """Split each customer's orders into active spells; a gap longer than ``inactive_days`` ends one.

    A spell starts at an order and ends (``end``, the churn moment) ``inactive_days``
    after its last order; ``end`` is NaT while that moment is not yet past ``horizon``.
    An order exactly ``inactive_days`` after the previous one (an annual renewal on its
    anniversary, 365 days) continues the spell: it came within the allowed gap.
    Example (365 days): orders 2024-01-10, 2024-06-01, 2025-09-01 → spells
    [2024-01-10, 2025-06-01) and [2025-09-01, 2026-09-01) (the second NaT before then);
    orders 2024-03-01, 2025-03-01 (365 days apart) → one spell.
    """
    import pandas as pd

    cols = [*keys, "_day"]
    df = orders.assign(_day=orders["_local"].dt.normalize())[cols].drop_duplicates()
    df = df.sort_values(cols, kind="stable").reset_index(drop=True)
    gap = df.groupby(keys, sort=False)["_day"].diff()
    new = gap.isna() | (gap > pd.Timedelta(days=inactive_days))
    df["_spell"] = new.cumsum()
    spells = df.groupby("_spell", sort=False).agg(**{k: (k, "first") for k in keys}, start=("_day", "min"), last=("_day", "max")).reset_index(drop=True)
    spells["end"] = spells["last"] + pd.Timedelta(days=inactive_days)
    if horizon is not None:
        spells["end"] = spells["end"].where(spells["end"] <= pd.Timestamp(horizon))
    return spells


def churn_counts(spells: pd.DataFrame, start: dt.datetime, end: dt.datetime) -> tuple[int, int]:
    """(customers active at ``start``, of them lost in [start, end)) from activity spells.

    Active at s: spell started before s and not ended before s. Lost in P: its end falls
    in [s, e). Customers who start and are lost inside P are in neither count (the
    ChartMogul rule for same-period sign-up and churn).
    """
    import pandas as pd

    s, e = pd.Timestamp(start), pd.Timestamp(end)
    began = spells["start"] < s
    ended = spells["end"]
    base = began & (ended.isna() | (ended >= s))
    lost = base & ended.notna() & (ended < e)
    return int(base.sum()), int(lost.sum())


# ------------------------------------------------------------------ B3 customer lifespan


class LifespanOptions(OrderPolicy):
    """Options of ``customer_lifespan``."""

    variant: Literal["churn", "observed", "inactivity"] = Field(
        "churn", description="churn (default): 1 ÷ churn rate per period, churn = no order for inactive_days; observed: mean of last − first "
                             "order of customers ordering in the period (biased low: right-censored); inactivity: mean of lost_at − first order "
                             "of the spell, for customers lost in the period.")
    inactive_days: int = Field(365, ge=1, description="Days without an order after which a customer counts as lost.")
    unit: Literal["years", "months"] = Field("years", description="Unit of the lifespan.")


def _to_unit(years: Any, unit: str) -> Any:
    return years * 12 if unit == "months" else years


def lifespan_rows(ctx: MetricContext) -> pd.DataFrame:
    """Average customer lifespan (B3): one row per customer measured, ``_span`` (observed:
    first order to the last order in the period) or ``_life`` (inactivity: a finished
    spell, in the period it ended). The churn variant is :func:`compute_churn_lifespan`.

    churn example (month grain, 365 inactive days): 40 customers active on 1 March, 2 of
    them reach a year without an order during March → churn 5 % per month → 1 ÷ 0.05 =
    20 months = 1.67 years.
    """
    import pandas as pd

    opts: LifespanOptions = ctx.options  # type: ignore[assignment]
    history = _lifespan_history(ctx, opts)
    keys = ["customer_id", *ctx.by]
    if opts.variant == "observed":
        rows = ctx.flow_rows(history)
        span = history.groupby(keys, sort=False)["_local"].agg(["min"])
        per = rows.groupby([*group_keys(ctx), "customer_id"], sort=False, dropna=False)["_local"].max().rename("_last").reset_index()
        per = per.merge(span, left_on=keys, right_index=True, how="left")
        per["_span"] = _to_unit((per["_last"] - per["min"]).dt.total_seconds() / 86400 / DAYS_PER_YEAR, opts.unit)
        return per
    spells = activity_spells(history, keys, opts.inactive_days, ctx.grid.horizon)
    lost = spells[spells["end"].notna()].copy()
    if ctx.since is not None:
        lost = lost[lost["end"] >= pd.Timestamp(ctx.since)]
    if ctx.until is not None:
        lost = lost[lost["end"] < pd.Timestamp(ctx.until)]
    lost["_life"] = _to_unit((lost["end"] - lost["start"]).dt.days / DAYS_PER_YEAR, opts.unit)
    lost[PERIOD_COL] = ctx.grid.bucket(lost["end"])
    return lost


def _lifespan_history(ctx: MetricContext, opts: LifespanOptions) -> pd.DataFrame:
    """Every counted order of a known customer."""
    history = _customer_rows(ctx, metric_orders(ctx, opts))
    return history[history["_order"] == 1]


def lifespan_shape(opts: LifespanOptions) -> Shape:
    """Mean of observed spans or of finished spells; Custom for the churn-based lifespan."""
    if opts.variant == "observed":
        return Mean("_span", unit=opts.unit, what="ordering customers")
    if opts.variant == "inactivity":
        return Mean("_life", unit=opts.unit, what="lost customers")
    return Custom()


def lifespan_finish(ctx: MetricContext, out: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Observed lifespans are right-censored: say so once."""
    if ctx.options.variant == "observed":  # type: ignore[attr-defined]
        ctx.issue("right_censored", "observed lifespans stop at each customer's last order so far; young customers pull the mean down", Level.INFO)
    return out


def compute_churn_lifespan(ctx: MetricContext) -> MetricOutput:
    """The churn variant: 1 ÷ the period's customer churn, not a mean of rows."""
    opts: LifespanOptions = ctx.options  # type: ignore[assignment]
    history = _lifespan_history(ctx, opts)
    spells = activity_spells(history, ["customer_id", *ctx.by], opts.inactive_days, ctx.grid.horizon)
    rows = ctx.flow_rows(history)
    return MetricOutput(_churn_lifespan(ctx, spells, rows, opts), {"inactive_days": opts.inactive_days})


def _churn_lifespan(ctx: MetricContext, spells: pd.DataFrame, rows: pd.DataFrame, opts: LifespanOptions) -> pd.DataFrame:
    """1 ÷ (lost in P ÷ active at P.start), scaled from periods to years or months."""
    import pandas as pd

    dims = list(ctx.by)
    starts = period_starts(ctx, rows)
    combos = [()] if not dims else list(rows[dims].drop_duplicates().itertuples(index=False, name=None))
    out_rows = []
    for combo in combos:
        sel = spells
        for d, v in zip(dims, combo):
            sel = sel[sel[d] == v]
        for start in starts:
            end = ctx.grid.end(start)
            years = (end - start).days / DAYS_PER_YEAR if ctx.grain == "all" else GRAIN_YEARS[ctx.grain]
            base, lost = churn_counts(sel, start, end)
            out_rows.append({PERIOD_COL: pd.Timestamp(start), **dict(zip(dims, combo)), "numerator": lost, "denominator": base, "n": base,
                             "period_length": _to_unit(years, opts.unit)})
    out = pd.DataFrame(out_rows, columns=[PERIOD_COL, *dims, "numerator", "denominator", "n", "period_length"])
    out["churn_rate"] = out["numerator"] / out["denominator"].where(out["denominator"] != 0)
    out["value"] = out["period_length"] / out["churn_rate"].where(out["churn_rate"] > 0)
    out["customers_at_start"] = out["denominator"]
    out["churned"] = out["numerator"]
    out["unit"] = opts.unit
    nulls = int(out["value"].isna().sum())
    if out.empty:
        ctx.issue("no_data", "no customers in the selected range; nothing to report")
    elif nulls:
        ctx.issue("zero_denominator", f"{nulls} period/segment cells have no customers at the start or no churn; lifespan is null there "
                                      f"(churn needs {opts.inactive_days} days without an order, seen before the as-of day)", count=nulls)
    return out


# ------------------------------------------------------------------ B4 CLV


class ClvOptions(OrderPolicy):
    """Options of ``clv``."""

    window_months: int = Field(12, ge=1, le=60, description="Trailing window, ending at the period end, over which APV, purchase frequency "
                                                           "and churn are measured; APF is scaled to purchases per year.")
    lifespan: Literal["churn", "observed", "inactivity", "fixed"] = Field(
        "churn", description="How ACL (years) is obtained: churn (1 ÷ churn rate over the window, by inactivity), observed, inactivity, "
                             "or fixed (lifespan_years).")
    lifespan_years: float | None = Field(None, gt=0, description="The ACL in years when lifespan is fixed.")
    inactive_days: int = Field(365, ge=1, description="Days without an order after which a customer counts as lost.")
    gross_margin: float | Literal["cost"] | None = Field(
        None, description="Margin variant: a fraction in (0, 1], or \"cost\" for 1 − Σ cost ÷ Σ revenue over the window "
                          "(orders.cost mapped); unset → revenue CLV.")

    @model_validator(mode="after")
    def _check(self) -> ClvOptions:
        if self.lifespan == "fixed" and self.lifespan_years is None:
            raise ValueError("lifespan: fixed needs lifespan_years")
        if isinstance(self.gross_margin, float) and not 0 < self.gross_margin <= 1:
            raise ValueError("gross_margin must be a fraction in (0, 1], e.g. 0.6")
        return self


def clv_value(apv: float, apf_per_year: float, acl_years: float, margin: float = 1.0) -> float:
    """CLV = APV × APF (per year) × ACL (years) × margin (B4).

    Example (METRICS.md WX26): 300 × 5 × 2 = 3,000; with a 40 % margin 1,200.
    """
    return apv * apf_per_year * acl_years * margin


def compute_clv(ctx: MetricContext) -> MetricOutput:
    """Historic CLV per period: APV × APF × ACL over the trailing window ending at the period end.

    Example: in the 12 months to 31 March, 10 customers placed 50 orders worth 15,000
    (APV 300, APF 5 per year); churn over the window 50 % → ACL 2 years → CLV 3,000.
    """
    import numpy as np
    import pandas as pd

    opts: ClvOptions = ctx.options  # type: ignore[assignment]
    history = _customer_rows(ctx, metric_orders(ctx, opts))
    _need_amount(ctx)
    if opts.gross_margin == "cost" and not ctx.mapped("cost"):
        raise ConfigError("clv gross_margin: cost needs orders.cost mapped", hint="map cost under sources.orders.fields, or give a fraction")
    rows = ctx.flow_rows(history)
    dims = list(ctx.by)
    keys = ["customer_id", *dims]
    horizon = ctx.grid.horizon
    orders_only = history[history["_order"] == 1]
    spells = activity_spells(orders_only, keys, opts.inactive_days, horizon) if opts.lifespan in ("churn", "inactivity") else None
    starts = period_starts(ctx, rows)
    combos = [()] if not dims else list(rows[dims].drop_duplicates().itertuples(index=False, name=None))
    data_start = history["_local"].min() if len(history) else None
    out_rows = []
    partial = 0
    for combo in combos:
        h, sp = history, spells
        for d, v in zip(dims, combo):
            h = h[h[d] == v]
            sp = sp[sp[d] == v] if sp is not None else None
        for start in starts:
            end = min(ctx.grid.end(start), horizon)
            w_start = _months_before(end, opts.window_months)
            partial += int(data_start is not None and data_start > pd.Timestamp(w_start))
            win = h[(h["_local"] >= pd.Timestamp(w_start)) & (h["_local"] < pd.Timestamp(end))]
            orders = int(win["_order"].sum())
            revenue = float(win["_value"].sum())
            customers = int(win.loc[win["_order"] == 1, "customer_id"].nunique())
            apv = revenue / orders if orders else np.nan
            apf = orders / customers * 12 / opts.window_months if customers else np.nan
            acl, churn = _clv_lifespan(opts, win, h, sp, w_start, end)
            margin = 1.0
            if opts.gross_margin == "cost":
                margin = 1 - float(win["cost"].sum()) / revenue if revenue else np.nan
            elif opts.gross_margin is not None:
                margin = float(opts.gross_margin)
            value = clv_value(apv, apf, acl, margin) if not any(pd.isna(x) for x in (apv, apf, acl, margin)) else np.nan
            out_rows.append({PERIOD_COL: pd.Timestamp(start), **dict(zip(dims, combo)), "value": value, "n": orders, "numerator": revenue,
                             "denominator": customers, "apv": apv, "apf": apf, "acl_years": acl, "churn_rate": churn, "margin": margin,
                             "customer_value": apv * apf if not (pd.isna(apv) or pd.isna(apf)) else np.nan,
                             "window_start": w_start.strftime("%Y-%m-%d"), "window_end": end.strftime("%Y-%m-%d")})
    cols = [PERIOD_COL, *dims, "value", "n", "numerator", "denominator", "apv", "apf", "acl_years", "churn_rate", "margin", "customer_value",
            "window_start", "window_end"]
    out = pd.DataFrame(out_rows, columns=cols)
    out["unit"] = "currency"
    if partial:
        ctx.issue("partial_window", f"{partial} period cells have a {opts.window_months}-month window that starts before the first order in "
                                    "the data; their APF and churn cover less history", Level.INFO, count=partial)
    nulls = int(out["value"].isna().sum())
    if out.empty:
        ctx.issue("no_data", "no orders in the selected range; nothing to report")
    elif nulls:
        ctx.issue("zero_denominator", f"{nulls} period/segment cells have no orders, no customers or no measurable lifespan (e.g. no churn yet) "
                                      "in their window; CLV is null there", count=nulls)
    return MetricOutput(out, {"lifespan": opts.lifespan, "window_months": opts.window_months})


def _months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day ``months`` calendar months earlier (clamped to the month's last day)."""
    import calendar

    total = moment.year * 12 + moment.month - 1 - months
    year, month = total // 12, total % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def _clv_lifespan(opts: ClvOptions, win: pd.DataFrame, history: pd.DataFrame, spells: pd.DataFrame | None,
                  w_start: dt.datetime, end: dt.datetime) -> tuple[float, float]:
    """(ACL in years, churn rate over the window or NaN) for one CLV window."""
    import numpy as np
    import pandas as pd

    years = opts.window_months / 12
    if opts.lifespan == "fixed":
        return float(opts.lifespan_years or np.nan), np.nan
    if opts.lifespan == "observed":
        cust = win.loc[win["_order"] == 1, "customer_id"].unique()
        h = history[(history["_order"] == 1) & history["customer_id"].isin(cust) & (history["_local"] < pd.Timestamp(end))]
        if h.empty:
            return np.nan, np.nan
        span = h.groupby("customer_id")["_local"].agg(["min", "max"])
        return float(((span["max"] - span["min"]).dt.total_seconds() / 86400 / DAYS_PER_YEAR).mean()), np.nan
    assert spells is not None
    if opts.lifespan == "inactivity":
        lost = spells[spells["end"].notna() & (spells["end"] >= pd.Timestamp(w_start)) & (spells["end"] < pd.Timestamp(end))]
        if lost.empty:
            return np.nan, np.nan
        return float(((lost["end"] - lost["start"]).dt.days / DAYS_PER_YEAR).mean()), np.nan
    base, lost_n = churn_counts(spells, w_start, end)
    if base == 0 or lost_n == 0:
        return np.nan, (lost_n / base if base else np.nan)
    churn = lost_n / base
    return years / churn, churn


# ------------------------------------------------------------------ registration

_COMMON = dict(family=FAMILY, entity="orders", date_field="order_date", optional={"orders": POLICY_FIELDS})

register(MetricSpec(
    name="revenue",
    title="Revenue (net of refunds)",
    description="Order revenue dated in the period, net of refunds and cancellation credits by default.",
    formula="Σ order amounts − Σ credits (negative amounts) dated in the period; refunded and canceled orders excluded (refunds: net)",
    needs=("amount",), unit="currency", better="higher", period_kind="FLOW", options=RevenueOptions, rows=dated_orders,
    shape=CountSum("_value", kind="amount", n_column="_order", extras=AMOUNT_EXTRAS, what="orders"), extra_columns=("gross_revenue", "credits"),
    edge_rules=(*POLICY_RULES, "A period without orders has revenue 0 (a sum over nothing), not null; n counts orders, the denominator is empty."),
    **_COMMON,
))

register(MetricSpec(
    name="order_count",
    title="Orders",
    description="Number of orders dated in the period (credits and, under refunds: net, fully refunded orders are not orders).",
    formula="count(orders dated in the period)",
    needs=(), unit="count", better="higher", period_kind="FLOW", options=OrderCountOptions, rows=order_count_rows,
    shape=CountSum(extras={"guest_orders": "_guest"}, what="orders"), finish=ordering_customers, extra_columns=("guest_orders", "customers"),
    edge_rules=(*POLICY_RULES, "Without an amount column every row is an order (status canceled/refunded still apply)."),
    **_COMMON,
))

register(MetricSpec(
    name="average_purchase_value",
    title="Average purchase value (APV, AOV)",
    description="Net revenue per order in the period (Turkish source: total revenue ÷ number of orders).",
    formula="(Σ order amounts − Σ credits) ÷ count(orders), dated in the period",
    needs=("amount",), unit="currency", better="higher", period_kind="FLOW", options=AverageOrderValueOptions, rows=dated_orders,
    shape=Ratio("_value", "_order", extras=AMOUNT_EXTRAS, numerator_kind="amount", what="orders"), finish=n_is_orders, extra_columns=("gross_revenue", "credits"),
    edge_rules=(*POLICY_RULES, "No orders in a period → null and an issue. Ex-tax: map a net-of-tax amount."),
    **_COMMON,
))

register(MetricSpec(
    name="purchase_frequency",
    title="Purchase frequency (APF)",
    description="Orders per ordering customer in the period (a ratio, not a percentage); use -p year for purchases per customer per year.",
    formula="count(orders of identified customers) ÷ count(distinct customers with an order), dated in the period",
    needs=("customer_id",), unit="ratio", better="higher", period_kind="FLOW", rows=purchase_frequency_rows,
    shape=Ratio("_order", "_new_cust", unit="ratio", extras={"customers": "_new_cust"}, what="ordering customers"),
    options=PurchaseFrequencyOptions, extra_columns=("customers",),
    edge_rules=(*POLICY_RULES, "The value depends on the period length: a month's APF is not a year's ÷ 12."),
    **_COMMON,
))

register(MetricSpec(
    name="repeat_purchase_rate",
    title="Repeat purchase rate",
    description="Share of ordering customers who ordered at least twice (industry RPR); Shopify's returning-customer rate and a "
                "lifetime rate as variants.",
    formula="customers with ≥ 2 orders in the period ÷ customers with ≥ 1 order in the period (variant in_period)",
    needs=("customer_id",), unit="percent", better="higher", period_kind="FLOW", rows=repeat_rows, shape=repeat_shape, compute=compute_lifetime_repeat,
    options=RepeatPurchaseOptions, extra_columns=("repeat_customers", "customers"),
    edge_rules=(*POLICY_RULES,
                "shopify_returning lets the first order sit before the period, so it reads higher; do not compare it with in_period. "
                "Shopify's counter also counts refunded orders (refunds: gross reproduces that).",
                "lifetime is cumulative: customers with a first order before the period end, share with a second one before it."),
    **_COMMON,
))

register(MetricSpec(
    name="new_customer_revenue",
    title="New-customer revenue",
    description="Revenue in the period from customers whose first order falls in the period (the Turkish source's 'net new revenue'; "
                "not SaaS net new MRR).",
    formula="Σ net revenue dated in P from customers whose first order (ever) is in P",
    needs=("customer_id", "amount"), unit="currency", better="higher", period_kind="FLOW", rows=new_customer_rows,
    shape=CountSum("_new_value", kind="amount", n_column="_new_first", extras={"total_revenue": ("_value", "amount")}, what="orders"),
    finish=new_customer_share, options=NewCustomerRevenueOptions, extra_columns=("new_customers", "total_revenue", "share_of_revenue"),
    edge_rules=(*POLICY_RULES, "First orders are looked up over the whole file, also before --since; customers whose history starts "
                               "before the export look new in the export's first period.",
                "Guest orders (no customer id) cannot be new or existing: they count in total_revenue only."),
    **_COMMON,
))

register(MetricSpec(
    name="customer_lifespan",
    title="Customer lifespan (ACL)",
    description="Average customer lifespan: 1 ÷ churn rate (churn = no order for inactive_days), or observed first-to-last order spans, "
                "or the age of lost customers.",
    formula="churn: period length ÷ (customers lost in P ÷ customers active at P.start); observed: mean(last − first order); "
            "inactivity: mean(lost_at − first order of the spell)",
    needs=("customer_id",), unit=LIFESPAN_UNIT, better="higher", period_kind="STOCK", rows=lifespan_rows, shape=lifespan_shape, finish=lifespan_finish, compute=compute_churn_lifespan,
    options=LifespanOptions, extra_columns=("churn_rate", "customers_at_start", "churned", "period_length", "mean", "median", "p90"),
    edge_rules=(*POLICY_RULES,
                "A customer is lost inactive_days after an order not followed by another within inactive_days (a gap of exactly inactive_days "
                "is not a loss); a later order starts a new spell.",
                "churn: customers who start and are lost inside the same period are not counted; no churn in a period → null (lifespan unknown).",
                "observed is right-censored (an info issue says so).", "Unit: years (default) or months (option unit)."),
    **_COMMON,
))

register(MetricSpec(
    name="clv",
    title="Customer lifetime value (historic)",
    description="APV × purchase frequency per year × lifespan in years, measured over a trailing window that ends at the period end; "
                "optionally × gross margin.",
    formula="APV × APF × ACL (× margin); APF in purchases per customer per year, ACL in years",
    needs=("customer_id", "amount"), unit="currency", better="higher", period_kind="STOCK", compute=compute_clv, options=ClvOptions,
    extra_columns=("apv", "apf", "acl_years", "churn_rate", "margin", "customer_value", "window_start", "window_end"),
    edge_rules=(*POLICY_RULES,
                "Time units agree by construction: APF is scaled to a year (× 12 ÷ window_months) and ACL is in years.",
                "Only identified customers' orders count (APV here is per identified customer's order).",
                "No churn in the window (lifespan churn) → ACL unknown → CLV null and an issue, never infinite.",
                "Predictive CLV (BG/NBD + Gamma-Gamma) is out of scope; `crmmetrics analyze btyd` provides its inputs."),
    **_COMMON,
))
