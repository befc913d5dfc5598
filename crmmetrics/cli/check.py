"""`crmmetrics check`: rules, goals and freshness for cron and monitoring (issue #13).

Evaluation lives in ``crmmetrics/checks/``; this module only parses flags, picks the
renderer and turns the worst status into the exit code.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, Optional

import typer

from crmmetrics.cli.root import app
from crmmetrics.cli.boundary import guarded
from crmmetrics.cli.options import AsOfOpt, ConfigOpt, DebugOpt, EngineOpt, QuantilesOpt, InputOpt, OutputOpt, QuietOpt, StrictOpt, VerboseOpt

CheckFormatOpt = Annotated[str, typer.Option("--format", "-f", help="text (one line per rule), json, nagios (one plugin status line, "
                                                                   "exit 0/1/2/3) or prometheus (a node_exporter textfile; use -o).")]
CheckPeriodOpt = Annotated[Optional[str], typer.Option("--period", "-p", help="A grain (day, week, month, quarter, year, all; default report.period): judge its "
                                                                            "latest complete period. Or a period label (2026-10, 2026-W43, 2026-Q4, 2026): judge that one, once it is over.", show_default=False)]
WarnOkOpt = Annotated[bool, typer.Option("--warn-ok", help="Exit 0 when the worst status is WARN (CRIT still exits 1). Not used with -f nagios.")]


def _nagios_unknown(message: str, kwargs: dict[str, Any]) -> int | None:
    """With -f nagios every failure is UNKNOWN (3) with a status line on stdout."""
    if kwargs.get("fmt") != "nagios":
        return None
    from crmmetrics.render.checks import nagios_unknown

    sys.stdout.write(nagios_unknown(message))
    sys.stdout.flush()
    return 3


@app.command("check")
@guarded(on_error=_nagios_unknown)
def check_cmd(
    config: ConfigOpt = None,
    period: CheckPeriodOpt = None,
    as_of: AsOfOpt = None,
    fmt: CheckFormatOpt = "text",
    output: OutputOpt = None,
    input_: InputOpt = None,
    warn_ok: WarnOkOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
    strict: StrictOpt = False,
    engine: EngineOpt = None,
    quantiles: QuantilesOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Evaluate checks:, thresholds:, goals: and sources' max_age on the latest complete period.

    The period judged is the latest one that has ended at --as-of (default: now), so a
    Thursday run judges last week. Exit 0 ok, 1 warn or crit (--warn-ok: warn exits 0),
    2 usage, 65 data issues with --strict, 78 config (also when every checked metric was
    skipped). -f nagios exits 0/1/2/3 as the plugin API says.

    [bold]Examples[/bold] (cron)

      crmmetrics check -c /etc/crm.yaml -q
      crmmetrics check -c /etc/crm.yaml -f nagios
      crmmetrics check -c /etc/crm.yaml -f prometheus -o /var/lib/node_exporter/textfile/crm.prom -q
      crmmetrics check -c /etc/crm.yaml --engine dask
    """
    from crmmetrics.checks.evaluate import Status
    from crmmetrics.checks.run import run_checks
    from crmmetrics.cli.output import parse_inputs, raise_for_issues, summarise_issues
    from crmmetrics.config import find_config, load_config
    from crmmetrics.engines import chosen_engine, computer
    from crmmetrics.errors import ExitCode, UsageError
    from crmmetrics.render import checks as render

    if fmt not in render.CHECK_FORMATS:
        raise UsageError(f"unknown check format {fmt!r}", hint=f"use one of {', '.join(render.CHECK_FORMATS)}")
    cfg = load_config(find_config(config))
    compute_fn = computer(*chosen_engine(engine, cfg, quantiles))
    run = run_checks(cfg, period=period, as_of=as_of, inputs=parse_inputs(input_), stdin=sys.stdin, compute_fn=compute_fn)
    issues = run.issues
    raise_for_issues(issues, strict=strict, quiet=quiet, show=lambda q, skip: summarise_issues(issues, verbose, q, skip))
    summarise_issues(issues, verbose, quiet)
    text = {"text": lambda: render.to_text(run, quiet), "json": lambda: render.to_json(run),
            "nagios": lambda: render.to_nagios(run), "prometheus": lambda: render.to_prometheus(run)}[fmt]()
    if output and output != "-":
        from crmmetrics.io.output import atomic_write, refuse_overwriting_inputs

        sources = [cfg.base_dir / s.path for e in cfg.configured_entities() for s in cfg.sources(e)]
        refuse_overwriting_inputs(output, [cfg.path, *parse_inputs(input_).values(), *sources])
        atomic_write(output, text.encode("utf-8"))
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    worst = run.worst
    if not quiet:
        counts = ", ".join(f"{n} {s}" for s, n in run.counts().items())
        sys.stderr.write(f"crmmetrics: {run.grain} {run.period} as known at {run.as_of:%Y-%m-%d %H:%M}: {counts or 'nothing checked'}\n")
    if fmt == "nagios":
        raise typer.Exit(render.nagios_code(run))
    if worst is Status.CRIT or (worst is Status.WARN and not warn_ok):
        raise typer.Exit(int(ExitCode.BREACH))
