"""The exception hierarchy, the exit-code table and the Issue record.

Every failure a user can cause is a :class:`CrmMetricsError` subclass that carries its
exit code; the CLI maps them to ``crmmetrics: error: ...`` lines in one place
(``crmmetrics/cli/boundary.py``). Problems in the *data* that do not stop a run are
:class:`Issue` records collected into the report.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from dataclasses import field as dc_field
from typing import Any


class ExitCode(enum.IntEnum):
    """Process exit codes (BSD sysexits where one fits; DESIGN.md section 8)."""

    OK = 0
    BREACH = 1  # `check`: a rule at WARN or CRIT (a goal behind, a stale source)
    USAGE = 2  # bad flag or argument
    DATAERR = 65  # input data failed validation (or any issue with --strict)
    NOINPUT = 66  # input missing/unreadable, or `-` while stdin is a terminal
    SOFTWARE = 70  # a bug
    OSERR = 71  # the machine ran out of a resource (memory): not a bug, not the data's fault
    CANTCREAT = 73  # output cannot be created or replaced
    IOERR = 74  # a read or write failed part-way
    CONFIG = 78  # config invalid or not found
    INTERRUPTED = 130  # Ctrl-C
    TERMINATED = 143  # SIGTERM or SIGHUP while writing (128 + 15, what a shell reports)


class CrmMetricsError(Exception):
    """Base class: a message for the user, an optional hint, and an exit code."""

    exit_code: ExitCode = ExitCode.SOFTWARE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


class UsageError(CrmMetricsError):
    """A flag or argument that cannot be honoured (unknown metric, bad --by field)."""

    exit_code = ExitCode.USAGE


class ConfigError(CrmMetricsError):
    """The config file is missing, malformed or inconsistent."""

    exit_code = ExitCode.CONFIG


class InputNotFoundError(CrmMetricsError):
    """An input file is missing or unreadable, or stdin is a terminal."""

    exit_code = ExitCode.NOINPUT


class DataError(CrmMetricsError):
    """The input cannot be used: a mapped column is absent, bytes do not decode, ..."""

    exit_code = ExitCode.DATAERR


class ReadError(CrmMetricsError):
    """A read failed part-way (I/O error after the file was opened)."""

    exit_code = ExitCode.IOERR


class OutputError(CrmMetricsError):
    """The output file cannot be created or replaced."""

    exit_code = ExitCode.CANTCREAT


class WriteError(CrmMetricsError):
    """A write failed part-way (disk full, I/O error), on stdout or a device."""

    exit_code = ExitCode.IOERR


class Level(str, enum.Enum):
    """How serious an :class:`Issue` is. Only errors block a run (exit 65)."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Issue:
    """One problem found in the data, with where it is.

    ``location`` is human-readable: ``path:LINE`` for CSV (1-based physical line, the
    header is line 1) or ``path Sheet!C17`` for Excel. ``count`` > 1 marks a summary
    issue that stands for several rows (``location`` is then the first of them).
    """

    level: Level
    code: str
    message: str
    entity: str | None = None
    source: str | None = None
    location: str | None = None
    column: str | None = None
    field: str | None = None
    value: str | None = None
    metric: str | None = None
    count: int = 1
    extra: dict[str, Any] = dc_field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the level as its string value; empty extra dropped)."""
        data = asdict(self)
        data["level"] = self.level.value
        if not data["extra"]:
            data.pop("extra")
        return data

    def _states_count(self) -> bool:
        """True when the message already says how many (``74 canceled orders ...``), so the
        listing does not repeat it as ``(+73 more like it)``."""
        import re

        return any(re.search(rf"(?<![\d,.]){re.escape(text)}(?!\d|[,.]\d)", self.message) for text in {str(self.count), f"{self.count:,}"})

    def one_line(self) -> str:
        """``LOCATION: column 'X': message`` for stderr listings."""
        where = self.location or self.source or self.metric or self.entity or ""
        if self.metric and where != self.metric:
            where = f"{where} ({self.metric})"
        col = f"column {self.column!r}: " if self.column else ""
        more = f" (+{self.count - 1} more like it)" if self.count > 1 and not self._states_count() else ""
        prefix = f"{where}: " if where else ""
        return f"{prefix}{col}{self.message}{more}"
