"""The whole-column fast paths of io/parse.py decide exactly what the general rules decide.

Each fast path is checked against the same parser with the fast path switched off, on
columns mixing valid values, impossible ones (Feb 30, 24:00, 23:59:60, month 13), far
years and other layouts (issue #15: speed must not change a number or an issue).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmmetrics.io import parse

two = st.integers(0, 99).map(lambda v: f"{v:02d}")
year = st.sampled_from(["0001", "1677", "1678", "1970", "1999", "2023", "2024", "2261", "2262", "9999"])
iso = st.tuples(year, two, two, st.sampled_from(["", " ", "T"]), two, two, st.sampled_from(["", ":00", ":59", ":60", ":61"])).map(
    lambda p: f"{p[0]}-{p[1]}-{p[2]}" + (f"{p[3]}{p[4]}:{p[5]}{p[6]}" if p[3] else ""))
dotted = st.tuples(two, two, year, st.booleans(), two, two, st.sampled_from(["", ":00", ":30", ":60"])).map(
    lambda p: f"{p[0]}.{p[1]}.{p[2]}" + (f" {p[4]}:{p[5]}{p[6]}" if p[3] else ""))
realistic = st.builds(lambda y, m, d, h, mi: f"{y}-{m:02d}-{d:02d} {h:02d}:{mi:02d}:00", st.integers(1990, 2030),
                      st.integers(1, 12), st.integers(1, 28), st.integers(0, 23), st.integers(0, 59))
other = st.sampled_from(["", "1/2/2023", "13/01/2023", "20230105", "2023-01-05T10:00:00+03:00", "2023-01-05 10:00Z",
                         "2023-1-5", "45000", "yesterday", "2023-03-26 02:30:00", "2023-10-29 02:30:00", " 2023-01-05 "])
cell = st.one_of(iso, dotted, realistic, realistic, other, st.none())


def _problems(parsed) -> list:
    """Every problem a parse reported, with its rows (issue reporting must not change either)."""
    return [(p.code, p.level, p.mask.tolist()) for p in parsed.problems]


def _both(values: list, tz: str, monkeypatch, open_end: bool = False) -> tuple:
    def run():
        try:
            r = parse.parse_datetime(pd.Series(values, dtype="str"), tz=tz, open_end=open_end)
            return r.values.tolist(), r.bad.tolist(), r.note, _problems(r)
        except Exception as exc:  # the slow path's own failures must stay the same failures
            return type(exc).__name__
    fast = run()
    with monkeypatch.context() as m:
        m.setattr(parse, "_arrow_layouts", lambda v: (pd.Series(pd.NaT, index=v.index, dtype="datetime64[ns]").to_numpy(),
                                                      pd.Series(False, index=v.index).to_numpy()))
        slow = run()
    return fast, slow


@settings(max_examples=300, deadline=None)
@given(values=st.lists(cell, min_size=1, max_size=25), tz=st.sampled_from(["UTC", "Europe/Istanbul", "Europe/Berlin", "America/New_York"]),
       open_end=st.booleans())
def test_arrow_dates_equal_the_general_rules(values, tz, open_end):
    with pytest.MonkeyPatch.context() as mp:
        fast, slow = _both(values, tz, mp, open_end)
    assert fast == slow


def _near_iso(template: str) -> st.SearchStrategy:
    """``template``'s digits (d), each possibly swapped for a character the ISO cast must refuse."""
    odd = st.sampled_from(["a", "Z", "+", "-", " ", ":", ".", "é", "٣"])  # "٣": a non-ASCII digit
    digit = st.one_of(st.sampled_from("0123456789"), st.sampled_from("0123456789"), st.sampled_from("0129"), odd)
    return st.tuples(*[digit if c == "d" else st.just(c) for c in template]).map("".join)


# Whole columns the byte-layout check of _whole_column_iso sees: the ISO lengths (10, 16,
# 19) with the separators in place, any position possibly wrong, zone-like tails, blanks.
near_iso = st.one_of(_near_iso("dddd-dd-dd"), _near_iso("dddd-dd-dd dd:dd"), _near_iso("dddd-dd-ddTdd:dd:dd"),
                     _near_iso("dddd-dd-dd dd:dd:dd"), realistic, realistic,
                     st.sampled_from(["2023-01-05T10:00+03", "2023-01-05 10:00-03", "2023-01-05 10:00:0Z", "2023-01-05 10",
                                      "2023-01-0510:00:00", "2023/01/05", "2023-01-05 24:00:00", "2023-02-29"]), st.none())


@settings(max_examples=400, deadline=None)
@given(values=st.lists(near_iso, min_size=1, max_size=12), tz=st.sampled_from(["UTC", "Europe/Berlin"]))
def test_whole_column_iso_equals_the_general_rules(values, tz):
    with pytest.MonkeyPatch.context() as mp:
        fast, slow = _both(values, tz, mp)
    assert fast == slow


def test_whole_column_iso_takes_only_clean_iso_columns():
    import numpy as np
    import pyarrow as pa

    ok = pa.array(["2023-01-05", "2023-01-05 10:00", "2023-01-05T10:00:30", None], type=pa.large_string())
    local, done = parse._whole_column_iso(ok, *_year_bounds())
    assert done.tolist() == [True, True, True, False]
    assert local[:3].astype("datetime64[s]").astype(str).tolist() == ["2023-01-05T00:00:00", "2023-01-05T10:00:00", "2023-01-05T10:00:30"]
    sliced = pa.chunked_array([pa.array(["x", "2023-01-05"])[1:], pa.array(["2024-02-29 23:59:59"], type=pa.string())])
    assert np.asarray(parse._whole_column_iso(sliced, *_year_bounds())[1]).tolist() == [True, True]
    for refused in (["2023-01-05", "2023-1-5"], ["2023-02-30"], ["1677-12-31"], ["2023-01-05 10:00+03"], ["2023-01-05 10"]):
        assert parse._whole_column_iso(pa.array(refused), *_year_bounds()) is None, refused


def _year_bounds() -> tuple[int, int]:
    import numpy as np

    return (int(np.datetime64(f"{parse.MIN_YEAR}-01-01", "s").astype("int64")),
            int(np.datetime64(f"{parse.MAX_YEAR + 1}-01-01", "s").astype("int64")))


def test_arrow_dates_take_a_clean_column_and_leave_an_impossible_date(monkeypatch):
    good = pd.Series(["2023-01-05 10:00:00", "2023-01-05T11:30", "05.01.2023 09:15", None], dtype="str")
    local, done = parse._arrow_layouts(good)
    assert done.tolist() == [True, True, True, False]
    assert [str(v) for v in local[:3]] == ["2023-01-05T10:00:00.000000000", "2023-01-05T11:30:00.000000000",
                                           "2023-01-05T09:15:00.000000000"]
    # One Feb 30 among ISO values: that layout is left to the general rules entirely.
    _, done = parse._arrow_layouts(pd.Series(["2023-02-28", "2023-02-30", "05.01.2023"], dtype="str"))
    assert done.tolist() == [False, False, True]
    r = parse.parse_datetime(pd.Series(["2023-02-28", "2023-02-30"], dtype="str"), tz="UTC")
    assert r.bad.tolist() == [False, True] and str(r.values[0]) == "2023-02-28 00:00:00+00:00"


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "America/New_York"])
def test_localise_whole_column_equals_the_masked_conversion(tz):
    """_localise converts an offset-free column in one call; the rows must come out as the
    row-masked conversion made them: an ambiguous fall-back time is its first (DST)
    reading, a skipped spring-forward time moves forward, NaT stays NaT."""
    import numpy as np

    local = pd.Series(pd.to_datetime(["2023-10-29 02:30", "2023-11-05 01:30", "2023-03-26 02:30", "2023-03-12 02:30", None,
                                      "2023-06-01 12:00"]).as_unit("ns"))
    got = parse._localise(local, pd.Series(np.nan, index=local.index), tz)
    naive = local.notna()
    want = pd.Series(pd.NaT, index=local.index, dtype=f"datetime64[ns, {tz}]")
    want[naive] = local[naive].dt.tz_localize(tz, ambiguous=np.ones(int(naive.sum()), dtype=bool), nonexistent="shift_forward")
    pd.testing.assert_series_equal(got, want)


number_cell = st.one_of(
    st.from_regex(r"[+-]?[0-9]{1,18}", fullmatch=True),
    st.from_regex(r"[+-]?[0-9]{1,10}[.,][0-9]{1,9}", fullmatch=True),
    st.sampled_from(["-0", "-0.0", "+0", "007", "5.", ".5", "1,234.50", "1.234,50", "(12.00)", "$7", "1e5", "abc", "", "12 TL"]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.none())


@settings(max_examples=300, deadline=None)
@given(values=st.lists(number_cell, min_size=1, max_size=25), decimal=st.sampled_from([".", ","]), integer=st.booleans())
def test_arrow_numbers_equal_the_general_rules(values, decimal, integer):
    column = pd.Series(values, dtype="str")
    assert _numbers_fast_and_general(column, decimal, integer) is True


def _numbers_fast_and_general(column: pd.Series, decimal: str, integer: bool = False) -> bool:
    """parse_number's values, bad mask and problems with the Arrow fast path equal those
    without it (repr keeps the sign of zero apart: "-0.0" must stay -0.0 and "-0" read as 0.0)."""
    def run():
        r = parse.parse_number(column, decimal=decimal, integer=integer)
        return [repr(v) for v in r.values.tolist()], r.bad.tolist(), _problems(r)

    fast = run()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(parse, "_arrow_plain_numbers", lambda v, d: (np.full(len(v), np.nan), np.zeros(len(v), dtype=bool)))
        slow = run()
    return fast == slow


plain_cell = st.one_of(
    st.from_regex(r"[+-]?[0-9]{1,15}", fullmatch=True),
    st.from_regex(r"[+-]?[0-9]{1,7}[.,][0-9]{1,7}", fullmatch=True),
    st.sampled_from(["-0", "-0.0", "+0", "007", "-0,0"]),
    st.none())


@settings(max_examples=300, deadline=None)
@given(values=st.lists(plain_cell, min_size=1, max_size=25), decimal=st.sampled_from([".", ","]), chunks=st.integers(1, 3))
def test_arrow_numbers_of_an_all_plain_column_equal_the_general_rules(values, decimal, chunks):
    """A column whose every present cell is a plain number (blanks allowed, several chunks
    as the CSV reader hands them over) is cast whole: the same values, signs of zero and
    masks as the general rules, and arrays the caller may write to."""
    import pyarrow as pa

    size = -(-len(values) // chunks)
    parts = [pa.array(values[i:i + size], pa.large_string()) for i in range(0, len(values), size)]
    column = pa.table({"x": pa.chunked_array(parts, pa.large_string())}).to_pandas()["x"]
    out, done = parse._arrow_plain_numbers(column, decimal)
    assert out.flags.writeable and done.flags.writeable
    plain = [v is not None and ("," if decimal == "." else ".") not in v and len(v) <= 15 for v in values]
    if all(p or v is None for p, v in zip(plain, values)) and any(plain):
        assert done.tolist() == plain  # the whole-column cast took every present value
    assert _numbers_fast_and_general(column, decimal) is True


# ---------------------------------------------------------------- Excel's object columns
# A column of Excel cells is object dtype and may mix text, numbers, dates and blanks.
# When pandas' infer_dtype says every present cell has one type, clean_text, parse_id and
# parse_datetime skip their per-cell isinstance tests; pinned to "mixed" they run them.
# Control characters matter: Python's str.strip removes \x1c-\x1f, Arrow's trim does not.

import datetime as dt  # noqa: E402

from crmmetrics.schema import FieldType  # noqa: E402

_TEXTS = st.one_of(st.text(alphabet=st.sampled_from(list("ab 7-\t\n\x1c\x1d\x1e\x1f\x85\xa0\u2028İ")), max_size=6),
                   st.sampled_from(["NA", " NA\x1f", "2023-01-05", "05.01.2023 10:00", "45000"]))
_DATES = st.datetimes(min_value=dt.datetime(1600, 1, 1), max_value=dt.datetime(2300, 1, 1))
_BLANK = st.sampled_from([None, float("nan"), ""])
_NUMBERS = st.one_of(st.integers(-5, 50000), st.floats(allow_nan=False, width=32))
_ANY = st.one_of(_TEXTS, _DATES, _DATES.map(lambda d: d.date()), _NUMBERS, st.booleans(), st.times(), st.timedeltas(), _BLANK)
excel_column = st.one_of(*(st.lists(st.one_of(cell, _BLANK), min_size=1, max_size=20)
                           for cell in (_TEXTS, _DATES, _DATES.map(lambda d: d.date()), _NUMBERS, st.booleans(), st.times())),
                         st.lists(_ANY, min_size=1, max_size=20))


def _excel_pipeline(cells: list, ftype: FieldType) -> tuple:
    """What the loader makes of one Excel column: cleaned cells, then the parse."""
    raw = pd.Series(cells, dtype=object)
    cleaned = parse.clean_text(raw, ["", "NA", "-"])
    shown = lambda s: [(type(v).__name__, repr(v)) for v in s.tolist()]  # noqa: E731 (NaN and NaT compare by text)
    try:
        r = parse.parse(cleaned, ftype, tz="Europe/Istanbul")
        return shown(cleaned), str(cleaned.dtype), shown(r.values), str(r.values.dtype), r.bad.tolist(), r.note, _problems(r)
    except Exception as exc:  # the per-cell paths' own failures must stay the same failures
        return shown(cleaned), type(exc).__name__


@settings(max_examples=500, deadline=None)
@given(cells=excel_column, ftype=st.sampled_from([FieldType.ID, FieldType.TEXT, FieldType.CATEGORY, FieldType.DATETIME,
                                                   FieldType.DATE, FieldType.NUMBER]))
def test_excel_columns_of_one_cell_type_equal_the_per_cell_rules(cells, ftype):
    fast = _excel_pipeline(cells, ftype)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(parse, "_uniform_kind", lambda values: "mixed")
        slow = _excel_pipeline(cells, ftype)
    assert fast == slow


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(st.one_of(_DATES, _DATES.map(lambda d: d.date()), _NUMBERS, _TEXTS, _BLANK), min_size=1, max_size=20),
       ftype=st.sampled_from([FieldType.DATETIME, FieldType.DATE]))
def test_excel_date_cells_read_as_their_midnight(cells, ftype):
    """A date cell (Excel's exact midnight, which calamine gives as a date) reads as that
    day's midnight datetime: pandas converts the column's date cells itself (issue #15:
    no Python call per cell), with the same values, unit and problems."""
    midnight = [dt.datetime(v.year, v.month, v.day) if isinstance(v, dt.date) and not isinstance(v, dt.datetime) else v
                for v in cells]
    assert _excel_pipeline(cells, ftype)[2:] == _excel_pipeline(midnight, ftype)[2:]


def test_excel_text_is_stripped_like_python_not_like_arrow():
    cleaned = parse.clean_text(pd.Series(["\x1cA-1\x1f", " NA ", None, "b"], dtype=object), ["NA"])
    assert cleaned.tolist() == ["A-1", None, None, "b"]
    assert parse._uniform_kind(pd.Series(["a", None, float("nan")], dtype=object)) == "string"


# Values an export's text columns hold: plain codes and ids, null tokens, and edges
# Arrow's trim must see (ASCII blanks and controls, NBSP, em space, Turkish letters).
text_cell = st.one_of(
    st.sampled_from(["closed", "TKT-00000001", "2024-11-11 22:41:51", "", "NA", "null", "?", "ı", "şŞ", "Kazanıldı",
                     " closed", "open ", "\tNA", "NA\u00a0", "\u2003x", "a\u00a0b", "x\x1f", "\x00", "ü"]),
    st.text(alphabet=st.sampled_from(["a", "Z", "1", " ", "\t", "\n", "\u00a0", "\u2003", "ı", "İ", "\x0b", "\x1c"]), max_size=4),
    st.none())


@settings(max_examples=400, deadline=None)
@given(values=st.lists(text_cell, max_size=25), chunks=st.integers(1, 3))
def test_clean_text_skips_the_strip_only_when_it_changes_nothing(values, chunks):
    import pyarrow as pa

    nulls = ["", "NA", "null", "?"]
    # Several chunks, as pyarrow's CSV reader hands them over (one per block).
    size = -(-len(values) // chunks) or 1
    parts = [pa.array(values[i:i + size], pa.large_string()) for i in range(0, len(values), size)]
    column = pa.table({"x": pa.chunked_array(parts, pa.large_string())}).to_pandas()["x"]
    stripped = column.str.strip()
    expected = stripped.mask(stripped.isin(nulls))
    got = parse.clean_text(column, nulls)
    assert got.dtype == expected.dtype
    assert got.isna().tolist() == expected.isna().tolist()
    assert got.fillna("<NA>").tolist() == expected.fillna("<NA>").tolist()
