"""Leads and before-the-sale activity: conversion, MQL and SQL rates, speed to lead, new
leads, demos and interactions per customer (METRICS.md D8–D11 and the "before the sale"
counts of the Turkish CRM-analytics article, background/004).

Lead rates are COHORT metrics: the leads created in a period are followed for as long as
the export reaches, and a lead counts once it *ever* reached a milestone (``mql_at``,
``sql_at``, ``converted_at``), never by its current status (HubSpot lifecycle stages
move backwards). A milestone dated before the lead was created is an issue; the lead
still counts as having reached it in the rates (it exists and converted, only the timing
is doubtful: Salesforce and HubSpot never drop it from the funnel) and is left out of
durations (speed to lead).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from crmmetrics.domain.deals import keep_last_rows
from crmmetrics.domain.spans import precedes, seconds_between
from crmmetrics.errors import ConfigError, Level
from crmmetrics.metrics.context import MetricContext
from crmmetrics.metrics.registry import MetricSpec, Options, register
from crmmetrics.metrics.sales import FAMILY, as_instants, lookup
from crmmetrics.metrics.shapes import CountSum, Mean, Ratio, Shape, distinct_per_cell

if TYPE_CHECKING:
    import pandas as pd

SECONDS = {"minutes": 60.0, "hours": 3600.0, "days": 86400.0}
PRODUCT_EVENT_TYPES = ("login", "feature_used", "feature_event", "page_view", "pageview", "session", "app_open")


def clean_leads(ctx: MetricContext) -> pd.DataFrame:
    """One row per lead_id (the last one), as exported; repeated ids are reported once."""
    return keep_last_rows(ctx, ctx.frame, "lead_id")


def _before_created(ctx: MetricContext, rows: pd.DataFrame, column: str, what: str, label: str | None = None, *,
                    drop: bool) -> pd.DataFrame:
    """Leads whose ``column`` precedes created_at: an issue each; with ``drop`` (a
    duration, which would be negative) also left out, else counted (a rate: the lead
    reached the milestone, only its timing is doubtful).

    ``label`` names a derived column (a conversion found through deals); the issue then
    points at the lead's created date, the cell the user can check in the leads export.
    """
    early = rows[column].notna() & precedes(ctx, rows[column], rows["created_at"])
    if early.any():
        name = label or column
        outcome = "lead excluded from this duration" if drop else "still counted as reached in the rate (only its timing is doubtful)"
        ctx.row_issues(rows[early], f"{what}_before_created", f"{name} is before the lead's created date; {outcome}",
                       "created_at" if label else column)
        if drop:
            rows = rows[~early]
    return rows


# ------------------------------------------------------------------ D8 lead_conversion_rate


class LeadConversionOptions(Options):
    """Options of ``lead_conversion_rate``."""

    basis: Literal["cohort", "period"] = Field(
        "cohort", description="cohort: leads created in the period that converted (at any time so far) ÷ leads created in the period (default); "
        "period: leads converted in the period ÷ leads created in the period (can exceed 100 %).")
    target: Literal["converted", "opportunity", "won_deal"] = Field(
        "converted", description="What counts as a conversion. converted: the CRM's own conversion (leads.converted_at, Salesforce ConvertedDate), "
        "or, when the leads export has no such column, the first won deal linked through deals.lead_id (as the Olist funnel is exported); "
        "opportunity: the first deal of any status linked through deals.lead_id (dated by its created_at); won_deal: the first won deal (dated by closed_at).")
    within_days: float | None = Field(None, gt=0, description="Count a conversion only if it happened within this many days of the lead's creation. Default: any time.")


def _conversions(ctx: MetricContext, leads: pd.DataFrame, target: str) -> tuple[pd.Series, str]:
    """Each lead's conversion instant (NaT if none) and where it came from."""
    if target == "converted" and ctx.mapped("converted_at"):
        return leads["converted_at"], "leads.converted_at"
    deals = ctx.other("deals")
    if deals is None or not ctx.mapped("lead_id", "deals"):
        what = "leads.converted_at or deals.lead_id" if target == "converted" else "deals.lead_id"
        raise ConfigError(f"lead_conversion_rate (target {target}) needs {what} mapped",
                          hint="map converted_at under sources.leads.fields, or a deals source with lead_id (and status, closed_at)")
    linked = deals[deals["lead_id"].notna()]
    if target == "opportunity":
        if not ctx.mapped("created_at", "deals"):
            raise ConfigError("lead_conversion_rate target opportunity needs deals.created_at mapped")
        when, source = linked.groupby("lead_id")["created_at"].min(), "first deal's created_at"
    else:
        if not {"status", "closed_at"} <= ctx.mapped_fields("deals"):
            raise ConfigError("lead_conversion_rate needs deals.status and deals.closed_at to find won deals (a constant status: won works for won-only exports)")
        won = linked[linked["status"] == "won"]
        when, source = won.groupby("lead_id")["closed_at"].min(), "first won deal's closed_at"
    return as_instants(ctx, lookup(leads["lead_id"], when)), source


def lead_conversion_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per lead created in the period (_den = 1, _num = 1 if it converted); basis
    period adds one row per conversion in the period (_num = 1, _den = 0).

    Lead conversion = leads created in the period that converted ÷ leads created in the period.

    Example: 10 leads created in March; 2 converted in March, 1 in May → cohort 3 ÷ 10 =
    30 % for March. Variant period: March has 2 conversions ÷ 10 created = 20 %.
    """
    import numpy as np
    import pandas as pd

    opts: LeadConversionOptions = ctx.options  # type: ignore[assignment]
    leads = clean_leads(ctx)
    target = opts.target
    converted, source = _conversions(ctx, leads, target)
    leads = leads.assign(_conv=converted)
    leads = _before_created(ctx, leads, "_conv", "conversion", f"the conversion ({source})", drop=False)
    if opts.within_days is not None:
        late = leads["_conv"] - leads["created_at"] > pd.Timedelta(days=opts.within_days)
        leads = leads.assign(_conv=leads["_conv"].where(~late))
    created = ctx.flow_rows(leads, "created_at")
    if opts.basis == "cohort":
        rows = created.assign(_num=created["_conv"].notna().astype("int64"), _den=np.int64(1))
    else:
        conv = ctx.flow_rows(leads[leads["_conv"].notna()], "_conv")
        rows = pd.concat([created.assign(_num=np.int64(0), _den=np.int64(1)), conv.assign(_num=np.int64(1), _den=np.int64(0))], ignore_index=True)
    ctx.in_force["conversion_from"] = source
    return rows


def n_is_leads(ctx: MetricContext, out: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """n = leads in the denominator, not the rows concatenated for the period basis."""
    out["n"] = out["leads"]
    return out


register(MetricSpec(
    name="lead_conversion_rate",
    title="Lead conversion rate",
    family=FAMILY,
    description="Share of the leads created in the period that converted (to a customer / deal, as named by target).",
    formula="leads created in the period with a conversion ÷ leads created in the period; e.g. 3 of 10 → 30 %",
    entity="leads",
    needs=("created_at",),
    unit="percent",
    better="higher",
    period_kind="COHORT",
    date_field="created_at",
    rows=lead_conversion_rows,
    shape=Ratio("_num", "_den", extras={"converted": "_num", "leads": "_den"}, what="leads created"),
    finish=n_is_leads,
    options=LeadConversionOptions,
    extra_columns=("converted", "leads"),
    edge_rules=(
        "A conversion is leads.converted_at when mapped; otherwise the first won deal linked through deals.lead_id (Olist's funnel export).",
        "A conversion dated before the lead's creation is an issue (its timing is doubtful) but still counts as a conversion, "
        "in numerator and denominator (Salesforce: converted leads ÷ leads, dates never compared).",
        "Recent cohorts are still converting: their rate rises as the export ages (cohort basis).",
    ),
    optional={"leads": ("lead_id", "converted_at"), "deals": ("lead_id", "status", "created_at", "closed_at")},
))


# ------------------------------------------------------------------ D9 mql_rate and D10 sql_rate


class MqlRateOptions(Options):
    """Options of ``mql_rate``."""

    count_later_stages: bool = Field(False, description="Also count leads with sql_at or converted_at but no mql_at as having reached MQL (a skipped stage). Default: mql_at only.")


def _reached(rows: pd.DataFrame, column: str, later: tuple[str, ...] = ()) -> pd.Series:
    hit = rows[column].notna()
    for col in later:  # declared: all null when unmapped
        hit |= rows[col].notna()
    return hit


def mql_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per lead created in the period; _mql = 1 if it ever reached MQL.

    MQL rate = leads created in the period that ever reached MQL ÷ leads created in the period.

    Example: 8 leads created in April, 3 have an mql_at (one of them later went back to
    'lead' in the CRM: still counted) → 3 ÷ 8 = 37.5 %.
    """
    import numpy as np

    opts: MqlRateOptions = ctx.options  # type: ignore[assignment]
    leads = _before_created(ctx, clean_leads(ctx), "mql_at", "mql", drop=False)
    rows = ctx.flow_rows(leads, "created_at")
    hit = _reached(rows, "mql_at", ("sql_at", "converted_at") if opts.count_later_stages else ())
    return rows.assign(_mql=hit.astype("int64"), _one=np.int64(1))


register(MetricSpec(
    name="mql_rate",
    title="MQL rate",
    family=FAMILY,
    description="Share of the leads created in the period that ever became marketing-qualified.",
    formula="leads created in the period with an mql_at ÷ leads created in the period; e.g. 3 of 8 → 37.5 %",
    entity="leads",
    needs=("created_at", "mql_at"),
    unit="percent",
    better="higher",
    period_kind="COHORT",
    date_field="created_at",
    rows=mql_rows,
    shape=Ratio("_mql", "_one", extras={"mqls": "_mql"}, what="leads created"),
    options=MqlRateOptions,
    extra_columns=("mqls",),
    edge_rules=(
        "'Ever reached' uses the mql_at timestamp, never the current lifecycle stage (stages can move backwards).",
        "An mql_at before the lead's created date is an issue; the lead still counts as an MQL.",
    ),
    optional={"leads": ("lead_id", "sql_at", "converted_at")},
))


class SqlRateOptions(Options):
    """Options of ``sql_rate``."""

    base: Literal["mql", "all"] = Field("mql", description="mql: of the leads created in the period that reached MQL, the share that reached SQL (default); "
                                        "all: SQLs ÷ all leads created in the period.")
    count_later_stages: bool = Field(False, description="A lead with sql_at (or converted_at) but no mql_at counts as having reached MQL (base mql), "
                                     "and one with converted_at but no sql_at as having reached SQL.")


def sql_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per lead created in the period; _base = 1 if it is in the base (reached MQL,
    or every lead with base all), _sql = 1 if it is in the base and reached SQL.

    SQL rate = of the leads created in the period that reached MQL, those that ever reached SQL.

    Example: 10 leads created in May, 4 reached MQL, 1 of those reached SQL → 1 ÷ 4 = 25 %;
    base all → 1 ÷ 10 = 10 %.
    """
    import numpy as np

    opts: SqlRateOptions = ctx.options  # type: ignore[assignment]
    leads = _before_created(ctx, clean_leads(ctx), "sql_at", "sql", drop=False)
    if opts.base == "mql" and not ctx.mapped("mql_at"):
        raise ConfigError("sql_rate base mql needs leads.mql_at mapped", hint="map mql_at, or set metrics.sql_rate.base: all")
    rows = ctx.flow_rows(leads, "created_at")
    later = opts.count_later_stages
    sql = _reached(rows, "sql_at", ("converted_at",) if later else ())
    if opts.base == "mql":
        mql = _reached(rows, "mql_at", ("sql_at", "converted_at") if later else ())
        return rows.assign(_sql=(sql & mql).astype("int64"), _base=mql.astype("int64"))
    return rows.assign(_sql=sql.astype("int64"), _base=np.int64(1))


def sql_shape(opts: SqlRateOptions) -> Shape:
    """SQLs ÷ the base; the no-data wording names the base."""
    return Ratio("_sql", "_base", extras={"sqls": "_sql"}, what="leads that reached MQL" if opts.base == "mql" else "leads created")


def n_is_denominator(ctx: MetricContext, out: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """n = the base the rate is over (the denominator), not every lead created."""
    out["n"] = out["denominator"]
    return out


register(MetricSpec(
    name="sql_rate",
    title="SQL rate (MQL → SQL)",
    family=FAMILY,
    description="Of the leads created in the period that reached MQL, the share that ever became sales-qualified.",
    formula="leads created in the period with mql_at and sql_at ÷ those with mql_at; e.g. 1 of 4 → 25 %",
    entity="leads",
    needs=("created_at", "sql_at"),
    unit="percent",
    better="higher",
    period_kind="COHORT",
    date_field="created_at",
    rows=sql_rows,
    shape=sql_shape,
    finish=n_is_denominator,
    options=SqlRateOptions,
    extra_columns=("sqls",),
    edge_rules=(
        "'Ever reached' uses timestamps (mql_at, sql_at), not the current stage.",
        "An sql_at before the lead's created date is an issue; the lead still counts as an SQL.",
        "A cohort without MQLs → null and an issue.",
    ),
    optional={"leads": ("lead_id", "mql_at", "converted_at")},
))


# ------------------------------------------------------------------ D11 lead_response_time


class LeadResponseOptions(Options):
    """Options of ``lead_response_time``."""

    source: Literal["auto", "leads", "activities"] = Field(
        "auto", description="auto: leads.first_response_at where present, else the first outbound human activity on the lead (default); "
        "leads: first_response_at only; activities: activities only.")
    sla_hours: float = Field(24.0, gt=0, description="Service level: a lead answered within this many hours is on time (Turkish source: 24 h).")
    unit: Literal["minutes", "hours", "days"] = Field("hours", description="Unit of the durations.")
    headline: Literal["median", "mean"] = Field("median", description="Which statistic is the value (median by default; the Turkish source averages).")
    exclude_actor_types: list[str] = Field(default_factory=lambda: ["bot", "system"], description="Activities by these actors are not a response (auto-replies).")
    activity_types: list[str] | None = Field(None, description="Only these activity types count as a response (e.g. [call, email]). Default: any type.")
    schedule: str | None = Field(None, description="A business_hours schedule name: durations and the SLA in business time of that schedule "
                                 "(a lead created on Friday evening and answered Monday 10:00 waited 1 business hour). Default: calendar time.")


def _first_activity(ctx: MetricContext, leads: pd.DataFrame, opts: LeadResponseOptions) -> pd.Series | None:
    """Each lead's earliest outbound human activity at or after its creation (None without activities)."""
    acts = ctx.other("activities")
    if acts is None or not {"lead_id", "occurred_at"} <= ctx.mapped_fields("activities"):
        return None
    a = acts[acts["lead_id"].notna() & acts["occurred_at"].notna()]
    if ctx.mapped("direction", "activities"):
        a = a[a["direction"] == "outbound"]
    else:
        ctx.issue("direction_unknown", "activities.direction is not mapped: every activity on a lead is taken as a response", Level.INFO)
    if opts.exclude_actor_types:  # a blank or unmapped actor is never excluded
        a = a[~a["actor_type"].isin(opts.exclude_actor_types)]
    if opts.activity_types:
        if not ctx.mapped("type", "activities"):
            raise ConfigError("lead_response_time activity_types needs activities.type mapped")
        a = a[a["type"].astype(str).str.casefold().isin({t.casefold() for t in opts.activity_types})]
    m = a[["lead_id", "occurred_at"]].merge(leads[["lead_id", "created_at"]].dropna(), on="lead_id")
    # Touches before the lead existed (a cold e-mail answered by a form) are not responses to it.
    m = m[m["occurred_at"] >= m["created_at"]]
    return as_instants(ctx, lookup(leads["lead_id"], m.groupby("lead_id")["occurred_at"].min()))


def lead_response_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per lead created in the period: _dur (null when unanswered) and 0/1 flags
    _lead, _unanswered, _pending and _within (answered within the SLA).

    Lead response time = first human response − lead created, per lead; median headline.

    Example: leads created in June answered after 1 h, 2 h, 30 h and one unanswered →
    median 2 h, mean 11 h; within 24 h: 2 of 4 leads = 50 % (the unanswered lead is a
    miss; a lead created less than 24 h before the as-of day ends is 'pending' instead).
    """
    import datetime as dt

    import numpy as np
    import pandas as pd

    opts: LeadResponseOptions = ctx.options  # type: ignore[assignment]
    leads = clean_leads(ctx)
    own = leads["first_response_at"] if ctx.mapped("first_response_at") and opts.source != "activities" else None
    from_acts = _first_activity(ctx, leads, opts) if opts.source != "leads" else None
    if own is None and from_acts is None:
        raise ConfigError("lead_response_time needs leads.first_response_at or an activities source with lead_id and occurred_at",
                          hint="source: leads needs first_response_at; source: activities needs activities.lead_id")
    if own is not None and from_acts is not None:
        first = own.fillna(from_acts)
    else:
        first = own if own is not None else from_acts
    leads = _before_created(ctx, leads.assign(_first=first), "_first", "response", "the first response", drop=True)
    rows = ctx.flow_rows(leads, "created_at")
    secs = seconds_between(ctx, rows["_first"], rows["created_at"])
    if opts.schedule:
        from crmmetrics.domain import business_hours

        # The shared business-hours engine (METRICS.md E0); same-day bare dates stay 0.
        clamped = rows["_first"].where(secs.isna() | (secs > 0), rows["created_at"])
        minutes = business_hours.elapsed(ctx, rows.assign(_first=clamped), "created_at", "_first", opts.schedule)
        secs = minutes * 60.0
    sla = opts.sla_hours * 3600.0
    as_of_end = pd.Timestamp(ctx.grid.horizon)
    unanswered = rows["_first"].isna()
    # An unanswered lead whose SLA window has not run out by the end of the as-of day is not a miss yet.
    pending = unanswered & (ctx.local(rows["created_at"]) + pd.Timedelta(seconds=sla) > as_of_end)
    source = ("leads.first_response_at, then activities" if own is not None and from_acts is not None
              else "leads.first_response_at" if own is not None else "activities")
    ctx.in_force.update(response_from=source, measured_in=f"business {opts.unit} ({opts.schedule})" if opts.schedule else f"calendar {opts.unit}")
    return rows.assign(_dur=secs / SECONDS[opts.unit], _lead=np.int64(1), _unanswered=unanswered.astype("int64"),
                       _pending=pending.astype("int64"), _within=(secs <= sla).astype("int64"))


def lead_response_shape(opts: LeadResponseOptions) -> Shape:
    """Statistics of the answered leads' durations in the chosen unit, the headline as value."""
    return Mean("_dur", headline=opts.headline, unit=opts.unit, what="answered leads",
                extras={"leads": "_lead", "unanswered": "_unanswered", "pending": "_pending", "within_sla": "_within"})


def sla_rate(ctx: MetricContext, out: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """sla_rate = answered within the SLA ÷ leads whose SLA window has closed (leads − pending)."""
    due = out["leads"] - out["pending"]
    out["sla_rate"] = out["within_sla"] / due.where(due > 0)
    return out


register(MetricSpec(
    name="lead_response_time",
    title="Lead response time (speed to lead)",
    family=FAMILY,
    description="Time from a lead's creation to the first human response, over the leads created in the period; median headline, "
                "mean, p90 and the share answered within the SLA beside it.",
    formula="median(first_response_at − created_at) over answered leads created in the period; "
            "sla_rate = answered within sla_hours ÷ (leads − pending); e.g. 1 h, 2 h, 30 h, unanswered → median 2 h, SLA 24 h 50 %",
    entity="leads",
    needs=("created_at",),
    unit="hours",
    better="lower",
    period_kind="COHORT",
    date_field="created_at",
    rows=lead_response_rows,
    shape=lead_response_shape,
    finish=sla_rate,
    options=LeadResponseOptions,
    extra_columns=("mean", "median", "p90", "leads", "unanswered", "pending", "within_sla", "sla_rate"),
    edge_rules=(
        "First response = leads.first_response_at, or the earliest outbound activity on the lead by a human (bots and system messages excluded) "
        "at or after the lead's creation.",
        "Unanswered leads are not in the durations; they count as SLA misses (unanswered), or as pending while their SLA window is still open.",
        "A first response before the lead's creation is an issue and the lead is excluded.",
        "Calendar time by default; with schedule, business time of a business_hours schedule (holidays closed), the SLA included.",
    ),
    optional={"leads": ("lead_id", "first_response_at"), "activities": ("lead_id", "occurred_at", "direction", "actor_type", "type")},
))


# ------------------------------------------------------------------ new_leads


class NewLeadsOptions(Options):
    """Options of ``new_leads``."""

    exclude_statuses: list[str] = Field(default_factory=list, description="Lead statuses not counted (case-insensitive), e.g. [duplicate, spam].")


def new_leads_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per lead created in the period (repeated ids once, excluded statuses left out).

    New leads = leads created in the period (the Turkish article's "yeni potansiyel müşteriler").

    Example: leads created Jan 5, Jan 9 and Feb 1 → January 2, February 1; an empty month is 0.
    """
    opts: NewLeadsOptions = ctx.options  # type: ignore[assignment]
    leads = clean_leads(ctx)
    if opts.exclude_statuses:
        if not ctx.mapped("status"):
            raise ConfigError("new_leads exclude_statuses needs leads.status mapped")
        leads = leads[~leads["status"].astype(str).str.casefold().isin({s.casefold() for s in opts.exclude_statuses})]
    return ctx.flow_rows(leads, "created_at")


register(MetricSpec(
    name="new_leads",
    title="New leads",
    family=FAMILY,
    description="Number of leads that entered the funnel in the period.",
    formula="count of leads with created_at in the period",
    entity="leads",
    needs=("created_at",),
    unit="count",
    better="higher",
    period_kind="FLOW",
    date_field="created_at",
    rows=new_leads_rows,
    shape=CountSum(what="leads"),
    options=NewLeadsOptions,
    edge_rules=("A period without leads is 0, not null; repeated lead_ids count once.",),
    optional={"leads": ("lead_id", "status")},
))


# ------------------------------------------------------------------ demos and interactions (activities)


class DemosOptions(Options):
    """Options of ``demos``."""

    types: list[str] = Field(default_factory=lambda: ["demo"], description="Activity types that are value demonstrations (case-insensitive).")
    exclude_actor_types: list[str] = Field(default_factory=lambda: ["bot", "system"], description="Actors whose activities never count.")


def _typed_activities(ctx: MetricContext, types: list[str] | None, exclude: list[str] | None) -> pd.DataFrame:
    df = ctx.frame
    if exclude:  # a blank or unmapped actor is never excluded
        df = df[~df["actor_type"].isin(exclude)]
    if types:
        if not ctx.mapped("type"):
            raise ConfigError(f"{ctx.spec.name} needs activities.type mapped to pick activity types")
        df = df[df["type"].astype(str).str.strip().str.casefold().isin({t.strip().casefold() for t in types})]
    return df


def demos_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per demo activity in the period.

    Demos = activities of a demo type in the period ("değer gösterimleri").
    Example: types [demo]: a demo on Mar 2, a call on Mar 3 and a demo on Apr 7 →
    March 1, April 1. ``deals`` and ``customers`` count the distinct ones demoed to.
    """
    opts: DemosOptions = ctx.options  # type: ignore[assignment]
    return ctx.flow_rows(_typed_activities(ctx, opts.types, opts.exclude_actor_types))


def demoed_to(ctx: MetricContext, out: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """deals and customers: the distinct ones demoed to per period × segment (not a sum of rows)."""
    return distinct_per_cell(ctx, out, rows, {"deals": "deal_id", "customers": "customer_id"})


register(MetricSpec(
    name="demos",
    title="Demos (value demonstrations)",
    family=FAMILY,
    description="Number of demo activities held in the period; compare with deals won for a demo-to-close rate.",
    formula="count of activities whose type is in types (default: demo) with occurred_at in the period",
    entity="activities",
    needs=("occurred_at", "type"),
    unit="count",
    better="higher",
    period_kind="FLOW",
    date_field="occurred_at",
    rows=demos_rows,
    shape=CountSum(what="demos"),
    finish=demoed_to,
    options=DemosOptions,
    extra_columns=("deals", "customers"),
    edge_rules=("Types match case-insensitively; bot and system activities never count.", "A period without demos is 0."),
    optional={"activities": ("actor_type", "deal_id", "customer_id")},
))


class InteractionsOptions(Options):
    """Options of ``interactions_per_customer``."""

    types: list[str] | None = Field(None, description="Activity types that are interactions. Default: every type except product-usage events "
                                    "(login, feature_used, page_view, ...), see exclude_types.")
    exclude_types: list[str] = Field(default_factory=lambda: list(PRODUCT_EVENT_TYPES), description="Types that are product usage, not touchpoints (ignored when types is set).")
    exclude_actor_types: list[str] = Field(default_factory=lambda: ["bot", "system"], description="Automated messages are not interactions.")


def interactions_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per touchpoint in the period (_one = 1); _cust = 1 on each customer's first
    touchpoint per period × segment (the denominator counts customers once).

    Interactions per customer = touchpoints in the period ÷ customers touched in the period.

    Example: March has 3 activities with C1 and 1 with C2 (plus a login by C1, a product
    event, not a touchpoint) → 4 ÷ 2 = 2.0 interactions per customer.
    """
    import numpy as np

    opts: InteractionsOptions = ctx.options  # type: ignore[assignment]
    df = _typed_activities(ctx, opts.types, opts.exclude_actor_types)
    if not opts.types and opts.exclude_types and ctx.mapped("type"):
        df = df[~df["type"].astype(str).str.strip().str.casefold().isin({t.casefold() for t in opts.exclude_types})]
    no_customer = df["customer_id"].isna()
    if no_customer.any():
        ctx.issue("no_customer", f"{int(no_customer.sum())} activities without customer_id (leads, anonymous) are not customer interactions",
                  Level.INFO, count=int(no_customer.sum()), field="customer_id")
    rows = ctx.flow_rows(df[~no_customer])
    # The first row of each customer in a period × segment carries the 1 of the denominator.
    first = ~rows.duplicated(["_period", *ctx.by, "customer_id"])
    return rows.assign(_one=np.int64(1), _cust=first.astype("int64"))


register(MetricSpec(
    name="interactions_per_customer",
    title="Interactions per customer",
    family=FAMILY,
    description="Average number of touchpoints (e-mails, calls, meetings, demos, ...) per customer interacted with in the period.",
    formula="activities linked to a customer in the period ÷ distinct customers among them; e.g. 4 touches with 2 customers → 2.0",
    entity="activities",
    needs=("occurred_at", "customer_id"),
    unit="ratio",
    better="none",
    period_kind="FLOW",
    date_field="occurred_at",
    rows=interactions_rows,
    shape=Ratio("_one", "_cust", unit="ratio", extras={"interactions": "_one", "customers": "_cust"}, what="customers with interactions"),
    options=InteractionsOptions,
    extra_columns=("interactions", "customers"),
    edge_rules=(
        "Product-usage events (login, feature_used, ...) and bot/system messages are not interactions by default.",
        "Activities without customer_id (lead touches) are left out and counted in an info issue.",
        "Per segment (--by), a customer is counted once per segment and period.",
    ),
    optional={"activities": ("type", "actor_type")},
))
