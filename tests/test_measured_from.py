"""Support durations say what they were measured from, without -v: under the metric's
terminal table and in the dashboard tile's details and tooltip (issue #12, point 2)."""

from __future__ import annotations

import html
import re
from pathlib import Path

from typer.testing import CliRunner

from crmmetrics.cli import app
from tests.conftest import ROOT

runner = CliRunner()
FIX = ROOT / "tests" / "fixtures" / "presets"
BUSINESS = "first_reply_time: from the export's own durations (tickets.first_reply_business_minutes, business minutes)"


def _config(tmp_path: Path, fixture: str, extra: str = "") -> Path:
    cfg = tmp_path / "crm.yaml"
    cfg.write_text(f"version: 1\ntimezone: UTC\nsources:\n  tickets: {{preset: {fixture}, path: {FIX / (fixture + '.csv')}}}\n{extra}",
                   encoding="utf-8")
    return cfg


def _flat(text: str) -> str:
    """Terminal text with Rich's wrapping undone (runs of whitespace → one space)."""
    return re.sub(r"\s+", " ", text)


def test_table_says_durations_came_from_the_exports_business_minutes_column(tmp_path):
    cfg = _config(tmp_path, "zendesk-tickets", "metrics:\n  first_reply_time: {clock: business, unit: minutes}\n")
    res = runner.invoke(app, ["compute", "first_reply_time", "ticket_volume", "-c", str(cfg), "-p", "all", "--as-of", "2026-12-31",
                              "-f", "table"], env={"COLUMNS": "100"})
    assert res.exit_code == 0, res.stderr
    out = _flat(res.stdout)
    assert "82.50 minutes" in out  # Zendesk's own median, business minutes 15..150 three times each
    assert BUSINESS in out
    assert "ticket_volume: from" not in out  # counts have nothing to say here


def test_table_says_timestamps_when_the_export_has_no_duration_column(tmp_path):
    cfg = _config(tmp_path, "freshdesk-tickets")
    res = runner.invoke(app, ["compute", "first_reply_time", "-c", str(cfg), "-p", "all", "--as-of", "2026-12-31", "-f", "table"],
                        env={"COLUMNS": "100"})
    assert res.exit_code == 0, res.stderr
    assert "first_reply_time: from timestamps (calendar hours)" in _flat(res.stdout)


def test_dashboard_tile_details_and_tooltip_say_it(tmp_path):
    cfg = _config(tmp_path, "zendesk-tickets", "metrics:\n  first_reply_time: {clock: business, unit: minutes}\n")
    out = tmp_path / "report.html"
    res = runner.invoke(app, ["report", "first_reply_time", "-c", str(cfg), "--as-of", "2026-12-31", "-o", str(out), "-q"])
    assert res.exit_code == 0, res.stderr
    page = out.read_text(encoding="utf-8")
    tile = page[page.index('<div class="tile"'):]
    tile = tile[: tile.index("</details>")]
    assert html.escape(BUSINESS) in tile  # the details row
    assert html.escape(BUSINESS, quote=True) in tile.split('title="', 1)[1].split('"', 1)[0]  # the tooltip


def test_report_first_screen_says_it_once(tmp_path):
    cfg = _config(tmp_path, "zendesk-tickets", "metrics:\n  first_reply_time: {clock: business, unit: minutes}\n")
    res = runner.invoke(app, ["report", "first_reply_time", "ticket_volume", "-c", str(cfg), "--as-of", "2026-12-31"],
                        env={"COLUMNS": "100"})
    assert res.exit_code == 0, res.stderr
    out = _flat(res.stdout)
    assert "82.50 minutes" in out and out.count(BUSINESS) == 1
