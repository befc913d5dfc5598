"""`crmmetrics presets [NAME]`: the vendor export presets and what each one maps."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from crmmetrics.cli.root import app
from crmmetrics.cli.boundary import guarded
from crmmetrics.cli.options import DebugOpt


@app.command("presets")
@guarded
def presets_cmd(
    name: Annotated[Optional[str], typer.Argument(help="A preset name: show its column mapping, value maps and rules.", show_default=False)] = None,
    debug: DebugOpt = False,
) -> None:
    """List the vendor export presets, or show one (use it as `preset: NAME` in a source).

    Tab-separated when piped: name, entities, vendor, status, title.

    [bold]Example[/bold]

      crmmetrics presets zendesk-tickets
    """
    from crmmetrics.presets import all_presets, describe, get_preset

    if name is not None:
        sys.stdout.write(describe(get_preset(name)))
        return
    rows = [[p.name, ", ".join(p.entities), p.vendor, "beta" if p.beta else "verified", p.title] for p in all_presets().values()]
    header = ["preset", "entities", "vendor", "status", "title"]
    from crmmetrics.cli.output import print_listing

    print_listing(header, rows)
