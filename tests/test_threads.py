"""Two cores for loading (issue #15): the threaded load gives exactly what a serial one gives.

``CRMMETRICS_THREADS=1`` runs everything in the calling thread (the serial reference);
``CRMMETRICS_THREADS=2`` hashes the bytes on a second thread and cleans the halves of each
text column at once. Frames, issues (their order too) and input facts must not depend on
which.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from crmmetrics.config import load_config
from crmmetrics.dataset import load_dataset
from crmmetrics.io.parse import clean_text
from crmmetrics.threads import Background, by_row_pieces, ordered_map, worker_count
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


def test_ordered_map_keeps_the_order_of_the_items():
    # The first item is the slowest: it still comes out first.
    def slow_first(i: int) -> int:
        time.sleep(0.05 if i == 0 else 0.0)
        return i * 10

    assert list(ordered_map(slow_first, range(6), workers=2)) == [0, 10, 20, 30, 40, 50]
    assert list(ordered_map(slow_first, range(6), workers=1)) == [0, 10, 20, 30, 40, 50]


def test_ordered_map_raises_the_first_error_in_item_order():
    # Item 2 fails at once, item 1 fails later: a serial loop would raise item 1's error.
    def fail(i: int) -> int:
        if i == 1:
            time.sleep(0.05)
            raise ValueError("item 1")
        if i == 2:
            raise KeyError("item 2")
        return i

    got = []
    with pytest.raises(ValueError, match="item 1"):
        for value in ordered_map(fail, range(4), workers=2):
            got.append(value)
    assert got == [0]


def test_ordered_map_holds_at_most_workers_results():
    # A result is a column of a source: no more than two may be alive (the one the caller
    # is reporting counts), or a slow caller would pile columns up in memory.
    lock = threading.Lock()
    alive = {"now": 0, "most": 0}

    class Result:
        def __init__(self) -> None:
            with lock:
                alive["now"] += 1
                alive["most"] = max(alive["most"], alive["now"])

        def __del__(self) -> None:
            with lock:
                alive["now"] -= 1

    for result in ordered_map(lambda _: Result(), range(8), workers=2):
        time.sleep(0.01)  # the caller reporting issues while the next column is typed
        del result
    assert alive["most"] == 2


def test_worker_count_reads_the_setting(monkeypatch):
    monkeypatch.setenv("CRMMETRICS_THREADS", "1")
    assert worker_count() == 1
    monkeypatch.setenv("CRMMETRICS_THREADS", "3")
    assert worker_count() == 3
    monkeypatch.delenv("CRMMETRICS_THREADS")
    default = worker_count()
    assert 1 <= default <= 2
    for bad in ("many", "0", "-1", ""):  # a tuning knob: a bad value means the default
        monkeypatch.setenv("CRMMETRICS_THREADS", bad)
        assert worker_count() == default


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
