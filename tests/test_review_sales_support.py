"""Second-read regressions for the sales, leads, support and success families: each test
failed before its fix and pins a hand-computed number."""

from __future__ import annotations

import pytest

from crmmetrics import compute
from tests.test_success_metrics import project, rows_of

# C1 churned on 1 March (a bare date: the first instant of March), C2 still a customer.
BOUNDARY_CUSTOMERS = ["C1,2026-01-10,2026-01-10,2026-03-01,,SMB", "C2,2026-01-10,2026-01-10,,,SMB"]
BOUNDARY_ACTS = ["A1,C1,u1,2026-02-27 10:00,login,customer", "A2,C2,u2,2026-03-02 10:00,login,customer"]


def test_engagement_base_keeps_a_customer_churning_at_the_period_start(tmp_path):
    cfg = project(tmp_path, BOUNDARY_CUSTOMERS, BOUNDARY_ACTS)
    report = compute(cfg, ["engagement_rate", "customer_churn_rate"], since="2026-03-01", until="2026-04-01", as_of="2026-04-30")
    churn = rows_of(report, "customer_churn_rate").iloc[0]
    engaged = rows_of(report, "engagement_rate").iloc[0]
    # C1's churn on 1 March is a March event: C1 is in March's base (as churn rate says), engaged: C2 only → 1 ÷ 2.
    assert churn["denominator"] == 2
    assert (engaged["numerator"], engaged["denominator"], engaged["value"]) == (1, 2, pytest.approx(0.5))


def test_health_score_at_a_period_end_keeps_a_customer_churning_the_next_day(tmp_path):
    cfg = project(tmp_path, BOUNDARY_CUSTOMERS, BOUNDARY_ACTS)
    rows = rows_of(compute(cfg, ["health_score"], since="2026-02-01", until="2026-04-01", as_of="2026-04-30"), "health_score")
    # End of February: C1 (1 login in 30 days → usage 1/20 = 5) and C2 (0) → mean 2.5 over 2 customers.
    # End of the data (3 March): C1 churned, C2 logged in on 2 March → 5.
    assert list(rows["n"]) == [2, 1]
    assert list(rows["value"]) == pytest.approx([2.5, 5.0])


def test_health_score_without_any_signup_date_scores_at_the_data_end(tmp_path):
    # created_at mapped but blank in every row: the grid starts at the data's last day instead of crashing.
    cfg = project(tmp_path, ["C1,,2026-03-01,,,SMB", "C2,,,,,SMB"], ["A1,C1,u1,2026-04-02 10:00,login,customer"])
    row = rows_of(compute(cfg, ["health_score"], as_of="2026-04-30"), "health_score").iloc[0]
    # Paying population: C1 only (C2 never paid); one login in 30 days → 5.
    assert (row["period"], row["n"], row["value"]) == ("2026-04", 1, pytest.approx(5.0))


def test_rolling_mau_reaches_back_before_since(tmp_path):
    acts = ["A1,C1,u1,2026-03-25 09:00,login,customer", "A2,C1,u2,2026-04-03 09:00,login,customer"]
    cfg = project(tmp_path, ["C1,2025-01-01,,,,SMB"], acts, "  mau: {window: rolling30}\n  stickiness: {window: rolling30}")
    report = compute(cfg, ["mau", "stickiness"], period="week", since="2026-03-30", until="2026-04-06", as_of="2026-04-30")
    # Week of 30 March: the 30 days ending 5 April are 7 March-5 April → u1 (25 March) and u2.
    assert rows_of(report, "mau").iloc[0]["value"] == 2
    stick = rows_of(report, "stickiness").iloc[0]
    # DAU over the 7 days: 1 user-day ÷ 7; ÷ MAU 2.
    assert stick["value"] == pytest.approx(1 / 7 / 2)
