"""``--engine dask``: the same metrics on a Dask cluster, for exports past one machine.

Each part file of a metric's source (a Parquet folder's parts, or the files a glob
matches) is one partition. A Dask task per partition reads it with the ordinary
readers, applies the as-of policy and runs each metric (row function, then shape) in
*collect* mode: the aggregators hand over per period × segment sums and counts (Ratio,
CountSum: NPS, CSAT, rates, ticket volume), the measured values (Mean: exact median and p90;
with ``quantiles: approx`` per-cell sums and a quantile sketch, :mod:`crmmetrics.metrics.sketch`)
or sums per snapshot instant (Stock: the open pipeline). The client
merges them and runs the metric once more in *finish* mode, so completing the grid,
values, units and zero-denominator issues are the pandas engine's code
(:mod:`crmmetrics.metrics.partial`). The pandas engine stays the default and the
reference; values agree to floating point (sums in another order).

Which metrics run, and why the others are refused naming the metric:
:mod:`crmmetrics.dask_support`. Rules the pandas engine applies to the whole frame are
applied across parts here: duplicate ids and the last row of a repeated deal or lead
(:mod:`crmmetrics.dask_ids`), and one set of issues with exact counts
(:mod:`crmmetrics.dask_issues`). Customers joined for ``--by`` (and optional entities
such as activities beside tickets) are read whole by every partition.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmmetrics.dask_issues import cap_examples, is_row_issue, merge_summaries
from crmmetrics.dask_support import SUPPORTED, refusal  # noqa: F401  (SUPPORTED: re-exported)

from crmmetrics.errors import ConfigError, Issue, Level, UsageError

if TYPE_CHECKING:
    from crmmetrics.config import Config
    from crmmetrics.engine import MetricPlan, Report

INSTALL_HINT = "pip install 'crmmetrics[dask]'"
# Issues the finish run makes once for the merged result; a partition's own would be wrong.
FINISH_CODES = frozenset({"zero_denominator", "no_data"})


def require_dask() -> None:
    """UsageError (exit 2) with the install line when the extra is not installed."""
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise UsageError("--engine dask needs Dask, which is not installed", hint=INSTALL_HINT) from None


def compute_dask(config: Config, metrics: list[str] | None = None, *, period: str | None = None, by: list[str] | None = None,
                 since: str | None = None, until: str | None = None, as_of: str | None = None,
                 inputs: dict[str, str] | None = None, now: dt.datetime | None = None, scheduler: str | None = None,
                 client: Any = None, quantiles: str | None = None) -> Report:
    """:func:`crmmetrics.engine.compute` on Dask; ``client`` (tests) or ``scheduler`` (an address), else a local cluster.

    ``quantiles``: exact or approx (median and p90 from a sketch, :mod:`crmmetrics.metrics.sketch`);
    None: the config's ``engine.quantiles``, else exact.
    """
    from zoneinfo import ZoneInfo

    from crmmetrics.engine import Report, _finish, check_inputs, config_for_inputs, make_plan, parse_day, run_settings, stale_note
    from crmmetrics.grid import build_grid
    from crmmetrics.pushdown import windows
    from crmmetrics.startup import resume

    require_dask()
    resume()  # the workers read the input; this process merges what they send (crmmetrics/startup.py)
    tz = config.timezone
    period, by, since_dt, until_dt = run_settings(config, period, by, since, until)
    check_inputs(config, inputs)
    if "-" in (inputs or {}).values():
        raise UsageError("--engine dask cannot read stdin (the workers read the files)", hint="write the export to a file, or use --engine pandas")
    config, _ = config_for_inputs(config, inputs, None)  # presets match the --input's headers, as in the pandas engine
    now = now or dt.datetime.now(ZoneInfo(tz))
    as_of_dt = parse_day(as_of, "--as-of") or now.replace(tzinfo=None, microsecond=0)
    plan = make_plan(config, list(metrics or []), period, by, need_dates=bool(since or until))
    runnable, issues = _runnable(plan, config, bool(metrics))
    quantiles = quantiles or (config.model.engine.quantiles if config.model.engine else "exact")
    issues += approx_note(runnable, quantiles)
    base = build_grid(period, config.week_start, since_dt, until_dt, parse_day(as_of, "--as-of"), now)
    groups: dict[str, list[MetricPlan]] = {}
    for mp in runnable:
        groups.setdefault(mp.spec.entity, []).append(mp)
    jobs = _jobs(config, plan, groups, inputs)
    pushed = windows(config, plan, base)  # each worker skips its part's rows outside the date range
    with _session(client, scheduler) as c:
        drops = _last_row_drops(c, config, groups, jobs, base)
        outs = _run(c, jobs, [groups[e] for e, _, _ in jobs], config, base, by, as_of_dt, drops, pushed, quantiles)
        dup_issues = [i for entity in groups for i in _cross_part_duplicates(c, config, entity, jobs, outs)]
    grid = _merged_grid(base, [o["grid"] for o in outs])
    issues += stale_note(grid, runnable)
    merged = _Merged(set(groups))
    for entity, mps in groups.items():
        merged.add(entity, mps, [o for (e, _, _), o in zip(jobs, outs) if e == entity], config, grid, by, as_of_dt, quantiles)
    results = _finish([merged.frames[mp.spec.name] for mp in runnable], period, by)  # in the pandas engine's order
    options = {mp.spec.name: merged.options[mp.spec.name] for mp in runnable}
    return Report(results, merged.issues(dup_issues) + issues, merged.inputs, now.isoformat(timespec="seconds"),
                  as_of_dt.isoformat(timespec="seconds"), tz, period, by, since, until, options, grid=grid)


def _runnable(plan: Any, config: Config, named: bool) -> tuple[list[MetricPlan], list[Issue]]:
    """The plan's metrics the Dask engine runs, and a metric_skipped note per refused one
    (a UsageError instead when the user ``named`` metrics; exit 78 when none is left)."""
    from crmmetrics.engine import nothing_to_do

    runnable, issues = [], list(plan.skipped)
    for mp in plan.metrics:
        why = refusal(mp, config)
        if why and named:
            raise UsageError(why, hint="run it with --engine pandas (the default)")
        if why:
            issues.append(Issue(Level.INFO, "metric_skipped", f"{mp.spec.name} not computed: {why}", metric=mp.spec.name))
        else:
            runnable.append(mp)
    if not runnable:
        raise nothing_to_do({i.metric or "": i.message.split(" not computed: ", 1)[-1] for i in issues if i.code == "metric_skipped"})
    return runnable, issues


def approx_note(runnable: list[MetricPlan], quantiles: str) -> list[Issue]:
    """One info note for the run when ``quantiles`` is approx and a metric reports median and p90 (a Mean shape)."""
    from crmmetrics.metrics.shapes import Mean
    from crmmetrics.metrics.sketch import ALPHA

    names = [mp.spec.name for mp in runnable if isinstance(mp.spec.shape_in_force(mp.options), Mean)]
    if quantiles != "approx" or not names:
        return []
    return [Issue(Level.INFO, "approx_quantiles", f"median and p90 of {', '.join(names)} are approximate (engine.quantiles: approx): "
                  f"within {ALPHA:.0%} of the exact values; n, sums and means are exact")]


def _jobs(config: Config, plan: Any, groups: dict[str, list[MetricPlan]], inputs: dict[str, str] | None) -> list[tuple[str, str, Any]]:
    """(entity, part path, needs) per partition: the metrics' own entity in parts; optional
    entities and --by join targets (customers) whole, in every partition."""
    jobs = []
    for entity, mps in groups.items():
        wanted = {entity} | {o for mp in mps for o in mp.spec.optional} | {t for mp in mps for _, _, t in mp.joined_dims}
        needs = {e: f for e, f in plan.needs.items() if e in wanted}
        jobs += [(entity, part, needs) for part in partitions(config, entity, (inputs or {}).get(entity))]
    return jobs


class _Merged:
    """The partitions' outputs merged entity by entity: finished metric rows, inputs and issues."""

    def __init__(self, entities: set[str]) -> None:
        self.frames: dict[str, Any] = {}
        self.options: dict[str, Any] = {}
        self.inputs: list[Any] = []
        self.metric_issues: list[Issue] = []
        self.per_file: list[Issue] = []  # issues of one part file (kept per file, as pandas reports a glob's files)
        self.per_run: list[Issue] = []  # issues of the run (merged into one each)
        self.reported = set(entities)  # entities whose own partitions (or an earlier group's first) report them

    def add(self, entity: str, mps: list[MetricPlan], mine: list[dict[str, Any]], config: Config, grid: Any, by: list[str],
            as_of: dt.datetime, quantiles: str = "exact") -> None:
        """Take ``entity``'s partitions: their facts and issues, and each metric finished on the merged partials."""
        # Other entities (activities beside tickets, customers for --by) are read whole by
        # every partition: their facts and issues count once, from the first that read them.
        whole = {i.entity for i in mine[0]["inputs"]} - self.reported
        self.reported |= whole
        for k, o in enumerate(mine):
            ours = {entity, None} | (whole if k == 0 else set())
            self.inputs.extend(i for i in o["inputs"] if i.entity in ours)
            self.per_file.extend(i for i in o["load_issues"] if i.entity in ours)
            self.per_run.extend(i for i in o["run_issues"] if i.entity in ours)
        dropped = sum(o["dropped"] for o in mine)
        for mp in mps:
            rows, metric_issues, opts = _finish_metric(mp, mine, config, grid, by, as_of, quantiles)
            self.frames[mp.spec.name], self.options[mp.spec.name] = rows, opts
            self.metric_issues.extend(metric_issues)
            self.per_run = _count_dropped(self.per_run, mp, dropped)

    def issues(self, duplicates: list[Issue]) -> list[Issue]:
        """Row issues capped, per-file summaries, run summaries merged, then the finish runs' issues."""
        rows = cap_examples([i for i in [*self.per_file, *self.per_run, *duplicates] if is_row_issue(i)])
        summaries = [i for i in self.per_file if not is_row_issue(i)] + merge_summaries([i for i in self.per_run if not is_row_issue(i)])
        return rows + summaries + self.metric_issues


@contextmanager
def _session(client: Any, scheduler: str | None) -> Iterator[Any]:
    """The client given (tests), one connected to ``scheduler``, else a local cluster sized to the machine."""
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            c = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {scheduler} ({exc})", hint="check engine.scheduler (tcp://HOST:8786)") from None
        with c:
            yield c
        return
    # One single-threaded worker process per core; the scheduler's HTTP server on a free port (":0"),
    # not 8787, so a running Jupyter or a second crmmetrics does not print "Port 8787 is already in use".
    # The workers already fill every core: CRMMETRICS_THREADS=1 keeps each from splitting its
    # columns over a second thread (crmmetrics/threads.py), which would only oversubscribe them.
    with LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True, dashboard_address=":0",
                      env={"CRMMETRICS_THREADS": "1"}) as cluster, \
            Client(cluster) as c:
        yield c


def partitions(config: Config, entity: str, override: str | None) -> list[str]:
    """The files of ``entity``'s one source: a glob's matches, a Parquet folder's part files, or the file."""
    from crmmetrics.dataset import expand_paths
    from crmmetrics.io.parquet_reader import part_files

    sources = config.sources(entity)
    if len(sources) > 1 and not override:
        raise ConfigError(f"--engine dask reads one source per entity; {entity} has {len(sources)} ({config.where('sources')})",
                          hint="put the exports in one folder and point path: at a glob, or use --engine pandas")
    base = Path.cwd() if override else config.base_dir
    out: list[str] = []
    for path, _shown in expand_paths(override or sources[0].path, base):
        p = Path(path)
        out += [str(f) for f in part_files(p)] if p.is_dir() else [path]
    return out


def _last_row_drops(client: Any, config: Config, groups: dict[str, list[MetricPlan]], jobs: list[tuple[str, str, Any]],
                    grid: Any) -> list[Any]:
    """Per job, the key hashes its partition must drop because a later part repeats them
    (entities whose metrics keep a key's last row: deals, leads); None elsewhere."""
    from crmmetrics.dask_ids import kept_ids_drop_sets
    from crmmetrics.domain.deals import LAST_ROW_WINS

    drops: list[Any] = [None] * len(jobs)
    for entity in groups:
        key = LAST_ROW_WINS.get(entity, (None,))[0]
        idx = [k for k, (e, _, needs) in enumerate(jobs) if e == entity and key in needs.get(entity, ())]
        if key and len(idx) > 1:
            for k, drop in zip(idx, kept_ids_drop_sets(client, config, entity, key, [jobs[k][1] for k in idx], grid)):
                drops[k] = drop
    return drops


def _count_dropped(issues: list[Issue], mp: MetricPlan, dropped: int) -> list[Issue]:
    """Add the rows dropped as repeated in a later part to the metric's duplicate_deal / duplicate_lead count."""
    from crmmetrics.dask_issues import adjust_count
    from crmmetrics.domain.deals import LAST_ROW_WINS, repeated_message

    if mp.spec.entity not in LAST_ROW_WINS:
        return issues
    key, code = LAST_ROW_WINS[mp.spec.entity]
    return adjust_count(issues, code, mp.spec.name, dropped,
                        lambda n: Issue(Level.WARNING, code, repeated_message(key, n), entity=mp.spec.entity, field=key, metric=mp.spec.name, count=n))


def _cross_part_duplicates(client: Any, config: Config, entity: str, jobs: list[tuple[str, str, Any]], outs: list[dict[str, Any]]) -> list[Issue]:
    """``duplicate_id`` issues of ``entity``'s keys repeated in another part file."""
    from crmmetrics.dask_ids import duplicate_issues

    mine = [(part, o["ids"]) for (e, part, _), o in zip(jobs, outs) if e == entity]
    return duplicate_issues(client, config, entity, [p for p, _ in mine], [i for _, i in mine]) if len(mine) > 1 else []


def _run(client: Any, jobs: list[tuple[str, str, dict[str, set[str]]]], mps: list[list[MetricPlan]], config: Config, grid: Any,
         by: list[str], as_of: dt.datetime, drops: list[Any], pushed: dict[str, Any] | None = None,
         quantiles: str = "exact") -> list[dict[str, Any]]:
    """One Dask task per partition; ``pushed``: the date range windows (crmmetrics.pushdown)."""
    from dask import delayed

    tasks = [delayed(run_partition, pure=False)(config, entity, part, needs, ms, grid, by, as_of, drop, pushed, quantiles)
             for (entity, part, needs), ms, drop in zip(jobs, mps, drops)]
    return gather_as_completed(client, tasks)


def gather_as_completed(client: Any, tasks: list[Any]) -> list[Any]:
    """The tasks' results in task order, each fetched and released as soon as it is done.

    Gathering all at the end kept every partition's partials on the workers until the last
    task finished: 6.6 GB per worker for the medians of 50M tickets (docs/performance.md).
    """
    from distributed import as_completed

    futures = client.compute(tasks)
    where = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    for future in as_completed(futures):
        results[where[future.key]] = future.result()
        future.release()  # the worker may drop its copy now
    return results


def run_partition(config: Config, entity: str, part: str, needs: dict[str, set[str]], mps: list[MetricPlan], grid: Any,
                  by: list[str], as_of: dt.datetime, drop: Any = None, pushed: dict[str, Any] | None = None,
                  quantiles: str = "exact") -> dict[str, Any]:
    """Read one part file and collect each metric's partial aggregates (runs on a worker).

    ``drop``: key hashes of rows a later part repeats (deals, leads: the last row wins).
    ``pushed``: the date range windows its Parquet read may skip rows by (crmmetrics.pushdown).
    ``quantiles``: approx sends a quantile sketch per cell for Mean instead of the values.
    Returns the partials, the part's issues (of its file; of the run), its key hashes for
    duplicate_id across parts, and the rows dropped.
    """
    from crmmetrics.dask_ids import first_ids, in_set
    from crmmetrics.dataset import load_dataset
    from crmmetrics.engine import declared_fields, run_metric
    from crmmetrics.grid import apply_as_of
    from crmmetrics.metrics.context import PERIOD_COL
    from crmmetrics.metrics.partial import Partials
    from crmmetrics.schema import ENTITIES

    ds = load_dataset(config, needs, {entity: part}, declared=declared_fields(mps), windows=pushed)
    key = ENTITIES[entity].key
    frame = ds.frames.get(entity)
    # Orders are left to the order policy, as in the pandas engine (dataset._check_duplicate_keys).
    ids = first_ids(frame, key) if key and frame is not None and key in frame and entity != "orders" else None
    n_load = len(ds.issues)
    part_grid = apply_as_of(ds, grid, config.timezone)
    dropped = 0
    if drop is not None and len(drop):
        later = in_set(ds.frames[entity], key, drop)
        dropped = int(later.sum())
        ds.frames[entity] = ds.frames[entity][~later].reset_index(drop=True)
    parts, extents, issues = {}, {}, []
    for mp in mps:
        collect = Partials("collect", [PERIOD_COL, *by], quantiles=quantiles)
        _, metric_issues, _ = run_metric(mp, ds, config, part_grid, by, as_of, partial=collect)
        parts[mp.spec.name] = collect.parts
        extents[mp.spec.name] = collect.extents
        issues += [i for i in metric_issues if i.code not in FINISH_CODES]
    # The columns, for the finish run; copied so the result does not keep the whole frame alive.
    empty = {e: f.iloc[:0].copy() for e, f in ds.frames.items()}
    # The rows a push-down skipped are a fact of the run (one issue with the sum), not of a file.
    load = [i for i in ds.issues[:n_load] if i.code != "pushed_down"]
    run = [i for i in ds.issues[:n_load] if i.code == "pushed_down"] + ds.issues[n_load:] + issues
    return {"parts": parts, "extents": extents, "load_issues": load, "run_issues": run,
            "inputs": ds.inputs, "empty": empty, "mapped": ds.mapped, "ids": ids, "dropped": dropped,
            "grid": (part_grid.first, part_grid.last, part_grid.last_entity)}


def _merged_grid(base: Any, facts: list[tuple[Any, Any, Any]]) -> Any:
    """The run's grid from every partition's first and newest dates (as apply_as_of would give)."""
    firsts = [f for f, _, _ in facts if f is not None]
    lasts = [(last, e) for _, last, e in facts if last is not None]
    last, entity = max(lasts, key=lambda t: t[0]) if lasts else (None, None)
    return base.with_data(min(firsts) if firsts else None, last, entity)


def _finish_metric(mp: MetricPlan, outs: list[dict[str, Any]], config: Config, grid: Any, by: list[str],
                   as_of: dt.datetime, quantiles: str = "exact") -> tuple[Any, list[Issue], dict[str, Any]]:
    """Merge one metric's partials and run it in finish mode on an empty frame."""
    import pandas as pd

    from crmmetrics.dataset import Dataset
    from crmmetrics.engine import run_metric
    from crmmetrics.metrics.context import PERIOD_COL
    from crmmetrics.metrics.partial import Partials, merge, merge_extents

    keys = [PERIOD_COL, *by]
    merged = merge([o["parts"][mp.spec.name] for o in outs], keys)
    if grid.grain == "all":  # each partition bucketed at its own first date; the run has one start
        merged = [(kind, f.assign(**{PERIOD_COL: pd.Timestamp(grid.all_start)}) if PERIOD_COL in f and len(f) else f) for kind, f in merged]
        merged = merge([merged], keys)
    extents = merge_extents([o["extents"][mp.spec.name] for o in outs])
    # A Stock shape's grid starts at the earliest extent.
    finish = Partials("finish", keys, merged, quantiles=quantiles, extents=extents)
    ds = Dataset(frames=dict(outs[0]["empty"]), mapped=dict(outs[0]["mapped"]))  # declared-but-unmapped columns stay "not mapped"
    rows, issues, opts = run_metric(mp, ds, config, grid, by, as_of, partial=finish)
    return rows, issues + _extent_issues(mp, ds, config, grid, by, as_of, extents), opts


def _extent_issues(mp: MetricPlan, ds: Any, config: Config, grid: Any, by: list[str], as_of: dt.datetime,
                   extents: dict[Any, tuple[Any, Any]]) -> list[Issue]:
    """The issues about the whole data's span (holidays outside it), once, from the merged extents."""
    from crmmetrics.domain.business_hours import holiday_issue, resolve
    from crmmetrics.metrics.context import MetricContext

    ctx = MetricContext(mp.spec, mp.options, ds.frames.get(mp.spec.entity), grid.grain, by, config.timezone, config.week_start, as_of,
                        grid.since, grid.until, ds, config, grid=grid)
    for (kind, name), (low, high) in extents.items():
        if kind == "holidays":
            holiday_issue(ctx, resolve(ctx, name), low, high)
    return ctx.issues
