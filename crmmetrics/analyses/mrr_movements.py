"""`crmmetrics analyze mrr_movements`: which customers made each period's MRR movements.

One row per customer and period with a movement (new, expansion, contraction, churned,
reactivation), their MRR at the period start and end, plus two more tables: every
dated movement (``events``) and the per-period totals (``summary``), whose
``net_new_mrr`` equals ``mrr_end − mrr_start``. Built on the same engine as the
``*_mrr`` metrics (:mod:`crmmetrics.domain.mrr`), with the same options; set them
under ``analyses.mrr_movements`` (engine options set under ``metrics.mrr`` apply too).
"""

from __future__ import annotations

import datetime as dt
from crmmetrics.analyses import AnalysisContext, AnalysisOutput, AnalysisSpec, register_analysis
from crmmetrics.domain.mrr import (CUSTOMER_FIELDS, KINDS, PERIOD_COL, SUBSCRIPTION_FIELDS, EngineOptions, Run, engine_in_force,
                                    movement_table, resolve_options)


class MovementsOptions(EngineOptions):
    """Options of ``analyze mrr_movements`` (the MRR engine options)."""


def compute_mrr_movements(ctx: AnalysisContext) -> AnalysisOutput:
    """Per customer and period: MRR at start, each movement, net change, MRR at end.

    Example: a customer at 100 who upgrades to 150 on 10 March and leaves on 20 March
    shows in 2026-03 as mrr_start 100, expansion 50, churned 150, net_change −100,
    mrr_end 0, movements "expansion+churned".
    """
    import pandas as pd

    opts: MovementsOptions = resolve_options(ctx.config, ctx.spec.name, ctx.options)  # type: ignore[assignment]
    as_of = ctx.grid.as_of
    run = Run(ctx.dataset, ctx.config, ctx.timezone, ctx.grain, ctx.config.week_start, ctx.since, ctx.until, as_of, [], ctx.spec.name, ctx.issues,
              given_grid=ctx.grid)
    table, events, summary = movement_table(run, opts)
    grid = ctx.grid

    def labelled(frame: pd.DataFrame) -> pd.DataFrame:
        # Label each distinct period once, then map (the tables can have millions of rows).
        starts = pd.to_datetime(frame[PERIOD_COL])
        uniq = starts.drop_duplicates()
        names = {s: grid.label(s) for s in uniq}
        days = {s: s.strftime("%Y-%m-%d") for s in uniq}
        out = frame.drop(columns=[PERIOD_COL])
        out.insert(0, "period", starts.map(names).to_numpy())
        out.insert(1, "period_start", starts.map(days).to_numpy())
        return out.reset_index(drop=True)

    s = summary.frame
    totals = pd.DataFrame({PERIOD_COL: s[PERIOD_COL], "mrr_start": s["mrr_start"],
                           **{kind: s[f"{kind}_mrr"] for kind in KINDS},
                           "net_new_mrr": s["new_mrr"] + s["expansion_mrr"] + s["reactivation_mrr"] - s["contraction_mrr"] - s["churned_mrr"],
                           "mrr_end": s["mrr_end"], "customers_start": s["customers_start"], "customers_end": s["customers_end"]})
    events = events.assign(date=events["time"].dt.strftime("%Y-%m-%d %H:%M")).drop(columns=["time"])
    events = events[[PERIOD_COL, "date", *[c for c in events.columns if c not in (PERIOD_COL, "date")]]]
    tables = {"movements": labelled(table), "events": labelled(events), "summary": labelled(totals)}
    seg = summary.timeline.segments
    notes = [f"MRR movements from {seg.source}{' (snapshot)' if seg.snapshot else ''}: {len(table)} customer-period rows, "
             f"{len(events)} movements; per period, Σ net_change = mrr_end − mrr_start (table summary)"]
    return AnalysisOutput(tables, notes, engine_in_force(opts))


register_analysis(AnalysisSpec(
    name="mrr_movements",
    title="MRR movements per customer and period",
    description="Which customers made each period's new, expansion, contraction, churned and reactivation MRR, with MRR at start and end.",
    needs={},  # subscriptions or customers, whichever is mapped (the MRR engine checks and says which)
    optional={"subscriptions": SUBSCRIPTION_FIELDS, "customers": CUSTOMER_FIELDS},
    compute=compute_mrr_movements,
    options=MovementsOptions,
    edge_rules=(
        "Tables: movements (main; one row per customer and period with a movement), events (every dated movement), summary (per-period totals).",
        "Same engine and rules as the *_mrr metrics: subscriptions when mapped, else customers (first_paid_at, churned_at, mrr).",
    ),
))
