"""`crmmetrics metrics` (the registry) and `crmmetrics explain METRIC`."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from crmmetrics.cli.root import app
from crmmetrics.cli.boundary import guarded
from crmmetrics.cli.options import DebugOpt, OptionalConfigOpt


@app.command("metrics")
@guarded
def metrics_cmd(config: OptionalConfigOpt = None, debug: DebugOpt = False) -> None:
    """List every metric; with -c, say which ones the config can compute and why not.

    With -c the config's data is read and compute is run with its defaults, so
    "yes" means compute computes it, and "no" says why and what to map.

    Tab-separated when piped: name, family, unit, period kind, entity, title (, computable).
    """
    from crmmetrics.metrics.registry import all_metrics

    specs = all_metrics()
    status: dict[str, str] = {}
    if config is not None:
        from crmmetrics.config import load_config
        from crmmetrics.truth import metric_verdicts

        # The verdicts come from running compute on the data: "yes" only when it computes.
        status, unread = metric_verdicts(load_config(config))
        if unread:
            sys.stderr.write(f"crmmetrics: data not read ({unread}); verdicts from the column mapping only\n")
    header = ["metric", "family", "unit", "period", "entity", "title"] + (["computable"] if status else [])
    rows = [[s.name, s.family, s.unit, s.period_kind, s.entity, s.title] + ([status[s.name]] if status else []) for s in specs.values()]
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        console = Console()
        # Narrow terminal: drop the descriptive columns (the tab-separated form has them all)
        # before the names or the verdicts would be squeezed.
        for drop in ("period", "entity", "family", "unit"):
            natural = sum(max(len(h), *(len(r[header.index(h)]) for r in rows)) + 3 for h in header) + 1
            if natural <= console.width or ("computable" in header and len(header) <= 3) or len(header) <= 2:
                break
            i = header.index(drop)
            header = header[:i] + header[i + 1:]
            rows = [r[:i] + r[i + 1:] for r in rows]
        table = Table(header_style="bold")
        for h in header:
            # The name is what the user types: never cut or wrapped; long text folds instead.
            table.add_column(h, no_wrap=h == "metric", min_width=max(len(r[0]) for r in rows) if h == "metric" else None,
                             overflow="fold")
        for r in rows:
            table.add_row(*r)
        console.print(table)
    else:
        sys.stdout.write("\t".join(header) + "\n" + "".join("\t".join(r) + "\n" for r in rows))


@app.command("explain")
@guarded
def explain_cmd(
    metric: Annotated[str, typer.Argument(help="A metric name, e.g. nps.")],
    config: OptionalConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Show a metric's definition, formula, inputs, options (and the values in force with -c) and edge rules."""
    from crmmetrics.explain import explain_text
    from crmmetrics.metrics.registry import get_metric

    spec = get_metric(metric)
    in_force = None
    if config is not None:
        from crmmetrics.config import load_config

        cfg = load_config(config)
        opts = cfg.metric_options(spec.name)
        in_force = (opts if opts is not None else spec.options()).model_dump(mode="json")
    sys.stdout.write(explain_text(spec, in_force))
    if config is not None:
        from crmmetrics.metrics.support import measured_from_note

        note = measured_from_note(spec.name, cfg)
        if note:
            sys.stdout.write(f"\nWith this config: {note}\n")
        engine_note = dask_note(spec, opts if opts is not None else spec.options(), cfg)
        if engine_note:
            sys.stdout.write(f"\nEngine: {engine_note}\n")


def dask_note(spec: Any, options: Any, cfg: Any) -> str | None:
    """What the config's Dask engine (``engine.name: dask``) does with this metric: refused
    (and why), or run, with median and p90 exact or approximate (``engine.quantiles``).
    None on the pandas engine, which computes every metric exactly."""
    engine = cfg.model.engine
    if engine is None or engine.name != "dask":
        return None
    from crmmetrics.dask_support import refusal
    from crmmetrics.engine import MetricPlan
    from crmmetrics.metrics.shapes import Mean

    why = refusal(MetricPlan(spec, options, []), cfg)
    if why:
        return f"dask (engine.name in the config): refused; {why} (run it with --engine pandas)"
    if not isinstance(spec.shape_in_force(options), Mean):
        return "dask (engine.name in the config): per-partition sums merged; the pandas engine's values (floating point to 1e-9)"
    if engine.quantiles == "approx":
        from crmmetrics.metrics.sketch import ALPHA

        return (f"dask (engine.name in the config), quantiles approx: median and p90 within {ALPHA:.0%} (relative) "
                "of the exact values, from a sketch per period x segment; n, sums and means exact")
    return "dask (engine.name in the config), quantiles exact: every measured value travels to the client (engine.quantiles: approx saves that memory)"
