"""`crmmetrics compute`."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from crmmetrics.cli.root import app
from crmmetrics.cli.boundary import guarded
from crmmetrics.cli.options import (AsOfOpt, BomOpt, ByOpt, ConfigOpt, CsvGuardOpt, DebugOpt, EngineOpt, QuantilesOpt, FormatOpt, InputOpt, OutputOpt, PeriodOpt, QuietOpt,
                                    SinceOpt, StrictOpt, UntilOpt, VerboseOpt)

MetricsArg = Annotated[Optional[list[str]], typer.Argument(help="Metric names (see `crmmetrics metrics`). None: every metric the config can feed.", show_default=False)]


@app.command("compute")
@guarded
def compute_cmd(
    metrics: MetricsArg = None,
    config: ConfigOpt = None,
    period: PeriodOpt = None,
    by: ByOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = "auto",
    output: OutputOpt = None,
    input_: InputOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
    strict: StrictOpt = False,
    csv_guard: CsvGuardOpt = True,
    bom: BomOpt = False,
    engine: EngineOpt = None,
    quantiles: QuantilesOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Compute metrics per period (and segment) and print or write the results.

    [bold]Examples[/bold]

      crmmetrics compute nps csat ces -c crm.yaml -p month
      crmmetrics compute nps -c crm.yaml -b plan -f csv | column -t -s,
      crmmetrics compute -c crm.yaml -p quarter -o report.xlsx -q
      crmmetrics compute nps csat -c crm.yaml --engine dask
    """
    from crmmetrics.cli.output import choose_format, deliver, parse_inputs
    from crmmetrics.cli.progress import progress_for
    from crmmetrics.progress import reporting
    from crmmetrics.config import find_config, load_config
    from crmmetrics.engines import chosen_engine, computer

    from crmmetrics.io.readers import ReplayStdin

    chosen = choose_format(fmt, output, sys.stdout.isatty())
    cfg = load_config(find_config(config))
    stdin = ReplayStdin(sys.stdin)  # goals may compute a second time from the same piped export
    run = computer(*chosen_engine(engine, cfg, quantiles))
    with reporting(progress_for(quiet)):
        report = run(cfg, metrics, period=period, by=by or None, since=since, until=until, as_of=as_of,
                     inputs=parse_inputs(input_), stdin=stdin)
        if cfg.goals:
            from crmmetrics.checks.goals import goals_for_report

            report.goals = [g.to_dict() for g in goals_for_report(cfg, report, inputs=parse_inputs(input_), stdin=stdin, compute_fn=run)]
    deliver(report, chosen, output, cfg.model.currency, strict=strict, verbose=verbose, quiet=quiet, csv_guard=csv_guard, bom=bom or (cfg.model.report.csv_bom and chosen == "csv"),
            protect=[cfg.path])

