"""`crmmetrics report`: the summary first screen, or a self-contained HTML dashboard."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer

from crmmetrics.cli.root import app
from crmmetrics.cli.boundary import guarded
from crmmetrics.cli.options import (AsOfOpt, ByOpt, ConfigOpt, DebugOpt, EngineOpt, QuantilesOpt, InputOpt, PeriodOpt, QuietOpt, SinceOpt, StrictOpt,
                                    UntilOpt, VerboseOpt)

MetricsArg = Annotated[Optional[list[str]], typer.Argument(help="Metric names (default: every metric the config can feed).", show_default=False)]
ReportOutputOpt = Annotated[Optional[str], typer.Option("--output", "-o", help="report.html: a self-contained HTML dashboard; report.txt: the first screen as text. Default: the first screen on stdout.", show_default=False)]
REPORT_EXTENSIONS = {".html": "html", ".htm": "html", ".txt": "text"}
PIPED_WIDTH = 120  # the first screen written to a pipe or a .txt file


@app.command("report")
@guarded
def report_cmd(
    metrics: MetricsArg = None,
    config: ConfigOpt = None,
    period: PeriodOpt = None,
    by: ByOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    as_of: AsOfOpt = None,
    output: ReportOutputOpt = None,
    input_: InputOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
    strict: StrictOpt = False,
    engine: EngineOpt = None,
    quantiles: QuantilesOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Every metric at a glance: latest complete period, change, trend, n, goal / check status.

    On a terminal: one line per metric, grouped by family, fitted to the window.
    With -o report.html: one self-contained file (no network needed to open it) with KPI
    tiles, a trend chart per metric, MRR movements, cohorts, RFM segments and data quality.

    [bold]Examples[/bold]

      crmmetrics report -c crm.yaml
      crmmetrics report -c crm.yaml -o report.html -q
      crmmetrics report -c crm.yaml -b plan -o by_plan.html
      crmmetrics report nps csat -c crm.yaml --engine dask
    """
    from pathlib import Path

    from crmmetrics.cli.output import parse_inputs, raise_for_issues, summarise
    from crmmetrics.cli.progress import progress_for
    from crmmetrics.config import find_config, load_config
    from crmmetrics.checks.goals import goals_for_report
    from crmmetrics.engines import chosen_engine, computer
    from crmmetrics.errors import UsageError
    from crmmetrics.io.readers import ReplayStdin
    from crmmetrics.progress import reporting
    from crmmetrics.summary import summarise as summary_rows

    kind = "screen"
    if output and output != "-":
        kind = REPORT_EXTENSIONS.get(Path(output).suffix.lower(), "")
        if not kind:
            raise UsageError(f"-o {output}: report writes .html or .txt", hint="for data formats use `crmmetrics compute -o FILE.csv|.json|.xlsx`")
    cfg = load_config(find_config(config))
    compute = computer(*chosen_engine(engine, cfg, quantiles))
    # The first screen is overall per metric unless -b asks for segments (the HTML shows
    # both: overall tiles, and the segments in their own section).
    stdin = ReplayStdin(sys.stdin)  # the segment run and the analyses read the same piped export
    with reporting(progress_for(quiet)):
        report = compute(cfg, metrics, period=period, by=[] if kind == "html" else by or [], since=since, until=until,
                         as_of=as_of, inputs=parse_inputs(input_), stdin=stdin)
    raise_for_issues(report.issues, strict=strict, quiet=quiet, show=lambda q, skip: summarise(report, verbose, q, skip))
    summarise(report, verbose, quiet)
    # Goals measured on the same engine (a second computation when the report lacks a goal metric).
    goals = goals_for_report(cfg, report, inputs=parse_inputs(input_), stdin=stdin, compute_fn=compute)
    rows = summary_rows(report, cfg, goals)
    currency = cfg.model.currency
    if kind in ("html", "text"):
        from crmmetrics.io.output import refuse_overwriting_inputs

        refuse_overwriting_inputs(output, [cfg.path, *(f.path for f in report.inputs)])
    if kind == "html":
        from crmmetrics.io.output import atomic_write
        from crmmetrics.render.html import dashboard_html

        with reporting(progress_for(quiet)):
            extras = dashboard_extras(cfg, metrics, period, by or [], since, until, as_of, parse_inputs(input_), stdin, compute, goals)
        atomic_write(output, dashboard_html(report, rows, currency, extras).encode("utf-8"))
        return
    from crmmetrics.render.firstscreen import first_screen_text, renderables

    if kind == "text":
        from crmmetrics.io.output import atomic_write

        atomic_write(output, first_screen_text(report, rows, currency, PIPED_WIDTH).encode("utf-8"))
        return
    if sys.stdout.isatty():
        from rich.console import Console

        console = Console(highlight=False)
        for r in renderables(report, rows, currency, console.width):
            console.print(r)
        return
    width = int(os.environ.get("COLUMNS", PIPED_WIDTH)) if os.environ.get("COLUMNS", "").isdigit() else PIPED_WIDTH
    sys.stdout.write(first_screen_text(report, rows, currency, width))


def dashboard_extras(cfg, metrics, period, by, since, until, as_of, inputs, stdin, compute=None, goals=None):  # type: ignore[no-untyped-def]
    """Segment rows (with -b) and the cohort and RFM analyses, for the HTML dashboard.

    An analysis the config cannot feed is not an error here: its section says why.
    ``stdin`` is a ReplayStdin: a piped export is read once and replayed to each run.
    ``compute``: the run's engine (:func:`crmmetrics.engines.computer`); the analyses are
    per customer, so on the Dask engine their sections say they are not computed there.
    ``goals``: the run's goal progress, reused rather than measured again.
    """
    from crmmetrics.engine import analyze
    from crmmetrics.engine import compute as on_pandas
    from crmmetrics.errors import ConfigError, UsageError
    from crmmetrics.render.html import Extras
    from crmmetrics.summary import summarise as summary_rows

    compute = compute or on_pandas
    extras = Extras(by=list(by), config_name=cfg.path.name if cfg.path else "")
    if by:
        seg = compute(cfg, metrics, period=period, by=by, since=since, until=until, as_of=as_of, inputs=inputs, stdin=stdin)
        extras.segments = summary_rows(seg, cfg, goals)
    for name in ("cohorts", "rfm"):
        if getattr(compute, "engine", "pandas") == "dask":
            extras.skipped[name] = "not shown: per-customer analyses are not computed on the Dask engine (use --engine pandas)"
            continue
        try:
            setattr(extras, name, analyze(cfg, name, period=period, since=since, until=until,
                                          as_of=as_of if name == "rfm" else None, inputs=inputs, stdin=stdin))
        except (ConfigError, UsageError) as exc:
            extras.skipped[name] = f"not shown: {exc.message}"
    return extras
