"""Sales and lead metrics on the real datasets in ../shared/datasets (skipped when absent).

Expected figures were computed independently with plain pandas on the original files
(groupby close quarter; open at t = engage_date < t and (no close_date or close_date ≥ t)).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crmmetrics import compute, load_config
from tests.conftest import DATASETS, ROOT, needs_dataset, write

MAVEN = DATASETS / "crm_sales_opportunities"
OLIST = DATASETS / "olist" / "marketing_funnel"
SALESFORCE = DATASETS / "salesforce_export_sample"

MAVEN_CONFIG = """
version: 1
timezone: UTC
sources:
  deals:
    path: {path}
{extra}
    fields: {{deal_id: opportunity_id, owner: sales_agent, product: product, customer_id: account, status: deal_stage,
             stage: deal_stage, created_at: engage_date, closed_at: close_date, amount: close_value}}
    values:
      status: {{Won: won, Lost: lost, Engaging: open, Prospecting: open}}
"""

# Each file as a user would map it: date order left to inference, the workbook's data sheet named.
MAVEN_VARIANTS = {
    "original": (MAVEN / "sales_pipeline.csv", ""),
    "us_dates": (MAVEN / "variants" / "sales_pipeline_us_dates.csv", ""),
    "dd-mm-yy": (MAVEN / "variants" / "sales_pipeline_dd-mm-yy_with_quarters.csv", ""),
    "xlsx": (MAVEN / "excel" / "data_model.xlsx", "    sheet: sales_pipeline"),
}
MAVEN_METRICS = ["win_rate", "average_deal_size", "sales_cycle_length", "pipeline_value"]
COMPARED = ["metric", "period", "value", "n", "numerator", "denominator"]


def _maven(tmp_path: Path, variant: str, by: list[str] | None = None):
    path, extra = MAVEN_VARIANTS[variant]
    cfg = load_config(write(tmp_path / f"{variant}.yaml", MAVEN_CONFIG.format(path=path.as_posix(), extra=extra)))
    return compute(cfg, MAVEN_METRICS, period="quarter", by=by, until="2018-01-01", as_of="2018-01-31")


def _rows(report, metric):
    return report.results[report.results["metric"] == metric].reset_index(drop=True)


@pytest.fixture(scope="module")
def maven_reports(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("maven")
    return {v: (_maven(tmp, v), _maven(tmp, v, by=["owner"])) for v in MAVEN_VARIANTS}


@needs_dataset("crm_sales_opportunities")
def test_maven_quarterly_figures(maven_reports):
    report, _ = maven_reports["original"]
    win = _rows(report, "win_rate")
    assert list(win["period"]) == ["2017-Q1", "2017-Q2", "2017-Q3", "2017-Q4"]
    assert list(zip(win["won"], win["n"])) == [(531, 647), (1254, 2032), (1257, 2047), (1196, 1985)]
    size = _rows(report, "average_deal_size")
    assert size.loc[0, "value"] == pytest.approx(1134672 / 531)
    assert list(size["value"]) == pytest.approx([2136.858757, 2461.013557, 2372.517900, 2343.224080])
    cycle = _rows(report, "sales_cycle_length")
    assert list(cycle["value"]) == pytest.approx([65.625235, 51.010367, 48.817025, 49.561037])
    assert list(cycle["median"]) == [74.0, 52.0, 49.0, 51.0]
    pipe = _rows(report, "pipeline_value")
    # Open deal counts at each quarter end, 2016-Q4 (first engage date 2016-10-20) to 2017-Q4.
    assert list(pipe["period"]) == ["2016-Q4", "2017-Q1", "2017-Q2", "2017-Q3", "2017-Q4"]
    assert list(pipe["n"]) == [358, 1330, 1686, 2409, 1589]
    assert pipe.loc[4, "without_amount"] == 1589 and pipe.loc[4, "value"] == 0  # Engaging deals carry no value
    # The 500 Prospecting deals have no engage date: reported, not placed in time.
    assert report.issue_counts()["missing_created_date"] == 500
    assert next(i for i in report.issues if i.code == "missing_created_date").location.endswith("sales_pipeline.csv:8302")


@needs_dataset("crm_sales_opportunities")
def test_maven_per_sales_agent(maven_reports):
    _, by_owner = maven_reports["original"]
    win = _rows(by_owner, "win_rate")
    darcel = win[win["owner"] == "Darcel Schlecht"].set_index("period")
    assert (darcel.loc["2017-Q2", "won"], darcel.loc["2017-Q2", "n"]) == (96, 156)
    assert win.groupby("period")["n"].sum().tolist() == [647, 2032, 2047, 1985]  # agents add up to the total
    pipe = _rows(by_owner, "pipeline_value")
    assert pipe.groupby("period")["n"].sum().tolist() == [358, 1330, 1686, 2409, 1589]


@needs_dataset("crm_sales_opportunities")
@pytest.mark.parametrize("variant", ["us_dates", "dd-mm-yy", "xlsx"])
def test_maven_resaved_variants_give_identical_results(maven_reports, variant):
    for expected, got in zip(maven_reports["original"], maven_reports[variant]):
        cols = [c for c in COMPARED + ["owner"] if c in expected.results]
        a = expected.results[cols].reset_index(drop=True)
        b = got.results[cols].reset_index(drop=True)
        assert a.astype(str).equals(b.astype(str)), f"{variant} differs from the original CSV"


@needs_dataset("olist", "marketing_funnel")
def test_olist_lead_conversion_per_month_of_first_contact():
    cfg = load_config(ROOT / "examples" / "olist_funnel.yaml")
    inputs = {"leads": str(OLIST / "olist_marketing_qualified_leads_dataset.csv"), "deals": str(OLIST / "olist_closed_deals_dataset.csv")}
    report = compute(cfg, ["lead_conversion_rate"], inputs=inputs, as_of="2019-01-01")
    rows = _rows(report, "lead_conversion_rate").set_index("period")
    assert rows.index[0] == "2017-06" and rows.index[-1] == "2018-05"
    assert (rows.loc["2017-06", "converted"], rows.loc["2017-06", "leads"]) == (0, 4)
    assert (rows.loc["2018-01", "converted"], rows.loc["2018-01", "leads"]) == (152, 1141)
    assert rows.loc["2018-01", "value"] == pytest.approx(152 / 1141)
    # 842 won deals, one of which predates its lead's first contact: reported, still counted.
    assert (rows["converted"].sum(), rows["leads"].sum()) == (842, 8000)
    issue = next(i for i in report.issues if i.code == "conversion_before_created")
    assert issue.location.endswith("olist_marketing_qualified_leads_dataset.csv:6359")


@needs_dataset("salesforce_export_sample")
def test_salesforce_example_config_maps_salesforce_headers():
    cfg = load_config(ROOT / "examples" / "salesforce.yaml")
    inputs = {"deals": str(SALESFORCE / "Opportunity.csv"), "leads": str(SALESFORCE / "Lead.csv"), "activities": str(SALESFORCE / "Task.csv")}
    names = ["win_rate", "average_deal_size", "pipeline_value", "weighted_pipeline_value", "lead_conversion_rate", "new_leads", "demos"]
    report = compute(cfg, names, period="all", as_of="2024-12-31", inputs=inputs)
    one = {m: _rows(report, m).iloc[0] for m in names}
    assert (one["win_rate"]["value"], one["win_rate"]["won"], one["win_rate"]["lost"]) == (0.8, 12, 3)
    assert one["average_deal_size"]["value"] == pytest.approx(878546.915)
    assert (one["pipeline_value"]["n"], one["pipeline_value"]["value"]) == (35, pytest.approx(30002070.50))
    assert one["weighted_pipeline_value"]["value"] == pytest.approx(926749.785)  # Σ Amount × Probability/100 of open deals
    assert (one["lead_conversion_rate"]["value"], one["lead_conversion_rate"]["n"]) == (0.0, 60)  # none converted in this org
    assert one["new_leads"]["value"] == 60 and one["demos"]["value"] == 12
    # Bulk-loaded CreatedDate is after every CloseDate of the closed deals: flagged, kept out of the pipeline.
    flagged = [i for i in report.issues if i.code == "closed_before_created" and i.metric == "pipeline_value"]
    assert len(flagged) == 15 and flagged[0].column == "CloseDate"
    by = compute(cfg, ["pipeline_value"], period="all", by=["forecast_category"], as_of="2024-12-31", inputs=inputs)
    assert dict(zip(by.results["forecast_category"], by.results["n"])) == {"Best Case": 17, "Pipeline": 18}


@needs_dataset("crm_sales_opportunities")
def test_maven_sales_velocity_over_all_is_one_row(tmp_path):
    # -p all is one period for every column a metric buckets by (created_at and closed_at):
    # 8,300 dated opportunities × 63.15 % win rate × 2,360.91 USD ÷ 51.78 days = 238,975.04 per day.
    path, extra = MAVEN_VARIANTS["original"]
    cfg = load_config(write(tmp_path / "maven.yaml", MAVEN_CONFIG.format(path=path.as_posix(), extra=extra)))
    rows = _rows(compute(cfg, ["sales_velocity"], period="all", as_of="2018-01-31"), "sales_velocity")
    assert len(rows) == 1 and round(rows["value"].iloc[0], 2) == 238975.04
