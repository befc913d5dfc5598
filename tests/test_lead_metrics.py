"""Lead and before-the-sale metrics against METRICS.md D8–D11 and the Turkish article's counts
(new leads, demos, interactions), with hand-computed values."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from crmmetrics import compute, load_config
from crmmetrics.errors import ConfigError
from tests.conftest import write
from tests.test_subscription_metrics import at

LEAD_COLUMNS = ["id", "created", "source", "status", "mql", "sql", "converted", "response"]

CONFIG = """
version: 1
timezone: UTC
sources:
  leads:
    path: leads.csv
    fields: {lead_id: id, created_at: created, source: source, status: status, mql_at: mql, sql_at: sql,
             converted_at: converted, first_response_at: response}
  activities:
    path: activities.csv
    fields: {activity_id: id, lead_id: lead, customer_id: customer, deal_id: deal, occurred_at: date, type: type,
             direction: direction, actor_type: actor}
  customers:
    path: customers.csv
    fields: {customer_id: id, segment: segment}
metrics:
"""

DEALS = """
  deals:
    path: deals.csv
    fields: {deal_id: id, lead_id: lead, created_at: created, closed_at: closed, status: status}
"""


def _csv(path: Path, header: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in header})


@pytest.fixture
def leads(tmp_path: Path):
    """A factory: lead dicts (+ activities, deals) → loaded config."""

    def make(rows: list[dict], *, activities: list[dict] = (), deals: list[dict] | None = None, options: str = "",
             config: str = CONFIG):
        _csv(tmp_path / "leads.csv", LEAD_COLUMNS, [{"id": f"L{i}", "source": "web", **r} for i, r in enumerate(rows, start=1)])
        _csv(tmp_path / "activities.csv", ["id", "lead", "customer", "deal", "date", "type", "direction", "actor"],
             [{"id": f"A{i}", "direction": "outbound", "actor": "agent", "type": "email", **a} for i, a in enumerate(activities, start=1)])
        (tmp_path / "customers.csv").write_text("id,segment\nC1,SMB\nC2,Enterprise\n", encoding="utf-8")
        text = config
        if deals is not None:
            _csv(tmp_path / "deals.csv", ["id", "lead", "created", "closed", "status"], [{"id": f"D{i}", **d} for i, d in enumerate(deals, start=1)])
            text = text.replace("metrics:\n", DEALS.lstrip("\n") + "metrics:\n")
        return load_config(write(tmp_path / "crm.yaml", text + options))

    return make


def _rows(report, metric):
    return report.results[report.results["metric"] == metric].reset_index(drop=True)


def _by_period(report, metric):
    return {r["period"]: r for _, r in _rows(report, metric).iterrows()}


# ------------------------------------------------------------------ lead_conversion_rate (D8)

CONVERSIONS = ([{"created": "2026-03-02", "converted": "2026-03-20"}, {"created": "2026-03-05", "converted": "2026-03-30"},
                {"created": "2026-03-09", "converted": "2026-05-04"}] + [{"created": "2026-03-10"}] * 7
               + [{"created": "2026-05-01"}, {"created": "2026-05-02"}])


def test_lead_conversion_cohort_counts_later_conversions_in_the_creation_month(leads):
    got = _by_period(compute(leads(CONVERSIONS), ["lead_conversion_rate"]), "lead_conversion_rate")
    assert got["2026-03"]["value"] == pytest.approx(0.30)  # 3 of the 10 March leads converted (one in May)
    assert (got["2026-03"]["converted"], got["2026-03"]["leads"], got["2026-03"]["n"]) == (3, 10, 10)
    assert got["2026-05"]["value"] == 0.0
    assert got["2026-04"]["value"] != got["2026-04"]["value"]  # no leads created in April: null


def test_lead_conversion_period_variant(leads):
    got = _by_period(compute(leads(CONVERSIONS, options="  lead_conversion_rate: {basis: period}\n"), ["lead_conversion_rate"]),
                     "lead_conversion_rate")
    assert got["2026-03"]["value"] == pytest.approx(2 / 10)
    assert got["2026-05"]["value"] == pytest.approx(1 / 2)  # a March lead converting in May, over May's 2 new leads
    assert got["2026-05"]["n"] == 2


def test_lead_conversion_within_days(leads):
    got = _by_period(compute(leads(CONVERSIONS, options="  lead_conversion_rate: {within_days: 30}\n"), ["lead_conversion_rate"]),
                     "lead_conversion_rate")
    assert got["2026-03"]["value"] == pytest.approx(2 / 10)  # 18 and 25 days count; 56 days does not


def test_conversion_derived_from_won_deals_when_leads_have_no_converted_date(leads):
    config = CONFIG.replace(" converted_at: converted,", "")
    rows = [{"created": "2026-01-05"}, {"created": "2026-01-06"}, {"created": "2026-01-07"}, {"created": "2026-01-08"},
            {"created": "2026-01-10"}]
    deals = [{"lead": "L1", "created": "2026-01-20", "closed": "2026-02-03", "status": "won"},
             {"lead": "L1", "created": "2026-02-20", "closed": "2026-03-03", "status": "won"},
             {"lead": "L2", "created": "2026-01-21", "closed": "2026-02-01", "status": "lost"},
             {"lead": "L3", "created": "2026-01-22", "status": "open"},
             {"lead": "L5", "created": "2026-01-02", "closed": "2026-01-08", "status": "won"},  # won before the lead existed
             {"created": "2026-01-22", "status": "open"}]
    report = compute(leads(rows, deals=deals, config=config), ["lead_conversion_rate"], period="all")
    row = _rows(report, "lead_conversion_rate").iloc[0]
    # L5's conversion predates it: an issue, but L5 exists and converted, so it counts
    # (issue #11: Olist has one such deal; Salesforce never compares the dates).
    assert (row["value"], row["converted"], row["leads"]) == (0.4, 2, 5)
    issue = next(i for i in report.issues if i.code == "conversion_before_created")
    assert issue.location.endswith("leads.csv:6")
    assert report.options["lead_conversion_rate"]["conversion_from"] == "first won deal's closed_at"
    opp = compute(leads(rows, deals=deals, config=config, options="  lead_conversion_rate: {target: opportunity}\n"),
                  ["lead_conversion_rate"], period="all")
    assert _rows(opp, "lead_conversion_rate").iloc[0]["value"] == pytest.approx(4 / 5)  # L1, L2, L3 and L5 got a deal


def test_conversion_needs_a_source(leads):
    config = CONFIG.replace(" converted_at: converted,", "")
    with pytest.raises(ConfigError, match="converted_at or deals.lead_id"):
        compute(leads([{"created": "2026-01-05"}], config=config), ["lead_conversion_rate"])


# ------------------------------------------------------------------ mql_rate (D9), sql_rate (D10)


def test_mql_rate_ever_reached_and_early_dates(leads):
    rows = ([{"created": "2026-04-01 09:00", "mql": "2026-04-01", "status": "lead"},   # same day, bare date: fine
             {"created": "2026-04-02", "mql": "2026-04-10", "status": "lead"},          # went back to 'lead': still an MQL
             {"created": "2026-04-03", "mql": "2026-04-20"}]
            + [{"created": "2026-04-05"}] * 5 + [{"created": "2026-04-06", "mql": "2026-03-01"}])
    report = compute(leads(rows), ["mql_rate"])
    row = _rows(report, "mql_rate").iloc[0]
    # The lead whose mql_at precedes its creation still reached MQL (an issue, counted).
    assert row["value"] == pytest.approx(4 / 9)
    assert (row["mqls"], row["n"]) == (4, 9)
    issue = next(i for i in report.issues if i.code == "mql_before_created")
    assert issue.location.endswith("leads.csv:10") and issue.column == "mql"


def test_sql_rate_of_mqls_and_variants(leads):
    rows = ([{"created": "2026-05-01", "mql": "2026-05-02", "sql": "2026-05-03"}] + [{"created": "2026-05-01", "mql": "2026-05-02"}] * 3
            + [{"created": "2026-05-01", "sql": "2026-05-04"}] + [{"created": "2026-05-01"}] * 5)
    got = _rows(compute(leads(rows), ["sql_rate"]), "sql_rate").iloc[0]
    assert (got["value"], got["n"], got["sqls"]) == (0.25, 4, 1)
    later = _rows(compute(leads(rows, options="  sql_rate: {count_later_stages: true}\n"), ["sql_rate"]), "sql_rate").iloc[0]
    assert later["value"] == pytest.approx(2 / 5)  # the SQL without an MQL date joins the MQL base
    base_all = _rows(compute(leads(rows, options="  sql_rate: {base: all}\n"), ["sql_rate"]), "sql_rate").iloc[0]
    assert base_all["value"] == pytest.approx(2 / 10)


# ------------------------------------------------------------------ lead_response_time (D11)


def test_lead_response_median_mean_p90_and_sla(leads):
    rows = [{"created": "2026-06-01 10:00", "response": "2026-06-01 11:00"}, {"created": "2026-06-02 10:00", "response": "2026-06-02 12:00"},
            {"created": "2026-06-03 10:00", "response": "2026-06-04 16:00"}, {"created": "2026-06-04 10:00"}]
    report = compute(leads(rows), ["lead_response_time"], as_of="2026-07-01")
    row = _rows(report, "lead_response_time").iloc[0]
    assert (row["value"], row["median"], row["mean"]) == (2.0, 2.0, 11.0)
    assert row["p90"] == pytest.approx(2 + 0.8 * 28)  # linear interpolation over 1, 2, 30 hours
    assert (row["n"], row["leads"], row["unanswered"], row["pending"], row["within_sla"]) == (3, 4, 1, 0, 2)
    assert row["sla_rate"] == pytest.approx(0.5)  # the unanswered lead is a miss
    assert row["unit"] == "hours"


def test_unanswered_lead_inside_its_sla_window_is_pending_not_a_miss(leads):
    rows = [{"created": "2026-06-30 10:00", "response": "2026-06-30 10:30"}, {"created": "2026-06-30 20:00"}]
    row = _rows(compute(leads(rows, options="  lead_response_time: {unit: minutes}\n"), ["lead_response_time"], as_of="2026-06-30"),
                "lead_response_time").iloc[0]
    assert (row["value"], row["pending"], row["unanswered"], row["sla_rate"]) == (30.0, 1, 1, 1.0)


def test_lead_response_from_first_outbound_human_activity(leads):
    rows = [{"created": "2026-06-01 10:00"}, {"created": "2026-06-01 10:00", "response": "2026-06-01 10:30"}]
    acts = [{"lead": "L1", "date": "2026-06-01 09:00"},                          # before the lead existed
            {"lead": "L1", "date": "2026-06-01 10:01", "actor": "bot"},          # auto-reply
            {"lead": "L1", "date": "2026-06-01 10:05", "direction": "inbound", "actor": "customer"},
            {"lead": "L1", "date": "2026-06-01 13:00"},                          # the first human response: 3 h
            {"lead": "L2", "date": "2026-06-01 10:10"}]                          # earlier than L2's own field: ignored (auto)
    row = _rows(compute(leads(rows, activities=acts), ["lead_response_time"], as_of="2026-07-01"), "lead_response_time").iloc[0]
    assert (row["median"], row["mean"], row["n"]) == (pytest.approx(1.75), pytest.approx(1.75), 2)
    only_acts = _rows(compute(leads(rows, activities=acts, options="  lead_response_time: {source: activities}\n"), ["lead_response_time"],
                              as_of="2026-07-01"), "lead_response_time").iloc[0]
    assert sorted([only_acts["median"], only_acts["mean"]]) == [pytest.approx((3 + 1 / 6) / 2)] * 2


def test_first_response_before_creation_is_an_issue(leads):
    rows = [{"created": "2026-06-01 10:00", "response": "2026-05-30 10:00"}, {"created": "2026-06-01 10:00", "response": "2026-06-01 12:00"}]
    report = compute(leads(rows), ["lead_response_time"], as_of="2026-07-01")
    row = _rows(report, "lead_response_time").iloc[0]
    assert (row["n"], row["leads"], row["value"]) == (1, 1, 2.0)
    assert next(i for i in report.issues if i.code == "response_before_created").location.endswith("leads.csv:2")


# ------------------------------------------------------------------ new_leads, demos, interactions_per_customer


def test_new_leads_per_month_zero_months_and_excluded_statuses(leads):
    rows = [{"created": "2026-01-05"}, {"created": "2026-01-09", "status": "Spam"}, {"created": "2026-03-01"}]
    got = _rows(compute(leads(rows), ["new_leads"]), "new_leads")
    assert list(zip(got["period"], got["value"])) == [("2026-01", 2), ("2026-02", 0), ("2026-03", 1)]
    spam = _rows(compute(leads(rows, options="  new_leads: {exclude_statuses: [spam]}\n"), ["new_leads"]), "new_leads")
    assert list(spam["value"]) == [1, 0, 1]


def test_demos_count_demo_activities(leads):
    acts = [{"type": "demo", "date": "2026-03-02", "deal": "D1", "customer": "C1"}, {"type": "Demo", "date": "2026-03-09", "deal": "D1", "customer": "C1"},
            {"type": "call", "date": "2026-03-03"}, {"type": "demo", "date": "2026-04-07", "actor": "bot"},
            {"type": "demo", "date": "2026-04-08", "deal": "D2"}]
    got = _rows(compute(leads([{"created": "2026-03-01"}], activities=acts), ["demos"]), "demos")
    assert list(zip(got["period"], got["value"], got["deals"], got["customers"])) == [("2026-03", 2, 1, 1), ("2026-04", 1, 1, 0)]


def test_interactions_per_customer(leads):
    acts = ([{"customer": "C1", "date": "2026-03-02"}] * 3 + [{"customer": "C2", "date": "2026-03-05", "type": "call"}]
            + [{"customer": "C1", "date": "2026-03-06", "type": "login", "direction": "inbound", "actor": "customer"},
               {"customer": "C2", "date": "2026-03-07", "actor": "bot"}, {"lead": "L1", "date": "2026-03-08"}])
    report = compute(leads([{"created": "2026-03-01"}], activities=acts), ["interactions_per_customer"])
    row = _rows(report, "interactions_per_customer").iloc[0]
    assert (row["value"], row["interactions"], row["customers"]) == (2.0, 4, 2)
    by = _rows(compute(leads([{"created": "2026-03-01"}], activities=acts), ["interactions_per_customer"], by=["segment"]),
               "interactions_per_customer")
    assert dict(zip(by["segment"], by["value"])) == {"SMB": 3.0, "Enterprise": 1.0}


def test_lead_response_in_business_hours(leads):
    config = CONFIG.replace("sources:", 'business_hours:\n  office: {intervals: {monday: [["09:00", "18:00"]], friday: [["09:00", "18:00"]]}}\nsources:')
    rows = [{"created": "2026-06-05 17:00", "response": "2026-06-08 10:00"},   # Friday 17:00 → Monday 10:00: 1 + 1 business hours
            {"created": "2026-06-08 09:30", "response": "2026-06-08 09:45"},   # Monday: 15 minutes
            {"created": "2026-06-08 11:00"}]                                     # never answered: a miss
    report = compute(leads(rows, config=config, options="  lead_response_time: {schedule: office, unit: minutes, sla_hours: 1}\n"),
                     ["lead_response_time"], as_of="2026-07-01")
    row = _rows(report, "lead_response_time").iloc[0]
    assert (row["mean"], row["median"], row["n"]) == ((120 + 15) / 2, (120 + 15) / 2, 2)
    assert (row["within_sla"], row["unanswered"], row["sla_rate"]) == (1, 1, pytest.approx(1 / 3))  # 2 business hours miss a 1-hour SLA
    assert report.options["lead_response_time"]["measured_in"] == "business minutes (office)"


# ------------------------------------------------------------------ 5. a milestone before the lead's creation still counts

LEADS = """
version: 1
timezone: UTC
sources:
  leads:
    path: leads.csv
    fields: {lead_id: id, created_at: created, mql_at: mql, sql_at: sql, converted_at: converted, first_response_at: response}
"""


def test_won_before_created_counts_in_rates_and_leaves_durations_only(tmp_path):
    # L1 is clean; L2's MQL, SQL, conversion and first response are all stamped before
    # it was created (an import); L3 and L4 never moved.
    (tmp_path / "leads.csv").write_text(
        "id,created,mql,sql,converted,response\n"
        "L1,2026-03-02 09:00,2026-03-03,2026-03-04,2026-03-10,2026-03-02 11:00\n"
        "L2,2026-03-05 09:00,2026-03-01,2026-03-01,2026-03-02,2026-03-05 08:00\n"
        "L3,2026-03-06 09:00,,,,\n"
        "L4,2026-03-07 09:00,,,,\n", encoding="utf-8")
    cfg = load_config(write(tmp_path / "crm.yaml", LEADS))
    rep = compute(cfg, ["lead_conversion_rate", "mql_rate", "sql_rate", "lead_response_time"], period="all", as_of="2026-03-31")
    conv = at(rep, "lead_conversion_rate", "all")
    assert (conv["converted"], conv["leads"], conv["value"]) == (2, 4, 0.5)  # was 1 / 3
    assert at(rep, "mql_rate", "all")["value"] == 0.5  # 2 of 4, was 1 of 3
    assert at(rep, "sql_rate", "all")["value"] == 1.0  # both MQLs reached SQL
    response = at(rep, "lead_response_time", "all")
    assert (response["n"], response["value"]) == (1, 2.0)  # L1 only: a negative time is no duration
    warned = {i.code for i in rep.issues if i.level.value == "warning"}
    assert {"conversion_before_created", "mql_before_created", "sql_before_created", "response_before_created"} <= warned
