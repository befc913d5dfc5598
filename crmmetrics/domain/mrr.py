"""Per-customer MRR timelines and the MRR-movement classifier (METRICS.md A1, A4–A9).

The shared building block of the subscription and acquisition families and of
``crmmetrics analyze mrr_movements``. Everything here is vectorised pandas/numpy.

1. **Segments** (:func:`load_segments`): one row per stretch of paid service with a
   constant MRR. From ``subscriptions`` (A1): ``mrr = (amount [× quantity] − discount
   [− tax when amount includes it]) × fx_rate ÷ billing_interval_months``, active on
   ``[started_at, end)`` where ``end`` is ``ended_at`` (or ``canceled_at``, option
   ``churn_date``). Fallback without subscriptions: ``customers`` gives one segment per
   customer, ``[first_paid_at, churned_at)`` at ``customers.mrr``. Without any start
   date the export is a **snapshot** (IBM telco): every row was paying just before the
   period, rows whose status says churned stop at its start.
2. **Events** (:func:`build_timeline`): per account (``customer_id`` plus the ``--by``
   dimensions) the step function of its MRR; changes within ``merge_window_minutes``
   are merged (ChartMogul "smart activity classification", 60 min), and each change is
   classified at customer level: 0 → paying = new (first time) or reactivation,
   paying → 0 = churn, up = expansion, down = contraction.
3. **Period summary** (:func:`period_summary`): for every period of the grid
   (:func:`period_grid`) and every ``--by`` group the stock at the period start and end,
   the movement sums and the start-base facts (NRR/GRR numerators, base churners).

Instants follow one rule so that the numbers reconcile: an event at time *t* belongs
to the period holding *t* (half-open ``[start, end)``); the stock "at" an instant *x*
is the state after every event **before** *x*. Hence MRR(P.end) − MRR(P.start) is
exactly the sum of the signed movements dated in P, and "MRR for October" is the MRR
of the subscriptions active on 31 October (``Start ≤ day < End``).

Worked example (METRICS.md WX6): five customers at 5/month from January, two more at
30/month from 15 February → MRR(Jan) = 25, MRR(Feb) = 85, new_mrr(Feb) = 60,
net_new_mrr(Feb) = 85 − 25 = 60.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from crmmetrics.errors import ConfigError, DataError, Issue, Level
from crmmetrics.metrics.registry import Options

if TYPE_CHECKING:
    import pandas as pd

    from crmmetrics.config import Config
    from crmmetrics.dataset import Dataset
    from crmmetrics.grid import Grid
    from crmmetrics.metrics.context import MetricContext

PERIOD_COL = "_period"
SUBSCRIPTION_FIELDS = ("subscription_id", "customer_id", "plan", "started_at", "canceled_at", "ended_at", "amount",
                       "discount_amount", "tax_amount", "billing_interval_months", "quantity", "status", "currency",
                       "past_due_since")
CUSTOMER_FIELDS = ("customer_id", "first_paid_at", "churned_at", "mrr", "status", "lifetime_revenue")
# Customer statuses that mean "no longer paying" in a dateless snapshot (map others with `values:`).
CHURNED_WORDS = ("churned", "canceled", "cancelled", "lost", "inactive", "former")
KINDS = ("new", "expansion", "contraction", "churned", "reactivation")
# Loader bookkeeping columns: never a --by dimension.
INTERNAL_COLUMNS = ("_src", "_row")
EPS = 1e-6  # MRR below a millionth of a currency unit is float dust, not a movement
ENGINE_OPTION_NAMES = ("source", "quantity", "amount_includes_tax", "churn_date", "delinquent_days", "paused",
                       "reactivation_window_days", "merge_window_minutes", "fx_rates")


# ------------------------------------------------------------------ options


class EngineOptions(Options):
    """How subscription rows become MRR and how changes are classified.

    Every subscription-family metric carries these. Set them once under
    ``metrics.mrr`` and they apply to the whole family; a metric's own block overrides
    them for that metric only (so ``net_new_mrr`` still reconciles with ``mrr``).
    """

    source: Literal["auto", "subscriptions", "customers"] = Field(
        "auto", description="Where MRR comes from: subscriptions when mapped (auto), else customers (first_paid_at, churned_at, mrr).")
    quantity: Literal["ignore", "multiply"] = Field(
        "ignore", description="ignore: amount is the price of the whole subscription per interval (METRICS.md A1); multiply: amount is a unit price, × quantity.")
    amount_includes_tax: bool = Field(
        False, description="true when amount already contains tax_amount (ChartMogul invoices): tax is then subtracted. Default: amount excludes tax, as the data contract says.")
    churn_date: Literal["ended_at", "canceled_at"] = Field(
        "ended_at", description="When a subscription stops counting: end of the paid service (ended_at, falling back to canceled_at; ChartMogul default, ProfitWell) or the cancellation request (canceled_at, falling back to ended_at).")
    delinquent_days: int | None = Field(
        30, ge=0, description="A past_due subscription stops counting this many days after past_due_since (an extra mapped subscriptions column; Baremetrics: 30). null: past_due always counts.")
    paused: Literal["active", "excluded"] = Field(
        "active", description="active: paused subscriptions keep their MRR and never churn (Polar); excluded: they count as 0 (ProfitWell).")
    reactivation_window_days: int | None = Field(
        None, ge=0, description="A returning former customer is a reactivation when back within this many days of churning, otherwise new business (Maxio: 90). null: any gap is a reactivation (ChartMogul, ProfitWell).")
    merge_window_minutes: float = Field(
        60, ge=0, description="Changes of one customer closer than this are one movement (ChartMogul: 60), so two subscriptions bought together are one new business.")
    fx_rates: dict[str, float | dict[str, float]] = Field(
        {}, description="Rates to the reporting currency (config `currency`): {USD: 32.5} or dated {USD: {'2025-01-01': 30.1, '2025-07-01': 33.0}}; a row uses the rate in force on its start day and keeps it.")

    @field_validator("fx_rates")
    @classmethod
    def _rates(cls, v: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for cur, rate in v.items():
            if isinstance(rate, dict):
                if not rate:
                    raise ValueError(f"{cur}: empty rate table")
                for day, r in rate.items():
                    try:
                        dt.date.fromisoformat(str(day))
                    except ValueError:
                        raise ValueError(f"{cur}: {day!r} is not a YYYY-MM-DD date") from None
                    if not r > 0:
                        raise ValueError(f"{cur}: rate {r} must be > 0")
            elif not rate > 0:
                raise ValueError(f"{cur}: rate {rate} must be > 0")
            out[str(cur).upper()] = rate
        return out


def resolve_options(config: Config | None, name: str, opts: Options) -> Options:
    """``opts`` with every engine option the user did not set taken from ``metrics.mrr``.

    Example: ``metrics: {mrr: {quantity: multiply}, arpa: {}}`` → arpa multiplies too.
    """
    if config is None or name == "mrr":
        return opts
    base = config.metric_options("mrr")
    if base is None:
        return opts
    update = {k: getattr(base, k) for k in ENGINE_OPTION_NAMES
              if k in type(opts).model_fields and k not in opts.model_fields_set and k in base.model_fields_set}
    return opts.model_copy(update=update) if update else opts


def engine_in_force(opts: Options) -> dict[str, Any]:
    """The engine options actually used (for the report's ``options``)."""
    return {k: getattr(opts, k) for k in ENGINE_OPTION_NAMES if hasattr(opts, k)}


# ------------------------------------------------------------------ run context


@dataclass
class Run:
    """What the engine needs from a metric or analysis run (no CLI, no printing)."""

    dataset: Dataset
    config: Config | None
    timezone: str
    grain: str
    week_start: str
    since: dt.datetime | None
    until: dt.datetime | None
    as_of: dt.datetime
    by: list[str]
    name: str | None
    issues: list[Issue]
    dims_frame: pd.DataFrame | None = None  # customer_id + by dims (text), for subscriptions
    dim_source: dict[str, str] = field(default_factory=dict)  # output dim → customers column
    # --by dimensions read from each subscription row (the plan at that time), not from customers
    sub_dims: list[str] = field(default_factory=list)
    given_grid: Grid | None = None  # the run's grid (built from the fields above when absent)

    @property
    def grid(self) -> Grid:
        """The run's period grid (crmmetrics.grid): bounds, labels, the as-of instant."""
        if self.given_grid is None:
            from crmmetrics.grid import Grid

            self.given_grid = Grid(self.grain, self.week_start, self.since, self.until, self.as_of)
        return self.given_grid

    @property
    def horizon(self) -> dt.datetime:
        """The as-of instant: nothing dated later has happened yet."""
        return self.grid.horizon

    def issue(self, code: str, message: str, level: Level = Level.WARNING, **kw: Any) -> None:
        """A run-level issue attributed to the metric/analysis."""
        self.issues.append(Issue(level, code, message, metric=self.name, **kw))

    def data_issue(self, entity: str, rows: pd.DataFrame, code: str, message: str, fieldname: str | None = None,
                   level: Level = Level.WARNING) -> None:
        """Row issues about the input itself: recorded once per run, whichever metric finds them."""
        self.dataset.row_issues(rows, code, message, entity=entity, fieldname=fieldname, level=level)

    def data_note(self, code: str, message: str, level: Level = Level.INFO, **kw: Any) -> None:
        """A summary issue about the input (recorded once per run)."""
        self.dataset.issues.append(Issue(level, code, message, **kw))

    def frame(self, entity: str) -> pd.DataFrame | None:
        """The typed frame of ``entity`` (None when the config does not map it)."""
        return self.dataset.frames.get(entity)

    def mapped(self, entity: str, fieldname: str) -> bool:
        """Whether the config maps ``entity.fieldname`` (declared fields are columns either way)."""
        return fieldname in self.dataset.mapped_fields(entity)

    def cache(self) -> dict[Any, Any]:
        """Per-run memo of segments, timelines and summaries."""
        # The dataset lives for one compute() call; every metric of the family reuses
        # the normalised segments and timelines instead of rebuilding them.
        return self.dataset.__dict__.setdefault("_mrr_cache", {})


def _has_dim(ctx: MetricContext, frame: pd.DataFrame, entity: str, col: str) -> bool:
    """Whether ``frame`` carries the --by column ``col``: not when it is only the all-null
    column of a declared field the config does not map (declared fields are always columns)."""
    return col in frame and (col in ctx.dataset.mapped_fields(entity) or bool(frame[col].notna().any()))


def run_from_metric(ctx: MetricContext, dim_source: dict[str, str] | None = None) -> Run:
    """A :class:`Run` for a metric whose entity is ``customers`` (or that reads customers as optional)."""
    dims = list(ctx.by)
    frame = ctx.frame if ctx.spec.entity == "customers" else ctx.other("customers")
    dim_source = dim_source or {d: d for d in dims}
    dims_frame = None
    subs = ctx.other("subscriptions") if "subscriptions" in ctx.spec.by_from else None
    sub_dims = [d for d in dims if subs is not None and _has_dim(ctx, subs, "subscriptions", d) and d not in INTERNAL_COLUMNS]
    if frame is not None and "customer_id" in ctx.dataset.mapped_fields("customers"):
        cols = {}
        for out, col in dim_source.items():
            if not _has_dim(ctx, frame, "customers", col):
                if out in sub_dims:
                    continue  # taken from each subscription row instead
                raise ConfigError(f"{ctx.spec.name}: --by {out} needs customers.{col} mapped")
            cols[out] = _text_dim(frame[col])
        import pandas as pd

        dims_frame = pd.DataFrame({"customer_id": frame["customer_id"], **cols})
        dims_frame = dims_frame.dropna(subset=["customer_id"]).drop_duplicates("customer_id", keep="first")
    return Run(ctx.dataset, ctx.config, ctx.timezone, ctx.grain, ctx.week_start, ctx.since, ctx.until, ctx.as_of, dims,
               ctx.spec.name, ctx.issues, dims_frame, dim_source, sub_dims, ctx.grid)


def _text_dim(col: pd.Series) -> pd.Series:
    return col.astype(object).where(col.notna(), "(blank)").astype(str).replace({"nan": "(blank)", "<NA>": "(blank)"})


# ------------------------------------------------------------------ segments


@dataclass
class Segments:
    """Normalised stretches of paid service (one row per subscription or customer)."""

    frame: pd.DataFrame  # customer_id, start, end (NaT = still running), mrr, paying, interval, row_id, _src, _row, _ix (source index)
    source: str  # subscriptions | customers
    snapshot: bool
    anchor: dt.datetime | None = None  # snapshot: the start of the one period


def choose_source(run: Run, opts: EngineOptions) -> str:
    """subscriptions or customers, per option ``source`` and what the config maps."""
    subs, cust = run.frame("subscriptions"), run.frame("customers")
    if opts.source == "subscriptions" or (opts.source == "auto" and subs is not None):
        if subs is None:
            raise ConfigError(f"{run.name}: source subscriptions, but the config maps no subscriptions source")
        return "subscriptions"
    if cust is None:
        raise ConfigError(f"{run.name} needs a subscriptions source or customers (first_paid_at, churned_at, mrr)")
    return "customers"


def load_segments(run: Run, opts: EngineOptions, *, need_mrr: bool = True, min_interval: float | None = None) -> Segments:
    """Normalised segments, cached per run; input problems become issues once.

    ``min_interval`` keeps only subscriptions billed at least that many months apart
    (strict annual ARR).
    """
    source = choose_source(run, opts)
    norm = {k: getattr(opts, k) for k in ("quantity", "amount_includes_tax", "churn_date", "delinquent_days", "paused", "fx_rates")}
    snapshot = _is_snapshot(run, source)
    anchor = _snapshot_anchor(run) if snapshot else None
    key = ("segments", source, json.dumps(norm, sort_keys=True, default=str), run.horizon, anchor)
    cache = run.cache()
    if key not in cache:
        if snapshot and run.grain != "all":
            start = "subscriptions.started_at" if source == "subscriptions" else "customers.first_paid_at"
            raise ConfigError(f"{run.name}: the data has no dates ({start} is not mapped), so it is a snapshot: only one period can be measured",
                              hint="use -p all (the export's latest period), or map the start dates")
        if source == "subscriptions":
            frame = _subscription_segments(run, opts, snapshot, anchor)
        else:
            frame = _customer_segments(run, snapshot, anchor)
        cache[key] = Segments(frame, source, snapshot, anchor)
    seg = cache[key]
    if min_interval is not None:
        fkey = (key, "min_interval", min_interval)
        if fkey not in cache:
            if seg.source != "subscriptions" or seg.snapshot:
                raise ConfigError(f"{run.name}: keeping only long billing intervals needs dated subscriptions with billing_interval_months")
            kept = seg.frame[seg.frame["interval"] >= min_interval].reset_index(drop=True)
            cache[fkey] = Segments(kept, seg.source, seg.snapshot, seg.anchor)
        seg = cache[fkey]
    if need_mrr and seg.source == "customers" and not run.mapped("customers", "mrr"):
        raise ConfigError(f"{run.name} needs MRR amounts: map subscriptions (amount, started_at, ...) or customers.mrr")
    return seg


def _is_snapshot(run: Run, source: str) -> bool:
    start = "started_at" if source == "subscriptions" else "first_paid_at"
    return not run.mapped(source, start)  # no start dates mapped: a dateless snapshot


def _snapshot_anchor(run: Run) -> dt.datetime:
    if run.since is not None:
        return run.since
    return run.grid.day_start(run.as_of)


def _local(col: pd.Series, tz: str) -> pd.Series:
    return col.dt.tz_convert(tz).dt.tz_localize(None)


class _Filter:
    """Drops offending rows one check at a time, reporting each row once with its location."""

    def __init__(self, run: Run, entity: str, frame: pd.DataFrame) -> None:
        import pandas as pd

        self.run, self.entity, self.frame = run, entity, frame
        self.keep = pd.Series(True, index=frame.index)

    def drop(self, mask: pd.Series, code: str, message: str, fieldname: str | None = None, level: Level = Level.WARNING) -> None:
        hit = mask.fillna(False).astype(bool) & self.keep
        if hit.any():
            self.run.data_issue(self.entity, self.frame[hit], code, message, fieldname, level)
            self.keep &= ~hit


def _subscription_segments(run: Run, opts: EngineOptions, snapshot: bool, anchor: dt.datetime | None) -> pd.DataFrame:
    """Subscription rows → segments (METRICS.md A1 normalisation), bad rows reported and left out."""
    import pandas as pd

    df = run.frame("subscriptions")
    for need in ("customer_id", "amount"):
        if not run.mapped("subscriptions", need):
            raise ConfigError(f"{run.name}: MRR from subscriptions needs subscriptions.{need} mapped")
    f = _Filter(run, "subscriptions", df)
    f.drop(df["customer_id"].isna(), "missing_customer_id", "subscription without customer_id left out of MRR", "customer_id")
    f.drop(df["amount"].isna(), "missing_amount", "subscription without amount left out of MRR", "amount")
    f.drop(df["amount"] < 0, "negative_amount", "negative subscription amount left out of MRR (refunds and credits are not MRR)", "amount")
    discount = df["discount_amount"].fillna(0.0)  # blank or unmapped: no discount
    f.drop(discount < 0, "negative_discount", "negative discount left out of MRR", "discount_amount")
    tax = pd.Series(0.0, index=df.index)
    if opts.amount_includes_tax:  # blank or unmapped tax: 0
        tax = df["tax_amount"].fillna(0.0)
        f.drop(tax < 0, "negative_tax", "negative tax amount left out of MRR", "tax_amount")
    if run.mapped("subscriptions", "billing_interval_months"):
        interval = df["billing_interval_months"]
        f.drop(interval.isna(), "missing_billing_interval", "subscription without billing interval left out of MRR (never guessed)", "billing_interval_months")
        f.drop(interval <= 0, "bad_billing_interval", "billing interval must be more than 0 months; subscription left out of MRR", "billing_interval_months")
    else:
        interval = pd.Series(1.0, index=df.index)
        run.data_note("monthly_assumed", "subscriptions.billing_interval_months is not mapped: every subscription is read as billed monthly")
    quantity = pd.Series(1.0, index=df.index)
    if opts.quantity == "multiply":
        if not run.mapped("subscriptions", "quantity"):
            raise ConfigError(f"{run.name}: option quantity multiply needs subscriptions.quantity mapped")
        quantity = df["quantity"]
        f.drop(quantity.isna() | (quantity < 0), "bad_quantity", "quantity blank or negative; subscription left out of MRR (quantity: multiply)", "quantity")
    gross = df["amount"] * quantity.fillna(0)
    net = gross - discount - tax
    f.drop(net < -EPS, "discount_exceeds_amount", "discount (and tax) exceed the amount; subscription left out of MRR", "discount_amount")

    status = df["status"].astype(object).str.lower()
    f.drop(status.eq("trialing"), "trialing", "trialing subscription is not MRR yet; left out", "status", Level.INFO)
    if opts.paused == "excluded":
        f.drop(status.eq("paused"), "paused", "paused subscription left out of MRR (paused: excluded)", "status", Level.INFO)

    tz = run.timezone
    if snapshot:
        start = pd.Series(pd.Timestamp(anchor) - pd.Timedelta(days=1), index=df.index)
        end = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
        end[status.eq("canceled").to_numpy()] = pd.Timestamp(anchor)
    else:
        start = _local(df["started_at"], tz)
        f.drop(start.isna(), "missing_start", "subscription without a start date left out of MRR", "started_at")
        ended, canceled = _local(df["ended_at"], tz), _local(df["canceled_at"], tz)
        end = ended.fillna(canceled) if opts.churn_date == "ended_at" else canceled.fillna(ended)
        field_end = "ended_at" if opts.churn_date == "ended_at" else "canceled_at"
        f.drop(ended.notna() & (ended < start), "end_before_start", "subscription ends before it starts; left out of MRR", "ended_at")
        f.drop(end < start, "end_before_start", f"{field_end} is before started_at; subscription left out of MRR", field_end)
        f.drop(end.eq(start), "never_active", "subscription ends the moment it starts (never active); left out, not counted as churn", field_end, Level.INFO)
        f.drop(status.eq("canceled") & end.isna(), "canceled_without_end", "canceled subscription without ended_at or canceled_at: its churn cannot be dated; left out", "status")
        end = _past_due_end(run, opts, df, status, end, f)
    keep = f.keep.to_numpy()
    rate = fx_rates(run, opts, df, start, keep)
    mrr = (net * rate / interval).where(keep)
    out = pd.DataFrame({
        "customer_id": df["customer_id"].astype(object),
        "start": start.astype("datetime64[ns]"),
        "end": end.astype("datetime64[ns]"),
        "mrr": mrr.astype("float64"),
        "interval": interval.astype("float64"),
        "row_id": df["subscription_id"].astype(object) if run.mapped("subscriptions", "subscription_id") else df["_row"].astype(str),
        "fx_rate": rate,
        "_src": df["_src"], "_row": df["_row"], "_ix": df.index,
    })[keep]
    out = out[out["start"] < pd.Timestamp(run.horizon)]  # not started yet as of the as-of day
    out.loc[out["end"] >= pd.Timestamp(run.horizon), "end"] = pd.NaT  # ends after as-of: still running
    out["paying"] = out["mrr"] > EPS
    out["mrr"] = out["mrr"].where(out["paying"], 0.0)
    if not snapshot:
        _report_overlaps(run, out)
    return out.reset_index(drop=True)


def _past_due_end(run: Run, opts: EngineOptions, df: pd.DataFrame, status: pd.Series, end: pd.Series, f: _Filter) -> pd.Series:
    """past_due rows stop ``delinquent_days`` after ``past_due_since`` (when mapped)."""
    import pandas as pd

    from crmmetrics.io.parse import parse
    from crmmetrics.schema import FieldType

    past_due = status.eq("past_due") & f.keep
    if not past_due.any() or opts.delinquent_days is None:
        return end
    if not run.mapped("subscriptions", "past_due_since"):
        run.data_note("past_due_kept", f"{int(past_due.sum())} past_due subscriptions count as active: map a past_due_since column "
                      f"to stop them {opts.delinquent_days} days after the failed payment (delinquent_days)", count=int(past_due.sum()))
        return end
    src = run.config.sources("subscriptions")[0] if run.config else None
    parsed = parse(_raw_text(df["past_due_since"]), FieldType.DATETIME,
                   tz=run.timezone, dayfirst=src.dates.dayfirst if src else None, date_format=src.dates.format if src else None)
    since = _local(parsed.values, run.timezone)
    bad = parsed.bad & past_due
    if bad.any():
        run.data_issue("subscriptions", df[bad.to_numpy()], "unparseable_datetime", f"past_due_since: {parsed.reason}; past_due row counted as active", "past_due_since")
    cut = since + pd.Timedelta(days=opts.delinquent_days)
    apply = past_due & cut.notna() & (end.isna() | (cut < end))
    return end.where(~apply, cut)


def fx_rates(run: Run, opts: EngineOptions, df: pd.DataFrame, start: pd.Series, keep: Any, entity: str = "subscriptions") -> pd.Series:
    """Rate to the reporting currency per row (1 when no conversion is needed).

    Refuses (DataError) to add up mixed currencies without a rate for each, naming them.
    """
    import numpy as np
    import pandas as pd

    ones = pd.Series(1.0, index=df.index)
    if not run.mapped(entity, "currency"):
        return ones
    cur = df["currency"].astype(object).str.strip().str.upper()
    found = sorted({c for c in cur[keep].dropna().unique() if c})
    report = (run.config.model.currency or "").strip().upper() if run.config else ""
    foreign = [c for c in found if c != report]
    if not foreign or (not report and len(found) == 1):
        return ones
    missing = [c for c in foreign if c not in opts.fx_rates]
    if not report or missing:
        target = report or "a reporting currency"
        raise DataError(f"{entity} mix currencies ({', '.join(found)}) and no rate converts {', '.join(missing or foreign)} to {target}; refusing to add them up",
                        hint="set `currency:` in the config and metrics.mrr.fx_rates, e.g. {USD: 32.5} (reporting units per 1 USD)")
    rate = ones.copy()
    for c in foreign:
        table = opts.fx_rates[c]
        rows = cur.eq(c).to_numpy()
        if isinstance(table, dict):
            days = sorted((pd.Timestamp(k), float(v)) for k, v in table.items())
            keys = np.array([d for d, _ in days], dtype="datetime64[ns]")
            vals = np.array([v for _, v in days])
            pos = np.searchsorted(keys, start[rows].to_numpy(dtype="datetime64[ns]"), side="right") - 1
            rate[rows] = vals[np.clip(pos, 0, len(vals) - 1)]  # before the first date: its rate
        else:
            rate[rows] = float(table)
    return rate


def _report_overlaps(run: Run, seg: pd.DataFrame) -> None:
    """Rows of one customer that overlap in time are summed; say so (info, with lines)."""
    import numpy as np
    import pandas as pd

    if len(seg) < 2:
        return
    s = seg.sort_values(["customer_id", "start"], kind="stable")
    end = s["end"].fillna(pd.Timestamp.max).to_numpy(dtype="datetime64[ns]")
    same = s["customer_id"].to_numpy() == np.roll(s["customer_id"].to_numpy(), 1)
    same[0] = False
    # running max of earlier ends within the customer (vectorised through a group cummax)
    prev_max = pd.Series(end, index=s.index).groupby(s["customer_id"].to_numpy(), sort=False).cummax().shift(1)
    overlap = same & (s["start"].to_numpy(dtype="datetime64[ns]") < prev_max.to_numpy(dtype="datetime64[ns]"))
    if overlap.any():
        run.data_issue("subscriptions", s[overlap], "overlapping_subscriptions",
                       "subscription overlaps another of the same customer; their MRR is summed", "started_at", Level.INFO)


def _customer_segments(run: Run, snapshot: bool, anchor: dt.datetime | None) -> pd.DataFrame:
    """Fallback without subscriptions: one segment per customer, [first_paid_at, churned_at) at customers.mrr."""
    import pandas as pd

    df = run.frame("customers")
    f = _Filter(run, "customers", df)
    f.drop(df["customer_id"].isna(), "missing_customer_id", "customer row without customer_id left out", "customer_id")
    has_mrr = run.mapped("customers", "mrr")
    mrr = df["mrr"] if has_mrr else pd.Series(0.0, index=df.index)
    f.drop(mrr < 0, "negative_mrr", "negative MRR left out", "mrr")
    status = df["status"].astype(object).str.strip().str.lower()
    churned_word = status.isin(CHURNED_WORDS)
    if snapshot:
        if run.mapped("customers", "lifetime_revenue"):
            _check_lifetime_revenue(run, df, f)
        start = pd.Series(pd.Timestamp(anchor) - pd.Timedelta(days=1), index=df.index)
        end = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
        end[churned_word.to_numpy()] = pd.Timestamp(anchor)
        paying = (mrr.fillna(0) > EPS) | churned_word
        if not run.mapped("customers", "status"):
            run.data_note("snapshot_without_status", "customers.status is not mapped: nobody can be seen as churned in this snapshot")
    else:
        tz = run.timezone
        start = _local(df["first_paid_at"], tz)
        end = _local(df["churned_at"], tz)
        f.drop(start.isna() & end.notna(), "churned_without_first_paid", "customer has churned_at but no first_paid_at; left out", "churned_at")
        never = start.isna() & f.keep
        f.keep &= ~never  # never paid: not a customer for revenue metrics (trials, leads)
        f.drop(end < start, "end_before_start", "churned_at is before first_paid_at; customer left out", "churned_at")
        f.drop(end.eq(start), "never_active", "customer churned the moment they first paid; left out", "churned_at", Level.INFO)
        # Same rule as subscriptions: only MRR > 0 is paying. A first-paid date with MRR 0
        # (free plan, or MRR zeroed after churn) is not a paying customer; without an mrr
        # column every customer with a first-paid date counts (customer counts only).
        paying = mrr.fillna(0) > EPS if has_mrr else pd.Series(True, index=df.index)
    keep = f.keep.to_numpy()
    out = pd.DataFrame({
        "customer_id": df["customer_id"].astype(object), "start": start.astype("datetime64[ns]"), "end": end.astype("datetime64[ns]"),
        "mrr": mrr.fillna(0.0).astype("float64"), "interval": 1.0, "row_id": df["customer_id"].astype(object), "fx_rate": 1.0,
        "paying": paying.astype(bool), "_src": df["_src"], "_row": df["_row"], "_ix": df.index,
    })[keep]
    out = out[out["start"] < pd.Timestamp(run.horizon)]
    out.loc[out["end"] >= pd.Timestamp(run.horizon), "end"] = pd.NaT
    if has_mrr and not snapshot:
        zero = ~out["paying"]
        if zero.any():
            lost = int((zero & out["end"].notna()).sum())
            run.data_note("zero_mrr_not_paying", f"{int(zero.sum())} customers with a first_paid_at carry MRR 0 in the customers export "
                          f"({lost} of them churned): not counted as paying customers in any period (MRR > 0 is paying); "
                          "map subscriptions for their revenue history", count=int(zero.sum()), entity="customers")
        run.data_note("constant_mrr", "MRR from customers.mrr: each customer's current MRR is assumed for their whole paying life "
                      "(no expansion or contraction history; map subscriptions for that)", entity="customers")
    return out.reset_index(drop=True)


def _raw_text(col: pd.Series) -> pd.Series:
    """An extra (text) column as the parsers expect it: None for absent or blank cells.

    The loader currently turns some blank cells of extra columns into the text "nan"
    (io.parse.parse_category on a float NaN); those count as blank too.
    """
    import numpy as np
    import pandas as pd

    text = col.astype(str).str.strip()
    present = col.notna() & (text != "") & ~text.isin(["nan", "None", "<NA>", "NaT"])
    return pd.Series(np.where(present.to_numpy(), col.to_numpy(dtype=object), None), index=col.index, dtype=object)


def _check_lifetime_revenue(run: Run, df: pd.DataFrame, f: _Filter) -> None:
    """Snapshot rows whose lifetime revenue (an extra customers column) is blank have never been billed."""
    from crmmetrics.io.parse import parse
    from crmmetrics.schema import FieldType

    raw = _raw_text(df["lifetime_revenue"])
    src = run.config.sources("customers")[0] if run.config else None
    parsed = parse(raw, FieldType.MONEY, decimal=src.csv.decimal if src else ".", thousands=src.csv.thousands if src else None)
    f.drop(parsed.values.isna() & ~parsed.bad, "blank_lifetime_revenue",
           "lifetime revenue is blank: the account has not been billed yet (new in the snapshot period); left out of the snapshot", "lifetime_revenue")
    f.drop(parsed.bad, "unparseable_money", f"lifetime_revenue: {parsed.reason}; customer left out of the snapshot", "lifetime_revenue")


# ------------------------------------------------------------------ timeline


@dataclass
class Timeline:
    """Classified MRR movements of every account, plus what produced them."""

    events: pd.DataFrame  # acct, dims..., customer_id, time, mrr_before, mrr_after, paying_before, paying_after, delta, kind, value
    accounts: pd.DataFrame  # acct → customer_id, dims
    segments: Segments
    dims: list[str]
    first_time: Any  # earliest segment start (naive local) or None


def build_timeline(run: Run, opts: EngineOptions, *, need_mrr: bool = True, min_interval: float | None = None) -> Timeline:
    """Segments → per-account merged step functions → classified movements (cached)."""
    seg = load_segments(run, opts, need_mrr=need_mrr, min_interval=min_interval)
    key = ("timeline", id(seg), tuple(run.by), tuple(sorted(run.dim_source.items())), opts.merge_window_minutes, opts.reactivation_window_days)
    cache = run.cache()
    if key not in cache:
        cache[key] = _timeline(run, opts, seg)
    return cache[key]


def _timeline(run: Run, opts: EngineOptions, seg: Segments) -> Timeline:
    import numpy as np
    import pandas as pd

    dims = list(run.by)
    s = segment_dims(run, seg)
    keys = ["customer_id", *dims]
    acct_codes, acct_index = _factorize(s, keys)
    s = s.assign(acct=acct_codes)
    accounts = acct_index
    starts = pd.DataFrame({"acct": s["acct"], "time": s["start"], "delta": s["mrr"], "dpay": s["paying"].astype("int64")})
    ended = s[s["end"].notna()]
    ends = pd.DataFrame({"acct": ended["acct"], "time": ended["end"], "delta": -ended["mrr"], "dpay": -ended["paying"].astype("int64")})
    ev = pd.concat([starts, ends], ignore_index=True)
    if ev.empty:
        events = _empty_events(dims)
        return Timeline(events, accounts, seg, dims, None)
    ev = ev.groupby(["acct", "time"], sort=True).agg(delta=("delta", "sum"), dpay=("dpay", "sum")).reset_index()
    acct = ev["acct"].to_numpy()
    cum = ev.groupby("acct", sort=False)[["delta", "dpay"]].cumsum()
    mrr_after = cum["delta"].to_numpy().copy()
    mrr_after[np.abs(mrr_after) < EPS] = 0.0  # +x − x can leave 1e-15 behind
    pay_after = cum["dpay"].to_numpy() > 0
    time = ev["time"].to_numpy(dtype="datetime64[ns]")
    first = np.r_[True, acct[1:] != acct[:-1]]
    # Merge changes of one account closer than the window into one movement (state after the last).
    window = np.timedelta64(int(opts.merge_window_minutes * 60 * 1e9), "ns")
    gap = np.r_[np.timedelta64(0, "ns"), time[1:] - time[:-1]]
    new_cluster = first | (gap > window)
    last_of_cluster = np.r_[new_cluster[1:], True]
    c_time = time[new_cluster]
    c_acct = acct[new_cluster]
    c_mrr_after = mrr_after[last_of_cluster]
    c_pay_after = pay_after[last_of_cluster]
    c_first = first[new_cluster]
    c_mrr_before = np.where(c_first, 0.0, np.r_[0.0, c_mrr_after[:-1]])
    c_pay_before = np.where(c_first, False, np.r_[False, c_pay_after[:-1]])
    events = pd.DataFrame({"acct": c_acct, "time": c_time, "mrr_before": c_mrr_before, "mrr_after": c_mrr_after,
                           "paying_before": c_pay_before, "paying_after": c_pay_after})
    events["delta"] = events["mrr_after"] - events["mrr_before"]
    noop = (events["paying_before"] == events["paying_after"]) & (events["delta"].abs() < EPS)
    events = events[~noop].reset_index(drop=True)
    events = _classify(events, opts)
    events = events.merge(accounts, left_on="acct", right_index=True, how="left")
    first_time = s["start"].min() if len(s) else None
    return Timeline(events, accounts, seg, dims, None if pd.isna(first_time) else first_time.to_pydatetime())


def segment_dims(run: Run, seg: Segments) -> pd.DataFrame:
    """The segments with the --by dimensions attached.

    A dimension that subscriptions carry (``plan``) is each subscription's own value, so
    a customer is in the plan they paid for at that time (ChartMogul's plan filter); the
    others come from the customer's attributes in ``customers``. A customer moving plan
    is then two accounts: the old plan's MRR ends (churned there), the new plan's starts
    (new business there, reactivation if they had been on it before), so every segment's
    MRR(end) − MRR(start) still equals its own movements.
    """
    s = seg.frame
    dims = list(run.by)
    if not dims:
        return s
    from_subs = [d for d in run.sub_dims if seg.source == "subscriptions"]
    from_customers = [d for d in dims if d not in from_subs]
    s = s.drop(columns=[d for d in dims if d in s])
    if from_subs:
        rows = run.frame("subscriptions")
        for d in from_subs:
            s[d] = _text_dim(rows[d]).reindex(s["_ix"]).to_numpy()
    if from_customers:
        have = [] if run.dims_frame is None else [d for d in from_customers if d in run.dims_frame]
        missing = [d for d in from_customers if d not in have]
        if missing:
            where = "customers" if seg.source == "customers" else "customers or subscriptions"
            raise ConfigError(f"{run.name}: --by {missing[0]} needs {where} mapped with that field (and customer_id)")
        s = s.merge(run.dims_frame[["customer_id", *have]], on="customer_id", how="left")
    for d in dims:
        s[d] = s[d].fillna("(blank)")
    return s


def _factorize(frame: pd.DataFrame, keys: list[str]) -> tuple[Any, pd.DataFrame]:
    """Integer account codes for the key columns, and the code → keys table."""
    import pandas as pd

    if frame.empty:
        return pd.Series([], dtype="int64"), pd.DataFrame(columns=keys)
    codes = _group_numbers(frame, keys)
    if codes is None:
        codes = frame.groupby(keys, sort=True, dropna=False).ngroup().to_numpy()
    index = frame[keys].assign(acct=codes).drop_duplicates("acct").set_index("acct").sort_index()
    return codes, index


def _group_numbers(frame: pd.DataFrame, keys: list[str]) -> Any:
    """``frame.groupby(keys, sort=True, dropna=False).ngroup()`` as an array when every key
    is Arrow text (each key's sorted codes, combined in key order), else None."""
    import numpy as np

    from crmmetrics.io.keys import sorted_codes

    combined = None
    for key in keys:
        codes = sorted_codes(frame[key])
        if codes is None:
            return None
        size = int(codes.max()) + 1 if len(codes) else 1
        if combined is None:
            combined = codes
        elif (int(combined.max()) + 1) * size >= 2**62:
            return None
        else:
            combined = combined * size + codes
    if len(keys) == 1:
        return combined  # already numbered 0..n-1 in sorted order (only values present get a code)
    return np.unique(combined, return_inverse=True)[1].reshape(-1)


def _empty_events(dims: list[str]) -> pd.DataFrame:
    import pandas as pd

    cols = {"acct": "int64", "time": "datetime64[ns]", "mrr_before": "float64", "mrr_after": "float64", "paying_before": "bool",
            "paying_after": "bool", "delta": "float64", "kind": "object", "value": "float64", "customer_id": "object"}
    cols.update({d: "object" for d in dims})
    return pd.DataFrame({k: pd.Series(dtype=v) for k, v in cols.items()})


def _classify(ev: pd.DataFrame, opts: EngineOptions) -> pd.DataFrame:
    """Label each change: new, reactivation, expansion, contraction or churned; value ≥ 0.

    Example: an account at 0 that never paid moving to 50 is new (50); 50 → 80 is
    expansion (30); 80 → 0 is churned (80); a later 0 → 40 is reactivation (40), or new
    when reactivation_window_days is set and the gap is longer.
    """
    import numpy as np
    import pandas as pd

    pb, pa = ev["paying_before"].to_numpy(), ev["paying_after"].to_numpy()
    delta = ev["delta"].to_numpy()
    act = ~pb & pa
    churn = pb & ~pa
    nth = ev.assign(_a=act.astype("int64")).groupby("acct", sort=False)["_a"].cumsum().to_numpy()
    reactivation = act & (nth > 1)
    if opts.reactivation_window_days is not None and reactivation.any():
        churn_time = ev["time"].where(churn)
        last_churn = churn_time.groupby(ev["acct"], sort=False).ffill()
        gap = (ev["time"] - last_churn).to_numpy()
        too_late = gap > np.timedelta64(opts.reactivation_window_days, "D")
        reactivation = reactivation & ~too_late
    new = act & ~reactivation
    expansion = pb & pa & (delta > 0)
    contraction = pb & pa & (delta < 0)
    kind = np.select([new, reactivation, churn, expansion, contraction], list(("new", "reactivation", "churned", "expansion", "contraction")), "none")
    value = np.select([new | reactivation, churn, expansion, contraction],
                      [ev["mrr_after"].to_numpy(), ev["mrr_before"].to_numpy(), delta, -delta], 0.0)
    return ev.assign(kind=pd.Series(kind, index=ev.index, dtype=object), value=value)


# ------------------------------------------------------------------ period grid


def period_grid(run: Run, first_time: Any, anchor: dt.datetime | None = None) -> pd.DataFrame:
    """Periods in range: ``_period`` (bucket start, the label), ``lo``/``hi`` (measured bounds).

    From --since (or the first event) to --until (or the end of the as-of day). Edge
    periods cut by --since/--until are measured over the part inside the range.
    Example: month grain, --since 2026-03-15, as-of 2026-05-10 → 2026-03 [03-15, 04-01),
    2026-04 [04-01, 05-01), 2026-05 [05-01, 05-11).
    """
    import pandas as pd

    grid = run.grid
    end = grid.stock_stop  # not padded past the newest dated row unless --until asks
    first = run.since or anchor or first_time
    if first is None or first >= end:
        return pd.DataFrame({PERIOD_COL: pd.Series(dtype="datetime64[ns]"), "lo": pd.Series(dtype="datetime64[ns]"),
                             "hi": pd.Series(dtype="datetime64[ns]")})
    if run.grain == "all":
        start = first if run.since or anchor else min(grid.all_start, grid.day_start(first))
        starts, his = [start], [end]
    else:
        starts = grid.span(first, end - dt.timedelta(microseconds=1))
        his = [min(grid.snapshot(s), end) for s in starts]
    los = [grid.measured(s)[0] for s in starts]
    # One resolution (ns) for every instant, so merges and searchsorted never mix units.
    return pd.DataFrame({PERIOD_COL: pd.to_datetime(starts).astype("datetime64[ns]"), "lo": pd.to_datetime(los).astype("datetime64[ns]"),
                         "hi": pd.to_datetime(his).astype("datetime64[ns]")})


def months_in(grid: pd.DataFrame, grain: str) -> Any:
    """Length of each period in months (1 for a calendar month; days × 12 ÷ 365.25 otherwise)."""
    import numpy as np

    fixed = {"month": 1.0, "quarter": 3.0, "year": 12.0}
    days = (grid["hi"] - grid["lo"]).dt.total_seconds().to_numpy() / 86400.0
    if grain in fixed:
        full = (grid["hi"] - grid[PERIOD_COL]).dt.days.to_numpy() >= 28 * fixed[grain]
        return np.where(full & (grid["lo"] == grid[PERIOD_COL]).to_numpy(), fixed[grain], days * 12 / 365.25)
    return days * 12 / 365.25


# ------------------------------------------------------------------ period summary


SUMMARY_COLUMNS = ("mrr_start", "mrr_end", "customers_start", "customers_end", "base_churned", "base_lost", "base_expanded",
                   "churned_accounts", "joined_and_stayed", "nrr_change", "grr_change", "nrr_num", "grr_num",
                   *[f"{k}_{w}{sfx}" for k in KINDS for w in ("mrr", "n") for sfx in ("", "_net")],
                   "daily_gross", "daily_net", "daily_customer")


@dataclass
class Summary:
    """One row per period × --by group with every building block the metrics use."""

    frame: pd.DataFrame
    timeline: Timeline
    grid: pd.DataFrame
    dims: list[str]


def period_summary(run: Run, opts: EngineOptions, *, need_mrr: bool = True, daily: bool = False,
                   min_interval: float | None = None, first_time: Any = None) -> Summary:
    """Stocks, movements and start-base facts per period and group (cached per run).

    Columns: mrr_start, mrr_end, customers_start, customers_end; <kind>_mrr and <kind>_n
    for every movement kind (and the same with ``_net`` where accounts that joined and
    left inside the period are netted out, ProfitWell); base facts: base_churned
    (paying at start, ≥1 churn in P), base_lost (paying at start, not at end),
    churned_accounts (distinct, any), joined_and_stayed, nrr_num, grr_num,
    base_expanded; with ``daily`` the ChartMogul B2C day sums daily_gross,
    daily_net and daily_customer.
    """
    tl = build_timeline(run, opts, need_mrr=need_mrr, min_interval=min_interval)
    first = tl.first_time if first_time is None or tl.first_time is None else min(first_time, tl.first_time)
    if tl.first_time is None:
        first = first_time
    key = ("summary", id(tl), run.grain, run.week_start, run.since, run.until, run.horizon, daily, first)
    cache = run.cache()
    if key not in cache:
        grid = period_grid(run, first, tl.segments.anchor)
        cache[key] = Summary(_summarise(run, tl, grid, daily), tl, grid, tl.dims)
    return cache[key]


def bucket(times: Any, grid: pd.DataFrame) -> Any:
    """Period index of each time: −1 before the grid, len(grid) after it."""
    import numpy as np

    lo = grid["lo"].to_numpy(dtype="datetime64[ns]")
    hi = grid["hi"].to_numpy(dtype="datetime64[ns]")
    t = np.asarray(times, dtype="datetime64[ns]")
    k = np.searchsorted(lo, t, side="right") - 1
    if len(lo):
        after = (k >= 0) & (t >= hi[np.clip(k, 0, len(hi) - 1)])
        k = np.where(after, len(lo), k)
    return k


def _summarise(run: Run, tl: Timeline, grid: pd.DataFrame, daily: bool) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    dims = tl.dims
    K = len(grid)
    ev = tl.events.copy()
    ev["k"] = bucket(ev["time"], grid)
    groups = _groups(tl, dims)
    ev = ev.merge(groups[["acct", "g"]], on="acct", how="left")
    G = int(groups["g"].max()) + 1 if len(groups) else 0
    out = pd.DataFrame({"g": np.repeat(np.arange(G), K), "k": np.tile(np.arange(K), G)})
    if K == 0 or G == 0:
        for col in SUMMARY_COLUMNS:
            out[col] = pd.Series(dtype="float64")
        return _attach(out, grid, groups, dims)
    dpay = ev["paying_after"].astype("int64") - ev["paying_before"].astype("int64")
    ev["dpay"] = dpay
    pre = ev[ev["k"] < 0].groupby("g")[["delta", "dpay"]].sum()
    inside = ev[(ev["k"] >= 0) & (ev["k"] < K)]
    idx = inside["g"].to_numpy() * K + inside["k"].to_numpy()

    def acc(values: Any) -> Any:
        return np.bincount(idx, weights=np.asarray(values, dtype="float64"), minlength=G * K)

    total_delta = acc(inside["delta"])
    total_dpay = acc(inside["dpay"])
    pre_delta = pre["delta"].reindex(range(G), fill_value=0.0).to_numpy()
    pre_dpay = pre["dpay"].reindex(range(G), fill_value=0).to_numpy()
    by_gk = total_delta.reshape(G, K)
    pay_gk = total_dpay.reshape(G, K)
    mrr_end = pre_delta[:, None] + np.cumsum(by_gk, axis=1)
    cust_end = pre_dpay[:, None] + np.cumsum(pay_gk, axis=1)
    out["mrr_start"] = (mrr_end - by_gk).ravel()
    out["mrr_end"] = mrr_end.ravel()
    out["customers_start"] = (cust_end - pay_gk).ravel()
    out["customers_end"] = cust_end.ravel()
    for col in ("mrr_start", "mrr_end"):
        vals = out[col].to_numpy()
        out[col] = np.where(np.abs(vals) < EPS, 0.0, vals)
    # Per account and period: where it started and ended, what happened in between.
    inside = inside.assign(_ch=inside["kind"].eq("churned"), _ex=inside["kind"].eq("expansion"))
    a = inside.groupby(["acct", "k"], sort=False).agg(
        g=("g", "first"), pb=("paying_before", "first"), mb=("mrr_before", "first"),
        pa=("paying_after", "last"), ma=("mrr_after", "last"), churned=("_ch", "max"), expanded=("_ex", "max"),
    ).reset_index() if len(inside) else None
    inout = np.zeros(len(inside), dtype=bool)
    if a is not None:
        a_idx = a["g"].to_numpy() * K + a["k"].to_numpy()

        def acc_a(values: Any) -> Any:
            return np.bincount(a_idx, weights=np.asarray(values, dtype="float64"), minlength=G * K)

        pb, pa = a["pb"].to_numpy(bool), a["pa"].to_numpy(bool)
        change = a["ma"].to_numpy() - a["mb"].to_numpy()
        out["base_churned"] = acc_a(pb & a["churned"].to_numpy(bool))
        out["base_lost"] = acc_a(pb & ~pa)
        out["base_expanded"] = acc_a(pb & a["expanded"].to_numpy(bool))
        out["churned_accounts"] = acc_a(a["churned"].to_numpy(bool))
        out["joined_and_stayed"] = acc_a(~pb & pa)
        out["nrr_change"] = acc_a(np.where(pb, change, 0.0))
        out["grr_change"] = acc_a(np.where(pb, np.minimum(change, 0.0), 0.0))
        # Accounts that were not paying at the start nor at the end of P but moved in
        # between ("in and out"): ProfitWell leaves them out of new and churn entirely.
        io = a.loc[~pb & ~pa, ["acct", "k"]]
        if len(io):
            key = inside["acct"].to_numpy() * (K + 1) + inside["k"].to_numpy()
            inout = np.isin(key, io["acct"].to_numpy() * (K + 1) + io["k"].to_numpy())
    else:
        for col in ("base_churned", "base_lost", "base_expanded", "churned_accounts", "joined_and_stayed", "nrr_change", "grr_change"):
            out[col] = 0.0
    kinds = inside["kind"].to_numpy()
    values = inside["value"].to_numpy()
    for kind in KINDS:
        hit = kinds == kind
        out[f"{kind}_mrr"] = acc(np.where(hit, values, 0.0))
        out[f"{kind}_n"] = acc(hit)
        out[f"{kind}_mrr_net"] = acc(np.where(hit & ~inout, values, 0.0))
        out[f"{kind}_n_net"] = acc(hit & ~inout)
    out["nrr_num"] = out["mrr_start"] + out["nrr_change"]
    out["grr_num"] = out["mrr_start"] + out["grr_change"]
    counts = ["customers_start", "customers_end", "base_churned", "base_lost", "base_expanded", "churned_accounts", "joined_and_stayed",
              *[f"{k}_n{sfx}" for k in KINDS for sfx in ("", "_net")]]
    out[counts] = out[counts].round().astype("int64")
    if daily:
        _daily(out, ev, grid, G, K)
    return _attach(out, grid, groups, dims)


def _groups(tl: Timeline, dims: list[str]) -> pd.DataFrame:
    """acct → g (the --by group code) and the group's dimension values."""
    import numpy as np
    import pandas as pd

    acc = tl.accounts.reset_index().rename(columns={"index": "acct"})
    if "acct" not in acc:
        acc = acc.rename(columns={acc.columns[0]: "acct"})
    if not len(acc):
        return pd.DataFrame({"acct": pd.Series(dtype="int64"), "g": pd.Series(dtype="int64"), **{d: pd.Series(dtype=object) for d in dims}})
    if dims:
        acc["g"] = acc.groupby(dims, sort=True).ngroup()
    else:
        acc["g"] = np.int64(0)
    return acc[["acct", "g", *dims]]


def _attach(out: pd.DataFrame, grid: pd.DataFrame, groups: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    g = grid.reset_index(drop=True).reset_index().rename(columns={"index": "k"})
    out = out.merge(g, on="k", how="left")
    if dims:
        labels = groups.drop_duplicates("g")[["g", *dims]]
        out = out.merge(labels, on="g", how="left")
    return out.sort_values([*dims, PERIOD_COL] if dims else [PERIOD_COL], kind="stable").reset_index(drop=True)


def _daily(out: pd.DataFrame, ev: pd.DataFrame, grid: pd.DataFrame, G: int, K: int) -> None:
    """ChartMogul's B2C (Shopify) day sums, per period and group.

    daily_gross = Σ_days (churned + contraction that day) ÷ MRR at the day's start;
    daily_net = Σ_days 1 − (MRR_end_of_day − new business that day) ÷ MRR_start_of_day
    (WX10: start 100, end 120, new 10 → 1 − 110/100 = −10 %); daily_customer =
    Σ_days churned customers (paying at the day's start) ÷ customers at the day's start.
    Days with nothing at their start add nothing.
    """
    import numpy as np
    import pandas as pd

    lo0 = grid["lo"].iloc[0]
    hi1 = grid["hi"].iloc[-1]
    day0 = pd.Timestamp(lo0.year, lo0.month, lo0.day)
    D = int(np.ceil((hi1 - day0) / pd.Timedelta(days=1)))
    days = day0 + pd.to_timedelta(np.arange(D), unit="D")
    t = ev["time"].to_numpy(dtype="datetime64[ns]")
    d = np.floor((t - np.datetime64(day0, "ns")) / np.timedelta64(1, "D")).astype("int64")
    inside = (d >= 0) & (d < D)
    g = ev["g"].to_numpy()
    pre = ~inside & (d < 0)

    def acc(values: Any, mask: Any = inside) -> Any:
        return np.bincount(g[mask] * D + d[mask], weights=np.asarray(values, dtype="float64")[mask], minlength=G * D).reshape(G, D)

    kind = ev["kind"].to_numpy()
    delta = ev["delta"].to_numpy()
    value = ev["value"].to_numpy()
    dpay = ev["dpay"].to_numpy()
    pre_mrr = np.bincount(g[pre], weights=delta[pre], minlength=G)
    pre_cust = np.bincount(g[pre], weights=dpay[pre], minlength=G)
    day_delta = acc(delta)
    mrr_end = pre_mrr[:, None] + np.cumsum(day_delta, axis=1)
    mrr_start = mrr_end - day_delta
    cust_end = pre_cust[:, None] + np.cumsum(acc(dpay), axis=1)
    cust_start = cust_end - acc(dpay)
    lost = acc(np.where((kind == "churned") | (kind == "contraction"), value, 0.0))
    new = acc(np.where(kind == "new", value, 0.0))
    # Customers paying at the day's start who churned that day (same-day sign-ups excluded).
    a = pd.DataFrame({"acct": ev["acct"].to_numpy()[inside], "d": d[inside], "g": g[inside],
                      "pb": ev["paying_before"].to_numpy()[inside], "ch": (kind == "churned")[inside]})
    a = a.groupby(["acct", "d"], sort=False).agg(g=("g", "first"), pb=("pb", "first"), ch=("ch", "any")).reset_index()
    churners = np.bincount(a["g"].to_numpy() * D + a["d"].to_numpy(), weights=(a["pb"] & a["ch"]).to_numpy(float), minlength=G * D).reshape(G, D)
    with np.errstate(divide="ignore", invalid="ignore"):
        gross = np.where(mrr_start > EPS, lost / mrr_start, 0.0)
        net = np.where(mrr_start > EPS, 1 - (mrr_end - new) / mrr_start, 0.0)
        cust = np.where(cust_start > 0, churners / cust_start, 0.0)
    # Map each day to its period and sum.
    k_of_day = bucket(days.to_numpy(), grid)
    valid = (k_of_day >= 0) & (k_of_day < K)
    cell = (np.arange(G)[:, None] * K + k_of_day[valid][None, :]).ravel()  # (group, period) of each (group, day)
    for name, arr in (("daily_gross", gross), ("daily_net", net), ("daily_customer", cust)):
        out[name] = np.bincount(cell, weights=arr[:, valid].ravel(), minlength=G * K)


# ------------------------------------------------------------------ results


def with_dims(run: Run, frame: pd.DataFrame, dims: list[str], time: str | None = None) -> pd.DataFrame:
    """Attach the --by dimensions to rows carrying customer_id (deals, orders).

    Dimensions of customers come from there; a dimension read from subscriptions
    (:attr:`Run.sub_dims`) is the value of the customer's subscription that started
    last on or before the row's ``time`` column (naive local or tz-aware), else of its
    first subscription, so a deal lands in the plan the customer was on when it closed.
    """
    import numpy as np
    import pandas as pd

    if not dims:
        return frame
    out = frame.drop(columns=[d for d in dims if d in frame])
    from_subs = [d for d in dims if d in run.sub_dims]
    from_customers = [d for d in dims if d not in from_subs]
    if from_customers:
        if run.dims_frame is None or any(d not in run.dims_frame for d in from_customers):
            raise ConfigError(f"{run.name}: --by needs customers mapped (customer_id and the dimension)")
        out = out.merge(run.dims_frame[["customer_id", *from_customers]], on="customer_id", how="left")
    if from_subs:
        subs = run.frame("subscriptions")
        # One key type on both sides (pandas may infer str for one and object for the other).
        ref = pd.DataFrame({"_c": subs["customer_id"].astype(str), **{d: _text_dim(subs[d]) for d in from_subs}})
        ref["_t"] = _local(subs["started_at"], run.timezone).astype("datetime64[ns]")
        ref = ref[subs["customer_id"].notna().to_numpy()].sort_values("_t", kind="stable", na_position="first")
        first = ref.drop_duplicates("_c", keep="first").set_index("_c")
        at = out[time] if time is not None and time in out else pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
        if isinstance(at.dtype, pd.DatetimeTZDtype):
            at = _local(at, run.timezone)
        q = pd.DataFrame({"_c": out["customer_id"].astype(str).to_numpy(), "_t": at.astype("datetime64[ns]").to_numpy(),
                          "_i": np.arange(len(out))})
        dated = q[q["_t"].notna()].sort_values("_t", kind="stable")
        hit = pd.merge_asof(dated, ref.dropna(subset=["_t"]), on="_t", by="_c", direction="backward").set_index("_i")
        for d in from_subs:
            vals = pd.Series(first[d].reindex(q["_c"]).to_numpy(), index=q["_i"], dtype=object)
            got = hit[d].dropna()
            vals.loc[got.index] = got.to_numpy()
            out[d] = vals.to_numpy()
    for d in dims:
        out[d] = out[d].fillna("(blank)")
    return out


def per_cell(s: Summary, rows: pd.DataFrame, k: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Sum per-row values into the summary's (group, period) cells, in the summary's row order."""
    import numpy as np
    import pandas as pd

    f = s.frame
    K = len(s.grid)
    if s.dims:
        labels = f[[*s.dims, "g"]].drop_duplicates()
        g = rows[s.dims].merge(labels, on=s.dims, how="left")["g"].to_numpy() if len(rows) else np.array([], dtype=int)
    else:
        g = np.zeros(len(rows), dtype=int)
    known = ~pd.isna(g)
    G = int(f["g"].max()) + 1 if len(f) else 0
    idx = (np.asarray(g)[known].astype(int) * K + np.asarray(k)[known]).astype(int)
    cell = f["g"].to_numpy() * K + f["k"].to_numpy()
    out = {}
    for name, v in values.items():
        sums = np.bincount(idx, weights=np.asarray(v, dtype=float)[known], minlength=G * K)
        out[name] = sums[cell] if len(cell) else np.array([])
    return out


def paying_at(run: Run, s: Summary, rows: pd.DataFrame, edge: str = "lo") -> Any:
    """For rows with customer_id (+dims) and period index ``k``: was the account paying at
    the period start (``edge`` lo) or end (hi)? (State after every event before that instant.)"""
    import numpy as np
    import pandas as pd

    if rows.empty:
        return np.zeros(0, dtype=bool)
    tl = s.timeline
    keys = ["customer_id", *s.dims]
    acct = tl.accounts.reset_index()
    q = rows[keys].assign(_i=np.arange(len(rows)), lo=s.grid[edge].to_numpy()[rows["k"].to_numpy()]).merge(acct, on=keys, how="left")
    known = q["acct"].notna()
    out = np.zeros(len(rows), dtype=bool)
    if not known.any():
        return out
    q = q[known].astype({"acct": "int64"}).sort_values("lo", kind="stable")
    ev = tl.events[["acct", "time", "paying_after"]].sort_values("time", kind="stable")
    m = pd.merge_asof(q, ev, left_on="lo", right_on="time", by="acct", allow_exact_matches=False)
    paying = m["paying_after"].fillna(False).astype(bool).to_numpy()
    out[m["_i"].to_numpy()] = paying
    return out




def result(run: Run, summary: Summary, value: Any, numerator: Any, denominator: Any, n: Any, unit: str,
           extras: dict[str, Any] | None = None, what: str = "customers") -> pd.DataFrame:
    """The result frame: ``_period``, dims, value (null where denominator is 0), n, numerator, denominator, extras.

    A null value gets one zero-denominator issue naming the first period affected.
    """
    import numpy as np
    import pandas as pd

    s = summary.frame
    den = np.asarray(denominator, dtype="float64")
    num = np.asarray(numerator, dtype="float64")
    val = np.asarray(value, dtype="float64")
    val = np.where(np.isfinite(den) & (den != 0), val, np.nan)
    out = pd.DataFrame({PERIOD_COL: s[PERIOD_COL].to_numpy()})
    for d in summary.dims:
        out[d] = s[d].to_numpy()
    out["value"] = val
    out["unit"] = unit
    out["n"] = np.asarray(n, dtype="float64").round().astype("int64") if len(s) else np.array([], dtype="int64")
    out["numerator"] = num
    out["denominator"] = den
    for k, v in (extras or {}).items():
        out[k] = np.asarray(v) if not np.isscalar(v) else v
    if out.empty:
        run.issue("no_data", f"no {what} in the selected range; nothing to report")
        return out
    missing = np.isnan(val)
    if missing.any():
        first = out.loc[missing, PERIOD_COL].iloc[0]
        run.issue("zero_denominator", f"{int(missing.sum())} period/segment cells have no {what}; their value is null "
                  f"(first: period starting {pd.Timestamp(first):%Y-%m-%d})", count=int(missing.sum()))
    return out


def movement_table(run: Run, opts: EngineOptions) -> tuple[pd.DataFrame, pd.DataFrame, Summary]:
    """Per customer and period: MRR at start and end and each movement (for analyze mrr_movements).

    Returns (per customer × period rows with any movement, the dated events, the summary).
    """
    import numpy as np
    import pandas as pd

    summary = period_summary(run, opts)
    tl, grid = summary.timeline, summary.grid
    ev = tl.events.copy()
    ev["k"] = bucket(ev["time"], grid)
    ev = ev[(ev["k"] >= 0) & (ev["k"] < len(grid))]
    keys = ["customer_id", *tl.dims]
    if ev.empty:
        cols = [PERIOD_COL, *keys, "mrr_start", *KINDS, "net_change", "mrr_end", "movements"]
        return pd.DataFrame(columns=cols), ev, summary
    for kind in KINDS:
        hit = ev["kind"].to_numpy() == kind
        ev[kind] = np.where(hit, ev["value"], 0.0)
        ev[f"_{kind}"] = hit
    grouped = ev.groupby(["acct", "k"], sort=False).agg(
        mrr_start=("mrr_before", "first"), mrr_end=("mrr_after", "last"),
        **{kind: (kind, "sum") for kind in KINDS}, **{f"_{kind}": (f"_{kind}", "max") for kind in KINDS},
    ).reset_index()
    # "expansion+churned": the kinds present, in lifecycle order (vectorised string building).
    label = pd.Series("", index=grouped.index, dtype=object)
    for kind in ("new", "reactivation", "expansion", "contraction", "churned"):
        has = grouped.pop(f"_{kind}").to_numpy(dtype=bool)
        label = label.where(~has, np.where(label == "", kind, label + "+" + kind))
    grouped["movements"] = label
    grouped["net_change"] = grouped["mrr_end"] - grouped["mrr_start"]
    grouped = grouped.merge(tl.accounts, left_on="acct", right_index=True, how="left")
    grouped[PERIOD_COL] = grid[PERIOD_COL].to_numpy()[grouped["k"].to_numpy()]
    grouped = grouped.sort_values([PERIOD_COL, *keys], kind="stable")
    cols = [PERIOD_COL, *keys, "mrr_start", *KINDS, "net_change", "mrr_end", "movements"]
    events = ev.assign(**{PERIOD_COL: grid[PERIOD_COL].to_numpy()[ev["k"].to_numpy()]})
    events = events[[PERIOD_COL, "time", *keys, "kind", "value", "mrr_before", "mrr_after"]].sort_values(["time", *keys], kind="stable")
    return grouped[cols].reset_index(drop=True), events.reset_index(drop=True), summary

