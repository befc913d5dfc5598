"""NPS, CSAT and CES against METRICS.md F1–F3 and its worked examples (WX16, WX17)."""

from __future__ import annotations

import pytest

from crmmetrics import compute, load_config
from crmmetrics.errors import ConfigError


def _rows(report, metric):
    return report.results[report.results["metric"] == metric].reset_index(drop=True)


def test_wx16_nps_50_promoters_10_detractors_is_40(survey_project):
    # 10 responses: 5 promoters (9-10), 4 passives (7-8), 1 detractor (0-6).
    scores = [10, 9, 10, 9, 9, 8, 7, 7, 8, 3]
    cfg = survey_project([("nps", s, "2026-03-05") for s in scores])
    row = _rows(compute(load_config(cfg), ["nps"], period="month"), "nps").iloc[0]
    assert row["value"] == pytest.approx(40.0)
    assert (row["promoters"], row["passives"], row["detractors"]) == (5, 4, 1)
    assert (row["n"], row["numerator"], row["denominator"]) == (10, 4, 10)
    assert row["period"] == "2026-03" and row["unit"] == "points"


def test_nps_30_vs_20_percent_is_plus_10(survey_project):
    scores = [10, 9, 9] + [8] * 5 + [0, 6]
    cfg = survey_project([("nps", s, "2026-03-05") for s in scores])
    assert _rows(compute(load_config(cfg), ["nps"]), "nps").iloc[0]["value"] == pytest.approx(10.0)


def test_wx17_csat_top2_box_is_60_percent_and_mean_is_3_5(survey_project):
    ratings = [5] * 10 + [4] * 20 + [3] * 10 + [2] * 5 + [1] * 5
    cfg = survey_project([("csat", r, "2026-03-05") for r in ratings])
    row = _rows(compute(load_config(cfg), ["csat"]), "csat").iloc[0]
    assert row["value"] == pytest.approx(0.60)
    assert (row["numerator"], row["denominator"], row["n"]) == (30, 50, 50)
    config = load_config(cfg)
    text = cfg.read_text().replace("metrics:\n", "metrics:\n  csat: {variant: mean}\n")
    cfg.write_text(text)
    row = _rows(compute(load_config(cfg), ["csat"]), "csat").iloc[0]
    assert row["value"] == pytest.approx(3.5)
    assert row["median"] == pytest.approx(4.0)
    del config


def test_csat_default_cut_off_follows_scale_length(survey_project):
    from crmmetrics.metrics.survey import CsatOptions

    assert CsatOptions().threshold() == 4
    assert CsatOptions(scale=(1, 3)).threshold() == 3
    assert CsatOptions(scale=(1, 7)).threshold() == 6
    assert CsatOptions(scale=(1, 10)).threshold() == 8
    assert CsatOptions(scale=(1, 5), satisfied_min=5).threshold() == 5


def test_out_of_range_and_fractional_scores_are_issues_with_lines_not_buckets(survey_project):
    cfg = survey_project([("nps", 10, "2026-03-01"), ("nps", 11, "2026-03-02"), ("nps", 7.5, "2026-03-03"),
                          ("nps", 0, "2026-03-04"), ("nps", None, "2026-03-05")])
    report = compute(load_config(cfg), ["nps"])
    row = _rows(report, "nps").iloc[0]
    assert row["n"] == 2 and row["value"] == pytest.approx(0.0)  # one promoter, one detractor
    by_code = {i.code: i for i in report.issues}
    assert by_code["score_out_of_range"].location.endswith("surveys.csv:3")
    assert by_code["score_out_of_range"].value == "11.0"
    assert by_code["score_not_integer"].location.endswith("surveys.csv:4")
    assert by_code["blank_score"].count == 1


def test_empty_period_gives_null_value_and_an_issue(survey_project):
    cfg = survey_project([("nps", 10, "2026-01-15"), ("nps", 3, "2026-03-15")])
    rows = _rows(compute(load_config(cfg), ["nps"]), "nps")
    assert list(rows["period"]) == ["2026-01", "2026-02", "2026-03"]
    assert rows.loc[1, "n"] == 0 and rows["value"].isna().tolist() == [False, True, False]


def test_only_responses_of_the_metric_survey_type_count(survey_project):
    cfg = survey_project([("nps", 10, "2026-03-01"), ("csat", 1, "2026-03-01"), ("CES", 2, "2026-03-01")])
    report = compute(load_config(cfg), ["nps", "csat", "ces"])
    assert _rows(report, "nps").iloc[0]["n"] == 1
    assert _rows(report, "csat").iloc[0]["value"] == 0.0
    assert _rows(report, "ces").iloc[0]["value"] == 2.0


def test_ces_effort_scale_is_normalised_and_raw_mean_kept(survey_project):
    config = """
version: 1
sources:
  surveys:
    path: surveys.csv
    fields: {response_id: id, survey_type: type, score: score, responded_at: date}
metrics:
  ces: {scale: [1, 5], higher_is_easier: false}
"""
    cfg = survey_project([("ces", 1, "2026-03-01"), ("ces", 2, "2026-03-01"), ("ces", 5, "2026-03-01")], config=config)
    row = _rows(compute(load_config(cfg), ["ces"]), "ces").iloc[0]
    # 1,2,5 on an effort scale → 5,4,1 on higher-is-easier; mean 10/3; raw mean 8/3.
    assert row["value"] == pytest.approx(10 / 3)
    assert row["mean_raw"] == pytest.approx(8 / 3)
    assert row["pct_easy"] == pytest.approx(2 / 3)  # 5 and 4 are above the midpoint 3


def test_ces_without_declared_direction_refuses(survey_project):
    config = """
version: 1
sources:
  surveys:
    path: surveys.csv
    fields: {response_id: id, survey_type: type, score: score, responded_at: date}
"""
    cfg = survey_project([("ces", 3, "2026-03-01"), ("nps", 9, "2026-03-01"), ("csat", 4, "2026-03-01")], config=config)
    with pytest.raises(ConfigError, match="higher_is_easier"):
        compute(load_config(cfg), ["ces"])
    # Not requested explicitly: skipped with a note, the other metrics still run.
    report = compute(load_config(cfg))
    assert set(report.results["metric"]) == {"nps", "csat"}
    assert any(i.code == "metric_skipped" and i.metric == "ces" for i in report.issues)


def test_nps_by_plan_joined_from_customers(survey_project):
    cfg = survey_project([("nps", 10, "2026-03-01", "C1"), ("nps", 9, "2026-03-02", "C1"),
                          ("nps", 2, "2026-03-03", "C2"), ("nps", 8, "2026-03-03", "C9")])
    rows = _rows(compute(load_config(cfg), ["nps"], by=["plan"]), "nps")
    got = dict(zip(rows["plan"], rows["value"]))
    assert got == {"(blank)": 0.0, "Basic": -100.0, "Pro": 100.0}
    assert rows["n"].sum() == 4  # segments add up to the total


def test_latest_response_per_customer_variant(survey_project):
    config = __import__("tests.conftest", fromlist=["SURVEY_CONFIG"]).SURVEY_CONFIG.replace("metrics:\n", "metrics:\n  nps: {unit: latest_per_customer}\n")
    cfg = survey_project([("nps", 0, "2026-03-01", "C1"), ("nps", 10, "2026-03-20", "C1"), ("nps", 10, "2026-03-05", "C2")], config=config)
    row = _rows(compute(load_config(cfg), ["nps"]), "nps").iloc[0]
    assert (row["n"], row["value"]) == (2, 100.0)


def test_custom_cut_offs(survey_project):
    config = __import__("tests.conftest", fromlist=["SURVEY_CONFIG"]).SURVEY_CONFIG.replace("metrics:\n", "metrics:\n  nps: {promoter_min: 10, detractor_max: 5}\n")
    cfg = survey_project([("nps", 9, "2026-03-01"), ("nps", 10, "2026-03-01"), ("nps", 6, "2026-03-01"), ("nps", 5, "2026-03-01")], config=config)
    row = _rows(compute(load_config(cfg), ["nps"]), "nps").iloc[0]
    assert (row["promoters"], row["passives"], row["detractors"]) == (1, 2, 1)
