"""Progress on long runs (issue #14, part 4): events from the engine, a display only on a terminal."""

from __future__ import annotations

import io
import sys

from crmmetrics.cli.progress import RichProgress, progress_for
from crmmetrics.config import load_config
from crmmetrics.engine import compute
from crmmetrics.progress import ProgressSink, current, reporting


class Recorder(ProgressSink):
    active = True

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def source_start(self, name, size):
        self.events.append(("start", name, size))

    def source_bytes(self, n):
        self.events.append(("bytes", n))

    def source_parsing(self):
        self.events.append(("parsing",))

    def source_done(self):
        self.events.append(("done",))

    def metrics_start(self, total):
        self.events.append(("metrics", total))

    def metric_start(self, name):
        self.events.append(("metric", name))

    def metric_done(self):
        self.events.append(("metric_done",))


def test_engine_reports_bytes_per_source_and_each_metric(survey_project, tmp_path):
    path = survey_project([("NPS", 10, "2026-09-02"), ("CSAT", 5, "2026-09-03")])
    cfg = load_config(path)
    rec = Recorder()
    with reporting(rec):
        compute(cfg, ["nps", "csat"], by=[], as_of="2026-11-15")
    assert current() is not rec  # uninstalled afterwards
    size = (tmp_path / "surveys.csv").stat().st_size
    start = next(i for i, e in enumerate(rec.events) if e[0] == "start" and e[1].endswith("surveys.csv"))
    assert rec.events[start][2] == size
    assert rec.events[start + 1:start + 4] == [("bytes", size), ("parsing",), ("done",)]
    assert rec.events[-5:] == [("metrics", 2), ("metric", "nps"), ("metric_done",), ("metric", "csat"), ("metric_done",)]


def test_rich_display_draws_on_a_terminal_and_is_erased(survey_project):
    from rich.console import Console

    path = survey_project([("NPS", 10, "2026-09-02")])
    buf = io.StringIO()
    display = RichProgress(Console(file=buf, force_terminal=True, width=100))
    with reporting(display):
        compute(load_config(path), ["nps"], by=[], as_of="2026-11-15")
    out = buf.getvalue()
    assert "computing" in out or "reading" in out  # drawn (at least the final refresh)
    assert display.progress.finished or not display.progress.live.is_started


def test_no_display_when_quiet_or_not_a_terminal(monkeypatch):
    assert progress_for(quiet=True) is None
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress_for(quiet=False) is None


def test_cli_progress_never_reaches_a_pipe(survey_project):
    from typer.testing import CliRunner

    from crmmetrics.cli import app

    path = survey_project([("NPS", 10, "2026-09-02")])
    res = CliRunner().invoke(app, ["compute", "nps", "-c", str(path), "-f", "csv", "--as-of", "2026-11-15"])
    assert res.exit_code == 0 and "reading" not in res.stderr and "computing" not in res.stderr
