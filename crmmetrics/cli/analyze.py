"""`crmmetrics analyze NAME`: per-customer tables (RFM, BTYD summary, cohorts, ...)."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from crmmetrics.cli.root import app
from crmmetrics.cli.boundary import guarded
from crmmetrics.cli.options import (AnalysisDateOpt, BomOpt, ConfigOpt, CsvGuardOpt, DebugOpt, FormatOpt, InputOpt, OutputOpt, PeriodOpt, QuietOpt, SinceOpt,
                                    StrictOpt, UntilOpt, VerboseOpt)


@app.command("analyze")
@guarded
def analyze_cmd(
    name: Annotated[str, typer.Argument(help="The analysis, e.g. rfm, btyd, cohorts (see `crmmetrics analyze --list`).")] = "",
    config: ConfigOpt = None,
    table: Annotated[Optional[str], typer.Option("--table", "-t", help="Which of the analysis' tables to print (default: the main one). JSON and xlsx hold them all.", show_default=False)] = None,
    period: PeriodOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    as_of: AnalysisDateOpt = None,
    fmt: FormatOpt = "auto",
    output: OutputOpt = None,
    input_: InputOpt = None,
    list_: Annotated[bool, typer.Option("--list", help="List the analyses and exit.")] = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
    strict: StrictOpt = False,
    csv_guard: CsvGuardOpt = True,
    bom: BomOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Per-customer analyses, printed or written like compute results.

    [bold]Examples[/bold]

      crmmetrics analyze rfm -c crm.yaml --as-of 2026-11-01
      crmmetrics analyze cohorts -c crm.yaml -o cohorts.xlsx
    """
    from crmmetrics.analyses import all_analyses
    from crmmetrics.cli.output import choose_format, deliver, parse_inputs
    from crmmetrics.cli.progress import progress_for
    from crmmetrics.config import find_config, load_config
    from crmmetrics.engine import analyze
    from crmmetrics.progress import reporting
    from crmmetrics.errors import UsageError

    if list_ or not name:
        specs = all_analyses()
        if not name and not list_:
            raise UsageError("name an analysis", hint=f"available: {', '.join(specs) or 'none'}")
        sys.stdout.write("".join(f"{s.name}\t{s.title}\n" for s in specs.values()))
        return
    chosen = choose_format(fmt, output, sys.stdout.isatty())
    cfg = load_config(find_config(config))
    with reporting(progress_for(quiet)):
        report = analyze(cfg, name, period=period, since=since, until=until, as_of=as_of, table=table,
                         inputs=parse_inputs(input_), stdin=sys.stdin)
    deliver(report, chosen, output, cfg.model.currency, strict=strict, verbose=verbose, quiet=quiet, csv_guard=csv_guard, bom=bom or (cfg.model.report.csv_bom and chosen == "csv"),
            protect=[cfg.path])
