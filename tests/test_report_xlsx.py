"""Excel output that reads like a report (issue #14, part 3), read back with openpyxl."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from crmmetrics.cli import app

AS_OF = "2026-11-15"
runner = CliRunner()


def run(*args: str) -> None:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, res.output


@pytest.fixture(scope="module")
def sample(tmp_path_factory, sample_project):
    out = tmp_path_factory.mktemp("xlsx")
    cfg = str(sample_project / "config.example.yaml")
    metrics = ["nps", "csat", "mrr", "first_reply_time", "new_leads"]
    run("compute", *metrics, "-c", cfg, "--as-of", AS_OF, "-q", "-o", str(out / "r.xlsx"))
    run("compute", *metrics, "-c", cfg, "--as-of", AS_OF, "-q", "-o", str(out / "r.json"))
    return load_workbook(out / "r.xlsx"), json.loads((out / "r.json").read_text(encoding="utf-8"))


def rows_of(ws):
    header = [c.value for c in ws[1]]
    return header, [dict(zip(header, row)) for row in ws.iter_rows(min_row=2)]


def test_sheets_frozen_header_filter_and_widths(sample):
    wb, data = sample
    assert wb.sheetnames == ["results", "issues", "inputs"]
    ws = wb["results"]
    header, rows = rows_of(ws)
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:{ws.cell(1, len(header)).column_letter}{len(rows) + 1}"
    assert len(rows) == len(data["results"])
    widths = {k: v.width for k, v in ws.column_dimensions.items()}
    assert widths["A"] >= len("first_reply_time")  # the longest metric name fits
    assert wb["issues"].freeze_panes == "A2" and wb["inputs"].auto_filter.ref


def test_values_are_numbers_with_formats_by_unit_and_equal_the_json(sample):
    wb, data = sample
    _, rows = rows_of(wb["results"])
    expected_format = {"csat": "0.0%", "nps": "0.0", "mrr": '#,##0.00 "TRY"', "first_reply_time": '#,##0.00 "hours"',
                       "new_leads": "#,##0"}
    for cells, ref in zip(rows, data["results"]):
        assert cells["metric"].value == ref["metric"] and cells["period"].value == ref["period"]
        value = cells["value"]
        if ref["value"] is None:
            assert value.value is None
            continue
        assert value.data_type == "n" and value.value == pytest.approx(ref["value"], rel=1e-15)
        assert value.number_format == expected_format[ref["metric"]]
        assert cells["n"].value == ref["n"] and cells["n"].number_format == "#,##0"
    # CSAT shows as 77.4 % in Excel, the number stays the fraction
    csat = next(c for c in rows if c["metric"].value == "csat" and c["period"].value == "2026-10")
    assert csat["value"].value == pytest.approx(0.7739, abs=5e-5)


def test_dates_are_dates_and_labels_stay_text(sample):
    wb, _ = sample
    _, rows = rows_of(wb["results"])
    first = rows[0]
    assert first["period_start"].value == dt.datetime(2025, 1, 1) and first["period_start"].number_format == "yyyy-mm-dd"
    assert first["period_end"].is_date
    assert first["period"].data_type == "s"  # "2025-01" is a label, not a date
    assert first["complete"].data_type == "b"


def test_inputs_sheet_has_row_counts_as_numbers(sample):
    wb, data = sample
    _, rows = rows_of(wb["inputs"])
    assert {r["entity"].value: r["rows_read"].value for r in rows} == {i["entity"]: i["rows_read"] for i in data["inputs"]}
    assert all(r["rows_read"].data_type == "n" for r in rows)


def test_text_is_never_a_formula(survey_project, tmp_path):
    rows = [("NPS", 10, "2026-09-02", "C1"), ("NPS", 3, "2026-09-03", "C2")]
    path = survey_project(rows, customers='id,plan\nC1,"=HYPERLINK(""http://x"",""y"")"\nC2,2026-01-01x\n')
    out = tmp_path / "r.xlsx"
    run("compute", "nps", "-c", str(path), "-b", "plan", "--as-of", AS_OF, "-q", "-o", str(out))
    ws = load_workbook(out)["results"]
    _, cells = rows_of(ws)
    plans = [c["plan"] for c in cells]
    assert {c.data_type for c in plans} == {"s"}
    assert '=HYPERLINK("http://x","y")' in {c.value for c in plans}


def test_analyze_tables_one_sheet_each_with_dates_money_and_shares(tmp_path, sample_project):
    out = tmp_path / "rfm.xlsx"
    run("analyze", "rfm", "-c", str(sample_project / "config.example.yaml"), "--as-of", "2026-11-01", "-q", "-o", str(out))
    wb = load_workbook(out)
    assert wb.sheetnames == ["customers", "segments", "cuts", "segment_map", "issues", "inputs"]
    _, customers = rows_of(wb["customers"])
    c = customers[0]
    assert c["first_order"].is_date and c["first_order"].number_format == "yyyy-mm-dd"
    assert c["monetary"].data_type == "n" and c["monetary"].number_format == '#,##0.00 "TRY"'
    assert c["recency_days"].number_format == "#,##0"
    _, segments = rows_of(wb["segments"])
    assert segments[0]["share_customers"].number_format == "0.0%"
    assert sum(s["customers"].value for s in segments) == len(customers)


def test_bom_flag_makes_csv_excel_ready_and_is_refused_elsewhere(survey_project, tmp_path, sample_project):
    path = survey_project([("NPS", 10, "2026-09-02"), ("NPS", 3, "2026-09-03")])
    res = runner.invoke(app, ["compute", "nps", "-c", str(path), "-p", "all", "-f", "csv", "--bom", "--as-of", AS_OF, "-q"])
    assert res.exit_code == 0 and res.stdout_bytes.startswith(b"\xef\xbb\xbfmetric,period,")
    plain = runner.invoke(app, ["compute", "nps", "-c", str(path), "-p", "all", "-f", "csv", "--as-of", AS_OF, "-q"])
    assert plain.stdout_bytes.startswith(b"metric,period,")
    assert res.stdout_bytes[3:] == plain.stdout_bytes
    out = tmp_path / "n.csv"
    run("analyze", "rfm", "-c", str(sample_project / "config.example.yaml"), "--bom", "-q", "-o", str(out))
    assert out.read_bytes().startswith(b"\xef\xbb\xbfcustomer_id,")
    bad = runner.invoke(app, ["compute", "nps", "-c", str(path), "-f", "json", "--bom", "-q"])
    assert bad.exit_code == 2 and "--bom applies to CSV output" in bad.output


def test_config_csv_bom_applies_to_csv_output_only(survey_project):
    """`report: {csv_bom: true}` is the config form of --bom: CSV gains the mark, and other
    formats are not refused (the setting is a default, not a request for those formats)."""
    from tests.conftest import SURVEY_CONFIG

    path = survey_project([("NPS", 10, "2026-09-02"), ("NPS", 3, "2026-09-03")],
                          config=SURVEY_CONFIG + "report:\n  csv_bom: true\n")
    res = runner.invoke(app, ["compute", "nps", "-c", str(path), "-p", "all", "-f", "csv", "--as-of", AS_OF, "-q"])
    assert res.exit_code == 0 and res.stdout_bytes.startswith(b"\xef\xbb\xbfmetric,period,")
    as_json = runner.invoke(app, ["compute", "nps", "-c", str(path), "-p", "all", "-f", "json", "--as-of", AS_OF, "-q"])
    assert as_json.exit_code == 0 and as_json.stdout_bytes.startswith(b"{")
