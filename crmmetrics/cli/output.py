"""Choosing the output format, printing reports and the stderr issue summary."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crmmetrics.errors import Issue, Level, UsageError
from crmmetrics.render import FORMATS, format_for_path
from crmmetrics.render.safe import terminal_text

if TYPE_CHECKING:
    from crmmetrics.engine import Report

ISSUES_SHOWN = 10


def choose_format(fmt: str, output: str | None, stdout_isatty: bool) -> str:
    """auto → extension of -o, else table on a terminal, else csv; conflicts are usage errors."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    by_ext = format_for_path(output)
    if fmt == "auto":
        if by_ext:
            return by_ext
        if output and output != "-":
            return "csv"
        return "table" if stdout_isatty else "csv"
    if by_ext and by_ext != fmt and not (fmt == "table" and by_ext == "table"):
        raise UsageError(f"-f {fmt} contradicts the extension of -o {output}", hint=f"use -o with a .{fmt if fmt != 'markdown' else 'md'} name, or -f auto")
    return fmt


def emit(report: Report, fmt: str, output: str | None, currency: str | None, *, csv_guard: bool = True,
         protect: list[str | None] | None = None, quiet: bool = False, bom: bool = False) -> None:
    """Write the report: stdout (tables through Rich) or a file, atomically.

    ``protect`` lists files the output must not replace (the config; the inputs read are
    taken from the report). A failed write to stdout (disk full) is exit 74.
    """
    from crmmetrics.io.output import atomic_write, refuse_overwriting_inputs
    from crmmetrics.render.formats import render_bytes
    from crmmetrics.render.table import RICH_ROWS_MAX, row_count

    to_stdout = not output or output == "-"
    if not to_stdout:
        refuse_overwriting_inputs(output, [*(protect or []), *(f.path for f in report.inputs)])
    if fmt == "table" and row_count(report) > RICH_ROWS_MAX and not quiet:
        sys.stderr.write(f"crmmetrics: note: {row_count(report):,} rows are too many for a readable table; written as plain "
                         f"aligned text (use -f csv for spreadsheets and pipelines)\n")
    if to_stdout and fmt == "table":
        _to_stdout(lambda: _print_tables(report, currency))
        return
    if to_stdout and fmt == "xlsx" and sys.stdout.isatty():
        raise UsageError("xlsx is binary and stdout is a terminal", hint="use -o report.xlsx")
    data = render_bytes(report, fmt, currency, csv_guard=csv_guard, bom=bom)
    if to_stdout:
        def write() -> None:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        _to_stdout(write)
    else:
        atomic_write(output, data)


def _print_tables(report: Report, currency: str | None) -> None:
    """Rich tables on stdout, or plain aligned lines when there are too many rows for Rich."""
    from crmmetrics.render.table import RICH_ROWS_MAX, plain_lines, row_count, tables

    if row_count(report) > RICH_ROWS_MAX:
        for line in plain_lines(report, currency):
            sys.stdout.write(line)
        sys.stdout.flush()
        return
    from rich.console import Console

    console = Console()
    for t in tables(report, currency, console.width):
        console.print(t)
    sys.stdout.flush()


def _to_stdout(write: Callable[[], None]) -> None:
    """Run ``write``; an OSError other than a closed pipe (``| head``) is exit 74."""
    from crmmetrics.cli.boundary import silence_stdout
    from crmmetrics.io.output import write_failed

    try:
        write()
    except BrokenPipeError:
        raise
    except OSError as exc:
        silence_stdout()  # or the interpreter's final flush fails again, noisily
        raise write_failed("stdout", exc) from None


def summarise(report: Report, verbose: int, quiet: bool, skip: Issue | None = None) -> None:
    """Inputs (at -v) and issues on stderr: counts per code, then the first few (``skip`` aside)."""
    err = sys.stderr
    if verbose and not quiet:
        for fact in report.inputs:
            extra = ", ".join(f"{k} {v!r}" for k, v in (("encoding", fact.encoding), ("delimiter", fact.delimiter), ("sheet", fact.sheet)) if v)
            err.write(f"crmmetrics: read {terminal_text(fact.path)} ({fact.entity}): {fact.rows_read} rows, {fact.rows_rejected} with rejected values; {extra}\n")
        for metric, opts in report.options.items():
            err.write(f"crmmetrics: {metric} options: {', '.join(f'{k}={v!r}' for k, v in opts.items())}\n")
    summarise_issues(report.issues, verbose, quiet, skip)


def summarise_issues(issues: list[Issue], verbose: int, quiet: bool, skip: Issue | None = None) -> None:
    """Issues on stderr: the summary line, then the first few (all at -vv).

    The summary line counts every issue, info included, so no excluded row goes
    unmentioned by default; info issues are listed one by one at -v. ``-q`` silences
    info and warnings, never errors. ``skip`` is counted but not listed: the run's final
    error line shows it (with its value), so stderr says it once.
    """
    err = sys.stderr
    listed = [i for i in issues if i is not skip]
    if quiet:
        for i in [i for i in listed if i.level is Level.ERROR][:ISSUES_SHOWN]:
            err.write(f"  error: {terminal_text(i.one_line())}\n")
        return
    line = summary_line(issues, verbose)
    if line:
        err.write(line + "\n")
    shown = [i for i in listed if verbose or i.level is not Level.INFO]
    limit = len(shown) if verbose >= 2 else ISSUES_SHOWN
    for i in shown[:limit]:
        err.write(f"  {i.level.value}: {terminal_text(i.one_line())}\n")
    if len(shown) > limit:
        err.write(f"  ... {len(shown) - limit} more (-vv lists all; -f json has every issue)\n")


def summary_line(issues: list[Issue], verbose: int = 0) -> str:
    """``crmmetrics: N issue(s): code n, ...; info: code n, ...`` (empty when there are none)."""
    counts: dict[str, int] = {}
    notes: dict[str, int] = {}
    for i in issues:
        bucket = notes if i.level is Level.INFO else counts
        bucket[i.code] = bucket.get(i.code, 0) + i.count
    parts = []
    if counts:
        parts.append(f"{sum(counts.values())} issue(s): " + ", ".join(f"{c} {n}" for c, n in sorted(counts.items())))
    if notes:
        parts.append("info: " + ", ".join(f"{c} {n}" for c, n in sorted(notes.items())) + ("" if verbose else " (-v lists them)"))
    return "crmmetrics: " + "; ".join(parts) if parts else ""


def parse_inputs(values: list[str] | None) -> dict[str, str]:
    """``ENTITY=PATH`` pairs → dict (usage error on a malformed pair)."""
    out: dict[str, str] = {}
    for v in values or []:
        name, sep, path = v.partition("=")
        if not sep or not name or not path:
            raise UsageError(f"--input {v!r} is not ENTITY=PATH", hint="e.g. --input surveys=export.csv or --input surveys=-")
        out[name.strip()] = path.strip()
    return out


def deliver(report: Report, fmt: str, output: str | None, currency: str | None, *, strict: bool, verbose: int, quiet: bool,
            csv_guard: bool = True, protect: list[str | None] | None = None, bom: bool = False) -> None:
    """The common end of compute and analyze: error/--strict gate, stderr summary, notes, output."""
    if bom and fmt != "csv":
        raise UsageError(f"--bom applies to CSV output, not {fmt}", hint="use -f csv or an -o name ending in .csv")
    raise_for_issues(report.issues, strict=strict, quiet=quiet, show=lambda q, skip: summarise(report, verbose, q, skip))
    if verbose:
        sys.stderr.write(f"crmmetrics: format {fmt}\n")
    summarise(report, verbose, quiet)
    if not quiet:
        for note in report.notes:
            sys.stderr.write(f"crmmetrics: {terminal_text(note)}\n")
    emit(report, fmt, output, currency, csv_guard=csv_guard, protect=protect, quiet=quiet, bom=bom)


def raise_for_issues(issues: list[Issue], *, strict: bool, quiet: bool, show: Callable[[bool, Issue], None]) -> None:
    """The one issue gate of compute, analyze, report and check: data errors always end the
    run, and with ``--strict`` so do warnings. ``show(quiet, skip)`` lists the issues on
    stderr first (``-q`` still lists errors; a --strict failure lists everything), leaving out
    ``skip``, the issue the final error line names. On success nothing is shown: the caller
    prints its summary when it is ready."""
    if failure := error_failure(issues):
        show(quiet, _first(issues, lambda i: i.level is Level.ERROR))
        raise failure
    if strict and (failure := strict_failure(issues)):
        show(False, _first(issues, _strict_bad))
        raise failure


def _first(issues: list[Issue], pred: Callable[[Issue], bool]) -> Issue:
    return next(i for i in issues if pred(i))


def _strict_bad(issue: Issue) -> bool:
    """A warning or error --strict fails on (empty periods and stale exports pass)."""
    return issue.level is not Level.INFO and issue.code not in EMPTY_PERIOD_CODES


# Issues that say a period or segment simply had nothing to measure (no responses, no
# customers yet), or that the export is older than the as-of day (stale_export: a fact about
# when the run looks, not a defect in the rows): --strict and validate let them pass.
EMPTY_PERIOD_CODES = frozenset({"zero_denominator", "no_data", "stale_export"})


def error_failure(issues: list[Issue]) -> Any:
    """The DataError a run raises when the data has error-level issues (with or without --strict).

    Errors are rows the reader could not read at all (ragged rows, runaway quotes,
    unreadable cells): a report without them would be silently short.
    """
    from crmmetrics.errors import DataError

    errors = [i for i in issues if i.level is Level.ERROR]
    if not errors:
        return None
    first = errors[0]
    value = f" (value {first.value!r})" if first.value is not None and first.value not in first.message else ""
    return DataError(f"{sum(i.count for i in errors)} data error(s); first: {first.one_line()}{value}",
                     hint="fix the export at that line; rows that cannot be read are never skipped silently")


def strict_failure(issues: list[Issue]) -> Any:
    """The DataError --strict raises when there is any warning or error about the data."""
    from crmmetrics.errors import DataError

    bad = [i for i in issues if _strict_bad(i)]
    if not bad:
        return None
    return DataError(f"--strict: {sum(i.count for i in bad)} data issue(s); first: {terminal_text(bad[0].one_line())}", hint="run without --strict to get the report with warnings")


def print_listing(header: list[str], rows: list[list[str]]) -> None:
    """A catalogue listing: a Rich table on a terminal, tab-separated lines when piped."""
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(*header, header_style="bold")
        for r in rows:
            table.add_row(*r)
        Console().print(table)
    else:
        sys.stdout.write("\t".join(header) + "\n" + "".join("\t".join(r) + "\n" for r in rows))
