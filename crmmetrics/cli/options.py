"""Shared option declarations: one flag means one thing in every command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", envvar="CRMMETRICS_CONFIG", help="The YAML config file. Default: ./crmmetrics.yaml, then ~/.config/crmmetrics/config.yaml.", show_default=False)]
OptionalConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", envvar="CRMMETRICS_CONFIG", help="The YAML config file.", show_default=False)]
PeriodOpt = Annotated[Optional[str], typer.Option("--period", "-p", help="day, week, month, quarter, year or all (default: report.period, else month).", show_default=False)]
ByOpt = Annotated[Optional[list[str]], typer.Option("--by", "-b", help="Group by a field of the metric's entity, or of customers joined through customer_id. Repeatable.", show_default=False)]
SinceOpt = Annotated[Optional[str], typer.Option("--since", help="First day included (YYYY-MM-DD, reporting time zone).", show_default=False)]
UntilOpt = Annotated[Optional[str], typer.Option("--until", help="First day excluded (YYYY-MM-DD).", show_default=False)]
AsOfOpt = Annotated[Optional[str], typer.Option("--as-of", help="The 'now' of the report (YYYY-MM-DD); default today in the reporting zone.", show_default=False)]
# For analyze: the same day, under the name RFM users know (the observation end for btyd).
AnalysisDateOpt = Annotated[Optional[str], typer.Option("--as-of", "--analysis-date", help="Analysis date / observation end (YYYY-MM-DD). RFM default: the day after the last order.", show_default=False)]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="auto, table, csv, json, jsonl, markdown or xlsx. auto: a table on a terminal, CSV when piped, else the -o extension.")]
OutputOpt = Annotated[Optional[str], typer.Option("--output", "-o", help="Write here (atomically) instead of stdout; '-' is stdout.", show_default=False)]
InputOpt = Annotated[Optional[list[str]], typer.Option("--input", help="ENTITY=PATH: read this file (or '-' for stdin) instead of the config's path, with the same column mapping. Repeatable.", show_default=False)]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on stderr when the run succeeds (for cron).")]
VerboseOpt = Annotated[int, typer.Option("--verbose", "-v", count=True, help="Show inputs read, encodings, delimiters, options in force. -vv lists every issue.")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Fail (exit 65) on any data issue instead of warning.")]
CsvGuardOpt = Annotated[bool, typer.Option("--csv-guard/--no-csv-guard", help="In CSV output, prefix text fields starting with = + - @ TAB or CR with ' so spreadsheets do not run them as formulas. --no-csv-guard writes them raw, for pipelines.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the full traceback of unexpected errors.")]
BomOpt = Annotated[bool, typer.Option("--bom", help="CSV output starts with a UTF-8 byte-order mark, so Excel (e.g. Turkish Windows) opens it as UTF-8 directly.")]
EngineOpt = Annotated[Optional[str], typer.Option("--engine", help="pandas (default: one machine, every metric) or dask (the survey and ticket metrics on a Dask cluster; needs pip install 'crmmetrics[dask]'). Default: engine.name in the config, else pandas.", show_default=False)]
QuantilesOpt = Annotated[Optional[str], typer.Option("--quantiles", help="exact or approx: median and p90 on --engine dask (approx: within 1 %, a sketch per cell instead of every value on the client; no effect on pandas). Default: engine.quantiles in the config, else exact.", show_default=False)]
