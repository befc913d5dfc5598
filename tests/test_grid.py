"""The run's time model (crmmetrics.grid): one grid owns period bounds, labels,
completeness and the as-of policy; results say whether their period is complete."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crmmetrics import compute, load_config
from crmmetrics.cli import app
from crmmetrics.grid import Grid
from tests.conftest import ROOT, write

D = dt.datetime


# ------------------------------------------------------------------ the grid itself


def test_completeness_as_of_since_and_until():
    g = Grid("month", since=D(2026, 3, 15), until=None, as_of=D(2026, 5, 10))
    assert g.horizon == D(2026, 5, 11)  # the end of the as-of day
    assert g.periods(D(2026, 3, 20), D(2026, 5, 9)) == [D(2026, 3, 1), D(2026, 4, 1), D(2026, 5, 1)]
    # March is cut by --since, April is whole, May is not over on 10 May.
    assert [g.complete(s) for s in g.periods(D(2026, 3, 20), D(2026, 5, 9))] == [False, True, False]
    assert g.snapshot(D(2026, 5, 1)) == D(2026, 5, 11) and g.snapshot(D(2026, 4, 1)) == D(2026, 5, 1)
    assert g.measured(D(2026, 3, 1)) == (D(2026, 3, 15), D(2026, 4, 1))
    cut = Grid("month", until=D(2026, 4, 20), as_of=D(2026, 6, 30))
    assert (cut.complete(D(2026, 3, 1)), cut.complete(D(2026, 4, 1))) == (True, False)  # April cut by --until
    assert Grid("month", as_of=D(2026, 3, 31)).complete(D(2026, 3, 1))  # over at the end of 31 March


def test_grid_never_goes_past_the_as_of_period_and_labels():
    g = Grid("quarter", until=D(2027, 1, 1), as_of=D(2026, 5, 10))
    assert [g.label(s) for s in g.periods(D(2026, 1, 5), None)] == ["2026-Q1", "2026-Q2"]
    assert g.stop == D(2026, 5, 11)
    w = Grid("week", week_start="sunday", as_of=D(2026, 11, 30))
    assert w.floor(D(2026, 11, 25, 13)) == D(2026, 11, 22) and w.label(D(2026, 11, 22)) == "2026-W48"
    assert w.shift(D(2026, 11, 22), -2) == D(2026, 11, 8)
    assert Grid("month").shift(D(2026, 1, 1), -3) == D(2025, 10, 1)


def test_all_is_one_period_from_the_first_date_of_the_run_to_the_as_of_instant():
    g = Grid("all", as_of=D(2026, 6, 30)).with_data(D(2026, 1, 5, 14), D(2026, 6, 1))
    assert g.periods(D(2026, 3, 1), D(2026, 4, 1)) == [D(2026, 1, 5)]
    assert g.end(D(2026, 1, 5)) == D(2026, 7, 1) and g.complete(D(2026, 1, 5)) and g.label(D(2026, 1, 5)) == "all"


# ------------------------------------------------------------------ nobody else computes periods

# Period arithmetic lives in crmmetrics/periods.py and is imported by crmmetrics/grid.py only.
PERIOD_HELPERS = re.compile(r"\b(floor_local|floor_one|next_start|bucket_range)\b|from crmmetrics\.periods import [^\n]*\blabel\b")
# "The end of the as-of day", hand-rolled: datetime(x.year, x.month, x.day) + 1 day, normalize() + 1 day.
END_OF_DAY = re.compile(r"datetime\(\w+(\.\w+)*\.year, \w+(\.\w+)*\.month, \w+(\.\w+)*\.day\) \+|"
                        r"normalize\(\) \+ pd\.Timedelta\(days=1\)|_snapshot_anchor.*as_of\.day")


def test_no_module_but_the_grid_computes_period_bounds():
    offenders = []
    for path in sorted((ROOT / "crmmetrics").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in ("crmmetrics/periods.py", "crmmetrics/grid.py"):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if PERIOD_HELPERS.search(line) or END_OF_DAY.search(line):
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert offenders == [], "period math outside crmmetrics/grid.py:\n" + "\n".join(offenders)


# ------------------------------------------------------------------ behaviour 1: --as-of everywhere

AS_OF_SURVEYS = [("nps", 10, "2026-01-10"), ("nps", 0, "2026-02-03"), ("nps", 9, "2026-03-31 23:00"),
                 ("nps", 1, "2026-04-01"), ("nps", 2, "2026-07-15")]


def test_rows_after_the_as_of_day_are_one_info_issue_and_never_counted(survey_project):
    report = compute(load_config(survey_project(AS_OF_SURVEYS)), ["nps"], period="quarter", as_of="2026-03-31")
    rows = report.results
    # Only Q1: 10 and 9 promoters, 0 a detractor → (2 − 1) ÷ 3 = 33.3; the April and July answers have not happened.
    assert list(rows["period"]) == ["2026-Q1"]
    assert rows["value"].iloc[0] == pytest.approx(100 / 3) and rows["n"].iloc[0] == 3
    later = [i for i in report.issues if i.code == "after_as_of"]
    assert len(later) == 1 and later[0].count == 2 and later[0].level.value == "info"
    assert later[0].location.endswith("surveys.csv:5")


def test_sample_data_as_of_mid_2025_has_no_later_period_in_any_metric(sample_project):
    report = compute(load_config(sample_project / "config.example.yaml"), period="month", as_of="2025-06-30")
    res = report.results
    assert len(res) and (res["period_start"] <= "2025-06-30").all()
    last = res.groupby("metric")["period"].max()
    # Revenue, MRR and NPS end together at the as-of month; nothing from 2026 appears.
    assert (last["revenue"], last["mrr"], last["nps"]) == ("2025-06", "2025-06", "2025-06")
    assert res[res["period"] == "2025-06"]["complete"].all()  # 30 June is the month's last day
    later = {i.entity: i.count for i in report.issues if i.code == "after_as_of"}
    assert later["surveys"] > 0 and later["orders"] > 0


# ------------------------------------------------------------------ behaviour 2: complete on every row


def _nps_project(survey_project):
    return load_config(survey_project([("nps", 10, "2026-01-10"), ("nps", 9, "2026-02-03"), ("nps", 3, "2026-03-05")]))


def test_every_row_says_whether_its_period_is_complete(survey_project):
    report = compute(_nps_project(survey_project), ["nps"], period="month", since="2026-01-05", as_of="2026-03-10")
    rows = report.results
    assert list(rows.columns[:5]) == ["metric", "period", "period_start", "period_end", "complete"]
    # January is cut by --since, February is whole, March is not over on 10 March.
    assert list(zip(rows["period"], rows["complete"])) == [("2026-01", False), ("2026-02", True), ("2026-03", False)]
    assert report.latest_complete_period("nps") == "2026-02"
    assert list(report.latest_complete()["value"]) == [100.0]


def test_renderers_carry_and_mark_completeness(survey_project, tmp_path):
    cfg = survey_project([("nps", 10, "2026-01-10"), ("nps", 9, "2026-02-03"), ("nps", 3, "2026-03-05")])
    base = ["compute", "nps", "-c", str(cfg), "-p", "month", "--as-of", "2026-03-10", "-q"]
    csv_out = CliRunner().invoke(app, [*base, "-f", "csv"]).stdout.splitlines()
    assert csv_out[0].startswith("metric,period,period_start,period_end,complete,")
    assert [line.split(",")[4] for line in csv_out[1:]] == ["true", "true", "false"]
    table = CliRunner().invoke(app, [*base, "-f", "table", "-o", str(tmp_path / "t.txt")])
    assert table.exit_code == 0
    text = (tmp_path / "t.txt").read_text(encoding="utf-8")
    assert "2026-03 *" in text and "2026-02 *" not in text and "* incomplete period" in text
    md = CliRunner().invoke(app, [*base, "-f", "markdown"]).stdout
    assert "| 2026-03 * |" in md and md.splitlines()[0].endswith("| complete |")
    jsonl = [json.loads(x) for x in CliRunner().invoke(app, [*base, "-f", "jsonl"]).stdout.splitlines()]
    assert [r["complete"] for r in jsonl] == [True, True, False]
    xlsx = tmp_path / "r.xlsx"
    assert CliRunner().invoke(app, [*base, "-o", str(xlsx)]).exit_code == 0
    from openpyxl import load_workbook

    sheet = load_workbook(xlsx)["results"]
    header = [c.value for c in sheet[1]]
    assert [r[header.index("complete")] for r in sheet.iter_rows(min_row=2, values_only=True)] == [True, True, False]


def test_json_report_validates_against_the_documented_schema(survey_project):
    import jsonschema

    schema = json.loads((ROOT / "report.schema.json").read_text(encoding="utf-8"))
    assert "complete" in schema["$defs"]["result"]["then"]["required"]
    res = CliRunner().invoke(app, ["compute", "nps", "-c", str(_cfg_path(survey_project)), "-p", "month", "--as-of", "2026-03-10", "-f", "json", "-q"])
    doc = json.loads(res.stdout)
    jsonschema.validate(doc, schema)
    broken = json.loads(res.stdout)
    del broken["results"][0]["complete"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def _cfg_path(survey_project) -> Path:
    return survey_project([("nps", 10, "2026-01-10"), ("nps", 9, "2026-02-03"), ("nps", 3, "2026-03-05")])



# ------------------------------------------------------------------ behaviour 3: the grid ends at the data and the as-of period

DEALS_CONFIG = """
version: 1
timezone: UTC
sources:
  deals:
    path: deals.csv
    fields: {deal_id: id, created_at: created, closed_at: closed, status: stage, amount: amount}
    values:
      status: {"Closed Won": won, "Closed Lost": lost, "*": open}
"""


def _deals(tmp_path: Path, body: str):
    write(tmp_path / "deals.csv", "id,created,closed,stage,amount\n" + body)
    return load_config(write(tmp_path / "crm.yaml", DEALS_CONFIG))


def test_a_stale_export_is_not_padded_to_the_as_of_day_and_is_named_once(tmp_path):
    # A 2017 export read with --as-of 2020-12-31: D1 open since 2017-11-05 (1,000), D2 won 2017-12-31.
    cfg = _deals(tmp_path, "D1,2017-11-05,,Open,1000\nD2,2017-10-01,2017-12-31,Closed Won,500\n")
    report = compute(cfg, ["pipeline_value"], period="quarter", as_of="2020-12-31")
    rows = report.results
    # Q4 2017 is the last period (snapshot 2018-01-01: D1 open, D2 closed); no flat 2018–2020 rows.
    assert list(rows["period"]) == ["2017-Q4"] and list(rows["value"]) == [1000]
    stale = [i for i in report.issues if i.code == "stale_export"]
    assert len(stale) == 1 and stale[0].level.value == "warning"
    assert stale[0].message.startswith("newest deal is dated 2017-12-31, 3 years before --as-of 2020-12-31")
    # --until asks for the later periods: then they are reported (D1 still open) and nothing is stale.
    asked = compute(cfg, ["pipeline_value"], period="quarter", until="2018-07-01", as_of="2020-12-31")
    assert list(asked.results["period"]) == ["2017-Q4", "2018-Q1", "2018-Q2"]
    assert not [i for i in asked.issues if i.code == "stale_export"]


def test_stock_snapshot_of_the_current_period_is_taken_at_the_as_of_instant(tmp_path):
    # As of 10 May, D1 (created 1 April, won 20 May) is still open; the Q2 snapshot is taken
    # at 11 May 00:00, not at 1 July when D1 would be closed. Q1 is over: its snapshot is 1 April.
    cfg = _deals(tmp_path, "D1,2026-04-01,2026-05-20,Closed Won,700\nD0,2026-02-01,,Open,300\n")
    rows = compute(cfg, ["pipeline_value"], period="quarter", as_of="2026-05-10").results
    assert list(zip(rows["period"], rows["value"], rows["complete"])) == [("2026-Q1", 300, True), ("2026-Q2", 1000, False)]


def test_mrr_stops_at_the_newest_dated_row(tmp_path):
    from tests.test_subscription_metrics import make, rows, run, sub

    cfg = make(tmp_path, [sub("A", "2024-01-01", amount=10), sub("B", "2024-03-15", amount=20)])
    report = run(cfg, ["mrr"], as_of="2024-12-31")
    # January 10, February 10, March 10 + 20; April to December are after the newest row.
    assert list(zip(rows(report, "mrr")["period"], rows(report, "mrr")["value"])) == [("2024-01", 10), ("2024-02", 10), ("2024-03", 30)]
    [stale] = [i for i in report.issues if i.code == "stale_export"]
    assert stale.message.startswith("newest subscription is dated 2024-03-15, 9 months before --as-of 2024-12-31")


def test_a_stale_export_is_a_warning_that_strict_lets_pass(tmp_path):
    _deals(tmp_path, "D1,2017-11-05,,Open,1000\n")
    res = CliRunner().invoke(app, ["compute", "pipeline_value", "-c", str(tmp_path / "crm.yaml"), "-p", "quarter",
                                   "--as-of", "2020-12-31", "--strict", "-f", "csv"])
    assert res.exit_code == 0, res.stderr
    assert "newest deal is dated 2017-11-05" in res.stderr


# ------------------------------------------------------------------ behaviour 4: -p all is one row per metric and segment


def test_all_is_one_row_per_metric_and_segment_for_every_metric(sample_project):
    report = compute(load_config(sample_project / "config.example.yaml"), period="all", as_of="2026-10-31")
    res = report.results
    keys = ["metric", *[c for c in ("stage",) if c in res]]
    counts = res.fillna({"stage": ""}).groupby(keys).size() if "stage" in res else res.groupby(keys).size()
    assert (counts == 1).all(), counts[counts > 1]
    assert res["period_start"].nunique() == 1  # one period for the whole run, whatever date column a metric buckets
    # stage_duration: one (total) row and one per stage, no second empty total.
    stages = res[res["metric"] == "stage_duration"]["stage"].tolist()
    assert stages.count("(total)") == 1 and "" not in stages


def test_lead_conversion_with_basis_period_over_all_is_one_ratio(sample_project_copy):
    # Sample data: 2,500 leads created, 200 converted, both in the one period → 8 %
    # (before: two rows, 0 ÷ 2,500 and 200 ÷ 0, because conversions were bucketed by their own first date).
    text = (sample_project_copy / "config.example.yaml").read_text(encoding="utf-8").replace("basis: cohort", "basis: period")
    cfg = load_config(write(sample_project_copy / "crm.yaml", text))
    rows = compute(cfg, ["lead_conversion_rate"], period="all", as_of="2026-10-31").results
    assert len(rows) == 1 and (rows["numerator"].iloc[0], rows["denominator"].iloc[0]) == (200, 2500)
    assert rows["value"].iloc[0] == pytest.approx(0.08)


# ------------------------------------------------------------------ behaviour 5: one scoring instant for health


@pytest.mark.parametrize("as_of", ["2026-10-20", "2026-11-25", None])
def test_compute_health_score_and_analyze_health_score_at_the_same_instant(as_of, sample_project):
    from crmmetrics.engine import analyze

    cfg = load_config(sample_project / "config.example.yaml")
    metric = compute(cfg, ["health_score"], period="all", as_of=as_of).results.iloc[0]
    table = analyze(cfg, "health", as_of=as_of).tables["customers"]
    scored = table[table["score"].notna()]
    assert metric["n"] == len(scored)
    assert metric["value"] == pytest.approx(scored["score"].mean())
    assert (metric["red"], metric["yellow"], metric["green"]) == tuple(int((scored["band"] == b).sum()) for b in ("red", "yellow", "green"))
