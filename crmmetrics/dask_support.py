"""Which metrics the Dask engine computes, and why it refuses the others.

A metric is supported when each of its rows counts on its own once the engine has
applied the cross-part rules (the as-of cut, the last row of a repeated deal or lead,
duplicate ids): its shape's partial aggregates (per period × segment sums and counts,
the measured values for exact quantiles, or sums per snapshot instant) then merge exactly. A metric that needs
all of a customer's (or order's, or deal's) rows together, distinct counts per period,
or another export joined row by row is refused with the reason below, naming it. The
README's Scale section shows this table (a test keeps the two in step).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crmmetrics.engine import MetricPlan

SUPPORTED = frozenset({
    "nps", "csat", "ces",
    "ticket_volume", "one_touch_rate", "reopen_rate", "first_reply_time", "first_resolution_time", "full_resolution_time",
    "win_rate", "average_deal_size", "sales_cycle_length", "new_opportunities", "pipeline_value",
    "lead_conversion_rate", "mql_rate", "sql_rate", "lead_response_time", "new_leads",
    "time_to_value",
})

_PER_CUSTOMER = "needs all of a customer's rows together (per-customer state over time), which the Dask engine does not shuffle by customer"
_ORDERS = ("applies the order policy, which keeps the first row of a repeated order_id (or sums an order's lines) and counts "
           "distinct customers: every row of an order must be together, which part files do not guarantee")
_DISTINCT = "counts distinct {what} per period, which do not add up across part files (one in two parts would count twice)"

REFUSED: dict[str, str] = {
    **{m: _PER_CUSTOMER for m in (
        "mrr", "arr", "arpa", "new_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr", "reactivation_mrr", "net_new_mrr",
        "customer_churn_rate", "gross_mrr_churn_rate", "net_mrr_churn_rate", "net_revenue_retention", "gross_revenue_retention",
        "quick_ratio", "customer_retention_rate", "ltv", "renewal_rate", "expansion_revenue", "upsell_rate", "cross_sell_rate",
        "referral_rate", "health_score", "customer_lifespan", "clv")},
    **{m: "divides marketing spend by the customers acquired in each period, read from another export whole"
       for m in ("cac", "ltv_to_cac", "cac_payback_months", "retention_cost")},
    **{m: _ORDERS for m in ("revenue", "order_count", "average_purchase_value", "purchase_frequency", "repeat_purchase_rate",
                            "new_customer_revenue")},
    "weighted_pipeline_value": ("weighs each open deal by its stage at each snapshot (the deal_stages history) and detects the "
                                "probability scale (fraction or percent) over all deals at once, in one custom formula"),
    "sales_velocity": "combines win rate, deal size, cycle and open deals at the period start (a Stock snapshot) in one custom formula",
    "stage_duration": "needs every stage row of a deal together to order its stage history",
    "demos": _DISTINCT.format(what="deals and customers demoed to"),
    "interactions_per_customer": _DISTINCT.format(what="customers"),
    "tickets_per_customer": _DISTINCT.format(what="requesting customers") + "; active_customers reads the customer base per period",
    "support_csat": "keeps each ticket's latest rating and joins the surveys to the tickets: a ticket's ratings and row must be together",
    "engagement_rate": "counts each customer's activities per period against the customer base: a customer's activities must be together",
    "dau": _DISTINCT.format(what="active users per day"),
    "mau": _DISTINCT.format(what="active users per window"),
    "stickiness": _DISTINCT.format(what="active users per day and window"),
}

WHY_REFUSED = "needs all of a customer's (or deal's) rows together or another entity row by row, which the Dask engine does not shuffle for yet"


def option_refusal(mp: MetricPlan, config: Any) -> str | None:
    """Why a supported metric cannot run with the options of this config."""
    name, opts = mp.spec.name, mp.options
    if getattr(opts, "unit", None) == "latest_per_customer":
        return f"{name} with unit latest_per_customer keeps each customer's latest response, which needs a shuffle by customer"
    # Exports a metric looks up per key (deals by lead_id, activities by lead or deal, leads
    # by lead_id) are read whole by every partition, so those lookups are exact; each
    # partition pays for reading them. Row issues about such an export would be counted
    # once per partition, so a metric that reports them stays refused.
    other = "reports row issues about another export read whole by every partition (they would count once per part)"
    if name == "time_to_value" and opts.milestone != "activated_at":
        return f"time_to_value milestone event {other} (milestone: activated_at runs)"
    return None


def mergeable(mp: MetricPlan) -> bool:
    """Whether the aggregator in force for ``mp``'s options has partial aggregates: Ratio and
    CountSum exchange per-cell sums, Mean the measured values, Stock sums per snapshot
    instant; a Custom shape has none."""
    from crmmetrics.metrics.shapes import CountSum, Mean, Ratio, Stock

    return isinstance(mp.spec.shape_in_force(mp.options), (Ratio, Mean, CountSum, Stock))


def refusal(mp: MetricPlan, config: Any) -> str | None:
    """Why ``mp`` cannot run on the Dask engine with ``config`` (None when it can).

    Both must hold: the metric's rows count on their own across part files (:data:`SUPPORTED`,
    a decision read from its row function) and its aggregator merges (:func:`mergeable`).
    """
    name = mp.spec.name
    if name not in SUPPORTED:
        return f"{name} is not supported on the Dask engine: it {REFUSED.get(name, WHY_REFUSED)}"
    if not mergeable(mp):
        return f"{name} with these options is computed by a Custom shape, which has no partial aggregates to merge across part files"
    return option_refusal(mp, config)
