"""`crmmetrics compute` and `crmmetrics check`."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from crmmetrics.cli import app
from crmmetrics.cli.boundary import guarded
from crmmetrics.cli.options import (AsOfOpt, ByOpt, ConfigOpt, DebugOpt, FormatOpt, InputOpt, OutputOpt, PeriodOpt, QuietOpt,
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
    debug: DebugOpt = False,
) -> None:
    """Compute metrics per period (and segment) and print or write the results.

    [bold]Examples[/bold]

      crmmetrics compute nps csat ces -c crm.yaml -p month
      crmmetrics compute nps -c crm.yaml -b plan -f csv | column -t -s,
      crmmetrics compute -c crm.yaml -p quarter -o report.xlsx -q
    """
    from crmmetrics.cli.output import choose_format, deliver, parse_inputs
    from crmmetrics.config import find_config, load_config
    from crmmetrics.engine import compute

    chosen = choose_format(fmt, output, sys.stdout.isatty())
    cfg = load_config(find_config(config))
    report = compute(cfg, metrics, period=period, by=by or None, since=since, until=until, as_of=as_of,
                     inputs=parse_inputs(input_), stdin=sys.stdin)
    deliver(report, chosen, output, cfg.model.currency, strict=strict, verbose=verbose, quiet=quiet)


@app.command("check")
@guarded
def check_cmd(
    config: ConfigOpt = None,
    period: PeriodOpt = None,
    as_of: AsOfOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
    debug: DebugOpt = False,
) -> None:
    """Compute the metrics that have thresholds; exit 1 when the latest period breaches one.

    The latest period is the last one with data; values are overall (report.by is not applied). Prints one line per check on stdout.

    [bold]Example[/bold] (cron): crmmetrics check -c /etc/crm.yaml -q || mail -s breach ...
    """
    import math

    from crmmetrics.cli.output import summarise
    from crmmetrics.config import find_config, load_config
    from crmmetrics.engine import compute, result_records
    from crmmetrics.errors import ConfigError, ThresholdBreach
    from crmmetrics.render.display import fmt_value

    cfg = load_config(find_config(config))
    names = [n for n, t in cfg.model.thresholds if t is not None]
    if not names:
        raise ConfigError(f"{cfg.where('thresholds')}: no thresholds in the config", hint="add e.g. thresholds: {nps: {min: 30}}")
    # Thresholds bound the metric as a whole: no report.by grouping, or the "latest
    # period" row would be whichever segment happens to sort last.
    report = compute(cfg, names, period=period, by=[], as_of=as_of, stdin=sys.stdin)
    summarise(report, verbose, quiet)
    breaches = []
    records = result_records(report.results)
    for name in names:
        rows = [r for r in records if r["metric"] == name and r["value"] is not None and not math.isnan(r["value"])]
        if not rows:
            sys.stdout.write(f"{name}\t-\tno value\n")
            continue
        last = rows[-1]
        t = cfg.threshold(name)
        low = t.min is not None and last["value"] < t.min
        high = t.max is not None and last["value"] > t.max
        status = "BREACH" if low or high else "ok"
        bound = f"min {t.min}" if low else f"max {t.max}" if high else ""
        sys.stdout.write(f"{name}\t{last['period']}\t{fmt_value(last['value'], last['unit'])}\t{status}{(' (' + bound + ')') if bound else ''}\n")
        if status == "BREACH":
            breaches.append(f"{name} {last['period']} = {last['value']:.4g} ({bound})")
    if breaches:
        raise ThresholdBreach("threshold breached: " + "; ".join(breaches))
