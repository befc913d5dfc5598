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
from typer.testing import CliRunner

from crmmetrics import startup
from crmmetrics.cli import app
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


# ------------------------------------------------ the end of the process (startup.exit_process)

RUN = """
import atexit, os, sys, threading, time
{before}
sys.argv = ["crmmetrics"] + sys.argv[1:]
from crmmetrics.cli import run
run()
"""


def _run(tmp_path, *args: str, before: str = "") -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("CRMMETRICS_CONFIG", None)
    return subprocess.run([sys.executable, "-c", RUN.format(before=before), *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path)


def test_the_process_ends_with_the_commands_output_flushed_and_its_exit_code(survey_project, tmp_path):
    rows = [("nps", 10 if i % 3 else 2, f"2025-{1 + i % 12:02d}-{1 + i % 27:02d}") for i in range(600)]
    cfg = survey_project(rows)
    args = ["compute", "nps", "-c", str(cfg), "-p", "day", "-f", "csv", "--as-of", "2026-01-01"]
    res = _run(tmp_path, *args)
    assert res.returncode == 0, res.stderr
    in_process = CliRunner().invoke(app, args)
    assert in_process.exit_code == 0 and res.stdout == in_process.stdout  # nothing cut off
    lines = res.stdout.splitlines()
    assert lines[1].startswith("nps,2025-01-01,") and lines[-1].startswith("nps,2025-12-27,") and len(lines) == 1 + 361
    res = _run(tmp_path, "compute", "nps", "-c", str(tmp_path / "missing.yaml"))
    assert res.returncode == 78 and res.stderr.startswith("crmmetrics: error: config file not found")


def test_atexit_handlers_still_run(survey_project, tmp_path):
    cfg = survey_project([("nps", 10, "2026-01-05")])
    res = _run(tmp_path, "compute", "nps", "-c", str(cfg), "-f", "csv", "-q", "--as-of", "2026-02-01",
               before="atexit.register(lambda: print('handler ran'))")
    assert res.returncode == 0, res.stderr
    assert res.stdout.endswith("handler ran\n") and res.stdout.startswith("metric,")


def test_a_thread_still_running_gets_the_ordinary_exit_which_waits_for_it(survey_project, tmp_path):
    cfg = survey_project([("nps", 10, "2026-01-05")])
    flag = tmp_path / "thread_done"
    before = f"threading.Thread(target=lambda: (time.sleep(1.0), open({str(flag)!r}, 'w').close())).start()"
    res = _run(tmp_path, "compute", "nps", "-c", str(cfg), "-f", "csv", "-q", "--as-of", "2026-02-01", before=before)
    assert res.returncode == 0, res.stderr
    assert flag.exists()


def test_exit_process_returns_where_the_ordinary_exit_would_end_differently(monkeypatch):
    """A text exit code is printed by the interpreter, and a stdout that cannot be flushed
    is reported by it (exit 120): exit_process returns for both, so the ordinary exit runs."""
    import atexit
    import threading

    ended = []
    monkeypatch.setattr(os, "_exit", ended.append)
    monkeypatch.setattr(atexit, "_run_exitfuncs", lambda: None)  # not this test process's handlers
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # earlier tests may leave threads behind
    startup.exit_process("a message")

    class Broken:
        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", Broken())
    startup.exit_process(0)
    assert ended == []
    monkeypatch.setattr(sys, "stdout", sys.__stdout__)
    startup.exit_process(3)
    assert ended == [3]
