"""Ids across the part files of a Dask run: duplicates reported, last rows kept.

One partition sees only its part file, so two things the pandas engine does on the whole
frame need the client:

- ``duplicate_id``: a key repeated in another part file. Each partition returns a 128-bit
  hash of every key it holds once (two independent 64-bit hashes: the odds of two
  different ids colliding are about n² / 2¹²⁹, below 10⁻²⁰ at 50 million ids); the client
  counts the repeats of an earlier part exactly as ``duplicated(keep="first")`` would on
  the concatenated frame, and re-reads the key column of the few parts holding the first
  :data:`~crmmetrics.dataset.ROW_ISSUES_PER_FIELD` examples to locate them.
- the "last row wins" rule of deal and lead metrics (:data:`crmmetrics.domain.deals.LAST_ROW_WINS`):
  a scan of the keys (and the entity date, for the as-of cut) before the metrics run
  tells each partition which of its rows a later part repeats; the partition drops them
  and the client adds them to the metric's ``duplicate_deal`` / ``duplicate_lead`` count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crmmetrics.errors import Issue

if TYPE_CHECKING:
    import pandas as pd

    from crmmetrics.config import Config
    from crmmetrics.grid import Grid

HASH_KEY_2 = "crmmetrics-dask!"  # 16 bytes; pandas' own default key makes the first half


def id_hashes(ids: pd.Series) -> pd.DataFrame:
    """Two independent 64-bit hashes of each id's text (columns h1, h2), index kept."""
    import numpy as np
    import pandas as pd

    text = np.asarray(ids.astype(str), dtype=object)
    return pd.DataFrame({"h1": pd.util.hash_array(text), "h2": pd.util.hash_array(text, hash_key=HASH_KEY_2)}, index=ids.index)


def first_ids(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """The hashes and ``_row`` of each key's first row in ``frame`` (the partition's ids)."""
    firsts = frame[frame[key].notna() & ~frame.duplicated(key, keep="first")]
    return id_hashes(firsts[key]).assign(_row=firsts["_row"].to_numpy()).reset_index(drop=True)


def in_set(frame: pd.DataFrame, key: str, hashes: pd.DataFrame) -> Any:
    """Boolean mask of the rows of ``frame`` whose key is among ``hashes``."""
    import numpy as np
    import pandas as pd

    if not len(hashes) or not len(frame):
        return np.zeros(len(frame), dtype=bool)
    mine = pd.MultiIndex.from_frame(id_hashes(frame[key].fillna("")))
    return (frame[key].notna().to_numpy() & mine.isin(pd.MultiIndex.from_frame(hashes[["h1", "h2"]])))


# ------------------------------------------------------------------ last row wins


def scan_kept_ids(config: Config, entity: str, part: str, key: str, grid: Grid) -> pd.DataFrame:
    """The distinct key hashes of a part's rows that survive the as-of cut (runs on a worker)."""
    from crmmetrics.dataset import load_dataset
    from crmmetrics.engine import mapped_fields
    from crmmetrics.grid import apply_as_of
    from crmmetrics.schema import ENTITIES

    date_field = ENTITIES[entity].date_field
    fields = {key} | ({date_field} if date_field and date_field in mapped_fields(config, entity) else set())
    ds = load_dataset(config, {entity: fields}, {entity: part})
    apply_as_of(ds, grid, config.timezone)
    frame = ds.frames[entity]
    return id_hashes(frame.loc[frame[key].notna(), key]).drop_duplicates().reset_index(drop=True)


def repeated_later(scans: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Per part, the hashes a later part holds too: its rows with them are not the last."""
    import pandas as pd

    if not scans:
        return []
    allk = pd.concat([s.assign(_part=k) for k, s in enumerate(scans)], ignore_index=True)
    last = allk.groupby(["h1", "h2"], sort=False)["_part"].transform("max")
    earlier = allk[allk["_part"] < last]
    return [earlier.loc[earlier["_part"] == k, ["h1", "h2"]].reset_index(drop=True) for k in range(len(scans))]


# ------------------------------------------------------------------ duplicate_id across parts


def cross_part_repeats(ids: list[pd.DataFrame | None]) -> pd.DataFrame:
    """(part, _row) of each part's first row of a key an earlier part already holds, in order.

    What ``duplicated(["h1", "h2"], keep="first")`` gives on the parts concatenated, by a
    stable sort of the 128-bit keys instead: a key's rows are then adjacent in part order and
    all but the first repeat it. The client holds every id's hashes here; pandas' two-column
    ``duplicated`` (a hash table per column, then one on the combined labels) peaked at about
    100 bytes per id on top of them, the sort at about 30 (measured on 10M ids: 964 vs 306 MB),
    which was most of the client's memory once the quantiles were sketched (docs/performance.md).
    """
    import numpy as np
    import pandas as pd

    frames = [(k, f) for k, f in enumerate(ids) if f is not None and len(f)]
    if not frames:
        return pd.DataFrame({"_part": pd.Series(dtype="int64"), "_row": pd.Series(dtype="int64")})
    h1 = np.concatenate([f["h1"].to_numpy() for _, f in frames])
    h2 = np.concatenate([f["h2"].to_numpy() for _, f in frames])
    order = np.lexsort((h2, h1))  # stable: equal keys stay in concatenation order
    h1, h2 = h1[order], h2[order]
    repeat = np.zeros(len(order), dtype=bool)
    np.logical_and(h1[1:] == h1[:-1], h2[1:] == h2[:-1], out=repeat[1:])
    del h1, h2
    at = np.sort(order[repeat])  # positions in the concatenation, in order
    starts = np.cumsum([0] + [len(f) for _, f in frames[:-1]])
    part = np.array([k for k, _ in frames], dtype="int64")[np.searchsorted(starts, at, side="right") - 1]
    rows = np.concatenate([f["_row"].to_numpy() for _, f in frames])[at]
    return pd.DataFrame({"_part": part, "_row": rows.astype("int64")})


def locate_duplicates(config: Config, entity: str, part: str, rows: list[int]) -> list[Issue]:
    """``duplicate_id`` issues for ``rows`` of one part, located as the pandas engine does (runs on a worker)."""
    from crmmetrics.dataset import load_dataset, report_duplicate_ids
    from crmmetrics.schema import ENTITIES

    key = ENTITIES[entity].key or ""
    ds = load_dataset(config, {entity: {key}}, {entity: part})
    ds.issues.clear()  # the part's own issues were reported by its partition
    frame = ds.frames[entity]
    report_duplicate_ids(ds, entity, frame[frame["_row"].isin(rows)])
    return ds.issues


def duplicate_issues(client: Any, config: Config, entity: str, parts: list[str], ids: list[pd.DataFrame | None],
                     limit: int | None = None) -> list[Issue]:
    """The ``duplicate_id`` issues of keys repeated across part files: located examples
    (up to ``limit``) and one summary with the rest, as ``Dataset.row_issues`` words them."""
    from dask import delayed

    from crmmetrics.dataset import ROW_ISSUES_PER_FIELD
    from crmmetrics.errors import Level
    from crmmetrics.schema import ENTITIES

    limit = ROW_ISSUES_PER_FIELD if limit is None else limit
    repeats = cross_part_repeats(ids)
    if repeats.empty:
        return []
    shown = repeats.iloc[:limit]
    tasks = [delayed(locate_duplicates, pure=False)(config, entity, parts[int(p)], grp["_row"].tolist())
             for p, grp in shown.groupby("_part", sort=True)]
    issues = [i for found in client.gather(client.compute(tasks)) for i in found]
    rest = len(repeats) - len(shown)
    if rest:
        key = ENTITIES[entity].key
        issues.append(Issue(Level.WARNING, "duplicate_id", f"{key} appears more than once; every row is kept: {rest} more rows",
                            entity=entity, field=key, count=rest))
    return issues


def kept_ids_drop_sets(client: Any, config: Config, entity: str, key: str, parts: list[str], grid: Grid) -> list[pd.DataFrame]:
    """Run the key scan of ``entity``'s parts and return, per part, the hashes a later part repeats."""
    from dask import delayed

    tasks = [delayed(scan_kept_ids, pure=False)(config, entity, part, key, grid) for part in parts]
    return repeated_later(list(client.gather(client.compute(tasks))))

