"""The header of an export (CSV, Excel or JSON) without reading its rows: what preset
resolution and `init` match column names against."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

HEAD_BYTES = 1 << 16


def read_headers(path: Path, source: dict[str, Any] | None = None) -> list[str]:
    """Column names of ``path``: the first row of a CSV or sheet, the dotted keys of JSON."""
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    return headers_of(str(path), head, source, whole=path.read_bytes)


def headers_of(name: str, head: bytes, source: dict[str, Any] | None = None, whole: Any = None) -> list[str]:
    """Column names from an export's first bytes ``head`` (all of it for stdin, where
    ``whole`` is None); JSON and workbooks need the whole export, got from ``whole()``."""
    from crmmetrics.io.detect import decode_text, detect_encoding, sniff_delimiter
    from crmmetrics.io.json_reader import looks_like_json, parse_records, record_keys
    from crmmetrics.io.readers import is_excel

    from crmmetrics.io.limits import compression_of, decompress

    source = source or {}
    forced = source.get("format")
    if kind := compression_of(head):  # a .gz/.bz2/.xz export, read transparently like the reader does
        head = decompress(name, whole() if whole is not None else head, kind)
        whole = None
    data = whole if whole is not None else (lambda: head)
    if looks_like_json(name, head[:64], forced):
        records, _ = parse_records(name, data())
        return record_keys(records)
    if is_excel(name, head, forced):
        import python_calamine as pc

        wb = pc.CalamineWorkbook.from_filelike(io.BytesIO(data()))
        sheet = source.get("sheet")
        sheet_name = wb.sheet_names[sheet] if isinstance(sheet, int) and sheet < len(wb.sheet_names) else (
            sheet if sheet in wb.sheet_names else wb.sheet_names[0])
        rows = wb.get_sheet_by_name(sheet_name).to_python(nrows=1)
        return [str(h).strip() if h is not None else "" for h in (rows[0] if rows else [])]
    head = head[:HEAD_BYTES]
    opts = source.get("csv") or {}
    encoding = opts.get("encoding") or detect_encoding(head)
    text, _, _ = decode_text(head, encoding, pinned=False)
    delimiter = opts.get("delimiter") or sniff_delimiter(text)
    if delimiter in ("\\t", "tab"):
        delimiter = "\t"
    if delimiter == "whitespace":
        return text.split("\n", 1)[0].split()
    return next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
