"""Support: reply and resolution times, one-touch and reopen rates, volume, support CSAT
(METRICS.md E0–E5, section 3 items 6–7).

Durations headline the median (Zendesk, Intercom) and carry mean and p90; they are
calendar time unless a ``schedule`` names a ``business_hours`` entry, measured with the
ticket's single (last) schedule as Zendesk does. A reply or solve stamped before the
ticket was created is an issue with its file line and is left out: it never becomes a
negative or zero duration. A ticket whose status says solved but that carries no solve
time is an issue too, not a silent gap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from crmmetrics.domain.tickets import (
    TicketOptions,
    elapsed_minutes,
    first_replies_from_activities,
    repeated_requests,
    row_columns,
    solve_time,
    solved_in_period,
    usable_mask,
    usable_tickets,
    usable_with_status,
)
from crmmetrics.errors import ConfigError, Level, UsageError
from crmmetrics.metrics.context import PERIOD_COL, MetricContext, MetricOutput
from crmmetrics.metrics.registry import MetricSpec, register
from crmmetrics.metrics.shapes import CountSum, Custom, Mean, Ratio, Shape, group_keys
from crmmetrics.metrics.survey import CsatOptions

if TYPE_CHECKING:
    import pandas as pd

FAMILY = "support"
MINUTES_PER = {"minutes": 1.0, "hours": 60.0, "days": 1440.0}
# Ticket columns every support metric reads when the config maps them.
TICKET_OPTIONAL = ("ticket_id", "status", "closed_at", "schedule")


# ------------------------------------------------------------------ shared options and helpers (the ticket lifecycle: domain/tickets.py)


class DurationOptions(TicketOptions):
    """Options of the support duration metrics."""

    schedule: str | None = Field(None, description="A business_hours schedule name: measure business time instead of calendar time. A mapped tickets.schedule column overrides it per ticket (the ticket's last schedule, as Zendesk does).")
    headline: Literal["median", "mean"] = Field("median", description="Which statistic is the value (median: Zendesk/Intercom default); mean and p90 are always in the row.")
    unit: Literal["minutes", "hours", "days"] = Field("hours", description="Unit of the value, mean, median and p90.")
    target: float | None = Field(None, gt=0, description="Service target in `unit`; adds pct_within_target (share of measured tickets at or under it).")
    clock: Literal["calendar", "business"] | None = Field(None, description="calendar or business time. Default: business when schedule is set, else calendar. With precomputed durations, picks the export's business-hours column (Zendesk 'within business hours').")
    measure_from: Literal["auto", "timestamps", "durations"] = Field("auto", description="auto: the export's own precomputed duration column when mapped (tickets.*_minutes: the vendor's number), else timestamps; or force one.")

    def business(self) -> bool:
        """Whether business time is measured."""
        return self.clock == "business" or (self.clock is None and self.schedule is not None)


# Precomputed duration fields per measure: (calendar, business).
DURATION_FIELDS = {
    "first_reply": ("first_reply_minutes", "first_reply_business_minutes"),
    "first_resolution": ("first_resolution_minutes", "first_resolution_business_minutes"),
    "full_resolution": ("full_resolution_minutes", "full_resolution_business_minutes"),
}


def duration_column(frame_columns: set[str] | list[str], opts: DurationOptions, measure: str) -> str | None:
    """The precomputed duration field to use for ``measure``, or None to use timestamps.

    Raises ConfigError when durations are forced but the column is not mapped.
    """
    calendar, business = DURATION_FIELDS[measure]
    wanted = business if opts.business() else calendar
    if opts.measure_from == "timestamps":
        return None
    if wanted in frame_columns:
        return wanted
    if opts.measure_from == "durations":
        raise ConfigError(f"measure_from: durations needs tickets.{wanted} mapped", hint=f"map the export's {'business-hours ' if opts.business() else ''}duration column under sources.tickets.fields.{wanted}")
    return None


MEASURE_OF = {"first_reply_time": "first_reply", "first_resolution_time": "first_resolution", "full_resolution_time": "full_resolution"}


def measured_from_note(metric: str, config: Any) -> str | None:
    """For `explain -c`: whether ``metric`` reads the export's durations or timestamps."""
    if metric not in MEASURE_OF:
        return None
    from crmmetrics.engine import mapped_fields

    spec_opts = config.metric_options(metric)
    from crmmetrics.metrics.registry import get_metric

    opts = spec_opts if spec_opts is not None else get_metric(metric).options()
    try:
        column = duration_column(mapped_fields(config, "tickets"), opts, MEASURE_OF[metric])
    except ConfigError as exc:
        return f"not computable: {exc}"
    clock = "business" if opts.business() else "calendar"
    if column:
        return f"measured from precomputed durations (tickets.{column}, {clock} time as the export states it), not timestamps"
    return f"measured from timestamps ({clock} time{', schedule ' + repr(opts.schedule) if opts.schedule else ''})"


def _check_business(opts: DurationOptions) -> None:
    if opts.business() and opts.schedule is None:
        raise ConfigError("clock: business needs a schedule (business_hours) or the export's business-hours duration column mapped",
                          hint="set metrics.<metric>.schedule, or map tickets.*_business_minutes (presets zendesk-tickets, zendesk-ticket-metrics, freshdesk-tickets do)")


def fill_counts(out: pd.DataFrame, columns: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """Count columns as whole numbers, 0 in the empty periods the grid added (not null)."""
    import pandas as pd

    for col in columns:
        if col in out:
            out[col] = pd.to_numeric(out[col]).fillna(0).astype("int64")
    return out


def _duration_rows(ctx: MetricContext, rows: pd.DataFrame, opts: DurationOptions, from_column: str | None = None) -> pd.DataFrame:
    """The rows of a duration metric (``_dur`` in the option's unit) with ``_within`` (at or under
    the target) when a target is set; records how the durations were measured."""
    if from_column:
        clock = "business" if opts.business() else "calendar"
        ctx.in_force.update(measured_in=f"{clock} {opts.unit}", measured_from=f"precomputed durations (tickets.{from_column})")
    else:
        ctx.in_force.update(measured_in=f"business {opts.unit} ({opts.schedule})" if opts.schedule else f"calendar {opts.unit}",
                            measured_from="timestamps")
    if opts.target is not None:
        rows = rows.assign(_within=(rows["_dur"] <= opts.target).astype("int64").where(rows["_dur"].notna(), 0))
    return rows


def duration_shape(extras: dict[str, str], what: str) -> Any:
    """The Mean of ``_dur`` with the option's headline and unit, ``extras`` and, with a target, within_target."""
    def shape(opts: DurationOptions) -> Shape:
        counted = {**extras, "within_target": "_within"} if opts.target is not None else extras
        return Mean("_dur", headline=opts.headline, unit=opts.unit, extras=counted, what=what)
    return shape


def pct_within_target(ctx: MetricContext, out: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """pct_within_target = measured tickets at or under the target ÷ measured tickets (with a target)."""
    if "within_target" in out:
        out["pct_within_target"] = out["within_target"] / out["n"].where(out["n"] > 0)
        out = out.drop(columns=["within_target"])
    return out


# ------------------------------------------------------------------ E1 first reply time


class FirstReplyOptions(DurationOptions):
    """Options of ``first_reply_time``."""

    opening_message: Literal["skip", "count"] = Field(
        "skip", description="Replies from activities, on a ticket whose created_by_agent is not mapped or blank: an agent message within "
        "60 seconds of the ticket's creation is the opening comment of an agent-created ticket. skip (default, Zendesk): the "
        "clock stops at the agent's next public message; count: it is a reply (about 0 h).")


def first_reply_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per ticket created in P: _dur (null when unanswered), _no_reply.

    First reply time = first public agent reply − ticket created, tickets created in P.

    Example (METRICS.md WX20): created Mon 10:00, first agent reply 11:30 → 1 h 30 min
    (value 1.5 in hours). WX19 with a 07:00-opening schedule: created 18:00, reply 08:00
    next day → 1 business hour, 14 calendar hours. Unanswered tickets are not durations:
    they are counted in ``no_reply``.
    """
    opts: FirstReplyOptions = ctx.options  # type: ignore[assignment]
    column = duration_column(ctx.mapped_fields(), opts, "first_reply")
    derive = not column and not ctx.mapped("first_reply_at")  # from activities: by ticket id and creator
    if derive:  # replies derived from activities read the usable tickets only (ids, creation times)
        df, _ = usable_with_status(ctx, opts, ("created_at", "first_reply_at", "ticket_id", "created_by_agent"))
        usable = None
    else:  # excluded tickets stay in until flow_rows copies the rows of the period: one copy, not two
        df, _, usable = usable_mask(ctx, opts, ("created_at", "first_reply_at", column))
    if column:
        rows = ctx.flow_rows(df, "created_at", where=usable)
        rows = rows.assign(_dur=rows[column] / MINUTES_PER[opts.unit], _no_reply=rows[column].isna().astype("int64"))
        return _duration_rows(ctx, rows, opts, column)
    _check_business(opts)
    if derive:
        df = df.assign(first_reply_at=first_replies_from_activities(ctx, df, opts.opening_message))
        ctx.issue("derived_first_reply", "first_reply_at derived from activities (first public agent message)", Level.INFO)
    rows = ctx.flow_rows(df, "created_at", where=usable)
    minutes = elapsed_minutes(ctx, rows, "created_at", "first_reply_at", opts.schedule, "reply_before_created", "first_reply_at")
    rows = rows.assign(_dur=minutes / MINUTES_PER[opts.unit], _no_reply=rows["first_reply_at"].isna().astype("int64"))
    return _duration_rows(ctx, rows, opts)


register(MetricSpec(
    name="first_reply_time",
    title="First reply time",
    family=FAMILY,
    description="Time from ticket creation to the first public agent reply, for tickets created in the period; median headline.",
    formula="median(first_reply_at − created_at) over answered tickets created in P; calendar, or business time of the ticket's schedule",
    entity="tickets",
    needs=("created_at",),
    unit="hours",
    better="lower",
    period_kind="FLOW",
    date_field="created_at",
    rows=first_reply_rows,
    shape=duration_shape({"no_reply": "_no_reply"}, "answered tickets"),
    finish=pct_within_target,
    options=FirstReplyOptions,
    extra_columns=("mean", "median", "p90", "no_reply", "pct_within_target"),
    edge_rules=(
        "Period: tickets created in [start, end) (Intercom, Zendesk); a reply may fall after the period.",
        "Unanswered tickets are excluded from the statistics and counted in no_reply.",
        "A first reply before creation is an issue per row (reply_before_created) and left out, never a negative time.",
        "Without tickets.first_reply_at, the first public agent message in activities is used; bots, automations, customers and private notes never count, and on agent-created tickets the agent's opening message is skipped.",
        "Without created_by_agent (or where it is blank), an agent message within 60 s of the creation is read as the opening comment of an agent-created ticket and skipped (opening_message: skip, default; an info issue counts them); opening_message: count makes it a reply of about 0 h.",
        "Business time: the ticket's single schedule (Zendesk: the last one applied), holidays closed; a ticket created out of hours starts at the next opening.",
        "Tickets with an excluded status (spam, merged, deleted) are left out.",
        "Precomputed durations: when tickets.first_reply_minutes (or first_reply_business_minutes with clock: business) is mapped, the export's own number is used (measure_from: auto), reproducing Zendesk's figures; the report's options say measured_from.",
    ),
    optional={"tickets": ("first_reply_at", "created_by_agent", *DURATION_FIELDS["first_reply"], *TICKET_OPTIONAL),
              "activities": ("ticket_id", "occurred_at", "actor_type", "is_public")},
))


# ------------------------------------------------------------------ E2/E3 resolution times


class ResolutionOptions(DurationOptions):
    """Options shared by ``first_resolution_time`` and ``full_resolution_time``."""

    period_by: Literal["solved", "created"] = Field("solved", description="Date tickets by their solve time (default; Zendesk, Freshworks) or by creation (cohort view: unsolved tickets are counted in unresolved).")
    closed_fallback: bool = Field(True, description="A ticket closed without a solve time ends at closed_at.")


class FirstResolutionOptions(ResolutionOptions):
    """Options of ``first_resolution_time``: Zendesk ends it at the close of a ticket closed directly."""

    closed_fallback: bool = Field(True, description="A ticket closed without a solve time ends at closed_at (default: Zendesk's first-resolution rule for "
                                                     "tickets closed directly by a rule or the API); counted in an info issue.")


class FullResolutionOptions(ResolutionOptions):
    """Options of ``full_resolution_time``: the latest solve only, unless the fallback is asked for."""

    closed_fallback: bool = Field(False, description="false (default): full resolution is the latest solve (METRICS.md E3), so a ticket closed "
                                                      "without a solve time is an issue and left out; true: it ends at closed_at (counted in an info issue).")


def _resolution(ctx: MetricContext, end_field: str, final: bool) -> pd.DataFrame:
    """One row per ticket solved (or created, period_by created) in P: _dur (null when unsolved), _open."""
    opts: ResolutionOptions = ctx.options  # type: ignore[assignment]
    column = duration_column(ctx.mapped_fields(), opts, "full_resolution" if final else "first_resolution")
    # Excluded tickets stay in until flow_rows copies the rows of the period: one copy.
    df, status, usable = usable_mask(ctx, opts, ("created_at", end_field, "closed_at", "status", column))
    if column is None:
        _check_business(opts)
    end = solve_time(ctx, df, opts, end_field, final=final, closed_fallback=opts.closed_fallback, status=status, usable=usable)
    df = row_columns(ctx, df, "created_at", column).assign(_end=end)  # status and the raw end are done with
    if opts.period_by == "solved":
        solved = df["_end"].notna() if usable is None else df["_end"].notna() & usable
        no_created = solved & df["created_at"].isna()
        if no_created.any():
            ctx.issue("missing_date", f"{int(no_created.sum())} solved tickets without created_at left out", count=int(no_created.sum()), field="created_at")
        rows = ctx.flow_rows(df, "_end", where=solved & ~no_created)
    else:
        rows = ctx.flow_rows(df, "created_at", where=usable)
    if column:
        # The export's own number; a solved ticket without it is simply not measured.
        minutes = rows[column].where(rows["_end"].notna())
    else:
        minutes = elapsed_minutes(ctx, rows, "created_at", "_end", opts.schedule, "solved_before_created", end_field)
    rows = rows.assign(_dur=minutes / MINUTES_PER[opts.unit], _open=rows["_end"].isna().astype("int64"))
    return _duration_rows(ctx, rows, opts, column)


RESOLUTION_SHAPE = duration_shape({"unresolved": "_open"}, "solved tickets")


def first_resolution_rows(ctx: MetricContext) -> pd.DataFrame:
    """First resolution time = first time the ticket was solved − created.

    Example: created 2026-03-02 09:00, first solved 2026-03-02 13:00, reopened and solved
    again 2026-03-04 10:00 → 4 h here (49 h full resolution time).
    """
    return _resolution(ctx, "first_solved_at", final=False)


def full_resolution_rows(ctx: MetricContext) -> pd.DataFrame:
    """Full resolution time = latest solve − created, tickets solved in P (Zendesk).

    Example: created 2026-03-02 09:00, solved 2026-03-02 13:00, reopened, solved again
    2026-03-04 10:00 → 49 h (4 h first resolution time).
    """
    return _resolution(ctx, "solved_at", final=True)


_RESOLUTION_RULES = (
    "A solve time before creation is an issue per row (solved_before_created) and left out, never a negative time.",
    "A ticket whose status is solved/closed but has no solve time is an issue (solved_without_time) and left out.",
    "closed_fallback: a ticket closed without a solve time ends at closed_at, counted in an info issue (closed_without_solve) that the "
    "summary line shows; on by default for first_resolution_time (Zendesk's rule), off for full_resolution_time (the latest solve).",
    "Business time: the ticket's single schedule (Zendesk: the last one applied), holidays closed.",
    "period_by created: tickets created in P; those not solved yet are counted in unresolved.",
    "Precomputed durations: when the export's own minutes column is mapped (tickets.*_resolution_minutes, *_business_minutes), it is used as the vendor states it (measure_from: auto); the report's options say measured_from.",
)

register(MetricSpec(
    name="first_resolution_time",
    title="First resolution time",
    family=FAMILY,
    description="Time from ticket creation to the first time it was solved; reopened tickets keep their first solve. Median headline.",
    formula="median(first_solved_at − created_at) over tickets first solved in P; calendar or business time",
    entity="tickets",
    needs=("created_at", "first_solved_at"),
    unit="hours",
    better="lower",
    period_kind="FLOW",
    date_field="first_solved_at",
    rows=first_resolution_rows,
    shape=RESOLUTION_SHAPE,
    finish=pct_within_target,
    options=FirstResolutionOptions,
    extra_columns=("mean", "median", "p90", "unresolved", "pct_within_target"),
    edge_rules=("Period: tickets whose first solve is in [start, end) (variant period_by: created).", *_RESOLUTION_RULES),
    optional={"tickets": (*DURATION_FIELDS["first_resolution"], *TICKET_OPTIONAL)},
))

register(MetricSpec(
    name="full_resolution_time",
    title="Full resolution time",
    family=FAMILY,
    description="Time from ticket creation to its latest solve (after any reopens), for tickets solved in the period. Median headline.",
    formula="median(solved_at − created_at) over tickets solved in P (latest solve); calendar or business time",
    entity="tickets",
    needs=("created_at", "solved_at"),
    unit="hours",
    better="lower",
    period_kind="FLOW",
    date_field="solved_at",
    rows=full_resolution_rows,
    shape=RESOLUTION_SHAPE,
    finish=pct_within_target,
    options=FullResolutionOptions,
    extra_columns=("mean", "median", "p90", "unresolved", "pct_within_target"),
    edge_rules=(
        "Period: tickets solved in [start, end) (Zendesk solved date; variant period_by: created).",
        "A ticket solved, then reopened and not solved again (status not solved) is open: left out until solved again.",
        *_RESOLUTION_RULES,
    ),
    optional={"tickets": (*DURATION_FIELDS["full_resolution"], *TICKET_OPTIONAL)},
))


# ------------------------------------------------------------------ E4 one-touch, E5 reopen


def _require(ctx: MetricContext, rows: pd.DataFrame, field: str, why: str) -> pd.DataFrame:
    """Rows with ``field`` present; ConfigError if unmapped, row issues for blanks."""
    if not ctx.mapped(field):
        raise ConfigError(f"{ctx.spec.name} {why} needs tickets.{field}; map it under sources.tickets.fields")
    blank = rows[field].isna()
    if blank.any():
        ctx.row_issues(rows[blank], f"missing_{field}", f"solved ticket without {field}; left out of {ctx.spec.name}", field)
    return rows[~blank]


class OneTouchOptions(TicketOptions):
    """Options of ``one_touch_rate``."""

    variant: Literal["exactly_one", "zendesk_legacy", "zendesk_messaging", "freshservice", "repeat_contact"] = Field(
        "exactly_one", description="exactly_one: one public agent reply and no reopen (default); zendesk_legacy: fewer than 2 agent replies (0 included, reopens ignored); "
        "zendesk_messaging: at least one reply and no reopen; freshservice: no customer follow-up; repeat_contact: the customer opened no other ticket on the same channel within repeat_days of the solve.")
    repeat_days: float = Field(3.0, gt=0, description="Window of the repeat_contact variant, in days (RingCentral default 3).")


# The ticket fields each one-touch variant reads beyond solved_at and agent_replies.
ONE_TOUCH_FIELDS: dict[str, tuple[str, ...]] = {
    "exactly_one": ("reopen_count",), "zendesk_legacy": (), "zendesk_messaging": ("reopen_count",),
    "freshservice": ("customer_followups",), "repeat_contact": ("customer_id", "channel", "created_at"),
}


def one_touch_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per ticket solved in P with the fields its variant reads: _touch (1 = one touch), _one.

    One-touch rate = solved tickets resolved in one touch ÷ solved tickets, solved in P.

    Example: 10 solved tickets with agent replies 1,1,1,1,1,1,2,3,0,1 where one of the
    single-reply tickets was reopened → exactly_one: 6 ÷ 10 = 60 %; zendesk_legacy
    (< 2 replies): 8 ÷ 10 = 80 %.
    """
    import numpy as np

    opts: OneTouchOptions = ctx.options  # type: ignore[assignment]
    v = opts.variant
    rows = solved_in_period(ctx, opts, ("agent_replies", *ONE_TOUCH_FIELDS[v]))
    if v in ("exactly_one", "zendesk_legacy", "zendesk_messaging"):
        rows = _require(ctx, rows, "agent_replies", f"variant {v}")
    if v in ("exactly_one", "zendesk_messaging"):
        rows = _require(ctx, rows, "reopen_count", f"variant {v}")
    if v == "exactly_one":
        touch = (rows["agent_replies"] == 1) & (rows["reopen_count"] == 0)
    elif v == "zendesk_legacy":
        touch = rows["agent_replies"] < 2
    elif v == "zendesk_messaging":
        touch = (rows["agent_replies"] > 0) & (rows["reopen_count"] == 0)
    elif v == "freshservice":
        rows = _require(ctx, rows, "customer_followups", "variant freshservice")
        touch = rows["customer_followups"] == 0
    else:
        rows = _require(ctx, rows, "customer_id", "variant repeat_contact")
        touch = ~_repeat_contact(ctx, rows, opts.repeat_days)
    return rows.assign(_touch=touch.astype("int64"), _one=np.int64(1))


def _repeat_contact(ctx: MetricContext, solved: pd.DataFrame, days: float) -> pd.Series:
    """True where the same customer opened another ticket (same channel when mapped)
    after this one was created and within ``days`` of its solve."""
    import pandas as pd

    every = usable_tickets(ctx, ctx.options)  # later tickets count even when solved outside P or open
    keys = ["customer_id", "channel"] if ctx.mapped("channel") else ["customer_id"]
    allt = every[every["customer_id"].notna() & every["created_at"].notna()][[*keys, "created_at"]].sort_values("created_at", kind="stable")
    left = solved[[*keys, "created_at", "_end"]].reset_index().sort_values("created_at", kind="stable")
    # The next ticket of the same customer created strictly after this one.
    nxt = pd.merge_asof(left, allt.rename(columns={"created_at": "_next"}), left_on="created_at", right_on="_next",
                        by=keys, direction="forward", allow_exact_matches=False)
    repeat = nxt["_next"].notna() & (nxt["_next"] <= nxt["_end"] + pd.Timedelta(days=days))
    return pd.Series(repeat.to_numpy(), index=nxt["index"].to_numpy()).reindex(solved.index).fillna(False).astype(bool)


register(MetricSpec(
    name="one_touch_rate",
    title="One-touch resolution rate (FCR)",
    family=FAMILY,
    description="Share of tickets solved in the period that needed exactly one public agent reply and were never reopened.",
    formula="solved in P with agent_replies = 1 and reopen_count = 0 ÷ solved in P",
    entity="tickets",
    # reopen_count only for the variants that look at reopens: zendesk_legacy ignores them.
    needs=("solved_at", "agent_replies"),
    option_needs=lambda o: ONE_TOUCH_FIELDS[o.variant],
    unit="percent",
    better="higher",
    period_kind="FLOW",
    date_field="solved_at",
    rows=one_touch_rows,
    shape=Ratio("_touch", "_one", unit="percent", extras={"one_touch": "_touch"}, what="solved tickets"),
    options=OneTouchOptions,
    extra_columns=("one_touch",),
    edge_rules=(
        "Period: tickets whose latest solve is in [start, end); a reopened ticket not solved again is not solved.",
        "Variant zendesk_legacy counts fewer than 2 replies (0 included), as Zendesk's Explore formula does; zendesk_messaging cannot see pending/on-hold history, only replies > 0 and no reopen.",
        "Fields by variant: exactly_one and zendesk_messaging need reopen_count, zendesk_legacy does not (it ignores reopens); "
        "freshservice needs customer_followups, repeat_contact customer_id. A solved ticket missing a field its variant needs "
        "is an issue per row and left out of both counts.",
        "closed_at stands in for a missing solve time of closed tickets (Zendesk).",
    ),
    optional={"tickets": ("customer_followups", "customer_id", "channel", "created_at", *TICKET_OPTIONAL)},
))


class ReopenOptions(TicketOptions):
    """Options of ``reopen_rate``."""

    variant: Literal["tickets", "events"] = Field("tickets", description="tickets: solved tickets reopened at least once ÷ solved (default); events: total reopens ÷ solved (Zoho).")


def reopen_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per ticket solved in P with a reopen_count: _reopened (0/1), _events (reopens), _one.

    Reopen rate = solved tickets with reopen_count ≥ 1 ÷ solved tickets, solved in P.

    Example: 20 tickets solved in March, reopen counts 2, 1, 1 and seventeen 0 →
    3 ÷ 20 = 15 %; the events variant gives 4 ÷ 20 = 20 %.
    """
    import numpy as np

    opts: ReopenOptions = ctx.options  # type: ignore[assignment]
    rows = _require(ctx, solved_in_period(ctx, opts, ("reopen_count",)), "reopen_count", "(solved tickets reopened ÷ solved)")
    reopened = (rows["reopen_count"] >= 1).astype("int64")
    return rows.assign(_reopened=reopened, _events=rows["reopen_count"].astype("float64"), _one=np.int64(1))


def reopen_shape(opts: ReopenOptions) -> Shape:
    """Reopened tickets (variant tickets) or reopen events (variant events) ÷ solved tickets."""
    num = "_reopened" if opts.variant == "tickets" else "_events"
    return Ratio(num, "_one", unit="percent", extras={"reopened": "_reopened", "reopens": "_events"}, what="solved tickets")


register(MetricSpec(
    name="reopen_rate",
    title="Reopen rate",
    family=FAMILY,
    description="Share of tickets solved in the period that were reopened at least once.",
    formula="solved in P with reopen_count ≥ 1 ÷ solved in P",
    entity="tickets",
    needs=("solved_at", "reopen_count"),
    unit="percent",
    better="lower",
    period_kind="FLOW",
    date_field="solved_at",
    rows=reopen_rows,
    shape=reopen_shape,
    options=ReopenOptions,
    extra_columns=("reopened", "reopens"),
    edge_rules=(
        "Period: tickets whose latest solve is in [start, end).",
        "A solved ticket with a blank reopen_count is an issue per row and left out (blank is not zero).",
        "Benchmark often cited: below 5 %.",
    ),
    optional={"tickets": TICKET_OPTIONAL},
))


# ------------------------------------------------------------------ volume and load


class VolumeOptions(TicketOptions):
    """Options of ``ticket_volume``."""

    event: Literal["created", "solved"] = Field("created", description="Count tickets created in P (default) or solved in P.")


def ticket_volume_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per ticket created (or solved, event solved) in P.

    Ticket volume = tickets created (or solved) in P.

    Example: tickets created on 2026-03-02, 03-15 and 04-01 → March 2, April 1; a month
    without tickets is 0, not missing.
    """
    opts: VolumeOptions = ctx.options  # type: ignore[assignment]
    df = usable_tickets(ctx, opts)
    if opts.event == "created":
        rows = ctx.flow_rows(df, "created_at")
    else:
        if not ctx.mapped("solved_at"):
            raise ConfigError("ticket_volume event solved needs tickets.solved_at; map it under sources.tickets.fields")
        df = df.assign(_end=solve_time(ctx, df, opts, "solved_at", final=True, closed_fallback=True))
        rows = ctx.flow_rows(df[df["_end"].notna()], "_end")
    return rows


register(MetricSpec(
    name="ticket_volume",
    title="Ticket volume",
    family=FAMILY,
    description="Number of tickets created in the period (or solved, with event: solved).",
    formula="count(tickets with created_at in P)",
    entity="tickets",
    needs=("created_at",),
    unit="count",
    better="none",
    period_kind="FLOW",
    date_field="created_at",
    rows=ticket_volume_rows,
    shape=CountSum(what="tickets"),
    options=VolumeOptions,
    edge_rules=(
        "A period without tickets is 0 (a count), not null; denominator is empty for counts.",
        "Tickets with an excluded status (spam, merged, deleted) are left out.",
    ),
    optional={"tickets": ("solved_at", "first_solved_at", *TICKET_OPTIONAL)},
))


class PerCustomerOptions(TicketOptions):
    """Options of ``tickets_per_customer``."""

    denominator: Literal["requesters", "active_customers"] = Field(
        "requesters", description="requesters: distinct customers who opened a ticket in P (default, needs only tickets); active_customers: customers active during P (customers.created_at before P.end, not churned before P.start).")


def _customer_tickets(ctx: MetricContext) -> pd.DataFrame:
    """Usable tickets created in range with a customer (those without one are reported)."""
    rows = ctx.flow_rows(usable_tickets(ctx, ctx.options), "created_at")  # type: ignore[arg-type]
    no_cust = rows["customer_id"].isna()
    if no_cust.any():
        ctx.row_issues(rows[no_cust], "missing_customer_id", "ticket without customer_id; left out of tickets_per_customer", "customer_id")
    return rows[~no_cust]


def requester_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per ticket; _req = 1 on one ticket of each customer per period and segment (the requesters).

    Tickets per customer = tickets created in P ÷ customers (requesters, or active customers,
    :func:`compute_tickets_per_active_customer`). Example: 6 tickets in March from customers
    A, A, A, B, B, C → 6 ÷ 3 = 2.0; with 10 active customers (active_customers) → 0.6.
    """
    import numpy as np

    rows = _customer_tickets(ctx)
    return rows.assign(_one=np.int64(1), _req=(~repeated_requests(ctx, rows)).astype("int64"))



def tickets_per_customer_shape(opts: PerCustomerOptions) -> Shape:
    """Ratio of tickets to requesters; Custom for active customers (counted from the customers export)."""
    if opts.denominator == "requesters":
        return Ratio("_one", "_req", unit="ratio", extras={"customers": "_req"}, what="requesting customers")
    return Custom()


def compute_tickets_per_active_customer(ctx: MetricContext) -> MetricOutput:
    """Tickets created in P ÷ customers active during P (created before its end, not churned before its start)."""
    import numpy as np
    import pandas as pd

    rows = _customer_tickets(ctx)
    keys = group_keys(ctx)
    customers = ctx.other("customers")
    if customers is None or not {"customer_id", "created_at"} <= ctx.mapped_fields("customers"):
        raise ConfigError("tickets_per_customer denominator active_customers needs customers.customer_id and customers.created_at mapped")
    missing_dims = [d for d in ctx.by if d not in customers]
    if missing_dims:
        raise UsageError(f"--by {', '.join(missing_dims)}: tickets_per_customer with active_customers can only split by customer fields")
    rows = rows.assign(_one=np.int64(1), _zero=np.int64(0))
    out = Ratio("_one", "_zero", unit="ratio", what="tickets").aggregate(ctx, rows)  # the grid and the numerator; the denominator follows
    cust = customers.dropna(subset=["customer_id"]).drop_duplicates("customer_id")
    created = ctx.local(cust["created_at"])
    churned = ctx.local(cust["churned_at"])  # all NaT when unmapped: nobody churned
    dens = []
    for start in out[PERIOD_COL].drop_duplicates():
        start = pd.Timestamp(start).to_pydatetime()
        end = ctx.grid.end(start)
        active = (created < end) & (churned.isna() | (churned >= start))
        part = cust[active.to_numpy()]
        if ctx.by:
            counts = part.groupby(ctx.by, dropna=False).size().rename("_active").reset_index()
            counts[PERIOD_COL] = pd.Timestamp(start)
        else:
            counts = pd.DataFrame({PERIOD_COL: [pd.Timestamp(start)], "_active": [len(part)]})
        dens.append(counts)
    den = pd.concat(dens, ignore_index=True) if dens else pd.DataFrame(columns=[*keys, "_active"])
    for d in ctx.by:
        den[d] = den[d].astype(object).where(den[d].notna(), "(blank)").astype(str)
    out = out.drop(columns=["denominator", "value"]).merge(den, on=keys, how="left")
    out["denominator"] = out["_active"].fillna(0)
    out["customers"] = out["denominator"]
    out = fill_counts(out.drop(columns=["_active"]), ["customers", "denominator"])
    out["value"] = out["numerator"] / out["denominator"].where(out["denominator"] != 0)
    zero = out["value"].isna()
    if zero.any():
        ctx.issue("zero_denominator", f"{int(zero.sum())} period/segment cells have no active customers; their value is null", count=int(zero.sum()))
    return MetricOutput(out)


register(MetricSpec(
    name="tickets_per_customer",
    title="Tickets per customer",
    family=FAMILY,
    description="Tickets created in the period per customer: per requesting customer by default, or per customer active in the period.",
    formula="tickets created in P ÷ distinct requesting customers in P (variant: ÷ customers active during P)",
    entity="tickets",
    needs=("customer_id", "created_at"),
    unit="ratio",
    better="lower",
    period_kind="FLOW",
    date_field="created_at",
    rows=requester_rows,
    shape=tickets_per_customer_shape,
    compute=compute_tickets_per_active_customer,
    options=PerCustomerOptions,
    extra_columns=("customers",),
    edge_rules=(
        "No published anchor: requesters is the default because it needs tickets only; active_customers uses the customer base.",
        "Tickets without customer_id are issues and left out of numerator and denominator.",
    ),
    optional={"tickets": TICKET_OPTIONAL, "customers": ("customer_id", "created_at", "churned_at")},
))


# ------------------------------------------------------------------ support CSAT


class SupportCsatOptions(CsatOptions, TicketOptions):
    """Options of ``support_csat`` (the csat options, plus how to treat repeat ratings)."""

    per_ticket: Literal["latest", "all"] = Field("latest", description="latest: one rating per ticket, the last one given (Zendesk lets a customer change the rating); all: every response.")


def compute_support_csat(ctx: MetricContext) -> MetricOutput:
    """Support CSAT = satisfied ÷ rated CSAT responses linked to tickets, by response date.

    Dimensions (--by channel, group, assignee) come from the rated ticket. Example:
    ticket T1 (email) rated 5, T2 (email) rated 2, T3 (chat) rated 4 → overall 2 ÷ 3;
    by channel email 50 %, chat 100 %.
    """
    from dataclasses import replace

    import pandas as pd

    from crmmetrics.metrics.survey import csat_rows, csat_shape

    opts: SupportCsatOptions = ctx.options  # type: ignore[assignment]
    surveys = ctx.other("surveys")
    if surveys is None or not {"ticket_id", "survey_type", "score", "responded_at"} <= ctx.mapped_fields("surveys"):
        raise ConfigError("support_csat needs a surveys source with ticket_id, survey_type, score and responded_at mapped",
                          hint="map the survey export's ticket column under sources.surveys.fields.ticket_id")
    csat = surveys[surveys["survey_type"] == "csat"]
    unlinked = csat["ticket_id"].isna()
    if unlinked.any():
        ctx.issue("not_ticket_survey", f"{int(unlinked.sum())} csat responses without ticket_id are not support CSAT; left out",
                  Level.INFO, count=int(unlinked.sum()))
    csat = csat[~unlinked]
    tickets = usable_tickets(ctx, opts)
    tickets = tickets[tickets["ticket_id"].notna()].drop_duplicates("ticket_id")
    dims = [d for d in ctx.by if d in tickets]
    joined = csat.drop(columns=[d for d in dims if d in csat]).merge(tickets[["ticket_id", *dims]], on="ticket_id", how="left", indicator=True)
    unknown = joined["_merge"] == "left_only"
    if unknown.any():
        ctx.dataset.row_issues(joined[unknown], "unknown_ticket", "csat response names a ticket_id not in tickets (or an excluded one); left out",
                               entity="surveys", fieldname="ticket_id", metric=ctx.spec.name)
    joined = joined[~unknown].drop(columns=["_merge"])
    if opts.per_ticket == "latest":
        rated = joined["score"].notna()
        latest = joined[rated].sort_values("responded_at", kind="stable").drop_duplicates("ticket_id", keep="last")
        replaced = int(rated.sum()) - len(latest)
        if replaced:
            ctx.issue("rating_replaced", f"{replaced} earlier ratings of re-rated tickets left out (latest rating per ticket)", Level.INFO, count=replaced)
        joined = pd.concat([latest, joined[~rated]]).sort_index()
    # Reuse the csat computation on the ticket-linked responses, dated by responded_at.
    sub = replace(ctx, frame=joined, spec=replace(ctx.spec, entity="surveys", date_field="responded_at"))
    return MetricOutput(csat_shape(opts).aggregate(sub, csat_rows(sub)), dict(sub.in_force))


register(MetricSpec(
    name="support_csat",
    title="Support CSAT",
    family=FAMILY,
    description="CSAT of survey responses linked to tickets, split by the ticket's channel, group or assignee.",
    formula="satisfied ÷ rated csat responses with a ticket_id, responded in P; satisfied = score ≥ satisfied_min (4 on 1-5)",
    entity="tickets",
    needs=("ticket_id",),
    unit="percent",
    better="higher",
    period_kind="FLOW",
    date_field="created_at",
    compute=compute_support_csat,
    options=SupportCsatOptions,
    extra_columns=("satisfied",),
    edge_rules=(
        "Period: responses with responded_at in [start, end) (Zendesk rating date), whatever the ticket's dates.",
        "Only csat responses with a ticket_id count; a ticket_id missing from tickets is an issue per response.",
        "per_ticket latest: one rating per ticket, the last one (Zendesk); unrated responses are excluded as in csat.",
        "--by dimensions come from the ticket (channel, group, assignee) or, through the ticket's customer, from customers.",
    ),
    optional={"tickets": ("created_at", *TICKET_OPTIONAL),
              "surveys": ("response_id", "ticket_id", "survey_type", "score", "responded_at", "customer_id")},
))
