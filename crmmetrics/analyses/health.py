"""Customer health per customer (METRICS.md G1): ``crmmetrics analyze health``.

One row per customer in the population, at-risk first: the overall 0–100 score, its
band (Gainsight 0–50 red, 51–75 yellow, 76–100 green), the trend against the score
``trend_days`` earlier, and every component's score next to the raw value it came
from, so an account manager can see *why* a customer is red. The scoring itself lives
in :func:`crmmetrics.domain.activity.score_customers`, shared with the ``health_score``
metric, and both read the same settings (``analyses.health`` or
``metrics.health_score``, whichever the config has).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from crmmetrics.analyses import AnalysisContext, AnalysisOutput, AnalysisSpec, register_analysis
from crmmetrics.errors import Level
from crmmetrics.domain.activity import (ACTIVITY_FIELDS, COMPONENTS, RAW_MEANING, HealthOptions, data_end, merged_health_options,
                                        score_customers, scoring_instant)

if TYPE_CHECKING:
    import pandas as pd

BAND_ORDER = {"red": 0, "yellow": 1, "green": 2}
CUSTOMER_DIMS = ("segment", "plan", "region", "status")


class HealthAnalysisOptions(HealthOptions):
    """Options of ``analyze health`` (the health settings plus the trend window)."""

    trend_days: int = Field(30, ge=1, description="trend = score now − score this many days earlier (score_prev).")


def compute_health(ctx: AnalysisContext) -> AnalysisOutput:
    """Score every customer in the population as of the end of the as-of day.

    The as-of day is --as-of, else the last day with any dated record (the export's
    moment), so a rerun on the same files gives the same table. Example (WX25 bands): a
    customer at 50 is red, 51 yellow, 75 yellow, 76 green.
    """
    import pandas as pd

    opts: HealthAnalysisOptions = ctx.options  # type: ignore[assignment]
    opts = HealthAnalysisOptions.model_validate(merged_health_options(ctx.config, opts, "analyses"))
    frames = dict(ctx.frames)
    moment = scoring_instant(ctx.grid, data_end(ctx, frames))  # the same instant as compute health_score

    def report(code: str, message: str, count: int) -> None:
        ctx.issue(code, message, Level.INFO, count=count)

    if "activities" in frames and "customer_id" in ctx.dataset.mapped_fields("activities"):
        from crmmetrics.domain.activity import qualifying

        acts = qualifying(frames["activities"], opts)
        blank = acts["customer_id"].isna()
        if blank.any():
            ctx.row_issues("activities", acts[blank], "missing_customer_id", "activity without customer_id; left out of usage", "customer_id")
    table = score_customers(frames, opts, moment, ctx.timezone, report)
    before = score_customers(frames, opts, moment - pd.Timedelta(days=opts.trend_days), ctx.timezone)
    table["score_prev"] = table["customer_id"].map(before.set_index("customer_id")["score"])
    table["trend"] = table["score"] - table["score_prev"]
    customers = frames["customers"].drop_duplicates("customer_id").set_index("customer_id")
    dims = [d for d in CUSTOMER_DIMS if d in ctx.dataset.mapped_fields("customers")]  # declared: columns even when unmapped
    for d in dims:
        table[d] = table["customer_id"].map(customers[d])
    comps = list(opts.components)
    cols = ["customer_id", *dims, "score", "band", "score_prev", "trend", "components", *comps, *[f"{c}_raw" for c in comps]]
    table = table.assign(_order=table["band"].map(BAND_ORDER).fillna(3))
    table = table.sort_values(["_order", "score", "customer_id"], na_position="last", kind="stable")[cols].reset_index(drop=True)
    bands = _band_table(table)
    settings = _settings_table(opts, table)
    day = (moment - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    weights = ", ".join(f"{n} {c.resolved(n)['weight']:g}" for n, c in opts.components.items())
    notes = [f"health as of the end of {day}; weights {weights}; missing components: {opts.missing}; "
             f"{int(table['score'].notna().sum())} of {len(table)} customers scored"]
    return AnalysisOutput({"customers": table, "bands": bands, "components": settings}, notes,
                          {"as_of_day": day, "population": opts.population})


def _band_table(table: pd.DataFrame) -> pd.DataFrame:
    """Customers, share and mean score per band (red, yellow, green, then unscored)."""
    import pandas as pd

    labels = table["band"].fillna("unscored")
    total = len(table)
    rows = []
    for band in ("red", "yellow", "green", "unscored"):
        part = table[labels == band]
        rows.append({"band": band, "customers": len(part), "share": len(part) / total if total else None,
                     "mean_score": float(part["score"].mean()) if part["score"].notna().any() else None})
    return pd.DataFrame(rows)


def _settings_table(opts: HealthOptions, table: pd.DataFrame) -> pd.DataFrame:
    """The rules in force per component and how many customers had data for it."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for name, comp in opts.components.items():
        r = comp.resolved(name)
        rows.append({"component": name, "weight": r["weight"], "window_days": r["window_days"], "zero_at": r["zero_at"],
                     "full_at": r["full_at"], "raw_value": RAW_MEANING[name], "customers_with_data": int(table[name].notna().sum())})
    return pd.DataFrame(rows)


register_analysis(AnalysisSpec(
    name="health",
    title="Customer health scores",
    description="Per-customer 0-100 health score from usage, NPS, CSAT, tickets and payments, with red/yellow/green band, trend and "
                "component scores, at-risk customers first; plus the band distribution and the component rules in force.",
    needs={"customers": ("customer_id",)},
    optional={"customers": ("created_at", "first_paid_at", "churned_at", *CUSTOMER_DIMS), "activities": ACTIVITY_FIELDS,
              "surveys": ("customer_id", "survey_type", "score", "responded_at"), "tickets": ("customer_id", "created_at"),
              "subscriptions": ("customer_id", "status", "started_at", "ended_at")},
    compute=compute_health,
    options=HealthAnalysisOptions,
    edge_rules=(
        "Tables: customers (main, at-risk first: red, yellow, green, unscored; lowest score first), bands, components.",
        "Scored as of the end of the --as-of day, else of the last day with any dated record.",
        f"Components ({', '.join(COMPONENTS)}): linear 0-100 between zero_at and full_at; missing ones re-weighted (missing: zero scores them 0).",
        "Bands (Gainsight): ≤ 50 red, 51-75 yellow, ≥ 76 green; trend = score − score trend_days earlier.",
    ),
))
