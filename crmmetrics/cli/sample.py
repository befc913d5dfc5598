"""`crmmetrics sample-data DIR`: write the demo exports."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from crmmetrics.cli import app
from crmmetrics.cli.boundary import guarded
from crmmetrics.cli.options import DebugOpt, QuietOpt


@app.command("sample-data")
@guarded
def sample_data_cmd(
    directory: Annotated[Path, typer.Argument(help="Folder to write the demo exports into (created if needed).")],
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Write realistic, deterministic demo exports for every entity (the sample_data/ files)."""
    from crmmetrics.errors import OutputError
    from crmmetrics.sampledata import write_sample_data

    try:
        paths = write_sample_data(directory)
    except OSError as exc:
        raise OutputError(f"cannot write sample data to {directory}: {exc.strerror or exc}") from None
    if not quiet:
        for p in paths:
            sys.stderr.write(f"crmmetrics: wrote {p}\n")
