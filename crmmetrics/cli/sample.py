"""`crmmetrics sample-data DIR`: write the demo exports."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from crmmetrics.cli.root import app
from crmmetrics.cli.boundary import guarded
from crmmetrics.cli.options import DebugOpt, QuietOpt


@app.command("sample-data")
@guarded
def sample_data_cmd(
    directory: Annotated[Path, typer.Argument(help="Folder to write the demo exports into (created if needed).")],
    force: Annotated[bool, typer.Option("--force", help="Replace demo files that already exist there.")] = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Write realistic, deterministic demo exports for every entity (the sample_data/ files).

    Each file is written atomically; files already there are kept unless --force.
    """
    from crmmetrics.errors import OutputError
    from crmmetrics.sampledata import FILE_NAMES, write_sample_data

    existing = [directory / name for name in FILE_NAMES if os.path.lexists(directory / name)]
    if existing and not force:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise OutputError(f"{existing[0]}{more} exist; not replacing them", hint="pass --force, or name an empty folder")
    try:
        paths = write_sample_data(directory)
    except OSError as exc:
        raise OutputError(f"cannot write sample data to {directory}: {exc.strerror or exc}") from None
    if not quiet:
        for p in paths:
            sys.stderr.write(f"crmmetrics: wrote {p}\n")
