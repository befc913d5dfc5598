"""The data contract: entities, their canonical fields and each field's declared type.

This table is the single place that says what a column means once mapped. There is no
global type inference: a field is parsed as its declared type, or the value becomes an
Issue. Any other mapped column becomes a ``category`` dimension usable with ``--by``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class FieldType(str, enum.Enum):
    """How a canonical field is parsed (see ``crmmetrics/io/parse.py``)."""

    ID = "id"  # text; leading zeros survive; Excel's 42.0 becomes "42"
    DATETIME = "datetime"  # an instant, tz-aware in the reporting zone
    DATE = "date"  # a calendar day (midnight in the reporting zone)
    MONEY = "money"  # number with currency symbols, locale separators, (negatives)
    NUMBER = "number"
    INTEGER = "integer"
    BOOL = "bool"  # true/false, yes/no, evet/hayır, 1/0
    CATEGORY = "category"  # a label, optionally restricted to choices
    TEXT = "text"  # free text (comments)
    DURATION = "duration"  # elapsed time in minutes: a number in the source's duration_unit, or HH:MM:SS


@dataclass(frozen=True)
class Field:
    """One canonical field: its type, allowed values (for categories) and meaning."""

    name: str
    type: FieldType
    description: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entity:
    """An export kind (deals, surveys, ...): its key, main date and fields."""

    name: str
    description: str
    key: str | None
    date_field: str | None
    fields: tuple[Field, ...] = field(default_factory=tuple)

    def field(self, name: str) -> Field | None:
        """The canonical field called ``name``, or None."""
        for f in self.fields:
            if f.name == name:
                return f
        return None

    @property
    def field_names(self) -> tuple[str, ...]:
        """Canonical field names in declaration order (core ones first)."""
        return tuple(f.name for f in self.fields)


T = FieldType


def _f(name: str, type_: FieldType, description: str, *choices: str) -> Field:
    return Field(name, type_, description, tuple(choices))


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity(
            "customers",
            "Accounts / companies / people who buy.",
            key="customer_id",
            date_field="created_at",
            fields=(
                _f("customer_id", T.ID, "Unique customer id."),
                _f("created_at", T.DATETIME, "Signup or lead-conversion time."),
                _f("first_paid_at", T.DATETIME, "First paid moment (derived from orders or subscriptions if absent)."),
                _f("churned_at", T.DATETIME, "When the customer stopped paying."),
                _f("status", T.CATEGORY, "Lifecycle status as exported (active, churned, trial, ...)."),
                _f("segment", T.CATEGORY, "Segment (SMB, Mid-Market, Enterprise, ...)."),
                _f("plan", T.CATEGORY, "Current plan."),
                _f("region", T.CATEGORY, "Region or country."),
                _f("acquisition_channel", T.CATEGORY, "Channel the customer came from."),
                _f("is_referred", T.BOOL, "Whether the customer was referred."),
                _f("referred_by", T.ID, "Customer id of the referrer."),
                _f("activated_at", T.DATETIME, "First-value milestone (time to value)."),
                _f("mrr", T.MONEY, "Current monthly recurring revenue (fallback when no subscriptions)."),
            ),
        ),
        Entity(
            "subscriptions",
            "Recurring contracts (Stripe, Chargebee, a billing sheet).",
            key="subscription_id",
            date_field="started_at",
            fields=(
                _f("subscription_id", T.ID, "Unique subscription id."),
                _f("customer_id", T.ID, "The paying customer."),
                _f("plan", T.CATEGORY, "Plan name."),
                _f("started_at", T.DATETIME, "Start of service."),
                _f("canceled_at", T.DATETIME, "When cancellation was requested."),
                _f("ended_at", T.DATETIME, "When service stops (end of paid period)."),
                _f("amount", T.MONEY, "Price per billing interval, before discount and tax."),
                _f("discount_amount", T.MONEY, "Discount per billing interval."),
                _f("tax_amount", T.MONEY, "Tax per billing interval."),
                _f("billing_interval_months", T.NUMBER, "Months per billing interval (1, 3, 12, ...)."),
                _f("quantity", T.NUMBER, "Seats or units."),
                _f("status", T.CATEGORY, "Subscription status.", "active", "past_due", "paused", "canceled", "trialing"),
                _f("currency", T.CATEGORY, "ISO currency code."),
            ),
        ),
        Entity(
            "orders",
            "Transactions, invoices, one-off orders.",
            key="order_id",
            date_field="order_date",
            fields=(
                _f("order_id", T.ID, "Unique order id."),
                _f("customer_id", T.ID, "The buying customer (blank for guests)."),
                _f("order_date", T.DATETIME, "When the order was placed."),
                _f("amount", T.MONEY, "Order value net of tax."),
                _f("status", T.CATEGORY, "Payment status.", "paid", "refunded", "canceled"),
                _f("currency", T.CATEGORY, "ISO currency code."),
                _f("is_recurring", T.BOOL, "A recurring (subscription) charge."),
                _f("category", T.CATEGORY, "Product category."),
                _f("product_id", T.ID, "Product id or SKU."),
                _f("service_period_start", T.DATE, "Start of the period a recurring charge pays for."),
                _f("service_period_end", T.DATE, "End of the period a recurring charge pays for."),
                _f("cost", T.MONEY, "Cost of goods, for margin."),
            ),
        ),
        Entity(
            "deals",
            "Opportunities in the sales pipeline.",
            key="deal_id",
            date_field="created_at",
            fields=(
                _f("deal_id", T.ID, "Unique deal id."),
                _f("customer_id", T.ID, "The account."),
                _f("lead_id", T.ID, "The lead it came from."),
                _f("created_at", T.DATETIME, "When the deal was created."),
                _f("closed_at", T.DATETIME, "When it was won or lost."),
                _f("status", T.CATEGORY, "Outcome.", "open", "won", "lost"),
                _f("stage", T.CATEGORY, "Pipeline stage."),
                _f("amount", T.MONEY, "Deal value."),
                _f("probability", T.NUMBER, "Win probability, 0-1 or 0-100."),
                _f("deal_type", T.CATEGORY, "Kind of deal.", "new", "renewal", "upsell", "cross_sell"),
                _f("pipeline", T.CATEGORY, "Pipeline name."),
                _f("owner", T.CATEGORY, "Sales rep."),
                _f("source", T.CATEGORY, "Deal source."),
                _f("currency", T.CATEGORY, "ISO currency code."),
            ),
        ),
        Entity(
            "deal_stages",
            "Stage history of deals: one row per stage a deal entered.",
            key=None,
            date_field="entered_at",
            fields=(
                _f("deal_id", T.ID, "The deal."),
                _f("stage", T.CATEGORY, "The stage entered."),
                _f("entered_at", T.DATETIME, "When the deal entered the stage."),
                _f("exited_at", T.DATETIME, "When it left the stage (blank while in it)."),
            ),
        ),
        Entity(
            "leads",
            "Leads and their funnel milestones.",
            key="lead_id",
            date_field="created_at",
            fields=(
                _f("lead_id", T.ID, "Unique lead id."),
                _f("created_at", T.DATETIME, "When the lead was created."),
                _f("source", T.CATEGORY, "Lead source."),
                _f("status", T.CATEGORY, "Lead status as exported."),
                _f("owner", T.CATEGORY, "Assigned rep."),
                _f("mql_at", T.DATETIME, "When it became a marketing-qualified lead."),
                _f("sql_at", T.DATETIME, "When it became a sales-qualified lead."),
                _f("converted_at", T.DATETIME, "When it converted to a customer or deal."),
                _f("first_response_at", T.DATETIME, "First human response to the lead."),
            ),
        ),
        Entity(
            "tickets",
            "Support tickets (Zendesk, Freshdesk, ...).",
            key="ticket_id",
            date_field="created_at",
            fields=(
                _f("ticket_id", T.ID, "Unique ticket id."),
                _f("customer_id", T.ID, "The requester's customer."),
                _f("created_at", T.DATETIME, "When the ticket was created."),
                _f("first_reply_at", T.DATETIME, "First public agent reply."),
                _f("first_solved_at", T.DATETIME, "First time the ticket was solved."),
                _f("solved_at", T.DATETIME, "Latest time the ticket was solved."),
                _f("closed_at", T.DATETIME, "When the ticket was closed."),
                _f("status", T.CATEGORY, "Ticket status as exported."),
                _f("reopen_count", T.INTEGER, "How often it was reopened."),
                _f("agent_replies", T.INTEGER, "Public agent replies."),
                _f("customer_followups", T.INTEGER, "Customer follow-up messages."),
                _f("created_by_agent", T.BOOL, "Ticket opened by an agent (outbound)."),
                _f("channel", T.CATEGORY, "Channel (email, chat, phone, web)."),
                _f("group", T.CATEGORY, "Support group."),
                _f("assignee", T.CATEGORY, "Agent."),
                # Precomputed durations (Zendesk, Freshdesk exports carry these, not timestamps).
                _f("first_reply_minutes", T.DURATION, "First reply time as the export states it, calendar."),
                _f("first_reply_business_minutes", T.DURATION, "First reply time within business hours, as the export states it."),
                _f("first_resolution_minutes", T.DURATION, "First resolution time as the export states it, calendar."),
                _f("first_resolution_business_minutes", T.DURATION, "First resolution time within business hours, as the export states it."),
                _f("full_resolution_minutes", T.DURATION, "Full (final) resolution time as the export states it, calendar."),
                _f("full_resolution_business_minutes", T.DURATION, "Full resolution time within business hours, as the export states it."),
            ),
        ),
        Entity(
            "surveys",
            "Survey responses: NPS, CSAT and CES.",
            key="response_id",
            date_field="responded_at",
            fields=(
                _f("response_id", T.ID, "Unique response id."),
                _f("customer_id", T.ID, "The responding customer."),
                _f("ticket_id", T.ID, "The ticket the survey was about (support CSAT)."),
                _f("survey_type", T.CATEGORY, "Which survey.", "nps", "csat", "ces"),
                _f("score", T.NUMBER, "The answer on the survey's scale."),
                _f("responded_at", T.DATETIME, "When the response was given."),
                _f("comment", T.TEXT, "Free-text comment."),
            ),
        ),
        Entity(
            "activities",
            "Interactions and product events.",
            key="activity_id",
            date_field="occurred_at",
            fields=(
                _f("activity_id", T.ID, "Unique activity id."),
                _f("customer_id", T.ID, "The customer."),
                _f("lead_id", T.ID, "The lead."),
                _f("deal_id", T.ID, "The deal."),
                _f("ticket_id", T.ID, "The ticket."),
                _f("user_id", T.ID, "The product user (DAU/MAU)."),
                _f("occurred_at", T.DATETIME, "When it happened."),
                _f("type", T.CATEGORY, "email, call, meeting, demo, login, feature_used, ..."),
                _f("direction", T.CATEGORY, "inbound or outbound.", "inbound", "outbound"),
                _f("actor_type", T.CATEGORY, "Who acted.", "agent", "customer", "bot", "system"),
                _f("is_public", T.BOOL, "A public (customer-visible) message."),
            ),
        ),
        Entity(
            "spend",
            "Marketing and success spend.",
            key=None,
            date_field="date",
            fields=(
                _f("date", T.DATE, "The day (or period start) the spend belongs to."),
                _f("amount", T.MONEY, "Amount spent."),
                _f("category", T.CATEGORY, "What the spend is for.", "acquisition", "retention", "other"),
                _f("channel", T.CATEGORY, "Marketing channel."),
                _f("currency", T.CATEGORY, "ISO currency code."),
            ),
        ),
    )
}


def entity(name: str) -> Entity:
    """The entity called ``name`` (KeyError if unknown)."""
    return ENTITIES[name]
