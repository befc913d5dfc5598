"""RFM scores and segments per customer (METRICS.md B7, B8): ``crmmetrics analyze rfm``.

R is the number of days from the customer's last order to the analysis date (not the
lifetimes recency), F the number of orders (or purchase days), M the net spend (total,
or mean per order). Scores are quantile bins, 5 by default, recency reversed (most
recent = highest). Ties are broken deterministically: customers are ranked by value,
then by customer id, before binning, so every bin is filled and a rerun on reordered
input gives the same scores. The rfm R package's quantile-break rule (breaks + 1,
bins ``[lower, upper)``; ties can empty bins) and user thresholds are options; the cut
points in force are always printed and returned as a table.

Segments come from a map: the RF 10-segment grid (default, a complete partition of
the 25 R×F cells), the rfm R package example map and the pymc-marketing map as
presets, or a user map under ``analyses.rfm.segments`` (first matching rule wins).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crmmetrics.analyses import AnalysisContext, AnalysisOutput, AnalysisSpec, register_analysis
from crmmetrics.errors import ConfigError, Level
from crmmetrics.grid import Grid
from crmmetrics.domain.orders import POLICY_FIELDS, POLICY_RULES, OrderPolicy, analysis_orders, day_after_last_order

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class SegmentRule(BaseModel):
    """One rule of a segment map: score ranges and/or explicit score cells; first match wins."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., description="Segment name.")
    r: tuple[int, int] | None = Field(None, description="Recency score range [low, high], inclusive.")
    f: tuple[int, int] | None = Field(None, description="Frequency score range [low, high], inclusive.")
    m: tuple[int, int] | None = Field(None, description="Monetary score range [low, high], inclusive.")
    cells: list[str] | None = Field(None, description='Explicit cells: "RF" (e.g. "55") or "RFM" (e.g. "334") score strings.')

    @model_validator(mode="after")
    def _check(self) -> SegmentRule:
        if self.r is None and self.f is None and self.m is None and not self.cells:
            raise ValueError(f"segment {self.name!r} needs r, f, m ranges or cells")
        return self


def _rule(name: str, r: tuple[int, int] | None = None, f: tuple[int, int] | None = None, m: tuple[int, int] | None = None,
          cells: str | None = None) -> SegmentRule:
    return SegmentRule(name=name, r=r, f=f, m=m, cells=cells.split() if cells else None)


# RF 10-segment grid (SaadAbdElGhaffar/customer-segmentation-rfm-kmeans:utils/rfm_analysis.py):
# a complete partition of the 25 R×F cells; M is not used.
RF_GRID = (
    _rule("hibernating", r=(1, 2), f=(1, 2)),
    _rule("at_risk", r=(1, 2), f=(3, 4)),
    _rule("cant_lose", r=(1, 2), f=(5, 5)),
    _rule("about_to_sleep", r=(3, 3), f=(1, 2)),
    _rule("need_attention", r=(3, 3), f=(3, 3)),
    _rule("loyal_customers", r=(3, 4), f=(4, 5)),
    _rule("promising", r=(4, 4), f=(1, 1)),
    _rule("new_customers", r=(5, 5), f=(1, 1)),
    _rule("potential_loyalists", r=(4, 5), f=(2, 3)),
    _rule("champions", r=(5, 5), f=(4, 5)),
)
# rfm R package example map (rsquaredacademy/rfm:R/rfm-segment.R). Shipped as published:
# earlier rules shadow New Customers, Promising and Can't Lose Them; 36 of 125 cells → Others.
RFM_PACKAGE = (
    _rule("Champions", r=(4, 5), f=(4, 5), m=(4, 5)),
    _rule("Loyal Customers", r=(2, 5), f=(3, 5), m=(3, 5)),
    _rule("Potential Loyalist", r=(3, 5), f=(1, 3), m=(1, 3)),
    _rule("New Customers", r=(4, 5), f=(1, 1), m=(1, 1)),
    _rule("Promising", r=(3, 4), f=(1, 1), m=(1, 1)),
    _rule("Need Attention", r=(2, 3), f=(2, 3), m=(2, 3)),
    _rule("About To Sleep", r=(2, 3), f=(1, 2), m=(1, 2)),
    _rule("At Risk", r=(1, 2), f=(2, 5), m=(2, 5)),
    _rule("Can't Lose Them", r=(1, 1), f=(4, 5), m=(4, 5)),
    _rule("Lost", r=(1, 2), f=(1, 2), m=(1, 2)),
)
# pymc-marketing default (quartiles; explicit RFM cells; everything else "Other").
PYMC = (
    _rule("Premium Customer", cells="334 443 444 344 434 433 343 333"),
    _rule("Repeat Customer", cells="244 234 232 332 143 233 243"),
    _rule("Top Spender", cells="424 414 144 314 324 124 224 423 413 133 323 313 134"),
    _rule("At Risk Customer", cells="422 223 212 122 222 132 322 312 412 123 214"),
    _rule("Inactive Customer", cells="411 111 113 114 112 211 311"),
)
PRESETS: dict[str, tuple[tuple[SegmentRule, ...], int, str]] = {
    # name → (rules, bins the map is written for, name of unmatched cells)
    "rf_grid": (RF_GRID, 5, "other"),
    "rfm_package": (RFM_PACKAGE, 5, "Others"),
    "pymc": (PYMC, 4, "Other"),
}


class Thresholds(BaseModel):
    """User cut points per dimension (rfm R package semantics: bins [lower, upper))."""

    model_config = ConfigDict(extra="forbid")

    recency: list[float] | None = Field(None, description="Ascending recency cut points in days, e.g. [30, 90, 180, 365].")
    frequency: list[float] | None = Field(None, description="Ascending frequency cut points, e.g. [2, 3, 5, 8].")
    monetary: list[float] | None = Field(None, description="Ascending monetary cut points.")


class RfmOptions(OrderPolicy):
    """Options of ``crmmetrics analyze rfm`` (plus the order policy)."""

    analysis_date: dt.date | None = Field(None, description="Recency is counted to this day; orders dated after it are issues. "
                                                            "--as-of overrides it. Default: the day after the last order.")
    bins: int = Field(5, ge=2, le=10, description="Quantile bins per dimension: 5 (rfm R package, default), 4 (pymc-marketing), 10.")
    scoring: Literal["rank", "quantile_breaks"] = Field(
        "rank", description="rank (default): ties broken by customer id, then equal-count bins (every bin filled); quantile_breaks: "
                            "the rfm R package rule (quantiles + 1, bins [lower, upper)); ties may leave bins empty.")
    frequency: Literal["orders", "days"] = Field("orders", description="F counts orders (default) or distinct purchase days.")
    monetary: Literal["total", "mean"] = Field("total", description="M is the customer's net spend (total, rfm R package) or spend "
                                                                    "per order (mean, pymc-marketing style).")
    thresholds: Thresholds | None = Field(None, description="Your own cut points per dimension (replace the quantile bins there).")
    segment_map: Literal["rf_grid", "rfm_package", "pymc", "custom"] = Field(
        "rf_grid", description="rf_grid (default: 10 segments, every R×F cell covered), rfm_package (published rules; 36 of 125 cells "
                               "fall into Others and 3 segments are unreachable), pymc (needs bins 4), custom (segments below).")
    segments: list[SegmentRule] | None = Field(None, description="Your segment map (segment_map: custom): rules tried in order.")
    other_segment: str | None = Field(None, description="Name for cells no rule matches (default: the preset's, 'other' for custom maps).")

    @model_validator(mode="after")
    def _check(self) -> RfmOptions:
        if self.segment_map == "custom" and not self.segments:
            raise ValueError("segment_map: custom needs a segments list")
        if self.segments and self.segment_map != "custom":
            raise ValueError("segments are only used with segment_map: custom")
        if self.segment_map in PRESETS and self.thresholds is None:
            need = PRESETS[self.segment_map][1]
            if self.bins != need:
                raise ValueError(f"segment_map {self.segment_map} is written for {need} bins; set bins: {need} or use segment_map: custom")
        for dim in ("recency", "frequency", "monetary"):
            cuts = getattr(self.thresholds, dim) if self.thresholds else None
            if cuts is not None and (not cuts or any(b <= a for a, b in zip(cuts, cuts[1:]))):
                raise ValueError(f"thresholds.{dim} must be a non-empty ascending list")
        return self

    def rules(self) -> tuple[tuple[SegmentRule, ...], str]:
        """The segment rules in force and the name of unmatched cells."""
        if self.segment_map == "custom":
            return tuple(self.segments or ()), self.other_segment or "other"
        rules, _, other = PRESETS[self.segment_map]
        return rules, self.other_segment or other


def rank_scores(values: np.ndarray, tiebreak: np.ndarray, bins: int, reverse: bool = False) -> np.ndarray:
    """Equal-count quantile scores 1..bins, ties broken by ``tiebreak`` (customer id).

    Same bins as ``pandas.qcut(values.rank(method="first"), bins)`` after sorting by
    the tie-breaker. Example: values [1, 1, 1, 2, 5] with ids a–e and 5 bins → 1, 2, 3,
    4, 5; reversed (recency) → 5, 4, 3, 2, 1.
    """
    import numpy as np

    n = len(values)
    if n == 0:
        return np.zeros(0, dtype="int64")
    order = np.lexsort((tiebreak, values))
    rank = np.empty(n, dtype="float64")
    rank[order] = np.arange(1, n + 1)
    edges = np.quantile(np.arange(1, n + 1, dtype="float64"), np.linspace(0, 1, bins + 1))
    score = np.searchsorted(edges[1:-1], rank, side="left") + 1
    return (bins + 1 - score if reverse else score).astype("int64")


def break_scores(values: np.ndarray, cuts: list[float] | None, bins: int, reverse: bool = False) -> tuple[np.ndarray, list[float], list[float]]:
    """rfm R package scoring: (scores, lower bounds, upper bounds).

    Breaks = quantiles at 1/bins … (bins−1)/bins, plus 1 (or the user's ``cuts`` as
    given); lower = [min, *breaks], upper = [*breaks, max + 1]; score i for
    lower_i ≤ x < upper_i (recency reversed). Example: frequencies 1,1,1,1,2,3 with 5
    bins → breaks 2, 2, 2, 3 → scores 1,1,1,1,4,5 (bins 2 and 3 stay empty).
    """
    import numpy as np

    if cuts is None:
        # k / bins (not linspace) keeps 3/5 exact, as R's quantile() fuzz does: 0.6000000000000001
        # would move a break by 4e-16 and put a tied value in the wrong bin.
        breaks = list(np.quantile(values, np.arange(1, bins) / bins) + 1)
    else:
        breaks = [float(c) for c in cuts]
    lower = [float(values.min())] + [float(b) for b in breaks]
    upper = [float(b) for b in breaks] + [float(values.max()) + 1]
    score = np.zeros(len(values), dtype="int64")
    for i, (lo, hi) in enumerate(zip(lower, upper), start=1):
        score[(values >= lo) & (values < hi)] = i
    k = len(lower)
    if reverse:
        score = np.where(score > 0, k + 1 - score, 0)
    return score, lower, upper


def assign_segments(r: pd.Series, f: pd.Series, m: pd.Series, rules: tuple[SegmentRule, ...], other: str) -> pd.Series:
    """Segment per customer: the first rule whose ranges and cells match (vectorised per rule).

    Example (rf_grid): R 5, F 4 → champions; R 1, F 5 → cant_lose.
    """
    import numpy as np
    import pandas as pd

    out = pd.Series(other, index=r.index, dtype=object)
    done = np.zeros(len(r), dtype=bool)
    rf = r.astype(str) + f.astype(str)
    rfm = rf + m.astype(str)
    for rule in rules:
        hit = ~done
        for rng, col in ((rule.r, r), (rule.f, f), (rule.m, m)):
            if rng is not None:
                hit &= ((col >= rng[0]) & (col <= rng[1])).to_numpy()
        if rule.cells:
            cells = set(rule.cells)
            hit &= (rf.isin(cells) | rfm.isin(cells)).to_numpy()
        out[hit] = rule.name
        done |= hit
    return out


def compute_rfm(ctx: AnalysisContext) -> AnalysisOutput:
    """Per-customer R, F, M, scores and segment; a segment summary and the cut points.

    Example: analysis date 2026-01-01; A ordered 2025-12-31 (100) and 2025-12-01 (50):
    recency 1 day, frequency 2, monetary 150.
    """
    import numpy as np
    import pandas as pd

    opts: RfmOptions = ctx.options  # type: ignore[assignment]
    if ctx.as_of is not None:
        analysis_date = ctx.as_of
    elif opts.analysis_date is not None:
        analysis_date = dt.datetime.combine(opts.analysis_date, dt.time())
    else:
        analysis_date = day_after_last_order(ctx, opts)
    day = Grid.day_start(analysis_date)
    # Orders dated on the analysis day still count (recency 0); later ones are issues.
    orders = analysis_orders(ctx, opts, Grid.day_end(day), "the analysis date")
    if "amount" not in ctx.dataset.mapped_fields("orders"):
        raise ConfigError("analysis rfm needs orders.amount mapped (monetary)")
    buys = orders[orders["_order"] == 1]
    if buys.empty:
        ctx.issue("no_data", "no orders of identified customers before the analysis date; nothing to score")
    cust = _customer_table(orders, buys, day, opts)
    ids = cust["customer_id"].astype(str).to_numpy()
    rules, other = opts.rules()
    cuts_rows: list[dict[str, Any]] = []
    notes = [f"rfm: analysis date {day:%Y-%m-%d}; {len(cust)} customers; scores 1-{opts.bins} ({opts.scoring}"
             f"{', ties broken by customer id' if opts.scoring == 'rank' else ''}); segment map {opts.segment_map}"]
    for dim, col, reverse in (("recency", "recency_days", True), ("frequency", "frequency", False), ("monetary", "monetary", False)):
        values = cust[col].to_numpy(dtype="float64")
        user = getattr(opts.thresholds, dim) if opts.thresholds else None
        if len(values) == 0:
            cust[f"{dim[0]}_score"] = pd.Series(dtype="int64")
            continue
        if user is not None or opts.scoring == "quantile_breaks":
            score, lower, upper = break_scores(values, user, opts.bins, reverse)
        else:
            score = rank_scores(values, ids, opts.bins, reverse)
            lower, upper = [], []
        cust[f"{dim[0]}_score"] = score
        cuts_rows += _cut_rows(dim, values, score, lower, upper, reverse, opts.bins)
    if len(cust):
        _check_collapsed(ctx, cust, opts)
    cust["rfm_score"] = cust["r_score"] * 100 + cust["f_score"] * 10 + cust["m_score"]
    cust["rf"] = cust["r_score"].astype(str) + cust["f_score"].astype(str)
    cust["rfm"] = cust["rf"] + cust["m_score"].astype(str)
    cust["segment"] = assign_segments(cust["r_score"], cust["f_score"], cust["m_score"], rules, other) if len(cust) else pd.Series(dtype=object)
    cuts = pd.DataFrame(cuts_rows, columns=["dimension", "score", "customers", "min", "max", "lower", "upper"])
    notes += _cut_notes(cuts)
    segments = _segment_summary(cust, rules, other)
    unmatched = int((cust["segment"] == other).sum()) if len(cust) else 0
    if unmatched:
        ctx.issue("unsegmented", f"{unmatched} customers fall in no segment of map {opts.segment_map} ({other!r})", Level.INFO, count=unmatched)
    nonpos = int((cust["monetary"] <= 0).sum()) if len(cust) else 0
    if nonpos:
        ctx.issue("nonpositive_monetary", f"{nonpos} customers have net spend ≤ 0 after credits; they get the lowest M scores", Level.INFO, count=nonpos)
    cust["first_order"] = cust["first_order"].dt.strftime("%Y-%m-%d")
    cust["last_order"] = cust["last_order"].dt.strftime("%Y-%m-%d")
    cols = ["customer_id", "first_order", "last_order", "recency_days", "frequency", "monetary", "orders", "revenue",
            "r_score", "f_score", "m_score", "rfm_score", "rf", "rfm", "segment"]
    rules_table = pd.DataFrame([{"segment": r.name, "r": _rng(r.r), "f": _rng(r.f), "m": _rng(r.m), "cells": " ".join(r.cells or [])}
                                for r in rules])
    return AnalysisOutput({"customers": cust[cols].reset_index(drop=True), "segments": segments, "cuts": cuts, "segment_map": rules_table},
                          notes, {"analysis_date": day.strftime("%Y-%m-%d")})


def _rng(rng: tuple[int, int] | None) -> str:
    return "" if rng is None else (str(rng[0]) if rng[0] == rng[1] else f"{rng[0]}-{rng[1]}")


def _customer_table(orders: pd.DataFrame, buys: pd.DataFrame, day: dt.datetime, opts: RfmOptions) -> pd.DataFrame:
    """One row per customer with at least one order: dates, recency, frequency, monetary."""
    import pandas as pd

    g = buys.assign(_d=buys["_local"].dt.normalize()).groupby("customer_id", sort=True)
    cust = g.agg(first_order=("_d", "min"), last_order=("_d", "max"), orders=("_order", "sum"), days=("_d", "nunique")).reset_index()
    net = orders.groupby("customer_id")["_value"].sum()  # credits included under refunds: net
    cust["revenue"] = cust["customer_id"].map(net).astype("float64")
    cust["recency_days"] = (pd.Timestamp(day) - cust["last_order"]).dt.days.astype("int64")
    cust["frequency"] = (cust["orders"] if opts.frequency == "orders" else cust["days"]).astype("int64")
    cust["monetary"] = cust["revenue"] if opts.monetary == "total" else cust["revenue"] / cust["orders"]
    return cust


def _cut_rows(dim: str, values: np.ndarray, score: np.ndarray, lower: list[float], upper: list[float], reverse: bool,
              bins: int) -> list[dict[str, Any]]:
    """Per score: customers, the observed value range, and the bounds for break scoring."""
    import numpy as np

    k = len(lower) if lower else bins
    rows = []
    for s in range(1, k + 1):
        sel = values[score == s]
        i = (k + 1 - s) if reverse else s  # bin index (ascending values) behind score s
        rows.append({"dimension": dim, "score": s, "customers": int(len(sel)),
                     "min": float(sel.min()) if len(sel) else np.nan, "max": float(sel.max()) if len(sel) else np.nan,
                     "lower": lower[i - 1] if lower else np.nan, "upper": upper[i - 1] if lower else np.nan})
    return rows


def _cut_notes(cuts: pd.DataFrame) -> list[str]:
    """One readable line per dimension: which values got which score."""
    import math

    lines = []
    for dim, part in cuts.groupby("dimension", sort=False):
        cells = []
        for rec in part.sort_values("score", ascending=False).to_dict("records"):
            if not math.isnan(rec["lower"]):
                cells.append(f"{rec['score']}: [{rec['lower']:g}, {rec['upper']:g}) n={rec['customers']}")
            elif rec["customers"]:
                cells.append(f"{rec['score']}: {rec['min']:g}–{rec['max']:g} n={rec['customers']}")
            else:
                cells.append(f"{rec['score']}: (empty)")
        lines.append(f"rfm cut points, {dim}: " + "; ".join(cells))
    return lines


def _check_collapsed(ctx: AnalysisContext, cust: pd.DataFrame, opts: RfmOptions) -> None:
    """Tell when ties left some score bins empty (rfm R package issue #17)."""
    for dim in ("r", "f", "m"):
        used = cust[f"{dim}_score"].nunique()
        expected = opts.bins
        if used < expected and len(cust) >= expected:
            ctx.issue("collapsed_bins", f"{dim.upper()} scores use only {used} of {expected} bins (ties in the data); "
                                        "scoring: rank fills every bin", Level.WARNING)


def _segment_summary(cust: pd.DataFrame, rules: tuple[SegmentRule, ...], other: str) -> pd.DataFrame:
    """Customers, revenue and shares per segment, in map order (empty segments kept)."""
    import pandas as pd

    names = list(dict.fromkeys([r.name for r in rules] + [other]))
    total_c = len(cust)
    total_r = float(cust["revenue"].sum()) if total_c else 0.0
    g = cust.groupby("segment").agg(customers=("customer_id", "size"), revenue=("revenue", "sum"), recency_days_mean=("recency_days", "mean"),
                                    frequency_mean=("frequency", "mean"), monetary_mean=("monetary", "mean")) if total_c else None
    rows = []
    for name in names:
        if g is not None and name in g.index:
            rec = g.loc[name]
            rows.append({"segment": name, "customers": int(rec["customers"]), "share_customers": rec["customers"] / total_c,
                         "revenue": float(rec["revenue"]), "share_revenue": float(rec["revenue"]) / total_r if total_r else float("nan"),
                         "recency_days_mean": float(rec["recency_days_mean"]), "frequency_mean": float(rec["frequency_mean"]),
                         "monetary_mean": float(rec["monetary_mean"])})
        elif name != other:
            rows.append({"segment": name, "customers": 0, "share_customers": 0.0 if total_c else float("nan"), "revenue": 0.0,
                         "share_revenue": 0.0 if total_r else float("nan")})
    return pd.DataFrame(rows, columns=["segment", "customers", "share_customers", "revenue", "share_revenue", "recency_days_mean",
                                       "frequency_mean", "monetary_mean"])


register_analysis(AnalysisSpec(
    name="rfm",
    title="RFM scores and segments",
    description="Recency (days since the last order), frequency and monetary value per customer, quintile scores with printed cut "
                "points, and a segment per customer (RF 10-segment grid by default) with a segment summary.",
    needs={"orders": ("customer_id", "order_date", "amount")},
    optional={"orders": POLICY_FIELDS},
    compute=compute_rfm,
    options=RfmOptions,
    edge_rules=(*POLICY_RULES,
                "Tables: customers (main), segments, cuts, segment_map. Analysis date: --as-of, else analyses.rfm.analysis_date, else "
                "the day after the last order; orders dated after it are issues.",
                "recency_days counts calendar days from the last order day to the analysis date; rfm_score = 100 R + 10 F + M."),
))
