"""Regression tests from the review of the core (shapes, parsing, engine/CLI, orders,
cohorts): each one failed before its fix, with hand-computed expectations."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from crmmetrics import compute, load_config
from crmmetrics.cli import app
from crmmetrics.io.parse import parse_datetime
from tests.conftest import SURVEY_CONFIG, write

ORDERS_CONFIG = """
version: 1
timezone: UTC
sources:
  orders:
    path: orders.csv
    fields: {order_id: id, customer_id: customer, order_date: date, amount: amount}
"""


def _orders(tmp_path, body: str):
    (tmp_path / "orders.csv").write_text("id,customer,date,amount\n" + body, encoding="utf-8")
    return load_config(write(tmp_path / "crm.yaml", ORDERS_CONFIG))


def test_empty_period_extras_of_a_ratio_are_zero_not_null(tmp_path):
    # APV: January 100 + credit −20, March 50; February has no orders. The ratio shape's
    # extras (gross_revenue, credits) are sums: 0 in the empty February row, like n.
    cfg = _orders(tmp_path, "1,A,2026-01-05,100\nR1,A,2026-01-20,-20\n2,B,2026-03-05,50\n")
    res = compute(cfg, ["average_purchase_value"], period="month", as_of="2026-04-01").results
    feb = res[res["period"] == "2026-02"].iloc[0]
    assert pd.isna(feb["value"]) and feb["n"] == 0
    assert feb["gross_revenue"] == 0 and feb["credits"] == 0
    jan = res[res["period"] == "2026-01"].iloc[0]
    assert (jan["value"], jan["gross_revenue"], jan["credits"]) == (80.0, 100, 20)


def test_ambiguous_wall_clock_time_at_dst_end_is_read_not_rejected():
    # 2026-10-25 02:30 happens twice in Berlin (clocks go back at 03:00 CEST): read as
    # the first occurrence (CEST, UTC+2) = 00:30 UTC, never rejected as "not a date".
    p = parse_datetime(pd.Series(["2026-10-25 02:30", "25.10.2026 02:30", "2026-10-25 03:30"], dtype="str"), tz="Europe/Berlin")
    assert not p.bad.any()
    utc = p.values.dt.tz_convert("UTC").dt.strftime("%Y-%m-%d %H:%M").tolist()
    assert utc == ["2026-10-25 00:30", "2026-10-25 00:30", "2026-10-25 02:30"]


def test_new_customer_revenue_with_only_guest_orders_does_not_crash(tmp_path):
    # One guest order of 100 in January: total revenue 100, new-customer revenue 0.
    cfg = _orders(tmp_path, "1,,2026-01-05,100\n")
    row = compute(cfg, ["new_customer_revenue"], period="month", as_of="2026-02-01").results.iloc[0]
    assert (row["period"], row["value"], row["total_revenue"], row["new_customers"]) == ("2026-01", 0.0, 100, 0)


def test_cohorts_without_identified_customers_is_an_empty_matrix_not_a_crash(tmp_path):
    _orders(tmp_path, "1,,2026-01-05,100\n")
    res = CliRunner().invoke(app, ["analyze", "cohorts", "-c", str(tmp_path / "crm.yaml"), "-f", "csv"])
    assert res.exit_code == 0, res.stderr
    assert res.stdout.strip() == "cohort,size,incomplete_k,p0"


def test_check_uses_the_overall_value_not_the_last_segment_of_report_by(survey_project):
    # March: C1 (plan Pro) 10, 10; C2 (plan Basic) 0, 0 → overall NPS 100 × (2 − 2) ÷ 4 = 0,
    # a breach of min 10. The Pro segment alone (100) sorted last and hid it.
    config = SURVEY_CONFIG + "report: {by: [plan]}\nthresholds:\n  nps: {min: 10}\n"
    cfg = survey_project([("nps", 10, "2026-03-05", "C1"), ("nps", 0, "2026-03-05", "C2"),
                          ("nps", 0, "2026-03-06", "C2"), ("nps", 10, "2026-03-06", "C1")], config=config)
    res = CliRunner().invoke(app, ["check", "-c", str(cfg), "-q", "--as-of", "2026-04-01"])
    assert res.exit_code == 1, res.stdout + res.stderr
    assert res.stdout == "CRIT nps 2026-03 = 0.0 (min 10, n=4)\n"
    # compute without -b still applies report.by.
    res = CliRunner().invoke(app, ["compute", "nps", "-c", str(cfg), "-f", "csv", "-q", "--as-of", "2026-04-01"])
    assert res.exit_code == 0 and "plan" in res.stdout.splitlines()[0]
