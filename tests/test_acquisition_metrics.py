"""Acquisition economics against METRICS.md C1–C5 and worked examples WX21 (CAC) and WX22
(retention cost), on tiny hand-made exports."""

from __future__ import annotations

import pytest

from crmmetrics.errors import ConfigError
from tests.test_subscription_metrics import at, codes, make, run, sub

SPEND_SOURCE = """  spend:
    path: spend.csv
    fields: {date: date, amount: amount, category: category, channel: channel, currency: currency}"""


def project(tmp_path, subs, spend: list[tuple], *, customers=None, metrics: str = ""):
    """subs + spend rows (date, amount, category, channel) → config path."""
    lines = ["date,amount,category,channel,currency"] + [",".join(str(x) for x in (*row, "USD")) for row in spend]
    (tmp_path / "spend.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return make(tmp_path, subs, customers=customers, extra=SPEND_SOURCE, metrics=metrics)


def test_wx21_cac_is_spend_over_new_customers_200(tmp_path):
    subs = [sub(f"N{i}", "2026-03-05") for i in range(100)] + [sub("OLD", "2025-06-01")]
    spend = [("2026-03-01", 15000, "acquisition", "ads"), ("2026-03-15", 5000, "acquisition", "events"),
             ("2026-03-01", 9999, "retention", "ads"), ("2026-02-01", 7000, "acquisition", "ads")]
    row = at(run(project(tmp_path, subs, spend), ["cac"], since="2026-03-01", until="2026-04-01"), "cac", "2026-03")
    assert (row["value"], row["numerator"], row["denominator"], row["n"]) == (pytest.approx(200), 20000, 100, 100)


def test_cac_per_channel_pairs_spend_channel_with_acquisition_channel(tmp_path):
    subs = [sub("A", "2026-03-02"), sub("B", "2026-03-03"), sub("C", "2026-03-04")]
    customers = [{"id": "A", "channel": "ads"}, {"id": "B", "channel": "ads"}, {"id": "C", "channel": "events"}]
    spend = [("2026-03-01", 1000, "acquisition", "ads"), ("2026-03-01", 900, "acquisition", "events")]
    rep = run(project(tmp_path, subs, spend, customers=customers), ["cac"], by=["channel"], since="2026-03-01", until="2026-04-01")
    assert at(rep, "cac", "2026-03", channel="ads")["value"] == pytest.approx(500)
    assert at(rep, "cac", "2026-03", channel="events")["value"] == pytest.approx(900)


def test_cac_lag_matches_earlier_spend_and_zero_new_customers_is_null(tmp_path):
    subs = [sub("OLD", "2025-06-01"), sub("A", "2026-03-10"), sub("B", "2026-03-11")]
    spend = [("2026-02-01", 800, "acquisition", "ads"), ("2026-03-01", 100, "acquisition", "ads"), ("2026-04-01", 300, "acquisition", "ads")]
    cfg = project(tmp_path, subs, spend, metrics="  cac: {lag_periods: 1}")
    rep = run(cfg, ["cac"], since="2026-03-01", until="2026-05-01")
    assert at(rep, "cac", "2026-03")["value"] == pytest.approx(800 / 2)   # February's spend, March's customers
    april = at(rep, "cac", "2026-04")
    assert april["numerator"] == 100 and april["value"] != april["value"]  # no new customer in April
    assert "zero_denominator" in codes(rep)


def test_bad_spend_rows_are_issues_with_their_line(tmp_path):
    subs = [sub("A", "2026-03-10")]
    spend = [("2026-03-01", 100, "acquisition", "ads"), ("2026-03-02", -50, "acquisition", "ads"), ("", 70, "acquisition", "ads"),
             ("2026-03-03", "", "acquisition", "ads")]
    rep = run(project(tmp_path, subs, spend), ["cac"], since="2026-03-01", until="2026-04-01")
    assert at(rep, "cac", "2026-03")["value"] == pytest.approx(100)
    where = {i.code: i.location for i in rep.issues if i.location}
    assert where["negative_amount"].endswith("spend.csv:3")
    assert where["missing_date"].endswith("spend.csv:4")
    assert where["missing_amount"].endswith("spend.csv:5")


def test_wx22_retention_cost_is_20_per_retained_customer(tmp_path):
    subs = [sub(f"K{i}", "2025-12-01") for i in range(500)]                      # retained through March
    subs += [sub(f"L{i}", "2025-12-01", "2026-03-15") for i in range(3)]         # lost in March: not retained
    subs += [sub(f"N{i}", "2026-03-10") for i in range(2)]                       # new in March: not retained yet
    spend = [("2026-03-01", 10000, "retention", "success"), ("2026-03-01", 4000, "acquisition", "ads")]
    row = at(run(project(tmp_path, subs, spend), ["retention_cost"], since="2026-03-01", until="2026-04-01"), "retention_cost", "2026-03")
    assert (row["value"], row["retained_customers"]) == (pytest.approx(20), 500)
    cfg = project(tmp_path, subs, spend, metrics="  retention_cost: {total: true}")
    assert at(run(cfg, ["retention_cost"], since="2026-03-01", until="2026-04-01"), "retention_cost", "2026-03")["value"] == 10000


def test_ltv_to_cac_and_cac_payback(tmp_path):
    # 20 customers at 100; in March one leaves and one joins: churn 5 %, ARPA 100 → LTV 2,000.
    subs = [sub(f"B{i}", "2025-12-01", "2026-03-15" if i == 1 else None, amount=100) for i in range(1, 21)] + [sub("J", "2026-03-15", amount=100)]
    spend = [("2026-03-01", 500, "acquisition", "ads")]
    cfg = project(tmp_path, subs, spend, metrics="  cac_payback_months: {gross_margin: 0.8}")
    rep = run(cfg, ["ltv_to_cac", "cac_payback_months"], since="2026-03-01", until="2026-04-01")
    row = at(rep, "ltv_to_cac", "2026-03")
    assert (row["ltv"], row["cac"], row["value"]) == (pytest.approx(2000), pytest.approx(500), pytest.approx(4))
    assert at(rep, "cac_payback_months", "2026-03")["value"] == pytest.approx(500 / (100 * 0.8))


def test_cac_payback_example_10_months(tmp_path):
    subs = [sub("A", "2026-03-10", amount=150)]
    cfg = project(tmp_path, subs, [("2026-03-01", 1200, "acquisition", "ads")], metrics="  cac_payback_months: {gross_margin: 0.8}")
    assert at(run(cfg, ["cac_payback_months"], since="2026-03-01", until="2026-04-01"), "cac_payback_months", "2026-03")["value"] == pytest.approx(10)


def test_referral_rate_variants(tmp_path):
    subs = [sub("OLD1", "2025-06-01"), sub("OLD2", "2025-06-01")] + [sub(f"N{i}", "2026-03-0{}".format(i + 1)) for i in range(5)]
    customers = [{"id": "OLD1", "referred": "yes"}, {"id": "OLD2", "referred": "no"},
                 {"id": "N0", "referred": "yes", "referred_by": "OLD1"}, {"id": "N1", "referred": "yes", "referred_by": "OLD1"},
                 {"id": "N2", "referred": "no"}, {"id": "N3", "referred": "no"}, {"id": "N4"}]
    cfg = project(tmp_path, subs, [], customers=customers)
    rep = run(cfg, ["referral_rate"], since="2026-03-01", until="2026-04-01")
    row = at(rep, "referral_rate", "2026-03")
    assert (row["value"], row["numerator"], row["denominator"]) == (pytest.approx(2 / 5), 2, 5)
    assert "blank_is_referred" in codes(rep)
    cfg = project(tmp_path, subs, [], customers=customers, metrics="  referral_rate: {variant: all}")
    assert at(run(cfg, ["referral_rate"], since="2026-03-01", until="2026-04-01"), "referral_rate", "2026-03")["value"] == pytest.approx(3 / 7)
    cfg = project(tmp_path, subs, [], customers=customers, metrics="  referral_rate: {variant: referrers}")
    assert at(run(cfg, ["referral_rate"], since="2026-03-01", until="2026-04-01"), "referral_rate", "2026-03")["value"] == pytest.approx(1 / 2)


def test_sample_data_acquisition_metrics(sample_project):
    import pandas as pd

    from crmmetrics import compute, load_config

    names = ["cac", "ltv_to_cac", "cac_payback_months", "retention_cost"]
    rep = compute(load_config(sample_project / "config.example.yaml"), names, since="2026-10-01", as_of="2026-10-31", by=["channel"])
    cust = pd.read_csv(sample_project / "sample_data" / "customers.csv", parse_dates=["First Paid"])
    spend = pd.read_csv(sample_project / "sample_data" / "spend.csv")
    octo = cust[(cust["First Paid"] >= "2026-10-01") & (cust["First Paid"] < "2026-11-01")]
    for channel, group in octo.groupby("Channel"):
        paid = spend[(spend["Month"] == "2026-10-01") & (spend["Category"] == "acquisition") & (spend["Channel"] == channel)]["Amount"].sum()
        assert at(rep, "cac", "2026-10", channel=channel)["value"] == pytest.approx(paid / len(group))
    for name in names:
        assert rep.results.loc[rep.results["metric"] == name, "value"].notna().all(), name
    referred = octo["Referred"].eq("yes").sum()
    rep = compute(load_config(sample_project / "config.example.yaml"), ["referral_rate"], since="2026-10-01", as_of="2026-10-31")
    assert at(rep, "referral_rate", "2026-10")["value"] == pytest.approx(referred / len(octo))


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
