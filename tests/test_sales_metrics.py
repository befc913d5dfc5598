"""Sales pipeline metrics against METRICS.md D1–D7 and its worked examples (WX13, WX14, WX15),
plus hand-computed pipeline snapshots and weighted pipeline."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmmetrics import compute, load_config
from crmmetrics.errors import ConfigError
from tests.conftest import write

DEAL_COLUMNS = ["id", "account", "lead", "created", "closed", "stage", "amount", "prob", "owner", "type"]

CONFIG = """
version: 1
timezone: UTC
sources:
  deals:
    path: deals.csv
    fields: {deal_id: id, customer_id: account, lead_id: lead, created_at: created, closed_at: closed,
             status: stage, stage: stage, amount: amount, probability: prob, owner: owner, deal_type: type}
    values:
      status: {"Closed Won": won, "Closed Lost": lost, "*": open}
  customers:
    path: customers.csv
    fields: {customer_id: id, segment: segment}
  deal_stages:
    path: stages.csv
    fields: {deal_id: deal, stage: stage, entered_at: entered, exited_at: exited}
  leads:
    path: leads.csv
    fields: {lead_id: id, created_at: created}
  activities:
    path: activities.csv
    fields: {activity_id: id, deal_id: deal, lead_id: lead, customer_id: customer, occurred_at: date, type: type}
metrics:
"""


def _csv(path: Path, header: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in header})


@pytest.fixture
def sales(tmp_path: Path):
    """A factory: deal dicts (+ stage history, leads, activities) → loaded config."""

    def make(deals: list[dict], *, stages: list[tuple] = (), leads: list[tuple] = (), activities: list[dict] = (),
             options: str = "", config: str = CONFIG, customers: str = "id,segment\nC1,SMB\nC2,Enterprise\n"):
        rows = [{"id": f"D{i}", "owner": "Ayşe", **d} for i, d in enumerate(deals, start=1)]
        _csv(tmp_path / "deals.csv", DEAL_COLUMNS, rows)
        _csv(tmp_path / "stages.csv", ["deal", "stage", "entered", "exited"],
             [dict(zip(["deal", "stage", "entered", "exited"], s)) for s in stages])
        _csv(tmp_path / "leads.csv", ["id", "created"], [dict(zip(["id", "created"], lead)) for lead in leads])
        _csv(tmp_path / "activities.csv", ["id", "deal", "lead", "customer", "date", "type"],
             [{"id": f"A{i}", **a} for i, a in enumerate(activities, start=1)])
        (tmp_path / "customers.csv").write_text(customers, encoding="utf-8")
        return load_config(write(tmp_path / "crm.yaml", config + options))

    return make


def _rows(report, metric):
    return report.results[report.results["metric"] == metric].reset_index(drop=True)


def _one(report, metric, period=None):
    rows = _rows(report, metric)
    if period is not None:
        rows = rows[rows["period"] == period]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def _won(created, closed, amount=1000, **kw):
    return {"created": created, "closed": closed, "stage": "Closed Won", "amount": amount, **kw}


def _lost(created, closed, amount=1000, **kw):
    return {"created": created, "closed": closed, "stage": "Closed Lost", "amount": amount, **kw}


def _open(created, amount=1000, stage="Proposal", **kw):
    return {"created": created, "stage": stage, "amount": amount, **kw}


# ------------------------------------------------------------------ win_rate (D1, WX14)


def test_wx14_win_rate_12_won_8_lost_is_60_percent_open_ignored(sales):
    deals = [_won("2026-03-01", "2026-03-10")] * 12 + [_lost("2026-03-01", "2026-03-12")] * 8 + [_open("2026-03-02")] * 5
    cfg = sales(deals)
    row = _one(compute(cfg, ["win_rate"]), "win_rate")
    assert row["value"] == pytest.approx(0.60)
    assert (row["numerator"], row["denominator"], row["n"], row["won"], row["lost"]) == (12, 20, 20, 12, 8)
    assert row["period"] == "2026-03" and row["unit"] == "percent"


def test_win_rate_all_created_variant_counts_open_deals_in_the_denominator(sales):
    deals = [_won("2026-03-01", "2026-03-10")] * 12 + [_lost("2026-03-01", "2026-03-12")] * 8 + [_open("2026-03-02")] * 5
    row = _one(compute(sales(deals, options="  win_rate: {variant: all_created}\n"), ["win_rate"]), "win_rate")
    assert row["value"] == pytest.approx(12 / 25)
    assert (row["won"], row["lost"], row["open"]) == (12, 8, 5)


def test_win_rate_5_won_10_lost_is_one_third_and_dated_by_close_date(sales):
    # Created in January, closed in February and March: each counts in its close month.
    deals = [_won("2026-01-05", "2026-02-10")] * 5 + [_lost("2026-01-05", "2026-02-11")] * 10 + [_won("2026-01-20", "2026-03-02")]
    rows = _rows(compute(sales(deals), ["win_rate"]), "win_rate")
    assert list(rows["period"]) == ["2026-02", "2026-03"]  # no closes in January: the range starts at the first close
    assert rows.loc[0, "value"] == pytest.approx(1 / 3)
    assert rows.loc[1, "value"] == pytest.approx(1.0)


def test_win_rate_by_value_and_cohort_variants(sales):
    deals = [_won("2026-01-05", "2026-02-10", 10000), _won("2026-01-06", "2026-03-10", 30000), _lost("2026-01-07", "2026-02-11", 40000),
             _open("2026-01-08")]
    by_value = _rows(compute(sales(deals, options="  win_rate: {variant: by_value}\n"), ["win_rate"], period="all"), "win_rate")
    assert by_value.loc[0, "value"] == pytest.approx(40000 / 80000)
    cohort = _one(compute(sales(deals, options="  win_rate: {variant: cohort}\n"), ["win_rate"]), "win_rate", "2026-01")
    # Of the four deals created in January, 2 won and 1 lost so far; the open one is shown, not counted.
    assert cohort["value"] == pytest.approx(2 / 3)
    assert (cohort["n"], cohort["open"]) == (3, 1)


def test_no_closed_deals_gives_null_and_an_issue(sales):
    report = compute(sales([_won("2026-01-05", "2026-01-10"), _won("2026-03-05", "2026-03-10"), _open("2026-02-01")]), ["win_rate"])
    rows = _rows(report, "win_rate")
    assert rows["value"].isna().tolist() == [False, True, False]
    assert rows.loc[1, "n"] == 0
    assert any(i.code == "zero_denominator" and i.metric == "win_rate" for i in report.issues)


def test_win_rate_by_owner_and_by_segment_joined_from_customers(sales):
    deals = [_won("2026-03-01", "2026-03-10", owner="Ali", account="C1"), _lost("2026-03-01", "2026-03-10", owner="Ali", account="C2"),
             _won("2026-03-01", "2026-03-10", owner="Can", account="C2"), _won("2026-03-01", "2026-03-10", owner="Can", account="C9")]
    cfg = sales(deals)
    by_owner = _rows(compute(cfg, ["win_rate"], by=["owner"]), "win_rate")
    assert dict(zip(by_owner["owner"], by_owner["value"])) == {"Ali": 0.5, "Can": 1.0}
    by_segment = _rows(compute(cfg, ["win_rate"], by=["segment"]), "win_rate")
    assert dict(zip(by_segment["segment"], by_segment["value"])) == {"(blank)": 1.0, "Enterprise": 0.5, "SMB": 1.0}
    assert by_segment["n"].sum() == 4  # segments add up to the total


# ------------------------------------------------------------------ bad input


def test_unknown_status_is_an_issue_with_its_line_and_is_excluded(sales):
    config = CONFIG.replace('"*": open', 'Proposal: open')  # no default: "Pending" is unmapped
    deals = [_won("2026-03-01", "2026-03-10"), _lost("2026-03-01", "2026-03-10"), {"created": "2026-03-01", "closed": "2026-03-10", "stage": "Pending"}]
    report = compute(sales(deals, config=config), ["win_rate"])
    row = _one(report, "win_rate")
    assert (row["value"], row["n"]) == (0.5, 2)
    issue = next(i for i in report.issues if i.code == "unusable_status")
    assert issue.location.endswith("deals.csv:4") and issue.metric == "win_rate"
    assert any(i.code == "unknown_value" and i.location.endswith("deals.csv:4") for i in report.issues)


def test_close_before_created_is_excluded_from_cycle_but_not_from_win_rate(sales):
    deals = [_won("2026-03-01", "2026-03-11"), _won("2026-03-20", "2026-03-05")]
    report = compute(sales(deals), ["sales_cycle_length", "win_rate"])
    cycle = _one(report, "sales_cycle_length")
    assert (cycle["value"], cycle["n"]) == (10.0, 1)
    assert _one(report, "win_rate")["n"] == 2  # the close date alone is plausible
    issue = next(i for i in report.issues if i.code == "closed_before_created")
    assert issue.location.endswith("deals.csv:3") and issue.column == "closed" and issue.metric == "sales_cycle_length"


def test_same_day_close_given_as_a_bare_date_is_not_before_creation(sales):
    # Created 14:20, closed "2026-03-05" (midnight when read): a 0-day cycle, not an error.
    report = compute(sales([_won("2026-03-05 14:20", "2026-03-05"), _won("2026-03-01", "2026-03-05")]), ["sales_cycle_length"])
    row = _one(report, "sales_cycle_length")
    assert (row["n"], row["value"]) == (2, 2.0)
    assert not [i for i in report.issues if i.level.value == "warning"]


def test_won_deal_without_amount_and_negative_amounts_are_issues_not_zeros(sales):
    deals = [_won("2026-05-01", "2026-05-10", 10000), _won("2026-05-01", "2026-05-10", 20000), _won("2026-05-01", "2026-05-10", 60000),
             _won("2026-05-01", "2026-05-10", ""), _won("2026-05-01", "2026-05-10", -500), _lost("2026-05-01", "2026-05-10", 5000)]
    report = compute(sales(deals), ["average_deal_size"])
    row = _one(report, "average_deal_size")
    assert row["value"] == pytest.approx(30000)
    assert (row["n"], row["numerator"], row["median"]) == (3, 90000, 20000)
    by_code = {i.code: i for i in report.issues}
    assert by_code["missing_amount"].location.endswith("deals.csv:5")
    assert by_code["negative_amount"].location.endswith("deals.csv:6") and by_code["negative_amount"].value == "-500.0"
    lost_too = _one(compute(sales(deals, options="  average_deal_size: {include_lost: true}\n"), ["average_deal_size"]), "average_deal_size")
    assert lost_too["value"] == pytest.approx(95000 / 4)


def test_repeated_deal_id_uses_its_last_row(sales, tmp_path):
    cfg = sales([_won("2026-03-01", "2026-03-10")])
    # Re-export: D1 appears first as open, then (latest) as lost.
    (tmp_path / "deals.csv").write_text("id,created,closed,stage,amount\nD1,2026-03-01,,Proposal,100\nD1,2026-03-01,2026-03-10,Closed Lost,100\n"
                                        "D2,2026-03-01,2026-03-10,Closed Won,100\n", encoding="utf-8")
    report = compute(cfg, ["win_rate"])
    row = _one(report, "win_rate")
    assert (row["value"], row["n"]) == (0.5, 2)
    assert any(i.code == "duplicate_deal" for i in report.issues)


def test_probability_outside_the_scale_is_an_issue_and_falls_back_to_the_stage(sales):
    deals = [_open("2026-03-01", 10000, prob=50), _open("2026-03-01", 20000, stage="Contract sent", prob=150)]
    report = compute(sales(deals), ["weighted_pipeline_value"], period="all", as_of="2026-03-31")
    row = _one(report, "weighted_pipeline_value")
    assert row["value"] == pytest.approx(10000 * 0.5 + 20000 * 0.9)
    issue = next(i for i in report.issues if i.code == "probability_out_of_range")
    assert issue.location.endswith("deals.csv:3") and issue.value == "150.0"


# ------------------------------------------------------------------ sales_cycle_length (D2, WX13)


def test_wx13_sales_cycle_5_after_10_days_and_5_after_20_is_15(sales):
    deals = [_won("2026-05-01", "2026-05-11")] * 5 + [_won("2026-05-01", "2026-05-21")] * 5
    row = _one(compute(sales(deals), ["sales_cycle_length"]), "sales_cycle_length")
    assert row["value"] == pytest.approx(15.0)
    assert (row["mean"], row["median"], row["p90"], row["n"], row["numerator"]) == (15.0, 15.0, 20.0, 10, 150.0)
    assert row["unit"] == "days"


def test_wx13_from_lead_creation_chartmogul_lead_to_paid(sales):
    # Leads (trials) start May 1; their deals are created May 5 and won May 11 / May 21.
    deals = [_won("2026-05-05", "2026-05-11", lead=f"L{i}") for i in range(5)] + [_won("2026-05-05", "2026-05-21", lead=f"L{i}") for i in range(5, 10)]
    leads = [(f"L{i}", "2026-05-01") for i in range(10)]
    cfg = sales(deals, leads=leads, options="  sales_cycle_length: {start: lead_created}\n")
    assert _one(compute(cfg, ["sales_cycle_length"]), "sales_cycle_length")["value"] == pytest.approx(15.0)
    plain = sales(deals, leads=leads)
    assert _one(compute(plain, ["sales_cycle_length"]), "sales_cycle_length")["value"] == pytest.approx(11.0)


def test_cycle_from_first_contact_uses_the_earliest_linked_activity(sales):
    deals = [_won("2026-03-10", "2026-03-31", lead="L1"), _won("2026-03-10", "2026-03-31")]
    acts = [{"deal": "D1", "date": "2026-03-05"}, {"lead": "L1", "date": "2026-03-01"}, {"deal": "D2", "date": "2026-03-20"}]
    cfg = sales(deals, activities=acts, options="  sales_cycle_length: {start: first_contact}\n")
    row = _one(compute(cfg, ["sales_cycle_length"]), "sales_cycle_length")
    # D1: first contact Mar 1 (via its lead) → 30 days; D2: its only touch is after creation → 21 days.
    assert (row["mean"], row["median"]) == (25.5, 25.5)


def test_cycle_variants_include_lost_and_cohort(sales):
    deals = [_won("2026-01-01", "2026-02-01"), _lost("2026-01-01", "2026-01-11"), _won("2026-02-01", "2026-02-05")]
    closed = _rows(compute(sales(deals, options="  sales_cycle_length: {outcomes: closed}\n"), ["sales_cycle_length"]), "sales_cycle_length")
    assert list(closed["value"]) == [10.0, pytest.approx(17.5)]  # Jan: the lost deal; Feb: 31 and 4 days
    cohort = _rows(compute(sales(deals, options="  sales_cycle_length: {basis: cohort}\n"), ["sales_cycle_length"]), "sales_cycle_length")
    assert list(cohort["value"]) == [31.0, 4.0]  # by created month, won deals only


# ------------------------------------------------------------------ pipeline_value (D3), weighted (D4)

PIPELINE = [
    _won("2026-02-10", "2026-03-20", 10000),                 # A: open Feb 10 → Mar 20
    _lost("2026-03-05", "2026-04-10", 20000),                # B: open Mar 5 → Apr 10
    _open("2026-03-25", 5000, closed="2026-03-28", prob=50),  # C: still open; its close date is only expected
    _open("2026-04-02", 7000, stage="Contract sent"),          # D: no probability → stage default
    _open("2026-03-02", ""),                                   # E: open, no amount
    _lost("2026-02-20", "2026-04-01", 3000),                 # F: lost on Apr 1, an April event: open at the end of March
]


def test_pipeline_value_at_past_period_ends(sales):
    report = compute(sales(PIPELINE), ["pipeline_value"], since="2026-02-01", until="2026-05-01", as_of="2026-06-30")
    rows = _rows(report, "pipeline_value")
    assert list(rows["period"]) == ["2026-02", "2026-03", "2026-04"]
    assert list(rows["snapshot_at"]) == ["2026-03-01 00:00", "2026-04-01 00:00", "2026-05-01 00:00"]
    # Mar 1: A + F; Apr 1: B + C + E + F (A won Mar 20; F's loss on Apr 1 is April's); May 1: C + D + E (B lost Apr 10).
    assert list(rows["value"]) == [13000, 28000, 12000]
    assert list(rows["n"]) == [2, 4, 3]
    assert list(rows["without_amount"]) == [0, 1, 1]
    assert rows["denominator"].isna().all()


def test_pipeline_snapshot_is_the_state_after_the_events_before_the_period_end(sales):
    # Bare dates are midnight: a deal created on Apr 1 is April's, one won on Apr 1 was open all of March.
    deals = [_open("2026-04-01", 100), _won("2026-03-10", "2026-04-01", 20), _open("2026-03-15", 3), _lost("2026-03-01", "2026-03-31", 7)]
    rows = _rows(compute(sales(deals), ["pipeline_value", "new_opportunities", "win_rate"], since="2026-03-01", until="2026-05-01",
                         as_of="2026-06-30"), "pipeline_value")
    assert list(rows["value"]) == [23, 103]  # Mar 31 24:00: won-on-Apr-1 20 + open 3; Apr 30 24:00: open 3 + created-Apr-1 100
    # Reconciles with the FLOW metrics: pipeline(end of April) = 23 + created in April (100) − closed in April (20).
    assert rows.loc[1, "value"] == 23 + 100 - 20


def test_pipeline_snapshot_at_period_start_and_as_of_cap(sales):
    start = _rows(compute(sales(PIPELINE, options="  pipeline_value: {at: start}\n"), ["pipeline_value"],
                          since="2026-02-01", until="2026-04-01", as_of="2026-06-30"), "pipeline_value")
    assert list(start["value"]) == [0, 13000]  # nothing was open on Feb 1: an empty pipeline is 0, not null
    # No --until: the current month is snapshotted at the end of the as-of day, when B was still open.
    capped = _rows(compute(sales(PIPELINE), ["pipeline_value"], since="2026-04-01", as_of="2026-04-05"), "pipeline_value")
    assert list(capped["snapshot_at"]) == ["2026-04-06 00:00"]
    assert capped.loc[0, "value"] == 20000 + 5000 + 7000


def test_pipeline_by_owner_keeps_every_period(sales):
    deals = [_open("2026-01-10", 100, owner="Ali"), _open("2026-02-10", 50, owner="Can")]
    rows = _rows(compute(sales(deals), ["pipeline_value"], by=["owner"], until="2026-03-01", as_of="2026-06-30"), "pipeline_value")
    got = {(r.period, r.owner): r.value for r in rows.itertuples()}
    assert got == {("2026-01", "Ali"): 100, ("2026-01", "Can"): 0, ("2026-02", "Ali"): 100, ("2026-02", "Can"): 50}


def test_weighted_pipeline_without_history(sales):
    report = compute(sales(PIPELINE), ["weighted_pipeline_value"], since="2026-03-01", until="2026-05-01", as_of="2026-06-30")
    rows = _rows(report, "weighted_pipeline_value")
    # Apr 1: C 5,000 × 50 % = 2,500; B and F (lost today) have no knowable probability back then; E has no amount.
    assert rows.loc[0, "value"] == pytest.approx(2500)
    assert (rows.loc[0, "denominator"], rows.loc[0, "without_probability"], rows.loc[0, "without_amount"]) == (5000, 2, 1)
    # May 1: C 2,500 + D 7,000 × 90 % (HubSpot 'Contract sent') = 8,800.
    assert rows.loc[1, "value"] == pytest.approx(8800)
    assert rows.loc[1, "denominator"] == 12000
    assert any(i.code == "unknown_probability" for i in report.issues)


def test_weighted_pipeline_weighs_closed_deals_by_their_stage_back_then(sales):
    stages = [("D2", "Presentation scheduled", "2026-03-05", "2026-04-10"), ("D2", "Closed Lost", "2026-04-10", "2026-04-10")]
    rows = _rows(compute(sales(PIPELINE, stages=stages), ["weighted_pipeline_value"], since="2026-03-01", until="2026-05-01", as_of="2026-06-30"),
                 "weighted_pipeline_value")
    # Apr 1: B was in 'Presentation scheduled' (60 %): 20,000 × 0.6 + C 2,500 = 14,500; F has no history.
    assert rows.loc[0, "value"] == pytest.approx(14500)
    assert (rows.loc[0, "denominator"], rows.loc[0, "without_probability"]) == (25000, 1)


def test_weighted_pipeline_custom_stage_probabilities_in_percent(sales):
    options = '  weighted_pipeline_value: {probability_source: stage, stage_probabilities: {"proposal": 25, "Contract Sent": 50}}\n'
    rows = _rows(compute(sales(PIPELINE, options=options), ["weighted_pipeline_value"], since="2026-04-01", until="2026-05-01", as_of="2026-06-30"),
                 "weighted_pipeline_value")
    assert rows.loc[0, "value"] == pytest.approx(5000 * 0.25 + 7000 * 0.5)


def test_weighted_example_10000_at_50_percent_is_5000(sales):
    row = _one(compute(sales([_open("2026-03-01", 10000, prob=0.5)]), ["weighted_pipeline_value"], period="all", as_of="2026-03-31"),
               "weighted_pipeline_value")
    assert row["value"] == pytest.approx(5000)


def test_bad_stage_probabilities_are_a_config_error(sales):
    with pytest.raises(ConfigError, match="stage_probabilities"):
        sales(PIPELINE, options='  weighted_pipeline_value: {stage_probabilities: {"Proposal": 150}}\n').check_metric_options()


# ------------------------------------------------------------------ sales_velocity (D6, WX15)


def _wx15_deals():
    won = [_won("2026-01-01", "2026-04-01", 25000)] * 10          # 90-day cycle, closed in Q2
    lost = [_lost("2026-04-05", "2026-05-05", 1000)] * 30          # created and closed in Q2
    still_open = [_open("2026-05-10")] * 10                        # created in Q2
    return won + lost + still_open


def test_wx15_sales_velocity_is_2777_78_per_day(sales):
    rows = _rows(compute(sales(_wx15_deals()), ["sales_velocity"], period="quarter"), "sales_velocity")
    q2 = rows[rows["period"] == "2026-Q2"].iloc[0]
    assert q2["value"] == pytest.approx(40 * 25000 * 0.25 / 90)
    assert q2["value"] == pytest.approx(2777.78, abs=0.01)
    assert (q2["opportunities"], q2["average_deal_size"], q2["win_rate"], q2["cycle_days"]) == (40, 25000, 0.25, 90)
    assert (q2["numerator"], q2["denominator"], q2["n"]) == (250000, 90, 40)
    q1 = rows[rows["period"] == "2026-Q1"].iloc[0]
    assert q1["opportunities"] == 10 and q1["value"] != q1["value"]  # no deal closed in Q1: null, not 0


def test_sales_velocity_per_month(sales):
    rows = _rows(compute(sales(_wx15_deals(), options="  sales_velocity: {per: month}\n"), ["sales_velocity"], period="quarter"), "sales_velocity")
    assert rows[rows["period"] == "2026-Q2"].iloc[0]["value"] == pytest.approx(83333.33, abs=0.01)


# ------------------------------------------------------------------ new_opportunities


def test_new_opportunities_counts_created_deals_and_zero_months(sales):
    deals = [_open("2026-01-03", 100), _won("2026-01-20", "2026-02-01", 200), _open("2026-03-02", 50, stage="Prospecting")]
    rows = _rows(compute(sales(deals), ["new_opportunities"]), "new_opportunities")
    assert list(rows["value"]) == [2, 0, 1]
    assert list(rows["amount"]) == [300, 0, 50]
    qualified = _rows(compute(sales(deals, options="  new_opportunities: {unqualified_stages: [prospecting]}\n"), ["new_opportunities"]),
                      "new_opportunities")
    assert list(qualified["value"]) == [2]  # March's only deal is not qualified yet


# ------------------------------------------------------------------ stage_duration (D7)

STAGES = [
    ("D1", "Prospecting", "2026-03-01", "2026-03-05"), ("D1", "Proposal", "2026-03-05", "2026-03-15"), ("D1", "Closed Won", "2026-03-15", "2026-03-15"),
    ("D2", "Prospecting", "2026-03-02", "2026-03-08"), ("D2", "Closed Lost", "2026-03-08", "2026-03-08"),
    ("D3", "Prospecting", "2026-03-01", "2026-03-03"), ("D3", "Qualification", "2026-03-03", ""),
    ("D4", "Proposal", "2026-04-01", "2026-04-03"), ("D4", "Negotiation", "2026-04-03", "2026-04-05"), ("D4", "Proposal", "2026-04-05", "2026-04-09"),
]


def test_stage_duration_per_stage_with_total(sales):
    cfg = sales([], stages=STAGES, options='  stage_duration: {exclude_stages: ["closed won", "Closed Lost"]}\n')
    rows = _rows(compute(cfg, ["stage_duration"]), "stage_duration")
    march = rows[rows["period"] == "2026-03"].set_index("stage")
    # D3's open Qualification visit is not a duration; Negotiation (seen in April) is an empty cell in March.
    assert set(march.index[march["n"] > 0]) == {"(total)", "Prospecting", "Proposal"}
    assert march.loc["Negotiation", "n"] == 0 and march.loc["Negotiation", "value"] != march.loc["Negotiation", "value"]
    assert march.loc["Prospecting", "value"] == pytest.approx(4.0)  # (4 + 6 + 2) ÷ 3
    assert march.loc["Prospecting", "n"] == 3
    assert march.loc["Proposal", "value"] == pytest.approx(10.0)
    assert march.loc["(total)", "value"] == pytest.approx(10.0)  # D1 14 days, D2 6 days; D3 is still in the pipeline
    april = rows[rows["period"] == "2026-04"].set_index("stage")
    assert april.loc["Proposal", "value"] == pytest.approx(3.0) and april.loc["Proposal", "n"] == 2  # re-entry: two visits, 2 and 4 days
    assert april.loc["(total)", "value"] == pytest.approx(8.0)


def test_stage_duration_reentries_summed_per_deal_and_terminal_rows_kept_by_default(sales):
    cfg = sales([], stages=STAGES, options="  stage_duration: {reentries: sum_per_deal, total: false}\n")
    rows = _rows(compute(cfg, ["stage_duration"]), "stage_duration")
    april = rows[rows["period"] == "2026-04"].set_index("stage")
    assert (april.loc["Proposal", "value"], april.loc["Proposal", "n"]) == (6.0, 1)
    march = rows[rows["period"] == "2026-03"].set_index("stage")
    assert march.loc["Closed Won", "value"] == 0.0 and "(total)" not in march.index


def test_stage_exited_before_entered_is_an_issue(sales):
    report = compute(sales([], stages=[*STAGES, ("D5", "Proposal", "2026-03-10", "2026-03-09")]), ["stage_duration"])
    issue = next(i for i in report.issues if i.code == "negative_duration")
    assert issue.location.endswith("stages.csv:12")


def test_explain_lists_every_variant():
    from crmmetrics.explain import explain_text
    from crmmetrics.metrics.registry import get_metric

    text = explain_text(get_metric("win_rate"))
    for variant in ("all_created", "by_value", "cohort"):
        assert variant in text
    assert "first_contact" in explain_text(get_metric("sales_cycle_length"))
    assert "stage_probabilities" in explain_text(get_metric("weighted_pipeline_value"))


# ------------------------------------------------------------------ invariants (hypothesis)

_deal = st.tuples(st.integers(0, 80), st.integers(0, 60), st.sampled_from(["Closed Won", "Closed Lost", "Proposal"]),
                  st.integers(0, 5000), st.sampled_from(["Ali", "Can"]))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_deal, min_size=1, max_size=25), st.randoms())
def test_rates_stay_in_range_segments_add_up_and_row_order_does_not_matter(sales, raw, rnd):
    import datetime as dt

    day0 = dt.date(2026, 1, 1)
    deals = [{"created": (day0 + dt.timedelta(days=c)).isoformat(), "closed": (day0 + dt.timedelta(days=c + d)).isoformat() if s != "Proposal" else "",
              "stage": s, "amount": a, "owner": o} for c, d, s, a, o in raw]
    kw = {"until": "2026-06-01", "as_of": "2026-06-30"}
    first = compute(sales(deals), ["win_rate", "pipeline_value"], **kw).results
    shuffled = deals[:]
    rnd.shuffle(shuffled)
    second = compute(sales(shuffled), ["win_rate", "pipeline_value"], **kw).results
    assert first[["metric", "period", "value", "n"]].astype(str).equals(second[["metric", "period", "value", "n"]].astype(str))
    rates = first.loc[first["metric"] == "win_rate", "value"].dropna()
    assert ((rates >= 0) & (rates <= 1)).all()
    by = compute(sales(deals), ["pipeline_value"], by=["owner"], **kw).results
    total = first[first["metric"] == "pipeline_value"].set_index("period")
    assert (by.groupby("period")["n"].sum() == total["n"]).all()
    assert (by.groupby("period")["value"].sum() - total["value"]).abs().max() < 1e-6
