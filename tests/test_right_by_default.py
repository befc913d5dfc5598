"""Regression tests for issue #11 "Right by default": definition and default defects found
by an independent audit, each pinned with the audit's numbers (sample data, the synthetic
generator's output, the real datasets) and with a hand-built case."""

from __future__ import annotations

import subprocess
import sys

import pytest

from crmmetrics import compute, load_config
from crmmetrics.errors import ConfigError
from tests.conftest import DATASETS, ROOT, needs_dataset, write
from tests.test_review_core import ORDERS_CONFIG
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


# ------------------------------------------------------------------ 3. a gap of exactly inactive_days is no churn

ORDERS = ORDERS_CONFIG + """metrics:
  customer_lifespan: {inactive_days: 30, unit: months}
"""


def test_an_order_exactly_inactive_days_later_is_not_churn(tmp_path):
    # A orders on 5 Jan and again exactly 30 days later (4 Feb); B only on 5 Jan, so B
    # is lost on 4 Feb. Churn in February is 1 of 2 → lifespan 2 months. Counting A's
    # 30-day gap as churn and re-acquisition read 2 of 2 → 1 month.
    (tmp_path / "orders.csv").write_text(
        "id,customer,date,amount\n1,A,2026-01-05,10\n2,A,2026-02-04,10\n3,A,2026-02-20,10\n4,B,2026-01-05,10\n", encoding="utf-8")
    rep = compute(load_config(write(tmp_path / "crm.yaml", ORDERS)), ["customer_lifespan"], as_of="2026-02-28")
    feb = at(rep, "customer_lifespan", "2026-02")
    assert (feb["customers_at_start"], feb["churned"], feb["value"]) == (2, 1, 2.0)


def test_sample_data_february_2026_lifespan_7_78_years_and_clv_616091():
    # The sample has 16 annual renewals exactly 365 days after the previous order;
    # read as churn they gave 4.67 years and CLV 369,655.
    rep = compute(load_config(ROOT / "config.example.yaml"), ["customer_lifespan", "clv"],
                  since="2026-02-01", until="2026-03-01", as_of="2026-10-31")
    life = at(rep, "customer_lifespan", "2026-02")
    assert (life["customers_at_start"], life["churned"]) == (280, 3)
    assert life["value"] == pytest.approx(7.78, abs=0.005)
    assert at(rep, "clv", "2026-02")["value"] == pytest.approx(616_091, abs=0.5)


# ------------------------------------------------------------------ 4. zero-amount orders are kept by default

CDNOW_MASTER = DATASETS / "cdnow_lifetimes" / "CDNOW_master.txt"


def test_zero_amount_orders_count_by_default_with_one_info_issue(tmp_path):
    (tmp_path / "orders.csv").write_text(
        "id,customer,date,amount\n1,A,2026-03-01,100\n2,A,2026-03-05,0\n3,B,2026-03-09,50\n4,C,2026-03-10,0\n", encoding="utf-8")
    cfg = write(tmp_path / "crm.yaml", ORDERS)
    rep = compute(load_config(cfg), ["average_purchase_value", "repeat_purchase_rate"], period="all", as_of="2026-03-31")
    apv = at(rep, "average_purchase_value", "all")
    assert (apv["value"], apv["denominator"]) == (37.5, 4)  # 150 ÷ 4 orders
    assert at(rep, "repeat_purchase_rate", "all")["value"] == pytest.approx(1 / 3)  # A of A, B, C
    zero = [i for i in rep.issues if i.code == "zero_amount"]
    assert len(zero) == 1 and zero[0].count == 2 and zero[0].level.value == "info"
    # exclude stays an option: then the two are issues with their lines and left out.
    cfg = write(tmp_path / "crm.yaml", ORDERS.replace("customer_lifespan:", "average_purchase_value: {zero_amount: exclude}\n  customer_lifespan:"))
    rep = compute(load_config(cfg), ["average_purchase_value"], period="all", as_of="2026-03-31")
    assert at(rep, "average_purchase_value", "all")["value"] == 75
    assert [i.location.rsplit(":", 1)[1] for i in rep.issues if i.code == "zero_amount"] == ["3", "5"]


@needs_dataset("cdnow_lifetimes", "CDNOW_master.txt")
def test_cdnow_master_apv_35_89_repeat_rate_0_4948_and_btyd_as_lifetimes(tmp_path):
    import pandas as pd

    from crmmetrics.engine import analyze

    cfg = load_config(write(tmp_path / "cdnow.yaml", f"""
        version: 1
        sources:
          orders:
            path: {CDNOW_MASTER}
            csv: {{delimiter: whitespace}}
            fields: {{customer_id: customer_id, order_date: date, amount: dollar_value}}
        """))
    rep = compute(cfg, ["average_purchase_value", "repeat_purchase_rate"], period="all", as_of="1998-06-30")
    assert at(rep, "average_purchase_value", "all")["value"] == pytest.approx(35.89, abs=0.005)  # not 35.93
    assert at(rep, "repeat_purchase_rate", "all")["value"] == pytest.approx(0.4948, abs=0.00005)  # not 0.4961
    zero = [i for i in rep.issues if i.code == "zero_amount"]
    assert len(zero) == 1 and zero[0].count == 80  # one info issue, not 80 warnings
    # BTYD equals lifetimes' summary_data_from_transaction_data for every customer,
    # recomputed here from the raw file with its rules (daily periods, end = last day).
    ours = analyze(cfg, "btyd").results.set_index("customer_id").sort_index()
    raw = pd.read_csv(CDNOW_MASTER, sep=r"\s+", dtype={"customer_id": str})
    raw["date"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
    days = raw.groupby(["customer_id", "date"])["dollar_value"].sum().reset_index()
    g = days.groupby("customer_id")
    first, last = g["date"].min(), g["date"].max()
    ref = pd.DataFrame({"frequency": g.size() - 1.0, "recency": (last - first).dt.days.astype(float),
                        "T": (days["date"].max() - first).dt.days.astype(float)})
    repeat = days[days["date"] != days["customer_id"].map(first)]
    ref["monetary_value"] = repeat.groupby("customer_id")["dollar_value"].mean().reindex(ref.index).fillna(0.0)
    assert len(ours) == len(ref) == 23_570
    for col in ref.columns:
        assert (ours[col] - ref[col]).abs().max() < 1e-9, col


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


# ------------------------------------------------------------------ 6. one_touch_rate zendesk_legacy without reopens

def test_one_touch_zendesk_legacy_runs_without_a_reopen_column(tmp_path):
    (tmp_path / "tickets.csv").write_text(
        "id,created,solved,replies\n"
        "T1,2026-03-01 09:00,2026-03-01 10:00,0\n"
        "T2,2026-03-02 09:00,2026-03-02 10:00,1\n"
        "T3,2026-03-03 09:00,2026-03-03 10:00,2\n"
        "T4,2026-03-04 09:00,2026-03-04 10:00,1\n", encoding="utf-8")
    base = ("version: 1\ntimezone: UTC\nsources:\n  tickets:\n    path: tickets.csv\n"
            "    fields: {ticket_id: id, created_at: created, solved_at: solved, agent_replies: replies}\n")
    cfg = load_config(write(tmp_path / "crm.yaml", base + "metrics:\n  one_touch_rate: {variant: zendesk_legacy}\n"))
    row = at(compute(cfg, ["one_touch_rate"], period="all", as_of="2026-03-31"), "one_touch_rate", "all")
    assert (row["one_touch"], row["n"], row["value"]) == (3, 4, 0.75)  # fewer than 2 replies: T1, T2, T4
    # The default variant looks at reopens, so it still needs the column (one clear line).
    with pytest.raises(ConfigError, match="reopen_count"):
        compute(load_config(write(tmp_path / "crm.yaml", base)), ["one_touch_rate"], period="all", as_of="2026-03-31")


# ------------------------------------------------------------------ 7. health payments: the share past due, as explained

def test_health_payments_scores_the_share_past_due_as_explain_says():
    import pandas as pd

    from crmmetrics.explain import explain_text
    from crmmetrics.metrics.registry import get_metric
    from crmmetrics.metrics.success import HealthOptions, score_customers

    ts = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731
    customers = pd.DataFrame({"customer_id": ["A", "B", "C"], "created_at": [ts("2026-01-01")] * 3, "first_paid_at": [ts("2026-01-05")] * 3})
    subs = pd.DataFrame({"customer_id": ["A", "A", "B", "C"], "status": ["past_due", "active", "past_due", "active"],
                         "started_at": [ts("2026-02-01")] * 4})
    frames = {"customers": customers, "subscriptions": subs}
    table = score_customers(frames, HealthOptions(components={"payments": {}}), pd.Timestamp("2026-04-01"), "UTC").set_index("customer_id")
    # A: one of two subscriptions past due → share 0.5 → 50; B: all → 0; C: none → 100.
    assert table["payments"].to_dict() == {"A": 50.0, "B": 0.0, "C": 100.0}
    # "any past due → 0" is a setting away: a small zero_at.
    strict = HealthOptions(components={"payments": {"zero_at": 0.01}})
    assert score_customers(frames, strict, pd.Timestamp("2026-04-01"), "UTC").set_index("customer_id").loc["A", "payments"] == 0.0
    text = explain_text(get_metric("health_score"))
    assert "any active subscription past_due" not in text and "share of the active subscriptions that are past_due" in text


# ------------------------------------------------------------------ 8. retention's N is new or returning customers

def test_retention_column_says_new_or_returning_customers():
    # September 2025 on the sample: 39 customers joined and stayed, 2 of them returning;
    # customer_churn_rate's new_customers counts the 37 first-time sign-ups.
    cfg = load_config(ROOT / "config.example.yaml")
    rep = compute(cfg, ["customer_retention_rate"], since="2025-09-01", until="2025-10-01", as_of="2026-10-31")
    assert "new_customers" not in rep.results.columns
    assert at(rep, "customer_retention_rate", "2025-09")["new_or_returning_customers"] == 39
    churn = compute(cfg, ["customer_churn_rate"], since="2025-09-01", until="2025-10-01", as_of="2026-10-31")
    assert at(churn, "customer_churn_rate", "2025-09")["new_customers"] == 37


# ------------------------------------------------------------------ 9. support: no 0-h opening replies, fallbacks opt-in

SUPPORT = """
version: 1
timezone: UTC
sources:
  tickets:
    path: tickets.csv
    fields: {ticket_id: id, created_at: created}
  activities:
    path: activities.csv
    fields: {activity_id: id, ticket_id: ticket, occurred_at: at, actor_type: actor}
"""


def test_first_reply_skips_an_agent_opening_message_without_created_by_agent(tmp_path):
    from crmmetrics.cli.output import summary_line

    # T1 was opened by an agent (its first message is at the creation instant), answered
    # by the agent again at 11:30 after the customer wrote back; T2 is a customer's ticket
    # answered at 12:00. created_by_agent is not in the export.
    (tmp_path / "tickets.csv").write_text("id,created\nT1,2026-03-02 10:00:00\nT2,2026-03-02 10:00:00\n", encoding="utf-8")
    (tmp_path / "activities.csv").write_text(
        "id,ticket,at,actor\n"
        "A1,T1,2026-03-02 10:00:00,agent\nA2,T1,2026-03-02 11:00,customer\nA3,T1,2026-03-02 11:30,agent\n"
        "A4,T2,2026-03-02 10:00:00,customer\nA5,T2,2026-03-02 12:00,agent\n", encoding="utf-8")
    rep = compute(load_config(write(tmp_path / "crm.yaml", SUPPORT)), ["first_reply_time"], period="all", as_of="2026-03-31")
    row = at(rep, "first_reply_time", "all")
    assert (row["n"], row["mean"]) == (2, 1.75)  # 1.5 h and 2 h, not 0 h and 2 h
    assert "info: agent_opening_skipped 1" in summary_line(rep.issues)
    counted = write(tmp_path / "crm.yaml", SUPPORT + "metrics:\n  first_reply_time: {opening_message: count}\n")
    row = at(compute(load_config(counted), ["first_reply_time"], period="all", as_of="2026-03-31"), "first_reply_time", "all")
    assert row["mean"] == 1.0  # the old reading: 0 h and 2 h


@needs_dataset("itsm_incident_log", "derived", "incidents_last_state.csv")
def test_itsm_full_resolution_is_resolved_only_by_default_54_47_h_over_861(tmp_path):
    from crmmetrics.cli.output import summary_line

    itsm = DATASETS / "itsm_incident_log" / "derived" / "incidents_last_state.csv"
    config = f"""
version: 1
timezone: UTC
sources:
  tickets:
    path: {itsm}
    dates: {{dayfirst: true}}
    fields: {{ticket_id: number, created_at: opened_at, solved_at: resolved_at, closed_at: closed_at, status: incident_state}}
"""
    rep = compute(load_config(write(tmp_path / "crm.yaml", config)), ["full_resolution_time"], period="all")
    row = at(rep, "full_resolution_time", "all")
    assert row["n"] == 861 and row["value"] == pytest.approx(54.47, abs=0.005)
    assert "closed_without_solve" not in summary_line(rep.issues)
    # The closed-ticket fallback is an explicit option, and the summary line says it was used.
    rep = compute(load_config(write(tmp_path / "crm.yaml", config + "metrics:\n  full_resolution_time: {closed_fallback: true}\n")),
                  ["full_resolution_time"], period="all")
    row = at(rep, "full_resolution_time", "all")
    assert row["n"] == 890 and row["value"] == pytest.approx(61.76, abs=0.005)
    assert "closed_without_solve 29" in summary_line(rep.issues)
