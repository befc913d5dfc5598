"""The self-contained HTML dashboard (issue #14, part 2)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crmmetrics.cli import app

AS_OF = "2026-11-15"
runner = CliRunner()


def run(*args: str) -> None:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, res.output


@pytest.fixture(scope="module")
def sample(tmp_path_factory, sample_project):
    """The sample report as HTML and the same run as the JSON report."""
    out = tmp_path_factory.mktemp("html")
    cfg = str(sample_project / "config.example.yaml")
    run("report", "-c", cfg, "--as-of", AS_OF, "-q", "-o", str(out / "report.html"))
    run("compute", "-c", cfg, "--as-of", AS_OF, "-q", "-o", str(out / "report.json"))
    return (out / "report.html").read_text(encoding="utf-8"), json.loads((out / "report.json").read_text(encoding="utf-8")), out


def test_no_external_url_and_no_script(sample):
    html, _, _ = sample
    refs = re.findall(r'\b(?:src|href)\s*=\s*["\']?([^"\'\s>]*)', html, flags=re.I) + re.findall(r"url\(([^)]*)\)", html, flags=re.I)
    assert refs == []  # nothing at all is fetched: no src, no href, no url()
    assert "<script" not in html.lower() and "<link" not in html.lower() and "@import" not in html
    assert "http://" not in html and "https://" not in html


def test_one_chart_per_metric_with_more_than_one_period(sample):
    html, data, _ = sample
    periods: dict[str, set[str]] = {}
    for r in data["results"]:
        if r["value"] is not None:
            periods.setdefault(r["metric"], set()).add(r["period"])
    expected = sorted(m for m, ps in periods.items() if len(ps) > 1)
    charts = re.findall(r'data-chart="([^"]+)"', html)
    assert sorted(charts) == expected  # one each, none twice
    # incomplete periods are drawn hollow (class inc) and said so in the tooltip
    mrr = html.split('data-chart="mrr"', 1)[1].split("</figure>", 1)[0]
    assert re.search(r'class="pt s0 inc"[^>]*><title>mrr 2026-11: [^<]*incomplete', mrr)
    assert "line dash s0" in mrr


def test_tile_numbers_equal_the_json_report(sample):
    html, data, _ = sample
    rows = {(r["metric"], r["period"]): r for r in data["results"] if r.get("stage") is None}
    tiles = re.findall(r'<div class="tile" title="([^"]*)" data-metric="([^"]+)" data-period="([^"]*)" data-value="([^"]*)" data-n="([^"]*)"', html)
    assert len(tiles) >= 60
    for tip, metric, period, value, n in tiles:
        if not period:
            continue
        ref = rows.get((metric, period)) or next(r for r in data["results"] if r["metric"] == metric and r["period"] == period)
        assert float(value) == ref["value"], metric
        assert int(n) == ref["n"]
        tip = unescape(tip)
        assert "formula: " in tip and f"n = {ref['n']:,}" in tip and "numerator = " in tip and "denominator = " in tip
    # the latest *complete* period is October: November is not over on the 15th
    nps = next(t for t in tiles if t[1] == "nps")
    assert nps[2] == "2026-10"
    mrr = next(t for t in tiles if t[1] == "mrr")
    assert mrr[2] == "2026-10" and float(mrr[3]) == rows[("mrr", "2026-10")]["value"]


def test_mrr_movements_cells_equal_the_json_report(sample):
    html, data, _ = sample
    rows = {(r["metric"], r["period"]): r["value"] for r in data["results"]}
    section = html.split("<h2>MRR movements</h2>", 1)[1].split("</section>", 1)[0]
    cells = re.findall(r'data-metric="((?:new|expansion|contraction|churned|reactivation)_mrr)" data-period="([^"]+)" data-value="([^"]*)"', section)
    assert len(cells) == 5 * len({p for m, p in rows if m == "new_mrr"})
    for metric, period, value in cells:
        assert (float(value) if value else None) == rows[(metric, period)]


def test_sections_dark_mode_and_print(sample):
    html, _, _ = sample
    for h in ("At a glance", "Trends", "MRR movements", "Cohort retention", "RFM segments", "Data quality", "Goals and checks"):
        assert f"<h2>{h}</h2>" in html, h
    assert "prefers-color-scheme:dark" in html and "@media print" in html
    assert "orders_tr.csv" in html  # inputs with row counts
    assert 'class="heat' in html and "champions" in html


def test_segments_with_by_and_data_is_escaped(survey_project, tmp_path):
    rows = [("NPS", 10, "2026-09-02", "C1"), ("NPS", 3, "2026-09-03", "C2"), ("NPS", 9, "2026-10-02", "C1"),
            ("NPS", 5, "2026-10-03", "C2")]
    path = survey_project(rows, customers='id,plan\nC1,Pro\nC2,"<img src=x onerror=alert(1)>"\n')
    out = tmp_path / "r.html"
    run("report", "nps", "-c", str(path), "--as-of", AS_OF, "-b", "plan", "-q", "-o", str(out))
    html = out.read_text(encoding="utf-8")
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<h2>Segments by plan</h2>" in html
    # Pro: one promoter each month → 100; the other plan: one detractor each month → -100
    seg = html.split("<h2>Segments by plan</h2>", 1)[1]
    assert 'data-value="100.0"' in seg and 'data-value="-100.0"' in seg
    assert "Cohort retention" in html and "not shown:" in html  # no orders: the section says why


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
def test_headless_chromium_renders_a_screenshot(sample):
    _, _, out = sample
    shot = out / "report.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--screenshot={shot}",
           "--window-size=1280,2400", (out / "report.html").as_uri()]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 2400)
