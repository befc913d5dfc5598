"""Readers: delimited text (CSV/TSV/whitespace), Excel (xlsx/xls/ods) and stdin.

A reader returns a :class:`RawTable`: only the mapped columns, as raw values (text
for CSV; typed cells for Excel, so real date cells stay dates), plus the facts the
report needs (sha256, rows, encoding, delimiter, sheet) and a locator that turns a
row position into ``path:LINE`` (1-based physical line, header = line 1) or
``path Sheet!C17``. Readers never compute metrics.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmmetrics.errors import DataError, InputNotFoundError, Issue, Level, ReadError
from crmmetrics.io.detect import decode_text, detect_encoding, line_of_offset, sniff_delimiter

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls


@dataclass
class RawTable:
    """The mapped columns of one source, untyped, with where each row came from."""

    path: str
    kind: str
    columns: dict[str, Any]  # canonical field → pandas Series of raw values
    column_names: dict[str, str]  # canonical field → source column (for messages)
    n_rows: int
    sha256: str
    locate: Callable[[Any], list[str]]
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    issues: list[Issue] = field(default_factory=list)


def read_bytes(path: str, stdin: Any = None) -> bytes:
    """The bytes of ``path``; ``-`` reads stdin (refused when stdin is a terminal)."""
    if path == "-":
        stream = stdin if stdin is not None else sys.stdin
        if stream is None or (hasattr(stream, "isatty") and stream.isatty()):
            raise InputNotFoundError("'-' means stdin, but stdin is a terminal", hint="pipe the export in: crmmetrics ... < export.csv")
        return getattr(stream, "buffer", stream).read()
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"input file not found: {path}", hint="paths in the config are relative to the config file")
    if p.is_dir():
        raise InputNotFoundError(f"input is a directory, not a file: {path}")
    try:
        return p.read_bytes()
    except PermissionError:
        raise InputNotFoundError(f"input file is not readable: {path} (permission denied)") from None
    except OSError as exc:
        raise ReadError(f"reading {path} failed: {exc.strerror or exc}") from None


def is_excel(path: str, data: bytes, forced: str | None) -> bool:
    """Excel by forced format, file suffix, or magic bytes (stdin has no suffix)."""
    if forced:
        return forced == "xlsx"
    if Path(path).suffix.lower() in EXCEL_SUFFIXES:
        return True
    return data[:4] in (ZIP_MAGIC, OLE_MAGIC)


def read_source(path: str, display: str, source: Any, wanted: dict[str, str | int], stdin: Any = None) -> RawTable:
    """Read the ``wanted`` columns (canonical field → column name or 1-based position)."""
    data = read_bytes(path, stdin)
    digest = hashlib.sha256(data).hexdigest()
    if is_excel(path, data, source.format):
        return _read_excel(display, data, source, wanted, digest)
    return _read_text(display, data, source, wanted, digest)


# ---------------------------------------------------------------- delimited text


def _read_text(display: str, data: bytes, source: Any, wanted: dict[str, str | int], digest: str) -> RawTable:
    opts = source.csv
    pinned = opts.encoding is not None
    encoding = opts.encoding or detect_encoding(data)
    try:
        text, repaired, first_bad = decode_text(data, encoding, pinned)
    except LookupError:
        raise DataError(f"{display}: unknown encoding {encoding!r}", hint="use utf-8, utf-8-sig, utf-16, cp1254, cp1252 or latin-1") from None
    except UnicodeDecodeError as exc:
        line = line_of_offset(data, exc.start)
        raise DataError(
            f"{display}:{line}: bytes {data[exc.start:exc.start + 4]!r} at byte {exc.start} are not valid {encoding}",
            hint="set csv.encoding in the config (cp1254 for Turkish Windows exports, latin-1, utf-16)",
        ) from None
    issues: list[Issue] = []
    if repaired:
        line = line_of_offset(data, first_bad or 0)
        issues.append(Issue(Level.WARNING, "mixed_encoding", f"{repaired} bytes are not UTF-8 and were read as cp1252", source=display,
                            location=f"{display}:{line}", count=1, extra={"bytes": repaired}))
    if not text.strip():
        raise DataError(f"{display}: the file is empty", hint="export again, or check the path")
    whitespace = opts.delimiter == "whitespace"
    delimiter = opts.delimiter or sniff_delimiter(text, opts.quotechar)
    if delimiter in ("\\t", "tab"):
        delimiter = "\t"
    first_line_end = text.find("\n")
    if whitespace:
        headers = text[: first_line_end if first_line_end >= 0 else None].split()
    else:
        headers = next(csv.reader(io.StringIO(text[: first_line_end if first_line_end >= 0 else None] + "\n"), delimiter=delimiter, quotechar=opts.quotechar), [])
    if not opts.header:
        headers = [str(i + 1) for i in range(len(headers))]
    resolved = _resolve_columns(display, headers, wanted, opts.header, delimiter if not whitespace else "whitespace")
    if whitespace:
        frame = _read_whitespace(text, headers, resolved, opts.header)
    else:
        # pyarrow wants UTF-8 bytes: reuse the file's own when they already are.
        utf8 = data if encoding in ("utf-8", "utf8") and not repaired else text.encode("utf-8")
        frame, skipped = _read_with_arrow(display, utf8, delimiter, opts, headers, resolved)
        issues.extend(skipped)
    n_rows = len(frame)
    columns = {f: frame[col] for f, col in resolved.items()}
    locate = _text_locator(display, text, delimiter if not whitespace else None, opts, len(headers))
    return RawTable(display, "csv", columns, {f: (c if opts.header else f"column {c}") for f, c in resolved.items()}, n_rows, digest,
                    locate, encoding=encoding, delimiter="whitespace" if whitespace else delimiter, issues=issues)


def _resolve_columns(display: str, headers: list[str], wanted: dict[str, str | int], has_header: bool, delimiter: str) -> dict[str, str]:
    """Map canonical fields to header names; a missing column is an error with hints."""
    out: dict[str, str] = {}
    stripped = {h.strip(): h for h in headers}
    for fname, col in wanted.items():
        if isinstance(col, int):
            if not 1 <= col <= len(headers):
                raise DataError(f"{display}: field {fname} maps to column position {col}, but the file has {len(headers)} columns")
            out[fname] = headers[col - 1]
            continue
        if col in headers:
            out[fname] = col
        elif col.strip() in stripped:
            out[fname] = stripped[col.strip()]  # stray spaces around a header name
        else:
            close = difflib.get_close_matches(col, headers, n=1, cutoff=0.5)
            folded = [h for h in headers if h.strip().casefold() == col.strip().casefold()]
            guess = folded[0] if folded else (close[0] if close else None)
            hint = f"closest match: {guess!r}" if guess else "check the column name and the delimiter"
            seen = [d for d in (";", ",", "\t", "|") if len(headers) == 1 and d in headers[0] and d != delimiter]
            if seen:
                hint = f"the header is one column holding {seen[0]!r}: set csv.delimiter to {seen[0]!r}"
            shown = ", ".join(repr(h) for h in headers[:40]) + (" ..." if len(headers) > 40 else "")
            raise DataError(
                f"{display}:1: column {col!r} (mapped to {fname}) not found; headers found ({len(headers)}, delimiter {delimiter!r}): {shown}",
                hint=hint,
            )
    dup = {c for c in set(out.values()) if headers.count(c) > 1}
    if dup:
        raise DataError(f"{display}:1: column {sorted(dup)[0]!r} appears more than once in the header", hint="rename one of them in the export")
    return out


def _read_with_arrow(display: str, utf8: bytes, delimiter: str, opts: Any, headers: list[str], resolved: dict[str, str]) -> tuple[pd.DataFrame, list[Issue]]:
    """Parse with pyarrow's multithreaded CSV reader; every column as text."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    ragged: list[Any] = []

    def on_invalid(row: Any) -> str:
        ragged.append(row)
        return "skip"

    names = sorted(set(resolved.values()), key=headers.index)
    # pyarrow needs unique column names; number them and select by position.
    gen_names = [f"c{i}" for i in range(len(headers))]
    include = [gen_names[headers.index(n)] for n in names]
    try:
        table = pacsv.read_csv(
            io.BytesIO(utf8),
            read_options=pacsv.ReadOptions(column_names=gen_names, skip_rows=1 if opts.header else 0, block_size=1 << 22),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=opts.quotechar, newlines_in_values=True, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(include_columns=include, column_types={c: pa.string() for c in include},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid as exc:
        raise DataError(f"{display}: cannot parse as delimited text ({str(exc).splitlines()[0]})", hint="check csv.delimiter and quoting") from None
    frame = table.to_pandas()
    frame.columns = names
    issues = []
    for row in ragged[:1000]:
        where = f"{display}:{row.number}" if row.number is not None else display
        issues.append(Issue(Level.ERROR, "ragged_row", f"row has {row.actual_columns} fields, the header has {row.expected_columns}; row skipped",
                            source=display, location=where, value=(row.text or "")[:80]))
    if len(ragged) > 1000:
        issues.append(Issue(Level.ERROR, "ragged_row", f"{len(ragged) - 1000} more ragged rows skipped", source=display, count=len(ragged) - 1000))
    return frame, issues


def _read_whitespace(text: str, headers: list[str], resolved: dict[str, str], has_header: bool) -> pd.DataFrame:
    """Whitespace-separated text (old order systems, CDNOW): runs of blanks split."""
    import pandas as pd

    positions = sorted({headers.index(c) for c in resolved.values()})
    frame = pd.read_csv(io.StringIO(text), sep=r"\s+", header=None, skiprows=1 if has_header else 0, usecols=positions,
                        dtype=str, keep_default_na=False, engine="c")
    frame.columns = [headers[p] for p in positions]
    return frame


def _text_locator(display: str, text: str, delimiter: str | None, opts: Any, width: int) -> Callable[[Any], list[str]]:
    """Row positions → ``path:LINE``. The line map is built once, on first use."""
    cache: list[Any] = []

    def build() -> Any:
        import numpy as np

        starts: list[int] = []
        if delimiter is None:
            lines = text.split("\n")
            first = 1 if opts.header else 0
            starts = [i + 1 for i in range(first, len(lines)) if lines[i].strip()]
        else:
            reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=opts.quotechar)
            prev_end = 0
            for idx, record in enumerate(reader):
                start = prev_end + 1
                prev_end = reader.line_num
                if idx == 0 and opts.header:
                    continue
                # pyarrow skips blank lines and (via the handler) ragged rows: so do we.
                if not record or len(record) != width:
                    continue
                starts.append(start)
        return np.asarray(starts, dtype=np.int64)

    def locate(rows: Any, field: str | None = None) -> list[str]:
        if not cache:
            cache.append(build())
        line_map = cache[0]
        out = []
        for r in rows:
            r = int(r)
            out.append(f"{display}:{line_map[r]}" if 0 <= r < len(line_map) else f"{display}: row {r + 1}")
        return out

    return locate


# ---------------------------------------------------------------- Excel


def _col_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _read_excel(display: str, data: bytes, source: Any, wanted: dict[str, str | int], digest: str) -> RawTable:
    """Read one sheet with python-calamine (Rust; fast), keeping typed cells."""
    import pandas as pd
    import python_calamine as pc

    try:
        wb = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises its own error types for corrupt files
        raise DataError(f"{display}: not a readable Excel workbook ({type(exc).__name__}: {str(exc)[:120]})",
                        hint="is it really .xlsx? a CSV saved with an .xlsx name needs format: csv") from None
    names = wb.sheet_names
    sheet = source.sheet
    if sheet is None:
        sheet_name = names[0]
    elif isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise DataError(f"{display}: sheet index {sheet} out of range; sheets: {names!r} (indexes from 0)")
        sheet_name = names[sheet]
    elif sheet in names:
        sheet_name = sheet
    else:
        close = difflib.get_close_matches(sheet, names, n=1, cutoff=0.5)
        raise DataError(f"{display}: no sheet {sheet!r}; sheets found: {names!r}", hint=f"closest match: {close[0]!r}" if close else "set sheet: to a name or 0-based index")
    ws = wb.get_sheet_by_name(sheet_name)
    rows = ws.to_python(skip_empty_area=False)
    # Trailing empty rows (sheets whose stated dimension is too large) are not data.
    while rows and all(v in ("", None) for v in rows[-1]):
        rows.pop()
    if not rows:
        raise DataError(f"{display}: sheet {sheet_name!r} is empty")
    header_row = rows[0]
    if source.csv.header:
        headers = [str(h).strip() if h is not None else "" for h in header_row]
        body = rows[1:]
    else:
        headers = [str(i + 1) for i in range(len(header_row))]
        body = rows
    resolved = _resolve_columns(f"{display} {sheet_name}!", headers, wanted, source.csv.header, "xlsx")
    # Fully blank rows inside a sheet are spacing, not records (the CSV reader skips blank
    # lines too); ``kept`` maps a data row back to its sheet row for locations.
    kept = [i for i, r in enumerate(body) if any(v not in ("", None) for v in r)]
    columns: dict[str, Any] = {}
    col_letters: dict[str, str] = {}
    for fname, col in resolved.items():
        idx = headers.index(col)
        columns[fname] = pd.Series([body[i][idx] if idx < len(body[i]) else None for i in kept], dtype=object)
        col_letters[fname] = _col_letter(idx)
    first_data_row = 1 + (1 if source.csv.header else 0)  # Excel rows are 1-based

    def locate(rows_: Any, field: str | None = None) -> list[str]:
        letter = col_letters.get(field or "", "A") if field else "A"
        return [f"{display} {sheet_name}!{letter}{first_data_row + kept[int(r)]}" for r in rows_]

    return RawTable(display, "xlsx", columns, dict(resolved), len(kept), digest, locate, sheet=sheet_name)
