"""Every metric's name, stored unit and family module, for the config loader and for runs
that need only some metrics (written from the registry).

Loading a config checks metric names (``metrics:``, ``thresholds:``, ``checks:``, ``goals:``,
``report.metrics``) and converts check values to the metric's stored unit (``80%`` on a rate
→ 0.8). It must not import the metric families to learn them: the config never imports a
family at load time (docs/architecture.md), and option sections are validated against each
metric's Options class only when a run loads the registry (``Config.check_metric_options``).
``FAMILIES`` lets :func:`crmmetrics.metrics.registry.get_metric` import only the family
module of the metrics a run asks for (``compute nps`` imports metrics/survey.py alone).

The tables below are generated: ``python -m crmmetrics.metrics.catalog`` rewrites them from the
registry, in the registry's order; ``tests/test_import_rules.py`` fails when they disagree.
"""

from __future__ import annotations

from pathlib import Path

# BEGIN GENERATED (python -m crmmetrics.metrics.catalog)
UNITS: dict[str, str] = {
    "nps": "points",
    "csat": "percent",
    "ces": "score",
    "win_rate": "percent",
    "average_deal_size": "currency",
    "sales_cycle_length": "days",
    "pipeline_value": "currency",
    "weighted_pipeline_value": "currency",
    "new_opportunities": "count",
    "sales_velocity": "currency",
    "stage_duration": "days",
    "lead_conversion_rate": "percent",
    "mql_rate": "percent",
    "sql_rate": "percent",
    "lead_response_time": "hours",
    "new_leads": "count",
    "demos": "count",
    "interactions_per_customer": "ratio",
    "mrr": "currency",
    "arr": "currency",
    "arpa": "currency",
    "new_mrr": "currency",
    "expansion_mrr": "currency",
    "contraction_mrr": "currency",
    "churned_mrr": "currency",
    "reactivation_mrr": "currency",
    "net_new_mrr": "currency",
    "customer_churn_rate": "percent",
    "gross_mrr_churn_rate": "percent",
    "net_mrr_churn_rate": "percent",
    "net_revenue_retention": "percent",
    "gross_revenue_retention": "percent",
    "quick_ratio": "ratio",
    "customer_retention_rate": "percent",
    "ltv": "currency",
    "renewal_rate": "percent",
    "expansion_revenue": "currency",
    "upsell_rate": "percent",
    "cross_sell_rate": "percent",
    "cac": "currency",
    "ltv_to_cac": "ratio",
    "cac_payback_months": "months",
    "retention_cost": "currency",
    "referral_rate": "percent",
    "revenue": "currency",
    "order_count": "count",
    "average_purchase_value": "currency",
    "purchase_frequency": "ratio",
    "repeat_purchase_rate": "percent",
    "new_customer_revenue": "currency",
    "customer_lifespan": "years",
    "clv": "currency",
    "first_reply_time": "hours",
    "first_resolution_time": "hours",
    "full_resolution_time": "hours",
    "one_touch_rate": "percent",
    "reopen_rate": "percent",
    "ticket_volume": "count",
    "tickets_per_customer": "ratio",
    "support_csat": "percent",
    "engagement_rate": "percent",
    "dau": "count",
    "mau": "count",
    "stickiness": "percent",
    "time_to_value": "days",
    "health_score": "score",
}
FAMILIES: dict[str, str] = {
    "nps": "survey",
    "csat": "survey",
    "ces": "survey",
    "win_rate": "sales",
    "average_deal_size": "sales",
    "sales_cycle_length": "sales",
    "pipeline_value": "sales",
    "weighted_pipeline_value": "sales",
    "new_opportunities": "sales",
    "sales_velocity": "sales",
    "stage_duration": "sales",
    "lead_conversion_rate": "leads",
    "mql_rate": "leads",
    "sql_rate": "leads",
    "lead_response_time": "leads",
    "new_leads": "leads",
    "demos": "leads",
    "interactions_per_customer": "leads",
    "mrr": "subscription",
    "arr": "subscription",
    "arpa": "subscription",
    "new_mrr": "subscription",
    "expansion_mrr": "subscription",
    "contraction_mrr": "subscription",
    "churned_mrr": "subscription",
    "reactivation_mrr": "subscription",
    "net_new_mrr": "subscription",
    "customer_churn_rate": "subscription",
    "gross_mrr_churn_rate": "subscription",
    "net_mrr_churn_rate": "subscription",
    "net_revenue_retention": "subscription",
    "gross_revenue_retention": "subscription",
    "quick_ratio": "subscription",
    "customer_retention_rate": "subscription",
    "ltv": "subscription",
    "renewal_rate": "subscription",
    "expansion_revenue": "subscription",
    "upsell_rate": "subscription",
    "cross_sell_rate": "subscription",
    "cac": "acquisition",
    "ltv_to_cac": "acquisition",
    "cac_payback_months": "acquisition",
    "retention_cost": "acquisition",
    "referral_rate": "acquisition",
    "revenue": "orders",
    "order_count": "orders",
    "average_purchase_value": "orders",
    "purchase_frequency": "orders",
    "repeat_purchase_rate": "orders",
    "new_customer_revenue": "orders",
    "customer_lifespan": "orders",
    "clv": "orders",
    "first_reply_time": "support",
    "first_resolution_time": "support",
    "full_resolution_time": "support",
    "one_touch_rate": "support",
    "reopen_rate": "support",
    "ticket_volume": "support",
    "tickets_per_customer": "support",
    "support_csat": "support",
    "engagement_rate": "success",
    "dau": "success",
    "mau": "success",
    "stickiness": "success",
    "time_to_value": "success",
    "health_score": "success",
}
# END GENERATED


def generated_table() -> str:
    """The generated block as the registry says it should read (imports every family)."""
    from crmmetrics.metrics.registry import all_metrics, family_module

    specs = all_metrics()
    units = "".join(f'    "{name}": "{spec.unit}",\n' for name, spec in specs.items())
    families = "".join(f'    "{name}": "{family_module(spec)}",\n' for name, spec in specs.items())
    return "UNITS: dict[str, str] = {\n" + units + "}\n" + "FAMILIES: dict[str, str] = {\n" + families + "}\n"


def regenerate(path: Path = Path(__file__)) -> bool:
    """Rewrite the generated block of ``path`` from the registry; True when it changed."""
    text = path.read_text(encoding="utf-8")
    head, rest = text.split("# BEGIN GENERATED", 1)
    marker, rest = rest.split("\n", 1)
    _, tail = rest.split("# END GENERATED", 1)
    new = f"{head}# BEGIN GENERATED{marker}\n{generated_table()}# END GENERATED{tail}"
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True


if __name__ == "__main__":
    print("crmmetrics/metrics/catalog.py " + ("rewritten" if regenerate() else "already up to date"))
