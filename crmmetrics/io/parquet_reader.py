"""Parquet sources: one file, or a folder of part files (a glob is expanded by
:mod:`crmmetrics.dataset` into one source per file, like CSV globs).

Only the mapped columns are read (column projection: a wide warehouse export costs
what its mapped columns cost). Columns keep their Parquet types: timestamps arrive
as datetime64 (tz-aware ones are converted to the reporting zone, naive ones are
read in the source's zone, exactly like naive text), numbers as numbers, text as
text; :mod:`crmmetrics.io.parse` takes them on its typed fast paths, so there is no
text round trip and the numbers equal the CSV of the same data. Locations are
``path: row N`` (1-based data row), or ``folder/part.parquet: row N`` in a folder.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from crmmetrics.errors import DataError, InputNotFoundError

PARQUET_SUFFIXES = {".parquet", ".parq", ".pq"}
PARQUET_MAGIC = b"PAR1"


def is_parquet(path: str, forced: str | None) -> bool:
    """Parquet by forced format, by suffix, a folder of part files, or the PAR1 magic."""
    if forced:
        return forced == "parquet"
    if path == "-":
        return False  # stdin needs format: parquet (a pipe cannot be sniffed without reading it)
    p = Path(path)
    if p.suffix.lower() in PARQUET_SUFFIXES:
        return True
    if p.is_dir():
        return bool(part_files(p))
    try:
        with p.open("rb") as fh:
            return fh.read(4) == PARQUET_MAGIC
    except OSError:
        return False  # the ordinary reader reports the missing or unreadable file


def part_files(folder: Path) -> list[Path]:
    """The Parquet files under ``folder`` (recursively: hive-style ``year=2025/`` folders),
    in name order; ``_SUCCESS``, ``_metadata`` and dot files are not data."""
    return sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in PARQUET_SUFFIXES
                  and not any(part.startswith(("_", ".")) for part in f.relative_to(folder).parts))


def read_parquet(path: str, display: str, wanted: dict[str, str | int], stdin: Any = None) -> Any:
    """Read the ``wanted`` columns (canonical field → column name or 1-based position)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from crmmetrics.io.readers import RawTable, _resolve_columns, read_bytes

    if path == "-":
        data = read_bytes(path, stdin)
        files: list[Any] = [pa.BufferReader(data)]
        labels = [display]
        digest = hashlib.sha256(data).hexdigest()
    else:
        p = Path(path)
        if not p.exists():
            raise InputNotFoundError(f"input file not found: {path}", hint="paths in the config are relative to the config file")
        files = part_files(p) if p.is_dir() else [p]
        if not files:
            raise DataError(f"{display}: the folder holds no .parquet files", hint="point path: at the folder of part files, or use a glob")
        labels = [display if f == p else f"{display}/{f.relative_to(p)}" for f in files]
        digest = _digest(files)
    try:
        schema = pq.read_schema(files[0])
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{labels[0]}: not a readable Parquet file ({str(exc).splitlines()[0][:160]})",
                        hint="is it really Parquet? set format: csv for text saved under a .parquet name") from None
    headers = list(schema.names)
    resolved = _resolve_columns(display, headers, wanted, True, "parquet")
    names = sorted(set(resolved.values()), key=headers.index)
    tables, counts = [], []
    for f, label in zip(files, labels):
        if isinstance(f, pa.BufferReader):
            f = io.BytesIO(data)
        try:
            table = pq.read_table(f, columns=names)  # projection: only the mapped columns leave the file
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{label}: cannot read the mapped columns ({str(exc).splitlines()[0][:160]})",
                            hint="every part file of a folder needs the mapped columns") from None
        tables.append(_plain_types(table))
        counts.append(table.num_rows)
    try:
        table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    except pa.ArrowException as exc:
        raise DataError(f"{display}: the part files disagree on column types ({str(exc).splitlines()[0][:160]})",
                        hint="export every part with the same schema") from None
    frame = table.to_pandas(date_as_object=False)
    columns = {fname: frame[col] for fname, col in resolved.items()}
    return RawTable(display, "parquet", columns, dict(resolved), table.num_rows, digest, _locator(labels, counts))


def _plain_types(table: Any) -> Any:
    """Dictionary columns as their values and decimals as float64: what the parse layer types."""
    import pyarrow as pa

    for i, f in enumerate(table.schema):
        t = f.type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_decimal(t):
            t = pa.float64()
        if t != f.type:
            table = table.set_column(i, f.name, table.column(i).cast(t))
    return table


def _digest(files: list[Path]) -> str:
    """sha256 of the file, or of the part files' digests in order for a folder."""
    sums = []
    for f in files:
        h = hashlib.sha256()
        with f.open("rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
        sums.append(h.hexdigest())
    if len(sums) == 1:
        return sums[0]
    return hashlib.sha256("".join(sums).encode()).hexdigest()


def _locator(labels: list[str], counts: list[int]) -> Any:
    """Row positions → ``part: row N`` (1-based data row inside that part file)."""
    import numpy as np

    ends = np.cumsum(counts)

    def locate(rows: Any, field: str | None = None) -> list[str]:
        out = []
        for r in rows:
            r = int(r)
            k = int(np.searchsorted(ends, r, side="right"))
            if k >= len(labels):
                out.append(f"{labels[-1]}: row {r + 1}")
                continue
            start = int(ends[k - 1]) if k else 0
            out.append(f"{labels[k]}: row {r - start + 1}")
        return out

    return locate
