"""Parquet sources: one file, or a folder of part files (a glob is expanded by
:mod:`crmmetrics.dataset` into one source per file, like CSV globs).

Only the mapped columns are read (column projection: a wide warehouse export costs
what its mapped columns cost). Columns keep their Parquet types: timestamps arrive
as datetime64 (tz-aware ones are converted to the reporting zone, naive ones are
read in the source's zone, exactly like naive text), numbers as numbers, text as
text; :mod:`crmmetrics.io.parse` takes them on its typed fast paths, so there is no
text round trip and the numbers equal the CSV of the same data. Locations are
``path: row N`` (1-based data row), or ``folder/part.parquet: row N`` in a folder.

Date range push-down (:mod:`crmmetrics.pushdown`): given a window on a date column
stored as a timestamp, row groups whose statistics put them wholly outside it are not
read, and the rows of the others are kept only when inside it (or without a readable
date), decided on the date column alone with the parse layer's own time zone rules
before the other columns are read. Locations stay those of the file (the kept rows'
positions are remembered). A date column stored as text is never pushed down: only
crmmetrics' parse rules may read it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmmetrics.errors import DataError, InputNotFoundError

if TYPE_CHECKING:
    from crmmetrics.pushdown import Window

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


@dataclass
class Skipped:
    """Rows a push-down left unread: how many, how many of them after the as-of instant,
    and the earliest date among the others that is before it (the grid's first date)."""

    rows: int = 0
    later: int = 0
    first: Any = None  # numpy datetime64 (naive, reporting zone) or None

    def add(self, other: Skipped) -> None:
        self.rows += other.rows
        self.later += other.later
        if other.first is not None and (self.first is None or other.first < self.first):
            self.first = other.first


def read_parquet(path: str, display: str, wanted: dict[str, str | int], stdin: Any = None, window: Window | None = None) -> Any:
    """Read the ``wanted`` columns (canonical field → column name or 1-based position);
    with ``window``, only the rows inside it when its date column is a timestamp."""
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
    date_col = resolved.get(window.field) if window is not None else None
    tables, counts, positions, skipped = [], [], [], Skipped()
    for f, label in zip(files, labels):
        if isinstance(f, pa.BufferReader):
            f = io.BytesIO(data)
        try:
            if date_col is not None and window is not None:
                table, kept, skip = _read_window(f, names, date_col, window)
                skipped.add(skip)
            else:
                table, kept = pq.read_table(f, columns=names), None  # projection: only the mapped columns leave the file
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{label}: cannot read the mapped columns ({str(exc).splitlines()[0][:160]})",
                            hint="every part file of a folder needs the mapped columns") from None
        tables.append(_plain_types(table))
        counts.append(table.num_rows)
        positions.append(kept)
    try:
        table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    except pa.ArrowException as exc:
        raise DataError(f"{display}: the part files disagree on column types ({str(exc).splitlines()[0][:160]})",
                        hint="export every part with the same schema") from None
    frame = table.to_pandas(date_as_object=False)
    columns = {fname: frame[col] for fname, col in resolved.items()}
    raw = RawTable(display, "parquet", columns, dict(resolved), table.num_rows, digest, _locator(labels, counts, positions))
    raw.skipped = skipped if date_col is not None else None
    return raw


def _read_window(f: Any, names: list[str], date_col: str, window: Window) -> tuple[Any, Any, Skipped]:
    """One file's rows inside ``window``: (table, their 0-based positions in the file, what was skipped).

    A file whose date column is not a timestamp is read whole (positions None)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(f)
    if not pa.types.is_timestamp(pf.schema_arrow.field(date_col).type):
        return pf.read(columns=names), None, Skipped()
    kind = pf.schema_arrow.field(date_col).type
    md = pf.metadata
    leaf = next((j for j in range(md.num_columns) if md.row_group(0).column(j).path_in_schema == date_col), None) if md.num_row_groups else None
    lo, hi = np.datetime64(window.since, "ns") if window.since else None, np.datetime64(window.upper, "ns")
    horizon = np.datetime64(window.horizon, "ns")
    pieces, kept, skip, offset = [], [], Skipped(), 0
    for i in range(md.num_row_groups):
        n = md.row_group(i).num_rows
        whole = _by_statistics(md.row_group(i).column(leaf).statistics if leaf is not None else None, kind, window)
        if whole is not None:  # every row of the group on one side of the range: not read at all
            skip.add(Skipped(n, n if whole == "later" else 0))
        else:
            local = window.local(pf.read_row_group(i, columns=[date_col]).column(0))
            dated = ~np.isnat(local)
            inside = dated & (local < hi) & ((local >= lo) if lo is not None else True)
            keep = ~dated | inside
            out = dated & ~inside
            below = out & (local < horizon)
            skip.add(Skipped(int(out.sum()), int((out & (local >= horizon)).sum()), local[below].min() if below.any() else None))
            if keep.any():
                group = pf.read_row_group(i, columns=names)
                pieces.append(group if keep.all() else group.filter(pa.array(keep)))
                kept.append(offset + np.flatnonzero(keep))
        offset += n
    schema = pf.schema_arrow
    table = pa.concat_tables(pieces) if pieces else schema.empty_table().select(names)
    return table, (np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)), skip


def _by_statistics(stats: Any, kind: Any, window: Window) -> str | None:
    """"later" / "before" when a row group's min and max put every row after the as-of
    instant / before --since (with a margin, see STATS_MARGIN); None: read its dates."""
    import numpy as np
    import pyarrow as pa

    from crmmetrics.pushdown import STATS_MARGIN

    if stats is None or not stats.has_min_max or stats.null_count != 0:
        return None
    try:
        lo_hi = window.local(pa.array([stats.min, stats.max], type=kind))  # the column's own type and zone
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return None
    if np.isnat(lo_hi).any():
        return None  # a date out of the parse layer's range: its rows are read and reported
    first, last = (v.astype("datetime64[us]").item() for v in lo_hi)
    if first - STATS_MARGIN >= window.horizon:
        return "later"
    if window.since is not None and last + STATS_MARGIN < window.since:
        return "before"
    return None


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


def _locator(labels: list[str], counts: list[int], positions: list[Any] | None = None) -> Any:
    """Row positions → ``part: row N`` (1-based data row inside that part file); with a
    push-down, ``positions`` maps each part's read rows to their rows in the file."""
    import numpy as np

    ends = np.cumsum(counts)
    positions = positions or [None] * len(labels)

    def locate(rows: Any, field: str | None = None) -> list[str]:
        out = []
        for r in rows:
            r = int(r)
            k = int(np.searchsorted(ends, r, side="right"))
            if k >= len(labels):
                out.append(f"{labels[-1]}: row {r + 1}")
                continue
            start = int(ends[k - 1]) if k else 0
            at = r - start if positions[k] is None else int(positions[k][r - start])
            out.append(f"{labels[k]}: row {at + 1}")
        return out

    return locate
