"""The command line. Only this package imports typer; commands import the engine lazily,
so ``crmmetrics --help`` starts without pandas.

``app`` (the Typer app with every command) is built on first use: the console entry
point :func:`main` imports only the module of the command it runs (``crmmetrics compute``
does not import analyze, check, init, report, ... nor build their parameters), and
anything else (``--help``, ``--version``, completion, an unknown command) gets all of them.
"""

from __future__ import annotations

import atexit
import importlib
import os
import sys
from typing import Any

# Command (or group) name → the module under crmmetrics/cli/ that registers it. The
# modules are imported in this order when all are wanted, which is the order `--help`
# lists them in. tests/test_cli.py checks the table against what the modules register.
COMMAND_MODULES: dict[str, str] = {
    "analyze": "analyze",
    "metrics": "catalog",
    "explain": "catalog",
    "check": "check",
    "compute": "compute",
    "config": "config_cmd",
    "init": "init_cmd",
    "presets": "presets_cmd",
    "report": "report",
    "sample-data": "sample",
    "validate": "validate",
}


def load_commands(names: list[str] | None = None) -> None:
    """Import the command modules registering ``names`` (every command when None)."""
    wanted = COMMAND_MODULES.values() if names is None else [COMMAND_MODULES[n] for n in names]
    for module in dict.fromkeys(wanted):
        importlib.import_module(f"crmmetrics.cli.{module}")


def __getattr__(name: str) -> Any:
    """``crmmetrics.cli.app`` / ``config_app``: the apps with every command registered."""
    if name in ("app", "config_app"):
        from crmmetrics.cli import root

        load_commands()
        return getattr(root, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def commands_for(argv: list[str]) -> list[str] | None:
    """The commands a command line needs registered: the one it names when its first word
    is a command (``compute nps -c ...`` → ``["compute"]``), else every command (None).

    Root options come before the command word, so a first word starting with ``-``
    (``--help``, ``--version``, ``--install-completion``) or an unknown word (Typer's
    "No such command" error) gets the whole app, exactly as before.
    """
    return [argv[0]] if argv and argv[0] in COMMAND_MODULES else None


def main() -> None:
    """Console entry point (``crmmetrics`` and ``python -m crmmetrics``)."""
    # The collector stays off until the first byte of input is read, and skips the heap at
    # exit: walking the start-up's long-lived objects was ≈ 0.25 s CPU of every process
    # (issue #15; crmmetrics/startup.py says why this is safe).
    from crmmetrics import startup

    startup.pause()
    atexit.unregister(startup.freeze_at_exit)  # once, however often main() runs in a process
    atexit.register(startup.freeze_at_exit)
    try:
        _run()
    finally:
        startup.restore()


def run() -> None:
    """The process's entry point (the ``crmmetrics`` command, ``python -m crmmetrics``):
    :func:`main`, then the end of the process without the interpreter's teardown
    (:func:`crmmetrics.startup.exit_process`). Code calling :func:`main` itself gets the
    ordinary ``SystemExit``, and its process goes on."""
    from crmmetrics import startup

    try:
        main()
    except SystemExit as exc:
        startup.exit_process(exc.code)
        raise
    startup.exit_process(None)


def _run() -> None:
    """Set the native libraries up, register the command's module and run the Typer app."""
    from crmmetrics.cli.boundary import silence_stdout

    # pyarrow's default allocator (mimalloc) keeps freed buffers for reuse; a run types
    # its Arrow text into numpy arrays and drops it, so the kept memory only raises the
    # peak (10M tickets: 3.08 GB with mimalloc, 2.88 GB with the system allocator, same
    # CPU). Set before pyarrow is first imported; a user's own choice wins.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    # numpy's OpenBLAS starts one thread per core (with its buffers) when numpy is
    # imported; crmmetrics does no linear algebra, so that start-up is pure cost in
    # every process (≈ 0.07 s CPU on 2 cores, more on larger machines; issue #15).
    # A user's own choice wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

    from crmmetrics.cli import root

    load_commands(commands_for(sys.argv[1:]))
    try:
        root.app(prog_name="crmmetrics")
    except BrokenPipeError:
        silence_stdout()
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(130)
