"""--engine dask gives the pandas engine's numbers, refuses what it cannot merge, and is
an optional extra: the base install never imports it and says how to install it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from crmmetrics.config import load_config
from crmmetrics.engine import compute
from crmmetrics.errors import UsageError
from tests.test_parquet import AS_OF, ROOT, typed_frames, write_config

SAMPLE_METRICS = ["nps", "csat", "ces", "ticket_volume", "one_touch_rate", "reopen_rate", "first_reply_time",
                  "first_resolution_time", "full_resolution_time"]


def test_base_install_never_imports_dask():
    code = ("import sys\nfrom crmmetrics.config import load_config\nfrom crmmetrics.engine import compute\n"
            "r = compute(load_config('config.example.yaml'), ['nps', 'csat'], as_of='2026-06-30')\n"
            "assert len(r.results) > 0\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("how", ["flag", "config"])
def test_engine_dask_without_dask_exits_2_with_the_install_line(how, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from crmmetrics.cli import app

    monkeypatch.setitem(sys.modules, "dask", None)  # import dask → ImportError, as in a base install
    cfg = yaml.safe_load((ROOT / "config.example.yaml").read_text(encoding="utf-8"))
    for src in cfg["sources"].values():
        if isinstance(src, dict) and "path" in src:
            src["path"] = str(ROOT / src["path"])
    if how == "config":
        cfg["engine"] = {"name": "dask", "scheduler": "tcp://127.0.0.1:1"}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    args = ["compute", "nps", "-c", str(tmp_path / "c.yaml"), "-f", "csv"] + (["--engine", "dask"] if how == "flag" else [])
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2
    err = res.stderr if hasattr(res, "stderr") else res.output
    assert "--engine dask needs Dask" in err and "pip install 'crmmetrics[dask]'" in err
    assert "Traceback" not in err


# ------------------------------------------------------------------ on a cluster

@pytest.fixture(scope="module")
def client():
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Equal frames; float columns to 1e-9 relative (sums in another order)."""
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for col in want.columns:
        a, b = got[col], want[col]
        if b.dtype.kind == "f":
            np.testing.assert_allclose(a.to_numpy(dtype=float), b.to_numpy(dtype=float), rtol=1e-9, equal_nan=True, err_msg=col)
        else:
            assert a.astype(str).tolist() == b.astype(str).tolist(), col


def split_parts(frame: pd.DataFrame, folder: Path, n: int) -> str:
    folder.mkdir(parents=True)
    for i in range(n):
        frame.iloc[i::n].to_parquet(folder / f"part-{i:02d}.parquet", index=False)
    return str(folder)


def test_sample_data_in_8_parts_equals_the_pandas_engine(client, tmp_path):
    from crmmetrics.dask_engine import compute_dask

    frames = typed_frames()
    paths = {name: split_parts(frames[name], tmp_path / name, 8) for name in ("tickets", "surveys")}
    cfg = load_config(write_config(tmp_path, paths))
    want = compute(load_config(ROOT / "config.example.yaml"), SAMPLE_METRICS, as_of=AS_OF)
    got = compute_dask(cfg, SAMPLE_METRICS, as_of=AS_OF, client=client)
    assert_same(got.results, want.results)
    tickets = [i for i in got.inputs if i.entity == "tickets"]
    assert len(tickets) == 8 and sum(i.rows_read for i in tickets) == len(frames["tickets"])  # one fact per part file
    for period, names, by in (("quarter", ["ticket_volume", "first_reply_time", "reopen_rate"], ["channel"]), ("all", ["nps", "csat"], [])):
        want = compute(load_config(ROOT / "config.example.yaml"), names, period=period, by=by, as_of=AS_OF)
        got = compute_dask(cfg, names, period=period, by=by, as_of=AS_OF, client=client)
        assert_same(got.results, want.results)


def synthetic_surveys(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    kinds = rng.choice(["nps", "csat", "ces"], n)
    hi = np.where(kinds == "nps", 11, np.where(kinds == "csat", 6, 8))
    lo = np.where(kinds == "nps", 0, 1)
    score = (lo + rng.random(n) * (hi - lo)).astype("int64").astype("float64")
    score[rng.random(n) < 0.02] = np.nan  # blank scores: excluded and counted
    score[rng.random(n) < 0.01] = 42  # out of range: one issue per row, capped overall
    return pd.DataFrame({
        "id": [f"R{i}" for i in range(n)],
        "customer": [f"C{i % 97}" for i in range(n)],
        "type": kinds,
        "score": score,
        "date": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 500 * 86400, n), unit="s"),
        "channel": rng.choice(["email", "chat", "phone"], n),
    })


SYNTH_CONFIG = """
version: 1
timezone: Europe/Istanbul
sources:
  surveys:
    path: {path}
    fields: {{response_id: id, customer_id: customer, survey_type: type, score: score, responded_at: date, channel: channel}}
metrics:
  ces: {{scale: [1, 7], higher_is_easier: true}}
"""


def test_synthetic_data_in_10_parts_equals_one_file(client, tmp_path):
    from crmmetrics.dask_engine import compute_dask

    data = synthetic_surveys(6000)
    data.to_parquet(tmp_path / "all.parquet", index=False)
    split_parts(data, tmp_path / "parts", 10)
    (tmp_path / "one.yaml").write_text(SYNTH_CONFIG.format(path="all.parquet"), encoding="utf-8")
    (tmp_path / "parts.yaml").write_text(SYNTH_CONFIG.format(path="parts"), encoding="utf-8")
    one = load_config(tmp_path / "one.yaml")
    parts = load_config(tmp_path / "parts.yaml")
    for period, by in (("week", ["channel"]), ("all", ["channel"])):
        want = compute(one, ["nps", "csat", "ces"], period=period, by=by, as_of="2026-06-30")
        got = compute_dask(parts, ["nps", "csat", "ces"], period=period, by=by, as_of="2026-06-30", client=client)
        assert_same(got.results, want.results)
        # Exact issue counts; examples capped at 100 per code as one pandas run keeps them.
        assert got.issue_counts() == want.issue_counts()
        examples = [sum(1 for i in r.issues if i.code == "score_out_of_range" and i.count == 1) for r in (got, want)]
        assert examples[0] == examples[1] > 0
    nps = got.results[got.results["metric"] == "nps"]
    assert (nps["value"] == 100 * (nps["promoters"] - nps["detractors"]) / nps["n"]).all()


def test_unsupported_metrics_are_refused_by_name(client):
    from crmmetrics.dask_engine import compute_dask

    cfg = load_config(ROOT / "config.example.yaml")
    with pytest.raises(UsageError, match="mrr is not supported on the Dask engine"):
        compute_dask(cfg, ["nps", "mrr"], as_of=AS_OF, client=client)
    with pytest.raises(UsageError, match="nps: --by plan joins customers"):
        compute_dask(cfg, ["nps"], by=["plan"], as_of=AS_OF, client=client)


def test_without_names_unsupported_metrics_are_skipped_with_a_note(client, tmp_path):
    from crmmetrics.dask_engine import compute_dask

    cfg = load_config(ROOT / "config.example.yaml")
    got = compute_dask(cfg, None, as_of=AS_OF, client=client)
    assert set(got.results["metric"]) <= set(SAMPLE_METRICS) and "nps" in set(got.results["metric"])
    skipped = [i.message for i in got.issues if i.code == "metric_skipped"]
    assert any(m.startswith("mrr not computed: mrr is not supported on the Dask engine") for m in skipped)


def test_input_overrides_are_checked_and_stdin_is_refused(client):
    from crmmetrics.dask_engine import compute_dask

    cfg = load_config(ROOT / "config.example.yaml")
    with pytest.raises(UsageError, match="--input nosuch=...: the config has no nosuch source"):
        compute_dask(cfg, ["nps"], inputs={"nosuch": "x.csv"}, client=client)
    with pytest.raises(UsageError, match="cannot read stdin"):
        compute_dask(cfg, ["nps"], inputs={"surveys": "-"}, client=client)


# ------------------------------------------------------------ check and report on Dask

CHECKS = {"checks": [{"metric": "nps", "warn": {"min": 35}, "crit": {"min": 20}, "min_n": 30},
                     {"metric": "first_reply_time", "warn": {"max": "4h"}, "crit": {"max": "8h"}},
                     {"metric": "ticket_volume", "kind": "anomaly", "periods": 8, "warn": {"z": 2}, "crit": {"z": 3}},
                     {"metric": "ticket_volume", "by": ["channel"], "warn": {"max": 40}},
                     {"metric": "mrr", "warn": {"min": 1}}],
          "goals": [{"metric": "nps", "target": 50, "due": "2026-12-31", "start": "2026-01-01"}]}


def parquet_project(tmp_path: Path, client, extra: dict | None = None) -> Path:
    """config.example.yaml with tickets and surveys in 8 Parquet parts each, pointed at ``client``'s scheduler."""
    frames = typed_frames()
    paths = {name: split_parts(frames[name], tmp_path / name, 8) for name in ("tickets", "surveys")}
    path = write_config(tmp_path, paths)
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key, value in (extra or {}).items():
        cfg.pop(key) if value is None else cfg.__setitem__(key, value)
    cfg["engine"] = {"name": "pandas", "scheduler": client.scheduler.address}
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def cli(args: list[str]) -> tuple[int, str, str]:
    from typer.testing import CliRunner

    from crmmetrics.cli import app

    res = CliRunner().invoke(app, args)
    return res.exit_code, res.stdout, res.stderr if hasattr(res, "stderr") else ""


def test_check_on_dask_gives_the_pandas_lines_and_exit_code(client, tmp_path):
    cfg = str(parquet_project(tmp_path, client, CHECKS))
    base = ["check", "-c", cfg, "--as-of", AS_OF]
    pandas_code, pandas_out, _ = cli(base)
    dask_code, dask_out, dask_err = cli([*base, "--engine", "dask"])
    # mrr is unsupported on Dask: its rule is SKIPPED naming why, every other line is the pandas one.
    skip = [ln for ln in dask_out.splitlines() if "mrr" in ln]
    assert skip and "mrr is not supported on the Dask engine" in skip[0], dask_out
    strip = lambda out: [ln for ln in out.splitlines() if "mrr" not in ln]  # noqa: E731
    assert strip(dask_out) == strip(pandas_out)
    assert "CRIT csat 2026-06 = 72.6% (min 80%, n=95)" in dask_out and "WARN ticket_volume[channel=email] 2026-06 = 98" in dask_out
    assert dask_code == pandas_code == 1  # csat 72.6% in 2026-06, under its 80% threshold: CRIT
    assert "Traceback" not in dask_err
    json_runs = [cli([*base, "-f", "json", *extra])[1] for extra in ([], ["--engine", "dask"])]
    import json

    got, want = (json.loads(j) for j in json_runs)
    assert got["goals"] == want["goals"] and got["goals"][0]["metric"] == "nps"
    assert [c for c in got["checks"] if c["metric"] != "mrr"] == [c for c in want["checks"] if c["metric"] != "mrr"]


def test_check_with_only_unsupported_metrics_exits_78_naming_them(client, tmp_path):
    cfg = str(parquet_project(tmp_path, client, {"checks": [{"metric": "mrr", "warn": {"min": 1}}], "thresholds": None}))
    code, _, err = cli(["check", "-c", cfg, "--as-of", AS_OF, "--engine", "dask"])
    assert code == 78 and "mrr is not supported on the Dask engine" in err


def test_report_first_screen_and_engine_from_config_equal_pandas(client, tmp_path):
    path = parquet_project(tmp_path, client)
    base = ["report", "nps", "csat", "first_reply_time", "-c", str(path), "--as-of", AS_OF]
    pandas_code, pandas_out, _ = cli(base)
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg["engine"]["name"] = "dask"  # the config's engine: setting, no flag
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    dask_code, dask_out, _ = cli(base)
    assert dask_code == pandas_code == 0
    assert dask_out == pandas_out
    lines = {ln.split()[0]: ln.split() for ln in dask_out.splitlines() if ln.split()}
    assert lines["nps"][1] == "40.4" and lines["csat"][1:3] == ["72.6", "%"] and lines["first_reply_time"][1] == "0.68"
    assert "✗ crit" in " ".join(lines["csat"])  # the config's threshold, judged on the Dask numbers
    code, out, err = cli([*base, "--engine", "pandas"])  # the flag overrides the config
    assert code == 0 and out == pandas_out
    code, _, err = cli([*base, "-o", str(tmp_path / "r.html"), "-q"])  # the dashboard: per-customer sections say why they are absent
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert code == 0 and "per-customer analyses are not computed on the Dask engine" in html and "40.4" in html
    code, _, err = cli(["report", "nps", "mrr", "-c", str(path), "--as-of", AS_OF])
    assert code == 2 and "mrr is not supported on the Dask engine" in err
