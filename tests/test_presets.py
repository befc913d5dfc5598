"""Vendor presets end to end: `init` on a fixture that follows the vendor's real header
(tests/fixtures/presets, written by make_fixtures.py from shared/EXPORTS.md), then
`compute`, asserting numbers worked out by hand with the vendor's own semantics.

Every run uses ``-p all --as-of 2026-12-31`` so each metric has one row.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crmmetrics.cli import app
from crmmetrics.errors import ExitCode
from crmmetrics.presets import all_presets
from tests.conftest import ROOT, write

runner = CliRunner()
FIX = ROOT / "tests" / "fixtures" / "presets"


def drafted(tmp_path: Path, fixture: str) -> Path:
    """`crmmetrics init FIXTURE` → the drafted config (which must load as written)."""
    out = tmp_path / "crm.yaml"
    res = runner.invoke(app, ["init", str(FIX / fixture), "-o", str(out)])
    assert res.exit_code == 0, res.stderr
    assert "needs attention" not in res.stderr, res.stderr
    return out


def compute(config: Path, *metrics: str, extra: tuple[str, ...] = (), stdin: str | None = None) -> dict[str, dict]:
    res = runner.invoke(app, ["compute", *metrics, "-c", str(config), "-p", "all", "--as-of", "2026-12-31", "-f", "json", *extra],
                        input=stdin)
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    rows = {r["metric"]: r for r in report["results"]}
    rows["_options"] = report["options"]
    return rows


def test_every_required_preset_ships_and_has_a_fixture():
    names = set(all_presets())
    assert names >= {"hubspot-deals", "hubspot-contacts", "hubspot-companies", "hubspot-tickets", "salesforce-opportunities",
                     "salesforce-leads", "salesforce-cases", "pipedrive-deals", "zendesk-tickets", "zendesk-ticket-metrics",
                     "freshdesk-tickets", "intercom-conversations", "stripe-subscriptions", "stripe-customers", "shopify-orders",
                     "typeform-responses", "surveymonkey-responses", "qualtrics-responses"}
    for name in names:
        assert list(FIX.glob(f"{name}.*")), f"no fixture for {name}"


def test_presets_command_lists_and_shows():
    res = runner.invoke(app, ["presets"])
    assert res.exit_code == 0
    assert len(res.stdout.strip().splitlines()) == len(all_presets()) + 1
    one = runner.invoke(app, ["presets", "shopify-orders"])
    assert "order_id: 'Name' (required)" in one.stdout and "line_items: True" in one.stdout
    bad = runner.invoke(app, ["presets", "shopfy-orders"])
    assert bad.exit_code == ExitCode.CONFIG and "did you mean shopify-orders" in bad.stderr


def test_zendesk_csv_csat_is_good_over_good_plus_bad_and_reply_time_uses_the_minutes_columns(tmp_path):
    cfg = drafted(tmp_path, "zendesk-tickets.csv")  # BOM, CRLF, a custom [list] field
    text = cfg.read_text()
    assert text.count("preset: zendesk-tickets") == 2  # tickets and surveys from one file
    got = compute(cfg, "csat", "support_csat", "first_reply_time", "full_resolution_time", "ticket_volume")
    # Good 12, Bad 4, Offered 6, Not Offered 8 → 12 / 16.
    assert got["csat"]["value"] == pytest.approx(0.75) and got["csat"]["n"] == 16
    # Calendar minutes = business + 600; business 15..150 each three times → median (75 + 90) / 2 = 82.5.
    assert got["first_reply_time"]["value"] == pytest.approx((82.5 + 600) / 60)
    assert "first_reply_minutes" in got["_options"]["first_reply_time"]["measured_from"]
    # Full resolution 1620 calendar minutes on the 27 solved/closed tickets = 27 h.
    assert got["full_resolution_time"]["value"] == pytest.approx(27.0) and got["full_resolution_time"]["n"] == 27
    assert got["ticket_volume"]["value"] == 30
    # Zendesk's own business-hours number: clock business reads the "within business hours" column.
    text += "metrics:\n  first_reply_time: {clock: business, unit: minutes}\n  full_resolution_time: {clock: business, unit: minutes}\n"
    cfg.write_text(text)
    got = compute(cfg, "first_reply_time", "full_resolution_time")
    assert got["first_reply_time"]["value"] == pytest.approx(82.5)
    assert got["_options"]["first_reply_time"]["measured_from"] == "precomputed durations (tickets.first_reply_business_minutes)"
    # business resolution 480 + i for the solved tickets i = 0..26 → median 493.
    assert got["full_resolution_time"]["value"] == pytest.approx(493.0)
    explained = runner.invoke(app, ["explain", "first_reply_time", "-c", str(cfg)]).stdout
    assert "With this config: measured from precomputed durations (tickets.first_reply_business_minutes, business time" in explained


def test_zendesk_ticket_metrics_json_and_ndjson_from_stdin(tmp_path):
    cfg = drafted(tmp_path, "zendesk-ticket-metrics.json")  # an API page {"ticket_metrics": [...]}
    assert "preset: zendesk-ticket-metrics" in cfg.read_text()
    got = compute(cfg, "first_reply_time", "reopen_rate")
    # reply_time_in_minutes.calendar = 3 × (10..120) → median 3 × 65 = 195 min.
    assert got["first_reply_time"]["value"] == pytest.approx(195 / 60)
    cfg.write_text(cfg.read_text() + "metrics:\n  first_reply_time: {clock: business, unit: minutes}\n")
    ndjson = (FIX / "zendesk-ticket-metrics.ndjson").read_text()
    got = compute(cfg, "first_reply_time", extra=("--input", "tickets=-"), stdin=ndjson)
    assert got["first_reply_time"]["value"] == pytest.approx(65.0) and got["first_reply_time"]["n"] == 12


def test_hubspot_deals_all_quoted_duplicate_headers_own_stage_label(tmp_path):
    cfg = drafted(tmp_path, "hubspot-deals.csv")
    got = compute(cfg, "win_rate", "average_deal_size", "pipeline_value")
    # Won: Closed Won ×5 + "Closed: won" ×1; lost 4 → 6 / 10; won amounts 1000..6000 → 3500.
    assert got["win_rate"]["value"] == pytest.approx(0.6)
    assert got["average_deal_size"]["value"] == pytest.approx(3500.0)


def test_hubspot_contacts_as_leads_and_tickets(tmp_path):
    got = compute(drafted(tmp_path, "hubspot-contacts.csv"), "new_leads", "lead_conversion_rate")
    assert got["new_leads"]["value"] == 24 and got["lead_conversion_rate"]["value"] == pytest.approx(6 / 24)
    (tmp_path / "crm.yaml").unlink()
    got = compute(drafted(tmp_path, "hubspot-tickets.csv"), "ticket_volume", "full_resolution_time")
    assert got["ticket_volume"]["value"] == 24
    assert got["full_resolution_time"]["value"] == pytest.approx(6.0) and got["full_resolution_time"]["n"] == 16


@pytest.mark.parametrize("fixture, rows", [("hubspot-companies.csv", 24), ("stripe-customers.csv", 24), ("salesforce-accounts.csv", 22)])
def test_customer_presets_read_every_row(tmp_path, fixture, rows):
    cfg = drafted(tmp_path, fixture)
    res = runner.invoke(app, ["validate", "-c", str(cfg)])
    assert res.exit_code == 0, res.stderr
    assert f"{fixture}: {rows} rows, 0 with rejected values" in res.stderr


def test_salesforce_api_name_exports(tmp_path):
    got = compute(drafted(tmp_path, "salesforce-opportunities.csv"), "win_rate")
    assert got["win_rate"]["value"] == pytest.approx(8 / 20)  # 8 Closed Won, 12 Closed Lost, 5 open
    (tmp_path / "crm.yaml").unlink()
    got = compute(drafted(tmp_path, "salesforce-leads.csv"), "lead_conversion_rate")
    assert got["lead_conversion_rate"]["value"] == pytest.approx(9 / 30)
    (tmp_path / "crm.yaml").unlink()
    got = compute(drafted(tmp_path, "salesforce-cases.csv"), "ticket_volume", "full_resolution_time")
    assert got["ticket_volume"]["value"] == 20 and got["full_resolution_time"]["value"] == pytest.approx(48.0)


@pytest.mark.parametrize("fixture, won, lost", [("pipedrive-deals.csv", 9, 6), ("pipedrive-deals-cs.csv", 4, 4)])
def test_pipedrive_deals_english_and_czech_headers(tmp_path, fixture, won, lost):
    got = compute(drafted(tmp_path, fixture), "win_rate")
    assert (got["win_rate"]["numerator"], got["win_rate"]["denominator"]) == (won, won + lost)


def test_freshdesk_first_reply_from_timestamps_or_business_hms(tmp_path):
    cfg = drafted(tmp_path, "freshdesk-tickets.csv")
    got = compute(cfg, "first_reply_time", "full_resolution_time")
    # Initial response 30, 60, ..., 600 min after creation → median 315 min.
    assert got["first_reply_time"]["value"] == pytest.approx(5.25)
    assert got["_options"]["first_reply_time"]["measured_from"] == "timestamps"
    cfg.write_text(cfg.read_text() + "metrics:\n  first_reply_time: {clock: business, unit: minutes}\n")
    got = compute(cfg, "first_reply_time")
    # "First response time (in hrs)" 00:15:00 .. 03:30:00 on 14 tickets → median (105 + 120) / 2.
    assert got["first_reply_time"]["value"] == pytest.approx(112.5) and got["first_reply_time"]["n"] == 14


def test_intercom_message_rows_roll_up_to_conversations(tmp_path):
    got = compute(drafted(tmp_path, "intercom-conversations.csv"), "ticket_volume", "first_reply_time")
    assert got["ticket_volume"]["value"] == 10  # 30 message rows, 10 conversations
    assert got["first_reply_time"]["value"] == pytest.approx(55 / 60)


def test_stripe_subscriptions_mrr_from_amount_and_interval(tmp_path):
    got = compute(drafted(tmp_path, "stripe-subscriptions.csv"), "mrr")
    # 8 active × 50/month + 2 active × 1200/year ÷ 12; the 2 canceled ones ended in February.
    assert got["mrr"]["value"] == pytest.approx(600.0)


def test_shopify_order_count_is_orders_not_line_items(tmp_path):
    cfg = drafted(tmp_path, "shopify-orders.csv")
    got = compute(cfg, "order_count", "average_purchase_value", "revenue")
    # 24 line-item rows, 12 orders; #1012 refunded → 11 orders, subtotals 100..200 → 1650, AOV 150.
    assert got["order_count"]["value"] == 11
    assert got["revenue"]["value"] == pytest.approx(1650.0) and got["average_purchase_value"]["value"] == pytest.approx(150.0)
    res = runner.invoke(app, ["compute", "order_count", "-c", str(cfg), "-p", "all", "--as-of", "2026-12-31", "-f", "json"])
    issues = {i["code"]: i for i in json.loads(res.stdout)["issues"]}
    assert issues["line_items_rolled_up"]["count"] == 12


@pytest.mark.parametrize("fixture", ["typeform-responses.csv", "surveymonkey-responses.csv", "qualtrics-responses.csv"])
def test_survey_presets_pick_the_nps_question_and_skip_extra_header_rows(tmp_path, fixture):
    cfg = drafted(tmp_path, fixture)
    assert "# guessed:" in cfg.read_text()
    got = compute(cfg, "nps")
    # 12 promoters, 4 passives, 4 detractors of 20 → 40.
    assert got["nps"]["value"] == pytest.approx(40.0) and got["nps"]["n"] == 20


def test_qualtrics_dates_are_read_in_the_zone_its_third_header_row_names(tmp_path):
    cfg = drafted(tmp_path, "qualtrics-responses.csv")
    assert "timezone: America/Denver" in cfg.read_text()
    res = runner.invoke(app, ["compute", "nps", "-c", str(cfg), "-p", "month", "--as-of", "2026-12-31", "-f", "json"])
    by_month = {r["period"]: r["n"] for r in json.loads(res.stdout)["results"]}
    # 2026-06-30 20:00 in Denver is 2026-07-01 02:00 UTC.
    assert by_month["2026-06"] == 19 and by_month["2026-07"] == 1


def test_an_export_that_almost_matches_a_preset_gets_one_line(tmp_path):
    cfg = write(tmp_path / "crm.yaml", f"""
        version: 1
        sources:
          tickets: {{preset: zendesk-tickets, path: "{FIX / 'zendesk-tickets-renamed.csv'}"}}
        """)
    res = runner.invoke(app, ["validate", "-c", str(cfg)])
    assert res.exit_code == ExitCode.DATAERR
    first = res.stderr.splitlines()[0]
    assert "not a zendesk-tickets export: column 'Created at' (tickets.created_at) not found; closest header: 'Created'" in first
    init = runner.invoke(app, ["init", str(FIX / "zendesk-tickets-renamed.csv"), "-o", str(tmp_path / "d.yaml")])
    assert "looks like a zendesk-tickets export but lacks column 'Created at' (closest header: 'Created')" in init.stderr


def test_user_fields_override_the_preset_and_columns_match_case_insensitively(tmp_path):
    csv = (FIX / "pipedrive-deals.csv").read_text().replace("Deal - Status", "DEAL - STATUS", 1)
    write(tmp_path / "deals.csv", csv)
    cfg = write(tmp_path / "crm.yaml", """
        version: 1
        sources:
          deals:
            preset: pipedrive-deals
            path: deals.csv
            fields: {amount: null, region: "Deal - Pipeline"}
        """)
    res = runner.invoke(app, ["metrics", "-c", str(cfg)])
    status = {line.split("\t")[0]: line.split("\t")[-1] for line in res.stdout.splitlines()[1:]}
    assert status["win_rate"] == "yes" and status["average_deal_size"].startswith("no")
    got = compute(cfg, "win_rate", extra=("-b", "region"))
    assert got["win_rate"]["value"] == pytest.approx(0.6)


def test_unknown_preset_and_entity_the_preset_lacks_are_config_errors(tmp_path):
    cfg = write(tmp_path / "crm.yaml", "version: 1\nsources:\n  deals: {preset: hubspot-deal, path: x.csv}\n")
    res = runner.invoke(app, ["validate", "-c", str(cfg)])
    assert res.exit_code == ExitCode.CONFIG and "unknown preset 'hubspot-deal'" in res.stderr
    cfg = write(tmp_path / "crm.yaml", "version: 1\nsources:\n  orders: {preset: hubspot-deals, path: x.csv}\n")
    res = runner.invoke(app, ["validate", "-c", str(cfg)])
    assert res.exit_code == ExitCode.CONFIG and "preset hubspot-deals has no orders mapping" in res.stderr


def test_example_configs_ship_in_the_package_and_init_writes_them(tmp_path):
    # crmmetrics/examples links to examples/, and package-data ships it, so a plain
    # `pip install` carries the examples (a wheel built from this tree holds the files).
    assert (ROOT / "crmmetrics" / "examples").resolve() == (ROOT / "examples").resolve()
    assert '"examples/*.yaml"' in (ROOT / "pyproject.toml").read_text()
    listed = runner.invoke(app, ["init", "--example", "list"])
    assert "sales_maven" in listed.stdout.split()
    out = tmp_path / "crm.yaml"
    res = runner.invoke(app, ["init", "--example", "sales_maven", "-o", str(out)])
    assert res.exit_code == 0, res.stderr
    assert out.read_text().endswith((ROOT / "examples" / "sales_maven.yaml").read_text())
    bad = runner.invoke(app, ["init", "--example", "sales_mavn", "-o", str(tmp_path / "x.yaml")])
    assert bad.exit_code == ExitCode.USAGE and "did you mean 'sales_maven'" in bad.stderr
