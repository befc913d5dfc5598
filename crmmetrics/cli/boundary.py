"""The single error boundary: exceptions → one stderr line and the documented exit code."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from crmmetrics.errors import ConfigError, CrmMetricsError, ExitCode
from crmmetrics.io.output import PART_WAY, write_failed
from crmmetrics.render.safe import terminal_text

F = TypeVar("F", bound=Callable[..., Any])


def error_line(text: str) -> None:
    """``crmmetrics: error: ...`` on stderr (plain text: it must survive cron mail)."""
    sys.stderr.write(f"crmmetrics: error: {terminal_text(text)}\n")
    sys.stderr.flush()


def report_error(exc: CrmMetricsError) -> None:
    """Print a CrmMetricsError: each problem on its own line, then the hint."""
    lines = exc.message.splitlines() or [exc.message]
    for line in lines:
        error_line(line)
    if exc.hint:
        sys.stderr.write(f"crmmetrics: hint: {terminal_text(exc.hint)}\n")
    if isinstance(exc, ConfigError) and len(lines) > 1:
        sys.stderr.write(f"crmmetrics: {len(lines)} problems in the config\n")


def silence_stdout() -> None:
    """After EPIPE (``| head``), point stdout at /dev/null so the exit flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


# A command's say in how a failure ends: called after the stderr line with the message
# and the command's arguments; returns an exit code to use instead of the documented one
# (`check -f nagios` answers UNKNOWN, 3, as the plugin API requires), or None.
ErrorHook = Callable[[str, dict[str, Any]], "int | None"]


OUT_OF_MEMORY_HINT = ("read less: a date range (--since/--until; Parquet sources then skip the other rows), fewer metrics, "
                      "or --engine dask with Parquet parts (README: Scale)")


def guarded(func: F | None = None, *, on_error: ErrorHook | None = None) -> Any:
    """Wrap a command: known errors → message + exit code; bugs → exit 70.

    Used bare (``@guarded``) or with a hook (``@guarded(on_error=...)``); either way this
    is the one place where exceptions become exit codes.
    """
    if func is None:
        return functools.partial(guarded, on_error=on_error)

    def finish(code: int, message: str, kwargs: dict[str, Any]) -> typer.Exit:
        override = on_error(message, kwargs) if on_error else None
        return typer.Exit(code if override is None else override)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except CrmMetricsError as exc:
            report_error(exc)
            raise finish(int(exc.exit_code), exc.message, kwargs) from None
        except BrokenPipeError:
            # The reader (head, less) stopped early: that is its choice, not our failure.
            silence_stdout()
            raise typer.Exit(0) from None
        except KeyboardInterrupt:
            sys.stderr.write("crmmetrics: interrupted\n")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except MemoryError:
            # The data outgrew this machine (or a ulimit): say so, with the ways to read less.
            if kwargs.get("debug") or os.environ.get("CRMMETRICS_DEBUG"):
                raise
            error_line("out of memory: the inputs do not fit in this machine's memory (or the process's ulimit)")
            sys.stderr.write(f"crmmetrics: hint: {OUT_OF_MEMORY_HINT}\n")
            raise finish(int(ExitCode.OSERR), "out of memory", kwargs) from None
        except Exception as exc:  # a bug: one line unless --debug
            if isinstance(exc, OSError) and exc.errno in PART_WAY:
                # Printing a listing or check lines to a full disk is exit 74, not a bug.
                silence_stdout()
                failed = write_failed("stdout", exc)
                report_error(failed)
                raise finish(int(failed.exit_code), failed.message, kwargs) from None
            if kwargs.get("debug") or os.environ.get("CRMMETRICS_DEBUG"):
                raise
            error_line(f"internal error: {type(exc).__name__}: {exc} (a bug; re-run with --debug for the traceback)")
            raise finish(int(ExitCode.SOFTWARE), f"internal error: {type(exc).__name__}", kwargs) from None

    return wrapper
