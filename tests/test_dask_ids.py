"""Ids across part files on the Dask engine (crmmetrics/dask_ids.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def test_cross_part_repeats_equal_pandas_duplicated_on_the_concatenation():
    """The sort-based duplicate_id search gives what duplicated(keep="first") gives on the
    parts concatenated: each later first row of a key already held, in part and row order."""
    from crmmetrics.dask_ids import cross_part_repeats

    rng = np.random.default_rng(9)
    keys = rng.integers(0, 2**64, 300, dtype="uint64")
    parts = []
    for k in range(7):
        pick = rng.choice(len(keys), 60, replace=False)  # distinct within a part, as first_ids gives
        parts.append(pd.DataFrame({"h1": keys[pick], "h2": keys[pick] ^ np.uint64(k % 2), "_row": rng.permutation(60) + 2}))
    parts[3] = None  # a part without ids
    parts.insert(5, parts[0].iloc[:0])  # an empty part
    allk = pd.concat([f.assign(_part=k) for k, f in enumerate(parts) if f is not None and len(f)], ignore_index=True)
    want = allk.loc[allk.duplicated(["h1", "h2"], keep="first"), ["_part", "_row"]].reset_index(drop=True)
    got = cross_part_repeats(parts)
    assert len(want) > 50 and got.equals(want.astype("int64"))
    assert cross_part_repeats([None, parts[0].iloc[:0]]).empty
