"""Python's cyclic garbage collector around a command-line run's start-up and exit (issue #15).

Before it reads a byte, a ``crmmetrics`` process creates several hundred thousand objects that
live until it ends: the modules of pandas, numpy, pyarrow, pydantic and typer, ours, the config
models. None of them is garbage, yet the collector walks them over and over while they are
created (≈ 0.1 s CPU of the 0.6 s a 10-row ``compute nps`` takes), and the interpreter walks
the whole heap again, several times, when it exits (≈ 0.15 s more) just before the operating
system takes the memory back anyway. So the command line (:func:`crmmetrics.cli.main`):

- :func:`pause` turns the collector off while the program starts;
- :func:`resume`, called by the readers before the first byte of input (and by the Dask engine,
  whose workers do the reading), turns it back on, with what exists then frozen (``gc.freeze``:
  kept out of every later collection). Reading and computing collect as before: pandas makes
  reference cycles (a Series and its ``.str`` accessor, for one), and large frames in them
  must be freed while the run goes on;
- :func:`freeze_at_exit` (an ``atexit`` handler) freezes the heap once the run is over, so the
  interpreter's final collections skip it. Everything is still released by reference
  counting; outputs are written, flushed and closed by the code that opened them, and Python
  still flushes stdout and stderr. Only objects kept alive by a reference cycle alone are
  left to the operating system, as the collector itself may do for any object at exit.

A library user (``import crmmetrics``) never calls :func:`pause`, and :func:`resume` then does
nothing: the collector is theirs.

:func:`exit_process` then ends the process without the rest of the interpreter's teardown:
freeing every object and module one by one was still ≈ 0.03 s CPU of every run, for memory
the operating system reclaims at once.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    """Turn the collector off for the start-up, unless something else already has."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Turn the collector back on, when :func:`pause` turned it off, with the start-up's
    objects frozen. Called before reading input; later calls do nothing."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def restore() -> None:
    """Turn the collector back on without freezing anything (a command that read nothing,
    or :func:`crmmetrics.cli.main` called inside a longer-lived process such as a test)."""
    global _paused
    if _paused:
        _paused = False
        gc.enable()


def freeze_at_exit() -> None:
    """At interpreter exit: freeze the heap, so the final collections do not walk it."""
    gc.freeze()


def exit_process(code: object) -> None:
    """End the process now with exit status ``code``, after what an interpreter exit does
    that anyone can see: the ``atexit`` handlers run and stdout and stderr are flushed.
    The objects and modules are not torn down one by one: outputs were written, fsynced
    and closed by their writers, and the memory goes back to the operating system whole.

    Returns, so that the ordinary exit runs, whenever that might end differently: another
    thread alive (the interpreter would wait for it), an exit code that is not a number
    (the interpreter prints it), or a flush that fails (the interpreter reports it and
    exits 120; the handlers have run then and do not run twice).
    """
    import atexit
    import os
    import sys
    import threading

    if not (code is None or isinstance(code, int)) or threading.active_count() != 1:
        return
    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except Exception:  # the ordinary exit reports it, as it always has
        return
    os._exit(int(code or 0))
