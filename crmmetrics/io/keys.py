"""Fast operations on key columns (ids): repeated keys and positions in a key table.

Ids read from CSV are Arrow-backed text. pandas hashes them through Python-level
machinery (``duplicated`` ≈ 0.1 s, ``Index.get_indexer`` ≈ 0.4 s per million ids);
Arrow's C++ kernels answer the same questions in a few milliseconds (a sorted column
has no repeats) or tens of milliseconds (``index_in``). Every function here returns
exactly what the pandas expression named in its docstring returns, and falls back to
that expression for any column that is not Arrow text (Excel object columns, numbers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def _arrow_text(values: Any, combine: bool = True) -> Any:
    """The column as one pyarrow string array (``combine=False``: as the list of its
    chunks, no copy), or None when it is not Arrow-backed text."""
    import pandas as pd
    import pyarrow as pa

    if not isinstance(values, (pd.Series, pd.Index)) or values.dtype == object or not pd.api.types.is_string_dtype(values.dtype):
        return None
    if getattr(values.dtype, "storage", None) != "pyarrow":
        return None
    arr = pa.array(values.array)
    if not combine:
        return arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return arr


def _strictly_monotonic(chunks: list[Any]) -> bool:
    """True when the non-null values of string chunks, in order, strictly increase or
    strictly decrease (bytewise): then no value occurs twice. Read chunk by chunk and
    across their seams, so the column is never combined (a copy as large as the ids)."""
    import pyarrow.compute as pc

    present = [c for c in (pc.drop_null(c) if c.null_count else c for c in chunks) if len(c)]
    for step in (pc.less, pc.greater):
        ordered = all(pc.all(step(c[:-1], c[1:])).as_py() is not False for c in present if len(c) > 1)
        if ordered and all(step(a[-1], b[0]).as_py() for a, b in zip(present, present[1:])):
            return True
    return False


def repeated(values: pd.Series, keep: Literal["first", "last"] = "first") -> np.ndarray:
    """``(values.notna() & values.duplicated(keep=keep)).to_numpy()``: the rows whose
    present key already occurred (``first``) or occurs again later (``last``).

    Exports are usually sorted by their id, and a strictly sorted column has no repeats:
    that is checked with two vectorised comparisons before anything is hashed.
    """
    import numpy as np

    chunks = _arrow_text(values, combine=False)
    if chunks is not None and _strictly_monotonic(chunks):
        return np.zeros(len(values), dtype=bool)
    return (values.notna() & values.duplicated(keep=keep)).to_numpy(dtype=bool)


def positions(keys: pd.Series | pd.Index, values: pd.Series) -> np.ndarray:
    """``pd.Index(keys).get_indexer(values)`` for unique ``keys``: each value's position
    in ``keys``, -1 where it is absent (a missing value included, when ``keys`` has none)."""
    found = first_positions(keys, values) if not keys.hasnans else None
    if found is None:
        import pandas as pd

        return pd.Index(keys).get_indexer(values)
    return found


def first_positions(keys: pd.Series | pd.Index, values: pd.Series) -> np.ndarray | None:
    """For Arrow text columns: the position in ``keys`` of the first present key equal to
    each value, -1 where none is (missing values never match). None for other columns
    (the caller takes its pandas path), so ``keys`` may repeat or miss values here:
    what a left merge on ``keys.dropna().drop_duplicates(keep="first")`` pairs."""
    import numpy as np
    import pyarrow.compute as pc

    table, probe = _arrow_text(keys), _arrow_text(values)
    if table is None or probe is None:
        return None
    if table.type != probe.type:
        probe = probe.cast(table.type)
    found = pc.index_in(probe, value_set=table, skip_nulls=True)
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.intp, copy=False)


def sorted_codes(values: pd.Series) -> np.ndarray | None:
    """For a text column (Arrow, or Python strings): each row's place among the column's distinct values in
    sorted order, a missing value after every other (``pd.factorize(values, sort=True)``
    with missing values as their own last code, as ``groupby(sort=True, dropna=False)``
    numbers them). None for other columns (the caller takes its pandas path).

    pandas sorts the distinct values as Python objects (0.5 s for 200k customer ids);
    Arrow encodes them in C++, and an export sorted by its id needs no sort at all: the
    distinct values then come in sorted order already (byte order of UTF-8 is code point
    order, so Arrow's sort agrees with Python's).
    """
    import numpy as np
    import pyarrow.compute as pc

    arr = _arrow_text(values) if values.dtype != object else _object_text(values)
    if arr is None:
        return None
    encoded = pc.dictionary_encode(arr)
    uniques = encoded.dictionary
    n = len(uniques)
    rank = np.empty(n + 1, dtype=np.int64)
    if n < 2 or bool(pc.all(pc.less(uniques[:-1], uniques[1:])).as_py()):
        rank[:n] = np.arange(n)
    else:
        rank[pc.sort_indices(uniques).to_numpy()] = np.arange(n)
    rank[n] = n  # a missing value
    return rank[pc.fill_null(encoded.indices, n).to_numpy(zero_copy_only=False)]


def _object_text(values: pd.Series) -> Any:
    """An object column of Python strings (missing values allowed) as a pyarrow string
    array; None when it holds anything else (numbers, dates), which pandas orders its own way."""
    import pyarrow as pa

    try:
        return pa.array(values.to_numpy(), type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):  # UnicodeEncodeError: a lone surrogate
        return None


# Dictionary codes per Arrow text column, kept while the column lives: (the pandas array,
# its Arrow data when encoded, codes, distinct values), keyed by id(pandas array).
_ENCODED: dict[int, tuple[Any, Any, Any, Any]] = {}


def text_codes(values: pd.Series) -> tuple[np.ndarray, Any] | None:
    """(codes, distinct values) of an Arrow text column: each row's index into the
    distinct values in order of first appearance (``pd.factorize(values)``'s order), -1
    where missing. None for other columns.

    Encoded once per column: the metrics of a run that read the same column of the same
    frame (the ticket status every ticket metric folds, the customer_id of tickets that
    health_score and tickets_per_customer key by customer) share one pass over its text.
    The cache follows the column's pandas array (and checks that its Arrow data is still
    the one encoded), so a new or modified column is encoded afresh.
    """
    import weakref

    import pyarrow.compute as pc

    array = values.array
    data = getattr(array, "_pa_array", None)
    hit = _ENCODED.get(id(array))
    if hit is not None and hit[0]() is array and hit[1] is data:
        return hit[2], hit[3]
    arr = _arrow_text(values)
    if arr is None:
        return None
    encoded = pc.dictionary_encode(arr)
    # Arrow's int32 indices as they are: kept for the column's life, half the memory of intp.
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    _ENCODED[id(array)] = (weakref.ref(array), data, codes, encoded.dictionary)
    weakref.finalize(array, _ENCODED.pop, id(array), None)
    return codes, encoded.dictionary


def row_codes(frame: pd.DataFrame, rows: pd.DataFrame, column: str) -> tuple[np.ndarray, Any] | None:
    """:func:`text_codes` of ``rows[column]``, where ``rows`` are rows of ``frame`` as they
    are (a filter of it, keeping its index labels): taken from the codes of the whole
    column of ``frame``, which the run then encodes once. None when ``frame`` has no plain
    0..n-1 index to locate the rows by, or the column is not Arrow text."""
    import pandas as pd

    index = frame.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        return None
    whole = text_codes(frame[column])
    if whole is None:
        return None
    codes, uniques = whole
    return codes[rows.index.to_numpy()], uniques


def code_positions(keys: pd.Series | pd.Index, codes: np.ndarray, uniques: Any) -> np.ndarray | None:
    """:func:`positions` of the values given as (codes, distinct values): each distinct
    value is looked up once. None when ``keys`` is not Arrow text without blanks."""
    import numpy as np
    import pyarrow.compute as pc

    table = _arrow_text(keys)
    if table is None or keys.hasnans:
        return None
    probe = uniques if uniques.type == table.type else uniques.cast(table.type)
    found = pc.fill_null(pc.index_in(probe, value_set=table), -1).to_numpy(zero_copy_only=False).astype(np.intp, copy=False)
    return np.where(codes >= 0, found[codes], -1) if len(found) else np.full(len(codes), -1, dtype=np.intp)
