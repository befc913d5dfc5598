"""Customer-success metrics against METRICS.md G1–G6 (WX23, WX25) and hand-computed data."""

from __future__ import annotations

import pandas as pd
import pytest

from crmmetrics import compute, load_config
from crmmetrics.engine import analyze
from crmmetrics.errors import ConfigError
from crmmetrics.domain.activity import HealthOptions, band_of, normalise, score_customers
from crmmetrics.metrics.success import stickiness_ratio
from tests.conftest import write

CONFIG = """
version: 1
timezone: UTC
sources:
  customers:
    path: customers.csv
    fields: {{customer_id: id, created_at: created, first_paid_at: paid, churned_at: churned, activated_at: activated, segment: segment}}
  activities:
    path: activities.csv
    fields: {{activity_id: id, customer_id: customer, user_id: user, occurred_at: when, type: type, actor_type: actor}}
{more}
metrics:
{metrics}
"""


def project(tmp_path, customers: list[str], activities: list[str], metrics: str = "  {}", more: str = ""):
    write(tmp_path / "customers.csv", "\n".join(["id,created,paid,churned,activated,segment", *customers]) + "\n")
    write(tmp_path / "activities.csv", "\n".join(["id,customer,user,when,type,actor", *activities]) + "\n")
    text = CONFIG.format(more=more, metrics=metrics).replace("metrics:\n  {}", "metrics: {}")
    return load_config(write(tmp_path / "crm.yaml", text))


def rows_of(report, metric):
    return report.results[report.results["metric"] == metric].reset_index(drop=True)


# ------------------------------------------------------------------ G4–G6 DAU, MAU, stickiness


def _april_usage() -> list[str]:
    """April 2026 (30 days): u1, u2 every day; u3 on 23 days; u4..u10 once each → 90 user-days, 10 users."""
    acts, n = [], 0
    for day in range(1, 31):
        users = ["u1", "u2"] + (["u3"] if day <= 23 else []) + ([f"u{day - 20}"] if 24 <= day <= 30 else [])
        for u in users:
            n += 1
            acts.append(f"A{n},C1,{u},2026-04-{day:02d} 10:00,login,customer")
    acts.append(f"A{n + 1},C1,botty,2026-04-05 10:00,login,bot")  # bots are never users
    return acts


def test_wx23_stickiness_is_dau_over_mau():
    assert stickiness_ratio(15_000, 50_000) == pytest.approx(0.30)
    assert stickiness_ratio(3, 0) is None


def test_wx23_stickiness_30_percent_from_activity_rows(tmp_path):
    cfg = project(tmp_path, ["C1,2025-01-01,,,,SMB"], _april_usage())
    report = compute(cfg, ["dau", "mau", "stickiness"], period="month")
    dau, mau, stick = (rows_of(report, m).iloc[0] for m in ("dau", "mau", "stickiness"))
    assert (dau["value"], dau["numerator"], dau["denominator"]) == (pytest.approx(3.0), 90, 30)
    assert mau["value"] == 10 and pd.isna(mau["denominator"])  # a count has no denominator
    assert stick["value"] == pytest.approx(0.30) and stick["mau"] == 10 and stick["dau"] == pytest.approx(3.0)


def test_dau_counts_quiet_days_as_zero_and_users_once_a_day(tmp_path):
    # u1, u2 active every day of April (twice on the 1st), u3 on 15 days → (30 × 2 + 15) ÷ 30 = 2.5.
    acts = [f"A{d}{u},C1,{u},2026-04-{d:02d} 09:00,login,customer" for d in range(1, 31) for u in ("u1", "u2")]
    acts += [f"B{d},C1,u3,2026-04-{d:02d} 11:00,feature_used,customer" for d in range(1, 16)]
    acts += ["X1,C1,u1,2026-04-01 15:00,login,customer", "X2,C1,u1,2026-04-30 15:00,login,customer"]
    cfg = project(tmp_path, ["C1,2025-01-01,,,,SMB"], acts)
    row = rows_of(compute(cfg, ["dau"]), "dau").iloc[0]
    assert row["value"] == pytest.approx(2.5) and row["active_users"] == 3


def test_events_filter_and_missing_user_ids(tmp_path):
    acts = ["A1,C1,u1,2026-04-01 09:00,login,customer", "A2,C1,u2,2026-04-01 09:00,email,customer",
            "A3,C1,,2026-04-02 09:00,login,customer", "A4,C1,u1,2026-04-02 09:00,login,customer"]
    cfg = project(tmp_path, ["C1,2025-01-01,,,,SMB"], acts, "  mau: {events: [login]}\n  dau: {events: [login]}")
    report = compute(cfg, ["mau", "dau"])
    assert rows_of(report, "mau").iloc[0]["value"] == 1  # u2 only sent an email
    assert rows_of(report, "dau").iloc[0]["value"] == pytest.approx(1.0)  # u1 on both covered days
    located = [i.location for i in report.issues if i.code == "missing_user_id"]
    assert located and all(loc.endswith("activities.csv:4") for loc in located)


def test_mau_rolling30_window_ends_at_the_period_end(tmp_path):
    acts = ["A1,C1,u1,2026-03-10 09:00,login,customer", "A2,C1,u2,2026-04-05 09:00,login,customer",
            "A3,C1,u3,2026-04-30 09:00,login,customer"]
    cfg = project(tmp_path, ["C1,2025-01-01,,,,SMB"], acts, "  mau: {window: rolling30}")
    rows = rows_of(compute(cfg, ["mau"]), "mau")
    # April: the 30 days ending 30 April (1-30 April) → u2, u3; March: 2-31 March → u1.
    assert rows.set_index("period")["value"].to_dict() == {"2026-03": 1, "2026-04": 2}
    acts.append("A4,C1,u4,2026-05-20 09:00,login,customer")
    cfg = project(tmp_path, ["C1,2025-01-01,,,,SMB"], acts, "  mau: {window: rolling30}")
    may = rows_of(compute(cfg, ["mau"]), "mau").set_index("period").loc["2026-05", "value"]
    assert may == 2  # the 30 days to 20 May reach back to 21 April: u3 (30 April) and u4


# ------------------------------------------------------------------ G3 engagement


def test_engagement_rate_base_at_period_start(tmp_path):
    customers = ["A,2026-01-05,2026-01-10,,,SMB", "B,2026-01-05,2026-01-10,,,SMB", "C,2026-02-01,2026-02-03,,,SMB",
                 "D,2026-02-01,2026-02-03,,,SMB", "E,2026-03-10,2026-03-12,,,SMB", "F,2026-01-01,2026-01-02,2026-02-15,,SMB"]
    acts = ["1,A,,2026-03-02 09:00,login,customer", "2,A,,2026-03-03 09:00,login,customer", "3,A,,2026-03-04 09:00,login,customer",
            "4,B,,2026-03-02 09:00,login,customer", "5,E,,2026-03-20 09:00,login,customer",  # E joined in March: not in the base
            "6,C,,2026-03-02 09:00,call,agent",  # an agent touch is not engagement
            "7,,,2026-03-02 09:00,login,customer"]  # no customer: an issue
    cfg = project(tmp_path, customers, acts)
    report = compute(cfg, ["engagement_rate"])
    row = rows_of(report, "engagement_rate").iloc[0]
    # Base on 1 March: A, B, C, D (F churned in February) → engaged A, B: 2 ÷ 4.
    assert (row["numerator"], row["denominator"], row["value"]) == (2, 4, pytest.approx(0.5))
    assert next(i for i in report.issues if i.code == "missing_customer_id").location.endswith("activities.csv:8")
    cfg = project(tmp_path, customers, acts, "  engagement_rate: {min_events: 2}")
    assert rows_of(compute(cfg, ["engagement_rate"]), "engagement_rate").iloc[0]["value"] == pytest.approx(0.25)
    cfg = project(tmp_path, customers, acts, "  engagement_rate: {variant: per_customer}")
    assert rows_of(compute(cfg, ["engagement_rate"]), "engagement_rate").iloc[0]["value"] == pytest.approx(4 / 4)


# ------------------------------------------------------------------ G2 time to value


def test_time_to_value_median_censoring_and_within_share(tmp_path):
    customers = ["A,2026-03-01,,,2026-03-03,SMB", "B,2026-03-01,,,2026-03-05,SMB", "C,2026-03-01,,,2026-03-10,SMB",
                 "D,2026-03-01,,,,SMB", "E,2026-03-02,,,2026-02-20,SMB"]
    cfg = project(tmp_path, customers, [], "  time_to_value: {within_days: 7}")
    report = compute(cfg, ["time_to_value"])
    row = rows_of(report, "time_to_value").iloc[0]
    assert row["value"] == pytest.approx(4.0) and row["mean"] == pytest.approx(5.0)  # 2, 4, 9 days
    assert (row["n"], row["not_reached"], row["cohort"]) == (3, 1, 4)
    assert row["pct_within"] == pytest.approx(2 / 4)
    issue = next(i for i in report.issues if i.code == "milestone_before_start")
    assert issue.location.endswith("customers.csv:6")


def test_time_to_value_from_a_milestone_event_after_first_payment(tmp_path):
    customers = ["A,2026-03-01,2026-03-10,,,SMB", "B,2026-03-01,2026-03-02,,,SMB"]
    acts = ["1,A,u,2026-03-05 09:00,report_shared,customer",  # before payment: a trial, does not count
            "2,A,u,2026-03-12 12:00,report_shared,customer", "3,B,u,2026-03-03 00:00,report_shared,customer"]
    cfg = project(tmp_path, customers, acts, "  time_to_value: {start: first_paid, milestone: event, events: [report_shared], unit: hours, headline: mean}")
    row = rows_of(compute(cfg, ["time_to_value"]), "time_to_value").iloc[0]
    assert row["numerator"] == pytest.approx(60 + 24) and row["value"] == pytest.approx(42.0)
    cfg = project(tmp_path, customers, acts, "  time_to_value: {milestone: event}")
    with pytest.raises(ConfigError, match="events"):
        compute(cfg, ["time_to_value"])


# ------------------------------------------------------------------ G1 health score


@pytest.mark.parametrize("score, band", [(50, "red"), (51, "yellow"), (75, "yellow"), (76, "green"), (0, "red"), (100, "green"), (50.5, "yellow")])
def test_wx25_gainsight_bands(score, band):
    assert band_of(pd.Series([float(score)])).iloc[0] == band


def test_normalise_linear_rules():
    assert normalise(pd.Series([10.0, 30.0, -1.0]), 0, 20).tolist() == [50.0, 100.0, 0.0]
    assert normalise(pd.Series([4.0, 0.0, 12.0]), 10, 0).tolist() == [60.0, 100.0, 0.0]  # fewer tickets is healthier


HEALTH_MORE = """
  surveys:
    path: surveys.csv
    fields: {response_id: id, customer_id: customer, survey_type: type, score: score, responded_at: date}
  tickets:
    path: tickets.csv
    fields: {ticket_id: id, customer_id: customer, created_at: created}
"""


def _health_project(tmp_path, metrics: str = "  {}"):
    customers = ["A,2026-01-01,2026-01-05,,,SMB", "B,2026-01-01,2026-01-05,,,Enterprise", "C,2026-01-01,2026-01-05,2026-03-01,,SMB",
                 "T,2026-01-01,,,,SMB"]  # C churned before the scoring day, T never paid
    acts = [f"{i},A,a1,2026-03-{10 + i:02d} 09:00,login,customer" for i in range(10)]  # A: 10 logins in the last 30 days
    acts += ["20,B,b1,2026-01-10 09:00,login,customer"]  # B: none in the window
    write(tmp_path / "surveys.csv", "id,customer,type,score,date\nR1,A,nps,6,2026-02-01\nR2,A,nps,10,2026-03-01\nR3,B,csat,2,2026-03-01\n")
    write(tmp_path / "tickets.csv", "id,customer,created\nT1,B,2026-03-01\nT2,B,2026-03-02\nT3,B,2026-03-03\nT4,B,2026-03-04\n")
    return project(tmp_path, customers, acts, metrics, HEALTH_MORE)


def test_health_components_weights_and_reweighting(tmp_path):
    cfg = _health_project(tmp_path)
    from crmmetrics.dataset import load_dataset
    from crmmetrics.engine import make_plan

    plan = make_plan(cfg, ["health_score"], "month", [], False)
    frames = load_dataset(cfg, plan.needs, declared=plan.declared).frames  # as compute loads it
    table = score_customers(frames, HealthOptions(), pd.Timestamp("2026-04-01"), "UTC").set_index("customer_id")
    assert set(table.index) == {"A", "B"}  # C churned, T never paid
    a, b = table.loc["A"], table.loc["B"]
    # A: usage 10/20 → 50, nps latest 10 → 100, csat none, tickets 0 → 100, payments none (no subscriptions):
    # (40·50 + 20·100 + 15·100) ÷ (40 + 20 + 15) = 5500 ÷ 75.
    assert (a["usage"], a["nps"], a["tickets"]) == (50.0, 100.0, 100.0) and pd.isna(a["csat"]) and pd.isna(a["payments"])
    assert a["score"] == pytest.approx(5500 / 75) and a["band"] == "yellow" and a["components"] == 3
    # B: usage 0, csat 2 → 25, tickets 4 → 60: (0 + 10·25 + 15·60) ÷ (40 + 10 + 15) = 1150 ÷ 65.
    assert b["csat"] == pytest.approx(25.0) and b["tickets"] == pytest.approx(60.0)
    assert b["score"] == pytest.approx(1150 / 65) and b["band"] == "red"
    zero = score_customers(frames, HealthOptions(missing="zero"), pd.Timestamp("2026-04-01"), "UTC").set_index("customer_id")
    assert zero.loc["A", "score"] == pytest.approx(5500 / 100)  # missing csat and payments count as 0 of weight 25


def test_health_options_are_validated():
    with pytest.raises(ValueError, match="positive weight"):
        HealthOptions(components={"usage": {"weight": 0}})
    with pytest.raises(ValueError, match="zero_at and full_at"):
        HealthOptions(components={"usage": {"zero_at": 5, "full_at": 5}})
    with pytest.raises(ValueError, match="bands"):
        HealthOptions(bands=(80, 60))


def test_health_score_metric_band_distribution_per_period(tmp_path):
    cfg = _health_project(tmp_path)
    rows = rows_of(compute(cfg, ["health_score"], period="month", since="2026-03-01", as_of="2026-03-31"), "health_score")
    march = rows.iloc[0]
    assert march["period"] == "2026-03" and march["n"] == 2
    assert (march["red"], march["yellow"], march["green"]) == (1, 1, 0)
    assert march["value"] == pytest.approx((5500 / 75 + 1150 / 65) / 2)
    assert march["pct_red"] == pytest.approx(0.5)


def test_analyze_health_lists_at_risk_customers_first_with_trend(tmp_path):
    cfg = _health_project(tmp_path, "  health_score: {headline: pct_red}")
    report = analyze(cfg, "health", as_of="2026-03-31")
    table = report.tables["customers"]
    assert table["customer_id"].tolist() == ["B", "A"]
    assert table["band"].tolist() == ["red", "yellow"]
    a = table.set_index("customer_id").loc["A"]
    # 30 days earlier (end of 1 March) A had no logins yet and its latest NPS was the 10 of 1 March:
    # (40·0 + 20·100 + 15·100) ÷ 75.
    assert a["score_prev"] == pytest.approx(3500 / 75)
    assert a["trend"] == pytest.approx(5500 / 75 - 3500 / 75)
    bands = report.tables["bands"].set_index("band")
    assert bands.loc["red", "customers"] == 1 and bands.loc["green", "customers"] == 0
    assert "as of the end of 2026-03-31" in report.notes[0]


def test_analyze_health_reads_the_metric_block_when_it_has_none(tmp_path):
    cfg = _health_project(tmp_path, "  health_score: {components: {usage: {weight: 1, full_at: 10}}}")
    table = analyze(cfg, "health", as_of="2026-03-31").tables["customers"].set_index("customer_id")
    assert table.loc["A", "score"] == pytest.approx(100.0)  # only usage counts: 10 logins of 10
    assert list(analyze(cfg, "health", as_of="2026-03-31").tables["components"]["component"]) == ["usage"]


def test_sample_config_computes_every_success_metric_and_the_health_table(sample_project):

    cfg = load_config(sample_project / "config.example.yaml")
    names = ["engagement_rate", "dau", "mau", "stickiness", "time_to_value", "health_score"]
    report = compute(cfg, names, period="month", since="2026-08-01", until="2026-11-01", as_of="2026-10-31")
    got = report.results
    assert set(got["metric"]) == set(names)
    for name in names:
        assert got[got["metric"] == name]["period"].tolist() == ["2026-08", "2026-09", "2026-10"], name
    stick = got[got["metric"] == "stickiness"]
    assert ((stick["value"] > 0) & (stick["value"] < 1)).all()
    health = analyze(cfg, "health", as_of="2026-10-31").tables["customers"]
    order = health["band"].map({"red": 0, "yellow": 1, "green": 2})
    assert order.is_monotonic_increasing and health["band"].iloc[0] == "red"
    for _, part in health.groupby("band"):
        assert part["score"].is_monotonic_increasing  # lowest score first within a band
    assert health["score"].notna().all() and len(health) > 500


# C1 churned on 1 March (a bare date: the first instant of March), C2 still a customer.
BOUNDARY_CUSTOMERS = ["C1,2026-01-10,2026-01-10,2026-03-01,,SMB", "C2,2026-01-10,2026-01-10,,,SMB"]


BOUNDARY_ACTS = ["A1,C1,u1,2026-02-27 10:00,login,customer", "A2,C2,u2,2026-03-02 10:00,login,customer"]


def test_engagement_base_keeps_a_customer_churning_at_the_period_start(tmp_path):
    cfg = project(tmp_path, BOUNDARY_CUSTOMERS, BOUNDARY_ACTS)
    report = compute(cfg, ["engagement_rate", "customer_churn_rate"], since="2026-03-01", until="2026-04-01", as_of="2026-04-30")
    churn = rows_of(report, "customer_churn_rate").iloc[0]
    engaged = rows_of(report, "engagement_rate").iloc[0]
    # C1's churn on 1 March is a March event: C1 is in March's base (as churn rate says), engaged: C2 only → 1 ÷ 2.
    assert churn["denominator"] == 2
    assert (engaged["numerator"], engaged["denominator"], engaged["value"]) == (1, 2, pytest.approx(0.5))


def test_health_score_at_a_period_end_keeps_a_customer_churning_the_next_day(tmp_path):
    cfg = project(tmp_path, BOUNDARY_CUSTOMERS, BOUNDARY_ACTS)
    rows = rows_of(compute(cfg, ["health_score"], since="2026-02-01", until="2026-04-01", as_of="2026-04-30"), "health_score")
    # End of February: C1 (1 login in 30 days → usage 1/20 = 5) and C2 (0) → mean 2.5 over 2 customers.
    # End of the data (3 March): C1 churned, C2 logged in on 2 March → 5.
    assert list(rows["n"]) == [2, 1]
    assert list(rows["value"]) == pytest.approx([2.5, 5.0])


def test_health_score_without_any_signup_date_scores_at_the_data_end(tmp_path):
    # created_at mapped but blank in every row: the grid starts at the data's last day instead of crashing.
    cfg = project(tmp_path, ["C1,,2026-03-01,,,SMB", "C2,,,,,SMB"], ["A1,C1,u1,2026-04-02 10:00,login,customer"])
    row = rows_of(compute(cfg, ["health_score"], as_of="2026-04-30"), "health_score").iloc[0]
    # Paying population: C1 only (C2 never paid); one login in 30 days → 5.
    assert (row["period"], row["n"], row["value"]) == ("2026-04", 1, pytest.approx(5.0))


def test_rolling_mau_reaches_back_before_since(tmp_path):
    acts = ["A1,C1,u1,2026-03-25 09:00,login,customer", "A2,C1,u2,2026-04-03 09:00,login,customer"]
    cfg = project(tmp_path, ["C1,2025-01-01,,,,SMB"], acts, "  mau: {window: rolling30}\n  stickiness: {window: rolling30}")
    report = compute(cfg, ["mau", "stickiness"], period="week", since="2026-03-30", until="2026-04-06", as_of="2026-04-30")
    # Week of 30 March: the 30 days ending 5 April are 7 March-5 April → u1 (25 March) and u2.
    assert rows_of(report, "mau").iloc[0]["value"] == 2
    stick = rows_of(report, "stickiness").iloc[0]
    # DAU over the 7 days: 1 user-day ÷ 7; ÷ MAU 2.
    assert stick["value"] == pytest.approx(1 / 7 / 2)


# ------------------------------------------------------------------ 7. health payments: the share past due, as explained

def test_health_payments_scores_the_share_past_due_as_explain_says():
    import pandas as pd

    from crmmetrics.explain import explain_text
    from crmmetrics.metrics.registry import get_metric
    from crmmetrics.domain.activity import HealthOptions, score_customers

    ts = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731
    customers = pd.DataFrame({"customer_id": ["A", "B", "C"], "created_at": [ts("2026-01-01")] * 3, "first_paid_at": [ts("2026-01-05")] * 3})
    subs = pd.DataFrame({"customer_id": ["A", "A", "B", "C"], "status": ["past_due", "active", "past_due", "active"],
                         "started_at": [ts("2026-02-01")] * 4})
    # As the dataset hands them over: the declared fields of each frame are columns (all-null when unmapped).
    from crmmetrics.dataset import with_declared

    frames = {"customers": with_declared(customers, "customers", {"churned_at"}, "UTC"),
              "subscriptions": with_declared(subs, "subscriptions", {"ended_at"}, "UTC")}
    table = score_customers(frames, HealthOptions(components={"payments": {}}), pd.Timestamp("2026-04-01"), "UTC").set_index("customer_id")
    # A: one of two subscriptions past due → share 0.5 → 50; B: all → 0; C: none → 100.
    assert table["payments"].to_dict() == {"A": 50.0, "B": 0.0, "C": 100.0}
    # "any past due → 0" is a setting away: a small zero_at.
    strict = HealthOptions(components={"payments": {"zero_at": 0.01}})
    assert score_customers(frames, strict, pd.Timestamp("2026-04-01"), "UTC").set_index("customer_id").loc["A", "payments"] == 0.0
    text = explain_text(get_metric("health_score"))
    assert "any active subscription past_due" not in text and "share of the active subscriptions that are past_due" in text


@pytest.mark.parametrize("seconds", [[], [5], [3, 1, 2], [2, 1, 2, 1, 2, 0], list(range(50, 0, -1)) * 3])
def test_time_order_is_the_stable_argsort(seconds: list[int]) -> None:
    """The health timelines' sort: numpy's stable argsort of the times, ties in row order."""
    import numpy as np

    from crmmetrics.domain.activity import _time_order

    when = np.array(seconds, dtype="int64").astype("datetime64[s]").astype("datetime64[ns]")
    assert _time_order(when).tolist() == np.argsort(when, kind="stable").tolist()
    assert sorted(_time_order(when, stable=False).tolist()) == list(range(len(seconds)))  # a permutation
    assert np.all(np.diff(when[_time_order(when, stable=False)].view("i8")) >= 0)  # in time order
    rng = np.random.default_rng(7)
    many = rng.integers(0, 1000, 20_000).astype("datetime64[s]").astype("datetime64[ns]")  # many ties
    assert np.array_equal(_time_order(many), np.argsort(many, kind="stable"))
