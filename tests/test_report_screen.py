"""The first screen of `crmmetrics report` and uncut terminal tables (issue #14, part 1)."""

from __future__ import annotations

import datetime as dt
import os
import shutil

import pytest
from rich.cells import cell_len

from crmmetrics.config import load_config
from crmmetrics.engine import compute
from crmmetrics.render.firstscreen import first_screen_text
from crmmetrics.render.glance import INCOMPLETE_MARK, fmt_change, latest_value, sparkline
from crmmetrics.summary import summarise

AS_OF = "2026-11-15"
NOW = dt.datetime(2026, 11, 15, 12, 0)


@pytest.fixture(scope="module")
def sample(sample_project):
    """The demo exports' full report as of 2026-11-15 (November is not over)."""
    cfg = load_config(sample_project / "config.example.yaml")
    report = compute(cfg, None, by=[], as_of=AS_OF, now=NOW)
    return report, summarise(report, cfg), cfg.model.currency


def test_completeness_comes_from_the_engine_rows(survey_project):
    # --until 2026-10-20 cuts October: its row is incomplete, so September is the latest.
    rows = [("NPS", 10, "2026-09-02"), ("NPS", 3, "2026-09-04"), ("NPS", 10, "2026-10-02")]
    cfg = load_config(survey_project(rows))
    report = compute(cfg, ["nps"], by=[], since="2026-09-01", until="2026-10-20", as_of=AS_OF, now=NOW)
    assert list(report.results["complete"]) == [True, False]
    (row,) = summarise(report, cfg)
    assert row.latest.period == "2026-09" and row.latest.value == 0.0
    assert [p.period for p in row.incomplete] == ["2026-10"]


def test_latest_complete_change_and_status_by_hand(survey_project):
    # Sept: 2 promoters, 1 detractor of 4 → NPS 25. Oct: 3 promoters of 4 → 75.
    # Nov (not over on 2026-11-15): 1 detractor → -100, shown but never the latest.
    rows = [("NPS", 10, "2026-09-02"), ("NPS", 9, "2026-09-03"), ("NPS", 3, "2026-09-04"), ("NPS", 7, "2026-09-05"),
            ("NPS", 10, "2026-10-02"), ("NPS", 9, "2026-10-03"), ("NPS", 9, "2026-10-04"), ("NPS", 8, "2026-10-05"),
            ("NPS", 1, "2026-11-02")]
    path = survey_project(rows)
    path.write_text(path.read_text() + "thresholds:\n  nps: {min: 80}\n")
    cfg = load_config(path)
    report = compute(cfg, ["nps"], by=[], as_of=AS_OF, now=NOW)
    (row,) = summarise(report, cfg)
    assert (row.latest.period, row.latest.value, row.latest.n) == ("2026-10", 75.0, 4)
    assert (row.previous.period, row.previous.value) == ("2026-09", 25.0)
    assert [p.period for p in row.incomplete] == ["2026-11"]
    assert row.change == 50.0 and row.judgement == "good"
    assert fmt_change(row) == "▲ +50.0"
    assert row.status.ok is False and row.status.text == "✗ crit" and "min 80" in row.status.detail
    # The scale spans -100..75: 25 → round(125/175 × 7) = 5 → ▆, 75 → █, -100 → ▁.
    assert sparkline(row.spark()) == "▆█" + INCOMPLETE_MARK + "▁"
    text = first_screen_text(report, [row], None, 80)
    assert "nps" in text and "75.0" in text and "▲ +50.0" in text and "✗ crit" in text
    assert "incomplete period 2026-11" in text


def test_percent_changes_in_points_and_lower_is_better_is_good(sample):
    _, rows, _ = sample
    churn = next(r for r in rows if r.metric == "customer_churn_rate")
    assert churn.better == "lower"
    expected = (churn.latest.value - churn.previous.value) * 100
    assert fmt_change(churn).endswith(f"{abs(expected):.1f} pp")
    assert churn.judgement == ("good" if expected < 0 else "bad")


@pytest.mark.parametrize("width", [80, 200])
def test_first_screen_fits_without_cutting(sample, width):
    report, rows, currency = sample
    text = first_screen_text(report, rows, currency, width)
    lines = text.splitlines()
    assert max(cell_len(line.rstrip()) for line in lines) <= width
    assert "…" not in text
    starts = {line.split()[0] for line in lines if line.strip()}
    for r in rows:
        assert r.metric in starts, r.metric  # every name whole, at the start of a line
        assert latest_value(r, currency) in text  # every headline value whole
        assert fmt_change(r) in text
    # November 2026 is not over on the 15th: it is named in the note and marked in trends.
    assert f"incomplete period 2026-11 (not over at the as-of {AS_OF})" in " ".join(text.split())
    if width == 200:
        assert f"12{INCOMPLETE_MARK}" not in text  # (the mark sits between blocks, not digits)
        assert any(INCOMPLETE_MARK in line and line.split()[0] == "mrr" for line in lines)
        assert "title" in lines[2] and " n " in lines[2]


def test_first_screen_groups_by_family_in_registry_order(sample):
    report, rows, currency = sample
    text = first_screen_text(report, rows, currency, 200)
    order = [text.index(f) for f in ("voice of customer", "sales pipeline and leads", "subscription revenue", "support")]
    assert order == sorted(order)


def test_compute_table_never_cuts_values_at_80(sample):
    import io

    from rich.console import Console

    from crmmetrics.render.table import tables

    report, _, currency = sample
    buf = io.StringIO()
    console = Console(file=buf, width=80, no_color=True)
    for t in tables(report, currency, 80):
        console.print(t)
    text = buf.getvalue()
    mrr = report.results[report.results.metric == "mrr"]
    assert f"{mrr.value.iloc[-1]:,.2f} TRY" in text
    assert "mrr (currency)" in text and "interactions_per_customer" in text
    assert max(cell_len(line) for line in text.splitlines()) <= 80


def test_report_cli_writes_text_and_rejects_other_extensions(tmp_path, sample_project):
    from typer.testing import CliRunner

    from crmmetrics.cli import app

    out = tmp_path / "screen.txt"
    res = CliRunner().invoke(app, ["report", "nps", "csat", "-c", str(sample_project / "config.example.yaml"), "--as-of", AS_OF, "-q", "-o", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert text.startswith("crmmetrics report · as of 2026-11-15 · month")
    assert "nps" in text and "csat" in text
    bad = CliRunner().invoke(app, ["report", "-c", str(sample_project / "config.example.yaml"), "-o", str(tmp_path / "r.csv")])
    assert bad.exit_code == 2


def test_goal_progress_and_check_rules_show_beside_the_metric(survey_project):
    # October's NPS is 75 (3 promoters of 4). With baseline 25 and target 100 the goal is
    # (75 − 25) ÷ (100 − 25) = 2/3 of the way → "67% of 100"; 75 < warn min 80 → warn.
    rows = [("NPS", 10, "2026-09-02"), ("NPS", 3, "2026-09-04"), ("NPS", 10, "2026-10-02"), ("NPS", 9, "2026-10-03"),
            ("NPS", 9, "2026-10-04"), ("NPS", 8, "2026-10-05")]
    path = survey_project(rows)
    path.write_text(path.read_text() + "checks:\n  - {metric: nps, warn: {min: 80}, crit: {min: 10}}\n"
                    "goals:\n  - {metric: nps, target: 100, due: 2027-12-31, start: 2026-09-01, baseline: 25}\n")
    cfg = load_config(path)
    report = compute(cfg, ["nps"], by=[], as_of=AS_OF, now=NOW)
    (row,) = summarise(report, cfg)
    assert row.status.text == "! warn" and not row.status.ok
    assert row.goal.text == "67% of 100" and abs(row.goal.progress - 2 / 3) < 1e-12
    text = first_screen_text(report, [row], None, 80)
    assert "! warn · 67% of 100" in text


def test_a_tiny_change_never_reads_as_zero():
    from crmmetrics.summary import Point, SummaryRow

    def row(unit, prev, last):
        pts = [Point("2026-09", "2026-09-01", "2026-10-01", prev, True), Point("2026-10", "2026-10-01", "2026-11-01", last, True)]
        return SummaryRow("m", "M", "f", unit, "higher", "", "", pts, pts[1], pts[0])

    assert fmt_change(row("percent", 0.9830, 0.9826)) == "▼ −0.04 pp"  # −0.04 pp, not "−0.0 pp"
    assert fmt_change(row("points", 40.0, 42.5)) == "▲ +2.5"
    assert fmt_change(row("count", 200, 201)) == "▲ +0.5 %"
    assert fmt_change(row("count", 0, 5)) == "▲ +5.00"  # from zero: the absolute change
    assert fmt_change(row("count", 5, 5)) == "= 0"


@pytest.mark.parametrize("width", [80, 120])
def test_segments_with_by_fit_and_titles_are_whole_or_absent(width, sample_project):
    cfg = load_config(sample_project / "config.example.yaml")
    report = compute(cfg, ["nps", "csat"], by=["plan"], as_of=AS_OF, now=NOW)
    rows = summarise(report, cfg)
    assert {r.segment for r in rows} == {"plan=Enterprise", "plan=Growth", "plan=Starter"}
    text = first_screen_text(report, rows, None, width)
    assert max(cell_len(line.rstrip()) for line in text.splitlines()) <= width
    for title in ("Net Promoter Score", "Customer Satisfaction (CSAT)"):
        assert (title in text) == (width == 120)  # whole when it fits, else the column is dropped
    for r in rows:
        assert f"· {r.segment.split('=')[1]}" in text and latest_value(r, None) in text


@pytest.mark.skipif(shutil.which("script") is None, reason="needs script(1) for a pseudo-terminal")
def test_metrics_listing_on_a_narrow_terminal_never_cuts_a_name(sample_project):
    import re
    import subprocess
    import sys

    from crmmetrics.metrics.registry import all_metrics

    cmd = f"stty cols 80; {sys.executable} -m crmmetrics metrics -c {sample_project / 'config.example.yaml'}"
    out = subprocess.run(["script", "-qc", cmd, "/dev/null"], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TERM": "dumb", "NO_COLOR": "1", "COLUMNS": "80"}).stdout
    lines = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line).rstrip("\r") for line in out.splitlines()]
    table = [line for line in lines if line.startswith("│")]
    assert table and max(cell_len(line) for line in table) <= 80
    names = {line.split("│")[1].strip() for line in table}
    assert set(all_metrics()) <= names  # every name whole on one line
