"""The garbage collector around a command-line run (crmmetrics/startup.py, issue #15).

Walking the start-up's long-lived objects was ≈ 0.1 s CPU while a process started and
≈ 0.15 s when it exited (a 10-row `compute nps`: 0.71 → 0.49 s CPU). These tests pin what
makes skipping that safe: the collector is off only until input is read, back on (with the
start-up frozen) for the data, never touched for a library user, and a run's output is the
same.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from crmmetrics import startup
from tests.conftest import ROOT

# Runs main() in a fresh interpreter and reports the collector's state at the first read
# of input and when the command is done.
PROBE = """
import gc, json, sys
import crmmetrics.io.readers as readers
seen = {}
real = readers.read_source
def probe(*args, **kwargs):
    seen["off_before_reading"] = not gc.isenabled()
    table = real(*args, **kwargs)
    seen["on_while_reading"] = gc.isenabled()
    seen["frozen"] = gc.get_freeze_count()
    return table
readers.read_source = probe
import crmmetrics.dataset
crmmetrics.dataset.read_source = probe
sys.argv = ["crmmetrics"] + sys.argv[1:]
from crmmetrics.cli import main
try:
    main()
except SystemExit as exc:
    seen["exit"] = exc.code
seen["on_after"] = gc.isenabled()
sys.stderr.write("PROBE " + json.dumps(seen) + "\\n")
"""


def _probe(*args: str) -> tuple[subprocess.CompletedProcess, dict]:
    env = dict(os.environ)
    env.pop("CRMMETRICS_CONFIG", None)
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    line = [x for x in proc.stderr.splitlines() if x.startswith("PROBE ")][-1]
    return proc, json.loads(line[len("PROBE "):])


@pytest.fixture
def collector_state():
    """Leave the test process's collector as it was found."""
    was = gc.isenabled()
    yield
    startup.restore()
    gc.unfreeze()
    (gc.enable if was else gc.disable)()


def test_a_run_reads_input_with_the_collector_on_and_its_start_up_frozen(survey_project, tmp_path):
    cfg = survey_project([("nps", 10, "2026-01-05"), ("nps", 3, "2026-01-06")])
    out = tmp_path / "out.csv"
    proc, seen = _probe("compute", "nps", "-c", str(cfg), "-p", "month", "-f", "csv", "-o", str(out), "-q", "--as-of", "2026-02-01")
    assert seen["exit"] in (0, None), proc.stderr
    assert seen["off_before_reading"] is True  # the start-up ran without the collector
    assert seen["on_while_reading"] is True and seen["on_after"] is True
    assert seen["frozen"] > 10_000  # the modules and config, out of every later collection
    rows = out.read_text().splitlines()
    assert rows[0].startswith("metric,period,") and rows[1].split(",")[:2] == ["nps", "2026-01"]
    assert rows[1].split(",")[5] == "0.0"  # one promoter, one detractor: NPS 0


def test_a_command_that_reads_nothing_ends_with_the_collector_on():
    proc, seen = _probe("metrics")
    assert seen["exit"] in (0, None), proc.stderr
    assert seen["on_after"] is True and "off_before_reading" not in seen
    assert "nps" in proc.stdout


def test_pause_and_resume(collector_state):
    gc.enable()
    startup.pause()
    assert not gc.isenabled()
    startup.resume()
    assert gc.isenabled() and gc.get_freeze_count() > 0
    gc.unfreeze()
    startup.resume()  # a second read: nothing more to do
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_library_user_keeps_their_collector(collector_state):
    """Without pause() (no command line), reading input neither enables nor freezes."""
    gc.disable()
    startup.resume()
    assert not gc.isenabled() and gc.get_freeze_count() == 0
    gc.enable()
    startup.resume()
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_main_in_a_longer_lived_process_gives_the_collector_back(monkeypatch, collector_state):
    import crmmetrics.cli as cli
    from crmmetrics.cli import app, root  # every command registered before app is replaced

    assert app is root.app
    gc.enable()
    monkeypatch.setattr(root, "app", lambda **kwargs: None)
    cli.main()
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_the_dask_engine_collects_in_the_process_that_merges(monkeypatch, collector_state):
    """Its workers read the input, so the readers never resume this process's collector."""
    pytest.importorskip("distributed")
    import crmmetrics.engine as engine
    from crmmetrics.dask_engine import compute_dask

    def stop(*args, **kwargs):
        raise LookupError("stopped after the start of compute_dask")

    monkeypatch.setattr(engine, "run_settings", stop)
    gc.enable()
    startup.pause()
    with pytest.raises(LookupError):
        compute_dask(SimpleNamespace(timezone="UTC"), ["nps"])
    assert gc.isenabled() and gc.get_freeze_count() > 0
