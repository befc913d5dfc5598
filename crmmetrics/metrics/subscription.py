"""Subscription revenue and retention: MRR and its movements, churn, NRR/GRR, renewal,
expansion, upsell/cross-sell and LTV (METRICS.md A1–A21, decisions 1–3, 12, 13).

Every metric reads the per-customer MRR timeline of :mod:`crmmetrics.domain.mrr`
(subscriptions when mapped, else customers.first_paid_at/churned_at/mrr, else a
dateless snapshot), so one set of engine options (set under ``metrics.mrr``) drives
the whole family and the numbers reconcile: MRR(end) − MRR(start) = net_new_mrr.

Period kinds: STOCK metrics are read at the period end (the state after every
event before P.end, i.e. on the period's last day); FLOW metrics sum movements dated
in [P.start, P.end); BASE metrics follow the customers paying at P.start to P.end.
The metrics' entity is ``customers`` (customer_id and the --by dimensions come from
it); subscriptions, deals and orders are read when the config maps them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from crmmetrics.errors import ConfigError, Level
from crmmetrics.metrics.context import MetricContext, MetricOutput
from crmmetrics.domain.mrr import (CUSTOMER_FIELDS, EPS, PERIOD_COL, SUBSCRIPTION_FIELDS, EngineOptions, Run, Summary,
                                    bucket, engine_in_force, months_in, paying_at, per_cell, period_summary,
                                    result, run_from_metric, segment_dims, with_dims)
from crmmetrics.metrics.registry import MetricSpec, register
from crmmetrics.metrics.shapes import Custom, Ratio, Shape

if TYPE_CHECKING:
    import pandas as pd

FAMILY = "subscription revenue"
DEAL_FIELDS = ("deal_id", "customer_id", "closed_at", "status", "amount", "deal_type")
ORDER_FIELDS = ("order_id", "customer_id", "order_date", "status", "amount", "category")
OPTIONAL: dict[str, tuple[str, ...]] = {"subscriptions": SUBSCRIPTION_FIELDS, "customers": CUSTOMER_FIELDS}
COMMON_EDGE = (
    "MRR per subscription = (amount − discount_amount [− tax_amount when amount_includes_tax]) × fx rate ÷ billing_interval_months; "
    "active on [started_at, ended_at) (ended_at falls back to canceled_at; option churn_date). Without subscriptions: customers "
    "[first_paid_at, churned_at) at customers.mrr, paying only when that MRR is > 0 (as for subscriptions); without any start date: a snapshot (-p all only; status churned/canceled = churned in it).",
    "A dateless snapshot (-p all without start dates) is one billing month ending at the export's moment: STOCK metrics (MRR, ARR, "
    "ARPA, paying customers) are the values at that moment; BASE metrics (churn, retention, NRR, GRR) take every account of the export "
    "as the population at the start and the churned ones as lost within the month; new, expansion, contraction and reactivation MRR "
    "are not observable (0); LTV divides ARPA by that churn as a monthly rate.",
    "Movements are classified per customer (customer_id plus the --by dimensions): 0 → paying = new (first time) or reactivation, "
    "paying → 0 = churned, up = expansion, down = contraction; changes within merge_window_minutes (60) are one movement.",
    "--by a field that subscriptions carry (plan, or any extra subscriptions column) segments by each subscription's own value, "
    "i.e. the plan paid for at that time (ChartMogul's plan filter); other fields come from the customer in customers. "
    "A customer moving plan leaves the old plan as churned MRR and enters the new one as new business (reactivation if "
    "they were on it before), so each segment reconciles on its own (MRR end − start = its movements) while the total, "
    "where the move is one expansion or contraction, reconciles as always; deals and orders take the plan of the "
    "customer's subscription at their date.",
    "Bad rows (end before start, negative amounts, billing interval 0 or blank, canceled without an end date) are issues with their "
    "line and are left out; overlapping subscriptions of one customer are summed (info issue); trialing rows are not MRR; "
    "mixed currencies without fx_rates are refused (exit 65).",
    "Engine options (source, quantity, amount_includes_tax, churn_date, delinquent_days, paused, reactivation_window_days, "
    "merge_window_minutes, fx_rates) set under metrics.mrr apply to every metric of the family unless the metric sets its own.",
    "Nothing after the end of the --as-of day has happened yet: later ends keep a subscription running, later starts are ignored.",
)


def _run(ctx: MetricContext, *, need_mrr: bool = True, daily: bool = False) -> tuple[Any, Run, Summary]:
    opts = ctx.options  # metrics.mrr inherited in the plan (engine.inherited_options)
    run = run_from_metric(ctx)
    return opts, run, period_summary(run, opts, need_mrr=need_mrr, daily=daily)


def _out(rows: pd.DataFrame, opts: Any, **extra: Any) -> MetricOutput:
    return MetricOutput(rows, {**engine_in_force(opts), **extra})


# What every subscription metric shares; each registration below spreads it (one style: register(MetricSpec(...))).
SUBSCRIPTION_SPEC: dict[str, Any] = dict(
    family=FAMILY, entity="customers", needs=("customer_id",), date_field="created_at", entity_optional=True, by_from=("subscriptions",),
    dated_by="subscriptions.started_at / ended_at (customers.first_paid_at / churned_at without subscriptions)",
)


# ------------------------------------------------------------------ A1–A3 stocks


class MrrOptions(EngineOptions):
    """Options of ``mrr`` (the engine options; set here, they apply to the whole family)."""


def compute_mrr(ctx: MetricContext) -> MetricOutput:
    """MRR at the period end: Σ normalised MRR of the subscriptions active on its last day.

    Example (METRICS.md WX6): five customers × 5/month → 25; two more × 30/month join
    in February → 85; an annual plan of 2,000 → 166.67 a month.
    """
    opts, run, s = _run(ctx)
    f = s.frame
    rows = result(run, s, f["mrr_end"], f["mrr_end"], 1.0, f["customers_end"], "currency",
                  {"mrr_start": f["mrr_start"].to_numpy(), "customers": f["customers_end"].to_numpy()}, what="MRR")
    return _out(rows, opts)


class ArrOptions(EngineOptions):
    """Options of ``arr``."""

    annual_contracts_only: bool = Field(False, description="Strict Annual Recurring Revenue: only subscriptions billed every 12 months or more (ChartMogul's distinction); default: run rate of all MRR.")


def compute_arr(ctx: MetricContext) -> MetricOutput:
    """ARR = MRR at the period end × 12 (run rate). Example (WX6): MRR 25 → ARR 300."""
    opts: ArrOptions = ctx.options  # type: ignore[assignment]  # metrics.mrr inherited in the plan
    run = run_from_metric(ctx)
    s = period_summary(run, opts, min_interval=12 if opts.annual_contracts_only else None)
    f = s.frame
    arr = f["mrr_end"] * 12
    rows = result(run, s, arr, arr, 1.0, f["customers_end"], "currency", {"mrr": f["mrr_end"].to_numpy()}, what="MRR")
    return _out(rows, opts, annual_contracts_only=opts.annual_contracts_only)


class ArpaOptions(EngineOptions):
    """Options of ``arpa``."""

    new_only: bool = Field(False, description="ASP (ChartMogul average sale price): new-business MRR of the period ÷ new customers in it, instead of all paying customers at the end.")


def compute_arpa(ctx: MetricContext) -> MetricOutput:
    """ARPA = MRR at the period end ÷ paying customers at the end (customer, not subscription, level).

    Example (WX5): customers paying 1, 1, 3, 5, 5 → 15 ÷ 5 = 3.00.
    """
    opts, run, s = _run(ctx)
    f = s.frame
    if opts.new_only:
        rows = result(run, s, f["new_mrr"] / f["new_n"].where(f["new_n"] > 0), f["new_mrr"], f["new_n"], f["new_n"], "currency",
                      what="new customers")
    else:
        cust = f["customers_end"]
        rows = result(run, s, f["mrr_end"] / cust.where(cust > 0), f["mrr_end"], cust, cust, "currency", what="paying customers")
    return _out(rows, opts, new_only=opts.new_only)


# ------------------------------------------------------------------ A4–A9 movements


class MovementOptions(EngineOptions):
    """Options of the MRR movement metrics."""

    same_period_churn: Literal["keep", "net"] = Field(
        "keep", description="keep: a customer who joins and leaves inside one period shows as new and churned (ChartMogul); net: left out of both (ProfitWell).")


def _movement(kind: str) -> Any:
    def compute(ctx: MetricContext) -> MetricOutput:
        opts, run, s = _run(ctx)
        f = s.frame
        suffix = "_net" if opts.same_period_churn == "net" else ""
        value, n = f[f"{kind}_mrr{suffix}"], f[f"{kind}_n{suffix}"]
        rows = result(run, s, value, value, 1.0, n, "currency", {"customers": n.to_numpy()}, what="movements")
        return _out(rows, opts, same_period_churn=opts.same_period_churn)

    compute.__doc__ = f"Σ {kind} MRR movements dated in the period (value ≥ 0); n = customers with such a movement."
    return compute


def compute_net_new_mrr(ctx: MetricContext) -> MetricOutput:
    """net new MRR = new + expansion + reactivation − contraction − churned = MRR(end) − MRR(start).

    Example (WX6): February: new 60, nothing else → 60 = 85 − 25.
    """
    opts, run, s = _run(ctx)
    f = s.frame
    sfx = "_net" if opts.same_period_churn == "net" else ""
    value = f[f"new_mrr{sfx}"] + f[f"expansion_mrr{sfx}"] + f[f"reactivation_mrr{sfx}"] - f[f"contraction_mrr{sfx}"] - f[f"churned_mrr{sfx}"]
    n = sum(f[f"{k}_n{sfx}"] for k in ("new", "expansion", "reactivation", "contraction", "churned"))
    rows = result(run, s, value, value, 1.0, n, "currency", {
        "mrr_start": f["mrr_start"].to_numpy(), "mrr_end": f["mrr_end"].to_numpy(), **{f"{k}_mrr": f[f"{k}_mrr{sfx}"].to_numpy()
                                                                                         for k in ("new", "expansion", "reactivation", "contraction", "churned")}}, what="movements")
    return _out(rows, opts, same_period_churn=opts.same_period_churn)


# ------------------------------------------------------------------ A10 customer churn


ChurnFormula = Literal["chartmogul", "stripe", "baremetrics", "profitwell", "daily"]
CHURN_FORMULA_DOC = ("chartmogul: customers paying at the start who churned in P ÷ customers paying at the start (sign-ups and returns that "
                     "leave within P are excluded); stripe: churn events in P ÷ (paying at start + new and returning in P); baremetrics: "
                     "every customer who churned in P, including same-period sign-ups ÷ paying at start; profitwell: customers paying at the "
                     "start and not at the end ÷ paying at start (in-and-out within P ignored entirely); daily: Σ over days of churned ÷ "
                     "paying at the day's start (ChartMogul B2C).")


class ChurnOptions(EngineOptions):
    """Options of ``customer_churn_rate``."""

    formula: ChurnFormula = Field("chartmogul", description=CHURN_FORMULA_DOC)


def churn_parts(f: pd.DataFrame, formula: str) -> tuple[Any, Any]:
    """(numerator, denominator) of the customer churn rate per the formula.

    Example (WX8): 100 paying at the start, 11 cancel in the month of whom 1 joined in it →
    chartmogul 10/100; stripe 11/(100 + 1); baremetrics 11/100.
    """
    import numpy as np

    start = f["customers_start"]
    if formula == "chartmogul":
        return f["base_churned"], start
    if formula == "stripe":
        return f["churned_n"], start + f["new_n"] + f["reactivation_n"]
    if formula == "baremetrics":
        return f["churned_accounts"], start
    if formula == "profitwell":
        return f["base_lost"], start
    if formula == "daily":
        return f["daily_customer"], np.where(start > 0, 1.0, 0.0)
    raise ValueError(formula)


def compute_customer_churn_rate(ctx: MetricContext) -> MetricOutput:
    """Logo churn: churned customers ÷ paying customers at the period start (formula option).

    Example (WX8, chartmogul): 100 at the start, 11 cancel, 1 of them joined this month → 10 %.
    """
    opts, run, s = _run(ctx, need_mrr=False, daily=ctx.options.formula == "daily")  # type: ignore[attr-defined]
    f = s.frame
    num, den = churn_parts(f, opts.formula)
    rows = result(run, s, num / den, num, den, f["customers_start"], "percent",
                  {"customers_start": f["customers_start"].to_numpy(), "customers_end": f["customers_end"].to_numpy(),
                   "new_customers": f["new_n"].to_numpy(), "churned_customers": f["churned_accounts"].to_numpy()},
                  what="paying customers at the period start")
    return _out(rows, opts, formula=opts.formula)


# ------------------------------------------------------------------ A11–A15 revenue churn, NRR, GRR, quick ratio


class GrossChurnOptions(EngineOptions):
    """Options of ``gross_mrr_churn_rate``."""

    formula: Literal["chartmogul", "daily"] = Field(
        "chartmogul", description="chartmogul: (churned + contraction MRR in P) ÷ MRR at the start (also Baremetrics on calendar periods); "
        "daily: Σ over days of (churned + contraction that day) ÷ MRR at the day's start (ChartMogul B2C).")


def compute_gross_mrr_churn_rate(ctx: MetricContext) -> MetricOutput:
    """(churned + contraction MRR) ÷ MRR at the period start.

    Example (WX9): start 100, churn 10, contraction 10, expansion 10 → 20 %.
    """
    import numpy as np

    opts, run, s = _run(ctx, daily=ctx.options.formula == "daily")  # type: ignore[attr-defined]
    f = s.frame
    lost = f["churned_mrr"] + f["contraction_mrr"]
    if opts.formula == "daily":
        num, den = f["daily_gross"], np.where(f["mrr_start"] > EPS, 1.0, 0.0)
    else:
        num, den = lost, f["mrr_start"]
    rows = result(run, s, num / np.where(den == 0, np.nan, den), num, den, f["customers_start"], "percent",
                  {"churned_mrr": f["churned_mrr"].to_numpy(), "contraction_mrr": f["contraction_mrr"].to_numpy(),
                   "mrr_start": f["mrr_start"].to_numpy()}, what="MRR at the period start")
    return _out(rows, opts, formula=opts.formula)


class NetChurnOptions(EngineOptions):
    """Options of ``net_mrr_churn_rate``."""

    formula: Literal["chartmogul", "baremetrics", "daily"] = Field(
        "chartmogul", description="chartmogul: (churned + contraction − expansion − reactivation) ÷ MRR at start; baremetrics: "
        "(churned + contraction − expansion) ÷ MRR at start (no reactivation term); daily: Σ over days of 1 − (MRR at the day's end − "
        "new business that day) ÷ MRR at the day's start (ChartMogul B2C).")


def net_churn_parts(f: pd.DataFrame, formula: str) -> tuple[Any, Any]:
    """(numerator, denominator) of net MRR churn.

    Example (WX9): (10 + 10 − 10 − 0) ÷ 100 = 10 %; WX10 (daily): start 100, end 120,
    new 10 → 1 − 110/100 = −10 %.
    """
    import numpy as np

    if formula == "daily":
        return f["daily_net"], np.where(f["mrr_start"] > EPS, 1.0, 0.0)
    num = f["churned_mrr"] + f["contraction_mrr"] - f["expansion_mrr"]
    if formula == "chartmogul":
        num = num - f["reactivation_mrr"]
    return num, f["mrr_start"]


def compute_net_mrr_churn_rate(ctx: MetricContext) -> MetricOutput:
    """Net MRR churn (can be negative: expansion outgrows losses). See :func:`net_churn_parts`."""
    import numpy as np

    opts, run, s = _run(ctx, daily=ctx.options.formula == "daily")  # type: ignore[attr-defined]
    f = s.frame
    num, den = net_churn_parts(f, opts.formula)
    den = np.asarray(den, dtype=float)
    rows = result(run, s, num / np.where(den == 0, np.nan, den), num, den, f["customers_start"], "percent",
                  {k: f[k].to_numpy() for k in ("churned_mrr", "contraction_mrr", "expansion_mrr", "reactivation_mrr", "mrr_start")},
                  what="MRR at the period start")
    return _out(rows, opts, formula=opts.formula)


class NrrOptions(EngineOptions):
    """Options of ``net_revenue_retention``."""

    variant: Literal["start_base", "movement", "baremetrics"] = Field(
        "start_base", description="start_base: MRR at the end of the customers paying at the start ÷ their MRR at the start; movement: "
        "1 − net MRR churn (ChartMogul; credits reactivations of customers outside the start base); baremetrics: 1 − (churned + "
        "contraction − expansion) ÷ MRR at start.")


def compute_net_revenue_retention(ctx: MetricContext) -> MetricOutput:
    """NRR = Σ MRR at P.end of the start base ÷ Σ their MRR at P.start (may exceed 100 %).

    Example (WX9): start 100, the start base churns 10, contracts 10, expands 10 → 90 %.
    """
    opts, run, s = _run(ctx)
    f = s.frame
    start = f["mrr_start"]
    if opts.variant == "start_base":
        num = f["nrr_num"]
    else:
        net, _ = net_churn_parts(f, "chartmogul" if opts.variant == "movement" else "baremetrics")
        num = start - net
    rows = result(run, s, num / start.where(start.abs() > EPS), num, start, f["customers_start"], "percent",
                  {"mrr_start": start.to_numpy()}, what="MRR at the period start")
    return _out(rows, opts, variant=opts.variant)


class GrrOptions(EngineOptions):
    """Options of ``gross_revenue_retention`` (the engine options)."""


def compute_gross_revenue_retention(ctx: MetricContext) -> MetricOutput:
    """GRR = Σ min(MRR_end, MRR_start) over the start base ÷ Σ MRR_start (≤ 100 % by construction).

    Example (WX9): start 100, churn 10, contraction 10, expansion 10 → 80 %.
    """
    opts, run, s = _run(ctx)
    f = s.frame
    start = f["mrr_start"]
    rows = result(run, s, f["grr_num"] / start.where(start.abs() > EPS), f["grr_num"], start, f["customers_start"], "percent",
                  {"mrr_start": start.to_numpy()}, what="MRR at the period start")
    return _out(rows, opts)


class QuickRatioOptions(EngineOptions):
    """Options of ``quick_ratio``."""

    include_reactivation: bool = Field(False, description="Add reactivation MRR to the numerator (default: Baremetrics, new + expansion only).")


def compute_quick_ratio(ctx: MetricContext) -> MetricOutput:
    """SaaS quick ratio = (new + expansion [+ reactivation]) ÷ (contraction + churned).

    Example: new 30, expansion 10, contraction 5, churned 15 → 40 ÷ 20 = 2.0.
    """
    opts, run, s = _run(ctx)
    f = s.frame
    gain = f["new_mrr"] + f["expansion_mrr"] + (f["reactivation_mrr"] if opts.include_reactivation else 0.0)
    loss = f["contraction_mrr"] + f["churned_mrr"]
    n = f["new_n"] + f["expansion_n"] + f["contraction_n"] + f["churned_n"] + (f["reactivation_n"] if opts.include_reactivation else 0)
    rows = result(run, s, gain / loss.where(loss > EPS), gain, loss, n, "ratio", what="lost MRR (contraction + churn)")
    return _out(rows, opts, include_reactivation=opts.include_reactivation)


# ------------------------------------------------------------------ A16 LTV, A17 retention


class RetentionOptions(EngineOptions):
    """Options of ``customer_retention_rate``."""

    variant: Literal["classic", "complement"] = Field(
        "classic", description="classic: (customers at end − customers new or returning in P and still paying at end) ÷ customers at start, (E − N) ÷ S; "
        "complement: 1 − customer_churn_rate with churn_formula.")
    churn_formula: ChurnFormula = Field("chartmogul", description="Churn formula for the complement variant.")


def compute_customer_retention_rate(ctx: MetricContext) -> MetricOutput:
    """(E − N) ÷ S: customers at the end, minus those acquired in P, over customers at the start.

    Example (WX12): 30 customers, 29 renew → 29 ÷ 30 = 96.67 %. N counts sign-ups and
    returning (reactivated) customers still paying at the end, hence the result column
    ``new_or_returning_customers`` (customer_churn_rate's ``new_customers`` counts only
    first-time sign-ups): one who joined and left inside P is in neither E nor N, so the
    rate stays within [0, 1].
    """
    import numpy as np

    daily = ctx.options.variant == "complement" and ctx.options.churn_formula == "daily"  # type: ignore[attr-defined]
    opts, run, s = _run(ctx, need_mrr=False, daily=daily)
    f = s.frame
    start = f["customers_start"]
    if opts.variant == "classic":
        num = f["customers_end"] - f["joined_and_stayed"]
        value = num / start.where(start > 0)
    else:
        cnum, cden = churn_parts(f, opts.churn_formula)
        cden = np.asarray(cden, dtype=float)
        value = 1 - cnum / np.where(cden == 0, np.nan, cden)
        num = value * start
    rows = result(run, s, value, num, start, start, "percent",
                  {"customers_start": start.to_numpy(), "customers_end": f["customers_end"].to_numpy(),
                   "new_or_returning_customers": f["joined_and_stayed"].to_numpy()}, what="paying customers at the period start")
    return _out(rows, opts, variant=opts.variant)


class LtvOptions(EngineOptions):
    """Options of ``ltv``."""

    churn: Literal["current", "trailing"] = Field(
        "current", description="current: the period's own customer churn rate (Baremetrics); trailing: the mean churn rate of the previous "
        "trailing_periods periods, the current one excluded (ChartMogul: 6 months).")
    trailing_periods: int = Field(6, ge=1, le=36, description="Periods averaged by churn: trailing.")
    churn_formula: ChurnFormula = Field("chartmogul", description="Customer churn formula (see customer_churn_rate).")
    gross_margin: float | None = Field(None, gt=0, le=1, description="Gross margin as a fraction (0.8); LTV = ARPA × margin ÷ churn. null: revenue LTV.")


def ltv_parts(run: Run, opts: LtvOptions, s: Summary) -> dict[str, Any]:
    """ARPA (per period), churn per period, margin and the LTV numerator/denominator arrays.

    LTV = ARPA × months per period × margin ÷ churn per period (monthly ARPA over monthly
    churn for a month grain). Example (WX11): ARPA 100, trailing churn 5 % → 2,000.
    """
    import numpy as np
    import pandas as pd

    f = s.frame
    cust = f["customers_end"].to_numpy(dtype=float)
    arpa = np.where(cust > 0, f["mrr_end"].to_numpy() / np.where(cust > 0, cust, 1), np.nan)
    num, den = churn_parts(f, opts.churn_formula)
    den = np.asarray(den, dtype=float)
    rate = np.where(den > 0, np.asarray(num, dtype=float) / np.where(den > 0, den, 1), np.nan)
    # A dateless snapshot is one billing month (its churn is "left within the last month",
    # as IBM's telco file defines it), not the one-day span between its anchor and as-of.
    months = np.ones(len(s.grid)) if s.timeline.segments.snapshot else months_in(s.grid, run.grain)
    k = f["k"].to_numpy()
    month_per_row = months[k] if len(months) else np.array([])
    if opts.churn == "trailing":
        # Per --by group, the mean of the previous N period rates (nulls skipped).
        groups = f["g"]  # the --by group code of the summary
        rates = pd.Series(rate, index=f.index)
        shifted = rates.groupby(groups.to_numpy(), sort=False).shift(1)
        roll = shifted.groupby(groups.to_numpy(), sort=False).rolling(opts.trailing_periods, min_periods=1)
        rate = roll.mean().reset_index(level=0, drop=True).reindex(f.index).to_numpy()
        prev_months = pd.Series(month_per_row, index=f.index).groupby(groups.to_numpy(), sort=False).shift(1)
        month_per_row = prev_months.groupby(groups.to_numpy(), sort=False).rolling(opts.trailing_periods, min_periods=1).mean() \
            .reset_index(level=0, drop=True).reindex(f.index).fillna(1.0).to_numpy()
    margin = opts.gross_margin if opts.gross_margin is not None else 1.0
    numerator = arpa * month_per_row * margin
    return {"arpa": arpa, "churn": rate, "months": month_per_row, "margin": margin, "numerator": numerator,
            "denominator": np.where(np.isfinite(rate), rate, 0.0)}


def ltv_inputs(run: Run, opts: LtvOptions, *, first_time: Any = None) -> tuple[Summary, dict[str, Any], Any]:
    """The summary, the LTV parts and the mask of the rows the user asked for.

    With ``churn: trailing`` and --since, the history is extended back by
    trailing_periods so the first requested periods have their trailing churn too.
    """
    import dataclasses

    import numpy as np

    if opts.churn == "trailing" and run.grain == "all":
        raise ConfigError(f"{run.name}: churn trailing averages earlier periods; it needs a period grain", hint="use -p month, or churn: current")
    ext = run
    if opts.churn == "trailing" and run.since is not None:
        since = run.grid.shift(run.grid.floor(run.since), -opts.trailing_periods)
        ext = dataclasses.replace(run, since=since, given_grid=dataclasses.replace(run.grid, since=since))
    s = period_summary(ext, opts, daily=opts.churn_formula == "daily", first_time=first_time)
    parts = ltv_parts(ext, opts, s)
    mask = np.ones(len(s.frame), dtype=bool)
    if ext is not run:
        mask = (s.frame[PERIOD_COL] >= run.grid.floor(run.since)).to_numpy()  # type: ignore[arg-type]
    return s, parts, mask


def sub_summary(s: Summary, mask: Any) -> Summary:
    """The summary restricted to the rows in ``mask`` (for result())."""
    return Summary(s.frame[mask].reset_index(drop=True), s.timeline, s.grid, s.dims)


def compute_ltv(ctx: MetricContext) -> MetricOutput:
    """LTV = ARPA × gross margin ÷ customer churn rate (matching time units).

    Example (WX11, ChartMogul): ARPA 100, six-month trailing churn 5 % → 100 ÷ 0.05 = 2,000.
    Churn 0 → null (ChartMogul will not compute it either).
    """
    import numpy as np

    opts: LtvOptions = ctx.options  # type: ignore[assignment]  # metrics.mrr inherited in the plan
    run = run_from_metric(ctx)
    s, p, mask = ltv_inputs(run, opts)
    den = p["denominator"][mask]
    num = p["numerator"][mask]
    value = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    rows = result(run, sub_summary(s, mask), value, num, den, s.frame["customers_end"][mask], "currency",
                  {"arpa": p["arpa"][mask], "churn_rate": p["churn"][mask], "gross_margin": p["margin"]},
                  what="customer churn (0 churn: LTV undefined)")
    return _out(rows, opts, churn=opts.churn, churn_formula=opts.churn_formula, gross_margin=opts.gross_margin)


# ------------------------------------------------------------------ A18 renewal


class RenewalOptions(EngineOptions):
    """Options of ``renewal_rate``."""

    renewal_source: Literal["auto", "subscriptions", "deals"] = Field(
        "auto", description="subscriptions: contract terms ending in P (auto when subscriptions are mapped); deals: won ÷ closed renewal deals (deal_type renewal) closed in P.")
    basis: Literal["logo", "value"] = Field("logo", description="logo: contracts renewed ÷ contracts due; value: MRR renewed (incl. up/downsell at renewal) ÷ MRR due (deals: won amount ÷ closed amount).")
    grace_days: int = Field(30, ge=0, description="A contract ending within this many days of its term end, or re-signed within it, is judged at the term end (late renewals count).")
    min_term_months: float = Field(12, gt=0, description="Subscriptions billed at least this many months apart are contracts with a renewal date every term.")


def compute_renewal_rate(ctx: MetricContext) -> MetricOutput:
    """Contracts renewed ÷ contracts whose term ended in P.

    A term of a contract (billing interval ≥ min_term_months) ends at each anniversary of
    its start. It renewed when the subscription runs on past the anniversary (+ grace), or
    the customer starts another subscription within grace_days of it. Example: three
    annual contracts due in March; one runs on, one is replaced by a new plan two weeks
    later, one ends → 2 ÷ 3. Custom for the subscriptions source (contract terms from the
    MRR engine) and for ``auto``, which picks the source from the data; renewal deals
    (``renewal_source: deals``) are :func:`renewal_deal_rows` with a Ratio.
    """
    opts: RenewalOptions = ctx.options  # type: ignore[assignment]  # metrics.mrr inherited in the plan
    run = run_from_metric(ctx)
    source = opts.renewal_source
    if source == "auto":
        source = "subscriptions" if run.frame("subscriptions") is not None else "deals"
    if source == "deals":  # deals alone: no customer timeline (nor its dates) is needed
        rows = _renewal_deal_ratio(opts.basis).aggregate(ctx, _renewal_deals(ctx, run, opts))
    else:
        rows = _renewal_subscriptions(run, period_summary(run, opts, need_mrr=False), opts)
    return _out(rows, opts, renewal_source=source, basis=opts.basis, grace_days=opts.grace_days)


def renewal_deal_rows(ctx: MetricContext) -> pd.DataFrame:
    """Won and lost renewal deals closed in P (``renewal_source: deals``): _renewed ÷ _due."""
    opts: RenewalOptions = ctx.options  # type: ignore[assignment]
    ctx.in_force.update(engine_in_force(opts), renewal_source="deals", basis=opts.basis, grace_days=opts.grace_days)
    return _renewal_deals(ctx, run_from_metric(ctx), opts)


def renewal_shape(opts: RenewalOptions) -> Shape:
    """won ÷ (won + lost) renewal deals (value basis: won amount ÷ closed amount); Custom otherwise."""
    return _renewal_deal_ratio(opts.basis) if opts.renewal_source == "deals" else Custom()


def _renewal_deal_ratio(basis: str) -> Ratio:
    """The Ratio of renewal deals (``auto`` resolving to deals uses it too)."""
    kind = "amount" if basis == "value" else "count"
    return Ratio("_renewed", "_due", unit="percent", extras={"contracts_due": "_one", "contracts_renewed": "_won"}, what="closed renewal deals",
                 numerator_kind=kind, denominator_kind=kind)


def _renewal_subscriptions(run: Run, s: Summary, opts: RenewalOptions) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    seg = s.timeline.segments
    if seg.source != "subscriptions" or seg.snapshot:
        raise ConfigError("renewal_rate from subscriptions needs dated subscriptions (started_at, ended_at, billing_interval_months)",
                          hint="or set metrics.renewal_rate.renewal_source: deals")
    sub = segment_dims(run, seg)
    sub = sub[sub["interval"] >= opts.min_term_months].reset_index(drop=True)
    grace = pd.Timedelta(days=opts.grace_days)
    horizon = pd.Timestamp(run.horizon)
    limit = sub["end"].fillna(horizon) + grace
    limit = limit.where(limit < horizon, horizon)
    months_total = (limit.dt.year - sub["start"].dt.year) * 12 + (limit.dt.month - sub["start"].dt.month)
    terms = np.floor(months_total.to_numpy() / sub["interval"].to_numpy()).astype(int).clip(min=0) + 1
    rep = np.repeat(np.arange(len(sub)), terms)
    j = np.arange(len(rep)) - np.repeat(np.cumsum(terms) - terms, terms) + 1  # 1..terms per contract, vectorised
    due = sub.iloc[rep].reset_index(drop=True)
    due["due"] = _add_months(due["start"], (j * due["interval"].to_numpy()).round().astype(int))
    due = due[(due["due"] <= limit.iloc[rep].reset_index(drop=True)) & (due["due"] < horizon)]
    end = due["end"]
    ran_on = end.isna() | (end > due["due"] + grace)
    ended_mid = end.notna() & (end < due["due"] - grace)
    due = due[~ended_mid].copy()
    ran_on = ran_on[~ended_mid]
    # Successors: another subscription of the customer starting within grace of the due date.
    others = seg.frame[["customer_id", "start", "mrr", "row_id"]]
    cand = due[["customer_id", "due", "row_id"]].reset_index().merge(others, on="customer_id", suffixes=("", "_next"))
    hit = (cand["row_id_next"] != cand["row_id"]) & ((cand["start"] - cand["due"]).abs() <= grace)
    succ = cand[hit].groupby("index")["mrr"].sum()
    succ_mrr = succ.reindex(due.index, fill_value=0.0).to_numpy()
    renewed = ran_on.to_numpy() | (succ_mrr > 0)
    value_renewed = np.where(ran_on.to_numpy(), due["mrr"].to_numpy(), succ_mrr)
    pending = (~renewed) & (due["due"] + grace >= horizon).to_numpy()
    if pending.any():
        run.issue("renewal_pending", f"{int(pending.sum())} contracts are still inside their {opts.grace_days}-day renewal grace window at the as-of day; counted as not renewed so far",
                  Level.INFO, count=int(pending.sum()))
    k = bucket(due["due"], s.grid)
    ok = (k >= 0) & (k < len(s.grid))
    counts = per_cell(s, due[ok], k[ok], {"due_n": np.ones(int(ok.sum())), "renewed_n": renewed[ok].astype(float),
                                            "due_mrr": due["mrr"].to_numpy()[ok], "renewed_mrr": value_renewed[ok]})
    if opts.basis == "value":
        num, den = counts["renewed_mrr"], counts["due_mrr"]
    else:
        num, den = counts["renewed_n"], counts["due_n"]
    return result(run, s, num / np.where(den == 0, np.nan, den), num, den, counts["due_n"], "percent",
                  {"contracts_due": counts["due_n"], "contracts_renewed": counts["renewed_n"]}, what="contracts due for renewal")


def _renewal_deals(ctx: MetricContext, run: Run, opts: RenewalOptions) -> pd.DataFrame:
    """Closed renewal deals with the columns of :func:`renewal_shape`'s Ratio."""
    import numpy as np

    closed = _closed_deal_rows(ctx, run, {"renewal"})
    won = closed["status"].eq("won").to_numpy()
    amount = closed["amount"].fillna(0.0).to_numpy()
    if opts.basis == "value" and closed["amount"].isna().any():
        run.data_issue("deals", closed[closed["amount"].isna()], "missing_amount", "renewal deal without amount counted as 0 in the value basis", "amount")
    value = opts.basis == "value"
    return closed.assign(_due=amount if value else np.ones(len(closed)), _renewed=np.where(won, amount, 0.0) if value else won.astype(float),
                         _one=np.ones(len(closed)), _won=won.astype(float))


def _closed_deal_rows(ctx: MetricContext, run: Run, types: set[str]) -> pd.DataFrame:
    """Won and lost deals of ``types`` closed in [since, until) and by the as-of day, bucketed
    by closed_at (MetricContext.flow_rows) with the --by dimensions of their customer."""
    import pandas as pd

    deals = _deal_source(ctx)
    d = deals[deals["deal_type"].isin(sorted(types)) & deals["status"].isin(["won", "lost"])]
    no_date = d["closed_at"].isna()
    if no_date.any():
        run.data_issue("deals", d[no_date], "missing_closed_at", "closed deal without closed_at left out", "closed_at")
    d = d[~no_date]
    d = d[(ctx.local(d["closed_at"]) < pd.Timestamp(run.horizon)).to_numpy()]  # not closed yet on the as-of day
    return ctx.flow_rows(with_dims(run, d, list(ctx.by), "closed_at"), "closed_at")


def _deal_source(ctx: MetricContext) -> pd.DataFrame:
    """The deals frame, refused in one line when it or a field the deal variants read is missing."""
    deals = ctx.other("deals")
    if deals is None:
        raise ConfigError(f"{ctx.spec.name} from deals needs a deals source (deal_type, status, closed_at, customer_id)")
    for need in ("deal_type", "status", "closed_at", "customer_id"):
        if not ctx.mapped(need, "deals"):
            raise ConfigError(f"{ctx.spec.name} from deals needs deals.{need} mapped")
    return deals


def _add_months(start: pd.Series, months: Any) -> pd.Series:
    """start + n calendar months (day clipped to the month's length), vectorised."""
    import numpy as np
    import pandas as pd

    total = start.dt.year.to_numpy() * 12 + start.dt.month.to_numpy() - 1 + np.asarray(months)
    year, month = total // 12, total % 12 + 1
    first = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": 1}))
    last_day = (first + pd.offsets.MonthEnd(0)).dt.day.to_numpy()
    day = np.minimum(start.dt.day.to_numpy(), last_day)
    base = first + pd.to_timedelta(day - 1, unit="D")
    return pd.Series((base + (start - start.dt.normalize()).to_numpy()).to_numpy(), index=start.index)


def _deals(ctx: MetricContext, run: Run, s: Summary, types: set[str] | None) -> pd.DataFrame:
    """Deals of the given deal_types (None: every deal, whatever its type) with closed_at,
    their period index ``k`` and --by dims."""
    deals = _deal_source(ctx)
    d = (deals if types is None else deals[deals["deal_type"].isin(sorted(types))]).copy()
    no_date = d["closed_at"].isna() & d["status"].isin(["won", "lost"])
    if no_date.any():
        run.data_issue("deals", d[no_date], "missing_closed_at", "closed deal without closed_at left out", "closed_at")
    d = d[~no_date]
    d["closed_local"] = d["closed_at"].dt.tz_convert(run.timezone).dt.tz_localize(None)
    d["k"] = bucket(d["closed_local"], s.grid)
    d = d[(d["k"] >= 0) & (d["k"] < len(s.grid))]
    return with_dims(run, d, s.dims, "closed_local")


# ------------------------------------------------------------------ A19–A21 expansion, upsell, cross-sell


class ExpansionRevenueOptions(EngineOptions):
    """Options of ``expansion_revenue``."""

    revenue_source: Literal["auto", "subscriptions", "deals"] = Field(
        "auto", description="subscriptions: expansion MRR (auto when subscriptions are mapped); deals: Σ amount of won upsell and cross-sell deals closed in P.")
    include_reactivation: bool = Field(False, description="Add reactivation MRR (subscriptions source).")


def compute_expansion_revenue(ctx: MetricContext) -> MetricOutput:
    """Growth revenue from existing customers: expansion MRR, or won upsell + cross-sell deal amounts.

    Example: won upsells 1,000 and 500 and a cross-sell of 250 closed in March → 1,750.
    """
    opts: ExpansionRevenueOptions = ctx.options  # type: ignore[assignment]  # metrics.mrr inherited in the plan
    run = run_from_metric(ctx)
    source = opts.revenue_source
    if source == "auto":
        source = "subscriptions" if run.frame("subscriptions") is not None else "deals"
    if source == "deals":  # deals alone: no customer timeline (nor its dates) is needed
        rows = _won_deal_sums(ctx, run, {"upsell", "cross_sell"})
    else:
        s = period_summary(run, opts)
        f = s.frame
        value = f["expansion_mrr"] + (f["reactivation_mrr"] if opts.include_reactivation else 0.0)
        n = f["expansion_n"] + (f["reactivation_n"] if opts.include_reactivation else 0)
        rows = result(run, s, value, value, 1.0, n, "currency", what="expansion")
    return _out(rows, opts, revenue_source=source, include_reactivation=opts.include_reactivation)


def _won_deal_sums(ctx: MetricContext, run: Run, types: set[str]) -> pd.DataFrame:
    """Σ amount of won deals of ``types`` closed in P per period and --by group (every period
    present; an empty one is 0); n = won deals, denominator 1 as for the MRR sums."""
    import pandas as pd

    from crmmetrics.metrics.shapes import complete_grid, group_keys

    closed = _closed_deal_rows(ctx, run, types)
    won = closed[closed["status"].eq("won")]
    won = won.assign(_amount=won["amount"].fillna(0.0).astype("float64"))
    keys = group_keys(ctx)
    if len(won):
        grouped = won.groupby(keys, dropna=False, sort=True).agg(numerator=("_amount", "sum"), n=("_amount", "size")).reset_index()
    else:
        grouped = pd.DataFrame({k: pd.Series(dtype=object) for k in [*keys, "numerator", "n"]})
    grouped = complete_grid(ctx, grouped, won)
    if grouped.empty:
        ctx.issue("no_data", "no won upsell or cross-sell deals in the selected range; nothing to report")
    return grouped.assign(value=grouped["numerator"].astype("float64"), denominator=1.0, unit="currency")


class UpsellOptions(EngineOptions):
    """Options of ``upsell_rate`` and ``cross_sell_rate``."""

    rate_source: Literal["auto", "deals", "subscriptions", "orders"] = Field(
        "auto", description="deals: customers with a won deal of the type closed in P (auto when deals are mapped); subscriptions "
        "(upsell only): customers with an expansion movement in P; orders (cross-sell only): customers buying a category new to them in P.")
    variant: Literal["customers", "revenue_share"] = Field(
        "customers", description="customers: such customers among those paying at the start ÷ customers paying at the start; revenue_share: "
        "won amount of the type ÷ all won deal amount in P (deals only).")


def _sell_rate(deal_type: str) -> Any:
    def compute(ctx: MetricContext) -> MetricOutput:
        opts: UpsellOptions = ctx.options  # type: ignore[assignment]  # metrics.mrr inherited in the plan
        run = run_from_metric(ctx)
        source = opts.rate_source
        if source == "auto":
            source = "deals" if ctx.other("deals") is not None else ("subscriptions" if deal_type == "upsell" else "orders")
        if (source == "subscriptions" and deal_type != "upsell") or (source == "orders" and deal_type != "cross_sell"):
            raise ConfigError(f"{ctx.spec.name}: rate_source {source} is not available", hint="upsell: deals or subscriptions; cross-sell: deals or orders")
        if opts.variant == "revenue_share" and source != "deals":
            raise ConfigError(f"{ctx.spec.name}: variant revenue_share needs rate_source deals")
        s = period_summary(run, opts, need_mrr=False)
        rows = _sell_rows(ctx, run, s, opts, source, deal_type)
        return _out(rows, opts, rate_source=source, variant=opts.variant)

    compute.__doc__ = (f"Customers paying at the period start with ≥ 1 won {deal_type} in P ÷ customers paying at the start. "
                       "Example: 200 paying at the start, 50 of them win an upsell deal in the month → 25 %.")
    return compute


def _sell_rows(ctx: MetricContext, run: Run, s: Summary, opts: UpsellOptions, source: str, deal_type: str) -> pd.DataFrame:
    import numpy as np

    f = s.frame
    start = f["customers_start"]
    if source == "subscriptions":
        num = f["base_expanded"]
        return result(run, s, num / start.where(start > 0), num, start, start, "percent", what="paying customers at the period start")
    if source == "orders":
        hits = _cross_sell_orders(ctx, run, s)
    else:
        # revenue_share: the denominator is all won deal revenue, deals without a (known) type included.
        d = _deals(ctx, run, s, {deal_type} if opts.variant == "customers" else None)
        won = d[d["status"].eq("won")]
        if opts.variant == "revenue_share":
            amount = won["amount"].fillna(0.0).to_numpy()
            mine = won["deal_type"].eq(deal_type).to_numpy()
            c = per_cell(s, won, won["k"].to_numpy(), {"num": np.where(mine, amount, 0.0), "den": amount, "n": mine.astype(float)})
            return result(run, s, c["num"] / np.where(c["den"] == 0, np.nan, c["den"]), c["num"], c["den"], c["n"], "percent",
                          what="won deal revenue")
        hits = won
    base = paying_at(run, s, hits)
    hits = hits[base].drop_duplicates(["customer_id", *s.dims, "k"])
    c = per_cell(s, hits, hits["k"].to_numpy(), {"n": np.ones(len(hits))})
    return result(run, s, c["n"] / start.where(start > 0), c["n"], start, start, "percent", what="paying customers at the period start")


def _cross_sell_orders(ctx: MetricContext, run: Run, s: Summary) -> pd.DataFrame:
    """Paid orders in P in a category the customer had not bought before (having bought another)."""
    orders = ctx.other("orders")
    if orders is None or not {"category", "customer_id", "order_date"} <= ctx.mapped_fields("orders"):
        raise ConfigError("cross_sell_rate from orders needs orders.customer_id, order_date and category mapped")
    o = orders.dropna(subset=["customer_id", "order_date", "category"])
    o = o[~o["status"].isin(["refunded", "canceled"])]  # blank or unmapped: kept
    o = o.assign(t=o["order_date"].dt.tz_convert(run.timezone).dt.tz_localize(None)).sort_values("t", kind="stable")
    first_cat = o.drop_duplicates(["customer_id", "category"], keep="first")
    first_any = o.groupby("customer_id")["t"].min().rename("first_any")
    first_cat = first_cat.merge(first_any, on="customer_id")
    cross = first_cat[first_cat["t"] > first_cat["first_any"]].copy()
    cross["k"] = bucket(cross["t"], s.grid)
    cross = cross[(cross["k"] >= 0) & (cross["k"] < len(s.grid))]
    return with_dims(run, cross, s.dims, "t")


# ------------------------------------------------------------------ registration

register(MetricSpec(
    name="mrr",
    title="Monthly Recurring Revenue (MRR)",
    description="Normalised monthly value of every active recurring subscription at the period end.",
    formula="Σ over subscriptions active at P.end of (amount − discount [− tax]) × fx ÷ billing_interval_months",
    unit="currency",
    better="higher",
    period_kind="STOCK",
    compute=compute_mrr,
    options=MrrOptions,
    extra_columns=("mrr_start", "customers"),
    edge_rules=(
        "Annual and multi-month prepayments are divided by their months (2,000 a year → 166.67); discounts deducted; tax excluded.",
        "'MRR for October' is the MRR of the subscriptions active on 31 October; the current period reads as of the --as-of day.",
        *COMMON_EDGE,
    ),
    optional=OPTIONAL,
    **SUBSCRIPTION_SPEC,
))
register(MetricSpec(
    name="arr",
    title="Annual Run Rate (ARR)",
    description="MRR at the period end × 12.",
    formula="mrr × 12",
    unit="currency",
    better="higher",
    period_kind="STOCK",
    compute=compute_arr,
    options=ArrOptions,
    extra_columns=("mrr",),
    edge_rules=(
        "annual_contracts_only keeps only subscriptions billed every 12 months or more (strict Annual Recurring Revenue).",
        *COMMON_EDGE,
    ),
    optional=OPTIONAL,
    **SUBSCRIPTION_SPEC,
))
register(MetricSpec(
    name="arpa",
    title="Average Revenue Per Account (ARPA)",
    description="MRR at the period end divided by the paying customers at that moment.",
    formula="mrr(P.end) ÷ paying customers at P.end",
    unit="currency",
    better="higher",
    period_kind="STOCK",
    compute=compute_arpa,
    options=ArpaOptions,
    edge_rules=(
        "Customers, not subscriptions, are counted: several subscriptions of one customer are merged first.",
        "0 customers → null.",
        *COMMON_EDGE,
    ),
    optional=OPTIONAL,
    **SUBSCRIPTION_SPEC,
))
MOVEMENT_EDGE = "same_period_churn: net leaves customers who joined and left inside the period out of every movement (ProfitWell)."
# What the five movement MRRs share beside SUBSCRIPTION_SPEC.
MOVEMENT_SPEC: dict[str, Any] = dict(unit="currency", period_kind="FLOW", options=MovementOptions, extra_columns=("customers",),
                                     edge_rules=(MOVEMENT_EDGE, *COMMON_EDGE), optional=OPTIONAL, **SUBSCRIPTION_SPEC)
register(MetricSpec(
    name="new_mrr", title="New business MRR", better="higher", compute=_movement("new"),
    description="MRR of customers whose first paid MRR starts in the period.",
    formula="Σ new movements dated in P (customer-level, value ≥ 0)",
    **MOVEMENT_SPEC,
))
register(MetricSpec(
    name="expansion_mrr", title="Expansion MRR", better="higher", compute=_movement("expansion"),
    description="MRR increases of customers already paying (upgrades, seats, second subscriptions, expiring discounts).",
    formula="Σ expansion movements dated in P (customer-level, value ≥ 0)",
    **MOVEMENT_SPEC,
))
register(MetricSpec(
    name="contraction_mrr", title="Contraction MRR", better="lower", compute=_movement("contraction"),
    description="MRR decreases of customers who keep paying (downgrades, cancelling one of several subscriptions).",
    formula="Σ contraction movements dated in P (customer-level, value ≥ 0)",
    **MOVEMENT_SPEC,
))
register(MetricSpec(
    name="churned_mrr", title="Churned MRR", better="lower", compute=_movement("churned"),
    description="MRR lost when a customer's last active subscription ends.",
    formula="Σ churned movements dated in P (customer-level, value ≥ 0)",
    **MOVEMENT_SPEC,
))
register(MetricSpec(
    name="reactivation_mrr", title="Reactivation MRR", better="higher", compute=_movement("reactivation"),
    description="MRR of former customers returning in the period (any gap, or within reactivation_window_days).",
    formula="Σ reactivation movements dated in P (customer-level, value ≥ 0)",
    **MOVEMENT_SPEC,
))
register(MetricSpec(
    name="net_new_mrr",
    title="Net new MRR",
    description="New + expansion + reactivation − contraction − churned MRR; equals MRR(end) − MRR(start).",
    formula="new + expansion + reactivation − contraction − churned",
    unit="currency",
    better="higher",
    period_kind="FLOW",
    compute=compute_net_new_mrr,
    options=MovementOptions,
    extra_columns=("mrr_start", "mrr_end", "new_mrr", "expansion_mrr", "reactivation_mrr", "contraction_mrr", "churned_mrr"),
    edge_rules=(
        "Not the Turkish 'net new revenue' (revenue from new customers only): that is new_customer_revenue.",
        *COMMON_EDGE,
    ),
    optional=OPTIONAL,
    **SUBSCRIPTION_SPEC,
))
register(MetricSpec(
    name="customer_churn_rate",
    title="Customer churn rate",
    description="Share of paying customers lost during the period (logo churn).",
    formula="churned ÷ paying customers at P.start (formula: chartmogul | stripe | baremetrics | profitwell | daily)",
    unit="percent",
    better="lower",
    period_kind="BASE",
    compute=compute_customer_churn_rate,
    options=ChurnOptions,
    extra_columns=("customers_start", "customers_end", "new_customers", "churned_customers"),
    edge_rules=(
        "A customer churns only when all their subscriptions are gone (a partial cancel is contraction).",
        "baremetrics counts same-period sign-ups that leave, so it can exceed the others (and, in theory, 100 %); 0 customers at the start → null.",
        "Do not mix monthly and annual plans in one rate (ChartMogul, Baremetrics): use --by plan.",
        "Expected lifetime in periods = 1 ÷ churn rate.",
        *COMMON_EDGE,
    ),
    optional=OPTIONAL,
    **SUBSCRIPTION_SPEC,
))
register(MetricSpec(
    name="gross_mrr_churn_rate",
    title="Gross MRR churn rate",
    description="MRR lost to cancellations and downgrades as a share of MRR at the period start.",
    formula="(churned_mrr + contraction_mrr) ÷ mrr(P.start)",
    unit="percent",
    better="lower",
    period_kind="BASE",
    compute=compute_gross_mrr_churn_rate,
    options=GrossChurnOptions,
    extra_columns=("churned_mrr", "contraction_mrr", "mrr_start"),
    edge_rules=(
        "Can exceed 100 % when MRR added inside the period is removed again in it (it counts as contraction).",
        "daily deviates from the literal (MRR_start − MRR_end) ÷ MRR_start day sum of METRICS.md A11, which would net new business in a 'gross' rate: "
      "it sums churned + contraction per day instead.",
        *COMMON_EDGE,
    ),
    optional=OPTIONAL,
    **SUBSCRIPTION_SPEC,
))
register(MetricSpec(
    name="net_mrr_churn_rate",
    title="Net MRR churn rate",
    description="MRR lost net of expansion and reactivation, as a share of MRR at the period start; negative is good.",
    formula="(churned + contraction − expansion − reactivation) ÷ mrr(P.start)",
    unit="percent",
    better="lower",
    period_kind="BASE",
    compute=compute_net_mrr_churn_rate,
    options=NetChurnOptions,
    extra_columns=("churned_mrr", "contraction_mrr", "expansion_mrr", "reactivation_mrr", "mrr_start"),
    edge_rules=COMMON_EDGE,
    optional=OPTIONAL,
    **SUBSCRIPTION_SPEC,
))
register(MetricSpec(
    name="net_revenue_retention",
    title="Net revenue retention (NRR)",
    description="MRR at the period end of the customers paying at its start, over their MRR at the start.",
    formula="Σ_{i paying at P.start} mrr_i(P.end) ÷ Σ mrr_i(P.start)",
    unit="percent",
    better="higher",
    period_kind="BASE",
    compute=compute_net_revenue_retention,
    options=NrrOptions,
    extra_columns=("mrr_start",),
    edge_rules=(
        "A start-base customer who churns and returns within P counts at their end MRR; new customers are outside the base.",
        "Annual NRR (investor convention): -p year, or a trailing 12-month --since/--until with -p all. The ChartMogul cohort-table variant lives in `analyze cohorts`.",
        *COMMON_EDGE,
    ),
    optional=OPTIONAL,
    **SUBSCRIPTION_SPEC,
))
register(MetricSpec(
    name="gross_revenue_retention",
    title="Gross revenue retention (GRR)",
    description="Share of the start base's MRR kept after churn and contraction (expansion not counted).",
    formula="Σ_{i paying at P.start} min(mrr_i(P.end), mrr_i(P.start)) ÷ Σ mrr_i(P.start)",
    unit="percent",
    better="higher",
    period_kind="BASE",
    compute=compute_gross_revenue_retention,
    options=GrrOptions,
    extra_columns=("mrr_start",),
    edge_rules=(
        "≤ 100 % by construction.",
        *COMMON_EDGE,
    ),
    optional=OPTIONAL,
    **SUBSCRIPTION_SPEC,
))
register(MetricSpec(
    name="quick_ratio",
    title="SaaS quick ratio",
    description="MRR gained over MRR lost in the period.",
    formula="(new_mrr + expansion_mrr [+ reactivation_mrr]) ÷ (contraction_mrr + churned_mrr)",
    unit="ratio",
    better="higher",
    period_kind="FLOW",
    compute=compute_quick_ratio,
    options=QuickRatioOptions,
    edge_rules=(
        "No lost MRR → null.",
        *COMMON_EDGE,
    ),
    optional=OPTIONAL,
    **SUBSCRIPTION_SPEC,
))
register(MetricSpec(
    name="customer_retention_rate",
    title="Customer retention rate",
    description="Customers kept from the start of the period to its end.",
    formula="(customers at P.end − customers new or returning in P still paying at P.end) ÷ customers at P.start",
    unit="percent",
    better="higher",
    period_kind="BASE",
    compute=compute_customer_retention_rate,
    options=RetentionOptions,
    extra_columns=("customers_start", "customers_end", "new_or_returning_customers"),
    edge_rules=(
        "new_or_returning_customers (N) counts customers not paying at P.start and paying at P.end: first-time sign-ups and returning "
      "(reactivated) customers alike, so it can exceed customer_churn_rate's new_customers (first-time sign-ups only).",
        "classic (E − N) ÷ S differs from 1 − customer_churn_rate when a customer leaves and returns within the period (retained here, churned there).",
        *COMMON_EDGE,
    ),
    optional=OPTIONAL,
    **SUBSCRIPTION_SPEC,
))
register(MetricSpec(
    name="ltv",
    title="Customer lifetime value (SaaS LTV)",
    description="Average revenue per account over the customer churn rate, optionally times gross margin.",
    formula="arpa × gross_margin ÷ customer_churn_rate (matching time units)",
    unit="currency",
    better="higher",
    period_kind="STOCK",
    compute=compute_ltv,
    options=LtvOptions,
    extra_columns=("arpa", "churn_rate", "gross_margin"),
    edge_rules=(
        "ARPA is monthly; for other grains LTV = ARPA × months per period ÷ churn per period.",
        "churn 0 → null (ChartMogul does not compute LTV then). Small bases fluctuate: churn: trailing smooths them.",
        *COMMON_EDGE,
    ),
    optional=OPTIONAL,
    **SUBSCRIPTION_SPEC,
))
register(MetricSpec(
    name="renewal_rate",
    title="Renewal rate",
    description="Contracts renewed among those whose term ended in the period.",
    formula="renewed ÷ contracts due in P (logo) or renewed MRR ÷ MRR due (value)",
    unit="percent",
    better="higher",
    period_kind="FLOW",
    rows=renewal_deal_rows, shape=renewal_shape, compute=compute_renewal_rate,
    options=RenewalOptions,
    extra_columns=("contracts_due", "contracts_renewed"),
    edge_rules=(
        "A contract due in the last grace_days before the as-of day may still renew late (info issue).",
        "From deals: won ÷ (won + lost) renewal deals closed in P (open renewal deals are not due yet).",
        *COMMON_EDGE,
    ),
    optional={**OPTIONAL, "deals": DEAL_FIELDS},
    **SUBSCRIPTION_SPEC,
))
register(MetricSpec(
    name="expansion_revenue",
    title="Expansion revenue",
    description="Revenue growth from existing customers in the period.",
    formula="expansion_mrr [+ reactivation_mrr], or Σ won upsell + cross-sell deal amounts closed in P",
    unit="currency",
    better="higher",
    period_kind="FLOW",
    compute=compute_expansion_revenue,
    options=ExpansionRevenueOptions,
    edge_rules=COMMON_EDGE,
    optional={**OPTIONAL, "deals": DEAL_FIELDS},
    **SUBSCRIPTION_SPEC,
))
register(MetricSpec(
    name="upsell_rate",
    title="Upsell rate",
    description="Share of customers paying at the period start who bought an upsell during it.",
    formula="customers paying at P.start with ≥ 1 won upsell deal closed in P ÷ customers paying at P.start",
    unit="percent",
    better="higher",
    period_kind="FLOW",
    compute=_sell_rate("upsell"),
    options=UpsellOptions,
    edge_rules=(
        "Offer-based variant (accepted ÷ offered) needs offer data, which the data contract does not carry.",
        *COMMON_EDGE,
    ),
    optional={**OPTIONAL, "deals": DEAL_FIELDS},
    **SUBSCRIPTION_SPEC,
))
register(MetricSpec(
    name="cross_sell_rate",
    title="Cross-sell rate",
    description="Share of customers paying at the period start who bought a cross-sell during it.",
    formula="customers paying at P.start with ≥ 1 won cross-sell deal closed in P ÷ customers paying at P.start",
    unit="percent",
    better="higher",
    period_kind="FLOW",
    compute=_sell_rate("cross_sell"),
    options=UpsellOptions,
    edge_rules=(
        "orders source: a paid order in a category the customer had never bought before (having bought another).",
        *COMMON_EDGE,
    ),
    optional={**OPTIONAL, "deals": DEAL_FIELDS, "orders": ORDER_FIELDS},
    **SUBSCRIPTION_SPEC,
))

