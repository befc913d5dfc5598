"""Date range push-down on Parquet sources (issue #16): fewer rows read, the same numbers.

Every run here is compared with the same run that reads every row (the push-down turned
off), on a synthetic Parquet folder whose values are known by construction and on the
sample data; the row issues of unread rows are the documented difference.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from crmmetrics.config import load_config
from crmmetrics.engine import compute

ROOT = Path(__file__).resolve().parents[1]
TICKET_FIELDS = {"ticket_id": "id", "created_at": "created_at", "first_reply_at": "first_response_at",
                 "solved_at": "resolved_at", "channel": "channel", "agent_replies": "replies_count", "status": "status"}


def no_pushdown(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference: every row read (the engine asks for no window)."""
    monkeypatch.setattr("crmmetrics.engine.pushdown_windows", lambda *a, **k: {})


def tickets_frame(n: int = 2400, seed: int = 3) -> pd.DataFrame:
    """Tickets created every 3.65 hours through 2025 in file order, a reply 0-10 h later,
    solved 1-30 h after creation; one in 60 has no creation date (kept and counted as such)."""
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2025-01-01") + pd.to_timedelta(np.arange(n) * 365 * 24 * 3600 // n, unit="s")
    reply = created + pd.to_timedelta(rng.integers(0, 36_000, n), unit="s")
    solved = created + pd.to_timedelta(rng.integers(3_600, 108_000, n), unit="s")
    frame = pd.DataFrame({"id": [f"T{i}" for i in range(n)], "created_at": created.astype("datetime64[us]"),
                          "first_response_at": reply.astype("datetime64[us]"), "resolved_at": solved.astype("datetime64[us]"),
                          "channel": rng.choice(["email", "chat"], n), "replies_count": rng.integers(0, 4, n),
                          "status": "solved"})
    frame.loc[frame.index % 60 == 59, "created_at"] = pd.NaT
    return frame


def write_parts(frame: pd.DataFrame, folder: Path, parts: int = 4, group: int = 100) -> Path:
    """``parts`` Parquet files of consecutive rows, ``group`` rows per row group."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, chunk in enumerate(np.array_split(np.arange(len(frame)), parts)):
        pq.write_table(pa.Table.from_pandas(frame.iloc[chunk], preserve_index=False), folder / f"part-{i}.parquet", row_group_size=group)
    return folder


def project(tmp_path: Path, path: Path, timezone: str = "UTC", source_tz: str | None = None) -> Path:
    source = {"path": str(path), "fields": dict(TICKET_FIELDS)}
    if source_tz:
        source["timezone"] = source_tz
    cfg = {"version": 1, "timezone": timezone, "sources": {"tickets": source},
           "metrics": {"one_touch_rate": {"variant": "zendesk_legacy"}}}
    out = tmp_path / "crm.yaml"
    out.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return out


def rows_read(report) -> int:
    return sum(i.rows_read for i in report.inputs if i.entity == "tickets")


def counts(report) -> dict[str, int]:
    return report.issue_counts()


def after_as_of(report) -> int:
    """The entity-level after_as_of count (rows cut by the as-of policy, not a metric's own)."""
    return sum(i.count for i in report.issues if i.code == "after_as_of" and i.metric is None)


RANGE = dict(since="2025-03-01", until="2025-06-01", as_of="2025-10-31")


def test_since_until_and_as_of_read_fewer_rows_with_identical_numbers(tmp_path, monkeypatch):
    frame = tickets_frame()
    cfg = load_config(project(tmp_path, write_parts(frame, tmp_path / "tickets")))
    metrics = ["ticket_volume", "first_reply_time"]  # both select tickets by created_at alone
    got = compute(cfg, metrics, period="month", by=["channel"], **RANGE)
    no_pushdown(monkeypatch)
    want = compute(cfg, metrics, period="month", by=["channel"], **RANGE)
    pd.testing.assert_frame_equal(got.results, want.results)
    # By construction: the tickets created in March-May 2025 that have a date.
    created = frame["created_at"]
    inside = created.between(pd.Timestamp("2025-03-01"), pd.Timestamp("2025-06-01"), inclusive="left")
    volume = got.results[got.results["metric"] == "ticket_volume"]
    assert int(volume["value"].sum()) == int(inside.sum())
    # Rows read: the undated ones and those in range, plus at most the straddling row groups.
    assert rows_read(want) == len(frame)
    assert int(inside.sum()) + int(created.isna().sum()) <= rows_read(got) <= int(inside.sum()) + int(created.isna().sum()) + 2 * 4 * 100
    assert rows_read(got) < len(frame) / 2
    # Issues: the same after_as_of count (rows created after 2025-10-31) and missing_date
    # counts of the in-range metrics; one pushed_down issue with the rows not read.
    later = int((created >= pd.Timestamp("2025-11-01")).sum())
    assert counts(got)["after_as_of"] == counts(want)["after_as_of"] == later
    assert counts(got)["pushed_down"] == len(frame) - rows_read(got)
    assert {k: v for k, v in counts(got).items() if k != "pushed_down"} == counts(want)
    pushed = next(i for i in got.issues if i.code == "pushed_down")
    assert "from 2025-03-01 before 2025-06-01 00:00" in pushed.message and pushed.field == "created_at"


def test_a_metric_dated_otherwise_keeps_the_range_and_pushes_only_the_as_of(tmp_path, monkeypatch):
    """full_resolution_time counts tickets solved in range, created before it too: --since
    and --until are not pushed down; the as-of day still is."""
    frame = tickets_frame()
    cfg = load_config(project(tmp_path, write_parts(frame, tmp_path / "tickets")))
    metrics = ["ticket_volume", "full_resolution_time", "one_touch_rate"]
    got = compute(cfg, metrics, period="month", **RANGE)
    no_pushdown(monkeypatch)
    want = compute(cfg, metrics, period="month", **RANGE)
    pd.testing.assert_frame_equal(got.results, want.results)
    later = int((frame["created_at"] >= pd.Timestamp("2025-11-01")).sum())
    assert later > 300
    assert rows_read(got) == len(frame) - counts(got)["pushed_down"]
    assert len(frame) - later <= rows_read(got) <= len(frame) - later + 2 * 4 * 100
    assert after_as_of(got) == after_as_of(want) == later
    assert counts(got)["pushed_down"] == later  # the straddling row groups' later rows are dropped by the reader too
    assert {k: v for k, v in counts(got).items() if k != "pushed_down"} == counts(want)
    # The March tickets solved in March that were created in February are in.
    march = got.results[(got.results["metric"] == "full_resolution_time") & (got.results["period"] == "2025-03")]
    solved_march = frame["resolved_at"].between(pd.Timestamp("2025-03-01"), pd.Timestamp("2025-04-01"), inclusive="left")
    assert int(march["n"].iloc[0]) == int((solved_march & frame["created_at"].notna()).sum())


def test_a_date_column_stored_as_text_is_not_pushed_down(tmp_path, monkeypatch):
    frame = tickets_frame()
    text = frame.assign(created_at=frame["created_at"].dt.strftime("%d.%m.%Y %H:%M:%S"))  # only crmmetrics reads this
    cfg = load_config(project(tmp_path, write_parts(text, tmp_path / "tickets")))
    got = compute(cfg, ["ticket_volume"], period="month", **RANGE)
    assert rows_read(got) == len(frame) and "pushed_down" not in counts(got)
    no_pushdown(monkeypatch)
    want = compute(cfg, ["ticket_volume"], period="month", **RANGE)
    pd.testing.assert_frame_equal(got.results, want.results)
    assert counts(got) == counts(want)


@pytest.mark.parametrize("kind", ["naive", "utc", "naive_in_source_zone"])
def test_the_as_of_boundary_row_in_the_reporting_zone(tmp_path, monkeypatch, kind):
    """--as-of 2025-10-31 in America/New_York ends at 2025-11-01 00:00 New York (04:00 UTC,
    EDT): a ticket one second before is October's, one at the instant is after the as-of
    day, whether the file stores New York wall clock, UTC instants, or UTC wall clock
    read in the source's zone: UTC."""
    edge = [pd.Timestamp("2025-10-31 23:59:59"), pd.Timestamp("2025-11-01 00:00:00")]
    bulk = list(pd.date_range("2025-10-01", periods=300, freq="h")) + list(pd.date_range("2025-11-03", periods=300, freq="h"))
    local = pd.Series(bulk[:300] + edge + bulk[300:])
    if kind == "naive":
        stored, source_tz = local, None
    else:
        utc = local.dt.tz_localize("America/New_York").dt.tz_convert("UTC")
        stored, source_tz = (utc, None) if kind == "utc" else (utc.dt.tz_localize(None), "UTC")
    n = len(local)
    blank = pd.Series(pd.NaT, index=stored.index).astype("datetime64[ns]")
    if getattr(stored.dtype, "tz", None) is not None:
        blank = blank.dt.tz_localize("UTC")
    frame = pd.DataFrame({"id": [f"T{i}" for i in range(n)], "created_at": stored, "first_response_at": blank,
                          "resolved_at": blank, "channel": "email", "replies_count": 1, "status": "open"})
    cfg = load_config(project(tmp_path, write_parts(frame, tmp_path / "tickets", parts=1, group=50), "America/New_York", source_tz))
    got = compute(cfg, ["ticket_volume"], period="month", as_of="2025-10-31")
    no_pushdown(monkeypatch)
    want = compute(cfg, ["ticket_volume"], period="month", as_of="2025-10-31")
    pd.testing.assert_frame_equal(got.results, want.results)
    assert got.results.set_index("period")["value"].to_dict() == {"2025-10": 301}  # 300 + the row at 23:59:59
    assert counts(got)["after_as_of"] == counts(want)["after_as_of"] == 301  # the row at 00:00 and the 300 after
    # Row groups of 50: the one holding the boundary (rows 300-349) is read and its 49 later
    # rows dropped; the 6 after it are wholly later by their statistics and never read.
    assert counts(got)["pushed_down"] == 49 + 5 * 50 + 2
    assert rows_read(got) == n - 301 == 301


def test_row_locations_stay_those_of_the_file(tmp_path):
    """A duplicate id in a row read after skipped row groups is located at its row in the file."""
    frame = tickets_frame(600)
    frame.loc[360, "id"] = frame.loc[350, "id"]
    cfg = load_config(project(tmp_path, write_parts(frame, tmp_path / "tickets", parts=1, group=50)))
    got = compute(cfg, ["ticket_volume", "first_reply_time"], period="month", since="2025-07-01", as_of="2025-12-31")
    assert rows_read(got) < 600 - 250  # five 50-row groups end before June 3
    dup = [i for i in got.issues if i.code == "duplicate_id"]
    assert [i.location for i in dup] == [f"{tmp_path / 'tickets'}/part-0.parquet: row 361"]


def test_sample_data_as_parquet_row_groups(tmp_path, monkeypatch):
    """The sample tickets as one Parquet file of 40-row groups: the pushed-down run equals the full read."""
    from tests.test_parquet import typed_frames

    tickets = typed_frames()["tickets"].sort_values("Created", kind="stable")
    path = tmp_path / "tickets.parquet"
    pq.write_table(pa.Table.from_pandas(tickets, preserve_index=False), path, row_group_size=40)
    cfg_dict = yaml.safe_load((ROOT / "config.example.yaml").read_text(encoding="utf-8"))
    src = cfg_dict["sources"]["tickets"]
    src["path"] = str(path)
    src.pop("csv", None)
    cfg_dict["sources"] = {"tickets": src}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(cfg_dict, allow_unicode=True), encoding="utf-8")
    cfg = load_config(tmp_path / "s.yaml")
    args = dict(period="month", since="2025-09-01", until="2026-01-01", as_of="2026-03-31")
    got = compute(cfg, ["ticket_volume", "first_reply_time"], **args)
    no_pushdown(monkeypatch)
    want = compute(cfg, ["ticket_volume", "first_reply_time"], **args)
    pd.testing.assert_frame_equal(got.results, want.results)
    assert rows_read(got) < rows_read(want) == len(tickets)
    assert counts(got).get("after_as_of") == counts(want).get("after_as_of")
    assert counts(got)["pushed_down"] == rows_read(want) - rows_read(got)


def test_on_dask_the_workers_skip_their_rows_too(tmp_path):
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    from crmmetrics.dask_engine import compute_dask

    frame = tickets_frame()
    cfg = load_config(project(tmp_path, write_parts(frame, tmp_path / "tickets", parts=8)))
    metrics = ["ticket_volume", "first_reply_time"]
    want = compute(cfg, metrics, period="month", **RANGE)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        got = compute_dask(cfg, metrics, period="month", client=client, **RANGE)
    pd.testing.assert_frame_equal(got.results, want.results, check_exact=False, rtol=1e-9)
    assert rows_read(got) == rows_read(want) < len(frame)
    assert counts(got)["after_as_of"] == counts(want)["after_as_of"]
    assert counts(got)["pushed_down"] == counts(want)["pushed_down"] == len(frame) - rows_read(got)
    assert len([i for i in got.issues if i.code == "pushed_down"]) == 1  # one note for the run, not one per part


def test_stats_margin_is_wider_than_any_zone_jump():
    from crmmetrics.pushdown import STATS_MARGIN

    assert STATS_MARGIN >= dt.timedelta(hours=26)  # UTC-12 to UTC+14, and DST folds inside it
