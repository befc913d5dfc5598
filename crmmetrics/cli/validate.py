"""`crmmetrics validate`: check the config and every mapped value of every source."""

from __future__ import annotations

import sys

from crmmetrics.cli import app
from crmmetrics.cli.boundary import guarded
from crmmetrics.cli.options import ConfigOpt, DebugOpt, QuietOpt, VerboseOpt


@app.command("validate")
@guarded
def validate_cmd(config: ConfigOpt = None, quiet: QuietOpt = False, verbose: VerboseOpt = 0, debug: DebugOpt = False) -> None:
    """Read every configured source with all its mapped fields and list every issue.

    Exit 0 when the data is clean, 65 when any value failed to parse (the issues are
    listed on stderr), 78 for config errors, 66 for missing files.
    """
    from crmmetrics.config import find_config, load_config
    from crmmetrics.dataset import load_dataset
    from crmmetrics.engine import mapped_fields, make_plan
    from crmmetrics.errors import ConfigError, DataError, Level
    from crmmetrics.metrics.registry import all_metrics
    from crmmetrics.render.safe import terminal_text

    cfg = load_config(find_config(config))
    needs = {e: mapped_fields(cfg, e) for e in cfg.configured_entities()}
    ds = load_dataset(cfg, needs, stdin=sys.stdin)
    out = sys.stderr
    for fact in ds.inputs:
        out.write(f"crmmetrics: {fact.entity}: {fact.path}: {fact.rows_read} rows, {fact.rows_rejected} with rejected values"
                  f" ({fact.format}{', ' + fact.encoding if fact.encoding else ''}{', delimiter ' + repr(fact.delimiter) if fact.delimiter else ''}"
                  f"{', sheet ' + repr(fact.sheet) if fact.sheet else ''})\n")
    computable = []
    for name in all_metrics():
        try:
            make_plan(cfg, [name], "month", [], need_dates=False)
            computable.append(name)
        except ConfigError:
            pass
    out.write(f"crmmetrics: computable metrics: {', '.join(computable) or 'none'}\n")
    problems = [i for i in ds.issues if i.level is not Level.INFO]
    limit = None if verbose else 50
    for i in problems[:limit]:
        out.write(f"  {i.level.value}: {terminal_text(i.one_line())}\n")
    if limit and len(problems) > limit:
        out.write(f"  ... {len(problems) - limit} more (-v lists all)\n")
    if problems:
        raise DataError(f"{sum(i.count for i in problems)} data issue(s) in {len(ds.inputs)} input(s)")
    if not quiet:
        out.write("crmmetrics: no issues\n")
