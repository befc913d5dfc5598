"""Cohort retention matrix (METRICS.md B9): return_on, return_on_or_after, revenue, incomplete period."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from typer.testing import CliRunner

from crmmetrics.cli import app
from crmmetrics.config import load_config
from crmmetrics.engine import analyze
from crmmetrics.errors import UsageError
from tests.conftest import write
from tests.test_order_metrics import _orders

# Jan cohort: A (Jan, Mar), B (Jan, Feb, Feb), C (Jan only). Feb cohort: D (Feb, Apr 2).
# E's Apr order is after the observation end given below; X's credit is not an order.
ORDERS = """
id,customer,date,amount,status
1,A,2026-01-05,100,paid
2,B,2026-01-06,50,paid
3,C,2026-01-20,10,paid
4,B,2026-02-01,20,paid
5,B,2026-02-15,30,paid
6,D,2026-02-03,40,paid
7,A,2026-03-10,70,paid
8,D,2026-04-02,60,paid
9,C,2026-02-20,-10,paid
10,E,2026-04-20,5,paid
"""


def _project(tmp_path: Path, options: str = "{}") -> Path:
    write(tmp_path / "orders.csv", ORDERS)
    return write(tmp_path / "crm.yaml", f"""
        version: 1
        sources:
          orders:
            path: orders.csv
            fields: {{order_id: id, customer_id: customer, order_date: date, amount: amount, status: status}}
        analyses:
          cohorts: {options}
    """)


def _matrix(report) -> pd.DataFrame:
    return report.results.set_index("cohort")


def test_return_on_matrix_sizes_and_incomplete_flag(tmp_path):
    report = analyze(load_config(_project(tmp_path)), "cohorts", as_of="2026-04-10")
    m = _matrix(report)
    assert m.loc["2026-01", "size"] == 3 and m.loc["2026-02", "size"] == 1
    assert [m.loc["2026-01", f"p{k}"] for k in range(4)] == [1.0, pytest.approx(1 / 3), pytest.approx(1 / 3), 0.0]
    assert [m.loc["2026-02", f"p{k}"] for k in range(3)] == [1.0, 0.0, 1.0]
    assert pd.isna(m.loc["2026-02", "p3"])  # May has not started
    # April is not over on 10 April: column p3 of January and p2 of February are flagged.
    assert (m.loc["2026-01", "incomplete_k"], m.loc["2026-02", "incomplete_k"]) == (3, 2)
    cells = report.tables["cells"]
    assert cells[~cells["complete"]][["cohort", "k"]].values.tolist() == [["2026-01", 3], ["2026-02", 2]]
    # Weighted average: p1 = (1 + 0) ÷ (3 + 1); p2 = (1 + 1) ÷ 4; p3 = 0 ÷ 3 (only January reached it).
    avg = m.loc["weighted average"]
    assert (avg["p1"], avg["p2"], avg["p3"]) == (0.25, 0.5, 0.0)
    counts = report.tables["counts"].set_index("cohort")
    assert counts.loc["2026-01", "p1"] == 1
    assert next(i for i in report.issues if i.code == "after_as_of").location.endswith("orders.csv:11")


def test_return_on_or_after_counts_later_activity_in_earlier_columns(tmp_path):
    report = analyze(load_config(_project(tmp_path, "{variant: return_on_or_after}")), "cohorts", as_of="2026-04-30")
    m = _matrix(report)
    # Jan cohort: last active month A → Mar (k2), B → Feb (k1), C → Jan (k0).
    assert [m.loc["2026-01", f"p{k}"] for k in range(4)] == [1.0, pytest.approx(2 / 3), pytest.approx(1 / 3), 0.0]
    assert [m.loc["2026-02", f"p{k}"] for k in range(3)] == [1.0, 1.0, 1.0]
    assert pd.isna(m.loc["2026-01", "incomplete_k"])  # April is complete on 30 April


def test_revenue_retention_can_exceed_100_percent_and_nets_credits(tmp_path):
    report = analyze(load_config(_project(tmp_path, "{value: revenue}")), "cohorts", as_of="2026-04-30")
    m = _matrix(report)
    # Jan cohort revenue: Jan 160, Feb 20 + 30 − 10 (C's credit) = 40, Mar 70.
    assert [m.loc["2026-01", f"p{k}"] for k in range(3)] == [1.0, 0.25, pytest.approx(70 / 160)]
    assert m.loc["2026-02", "p2"] == 1.5  # D: 40 then 60
    counts = report.tables["counts"].set_index("cohort")
    assert counts.loc["2026-01", "p1"] == 40


def test_quarter_grain_and_default_observation_end(tmp_path):
    report = analyze(load_config(_project(tmp_path)), "cohorts", period="quarter")
    m = _matrix(report)
    # Observation end = the last order's day (20 Apr). Q1 cohort A, B, C, D; of them only D ordered in Q2.
    assert m.loc["2026-Q1", "size"] == 4 and m.loc["2026-Q1", "p1"] == 0.25
    assert m.loc["2026-Q2", "size"] == 1  # E
    assert report.options["cohorts"]["observation_end"] == "2026-04-20"


def test_all_grain_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="grain"):
        analyze(load_config(_project(tmp_path)), "cohorts", period="all")


def test_revenue_with_or_after_is_a_config_error(tmp_path):
    from crmmetrics.errors import ConfigError

    with pytest.raises(ConfigError, match="return_on only"):
        load_config(_project(tmp_path, "{value: revenue, variant: return_on_or_after}"))


def test_cohorts_without_identified_customers_is_an_empty_matrix_not_a_crash(tmp_path):
    _orders(tmp_path, "1,,2026-01-05,100\n")
    res = CliRunner().invoke(app, ["analyze", "cohorts", "-c", str(tmp_path / "crm.yaml"), "-f", "csv"])
    assert res.exit_code == 0, res.stderr
    assert res.stdout.strip() == "cohort,size,incomplete_k,p0"
