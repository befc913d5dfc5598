"""Typed, vectorised parsing of raw columns into canonical types.

Every canonical field has one declared type (``crmmetrics.schema``); a raw value that
does not parse as that type becomes null *and* a failure the caller turns into an
Issue with its location. Nothing is guessed globally; the only inference is per
column and documented (the day/month order of slash dates, see ``parse_datetime``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmmetrics.schema import FieldType
from crmmetrics.threads import by_row_pieces, even_spans, map_pieces, worker_count

if TYPE_CHECKING:
    import pandas as pd

EXCEL_EPOCH = dt.datetime(1899, 12, 30)  # serial 1 = 1900-01-01 (Lotus leap-year bug included)
MAX_SERIAL = 2958465  # 9999-12-31
# Timestamps are nanosecond-based: 1677-09-21 .. 2262-04-11. Dates outside are issues
# (or, in an end-date column, the "no end" sentinel such as 9999-12-31), never a crash.
MIN_YEAR, MAX_YEAR = 1678, 2261
OPEN_END_FIELDS = frozenset({"churned_at", "canceled_at", "ended_at", "exited_at", "service_period_end"})

TRUE_WORDS = {"true", "t", "yes", "y", "1", "evet", "e", "doğru", "dogru", "x", "on", "1.0"}
FALSE_WORDS = {"false", "f", "no", "n", "0", "hayır", "hayir", "h", "yanlış", "yanlis", "off", "0.0"}

_TIME = (r"(?:(?:T|\s+)(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?)?"
         r"\s*(?P<tz>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?")
# 2026-11-22, 2026/11/22, 2026-11-22T14:05:00.000+0300
_ISO = re.compile(r"^(?P<y>\d{4})[-/](?P<m>\d{1,2})[-/](?P<d>\d{1,2})" + _TIME + "$")
# 22.11.2026, 22/11/2026, 11/22/2026, 22-11-26 (a and b are day/month in some order)
_DMY = re.compile(r"^(?P<a>\d{1,2})(?P<sep>[./-])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})" + _TIME + "$")
# 20261122 (old order systems, CDNOW)
_COMPACT = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$")
# 46348 or 46348.59375: an Excel serial day number in a text column
_SERIAL = re.compile(r"^\d{1,7}(?:\.\d+)?$")
_DATE_HINT = "set dates.format (e.g. %d.%m.%Y %H:%M) or dates.dayfirst for this source"
# (full-match pattern, strptime layout): unambiguous layouts parsed without the general rules.
_FAST_DATE_LAYOUTS = (
    (r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d"),
    (r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}", "ISO8601"),
    (r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}", "ISO8601"),
    (r"\d{2}\.\d{2}\.\d{4}", "%d.%m.%Y"),
    (r"\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}", "%d.%m.%Y %H:%M"),
    (r"\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2}", "%d.%m.%Y %H:%M:%S"),
)
# Currency markers are removed (spaces next to them go with the strip); "%" is kept for parse_number.
_CURRENCY = re.compile(r"[₺$€£¥]|(?<![A-Za-z])(?:TL|TRY|USD|EUR|GBP|JPY)(?![A-Za-z])", re.IGNORECASE)
_CURRENCY_MARK = re.compile(r"([₺$€£¥]|(?<![A-Za-z])(?:TL|TRY|USD|EUR|GBP|JPY)(?![A-Za-z]))", re.IGNORECASE)
_CURRENCY_OF = {"₺": "TRY", "TL": "TRY", "TRY": "TRY", "$": "USD", "USD": "USD", "€": "EUR", "EUR": "EUR", "£": "GBP", "GBP": "GBP",
                "¥": "JPY", "JPY": "JPY"}


@dataclass
class Problem:
    """Rows of a column that parsed to null for a reason other than the column's usual one."""

    mask: Any  # boolean Series
    code: str
    reason: str
    hint: str = ""
    level: str = "warning"  # "error" fails the run; "info" is a documented reading (counted once)


@dataclass
class Parsed:
    """A parsed column: values (nulls where absent or bad), which rows failed and why.

    ``bad`` rows failed for ``reason``; ``problems`` are other failures with their own
    code (an out-of-range date, an overflowing number, a mixed currency), already
    nulled in ``values`` and not part of ``bad``.
    """

    values: Any  # pandas Series
    bad: Any  # boolean Series: a value was present but did not parse
    reason: str = ""
    hint: str = ""
    note: str = ""  # a per-column remark (e.g. ambiguous day/month order)
    problems: list[Problem] = field(default_factory=list)


def is_text(values: pd.Series) -> bool:
    """True for a pandas string column (CSV input): every value is text or missing.

    Such columns take vectorised (pyarrow-backed) paths; object columns from Excel may
    mix text, numbers and dates and take the per-value paths.
    """
    import pandas as pd

    return values.dtype != object and pd.api.types.is_string_dtype(values.dtype)


def is_typed(values: pd.Series) -> bool:
    """True for a typed numeric or timestamp column (Parquet input): parsed without text."""
    return values.dtype.kind in "fiuM"


def clean_text(raw: pd.Series, null_values: list[str]) -> pd.Series:
    """Strip text and turn the null tokens ("", "NA", "?", ...) into missing values.

    A text column stays a string column (missing = NA); an Excel column stays object
    with non-text cells (numbers, dates) untouched and None for missing.
    """
    import pandas as pd

    if is_text(raw):
        fast = _clean_arrow_text(raw, null_values)
        if fast is not None:
            return fast
        # Row by row (Arrow kernels, which release the GIL): the column's halves on two cores.
        return by_row_pieces(lambda piece: _clean_strings(piece, null_values), raw)
    if is_typed(raw):
        return raw  # Parquet timestamps and numbers: no text to strip, NaN/NaT are the missing values
    obj = raw.astype(object)
    is_str = _is_instance(obj, str, frozenset({"string"}), _NOT_TEXT_KINDS)
    out = obj.copy()
    if is_str.any():
        # A list comprehension, not Series.map(str.strip): map then tries to convert the
        # stripped strings to numbers, a second pass over the column (3x the time).
        cells = obj[is_str]
        s = pd.Series([v.strip() for v in cells.to_numpy()], index=cells.index, dtype=object)
        out[is_str] = s.where(~s.isin(null_values), None)
    # Missing cells are None (never float NaN, which would read back as the text "nan").
    return pd.Series(out.where(out.notna(), None), index=raw.index, dtype=object)


def _clean_arrow_text(raw: pd.Series, null_values: list[str]) -> pd.Series | None:
    """``clean_text`` of an Arrow-backed text column whose values need no stripping, or
    None when some value might (the caller then strips every value).

    Stripping copies every string of the column and masking copies it again (≈ 0.25 s
    CPU per 10M-row column, eight columns in a ticket run); an export's ids, dates and
    codes rarely carry edge blanks. So the first and last byte of each value are read
    from the Arrow buffers: only a value starting or ending with a byte ≤ 0x20 (ASCII
    blanks and controls) or ≥ 0x80 (any non-ASCII character, which might be Unicode
    whitespace) can change, and those few are trimmed to check. The null tokens are
    then found with one ``is_in``, and only when one occurs are they made nulls, in a new
    validity bitmap over the same text buffers (``_nulls_where``: no copy of the text).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    chunks = _string_chunks(raw)
    if chunks is None:
        return None
    if not chunks:
        return raw  # an empty column
    for chunk in chunks:
        edge = _edge_candidates(chunk)
        if len(edge) and not pc.all(pc.equal(pc.utf8_trim_whitespace(edge), edge)).as_py():
            return None
    tokens = pa.array(null_values, type=chunks[0].type)
    hit = pc.is_in(pa.chunked_array(chunks, type=chunks[0].type), value_set=tokens).fill_null(False)
    if not pc.any(hit).as_py():
        return raw
    return _nulls_where(raw, hit.to_numpy(zero_copy_only=False))


def _edge_candidates(chunk: Any) -> Any:
    """The values of a string chunk that start or end with a byte ≤ 0x20 or ≥ 0x80 (the
    only ones stripping might change)."""
    import numpy as np
    import pyarrow as pa

    if len(chunk) == 0:
        return chunk
    offsets, data = _string_buffers(chunk)
    if data is None or offsets[-1] == offsets[0]:
        return chunk.slice(0, 0)  # every value empty (or null): nothing to strip
    starts, ends = offsets[:-1], offsets[1:]
    filled = ends > starts
    # Empty values read their neighbour's bytes here; they are masked out by ``filled``.
    first = data[np.minimum(starts, len(data) - 1)]
    last = data[np.maximum(ends - 1, 0)]
    odd = filled & ((first <= 0x20) | (first >= 0x80) | (last <= 0x20) | (last >= 0x80))
    return chunk.filter(pa.array(odd)) if odd.any() else chunk.slice(0, 0)


def _clean_strings(raw: pd.Series, null_values: list[str]) -> pd.Series:
    """A string column stripped, with its null tokens made missing (NA)."""
    stripped = raw.str.strip()
    return stripped.mask(stripped.isin(null_values))


def _string_buffers(chunk: Any) -> tuple[Any, Any]:
    """A non-empty string chunk's offsets (``len + 1`` of them, its own slice) and its text
    bytes (None when it has none) as numpy views of the Arrow buffers, without a copy."""
    import numpy as np
    import pyarrow as pa

    _, offsets_buf, data_buf = chunk.buffers()
    kind = np.dtype(np.int64 if pa.types.is_large_string(chunk.type) else np.int32)
    offsets = np.frombuffer(offsets_buf, dtype=kind, count=len(chunk) + 1, offset=chunk.offset * kind.itemsize)
    return offsets, None if data_buf is None else np.frombuffer(data_buf, dtype=np.uint8)


def _string_chunks(values: pd.Series) -> list[Any] | None:
    """The Arrow string chunks behind a text column, or None when it is not Arrow-backed."""
    import pyarrow as pa

    if getattr(values.dtype, "storage", None) != "pyarrow":
        return None
    arr = pa.array(values.array)
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    return chunks if all(pa.types.is_string(c.type) or pa.types.is_large_string(c.type) for c in chunks) else None


def _nulls_where(values: pd.Series, null: Any) -> pd.Series:
    """``values.mask(null)`` for a text column; an Arrow one gets a new validity bitmap over
    its own offsets and text (no copy of the text)."""
    import numpy as np
    import pyarrow as pa

    chunks = _string_chunks(values)
    if chunks is None or any(c.offset for c in chunks):
        return values.mask(null)
    pieces, at = [], 0
    for chunk in chunks:
        n = len(chunk)
        keep = ~null[at:at + n]
        at += n
        if chunk.null_count:
            keep &= chunk.is_valid().to_numpy(zero_copy_only=False)
        bitmap = pa.array(keep, type=pa.bool_()).buffers()[1]
        _, offsets_buf, data_buf = chunk.buffers()
        pieces.append(pa.Array.from_buffers(chunk.type, n, [bitmap, offsets_buf, data_buf], null_count=int(n - np.count_nonzero(keep))))
    out = pa.chunked_array(pieces, type=chunks[0].type).to_pandas()
    out.index, out.name = values.index, values.name
    return out


def _uniform_kind(values: pd.Series) -> str:
    """What every present cell of an object column is, by pandas' C-speed ``infer_dtype``
    (``"string"``, ``"datetime"``, ``"integer"``, ``"empty"``, or ``"mixed"``...).

    Excel's object columns take per-cell paths only when this says they are mixed
    (tests/test_parse_fast_paths.py pins it to ``"mixed"`` to compare both ways).
    """
    import pandas as pd

    return str(pd.api.types.infer_dtype(values, skipna=True))


# infer_dtype kinds whose present cells are all of one non-text type (Python or numpy
# numbers, booleans, dates, times, durations): no cell of such a column is a str.
_NOT_TEXT_KINDS = frozenset({"integer", "floating", "mixed-integer-float", "boolean", "datetime", "date", "time", "timedelta",
                             "decimal", "complex"})
# ... and those where no cell is a datetime/date or a Python number either.
_NOT_DATE_KINDS = frozenset({"string", "boolean", "time", "timedelta"})
_NOT_NUMBER_KINDS = frozenset({"string", "datetime", "date", "time", "timedelta"})


def _is_instance(values: pd.Series, kind: type | tuple[type, ...], every: frozenset[str], none: frozenset[str],
                 found: str | None = None) -> pd.Series:
    """``values.map(lambda v: isinstance(v, kind))`` for an object column (Excel cells).

    pandas' C-speed ``infer_dtype`` (``found``) answers for the common column whose
    present cells all have one type: a kind in ``every`` (``"string"`` for str) means
    every present cell is one, a kind in ``none`` (or ``"empty"``) that no cell is;
    mixed columns take the per-cell test.
    """
    import pandas as pd

    found = _uniform_kind(values) if found is None else found
    if found in every:
        return values.notna()
    if found in none or found == "empty":
        return pd.Series(False, index=values.index)
    return values.map(lambda v: isinstance(v, kind))


# infer_dtype kinds whose present cells are all Python (or numpy) numbers, never bools.
_NUMBER_KINDS = frozenset({"floating", "integer", "mixed-integer-float"})


def _are_numbers(values: pd.Series, found: str | None = None) -> pd.Series:
    """Which cells of an object column are numbers (int or float, not bool): Excel's
    numeric cells. A column of one kind is answered by ``infer_dtype`` (``found``);
    only mixed columns test each cell (as :func:`_is_instance` does for other types)."""
    import pandas as pd

    found = _uniform_kind(values) if found is None else found
    if found in _NUMBER_KINDS:
        return values.notna()
    if found in _NOT_NUMBER_KINDS or found in ("empty", "boolean"):
        return pd.Series(False, index=values.index)
    return values.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))


def apply_values_map(values: pd.Series, mapping: dict[str, Any], turkish: bool = False) -> pd.Series:
    """Map raw → canonical values; ``"*"`` is the default for anything else present.

    Keys match exactly first, then case-insensitively (``"closed won"`` ~ ``"Closed Won"``).
    """
    return map_values(values, mapping, turkish)[0]


def turkish_fold(text: str) -> str:
    """Case-fold with Turkish rules: I → ı and İ → i before folding (``KAZANILDI`` ~ ``Kazanıldı``)."""
    return text.replace("I", "ı").replace("İ", "i").casefold()


_TURKISH_LETTERS = re.compile("[ıİğĞşŞ]")


def map_values(values: pd.Series, mapping: dict[str, Any], turkish: bool = False) -> tuple[pd.Series, dict[str, int]]:
    """:func:`apply_values_map`, plus the values that only matched ``"*"`` with their row counts.

    Case-insensitive matching uses Turkish rules when ``turkish`` (a cp1254 file or
    ``csv.locale: tr``) or when the key or the value holds a Turkish-only letter (ı İ ğ ş):
    plain ``casefold`` never maps ``I`` to ``ı``.
    """
    import pandas as pd

    if not mapping:
        return values, {}
    exact = {str(k): v for k, v in mapping.items() if k != "*"}
    folded = {str(k).casefold(): v for k, v in exact.items()}
    tr_folded = {turkish_fold(str(k)): v for k, v in exact.items()}
    keys_turkish = turkish or any(_TURKISH_LETTERS.search(k) for k in exact)
    default = mapping.get("*", _MISSING)

    fell: set[Any] = set()

    def lookup(v: Any) -> Any:
        if v is None:
            return None
        key = _as_key(v)
        if key in exact:
            return exact[key]
        if key.casefold() in folded:
            return folded[key.casefold()]
        if (keys_turkish or _TURKISH_LETTERS.search(key)) and turkish_fold(key) in tr_folded:
            return tr_folded[turkish_fold(key)]
        if default is _MISSING:
            return v
        fell.add(v)
        return default

    if is_text(values):
        # One lookup per distinct value of the Arrow dictionary, then one take: no
        # Python object per row (1M deal stages: 15 ms instead of 0.15 s).
        codes, uniq = distinct_codes(values)
        table = [lookup(u) for u in uniq]
        fallen = _fallen_counts(values, codes, [u in fell for u in uniq]) if fell else {}
        if all(isinstance(v, str) for v in table):
            return text_from_codes(codes, table, values.index), fallen  # keep the vectorised text paths downstream
        mapped = pd.Series(objects_from_codes(codes, table), index=values.index, dtype=object)
        return mapped.where(mapped.notna(), None), fallen
    uniq = values.dropna().unique()
    lookups = {u: lookup(u) for u in uniq}
    mapped = values.map(lookups).astype(object)  # a dict lookup per distinct value, not per row
    mapped = mapped.where(mapped.notna(), None)
    fallen = {}
    if fell:
        counts = values[values.isin(list(fell))].value_counts()
        fallen = {_as_key(k): int(n) for k, n in counts.items()}
    if all(isinstance(v, str) for v in lookups.values()):
        return mapped.astype("str"), fallen  # keep the vectorised text paths downstream
    return mapped, fallen


def distinct_codes(values: pd.Series) -> tuple[Any, list[str]]:
    """(int64 code per row, the distinct texts) of an Arrow text column; a missing value
    has the code ``len(texts)``, one past the last text, so a lookup list with one more
    entry (None) maps it. Texts are in order of first appearance, as ``unique()`` lists them."""
    import pyarrow as pa

    arr = pa.array(values.array)
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    enc = arr.dictionary_encode()
    texts = enc.dictionary.to_pylist()
    codes = enc.indices.fill_null(len(texts)).to_numpy(zero_copy_only=False).astype("int64", copy=False)
    return codes, texts


def objects_from_codes(codes: Any, table: list[Any]) -> Any:
    """The object array ``table[code]`` per row (a missing value's code gives None)."""
    import numpy as np

    lookup = np.empty(len(table) + 1, dtype=object)
    lookup[:-1] = table
    return lookup[codes]


def text_from_codes(codes: Any, table: list[str | None], index: Any) -> pd.Series:
    """A text column (pandas' Arrow ``str`` dtype) of ``table[code]`` per row, built in Arrow."""
    import pandas as pd
    import pyarrow as pa

    indices = pa.array(codes.astype("int32", copy=False) if len(table) < 2**31 - 1 else codes)
    out = pa.DictionaryArray.from_arrays(indices, pa.array([*table, None], pa.large_string())).cast(pa.large_string())
    return pd.Series(out.to_pandas().array, index=index, copy=False)


def _fallen_counts(values: pd.Series, codes: Any, fell: list[bool]) -> dict[str, int]:
    """{value: rows} of the values that only matched ``"*"``, ordered as value_counts orders them."""
    import numpy as np

    rows = np.asarray([*fell, False], dtype=bool)[codes]
    counts = values[rows].value_counts()
    return {_as_key(k): int(n) for k, n in counts.items()}


_MISSING = object()


def _missing(v: Any) -> bool:
    """None or a float NaN (pandas may hand either for an empty cell)."""
    return v is None or (isinstance(v, float) and v != v)


def _as_key(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def parse(values: pd.Series, ftype: FieldType, *, decimal: str = ".", thousands: str | None = None,
          dayfirst: bool | None = None, date_format: str | None = None, tz: str = "UTC",
          choices: tuple[str, ...] = (), serials: bool = False, open_end: bool = False,
          fx: dict[str, float] | None = None, currency: str | None = None) -> Parsed:
    """Parse cleaned values (None = absent) as ``ftype``.

    ``serials``: plain numbers in text are Excel serial days (config ``dates.excel_serials``);
    ``open_end``: the column is an end date, where a far-future sentinel means "no end";
    ``fx``/``currency``: config ``fx_rates`` and ``currency`` for money columns mixing currencies.
    """
    if ftype in (FieldType.DATETIME, FieldType.DATE):
        return parse_datetime(values, tz=tz, dayfirst=dayfirst, fmt=date_format, date_only=ftype is FieldType.DATE,
                              serials=serials, open_end=open_end)
    if ftype in (FieldType.MONEY, FieldType.NUMBER, FieldType.INTEGER):
        return parse_number(values, decimal=decimal, thousands=thousands, integer=ftype is FieldType.INTEGER,
                            money=ftype is FieldType.MONEY, fx=fx if ftype is FieldType.MONEY else None, currency=currency)
    if ftype is FieldType.BOOL:
        return parse_bool(values)
    if ftype is FieldType.ID:
        return parse_id(values)
    if ftype is FieldType.CATEGORY:
        return parse_category(values, choices)
    import pandas as pd

    return Parsed(_to_object(values) if is_text(values) else values.map(lambda v: None if v is None else str(v)).astype(object),
                  pd.Series(False, index=values.index))


def _to_object(values: pd.Series) -> pd.Series:
    """A text column as object values with None for missing (what metrics receive)."""
    obj = values.astype(object)
    return obj.where(values.notna(), None)


def parse_id(values: pd.Series) -> Parsed:
    """Ids stay text; an Excel number 42.0 becomes "42" (leading zeros need text cells)."""
    import pandas as pd

    if is_text(values):
        return Parsed(_to_object(values), pd.Series(False, index=values.index))
    if _uniform_kind(values) == "string":
        # Every present cell is text, which _as_key keeps as it is; built like map's result
        # (pandas infers its str dtype from the cells, then back to object: NaN for missing).
        cells = values.to_numpy(dtype=object, copy=True)
        cells[values.isna().to_numpy()] = None
        out = pd.Series(cells, index=values.index).astype(object)
    else:
        out = values.map(lambda v: None if _missing(v) else _as_key(v)).astype(object)
    return Parsed(out, pd.Series(False, index=values.index))


def parse_category(values: pd.Series, choices: tuple[str, ...]) -> Parsed:
    """Labels; with ``choices``, values match them case-insensitively or fail."""
    import pandas as pd

    if is_text(values):
        out = values
    else:
        out = values.map(lambda v: None if _missing(v) else _as_key(v)).astype(object)
    if not choices:
        return Parsed(_to_object(out) if is_text(out) else out, pd.Series(False, index=values.index))
    folded = {c.casefold(): c for c in choices}

    def choice(u: Any) -> str | None:
        return folded.get(str(u).casefold().replace("-", "_").replace(" ", "_"))

    if is_text(out):  # one lookup per distinct label of the Arrow dictionary, then one take
        codes, labels = distinct_codes(out)
        mapped = pd.Series(objects_from_codes(codes, [choice(u) for u in labels]), index=values.index, dtype=object)
    else:
        uniq = {u: choice(u) for u in out.dropna().unique()}
        mapped = out.map(uniq).astype(object)  # one lookup per distinct label
        mapped = mapped.where(mapped.notna(), None)
    bad = out.notna() & mapped.isna()
    return Parsed(mapped, bad, reason=f"not one of {', '.join(choices)}", hint="add it to values: in the config (\"*\" sets a default)")


def parse_bool(values: pd.Series) -> Parsed:
    """true/false, yes/no, evet/hayır, 1/0 (case-insensitive); Excel booleans pass."""
    import pandas as pd

    if is_text(values):
        words = {**{w: True for w in TRUE_WORDS}, **{w: False for w in FALSE_WORDS}}
        keys = values.str.casefold()
        out = keys.map(words).astype(object)
        bad = values.notna() & out.isna()
        return Parsed(out.where(out.notna(), None), bad, reason="not a yes/no value",
                      hint="use true/false, yes/no, evet/hayır, 1/0, or a values: map")

    def one(v: Any) -> Any:
        if _missing(v):  # None, or NaN in a typed 0/1 column (Parquet)
            return None
        if isinstance(v, bool):
            return v
        key = _as_key(v).strip().casefold()
        if key in TRUE_WORDS:
            return True
        if key in FALSE_WORDS:
            return False
        return _MISSING

    out = values.map(one)
    bad = out.map(lambda v: v is _MISSING)
    out = out.where(~bad, None).astype(object)
    return Parsed(out, bad, reason="not a yes/no value", hint="use true/false, yes/no, evet/hayır, 1/0, or a values: map")


def _fast_numbers(values: pd.Series, present: pd.Series, decimal: str) -> tuple[pd.Series, pd.Series]:
    """Numbers that need no symbol or group handling, and the mask of the text left to parse.

    Plain text numbers ("12", "-3.5" / "3,5") are read in bulk (Arrow first, then a regex
    and pandas); typed numbers (Parquet, Excel cells) are taken as they are.
    """
    import numpy as np
    import pandas as pd

    if is_text(values):
        # Fastest path: short plain numbers, the whole column at once in Arrow.
        parsed, done = _arrow_plain_numbers(values, decimal)
        # Not copied when writable: the arrays are this call's own (pandas 3 copies by default).
        out = pd.Series(parsed, index=values.index, copy=not parsed.flags.writeable)
        plain = pd.Series(done, index=values.index, copy=not done.flags.writeable)
        # Fast path: plain numbers ("12", "-3.5" / "3,5") need no symbol or group handling.
        d = re.escape(decimal)
        rest = present & ~plain
        if rest.any():
            more = rest & values.str.fullmatch(rf"[+-]?\d{{1,300}}(?:{d}\d+)?").fillna(False).astype(bool)
            if more.any():
                txt = values[more] if decimal == "." else values[more].str.replace(",", ".", regex=False)
                out[more] = pd.to_numeric(txt, errors="coerce").astype("float64")
                plain |= more
        return out, present & ~plain
    if values.dtype.kind in "fiu":
        # typed numbers (Parquet): no parse, so no text round trip
        return values.astype("float64"), pd.Series(False, index=values.index)
    out = pd.Series(np.nan, index=values.index, dtype="float64")
    is_num = _are_numbers(values)
    if is_num.any():
        out[is_num] = values[is_num].astype("float64")
    return out, present & ~is_num


def _currency_conversion(s: pd.Series, index: Any, fx: dict[str, float] | None, currency: str | None,
                         problems: list[Problem]) -> tuple[pd.Series | None, pd.Series]:
    """Rates for a column that mixes currency markers, when ``fx`` has one for each (an info
    problem), else an error problem. Returns the per-value rates (None: one currency) and
    the mask of values refused."""
    import pandas as pd

    refused = pd.Series(False, index=index)
    markers = s.str.extract(_CURRENCY_MARK, expand=False).str.upper().map(_CURRENCY_OF)
    kinds = markers.dropna().unique()
    if len(kinds) <= 1:
        return None, refused
    rates = {**(fx or {}), **({_CURRENCY_OF.get(currency.upper(), currency.upper()): 1.0} if currency else {})}
    missing = sorted(k for k in kinds if k not in rates)
    if not missing:
        problems.append(Problem(_widen(markers.notna(), index), "fx_converted",
                                f"amounts in {', '.join(sorted(kinds))} converted with fx_rates", level="info"))
        return markers.map(rates).fillna(1.0), refused  # unmarked amounts: the reporting currency
    mixed = markers.notna()
    problems.append(Problem(_widen(mixed, index), "mixed_currency",
                            f"the column mixes currencies ({', '.join(sorted(kinds))}); summing them would be wrong; value ignored",
                            hint=f"set fx_rates for {', '.join(missing)} in the config (and currency:), or export one currency per column",
                            level="error"))
    return None, refused | _widen(mixed, index)


def _read_decorated(s: pd.Series, decimal: str, thousands: str) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Text with currency symbols, ``%``, parentheses and group separators → (numbers, the
    values that matched the number pattern, the percentages, the text as stripped)."""
    import pandas as pd

    s = s.str.replace(_CURRENCY, "", regex=True).str.strip()
    pct = s.str.endswith("%")
    s = s.str.replace(r"\s*%$", "", regex=True)
    neg = s.str.match(r"^\((.*)\)$")
    s = s.str.replace(r"^\((.*)\)$", r"\1", regex=True).str.strip()
    # Spaces (also no-break and narrow no-break) may only group thousands: 1 234 567.
    spaced = s.str.contains(r"[\s\u00a0\u202f]", regex=True)
    if spaced.any():
        grouped = s.str.fullmatch(rf"[+-]?\d{{1,3}}(?:[\s\u00a0\u202f]\d{{3}})+(?:{re.escape(decimal)}\d*)?").fillna(False)
        s = s.where(~(spaced & grouped), s.str.replace(r"[\s\u00a0\u202f]", "", regex=True))
    t, d = re.escape(thousands) if thousands else "", re.escape(decimal)
    group = rf"\d{{1,3}}(?:{t}\d{{3}})+|" if thousands else ""
    pattern = rf"^[+-]?(?:{group}\d+)(?:{d}\d*)?(?:[eE][+-]?\d+)?$|^[+-]?{d}\d+$"
    ok = s.str.match(pattern)
    cleaned = s.where(ok, None)
    if thousands:
        cleaned = cleaned.str.replace(thousands, "", regex=False)
    cleaned = cleaned.str.replace(decimal, ".", regex=False)
    nums = pd.to_numeric(cleaned, errors="coerce").astype("float64")
    nums[neg.fillna(False).astype(bool)] *= -1
    return nums, ok, pct.fillna(False).astype(bool), s


def _parse_text_numbers(text: pd.Series, index: Any, *, decimal: str, thousands: str, integer: bool, money: bool,
                        fx: dict[str, float] | None, currency: str | None, problems: list[Problem]) -> tuple[pd.Series, pd.Series]:
    """The numbers of the text values that need symbol and group handling, and the mask (over
    ``index``) of values refused with a problem of their own (currency, percent, ambiguity)."""
    s = text.astype(str)
    convert, refused = _currency_conversion(s, index, fx, currency, problems)
    nums, ok, pct, s = _read_decorated(s, decimal, thousands)
    if convert is not None:
        nums = nums * convert
    if pct.any():
        if money or integer:
            refused_pct = pct & nums.notna()
            problems.append(Problem(_widen(refused_pct, index), "percent_refused",
                                    "a percentage where an amount is expected; value ignored", hint="export the amount itself"))
            refused |= _widen(refused_pct, index)
        nums[pct] = nums[pct] / 100
    ambiguous = _ambiguous_groups(s, ok, decimal, thousands) if thousands else None
    if ambiguous is not None and ambiguous.any():
        problems.append(Problem(_widen(ambiguous, index), "ambiguous_number",
                                f"reads as thousands grouped by {thousands!r}, but other values in the column use {thousands!r} "
                                f"as the decimal mark; value ignored", hint="set csv.decimal / csv.thousands for this source"))
        refused |= _widen(ambiguous, index)
    return nums, refused


def parse_number(values: pd.Series, *, decimal: str = ".", thousands: str | None = None, integer: bool = False,
                 money: bool = False, fx: dict[str, float] | None = None, currency: str | None = None) -> Parsed:
    """Numbers with locale separators, currency symbols and (parenthesised) negatives.

    Examples with decimal "," (thousands "."): ``"1.234,50"`` → 1234.5,
    ``"(12,00) TL"`` → -12.0, ``"₺7"`` → 7.0. With decimal "." the text ``"1,5"``
    fails (1,5 is not a thousands group), so a wrong decimal setting is an issue,
    never a silently 10x number. Spaces only group thousands (``1 234``; ``1 2`` fails);
    ``50%`` is 0.5 (refused for money and whole numbers). Problems with their own
    codes: overflow (``1e400``), mixed currency markers in one column (an error unless
    ``fx`` has a rate for each, into ``currency``), ambiguous grouping (``12,500`` in a column where ``12,5`` shows a decimal comma).
    """
    import numpy as np
    import pandas as pd

    if thousands is None:
        thousands = "." if decimal == "," else ","
    present = values.notna()
    out, text_mask = _fast_numbers(values, present, decimal)
    problems: list[Problem] = []
    refused = pd.Series(False, index=values.index)
    if text_mask.any():
        nums, refused = _parse_text_numbers(values[text_mask], values.index, decimal=decimal, thousands=thousands, integer=integer,
                                            money=money, fx=fx, currency=currency, problems=problems)
        out[text_mask] = nums
    overflow = present & np.isinf(out)
    if overflow.any():
        problems.append(Problem(overflow, "number_overflow", "number too large to compute with (overflow); value ignored",
                                hint="check the cell: a pasted id or an exponent like 1e400?"))
        refused |= overflow
    out[refused] = np.nan
    bad = present & out.isna() & ~refused
    reason = f"not a number (decimal {decimal!r}, thousands {thousands!r})"
    if integer:
        frac = present & out.notna() & (out % 1 != 0)
        bad = bad | frac
        out[frac] = np.nan
        reason = "not a whole number"
    return Parsed(out, bad, reason=reason, hint="set csv.decimal / csv.thousands for this source", problems=problems)


def _arrow_plain_numbers(values: pd.Series, decimal: str) -> tuple[Any, Any]:
    """(float64 array, mask of the values it parsed) for the short plain numbers of a text column.

    Only when every plain number of the column has at most 15 characters (at most 15
    digits, so Arrow and pandas parse each to the same correctly rounded double); a
    longer one leaves the column to pandas. Like pandas' to_numeric, a column of whole
    numbers reads as integers ("-0" is 0.0) and one with any fraction as floats ("-0"
    and "-0.0" are -0.0).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(values)
    arr = pa.array(values)
    if arr.null_count == n:
        return np.full(n, np.nan), np.zeros(n, dtype=bool)
    sep = re.escape(decimal)
    hit = pc.fill_null(pc.match_substring_regex(arr, rf"^[+-]?\d+(?:{sep}\d+)?$"), False)
    hits = pc.sum(hit).as_py() or 0
    if not hits or pc.any(pc.and_(hit, pc.greater(pc.utf8_length(arr), 15))).as_py():
        return np.full(n, np.nan), np.zeros(n, dtype=bool)
    # Every present value plain (the usual column): the column is cast as it is, its
    # nulls becoming NaN, instead of a filtered copy of the text, its row numbers and a
    # scatter into a third array (2M rows: 100 MB, the load phase's peak).
    every = hits == n - arr.null_count
    text = arr if every else pc.filter(arr, hit)
    whole = not pc.any(pc.match_substring(text, decimal)).as_py()
    if decimal != ".":
        text = pc.replace_substring(text, decimal, ".")
    try:
        nums = pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:  # not expected after the pattern; the pandas path decides
        return np.full(n, np.nan), np.zeros(n, dtype=bool)
    del text
    done = hit.to_numpy(zero_copy_only=False)
    if every:
        out = nums if nums.flags.writeable else nums.copy()
        if whole:
            np.add(out, 0.0, out=out)  # an integer has no negative zero
        return out, done if done.flags.writeable else done.copy()
    out = np.full(n, np.nan)
    out[done] = nums + 0.0 if whole else nums  # + 0.0: an integer has no negative zero
    return out, done if done.flags.writeable else done.copy()


def _widen(mask: pd.Series, index: Any) -> pd.Series:
    """A mask over some rows → a mask over ``index`` (False elsewhere)."""
    return mask.reindex(index, fill_value=False).fillna(False).astype(bool)


def _ambiguous_groups(s: pd.Series, ok: pd.Series, decimal: str, thousands: str) -> pd.Series | None:
    """Values read with one thousands group (``12,500``) in a column whose failures show
    ``thousands`` used as a decimal mark (``12,5``, ``3,75``): either reading could be meant."""
    t = re.escape(thousands)
    failed = ~ok.fillna(False).astype(bool)
    decimal_like = failed & s.str.fullmatch(rf"[+-]?\d+{t}(?:\d{{1,2}}|\d{{4,}})").fillna(False).astype(bool)
    if not decimal_like.any():
        return None
    return ok.fillna(False).astype(bool) & s.str.fullmatch(rf"[+-]?\d{{1,3}}{t}\d{{3}}").fillna(False).astype(bool)


def parse_datetime(values: pd.Series, *, tz: str, dayfirst: bool | None = None, fmt: str | None = None,
                   date_only: bool = False, serials: bool = False, open_end: bool = False) -> Parsed:
    """Dates and times into tz-aware timestamps in the reporting zone ``tz``.

    Accepted: ISO (``2026-11-22``, ``2026-11-22T14:05:00+03:00``, ``...+0000``, ``Z``),
    ``dd.mm.yyyy`` (always day-first), ``dd/mm/yyyy`` or ``m/d/yyyy`` and ``dd-mm-yy``
    (order from ``dayfirst``; unset, inferred from values above 12 in the column),
    an optional time with seconds, fractions and AM/PM, compact ``YYYYMMDD``, real
    Excel date cells and Excel numeric cells (serial days). Plain numbers in *text*
    (``2026``) are serial days only with ``serials`` (config ``dates.excel_serials``).
    Values with an offset (at most ±14:59) are converted; naive ones are read in ``tz``.
    An explicit ``fmt`` (strftime) replaces all rules. Dates outside 1678–2261 are a
    ``date_out_of_range`` problem; with ``open_end`` a far-future one is "no end".
    """
    import numpy as np
    import pandas as pd

    present = values.notna()
    local = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    offset_min = pd.Series(np.nan, index=values.index, dtype="float64")
    low = pd.Series(False, index=values.index)
    high = pd.Series(False, index=values.index)

    def put(mask: Any, stamps: Any) -> None:
        fitted, lo, hi = _fit_ns(pd.Series(stamps, index=values.index[mask] if hasattr(mask, "any") else None))
        local[mask] = fitted
        low[mask] = lo
        high[mask] = hi

    note = ""
    if is_text(values):
        text_mask = present.copy()
        if not fmt:
            # Whole-column Arrow parse of the common layouts; only what it cannot vouch
            # for (other layouts, impossible dates, years outside MIN_YEAR-MAX_YEAR) takes
            # the paths below, which decide as they always did.
            parsed, exact = _arrow_layouts(values)
            if exact.any():
                # Wrapped without a copy when nothing below writes into it (every present value
                # parsed here): Arrow's array can be read-only, and pandas 3 copies by default.
                local = pd.Series(parsed, index=values.index, copy=not (parsed.flags.writeable or bool(exact[present.to_numpy()].all())))
                text_mask &= ~exact
            # Fast paths for the common unambiguous layouts: one vectorised match and one
            # fixed-format conversion each, instead of the general regex per value.
            for pattern, layout in _FAST_DATE_LAYOUTS:
                if not text_mask.any():
                    break
                hit = text_mask & values.str.fullmatch(pattern).fillna(False).astype(bool)
                if hit.any():
                    put(hit, pd.to_datetime(values[hit], format=layout, errors="coerce"))
                    text_mask &= ~hit
        s = values[text_mask].astype(object)
    elif values.dtype.kind == "M":
        # Typed timestamps (Parquet): naive ones are wall clock in ``tz`` like naive text;
        # tz-aware ones are instants, converted (offset 0 from their UTC reading).
        if getattr(values.dtype, "tz", None) is not None:
            utc = values.dt.tz_convert("UTC").dt.tz_localize(None)
            put(present, utc[present])
            offset_min[present] = 0.0
        else:
            put(present, values[present])
        text_mask = pd.Series(False, index=values.index)
    else:
        found = _uniform_kind(values)
        typed = _is_instance(values, (dt.datetime, dt.date), frozenset({"datetime", "date"}), _NOT_DATE_KINDS, found)
        if typed.any():
            cells = values[typed]
            stamps = pd.to_datetime(cells, errors="coerce")
            if found != "datetime":
                # Real date cells (no time) are midnight: pandas converts them itself, in
                # seconds when every cell is one, so the unit is pinned to the one datetime
                # cells give (one midnight cell made this a Python call per cell of the column).
                stamps = stamps.astype("datetime64[us]")
            put(typed, stamps)
        numeric = _are_numbers(values, found)
        if numeric.any():
            stamps, hi = _from_serial(values[numeric].astype("float64"))
            local[numeric] = stamps
            high[numeric] = hi
        text_mask = present & ~typed & ~numeric
        s = values[text_mask].astype(str).str.strip()
    if text_mask.any():
        if fmt:
            put(text_mask, pd.to_datetime(s, format=fmt, errors="coerce"))
        else:
            parts, offs, note, lo, hi = _parse_text_dates(s, dayfirst, serials)
            local[text_mask] = parts
            offset_min[text_mask] = offs
            low[text_mask] = lo
            high[text_mask] = hi
    result = _localise(local, offset_min, tz)
    if date_only:
        result = result.dt.normalize()
    problems = []
    if open_end and high.any():
        problems.append(Problem(high, "open_end", "end date after 2261 (a 'no end' sentinel such as 9999-12-31) read as no end",
                                level="info"))
        oob = low
    else:
        oob = low | high
    if oob.any():
        problems.append(Problem(oob, "date_out_of_range", f"date outside {MIN_YEAR}–{MAX_YEAR}; value ignored",
                                hint="fix the year in the export (a typo such as 0206 or 20260?)"))
    bad = present & result.isna() & ~low & ~high
    return Parsed(result, bad, reason="not a date" if date_only else "not a date/time", hint=_DATE_HINT, note=note, problems=problems)


# The layouts of _FAST_DATE_LAYOUTS as two full-match patterns: ISO dates and date-times,
# and dd.mm.yyyy with an optional time (rewritten to ISO for Arrow's parser).
_ARROW_ISO = r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?"
_ARROW_DOTTED = r"\d{2}\.\d{2}\.\d{4}(?: \d{2}:\d{2}(?::\d{2})?)?"


def _arrow_layouts(values: pd.Series) -> tuple[Any, Any]:
    """(naive datetime64[ns] array, mask of the values it parsed) for a text column.

    Arrow's ISO-8601 cast parses the matching values of a whole column in C++ and is
    strict (2023-02-30, 24:00 and 23:59:60 are errors). When a layout's values include
    one it refuses, or a year outside MIN_YEAR-MAX_YEAR, none of that layout is taken
    here: the general rules decide them (and report the problems) as they always did.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(values)
    arr = pa.array(values)
    first = int(np.datetime64(f"{MIN_YEAR:04d}-01-01T00:00:00", "s").astype("int64"))
    after = int(np.datetime64(f"{MAX_YEAR + 1:04d}-01-01T00:00:00", "s").astype("int64"))
    whole = _whole_column_iso(arr, first, after)
    if whole is not None:
        return whole
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    done = np.zeros(n, dtype=bool)
    todo = n - arr.null_count
    for pattern, dotted in ((_ARROW_ISO, False), (_ARROW_DOTTED, True)):
        if todo == 0:
            break
        hit = pc.fill_null(pc.match_substring_regex(arr, f"^(?:{pattern})$"), False)
        count = pc.sum(hit).as_py() or 0
        if not count:
            continue
        text = pc.filter(arr, hit)
        if dotted:  # dd.mm.yyyy[ HH:MM[:SS]] → yyyy-mm-dd[ HH:MM[:SS]]
            cut = lambda a, b=None: pc.utf8_slice_codeunits(text, a, b) if b is not None else pc.utf8_slice_codeunits(text, a)  # noqa: E731
            dash, empty = pa.scalar("-", text.type), pa.scalar("", text.type)
            text = pc.binary_join_element_wise(cut(6, 10), dash, cut(3, 5), dash, cut(0, 2), cut(10), empty)
        try:
            stamps = pc.cast(text, pa.timestamp("s")).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:
            continue  # an impossible date among them: leave the layout to the general rules
        secs = stamps.view("int64")  # compared as integers: numpy would overflow converting to ns
        if not ((secs >= first) & (secs < after)).all():
            continue
        rows = np.flatnonzero(hit.to_numpy(zero_copy_only=False))
        out[rows] = stamps.astype("datetime64[ns]")
        done[rows] = True
        todo -= count
    return out, done


# Byte positions of the separators of the ISO layouts of _ARROW_ISO, by byte length:
# YYYY-MM-DD (10), YYYY-MM-DD hh:mm (16), YYYY-MM-DD hh:mm:ss (19); " " may be "T".
_ISO_SEPARATORS = {10: ((4, b"-"), (7, b"-")), 16: ((4, b"-"), (7, b"-"), (10, b" T"), (13, b":")),
                   19: ((4, b"-"), (7, b"-"), (10, b" T"), (13, b":"), (16, b":"))}


def _whole_column_iso(arr: Any, first: int, after: int) -> tuple[Any, Any] | None:
    """(naive datetime64[ns] array, mask of the values parsed) when EVERY present value of the
    column is an ISO date or date-time of _ARROW_ISO that Arrow's cast accepts, else None.

    The regex of _ARROW_ISO costs three times Arrow's ISO cast on a whole column (0.1 s per
    2M values). The cast is strict about digits and ranges (a letter, month 13, Feb 30,
    24:00, 23:59:60 or a zone offset is an error), so what it adds to the cast is only the
    layout: a byte length of 10, 16 or 19 with the separators in their places, checked
    here on the string buffers with numpy. Anything else (another layout among the values,
    an impossible date, a year outside MIN_YEAR-MAX_YEAR) returns None and the per-layout
    path above decides, as it always did.
    """
    import numpy as np
    import pyarrow as pa

    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    if not chunks or arr.null_count == len(arr) or not all(pa.types.is_string(c.type) or pa.types.is_large_string(c.type) for c in chunks):
        return None
    # Chunk by chunk (numpy and Arrow's cast release the GIL): the column's halves on two
    # cores. Any chunk failing either test sends the whole column to the path above.
    parts = map_pieces(_iso_cast, [chunks[a:b] for a, b in even_spans(len(chunks), worker_count())])
    if any(p is False for p in parts):
        return None
    ns = pa.chunked_array([c for p in parts for c in p], type=pa.timestamp("ns")).to_numpy()
    present = ~np.isnat(ns)
    raw = ns.view("int64") if present.all() else ns.view("int64")[present]
    if raw.min() < first * 10**9 or raw.max() >= after * 10**9:
        return None
    return ns, present


def _iso_cast(chunks: list[Any]) -> list[Any] | bool:
    """The ns timestamp chunks of ``chunks`` when every present value has an ISO layout of
    _ARROW_ISO and Arrow's strict cast accepts it, else False."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for chunk in chunks:
        if not _iso_separators_everywhere(chunk):
            return False
    try:  # straight to ns: a year outside pandas' ns range (1677-2262) is an error, left to the path above
        return [pc.cast(chunk, pa.timestamp("ns")) for chunk in chunks]
    except pa.ArrowInvalid:  # an impossible date (or a zone, a letter): the per-layout path decides
        return False


def _iso_separators_everywhere(chunk: Any) -> bool:
    """True when every present value of a string chunk has a byte length of _ISO_SEPARATORS
    and its separators there (read from the offsets and data buffers, without a copy)."""
    import numpy as np

    n = len(chunk)
    if n == 0 or chunk.null_count == n:
        return True
    offsets, data = _string_buffers(chunk)
    starts = offsets[:-1]
    lengths = np.diff(offsets)
    if chunk.null_count:
        valid = chunk.is_valid().to_numpy(zero_copy_only=False)
        starts, lengths = starts[valid], lengths[valid]
    low, high = int(lengths.min()), int(lengths.max())
    if low not in _ISO_SEPARATORS or high not in _ISO_SEPARATORS:
        return False
    sizes = [low] if low == high else np.flatnonzero(np.bincount(lengths)).tolist()
    for size in sizes:
        seps = _ISO_SEPARATORS.get(size)
        if seps is None:
            return False
        at = starts if low == high else starts[lengths == size]
        for pos, allowed in seps:
            got = data[at + pos]
            ok = got == allowed[0]
            for extra in allowed[1:]:
                ok |= got == extra
            if not ok.all():
                return False
    return True


def _fit_ns(stamps: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Converted stamps (any unit) → nanosecond stamps, and masks of years too low / too high."""
    import pandas as pd

    if not pd.api.types.is_datetime64_any_dtype(stamps.dtype):
        stamps = pd.to_datetime(stamps, errors="coerce")
    years = stamps.dt.year
    low = stamps.notna() & (years < MIN_YEAR)
    high = stamps.notna() & (years > MAX_YEAR)
    return stamps.where(~(low | high)).astype("datetime64[ns]"), low, high


MAX_NS_SERIAL = (dt.datetime(MAX_YEAR, 12, 31) - EXCEL_EPOCH).days + 1


def _from_serial(serial: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Excel serial days → timestamps, and the mask of serials past 2261 (up to 9999-12-31)."""
    import pandas as pd

    ok = (serial >= 1) & (serial < MAX_NS_SERIAL)
    days = serial.where(ok)
    high = (serial >= MAX_NS_SERIAL) & (serial <= MAX_SERIAL)
    return pd.Timestamp(EXCEL_EPOCH) + pd.to_timedelta(days * 86400, unit="s").dt.round("s"), high


def _parse_text_dates(s: pd.Series, dayfirst: bool | None, serials: bool = False) -> tuple[pd.Series, pd.Series, str, pd.Series, pd.Series]:
    import numpy as np
    import pandas as pd

    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    offs = pd.Series(np.nan, index=s.index, dtype="float64")
    low = pd.Series(False, index=s.index)
    high = pd.Series(False, index=s.index)
    note = ""
    iso = s.str.extract(_ISO)
    m_iso = iso["y"].notna()
    if m_iso.any():
        idx = m_iso[m_iso].index
        out[idx], offs[idx], low[idx], high[idx] = _assemble(iso[m_iso], iso["y"][m_iso], iso["m"][m_iso], iso["d"][m_iso])
    rest = ~m_iso
    if rest.any():
        dmy = s[rest].str.extract(_DMY)
        m_dmy = dmy["a"].notna()
        if m_dmy.any():
            d = dmy[m_dmy]
            a, b = d["a"].astype(int), d["b"].astype(int)
            dotted = d["sep"] == "."
            if dayfirst is None:
                slashy = ~dotted
                says_day = bool(((a > 12) & slashy).any())
                says_month = bool(((b > 12) & slashy).any())
                if says_day and says_month:
                    first_is_day = (a >= b)  # conflicting column: each row its own reading
                    first_is_day = pd.Series(first_is_day, index=d.index) | dotted
                    note = "the column mixes day-first and month-first dates; set dates.dayfirst"
                elif says_day or says_month:
                    first_is_day = pd.Series(says_day, index=d.index) | dotted
                else:
                    # Nothing above 12 in either place: "/" reads month-first (US exports),
                    # "-" and "." day-first. Said once so the user can pin it.
                    first_is_day = (d["sep"] != "/")
                    if (d["sep"] == "/").any():
                        note = "slash dates have no day above 12; read as month/day; set dates.dayfirst to be sure"
            else:
                first_is_day = pd.Series(dayfirst, index=d.index) | dotted if dayfirst else pd.Series(False, index=d.index) | dotted
            day = a.where(first_is_day, b)
            month = b.where(first_is_day, a)
            year = d["y"].astype(int)
            short = d["y"].str.len() == 2
            year = year.where(~short, np.where(year < 69, 2000 + year, 1900 + year))
            idx = d.index
            out[idx], offs[idx], low[idx], high[idx] = _assemble(d, year, month, day)
        rest2 = rest.copy()
        rest2[dmy.index[m_dmy]] = False
        if rest2.any():
            comp = s[rest2].str.extract(_COMPACT)
            m_c = comp["y"].notna()
            if m_c.any():
                c = comp[m_c]
                y = c["y"].astype(int)
                lo, hi = y < MIN_YEAR, y > MAX_YEAR
                stamps = pd.to_datetime({"year": y.where(~(lo | hi), 2000), "month": c["m"].astype(int), "day": c["d"].astype(int)}, errors="coerce")
                out[c.index] = stamps.where(~(lo | hi)).astype("datetime64[ns]")
                low[c.index], high[c.index] = lo, hi
                rest2[c.index] = False
            if serials:
                ser = rest2 & s.str.match(_SERIAL)
                if ser.any():
                    out[ser], high[ser] = _from_serial(s[ser].astype("float64"))
    return out, offs, note, low, high


def _assemble(parts: pd.DataFrame, year: Any, month: Any, day: Any) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Timestamps from parts; plus UTC offsets in minutes and masks of years too low / too high.

    An offset beyond ±14:59 (``+99:99``) or a clock past 23:59:59 makes the value not a date.
    """
    import numpy as np
    import pandas as pd

    def num(col: str) -> pd.Series:
        return pd.to_numeric(parts[col], errors="coerce").fillna(0).astype(int)

    hour = num("H")
    ampm = parts["ampm"].fillna("").str.lower().str.replace(".", "", regex=False)
    hour = hour.where(ampm == "", (hour % 12) + np.where(ampm == "pm", 12, 0))
    frac = parts["f"].fillna("0").str.ljust(9, "0").str[:9].astype(int)
    years = pd.Series(year, index=parts.index).astype(int)
    low, high = years < MIN_YEAR, years > MAX_YEAR
    comps = pd.DataFrame({"year": years.where(~(low | high), 2000), "month": pd.Series(month).astype(int), "day": pd.Series(day).astype(int),
                          "hour": hour, "minute": num("M"), "second": num("S"), "ns": frac}, index=parts.index)
    stamps = pd.to_datetime(comps, errors="coerce").astype("datetime64[ns]")
    bad_clock = (comps["hour"] > 23) | (comps["minute"] > 59) | (comps["second"] > 59)
    stamps[bad_clock | low | high] = pd.NaT
    tzs = parts["tz"]
    offs = pd.Series(np.nan, index=parts.index, dtype="float64")
    has = tzs.notna()
    if has.any():
        t = tzs[has].str.upper()
        zero = t.isin(["Z", "UTC", "GMT"])
        digits = t.str.replace(":", "", regex=False)
        sign = np.where(digits.str[0] == "-", -1, 1)
        hh = pd.to_numeric(digits.str[1:3], errors="coerce").fillna(0)
        mm = pd.to_numeric(digits.str[3:5], errors="coerce").fillna(0)
        offs[has] = np.where(zero, 0.0, sign * (hh * 60 + mm))
        wrong = ~zero & ((hh > 14) | (mm > 59))  # no zone is further than ±14:00
        stamps[wrong[wrong].index] = pd.NaT
    return stamps, offs, low & ~bad_clock, high & ~bad_clock


def _localise(local: pd.Series, offset_min: pd.Series, tz: str) -> pd.Series:
    """Naive wall-clock values → ``tz``; values with a UTC offset → converted to ``tz``.

    A wall-clock time that occurs twice (the hour the clocks go back) is read as its
    first occurrence, like Python's ``fold=0``; one that never occurs (the hour the
    clocks go forward) moves forward to the first valid instant. Both are real
    timestamps from an export and are never rejected.
    """
    import numpy as np
    import pandas as pd

    has_off = offset_min.notna()
    if not has_off.any():  # the common case: one conversion of the whole column (NaT stays NaT)
        return local.dt.tz_localize(tz, ambiguous=np.ones(len(local), dtype=bool), nonexistent="shift_forward")
    result = pd.Series(pd.NaT, index=local.index, dtype=f"datetime64[ns, {tz}]")
    naive = ~has_off & local.notna()
    if naive.any():
        first = np.ones(int(naive.sum()), dtype=bool)  # True = the DST (earlier) reading of an ambiguous time
        result[naive] = local[naive].dt.tz_localize(tz, ambiguous=first, nonexistent="shift_forward")
    if has_off.any():
        utc = (local[has_off] - pd.to_timedelta(offset_min[has_off], unit="m")).dt.tz_localize("UTC")
        result[has_off] = utc.dt.tz_convert(tz)
    return result
