"""Voice of customer: NPS, CSAT and CES (METRICS.md F1–F3).

Scores are validated against the survey's scale before anything is counted: a score
outside the scale or a non-integer score is an issue with its file line and is left
out, never put into a bucket (formbricks#9248 diluted NPS exactly that way).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from crmmetrics.errors import ConfigError
from crmmetrics.metrics.context import MetricContext
from crmmetrics.metrics.registry import MetricSpec, Options, register
from crmmetrics.metrics.shapes import Mean, Ratio, Shape

if TYPE_CHECKING:
    import pandas as pd

SURVEY_NEEDS = ("survey_type", "score")


def _scored_rows(ctx: MetricContext, survey_type: str, lo: float, hi: float, scale_text: str,
                 keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """Responses of ``survey_type`` in range, with valid integer scores only.

    Blank scores are excluded (Qualtrics' default) and counted in one info issue;
    out-of-range and non-integer scores get one issue per row. The rows carry the
    score, the date, the --by segments, the row locations and the ``keep`` columns:
    not the ids and texts no survey metric reads (each filter would copy them).
    """
    from crmmetrics.errors import Level

    _report_blank_types(ctx, survey_type)
    frame = ctx.frame
    columns = [c for c in dict.fromkeys(("_src", "_row", ctx.spec.date_field, "score", *keep, *ctx.by)) if c in frame]
    rows = ctx.flow_rows(frame.loc[(frame["survey_type"] == survey_type).to_numpy(dtype=bool), columns])
    score = rows["score"]
    blank = score.isna()
    if blank.any():
        ctx.row_issues(rows[blank], "blank_score", f"{survey_type} response without a score excluded", "score", level=Level.INFO)
    not_int = ~blank & (score % 1 != 0)
    out_of_range = ~blank & ~not_int & ((score < lo) | (score > hi))
    if not_int.any():
        ctx.row_issues(rows[not_int], "score_not_integer", f"{survey_type} score is not a whole number on the {scale_text} scale; response excluded", "score")
    if out_of_range.any():
        ctx.row_issues(rows[out_of_range], "score_out_of_range", f"{survey_type} score outside the {scale_text} scale; response excluded", "score")
    return rows[~blank & ~not_int & ~out_of_range]  # one copy for the three exclusions


def _report_blank_types(ctx: MetricContext, survey_type: str) -> None:
    """Responses without a survey_type belong to no survey metric: say so, never drop them silently.

    (Issue #9: six responses, three with a blank type, read as NPS +100 instead of −50.)
    A warning, so ``--strict`` fails on it; map the blanks with ``values: {survey_type: {"": nps}}``
    or a constant when the export holds one survey type.
    """
    blank = ctx.frame["survey_type"].isna()
    n = int(blank.sum())
    if not n:
        return
    first = ctx.frame[blank].iloc[0]
    where = ctx.dataset.locate([first["_src"]], [first["_row"]], "survey_type")[0]
    ctx.issue("blank_survey_type", f"{n} responses have no survey_type and are not counted as {survey_type} "
              "(hint: fill the type in the export, or set constants: {survey_type: ...} for a one-survey export)",
              location=where, field="survey_type", count=n)


# ------------------------------------------------------------------ NPS


class NpsOptions(Options):
    """Options of ``nps``."""

    promoter_min: int = Field(9, ge=1, le=10, description="Lowest promoter score (Bain: 9).")
    detractor_max: int = Field(6, ge=0, le=9, description="Highest detractor score (Bain: 6).")
    scale_min: Literal[0, 1] = Field(0, description="Lowest score of the survey: 0 (standard NPS, 0-10) or 1 for 1-10 surveys (not a true NPS; say so when reporting).")
    unit: Literal["response", "latest_per_customer"] = Field("response", description="Count every response, or only each customer's latest response in the period (account NPS).")

    @model_validator(mode="after")
    def _order(self) -> NpsOptions:
        if self.detractor_max >= self.promoter_min:
            raise ValueError("detractor_max must be below promoter_min")
        return self


def nps_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per valid response: _net = +1 promoter, −1 detractor, 0 passive; _one = 1.

    NPS = 100 × (promoters − detractors) ÷ valid responses (passives count in n).

    Example (METRICS.md WX16): 10 responses, 5 promoters, 4 passives, 1 detractor →
    100 × (5 − 1) ÷ 10 = 40.
    """
    import numpy as np

    opts: NpsOptions = ctx.options  # type: ignore[assignment]
    latest = opts.unit == "latest_per_customer"
    rows = _scored_rows(ctx, "nps", opts.scale_min, 10, f"{opts.scale_min}-10 NPS", keep=("customer_id",) if latest else ())
    if latest:
        if not ctx.mapped("customer_id"):
            raise ConfigError("nps unit latest_per_customer needs surveys.customer_id mapped")
        no_customer = rows["customer_id"].isna()
        if no_customer.any():
            ctx.row_issues(rows[no_customer], "missing_customer_id", "nps response without customer_id excluded (unit latest_per_customer)", "customer_id")
        rows = rows[~no_customer]
        # Unmapped (-p all): all null, and a stable sort keeps the file order.
        rows = rows.sort_values(["responded_at"], kind="stable").drop_duplicates(["_period", *ctx.by, "customer_id"], keep="last")
    score = rows["score"]
    rows = rows.assign(
        _promoter=(score >= opts.promoter_min).astype("int64"),
        _detractor=(score <= opts.detractor_max).astype("int64"),
    )
    return rows.assign(_passive=1 - rows["_promoter"] - rows["_detractor"], _net=rows["_promoter"] - rows["_detractor"], _one=np.int64(1))


register(MetricSpec(
    name="nps",
    title="Net Promoter Score",
    family="voice of customer",
    description="Share of promoters minus share of detractors among valid 0-10 'how likely to recommend' answers, in points.",
    formula="100 × (promoters − detractors) ÷ responses; promoters score ≥ promoter_min (9), detractors ≤ detractor_max (6), passives in between",
    entity="surveys",
    needs=SURVEY_NEEDS,
    unit="points",
    better="higher",
    period_kind="FLOW",
    date_field="responded_at",
    rows=nps_rows,
    shape=Ratio("_net", "_one", scale=100.0, extras={"promoters": "_promoter", "passives": "_passive", "detractors": "_detractor"},
                what="NPS responses"),
    options=NpsOptions,
    option_needs=lambda o: ("customer_id",) if o.unit == "latest_per_customer" else (),
    extra_columns=("promoters", "passives", "detractors"),
    edge_rules=(
        "Only responses whose survey_type is nps count; a 0-10 question is never assumed to be NPS.",
        "Blank scores are excluded and counted (info issue); scores outside the scale or not whole numbers are issues, never bucketed.",
        "Period: responses with responded_at in [start, end); no responses → null and an issue.",
        "Range −100 … +100, shown as points, never with a % sign.",
    ),
))


# ------------------------------------------------------------------ CSAT


class CsatOptions(Options):
    """Options of ``csat``."""

    scale: tuple[int, int] = Field((1, 5), description="Lowest and highest score of the rating question.")
    satisfied_min: int | None = Field(None, description="Lowest 'satisfied' score. Default by scale length (Formbricks): 2-3 points top-1 box, 4-7 points top-2, 8+ points top-3; on 1-5 that is 4.")
    variant: Literal["top_box", "mean"] = Field("top_box", description="top_box: satisfied ÷ rated responses (default); mean: average score.")

    @model_validator(mode="after")
    def _check(self) -> CsatOptions:
        lo, hi = self.scale
        if hi <= lo:
            raise ValueError("scale must be [lowest, highest] with highest > lowest")
        if self.satisfied_min is not None and not lo <= self.satisfied_min <= hi:
            raise ValueError(f"satisfied_min must lie on the scale {lo}-{hi}")
        return self

    def threshold(self) -> int:
        """The satisfied cut-off in force."""
        if self.satisfied_min is not None:
            return self.satisfied_min
        lo, hi = self.scale
        points = hi - lo + 1
        top = 1 if points <= 3 else 2 if points <= 7 else 3
        return hi - top + 1


def csat_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per valid rating; _sat = 1 when satisfied (top-box variant), _one = 1.

    CSAT = satisfied ÷ rated responses (top-box), or the mean score.

    Example (METRICS.md WX17): ratings 5×10, 4×20, 3×10, 2×5, 1×5 → (10 + 20) ÷ 50 = 60 %
    (the mean variant gives 3.5).
    """
    import numpy as np

    opts: CsatOptions = ctx.options  # type: ignore[assignment]
    lo, hi = opts.scale
    rows = _scored_rows(ctx, "csat", lo, hi, f"{lo}-{hi} CSAT")
    ctx.in_force["satisfied_min"] = opts.threshold()
    if opts.variant == "mean":
        return rows
    return rows.assign(_sat=(rows["score"] >= opts.threshold()).astype("int64"), _one=np.int64(1))


def csat_shape(opts: CsatOptions) -> Shape:
    """Top-box share of satisfied ratings (a ratio), or the mean rating (variant mean)."""
    if opts.variant == "mean":
        return Mean("score", unit="score", what="CSAT ratings")
    return Ratio("_sat", "_one", unit="percent", extras={"satisfied": "_sat"}, what="CSAT ratings")


register(MetricSpec(
    name="csat",
    title="Customer Satisfaction (CSAT)",
    family="voice of customer",
    description="Share of rated responses in the satisfied top box of the scale (or, as a variant, the mean rating).",
    formula="satisfied ÷ rated responses; satisfied = score ≥ satisfied_min (4 on 1-5)",
    entity="surveys",
    needs=SURVEY_NEEDS,
    unit="percent",
    better="higher",
    period_kind="FLOW",
    date_field="responded_at",
    rows=csat_rows,
    shape=csat_shape,
    options=CsatOptions,
    extra_columns=("satisfied",),
    edge_rules=(
        "Only responses whose survey_type is csat count; unrated (blank) responses are excluded, as Zendesk does.",
        "Scores off the configured scale or not whole numbers are issues and excluded.",
        "Variant mean reports the average score (unit: score) with median and p90.",
    ),
))


# ------------------------------------------------------------------ CES


class CesOptions(Options):
    """Options of ``ces``. ``scale`` and ``higher_is_easier`` must be declared."""

    scale: tuple[int, int] | None = Field(None, description="Lowest and highest score, e.g. [1, 7]. Required.")
    higher_is_easier: bool | None = Field(None, description="true for CES 2.0 agreement scales (7 = very easy); false for effort scales (1 = very low effort). Required: never guessed.")
    variant: Literal["mean", "pct_easy"] = Field("mean", description="mean: average on the higher-is-easier scale (default); pct_easy: share of scores above the midpoint.")

    @model_validator(mode="after")
    def _check(self) -> CesOptions:
        if self.scale is not None and self.scale[1] <= self.scale[0]:
            raise ValueError("scale must be [lowest, highest] with highest > lowest")
        return self


def ces_rows(ctx: MetricContext) -> pd.DataFrame:
    """One row per valid response: _norm (higher = easier), _raw (as answered), _easy, _one.

    CES: mean score normalised to higher = easier (x' = min + max − x on effort scales).
    ``mean_raw`` keeps the mean in the survey's own direction; ``easy`` counts scores
    above the scale midpoint (5-7 on 1-7).
    """
    import numpy as np

    opts: CesOptions = ctx.options  # type: ignore[assignment]
    if opts.scale is None or opts.higher_is_easier is None:
        raise ConfigError(
            "ces needs metrics.ces.scale and metrics.ces.higher_is_easier in the config",
            hint="CES 2.0: {scale: [1, 7], higher_is_easier: true}; effort scales (CES 1.0): {scale: [1, 5], higher_is_easier: false}",
        )
    lo, hi = opts.scale
    rows = _scored_rows(ctx, "ces", lo, hi, f"{lo}-{hi} CES")
    norm = rows["score"] if opts.higher_is_easier else (lo + hi - rows["score"])
    mid = (lo + hi) / 2
    ctx.in_force["direction"] = "higher is easier" if opts.higher_is_easier else "lower is easier (normalised)"
    return rows.assign(_norm=norm.astype("float64"), _raw=rows["score"].astype("float64"), _easy=(norm > mid).astype("int64"), _one=np.int64(1))


CES_EXTRAS = {"easy": "_easy", "raw_sum": ("_raw", "score")}


def ces_shape(opts: CesOptions) -> Shape:
    """The mean normalised score (default), or the share of easy answers (variant pct_easy)."""
    if opts.variant == "pct_easy":
        return Ratio("_easy", "_one", unit="percent", extras=CES_EXTRAS, what="CES responses")
    return Mean("_norm", unit="score", extras=CES_EXTRAS, what="CES responses")


def ces_finish(ctx: MetricContext, out: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """mean_raw (the mean in the survey's own direction) and pct_easy beside either variant."""
    out["mean_raw"] = out["raw_sum"] / out["n"].where(out["n"] > 0)
    out["pct_easy"] = out["easy"] / out["n"].where(out["n"] > 0)
    return out.drop(columns=["raw_sum"])


register(MetricSpec(
    name="ces",
    title="Customer Effort Score (CES)",
    family="voice of customer",
    description="Average effort rating, normalised so that higher means easier; the raw mean and the share of easy answers beside it.",
    formula="mean(x') with x' = x (higher_is_easier) or min + max − x (effort scales); pct_easy = count(x' > midpoint) ÷ n",
    entity="surveys",
    needs=SURVEY_NEEDS,
    unit="score",
    better="higher",
    period_kind="FLOW",
    date_field="responded_at",
    rows=ces_rows,
    shape=ces_shape,
    finish=ces_finish,
    options=CesOptions,
    extra_columns=("mean_raw", "pct_easy", "easy", "mean", "median", "p90"),
    edge_rules=(
        "scale and higher_is_easier must be set under metrics.ces; without them ces refuses to run (no guessing CES 1.0 vs 2.0).",
        "Scores off the scale or not whole numbers are issues and excluded.",
    ),
    requires_options=("scale", "higher_is_easier"),
))
