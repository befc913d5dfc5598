"""Support metrics on the real datasets in ../shared/datasets (skipped when absent).

Each expected figure is computed independently in the test with plain pandas from the
raw file, then pinned, so a change in either the metric or the parser shows up.
"""

from __future__ import annotations

import pandas as pd
import pytest

from crmmetrics import compute, load_config
from tests.conftest import DATASETS, needs_dataset, write

HELPDESK = DATASETS / "helpdesk_event_log" / "derived" / "helpdesk_tickets.csv"
ITSM = DATASETS / "itsm_incident_log" / "derived" / "incidents_last_state.csv"
KAGGLE = DATASETS / "support_tickets_kaggle" / "customer_support_tickets.csv"


def _hours(start: pd.Series, end: pd.Series) -> pd.Series:
    return (end - start).dt.total_seconds() / 3600


@needs_dataset("helpdesk_event_log", "derived", "helpdesk_tickets.csv")
def test_helpdesk_median_first_reply_and_resolution_times(tmp_path):
    cfg = load_config(write(tmp_path / "crm.yaml", f"""
version: 1
timezone: UTC
sources:
  tickets:
    path: {HELPDESK}
    fields: {{ticket_id: ticket_id, created_at: created_at, first_reply_at: first_response_at,
              first_solved_at: first_resolved_at, solved_at: last_resolved_at, closed_at: closed_at}}
"""))
    report = compute(cfg, ["first_reply_time", "first_resolution_time", "full_resolution_time"], period="all")
    got = report.results.set_index("metric")
    raw = pd.read_csv(HELPDESK, parse_dates=["created_at", "first_response_at", "first_resolved_at", "last_resolved_at"])
    frt = _hours(raw["created_at"], raw["first_response_at"])
    first = _hours(raw["created_at"], raw["first_resolved_at"])
    full = _hours(raw["created_at"], raw["last_resolved_at"])
    # Taking a ticket in charge is its first response: median 16.39 h over 4,285 answered tickets, 295 never taken.
    assert got.loc["first_reply_time", "value"] == pytest.approx(frt.median()) == pytest.approx(16.389722, abs=1e-5)
    assert (got.loc["first_reply_time", "n"], got.loc["first_reply_time", "no_reply"]) == (4285, 295)
    assert got.loc["first_reply_time", "mean"] == pytest.approx(frt.mean())
    # Resolution: 4,569 resolved tickets (11 never resolved nor closed); reopened ones keep their first solve.
    assert got.loc["first_resolution_time", "value"] == pytest.approx(first.median()) == pytest.approx(143.593333, abs=1e-5)
    assert got.loc["full_resolution_time", "value"] == pytest.approx(full.median()) == pytest.approx(159.790278, abs=1e-5)
    assert got.loc["full_resolution_time", "n"] == 4569
    assert got.loc["full_resolution_time", "p90"] == pytest.approx(full.quantile(0.9))


@needs_dataset("itsm_incident_log", "derived", "incidents_last_state.csv")
def test_itsm_resolution_time_with_day_first_dates_and_question_mark_nulls(tmp_path):
    template = """
version: 1
timezone: UTC
sources:
  tickets:
    path: {path}
    {dates}
    fields: {{ticket_id: number, created_at: opened_at, solved_at: resolved_at, closed_at: closed_at,
              status: incident_state, reopen_count: reopen_count}}
metrics:
  full_resolution_time: {{closed_fallback: {fallback}}}
"""
    raw = pd.read_csv(ITSM, na_values=["?"])
    opened = pd.to_datetime(raw["opened_at"], format="%d-%m-%Y %H:%M")
    resolved = pd.to_datetime(raw["resolved_at"], format="%d-%m-%Y %H:%M")
    closed = pd.to_datetime(raw["closed_at"], format="%d-%m-%Y %H:%M")
    assert resolved.isna().sum() == 29  # "?" in the final state of 29 closed incidents

    # Default (METRICS.md E3, the latest solve): a Closed incident whose resolved_at is "?" is a resolved
    # ticket without a resolution time.
    cfg = load_config(write(tmp_path / "crm.yaml", template.format(path=ITSM, dates="dates: {dayfirst: true}", fallback="false")))
    report = compute(cfg, ["full_resolution_time"], period="all")
    row = report.results.iloc[0]
    assert row["n"] == 861 and row["value"] == pytest.approx(_hours(opened, resolved).median()) == pytest.approx(54.466667, abs=1e-5)
    no_time = [i for i in report.issues if i.code == "solved_without_time"]
    assert sum(i.count for i in no_time) == 29 and no_time[0].location.endswith("incidents_last_state.csv:28")  # INC0000093, the first "?"

    # closed_fallback: true (Zendesk's first-resolution rule): an incident closed without a resolution ends
    # at closed_at; day-first order inferred.
    cfg = load_config(write(tmp_path / "crm.yaml", template.format(path=ITSM, dates="", fallback="true")))
    report = compute(cfg, ["full_resolution_time"], period="all")
    row = report.results.iloc[0]
    assert row["n"] == 890 and row["value"] == pytest.approx(_hours(opened, resolved.fillna(closed)).median())
    assert row["value"] == pytest.approx(61.758333, abs=1e-5)
    assert next(i for i in report.issues if i.code == "closed_without_solve").count == 29


@needs_dataset("support_tickets_kaggle", "customer_support_tickets.csv")
def test_kaggle_tickets_resolved_before_their_first_response_are_issues_not_averaged(tmp_path):
    # No creation time in this export: the first response is the earliest moment there is, so the user maps it
    # as created_at; a resolution stamped before it cannot be a duration.
    cfg = load_config(write(tmp_path / "crm.yaml", f"""
version: 1
timezone: UTC
sources:
  tickets:
    path: {KAGGLE}
    fields: {{ticket_id: "Ticket ID", created_at: "First Response Time", solved_at: "Time to Resolution",
              status: "Ticket Status", channel: "Ticket Channel"}}
"""))
    report = compute(cfg, ["full_resolution_time"], period="all")
    row = report.results.iloc[0]
    raw = pd.read_csv(KAGGLE)
    span = _hours(pd.to_datetime(raw["First Response Time"]), pd.to_datetime(raw["Time to Resolution"]))
    assert (span < 0).sum() == 1365
    backwards = [i for i in report.issues if i.code == "solved_before_created"]
    assert sum(i.count for i in backwards) == 1365
    assert backwards[0].column == "Time to Resolution" and backwards[0].location.endswith("customer_support_tickets.csv:19")
    assert row["n"] == 2769 - 1365 == 1404
    assert row["value"] == pytest.approx(span[span >= 0].median()) and row["mean"] == pytest.approx(span[span >= 0].mean())
    assert row["value"] > 0 and row["value"] == pytest.approx(6.341667, abs=1e-5)
