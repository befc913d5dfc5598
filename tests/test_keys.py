"""crmmetrics.io.keys: the Arrow fast paths answer exactly what the pandas expressions do."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmmetrics.engine import _join_first
from crmmetrics.domain.mrr import _factorize
from crmmetrics.io.keys import code_positions, first_positions, positions, repeated, row_codes, sorted_codes, text_codes


def _text(values: list[str | None]) -> pd.Series:
    return pd.Series(values, dtype="str")


@pytest.mark.parametrize("values", [
    ["a1", "a2", None, "a3"],            # sorted with a gap: the fast path, no repeats
    ["c", "b", "a"],                      # strictly decreasing: no repeats either
    ["a", "b", "a", None, None, "b"],    # repeats and repeated blanks (blanks never count)
    ["a", "a"],                           # sorted but not strictly
    [None, None],
    [],
])
@pytest.mark.parametrize("keep", ["first", "last"])
def test_repeated_matches_pandas_duplicated(values: list[str | None], keep: str) -> None:
    for col in (_text(values), pd.Series(values, dtype=object)):
        expected = (col.notna() & col.duplicated(keep=keep)).to_numpy(dtype=bool)  # type: ignore[arg-type]
        assert repeated(col, keep).tolist() == expected.tolist()  # type: ignore[arg-type]


def test_repeated_by_hand() -> None:
    ids = _text(["D1", "D2", "D1", None, "D2", None])
    assert repeated(ids, "first").tolist() == [False, False, True, False, True, False]
    assert repeated(ids, "last").tolist() == [True, True, False, False, False, False]


def test_positions_and_first_positions() -> None:
    keys = _text(["c1", "c2", "c3"])
    values = _text(["c3", None, "zz", "c1"])
    assert positions(keys, values).tolist() == [2, -1, -1, 0]
    assert positions(pd.Series(["c1", "c2"], dtype=object), pd.Series(["c2", "x"], dtype=object)).tolist() == [1, -1]
    # first_positions: the first present key wins; blanks never match, even a blank key
    keys = _text(["a", None, "b", "a"])
    assert first_positions(keys, _text(["a", "b", None, "q"])).tolist() == [0, 2, -1, -1]
    assert first_positions(pd.Series(["a"], dtype=object), _text(["a"])) is None  # not Arrow text: the caller's pandas path


def test_join_first_equals_the_left_merge_it_replaces() -> None:
    other = pd.DataFrame({
        "customer_id": _text(["a", None, "b", "a", "c", "d"]),
        "plan": _text(["P1", "P2", None, "P3", "P4", "P5"]),
        "tag": pd.Series([None, "x", "y", "z", None, "w"], dtype=object),
        "seats": [1, 2, 3, 4, 5, 6],
        "paying": [True, False, True, True, False, True],
    })
    frame = pd.DataFrame({"customer_id": _text(["a", "b", None, "zz", "c", "a", "d"]), "x": range(7)})
    for rows in (frame, frame[frame["customer_id"].isin(["a", "c"])], frame.iloc[:0]):
        for dims in (["plan"], ["tag"], ["seats"], ["paying"], ["plan", "tag", "seats"]):
            lookup = other[["customer_id", *dims]].dropna(subset=["customer_id"]).drop_duplicates("customer_id", keep="first")
            expected = rows.merge(lookup, on="customer_id", how="left", suffixes=("", "_customers"))
            pd.testing.assert_frame_equal(_join_first(rows, other, "customer_id", dims, "customers"), expected)
    joined = _join_first(frame, other, "customer_id", ["plan", "seats"], "customers")
    assert joined["plan"].fillna("-").tolist() == ["P1", "-", "-", "-", "P4", "P1", "P5"]
    assert joined["seats"].tolist()[:2] == [1.0, 3.0] and np.isnan(joined["seats"][2])  # an unmatched row widens ints, as the merge did


@pytest.mark.parametrize("values", [
    ["b", "a", None, "b", "é", "Z", "a"],  # unsorted, a blank (last), accents after ASCII as Python orders them
    ["C1", "C2", "C3"],                    # an export sorted by its id: no sort needed
    ["😀", "ÿ", "a"],                       # beyond the BMP: UTF-8 byte order is code point order
    [None, None],
    [],
])
def test_sorted_codes_number_groups_as_pandas_does(values: list[str | None]) -> None:
    for col in (_text(values), pd.Series(values, dtype=object)):
        expected = pd.DataFrame({"k": col}).groupby(["k"], sort=True, dropna=False).ngroup().to_numpy()
        assert sorted_codes(col).tolist() == expected.tolist()  # type: ignore[union-attr]


def test_sorted_codes_by_hand_and_other_columns() -> None:
    assert sorted_codes(_text(["b", None, "a", "b"])).tolist() == [1, 2, 0, 1]  # type: ignore[union-attr]
    # Numbers, mixed values and lone surrogates keep pandas' own ordering: the caller's path.
    for col in (pd.Series([2, 1]), pd.Series([1, "a"], dtype=object), pd.Series(["a", "\udcff"], dtype=object)):
        assert sorted_codes(col) is None


def test_mrr_account_codes_equal_pandas_ngroup() -> None:
    frame = pd.DataFrame({"customer_id": pd.Series(["c2", "c1", "c2", "c3", "c1"], dtype=object),
                          "plan": _text(["Pro", "Basic", "Basic", None, "Basic"]), "seats": [1, 2, 3, 4, 5]})
    for keys in (["customer_id"], ["customer_id", "plan"], ["plan", "customer_id"], ["customer_id", "seats"]):
        codes, index = _factorize(frame, keys)
        assert codes.tolist() == frame.groupby(keys, sort=True, dropna=False).ngroup().tolist()
        assert index.index.tolist() == sorted(set(codes.tolist()))
    assert _factorize(frame, ["customer_id", "plan"])[0].tolist() == [2, 0, 1, 3, 0]  # (c1,Basic) (c2,Basic) (c2,Pro) (c3,-)


def test_text_codes_are_shared_per_column_and_follow_changes() -> None:
    frame = pd.DataFrame({"customer_id": _text(["b", None, "a", "b"]), "n": range(4)})
    codes, uniques = text_codes(frame["customer_id"])  # type: ignore[misc]
    assert codes.tolist() == [0, -1, 1, 0] and uniques.to_pylist() == ["b", "a"]
    assert text_codes(frame["customer_id"])[0] is codes  # type: ignore[index]  # the same column: encoded once
    frame.loc[0, "customer_id"] = "z"  # a written column is encoded afresh
    assert text_codes(frame["customer_id"])[1].to_pylist() == ["z", "a", "b"]  # type: ignore[index]
    assert text_codes(pd.Series(["a"], dtype=object)) is None


def test_row_codes_and_code_positions_equal_positions_of_the_rows() -> None:
    frame = pd.DataFrame({"customer_id": _text(["c3", None, "zz", "c1", "c3"])})
    rows = frame[frame.index != 0]
    codes, uniques = row_codes(frame, rows, "customer_id")  # type: ignore[misc]
    keys = _text(["c1", "c2", "c3"])
    assert code_positions(keys, codes, uniques).tolist() == positions(keys, rows["customer_id"]).tolist() == [-1, -1, 0, 2]  # type: ignore[union-attr]
    assert row_codes(frame.set_index(frame.index + 1), rows, "customer_id") is None  # rows cannot be located by position
    assert code_positions(pd.Series(["c1"], dtype=object), codes, uniques) is None  # the caller's pandas path
