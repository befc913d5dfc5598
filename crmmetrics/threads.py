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
from collections import deque
from collections.abc import Callable, Iterable, Iterator
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
    ``min(2, usable cores)``. A bad value falls back to the default (it is a tuning knob,
    not something a run should fail on)."""
    text = os.environ.get(ENV, "").strip()
    if text.isdigit() and int(text) >= 1:
        return int(text)
    try:
        cores = len(os.sched_getaffinity(0))  # the cores this process may run on (containers, taskset)
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(DEFAULT_MAX, cores))


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int | None = None) -> Iterator[R]:
    """``fn(item)`` for each item, yielded in the items' order, up to ``workers`` at a time.

    At most ``workers`` results exist at once (the one being consumed counts): the next
    item is started only when the caller asks for the next result, so a slow consumer never
    piles up finished columns in memory. The first exception in item order is raised, as a
    serial loop would raise it; items after it may have run but their results are dropped.
    One worker (or one item) runs everything in the calling thread.
    """
    workers = worker_count() if workers is None else workers
    todo = iter(items)
    if workers <= 1:
        for item in todo:
            yield fn(item)
        return
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crmmetrics")
    pending: deque[Any] = deque()
    try:
        for item in todo:
            pending.append(pool.submit(fn, item))
            if len(pending) == workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


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
    bounds = [n * k // workers for k in range(workers + 1)]
    pieces = [values.iloc[a:b] for a, b in zip(bounds, bounds[1:])]
    out = pd.concat(list(ordered_map(fn, pieces, workers)))
    if not _is_default_index(out.index, n):  # pandas keeps consecutive ranges a RangeIndex; never return another index
        out.index = values.index
    return out


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
