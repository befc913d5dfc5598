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
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, \
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


def read_counts(report) -> dict[str, int]:
    """Issue counts without the pushed_down note: a Parquet run skips the rows after the
    as-of day (and says so), a CSV run reads them; every other count is the same."""
    return {k: v for k, v in report.issue_counts().items() if k != "pushed_down"}


def read_every_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """No date range push-down on either engine (its trade-off: unread rows are not checked)."""
    monkeypatch.setattr("crmmetrics.pushdown.windows", lambda *a, **k: {})
    monkeypatch.setattr("crmmetrics.engine.pushdown_windows", lambda *a, **k: {})


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
    # One fact per part file; the tickets after the as-of day are not read (date range push-down).
    unread = sum(i.count for i in got.issues if i.code == "pushed_down" and i.entity == "tickets")
    assert len(tickets) == 8 and sum(i.rows_read for i in tickets) + unread == len(frames["tickets"]) and unread > 0
    # Exact issue counts; notes about the whole run once (pandas: 1080 tickets after the
    # as-of day, holidays outside the data's 2025-01-09 .. span), not once per part. The
    # pandas run reads CSV (no push-down): its only difference is the pushed_down note.
    assert read_counts(got) == want.issue_counts()
    once = {(i.code, i.entity, i.metric): i for i in want.issues if i.count > 1 or i.code == "holiday_outside_data"}
    for (code, entity, metric), ref in once.items():
        mine = [i for i in got.issues if (i.code, i.entity, i.metric) == (code, entity, metric)]
        assert len(mine) == 1 and mine[0].count == ref.count, (code, entity, metric)
        if code != "after_as_of" or metric:  # the dataset's after_as_of names the part file's row
            assert mine[0].message == ref.message
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
        assert read_counts(got) == read_counts(want)
        examples = [sum(1 for i in r.issues if i.code == "score_out_of_range" and i.count == 1) for r in (got, want)]
        assert examples[0] == examples[1] > 0
    nps = got.results[got.results["metric"] == "nps"]
    assert (nps["value"] == 100 * (nps["promoters"] - nps["detractors"]) / nps["n"]).all()


def tmp_config(**time_to_value) -> object:
    import tempfile

    folder = Path(tempfile.mkdtemp())
    return load_config(with_options(ROOT / "config.example.yaml", folder / "c.yaml", time_to_value=time_to_value))


def test_unsupported_metrics_are_refused_by_name(client):
    from crmmetrics.dask_engine import compute_dask

    cfg = load_config(ROOT / "config.example.yaml")
    with pytest.raises(UsageError, match="mrr is not supported on the Dask engine: it needs all of a customer's rows together"):
        compute_dask(cfg, ["nps", "mrr"], as_of=AS_OF, client=client)
    with pytest.raises(UsageError, match="revenue is not supported on the Dask engine: it applies the order policy"):
        compute_dask(cfg, ["revenue"], as_of=AS_OF, client=client)
    with pytest.raises(UsageError, match="time_to_value milestone event reports row issues about another export"):
        compute_dask(tmp_config(milestone="event", events=["login"]), ["time_to_value"], as_of=AS_OF, client=client)


def test_every_metric_is_supported_or_refused_with_a_reason_listed_in_the_readme():
    from crmmetrics.dask_support import REFUSED, SUPPORTED
    from crmmetrics.metrics.registry import all_metrics

    names = set(all_metrics())
    assert SUPPORTED <= names and not SUPPORTED & set(REFUSED)
    assert names == SUPPORTED | set(REFUSED)  # a new metric must be placed in one of the two
    for name in SUPPORTED:  # the Dask mapping hangs off the aggregator: every supported metric has a mergeable one
        spec = all_metrics()[name]
        assert type(spec.shape_in_force(spec.options())).__name__ in ("Ratio", "Mean", "CountSum", "Stock"), name
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| metric | on `--engine dask` |"):]
    for name in names:
        assert f"| `{name}` |" in table, name


def test_by_a_customer_field_joins_customers_in_every_partition(client, tmp_path):
    from crmmetrics.dask_engine import compute_dask

    frames = typed_frames()
    paths = {name: split_parts(frames[name], tmp_path / name, 8) for name in ("tickets", "surveys")}
    cfg = load_config(write_config(tmp_path, paths))
    names = ["nps", "csat", "first_reply_time", "ticket_volume"]
    want = compute(load_config(ROOT / "config.example.yaml"), names, by=["plan"], as_of=AS_OF)
    got = compute_dask(cfg, names, by=["plan"], as_of=AS_OF, client=client)
    assert_same(got.results, want.results)
    assert set(got.results["plan"]) == {"Enterprise", "Growth", "Starter"}
    # customers are read by every partition but reported once, as in one pandas run
    assert [i.entity for i in got.inputs].count("customers") == 1
    assert read_counts(got) == read_counts(want)


def test_without_names_unsupported_metrics_are_skipped_with_a_note(client, tmp_path):
    from crmmetrics.dask_engine import compute_dask

    cfg = load_config(ROOT / "config.example.yaml")
    got = compute_dask(cfg, None, as_of=AS_OF, client=client)
    from crmmetrics.dask_support import SUPPORTED

    assert set(got.results["metric"]) <= SUPPORTED and {"nps", "win_rate", "mql_rate", "time_to_value"} <= set(got.results["metric"])
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


# ------------------------------------------------- sales, leads, success; CSV globs

SALES_LEADS_SUCCESS = ["win_rate", "average_deal_size", "sales_cycle_length", "new_opportunities", "lead_conversion_rate", "mql_rate",
                       "sql_rate", "lead_response_time", "new_leads", "time_to_value"]


def split_csv(src: Path, folder: Path, n: int) -> str:
    """``src`` (one line per record) as ``n`` CSV files with its header, rows dealt round-robin; their glob."""
    folder.mkdir(parents=True)
    head, *body = src.read_text(encoding="utf-8").splitlines(keepends=True)
    for i in range(n):
        (folder / f"{src.stem}-{i:02d}.csv").write_text(head + "".join(body[i::n]), encoding="utf-8")
    return str(folder / f"{src.stem}-*.csv")


def with_options(path: Path, out: Path, **metrics: dict) -> Path:
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    for src in cfg["sources"].values():
        if isinstance(src, dict) and "path" in src and not Path(src["path"]).is_absolute():
            src["path"] = str(ROOT / src["path"])
    cfg.setdefault("metrics", {}).update(metrics)
    out.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return out


def test_sales_leads_and_success_on_8_parts_equal_the_pandas_engine(client, tmp_path, monkeypatch):
    from crmmetrics.dask_engine import compute_dask

    # Every row read, as from the workbook: unread deals after the as-of day would not count
    # in value_defaulted (the push-down's documented trade-off, tests/test_parquet_pushdown.py).
    read_every_row(monkeypatch)

    frames = typed_frames()
    paths = {"deals": split_parts(frames["deals"], tmp_path / "deals", 8),
             "leads": split_csv(ROOT / "sample_data" / "leads.csv", tmp_path / "leads", 8),
             "customers": split_csv(ROOT / "sample_data" / "customers.csv", tmp_path / "customers", 8)}
    leads_only = {"source": "leads"}  # the default (auto) joins activities: tested below
    parts = load_config(with_options(write_config(tmp_path, paths), tmp_path / "parts.yaml", lead_response_time=leads_only))
    one = load_config(with_options(ROOT / "config.example.yaml", tmp_path / "one.yaml", lead_response_time=leads_only))
    for period, by, names in (("month", [], SALES_LEADS_SUCCESS), ("all", [], SALES_LEADS_SUCCESS),
                              ("quarter", ["plan"], ["win_rate", "new_opportunities", "average_deal_size", "time_to_value"])):
        want = compute(one, names, period=period, by=by, as_of=AS_OF)
        got = compute_dask(parts, names, period=period, by=by, as_of=AS_OF, client=client)
        assert_same(got.results, want.results)
        assert read_counts(got) == read_counts(want)
    # A CSV glob is one partition per file: 8 leads and 8 customers inputs.
    assert [i.entity for i in got.inputs].count("customers") == 8
    month = compute_dask(parts, ["mql_rate"], period="month", as_of=AS_OF, client=client)
    assert [i.entity for i in month.inputs].count("leads") == 8
    mql = month.results.set_index("period").loc["2025-03"]
    assert (mql["mqls"], mql["denominator"]) == (40, 88) and abs(mql["value"] - 40 / 88) < 1e-12  # leads.csv: 88 created in 2025-03, 40 with an MQL Date


def synthetic_leads(n: int, seed: int = 11) -> pd.DataFrame:
    """Leads with ids repeated across the file (an export concatenated over time), some after the as-of day."""
    rng = np.random.default_rng(seed)
    ids = [f"L{i % (n * 4 // 5)}" for i in range(n)]  # the last fifth repeats earlier ids
    created = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 560 * 86400, n), unit="s")
    mql = created + pd.to_timedelta(rng.integers(0, 20 * 86400, n), unit="s")
    mql = mql.where(rng.random(n) < 0.4)
    sql = mql + pd.to_timedelta(rng.integers(0, 9 * 86400, n), unit="s")
    sql = sql.where(rng.random(n) < 0.5)
    return pd.DataFrame({"id": ids, "created": created, "mql": mql, "sql": sql, "status": rng.choice(["working", "spam", "new"], n)})


LEADS_CONFIG = """
version: 1
timezone: Europe/Istanbul
sources:
  leads:
    path: {path}
    fields: {{lead_id: id, created_at: created, mql_at: mql, sql_at: sql, status: status}}
metrics:
  new_leads: {{exclude_statuses: [spam]}}
"""


def test_repeated_lead_ids_across_parts_keep_the_last_row_as_pandas_does(client, tmp_path, monkeypatch):
    from crmmetrics.dask_engine import compute_dask

    read_every_row(monkeypatch)  # the repeats of leads after the as-of day are counted too

    data = synthetic_leads(5000)
    data.to_parquet(tmp_path / "all.parquet", index=False)
    (tmp_path / "parts").mkdir()
    for i in range(10):  # contiguous slices, in file order: a repeat's last row is in a later part
        data.iloc[i * 500:(i + 1) * 500].to_parquet(tmp_path / "parts" / f"part-{i:02d}.parquet", index=False)
    (tmp_path / "one.yaml").write_text(LEADS_CONFIG.format(path="all.parquet"), encoding="utf-8")
    (tmp_path / "parts.yaml").write_text(LEADS_CONFIG.format(path="parts"), encoding="utf-8")
    names = ["mql_rate", "sql_rate", "new_leads"]
    want = compute(load_config(tmp_path / "one.yaml"), names, as_of="2026-06-30")
    got = compute_dask(load_config(tmp_path / "parts.yaml"), names, as_of="2026-06-30", client=client)
    assert_same(got.results, want.results)
    counts = read_counts(got)
    assert counts == read_counts(want)
    assert counts["duplicate_id"] == 1000  # 1000 rows repeat an earlier id: all in other parts than their first
    dup = [i for i in got.issues if i.code == "duplicate_lead"]
    assert [i.metric for i in dup] == names and all(i.message == w.message for i, w in
                                                     zip(dup, [i for i in want.issues if i.code == "duplicate_lead"]))
    examples = [i for i in got.issues if i.code == "duplicate_id" and i.location]
    assert len(examples) == 100 and examples[0].location.startswith(str(tmp_path / "parts" / "part-08.parquet"))
    assert examples[0].value == "L0" and examples[0].field == "lead_id"


def test_repeated_ticket_ids_across_parts_are_reported_as_pandas_does(client, tmp_path):
    from crmmetrics.dask_engine import compute_dask

    tickets = typed_frames()["tickets"]
    repeated = pd.concat([tickets, tickets.iloc[:30]], ignore_index=True)  # 30 tickets exported twice
    paths = {"tickets": split_parts(repeated, tmp_path / "tickets", 8)}
    cfg = load_config(write_config(tmp_path, paths))
    repeated.to_parquet(tmp_path / "one.parquet", index=False)
    (tmp_path / "one").mkdir()
    one = load_config(write_config(tmp_path / "one", {"tickets": str(tmp_path / "one.parquet")}))
    want = compute(one, ["ticket_volume"], as_of=AS_OF)
    got = compute_dask(cfg, ["ticket_volume"], as_of=AS_OF, client=client)
    assert_same(got.results, want.results)
    assert got.issue_counts()["duplicate_id"] == want.issue_counts()["duplicate_id"] == 30
    assert sorted(i.value for i in got.issues if i.code == "duplicate_id") == sorted(i.value for i in want.issues if i.code == "duplicate_id")


def test_a_csv_glob_reports_repeated_ids_at_the_lines_the_pandas_engine_names(client, tmp_path):
    from crmmetrics.dask_engine import compute_dask

    data = synthetic_leads(600)  # rows 480.. repeat the ids of rows 0..119
    (tmp_path / "leads").mkdir()
    for i in range(8):  # contiguous slices: every repeat sits in a later file than its first row
        data.iloc[i * 75:(i + 1) * 75].to_csv(tmp_path / "leads" / f"leads-{i}.csv", index=False)
    (tmp_path / "c.yaml").write_text(LEADS_CONFIG.format(path="leads/leads-*.csv"), encoding="utf-8")
    cfg = load_config(tmp_path / "c.yaml")
    want = compute(cfg, ["mql_rate", "new_leads"], as_of="2026-06-30")
    got = compute_dask(cfg, ["mql_rate", "new_leads"], as_of="2026-06-30", client=client)
    assert_same(got.results, want.results)
    assert got.issue_counts() == want.issue_counts() and got.issue_counts()["duplicate_id"] == 120
    assert len([i for i in got.inputs if i.entity == "leads"]) == 8  # one partition per file of the glob
    where = lambda r: sorted((i.location, i.value) for i in r.issues if i.code == "duplicate_id" and i.location)  # noqa: E731
    # The same 100 located examples as pandas; the first repeat is row 480 (id L0): file 6's 31st row, line 32.
    assert where(got) == where(want) and len(where(got)) == 100 and where(got)[0] == (str(tmp_path / "leads" / "leads-6.csv") + ":32", "L0")


@pytest.mark.parametrize("opts", [{}, {"lead_conversion_rate": {"target": "won_deal"}, "sales_cycle_length": {"start": "first_contact"}},
                                  {"lead_conversion_rate": {"target": "opportunity"}, "sales_cycle_length": {"start": "lead_created"}}])
def test_lookups_in_an_export_read_whole_by_every_partition_equal_pandas(client, tmp_path, opts, monkeypatch):
    """Deals by lead_id, activities by lead or deal, leads by lead_id: each partition reads the other export whole."""
    from crmmetrics.dask_engine import compute_dask

    read_every_row(monkeypatch)  # as the workbook run does: value_defaulted counts deals after the as-of day too

    paths = {"deals": split_parts(typed_frames()["deals"], tmp_path / "deals", 8),
             "leads": split_csv(ROOT / "sample_data" / "leads.csv", tmp_path / "leads", 8)}
    parts = load_config(with_options(write_config(tmp_path, paths), tmp_path / "p.yaml", **opts))
    one = load_config(with_options(ROOT / "config.example.yaml", tmp_path / "o.yaml", **opts))
    names = ["lead_conversion_rate", "lead_response_time", "sales_cycle_length", "win_rate"]
    want = compute(one, names, as_of=AS_OF)
    got = compute_dask(parts, names, as_of=AS_OF, client=client)
    assert_same(got.results, want.results)
    assert got.issue_counts() == want.issue_counts() and got.options == want.options
    assert [i.entity for i in got.inputs].count("activities") == 1  # read by 16 partitions, listed once
