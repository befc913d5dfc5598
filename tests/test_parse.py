"""Typed parsing: dates, numbers, booleans, categories (crmmetrics/io/parse.py)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from crmmetrics.io.parse import apply_values_map, clean_text, parse_bool, parse_category, parse_datetime, parse_number


def S(*values):
    return pd.Series(list(values), dtype=object)


@pytest.mark.parametrize("text, expected", [
    ("2026-11-22", "2026-11-22 00:00"),
    ("2026-11-22 14:05", "2026-11-22 14:05"),
    ("2026-11-22T14:05:09.123", "2026-11-22 14:05:09.123"),
    ("22.11.2026", "2026-11-22 00:00"),
    ("22.11.2026 14:05", "2026-11-22 14:05"),
    ("05.01.2026", "2026-01-05 00:00"),  # dotted dates are always day-first
    ("20261122", "2026-11-22 00:00"),
    ("2026/11/22", "2026-11-22 00:00"),
    ("3/4/2026 2:05 PM", "2026-03-04 14:05"),
])
def test_dates_read_as_naive_wall_clock_in_the_reporting_zone(text, expected):
    got = parse_datetime(S(text), tz="Europe/Istanbul").values.iloc[0]
    assert got == pd.Timestamp(expected, tz="Europe/Istanbul")


def test_offsets_are_converted_to_the_reporting_zone():
    got = parse_datetime(S("2026-01-31T22:30:00+0000", "2026-01-31T22:30:00Z", "2026-02-01T01:30:00+03:00"), tz="Europe/Istanbul").values
    assert got.tolist() == [pd.Timestamp("2026-02-01 01:30", tz="Europe/Istanbul")] * 3


def test_slash_order_is_inferred_per_column_or_pinned():
    us = parse_datetime(S("3/4/2026", "12/25/2026"), tz="UTC").values
    assert us.iloc[0] == pd.Timestamp("2026-03-04", tz="UTC")
    eu = parse_datetime(S("3/4/2026", "25/12/2026"), tz="UTC").values
    assert eu.iloc[0] == pd.Timestamp("2026-04-03", tz="UTC")
    ambiguous = parse_datetime(S("3/4/2026"), tz="UTC")
    assert "dayfirst" in ambiguous.note
    pinned = parse_datetime(S("3/4/2026"), tz="UTC", dayfirst=True).values
    assert pinned.iloc[0] == pd.Timestamp("2026-04-03", tz="UTC")


def test_two_digit_years_and_dash_day_first():
    got = parse_datetime(S("22-11-26", "01-02-69"), tz="UTC").values
    assert got.tolist() == [pd.Timestamp("2026-11-22", tz="UTC"), pd.Timestamp("1969-02-01", tz="UTC")]


def test_numbers_in_text_are_serial_days_only_when_the_config_says_so():
    # issue #9 cause 10: a text "2026" became 1905-07-18; now it is not a date unless
    # dates.excel_serials is set (real Excel numeric cells stay serials, below).
    plain = parse_datetime(S("2026", "46348"), tz="UTC")
    assert plain.values.isna().all() and plain.bad.tolist() == [True, True]
    pinned = parse_datetime(S("46348"), tz="UTC", serials=True).values
    assert pinned.iloc[0] == pd.Timestamp("2026-11-22", tz="UTC")


def test_excel_cells_and_serials():
    got = parse_datetime(S(dt.datetime(2026, 1, 2, 3, 4), dt.date(2026, 1, 2), 46348.5), tz="UTC").values
    assert got.tolist() == [pd.Timestamp("2026-01-02 03:04", tz="UTC"), pd.Timestamp("2026-01-02", tz="UTC"),
                            pd.Timestamp("2026-11-22 12:00", tz="UTC")]


def test_bad_dates_are_flagged_not_guessed():
    parsed = parse_datetime(S("2026-02-30", "31.13.2026", "soon", None, "2026-11-22 25:00"), tz="UTC")
    assert parsed.bad.tolist() == [True, True, True, False, True]


def test_explicit_format_replaces_the_rules():
    parsed = parse_datetime(S("2026|11|22", "2026-11-22"), tz="UTC", fmt="%Y|%m|%d")
    assert parsed.values.iloc[0] == pd.Timestamp("2026-11-22", tz="UTC") and parsed.bad.tolist() == [False, True]


def test_date_only_fields_drop_the_time():
    got = parse_datetime(S("2026-11-22 23:59"), tz="UTC", date_only=True).values.iloc[0]
    assert got == pd.Timestamp("2026-11-22", tz="UTC")


@pytest.mark.parametrize("text, decimal, expected", [
    ("1.234,50", ",", 1234.5),
    ("(12,00) TL", ",", -12.0),
    ("₺7", ",", 7.0),
    ("1 234,5", ",", 1234.5),
    ("1,234.50", ".", 1234.5),
    ("$ (3.5)", ".", -3.5),
    ("-0.25", ".", -0.25),
    ("1e3", ".", 1000.0),
    ("45%", ".", 0.45),  # issue #9 cause 11: a percent sign is understood, never dropped
])
def test_numbers_with_locale_separators_and_symbols(text, decimal, expected):
    parsed = parse_number(S(text), decimal=decimal)
    assert parsed.values.iloc[0] == pytest.approx(expected) and not parsed.bad.iloc[0]


def test_a_wrong_decimal_setting_is_an_issue_not_a_tenfold_number():
    parsed = parse_number(S("1,5", "12,345", "1,234,567"), decimal=".")
    assert parsed.bad.tolist() == [True, False, False]
    # issue #9 cause 11: beside "1,5", "12,345" may be 12.345 as well as 12345: an issue, not a guess.
    assert parsed.values.isna().tolist() == [True, True, False] and parsed.values.iloc[2] == 1234567
    assert [(p.code, p.mask.tolist()) for p in parsed.problems] == [("ambiguous_number", [False, True, False])]


def test_integers_must_be_whole():
    parsed = parse_number(S("3", "3.5"), integer=True)
    assert parsed.bad.tolist() == [False, True]


def test_booleans_in_english_and_turkish():
    parsed = parse_bool(S("Evet", "HAYIR", "hayır", "yes", "0", "TRUE", "maybe", None, True))
    assert parsed.values.tolist() == [True, False, False, True, False, True, None, None, True]
    assert parsed.bad.tolist() == [False] * 6 + [True, False, False]


def test_categories_match_choices_case_insensitively():
    parsed = parse_category(S("Won", "LOST", "Cross-sell", "pending"), ("open", "won", "lost", "cross_sell"))
    assert parsed.values.tolist()[:3] == ["won", "lost", "cross_sell"] and parsed.bad.tolist() == [False, False, False, True]


def test_value_maps_with_default():
    vals = apply_values_map(S("Closed Won", "closed lost", "Negotiation", None), {"Closed Won": "won", "Closed Lost": "lost", "*": "open"})
    assert vals.tolist()[:3] == ["won", "lost", "open"] and pd.isna(vals.iloc[3])


def test_null_tokens_and_whitespace():
    assert clean_text(S(" a ", "NA", "", "?", None, 3.0), ["", "NA", "?"]).tolist() == ["a", None, None, None, None, 3.0]


def test_ambiguous_wall_clock_time_at_dst_end_is_read_not_rejected():
    # 2026-10-25 02:30 happens twice in Berlin (clocks go back at 03:00 CEST): read as
    # the first occurrence (CEST, UTC+2) = 00:30 UTC, never rejected as "not a date".
    p = parse_datetime(pd.Series(["2026-10-25 02:30", "25.10.2026 02:30", "2026-10-25 03:30"], dtype="str"), tz="Europe/Berlin")
    assert not p.bad.any()
    utc = p.values.dt.tz_convert("UTC").dt.strftime("%Y-%m-%d %H:%M").tolist()
    assert utc == ["2026-10-25 00:30", "2026-10-25 00:30", "2026-10-25 02:30"]
