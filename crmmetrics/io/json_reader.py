"""JSON and NDJSON sources: an array of objects, one object per line, or an API page
(``{"ticket_metrics": [...], "next_page": ...}``) whose list of objects is the data.

Nested objects are flattened to dotted paths (``reply_time_in_minutes.business``), so
a config maps a nested field like any column. Values keep their JSON types (numbers
stay numbers, ``true`` stays a bool) and are parsed as the field's declared type like
Excel cells. Locations are ``path:LINE`` for NDJSON and ``path: record N`` for arrays.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from crmmetrics.errors import DataError

JSON_SUFFIXES = {".json", ".ndjson", ".jsonl"}
HEADER_SAMPLE = 1000  # records whose keys make up the "header" shown in messages


def looks_like_json(path: str, data: bytes, forced: str | None) -> bool:
    """JSON by forced format, by suffix, or (stdin, unknown suffix) by the first byte."""
    if forced:
        return forced in ("json", "ndjson")
    suffix = Path(path).suffix.lower()
    if suffix in JSON_SUFFIXES:
        return True
    if path != "-" and suffix:
        return False
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1] in (b"[", b"{")


def flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}, "c": [1, 2]}`` → ``{"a.b": 1, "c": "[1, 2]"}`` (lists as JSON text)."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, list):
            out[name] = json.dumps(value, ensure_ascii=False)
        else:
            out[name] = value
    return out


def _page_records(obj: dict[str, Any]) -> list[Any] | None:
    """The list of objects inside an API response page, if it has exactly one."""
    lists = [v for v in obj.values() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
    return lists[0] if len(lists) == 1 else None


def parse_records(display: str, data: bytes) -> tuple[list[dict[str, Any]], list[int] | None]:
    """Flattened records, and for NDJSON the 1-based line of each (None for arrays)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{display}: JSON must be UTF-8; bytes at offset {exc.start} are not", hint="re-export as UTF-8") from None
    stripped = text.lstrip()
    if not stripped:
        raise DataError(f"{display}: the file is empty", hint="export again, or check the path")
    try:
        whole = json.loads(text)
    except json.JSONDecodeError as exc:
        if stripped.startswith("{") and exc.msg == "Extra data":
            return _ndjson(display, text)
        raise DataError(f"{display}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})",
                        hint="arrays of objects and one object per line (NDJSON) are read") from None
    if isinstance(whole, dict):
        records = _page_records(whole)
        whole = records if records is not None else [whole]
    if not isinstance(whole, list):
        raise DataError(f"{display}: JSON holds a {type(whole).__name__}, not objects", hint="expected an array of objects or one object per line")
    out = []
    for i, rec in enumerate(whole):
        if not isinstance(rec, dict):
            raise DataError(f"{display}: record {i + 1} is a {type(rec).__name__}, not an object")
        out.append(flatten(rec))
    return out, None


def _ndjson(display: str, text: str) -> tuple[list[dict[str, Any]], list[int]]:
    records, lines = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{display}:{n}: not valid JSON: {exc.msg} (column {exc.colno})", hint="NDJSON needs one complete object per line") from None
        if not isinstance(rec, dict):
            raise DataError(f"{display}:{n}: line holds a {type(rec).__name__}, not an object")
        records.append(flatten(rec))
        lines.append(n)
    return records, lines


def record_keys(records: list[dict[str, Any]]) -> list[str]:
    """Every dotted key of the first records, in first-seen order (the "header")."""
    return list(dict.fromkeys(k for rec in records[:HEADER_SAMPLE] for k in rec))


def read_json(display: str, data: bytes, wanted: dict[str, str | int], digest: str) -> Any:
    """A RawTable of the ``wanted`` dotted paths; a path no record has is an error with a hint."""
    import pandas as pd

    from crmmetrics.io.readers import RawTable

    records, lines = parse_records(display, data)
    keys = record_keys(records)
    all_keys = set(keys) | {k for rec in records[HEADER_SAMPLE:] for k in rec} if len(records) > HEADER_SAMPLE else set(keys)
    folded = {k.casefold(): k for k in all_keys}
    columns: dict[str, Any] = {}
    names: dict[str, str] = {}
    for fname, path in wanted.items():
        key = str(path)
        if key not in all_keys:
            if key.casefold() in folded:
                key = folded[key.casefold()]
            else:
                close = difflib.get_close_matches(key, keys, n=1, cutoff=0.5)
                shown = ", ".join(repr(k) for k in keys[:40]) + (" ..." if len(keys) > 40 else "")
                raise DataError(f"{display}: key {path!r} (mapped to {fname}) is in no record; keys found: {shown}",
                                hint=f"closest match: {close[0]!r}" if close else "nested fields are written as dotted paths, e.g. a.b")
        columns[fname] = pd.Series([rec.get(key) for rec in records], dtype=object)
        names[fname] = key

    def locate(rows: Any, field: str | None = None) -> list[str]:
        if lines is not None:
            return [f"{display}:{lines[int(r)]}" for r in rows]
        return [f"{display}: record {int(r) + 1}" for r in rows]

    return RawTable(display, "json" if lines is None else "ndjson", columns, names, len(records), digest, locate, encoding="utf-8")
