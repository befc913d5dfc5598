"""The business-hours engine (METRICS.md E0) against WX18 and WX19, a brute-force
minute count, and the config mistakes it must name."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmmetrics import compute, load_config
from crmmetrics.config import BusinessHours
from crmmetrics.errors import ConfigError
from crmmetrics.domain.business_hours import business_minutes, compile_schedule, schedule_from_week_minutes
from tests.conftest import write

# METRICS.md WX18 (fivetran/dbt_zendesk DECISIONLOG.md): intervals in minutes since Sunday 00:00 UTC.
CHICAGO = [(720, 1560), (2160, 3000), (3600, 4440), (5040, 5880), (6480, 7320), (7920, 8760), (9360, 10200)]
SAN_FRANCISCO = [(2340, 2910), (3780, 4350), (5220, 5790), (6660, 7230), (8100, 8670)]
SUNDAY = pd.Timestamp("2020-09-27 00:00", tz="UTC")  # the Sunday before ticket 941606 was created
CREATED, SWITCHED, REPLIED = 3902, 5461.25, 5461.46  # minutes since SUNDAY
WEEKDAYS_FROM_SUNDAY = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")


def at(*minutes: float) -> pd.Series:
    return pd.Series([SUNDAY + pd.Timedelta(minutes=m) for m in minutes])


def hhmm(minutes: float) -> str:
    return f"{int(minutes) // 60:02d}:{int(minutes) % 60:02d}"


def weekday_intervals(week_minutes: list[tuple[int, int]]) -> dict[str, list[list[str]]]:
    """Minutes-since-Sunday intervals → config intervals per weekday, split at midnight."""
    out: dict[str, list[list[str]]] = {}
    for start, end in week_minutes:
        while start < end:
            day, offset = divmod(start, 1440)
            stop = min(end, (day + 1) * 1440)
            out.setdefault(WEEKDAYS_FROM_SUNDAY[day % 7], []).append([hhmm(offset), "24:00" if stop % 1440 == 0 else hhmm(stop % 1440)])
            start = stop
    return out


def test_wx18_zendesk_last_schedule_rule_gives_689_46_minutes():
    sf = schedule_from_week_minutes("level2_sf", SAN_FRANCISCO)
    # Zendesk: only the last schedule (San Francisco): (4350 − 3902) + (5461.46 − 5220) = 448 + 241.46.
    assert business_minutes(sf, at(CREATED), at(REPLIED)).iloc[0] == pytest.approx(689.46, abs=1e-6)
    assert business_minutes(sf, at(CREATED), at(4350)).iloc[0] == pytest.approx(448.0)


def test_wx18_dbt_all_schedules_figure_is_reproducible_from_the_same_engine():
    # dbt_zendesk sums each schedule over the time it applied: 538 + 421.25 + 0.21 = 959.46.
    chicago = schedule_from_week_minutes("level1_chicago", CHICAGO)
    sf = schedule_from_week_minutes("level2_sf", SAN_FRANCISCO)
    chicago_part = business_minutes(chicago, at(CREATED), at(SWITCHED)).iloc[0]
    sf_part = business_minutes(sf, at(SWITCHED), at(REPLIED)).iloc[0]
    assert chicago_part == pytest.approx(538 + 421.25, abs=1e-6)
    assert sf_part == pytest.approx(0.21, abs=1e-6)
    assert chicago_part + sf_part == pytest.approx(959.46, abs=1e-6)


TICKET_CONFIG = """
version: 1
timezone: UTC
sources:
  tickets:
    path: tickets.csv
    fields: {{ticket_id: id, created_at: created, first_reply_at: reply, schedule: schedule}}
business_hours:
{schedules}
metrics:
  first_reply_time: {{schedule: {default}, unit: minutes}}
"""


def _schedule_yaml(name: str, minutes: list[tuple[int, int]]) -> str:
    lines = [f"  {name}:", "    timezone: UTC", "    intervals:"]
    for day, spans in weekday_intervals(minutes).items():
        lines.append(f"      {day}: [{', '.join(f'[{a!r}, {b!r}]'.replace(chr(39), chr(34)) for a, b in spans)}]")
    return "\n".join(lines)


def test_wx18_through_the_metric_uses_the_ticket_schedule_column(tmp_path):
    reply = (SUNDAY + pd.Timedelta(minutes=REPLIED)).strftime("%Y-%m-%dT%H:%M:%S.%f")  # 19:01:27.6
    write(tmp_path / "tickets.csv", f"""
        id,created,reply,schedule
        941606,2020-09-29T17:02:00Z,{reply}Z,level2_sf
        941607,2020-09-29T17:02:00Z,{reply}Z,
    """)
    schedules = _schedule_yaml("level1_chicago", CHICAGO) + "\n" + _schedule_yaml("level2_sf", SAN_FRANCISCO)
    cfg = write(tmp_path / "crm.yaml", TICKET_CONFIG.format(schedules=schedules, default="level1_chicago"))
    report = compute(load_config(cfg), ["first_reply_time"], period="all")
    row = report.results.iloc[0]
    # 941606 carries its last schedule (SF): 689.46; 941607 has none and takes the default (Chicago): 538 + 421.46.
    assert row["n"] == 2 and row["unit"] == "minutes"
    assert row["numerator"] == pytest.approx(689.46 + 959.46, abs=1e-6)
    assert row["mean"] == pytest.approx((689.46 + 959.46) / 2, abs=1e-6)
    assert report.options["first_reply_time"]["measured_in"] == "business minutes (level1_chicago)"


def _project(tmp_path, tickets: str, schedule_yaml: str, options: str = "{unit: hours}", tz: str = "UTC"):
    write(tmp_path / "tickets.csv", tickets)
    return write(tmp_path / "crm.yaml", f"""
version: 1
timezone: {tz}
sources:
  tickets:
    path: tickets.csv
    fields: {{ticket_id: id, created_at: created, first_reply_at: reply}}
business_hours:
{schedule_yaml}
metrics:
  first_reply_time: {options}
""")


EARLY_SHIFT = """
  early:
    intervals:
      monday: [["07:00", "18:00"]]
      tuesday: [["07:00", "18:00"]]
"""


def test_wx19_created_after_hours_counts_from_the_next_opening(tmp_path):
    # keeping.com: created 18:00, schedule opens 07:00, reply 08:00 next day → 1 h business, 14 h calendar.
    tickets = "id,created,reply\nT1,2026-03-02 18:00,2026-03-03 08:00\n"
    cfg = _project(tmp_path, tickets, EARLY_SHIFT, "{unit: hours, schedule: early}")
    assert compute(load_config(cfg), ["first_reply_time"], period="all").results.iloc[0]["value"] == pytest.approx(1.0)
    cfg = _project(tmp_path, tickets, EARLY_SHIFT, "{unit: hours}")
    assert compute(load_config(cfg), ["first_reply_time"], period="all").results.iloc[0]["value"] == pytest.approx(14.0)


def test_reply_outside_hours_adds_nothing_and_holidays_are_closed(tmp_path):
    schedule = """
  office:
    intervals: {monday: [["09:00", "18:00"]], tuesday: [["09:00", "18:00"]], friday: [["09:00", "18:00"]]}
    holidays: ["2026-03-09"]
"""
    # T1: Fri 17:00 → Tue 10:00 with Monday a holiday: 1 h Friday + 1 h Tuesday.
    # T2: Mon 2026-03-02 17:30 → 21:00 the same evening: 30 business minutes.
    tickets = "id,created,reply\nT1,2026-03-06 17:00,2026-03-10 10:00\nT2,2026-03-02 17:30,2026-03-02 21:00\n"
    cfg = _project(tmp_path, tickets, schedule, "{unit: minutes, schedule: office, headline: mean}")
    row = compute(load_config(cfg), ["first_reply_time"], period="all").results.iloc[0]
    assert row["numerator"] == pytest.approx(120 + 30)
    assert row["median"] == pytest.approx(75.0)


def test_schedule_time_zone_differs_from_the_reporting_zone(tmp_path):
    schedule = """
  istanbul:
    timezone: Europe/Istanbul
    intervals: {monday: [["09:00", "18:00"]]}
"""
    # 05:00 UTC is 08:00 in Istanbul (UTC+3): the clock starts at 06:00 UTC; reply 07:15 UTC → 75 min.
    tickets = "id,created,reply\nT1,2026-03-02T05:00:00Z,2026-03-02T07:15:00Z\n"
    cfg = _project(tmp_path, tickets, schedule, "{unit: minutes, schedule: istanbul}")
    assert compute(load_config(cfg), ["first_reply_time"], period="all").results.iloc[0]["value"] == pytest.approx(75.0)


def test_holidays_outside_the_data_are_reported(tmp_path):
    schedule = """
  office:
    intervals: {monday: [["09:00", "18:00"]]}
    holidays: ["2016-03-09", "2026-03-02"]
"""
    cfg = _project(tmp_path, "id,created,reply\nT1,2026-03-02 10:00,2026-03-02 11:00\n", schedule, "{unit: minutes, schedule: office}")
    report = compute(load_config(cfg), ["first_reply_time"], period="all")
    issue = next(i for i in report.issues if i.code == "holiday_outside_data")
    assert "2016-03-09" in issue.message and "2026-03-02" not in issue.message.split("lie outside")[0]
    assert report.results.iloc[0]["value"] == 0.0  # 2026-03-02 is a holiday: no business time at all


def test_unknown_ticket_schedule_is_an_issue_and_left_out(tmp_path):
    write(tmp_path / "tickets.csv", "id,created,reply,schedule\nT1,2026-03-02 10:00,2026-03-02 11:00,nightshift\nT2,2026-03-02 10:00,2026-03-02 10:30,\n")
    cfg = write(tmp_path / "crm.yaml", """
version: 1
sources:
  tickets:
    path: tickets.csv
    fields: {ticket_id: id, created_at: created, first_reply_at: reply, schedule: schedule}
business_hours:
  office: {intervals: {monday: [["09:00", "18:00"]]}}
metrics:
  first_reply_time: {unit: minutes, schedule: office}
""")
    report = compute(load_config(cfg), ["first_reply_time"], period="all")
    assert report.results.iloc[0]["n"] == 1 and report.results.iloc[0]["value"] == 30.0
    issue = next(i for i in report.issues if i.code == "unknown_schedule")
    assert issue.location.endswith("tickets.csv:2") and issue.value == "nightshift"


@pytest.mark.parametrize("intervals, message", [
    ({"monday": [("09:00", "25:00")]}, "not an opening interval"),
    ({"monday": [("18:00", "09:00")]}, "not an opening interval"),
    ({"monday": [("09:00", "13:00"), ("12:00", "18:00")]}, "overlap"),
    ({}, "no opening hours"),
])
def test_bad_intervals_are_config_errors(intervals, message):
    with pytest.raises(ConfigError, match=message):
        compile_schedule("office", BusinessHours(intervals=intervals), "UTC")


def test_bad_zone_and_holiday_are_config_errors():
    with pytest.raises(ConfigError, match="unknown time zone"):
        compile_schedule("office", BusinessHours(timezone="Mars/Base", intervals={"monday": [("09:00", "18:00")]}), "UTC")
    with pytest.raises(ConfigError, match="not a date"):
        compile_schedule("office", BusinessHours(intervals={"monday": [("09:00", "18:00")]}, holidays=["31.12.2026"]), "UTC")


def test_unknown_schedule_name_is_a_config_error_with_a_close_match(tmp_path):
    cfg = _project(tmp_path, "id,created,reply\nT1,2026-03-02 10:00,2026-03-02 11:00\n", EARLY_SHIFT, "{schedule: erly}")
    # Caught when the config is loaded (validate sees it too), with the line and a close match.
    with pytest.raises(ConfigError, match="no business_hours schedule named 'erly'") as exc:
        compute(load_config(cfg), ["first_reply_time"], period="all")
    assert "crm.yaml:" in exc.value.message and "did you mean 'early'?" in exc.value.message


def test_unquoted_times_in_yaml_are_read_as_times(tmp_path):
    # YAML 1.1 would read 09:00 as the sexagesimal integer 540; our loader keeps it text.
    cfg = _project(tmp_path, "id,created,reply\nT1,2026-03-02 08:00,2026-03-02 19:00\n",
                   "  office:\n    intervals: {monday: [[09:00, 18:00]]}\n", "{unit: hours, schedule: office}")
    assert compute(load_config(cfg), ["first_reply_time"], period="all").results.iloc[0]["value"] == pytest.approx(9.0)


def test_bad_interval_in_the_config_names_the_line(tmp_path):
    cfg = _project(tmp_path, "id,created,reply\nT1,2026-03-02 08:00,2026-03-02 19:00\n",
                   '  office:\n    intervals:\n      monday: [["9am", "18:00"]]\n', "{unit: hours, schedule: office}")
    with pytest.raises(ConfigError, match=r"crm.yaml:\d+: business_hours.office.intervals.monday.0"):
        compute(load_config(cfg), ["first_reply_time"], period="all")


# ------------------------------------------------------------------ properties against a brute-force count

_day_spans = st.lists(st.tuples(st.integers(0, 23 * 4), st.integers(1, 8)), max_size=3)


def _brute(spans: dict[int, list[tuple[int, int]]], holidays: set[dt.date], start: dt.datetime, end: dt.datetime) -> int:
    """Open minutes in [start, end), one minute at a time."""
    total, t = 0, start
    while t < end:
        minute = t.hour * 60 + t.minute
        if t.date() not in holidays and any(a <= minute < b for a, b in spans.get(t.weekday(), [])):
            total += 1
        t += dt.timedelta(minutes=1)
    return total


@settings(max_examples=40, deadline=None)
@given(week=st.lists(_day_spans, min_size=7, max_size=7), a=st.integers(0, 14 * 1440), length=st.integers(0, 6 * 1440),
       holiday_offsets=st.sets(st.integers(0, 20), max_size=3))
def test_business_minutes_match_a_minute_by_minute_count(week, a, length, holiday_offsets):
    names = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    spans: dict[int, list[tuple[int, int]]] = {}
    for d, raw in enumerate(week):
        merged: list[tuple[int, int]] = []
        for q, dur in sorted(raw):  # quarter-hour starts; drop overlaps so the config is valid
            s, e = q * 15, min(q * 15 + dur * 60, 1440)
            if not merged or s >= merged[-1][1]:
                merged.append((s, e))
        if merged:
            spans[d] = merged
    if not spans:
        spans = {0: [(540, 1080)]}
    intervals = {names[d]: [(hhmm(s), "24:00" if e == 1440 else hhmm(e)) for s, e in v] for d, v in spans.items()}
    first_day = dt.date(2026, 3, 2)  # a Monday
    holidays = {first_day + dt.timedelta(days=k) for k in holiday_offsets}
    sched = compile_schedule("p", BusinessHours(intervals=intervals, holidays=[h.isoformat() for h in holidays]), "UTC")
    start = dt.datetime(2026, 3, 2) + dt.timedelta(minutes=a)
    end = start + dt.timedelta(minutes=length)
    got = business_minutes(sched, pd.Series([pd.Timestamp(start)]), pd.Series([pd.Timestamp(end)])).iloc[0]
    assert got == pytest.approx(_brute(spans, holidays, start, end))


@settings(max_examples=40, deadline=None)
@given(a=st.integers(0, 30 * 1440), b=st.integers(0, 30 * 1440), c=st.integers(0, 30 * 1440))
def test_business_minutes_are_additive_and_never_negative(a, b, c):
    a, b, c = sorted((a, b, c))
    sched = compile_schedule("o", BusinessHours(intervals={"monday": [("09:00", "12:00"), ("13:00", "18:00")], "saturday": [("10:00", "14:00")]},
                                                holidays=["2026-03-09"]), "UTC")
    t = [pd.Timestamp("2026-03-01") + pd.Timedelta(minutes=m) for m in (a, b, c)]
    ab, bc, ac = (business_minutes(sched, pd.Series([x]), pd.Series([y])).iloc[0] for x, y in ((t[0], t[1]), (t[1], t[2]), (t[0], t[2])))
    assert ab >= 0 and bc >= 0
    assert ab + bc == pytest.approx(ac)


def test_a_large_column_is_vectorised():
    import numpy as np

    sched = compile_schedule("o", BusinessHours(intervals={d: [("09:00", "18:00")] for d in ("monday", "tuesday", "wednesday", "thursday", "friday")},
                                                holidays=["2026-01-01"]), "UTC")
    rng = np.random.default_rng(1)
    start = pd.Series(pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 500 * 1440, 200_000), unit="m"))
    end = start + pd.to_timedelta(rng.integers(0, 20 * 1440, 200_000), unit="m")
    import time

    t0 = time.perf_counter()
    out = business_minutes(sched, start, end)
    assert time.perf_counter() - t0 < 2.0
    # A whole week from any moment holds exactly 45 open hours unless it contains the holiday.
    week = business_minutes(sched, start.iloc[:1000], start.iloc[:1000] + pd.Timedelta(days=7))
    no_holiday = ~((start.iloc[:1000] <= pd.Timestamp("2026-01-02")) & (start.iloc[:1000] + pd.Timedelta(days=7) > pd.Timestamp("2026-01-01")))
    assert (week[no_holiday] == 45 * 60).all()
    assert (out >= 0).all()
