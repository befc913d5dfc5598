"""Plan → Dataset → metrics → Report. No CLI, no printing: plain arguments in, a
:class:`Report` out. Importing this module loads neither typer nor rich (a test says so).
"""

from __future__ import annotations

import datetime as dt
import difflib
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmmetrics import __version__
from crmmetrics.config import Config
from crmmetrics.errors import ConfigError, Issue, Level, UsageError
from crmmetrics.grid import Grid, apply_as_of, build_grid
from crmmetrics.metrics.registry import MetricSpec, all_metrics, get_metric
from crmmetrics.periods import GRAINS
from crmmetrics.progress import current
from crmmetrics.pushdown import windows as pushdown_windows
from crmmetrics.schema import ENTITIES

if TYPE_CHECKING:
    import pandas as pd

    from crmmetrics.dataset import Dataset, InputFact

SCHEMA_VERSION = 1
RESULT_COLUMNS = ("metric", "period", "period_start", "period_end", "complete")
VALUE_COLUMNS = ("value", "unit", "n", "numerator", "denominator")
RESULT_DIMENSIONS = ("stage",)
# Where --by dimensions not on the metric's own entity may come from.
JOIN_PATHS = (("customer_id", "customers"), ("deal_id", "deals"))
# Always floats, even when every value happens to be whole.
FLOAT_COLUMNS = ("value", "mean", "median", "p90", "mean_raw", "pct_easy")


@dataclass
class MetricPlan:
    """One metric to compute: its spec, validated options and where --by comes from."""

    spec: MetricSpec
    options: Any
    joined_dims: list[tuple[str, str, str]]  # (dimension, link field, source entity)


@dataclass
class Plan:
    """Which metrics, which entities and fields, and how to group."""

    metrics: list[MetricPlan]
    needs: dict[str, set[str]]
    by: list[str]
    skipped: list[Issue] = field(default_factory=list)

    @property
    def declared(self) -> dict[str, set[str]]:
        """Entity → every field the planned metrics may read (:func:`declared_fields`)."""
        return declared_fields(self.metrics)


def declared_fields(plans: list[MetricPlan]) -> dict[str, set[str]]:
    """Entity → every field the metrics of ``plans`` declare: ``needs``, the date field and
    ``option_needs`` of their own entity, and ``optional`` per entity. The dataset makes each
    one a column (all-null when unmapped), so no metric depends on another's reads."""
    out: dict[str, set[str]] = {}
    for mp in plans:
        spec = mp.spec
        own = {*spec.needs, spec.date_field, *(spec.option_needs(mp.options) if spec.option_needs else ())}
        out.setdefault(spec.entity, set()).update(own)
        for entity, fields in spec.optional.items():
            out.setdefault(entity, set()).update(fields)
    return out


@dataclass
class Report:
    """Everything a renderer needs: results, issues, inputs and the run's settings."""

    results: pd.DataFrame
    issues: list[Issue]
    inputs: list[InputFact]
    generated_at: str
    as_of: str
    timezone: str
    period: str
    by: list[str]
    since: str | None
    until: str | None
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # analyses: every named table
    notes: list[str] = field(default_factory=list)
    goals: list[dict[str, Any]] = field(default_factory=list)  # GoalProgress.to_dict() of the config's goals
    grid: Grid | None = field(default=None, repr=False)  # the run's grid: its horizon is the as-of instant

    @property
    def instant(self) -> dt.datetime:
        """The as-of instant the ``complete`` column was measured at (the end of the
        --as-of day, else the run's start); ``check`` and goals judge periods at it."""
        return self.grid.horizon if self.grid is not None else dt.datetime.fromisoformat(self.as_of).replace(tzinfo=None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON report object (DESIGN.md section 7); NaN → None."""
        return {
            "schema_version": SCHEMA_VERSION,
            "crmmetrics": __version__,
            "generated_at": self.generated_at,
            "as_of": self.as_of,
            "timezone": self.timezone,
            "period": self.period,
            "by": self.by,
            "since": self.since,
            "until": self.until,
            "inputs": [i.to_dict() for i in self.inputs],
            "options": self.options,
            "results": result_records(self.results),
            **({"tables": {k: result_records(v) for k, v in self.tables.items()}} if self.tables else {}),
            **({"notes": self.notes} if self.notes else {}),
            **({"goals": self.goals} if self.goals else {}),
            "issues": [i.to_dict() for i in self.issues],
        }

    def latest_complete(self, metric: str | None = None) -> pd.DataFrame:
        """The result rows of the latest complete period (of ``metric``, else of every metric).

        One row per metric and segment; empty when no period is complete. Example: a
        monthly run on 2026-11-30 without --as-of → the 2026-10 rows (November is not
        over). Used by ``check`` and the report renderers.
        """
        rows = self.results
        if "complete" not in rows or rows.empty:
            return rows.iloc[0:0]
        if metric is not None:
            rows = rows[rows["metric"] == metric]
        done = rows[rows["complete"].astype(bool)]
        if done.empty:
            return done
        latest = done.groupby("metric", sort=False)["period_start"].transform("max")
        return done[done["period_start"] == latest]

    def latest_complete_period(self, metric: str) -> str | None:
        """The label of ``metric``'s latest complete period (None when none is complete)."""
        rows = self.latest_complete(metric)
        return None if rows.empty else str(rows["period"].iloc[0])

    def issue_counts(self) -> dict[str, int]:
        """Issue count per code (summary issues count for all the rows they stand for)."""
        counts: dict[str, int] = {}
        for i in self.issues:
            counts[i.code] = counts.get(i.code, 0) + i.count
        return counts


def result_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Result rows as plain dicts with JSON-safe values (NaN → None, ints as int)."""
    import math

    records = []
    for rec in frame.to_dict(orient="records"):
        clean = {}
        for k, v in rec.items():
            if hasattr(v, "item"):
                v = v.item()
            if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
                v = None
            elif v is not None and not isinstance(v, (str, int, float, bool)):
                v = None if str(v) in {"NaT", "nan", "<NA>"} else str(v)
            clean[k] = v
        records.append(clean)
    return records


def mapped_fields(config: Config, entity: str) -> set[str]:
    """Fields the config maps (or sets as constants) in every source of ``entity``."""
    sources = config.sources(entity)
    if not sources:
        return set()
    sets = [{k for k, v in s.fields.model_dump().items() if v is not None} | set(s.constants) for s in sources]
    return set.intersection(*sets)


def make_plan(config: Config, names: list[str], period: str, by: list[str], need_dates: bool) -> Plan:
    """Check that each metric can be fed, resolve --by, and list the fields to read."""
    explicit = bool(names)
    specs = [get_metric(n) for n in names] if names else [
        get_metric(n) for n in (config.model.report.metrics or list(all_metrics()))]
    if period not in GRAINS:
        raise UsageError(f"unknown period {period!r}", hint=f"use one of {', '.join(GRAINS)}")
    # Every metrics: section, also of metrics not run: a typo is exit 78, never a skip.
    config.check_metric_options()
    plans: list[MetricPlan] = []
    needs: dict[str, set[str]] = {}
    skipped: list[Issue] = []
    for spec in specs:
        try:
            plans.append(_plan_metric(config, spec, period, by, need_dates, needs))
        except ConfigError as exc:
            if explicit:
                raise
            skipped.append(Issue(Level.INFO, "metric_skipped", f"{spec.name} not computed: {exc}", metric=spec.name))
    if not plans:
        raise nothing_to_do({i.metric or "": i.message.split(" not computed: ", 1)[-1] for i in skipped})
    return Plan(plans, needs, by, skipped)


def nothing_to_do(skipped: dict[str, str]) -> ConfigError:
    """The exit-78 error of a run in which every requested metric was skipped: one line
    per metric saying what to map, never an empty report with exit 0 (issue #13)."""
    lines = [f"{name}: {why}" for name, why in skipped.items()]
    return ConfigError("nothing to do: every requested metric was skipped\n" + "\n".join(lines),
                       hint="map the fields named above under sources (`crmmetrics metrics -c CONFIG` shows what each metric needs)")


def _plan_metric(config: Config, spec: MetricSpec, period: str, by: list[str], need_dates: bool, needs: dict[str, set[str]]) -> MetricPlan:
    """One metric's plan: its source and fields checked, options resolved, --by placed, reads recorded in ``needs``."""
    standalone = _check_source(config, spec)
    have = mapped_fields(config, spec.entity)
    _check_fields(config, spec, have, standalone, need_dates or period != "all")
    options = _resolve_options(config, spec)
    joined = _place_by(config, spec, by, have, needs)
    _record_needs(config, spec, by, have, standalone, options, joined, needs)
    return MetricPlan(spec, options, joined)


def _check_source(config: Config, spec: MetricSpec) -> bool:
    """True when the metric runs without a source of its own entity (entity_optional); ConfigError when it cannot run."""
    standalone = not config.sources(spec.entity)
    if standalone:
        others = [e for e in spec.optional if e != spec.entity and config.sources(e)]
        if not (spec.entity_optional and others):
            alt = f" or {' or '.join(e for e in spec.optional if e != spec.entity)}" if spec.entity_optional else ""
            raise ConfigError(f"{spec.name} needs a {spec.entity}{alt} source; the config has none ({config.where('sources')})")
    return standalone


def _check_fields(config: Config, spec: MetricSpec, have: set[str], standalone: bool, dated: bool) -> None:
    """ConfigError naming every required field of the metric's entity the config does not map."""
    required = [] if standalone else list(spec.needs)
    # A metric dated by something else (dated_by: subscription start/end dates) does not
    # need its entity's own date field.
    if dated and not standalone and not spec.dated_by:
        required.append(spec.date_field)
    missing = list(dict.fromkeys(f for f in required if f not in have))
    if missing:
        raise ConfigError(f"{spec.name} needs {', '.join(f'{spec.entity}.{m}' for m in missing)}; "
                          f"map it under sources.{spec.entity}.fields ({config.where('sources')})")


def _resolve_options(config: Config, spec: MetricSpec) -> Any:
    """The metric's options from the config (defaults otherwise) with inherited settings
    applied, so a metric never reads the config; ConfigError for an option with no safe default."""
    user_opts = config.metric_options(spec.name)
    options = inherited_options(config, spec.name, user_opts if user_opts is not None else spec.options())
    unset = [o for o in spec.requires_options if getattr(options, o) is None]
    if unset:
        raise ConfigError(f"{spec.name} needs metrics.{spec.name}.{' and .'.join(unset)} in the config (no safe default)")
    return options


def inherited_options(config: Config, name: str, options: Any) -> Any:
    """``options`` completed from the sections they inherit from: the MRR engine options
    (``metrics.mrr``) for subscription-engine metrics, ``analyses.health`` for health scoring.

    Example: ``metrics: {mrr: {quantity: multiply}, arpa: {}}`` → arpa's options say multiply.
    """
    # Options of either kind exist only once their module is imported (by the metric's
    # family): look them up there rather than import both engines for every metric.
    mrr, activity = sys.modules.get("crmmetrics.domain.mrr"), sys.modules.get("crmmetrics.domain.activity")
    if mrr is not None and isinstance(options, mrr.EngineOptions):
        return mrr.resolve_options(config, name, options)
    if activity is not None and isinstance(options, activity.HealthOptions):
        return type(options).model_validate(activity.merged_health_options(config, options, "metrics"))
    return options


def _place_by(config: Config, spec: MetricSpec, by: list[str], have: set[str], needs: dict[str, set[str]]) -> list[tuple[str, str, str]]:
    """Where each --by dimension comes from: the entity itself, a per-row entity (by_from) or a join."""
    joined: list[tuple[str, str, str]] = []  # (dimension, link field, entity it comes from)
    for dim in by:
        # A field of an entity the metric reads per row (subscriptions.plan) segments by
        # that row's own value; the metric falls back to customers for the others.
        per_row = [e for e in spec.by_from if dim in mapped_fields(config, e)]
        for e in per_row:
            needs.setdefault(e, set()).add(dim)
        if dim in have or per_row:
            continue
        path = next(((link, target) for link, target in JOIN_PATHS
                     if link in have and target != spec.entity and dim in mapped_fields(config, target)), None)
        if path is None:
            raise _unknown_dimension(config, spec, dim, have)
        joined.append((dim, *path))
    return joined


def _unknown_dimension(config: Config, spec: MetricSpec, dim: str, have: set[str]) -> UsageError:
    """The usage error for a --by field found neither on the entity nor through a join, with a close match."""
    candidates = sorted(have.union(*(mapped_fields(config, t) for link, t in JOIN_PATHS if link in have)))
    close = difflib.get_close_matches(dim, candidates, n=1)
    hint = f"did you mean {close[0]!r}?" if close else (f"available: {', '.join(candidates)}" if candidates else
                                                          f"map a {spec.entity} source with that field")
    through = " or ".join(f"{t} through {link}" for link, t in JOIN_PATHS if link in have and t != spec.entity)
    return UsageError(f"--by {dim!r}: {spec.name} has no such field in {spec.entity}" + (f" (nor in {through})" if through else ""), hint=hint)


def _record_needs(config: Config, spec: MetricSpec, by: list[str], have: set[str], standalone: bool, options: Any,
                  joined: list[tuple[str, str, str]], needs: dict[str, set[str]]) -> None:
    """Add every field the metric reads (own entity, optional entities, join lookups) to ``needs``."""
    # The entity key is read whenever mapped, so duplicate ids are always reported.
    key = ENTITIES[spec.entity].key
    wanted = set(spec.needs) | {spec.date_field} | (set(by) - {j[0] for j in joined}) | ({key} if key else set())
    wanted |= {link for _, link, _ in joined}
    if spec.option_needs is not None:
        wanted |= set(spec.option_needs(options))
    if not standalone:
        needs.setdefault(spec.entity, set()).update(w for w in wanted if w in have)
    for entity, fields in spec.optional.items():
        have_other = mapped_fields(config, entity)
        if have_other:
            needs.setdefault(entity, set()).update(f for f in fields if f in have_other)
    for dim, link, target in joined:
        needs.setdefault(target, set()).update({link, dim})


def parse_day(text: str | None, what: str) -> dt.datetime | None:
    """``YYYY-MM-DD`` → naive local midnight (UsageError otherwise, or outside 1678–2261)."""
    from crmmetrics.io.parse import MAX_YEAR, MIN_YEAR

    if text is None:
        return None
    try:
        day = dt.datetime.strptime(text.strip(), "%Y-%m-%d")
    except ValueError:
        raise UsageError(f"{what} {text!r} is not a date", hint="use YYYY-MM-DD, e.g. 2026-01-01") from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        # Timestamps are nanosecond-based; leave the flag out for an open end instead.
        raise UsageError(f"{what} {text!r} is outside the dates crmmetrics can compute with ({MIN_YEAR}-01-01 to {MAX_YEAR}-12-31)",
                         hint=f"leave {what} out for no bound")
    return day


def run_settings(config: Config, period: str | None, by: list[str] | None, since: str | None,
                 until: str | None) -> tuple[str, list[str], dt.datetime | None, dt.datetime | None]:
    """(period, by, since, until) of a run: the flags, else the config's report defaults;
    ``by=None`` takes ``report.by``, ``by=[]`` means no grouping (shared with the Dask engine)."""
    period = period or config.model.report.period
    by = list(by) if by is not None else list(config.model.report.by)
    since_dt, until_dt = parse_day(since, "--since"), parse_day(until, "--until")
    if since_dt and until_dt and until_dt <= since_dt:
        raise UsageError(f"--until {until} is not after --since {since}")
    return period, by, since_dt, until_dt


def config_for_inputs(config: Config, inputs: dict[str, str] | None, stdin: Any) -> tuple[Config, Any]:
    """crmmetrics.presets.inputs.config_for_inputs (imported late: presets import the config)."""
    from crmmetrics.presets.inputs import config_for_inputs as match

    return match(config, inputs, stdin)


def check_inputs(config: Config, inputs: dict[str, str] | None) -> None:
    """Each ``--input ENTITY=PATH`` names an entity the config maps (its columns are reused)."""
    for name in (inputs or {}):
        if name not in config.configured_entities():
            raise UsageError(f"--input {name}=...: the config has no {name} source to take the column mapping from")


def compute(config: Config, metrics: list[str] | None = None, *, period: str | None = None, by: list[str] | None = None,
            since: str | None = None, until: str | None = None, as_of: str | None = None,
            inputs: dict[str, str] | None = None, stdin: Any = None, now: dt.datetime | None = None,
            extra_needs: dict[str, set[str]] | None = None) -> Report:
    """Compute ``metrics`` (default: every one the config can feed) into a Report.

    ``by=None`` takes ``report.by`` from the config; ``by=[]`` means no grouping at all.
    ``extra_needs`` (entity → fields) are read and checked too (validate: every mapped value).
    """
    from zoneinfo import ZoneInfo

    from crmmetrics.dataset import load_dataset

    tz = config.timezone
    period, by, since_dt, until_dt = run_settings(config, period, by, since, until)
    now = now or dt.datetime.now(ZoneInfo(tz))
    as_of_dt = parse_day(as_of, "--as-of") or now.replace(tzinfo=None, microsecond=0)
    check_inputs(config, inputs)
    config, stdin = config_for_inputs(config, inputs, stdin)  # presets match the --input's headers, not the config path's
    plan = make_plan(config, list(metrics or []), period, by, need_dates=bool(since or until))
    for entity, fields in (extra_needs or {}).items():
        plan.needs.setdefault(entity, set()).update(fields)
    base = build_grid(period, config.week_start, since_dt, until_dt, parse_day(as_of, "--as-of"), now)
    # Parquet sources skip the rows outside the run's date range (validate reads everything).
    windows = pushdown_windows(config, plan, base, read_all=extra_needs is not None)
    dataset = load_dataset(config, plan.needs, inputs, stdin, declared=plan.declared, windows=windows)
    grid = apply_as_of(dataset, base, tz)
    frames, results, issues, options = [], [], list(plan.skipped), {}
    issues += stale_note(grid, plan.metrics)
    sink = current()
    sink.metrics_start(len(plan.metrics))
    joined: dict[Any, pd.DataFrame] = {}  # one --by join per entity and dimensions, shared by its metrics
    for mp in plan.metrics:
        sink.metric_start(mp.spec.name)
        try:
            out, metric_issues, opts = run_metric(mp, dataset, config, grid, by, as_of_dt, joined)
        except ConfigError as exc:
            # A need only the metric itself can see (another entity, one of two fields):
            # fatal when the user asked for the metric, a note when it was implied.
            if metrics:
                raise
            issues.append(Issue(Level.INFO, "metric_skipped", f"{mp.spec.name} not computed: {exc}", metric=mp.spec.name))
            continue
        finally:
            sink.metric_done()
        frames.append(out)
        issues.extend(metric_issues)
        options[mp.spec.name] = opts
    if not options:
        raise nothing_to_do({i.metric or "": i.message.split(" not computed: ", 1)[-1] for i in issues if i.code == "metric_skipped"})
    results = _finish(frames, period, by)
    return Report(results, dataset.issues + issues, dataset.inputs, now.isoformat(timespec="seconds"),
                  as_of_dt.isoformat(timespec="seconds"), tz, period, by, since, until, options, grid=grid)


def stale_note(grid: Grid, metrics: list[MetricPlan]) -> list[Issue]:
    """The grid's ``stale_export`` warning when a snapshot metric runs (only snapshots would
    have been padded up to the as-of day), else nothing."""
    stale = grid.stale_issue()
    return [stale] if stale and any(mp.spec.period_kind in ("STOCK", "BASE") for mp in metrics) else []


def run_metric(mp: MetricPlan, dataset: Dataset, config: Config, grid: Grid, by: list[str],
               as_of: dt.datetime, joined: dict[Any, pd.DataFrame] | None = None,
               partial: Any = None) -> tuple[pd.DataFrame, list[Issue], dict[str, Any]]:
    """Run one metric on its entity frame (with --by dimensions joined).

    ``partial`` (a :class:`crmmetrics.metrics.partial.Partials`) is for the Dask engine
    only: the shapes then exchange per-partition aggregates instead of finishing alone.

    Every row is labelled by the run's grid: period, period_start, period_end and
    ``complete`` (false when the period ends after the as-of instant or is cut by
    --since/--until). ``joined`` caches the frame with its --by columns per (entity,
    joins), so the metrics of one entity share one join instead of each redoing it
    (metrics never modify ctx.frame; without joins they already shared the dataset's).
    """
    from crmmetrics.metrics.context import PERIOD_COL, MetricContext

    spec = mp.spec
    key = (spec.entity, tuple(mp.joined_dims), tuple(by))
    shared = joined is not None and spec.entity in dataset.frames
    frame = joined.get(key) if shared else None
    if frame is None:
        frame = _with_dimensions(mp, dataset, by, config.timezone)
        if shared:
            joined[key] = frame
    ctx = MetricContext(spec, mp.options, frame, grid.grain, by, config.timezone, config.week_start, as_of, grid.since, grid.until,
                        dataset, config, grid=grid, partial=partial)
    out = spec.run(ctx)
    rows = label_rows(out.rows, grid)
    rows.insert(0, "metric", spec.name)
    opts = mp.options.model_dump(mode="json")
    opts.update(out.options_in_force)
    return rows, ctx.issues, opts


def _with_dimensions(mp: MetricPlan, dataset: Dataset, by: list[str], tz: str) -> pd.DataFrame:
    """The metric's entity frame with the --by columns joined in and blanks labelled."""
    import pandas as pd

    spec = mp.spec
    frame = dataset.frames.get(spec.entity)
    if frame is None:  # entity_optional and not configured: an empty frame of its declared fields
        from crmmetrics.dataset import with_declared

        frame = with_declared(pd.DataFrame({c: pd.Series(dtype=object) for c in ("_src", "_row")}), spec.entity,
                              declared_fields([mp]).get(spec.entity, set()), tz)
    for link, target in dict.fromkeys((link, target) for _, link, target in mp.joined_dims):
        dims = [d for d, lk, t in mp.joined_dims if (lk, t) == (link, target)]
        # A joined dimension is not mapped on the metric's entity: a column of that name
        # there is the all-null one of a declared field, replaced by the joined values.
        frame = frame.drop(columns=[d for d in dims if d in frame])
        frame = _join_first(frame, dataset.frames[target], link, dims, target)
    labelled = [d for d in by if d in frame]  # a by_from dimension may be absent here
    if labelled and frame is dataset.frames.get(spec.entity):
        # Label a copy: the dataset's own frame keeps its blanks for every other reader
        # (ctx.other, a metric run without this --by). Shallow: copy-on-write copies only
        # the columns written below.
        frame = frame.copy(deep=False)
    for dim in labelled:
        col = frame[dim]
        # A column already of pandas' str dtype only needs its blanks labelled (no trip through Python objects).
        frame[dim] = (col.fillna("(blank)") if col.dtype == "str"
                      else col.astype(object).where(col.notna(), "(blank)").astype(str))
    return frame


def _join_first(frame: pd.DataFrame, other: pd.DataFrame, link: str, dims: list[str], target: str) -> pd.DataFrame:
    """``frame`` with ``dims`` of the first ``other`` row sharing its ``link`` value (a left
    join; missing where none does, as a missing link always is).

    Arrow text links are matched by position in C++ and only the dimension columns are
    built; the rows of ``frame`` are not copied (a merge copies every column: 1M surveys
    joined to their plan took 0.25 s). Other link types take the merge, which gives the
    same frame.
    """
    import pandas as pd

    from crmmetrics.io.keys import first_positions

    where = first_positions(other[link], frame[link])
    if where is None:
        lookup = other[[link, *dims]].dropna(subset=[link]).drop_duplicates(link, keep="first")
        return frame.merge(lookup, on=link, how="left", suffixes=("", f"_{target}"))
    out = frame.reset_index(drop=True)  # the merge's fresh index
    for dim in dims:
        col = other[dim]
        values = col.array if isinstance(col.dtype, pd.api.extensions.ExtensionDtype) else col.to_numpy()
        taken = pd.api.extensions.take(values, where, allow_fill=True)  # ints and bools widen as the merge widens them
        out[dim] = pd.Series(taken, dtype=taken.dtype, copy=False)  # explicit dtype: object text stays object
    return out


def _integral(col: pd.Series) -> bool:
    import pandas as pd

    vals = pd.to_numeric(col.dropna(), errors="coerce") if col.dtype.kind == "O" else col.dropna()
    return bool(len(vals) > 0 and vals.notna().all() and (vals % 1 == 0).all())


def label_rows(rows: pd.DataFrame, grid: Grid) -> pd.DataFrame:
    """Replace the ``_period`` bucket starts by period, period_start, period_end and complete."""
    from crmmetrics.metrics.context import PERIOD_COL

    starts = list(rows[PERIOD_COL])
    uniq = {s: (grid.label(s), s.strftime("%Y-%m-%d"), grid.end_day(s).strftime("%Y-%m-%d"), grid.complete(s)) for s in dict.fromkeys(starts)}
    for i, col in enumerate(("period", "period_start", "period_end", "complete")):
        rows.insert(i, col, [uniq[s][i] for s in starts])
    rows["complete"] = rows["complete"].astype(bool)
    return rows.drop(columns=[PERIOD_COL])


def _finish(frames: list[pd.DataFrame], period: str, by: list[str]) -> pd.DataFrame:
    """Concatenate metric results; columns in contract order, extras after."""
    import pandas as pd

    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=[*RESULT_COLUMNS, *by, *VALUE_COLUMNS])
    results = pd.concat(frames, ignore_index=True, sort=False)
    # Result dimensions a metric adds itself (stage_duration's stage) sit with the --by ones.
    lead = [*RESULT_COLUMNS, *by, *[c for c in RESULT_DIMENSIONS if c in results and c not in by], *VALUE_COLUMNS]
    extras = [c for c in results.columns if c not in lead]
    results = results[lead + extras]
    results["n"] = results["n"].astype("int64")
    # Whole-number columns (counts, bands, numerators of count ratios) are written as
    # integers; value and the duration statistics stay floats.
    for col in extras + ["numerator", "denominator"]:
        if col not in FLOAT_COLUMNS and results[col].dtype.kind in "fO" and _integral(results[col]):
            results[col] = results[col].astype("Int64")
    return results


def analyze(config: Config, name: str, *, period: str | None = None, since: str | None = None, until: str | None = None,
            as_of: str | None = None, table: str | None = None, inputs: dict[str, str] | None = None,
            stdin: Any = None, now: dt.datetime | None = None) -> Report:
    """Run the per-customer analysis ``name``; ``results`` is its main (or chosen) table.

    The run settings (period, --since/--until, --input entities) are checked as compute
    checks them (``run_settings``, ``check_inputs``), and time is the same ``Grid``.
    """
    from zoneinfo import ZoneInfo

    from crmmetrics.analyses import AnalysisContext, get_analysis
    from crmmetrics.dataset import load_dataset

    spec = get_analysis(name)
    config.check_metric_options()  # the whole config is checked before data is read, as in compute
    config, stdin = config_for_inputs(config, inputs, stdin)  # presets match the --input's headers, not the config path's
    needs, declared = _analysis_needs(config, spec)
    user_opts = getattr(config.model.analyses, name, None)
    options = user_opts if user_opts is not None else spec.options()
    tz = config.timezone
    now = now or dt.datetime.now(ZoneInfo(tz))
    period, _, since_dt, until_dt = run_settings(config, period, [], since, until)
    as_of_dt = parse_day(as_of, "--as-of")
    if period not in GRAINS:
        raise UsageError(f"unknown period {period!r}", hint=f"use one of {', '.join(GRAINS)}")
    check_inputs(config, inputs)
    dataset = load_dataset(config, needs, inputs, stdin, declared=declared)
    grid = apply_as_of(dataset, build_grid(period, config.week_start, since_dt, until_dt, as_of_dt, now), tz)
    ctx = AnalysisContext(spec, options, dataset.frames, dataset, config, period, as_of_dt, since_dt, until_dt, grid=grid)
    out = spec.compute(ctx)
    chosen = _chosen_table(name, list(out.tables), table)
    opts = options.model_dump(mode="json")
    opts.update(out.options_in_force)
    return Report(out.tables[chosen], dataset.issues + ctx.issues, dataset.inputs, now.isoformat(timespec="seconds"),
                  (as_of_dt or now.replace(tzinfo=None, microsecond=0)).isoformat(timespec="seconds"), tz, period, [],
                  since, until, {name: opts}, tables=out.tables, notes=out.notes)


def _analysis_needs(config: Config, spec: Any) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(fields to read, fields declared) per entity for an analysis: every required field (a
    ConfigError names the missing ones), plus the optional fields the config maps; declared
    fields (required and optional) are columns of the frames even when unmapped."""
    where = config.where("sources")
    needs: dict[str, set[str]] = {}
    for entity, fields in spec.needs.items():
        have = mapped_fields(config, entity)
        missing = [f for f in fields if f not in have]
        if not config.sources(entity) or missing:
            what = ", ".join(f"{entity}.{m}" for m in (missing or fields))
            raise ConfigError(f"analysis {spec.name} needs {what}; map it under sources.{entity} ({where})")
        needs[entity] = set(fields)
    declared = {e: set(f) for e, f in needs.items()}
    for entity, fields in spec.optional.items():
        have = mapped_fields(config, entity)
        if have:
            needs.setdefault(entity, set()).update(f for f in fields if f in have)
        declared.setdefault(entity, set()).update(fields)
    return needs, declared


def _chosen_table(name: str, names: list[str], table: str | None) -> str:
    """The analysis table asked for (default: its first, the main one)."""
    chosen = table or names[0]
    if chosen not in names:
        raise UsageError(f"analysis {name} has no table {chosen!r}", hint=f"tables: {', '.join(names)}")
    return chosen
