"""Readers: delimited text (CSV/TSV/whitespace), Excel (xlsx/xls/ods) and stdin.

A reader returns a :class:`RawTable`: only the mapped columns, as raw values (text
for CSV; typed cells for Excel, so real date cells stay dates), plus the facts the
report needs (sha256, rows, encoding, delimiter, sheet) and a locator that turns a
row position into ``path:LINE`` (1-based physical line, header = line 1) or
``path Sheet!C17``. Readers never compute metrics.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmmetrics import startup
from crmmetrics.errors import DataError, InputNotFoundError, Issue, Level, ReadError
from crmmetrics.io.detect import SAMPLE_BYTES, decode_text, detect_encoding, encoding_guess, line_of_offset, sniff_delimiter
from crmmetrics.io.header_rows import extra_header_rows
from crmmetrics.io.header_rows import header_lines as count_header_lines
from crmmetrics.io.limits import ZIP_MAGIC, compression_of, decompress
from crmmetrics.io.lazytext import LazyText, utf8_as_is
from crmmetrics.io.structure import header_record, nonblank_lines, normalise_newlines, walk_records
from crmmetrics.io.workbook import inspect as inspect_workbook
from crmmetrics.threads import Background

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
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
    skipped: Any = None  # parquet_reader.Skipped: the rows a date range push-down left unread


class ReplayStdin:
    """stdin read once and replayed: a run that computes more than once (``check`` per
    ``by:`` group and freshness, ``compute`` with goals) must see the same piped export
    every time, not an empty stream the second time."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._data: bytes | None = None

    def isatty(self) -> bool:
        return bool(self._stream is not None and hasattr(self._stream, "isatty") and self._stream.isatty())

    def read(self) -> bytes:
        if self._data is None:
            self._data = getattr(self._stream, "buffer", self._stream).read()
        return self._data


def read_bytes(path: str, stdin: Any = None) -> bytes:
    """The bytes of ``path``; ``-`` reads stdin (refused when stdin is a terminal)."""
    startup.resume()  # input from here on: the garbage collector runs again
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
        return _read_reporting(p)
    except PermissionError:
        raise InputNotFoundError(f"input file is not readable: {path} (permission denied)") from None
    except OSError as exc:
        raise ReadError(f"reading {path} failed: {exc.strerror or exc}") from None


def _read_reporting(p: Path, chunk: int = 1 << 20) -> bytes:
    """The file's bytes; read in 1 MiB chunks when a progress display counts them."""
    from crmmetrics.progress import current

    sink = current()
    if not sink.active:
        return p.read_bytes()
    parts = []
    with p.open("rb") as fh:
        while block := fh.read(chunk):
            parts.append(block)
            sink.source_bytes(len(block))
    return b"".join(parts)


def is_excel(path: str, data: bytes, forced: str | None) -> bool:
    """Excel by forced format, file suffix, or magic bytes (stdin has no suffix)."""
    if forced:
        return forced == "xlsx"
    if Path(path).suffix.lower() in EXCEL_SUFFIXES:
        return True
    if data.startswith(ZIP_MAGIC):
        return _zip_is_workbook(data)  # a workbook saved under another name, not any zip
    return data.startswith(OLE_MAGIC)


def _zip_is_workbook(data: bytes) -> bool:
    import zipfile

    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())  # the central directory only
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    return "xl/workbook.xml" in names or "xl/workbook.bin" in names or "content.xml" in names


def read_source(path: str, display: str, source: Any, wanted: dict[str, str | int], stdin: Any = None,
                window: Any = None) -> RawTable:
    """Read the ``wanted`` columns (canonical field → column name or 1-based position).

    ``window`` (a :class:`crmmetrics.pushdown.Window`) is pushed down into Parquet
    reads; every other format is read whole (their dates are text until parsed)."""
    startup.resume()  # input from here on: the garbage collector runs again
    from crmmetrics.io.parquet_reader import is_parquet, read_parquet

    if is_parquet(path, source.format):  # before reading bytes: a folder of part files is one source
        return read_parquet(path, display, wanted, stdin, window)
    before = _file_state(path)
    data = read_bytes(path, stdin)
    # Of the file as it is on disk. hashlib drops the GIL while it hashes, so the digest
    # is computed on a second core while this thread checks the text and finds the lines.
    digest = Background(_sha256, data)
    from crmmetrics.io.json_reader import looks_like_json, read_json

    if looks_like_json(path, data, source.format):
        return read_json(display, data, wanted, digest.result())
    if is_excel(path, data, source.format):
        return _read_excel(display, data, source, wanted, digest.result())
    text_bytes = unpack_text(display, data)
    on_disk = (path, before) if before is not None and text_bytes is data else None
    # Handed over in a box so that this frame holds no reference: the text reader can
    # then free the bytes before pyarrow parses the file (as large as the file, at the peak).
    box = [text_bytes]
    del data, text_bytes
    return _read_text(display, box, source, wanted, digest, on_disk)


def _sha256(data: bytes) -> str:
    """The hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _file_state(path: str) -> tuple[int, int] | None:
    """(size, mtime in ns) of a regular file, to tell whether it changed while being read; None for stdin."""
    if path == "-":
        return None
    try:
        st = Path(path).stat()
    except OSError:
        return None  # read_bytes says what is wrong
    return (st.st_size, st.st_mtime_ns) if Path(path).is_file() else None


def unpack_text(display: str, data: bytes) -> bytes:
    """gzip/bz2/xz files are read transparently (within the caps); archives are refused."""
    kind = compression_of(data)
    if kind:
        return decompress(display, data, kind)
    if data.startswith(ZIP_MAGIC):
        raise DataError(f"{display}: is a zip archive, not delimited text",
                        hint="unzip it first; a workbook needs format: xlsx (or an .xlsx name)")
    if data.startswith(OLE_MAGIC):
        raise DataError(f"{display}: is an OLE container (legacy .xls or an encrypted workbook), not delimited text",
                        hint="use format: xlsx for a legacy .xls; save an encrypted workbook without a password")
    return data


# ---------------------------------------------------------------- delimited text


def _read_text(display: str, box: list[bytes], source: Any, wanted: dict[str, str | int], digest: Background,
               on_disk: tuple[str, tuple[int, int]] | None = None) -> RawTable:
    """Delimited text from the bytes in ``box`` (taken out of it); ``on_disk`` is the plain
    file they came from, with its size and mtime, which pyarrow may read instead.
    ``digest`` is the SHA-256 of the bytes, being computed on another thread."""
    data = box.pop()
    opts = source.csv
    pinned = opts.encoding is not None
    encoding = opts.encoding or detect_encoding(data)
    whitespace = opts.delimiter == "whitespace"
    issues: list[Issue] = []
    # UTF-8 bytes that need no repair and no newline normalisation go to pyarrow as they
    # are, and the text is decoded only as far as the header and delimiter need: the
    # whole decoded file (as large as the bytes, up to 4× for non-Latin text) is built
    # only when the structure check must walk the records.
    as_is = not whitespace and encoding in ("utf-8", "utf8") and utf8_as_is(data)
    if as_is:
        text = LazyText(data)
    else:
        text = LazyText.decoded(_decode(display, data, encoding, pinned, issues))
    if not pinned:
        guess = encoding_guess(data, encoding)
        if guess:
            issues.append(Issue(Level.WARNING, "encoding_guessed", f"{guess} (hint: set csv.encoding to be sure)", source=display,
                                location=display))
    if text.blank():
        raise DataError(f"{display}: the file is empty", hint="export again, or check the path")
    delimiter = opts.delimiter or sniff_delimiter(text.head(4 * SAMPLE_BYTES + 8), opts.quotechar)
    if delimiter in ("\\t", "tab"):
        delimiter = "\t"
    headers, header_lines = _header(text, source, delimiter, whitespace)
    resolved = _resolve_columns(display, headers, wanted, opts.header, delimiter if not whitespace else "whitespace")
    if whitespace:
        frame = _read_whitespace(text.full(), headers, resolved, opts.header)
        locate = _text_locator(display, text.full(), opts)
    else:
        utf8 = data if as_is else text.full().encode("utf-8")
        lines = nonblank_lines(utf8)
        full_text: Callable[[], str] = text.full
        parse_from: bytes | str = utf8
        if as_is and on_disk is not None:
            # The bytes are the file's own: pyarrow reads the file in blocks, and the
            # bytes (as large as the file) are freed before it starts. The record walk,
            # if the parse and the lines disagree, reads the file again.
            parse_from, full_text = on_disk[0], lambda: Path(on_disk[0]).read_bytes().decode("utf-8")
            digest.result()  # the hashing thread holds the bytes too: done before they are dropped
            del data, utf8, text
        frame, n_ragged = _read_with_arrow(display, parse_from, delimiter, opts, headers, resolved, header_lines)
        if isinstance(parse_from, str) and on_disk is not None and _file_state(parse_from) != on_disk[1]:
            raise ReadError(f"{display}: the file changed while it was being read", hint="read it again once the export has finished writing")
        starts, problems = _check_structure(display, full_text, lines, delimiter, opts.quotechar, header_lines, headers, len(frame),
                                            n_ragged)
        del parse_from
        issues.extend(problems)
        locate = _line_locator(display, starts, len(frame))
    n_rows = len(frame)
    columns = {f: frame[col] for f, col in resolved.items()}
    return RawTable(display, "csv", columns, {f: (c if opts.header else f"column {c}") for f, c in resolved.items()}, n_rows,
                    digest.result(), locate, encoding=encoding, delimiter="whitespace" if whitespace else delimiter, issues=issues)


def _header(text: LazyText, source: Any, delimiter: str, whitespace: bool) -> tuple[list[str], int]:
    """The column names and how many physical lines the header takes (0 without a header)."""
    opts = source.csv
    header_lines = 1
    if whitespace:
        full = text.full()
        first_line_end = full.find("\n")
        headers = full[: first_line_end if first_line_end >= 0 else None].split()
    else:
        headers, header_lines = text.from_head(lambda head: header_record(head, delimiter, opts.quotechar))
        if extra_header_rows(source):
            records = 1 + extra_header_rows(source)
            header_lines = text.from_head(lambda head: (n := count_header_lines(head, delimiter, opts.quotechar, records), n))[0]
    if not opts.header:
        return [str(i + 1) for i in range(len(headers))], 0
    return headers, header_lines


def _decode(display: str, data: bytes, encoding: str, pinned: bool, issues: list[Issue]) -> str:
    """The whole file as text with LF line ends; a repaired UTF-8 file is reported in ``issues``."""
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
    if repaired:
        line = line_of_offset(data, first_bad or 0)
        issues.append(Issue(Level.WARNING, "mixed_encoding", f"{repaired} bytes are not UTF-8 and were read as cp1252", source=display,
                            location=f"{display}:{line}", count=1, extra={"bytes": repaired}))
    return normalise_newlines(text)  # old-Mac CR and mixed line endings read like LF


def _check_structure(display: str, text: Callable[[], str], lines: Any, delimiter: str, quotechar: str, header_lines: int,
                     headers: list[str], n_rows: int, n_ragged: int) -> tuple[Any, list[Issue]]:
    """Cross-check the parse against the physical lines; name the lines that went wrong.

    When every non-blank line became one row (the usual case) the line map is those
    lines and nothing else runs; otherwise one record walk finds ragged rows and runaway
    quotes with their line numbers (``lines``: :func:`nonblank_lines` of the file;
    ``text()`` gives the decoded file for that walk).
    """
    data_lines = lines[lines > header_lines]
    if not n_ragged and n_rows == len(data_lines):
        return data_lines, []
    walked = walk_records(display, text(), delimiter, quotechar, header_lines, headers)
    issues = walked.issues
    if n_ragged and not issues:
        issues.append(Issue(Level.ERROR, "ragged_row", f"{n_ragged} rows do not have {len(headers)} fields; not read", source=display,
                            location=display, count=n_ragged))
    return walked.starts, issues


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


def _read_with_arrow(display: str, utf8: bytes | str, delimiter: str, opts: Any, headers: list[str], resolved: dict[str, str],
                     header_lines: int) -> tuple[pd.DataFrame, int]:
    """Parse with pyarrow's multithreaded CSV reader; every column as text.

    ``utf8`` is the UTF-8 text as bytes, or the path of a plain file holding exactly
    those bytes (opened without compression guessing from its name).

    Returns the frame and how many ragged rows pyarrow skipped (the structure check
    names their lines: pyarrow cannot with quoted newlines allowed).
    """
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
    # 1 MB blocks: each of pyarrow's threads holds a block's parse buffers and column
    # builders; 4 MB blocks peaked 70 MB higher on 1M deals (6 columns) for the same CPU.
    block = 1 << 20
    size = Path(utf8).stat().st_size if isinstance(utf8, str) else len(utf8)
    while True:
        ragged.clear()
        try:
            with _arrow_input(utf8) as stream:
                table = pacsv.read_csv(
                    stream,
                    read_options=pacsv.ReadOptions(column_names=gen_names, skip_rows=header_lines, block_size=block),
                    parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=opts.quotechar, newlines_in_values=True,
                                                     invalid_row_handler=on_invalid),
                    convert_options=pacsv.ConvertOptions(include_columns=include, column_types={c: pa.large_string() for c in include},
                                                         strings_can_be_null=False, quoted_strings_can_be_null=False),
                )
            break
        except pa.ArrowInvalid as exc:
            # A record longer than a block (a huge free-text cell): retry with bigger blocks.
            if "straddl" in str(exc) and block < size:
                block = min(block * 8, size + 1)
                continue
            raise DataError(f"{display}: cannot parse as delimited text ({str(exc).splitlines()[0]})", hint="check csv.delimiter and quoting") from None
    # large_string is what pandas' str dtype stores: to_pandas then wraps the buffers
    # instead of copying every column (0.6 GB and a second per 10M rows of 8 columns).
    frame = table.to_pandas()
    del table
    frame.columns = names
    return frame, len(ragged)


def _arrow_input(source: bytes | str) -> Any:
    """A stream for pyarrow: the bytes, or the file (never a compression guessed from its name).

    pyarrow's own file wants a UTF-8 path; a name with undecodable bytes (kept by Python
    as surrogates) is opened by Python instead.
    """
    import pyarrow as pa

    if not isinstance(source, str):
        return io.BytesIO(source)
    try:
        source.encode("utf-8")
    except UnicodeEncodeError:
        return open(source, "rb")  # noqa: SIM115 (closed by the caller's with)
    return pa.OSFile(source, "r")


def _read_whitespace(text: str, headers: list[str], resolved: dict[str, str], has_header: bool) -> pd.DataFrame:
    """Whitespace-separated text (old order systems, CDNOW): runs of blanks split."""
    import pandas as pd

    positions = sorted({headers.index(c) for c in resolved.values()})
    frame = pd.read_csv(io.StringIO(text), sep=r"\s+", header=None, skiprows=1 if has_header else 0, usecols=positions,
                        dtype=str, keep_default_na=False, engine="c")
    frame.columns = [headers[p] for p in positions]
    return frame


def _text_locator(display: str, text: str, opts: Any) -> Callable[[Any], list[str]]:
    """Whitespace-separated text: row positions → ``path:LINE`` (non-blank lines)."""
    import numpy as np

    lines = text.split("\n")
    first = 1 if opts.header else 0
    starts = np.asarray([i + 1 for i in range(first, len(lines)) if lines[i].strip()], dtype=np.int64)
    return _line_locator(display, starts, len(starts))


def _line_locator(display: str, line_map: Any, n_rows: int) -> Callable[[Any], list[str]]:
    """Row positions → ``path:LINE`` from the first physical line of each row."""
    if len(line_map) != n_rows:  # the record walk and pyarrow disagreed: say the row, not a wrong line
        line_map = line_map[:0]

    def locate(rows: Any, field: str | None = None) -> list[str]:
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
    """Read one sheet with python-calamine (Rust; fast), keeping typed cells.

    :func:`crmmetrics.io.workbook.inspect` looks first: caps on size and used range,
    the first visible sheet, merged ranges and formula cells without values.
    """
    facts = inspect_workbook(display, data, source.sheet)
    wb = open_calamine(display, data)
    names = wb.sheet_names
    sheet = source.sheet
    if sheet is None:
        sheet_name = facts.name if facts and facts.name in names else names[0]
    elif isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise DataError(f"{display}: sheet index {sheet} out of range; sheets: {names!r} (indexes from 0)")
        sheet_name = names[sheet]
    elif sheet in names:
        sheet_name = sheet
    else:
        close = difflib.get_close_matches(sheet, names, n=1, cutoff=0.5)
        raise DataError(f"{display}: no sheet {sheet!r}; sheets found: {names!r}", hint=f"closest match: {close[0]!r}" if close else "set sheet: to a name or 0-based index")
    rows = read_sheet_rows(display, wb, sheet_name)
    issues = _fill_merged(display, sheet_name, rows, facts) if facts else []
    # Trailing empty rows (sheets whose stated dimension is too large) are not data.
    while rows and all(v in ("", None) for v in rows[-1]):
        rows.pop()
    if not rows:
        raise DataError(f"{display}: sheet {sheet_name!r} is empty")
    header_row = rows[0]
    if source.csv.header:
        headers = [str(h).strip() if h is not None else "" for h in header_row]
        body = rows[1 + extra_header_rows(source):]
    else:
        headers = [str(i + 1) for i in range(len(header_row))]
        body = rows
    resolved = _resolve_columns(f"{display} {sheet_name}!", headers, wanted, source.csv.header, "xlsx")
    first_data_row = 1 + (1 + extra_header_rows(source) if source.csv.header else 0)  # Excel rows are 1-based
    if facts:
        issues += _formula_cells(display, sheet_name, facts, {headers.index(c): c for c in resolved.values()}, body, first_data_row)
    # Fully blank rows inside a sheet are spacing, not records (the CSV reader skips blank
    # lines too); ``kept`` maps a data row back to its sheet row for locations.
    kept, columns, col_letters = _sheet_columns(body, headers, resolved)

    def locate(rows_: Any, field: str | None = None) -> list[str]:
        letter = col_letters.get(field or "", "A") if field else "A"
        return [f"{display} {sheet_name}!{letter}{first_data_row + kept[int(r)]}" for r in rows_]

    if facts and facts.hidden_skipped:
        issues.append(Issue(Level.INFO, "hidden_sheet_skipped", f"hidden sheet(s) {', '.join(repr(n) for n in facts.hidden_skipped)} "
                            f"skipped; read the first visible sheet {sheet_name!r} (set sheet: to read another)", source=display,
                            location=f"{display} {sheet_name}!A1"))
    return RawTable(display, "xlsx", columns, dict(resolved), len(kept), digest, locate, sheet=sheet_name, issues=issues)


def _sheet_columns(body: list[list[Any]], headers: list[str], resolved: dict[str, str]) -> tuple[list[int], dict[str, Any], dict[str, str]]:
    """(kept body rows, field → object Series of cells, field → column letter) of a sheet.

    A row whose every cell is "" or None is spacing, not a record (``list.count`` compares
    like ``in``); each column is one C-level ``itemgetter`` pass when every kept row
    reaches it (calamine's rows are as wide as the used range).
    """
    import pandas as pd

    # any(r): a truthy cell ends the test at once (blank cells are falsy); only rows of
    # falsy cells (0, False, "", None) are counted.
    kept = [i for i, r in enumerate(body) if any(r) or r.count("") + r.count(None) != len(r)]
    rows_kept = body if len(kept) == len(body) else [body[i] for i in kept]
    width = min(map(len, rows_kept), default=0)
    columns: dict[str, Any] = {}
    col_letters: dict[str, str] = {}
    for fname, col in resolved.items():
        idx = headers.index(col)
        cells = list(map(itemgetter(idx), rows_kept)) if idx < width else [r[idx] if idx < len(r) else None for r in rows_kept]
        columns[fname] = pd.Series(cells, dtype=object)
        col_letters[fname] = _col_letter(idx)
    return kept, columns, col_letters


def open_calamine(display: str, data: bytes) -> Any:
    """The calamine workbook; its errors (corrupt zip or XML) are data errors naming the file."""
    import python_calamine as pc

    try:
        return pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises its own error types for corrupt files
        raise DataError(f"{display}: not a readable Excel workbook ({type(exc).__name__}: {str(exc)[:120]})",
                        hint="is it really .xlsx? a CSV saved with an .xlsx name needs format: csv") from None


def read_sheet_rows(display: str, wb: Any, sheet_name: str, nrows: int | None = None) -> list[list[Any]]:
    """All cells of a sheet from A1 (blank area kept, so positions are cell references)."""
    try:
        ws = wb.get_sheet_by_name(sheet_name)
        return ws.to_python(skip_empty_area=False) if nrows is None else ws.to_python(skip_empty_area=False, nrows=nrows)
    except Exception as exc:  # malformed sheet XML, bad shared strings, ...
        raise DataError(f"{display} sheet {sheet_name!r}: cannot read the sheet ({type(exc).__name__}: {str(exc)[:120]})",
                        hint="open and save it again in Excel, or export the sheet as CSV") from None


def _fill_merged(display: str, sheet_name: str, rows: list[list[Any]], facts: Any) -> list[Issue]:
    """Merged ranges hold their value in the top-left cell only: copy it into the range (and say so)."""
    from crmmetrics.io.workbook import split_ref

    filled = 0
    for a, b in facts.merged:
        c0, r0 = split_ref(a)
        c1, r1 = split_ref(b)
        if not (1 <= r0 <= len(rows)) or c0 >= len(rows[r0 - 1]):
            continue
        value = rows[r0 - 1][c0]
        for r in range(r0, min(r1, len(rows)) + 1):  # clipped to the cells that exist
            row = rows[r - 1]
            for c in range(c0, min(c1, len(row) - 1) + 1):
                row[c] = value
        filled += 1
    if not filled:
        return []
    first = f"{facts.merged[0][0]}:{facts.merged[0][1]}"
    return [Issue(Level.INFO, "merged_cells", f"{filled} merged range(s) filled with their top-left value (first {first})",
                  source=display, location=f"{display} {sheet_name}!{facts.merged[0][0]}", count=filled)]


def _formula_cells(display: str, sheet_name: str, facts: Any, mapped: dict[int, str], body: list[list[Any]],
                   first_data_row: int) -> list[Issue]:
    """Formula cells in mapped columns that carry no value (never calculated) or an error
    value (#DIV/0!): warnings naming the cell, so --strict fails; the cell reads as blank."""
    from crmmetrics.io.workbook import split_ref

    issues = []
    for ref, value, code, message in ([(r, None, "formula_no_value", "formula cell has no saved value (the workbook was never "
                                        "calculated); read as blank (hint: open and save it in Excel, or export values)")
                                       for r in facts.no_value]
                                      + [(r, v, "formula_error", f"formula error {v} in the cell; read as blank (hint: fix the "
                                          "formula in the workbook)") for r, v in facts.errors]):
        col, row = split_ref(ref)
        if col not in mapped or row < first_data_row:
            continue
        i = row - first_data_row
        if 0 <= i < len(body) and col < len(body[i]):
            body[i][col] = None  # an error text such as "#DIV/0!" is not data
        issues.append(Issue(Level.WARNING, code, message, source=display, location=f"{display} {sheet_name}!{ref}",
                            column=mapped[col], value=value))
    return issues


