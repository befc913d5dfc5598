"""`crmmetrics init` on the real exports in ../shared/datasets: the draft must compute
without edits, and give the numbers the dataset's SOURCE.md (or a known reference)
states. Each test skips when its dataset is absent. docs/real-exports.md is the table
of what init produced and what a user still edits."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from crmmetrics.cli import app
from tests.conftest import DATASETS, needs_dataset

runner = CliRunner()

# (file, metric, expected value or None, expected n or None, text the draft must contain)
CASES = [
    ("crm_sales_opportunities/sales_pipeline.csv", "win_rate", 4238 / 6711, 6711, 'status: {"Won": won, "Lost": lost, "*": open}'),
    ("telco_churn_ibm/WA_Fn-UseC_-Telco-Customer-Churn.csv", "customer_churn_rate", 1869 / 7043, 7043, 'status: {"Yes": churned, "*": active}'),
    # The status split has no MRR column: the churn mapping is drafted, the rate needs the services file (docs/real-exports.md).
    ("telco_churn_ibm/ibm_11_1_3_split/Telco_customer_churn_status.xlsx", None, None, None, 'status: {"Yes": churned, "*": active}'),
    ("olist/marketing_funnel/olist_marketing_qualified_leads_dataset.csv", "new_leads", 8000, 8000, "lead_id"),
    ("olist/marketing_funnel/olist_closed_deals_dataset.csv", "win_rate", 1.0, 842, "constants: {status: won}"),
    ("nps_field_service/nps.csv", "nps", None, None, "constants: {survey_type: nps}"),
    ("nps_botanic/nps.csv", "nps", None, 13612, "scale_min: 1"),
    # Ratings on the ticket rows feed CSAT (a second, surveys source on the same file): 1,087 of 2,769 rated 4-5.
    ("support_tickets_kaggle/customer_support_tickets.csv", "csat", 1087 / 2769, 2769, "constants: {survey_type: csat}"),
    ("itsm_incident_log/derived/incidents_last_state.csv", "ticket_volume", 890, 890, 'ticket_id: "number"'),
    ("helpdesk_event_log/derived/helpdesk_tickets.csv", "ticket_volume", 4580, 4580, 'first_reply_at: "first_response_at"'),
    ("cdnow_lifetimes/derived/CDNOW_master.csv", "revenue", 2500315.63, None, 'amount: "dollar_value"'),
    ("superstore_tableau/Sample - Superstore.xls", "order_count", 5009, 5009, "order_lines: true"),
    ("salesforce_export_sample/Opportunity.csv", "win_rate", 0.8, 15, "preset: salesforce-opportunities"),
    ("salesforce_export_sample/Lead.csv", "new_leads", 60, 60, "preset: salesforce-leads"),
    ("salesforce_export_sample/Case.csv", "ticket_volume", 40, 40, "preset: salesforce-cases"),
    ("salesforce_export_sample/Account.csv", None, None, None, "preset: salesforce-accounts"),
]


@pytest.mark.parametrize("path, metric, value, n, drafted", CASES, ids=[c[0].split("/")[-1] for c in CASES])
def test_init_drafts_a_config_that_computes_without_edits(tmp_path, path, metric, value, n, drafted):
    if not (DATASETS / path).exists():
        pytest.skip(f"{DATASETS / path} not present")
    cfg = tmp_path / "crm.yaml"
    res = runner.invoke(app, ["init", str(DATASETS / path), "-o", str(cfg)])
    assert res.exit_code == 0 and "needs attention" not in res.stderr, res.stderr
    text = cfg.read_text(encoding="utf-8")
    assert drafted in text, text
    if metric is None:
        val = runner.invoke(app, ["validate", "-c", str(cfg)])
        assert "computable metrics" in val.stderr and "not a " not in val.stderr
        return
    out = runner.invoke(app, ["compute", metric, "-c", str(cfg), "-p", "all", "--as-of", "2030-01-01", "-f", "json"])
    assert out.exit_code == 0, out.stderr
    row = json.loads(out.stdout)["results"][0]
    if value is not None:
        assert row["value"] == pytest.approx(value, rel=1e-6)
    if n is not None:
        assert row["n"] == n


@needs_dataset("online_retail_uci", "derived", "online_retail_full.csv")
def test_online_retail_draft_multiplies_unit_price_and_sums_invoice_lines(tmp_path):
    cfg = tmp_path / "crm.yaml"
    res = runner.invoke(app, ["init", str(DATASETS / "online_retail_uci/derived/online_retail_full.csv"), "-o", str(cfg)])
    assert res.exit_code == 0, res.stderr
    text = cfg.read_text()
    assert '"amount_is_unit_price": true' in text or "amount_is_unit_price: true" in text
    out = runner.invoke(app, ["compute", "order_count", "-c", str(cfg), "-p", "all", "--as-of", "2030-01-01", "-f", "json"])
    report = json.loads(out.stdout)
    counts = {i["code"]: i.get("count", 1) for i in report["issues"]}
    # One row per invoice line: lines are summed into invoices, never 516,009 duplicate_order issues.
    assert "duplicate_order" not in counts
    assert report["results"][0]["n"] > 20000
