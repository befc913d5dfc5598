"""Progress hooks for long runs: the engine and the readers report, the CLI displays.

The engine must not import rich (nor know about terminals), so it talks to whatever sink
is installed here; the default sink does nothing. The CLI installs a Rich display on
stderr (crmmetrics/cli/progress.py) only when stderr is a terminal and -q is not given.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class ProgressSink:
    """Receives progress events; this base class ignores them all."""

    active = False  # readers read in chunks (to report bytes) only when a sink listens

    def source_start(self, name: str, size: int | None) -> None:
        """A source file starts being read (``size`` in bytes when known)."""

    def source_bytes(self, n: int) -> None:
        """``n`` more bytes of the current source were read."""

    def source_parsing(self) -> None:
        """The bytes are in; the current source is being parsed and typed."""

    def source_done(self) -> None:
        """The current source is read and typed."""

    def metrics_start(self, total: int) -> None:
        """``total`` metrics are about to be computed."""

    def metric_start(self, name: str) -> None:
        """Metric ``name`` starts."""

    def metric_done(self) -> None:
        """The current metric is done."""

    def finish(self) -> None:
        """The run is over: remove the display."""


_sink: ProgressSink = ProgressSink()


def current() -> ProgressSink:
    """The installed sink (a silent one unless the CLI installed a display)."""
    return _sink


@contextmanager
def reporting(sink: ProgressSink | None) -> Iterator[None]:
    """Install ``sink`` for the duration of the block (None: keep silence)."""
    global _sink
    if sink is None:
        yield
        return
    previous, _sink = _sink, sink
    try:
        yield
    finally:
        _sink = previous
        sink.finish()
