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
