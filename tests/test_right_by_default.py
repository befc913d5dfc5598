"""Regression tests for issue #11 "Right by default": definition and default defects found
by an independent audit, each pinned with the audit's numbers (sample data, the synthetic
generator's output, the real datasets) and with a hand-built case."""

from __future__ import annotations

import subprocess
import sys

import pytest

from crmmetrics import compute, load_config
from tests.conftest import ROOT, write
from tests.test_subscription_metrics import at

GENERATOR = ROOT.parent / "shared" / "tools" / "gen_crm_data.py"


# ------------------------------------------------------------------ 1. customers MRR 0 is not paying

CUSTOMERS_ONLY = """
version: 1
timezone: UTC
sources:
  customers:
    path: customers.csv
    fields: {customer_id: id, first_paid_at: paid, churned_at: churned, mrr: mrr, plan: plan}
"""


def test_customers_with_mrr_0_are_not_paying_customers(tmp_path):
    # A and B pay 100 and 50; F is on a free plan (MRR 0); G churned on a free plan in
    # February. Paying customers on 1 Feb: A, B → ARPA 75 (not 150 / 4 = 37.5), and G's
    # leaving is no churn (it never paid): churn 1/2 from B alone, not 2/4.
    (tmp_path / "customers.csv").write_text(
        "id,paid,churned,mrr,plan\n"
        "A,2026-01-05,,100,Pro\n"
        "B,2026-01-10,2026-02-15,50,Pro\n"
        "F,2026-01-10,,0,Free\n"
        "G,2026-01-12,2026-02-20,0,Free\n", encoding="utf-8")
    rep = compute(load_config(write(tmp_path / "crm.yaml", CUSTOMERS_ONLY)), ["arpa", "customer_churn_rate", "mrr"],
                  since="2026-01-01", until="2026-03-01", as_of="2026-12-31")
    jan = at(rep, "arpa", "2026-01")
    assert (jan["value"], jan["n"]) == (75, 2)
    churn = at(rep, "customer_churn_rate", "2026-02")
    assert (churn["value"], churn["numerator"], churn["denominator"]) == (0.5, 1, 2)
    assert at(rep, "mrr", "2026-02")["value"] == 100
    note = [i for i in rep.issues if i.code == "zero_mrr_not_paying"]
    assert len(note) == 1 and note[0].count == 2


@pytest.mark.skipif(not GENERATOR.exists(), reason=f"{GENERATOR} not present")
def test_synthetic_customers_file_december_2025_arpa_640_19_churn_3_14(tmp_path):
    # The audit's numbers: gen_crm_data.py --scale small (seed 42), customers only.
    # Counting MRR-0 customers as paying read ARPA 489.52 and churn 4.06 %.
    subprocess.run([sys.executable, str(GENERATOR), "--scale", "small", "--out", str(tmp_path), "--tables", "customers"],
                   check=True, capture_output=True)
    cfg = write(tmp_path / "crm.yaml", """
        version: 1
        timezone: UTC
        sources:
          customers:
            path: customers.csv
            fields: {customer_id: id, first_paid_at: created_at, churned_at: churned_at, plan: plan, region: region, mrr: mrr}
        """)
    rep = compute(load_config(cfg), ["arpa", "customer_churn_rate", "customer_retention_rate"],
                  since="2025-12-01", until="2026-01-01", as_of="2025-12-31")
    assert at(rep, "arpa", "2025-12")["value"] == pytest.approx(640.19, abs=0.005)
    churn = at(rep, "customer_churn_rate", "2025-12")
    assert churn["value"] == pytest.approx(0.0314, abs=0.00005)
    assert (churn["numerator"], churn["denominator"]) == (96, 3056)
    assert at(rep, "customer_retention_rate", "2025-12")["value"] == pytest.approx(2960 / 3056)


# ------------------------------------------------------------------ 2. -b plan: the plan at that time

PLAN_SUBS = """
version: 1
timezone: UTC
sources:
  customers:
    path: customers.csv
    fields: {customer_id: id, segment: segment}
  subscriptions:
    path: subs.csv
    fields: {subscription_id: id, customer_id: customer, plan: plan, started_at: start, ended_at: end, amount: amount}
"""


def _plan_project(tmp_path):
    # A moves Pro → Enterprise on 10 March (100 → 300); B stays on Pro at 50; C joins
    # Enterprise on 5 March at 200. customers has no plan column at all.
    (tmp_path / "customers.csv").write_text("id,segment\nA,SMB\nB,SMB\nC,ENT\n", encoding="utf-8")
    (tmp_path / "subs.csv").write_text(
        "id,customer,plan,start,end,amount\n"
        "S1,A,Pro,2026-01-01,2026-03-10,100\n"
        "S2,A,Enterprise,2026-03-10,,300\n"
        "S3,B,Pro,2026-01-01,,50\n"
        "S4,C,Enterprise,2026-03-05,,200\n", encoding="utf-8")
    return load_config(write(tmp_path / "crm.yaml", PLAN_SUBS))


def test_by_plan_segments_by_the_subscription_plan_at_that_time(tmp_path):
    cfg = _plan_project(tmp_path)
    metrics = ["mrr", "new_mrr", "churned_mrr", "expansion_mrr", "net_new_mrr", "customer_churn_rate"]
    rep = compute(cfg, metrics, by=["plan"], since="2026-02-01", until="2026-04-01", as_of="2026-12-31")
    # February: A on Pro (100), B on Pro (50); nobody on Enterprise yet.
    assert at(rep, "mrr", "2026-02", plan="Pro")["value"] == 150
    assert at(rep, "mrr", "2026-02", plan="Enterprise")["value"] == 0
    # March: A's move leaves Pro as churned 100 and enters Enterprise as new 300.
    assert at(rep, "mrr", "2026-03", plan="Pro")["value"] == 50
    assert at(rep, "mrr", "2026-03", plan="Enterprise")["value"] == 500
    assert at(rep, "churned_mrr", "2026-03", plan="Pro")["value"] == 100
    assert at(rep, "new_mrr", "2026-03", plan="Enterprise")["value"] == 500
    assert at(rep, "customer_churn_rate", "2026-03", plan="Pro")["value"] == pytest.approx(0.5)
    # Every segment reconciles on its own: MRR(end) − MRR(start) = its net new MRR.
    for plan in ("Pro", "Enterprise"):
        r = at(rep, "net_new_mrr", "2026-03", plan=plan)
        assert r["value"] == pytest.approx(r["mrr_end"] - r["mrr_start"])
    # The total sees A's move as one expansion of 200, and the same MRR.
    total = compute(cfg, metrics, by=[], since="2026-03-01", until="2026-04-01", as_of="2026-12-31")
    assert at(total, "expansion_mrr", "2026-03")["value"] == 200
    assert at(total, "mrr", "2026-03")["value"] == 550
    # A dimension subscriptions lack still comes from customers.
    seg = compute(cfg, ["mrr"], by=["segment"], since="2026-03-01", until="2026-04-01", as_of="2026-12-31")
    assert at(seg, "mrr", "2026-03", segment="SMB")["value"] == 350


def test_sample_data_january_2025_enterprise_mrr_is_139997():
    # The customer master's Plan is today's plan; subscriptions say what was paid then.
    # Reading every customer's current plan for all history gave 155,824.
    cfg = load_config(ROOT / "config.example.yaml")
    rep = compute(cfg, ["mrr"], by=["plan"], since="2025-01-01", until="2025-02-01", as_of="2026-10-31")
    assert at(rep, "mrr", "2025-01", plan="Enterprise")["value"] == 139_997
