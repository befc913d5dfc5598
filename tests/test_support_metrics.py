"""Support metrics against METRICS.md E1–E5 (WX19, WX20) and hand-computed tickets."""

from __future__ import annotations

import pytest

from crmmetrics import compute, load_config
from crmmetrics.errors import ConfigError
from tests.conftest import DATASETS, needs_dataset, write
from tests.test_subscription_metrics import at

TICKET_FIELDS = ("ticket_id: id, customer_id: customer, created_at: created, first_reply_at: reply, first_solved_at: first_solved, "
                 "solved_at: solved, closed_at: closed, status: status, reopen_count: reopens, agent_replies: replies, "
                 "customer_followups: followups, channel: channel")
HEADER = "id,customer,created,reply,first_solved,solved,closed,status,reopens,replies,followups,channel"


def project(tmp_path, rows: list[str], metrics: str = "", extra_sources: str = "") -> object:
    """tickets.csv from ``rows`` (HEADER columns) and a config; returns the loaded config."""
    write(tmp_path / "tickets.csv", "\n".join([HEADER, *rows]) + "\n")
    return load_config(write(tmp_path / "crm.yaml", f"""
version: 1
timezone: UTC
sources:
  tickets:
    path: tickets.csv
    fields: {{{TICKET_FIELDS}}}
{extra_sources}
metrics:
{metrics or '  {}'}
""".replace("metrics:\n  {}", "metrics: {}")))


def one(report, metric: str):
    rows = report.results[report.results["metric"] == metric].reset_index(drop=True)
    return rows


def issues(report, code: str):
    return [i for i in report.issues if i.code == code]


# ------------------------------------------------------------------ E1 first reply time


def test_wx20_first_reply_time_is_one_and_a_half_hours(tmp_path):
    # Zoho glossary: created Mon 10:00, first agent reply 11:30 → 1 h 30 min.
    cfg = project(tmp_path, ["T1,C1,2026-03-02 10:00,2026-03-02 11:30,,,,open,0,1,0,email"])
    row = one(compute(cfg, ["first_reply_time"], period="month"), "first_reply_time").iloc[0]
    assert row["value"] == pytest.approx(1.5) and row["unit"] == "hours"
    assert (row["n"], row["numerator"], row["denominator"]) == (1, pytest.approx(1.5), 1)
    cfg = project(tmp_path, ["T1,C1,2026-03-02 10:00,2026-03-02 11:30,,,,open,0,1,0,email"], "  first_reply_time: {unit: minutes}")
    assert one(compute(cfg, ["first_reply_time"]), "first_reply_time").iloc[0]["value"] == pytest.approx(90.0)


def test_first_reply_median_headline_mean_p90_and_unanswered_count(tmp_path):
    # Replies after 1, 2, 3, 4 and 10 hours; one ticket unanswered; all created in March.
    rows = [f"T{i},C1,2026-03-02 08:00,2026-03-02 {8 + h:02d}:00,,,,open,0,1,0,email" for i, h in enumerate((1, 2, 3, 4, 10), 1)]
    rows.append("T9,C1,2026-03-05 08:00,,,,,open,0,0,0,email")
    cfg = project(tmp_path, rows, "  first_reply_time: {target: 3}")
    row = one(compute(cfg, ["first_reply_time"]), "first_reply_time").iloc[0]
    assert row["value"] == pytest.approx(3.0)  # median of 1, 2, 3, 4, 10
    assert row["mean"] == pytest.approx(4.0)
    assert row["p90"] == pytest.approx(4 + 0.6 * (10 - 4))  # linear interpolation at 0.9 × 4 = 3.6
    assert row["n"] == 5 and row["no_reply"] == 1
    assert row["pct_within_target"] == pytest.approx(3 / 5)
    cfg = project(tmp_path, rows, "  first_reply_time: {headline: mean}")
    assert one(compute(cfg, ["first_reply_time"]), "first_reply_time").iloc[0]["value"] == pytest.approx(4.0)


def test_reply_before_creation_is_an_issue_with_its_line_never_a_negative_time(tmp_path):
    cfg = project(tmp_path, ["T1,C1,2026-03-02 10:00,2026-03-02 12:00,,,,open,0,1,0,email",
                             "T2,C1,2026-03-02 10:00,2026-03-02 09:00,,,,open,0,1,0,email"])
    report = compute(cfg, ["first_reply_time"])
    row = one(report, "first_reply_time").iloc[0]
    assert row["n"] == 1 and row["value"] == pytest.approx(2.0)
    (issue,) = issues(report, "reply_before_created")
    assert issue.location.endswith("tickets.csv:3") and issue.column == "reply" and issue.field == "first_reply_at"


def test_period_is_the_creation_month_even_when_the_reply_comes_later(tmp_path):
    cfg = project(tmp_path, ["T1,C1,2026-03-31 22:00,2026-04-01 02:00,,,,open,0,1,0,email",
                             "T2,C1,2026-05-10 10:00,2026-05-10 10:30,,,,open,0,1,0,email"])
    rows = one(compute(cfg, ["first_reply_time"]), "first_reply_time")
    assert list(rows["period"]) == ["2026-03", "2026-04", "2026-05"]
    assert rows["value"].tolist()[0] == pytest.approx(4.0)
    assert rows.loc[1, "n"] == 0 and rows["value"].isna().tolist() == [False, True, False]


def test_first_reply_derived_from_activities_skips_bots_private_notes_and_the_agents_opening_message(tmp_path):
    write(tmp_path / "tickets.csv", "id,created,by_agent\nT1,2026-03-02 10:00,no\nT2,2026-03-02 10:00,yes\nT3,2026-03-02 10:00,no\n")
    write(tmp_path / "activities.csv", """
        id,ticket,when,actor,public
        A1,T1,2026-03-02 10:01,bot,yes
        A2,T1,2026-03-02 10:20,agent,no
        A3,T1,2026-03-02 11:00,agent,yes
        A4,T2,2026-03-02 10:00,agent,yes
        A5,T2,2026-03-02 10:30,customer,yes
        A6,T2,2026-03-02 12:00,agent,yes
        A7,T3,2026-03-02 09:00,agent,yes
    """)
    cfg = load_config(write(tmp_path / "crm.yaml", """
version: 1
sources:
  tickets:
    path: tickets.csv
    fields: {ticket_id: id, created_at: created, created_by_agent: by_agent}
  activities:
    path: activities.csv
    fields: {activity_id: id, ticket_id: ticket, occurred_at: when, actor_type: actor, is_public: public}
metrics:
  first_reply_time: {unit: minutes, headline: mean}
"""))
    row = one(compute(cfg, ["first_reply_time"]), "first_reply_time").iloc[0]
    # T1: bot and private note skipped → 60 min. T2: agent-opened, the 10:00 message is its own → 120 min.
    # T3: the only agent message predates the ticket → unanswered.
    assert row["n"] == 2 and row["numerator"] == pytest.approx(180.0) and row["no_reply"] == 1


def test_first_reply_without_any_reply_source_is_a_config_error(tmp_path):
    write(tmp_path / "tickets.csv", "id,created\nT1,2026-03-02 10:00\n")
    cfg = load_config(write(tmp_path / "crm.yaml", "version: 1\nsources:\n  tickets: {path: tickets.csv, fields: {ticket_id: id, created_at: created}}\n"))
    with pytest.raises(ConfigError, match="first_reply_at"):
        compute(cfg, ["first_reply_time"])


# ------------------------------------------------------------------ E2 / E3 resolution times

REOPENED = "T1,C1,2026-03-02 09:00,2026-03-02 10:00,2026-03-02 13:00,2026-03-04 10:00,,solved,1,2,1,email"


def test_first_and_full_resolution_differ_on_a_reopened_ticket(tmp_path):
    cfg = project(tmp_path, [REOPENED, "T2,C1,2026-03-03 09:00,2026-03-03 09:10,2026-03-03 15:00,2026-03-03 15:00,,closed,0,1,0,chat"])
    report = compute(cfg, ["first_resolution_time", "full_resolution_time"], period="month")
    first, full = one(report, "first_resolution_time").iloc[0], one(report, "full_resolution_time").iloc[0]
    # T1: first solve after 4 h, latest after 49 h; T2: 6 h both.
    assert first["numerator"] == pytest.approx(4 + 6) and first["value"] == pytest.approx(5.0)
    assert full["numerator"] == pytest.approx(49 + 6) and full["value"] == pytest.approx(27.5)
    assert full["n"] == 2 and full["p90"] == pytest.approx(6 + 0.9 * 43)


def test_resolution_is_dated_by_solve_and_optionally_by_creation(tmp_path):
    rows = ["T1,C1,2026-03-30 09:00,,2026-04-02 09:00,2026-04-02 09:00,,solved,0,1,0,email",
            "T2,C1,2026-03-31 09:00,,,,,open,0,0,0,email"]
    cfg = project(tmp_path, rows)
    row = one(compute(cfg, ["full_resolution_time"]), "full_resolution_time")
    assert list(row["period"]) == ["2026-04"] and row.iloc[0]["value"] == pytest.approx(72.0)
    cfg = project(tmp_path, rows, "  full_resolution_time: {period_by: created, unit: days}")
    row = one(compute(cfg, ["full_resolution_time"]), "full_resolution_time").iloc[0]
    assert row["period"] == "2026-03" and row["value"] == pytest.approx(3.0) and row["unresolved"] == 1


def test_solved_status_without_a_solve_time_is_an_issue_and_closed_at_stands_in_when_present(tmp_path):
    rows = ["T1,C1,2026-03-02 09:00,,,,,solved,0,1,0,email",  # no time at all → issue
            "T2,C1,2026-03-02 09:00,,,,2026-03-02 19:00,closed,0,1,0,email",  # closed by a rule → closed_at
            "T3,C1,2026-03-02 09:00,,,2026-03-02 11:00,,solved,0,1,0,email"]
    # Full resolution is the latest solve (METRICS.md E3): T2 has none, so by default it is
    # an issue too and only T3 is measured (issue #11: the fallback is now opt-in here).
    report = compute(project(tmp_path, rows), ["full_resolution_time"])
    assert one(report, "full_resolution_time").iloc[0]["n"] == 1 and len(issues(report, "solved_without_time")) == 2
    assert "closed_fallback: true" in issues(report, "solved_without_time")[1].message
    cfg = project(tmp_path, rows, "  full_resolution_time: {closed_fallback: true}")
    report = compute(cfg, ["full_resolution_time"])
    row = one(report, "full_resolution_time").iloc[0]
    assert row["n"] == 2 and row["numerator"] == pytest.approx(10 + 2)
    (issue,) = issues(report, "solved_without_time")
    assert issue.location.endswith("tickets.csv:2")
    assert issues(report, "closed_without_solve")[0].count == 1


def test_solve_before_creation_is_left_out_and_reported(tmp_path):
    cfg = project(tmp_path, ["T1,C1,2026-03-02 09:00,,,2026-03-01 09:00,,solved,0,1,0,email",
                             "T2,C1,2026-03-02 09:00,,,2026-03-02 10:00,,solved,0,1,0,email"])
    report = compute(cfg, ["full_resolution_time"], period="all")
    assert one(report, "full_resolution_time").iloc[0]["n"] == 1
    (issue,) = issues(report, "solved_before_created")
    assert issue.location.endswith("tickets.csv:2") and issue.field == "solved_at"


def test_a_reopened_ticket_not_solved_again_is_open_for_full_but_keeps_its_first_solve(tmp_path):
    cfg = project(tmp_path, ["T1,C1,2026-03-02 09:00,,2026-03-02 12:00,2026-03-02 12:00,,open,1,1,0,email"])
    report = compute(cfg, ["first_resolution_time", "full_resolution_time"], period="all")
    assert one(report, "first_resolution_time").iloc[0]["value"] == pytest.approx(3.0)
    assert one(report, "full_resolution_time").empty or one(report, "full_resolution_time").iloc[0]["n"] == 0
    assert issues(report, "solved_then_reopened")[0].count == 1


def test_spam_and_merged_tickets_are_left_out(tmp_path):
    cfg = project(tmp_path, ["T1,C1,2026-03-02 09:00,2026-03-02 10:00,,,,open,0,1,0,email",
                             "T2,C1,2026-03-02 09:00,2026-03-02 19:00,,,,Spam,0,1,0,email"])
    report = compute(cfg, ["first_reply_time", "ticket_volume"])
    assert one(report, "first_reply_time").iloc[0]["value"] == pytest.approx(1.0)
    assert one(report, "ticket_volume").iloc[0]["value"] == 1
    assert issues(report, "excluded_status")[0].count == 1


# ------------------------------------------------------------------ E4 one-touch, E5 reopen

# Ten tickets solved in March: agent replies 1,1,1,1,1,1,2,3,0,1; the last single-reply one was reopened;
# customer follow-ups 0 except T2 (1) and T7 (2).
ONE_TOUCH = [f"T{i},C{i},2026-03-0{min(i, 9)} 09:00,,2026-03-0{min(i, 9)} 12:00,2026-03-0{min(i, 9)} 12:00,,solved,{ro},{rep},{fu},email"
             for i, (rep, ro, fu) in enumerate([(1, 0, 0), (1, 0, 1), (1, 0, 0), (1, 0, 0), (1, 0, 0), (1, 0, 0), (2, 0, 2), (3, 0, 0), (0, 0, 0), (1, 1, 0)], 1)]


@pytest.mark.parametrize("variant, expected", [
    ("exactly_one", 6 / 10),  # replies == 1 and no reopen: T1-T6
    ("zendesk_legacy", 8 / 10),  # replies < 2, reopens ignored: T1-T6, T9, T10
    ("zendesk_messaging", 8 / 10),  # replies > 0 and no reopen: T1-T8 (T9 has none, T10 was reopened)
    ("freshservice", 8 / 10),  # no customer follow-up: all but T2 and T7
])
def test_one_touch_variants(tmp_path, variant, expected):
    cfg = project(tmp_path, ONE_TOUCH, f"  one_touch_rate: {{variant: {variant}}}")
    row = one(compute(cfg, ["one_touch_rate"]), "one_touch_rate").iloc[0]
    assert row["value"] == pytest.approx(expected)
    assert row["denominator"] == 10 and row["one_touch"] == round(expected * 10)


def test_one_touch_repeat_contact_within_days(tmp_path):
    rows = ["T1,C1,2026-03-02 09:00,,,2026-03-02 12:00,,solved,0,1,0,email",
            "T2,C1,2026-03-04 09:00,,,2026-03-04 12:00,,solved,0,1,0,email",  # C1 again on email 2 days after T1's solve
            "T3,C2,2026-03-02 09:00,,,2026-03-02 12:00,,solved,0,1,0,email",
            "T4,C2,2026-03-03 09:00,,,,,open,0,0,0,chat",  # C2 again, but on another channel
            "T5,C3,2026-03-02 09:00,,,2026-03-02 12:00,,solved,0,1,0,email",
            "T6,C3,2026-03-09 09:00,,,,,open,0,0,0,email"]  # C3 again after 7 days: outside the window
    cfg = project(tmp_path, rows, "  one_touch_rate: {variant: repeat_contact, repeat_days: 3}")
    row = one(compute(cfg, ["one_touch_rate"]), "one_touch_rate").iloc[0]
    assert (row["numerator"], row["denominator"]) == (3, 4)  # only T1 had a repeat contact


def test_one_touch_blank_replies_are_issues_not_zero(tmp_path):
    cfg = project(tmp_path, ["T1,C1,2026-03-02 09:00,,,2026-03-02 12:00,,solved,0,,0,email",
                             "T2,C1,2026-03-02 09:00,,,2026-03-02 12:00,,solved,0,1,0,email"])
    report = compute(cfg, ["one_touch_rate"])
    assert one(report, "one_touch_rate").iloc[0]["denominator"] == 1
    assert issues(report, "missing_agent_replies")[0].location.endswith("tickets.csv:2")


def test_reopen_rate_tickets_and_events(tmp_path):
    counts = [2, 1, 1] + [0] * 17
    rows = [f"T{i},C1,2026-03-02 09:00,,,2026-03-03 09:00,,closed,{c},1,0,email" for i, c in enumerate(counts, 1)]
    row = one(compute(project(tmp_path, rows), ["reopen_rate"]), "reopen_rate").iloc[0]
    assert row["value"] == pytest.approx(3 / 20) and row["reopened"] == 3 and row["reopens"] == 4
    row = one(compute(project(tmp_path, rows, "  reopen_rate: {variant: events}"), ["reopen_rate"]), "reopen_rate").iloc[0]
    assert row["value"] == pytest.approx(4 / 20)


# ------------------------------------------------------------------ volume, tickets per customer

def test_ticket_volume_counts_and_an_empty_month_is_zero(tmp_path):
    cfg = project(tmp_path, ["T1,C1,2026-03-02 09:00,,,2026-04-02 09:00,,solved,0,1,0,email",
                             "T2,C1,2026-03-15 09:00,,,,,open,0,0,0,email",
                             "T3,C1,2026-05-01 09:00,,,2026-05-01 10:00,,solved,0,1,0,email"])
    rows = one(compute(cfg, ["ticket_volume"]), "ticket_volume")
    assert rows["value"].tolist() == [2, 0, 1] and rows["period"].tolist() == ["2026-03", "2026-04", "2026-05"]
    cfg = project(tmp_path, ["T1,C1,2026-03-02 09:00,,,2026-04-02 09:00,,solved,0,1,0,email",
                             "T3,C1,2026-05-01 09:00,,,2026-05-01 10:00,,solved,0,1,0,email"], "  ticket_volume: {event: solved}")
    assert one(compute(cfg, ["ticket_volume"]), "ticket_volume")["value"].tolist() == [1, 1]


CUSTOMERS = """
  customers:
    path: customers.csv
    fields: {customer_id: id, created_at: created, churned_at: churned, plan: plan}
"""


def test_tickets_per_customer_requesters_and_active_customers(tmp_path):
    rows = [f"T{i},{c},2026-03-0{i} 09:00,,,,,open,0,0,0,email" for i, c in enumerate("AAABBC", 1)]
    cfg = project(tmp_path, rows)
    row = one(compute(cfg, ["tickets_per_customer"]), "tickets_per_customer").iloc[0]
    assert (row["value"], row["numerator"], row["denominator"]) == (2.0, 6, 3)
    # Ten customers: eight created before March and still here, one churned in February, one joined in April.
    custs = ["id,created,churned,plan"] + [f"{c},2025-01-01,,Pro" for c in "ABCDEFGH"] + ["X,2025-01-01,2026-02-10,Pro", "Y,2026-04-02,,Pro"]
    (tmp_path / "customers.csv").write_text("\n".join(custs) + "\n")
    cfg = project(tmp_path, rows, "  tickets_per_customer: {denominator: active_customers}", CUSTOMERS)
    row = one(compute(cfg, ["tickets_per_customer"]), "tickets_per_customer").iloc[0]
    assert (row["numerator"], row["denominator"]) == (6, 8) and row["value"] == pytest.approx(0.75)


def test_tickets_without_customer_are_issues(tmp_path):
    cfg = project(tmp_path, ["T1,,2026-03-02 09:00,,,,,open,0,0,0,email", "T2,C1,2026-03-02 09:00,,,,,open,0,0,0,email"])
    report = compute(cfg, ["tickets_per_customer"])
    assert one(report, "tickets_per_customer").iloc[0]["numerator"] == 1
    assert issues(report, "missing_customer_id")[0].location.endswith("tickets.csv:2")


# ------------------------------------------------------------------ support CSAT

SURVEYS = """
  surveys:
    path: surveys.csv
    fields: {response_id: id, ticket_id: ticket, survey_type: type, score: score, responded_at: date}
"""


def test_support_csat_by_ticket_channel_latest_rating_per_ticket(tmp_path):
    tickets = ["T1,C1,2026-03-02 09:00,,,2026-03-02 12:00,,solved,0,1,0,email",
               "T2,C1,2026-03-02 09:00,,,2026-03-02 12:00,,solved,0,1,0,email",
               "T3,C2,2026-03-02 09:00,,,2026-03-02 12:00,,solved,0,1,0,chat"]
    write(tmp_path / "surveys.csv", """
        id,ticket,type,score,date
        R1,T1,csat,2,2026-03-03
        R2,T1,csat,5,2026-03-04
        R3,T2,csat,2,2026-03-04
        R4,T3,csat,4,2026-03-04
        R5,,csat,1,2026-03-04
        R6,T9,csat,1,2026-03-04
        R7,T3,nps,0,2026-03-04
    """)
    cfg = project(tmp_path, tickets, "", SURVEYS)
    report = compute(cfg, ["support_csat"])
    row = one(report, "support_csat").iloc[0]
    # T1's latest rating 5, T2 2, T3 4: 2 of 3 satisfied; R5 has no ticket, R6 names an unknown one.
    assert (row["numerator"], row["denominator"]) == (2, 3)
    assert issues(report, "unknown_ticket")[0].location.endswith("surveys.csv:7")
    assert issues(report, "not_ticket_survey")[0].count == 1
    by = compute(cfg, ["support_csat"], by=["channel"]).results.set_index("channel")["value"]
    assert by["email"] == pytest.approx(0.5) and by["chat"] == pytest.approx(1.0)
    cfg = project(tmp_path, tickets, "  support_csat: {per_ticket: all}", SURVEYS)
    row = one(compute(cfg, ["support_csat"]), "support_csat").iloc[0]
    assert (row["numerator"], row["denominator"]) == (2, 4)


def test_support_csat_without_surveys_is_a_config_error(tmp_path):
    cfg = project(tmp_path, ["T1,C1,2026-03-02 09:00,,,,,open,0,0,0,email"])
    with pytest.raises(ConfigError, match="surveys"):
        compute(cfg, ["support_csat"])


def test_sample_config_computes_every_support_metric(sample_project):

    names = ["first_reply_time", "first_resolution_time", "full_resolution_time", "one_touch_rate", "reopen_rate",
             "ticket_volume", "tickets_per_customer", "support_csat"]
    report = compute(load_config(sample_project / "config.example.yaml"), names, period="quarter", until="2026-11-01", as_of="2026-10-31")
    got = report.results
    assert set(got["metric"]) == set(names)
    q3 = got[got["period"] == "2026-Q3"].set_index("metric")
    assert (q3["value"].notna()).all()
    assert q3.loc["first_reply_time", "value"] < q3.loc["full_resolution_time", "value"]
    assert report.options["first_reply_time"]["measured_in"] == "business hours (istanbul_office)"


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


def test_excluded_tickets_are_left_out_before_any_solve_check(tmp_path):
    # T2 is spam with a solve time (its unsolved status would read as a reopen) and T3 is
    # deleted and closed without a solve time (first resolution would end it at closed_at).
    # Excluded tickets stay in the frame until the period's rows are copied (usable_mask),
    # so this pins that no solve check counts or names them and only T1 is measured.
    cfg = project(tmp_path, ["T1,C1,2026-03-02 09:00,2026-03-02 10:00,2026-03-02 12:00,2026-03-02 12:00,,solved,0,1,0,email",
                             "T2,C1,2026-03-02 09:00,2026-03-02 10:30,2026-03-02 19:00,2026-03-02 19:00,,Spam,0,1,0,email",
                             "T3,C1,2026-03-02 09:00,,,,2026-03-02 20:00,deleted,0,1,0,email"])
    report = compute(cfg, ["first_reply_time", "first_resolution_time", "full_resolution_time", "one_touch_rate"])
    for metric, value in (("first_reply_time", 1.0), ("first_resolution_time", 3.0), ("full_resolution_time", 3.0)):
        row = one(report, metric).iloc[0]
        assert (row["n"], row["value"]) == (1, pytest.approx(value)), metric
    one_touch = one(report, "one_touch_rate").iloc[0]
    assert one_touch["denominator"] == 1 and one_touch["value"] == pytest.approx(1.0)
    assert not issues(report, "solved_then_reopened") and not issues(report, "closed_without_solve")
    assert sorted(i.count for i in issues(report, "excluded_status")) == [2, 2, 2, 2]
