"""``--engine dask``: the same metrics on a Dask cluster, for exports past one machine.

Each part file of a metric's source (a Parquet folder's parts, or the files a glob
matches) is one partition. A Dask task per partition reads it with the ordinary
readers, applies the as-of policy and runs each metric (row function, then shape) in
*collect* mode: the aggregators hand over per period × segment sums and counts (Ratio,
CountSum: NPS, CSAT, rates, ticket volume) or the measured values (Mean: exact median and p90). The client
merges them and runs the metric once more in *finish* mode, so completing the grid,
values, units and zero-denominator issues are the pandas engine's code
(:mod:`crmmetrics.metrics.partial`). The pandas engine stays the default and the
reference; values agree to floating point (sums in another order).

Supported: :data:`SUPPORTED`. Every other metric needs all of a customer's rows at
once (MRR movements, cohorts, per-customer deduplication) or joins another entity row
by row; it is refused naming the metric rather than computed on a guess.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmmetrics.errors import ConfigError, Issue, Level, UsageError

if TYPE_CHECKING:
    from crmmetrics.config import Config
    from crmmetrics.engine import MetricPlan, Report

INSTALL_HINT = "pip install 'crmmetrics[dask]'"
# Metrics whose every row counts on its own: partial sums (or, for quantiles, the
# values) merge exactly across partitions.
SUPPORTED = frozenset({"nps", "csat", "ces", "ticket_volume", "one_touch_rate", "reopen_rate", "first_reply_time",
                       "first_resolution_time", "full_resolution_time"})
WHY_REFUSED = ("needs all of a customer's (or deal's) rows together or another entity row by row, which the Dask engine "
               "does not shuffle for yet")
# Issues the finish run makes once for the merged result; a partition's own would be wrong.
FINISH_CODES = frozenset({"zero_denominator", "no_data"})


def require_dask() -> None:
    """UsageError (exit 2) with the install line when the extra is not installed."""
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise UsageError("--engine dask needs Dask, which is not installed", hint=INSTALL_HINT) from None


def refusal(mp: MetricPlan) -> str | None:
    """Why ``mp`` cannot run on the Dask engine (None when it can)."""
    name = mp.spec.name
    if name not in SUPPORTED:
        return f"{name} is not supported on the Dask engine: it {WHY_REFUSED}"
    if mp.joined_dims:
        return f"{name}: --by {mp.joined_dims[0][0]} joins {mp.joined_dims[0][2]} row by row, which the Dask engine does not do yet"
    if getattr(mp.options, "unit", None) == "latest_per_customer":
        return f"{name} with unit latest_per_customer keeps each customer's latest response, which needs a shuffle by customer"
    return None


def compute_dask(config: Config, metrics: list[str] | None = None, *, period: str | None = None, by: list[str] | None = None,
                 since: str | None = None, until: str | None = None, as_of: str | None = None,
                 inputs: dict[str, str] | None = None, now: dt.datetime | None = None, scheduler: str | None = None,
                 client: Any = None) -> Report:
    """:func:`crmmetrics.engine.compute` on Dask; ``client`` (tests) or ``scheduler`` (an address), else a local cluster."""
    from zoneinfo import ZoneInfo

    from crmmetrics.engine import Report, _finish, check_inputs, config_for_inputs, make_plan, nothing_to_do, parse_day, run_settings
    from crmmetrics.grid import build_grid

    require_dask()
    tz = config.timezone
    period, by, since_dt, until_dt = run_settings(config, period, by, since, until)
    check_inputs(config, inputs)
    if "-" in (inputs or {}).values():
        raise UsageError("--engine dask cannot read stdin (the workers read the files)", hint="write the export to a file, or use --engine pandas")
    config, _ = config_for_inputs(config, inputs, None)  # presets match the --input's headers, as in the pandas engine
    now = now or dt.datetime.now(ZoneInfo(tz))
    as_of_dt = parse_day(as_of, "--as-of") or now.replace(tzinfo=None, microsecond=0)
    plan = make_plan(config, list(metrics or []), period, by, need_dates=bool(since or until))
    runnable, issues = [], list(plan.skipped)
    for mp in plan.metrics:
        why = refusal(mp)
        if why and metrics:
            raise UsageError(why, hint="run it with --engine pandas (the default)")
        if why:
            issues.append(Issue(Level.INFO, "metric_skipped", f"{mp.spec.name} not computed: {why}", metric=mp.spec.name))
        else:
            runnable.append(mp)
    if not runnable:
        raise nothing_to_do({i.metric or "": i.message.split(" not computed: ", 1)[-1] for i in issues if i.code == "metric_skipped"})
    base = build_grid(period, config.week_start, since_dt, until_dt, parse_day(as_of, "--as-of"), now)
    groups: dict[str, list[MetricPlan]] = {}
    for mp in runnable:
        groups.setdefault(mp.spec.entity, []).append(mp)
    jobs = []  # (entity, part path, needs)
    for entity, mps in groups.items():
        needs = {e: f for e, f in plan.needs.items() if e == entity or e in {o for mp in mps for o in mp.spec.optional}}
        jobs += [(entity, part, needs) for part in partitions(config, entity, (inputs or {}).get(entity))]
    outs = _run(jobs, [groups[e] for e, _, _ in jobs], config, base, by, as_of_dt, client, scheduler)
    grid = _merged_grid(base, [o["grid"] for o in outs])
    frames, inputs_read, found, options = [], [], [], {}
    for entity, mps in groups.items():
        mine = [o for (e, _, _), o in zip(jobs, outs) if e == entity]
        for mp in mps:
            rows, metric_issues, opts = _finish_metric(mp, mine, config, grid, by, as_of_dt)
            frames.append(rows)
            issues.extend(metric_issues)
            options[mp.spec.name] = opts
        for k, o in enumerate(mine):
            # Optional entities (activities beside tickets) are read whole by every
            # partition: their facts and issues count once, from the first.
            inputs_read.extend(i for i in o["inputs"] if k == 0 or i.entity == entity)
            found.extend(i for i in o["issues"] if k == 0 or i.entity in (entity, None))
    row_issues = cap_examples(found)
    results = _finish(frames, period, by)
    return Report(results, row_issues + issues, inputs_read, now.isoformat(timespec="seconds"),
                  as_of_dt.isoformat(timespec="seconds"), tz, period, by, since, until, options, grid=grid)


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


def _run(jobs: list[tuple[str, str, dict[str, set[str]]]], mps: list[list[MetricPlan]], config: Config, grid: Any, by: list[str],
         as_of: dt.datetime, client: Any, scheduler: str | None) -> list[dict[str, Any]]:
    """One Dask task per partition; the client given, the scheduler at ``scheduler``, else a local cluster."""
    from dask import delayed

    tasks = [delayed(run_partition, pure=False)(config, entity, part, needs, ms, grid, by, as_of)
             for (entity, part, needs), ms in zip(jobs, mps)]
    if client is not None:
        return list(client.gather(client.compute(tasks)))
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            with Client(scheduler, timeout="10s") as c:
                return list(c.gather(c.compute(tasks)))
        except OSError as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {scheduler} ({exc})", hint="check engine.scheduler (tcp://HOST:8786)") from None
    # A local cluster sized to the machine: one single-threaded worker process per core.
    with LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as c:
        return list(c.gather(c.compute(tasks)))


def run_partition(config: Config, entity: str, part: str, needs: dict[str, set[str]], mps: list[MetricPlan], grid: Any,
                  by: list[str], as_of: dt.datetime) -> dict[str, Any]:
    """Read one part file and collect each metric's partial aggregates (runs on a worker)."""
    from crmmetrics.dataset import load_dataset
    from crmmetrics.engine import declared_fields, run_metric
    from crmmetrics.grid import apply_as_of
    from crmmetrics.metrics.context import PERIOD_COL
    from crmmetrics.metrics.partial import Partials

    ds = load_dataset(config, needs, {entity: part}, declared=declared_fields(mps))
    part_grid = apply_as_of(ds, grid, config.timezone)
    parts, issues = {}, []
    for mp in mps:
        collect = Partials("collect", [PERIOD_COL, *by])
        _, metric_issues, _ = run_metric(mp, ds, config, part_grid, by, as_of, partial=collect)
        parts[mp.spec.name] = collect.parts
        issues += [i for i in metric_issues if i.code not in FINISH_CODES]
    empty = {e: f.iloc[:0] for e, f in ds.frames.items()}  # the columns, for the finish run
    return {"parts": parts, "issues": ds.issues + issues, "inputs": ds.inputs, "empty": empty, "mapped": ds.mapped,
            "grid": (part_grid.first, part_grid.last, part_grid.last_entity)}


def _merged_grid(base: Any, facts: list[tuple[Any, Any, Any]]) -> Any:
    """The run's grid from every partition's first and newest dates (as apply_as_of would give)."""
    firsts = [f for f, _, _ in facts if f is not None]
    lasts = [(last, e) for _, last, e in facts if last is not None]
    last, entity = max(lasts, key=lambda t: t[0]) if lasts else (None, None)
    return base.with_data(min(firsts) if firsts else None, last, entity)


def _finish_metric(mp: MetricPlan, outs: list[dict[str, Any]], config: Config, grid: Any, by: list[str],
                   as_of: dt.datetime) -> tuple[Any, list[Issue], dict[str, Any]]:
    """Merge one metric's partials and run it in finish mode on an empty frame."""
    import pandas as pd

    from crmmetrics.dataset import Dataset
    from crmmetrics.engine import run_metric
    from crmmetrics.metrics.context import PERIOD_COL
    from crmmetrics.metrics.partial import Partials, merge

    keys = [PERIOD_COL, *by]
    merged = merge([o["parts"][mp.spec.name] for o in outs], keys)
    if grid.grain == "all":  # each partition bucketed at its own first date; the run has one start
        merged = [(kind, f.assign(**{PERIOD_COL: pd.Timestamp(grid.all_start)}) if len(f) else f) for kind, f in merged]
        merged = merge([merged], keys)
    finish = Partials("finish", keys, merged)
    ds = Dataset(frames=dict(outs[0]["empty"]), mapped=dict(outs[0]["mapped"]))  # declared-but-unmapped columns stay "not mapped"
    return run_metric(mp, ds, config, grid, by, as_of, partial=finish)


def cap_examples(issues: list[Issue], limit: int | None = None) -> list[Issue]:
    """Row issues from every partition, with at most ``limit`` examples per code and field
    overall (as one pandas run would keep); the rest are one summary with the exact count."""
    from crmmetrics.dataset import ROW_ISSUES_PER_FIELD

    limit = ROW_ISSUES_PER_FIELD if limit is None else limit
    kept: list[Issue] = []
    seen: dict[tuple[Any, ...], int] = {}
    extra: dict[tuple[Any, ...], tuple[Issue, int]] = {}
    for i in issues:
        key = (i.code, i.entity, i.field, i.metric)
        summary = i.location is None and i.message.endswith(" more rows")
        if not summary and i.count == 1 and i.location is not None:
            seen[key] = seen.get(key, 0) + 1
            if seen[key] <= limit:
                kept.append(i)
                continue
            first, n = extra.get(key, (i, 0))
            extra[key] = (first, n + 1)
        elif summary:
            first, n = extra.get(key, (i, 0))
            extra[key] = (first, n + i.count)
        else:
            kept.append(i)
    for (first, n) in extra.values():
        base = first.message.rsplit(": ", 1)[0] if first.message.endswith(" more rows") else first.message
        kept.append(Issue(first.level, first.code, f"{base}: {n} more rows", entity=first.entity, field=first.field,
                          metric=first.metric, count=n))
    return kept
