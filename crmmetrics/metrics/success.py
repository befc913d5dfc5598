"""Customer success and product usage: engagement, DAU/MAU, stickiness, time to value,
health score (METRICS.md G1–G6).

"Active" is always defined, never assumed: an activity qualifies when its type is in
the metric's ``events`` list (every type when unset) and its actor is not an agent,
bot or system (bots never make a user active). Customers and users are counted once
per day, period or window; empty days count as zero in DAU, so a quiet weekend lowers
the average as it should.

The health score (G1) is a weighted mean of component scores, each normalised to
0–100 by a documented linear rule between the raw value that scores 0 (``zero_at``)
and the one that scores 100 (``full_at``); a component a customer has no data for is
dropped and the weights re-normalised (Gainsight), or counted as 0 (``missing: zero``).
Bands follow Gainsight's 0–50 red, 51–75 yellow, 76–100 green.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from crmmetrics.domain.activity import (ACTIVITY_FIELDS, ActivityOptions, HealthOptions, HealthScorer, data_end,
                                        qualifying, scoring_instant)
from crmmetrics.errors import ConfigError, Level
from crmmetrics.metrics.context import PERIOD_COL, MetricContext, MetricOutput
from crmmetrics.metrics.registry import MetricSpec, Options, register
from crmmetrics.metrics.shapes import Mean, Ratio, Shape, complete_grid, group_keys, period_starts

if TYPE_CHECKING:
    import pandas as pd

FAMILY = "customer success"


def _activities(ctx: MetricContext, fields: tuple[str, ...]) -> pd.DataFrame:
    """The activities frame with ``fields`` mapped, or a ConfigError naming what is missing."""
    acts = ctx.frame if ctx.spec.entity == "activities" else ctx.other("activities")
    missing = [f for f in fields if acts is None or not ctx.mapped(f, "activities")]
    if missing:
        raise ConfigError(f"{ctx.spec.name} needs activities.{', activities.'.join(missing)} mapped",
                          hint="map the activity export under sources.activities")
    return acts


def _report_no_customer(ctx: MetricContext, acts: pd.DataFrame, what: str) -> pd.DataFrame:
    """Qualifying activities without customer_id: an issue per row; the rest is returned."""
    blank = acts["customer_id"].isna()
    if blank.any():
        ctx.dataset.row_issues(acts[blank], "missing_customer_id", f"activity without customer_id; left out of {what}",
                               entity="activities", fieldname="customer_id", metric=ctx.spec.name)
    return acts[~blank]


def _local_day(ctx: MetricContext, col: pd.Series) -> pd.Series:
    return ctx.local(col).dt.normalize()


# ------------------------------------------------------------------ G3 engagement rate


class EngagementOptions(ActivityOptions):
    """Options of ``engagement_rate``."""

    min_events: int = Field(1, ge=1, description="Qualifying activities a customer needs in the period to count as engaged.")
    base: Literal["customers", "paying"] = Field("customers", description="Active base at P.start: customers created before it (customers) or paying before it (first_paid_at), not churned by then.")
    variant: Literal["rate", "per_customer"] = Field("rate", description="rate: engaged ÷ base (default); per_customer: qualifying activities of the base ÷ base.")


def _base_at(customers: pd.DataFrame, start_col: str, start: dt.datetime, ctx: MetricContext) -> pd.Series:
    """Customers active at ``start``: began before it and not churned before it.

    The state after every event before ``start`` (the rule of the MRR stock and of the
    churn-rate base): a churn dated exactly at ``start`` (a bare date) belongs to the
    period, so that customer is in the base it churns from.
    """
    import pandas as pd

    began = ctx.local(customers[start_col]) < pd.Timestamp(start)
    churned = ctx.local(customers["churned_at"])  # all NaT when unmapped: nobody churned
    began &= churned.isna() | (churned >= pd.Timestamp(start))
    return began


def engagement_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per customer of each period's active base: _events (qualifying activities
    in the period), _engaged (1 with ≥ min_events), _one.

    Engagement rate = base customers with ≥ min_events qualifying activities in P ÷ base.

    The base is fixed at P.start (customers who began before it and had not churned).
    Example: 4 customers active on 1 March; in March A logs in 3 times, B once, C and D
    never → min_events 1: 2 ÷ 4 = 50 %; min_events 2: 1 ÷ 4 = 25 %.
    """
    import numpy as np
    import pandas as pd

    opts: EngagementOptions = ctx.options  # type: ignore[assignment]
    start_col = "first_paid_at" if opts.base == "paying" else "created_at"
    customers = ctx.frame
    if not ctx.mapped(start_col):
        raise ConfigError(f"engagement_rate base {opts.base} needs customers.{start_col} mapped")
    customers = customers[customers["customer_id"].notna()].drop_duplicates("customer_id")
    acts = qualifying(_activities(ctx, ("customer_id", "occurred_at")), opts)
    acts = ctx.flow_rows(_report_no_customer(ctx, acts, "engagement_rate"), "occurred_at")
    unknown = ~acts["customer_id"].isin(customers["customer_id"])
    if unknown.any():
        ctx.issue("unknown_customer", f"{int(unknown.sum())} qualifying activities of customers not in customers left out", Level.INFO, count=int(unknown.sum()))
    counts = acts[~unknown].groupby([PERIOD_COL, "customer_id"]).size()
    parts = []
    for start in period_starts(ctx, acts):
        start = pd.Timestamp(start)
        base = customers[_base_at(customers, start_col, start.to_pydatetime(), ctx).to_numpy()]
        per = counts.xs(start, level=PERIOD_COL) if start in counts.index.get_level_values(0) else pd.Series(dtype="int64")
        events = base["customer_id"].map(per).fillna(0).astype("int64")
        parts.append(base.assign(**{PERIOD_COL: start, "_events": events.to_numpy(), "_engaged": (events >= opts.min_events).astype("int64").to_numpy(), "_one": np.int64(1)}))
    return pd.concat(parts, ignore_index=True) if parts else customers.iloc[0:0].assign(**{PERIOD_COL: pd.Series(dtype="datetime64[ns]"), "_events": 0, "_engaged": 0, "_one": 0})


def engagement_shape(opts: EngagementOptions) -> Shape:
    """engaged ÷ base (rate), or qualifying activities of the base ÷ base (per_customer)."""
    rate = opts.variant == "rate"
    return Ratio("_engaged" if rate else "_events", "_one", unit="percent" if rate else "ratio",
                 extras={"engaged": "_engaged", "events": "_events"}, what="customers in the active base")


register(MetricSpec(
    name="engagement_rate",
    title="Engagement rate",
    family=FAMILY,
    description="Share of the customers active at the period start who had at least min_events qualifying activities in the period.",
    formula="base customers with ≥ min_events qualifying activities in P ÷ customers active at P.start",
    entity="customers",
    needs=("customer_id", "created_at"),
    unit="percent",
    better="higher",
    period_kind="BASE",
    date_field="created_at",
    rows=engagement_rows,
    shape=engagement_shape,
    options=EngagementOptions,
    extra_columns=("engaged", "events"),
    edge_rules=(
        "No trusted anchor defines it uniformly (METRICS.md G3); the base and the qualifying events are options.",
        "Base: customers who began before P.start and had not churned by then; customers joining during P are not in it.",
        "Qualifying activities: type in events (all when unset); actor agent, bot or system never counts.",
        "Activities without customer_id are issues per row; activities of customers missing from customers are counted and left out.",
        "Periods come from the activities' dates (or --since/--until); an empty base gives null and an issue.",
    ),
    optional={"customers": ("first_paid_at", "churned_at"), "activities": ACTIVITY_FIELDS},
))


# ------------------------------------------------------------------ G4–G6 DAU, MAU, stickiness


class UsageOptions(ActivityOptions):
    """Options of ``dau``, ``mau`` and ``stickiness``."""

    window: Literal["period", "rolling30"] = Field("period", description="MAU window: period = distinct users in the period (with -p month, the calendar month; default); rolling30 = the 30 days ending at the period's last day.")


def _usage_rows(ctx: MetricContext) -> tuple[pd.DataFrame, Any, Any, pd.DataFrame]:
    """Qualifying activities with a user, dated in range, the first and last day covered,
    and every qualifying activity with a user and its ``_day`` (a rolling window that
    starts before --since reaches back into these)."""
    import pandas as pd

    opts: UsageOptions = ctx.options  # type: ignore[assignment]
    acts = qualifying(_activities(ctx, ("user_id", "occurred_at")), opts)
    no_user = acts["user_id"].isna()
    if no_user.any():
        ctx.row_issues(acts[no_user], "missing_user_id", "qualifying activity without user_id; left out of active users", "user_id")
    pool = acts[~no_user]
    pool = pool.assign(_day=_local_day(ctx, pool["occurred_at"]))
    rows = ctx.flow_rows(pool, "occurred_at")
    if rows.empty:
        ctx.issue("no_data", "no qualifying activity with a user in the selected range; no active users")
    lo = pd.Timestamp(ctx.since) if ctx.since else (rows["_day"].min() if len(rows) else None)
    if ctx.until:
        # Days after the as-of day have not happened yet: they are not zero-user days.
        hi = pd.Timestamp(ctx.grid.stop) - pd.Timedelta(days=1)
    else:
        hi = rows["_day"].max() if len(rows) else None
    return rows, lo, hi, pool


def _period_end(ctx: MetricContext, start: Any, hi: Any) -> Any:
    """Exclusive end of the period starting at ``start``, capped at the day after ``hi``."""
    import pandas as pd

    return min(pd.Timestamp(ctx.grid.end(start)), hi + pd.Timedelta(days=1))


def _dau_table(ctx: MetricContext, rows: pd.DataFrame, lo: Any, hi: Any) -> pd.DataFrame:
    """Per period and dimension: user-days (numerator), covered days (denominator), users."""
    import pandas as pd

    keys = group_keys(ctx)
    if len(rows):
        user_days = rows.drop_duplicates([*keys, "user_id", "_day"]).groupby(keys, dropna=False).size().rename("numerator")
        users = rows.drop_duplicates([*keys, "user_id"]).groupby(keys, dropna=False).size().rename("active_users")
        grouped = pd.concat([user_days, users], axis=1).reset_index()
    else:
        grouped = pd.DataFrame({k: pd.Series(dtype=object) for k in [*keys, "numerator", "active_users"]})
    grouped["n"] = 0
    grouped = complete_grid(ctx, grouped, rows)
    grouped["active_users"] = pd.to_numeric(grouped["active_users"]).fillna(0).astype("int64")
    days = {}
    for start in grouped[PERIOD_COL].drop_duplicates():
        first = max(pd.Timestamp(start), lo)
        days[start] = max(0, (_period_end(ctx, start, hi) - first).days)
    grouped["denominator"] = grouped[PERIOD_COL].map(days).astype("int64")
    grouped["n"] = grouped["denominator"]
    return grouped


def _mau_table(ctx: MetricContext, rows: pd.DataFrame, lo: Any, hi: Any, window: str, pool: pd.DataFrame) -> pd.DataFrame:
    """Per period and dimension: distinct active users in the MAU window.

    ``rolling30`` looks at the 30 days ending at each period's last day in ``pool`` (all
    qualifying activities), so the first week after --since still sees the 23 days before it.
    """
    import pandas as pd

    keys = group_keys(ctx)
    if window == "period" or not len(rows):
        if len(rows):
            grouped = rows.drop_duplicates([*keys, "user_id"]).groupby(keys, dropna=False).size().rename("mau").reset_index()
        else:
            grouped = pd.DataFrame({k: pd.Series(dtype=object) for k in [*keys, "mau"]})
        grouped["n"] = 0
        grouped = complete_grid(ctx, grouped, rows)
    else:
        parts = []
        for start in period_starts(ctx, rows):
            end = _period_end(ctx, start, hi)
            inside = pool[(pool["_day"] >= end - pd.Timedelta(days=30)) & (pool["_day"] < end)]
            inside = inside.assign(**{PERIOD_COL: pd.Timestamp(start)})
            part = inside.drop_duplicates([*ctx.by, "user_id"]).groupby(keys, dropna=False).size().rename("mau").reset_index()
            parts.append(part)
        grouped = pd.concat(parts, ignore_index=True)
        grouped["n"] = 0
        grouped = complete_grid(ctx, grouped, rows)
    grouped["mau"] = pd.to_numeric(grouped["mau"]).fillna(0).astype("int64")
    return grouped


def compute_dau(ctx: MetricContext) -> MetricOutput:
    """DAU = mean over the days of P of distinct active users per day (empty days count 0).

    Example: a 30-day April where users u1, u2 are active every day and u3 on 15 days →
    (30 × 2 + 15) ÷ 30 = 2.5.
    """
    rows, lo, hi, _ = _usage_rows(ctx)
    out = _dau_table(ctx, rows, lo, hi)
    out["value"] = out["numerator"] / out["denominator"].where(out["denominator"] > 0)
    out["unit"] = "count"
    if out["value"].isna().any():
        ctx.issue("zero_denominator", "periods without covered days have a null DAU", count=int(out["value"].isna().sum()))
    return MetricOutput(out, {"days": f"{lo:%Y-%m-%d} .. {hi:%Y-%m-%d}" if lo is not None and hi is not None else "none"})


def compute_mau(ctx: MetricContext) -> MetricOutput:
    """MAU = distinct active users in the period (or in the 30 days ending at its last day).

    Example: users u1, u2, u3 active at least once in April → MAU 3, whatever their DAU.
    """
    opts: UsageOptions = ctx.options  # type: ignore[assignment]
    rows, lo, hi, pool = _usage_rows(ctx)
    if opts.window == "period" and ctx.grain not in ("month", "all"):
        ctx.issue("mau_window", f"mau with window period over {ctx.grain}s counts distinct users per {ctx.grain}; "
                  "use -p month or window rolling30 for a monthly figure", Level.INFO)
    out = _mau_table(ctx, rows, lo, hi, opts.window, pool)
    out["value"] = out["mau"].astype("float64")
    out["numerator"] = out["mau"]
    out["denominator"] = float("nan")  # a count has no denominator
    out["n"] = out["mau"]
    out["unit"] = "count"
    return MetricOutput(out.drop(columns=["mau"]))


def stickiness_ratio(avg_dau: float, mau: float) -> float | None:
    """DAU ÷ MAU, or None when MAU is 0. METRICS.md WX23: 15,000 ÷ 50,000 = 0.30."""
    return None if not mau else avg_dau / mau


def compute_stickiness(ctx: MetricContext) -> MetricOutput:
    """Stickiness = average DAU over P ÷ MAU of P.

    Example (METRICS.md WX23): DAU 15,000 and MAU 50,000 → 30 % (about 9 active days a
    month per user).
    """
    import pandas as pd

    opts: UsageOptions = ctx.options  # type: ignore[assignment]
    rows, lo, hi, pool = _usage_rows(ctx)
    dau = _dau_table(ctx, rows, lo, hi)
    mau = _mau_table(ctx, rows, lo, hi, opts.window, pool)
    keys = group_keys(ctx)
    dau["dau"] = dau["numerator"] / dau["denominator"].where(dau["denominator"] > 0)
    out = dau[[*keys, "dau", "denominator"]].rename(columns={"denominator": "days"}).merge(mau[[*keys, "mau"]], on=keys, how="outer")
    out["mau"] = pd.to_numeric(out["mau"]).fillna(0).astype("int64")
    out["numerator"] = out["dau"]
    out["denominator"] = out["mau"]
    out["value"] = out["numerator"] / out["denominator"].where(out["denominator"] > 0)
    out["n"] = pd.to_numeric(out["days"]).fillna(0).astype("int64")
    out["unit"] = "percent"
    out = out.drop(columns=["days"]).sort_values(keys, kind="stable").reset_index(drop=True)
    if out["value"].isna().any():
        ctx.issue("zero_denominator", f"{int(out['value'].isna().sum())} period/segment cells have no active users; their stickiness is null",
                  count=int(out["value"].isna().sum()))
    return MetricOutput(out)


_USAGE_RULES = (
    "Active: a qualifying activity (type in events, all when unset; actor agent, bot or system never counts) with a user_id.",
    "Qualifying activities without user_id are issues per row.",
    "Days covered: from --since (or the first active day) to --until (or the last active day); a period's days outside that range are not counted.",
)

# What the three usage metrics share; each registration below spreads it (one style: register(MetricSpec(...))).
USAGE_SPEC: dict[str, Any] = dict(
    family=FAMILY, entity="activities", needs=("user_id", "occurred_at"), better="higher", period_kind="FLOW", date_field="occurred_at",
    options=UsageOptions, edge_rules=_USAGE_RULES, optional={"activities": ("type", "actor_type")},
)

register(MetricSpec(
    name="dau",
    title="Daily active users (DAU)",
    description="Average number of distinct active users per day over the period; days without activity count as 0.",
    formula="Σ over days d in P of distinct active users on d ÷ days in P",
    unit="count",
    compute=compute_dau,
    extra_columns=("active_users",),
    **USAGE_SPEC,
))

register(MetricSpec(
    name="mau",
    title="Monthly active users (MAU)",
    description="Distinct active users in the period (window period) or in the 30 days ending at its last day (rolling30).",
    formula="count(distinct users active in the window)",
    unit="count",
    compute=compute_mau,
    **USAGE_SPEC,
))

register(MetricSpec(
    name="stickiness",
    title="Stickiness (DAU/MAU)",
    description="Average DAU over the period divided by the period's MAU.",
    formula="avg DAU over P ÷ MAU of P",
    unit="percent",
    compute=compute_stickiness,
    extra_columns=("dau", "mau"),
    **USAGE_SPEC,
))


# ------------------------------------------------------------------ G2 time to value


class TimeToValueOptions(ActivityOptions):
    """Options of ``time_to_value``."""

    start: Literal["created", "first_paid"] = Field("created", description="Start event: signup (customers.created_at) or first payment (customers.first_paid_at).")
    milestone: Literal["activated_at", "event"] = Field("activated_at", description="Value milestone: customers.activated_at, or the customer's first activity of a type in events (event).")
    unit: Literal["hours", "days"] = Field("days", description="Unit of the value, mean, median and p90.")
    headline: Literal["median", "mean"] = Field("median", description="Which statistic is the value; the others are in the row.")
    within_days: float = Field(30.0, gt=0, description="pct_within = customers of the cohort reaching the milestone within this many days ÷ cohort size.")


def time_to_value_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per customer starting in P: _dur (null when censored or backwards) and 0/1
    flags _censored (not at the milestone yet), _within (reached within within_days), _cohort.

    Time to value = milestone − start per customer; median over customers starting in P.

    Cohort view: customers are dated by their start. Customers who have not reached the
    milestone yet are censored (left out of the median, counted in not_reached).
    Example: signups on 1 March reaching value after 2, 4 and 9 days, a fourth not yet
    → median 4 days, not_reached 1, pct_within (7 days) 2 ÷ 4 = 50 %.
    """
    import pandas as pd

    opts: TimeToValueOptions = ctx.options  # type: ignore[assignment]
    start_col = "first_paid_at" if opts.start == "first_paid" else "created_at"
    customers = ctx.frame
    if not ctx.mapped(start_col):
        raise ConfigError(f"time_to_value start {opts.start} needs customers.{start_col} mapped")
    if opts.milestone == "activated_at":
        if not ctx.mapped("activated_at"):
            raise ConfigError("time_to_value needs customers.activated_at mapped (or milestone: event with activities)")
        milestone = customers["activated_at"]
    else:
        if opts.events is None:
            raise ConfigError("time_to_value milestone event needs metrics.time_to_value.events (the activity types that mark value)")
        acts = _report_no_customer(ctx, qualifying(_activities(ctx, ("customer_id", "occurred_at", "type")), opts), "time_to_value")
        starts = customers[["customer_id", start_col]].dropna().drop_duplicates("customer_id")
        acts = acts.merge(starts, on="customer_id", how="inner")
        # The first qualifying event at or after the start: earlier events (a trial) do not count.
        first = acts[acts["occurred_at"] >= acts[start_col]].groupby("customer_id")["occurred_at"].min()
        milestone = customers["customer_id"].map(first)
    customers = customers.assign(_milestone=milestone)
    if start_col == "first_paid_at":
        not_paying = customers["first_paid_at"].isna()
        if not_paying.any():
            ctx.issue("not_paying", f"{int(not_paying.sum())} customers without first_paid_at (never paid) left out", Level.INFO, count=int(not_paying.sum()))
            customers = customers[~not_paying]
    rows = ctx.flow_rows(customers, start_col)
    backwards = rows["_milestone"].notna() & (rows["_milestone"] < rows[start_col])
    if backwards.any():
        label = "activated_at" if opts.milestone == "activated_at" else "occurred_at"
        ctx.row_issues(rows[backwards], "milestone_before_start", f"{label} is before {start_col}; left out of time_to_value", label if label in rows else None)
    per = 24.0 if opts.unit == "days" else 1.0
    dur = ((rows["_milestone"] - rows[start_col]) / pd.Timedelta(hours=1) / per).where(~backwards)
    reached = dur.notna()
    ctx.in_force.update(start=start_col, milestone=opts.milestone)
    return rows.assign(_dur=dur, _censored=(rows["_milestone"].isna()).astype("int64"),
                       _within=(reached & (dur * per <= opts.within_days * 24)).astype("int64"), _cohort=(~backwards).astype("int64"))


def time_to_value_shape(opts: TimeToValueOptions) -> Shape:
    """Statistics of the durations of the customers who reached the milestone, the headline as value."""
    return Mean("_dur", headline=opts.headline, unit=opts.unit, what="customers reaching the milestone",
                extras={"not_reached": "_censored", "within": "_within", "cohort": "_cohort"})


def pct_within(ctx: MetricContext, out: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """pct_within = the cohort's customers reaching the milestone within within_days ÷ cohort."""
    out["pct_within"] = out["within"] / out["cohort"].where(out["cohort"] > 0)
    return out.drop(columns=["within"])


register(MetricSpec(
    name="time_to_value",
    title="Time to value (TTV)",
    family=FAMILY,
    description="Time from signup (or first payment) to the value milestone, over customers who started in the period; median headline.",
    formula="median(milestone_at − start_at) over customers with start in P that reached the milestone",
    entity="customers",
    needs=("customer_id", "created_at"),
    unit="days",
    better="lower",
    period_kind="COHORT",
    date_field="created_at",
    rows=time_to_value_rows,
    shape=time_to_value_shape,
    finish=pct_within,
    options=TimeToValueOptions,
    extra_columns=("mean", "median", "p90", "not_reached", "cohort", "pct_within"),
    edge_rules=(
        "Cohort: customers whose start (created_at or first_paid_at) is in [start, end).",
        "Customers not at the milestone yet are censored: left out of the statistics, counted in not_reached; young cohorts look faster than they will end up.",
        "A milestone before the start is an issue per row and left out.",
        "milestone event: the first qualifying activity of a type in events at or after the start.",
    ),
    optional={"customers": ("first_paid_at", "activated_at"), "activities": ACTIVITY_FIELDS},
))


# ------------------------------------------------------------------ G1 health score


class HealthScoreOptions(HealthOptions):
    """Options of the ``health_score`` metric (the health settings plus its headline)."""

    headline: Literal["mean", "pct_green", "pct_red"] = Field("mean", description="The value: mean score of scored customers (default), or the share in the green or red band.")


def compute_health_score(ctx: MetricContext) -> MetricOutput:
    """Health score at each period end: mean score and the red/yellow/green distribution.

    Scores are taken at P.end (or the data's last day for the current period) for the
    customers active then. Example (WX25 bands): scores 50, 51, 75, 76 → red 1, yellow 2,
    green 1; mean 63.
    """
    import numpy as np
    import pandas as pd

    opts: HealthScoreOptions = ctx.options  # type: ignore[assignment]  # analyses.health merged in the plan
    frames = {k: v for k, v in ctx.dataset.frames.items()}
    frames["customers"] = ctx.frame
    last = data_end(ctx, frames)
    if last is None:
        ctx.issue("no_data", "no dated customer data; no health score")
        return MetricOutput(_empty_health(ctx))
    cap = scoring_instant(ctx.grid, last)
    created = ctx.local(ctx.frame["created_at"]).dropna()  # none when unmapped or blank
    # Without --since the grid starts at the first signup; no dated signup at all: at the data's last day.
    first = pd.Timestamp(ctx.since) if ctx.since else created.min() if len(created) else cap - pd.Timedelta(days=1)
    upto = pd.Timestamp(ctx.until) - pd.Timedelta(microseconds=1) if ctx.until else cap - pd.Timedelta(microseconds=1)
    marker = pd.DataFrame({PERIOD_COL: _floor([first, upto], ctx)})
    parts = []

    def report(code: str, message: str, count: int) -> None:
        ctx.issue(code, message, Level.INFO, count=count)

    scorer = HealthScorer(frames, opts, ctx.timezone)
    segment = {}
    if ctx.by:
        dims = ctx.frame.drop_duplicates("customer_id").set_index("customer_id")[ctx.by]  # the --by value of each customer
        # The --by value of each customer the scorer may score, in its row order (looked up once).
        segment = {d: scorer.customers["customer_id"].map(dims[d]).fillna("(blank)").to_numpy() for d in ctx.by}
    red, yellow = opts.bands
    for start in period_starts(ctx, marker):
        if pd.Timestamp(start) >= cap:
            continue  # after the data's last day: nothing to score (the grid shows a null)
        moment = min(pd.Timestamp(ctx.grid.end(start)), cap)
        keep, _, _, total = scorer.scores(moment, report if start == marker[PERIOD_COL].max() else None)
        scored = ~np.isnan(total)
        score = total[scored]
        # Only what the ratio below reads, a row per scored customer; the bands as band_of
        # draws them (the boundary value belongs to the lower band).
        part = {"score": score, "_one": np.ones(len(score), dtype="int64"), "_red": (score <= red).astype("int64"),
                "_yellow": ((score > red) & (score <= yellow)).astype("int64"), "_green": (score > yellow).astype("int64"),
                **{d: segment[d][keep][scored] for d in ctx.by}}
        parts.append(_segment_sums(pd.DataFrame(part), ctx.by).assign(**{PERIOD_COL: pd.Timestamp(start)}))
    scored = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        {PERIOD_COL: pd.Series(dtype="datetime64[ns]"), "score": pd.Series(dtype="float64"),
         **{f: pd.Series(dtype="int64") for f in ("_one", "_red", "_yellow", "_green")}, **{d: pd.Series(dtype=object) for d in ctx.by}})
    out = Ratio("score", "_one", unit="score", numerator_kind="score", extras={"red": "_red", "yellow": "_yellow", "green": "_green"},
                what="scored customers", rows_in="_one").aggregate(ctx, scored)
    for b in ("red", "yellow", "green"):
        out[f"pct_{b}"] = out[b] / out["n"].where(out["n"] > 0)
    if opts.headline != "mean":
        out["value"] = out[opts.headline]
        out["unit"] = "percent"
    return MetricOutput(out, {"weights": {n: c.resolved(n)["weight"] for n, c in opts.components.items()}})


def _segment_sums(part: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """One period's scored customers summed per --by segment (one row without --by):
    the score sum, the count (``_one``) and the band counts.

    pandas' grouped sum adds each segment's scores in row order with its compensated
    summation, as the aggregator would over every period's rows at once, and the
    aggregator's sum of this single row per cell returns it unchanged: the same numbers
    without a frame of a row per customer and period (72 months × 100k customers).
    """
    import numpy as np

    if not by:
        return part.groupby(np.zeros(len(part), dtype=np.intp), sort=False).sum().reset_index(drop=True)
    return part.groupby(by, sort=False, dropna=False).sum().reset_index()


def _floor(values: list[Any], ctx: MetricContext) -> list[Any]:
    import pandas as pd

    return [pd.Timestamp(ctx.grid.floor(pd.Timestamp(v).to_pydatetime())) for v in values]


def _empty_health(ctx: MetricContext) -> pd.DataFrame:
    import pandas as pd

    cols = [*group_keys(ctx), "value", "unit", "n", "numerator", "denominator"]
    return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})


register(MetricSpec(
    name="health_score",
    title="Customer health score",
    family=FAMILY,
    description="Mean 0-100 health score of the paying customers at each period end, with the red/yellow/green band counts and shares.",
    formula="score = Σ wᵢ·sᵢ ÷ Σ wᵢ over available components; value = mean score at P.end; bands ≤50 red, ≤75 yellow, else green",
    entity="customers",
    needs=("customer_id",),
    unit="score",
    better="higher",
    period_kind="STOCK",
    date_field="created_at",
    compute=compute_health_score,
    options=HealthScoreOptions,
    extra_columns=("red", "yellow", "green", "pct_red", "pct_yellow", "pct_green"),
    edge_rules=(
        "STOCK: customers paying (population option) at P.end are scored as of P.end (the data's last day for the current period).",
        "Components: usage (activities), nps and csat (surveys), tickets, payments (the share of the customer's active subscriptions that are past_due); each normalised 0-100 linearly between zero_at and full_at.",
        "A component without data for a customer is dropped and the weights re-normalised (missing: zero scores it 0); no component at all → no score, counted.",
        "Bands (Gainsight): ≤ 50 red, 51-75 yellow, ≥ 76 green; the boundary belongs to the lower band.",
        "Settings are shared with `crmmetrics analyze health` (analyses.health), whichever block the config has.",
    ),
    optional={"customers": ("created_at", "first_paid_at", "churned_at"), "activities": ACTIVITY_FIELDS,
              "surveys": ("customer_id", "survey_type", "score", "responded_at"),
              "tickets": ("customer_id", "created_at"), "subscriptions": ("customer_id", "status", "started_at", "ended_at")},
))
