"""Second-read fixes in the subscription and acquisition families (hand-computed values)."""

from __future__ import annotations

import pytest

from crmmetrics import load_config
from crmmetrics.errors import ConfigError
from tests.test_acquisition_metrics import project
from tests.test_subscription_metrics import AS_OF, at, make, rows, run, sub


# ------------------------------------------------------------------ CAC lag_periods


def test_cac_lag_matches_only_the_period_lag_periods_earlier(tmp_path):
    # March's two new customers are matched with February's 800 only: January's 5,000
    # (two periods earlier) used to be lumped into the first requested period too.
    subs = [sub("OLD", "2025-06-01"), sub("A", "2026-03-10"), sub("B", "2026-03-11"), sub("C", "2026-04-02")]
    spend = [("2026-01-15", 5000, "acquisition", "ads"), ("2026-02-01", 800, "acquisition", "ads"),
             ("2026-03-31", 300, "acquisition", "ads")]
    cfg = project(tmp_path, subs, spend, metrics="  cac: {lag_periods: 1}")
    rep = run(cfg, ["cac"], since="2026-03-01", until="2026-05-01")
    march, april = at(rep, "cac", "2026-03"), at(rep, "cac", "2026-04")
    assert (march["numerator"], march["denominator"], march["value"]) == (800, 2, pytest.approx(400))
    assert (april["numerator"], april["denominator"], april["value"]) == (300, 1, pytest.approx(300))


def test_cac_lag_two_quarters_and_weeks(tmp_path):
    subs = [sub("OLD", "2025-01-01"), sub("A", "2026-07-10"), sub("B", "2026-07-20")]
    spend = [("2025-12-31", 900, "acquisition", "ads"), ("2026-01-01", 600, "acquisition", "ads"), ("2026-04-01", 70, "acquisition", "ads")]
    cfg = project(tmp_path, subs, spend, metrics="  cac: {lag_periods: 2}")
    # Q3 2026 customers ← Q1 2026 spend (600); Q4 2025's 900 belongs to Q2.
    row = at(run(cfg, ["cac"], period="quarter", since="2026-07-01", until="2026-10-01"), "cac", "2026-Q3")
    assert (row["numerator"], row["value"]) == (600, pytest.approx(300))


def test_cac_lag_with_a_single_period_is_refused(tmp_path):
    cfg = project(tmp_path, [sub("A", "2026-03-10")], [("2026-02-01", 800, "acquisition", "ads")], metrics="  cac: {lag_periods: 1}")
    with pytest.raises(ConfigError, match="lag_periods"):
        run(cfg, ["cac"], period="all", since="2026-03-01", until="2026-04-01")


# ------------------------------------------------------------------ analyze mrr_movements


SUBS_ONLY = """
version: 1
timezone: UTC
sources:
  subscriptions:
    path: subs.csv
    fields: {subscription_id: id, customer_id: customer, started_at: start, ended_at: end, amount: amount}
"""


def test_mrr_movements_runs_on_subscriptions_alone_like_the_metrics(tmp_path):
    # The *_mrr metrics run without a customers source; the analysis refused (exit 78).
    from crmmetrics.engine import analyze
    from tests.conftest import write

    (tmp_path / "subs.csv").write_text("id,customer,start,end,amount\nS1,A,2026-01-01,,100\nS2,B,2026-02-01,2026-03-15,50\n"
                                       "S3,A,2026-03-10,,30\n", encoding="utf-8")
    cfg = load_config(write(tmp_path / "crm.yaml", SUBS_ONLY))
    rep = analyze(cfg, "mrr_movements", period="month", since="2026-03-01", until="2026-04-01", as_of=AS_OF)
    t = rep.tables["movements"].set_index("customer_id")
    assert t.loc["A", ["mrr_start", "expansion", "mrr_end"]].tolist() == [100, 30, 130]
    assert t.loc["B", ["mrr_start", "churned", "mrr_end"]].tolist() == [50, 50, 0]
    summ = rep.tables["summary"].iloc[0]
    assert (summ["mrr_start"], summ["net_new_mrr"], summ["mrr_end"]) == (150, -20, 130)


def test_mrr_movements_without_any_revenue_source_is_one_config_error(tmp_path):
    from crmmetrics.engine import analyze
    from tests.conftest import write

    (tmp_path / "deals.csv").write_text("id,closed\nD1,2026-03-01\n", encoding="utf-8")
    cfg = load_config(write(tmp_path / "crm.yaml", "version: 1\nsources:\n  deals:\n    path: deals.csv\n"
                                                   "    fields: {deal_id: id, closed_at: closed}\n"))
    with pytest.raises(ConfigError, match="subscriptions source or customers"):
        analyze(cfg, "mrr_movements", period="month", as_of=AS_OF)


# ------------------------------------------------------------------ upsell revenue share


def test_upsell_revenue_share_counts_won_deals_without_a_type_in_the_total(tmp_path):
    from tests.test_subscription_metrics import DEALS_SOURCE

    # won in March: upsell 100, new 300, a deal whose type is blank 100 → 100 ÷ 500 = 20 % (was 100 ÷ 400).
    (tmp_path / "deals.csv").write_text("id,customer,closed,status,amount,type\nD1,A,2026-03-02,won,100,upsell\n"
                                        "D2,B,2026-03-03,won,300,new\nD3,A,2026-03-04,won,100,\nD4,B,2026-03-05,lost,900,upsell\n",
                                        encoding="utf-8")
    cfg = make(tmp_path, [sub("A", "2026-01-01"), sub("B", "2026-01-01")], extra=DEALS_SOURCE,
               metrics="  upsell_rate: {variant: revenue_share}")
    row = at(run(cfg, ["upsell_rate"], since="2026-03-01", until="2026-04-01"), "upsell_rate", "2026-03")
    assert (row["numerator"], row["denominator"], row["value"]) == (100, 500, pytest.approx(0.2))


# ------------------------------------------------------------------ refactors kept honest (hand-computed)


def test_ltv_trailing_churn_is_averaged_within_each_segment(tmp_path):
    # A: 10 customers at 100; one churns in January (1/10), one in February (1/9).
    # B: 4 customers at 50; nobody churns in January (0), one in February (1/4).
    # March, trailing 2: A 100 ÷ mean(0.1, 1/9) = 947.37; B 50 ÷ mean(0, 0.25) = 400.
    subs = [sub(f"A{i}", "2025-12-01", {1: "2026-01-15", 2: "2026-02-15"}.get(i), amount=100) for i in range(1, 11)]
    subs += [sub(f"B{i}", "2025-12-01", "2026-02-10" if i == 1 else None, amount=50) for i in range(1, 5)]
    customers = [{"id": r["customer"], "segment": r["customer"][0]} for r in subs]
    cfg = make(tmp_path, subs, customers=customers, metrics="  ltv: {churn: trailing, trailing_periods: 2}")
    rep = run(cfg, ["ltv"], by=["segment"], since="2026-03-01", until="2026-04-01")
    assert at(rep, "ltv", "2026-03", segment="A")["value"] == pytest.approx(100 / ((0.1 + 1 / 9) / 2))
    assert at(rep, "ltv", "2026-03", segment="B")["value"] == pytest.approx(400)


def test_renewal_terms_of_a_long_running_contract_are_each_due(tmp_path):
    # L: annual from 2023-03-15, still running → due 2024-03-15, 2025-03-15, 2026-03-15, renewed each time.
    # E: annual from 2025-03-20, ends at its term end 2026-03-20 with no successor → not renewed.
    subs = [sub("L", "2023-03-15", amount=1200, interval=12), sub("E", "2025-03-20", "2026-03-20", amount=1200, interval=12)]
    rep = run(make(tmp_path, subs), ["renewal_rate"], period="year", since="2024-01-01", until="2027-01-01")
    assert [(r.numerator, r.denominator) for r in rows(rep, "renewal_rate").itertuples()] == [(1, 1), (1, 1), (1, 2)]


def test_daily_churn_day_sums_stay_within_their_segment(tmp_path):
    # A: 2 paying, one leaves on 10 March → 1/2. B: 4 paying, one leaves on 5 March (1/4),
    # another on 20 March (1/3 of the 3 left) → 7/12.
    subs = [sub("A1", "2025-12-01"), sub("A2", "2025-12-01", "2026-03-10")]
    subs += [sub("B1", "2025-12-01", "2026-03-05"), sub("B2", "2025-12-01", "2026-03-20"), sub("B3", "2025-12-01"), sub("B4", "2025-12-01")]
    customers = [{"id": r["customer"], "segment": r["customer"][0]} for r in subs]
    cfg = make(tmp_path, subs, customers=customers, metrics="  customer_churn_rate: {formula: daily}")
    rep = run(cfg, ["customer_churn_rate"], by=["segment"], since="2026-03-01", until="2026-04-01")
    assert at(rep, "customer_churn_rate", "2026-03", segment="A")["value"] == pytest.approx(0.5)
    assert at(rep, "customer_churn_rate", "2026-03", segment="B")["value"] == pytest.approx(1 / 4 + 1 / 3)


# ------------------------------------------------------------------ deal-sourced variants need deals only


CRM_DEALS = """
version: 1
timezone: UTC
sources:
  customers:
    path: customers.csv
    fields: {customer_id: id, created_at: created, segment: segment}
  deals:
    path: deals.csv
    fields: {deal_id: id, customer_id: customer, closed_at: closed, status: status, amount: amount, deal_type: type}
"""


def test_renewal_and_expansion_from_deals_need_no_billing_dates(tmp_path):
    # A CRM-only project (customers without first_paid_at, no subscriptions): both metrics
    # read deals alone, but were refused as a "dateless snapshot" (exit 78).
    from tests.conftest import write

    (tmp_path / "customers.csv").write_text("id,created,segment\nA,2025-01-01,x\nB,2025-01-01,y\n", encoding="utf-8")
    (tmp_path / "deals.csv").write_text(
        "id,customer,closed,status,amount,type\nD1,A,2026-03-05,won,100,renewal\nD2,B,2026-03-06,lost,50,renewal\n"
        "D3,A,2026-03-07,won,70,upsell\nD4,B,2026-03-08,won,30,cross_sell\nD5,A,2026-03-09,open,999,upsell\n"
        "D6,B,2026-03-20,won,500,renewal\n", encoding="utf-8")
    cfg = write(tmp_path / "crm.yaml", CRM_DEALS)
    rep = run(cfg, ["renewal_rate", "expansion_revenue"], since="2026-03-01", until="2026-04-01", as_of="2026-03-15")
    renewal = at(rep, "renewal_rate", "2026-03")  # D6 closes after the as-of day: not yet
    assert (renewal["numerator"], renewal["denominator"], renewal["contracts_due"]) == (1, 2, 2)
    assert at(rep, "expansion_revenue", "2026-03")["value"] == pytest.approx(70 + 30)
    by = run(cfg, ["renewal_rate", "expansion_revenue"], by=["segment"], since="2026-03-01", until="2026-04-01", as_of="2026-03-31")
    assert at(by, "renewal_rate", "2026-03", segment="y")["value"] == pytest.approx(1 / 2)  # D2 lost, D6 won
    assert at(by, "expansion_revenue", "2026-03", segment="x")["value"] == pytest.approx(70)
