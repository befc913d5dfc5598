"""IBM Telco customer churn (../shared/datasets/telco_churn_ibm): a dateless snapshot read
through the customers fallback. Snapshot churn rate, MRR, ARPA and churned MRR by
contract type, from the CSV and from the workbook, with the 11 blank TotalCharges rows
(never-billed, tenure 0) reported with their location and left out.

Expected figures were computed independently with pandas on the raw CSV (7,043 rows,
11 blank TotalCharges, 1,869 churned).
"""

from __future__ import annotations

import pytest

from crmmetrics import compute, load_config
from crmmetrics.metrics.registry import get_metric
from tests.conftest import DATASETS, ROOT, needs_dataset

pytestmark = needs_dataset("telco_churn_ibm")
TELCO = DATASETS / "telco_churn_ibm"
METRICS = ["ltv", "customer_churn_rate", "mrr", "arpa", "churned_mrr"]
# contract → (customers at start, churned, MRR of those staying, churned MRR)
BY_CONTRACT = {
    "Month-to-month": (3875, 1655, 136447.05, 120847.10),
    "One year": (1472, 166, 81678.45, 14118.45),
    "Two year": (1685, 48, 98404.65, 4165.30),
}
SOURCES = {
    "csv": ("telco_csv.yaml", TELCO / "WA_Fn-UseC_-Telco-Customer-Churn.csv"),
    "xlsx": ("telco_xlsx.yaml", TELCO / "Telco_customer_churn.xlsx"),
}


@pytest.fixture(scope="module", params=sorted(SOURCES))
def reports(request):
    """(overall report, by-contract report) for the CSV and the workbook, via examples/telco_*.yaml."""
    name, path = SOURCES[request.param]
    cfg = load_config(ROOT / "examples" / name)
    inputs = {"customers": str(path)}
    overall = compute(cfg, METRICS, period="all", inputs=inputs, as_of="2026-01-31")
    split = compute(cfg, METRICS, period="all", by=["contract"], inputs=inputs, as_of="2026-01-31")
    return request.param, overall, split


def _value(report, metric, contract=None):
    r = report.results[report.results["metric"] == metric]
    if contract is not None:
        r = r[r["contract"] == contract]
    assert len(r) == 1
    return r.iloc[0]


def test_snapshot_churn_mrr_arpa_and_churned_mrr(reports):
    _, overall, _ = reports
    churn = _value(overall, "customer_churn_rate")
    assert (churn["numerator"], churn["denominator"]) == (1869, 7032)
    assert churn["value"] == pytest.approx(1869 / 7032)  # 26.58 %
    assert _value(overall, "mrr")["value"] == pytest.approx(316530.15)
    arpa = _value(overall, "arpa")
    assert (arpa["value"], arpa["denominator"]) == (pytest.approx(316530.15 / 5163), 5163)
    assert _value(overall, "churned_mrr")["value"] == pytest.approx(139130.85)


def test_by_contract_type(reports):
    _, _, split = reports
    for contract, (base, churned, mrr, lost) in BY_CONTRACT.items():
        row = _value(split, "customer_churn_rate", contract)
        assert (row["numerator"], row["denominator"]) == (churned, base), contract
        assert _value(split, "mrr", contract)["value"] == pytest.approx(mrr)
        assert _value(split, "arpa", contract)["value"] == pytest.approx(mrr / (base - churned))
        assert _value(split, "churned_mrr", contract)["value"] == pytest.approx(lost)
    # month-to-month churns 15 times as often as two-year contracts
    assert _value(split, "customer_churn_rate", "Month-to-month")["value"] > 14 * _value(split, "customer_churn_rate", "Two year")["value"]


def test_blank_total_charges_are_reported_with_their_location(reports):
    kind, overall, _ = reports
    blank = [i for i in overall.issues if i.code == "blank_lifetime_revenue"]
    assert len(blank) == 11
    first = sorted(blank, key=lambda i: i.location)[0]
    if kind == "csv":
        assert {i.location.rsplit(":", 1)[1] for i in blank} >= {"490", "755", "938", "1084", "6672"}
        assert first.column == "TotalCharges"
    else:
        assert any(i.location.endswith("Telco_Churn!AB2236") for i in blank)
        assert first.column == "Total Charges"
    assert not [i for i in overall.issues if i.level.value == "error"]


def test_a_period_grain_is_refused_for_a_dateless_snapshot():
    from crmmetrics.errors import ConfigError, UsageError

    cfg = load_config(ROOT / "examples" / "telco_csv.yaml")
    with pytest.raises((ConfigError, UsageError)):
        compute(cfg, ["mrr"], period="month", inputs={"customers": str(SOURCES["csv"][1])})


def test_ltv_on_the_dateless_snapshot_is_arpa_over_monthly_churn(reports):
    # The snapshot is one billing month: ARPA 316,530.15 ÷ 5,163 = 61.31 over churn
    # 1,869 ÷ 7,032 = 26.58 % → 230.67 USD (before: the snapshot was one day, LTV 7.58).
    _, overall, _ = reports
    row = _value(overall, "ltv")
    assert row["value"] == pytest.approx((316530.15 / 5163) / (1869 / 7032)) and round(row["value"], 1) == 230.7
    assert "one billing month" in " ".join(get_metric("ltv").edge_rules)  # explain says what a snapshot means
