"""Acquisition and unit economics: CAC, LTV:CAC, CAC payback, retention cost and
referral rate (METRICS.md C1–C5).

Spend comes from the ``spend`` entity (date, amount, category, channel); new, paying
and retained customers come from the same MRR timeline as the subscription family
(:mod:`crmmetrics.domain.mrr`): a customer is *new* in the period of their first paid
MRR (subscriptions), or of ``customers.first_paid_at`` when no subscriptions are mapped.
``--by channel`` splits spend by ``spend.channel`` and customers by
``customers.acquisition_channel``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from crmmetrics.errors import ConfigError, Level
from crmmetrics.metrics.context import MetricContext, MetricOutput
from crmmetrics.domain.mrr import (CUSTOMER_FIELDS, EPS, SUBSCRIPTION_FIELDS, EngineOptions, Run, Summary, bucket, engine_in_force,
                                    fx_rates, paying_at, per_cell, period_summary, result, run_from_metric)
from crmmetrics.metrics.registry import MetricSpec, register
from crmmetrics.metrics.subscription import LtvOptions, ltv_inputs, sub_summary

if TYPE_CHECKING:
    import pandas as pd

FAMILY = "acquisition economics"
CUSTOMER_OPTIONAL = (*CUSTOMER_FIELDS, "acquisition_channel", "is_referred", "referred_by")
OPTIONAL: dict[str, tuple[str, ...]] = {"subscriptions": SUBSCRIPTION_FIELDS, "customers": CUSTOMER_OPTIONAL,
                                        "spend": ("currency", "channel")}
COMMON_EDGE = (
    "New customers: first paid MRR in the period (subscriptions), else customers.first_paid_at; the MRR engine options under metrics.mrr apply.",
    "--by channel pairs spend.channel with customers.acquisition_channel; other --by fields must exist in both spend and customers.",
    "Spend rows without a date or amount, or with a negative amount, are issues and left out; mixed spend currencies need fx_rates.",
)


class SpendOptions(EngineOptions):
    """Spend selection shared by the acquisition metrics."""

    spend_categories: list[str] = Field(["acquisition"], description="spend.category values counted (fully loaded: add e.g. sales_salaries, tools).")
    lag_periods: int = Field(0, ge=0, le=24, description="Spend of the period this many periods earlier is matched with this period's customers (spend precedes conversion).")

    @field_validator("spend_categories")
    @classmethod
    def _cats(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("name at least one spend category")
        return [c.strip().lower() for c in v]


def _dim_source(ctx: MetricContext) -> dict[str, str]:
    return {d: ("acquisition_channel" if d == "channel" else d) for d in ctx.by}


def _prepare(ctx: MetricContext, opts: SpendOptions) -> tuple[Run, Summary, pd.DataFrame]:
    """The run, the customer summary over a grid that also covers the (lagged) spend dates, and the clean spend rows."""
    run = run_from_metric(ctx, _dim_source(ctx))
    spend = _clean_spend(ctx, run, opts)
    s = period_summary(run, opts, need_mrr=False, first_time=_first_matched(spend))
    return run, s, spend


def _first_matched(spend: pd.DataFrame) -> Any:
    """The earliest period instant a spend row is matched at (None without spend)."""
    first = spend["_at"].min() if len(spend) else None
    return None if first is None or first != first else first.to_pydatetime()


def lagged(local: pd.Series, grain: str, lag: int) -> pd.Series:
    """Spend instants moved ``lag`` periods later, so that spend of period P − lag is matched with P.

    Calendar months move by months (31 January + 1 month → 28 February: still the next
    period), weeks by 7 days, days by 1. Example: month grain, lag 1: spend of 15 January
    is matched with February's customers; spend of December with January's.
    """
    import pandas as pd

    from crmmetrics.metrics.subscription import _add_months

    if lag == 0:
        return local
    if grain == "all":
        raise ConfigError("lag_periods matches spend with the customers of a later period; -p all has only one period",
                          hint="use a period grain (-p month), or lag_periods: 0")
    if grain in ("day", "week"):
        return local + pd.Timedelta(days=lag * (7 if grain == "week" else 1))
    return _add_months(local, lag * {"month": 1, "quarter": 3, "year": 12}[grain])


def _clean_spend(ctx: MetricContext, run: Run, opts: SpendOptions) -> pd.DataFrame:
    """Spend rows with a date, an amount ≥ 0 and a category, in the reporting currency.

    Columns added: ``_local`` (naive local date), ``_at`` (the instant the row is matched
    at: ``_local`` moved lag_periods later), ``_amount`` (converted) and ``_cat`` (lower case).
    """
    df = ctx.frame
    bad = df["date"].isna()
    if bad.any():
        ctx.row_issues(df[bad], "missing_date", "spend row without a date left out", "date")
    df = df[~bad]
    checks = ((lambda d: d["amount"].isna(), "missing_amount", "spend row without an amount left out"),
              (lambda d: d["amount"] < 0, "negative_amount", "negative spend left out (book refunds against the original row)"))
    for test, code, msg in checks:
        mask = test(df)
        if mask.any():
            ctx.row_issues(df[mask], code, msg, "amount")
        df = df[~mask]
    blank = df["category"].isna()
    if blank.any():
        ctx.row_issues(df[blank], "missing_category", "spend row without a category left out", "category")
    df = df[~blank]
    local = ctx.local(df["date"])
    rate = fx_rates(run, opts, df, local, slice(None), entity="spend")
    return df.assign(_local=local, _at=lagged(local, run.grain, opts.lag_periods), _amount=df["amount"] * rate,
                     _cat=df["category"].astype(str).str.lower())


def spend_cells(ctx: MetricContext, run: Run, s: Summary, spend: pd.DataFrame, opts: SpendOptions) -> Any:
    """Σ spend of the chosen categories per (group, period); with lag_periods, the spend of
    the period that many periods earlier (rows are bucketed at their lagged instant ``_at``)."""
    import numpy as np

    rows = spend[spend["_cat"].isin(opts.spend_categories)]
    k = bucket(rows["_at"], s.grid)
    ok = (k >= 0) & (k < len(s.grid))
    rows, k = rows[ok], k[ok]
    if s.dims:
        known = rows[s.dims].merge(s.frame[s.dims].drop_duplicates(), on=s.dims, how="left", indicator=True)["_merge"].eq("both").to_numpy()
        if (~known).any():
            lost = rows[~known]
            ctx.issue("spend_without_customers", f"{len(lost)} spend rows ({lost['_amount'].sum():,.2f}) fall in --by groups with no customers at all; left out",
                      count=len(lost))
    return per_cell(s, rows, k, {"spend": rows["_amount"].to_numpy(), "n": np.ones(len(rows))})["spend"]


def _out(rows: pd.DataFrame, opts: Any, **extra: Any) -> MetricOutput:
    return MetricOutput(rows, {**engine_in_force(opts), **extra})


# ------------------------------------------------------------------ C1 CAC


class CacOptions(SpendOptions):
    """Options of ``cac``."""


def cac_parts(ctx: MetricContext, opts: SpendOptions) -> tuple[Run, Summary, Any, Any]:
    """(run, summary, spend per cell, new customers per cell)."""
    run, s, spend = _prepare(ctx, opts)
    return run, s, spend_cells(ctx, run, s, spend, opts), s.frame["new_n"].to_numpy(dtype=float)


def compute_cac(ctx: MetricContext) -> MetricOutput:
    """CAC = acquisition spend in P ÷ customers whose first payment is in P.

    Example (WX21): spend 20,000 and 100 new customers → 200 per customer.
    """
    import numpy as np

    opts: CacOptions = ctx.options  # type: ignore[assignment]  # metrics.mrr inherited in the plan
    run, s, spend, new = cac_parts(ctx, opts)
    rows = result(run, s, spend / np.where(new > 0, new, np.nan), spend, new, new, "currency",
                  {"spend": spend, "new_customers": new}, what="new customers")
    return _out(rows, opts, spend_categories=opts.spend_categories, lag_periods=opts.lag_periods)


# ------------------------------------------------------------------ C2 LTV:CAC, C3 payback


class LtvToCacOptions(LtvOptions, SpendOptions):
    """Options of ``ltv_to_cac``: the LTV options plus the spend selection."""


def compute_ltv_to_cac(ctx: MetricContext) -> MetricOutput:
    """LTV ÷ CAC; above 3 is commonly called healthy, below 1 unsustainable.

    Example: LTV 300, CAC 50 → 6.
    """
    import numpy as np

    opts: LtvToCacOptions = ctx.options  # type: ignore[assignment]  # metrics.mrr inherited in the plan
    run = run_from_metric(ctx, _dim_source(ctx))
    spend = _clean_spend(ctx, run, opts)
    s, p, mask = ltv_inputs(run, opts, first_time=_first_matched(spend))
    cells = spend_cells(ctx, run, s, spend, opts)[mask]
    new = s.frame["new_n"].to_numpy(dtype=float)[mask]
    ltv = np.where(p["denominator"] > 0, p["numerator"] / np.where(p["denominator"] > 0, p["denominator"], 1), np.nan)[mask]
    cac = np.where(new > 0, cells / np.where(new > 0, new, 1), np.nan)
    den = np.where(np.isfinite(cac) & (cac > 0), cac, 0.0)
    value = np.where(den > 0, ltv / np.where(den > 0, den, 1), np.nan)
    rows = result(run, sub_summary(s, mask), value, ltv, den, new, "ratio", {"ltv": ltv, "cac": cac, "spend": cells, "new_customers": new},
                  what="CAC (acquisition spend and new customers) or LTV (churn)")
    return _out(rows, opts, churn=opts.churn, gross_margin=opts.gross_margin, spend_categories=opts.spend_categories)


class PaybackOptions(SpendOptions):
    """Options of ``cac_payback_months``."""

    gross_margin: float | None = Field(None, gt=0, le=1, description="Gross margin as a fraction; null: months to recover CAC from revenue (margin 1).")
    arpa: Literal["all", "new"] = Field("all", description="all: ARPA of every paying customer at the period end; new: average new-business MRR of the period's new customers.")


def compute_cac_payback_months(ctx: MetricContext) -> MetricOutput:
    """Months to earn back CAC: cac ÷ (arpa × gross_margin).

    Example: CAC 1,200, ARPA 150, margin 0.8 → 1,200 ÷ 120 = 10 months.
    """
    import numpy as np

    opts: PaybackOptions = ctx.options  # type: ignore[assignment]  # metrics.mrr inherited in the plan
    run, s, spend = _prepare(ctx, opts)
    cells = spend_cells(ctx, run, s, spend, opts)
    f = s.frame
    new = f["new_n"].to_numpy(dtype=float)
    cac = np.where(new > 0, cells / np.where(new > 0, new, 1), np.nan)
    if opts.arpa == "new":
        arpa = np.where(new > 0, f["new_mrr"].to_numpy() / np.where(new > 0, new, 1), np.nan)
    else:
        cust = f["customers_end"].to_numpy(dtype=float)
        arpa = np.where(cust > 0, f["mrr_end"].to_numpy() / np.where(cust > 0, cust, 1), np.nan)
    margin = opts.gross_margin if opts.gross_margin is not None else 1.0
    den = np.where(np.isfinite(arpa) & (arpa > EPS), arpa * margin, 0.0)
    value = np.where((den > 0) & np.isfinite(cac), cac / np.where(den > 0, den, 1), np.nan)
    rows = result(run, s, value, cac, np.where(np.isfinite(cac), den, 0.0), new, "months",
                  {"cac": cac, "arpa": arpa, "gross_margin": margin}, what="new customers or ARPA")
    return _out(rows, opts, gross_margin=opts.gross_margin, arpa=opts.arpa, spend_categories=opts.spend_categories)


# ------------------------------------------------------------------ C4 retention cost


class RetentionCostOptions(SpendOptions):
    """Options of ``retention_cost``."""

    spend_categories: list[str] = Field(["retention"], description="spend.category values counted as retention spend.")
    total: bool = Field(False, description="Report the total retention spend of the period instead of the cost per retained customer.")


def compute_retention_cost(ctx: MetricContext) -> MetricOutput:
    """Retention spend in P ÷ customers retained (paying at P.start and at P.end).

    Example (WX22): 10,000 spent, 500 retained → 20 per retained customer.
    """
    import numpy as np

    opts: RetentionCostOptions = ctx.options  # type: ignore[assignment]  # metrics.mrr inherited in the plan
    run, s, spend = _prepare(ctx, opts)
    cells = spend_cells(ctx, run, s, spend, opts)
    f = s.frame
    retained = (f["customers_start"] - f["base_lost"]).to_numpy(dtype=float)
    if opts.total:
        rows = result(run, s, cells, cells, np.ones(len(cells)), retained, "currency", {"retained_customers": retained}, what="retention spend")
    else:
        rows = result(run, s, cells / np.where(retained > 0, retained, np.nan), cells, retained, retained, "currency",
                      {"spend": cells, "retained_customers": retained}, what="retained customers")
    return _out(rows, opts, total=opts.total, spend_categories=opts.spend_categories)


# ------------------------------------------------------------------ C5 referral rate


class ReferralOptions(EngineOptions):
    """Options of ``referral_rate``."""

    variant: Literal["new", "all", "referrers"] = Field(
        "new", description="new: referred new customers ÷ new customers in P; all: referred customers ÷ customers paying at P.end; "
        "referrers: distinct customers who referred a new customer in P (referred_by) ÷ customers paying at P.start.")


def compute_referral_rate(ctx: MetricContext) -> MetricOutput:
    """Referred new customers ÷ new customers in the period.

    Example: 40 new customers in March, 6 of them referred → 15 %; variant all:
    50 referred among 1,000 paying → 5 %.
    """
    import numpy as np

    opts: ReferralOptions = ctx.options  # type: ignore[assignment]  # metrics.mrr inherited in the plan
    run = run_from_metric(ctx)
    s = period_summary(run, opts, need_mrr=False)
    f = s.frame
    cust = ctx.frame.dropna(subset=["customer_id"]).drop_duplicates("customer_id")
    blank = cust["is_referred"].isna()
    if blank.any():
        run.issue("blank_is_referred", f"{int(blank.sum())} customers have no is_referred value; counted as not referred", Level.INFO, count=int(blank.sum()))
    referred = cust.loc[cust["is_referred"].fillna(False).astype(bool), "customer_id"]
    ev = s.timeline.events
    new = ev[ev["kind"].eq("new")].copy()
    new["k"] = bucket(new["time"], s.grid)
    new = new[(new["k"] >= 0) & (new["k"] < len(s.grid))]
    if opts.variant == "new":
        hits = new[new["customer_id"].isin(referred)]
        c = per_cell(s, hits, hits["k"].to_numpy(), {"n": np.ones(len(hits))})
        num, den = c["n"], f["new_n"].to_numpy(dtype=float)
    elif opts.variant == "all":
        acc = s.timeline.accounts.reset_index()
        acc = acc[acc["customer_id"].isin(referred)]
        K = len(s.grid)
        grid_rows = acc.loc[acc.index.repeat(K)].assign(k=np.tile(np.arange(K), len(acc)))
        paying = paying_at(run, s, grid_rows, edge="hi")
        hits = grid_rows[paying]
        c = per_cell(s, hits, hits["k"].to_numpy(), {"n": np.ones(len(hits))})
        num, den = c["n"], f["customers_end"].to_numpy(dtype=float)
    else:
        if not ctx.mapped("referred_by"):
            raise ConfigError("referral_rate variant referrers needs customers.referred_by mapped")
        by = cust[["customer_id", "referred_by"]].dropna()
        hits = new.merge(by, on="customer_id").drop_duplicates(["referred_by", *s.dims, "k"])
        c = per_cell(s, hits, hits["k"].to_numpy(), {"n": np.ones(len(hits))})
        num, den = c["n"], f["customers_start"].to_numpy(dtype=float)
    rows = result(run, s, num / np.where(den > 0, den, np.nan), num, den, den, "percent", what="customers in the base")
    return _out(rows, opts, variant=opts.variant)


# ------------------------------------------------------------------ registration


# What every acquisition metric shares; each registration below spreads it (one style: register(MetricSpec(...))).
ACQUISITION_SPEC: dict[str, Any] = dict(family=FAMILY, optional=OPTIONAL)


register(MetricSpec(
    name="cac",
    title="Customer acquisition cost (CAC)",
    description="Acquisition spend of the period per customer who first paid in it.",
    formula="Σ spend.amount (category acquisition) dated in P ÷ customers whose first payment is in P",
    unit="currency",
    better="lower",
    period_kind="FLOW",
    compute=compute_cac,
    options=CacOptions,
    extra_columns=("spend", "new_customers"),
    edge_rules=(
        "Blended by default; --by channel gives per-channel CAC. 0 new customers → null.",
        "lag_periods matches spend with later conversions; spend rows are dated by their day (no pro-rating across periods).",
        *COMMON_EDGE,
    ),
    entity="spend",
    needs=("date", "amount", "category"),
    date_field="date",
    **ACQUISITION_SPEC,
))
register(MetricSpec(
    name="ltv_to_cac",
    title="LTV to CAC ratio",
    description="Customer lifetime value over the cost of acquiring a customer.",
    formula="ltv ÷ cac",
    unit="ratio",
    better="higher",
    period_kind="FLOW",
    compute=compute_ltv_to_cac,
    options=LtvToCacOptions,
    extra_columns=("ltv", "cac", "spend", "new_customers"),
    edge_rules=(
        "> 3 is commonly called healthy, < 1 unsustainable (ChartMogul's rule of thumb). Null when either side is undefined.",
        *COMMON_EDGE,
    ),
    entity="spend",
    needs=("date", "amount", "category"),
    date_field="date",
    **ACQUISITION_SPEC,
))
register(MetricSpec(
    name="cac_payback_months",
    title="CAC payback period",
    description="Months of gross profit needed to earn back the cost of acquiring a customer.",
    formula="cac ÷ (arpa × gross_margin)",
    unit="months",
    better="lower",
    period_kind="FLOW",
    compute=compute_cac_payback_months,
    options=PaybackOptions,
    extra_columns=("cac", "arpa", "gross_margin"),
    edge_rules=COMMON_EDGE,
    entity="spend",
    needs=("date", "amount", "category"),
    date_field="date",
    **ACQUISITION_SPEC,
))
register(MetricSpec(
    name="retention_cost",
    title="Customer retention cost",
    description="Retention spend of the period per customer retained through it.",
    formula="Σ spend.amount (category retention) dated in P ÷ customers paying at P.start and at P.end",
    unit="currency",
    better="lower",
    period_kind="FLOW",
    compute=compute_retention_cost,
    options=RetentionCostOptions,
    extra_columns=("spend", "retained_customers"),
    edge_rules=(
        "total: true reports the spend itself (some calculators define CRC as a total).",
        *COMMON_EDGE,
    ),
    entity="spend",
    needs=("date", "amount", "category"),
    date_field="date",
    **ACQUISITION_SPEC,
))
register(MetricSpec(
    name="referral_rate",
    title="Referral rate",
    description="Share of the period's new customers who came through a referral.",
    formula="new customers in P with is_referred ÷ new customers in P",
    unit="percent",
    better="higher",
    period_kind="FLOW",
    compute=compute_referral_rate,
    options=ReferralOptions,
    edge_rules=(
        "Blank is_referred counts as not referred (info issue).",
        *COMMON_EDGE,
    ),
    entity="customers",
    needs=("customer_id", "is_referred"),
    date_field="created_at",
    **ACQUISITION_SPEC,
))

