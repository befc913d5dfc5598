"""`crmmetrics init FILE... -o CONFIG`: draft a config from export headers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from crmmetrics.cli.root import app
from crmmetrics.cli.boundary import guarded
from crmmetrics.cli.options import DebugOpt, QuietOpt


@app.command("init")
@guarded
def init_cmd(
    files: Annotated[Optional[list[str]], typer.Argument(help="Export files (CSV, TSV, xlsx, JSON). FILE:ENTITY forces the entity, e.g. export.csv:deals.", show_default=False)] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The config file to write.")] = Path("crmmetrics.yaml"),
    timezone: Annotated[str, typer.Option("--timezone", help="Reporting time zone for the draft.")] = "UTC",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing config file.")] = False,
    example: Annotated[Optional[str], typer.Option("--example", help="Write a shipped example config instead (sales_maven, telco_csv, ...); 'list' lists them.", show_default=False)] = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Draft a config by matching export headers to canonical fields; review it, then `validate`.

    Each file (or each sheet of a workbook) is assigned the entity its headers match best;
    columns it cannot place are listed in comments, never dropped.

    [bold]Example[/bold]

      crmmetrics init exports/deals.xlsx exports/nps.csv -o crm.yaml --timezone Europe/Istanbul
    """
    from crmmetrics.config import config_from_data
    from crmmetrics.errors import ConfigError, OutputError
    from crmmetrics.io.output import atomic_write, refuse_overwriting_inputs
    from crmmetrics.yamlload import load_yaml

    if example is not None or not files:
        _write_example(example, output, force, quiet)
        return
    specs = [spec.rpartition(":") if ":" in spec and not Path(spec).exists() else (spec, "", "") for spec in files]
    # --force replaces an old config, never one of the exports the draft is made from.
    refuse_overwriting_inputs(output, [name for name, _, _ in specs])
    if output.exists() and not force:
        raise OutputError(f"{output} exists; not replacing it", hint="pass --force, or -o another name")
    exports, metric_options = _draft_exports([(name, entity) for name, _, entity in specs], quiet)
    text = _draft_text(exports, metric_options, output, timezone)
    data, lines = load_yaml(text)
    try:
        config_from_data(data, lines, output)
    except ConfigError as exc:
        sys.stderr.write(f"crmmetrics: the draft needs attention before use:\n{exc.message}\n")
    atomic_write(output, text.encode("utf-8"))
    if not quiet:
        _say_what_was_drafted(exports, output)


def _draft_exports(specs: list[tuple[str, str]], quiet: bool) -> tuple[list[Any], dict[str, dict]]:
    """Each (file, forced entity or "") as drafted exports (a preset's, or matched by headers
    and values, plus a satisfaction survey found inside a tickets file), and the metric options
    the values called for (1-10 NPS, unit prices)."""
    from crmmetrics.draft import guess
    from crmmetrics.draft_values import check_encoding, complete, decide, satisfaction_survey
    from crmmetrics.presets.drafting import near_miss_note, peek_any, preset_exports

    exports: list[Any] = []
    metric_options: dict[str, dict] = {}
    for name, entity in specs:
        for ex in peek_any(Path(name)):
            drafted = None if entity else preset_exports(ex)
            note = None if drafted or entity else near_miss_note(ex)
            if note and not quiet:
                sys.stderr.write(f"crmmetrics: {ex.path}: {note}\n")
            if drafted:
                exports.extend(drafted)
                continue
            check_encoding(ex)
            ex = guess(ex, entity) if entity else decide(ex)
            if ex.entity:
                ex.extra_lines, opts = complete(ex)
                metric_options.update(opts)
            exports.append(ex)
            survey = satisfaction_survey(ex) if not entity else None
            if survey is not None:
                exports.append(survey)
    return exports, metric_options


def _draft_text(exports: list[Any], metric_options: dict[str, dict], output: Path, timezone: str) -> str:
    """The config text: sources, the metric options, and period: all when nothing is dated."""
    from crmmetrics.draft import draft_yaml
    from crmmetrics.draft_values import metrics_block, undated

    text = draft_yaml(exports, output, timezone)
    text += "".join(line + "\n" for line in metrics_block(metric_options))
    if undated(exports):
        text += "report: {period: all}   # guessed: no file has a date column init could map, so metrics cover all rows at once\n"
    return text


def _say_what_was_drafted(exports: list[Any], output: Path) -> None:
    """One stderr line per export (its entity and how many columns were mapped), then what to do next."""
    for ex in exports:
        where = f"{ex.path}{' sheet ' + repr(ex.sheet) if ex.sheet else ''}"
        what = f"{ex.entity} ({len(ex.fields)} of {len(ex.headers)} columns mapped)" if ex.entity else "not recognised"
        if ex.preset is not None:
            what = f"{ex.entity} via preset {ex.preset.preset.name}"
        sys.stderr.write(f"crmmetrics: {where}: {what}\n")
    sys.stderr.write(f"crmmetrics: wrote {output}; check it, then: crmmetrics validate -c {output}\n")


def _write_example(name: str | None, output: Path, force: bool, quiet: bool) -> None:
    """`init --example NAME`: the packaged example config, written like a draft."""
    from crmmetrics.errors import OutputError, UsageError
    from crmmetrics.example_configs import example_names, example_text
    from crmmetrics.io.output import atomic_write

    if name is None:
        raise UsageError("init needs export files, or --example NAME", hint="e.g. crmmetrics init exports/deals.csv -o crm.yaml")
    if name == "list":
        sys.stdout.write("".join(n + "\n" for n in example_names()))
        return
    text = example_text(name)
    if output.exists() and not force:
        raise OutputError(f"{output} exists; not replacing it", hint="pass --force, or -o another name")
    atomic_write(output, text.encode("utf-8"))
    if not quiet:
        sys.stderr.write(f"crmmetrics: wrote {output} from example {name}; point its paths at your exports, then: crmmetrics validate -c {output}\n")
