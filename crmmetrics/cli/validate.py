"""`crmmetrics validate`: check the config and every mapped value of every source."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from crmmetrics.cli.root import app
from crmmetrics.cli.boundary import guarded
from crmmetrics.cli.options import ConfigOpt, DebugOpt, QuietOpt, VerboseOpt


@app.command("validate")
@guarded
def validate_cmd(config: ConfigOpt = None, quiet: QuietOpt = False, verbose: VerboseOpt = 0, debug: DebugOpt = False) -> None:
    """Run what compute would run, reading every mapped field; list every issue and what is not computable.

    The issue counts are the ones `compute -c CONFIG` reports (it is the same run), plus
    issues in mapped fields no metric reads. Exit 0 when the data is clean (empty periods
    are only noted), 65 when any row has an issue (listed on stderr), 78 for config
    errors, 66 for missing files.
    """
    from crmmetrics.cli.output import strict_failure, summary_line
    from crmmetrics.config import find_config, load_config
    from crmmetrics.errors import DataError, Level
    from crmmetrics.truth import dry_run

    cfg = load_config(find_config(config))
    # compute's own run (same plan, defaults and row checks), reading every mapped field.
    run = dry_run(cfg, stdin=sys.stdin, read_all=True)
    out = sys.stderr
    for fact in run.inputs:
        out.write(_input_line(fact))
    computable = [m for m, v in run.status.items() if v == "yes"]
    out.write(f"crmmetrics: computable metrics (what `crmmetrics compute -c {cfg.path.name if cfg.path else 'CONFIG'}` computes): {', '.join(computable) or 'none'}\n")
    skipped = {m: v for m, v in run.status.items() if v != "yes"}
    if skipped and (verbose or not quiet):
        _write_not_computable(out, skipped)
    line = summary_line(run.issues, verbose)
    if line:
        out.write(line + "   (the same counts compute reports)\n")
    problems = [i for i in run.issues if i.level is not Level.INFO]
    _write_problems(out, problems, verbose)
    if strict_failure(run.issues):
        raise DataError(f"{sum(i.count for i in problems)} data issue(s) in {len(run.inputs)} input(s)")
    if not quiet:
        out.write("crmmetrics: no issues\n" if not problems else "crmmetrics: only empty periods to note; the data is clean\n")


def _input_line(fact: Any) -> str:
    """What was read from one input: rows, rejected values, format, encoding, delimiter, sheet."""
    return (f"crmmetrics: {fact.entity}: {fact.path}: {fact.rows_read} rows, {fact.rows_rejected} with rejected values"
            f" ({fact.format}{', ' + fact.encoding if fact.encoding else ''}{', delimiter ' + repr(fact.delimiter) if fact.delimiter else ''}"
            f"{', sheet ' + repr(fact.sheet) if fact.sheet else ''})\n")


def _write_not_computable(out: TextIO, skipped: dict[str, str]) -> None:
    """The metrics that cannot run, each with why."""
    from crmmetrics.truth import verdict_lines

    out.write(f"crmmetrics: not computable ({len(skipped)}):\n")
    for text in verdict_lines(skipped):
        out.write(f"  {text}\n")


def _write_problems(out: TextIO, problems: list[Any], verbose: int) -> None:
    """The warnings and errors, one line each; the first 50 unless -v."""
    from crmmetrics.render.safe import terminal_text

    limit = None if verbose else 50
    for i in problems[:limit]:
        out.write(f"  {i.level.value}: {terminal_text(i.one_line())}\n")
    if limit and len(problems) > limit:
        out.write(f"  ... {len(problems) - limit} more (-v lists all)\n")
