"""`metrics -c` and `validate` tell the truth: computable only when compute computes it,
and validate reports compute's own issue counts (issue #12 point 5)."""

from __future__ import annotations

from typer.testing import CliRunner

from crmmetrics.cli import app
from crmmetrics.errors import ExitCode
from tests.conftest import ROOT, write

runner = CliRunner()
FIX = ROOT / "tests" / "fixtures" / "presets"


def test_metrics_c_says_no_where_compute_refuses(tmp_path):
    # The HubSpot tickets fixture has no "First agent reply date": the mapping alone made
    # first_reply_time look computable (it needs only created_at), but compute refuses it.
    cfg = write(tmp_path / "crm.yaml", f'version: 1\nsources:\n  tickets: {{preset: hubspot-tickets, path: "{FIX / "hubspot-tickets.csv"}"}}\n')
    res = runner.invoke(app, ["metrics", "-c", str(cfg)])
    assert res.exit_code == 0, res.stderr
    status = {line.split("\t")[0]: line.split("\t")[-1] for line in res.stdout.splitlines()[1:]}
    assert status["ticket_volume"] == "yes" and status["full_resolution_time"] == "yes"
    assert status["first_reply_time"].startswith("no: ") and "first_reply_at" in status["first_reply_time"]
    refused = runner.invoke(app, ["compute", "first_reply_time", "-c", str(cfg)])
    assert refused.exit_code == ExitCode.CONFIG
    val = runner.invoke(app, ["validate", "-c", str(cfg)])
    computable = next(line for line in val.stderr.splitlines() if line.startswith("crmmetrics: computable metrics"))
    assert "ticket_volume" in computable and "first_reply_time" not in computable
    assert "  first_reply_time: needs tickets.first_reply_at" in val.stderr
    assert "  no surveys source: nps, csat, ces" in val.stderr


def test_validate_reports_the_issue_counts_compute_reports(tmp_path):
    # Row problems only a metric sees: a repeated order id, a zero amount, a future order.
    write(tmp_path / "orders.csv", """
        id,customer,date,amount
        A1,C1,2026-01-05,100
        A1,C1,2026-01-06,100
        A2,C2,2026-01-07,0
        A3,C2,2026-01-08,50
        A4,C3,2099-01-01,70
        """)
    cfg = write(tmp_path / "crm.yaml", """
        version: 1
        sources:
          orders: {path: orders.csv, fields: {order_id: id, customer_id: customer, order_date: date, amount: amount}}
        metrics:
          revenue: {zero_amount: exclude}
        """)
    comp = runner.invoke(app, ["compute", "-c", str(cfg), "-f", "csv"])
    val = runner.invoke(app, ["validate", "-c", str(cfg)])
    summary = next(line for line in comp.stderr.splitlines() if " issue(s): " in line)
    assert "duplicate_order" in summary and "zero_amount" in summary
    assert summary + "   (the same counts compute reports)" in val.stderr.splitlines()
    assert val.exit_code == ExitCode.DATAERR  # the old validate said "no issues" here


def test_metrics_c_falls_back_to_the_mapping_when_the_data_is_missing(tmp_path):
    cfg = write(tmp_path / "crm.yaml", "version: 1\nsources:\n  surveys: {path: gone.csv, fields: {response_id: a, score: b, responded_at: c}, constants: {survey_type: nps}}\n")
    res = runner.invoke(app, ["metrics", "-c", str(cfg)])
    assert res.exit_code == 0 and "data not read (input file not found" in res.stderr
    assert "nps\tvoice of customer" in res.stdout and "\tyes" in res.stdout
