"""The Rich progress display on stderr: bytes read per source, then metrics computed.

Shown only when stderr is a terminal and -q is not given, so pipes, cron mail and logs
never receive progress bars; it is transient (erased when the run ends).
"""

from __future__ import annotations

import sys
from typing import Any

from crmmetrics.progress import ProgressSink


class RichProgress(ProgressSink):
    """A :class:`ProgressSink` drawing one task per source and one for the metrics."""

    active = True

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, DownloadColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn,
                                   TimeElapsedColumn)

        self.console = console or Console(stderr=True)
        self.bytes_columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeElapsedColumn())
        self.count_columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
        self.progress = Progress(*self.bytes_columns, console=self.console, transient=True)
        self.progress.start()
        self._source: Any = None
        self._metrics: Any = None
        self._done = 0

    def source_start(self, name: str, size: int | None) -> None:
        self.progress.columns = self.bytes_columns
        self._source = self.progress.add_task(f"reading {name}", total=size)

    def source_bytes(self, n: int) -> None:
        if self._source is not None:
            self.progress.advance(self._source, n)

    def source_parsing(self) -> None:
        if self._source is not None:
            task = self.progress.tasks[-1]
            self.progress.update(self._source, description=task.description.replace("reading", "parsing", 1))

    def source_done(self) -> None:
        if self._source is not None:
            self.progress.remove_task(self._source)
            self._source = None

    def metrics_start(self, total: int) -> None:
        # counts, not bytes: a second Progress would flicker, so the columns are swapped
        self.progress.columns = self.count_columns
        self._done = 0
        self._metrics = self.progress.add_task("computing", total=total)

    def metric_start(self, name: str) -> None:
        if self._metrics is not None:
            self.progress.update(self._metrics, description=f"computing {name}")

    def metric_done(self) -> None:
        if self._metrics is not None:
            self.progress.advance(self._metrics, 1)

    def finish(self) -> None:
        self.progress.stop()


def progress_for(quiet: bool) -> RichProgress | None:
    """A display when stderr is a terminal and the run is not quiet, else None."""
    if quiet or not sys.stderr.isatty():
        return None
    return RichProgress()
