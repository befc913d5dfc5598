"""`crmmetrics check` for cron and monitoring (issue #13), always with a frozen --as-of.

Survey rows are (type, score, date[, customer]). NPS = 100 × (promoters − detractors) ÷ n
with promoters 9–10 and detractors 0–6; CSAT (scale 1–5) = share of scores ≥ 4.
"""

from __future__ import annotations

import datetime as dt
import json

import jsonschema
import pandas as pd
import pytest
from typer.testing import CliRunner

from crmmetrics.checks.evaluate import Status, evaluate, latest_complete_start
from crmmetrics.checks.goals import goal_progress
from crmmetrics.checks.rules import GoalSpec, LevelBounds, Rule
from crmmetrics.cli import app
from crmmetrics.errors import ExitCode
from tests.conftest import ROOT, SURVEY_CONFIG

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def check(cfg, *args: str):
    return run("check", "-c", str(cfg), *args)


def nps_rows(month: str, promoters: int, detractors: int, passives: int = 0) -> list[tuple]:
    """Survey rows on days 1.. of ``month`` (YYYY-MM) giving exactly these counts."""
    scores = [10] * promoters + [3] * detractors + [7] * passives
    return [("nps", s, f"{month}-{i + 1:02d}") for i, s in enumerate(scores)]


# ---------------------------------------------------------------- which period

def test_latest_complete_period_is_the_one_ended_at_as_of():
    thursday = dt.datetime(2026, 3, 5, 9, 0)
    assert latest_complete_start(thursday, "week") == dt.datetime(2026, 2, 23)
    assert latest_complete_start(dt.datetime(2026, 11, 1), "month") == dt.datetime(2026, 10, 1)
    assert latest_complete_start(dt.datetime(2026, 11, 1, 0, 1), "month") == dt.datetime(2026, 10, 1)
    assert latest_complete_start(dt.datetime(2026, 11, 30, 23, 59), "month") == dt.datetime(2026, 10, 1)
    assert latest_complete_start(dt.datetime(2026, 4, 1), "quarter") == dt.datetime(2026, 1, 1)


def test_partial_current_week_is_not_evaluated(survey_project):
    # Week of Mon 2026-02-23 (ISO 2026-W09): two promoters → NPS 100. The current week
    # (Mon 2026-03-02 to Thu 03-05, as-of) has three detractors → NPS −100, but is not over.
    rows = [("nps", 10, "2026-02-24"), ("nps", 9, "2026-02-26"),
            ("nps", 0, "2026-03-02"), ("nps", 1, "2026-03-03"), ("nps", 2, "2026-03-04")]
    cfg = survey_project(rows, config=SURVEY_CONFIG + "checks:\n  - {metric: nps, crit: {min: 0}}\n")
    res = check(cfg, "-p", "week", "--as-of", "2026-03-05")
    assert res.exit_code == 0, res.stdout + res.stderr
    assert res.stdout == "OK nps 2026-W09 = 100.0 (crit min 0, n=2)\n"
    # Once the week has ended (as-of Monday 03-09) it is judged: −100 < 0 → CRIT.
    res = check(cfg, "-p", "week", "--as-of", "2026-03-09")
    assert res.exit_code == 1
    assert res.stdout == "CRIT nps 2026-W10 = -100.0 (min 0, n=3)\n"


# ---------------------------------------------------------------- min_n

def test_fewer_than_min_n_observations_is_insufficient_data_not_ok_or_breach(survey_project):
    # October: 3 detractors → NPS −100, which would be CRIT; but n = 3 < min_n 5.
    cfg = survey_project(nps_rows("2026-10", 0, 3), config=SURVEY_CONFIG + "checks:\n  - {metric: nps, crit: {min: 0}, min_n: 5}\n")
    res = check(cfg, "--as-of", "2026-11-01")
    assert res.exit_code == 0
    assert res.stdout == "INSUFFICIENT nps 2026-10 = -100.0 (n=3 < min_n 5)\n"
    # A judged period with no rows at all is insufficient too (n=0), not a pass.
    res = check(cfg, "--as-of", "2026-12-01", "-f", "json")
    doc = json.loads(res.stdout)
    assert [(c["status"], c["period"], c["n"], c["value"]) for c in doc["checks"]] == [("insufficient", "2026-11", 0, None)]


# ---------------------------------------------------------------- rule kinds at warn and crit

STATIC = SURVEY_CONFIG + "checks:\n  - {metric: nps, warn: {min: 50}, crit: {min: 0}}\n"


def test_static_rule_warn_and_crit(survey_project, tmp_path):
    # 3 promoters, 1 detractor, 1 passive: NPS = 100 × (3 − 1) ÷ 5 = 40 → below warn 50, above crit 0.
    cfg = survey_project(nps_rows("2026-10", 3, 1, 1), config=STATIC)
    res = check(cfg, "--as-of", "2026-11-01")
    assert (res.exit_code, res.stdout) == (1, "WARN nps 2026-10 = 40.0 (min 50, n=5)\n")
    assert check(cfg, "--as-of", "2026-11-01", "--warn-ok").exit_code == 0
    # 1 promoter, 3 detractors: NPS = 100 × (1 − 3) ÷ 4 = −50 → CRIT, and --warn-ok does not hide it.
    cfg = survey_project(nps_rows("2026-10", 1, 3), config=STATIC)
    res = check(cfg, "--as-of", "2026-11-01", "--warn-ok")
    assert (res.exit_code, res.stdout) == (1, "CRIT nps 2026-10 = -50.0 (min 0, n=4)\n")


CHANGE = SURVEY_CONFIG + """checks:
  - {metric: csat, kind: change, warn: {change: -10%}, crit: {change: -30%}}
  - {metric: nps, kind: change, warn: {change: -20}, crit: {change: -50}}
"""


def _csat(month: str, satisfied: int, unsatisfied: int) -> list[tuple]:
    return [("csat", 5, f"{month}-{i + 1:02d}") for i in range(satisfied)] + \
           [("csat", 2, f"{month}-{i + 11:02d}") for i in range(unsatisfied)]


def test_change_rule_relative_and_absolute_at_warn_and_crit(survey_project):
    # CSAT: September 4/4 = 100 %, October 3/4 = 75 % → relative change −25 % (warn at −10 %, crit at −30 %).
    # NPS: September 2 promoters = 100, October 1 promoter + 1 detractor = 0 → −100 points ≤ −50 → CRIT.
    rows = _csat("2026-09", 4, 0) + _csat("2026-10", 3, 1) + nps_rows("2026-09", 2, 0) + nps_rows("2026-10", 1, 1)
    cfg = survey_project(rows, config=CHANGE)
    res = check(cfg, "--as-of", "2026-11-01")
    assert res.exit_code == 1
    assert res.stdout.splitlines() == [
        "WARN csat 2026-10 = 75.0% (change -25.0% / -25.0pp vs 2026-09; warn at -10%, crit at -30%, n=4)",
        "CRIT nps 2026-10 = 0.0 (change -100.0 vs 2026-09; warn at -20, crit at -50, n=2)",
    ]
    # A rise never fires a negative (fall) threshold.
    rows = _csat("2026-09", 3, 1) + _csat("2026-10", 4, 0) + nps_rows("2026-09", 1, 1) + nps_rows("2026-10", 2, 0)
    res = check(survey_project(rows, config=CHANGE), "--as-of", "2026-11-01", "-q")
    assert (res.exit_code, res.stdout) == (0, "")


def _series(values: list[float], start: str = "2025-01-01", n: int = 50) -> pd.DataFrame:
    starts = pd.date_range(start, periods=len(values), freq="MS")
    return pd.DataFrame({"metric": "ticket_volume", "period_start": starts.strftime("%Y-%m-%d"), "value": values,
                         "n": n, "unit": "count"})


def _anomaly(**kw) -> Rule:
    base = dict(id="tv", metric="ticket_volume", unit="count", kind="anomaly", warn=LevelBounds(z=2, text={"z": "2"}),
                crit=LevelBounds(z=3, text={"z": "3"}), periods=4)
    return Rule(**{**base, **kw})


def test_anomaly_rule_z_score_against_trailing_periods():
    # Trailing Jan–Apr 2025: 10, 20, 10, 20 → mean 15, sample sd = √(4 × 25 ÷ 3) = 5.7735.
    # May 27: z = 12 ÷ 5.7735 = 2.078 → WARN; May 35: z = 3.464 → CRIT; May 16: z = 0.173 → OK.
    as_of = dt.datetime(2025, 6, 1)
    for may, status, z in ((27, Status.WARN, 2.0785), (35, Status.CRIT, 3.4641), (16, Status.OK, 0.1732)):
        [oc] = evaluate(_anomaly(), _series([10, 20, 10, 20, may]), "month", as_of)
        assert oc.status is status and oc.period == "2025-05" and oc.extra["z"] == pytest.approx(z, abs=1e-4)
    # direction: down ignores a spike up.
    [oc] = evaluate(_anomaly(direction="down"), _series([10, 20, 10, 20, 35]), "month", as_of)
    assert oc.status is Status.OK
    # Fewer than 3 usable trailing periods → insufficient.
    [oc] = evaluate(_anomaly(), _series([20, 10, 35], start="2025-03-01"), "month", as_of)
    assert oc.status is Status.INSUFFICIENT and "2 of the trailing 4" in oc.detail


def test_anomaly_with_same_period_last_year_seasonality():
    # 2025: a December peak every year. Values Jan 2024 … Dec 2025; judged: Dec 2025.
    # Year-over-year differences Aug–Nov 2025: +1, +2, +1, +2 → mean 1.5, sd 0.57735.
    # Dec 2025 − Dec 2024 = 102 − 100 = +2 → z = 0.866: OK, although 102 is far above Aug–Nov 2025 (~11).
    y2024 = [10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 100]
    y2025 = [10, 10, 10, 10, 10, 10, 10, 11, 12, 11, 12, 102]
    frame = _series(y2024 + y2025, start="2024-01-01")
    as_of = dt.datetime(2026, 1, 1)
    [plain] = evaluate(_anomaly(), frame, "month", as_of)
    assert plain.status is Status.CRIT  # without seasonality the peak is an anomaly
    [seasonal] = evaluate(_anomaly(seasonality="year"), frame, "month", as_of)
    assert seasonal.status is Status.OK and seasonal.extra["z"] == pytest.approx(0.5 / 0.57735, abs=1e-4)
    # The seasonal baseline needs the same period a year earlier: Dec 2024 missing → insufficient.
    [missing] = evaluate(_anomaly(seasonality="year"), frame[frame["period_start"] != "2024-12-01"], "month", as_of)
    assert missing.status is Status.INSUFFICIENT and "2024-12" in missing.detail


def test_by_segments_name_the_breaching_segment(survey_project):
    # October: C1 (Pro) two promoters → 100; C2 (Basic) two detractors → −100.
    rows = [("nps", 10, "2026-10-02", "C1"), ("nps", 9, "2026-10-03", "C1"), ("nps", 2, "2026-10-04", "C2"), ("nps", 0, "2026-10-05", "C2")]
    cfg = survey_project(rows, config=SURVEY_CONFIG + "checks:\n  - {metric: nps, by: [plan], crit: {min: 0}}\n")
    res = check(cfg, "--as-of", "2026-11-01", "-q")
    assert (res.exit_code, res.stdout) == (1, "CRIT nps[plan=Basic] 2026-10 = -100.0 (min 0, n=2)\n")


# ---------------------------------------------------------------- unit-aware values

@pytest.mark.parametrize("bound, line", [("80%", "CRIT csat 2026-10 = 75.0% (min 80%, n=4)"),
                                         ("0.8", "CRIT csat 2026-10 = 75.0% (min 80%, n=4)"),
                                         ("70%", "OK csat 2026-10 = 75.0% (crit min 70%, n=4)"),
                                         ("0.7", "OK csat 2026-10 = 75.0% (crit min 70%, n=4)")])
def test_percent_thresholds_are_written_as_percent_or_fraction(survey_project, bound, line):
    # CSAT October: 3 of 4 satisfied = 75 %; the bound is shown in percent however it was written.
    cfg = survey_project(_csat("2026-10", 3, 1), config=SURVEY_CONFIG + f"thresholds:\n  csat: {{min: {bound}}}\n")
    res = check(cfg, "--as-of", "2026-11-01")
    assert res.stdout == line + "\n", res.stdout + res.stderr


@pytest.mark.parametrize("text, message", [
    ("thresholds:\n  csat: {min: 80}\n", "thresholds.csat.min: 80 on a percent metric: bare numbers are fractions between 0 and 1 (hint: write 80% (or 0.8))"),
    ("thresholds:\n  nps: {min: .nan}\n", "thresholds.nps.min: nan is not a finite number"),
    ("thresholds:\n  nps: {min: 50, max: 10}\n", "thresholds.nps: min 50 is above max 10"),
    ("checks:\n  - {metric: nps, warn: {min: 30%}}\n", "checks.0.warn.min: 30%: a percentage on a metric in points"),
    ("checks:\n  - {metric: nps, kind: change, warn: {min: 3}}\n", "checks.0.warn.min: not used by a change rule"),
    ("checks:\n  - {metric: csat, kind: change, crit: {change: -15}}\n", "checks.0.crit.change: -15 on a percent metric"),
    ("checks:\n  - {metric: npss, crit: {min: 1}}\n", "checks.0.metric: unknown metric 'npss'; did you mean 'nps'?"),
])
def test_bad_threshold_values_are_config_errors_with_line_and_hint(survey_project, text, message):
    cfg = survey_project(nps_rows("2026-10", 1, 0), config=SURVEY_CONFIG + text)
    res = check(cfg, "--as-of", "2026-11-01")
    assert res.exit_code == ExitCode.CONFIG
    line = SURVEY_CONFIG.count("\n") + 1  # the line after `thresholds:` / `checks:` (the leading newline is stripped)
    assert f"crm.yaml:{line}: {message}" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


def test_duration_thresholds_convert_to_the_metric_unit():
    from crmmetrics.checks.values import parse_bound, parse_change

    assert parse_bound("48h", "days") == 2.0
    assert parse_bound("90min", "hours") == 1.5
    assert parse_bound("2d", "hours") == 48.0
    assert parse_bound(12, "hours") == 12.0
    assert parse_change("-10%", "currency").relative and parse_change("-10%", "currency").amount == pytest.approx(-0.1)
    assert parse_change("+5pp", "percent").amount == pytest.approx(0.05)
    assert parse_change("-4h", "days").amount == pytest.approx(-1 / 6)


# ---------------------------------------------------------------- freshness

def test_stale_source_is_crit(survey_project):
    config = SURVEY_CONFIG.replace("    path: surveys.csv\n", "    path: surveys.csv\n    max_age: 7d\n")
    # Newest row 2026-10-02 00:00; --as-of DAY means as known at the end of that day.
    cfg = survey_project(nps_rows("2026-10", 2, 0), config=config)
    res = check(cfg, "--as-of", "2026-10-06")
    assert res.exit_code == 0
    assert res.stdout == "OK freshness surveys 2026-10-06 (newest responded_at 2026-10-02 00:00 is 5.0d old; max_age 7d)\n"
    res = check(cfg, "--as-of", "2026-11-01", "-q")
    assert res.exit_code == 1
    assert res.stdout == "CRIT freshness surveys 2026-11-01 (newest responded_at 2026-10-02 00:00 is 31.0d old; max_age 7d)\n"
    # Rows dated after as-of do not make an old export look fresh.
    res = check(cfg, "--as-of", "2026-09-20", "-q")
    assert "CRIT freshness surveys 2026-09-20 (no dated surveys row at or before as-of" in res.stdout


# ---------------------------------------------------------------- quiet and formats

def test_quiet_is_silent_when_everything_is_ok(survey_project):
    cfg = survey_project(nps_rows("2026-10", 3, 0), config=STATIC)
    res = check(cfg, "--as-of", "2026-11-01", "-q")
    assert (res.exit_code, res.stdout, res.stderr) == (0, "", "")
    res = check(cfg, "--as-of", "2026-11-01")
    assert res.stdout == "OK nps 2026-10 = 100.0 (warn min 50, crit min 0, n=3)\n"


def test_nagios_line_and_exit_codes(survey_project):
    ok = check(survey_project(nps_rows("2026-10", 3, 0), config=STATIC), "--as-of", "2026-11-01", "-f", "nagios")
    assert ok.exit_code == 0
    assert ok.stdout == "CRMMETRICS OK - 1 ok: month 2026-10 within bounds | 'nps_static'=100;50:;0:;;\n"
    warn = check(survey_project(nps_rows("2026-10", 3, 1, 1), config=STATIC), "--as-of", "2026-11-01", "-f", "nagios")
    assert warn.exit_code == 1
    assert warn.stdout == "CRMMETRICS WARNING - 1 warn: WARN nps 2026-10 = 40.0 (min 50, n=5) | 'nps_static'=40;50:;0:;;\n"
    crit = check(survey_project(nps_rows("2026-10", 1, 3), config=STATIC), "--as-of", "2026-11-01", "-f", "nagios", "--warn-ok")
    assert crit.exit_code == 2 and crit.stdout.startswith("CRMMETRICS CRITICAL - 1 crit: CRIT nps 2026-10 = -50.0 (min 0, n=4) | ")
    # Percent metrics: perfdata in % with 0;100 limits.
    cfg = survey_project(_csat("2026-10", 3, 1), config=SURVEY_CONFIG + "thresholds:\n  csat: {min: 80%}\n")
    res = check(cfg, "--as-of", "2026-11-01", "-f", "nagios")
    assert res.stdout.endswith("| 'csat_threshold'=75%;;80:;0;100\n") and res.exit_code == 2
    # Insufficient data stays OK for Nagios, but the line says so.
    res = check(survey_project(nps_rows("2026-10", 3, 0), config=STATIC.replace("}}\n", "}, min_n: 10}\n")), "--as-of", "2026-11-01", "-f", "nagios")
    assert res.exit_code == 0
    assert res.stdout == "CRMMETRICS OK - 1 insufficient: INSUFFICIENT nps 2026-10 = 100.0 (n=3 < min_n 10) | 'nps_static'=100;50:;0:;;\n"
    # A config error is UNKNOWN (3) with a status line on stdout, the error on stderr.
    bad = survey_project([], config=SURVEY_CONFIG + "thresholds:\n  csat: {min: 80}\n")
    res = check(bad, "-f", "nagios")
    assert res.exit_code == 3 and res.stdout.startswith("CRMMETRICS UNKNOWN - ") and "crmmetrics: error:" in res.stderr


def test_prometheus_textfile_written_atomically_and_parsed_back(survey_project, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    config = STATIC.replace("    path: surveys.csv\n", "    path: surveys.csv\n    max_age: 7d\n")
    cfg = survey_project(nps_rows("2026-10", 3, 1, 1), config=config)
    target = tmp_path / "crm.prom"
    target.write_text("old\n")
    res = check(cfg, "--as-of", "2026-11-01", "-f", "prometheus", "-o", str(target), "-q")
    assert res.exit_code == 1 and res.stdout == ""  # WARN: the file carries it
    families = {f.name: f for f in text_string_to_metric_families(target.read_text())}
    samples = {(s.name, s.labels.get("rule", s.labels.get("source", ""))): s.value for f in families.values() for s in f.samples}
    assert samples[("crmmetrics_check_status", "nps_static")] == 1  # warn
    assert samples[("crmmetrics_check_value", "nps_static")] == 40.0
    assert samples[("crmmetrics_check_observations", "nps_static")] == 5
    assert samples[("crmmetrics_check_status", "freshness_surveys")] == 2  # newest row 2026-10-05, 28 days before the end of 2026-11-01
    assert samples[("crmmetrics_source_age_seconds", "freshness_surveys")] == 28 * 86400
    assert families["crmmetrics_check_last_success_timestamp_seconds"].type == "gauge"
    last = samples[("crmmetrics_check_last_success_timestamp_seconds", "")]
    assert abs(last - dt.datetime.now().timestamp()) < 120
    assert not list(tmp_path.glob(".crm.prom.*"))  # no temp file left behind


# ---------------------------------------------------------------- goals

def _goal(**kw) -> GoalSpec:
    base = dict(id="nps", metric="nps", unit="points", target=60.0, due=dt.datetime(2026, 12, 31), start=dt.datetime(2026, 1, 1),
                baseline=20.0, target_text="60")
    return GoalSpec(**{**base, **kw})


def _nps_series(values: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame({"metric": "nps", "period_start": list(values), "value": list(values.values()), "n": 10, "unit": "points"})


def test_goal_progress_share_schedule_and_status():
    # Jan 1 → Dec 31 2026 (365 days to the end of the due day), baseline 20, target 60. As-of Nov 1: October is judged,
    # its end (Nov 1) is 304 days in → expected 304 ÷ 365 = 0.8329.
    results = _nps_series({"2026-01-01": 25.0, "2026-09-01": 40.0, "2026-10-01": 50.0})
    [p] = goal_progress([_goal()], results, "month", dt.datetime(2026, 11, 1))
    assert p.current == 50.0 and p.period == "2026-10"
    assert p.share == pytest.approx((50 - 20) / (60 - 20))  # 0.75
    assert p.expected == pytest.approx(304 / 365)
    assert (p.status, p.on_track) == ("behind", False)
    # As-of Oct 1 (September judged, 40): share 0.5, expected 273 ÷ 365 = 0.748 → still behind;
    # with target 45: share (40 − 20) ÷ 25 = 0.8 ≥ 0.748 → on track.
    [p] = goal_progress([_goal(target=45.0, target_text="45")], results, "month", dt.datetime(2026, 10, 1))
    assert p.share == pytest.approx(0.8) and p.expected == pytest.approx(273 / 365) and p.status == "on_track"
    # Reached, missed, and a goal to go down (ticket times, churn): 4h → 2h with 3h now = half way.
    [p] = goal_progress([_goal(target=50.0)], results, "month", dt.datetime(2026, 11, 1))
    assert p.status == "reached" and p.on_track
    [p] = goal_progress([_goal(due=dt.datetime(2026, 10, 15))], results, "month", dt.datetime(2026, 11, 1))
    assert p.status == "missed"
    # "by 2026-10-31" allows the whole of that day: at its end (the instant 11-01 00:00) it is missed, not before.
    [p] = goal_progress([_goal(due=dt.datetime(2026, 10, 31))], results, "month", dt.datetime(2026, 10, 31, 23, 0))
    assert p.status == "behind"
    [p] = goal_progress([_goal(due=dt.datetime(2026, 10, 31))], results, "month", dt.datetime(2026, 11, 1))
    assert p.status == "missed"
    down = pd.DataFrame({"metric": "first_reply_time", "period_start": ["2026-10-01"], "value": [3.0], "n": 9, "unit": "hours"})
    [p] = goal_progress([_goal(metric="first_reply_time", unit="hours", target=2.0, baseline=4.0)], down, "month", dt.datetime(2026, 11, 1))
    assert p.share == pytest.approx(0.5)
    # Without a baseline: the value of the period holding start (January, 25).
    [p] = goal_progress([_goal(baseline=None)], results, "month", dt.datetime(2026, 11, 1))
    assert p.baseline == 25.0 and p.share == pytest.approx((50 - 25) / 35)


GOALS = SURVEY_CONFIG + "goals:\n  - {metric: nps, target: 60, due: 2026-12-31, start: 2026-01-01, baseline: 20}\n"


def test_goals_in_compute_json_and_check(survey_project):
    # October: 3 promoters, 1 detractor, 1 passive → 40: share (40 − 20) ÷ 40 = 0.5 < expected 0.833 → behind.
    cfg = survey_project(nps_rows("2026-10", 3, 1, 1), config=GOALS)
    res = run("compute", "nps", "-c", str(cfg), "-f", "json", "--as-of", "2026-10-31", "-q")
    doc = json.loads(res.stdout)
    jsonschema.validate(doc, json.loads((ROOT / "report.schema.json").read_text(encoding="utf-8")))
    [g] = doc["goals"]
    assert {k: g[k] for k in ("goal", "current", "target", "baseline", "status", "on_track", "period")} == {
        "goal": "nps", "current": 40.0, "target": 60.0, "baseline": 20.0, "status": "behind", "on_track": False, "period": "2026-10"}
    assert g["share"] == pytest.approx(0.5) and g["expected"] == pytest.approx(304 / 365)
    res = check(cfg, "--as-of", "2026-10-31")  # as known at the end of Oct 31: October is complete
    assert res.exit_code == 1  # behind schedule = warn
    assert res.stdout == "WARN goal nps 2026-10 = 40.0 (behind: target 60 by 2026-12-31, 50% of the way from 20.0, 83% of the time gone, n=5)\n"


def test_goals_for_a_segmented_report_use_the_overall_value(survey_project):
    from crmmetrics.checks.goals import goals_for_report
    from crmmetrics.config import load_config
    from crmmetrics.engine import compute

    rows = [("nps", 10, "2026-10-02", "C1"), ("nps", 0, "2026-10-03", "C2"), ("nps", 10, "2026-10-04", "C2")]
    cfg = load_config(survey_project(rows, config=GOALS))
    report = compute(cfg, ["nps"], by=["plan"], as_of="2026-11-01")
    [g] = goals_for_report(cfg, report)
    assert g.current == pytest.approx(100 * (2 - 1) / 3)


# ---------------------------------------------------------------- nothing to do

def test_a_run_where_every_metric_is_skipped_exits_78(survey_project):
    cfg = survey_project(nps_rows("2026-10", 1, 0), config=SURVEY_CONFIG + "checks:\n  - {metric: win_rate, crit: {min: 20%}}\n"
                         "  - {metric: mrr, crit: {min: 1}}\n")
    res = check(cfg, "--as-of", "2026-11-01")
    assert res.exit_code == ExitCode.CONFIG and res.stdout == ""
    lines = res.stderr.splitlines()
    assert lines[0] == "crmmetrics: error: nothing to do: every requested metric was skipped"
    assert lines[1].startswith("crmmetrics: error: win_rate: win_rate needs a deals source")
    assert lines[2].startswith("crmmetrics: error: mrr: mrr: ")
    # compute with report.metrics that this config cannot feed: the same, not an empty report.
    cfg = survey_project(nps_rows("2026-10", 1, 0), config=SURVEY_CONFIG + "report: {metrics: [win_rate, ticket_volume]}\n")
    res = run("compute", "-c", str(cfg), "-f", "csv")
    assert res.exit_code == ExitCode.CONFIG and res.stdout == ""
    assert "win_rate: win_rate needs a deals source" in res.stderr and "ticket_volume: ticket_volume needs a tickets source" in res.stderr


def test_some_rules_skipped_are_reported_but_the_rest_run(survey_project):
    cfg = survey_project(nps_rows("2026-10", 1, 0), config=SURVEY_CONFIG + "checks:\n  - {metric: win_rate, crit: {min: 20%}}\n"
                         "  - {metric: nps, crit: {min: 0}}\n")
    res = check(cfg, "--as-of", "2026-11-01", "-q")
    assert res.exit_code == 0
    assert res.stdout.startswith("SKIPPED win_rate 2026-10 (win_rate needs a deals source")


def test_strict_ignores_periods_without_responses(survey_project):
    # August and October have responses, September none: a zero_denominator warning, not a data defect.
    rows = nps_rows("2026-08", 1, 0) + nps_rows("2026-10", 1, 0)
    cfg = survey_project(rows, config=SURVEY_CONFIG + "checks:\n  - {metric: nps, crit: {min: 0}}\n")
    assert check(cfg, "--as-of", "2026-11-01", "--strict").exit_code == 0
    res = run("compute", "nps", "-c", str(cfg), "-f", "csv", "--strict", "--as-of", "2026-11-01")
    assert res.exit_code == 0, res.stderr
    # A real data issue still fails --strict.
    cfg = survey_project(rows + [("nps", "abc", "2026-10-09")], config=SURVEY_CONFIG + "checks:\n  - {metric: nps, crit: {min: 0}}\n")
    assert check(cfg, "--as-of", "2026-11-01", "--strict").exit_code == ExitCode.DATAERR


def test_piped_export_is_seen_by_every_computation_of_a_run(survey_project, tmp_path):
    # Two by-groups (overall and per plan) and freshness each load surveys: all from one stdin.
    config = SURVEY_CONFIG.replace("    path: surveys.csv\n", "    path: surveys.csv\n    max_age: 7d\n") + \
        "checks:\n  - {metric: nps, crit: {min: 0}}\n  - {metric: nps, by: [plan], crit: {min: 0}}\n"
    cfg = survey_project([], config=config)
    piped = "id,customer,type,score,date\n1,C1,nps,10,2026-10-30\n2,C2,nps,0,2026-10-31\n"
    res = runner.invoke(app, ["check", "-c", str(cfg), "--as-of", "2026-11-01", "--input", "surveys=-"], input=piped)
    assert res.stdout.splitlines() == [
        "OK nps 2026-10 = 0.0 (crit min 0, n=2)",
        "CRIT nps[plan=Basic] 2026-10 = -100.0 (min 0, n=1)",
        "OK nps[plan=Pro] 2026-10 = 100.0 (crit min 0, n=1)",
        "OK freshness surveys 2026-11-01 (newest responded_at 2026-10-31 00:00 is 2.0d old; max_age 7d)",
    ]


def test_without_as_of_the_instant_is_now_so_a_running_month_is_not_judged(survey_project):
    from crmmetrics.checks.run import run_checks
    from crmmetrics.config import load_config

    cfg = load_config(survey_project(nps_rows("2026-09", 2, 0) + nps_rows("2026-10", 0, 2), config=STATIC))
    # 10:00 on the last day of October: October is not over, September (NPS 100) is judged.
    run = run_checks(cfg, now=dt.datetime(2026, 10, 31, 10, 0))
    assert [(o.period, o.value, o.status) for o in run.outcomes] == [("2026-09", 100.0, Status.OK)]
    # --as-of 2026-10-31 means as known at the end of that day: October (−100) is judged, like compute's complete column.
    run = run_checks(cfg, as_of="2026-10-31", now=dt.datetime(2026, 11, 5, 10, 0))
    assert [(o.period, o.value, o.status) for o in run.outcomes] == [("2026-10", -100.0, Status.CRIT)]


def test_period_label_judges_that_period_when_it_is_over(survey_project):
    # September NPS 100 (2 promoters), October −100 (2 detractors); as known at the end of 2026-11-01.
    cfg = survey_project(nps_rows("2026-09", 2, 0) + nps_rows("2026-10", 0, 2), config=STATIC)
    res = check(cfg, "--as-of", "2026-11-01", "-p", "2026-09")
    assert (res.exit_code, res.stdout) == (0, "OK nps 2026-09 = 100.0 (warn min 50, crit min 0, n=2)\n")
    res = check(cfg, "--as-of", "2026-11-01", "-p", "2026-Q3")
    assert res.stdout == "OK nps 2026-Q3 = 100.0 (warn min 50, crit min 0, n=2)\n"
    res = check(cfg, "--as-of", "2026-11-01", "-p", "2026-11")
    assert res.exit_code == ExitCode.USAGE and "--period 2026-11 is not over at the as-of instant 2026-11-02 00:00" in res.stderr
    assert check(cfg, "-p", "2026-13").exit_code == ExitCode.USAGE


def test_week_labels_follow_the_week_start():
    from crmmetrics.checks.run import start_of_label
    from crmmetrics.grid import Grid

    # ISO 2026-W10 is Mon 2026-03-02 … Sun 03-08. A Sunday-start bucket holding most of it starts Sun 03-01.
    assert start_of_label(Grid("week", "monday"), "2026-W10") == dt.datetime(2026, 3, 2)
    assert start_of_label(Grid("week", "sunday"), "2026-W10") == dt.datetime(2026, 3, 1)
    assert start_of_label(Grid("week", "saturday"), "2026-W10") == dt.datetime(2026, 2, 28)
    assert start_of_label(Grid("quarter"), "2026-Q4") == dt.datetime(2026, 10, 1)


def test_the_readme_check_example_is_a_valid_config():
    import re

    from crmmetrics.config import config_from_data
    from crmmetrics.yamlload import load_yaml

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Checks and goals", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    data, _ = load_yaml(block)  # the loader the CLI uses (YAML 1.2: dates stay text)
    data["version"] = 1
    data["sources"]["surveys"]["fields"] = {"response_id": "id", "score": "score", "responded_at": "date", "survey_type": "type"}
    cfg = config_from_data(data, {})
    assert [(r.id, r.kind) for r in cfg.rules] == [
        ("nps_threshold", "static"), ("csat_threshold", "static"), ("nps_static", "static"), ("first_reply_time_static", "static"),
        ("revenue_change", "change"), ("csat_change", "change"), ("ticket_volume_anomaly", "anomaly")]
    reply = cfg.rules[3]
    assert (reply.warn.max, reply.crit.max) == (24.0, 48.0)  # first_reply_time is in hours
    assert cfg.rules[1].crit.min == pytest.approx(0.8) and cfg.rules[5].crit.change == pytest.approx(-0.05)
    assert [(g.metric, g.target, g.baseline) for g in cfg.goals] == [("nps", 45.0, 32.0)]
    assert [(f.entity, f.max_age) for f in cfg.freshness] == [("surveys", 7 * 86400)]


def test_check_uses_the_overall_value_not_the_last_segment_of_report_by(survey_project):
    # March: C1 (plan Pro) 10, 10; C2 (plan Basic) 0, 0 → overall NPS 100 × (2 − 2) ÷ 4 = 0,
    # a breach of min 10. The Pro segment alone (100) sorted last and hid it.
    config = SURVEY_CONFIG + "report: {by: [plan]}\nthresholds:\n  nps: {min: 10}\n"
    cfg = survey_project([("nps", 10, "2026-03-05", "C1"), ("nps", 0, "2026-03-05", "C2"),
                          ("nps", 0, "2026-03-06", "C2"), ("nps", 10, "2026-03-06", "C1")], config=config)
    res = CliRunner().invoke(app, ["check", "-c", str(cfg), "-q", "--as-of", "2026-04-01"])
    assert res.exit_code == 1, res.stdout + res.stderr
    assert res.stdout == "CRIT nps 2026-03 = 0.0 (min 10, n=4)\n"
    # compute without -b still applies report.by.
    res = CliRunner().invoke(app, ["compute", "nps", "-c", str(cfg), "-f", "csv", "-q", "--as-of", "2026-04-01"])
    assert res.exit_code == 0 and "plan" in res.stdout.splitlines()[0]
