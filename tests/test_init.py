"""`crmmetrics init`: a draft config from export headers."""

from __future__ import annotations

from typer.testing import CliRunner

from crmmetrics.cli import app
from crmmetrics.config import load_config
from crmmetrics.draft import guess, norm, peek
from crmmetrics.errors import ExitCode
from tests.conftest import ROOT, write

runner = CliRunner()
SAMPLE = ROOT / "sample_data"


def test_norm_folds_turkish_letters_and_punctuation():
    assert norm("Müşteri No") == "musterino" and norm("Close Date") == "closedate" and norm("Probability (%)") == "probability"


def test_every_sample_export_is_recognised_with_its_locale():
    got = {}
    for path in sorted(SAMPLE.iterdir()):
        for ex in peek(path):
            guess(ex)
            got[(path.name, ex.sheet)] = (ex.entity, ex.delimiter, ex.encoding, ex.decimal)
    assert got[("orders_tr.csv", None)] == ("orders", ";", "cp1254", ",")
    assert got[("surveys_tr.csv", None)][:2] == ("surveys", ";")
    assert got[("crm_workbook.xlsx", "Deals")][0] == "deals"
    assert got[("crm_workbook.xlsx", "Deal Stages")][0] == "deal_stages"
    assert ("crm_workbook.xlsx", "Oku Beni") not in got  # a text sheet is not data
    assert {v[0] for k, v in got.items()} == {"customers", "subscriptions", "orders", "deals", "deal_stages", "leads",
                                              "tickets", "surveys", "activities", "spend"}


def test_init_writes_a_loadable_draft_and_never_overwrites(tmp_path):
    out = tmp_path / "crm.yaml"
    files = [str(SAMPLE / "surveys_tr.csv"), str(SAMPLE / "crm_workbook.xlsx"), str(SAMPLE / "orders_tr.csv")]
    res = runner.invoke(app, ["init", *files, "-o", str(out), "--timezone", "Europe/Istanbul"])
    assert res.exit_code == 0, res.stderr
    text = out.read_text(encoding="utf-8")
    assert 'score: "Puan"' in text and 'csv: {delimiter: ";", encoding: "cp1254", decimal: ",", thousands: "."}' in text
    # The values are read and mapped by their meaning (issue #12), not left as "?" templates.
    assert 'status: {"Ödendi": paid, "İade Edildi": refunded, "İptal": canceled}' in text and 'amount: "Tutar"' in text
    cfg = load_config(out)
    assert cfg.sources("surveys")[0].fields.score == "Puan"
    again = runner.invoke(app, ["init", *files, "-o", str(out)])
    assert again.exit_code == ExitCode.CANTCREAT and "exists" in again.stderr


def test_file_colon_entity_forces_the_entity(tmp_path):
    csv_file = write(tmp_path / "x.csv", "id,score,date\n1,9,2026-01-01\n")
    res = runner.invoke(app, ["init", f"{csv_file}:surveys", "-o", str(tmp_path / "c.yaml")])
    assert res.exit_code == 0, res.stderr
    assert "  surveys:" in (tmp_path / "c.yaml").read_text() and "constants: {survey_type: nps}" in (tmp_path / "c.yaml").read_text()
    bad = runner.invoke(app, ["init", f"{csv_file}:survey", "-o", str(tmp_path / "d.yaml")])
    assert bad.exit_code == ExitCode.USAGE and "unknown entity 'survey'" in bad.stderr
