"""BTYD summary against lifetimes' own test cases (METRICS.md B6, WX1–WX4)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from crmmetrics.analyses.btyd import btyd_summary, period_index
from crmmetrics.cli import app
from crmmetrics.config import load_config
from crmmetrics.engine import analyze
from tests.conftest import write


def _orders(rows: list[tuple]) -> pd.DataFrame:
    """(customer, 'YYYY-MM-DD'[, amount]) → the prepared-orders shape btyd_summary reads."""
    return pd.DataFrame({"customer_id": [str(r[0]) for r in rows], "_local": pd.to_datetime([r[1] for r in rows]),
                         "_value": [float(r[2]) if len(r) > 2 else 1.0 for r in rows]})


def _by_id(table: pd.DataFrame) -> dict[str, tuple]:
    cols = [c for c in ("frequency", "recency", "T", "monetary_value") if c in table]
    return {r["customer_id"]: tuple(r[c] for c in cols) for r in table.to_dict("records")}


END = dt.datetime(2015, 2, 7)


def test_wx1_frequency_recency_t():
    tx = _orders([(1, "2015-02-01"), (1, "2015-02-06"), (2, "2015-01-01"), (3, "2015-01-01"), (3, "2015-01-02"), (3, "2015-01-05")])
    got = _by_id(btyd_summary(tx, END, with_monetary=False))
    assert got == {"1": (1, 5, 6), "2": (0, 0, 37), "3": (2, 4, 37)}


WX2 = [(1, "2015-01-01", 1), (1, "2015-02-06", 2), (2, "2015-01-01", 2), (3, "2015-01-01", 3), (3, "2015-01-02", 1), (3, "2015-01-05", 5),
       (4, "2015-01-16", 6), (4, "2015-02-02", 3), (4, "2015-02-05", 3), (5, "2015-01-16", 3), (5, "2015-01-17", 1), (5, "2015-01-18", 8),
       (6, "2015-02-02", 5)]


def test_wx2_monetary_value_is_the_mean_of_repeat_periods():
    got = _by_id(btyd_summary(_orders(WX2), END))
    assert got == {"1": (1, 36, 37, 2), "2": (0, 0, 37, 0), "3": (2, 4, 37, 3), "4": (2, 20, 22, 3), "5": (2, 2, 22, 4.5), "6": (0, 0, 5, 0)}


def test_wx2_include_first_transaction():
    got = _by_id(btyd_summary(_orders(WX2), END, include_first_transaction=True))
    assert got["3"] == (3, 4, 37, 3)  # (3 + 1 + 5) ÷ 3
    assert got["2"] == (1, 0, 37, 2)


def test_wx3_unordered_input_drops_the_first_purchase_by_date():
    rows = [(2, "2014-04-09", 20), (2, "2014-03-14", 10), (2, "2014-05-21", 25)]
    unordered = btyd_summary(_orders(rows), dt.datetime(2014, 6, 1))
    ordered = btyd_summary(_orders(sorted(rows, key=lambda r: r[1])), dt.datetime(2014, 6, 1))
    assert unordered["monetary_value"].iloc[0] == 22.5
    pd.testing.assert_frame_equal(unordered, ordered)


def test_wx4_two_purchases_in_one_week_are_one_period():
    got = _by_id(btyd_summary(_orders([(1, "2015-01-01"), (1, "2015-01-01")]), dt.datetime(2015, 1, 10), freq="W", with_monetary=False))
    assert got["1"][0] == 0


def test_same_day_purchases_sum_their_amounts_and_weeks_start_on_monday():
    tx = _orders([(1, "2015-01-01", 2), (1, "2015-01-01", 3), (1, "2015-01-05", 7), (1, "2015-01-04", 1)])
    # Daily: periods 1 Jan (2+3), 4 Jan (1), 5 Jan (7): repeat mean (1 + 7) ÷ 2 = 4.
    assert _by_id(btyd_summary(tx, dt.datetime(2015, 1, 10)))["1"] == (2, 4, 9, 4)
    # Weekly (Monday start): Thu 1 and Sun 4 Jan share a week; Mon 5 Jan starts the next.
    assert _by_id(btyd_summary(tx, dt.datetime(2015, 1, 10), freq="W"))["1"] == (1, 1, 1, 7)


def test_freq_multiplier_and_months():
    tx = _orders([(1, "1997-01-01"), (1, "1997-08-02")])
    got = btyd_summary(tx, dt.datetime(1997, 9, 30), freq_multiplier=7, with_monetary=False).iloc[0]
    assert got["recency"] == pytest.approx(213 / 7) and got["T"] == pytest.approx(272 / 7)
    months = btyd_summary(tx, dt.datetime(1997, 9, 30), freq="M", with_monetary=False).iloc[0]
    assert (months["recency"], months["T"]) == (7, 8)
    idx = period_index(pd.Series(pd.to_datetime(["2015-01-31", "2015-02-01"])), "M")
    assert idx.iloc[1] - idx.iloc[0] == 1


def _project(tmp_path: Path, options: str = "") -> Path:
    write(tmp_path / "tx.txt", """
        00001 1 20150201 1 10.00
        00001 1 20150206 2 20.00
        00002 2 20150101 1 0.00
        00003 3 20150101 1 5.00
        00003 3 20150102 1 -2.00
        00003 3 20150105 3 9.00
        00003 3 20150301 1 4.00
    """)
    return write(tmp_path / "crm.yaml", f"""
        version: 1
        sources:
          orders:
            path: tx.txt
            csv: {{header: false, delimiter: whitespace}}
            fields: {{customer_id: 1, order_date: 3, amount: 5}}
        analyses:
          btyd: {{observation_period_end: "2015-02-07"{options}}}
    """)


def test_end_to_end_from_a_headerless_whitespace_file(tmp_path):
    report = analyze(load_config(_project(tmp_path, ", zero_amount: keep")), "btyd")
    got = _by_id(report.results)
    # 00003: the −2.00 credit is not a purchase; the 1 March order is after the end.
    assert got == {"00001": (1, 5, 6, 20), "00002": (0, 0, 37, 0), "00003": (1, 4, 37, 9)}
    codes = {i.code: i for i in report.issues}
    assert codes["after_observation_end"].count == 1 and codes["after_observation_end"].location.endswith("tx.txt:7")
    assert codes["credits_not_purchases"].count == 1


def test_zero_amount_excluded_on_request_and_as_of_overrides_the_end(tmp_path):
    cfg = load_config(_project(tmp_path, ", zero_amount: exclude"))
    report = analyze(cfg, "btyd", as_of="2015-03-01")
    got = _by_id(report.results)
    assert "00002" not in got  # its only order is worth 0 (an issue with its line)
    assert got["00003"] == (2, 59, 59, 6.5)
    assert next(i for i in report.issues if i.code == "zero_amount").location.endswith("tx.txt:3")


def test_cli_json_has_the_summary_table(tmp_path):
    res = CliRunner().invoke(app, ["analyze", "btyd", "-c", str(_project(tmp_path)), "-f", "json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert set(doc["tables"]) == {"summary"}
    assert doc["results"][0] == {"customer_id": "00001", "frequency": 1.0, "recency": 5.0, "T": 6.0, "monetary_value": 20.0}
    assert "observation end 2015-02-07" in res.stderr

_tx = st.lists(st.tuples(st.sampled_from("abcde"), st.integers(0, 120), st.integers(1, 500)), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(_tx, st.sampled_from(["D", "W", "M"]), st.booleans())
def test_fitter_input_checks_hold_and_row_order_does_not_matter(rows, freq, include_first):
    """The checks lifetimes' fitters make: 0 ≤ recency ≤ T, recency 0 when frequency 0, integer frequency."""
    base = dt.datetime(2020, 1, 1)
    tx = pd.DataFrame({"customer_id": [r[0] for r in rows], "_local": [base + dt.timedelta(days=r[1]) for r in rows],
                       "_value": [float(r[2]) for r in rows]})
    end = base + dt.timedelta(days=120)
    table = btyd_summary(tx, end, freq, include_first_transaction=include_first)
    assert (table["recency"] >= 0).all() and (table["recency"] <= table["T"]).all()
    assert (table["frequency"] % 1 == 0).all()
    repeat = table["frequency"] - (1 if include_first else 0)
    assert (table.loc[repeat == 0, "recency"] == 0).all()
    assert (table.loc[table["frequency"] > 0, "monetary_value"] > 0).all()
    shuffled = btyd_summary(tx.iloc[::-1], end, freq, include_first_transaction=include_first)
    pd.testing.assert_frame_equal(table, shuffled)
