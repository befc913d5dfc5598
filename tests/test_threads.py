"""Two cores for loading (issue #15): the threaded load gives exactly what a serial one gives.

``CRMMETRICS_THREADS=1`` runs everything in the calling thread (the serial reference);
``CRMMETRICS_THREADS=2`` hashes the bytes on a second thread, cleans the halves of a text
column that needs stripping at once, and casts the halves of an ISO date column at once. Frames, issues (their order too) and input facts must not depend on
which.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from crmmetrics.config import load_config
from crmmetrics.dataset import load_dataset
from crmmetrics.errors import UsageError
from crmmetrics.io.parse import clean_text
from crmmetrics.threads import Background, by_row_pieces, map_pieces, worker_count
from crmmetrics.truth import all_mapped
from tests.conftest import write

ROOT = Path(__file__).resolve().parent.parent


def _load(config_path: Path, threads: int, monkeypatch) -> object:
    monkeypatch.setenv("CRMMETRICS_THREADS", str(threads))
    monkeypatch.setattr("crmmetrics.threads.MIN_PIECE_ROWS", 2)  # the sample files are short: split them anyway
    config = load_config(config_path)
    needs = all_mapped(config)
    return load_dataset(config, needs, declared=needs)


def _same(serial, threaded) -> None:
    assert list(serial.frames) == list(threaded.frames)
    for entity, frame in serial.frames.items():
        pd.testing.assert_frame_equal(frame, threaded.frames[entity], check_exact=True)
        assert list(frame.dtypes) == list(threaded.frames[entity].dtypes)
    assert [i.to_dict() for i in serial.issues] == [i.to_dict() for i in threaded.issues]
    assert [f.to_dict() for f in serial.inputs] == [f.to_dict() for f in threaded.inputs]


def test_sample_data_loads_the_same_on_one_thread_and_two(monkeypatch):
    config = ROOT / "config.example.yaml"
    serial, threaded = _load(config, 1, monkeypatch), _load(config, 2, monkeypatch)
    _same(serial, threaded)
    # Not a vacuous comparison: every sample entity came through, with its issues.
    assert len(serial.frames) >= 8 and sum(len(f) for f in serial.frames.values()) > 1000
    assert len(serial.issues) > 0


TICKETS = """
version: 1
timezone: UTC
sources:
  tickets:
    path: t.csv
    fields: {ticket_id: id, customer_id: cust, created_at: created, first_reply_at: replied, solved_at: solved,
             status: status, reopen_count: reopens, channel: channel}
"""


def test_bad_cells_in_several_columns_are_reported_in_field_order(tmp_path, monkeypatch):
    # Bad values in three typed columns (two dates and a count): the issues come out field
    # by field (created_at, first_reply_at, reopen_count), row by row, on either path.
    write(tmp_path / "t.csv", """
        id,cust,created,replied,solved,status,reopens,channel
        1,c1,2025-01-02 10:00,2025-01-02 11:00,2025-01-03 09:00,closed,0,email
        2,c1,yesterday,2025-01-02 11:00,,open,two,chat
        3,c2,2025-01-04 10:00,soon,2025-01-05 09:00,closed,1,email
        4,c2,2025-01-05 10:00,2025-01-05 10:30,2025-01-05 12:00,closed,x,phone
    """)
    cfg = write(tmp_path / "c.yaml", TICKETS)
    serial, threaded = _load(cfg, 1, monkeypatch), _load(cfg, 2, monkeypatch)
    _same(serial, threaded)
    bad = [(i.field, Path(i.location or "").name, i.value) for i in serial.issues if i.code.startswith("unparseable_")]
    assert bad == [("created_at", "t.csv:3", "yesterday"), ("first_reply_at", "t.csv:4", "soon"),
                   ("reopen_count", "t.csv:3", "two"), ("reopen_count", "t.csv:5", "x")]
    assert serial.inputs[0].rows_rejected == 3  # rows 2, 3 and 4 each lost a value


def test_map_pieces_keeps_the_order_of_the_pieces(monkeypatch):
    # The caller's own piece (the first) is the fastest here: it still comes out first.
    monkeypatch.setenv("CRMMETRICS_THREADS", "3")

    def slow_later(i: int) -> int:
        time.sleep(0.0 if i == 0 else 0.05 / i)
        return i * 10

    assert map_pieces(slow_later, [0, 1, 2]) == [0, 10, 20]
    monkeypatch.setenv("CRMMETRICS_THREADS", "1")
    assert map_pieces(slow_later, [0, 1, 2]) == [0, 10, 20]


def test_map_pieces_raises_the_first_error_in_piece_order(monkeypatch):
    # Piece 2 fails at once, piece 1 fails later: a serial loop would raise piece 1's error.
    monkeypatch.setenv("CRMMETRICS_THREADS", "3")

    def fail(i: int) -> int:
        if i == 1:
            time.sleep(0.05)
            raise ValueError("piece 1")
        if i == 2:
            raise KeyError("piece 2")
        return i

    with pytest.raises(ValueError, match="piece 1"):
        map_pieces(fail, [0, 1, 2])


def test_map_pieces_lets_every_piece_finish_before_raising(monkeypatch):
    # The caller's piece fails at once; the other piece is still running on its thread and
    # must be done (not left working on the data) when the error reaches the caller.
    monkeypatch.setenv("CRMMETRICS_THREADS", "2")
    finished = threading.Event()

    def work(i: int) -> int:
        if i == 0:
            raise RuntimeError("piece 0")
        time.sleep(0.05)
        finished.set()
        return i

    with pytest.raises(RuntimeError, match="piece 0"):
        map_pieces(work, [0, 1])
    assert finished.is_set()


def test_worker_count_reads_the_setting(monkeypatch):
    monkeypatch.setenv("CRMMETRICS_THREADS", "1")
    assert worker_count() == 1
    monkeypatch.setenv("CRMMETRICS_THREADS", "3")
    assert worker_count() == 3
    monkeypatch.delenv("CRMMETRICS_THREADS")
    default = worker_count()
    assert 1 <= default <= 2
    monkeypatch.setenv("CRMMETRICS_THREADS", " ")  # set but blank: as unset
    assert worker_count() == default
    for bad in ("many", "0", "-1", "2.5"):
        monkeypatch.setenv("CRMMETRICS_THREADS", bad)
        with pytest.raises(UsageError, match=f"CRMMETRICS_THREADS='{re.escape(bad)}' is not a whole number"):
            worker_count()


def test_a_bad_thread_count_is_one_line_and_exit_2(tmp_path):
    """A typo in the environment of a cron job: one line on stderr naming the variable, exit 2."""
    env = {**os.environ, "CRMMETRICS_THREADS": "two"}
    done = subprocess.run([sys.executable, "-m", "crmmetrics", "compute", "nps", "-c", str(ROOT / "config.example.yaml"), "-q",
                           "-f", "csv", "-o", str(tmp_path / "out.csv")], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert "CRMMETRICS_THREADS='two' is not a whole number" in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "out.csv").exists()


def test_background_gives_the_result_or_raises_in_the_caller(monkeypatch):
    monkeypatch.setenv("CRMMETRICS_THREADS", "2")
    assert Background(sum, [1, 2, 3]).result() == 6
    with pytest.raises(ZeroDivisionError):
        Background(lambda: 1 / 0).result()


def test_a_text_column_cleaned_in_halves_equals_the_whole(monkeypatch):
    # Padding, null tokens, blanks and real NA on both sides of the cut; the joined halves
    # are the same strings, the same missing cells, dtype and RangeIndex as one pass.
    cells = [" a ", "NA", "", None, "b", "  ", "?", "c\t", "N/A ", "d"] * 7_000 + [" last "]
    raw = pd.Series(pd.array(cells, dtype="str"))
    tokens = ["", "NA", "N/A", "?"]
    monkeypatch.setenv("CRMMETRICS_THREADS", "1")
    whole = clean_text(raw, tokens)
    monkeypatch.setenv("CRMMETRICS_THREADS", "2")
    halves = clean_text(raw, tokens)
    pd.testing.assert_series_equal(whole, halves, check_exact=True)
    assert halves.dtype == whole.dtype and isinstance(halves.index, pd.RangeIndex)
    assert halves.iloc[-1] == whole.iloc[-1] == "last"
    assert whole[:3].tolist()[0] == "a" and whole.isna().sum() == 6 * 7_000  # "NA", "", None, "  ", "?", "N/A "


def test_by_row_pieces_leaves_short_columns_whole(monkeypatch):
    monkeypatch.setenv("CRMMETRICS_THREADS", "2")
    seen = []
    by_row_pieces(lambda piece: seen.append(len(piece)) or piece, pd.Series(range(10)), min_rows=100)
    assert seen == [10]
    seen.clear()
    by_row_pieces(lambda piece: seen.append(len(piece)) or piece, pd.Series(range(301)), min_rows=100)
    assert sorted(seen) == [150, 151]


def test_an_iso_date_column_cast_in_halves_equals_the_whole(monkeypatch):
    # Several Arrow chunks (as a CSV read gives them), blanks among them: the halves' cast
    # gives the same stamps and NaT; one bad date in the second half sends the whole column
    # to the general rules on both paths (the same problem reported, the same values).
    import pyarrow as pa

    from crmmetrics.io.parse import parse_datetime

    def column(cells: list) -> pd.Series:
        chunks = [pa.array(cells[i:i + 1000], pa.large_string()) for i in range(0, len(cells), 1000)]
        return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks)))

    good = [f"2025-{m:02d}-{d:02d} 10:{d:02d}:00" if d % 9 else None for m in range(1, 13) for d in range(1, 29)] * 20
    for cells in (good, good[:-1] + ["2025-02-30 10:00:00"]):
        monkeypatch.setenv("CRMMETRICS_THREADS", "1")
        one = parse_datetime(column(cells), tz="Europe/Istanbul")
        monkeypatch.setenv("CRMMETRICS_THREADS", "2")
        two = parse_datetime(column(cells), tz="Europe/Istanbul")
        pd.testing.assert_series_equal(one.values, two.values, check_exact=True)
        pd.testing.assert_series_equal(one.bad, two.bad)
        assert one.values.iloc[0] == pd.Timestamp("2025-01-01 10:01:00", tz="Europe/Istanbul")
        assert int(one.values.isna().sum()) == sum(c is None for c in cells) + (cells[-1].startswith("2025-02-30"))
    assert one.bad.iloc[-1] and not one.bad.iloc[:-1].any()
