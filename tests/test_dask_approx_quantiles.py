"""engine.quantiles approx: the Dask engine's median and p90 from a mergeable sketch.

The sketch itself on a case worked by hand, its error bound on random data, and every
Mean metric the Dask engine runs against the pandas engine (the exact reference): median
and p90 within α relative, every other column identical.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from crmmetrics.config import load_config
from crmmetrics.engine import compute
from crmmetrics.errors import UsageError
from crmmetrics.metrics import sketch
from tests.test_dask_engine import SALES_LEADS_SUCCESS, assert_same, client, read_every_row, split_csv, split_parts, with_options  # noqa: F401
from tests.test_parquet import AS_OF, ROOT, typed_frames, write_config

ALPHA = sketch.ALPHA
QUANTILE_COLUMNS = ("median", "p90")


def test_bucket_keys_by_hand():
    # γ = 1.01 / 0.99 = 1.020202…, ln γ = 0.0200007. A value x > 0 goes to k = ⌈ln x / ln γ⌉.
    assert sketch.GAMMA == pytest.approx(1.0202020202)
    codes = sketch.bucket_codes(np.array([-5.0, 0.0, 1.0, 2.0, 100.0, 101.0, 300.0]))
    k = lambda x: math.ceil(math.log(x) / math.log(sketch.GAMMA))  # noqa: E731
    # ln 100 / ln γ = 230.25 and ln 101 / ln γ = 230.75: both in bucket 231; 1 in bucket 0; 2 in ⌈34.66⌉ = 35.
    assert (k(1.0), k(2.0), k(100.0), k(101.0), k(300.0)) == (0, 35, 231, 231, 286)
    assert codes[1] == 0 and codes[4] == codes[5]  # zero has its own bucket; 100 and 101 share one
    assert list(codes) == sorted(codes) and len(set(codes)) == 6  # codes sort like the values, negatives first


def test_sketch_merge_and_quantiles_by_hand():
    keys = ["_period", "channel"]
    a = pd.DataFrame({"_period": ["2025-01"] * 5, "channel": ["x", "x", "x", "y", "y"], "v": [100.0, 101.0, 0.0, -5.0, 5.0]})
    b = pd.DataFrame({"_period": ["2025-01"] * 3, "channel": ["x", "x", "x"], "v": [101.0, 300.0, np.nan]})
    merged = sketch.merge(pd.concat([sketch.build(a, keys, "v"), sketch.build(b, keys, "v")], ignore_index=True), keys)
    x = merged[merged["channel"] == "x"].sort_values(sketch.BUCKET)
    # Cell x holds 0, 100, 101, 101, 300 (the blank is not a value): buckets 0 | 231 ×3 (100..101) | 286.
    assert x[sketch.COUNT].tolist() == [1, 3, 1]
    assert x[sketch.LOW].tolist() == [0.0, 100.0, 300.0] and x[sketch.HIGH].tolist() == [0.0, 101.0, 300.0]
    # Bucket 231's value: 2γ^231 / (γ + 1) = 0.99 · γ^231 = 0.99 · 101.510 = 100.495 (inside 100..101).
    rep = 0.99 * sketch.GAMMA ** 231
    assert rep == pytest.approx(100.4946, abs=1e-4)
    q = sketch.quantiles(merged, keys, {"median": 0.5, "p90": 0.9}).set_index("channel")
    # n = 5. Median: h = 4 · 0.5 = 2, the 3rd value (101, bucket 231) → 100.495; pandas: 101.
    assert q.loc["x", "median"] == pytest.approx(rep, rel=1e-12)
    # p90: h = 4 · 0.9 = 3.6 → v(3) + 0.6 · (v(4) − v(3)) = 100.495 + 0.6 · (300 − 100.495) = 220.198; pandas: 101 + 0.6 · 199 = 220.4.
    assert q.loc["x", "p90"] == pytest.approx(rep + 0.6 * (300 - rep), rel=1e-12)
    assert abs(q.loc["x", "p90"] - 220.4) <= ALPHA * 220.4
    # Cell y: −5 and 5, each alone in its bucket, so exact: median 0, p90 −5 + 0.9 · 10 = 4.
    assert (q.loc["y", "median"], q.loc["y", "p90"]) == (0.0, pytest.approx(4.0, rel=1e-12))


def test_sketch_error_bound_on_random_cells():
    """Each quantile is within α·((1−f)·|x_lo| + f·|x_hi|) of pandas' (x_lo, x_hi: the two order
    statistics pandas interpolates between): relative α when they have the same sign."""
    rng = np.random.default_rng(3)
    n = 40_000
    frame = pd.DataFrame({"cell": rng.integers(0, 40, n), "v": rng.lognormal(2, 2, n) * rng.choice([1, 1, 1, -1], n)})
    frame.loc[rng.random(n) < 0.05, "v"] = 0.0
    parts = [sketch.build(frame.iloc[i::9], ["cell"], "v") for i in range(9)]
    got = sketch.quantiles(sketch.merge(pd.concat(parts, ignore_index=True), ["cell"]), ["cell"], {"median": 0.5, "p90": 0.9})
    got = got.set_index("cell")
    for cell, values in frame.groupby("cell")["v"]:
        xs = np.sort(values.to_numpy())
        for name, q in (("median", 0.5), ("p90", 0.9)):
            exact = values.quantile(q)
            h = (len(xs) - 1) * q
            lo, f = int(np.floor(h)), h - np.floor(h)
            bound = ALPHA * ((1 - f) * abs(xs[lo]) + f * abs(xs[min(lo + 1, len(xs) - 1)]))
            assert abs(got.loc[cell, name] - exact) <= bound * (1 + 1e-9), (cell, name)
            if xs[lo] * xs[min(lo + 1, len(xs) - 1)] >= 0:
                assert abs(got.loc[cell, name] - exact) <= ALPHA * abs(exact) * (1 + 1e-9)


def mean_metrics() -> set[str]:
    """Every metric the Dask engine runs whose shape (default options) is Mean: n, mean, median, p90."""
    from crmmetrics.dask_support import SUPPORTED, refusal
    from crmmetrics.engine import make_plan
    from crmmetrics.metrics.shapes import Mean

    cfg = load_config(ROOT / "config.example.yaml")
    plan = make_plan(cfg, sorted(SUPPORTED), "month", [], need_dates=False)
    return {mp.spec.name for mp in plan.metrics if isinstance(mp.spec.shape_in_force(mp.options), Mean) and not refusal(mp, cfg)}


def assert_approx(got: pd.DataFrame, want: pd.DataFrame, headlines: dict[str, str]) -> int:
    """median and p90 within α relative of pandas (both null together); every other column
    identical (floats to 1e-9: sums in another order). Returns how many quantiles differed."""
    others = [c for c in want.columns if c not in QUANTILE_COLUMNS]
    approx_value = want["metric"].map(headlines).isin(QUANTILE_COLUMNS).to_numpy()
    assert_same(got.loc[~approx_value, others].reset_index(drop=True), want.loc[~approx_value, others].reset_index(drop=True))
    assert_same(got[[c for c in others if c != "value"]], want[[c for c in others if c != "value"]])
    differed = 0
    for col, rows in [*((c, slice(None)) for c in QUANTILE_COLUMNS), ("value", approx_value)]:
        a, b = got.loc[rows, col].to_numpy(dtype=float), want.loc[rows, col].to_numpy(dtype=float)
        assert (np.isnan(a) == np.isnan(b)).all(), col
        ok = ~np.isnan(b)
        err = np.abs(a[ok] - b[ok])
        assert (err <= ALPHA * np.abs(b[ok]) * (1 + 1e-9)).all(), (col, float(np.max(err / np.abs(b[ok]))))
        differed += int((err > 1e-9 * np.abs(b[ok])).sum())
    return differed


def headlines_of(cfg, names: list[str]) -> dict[str, str]:
    """metric → the statistic its value reports (mean, median or p90) with ``cfg``'s options."""
    from crmmetrics.engine import make_plan

    plan = make_plan(cfg, names, "month", [], need_dates=False)
    return {mp.spec.name: mp.spec.shape_in_force(mp.options).headline for mp in plan.metrics}


SURVEY_TICKET_MEANS = ["ces", "first_reply_time", "first_resolution_time", "full_resolution_time"]
SALES_MEANS = ["average_deal_size", "sales_cycle_length", "lead_response_time", "time_to_value"]


def test_every_mean_metric_is_covered():
    assert mean_metrics() == set(SURVEY_TICKET_MEANS) | set(SALES_MEANS)


def test_sample_tickets_and_surveys_in_8_parts_approx_within_alpha(client, tmp_path):  # noqa: F811
    from crmmetrics.dask_engine import compute_dask

    frames = typed_frames()
    paths = {name: split_parts(frames[name], tmp_path / name, 8) for name in ("tickets", "surveys")}
    cfg = load_config(write_config(tmp_path, paths))
    heads = headlines_of(cfg, SURVEY_TICKET_MEANS)
    for period, by in (("month", []), ("quarter", ["plan"]), ("all", [])):
        want = compute(load_config(ROOT / "config.example.yaml"), SURVEY_TICKET_MEANS, period=period, by=by, as_of=AS_OF)
        got = compute_dask(cfg, SURVEY_TICKET_MEANS, period=period, by=by, as_of=AS_OF, client=client, quantiles="approx")
        assert_approx(got.results, want.results, heads)
        note = [i for i in got.issues if i.code == "approx_quantiles"]
        assert len(note) == 1 and note[0].level.value == "info" and "within 1% of the exact values" in note[0].message
        assert {k: v for k, v in got.issue_counts().items() if k not in ("pushed_down", "approx_quantiles")} == want.issue_counts()


def test_sales_leads_and_success_in_8_parts_approx_within_alpha(client, tmp_path, monkeypatch):  # noqa: F811
    from crmmetrics.dask_engine import compute_dask

    read_every_row(monkeypatch)
    frames = typed_frames()
    paths = {"deals": split_parts(frames["deals"], tmp_path / "deals", 8),
             "leads": split_csv(ROOT / "sample_data" / "leads.csv", tmp_path / "leads", 8),
             "customers": split_csv(ROOT / "sample_data" / "customers.csv", tmp_path / "customers", 8)}
    leads_only = {"source": "leads"}
    parts = load_config(with_options(write_config(tmp_path, paths), tmp_path / "parts.yaml", lead_response_time=leads_only))
    one = load_config(with_options(ROOT / "config.example.yaml", tmp_path / "one.yaml", lead_response_time=leads_only))
    heads = headlines_of(one, SALES_MEANS)
    for period, by, names in (("month", [], SALES_MEANS), ("quarter", ["plan"], ["average_deal_size", "sales_cycle_length", "time_to_value"])):
        want = compute(one, names, period=period, by=by, as_of=AS_OF)
        got = compute_dask(parts, names, period=period, by=by, as_of=AS_OF, client=client, quantiles="approx")
        assert_approx(got.results, want.results, heads)


TICKETS_CONFIG = """
version: 1
timezone: UTC
engine: {{name: dask, quantiles: approx}}
sources:
  tickets:
    path: {path}
    fields: {{ticket_id: id, created_at: created, first_reply_at: reply, first_solved_at: first_solved, solved_at: solved,
             channel: channel, status: status}}
"""


def synthetic_tickets(n: int, seed: int = 5) -> pd.DataFrame:
    """Tickets with log-normal reply and resolution times (minutes to weeks), some unanswered."""
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 360 * 86400, n), unit="s")
    reply = created + pd.to_timedelta(rng.lognormal(7, 1.5, n).astype("int64"), unit="s")
    solved = reply + pd.to_timedelta(rng.lognormal(10, 1.2, n).astype("int64"), unit="s")
    return pd.DataFrame({"id": [f"T{i}" for i in range(n)], "created": created, "reply": reply.where(rng.random(n) < 0.9),
                         "first_solved": solved, "solved": solved + pd.to_timedelta(rng.integers(0, 2, n) * 3600, unit="s"),
                         "channel": rng.choice(["email", "chat", "phone"], n), "status": "solved"})


def test_synthetic_tickets_in_8_parts_approx_within_alpha_from_the_config(client, tmp_path):  # noqa: F811
    from crmmetrics.dask_engine import compute_dask

    data = synthetic_tickets(30_000)
    data.to_parquet(tmp_path / "all.parquet", index=False)
    split_parts(data, tmp_path / "parts", 8)
    (tmp_path / "one.yaml").write_text(TICKETS_CONFIG.format(path="all.parquet"), encoding="utf-8")
    (tmp_path / "parts.yaml").write_text(TICKETS_CONFIG.format(path="parts"), encoding="utf-8")
    one, parts = load_config(tmp_path / "one.yaml"), load_config(tmp_path / "parts.yaml")
    names = ["first_reply_time", "first_resolution_time", "full_resolution_time"]
    want = compute(one, names, period="month", by=["channel"], as_of="2026-01-31")  # pandas: exact whatever the config says
    got = compute_dask(parts, names, period="month", by=["channel"], as_of="2026-01-31", client=client)  # approx from engine:
    assert len(want.results) >= 3 * 12 * 3 and (want.results["n"] > 500).mean() > 0.9  # resolutions run into 2026-01
    differed = assert_approx(got.results, want.results, headlines_of(one, names))
    assert differed > 100  # continuous durations: the quantiles really come from the sketch
    exact = compute_dask(parts, names, period="month", by=["channel"], as_of="2026-01-31", client=client, quantiles="exact")
    assert_same(exact.results, want.results)
    assert not [i for i in exact.issues if i.code == "approx_quantiles"]


def test_quantiles_flag_then_config_then_exact():
    from crmmetrics.engines import chosen_engine

    class Cfg:
        def __init__(self, engine):
            from crmmetrics.config import EngineSettings

            self.model = type("M", (), {"engine": EngineSettings(**engine) if engine is not None else None})()

    assert chosen_engine(None, Cfg(None)) == ("pandas", None, "exact")
    assert chosen_engine(None, Cfg({"quantiles": "approx"})) == ("pandas", None, "approx")
    assert chosen_engine(None, Cfg({"quantiles": "approx"}), "exact")[2] == "exact"
    with pytest.raises(UsageError, match="--quantiles 'rough' is not a choice"):
        chosen_engine(None, Cfg(None), "rough")


def test_pandas_engine_ignores_approx(tmp_path):
    """The pandas engine is the exact reference: --quantiles approx changes no byte of its output."""
    from typer.testing import CliRunner

    from crmmetrics.cli import app

    cfg = yaml.safe_load((ROOT / "config.example.yaml").read_text(encoding="utf-8"))
    for src in cfg["sources"].values():
        if isinstance(src, dict) and "path" in src:
            src["path"] = str(ROOT / src["path"])
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    args = ["compute", "first_reply_time", "-c", str(tmp_path / "c.yaml"), "-f", "csv", "--as-of", AS_OF, "-q"]
    runner = CliRunner()
    exact, approx = runner.invoke(app, args), runner.invoke(app, [*args, "--quantiles", "approx"])
    assert exact.exit_code == approx.exit_code == 0 and approx.stdout == exact.stdout
    bad = runner.invoke(app, [*args, "--quantiles", "rough"])
    assert bad.exit_code == 2 and "--quantiles 'rough' is not a choice" in bad.stderr

