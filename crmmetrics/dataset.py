"""Load what a plan needs into typed frames, and collect Issues with locations.

Each entity becomes one pandas frame with canonical column names plus two private
columns, ``_src`` (which source) and ``_row`` (0-based data row in that source), so
any later problem can be traced back to ``file:LINE`` or ``Sheet!C17``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmmetrics.errors import InputNotFoundError, Issue, Level
from crmmetrics.io.keys import repeated
from crmmetrics.io.parse import OPEN_END_FIELDS, clean_text, map_values, parse
from crmmetrics.io.paths import source_paths
from crmmetrics.io.readers import RawTable, read_source
from crmmetrics.progress import current
from crmmetrics.schema import ENTITIES, FieldType

if TYPE_CHECKING:
    import pandas as pd

    from crmmetrics.config import Config

ROW_ISSUES_PER_FIELD = 100  # beyond this, one summary issue carries the count


@dataclass
class InputFact:
    """What was read: for the report's ``inputs`` list."""

    entity: str
    path: str
    sha256: str
    rows_read: int
    rows_rejected: int
    format: str
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Dataset:
    """Typed frames per entity, the input facts and the issues found while loading."""

    frames: dict[str, Any] = field(default_factory=dict)
    inputs: list[InputFact] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    tables: list[RawTable] = field(default_factory=list)
    # entity → fields read from a source column or constant (the others of its frame are
    # declared fields the config does not map: all-null columns, see load_dataset)
    mapped: dict[str, set[str]] = field(default_factory=dict)
    # entity → parquet_reader.Skipped: rows a date range push-down left unread, for the
    # as-of policy (their after_as_of count, the grid's first date) and the pushed_down issue
    skipped: dict[str, Any] = field(default_factory=dict)

    def mapped_fields(self, entity: str) -> set[str]:
        """The fields of ``entity`` that came from the data (a declared but unmapped field is
        an all-null column). Ask it only where the difference matters, such as a message
        saying what to map; a frame built by hand (tests) counts its own columns."""
        known = self.mapped.get(entity)
        if known is None:
            frame = self.frames.get(entity)
            return set() if frame is None else set(frame.columns) - {"_src", "_row"}
        return known

    def locate(self, src: Any, rows: Any, fieldname: str | None = None) -> list[str]:
        """Human locations for parallel arrays of source ids and row positions."""
        out: list[str] = []
        for s, r in zip(src, rows):
            out.extend(self.tables[int(s)].locate([r], fieldname))
        return out

    def row_issues(self, frame: pd.DataFrame, code: str, message: str, *, entity: str, fieldname: str | None = None,
                   metric: str | None = None, level: Level = Level.WARNING, limit: int = ROW_ISSUES_PER_FIELD) -> None:
        """One Issue per row of ``frame`` (up to ``limit``, then one summary issue)."""
        n = len(frame)
        if n == 0:
            return
        head = frame.iloc[:limit]
        locs = self.locate(head["_src"].to_numpy(), head["_row"].to_numpy(), fieldname)
        values = head[fieldname].tolist() if fieldname and fieldname in head else [None] * len(head)
        for loc, val, src in zip(locs, values, head["_src"].to_numpy()):
            table = self.tables[int(src)]
            column = table.column_names.get(fieldname or "", fieldname)
            self.issues.append(Issue(level, code, message, entity=entity, source=table.path, location=loc, column=column,
                                     field=fieldname, value=None if val is None else str(val), metric=metric))
        if n > limit:
            self.issues.append(Issue(level, code, f"{message}: {n - limit} more rows", entity=entity, field=fieldname,
                                     metric=metric, count=n - limit))


def expand_paths(path: str, base_dir: Path) -> list[tuple[str, str]]:
    """(path to open, path to show) for a config path: relative to the config; a path
    that does not exist but has ``* ? [`` is a pattern (io/paths.py)."""
    if path == "-":
        return [("-", "<stdin>")]
    files, pattern = source_paths(path, base_dir)
    if pattern:
        if not files:
            raise InputNotFoundError(f"no file matches {path!r} (looked in {base_dir})",
                                     hint="a path that exists is read as it is; * ? [ make the others patterns")
        return [(str(m), str(m)) for m in files]
    return [(str(files[0]), _display(files[0]))]


def _display(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def load_dataset(config: Config, needs: dict[str, set[str]], overrides: dict[str, str] | None = None,
                 stdin: Any = None, declared: dict[str, set[str]] | None = None, windows: dict[str, Any] | None = None) -> Dataset:
    """Read every source of the entities in ``needs`` (entity → fields), typed.

    ``declared`` (entity → every field the run's metrics may read) are always columns of
    the entity's frame: all-null with the field's declared type when the config does not
    map them, so a metric behaves the same whichever columns the plan happened to load.
    ``windows`` (entity → :class:`crmmetrics.pushdown.Window`) are the date ranges
    Parquet sources may skip the rows outside of; see :mod:`crmmetrics.pushdown`.
    """
    import pandas as pd

    from crmmetrics.threads import worker_count

    worker_count()  # a bad CRMMETRICS_THREADS is refused before any input is read, however small
    ds = Dataset()
    overrides = overrides or {}
    windows = windows or {}
    for entity_name, fields in needs.items():
        sources = config.sources(entity_name)
        if not sources:
            continue  # an optional entity the config does not have
        parts = []
        for src_index, source in enumerate(sources):
            raw_path = overrides.get(entity_name, source.path)
            base = Path.cwd() if entity_name in overrides else config.base_dir
            for open_path, shown in expand_paths(raw_path, base):
                parts.append(_load_one(ds, config, entity_name, source, fields, open_path, shown, stdin, windows.get(entity_name)))
            if entity_name in overrides:
                break  # --input replaces the entity's sources with one file
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        ds.mapped[entity_name] = set(frame.columns) - {"_src", "_row"}
        frame = with_declared(frame, entity_name, (declared or {}).get(entity_name, set()), config.timezone)
        ds.frames[entity_name] = frame
        _report_pushed_down(ds, entity_name, windows.get(entity_name))
        _check_duplicate_keys(ds, entity_name, frame)
        _release_arrow_memory()
    return ds


def null_column(ftype: FieldType, n: int, tz: str) -> pd.Series:
    """``n`` nulls typed as a mapped all-blank column of ``ftype`` parses to (dates: NaT in
    the reporting zone; numbers, money, durations: NaN floats; the rest: None objects).
    tests/test_declared_fields.py compares it with the parser's output."""
    import pandas as pd

    kind = _null_kind(ftype)
    if kind == "datetime":
        return pd.Series(pd.NaT, index=pd.RangeIndex(n), dtype=f"datetime64[ns, {tz}]")
    if kind == "float":
        return pd.Series(float("nan"), index=pd.RangeIndex(n), dtype="float64")
    import numpy as np

    return pd.Series(np.full(n, None, dtype=object), index=pd.RangeIndex(n), dtype=object, copy=False)  # not a list of n Nones


def with_declared(frame: pd.DataFrame, entity: str, fields: set[str], tz: str) -> pd.DataFrame:
    """``frame`` with an all-null column (declared type) for each of ``fields`` it lacks."""
    import pandas as pd

    ent = ENTITIES[entity]
    missing = sorted(f for f in fields if f not in frame and ent.field(f) is not None)
    if not missing:
        return frame
    # One frame built from the columns as they are (copy=False: pandas neither stacks
    # same-typed columns into one block nor copies them, as a concat does: 0.3 s and
    # 0.5 GB at 10M tickets), and one all-null column per null kind, shared by every
    # field of that kind: the frame is copy-on-write, so a write to one of them copies
    # that column alone (four unmapped ticket durations: one array, not four).
    columns: dict[str, Any] = {c: frame[c] for c in frame.columns}
    shared: dict[str, pd.Series] = {}
    for f in missing:
        ftype = ent.field(f).type  # type: ignore[union-attr]
        kind = _null_kind(ftype)
        if kind not in shared:
            shared[kind] = null_column(ftype, len(frame), tz).set_axis(frame.index)
        columns[f] = shared[kind]
    return pd.DataFrame(columns, index=frame.index, copy=False)


def _null_kind(ftype: FieldType) -> str:
    """Which all-null column ``null_column`` makes for ``ftype`` (fields of one kind share it)."""
    if ftype in (FieldType.DATETIME, FieldType.DATE):
        return "datetime"
    if ftype in (FieldType.MONEY, FieldType.NUMBER, FieldType.INTEGER, FieldType.DURATION):
        return "float"
    return "object"


def _size(path: str) -> int | None:
    """Bytes in ``path`` for the progress display (None for stdin or an unreadable path)."""
    try:
        return None if path == "-" else os.path.getsize(path)
    except OSError:
        return None


def _report_pushed_down(ds: Dataset, entity_name: str, window: Any) -> None:
    """One info issue with the rows of ``entity_name`` a date range push-down left unread."""
    skipped = ds.skipped.get(entity_name)
    if skipped is None or not skipped.rows:
        return
    bounds = [f"from {window.since:%Y-%m-%d}" if window.since else "", f"before {window.upper:%Y-%m-%d %H:%M}"]
    ds.issues.append(Issue(Level.INFO, "pushed_down", f"{skipped.rows} {entity_name} rows outside the run's date range "
                           f"({window.field} {' '.join(b for b in bounds if b)}) not read (Parquet date range push-down); "
                           "problems in them are not reported",
                           entity=entity_name, field=window.field, count=skipped.rows))


def _read_windowed(ds: Dataset, config: Config, entity_name: str, source: Any, wanted: dict[str, Any], open_path: str,
                   shown: str, stdin: Any, window: Any) -> RawTable:
    """Read one source, pushing ``window`` down (for this source's zone and the field's
    type), and add the rows it skipped to the entity's tally."""
    if window is not None:
        fdef = ENTITIES[entity_name].field(window.field)
        window = window.for_source(source, config.timezone, date_only=fdef is not None and fdef.type is FieldType.DATE)
    table = read_source(open_path, shown, source, wanted, stdin, window)
    if table.skipped is not None:
        ds.skipped.setdefault(entity_name, type(table.skipped)()).add(table.skipped)
    return table


def _load_one(ds: Dataset, config: Config, entity_name: str, source: Any, fields: set[str], open_path: str,
              shown: str, stdin: Any, window: Any = None) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    ent = ENTITIES[entity_name]
    mapping = {k: v for k, v in source.fields.model_dump().items() if v is not None}
    if getattr(source, "line_items", False) and ent.key in mapping:
        fields = set(fields) | {ent.key}  # rows are rolled up by the key, so it is always read
    wanted = {f: mapping[f] for f in fields if f in mapping}
    sink = current()
    sink.source_start(shown, _size(open_path))
    table = _read_windowed(ds, config, entity_name, source, wanted, open_path, shown, stdin, window)
    sink.source_parsing()
    src_id = len(ds.tables)
    ds.tables.append(table)
    ds.issues.extend(table.issues)
    # Row issues need only where each row came from; the typed columns are collected and
    # the frame is built once at the end (no column-by-column frame growth).
    frame = pd.DataFrame({"_src": np.full(table.n_rows, src_id, dtype=np.int32), "_row": np.arange(table.n_rows, dtype=np.int64)},
                         copy=False)
    typed: dict[str, Any] = {}
    rejected = np.zeros(table.n_rows, dtype=bool)
    for fname in sorted(fields):
        fdef = ent.field(fname)
        ftype = fdef.type if fdef else FieldType.CATEGORY  # other mapped columns are dimensions
        if fname in table.columns:
            # Taken out of the table: the raw text is dropped as soon as its column is typed
            # (the table itself stays alive for row locations).
            raw = table.columns.pop(fname).reset_index(drop=True)
        elif fname in source.constants:
            raw = pd.Series([source.constants[fname]] * table.n_rows, dtype=object)
        else:
            continue
        cleaned = clean_text(raw, null_tokens(source.csv, ftype))
        del raw
        cleaned, fallen = map_values(cleaned, source.values.get(fname, {}), turkish=source.csv.locale == "tr" or table.encoding == "cp1254")
        if fallen:
            _report_default(ds, table, entity_name, fname, source.values[fname]["*"], fallen)
        if _stays_text(cleaned, ftype, fdef.choices if fdef else ()):
            # Ids, labels and free text are already what the frame stores: no parse, no
            # round trip through one Python object per cell (10M ids: 0.7 GB and seconds).
            typed[fname] = cleaned.array
            del cleaned
            _release_arrow_memory()
            continue
        parsed = _parse_field(cleaned, ftype, source, config.timezone, fdef.choices if fdef else (), open_end=fname in OPEN_END_FIELDS,
                              fx=(config.model.fx_rates, config.model.currency))
        typed[fname] = parsed.values.to_numpy() if ftype not in (FieldType.DATETIME, FieldType.DATE) else parsed.values.reset_index(drop=True)
        bad = parsed.bad.to_numpy(dtype=bool)
        if bad.any():
            rejected |= bad
            bad_rows = frame.loc[bad, ["_src", "_row"]].copy()
            bad_rows[fname] = cleaned[bad].to_numpy()
            code = f"unparseable_{ftype.value}" if ftype is not FieldType.CATEGORY else "unknown_value"
            ds.row_issues(bad_rows, code, f"{fname}: {parsed.reason}; value ignored" + (f" (hint: {parsed.hint})" if parsed.hint else ""),
                          entity=entity_name, fieldname=fname)
        for problem in parsed.problems:
            rejected |= _report_problem(ds, frame, cleaned, problem, entity_name, fname, table)
        if parsed.note:
            ds.issues.append(Issue(Level.WARNING, "date_order", f"{fname}: {parsed.note}", entity=entity_name, source=table.path,
                                   column=table.column_names.get(fname), field=fname))
        del cleaned, parsed
        _release_arrow_memory()
    frame = pd.DataFrame({"_src": frame["_src"].to_numpy(), "_row": frame["_row"].to_numpy(), **typed}, copy=False)
    del typed
    if getattr(source, "line_items", False):
        frame, rejected = _roll_up_line_items(ds, entity_name, table.path, frame, rejected)
    ds.inputs.append(InputFact(entity_name, table.path, table.sha256, table.n_rows, int(rejected.sum()), table.kind,
                               table.encoding, table.delimiter, table.sheet))
    sink.source_done()
    return frame


def _release_arrow_memory() -> None:
    """Hand the Arrow memory of the raw column just typed back to the system.

    pyarrow's allocator (mimalloc) keeps freed blocks for reuse; while the columns are
    typed into numpy arrays (the system allocator) that reuse never comes, so without
    this the freed raw text stays in the process (≈ 0.8 GB of the 10M-ticket peak).
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _stays_text(cleaned: pd.Series, ftype: FieldType, choices: tuple[str, ...]) -> bool:
    """True when a cleaned column can go into the frame as it is.

    An id, text or choice-free category column of CSV text parses to the same strings as
    Python objects, from which the frame infers pandas' ``str`` dtype again; a column of
    exactly that dtype with at least one value skips the detour (an all-blank column
    stays object, as it did).
    """
    if not (ftype in (FieldType.ID, FieldType.TEXT) or (ftype is FieldType.CATEGORY and not choices)):
        return False
    return bool(cleaned.dtype == _inferred_text_dtype() and cleaned.notna().any())


def _inferred_text_dtype() -> Any:
    """The dtype pandas gives a column of Python strings (``str``, Arrow-backed, NaN for missing)."""
    import numpy as np
    import pandas as pd

    return pd.Series(np.array(["x"], dtype=object)).dtype


def _parse_field(cleaned: Any, ftype: FieldType, source: Any, tz: str, choices: tuple[str, ...], open_end: bool = False,
                 fx: tuple[dict[str, float], str | None] = ({}, None)) -> Any:
    """Parse one column; naive times in the source's own zone, durations into minutes."""
    if ftype is FieldType.DURATION:
        from crmmetrics.io.durations import parse_duration

        return parse_duration(cleaned, getattr(source, "duration_unit", "minutes"))
    source_tz = getattr(source, "timezone", None)
    parsed = parse(cleaned, ftype, decimal=source.csv.decimal, thousands=source.csv.thousands, dayfirst=source.dates.dayfirst,
                   date_format=source.dates.format, tz=source_tz or tz, choices=choices, serials=source.dates.excel_serials,
                   open_end=open_end, fx=fx[0], currency=fx[1])
    if source_tz and source_tz != tz and ftype in (FieldType.DATETIME, FieldType.DATE):
        # Naive values were read in the export's zone; metrics work in the reporting zone.
        parsed.values = parsed.values.dt.tz_convert(tz)
    return parsed


def _roll_up_line_items(ds: Dataset, entity_name: str, path: str, frame: pd.DataFrame, rejected: Any) -> tuple[pd.DataFrame, Any]:
    """One row per record: the first row of each key carries the record (Shopify line items)."""
    key = ENTITIES[entity_name].key
    if not key or key not in frame:
        return frame, rejected
    later = (frame[key].notna() & frame.duplicated(key, keep="first")).to_numpy()
    if later.any():
        n_records = int((~later).sum())
        ds.issues.append(Issue(Level.INFO, "line_items_rolled_up", f"{int(later.sum())} line-item rows rolled up into {n_records} {entity_name}"
                               f" (fields from each {key}'s first row)", entity=entity_name, source=path, count=int(later.sum())))
        frame = frame[~later].reset_index(drop=True)
        rejected = rejected[~later]
    return frame, rejected


# Types whose columns take the null tokens by default; text keeps "NA" (North America).
_TOKEN_TYPES = frozenset({FieldType.MONEY, FieldType.NUMBER, FieldType.INTEGER, FieldType.DATE, FieldType.DATETIME, FieldType.BOOL,
                          FieldType.DURATION})


def null_tokens(csv_opts: Any, ftype: FieldType) -> list[str]:
    """The cell texts that mean 'no value' for a column of ``ftype``.

    The default tokens (NA, None, -, ?, ...) apply to numbers, dates and yes/no
    fields; for text, ids and categories only the empty cell is null, unless the
    config sets ``csv.null_values`` itself (then the list applies everywhere).
    """
    if "null_values" in csv_opts.model_fields_set or ftype in _TOKEN_TYPES:
        return csv_opts.null_values
    return [""]


def _report_default(ds: Dataset, table: RawTable, entity_name: str, fname: str, default: Any, fallen: dict[str, int]) -> None:
    """Say which raw values only matched the values: map's ``"*"`` default, with counts."""
    top = sorted(fallen.items(), key=lambda kv: -kv[1])
    shown = ", ".join(f"{v!r} {n}" for v, n in top[:5]) + (f", +{len(top) - 5} more values" if len(top) > 5 else "")
    ds.issues.append(Issue(Level.INFO, "value_defaulted", f"{fname}: {sum(fallen.values())} rows matched no values: key and took "
                           f"the \"*\" default {default!r}: {shown}", entity=entity_name, source=table.path,
                           column=table.column_names.get(fname), field=fname, value=top[0][0], count=sum(fallen.values())))


def _report_problem(ds: Dataset, frame: pd.DataFrame, cleaned: pd.Series, problem: Any, entity_name: str, fname: str,
                    table: RawTable) -> Any:
    """Issues for one parse problem; returns the rows it rejected (none for an info reading)."""
    import numpy as np

    mask = problem.mask.to_numpy(dtype=bool)
    if not mask.any():
        return np.zeros(len(mask), dtype=bool)
    message = f"{fname}: {problem.reason}" + (f" (hint: {problem.hint})" if problem.hint else "")
    if problem.level == "info":
        first = frame.loc[mask, ["_src", "_row"]].iloc[0]
        ds.issues.append(Issue(Level.INFO, problem.code, message, entity=entity_name, source=table.path,
                               location=ds.locate([first["_src"]], [first["_row"]], fname)[0], column=table.column_names.get(fname),
                               field=fname, value=str(cleaned[mask].iloc[0]), count=int(mask.sum())))
        return np.zeros(len(mask), dtype=bool)
    rows = frame.loc[mask, ["_src", "_row"]].copy()
    rows[fname] = cleaned[mask].to_numpy()
    ds.row_issues(rows, problem.code, message, entity=entity_name, fieldname=fname,
                  level=Level.ERROR if problem.level == "error" else Level.WARNING)
    return mask


def _check_duplicate_keys(ds: Dataset, entity_name: str, frame: pd.DataFrame) -> None:
    key = ENTITIES[entity_name].key
    # Orders may be exported one row per line item; the order policy (domain/orders.py)
    # decides what a repeated order_id means and reports it, so it is not flagged here.
    if not key or key not in frame or entity_name == "orders":
        return
    dup = repeated(frame[key], "first")  # a sorted id column is vouched for without hashing it
    if dup.any():
        report_duplicate_ids(ds, entity_name, frame[dup])


def report_duplicate_ids(ds: Dataset, entity_name: str, rows: pd.DataFrame) -> None:
    """One ``duplicate_id`` issue per row of ``rows`` (repeats of an earlier row's key), capped."""
    key = ENTITIES[entity_name].key or ""
    ds.row_issues(rows, "duplicate_id", f"{key} appears more than once; every row is kept", entity=entity_name, fieldname=key)
