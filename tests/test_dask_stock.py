"""--engine dask computes the Stock shape (pipeline_value) with the pandas engine's values:
every snapshot of the run's grid, every segment seen, the same snapshot_at, the same issues.

Each partition places its deals at every instant the run may snapshot at; the client takes
the merged sums at the instants of the grid the whole data gives (metrics/partial.py).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crmmetrics.config import load_config
from crmmetrics.engine import compute
from tests.test_dask_engine import ROOT, assert_same, client, read_counts, read_every_row, split_csv, split_parts  # noqa: F401
from tests.test_parquet import AS_OF, typed_frames, write_config

NOW = dt.datetime(2027, 3, 1, 15, 0, tzinfo=dt.timezone.utc)  # both engines' "today" without --as-of: the sample is months old then


def same_run(one, parts, client, names, **kw) -> tuple:
    """The pandas run on ``one`` and the Dask run on ``parts``: equal results and issue counts."""
    from crmmetrics.dask_engine import compute_dask

    want = compute(one, names, now=NOW, **kw)
    got = compute_dask(parts, names, now=NOW, client=client, **kw)
    assert_same(got.results, want.results)
    assert read_counts(got) == read_counts(want), kw
    return got, want


# ------------------------------------------------------------------ the sample workbook's deals in 8 parts

RUNS = [dict(period="month", as_of=AS_OF), dict(period="quarter", by=["plan"], as_of=AS_OF),
        dict(period="month"),  # no --as-of: the deals export is stale in 2027-03, snapshots stop at its last month
        dict(period="quarter", by=["plan"]),  # no --as-of: the customers export's dates reach further
        dict(period="quarter", as_of="2025-09-30"), dict(period="all", by=["plan"], as_of=AS_OF),
        dict(period="month", as_of=AS_OF, since="2025-06-01"), dict(period="month", by=["plan"], as_of=AS_OF, until="2025-11-15")]


@pytest.mark.parametrize("run", RUNS, ids=lambda r: "-".join(f"{k}={v}" for k, v in r.items()))
def test_pipeline_value_on_the_sample_deals_in_8_parts_equals_the_pandas_engine(client, tmp_path, monkeypatch, run):
    read_every_row(monkeypatch)  # value_defaulted counts every deal row, also those after the as-of day
    paths = {"deals": split_parts(typed_frames()["deals"], tmp_path / "deals", 8),
             "customers": split_csv(ROOT / "sample_data" / "customers.csv", tmp_path / "customers", 8)}
    parts = load_config(write_config(tmp_path, paths))
    got, want = same_run(load_config(ROOT / "config.example.yaml"), parts, client, ["pipeline_value"], **run)
    assert len(got.results) > 0 and got.results["snapshot_at"].notna().all()
    if "by" in run:
        assert set(got.results["plan"]) == {"Enterprise", "Growth", "Starter"}
    if "as_of" not in run:
        assert [i.code for i in got.issues].count("stale_export") == 1


def test_pipeline_value_with_the_snapshot_at_period_start_and_other_metrics_in_the_run(client, tmp_path, monkeypatch):
    """``at: start``; with win_rate beside it the deals are read once for both (one task per part)."""
    import yaml

    read_every_row(monkeypatch)
    paths = {"deals": split_parts(typed_frames()["deals"], tmp_path / "deals", 8)}
    path = write_config(tmp_path, paths)
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg["metrics"]["pipeline_value"] = {"at": "start"}
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    ref = tmp_path / "ref.yaml"
    cfg = yaml.safe_load((ROOT / "config.example.yaml").read_text(encoding="utf-8"))
    for src in cfg["sources"].values():
        if isinstance(src, dict) and "path" in src:
            src["path"] = str(ROOT / src["path"])
    cfg["metrics"]["pipeline_value"] = {"at": "start"}
    ref.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    for period in ("quarter", "all"):
        got, _ = same_run(load_config(ref), load_config(path), client, ["pipeline_value", "win_rate"], period=period, as_of=AS_OF)
        assert set(got.results["metric"]) == {"pipeline_value", "win_rate"}


# ------------------------------------------------------------------ synthetic deals in 10 parts


def synthetic_deals(n: int, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deals of 60 accounts over 2024-2026, with what an export holds: repeated deal ids (a
    later row is the deal's newer state), deals after the as-of day, blank and negative
    amounts, won deals without a close date, undated deals, closes before the creation."""
    rng = np.random.default_rng(seed)
    ids = [f"D{i % (n * 17 // 20)}" for i in range(n)]  # the last 15 % repeat earlier ids
    created = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 900 * 86400, n), unit="s")
    status = rng.choice(["open", "won", "lost"], n, p=[0.3, 0.35, 0.35])
    closed = (created + pd.to_timedelta(rng.integers(0, 240 * 86400, n), unit="s")).where(status != "open")
    closed = closed.where(rng.random(n) > 0.02)  # won/lost without a close date: cannot be placed
    backwards = rng.random(n) < 0.01
    closed = closed.where(~backwards, created - pd.Timedelta(days=3))  # closed before created: excluded
    amount = np.round(rng.gamma(2.0, 7000.0, n), 2)
    amount[rng.random(n) < 0.05] = np.nan  # counted in n and without_amount
    amount[rng.random(n) < 0.01] *= -1  # negative: excluded
    account = np.array([f"A{i}" for i in rng.integers(0, 62, n)], dtype=object)
    created = created.where((rng.random(n) > 0.01) & (account != "A60"))  # undated: starts nothing, still brings its segment
    deals = pd.DataFrame({"id": ids, "account": account, "created": created, "closed": closed, "status": status, "amount": amount})
    customers = pd.DataFrame({"id": [f"A{i}" for i in range(61)],  # A61: deals of an account not in the export → (blank)
                              "plan": [*rng.choice(["Starter", "Growth", "Enterprise"], 60), "Trial"],  # A60's deals are all undated
                              "created": pd.Timestamp("2023-06-01") + pd.to_timedelta(rng.integers(0, 400, 61), unit="D")})
    return deals, customers


DEALS_CONFIG = """
version: 1
timezone: Europe/Istanbul
sources:
  deals:
    path: {path}
    fields: {{deal_id: id, customer_id: account, created_at: created, closed_at: closed, status: status, amount: amount}}
  customers:
    path: customers.parquet
    fields: {{customer_id: id, plan: plan, created_at: created}}
"""


def one_and_parts(folder: Path, deals: pd.DataFrame, customers: pd.DataFrame, n: int) -> tuple:
    """Configs of ``deals`` as one Parquet file and as ``n`` contiguous slices (so a
    repeated deal's last row is in a later part than its first), with ``customers``."""
    customers.to_parquet(folder / "customers.parquet", index=False)
    deals.to_parquet(folder / "all.parquet", index=False)
    (folder / "parts").mkdir()
    size = -(-len(deals) // n)
    for i in range(n):
        deals.iloc[i * size:(i + 1) * size].to_parquet(folder / "parts" / f"part-{i:02d}.parquet", index=False)
    (folder / "one.yaml").write_text(DEALS_CONFIG.format(path="all.parquet"), encoding="utf-8")
    (folder / "parts.yaml").write_text(DEALS_CONFIG.format(path="parts"), encoding="utf-8")
    return load_config(folder / "one.yaml"), load_config(folder / "parts.yaml")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> tuple:
    """(one file, 10 part files) configs of the same synthetic deals, and the deals."""
    deals, customers = synthetic_deals(6000)
    return (*one_and_parts(tmp_path_factory.mktemp("deals"), deals, customers, 10), deals)


SYNTH_RUNS = [dict(period="month", as_of="2026-03-31"), dict(period="quarter", as_of="2026-03-31"),
              dict(period="month", by=["plan"], as_of="2026-03-31"), dict(period="quarter", by=["plan"], as_of="2025-08-14"),
              dict(period="day", by=["plan"], as_of="2025-02-10", since="2024-12-20"), dict(period="week", as_of="2026-03-31"),
              dict(period="month", by=["plan"]),  # no --as-of: snapshots stop at the export's newest date, 2026-06
              dict(period="all", by=["plan"], as_of="2026-03-31"),
              dict(period="quarter", by=["plan"], as_of="2026-03-31", since="2025-01-01", until="2025-11-20")]


@pytest.mark.parametrize("run", SYNTH_RUNS, ids=lambda r: "-".join(f"{k}={v}" for k, v in r.items()))
def test_pipeline_value_on_synthetic_deals_in_10_parts_equals_one_file(client, synthetic, monkeypatch, run):
    read_every_row(monkeypatch)
    one, parts, deals = synthetic
    got, want = same_run(one, parts, client, ["pipeline_value"], **run)
    counts = read_counts(got)
    # Rows a later part repeats are dropped there and counted with each part's own repeats:
    # the earlier rows of each id among the rows dated before the end of the as-of day.
    horizon = pd.Timestamp(run["as_of"]) + pd.Timedelta(days=1) if "as_of" in run else pd.Timestamp(NOW.date())
    known = deals[~(deals["created"] >= horizon)]
    assert counts["duplicate_deal"] == int(known.duplicated("id", keep="last").sum()) > 100 and counts["duplicate_id"] == 900
    assert counts["negative_amount"] > 0 and counts["missing_created_date"] > 0 and counts["closed_before_created"] > 0
    if "by" in run:
        assert "(blank)" in set(got.results["plan"])  # deals of accounts missing from the customers export
        trial = got.results[got.results["plan"] == "Trial"]  # a segment seen, never in stock: real zeros
        assert len(trial) == len(got.results) // 5 and (trial["value"] == 0).all() and (trial["n"] == 0).all()
    dup = [(i.message, i.count) for r in (got, want) for i in r.issues if i.code == "duplicate_deal"]
    assert dup[0] == dup[1]


@pytest.mark.parametrize("run", [dict(period="month", by=["plan"], as_of="2026-03-31"), dict(period="day", as_of="2025-03-10", since="2024-11-20"),
                                 dict(period="week", by=["plan"])], ids=lambda r: "-".join(f"{k}={v}" for k, v in r.items()))
def test_parts_split_by_time_equal_one_file(client, tmp_path, monkeypatch, run):
    """An export split by month: each part's rows end early, its deals still open count at
    every later snapshot (sent once per segment, keyed by the part's last instant)."""
    read_every_row(monkeypatch)
    deals, customers = synthetic_deals(3000, seed=9)
    deals = deals.sort_values("created", kind="stable", na_position="last").reset_index(drop=True)
    got, _ = same_run(*one_and_parts(tmp_path, deals, customers, 12), client, ["pipeline_value"], **run)
    assert got.results["n"].max() > 100


HAND_PARTS = [  # deal, created, closed, status, amount; one CSV file each
    [("A", "2025-01-10", "", "open", 100), ("B", "2025-01-15", "2025-03-01", "won", 50)],  # the part's last instant: a month end
    [("C", "2025-02-20", "2025-04-10", "lost", 30)],
    [("D", "2025-05-05", "", "open", 7)],
]


def test_pipeline_value_by_hand_on_three_csv_parts(client, tmp_path):
    """A open all along, B open until the end of February (closed at 03-01 00:00: still in
    stock at that snapshot), C from Feb 20 to Apr 10, D from May 5."""
    for k, part in enumerate(HAND_PARTS):
        lines = ["id,account,created,closed,status,amount", *(",".join(map(str, r[:1] + ("A0",) + r[1:])) for r in part)]
        (tmp_path / f"deals-{k}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    pd.DataFrame({"id": ["A0"], "plan": ["Growth"], "created": [pd.Timestamp("2024-01-01")]}).to_parquet(tmp_path / "customers.parquet")
    (tmp_path / "c.yaml").write_text(DEALS_CONFIG.format(path="deals-*.csv"), encoding="utf-8")
    cfg = load_config(tmp_path / "c.yaml")
    got, _ = same_run(cfg, cfg, client, ["pipeline_value"], period="month", as_of="2025-06-30")
    rows = got.results[["period", "snapshot_at", "value", "n"]].values.tolist()
    assert rows == [["2025-01", "2025-02-01 00:00", 150.0, 2], ["2025-02", "2025-03-01 00:00", 180.0, 3], ["2025-03", "2025-04-01 00:00", 130.0, 2],
                    ["2025-04", "2025-05-01 00:00", 100.0, 1], ["2025-05", "2025-06-01 00:00", 107.0, 2]]  # the newest date is May 5


def test_synthetic_pipeline_value_by_hand_at_one_snapshot(client, synthetic, monkeypatch):
    """The Dask value of one snapshot recomputed from the raw rows: the last row of each deal
    known on the as-of day, open at t when created < t <= closed (an open deal's close date is ignored)."""
    from crmmetrics.dask_engine import compute_dask

    read_every_row(monkeypatch)
    _, parts, deals = synthetic
    got = compute_dask(parts, ["pipeline_value"], period="quarter", as_of="2026-03-31", client=client).results
    row = got[got["period"] == "2025-Q2"].iloc[0]
    assert row["snapshot_at"] == "2025-07-01 00:00"
    t = pd.Timestamp("2025-07-01")
    known = deals[~(deals["created"] >= pd.Timestamp("2026-04-01"))]  # rows after the as-of day have not happened
    last = known.drop_duplicates("id", keep="last")
    last = last[last["created"].notna() & ~((last["status"] != "open") & last["closed"].isna())]  # unplaced
    last = last[~((last["status"] != "open") & (last["closed"] < last["created"]))]  # closed before created
    last = last[~(last["amount"] < 0)]
    open_at_t = last[(last["created"] < t) & ((last["status"] == "open") | (last["closed"] >= t))]
    assert row["n"] == len(open_at_t) > 100
    assert row["without_amount"] == int(open_at_t["amount"].isna().sum()) > 0
    assert row["value"] == pytest.approx(open_at_t["amount"].sum(), rel=1e-12)


def test_pipeline_value_is_supported_and_weighted_pipeline_value_still_refused_with_its_reason(client):
    from crmmetrics.dask_engine import compute_dask
    from crmmetrics.dask_support import REFUSED, SUPPORTED
    from crmmetrics.errors import UsageError

    assert "pipeline_value" in SUPPORTED and "pipeline_value" not in REFUSED
    cfg = load_config(ROOT / "config.example.yaml")
    with pytest.raises(UsageError, match="weighted_pipeline_value is not supported on the Dask engine: it weighs each open deal by its stage"):
        compute_dask(cfg, ["pipeline_value", "weighted_pipeline_value"], as_of=AS_OF, client=client)


def test_snapshot_candidates_are_every_boundary_after_the_earliest_start_up_to_stop():
    from crmmetrics.grid import Grid

    D = dt.datetime
    month = Grid("month", until=D(2026, 3, 15), as_of=D(2026, 6, 30))  # stop = --until
    assert month.snapshot_candidates(D(2026, 1, 10)) == [D(2026, 2, 1), D(2026, 3, 1), D(2026, 3, 15)]
    assert month.snapshot_candidates(D(2026, 2, 1)) == [D(2026, 3, 1), D(2026, 3, 15)]  # an item started at t is not in stock at t
    assert month.snapshot_candidates(D(2026, 3, 15)) == []
    since = Grid("quarter", since=D(2025, 8, 10), as_of=D(2025, 12, 31))  # stop: the end of the as-of day
    assert since.snapshot_candidates(D(2024, 1, 1), "start") == [D(2025, 7, 1), D(2025, 10, 1), D(2026, 1, 1)]
    whole = Grid("all", as_of=D(2026, 6, 30), first=D(2026, 1, 3, 9))
    assert whole.snapshot_candidates(D(2026, 1, 1, 12)) == [D(2026, 7, 1)]
    # at the start of -p all (the day of the run's first date, at or before this part's first): each midnight up to it
    assert whole.snapshot_candidates(D(2026, 1, 1, 12), "start") == [D(2026, 1, 2), D(2026, 1, 3)]
