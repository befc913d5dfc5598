"""The physical line structure of delimited text, and checks of a parse against it.

pyarrow parses fast but, with quoted newlines allowed, a stray or unterminated quote
silently glues the following lines into one field, and its ragged-row callback has no
line numbers. This module counts physical lines (vectorised), and only when the parse
does not match them walks the records once with the stdlib csv reader (C speed) to say
which line went wrong. It also builds the row → line map for issue locations.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass
from typing import Any

from crmmetrics.errors import Issue, Level

# The stdlib default (128 KB) turns one long free-text cell into a crash.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

ISSUES_PER_KIND = 100  # ragged / glued rows listed one by one, then one summary issue
EXCERPT = 60


def normalise_newlines(text: str) -> str:
    """Old-Mac (lone CR) and mixed line endings → LF; CRLF-only and LF text is returned as is.

    Two C-speed counts decide, so ordinary files pay no copy.
    """
    cr = text.count("\r")
    if not cr or cr == text.count("\r\n"):
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def nonblank_lines(utf8: bytes, chunk: int = 1 << 24) -> Any:
    """1-based numbers of the non-empty physical lines (numpy int64), vectorised.

    Empty means no characters at all ("" or a lone CR before LF): what pyarrow skips.
    Newlines are found 16 MiB at a time and only the blank lines are kept per chunk, so
    the one line-sized array built is the result (a file of 10M lines: 80 MB, where the
    whole-file newline, start and length arrays took five times that at once).
    """
    import numpy as np

    buf = np.frombuffer(utf8, dtype=np.uint8)
    blank: list[Any] = []  # 0-based numbers of the blank lines, per chunk
    before = -1  # position of the newline ending the previous line (-1: none yet)
    lines_done = 0
    for i in range(0, len(buf), chunk):
        nl = np.flatnonzero(buf[i:i + chunk] == 10) + i
        if not len(nl):
            continue
        starts = np.empty(len(nl), dtype=np.int64)
        starts[0], starts[1:] = before + 1, nl[:-1] + 1
        length = nl - starts
        empty = length == 0
        one = np.flatnonzero(length == 1)
        empty[one] = buf[starts[one]] == 13  # a line that is only the CR of a CRLF
        blank.append(np.flatnonzero(empty) + lines_done)
        lines_done += len(nl)
        before = int(nl[-1])
    last = len(buf) - (before + 1)  # the line after the last newline
    if last == 0 or (last == 1 and buf[before + 1] == 13):
        blank.append(np.array([lines_done], dtype=np.int64))
    lines = np.arange(1, lines_done + 2, dtype=np.int64)
    drop = np.concatenate(blank) if blank else np.zeros(0, dtype=np.int64)
    return np.delete(lines, drop) if len(drop) else lines


def header_record(text: str, delimiter: str, quotechar: str) -> tuple[list[str], int]:
    """The first record (the header) and how many physical lines it takes.

    A quoted header name may hold a newline; the header then spans several lines.
    """
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=quotechar)
    for record in reader:
        if record:
            return record, reader.line_num
    return [], reader.line_num


@dataclass
class Structure:
    """What the record walk found: kept records' first lines, and the problems."""

    starts: Any  # numpy int64: first physical line of each record pyarrow kept
    issues: list[Issue]


def walk_records(display: str, text: str, delimiter: str, quotechar: str, skip_lines: int, headers: list[str]) -> Structure:
    """Walk the records after the header: ragged rows and glued lines, with their lines.

    A record is *glued* when a quoted field runs over line breaks and a swallowed line
    has as many delimiters as a whole row: a stray or unterminated quote, not a
    multi-line comment. Ragged records are what pyarrow skips; both are errors.
    """
    import numpy as np

    width = len(headers)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=quotechar)
    starts: list[int] = []
    ragged: list[Issue] = []
    glued: list[Issue] = []
    n_ragged = n_glued = 0
    prev_end = 0
    for record in reader:
        start, prev_end = prev_end + 1, reader.line_num
        if start <= skip_lines:
            continue
        if not record:
            continue
        col = _glued_field(record, delimiter, width) if prev_end > start else None
        if col is not None:
            n_glued += 1
            if n_glued <= ISSUES_PER_KIND:
                glued.append(Issue(Level.ERROR, "unbalanced_quote",
                                   f"a quote opened on this line runs to line {prev_end} and swallows lines that look like rows "
                                   f"(hint: a stray or unterminated {quotechar} in the value; remove it or close it)",
                                   source=display, location=f"{display}:{start}", column=headers[min(col, width - 1)],
                                   value=record[col][:EXCERPT]))
        if len(record) != width:
            if col is None:
                n_ragged += 1
                if n_ragged <= ISSUES_PER_KIND:
                    ragged.append(Issue(Level.ERROR, "ragged_row",
                                        f"row has {len(record)} fields, the header has {width}; row not read "
                                        f"(hint: quote values that contain {delimiter!r}, or fix the export)",
                                        source=display, location=f"{display}:{start}", value=delimiter.join(record)[:EXCERPT]))
            continue
        starts.append(start)
    issues = glued + ragged
    for n, kind, what in ((n_glued, "unbalanced_quote", "records with a runaway quote"), (n_ragged, "ragged_row", "ragged rows not read")):
        if n > ISSUES_PER_KIND:
            issues.append(Issue(Level.ERROR, kind, f"{n - ISSUES_PER_KIND} more {what}", source=display, count=n - ISSUES_PER_KIND))
    return Structure(np.asarray(starts, dtype=np.int64), issues)


def _glued_field(record: list[str], delimiter: str, width: int) -> int | None:
    """The index of a field whose swallowed lines look like whole rows, if any."""
    need = max(width - 1, 1)
    for i, value in enumerate(record):
        if "\n" not in value:
            continue
        for line in value.split("\n")[1:]:
            if line.count(delimiter) >= need:
                return i
    return None
