"""Writing output files: atomically, with the right mode, never over an input.

A regular file is written to a temporary file beside its real target (symlinks are
followed, so ``-o link.csv`` updates what the link points to and keeps the link), fsynced
and renamed over it: a failed run never leaves a half-written report where the previous
one was (Typer's own ``atomic=True`` renames even after an exception: fastapi/typer
PR #1918). The new file gets the mode an ordinary ``open()`` would give it (0666 minus the
umask), or the mode of the file it replaces. SIGTERM or SIGHUP while writing removes the
temporary file and exits 143.

Character devices and FIFOs (``-o /dev/null``, ``-o /dev/stdout``, ``-o >(gzip)``) cannot
be replaced, only written to, so they are written directly.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from crmmetrics.errors import CrmMetricsError, ExitCode, OutputError, WriteError

# A write that started and could not finish is exit 74; one that could not start is 73.
PART_WAY = {errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EFBIG}


class Terminated(CrmMetricsError):
    """SIGTERM or SIGHUP arrived while an output file was being written."""

    exit_code = ExitCode.TERMINATED


def write_failed(what: str, exc: OSError) -> CrmMetricsError:
    """The error for an OSError while writing ``what`` (74 part-way, else 73)."""
    cls = WriteError if exc.errno in PART_WAY else OutputError
    return cls(f"cannot write {what}: {exc.strerror or exc}",
               hint="free some disk space and run again" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else None)


def _umask() -> int:
    # The only portable way to read the umask is to set it; set it straight back.
    old = os.umask(0o022)
    os.umask(old)
    return old


def _is_stream(path: Path, st: os.stat_result | None) -> bool:
    """True for targets that are written in place: devices, FIFOs, /dev/stdout and kin."""
    if st is None:
        return False
    if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return True
    # /dev/stdout or /dev/fd/1 redirected to a file (``>> log``): replacing that file
    # would lose what the shell opened it for, so write through the descriptor.
    return str(path).startswith(("/dev/", "/proc/"))


@contextlib.contextmanager
def _removed_on_signal(tmp: str) -> Iterator[None]:
    """While writing ``tmp``, turn SIGTERM/SIGHUP into ``Terminated`` (which removes it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated(f"terminated by signal {signal.Signals(signum).name} while writing; the partial output was removed")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def atomic_write(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` all at once, or leave it untouched."""
    target = Path(path)
    try:
        st: os.stat_result | None = os.stat(target)  # follows symlinks
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    if _is_stream(target, st):
        _write_stream(target, data)
        return
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise OutputError(f"cannot write {target}: it is a folder", hint="name a file inside it")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OutputError(f"cannot write {target}: not a regular file, a device or a FIFO")
    real = Path(os.path.realpath(target))
    folder = real.parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {target}: folder {folder} does not exist", hint="create the folder first")
    mode = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot create a file in {folder}: {exc.strerror}") from None
    try:
        with _removed_on_signal(tmp):
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fh.fileno(), mode)
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, real)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise write_failed(str(target), exc) from None
        raise


def _write_stream(target: Path, data: bytes) -> None:
    """Write to a device or FIFO in place (nothing to rename; a FIFO waits for its reader)."""
    try:
        with open(target, "wb") as fh:
            fh.write(data)
            fh.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise write_failed(str(target), exc) from None


def refuse_overwriting_inputs(output: str | Path | None, inputs: Iterable[str | Path | None]) -> None:
    """OutputError (73) when ``output`` is one of ``inputs``: the same path, a symlink to it
    or a hard link (compared by device and inode, so ``./x``, ``../d/x`` and links all match).
    """
    if not output or str(output) == "-":
        return
    try:
        st = os.stat(output)
    except OSError:
        return  # does not exist yet, so it cannot be an input
    if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return  # writing to a device or pipe replaces nothing
    for src in inputs:
        if not src or str(src) in ("-", "<stdin>"):
            continue
        try:
            same = os.path.samefile(output, src)
        except OSError:
            continue
        if same:
            raise OutputError(f"-o {output} is the input {src}; refusing to overwrite an input",
                              hint="write the output to another file")
