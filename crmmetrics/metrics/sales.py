"""Sales pipeline: win rate, deal size, sales cycle, pipeline, velocity and stage durations
(METRICS.md D1–D7), plus the "new opportunities" count of the Turkish CRM-analytics article.

Deals are checked once per metric before anything is counted (``clean_deals`` in
``crmmetrics/domain/deals.py``, with the open-deal snapshots): a
status that is blank or not mapped to open / won / lost, a close date before the
created date, a won or lost deal without a close date, a negative amount or a won deal
without an amount (for amount metrics) each become an issue with the row's file
location, and the deal is left out of the number rather than counted wrongly.

Dating (METRICS.md section 3.14): outcome metrics (win rate, deal size, sales cycle)
are FLOW metrics by ``closed_at``; pipeline metrics are STOCK snapshots at each period
end, where a deal is open at instant t when ``created_at < t <= closed_at``: the state
after every event *before* t, the rule the MRR stock follows, so a deal created or
closed exactly at a period end (a bare date: midnight) belongs to the next period and
pipeline(P.end) = pipeline(P.start) + deals created in P − deals closed in P. For a deal
whose status is still ``open`` the exported close date is an *expected* close date
(HubSpot fills one in automatically), so it is ignored: the deal is open until today.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from crmmetrics.domain.deals import CLOSED, clean_deals, closed_rows, deal_intervals, first_created, open_at_snapshots
from crmmetrics.domain.spans import days_between, precedes
from crmmetrics.errors import ConfigError, Level
from crmmetrics.metrics.context import PERIOD_COL, MetricContext, MetricOutput
from crmmetrics.metrics.registry import MetricSpec, Options, register
from crmmetrics.metrics.shapes import CountSum, Mean, Ratio, Shape, Stock, complete_grid, group_keys, snapshot_grid, snapshot_result

if TYPE_CHECKING:
    import pandas as pd

FAMILY = "sales pipeline and leads"
# HubSpot's default sales pipeline (METRICS.md D4); closed stages never weigh an open deal.
HUBSPOT_STAGE_PROBABILITIES = {
    "appointment scheduled": 0.2,
    "qualified to buy": 0.4,
    "presentation scheduled": 0.6,
    "decision maker bought-in": 0.8,
    "contract sent": 0.9,
}


# ------------------------------------------------------------------ shared helpers


def _require(ctx: MetricContext, frame: pd.DataFrame, fields: tuple[str, ...], why: str) -> None:
    missing = [f for f in fields if not ctx.mapped(f)]  # declared fields are columns even when unmapped
    if missing:
        raise ConfigError(f"{ctx.spec.name} {why} needs {', '.join(f'{ctx.spec.entity}.{m}' for m in missing)} mapped",
                          hint=f"map it under sources.{ctx.spec.entity}.fields")


def _amount_rows(ctx: MetricContext, rows: pd.DataFrame, what: str) -> pd.DataFrame:
    """Rows with an amount; the others get one issue each (a won deal without a value)."""
    if not ctx.mapped("amount"):
        raise ConfigError(f"{ctx.spec.name} needs deals.amount mapped")
    blank = rows["amount"].isna()
    if blank.any():
        ctx.row_issues(rows[blank], "missing_amount", f"{what} without an amount; excluded", "amount")
    return rows[~blank]


def whole(out: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Count columns as integers (0 in periods the grid added)."""
    import pandas as pd

    for col in columns:
        if col in out:
            out[col] = pd.to_numeric(out[col]).fillna(0).astype("Int64")  # nullable: stays whole next to other metrics
    return out


def lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """``table[key]`` for each key (missing → NA); ``table`` has a unique index.

    Unlike ``keys.map(table)``, this keeps working when ``table`` is an empty datetime
    series (pandas 3 then fails to cast the all-missing result).
    """
    import pandas as pd

    return pd.Series(table.reindex(keys.to_numpy()).to_numpy(), index=keys.index, dtype=table.dtype)


def as_instants(ctx: MetricContext, values: pd.Series) -> pd.Series:
    """Timestamps looked up from another frame as tz-aware datetimes, even when none matched."""
    import pandas as pd

    return pd.to_datetime(values, utc=True).dt.tz_convert(ctx.timezone)


# ------------------------------------------------------------------ D1 win_rate


class WinRateOptions(Options):
    """Options of ``win_rate``."""

    variant: Literal["closed", "all_created", "by_value", "cohort"] = Field(
        "closed", description="closed: won ÷ (won + lost) by close date (HubSpot, Salesforce WON:SUM/CLOSED:SUM; default); "
        "all_created: won ÷ all deals created in the period, open ones included (Salesforce alternative WON:SUM/RowCount); "
        "by_value: won amount ÷ closed amount by close date; cohort: of the deals created in the period, won ÷ (won + lost) so far.")


def win_rate_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per deal closed in the period (or created, variants all_created and cohort):
    0/1 _won, _lost, _open and the variant's numerator and denominator columns.

    Win rate = won ÷ (won + lost) over deals closed in the period (open deals ignored).

    Example (METRICS.md WX14): 12 won, 8 lost and 5 open deals closed or open in March
    → 12 ÷ (12 + 8) = 60 %. Variant all_created with the same deals all created in March
    → 12 ÷ 25 = 48 %.
    """
    import numpy as np

    opts: WinRateOptions = ctx.options  # type: ignore[assignment]
    deals = clean_deals(ctx, amounts=opts.variant == "by_value")
    if opts.variant in ("all_created", "cohort"):
        _require(ctx, deals, ("created_at",), f"variant {opts.variant}")
        rows = ctx.flow_rows(deals, "created_at")
    else:
        rows = closed_rows(ctx, deals)
    won = (rows["status"] == "won").astype("int64")
    lost = (rows["status"] == "lost").astype("int64")
    rows = rows.assign(_won=won, _lost=lost, _open=(rows["status"] == "open").astype("int64"))
    if opts.variant == "by_value":
        rows = _amount_rows(ctx, rows, "closed deal")
        return rows.assign(_num=rows["amount"] * rows["_won"], _den=rows["amount"].astype("float64"))
    if opts.variant == "all_created":
        return rows.assign(_all=np.int64(1))
    return rows.assign(_closed=rows["_won"] + rows["_lost"])


def win_rate_shape(opts: WinRateOptions) -> Shape:
    """won amount ÷ closed amount (by_value), won ÷ created (all_created), else won ÷ decided."""
    outcomes = {"won": "_won", "lost": "_lost"}
    if opts.variant == "by_value":
        return Ratio("_num", "_den", extras=outcomes, numerator_kind="amount", denominator_kind="amount", what="closed deals with an amount")
    if opts.variant == "all_created":
        return Ratio("_won", "_all", extras={**outcomes, "open": "_open"}, what="created deals")
    return Ratio("_won", "_closed", extras=outcomes | ({"open": "_open"} if opts.variant == "cohort" else {}), what="closed deals")


def decided_n(ctx: MetricContext, out: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Variants closed and cohort: n = decided deals (the denominator); open ones are in 'open'."""
    if ctx.options.variant in ("closed", "cohort"):  # type: ignore[attr-defined]
        out["n"] = out["denominator"]
    return out


register(MetricSpec(
    name="win_rate",
    title="Win rate",
    family=FAMILY,
    description="Share of decided deals that were won, dated by close date.",
    formula="won ÷ (won + lost) over deals with closed_at in the period; e.g. 12 won, 8 lost → 60 %",
    entity="deals",
    needs=("status", "closed_at"),
    unit="percent",
    better="higher",
    period_kind="FLOW",
    date_field="closed_at",
    rows=win_rate_rows,
    shape=win_rate_shape,
    finish=decided_n,
    options=WinRateOptions,
    extra_columns=("won", "lost", "open"),
    edge_rules=(
        "Open deals are excluded (variant all_created counts them in the denominator); no closed deals → null and an issue.",
        "Statuses must map to open / won / lost (values: status: {\"Closed Won\": won, \"Closed Lost\": lost, \"*\": open}); "
        "'no decision' or 'disqualified' count as lost only if mapped so. Unmapped or blank statuses are issues and excluded.",
        "A repeated deal_id uses its last row (latest status).",
        "A won/lost deal without a close date is an issue and excluded.",
    ),
    optional={"deals": ("created_at", "amount", "deal_id")},
))


# ------------------------------------------------------------------ D5 average_deal_size


class DealSizeOptions(Options):
    """Options of ``average_deal_size``."""

    include_lost: bool = Field(False, description="false: won deals only (default); true: every closed deal, won or lost (trexrun variant).")


def deal_size_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per won (or closed, include_lost) deal with an amount closed in the period: _amount.

    Average deal size = Σ amount of won deals closed in the period ÷ their count.

    Example: won deals of 10,000, 20,000 and 60,000 closed in May (plus a lost 5,000)
    → 90,000 ÷ 3 = 30,000 (median 20,000); with include_lost 95,000 ÷ 4 = 23,750.
    """
    opts: DealSizeOptions = ctx.options  # type: ignore[assignment]
    deals = clean_deals(ctx, amounts=True)
    rows = closed_rows(ctx, deals, CLOSED if opts.include_lost else ("won",))
    rows = _amount_rows(ctx, rows, "closed deal" if opts.include_lost else "won deal")
    return rows.assign(_amount=rows["amount"].astype("float64"))


register(MetricSpec(
    name="average_deal_size",
    title="Average deal size",
    family=FAMILY,
    description="Mean amount of the deals won in the period (median and p90 beside it).",
    formula="Σ amount of won deals closed in the period ÷ count of those deals; e.g. 10,000 + 20,000 + 60,000 → 30,000",
    entity="deals",
    needs=("status", "closed_at", "amount"),
    unit="currency",
    better="higher",
    period_kind="FLOW",
    date_field="closed_at",
    rows=deal_size_rows,
    shape=Mean("_amount", headline="mean", what="won deals with an amount"),
    options=DealSizeOptions,
    extra_columns=("mean", "median", "p90"),
    edge_rules=(
        "A won deal without an amount or with a negative amount is an issue and excluded (never counted as 0).",
        "Deals are dated by closed_at; no won deals in a period → null and an issue.",
    ),
    optional={"deals": ("deal_id",)},
))


# ------------------------------------------------------------------ D2 sales_cycle_length


class SalesCycleOptions(Options):
    """Options of ``sales_cycle_length``."""

    start: Literal["created", "first_contact", "lead_created"] = Field(
        "created", description="created: deal created_at (HubSpot 'close date − create date'; default); first_contact: the "
        "earliest activity linked to the deal (or its lead/account, see first_contact_links) when earlier than created_at "
        "(Turkish source); lead_created: created_at of the lead in deals.lead_id (ChartMogul lead → paid).")
    outcomes: Literal["won", "closed"] = Field("won", description="won: won deals only (default); closed: lost deals too.")
    basis: Literal["closed", "cohort"] = Field("closed", description="closed: deals closed in the period (default); cohort: deals created in the period (Rekener cohort cycle).")
    headline: Literal["mean", "median"] = Field("mean", description="Which statistic is the value (sales tools headline the mean; median and p90 are always shown).")
    first_contact_links: list[Literal["deal", "lead", "customer"]] = Field(
        default_factory=lambda: ["deal", "lead"],
        description="With start first_contact: which activity links count (activities.deal_id, .lead_id via deals.lead_id, "
        ".customer_id). 'customer' also counts touches from earlier deals with the same account.")


def _cycle_start(ctx: MetricContext, deals: pd.DataFrame, opts: SalesCycleOptions) -> pd.Series:
    """The start instant of each deal's cycle (NaT where it cannot be known)."""
    import pandas as pd

    if opts.start == "created":
        return deals["created_at"]
    if opts.start == "lead_created":
        leads = ctx.other("leads")
        if leads is None or not ctx.mapped("created_at", "leads") or not ctx.mapped("lead_id", "deals"):
            raise ConfigError("sales_cycle_length start lead_created needs deals.lead_id and a leads source with lead_id and created_at")
        created = leads.dropna(subset=["lead_id"]).drop_duplicates("lead_id", keep="last").set_index("lead_id")["created_at"]
        start = as_instants(ctx, lookup(deals["lead_id"], created))
        missing = start.isna()
        if missing.any():
            ctx.issue("no_lead", f"{int(missing.sum())} deals have no lead (or an unknown lead_id) and are left out of the lead → close cycle",
                      Level.INFO, count=int(missing.sum()), field="lead_id")
        return start
    acts = ctx.other("activities")
    if acts is None or not ctx.mapped("occurred_at", "activities"):
        raise ConfigError("sales_cycle_length start first_contact needs an activities source with occurred_at and deal_id/lead_id/customer_id")
    earliest = [deals["created_at"]]
    links = {"deal": ("deal_id", "deal_id"), "lead": ("lead_id", "lead_id"), "customer": ("customer_id", "customer_id")}
    for link in opts.first_contact_links:
        act_col, deal_col = links[link]
        if ctx.mapped(act_col, "activities") and ctx.mapped(deal_col, "deals"):
            first = acts.dropna(subset=[act_col, "occurred_at"]).groupby(act_col)["occurred_at"].min()
            earliest.append(as_instants(ctx, lookup(deals[deal_col], first)))
    # A contact can only move the start earlier: a deal is itself a contact when it is created.
    return as_instants(ctx, pd.concat(earliest, axis=1).min(axis=1))


def sales_cycle_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per won (or closed) deal closed (or created, basis cohort) in the period: _days from its cycle start to close.

    Sales cycle = mean days from start (deal created) to close over won deals closed in the period.

    Example (METRICS.md WX13, ChartMogul): 10 deals (or leads) start on May 1; 5 are
    won on May 11 and 5 on May 21 → (5 × 10 + 5 × 20) ÷ 10 = 15 days; median 15, p90 20.
    """
    opts: SalesCycleOptions = ctx.options  # type: ignore[assignment]
    deals = clean_deals(ctx, dates=True)
    if opts.start != "lead_created" or opts.basis == "cohort":
        _require(ctx, deals, ("created_at",), f"start {opts.start}" if opts.basis == "closed" else "basis cohort")
    deals = deals.assign(_start=_cycle_start(ctx, deals, opts))
    statuses = CLOSED if opts.outcomes == "closed" else ("won",)
    if opts.basis == "cohort":
        decided = deals[deals["status"].isin(statuses) & deals["closed_at"].notna()]
        rows = ctx.flow_rows(decided, "created_at")
    else:
        rows = closed_rows(ctx, deals, statuses)
    rows = rows[rows["_start"].notna()]
    rows = rows.assign(_days=days_between(ctx, rows["closed_at"], rows["_start"]))
    negative = rows["_days"] < 0
    if negative.any():
        ctx.row_issues(rows[negative], "negative_duration", f"close date is before the cycle start ({opts.start}); deal excluded", "closed_at")
        rows = rows[~negative]
    return rows


register(MetricSpec(
    name="sales_cycle_length",
    title="Sales cycle length",
    family=FAMILY,
    description="Days from a deal's creation (or first contact, or its lead's creation) to its close, over won deals closed in the period.",
    formula="mean(closed_at − created_at) in days over won deals closed in the period; median and p90 beside it; "
            "e.g. 5 deals of 10 days + 5 of 20 days → 15",
    entity="deals",
    needs=("status", "closed_at"),
    unit="days",
    better="lower",
    period_kind="FLOW",
    date_field="closed_at",
    rows=sales_cycle_rows,
    shape=lambda opts: Mean("_days", headline=opts.headline, what="won deals"),
    options=SalesCycleOptions,
    extra_columns=("mean", "median", "p90"),
    edge_rules=(
        "Only closed deals are used: open deals in HubSpot exports carry placeholder close dates.",
        "A close date before the start is an issue and the deal is excluded (never a negative average).",
        "start first_contact: the earliest linked activity when it precedes created_at, else created_at.",
        "start lead_created: deals without a known lead are left out (info issue with the count).",
    ),
    optional={"deals": ("deal_id", "lead_id", "customer_id", "created_at"), "leads": ("lead_id", "created_at"),
              "activities": ("deal_id", "lead_id", "customer_id", "occurred_at")},
))


# ------------------------------------------------------------------ STOCK aggregation (snapshots: domain/deals.py)


# ------------------------------------------------------------------ D3 pipeline_value


class PipelineOptions(Options):
    """Options of ``pipeline_value``."""

    at: Literal["end", "start"] = Field("end", description="Snapshot instant: the period end (default) or the period start.")


def pipeline_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per deal with its open interval (the Stock shape places it at each snapshot).

    Pipeline value at t = Σ amount of deals open at t (created_at < t ≤ closed_at).
    Example: snapshot 2026-04-01 of A (10,000, created Feb 10, won Mar 20), B (20,000,
    created Mar 5, lost Apr 10), C (5,000, created Mar 25, open) and D (created Apr 2)
    → B + C = 25,000 (n 2); A closed before t, D did not exist yet. A deal created on
    Apr 1 is April's; one lost on Apr 1 was still open at the end of March.
    """
    deals = deal_intervals(ctx, clean_deals(ctx, amounts=True, dates=True))
    return deals.assign(_amount=deals["amount"].astype("float64"), _no_amount=deals["amount"].isna().astype("int64"))


def pipeline_finish(ctx: MetricContext, out: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Open deals without an amount: counted in n and without_amount, said once (info)."""
    blank = int(out["without_amount"].sum())
    if blank:
        ctx.issue("open_deal_without_amount", "some open deals have no amount: they are counted in n and in without_amount, not in the value",
                  Level.INFO, count=blank, field="amount")
    return out


register(MetricSpec(
    name="pipeline_value",
    title="Open pipeline value",
    family=FAMILY,
    description="Total amount of the deals open at the end of each period (a snapshot; won and lost deals never count).",
    formula="Σ amount over deals open at t = period end, open meaning created_at < t ≤ closed_at; "
            "n = open deals (with or without amount); e.g. open deals of 20,000 and 5,000 at t → 25,000",
    entity="deals",
    needs=("status", "created_at", "closed_at", "amount"),
    unit="currency",
    better="higher",
    period_kind="STOCK",
    date_field="created_at",
    rows=pipeline_rows,
    shape=Stock("_amount", extras={"without_amount": "_no_amount"}, kind="amount"),
    finish=pipeline_finish,
    options=PipelineOptions,
    extra_columns=("without_amount", "snapshot_at"),
    edge_rules=(
        "Won and lost deals count only before their close date; a deal still open ignores its (expected) close date.",
        "Open deals without an amount are counted in n and without_amount, never valued as 0 silently; negative amounts are issues and excluded.",
        "The last snapshot is taken at --until or the end of the as-of day when that comes before the period end (see snapshot_at).",
        "Amounts are as exported: a past snapshot uses today's amount of each deal (no amount history).",
    ),
    optional={"deals": ("deal_id",)},
))


# ------------------------------------------------------------------ D4 weighted_pipeline_value


class WeightedPipelineOptions(Options):
    """Options of ``weighted_pipeline_value``."""

    at: Literal["end", "start"] = Field("end", description="Snapshot instant: the period end (default) or the period start.")
    probability_source: Literal["deal_then_stage", "deal", "stage"] = Field(
        "deal_then_stage", description="deal_then_stage: deals.probability when present and valid, else the stage default (default); "
        "deal: deals.probability only; stage: stage_probabilities only.")
    stage_probabilities: dict[str, float] | None = Field(
        None, description="Stage → win probability (0-1, or 0-100 when any value exceeds 1); stage names match case-insensitively. "
        "Default: HubSpot's default pipeline (appointment scheduled 20 %, qualified to buy 40 %, presentation scheduled 60 %, "
        "decision maker bought-in 80 %, contract sent 90 %).")
    probability_scale: Literal["auto", "fraction", "percent"] = Field(
        "auto", description="Scale of deals.probability: auto (percent when any value exceeds 1), fraction (0-1) or percent (0-100).")

    @field_validator("stage_probabilities")
    @classmethod
    def _check(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is None:
            return v
        top = 100.0 if any(p > 1 for p in v.values()) else 1.0
        bad = [k for k, p in v.items() if not 0 <= p <= top]
        if bad:
            raise ValueError(f"probabilities must lie in 0-1 (or all in 0-100): {', '.join(bad)}")
        return v

    def stage_map(self) -> dict[str, float]:
        """Case-folded stage → probability as a fraction."""
        raw = self.stage_probabilities if self.stage_probabilities is not None else HUBSPOT_STAGE_PROBABILITIES
        top = 100.0 if any(p > 1 for p in raw.values()) else 1.0
        return {str(k).strip().casefold(): p / top for k, p in raw.items()}


def _deal_probability(ctx: MetricContext, deals: pd.DataFrame, scale: str) -> pd.Series:
    """deals.probability as a fraction; values off the scale are issues and become unknown."""
    import pandas as pd

    p = deals["probability"].astype("float64")  # all NaN when unmapped: the stage defaults apply
    percent = scale == "percent" or (scale == "auto" and bool((p > 1).any()))
    top = 100.0 if percent else 1.0
    bad = (p < 0) | (p > top)
    if bad.any():
        ctx.row_issues(deals[bad], "probability_out_of_range", f"probability outside 0-{top:g}; the stage default is used if there is one", "probability")
    return (p / top).where(~bad)


def _has_stage_history(ctx: MetricContext) -> bool:
    """Whether deal_stages can tell the stage of a deal at a past instant (history mapped, deals keyed)."""
    return ctx.other("deal_stages") is not None and {"deal_id", "stage", "entered_at"} <= ctx.mapped_fields("deal_stages") \
        and ctx.mapped("deal_id", "deals")


def _stage_at_snapshot(ctx: MetricContext, rows: pd.DataFrame) -> pd.Series | None:
    """The stage each deal was in at its snapshot instant, from deal_stages (None without history)."""
    import pandas as pd

    hist = ctx.other("deal_stages")
    if hist is None or not _has_stage_history(ctx) or not len(rows):
        return None
    h = hist.dropna(subset=["deal_id", "entered_at", "stage"])
    h = pd.DataFrame({"deal_id": h["deal_id"].astype(str), "_entered": ctx.local(h["entered_at"]).astype("datetime64[ns]"),
                      "_exited": ctx.local(h["exited_at"]).astype("datetime64[ns]"),  # NaT when unmapped: never left
                      "_hist_stage": h["stage"].astype(str)}).sort_values("_entered", kind="stable")
    left = pd.DataFrame({"deal_id": rows["deal_id"].astype(str), "_snapshot": rows["_snapshot"].astype("datetime64[ns]"),
                         "_pos": range(len(rows))}).sort_values("_snapshot", kind="stable")
    # The last stage entered before t, unless it was left before t (the state after the events before t).
    m = pd.merge_asof(left, h, left_on="_snapshot", right_on="_entered", by="deal_id", direction="backward",
                      allow_exact_matches=False)
    m.loc[m["_exited"].notna() & (m["_exited"] < m["_snapshot"]), "_hist_stage"] = None
    return pd.Series(m.sort_values("_pos")["_hist_stage"].to_numpy(), index=rows.index)


def _stage_probability(stages: pd.Series, stage_map: dict[str, float]) -> pd.Series:
    """Each stage's probability from ``stage_map`` (NaN without a stage or an entry for it);
    stage names are looked up once per distinct stage, not once per row."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(stages)
    table = np.array([stage_map.get(str(u).strip().casefold(), np.nan) for u in uniques] + [np.nan], dtype="float64")
    return pd.Series(table[codes], index=stages.index)  # code -1 (no stage) → the trailing NaN


def compute_weighted_pipeline_value(ctx: MetricContext) -> MetricOutput:
    """Weighted pipeline at t = Σ amount × win probability over deals open at t.

    Example (METRICS.md D4): one open deal of 10,000 at 50 % → 5,000. With deals of
    10,000 at 50 % and 20,000 in "Contract sent" without a probability (HubSpot default
    90 %) → 5,000 + 18,000 = 23,000; denominator (unweighted) 30,000.
    """
    import pandas as pd

    opts: WeightedPipelineOptions = ctx.options  # type: ignore[assignment]
    deals = clean_deals(ctx, amounts=True, dates=True)
    stage_map = opts.stage_map()
    own = _deal_probability(ctx, deals, opts.probability_scale) if opts.probability_source != "stage" else pd.Series(float("nan"), index=deals.index)
    # Whether a deal is open now and its stage's probability are the deal's own: worked out
    # once per deal, so only these numbers are repeated at every snapshot the deal was open
    # at, not its stage and status text (a monthly pipeline repeats each deal many times).
    # A deal now won or lost was open at a past t in some earlier stage: its exported stage
    # and probability describe the closed state, so only the stage history can weigh it.
    open_now = deals["status"] == "open"
    deals = deals.assign(_own_p=own, _open=open_now, _stage_p=_stage_probability(deals["stage"].astype(object).where(open_now), stage_map))
    grid = snapshot_grid(ctx, first_created(ctx, deals), opts.at)
    # What is read below; the deal_id (text, the largest column) only to look the stage history up.
    history = ("deal_id",) if _has_stage_history(ctx) else ()
    rows = open_at_snapshots(ctx, deals, grid, (*ctx.by, *history, "_open", "_stage_p", "_own_p", "amount"))
    hist_stage = _stage_at_snapshot(ctx, rows)
    still_open = rows["_open"]
    from_stage = rows["_stage_p"]
    if hist_stage is not None:
        from_stage = _stage_probability(hist_stage, stage_map).where(hist_stage.notna(), from_stage)
    if opts.probability_source == "deal":
        p = rows["_own_p"].where(still_open)
    else:
        p = rows["_own_p"].where(still_open).fillna(from_stage)
    amount = rows["amount"].astype("float64")
    known = p.notna() & amount.notna()
    rows = rows.assign(_weighted=(amount * p).where(known), _amount=amount.where(known),
                       _no_amount=amount.isna().astype("int64"), _no_p=(amount.notna() & p.isna()).astype("int64"), _one=1)
    out = snapshot_result(ctx, rows, grid, deals, {"numerator": ("_weighted", "sum"), "denominator": ("_amount", "sum"), "n": ("_one", "size"),
                                                "without_amount": ("_no_amount", "sum"), "without_probability": ("_no_p", "sum")})
    out["value"] = out["numerator"]
    out["unit"] = "currency"
    whole(out, "without_amount", "without_probability")
    missing_p = int(out["without_probability"].sum())
    if missing_p:
        hint = "" if hist_stage is not None else "; map deal_stages to weigh deals that are closed today at past snapshots"
        ctx.issue("unknown_probability", "open deals without a usable probability (no valid deals.probability and no stage_probabilities entry "
                  f"for their stage) are left out of the weighted value and counted in without_probability{hint}", count=missing_p)
    return MetricOutput(out, {"stage_probabilities": stage_map})


register(MetricSpec(
    name="weighted_pipeline_value",
    title="Weighted pipeline value (forecast)",
    family=FAMILY,
    description="Open pipeline at each period end with every deal weighted by its win probability.",
    formula="Σ amount × probability over deals open at t = period end; probability = deals.probability if present, else "
            "stage_probabilities[stage]; denominator = Σ amount of the weighted deals; e.g. 10,000 × 50 % = 5,000",
    entity="deals",
    needs=("status", "created_at", "closed_at", "amount"),
    unit="currency",
    better="higher",
    period_kind="STOCK",
    date_field="created_at",
    compute=compute_weighted_pipeline_value,
    options=WeightedPipelineOptions,
    extra_columns=("without_amount", "without_probability", "snapshot_at"),
    edge_rules=(
        "Only deals open at t count (created_at < t ≤ closed_at); won and lost deals never weigh in after they close.",
        "Probabilities may be 0-1 or 0-100 (auto-detected per column); values outside the scale are issues and fall back to the stage default.",
        "A deal that is won or lost today is weighted at a past snapshot by the stage it was in then (deal_stages); without history it is "
        "counted in without_probability instead of at its closed-state probability.",
        "Open deals without an amount are counted in without_amount; negative amounts are issues and excluded.",
    ),
    optional={"deals": ("deal_id", "stage", "probability"), "deal_stages": ("deal_id", "stage", "entered_at", "exited_at")},
))


# ------------------------------------------------------------------ new_opportunities


class NewOpportunitiesOptions(Options):
    """Options of ``new_opportunities``."""

    unqualified_stages: list[str] = Field(default_factory=list, description="Deals whose current stage is listed (case-insensitive) are not yet "
                                          "qualified opportunities and are not counted, e.g. [\"Prospecting\"]. Default: every deal counts.")
    deal_types: list[str] | None = Field(None, description="Count only these deal types (new, renewal, upsell, cross_sell). Default: all.")


def _qualified(ctx: MetricContext, deals: pd.DataFrame, unqualified: list[str], deal_types: list[str] | None = None) -> pd.DataFrame:
    """Deals that count as opportunities: not in an unqualified current stage, of the wanted types."""
    if unqualified:
        _require(ctx, deals, ("stage",), "option unqualified_stages")
        folded = {s.strip().casefold() for s in unqualified}
        deals = deals[~deals["stage"].astype(str).str.strip().str.casefold().isin(folded)]
    if deal_types:
        _require(ctx, deals, ("deal_type",), "option deal_types")
        deals = deals[deals["deal_type"].isin(deal_types)]
    return deals


def new_opportunities_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per qualified deal created in the period: _amount (0 without amounts).

    New opportunities = deals created in the period (the Turkish article's "yeni fırsatlar").

    Example: deals created Mar 3, Mar 20 and Apr 2 → March 2, April 1; with
    unqualified_stages [Prospecting] a March deal still in Prospecting is not counted.
    ``amount`` sums the created deals' amounts (pipeline generated).
    """
    opts: NewOpportunitiesOptions = ctx.options  # type: ignore[assignment]
    deals = _qualified(ctx, clean_deals(ctx), opts.unqualified_stages, opts.deal_types)
    rows = ctx.flow_rows(deals, "created_at")
    return rows.assign(_amount=rows["amount"].astype("float64").fillna(0.0))  # blank or unmapped: 0 (sums skip blanks)


register(MetricSpec(
    name="new_opportunities",
    title="New opportunities",
    family=FAMILY,
    description="Number of deals (opportunities) created in the period, with the amount they add to the pipeline.",
    formula="count of deals with created_at in the period; amount = Σ their amounts",
    entity="deals",
    needs=("created_at",),
    unit="count",
    better="higher",
    period_kind="FLOW",
    date_field="created_at",
    rows=new_opportunities_rows,
    shape=CountSum(extras={"amount": ("_amount", "amount")}, what="created deals"),
    options=NewOpportunitiesOptions,
    extra_columns=("amount",),
    edge_rules=(
        "A period without new deals is 0, not null.",
        "Deals without created_at cannot be dated and are reported once; repeated deal_ids count once.",
    ),
    optional={"deals": ("deal_id", "status", "closed_at", "amount", "stage", "deal_type")},
))


# ------------------------------------------------------------------ D6 sales_velocity


class SalesVelocityOptions(Options):
    """Options of ``sales_velocity``."""

    opportunities: Literal["created", "open_at_start", "closed"] = Field(
        "created", description="Which deals are 'opportunities': created in the period (default), open at the period start, or closed (won + lost) in the period.")
    unqualified_stages: list[str] = Field(default_factory=list, description="Current stages that are not yet qualified opportunities (option 'created' only).")
    per: Literal["day", "month", "quarter", "year"] = Field("day", description="Report revenue per day (default) or per 30 / 90 / 365 days.")


PER_DAYS = {"day": 1, "month": 30, "quarter": 90, "year": 365}


def compute_sales_velocity(ctx: MetricContext) -> MetricOutput:
    """Sales velocity = opportunities × average deal size × win rate ÷ sales cycle (days).

    Example (METRICS.md WX15, mavenlb): 40 opportunities × £25,000 × 25 % ÷ 90 days =
    £2,777.78 per day (≈ £83,333 per 30 days). All four inputs come from the same period:
    won and lost deals closed in it (win rate, deal size, cycle) and deals created in it.
    """
    import numpy as np
    import pandas as pd

    opts: SalesVelocityOptions = ctx.options  # type: ignore[assignment]
    deals = clean_deals(ctx, amounts=True, dates=True)
    keys = group_keys(ctx)
    closed = closed_rows(ctx, deals)
    won = closed[closed["status"] == "won"]
    won_amount = _amount_rows(ctx, won, "won deal")
    cycle = won.assign(_days=days_between(ctx, won["closed_at"], won["created_at"]))
    if opts.opportunities == "created":
        opp_rows = ctx.flow_rows(_qualified(ctx, deals, opts.unqualified_stages), "created_at")
    elif opts.opportunities == "closed":
        opp_rows = closed
    else:
        grid = snapshot_grid(ctx, first_created(ctx, deals), "start")
        opp_rows = open_at_snapshots(ctx, deals, grid, ctx.by)  # counted per period and segment only

    def per_group(rows: pd.DataFrame, **agg: tuple[str, str]) -> pd.DataFrame:
        if not len(rows):
            return pd.DataFrame(columns=[*keys, *agg])
        rows = rows.assign(_one=np.int64(1))
        g = rows.groupby(keys, dropna=False, sort=True).agg(**agg).reset_index()
        g[PERIOD_COL] = pd.to_datetime(g[PERIOD_COL])
        return g

    parts = [
        per_group(opp_rows, opportunities=("_one", "size")),
        per_group(closed.assign(_won=(closed["status"] == "won").astype("int64")), won=("_won", "sum"), closed=("_one", "size")),
        per_group(won_amount.assign(_amount=won_amount["amount"].astype("float64")), won_amount=("_amount", "sum"), valued=("_one", "size")),
        per_group(cycle, cycle_days=("_days", "mean")),
    ]
    grouped = parts[0]
    for part in parts[1:]:
        grouped = grouped.merge(part, on=keys, how="outer")
    span = pd.concat([p[keys] for p in (opp_rows, closed) if len(p)], ignore_index=True) if len(opp_rows) or len(closed) else pd.DataFrame(columns=keys)
    out = complete_grid(ctx, grouped.assign(n=grouped["opportunities"]) if len(grouped) else grouped.assign(n=pd.Series(dtype="int64")), span)
    for col in ("opportunities", "won", "closed", "won_amount", "valued"):
        out[col] = pd.to_numeric(out[col]).fillna(0)
    out["cycle_days"] = pd.to_numeric(out["cycle_days"])
    out["win_rate"] = out["won"] / out["closed"].where(out["closed"] > 0)
    out["average_deal_size"] = out["won_amount"] / out["valued"].where(out["valued"] > 0)
    out["numerator"] = out["opportunities"] * out["average_deal_size"] * out["win_rate"]
    out["denominator"] = out["cycle_days"]
    out["value"] = out["numerator"] / out["denominator"].where(out["denominator"] > 0) * PER_DAYS[opts.per]
    out["n"] = out["opportunities"].astype("int64")
    out["unit"] = "currency"
    null = out["value"].isna()
    if null.any():
        ctx.issue("zero_denominator", f"{int(null.sum())} period/segment cells lack won deals (no deal size, win rate or cycle) or have a 0-day cycle; "
                  "their velocity is null", count=int(null.sum()))
    out = whole(out.drop(columns=["won_amount", "valued"]), "opportunities", "won", "closed")
    return MetricOutput(out, {"per_days": PER_DAYS[opts.per]})


register(MetricSpec(
    name="sales_velocity",
    title="Sales velocity",
    family=FAMILY,
    description="Expected revenue the pipeline produces per day: opportunities × average deal size × win rate ÷ sales cycle length.",
    formula="opportunities × average_deal_size × win_rate ÷ sales_cycle_days (currency per day; × 30/90/365 with per); "
            "e.g. 40 × 25,000 × 25 % ÷ 90 = 2,777.78 per day",
    entity="deals",
    needs=("status", "created_at", "closed_at", "amount"),
    unit="currency",
    better="higher",
    period_kind="FLOW",
    date_field="closed_at",
    compute=compute_sales_velocity,
    options=SalesVelocityOptions,
    extra_columns=("opportunities", "average_deal_size", "win_rate", "cycle_days", "won", "closed"),
    edge_rules=(
        "All four inputs use the same period: opportunities created in it (by default), deals closed in it for the rest.",
        "numerator = opportunities × deal size × win rate (expected won revenue), denominator = mean cycle in days.",
        "No won deal in a period (no deal size or cycle) → null and an issue, never 0.",
        "Not HubSpot's 'deal velocity' report (days to close): see sales_cycle_length and stage_duration.",
    ),
    optional={"deals": ("deal_id", "stage")},
))


# ------------------------------------------------------------------ D7 stage_duration


class StageDurationOptions(Options):
    """Options of ``stage_duration``."""

    reentries: Literal["separate", "sum_per_deal"] = Field(
        "separate", description="separate: each visit to a stage is one observation (default); sum_per_deal: a deal's visits to a stage are added up "
        "and dated by its last exit.")
    exclude_stages: list[str] = Field(default_factory=list, description="Stages left out (case-insensitive), e.g. terminal [\"Closed Won\", \"Closed Lost\"] rows "
                                      "that are entered and exited at once.")
    total: bool = Field(True, description="Add a '(total)' stage row: time in the pipeline per deal (sum of its visits), over deals whose last visit exited in the period.")
    headline: Literal["mean", "median"] = Field("mean", description="Which statistic is the value (median and p90 are always shown).")


def stage_duration_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per stage visit exited in the period (and per finished deal, stage '(total)'): _days and stage.

    Stage duration = mean days between entering and leaving a stage, per stage, over visits left in the period.

    Example: deal 1 Prospecting Mar 1 → Mar 5, Proposal Mar 5 → Mar 15 (won); deal 2
    Prospecting Mar 2 → Mar 8 (lost); deal 3 Prospecting Mar 1 → Mar 3, then still in
    Qualification → March: Prospecting (4 + 6 + 2) ÷ 3 = 4 days, Proposal 10; (total)
    over deals with no open visit: deal 1 = 14, deal 2 = 6 → 10.
    """
    import pandas as pd

    opts: StageDurationOptions = ctx.options  # type: ignore[assignment]
    df = ctx.frame
    no_stage = df["stage"].isna() | df["entered_at"].isna()
    if no_stage.any():
        ctx.row_issues(df[no_stage], "incomplete_stage_row", "stage history row without a stage or entered date; excluded",
                       "stage" if df.loc[no_stage, "stage"].isna().any() else "entered_at")
        df = df[~no_stage]
    if opts.exclude_stages:
        folded = {s.strip().casefold() for s in opts.exclude_stages}
        df = df[~df["stage"].astype(str).str.strip().str.casefold().isin(folded)]
    backwards = precedes(ctx, df["exited_at"], df["entered_at"])
    if backwards.any():
        ctx.row_issues(df[backwards], "negative_duration", "stage exited before it was entered; visit excluded", "exited_at")
        df = df[~backwards]
    df = df.assign(_days=days_between(ctx, df["exited_at"], df["entered_at"]))
    open_deals = set(df.loc[df["exited_at"].isna(), "deal_id"].dropna())
    # Open visits are normal (the deal is still in that stage); they are not durations yet.
    done = df[df["exited_at"].notna()]
    dims = [d for d in ctx.by if d != "stage"]
    if opts.reentries == "sum_per_deal":
        first = done.sort_values("exited_at", kind="stable").groupby(["deal_id", "stage", *dims], dropna=False, sort=False)
        done = first.tail(1).drop(columns=["_days"]).merge(first["_days"].sum().reset_index(), on=["deal_id", "stage", *dims])
    rows = ctx.flow_rows(done, "exited_at")
    if opts.total:
        per_deal = df[df["deal_id"].notna() & ~df["deal_id"].isin(open_deals)]
        last = per_deal.sort_values("exited_at", kind="stable").groupby("deal_id", sort=False).tail(1).drop(columns=["_days"])
        last = last.merge(per_deal.groupby("deal_id")["_days"].sum().reset_index(), on="deal_id").assign(stage="(total)")
        rows = pd.concat([rows, ctx.flow_rows(last, "exited_at")], ignore_index=True)
    return rows.assign(stage=rows["stage"].astype(str))


register(MetricSpec(
    name="stage_duration",
    title="Time in stage (deal velocity)",
    family=FAMILY,
    description="Average days deals spend in each pipeline stage (the Turkish 'deal velocity'), one row per stage, plus total time in the pipeline.",
    formula="per stage s: mean(exited_at − entered_at) in days over visits of s that exited in the period; "
            "(total): mean per-deal sum of visits; e.g. visits of 4 and 6 days → 5",
    entity="deal_stages",
    needs=("deal_id", "stage", "entered_at", "exited_at"),
    unit="days",
    better="lower",
    period_kind="FLOW",
    date_field="exited_at",
    rows=stage_duration_rows,
    shape=lambda opts: Mean("_days", headline=opts.headline, dims=("stage",), what="stage visits"),
    options=StageDurationOptions,
    extra_columns=("stage", "mean", "median", "p90"),
    edge_rules=(
        "Needs the deal_stages history (one row per stage entered); without it the metric is not computed.",
        "Open visits (no exited_at) are excluded; a visit exited before it was entered is an issue and excluded.",
        "Re-entries count as separate visits (default) or are summed per deal (reentries: sum_per_deal).",
        "The stage is a result column next to the --by dimensions; (total) is time in the pipeline of deals with no open visit.",
    ),
))
