"""A second core for the work that releases the GIL (hashing, Arrow kernels, numpy).

Loading a source is a chain of whole-column steps (pyarrow.compute, numpy, hashlib)
that drop Python's GIL while they run, so two of them can run at once on two cores.
This module runs such steps on at most :func:`worker_count` threads and always hands
the results back in the order they were asked for: issues, columns and the first error
come out exactly as a serial run gives them. With one worker nothing is threaded.

``CRMMETRICS_THREADS`` (a whole number ≥ 1) sets the count; the default is
``min(2, cores this process may use)``: past two, the GIL-held glue between the steps
leaves little to gain, and a run shares the machine with whatever else runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_MAX = 2
ENV = "CRMMETRICS_THREADS"
# Below this many rows a column is not split: a thread hand-off (≈ 0.1 ms) would cost
# more than the second core saves.
MIN_PIECE_ROWS = 1 << 16


def worker_count() -> int:
    """Threads a run may use: ``CRMMETRICS_THREADS`` when set to a whole number ≥ 1, else
    ``min(2, usable cores)``. Set to anything else, it is the user's mistake and says so
    (exit 2), as a bad flag would: silently ignoring it would hide a typo in a cron job's
    environment."""
    text = os.environ.get(ENV, "").strip()
    if text:
        if not (text.isdigit() and int(text) >= 1):
            from crmmetrics.errors import UsageError

            raise UsageError(f"{ENV}={text!r} is not a whole number of threads (1 or more)",
                             hint=f"unset {ENV} for the default (2, or 1 on a one-core machine); {ENV}=1 keeps a run on one thread")
        return int(text)
    try:
        cores = len(os.sched_getaffinity(0))  # the cores this process may run on (containers, taskset)
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(DEFAULT_MAX, cores))


def map_pieces(fn: Callable[[T], R], pieces: list[T]) -> list[R]:
    """``[fn(piece) for piece in pieces]``, the pieces at once: the first on the calling
    thread, each other one on a thread of its own (so a busy machine never leaves the
    caller idle, waiting for a helper to be scheduled). Give at most :func:`worker_count`
    pieces. The first exception in piece order is raised once every piece has finished,
    as a serial loop would raise it.
    """
    helpers = [Background(fn, piece) for piece in pieces[1:]]
    try:
        first = fn(pieces[0])
    finally:
        done = [_outcome(h) for h in helpers]  # every helper finished before anything is raised
    for _, error in done:
        if error is not None:
            raise error
    return [first, *(value for value, _ in done)]


def _outcome(task: Background) -> tuple[Any, BaseException | None]:
    """(result, None) or (None, the exception) of a finished background call."""
    try:
        return task.result(), None
    except BaseException as exc:  # handed to map_pieces, which raises the first in order
        return None, exc


def by_row_pieces(fn: Callable[[Any], Any], values: Any, min_rows: int | None = None) -> Any:
    """``fn(values)`` computed as ``fn`` of consecutive row pieces, one per worker, joined.

    For a ``fn`` that treats each row on its own (strip a text, match a token), so that
    the pieces joined equal the whole: the pieces are zero-copy slices of ``values`` (a
    pandas Series with the default RangeIndex) and their results are concatenated in row
    order. The pieces together hold what the whole would, so no memory is added. Short
    columns (below ``min_rows``, default :data:`MIN_PIECE_ROWS`) and a single worker take
    ``fn(values)`` directly.
    """
    import pandas as pd

    min_rows = MIN_PIECE_ROWS if min_rows is None else min_rows
    workers = worker_count()
    n = len(values)
    if workers <= 1 or n < max(min_rows, 2) or not _is_default_index(values.index, n):
        return fn(values)
    pieces = [values.iloc[a:b] for a, b in even_spans(n, workers)]
    out = pd.concat(map_pieces(fn, pieces))
    if not _is_default_index(out.index, n):  # pandas keeps consecutive ranges a RangeIndex; never return another index
        out.index = values.index
    return out


def even_spans(n: int, k: int) -> list[tuple[int, int]]:
    """``k`` consecutive (start, stop) spans covering ``range(n)``, sizes differing by at most one
    (fewer when ``n < k``)."""
    k = max(1, min(n, k))
    bounds = [n * i // k for i in range(k + 1)]
    return list(zip(bounds, bounds[1:]))


def _is_default_index(index: Any, n: int) -> bool:
    """True for ``RangeIndex(0, n)`` (what every frame of a loaded source has)."""
    import pandas as pd

    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and index.stop == n


class Background:
    """``fn(*args)`` started on a thread now, its result (or exception) taken later.

    With one worker (see :func:`worker_count`) it runs at once, in the calling thread.
    """

    def __init__(self, fn: Callable[..., R], *args: Any) -> None:
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread: Any = None
        if worker_count() <= 1:
            self._run(fn, args)
            return
        import threading

        self._thread = threading.Thread(target=self._run, args=(fn, args), name="crmmetrics-bg", daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self._value = fn(*args)
        except BaseException as exc:  # re-raised in the caller's thread by result()
            self._error = exc

    def result(self) -> Any:
        """Wait for the call to finish; its return value, or its exception raised here."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise self._error
        return self._value
