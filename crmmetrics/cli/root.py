"""The root Typer app and the ``config`` group, without their commands.

The command modules (crmmetrics/cli/compute.py, ...) register themselves on ``app`` when
imported; :mod:`crmmetrics.cli` imports all of them, or only the one a run asks for.
"""

from __future__ import annotations

import sys

import typer

from crmmetrics import __version__

app = typer.Typer(
    name="crmmetrics",
    help="Customer metrics (NPS, CSAT, CES, ...) from CRM exports in CSV or Excel, described once in a YAML config.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    add_completion=True,
)
config_app = typer.Typer(help="Config helpers: the JSON Schema for editors.", no_args_is_help=True)
app.add_typer(config_app, name="config")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"crmmetrics {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Customer metrics from CRM exports."""
    # A terminal that cannot show a character (PYTHONIOENCODING=ascii, a latin-1 locale)
    # gets "?" for it instead of a crash. Data formats are written as UTF-8 bytes.
    try:
        sys.stdout.reconfigure(errors="replace")  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        pass

