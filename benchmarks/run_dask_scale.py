#!/usr/bin/env python3
"""Past one machine (issue #16): the pandas engine against the Dask engine on 10M and 50M tickets.

For each size, in a scratch folder (default: a new temporary folder; never inside the repo):

1. ``gen_crm_data.py --scale large --tables tickets --rows tickets=N`` writes tickets.csv
   (the generator's format: naive timestamps, the export date 2025-12-31);
2. the CSV is converted to a folder of Parquet part files with pyarrow's streaming CSV
   reader (one batch in memory at a time, never the whole table, never pandas): the
   timestamps stored typed (``timestamp[s]``, naive), ``--part-rows`` rows per part file,
   one row group per 1M rows; the CSV is deleted once converted;
3. two runs, each once with ``--engine pandas`` and once with ``--engine dask`` (a local
   cluster sized to the machine: one single-threaded worker process per core), as of
   2025-12-31, on the Parquet folder mapped by benchmarks/synthetic.yaml's ticket fields:

     reply+resolution  compute first_reply_time full_resolution_time -p month -b channel
     volume+one-touch  compute ticket_volume one_touch_rate -p month
     volume+reply since 2025-07
                       compute ticket_volume first_reply_time -p month --since 2025-07-01
                       (Parquet date range push-down: half the rows are read)

   With ``--approx``, the runs that report medians (reply+resolution, volume+reply) run a
   third time as ``dask-approx``: ``--engine dask --quantiles approx`` (a quantile sketch
   per cell instead of every value on the client);
4. the pandas and Dask results are compared value by value (value, n, numerator,
   denominator, and median/p90/mean where present: relative 1e-9); dask-approx against the
   exact run (pandas, else dask): median and p90 (and a value that is a median) within
   α = 1 % relative, the rest at 1e-9;
5. the folder is deleted (``--keep`` keeps it).

Memory: every crmmetrics run is started under ``nice -n 5`` with an address-space limit
(``RLIMIT_AS``, ``--limit-gb``, default 20) set in the child before exec, so a run that
does not fit fails with MemoryError instead of pushing the machine into swap or the OOM
killer; the limit is inherited by the Dask worker processes (each gets its own). A run
that fails that way is reported as "did not fit (limit X GB)".

Peak memory per process: the pandas run's peak is its exact ``ru_maxrss`` (os.wait4); with
Dask, wait4's figure is the largest over the client and its reaped worker processes, so the
client's own peak is the polled one.
Dask's worker processes are children of the client (its nannies are objects inside
the client process); RUSAGE_CHILDREN would give only one maximum over all of them, and
only once they are reaped, so the process tree is polled every 0.1 s with psutil and each process's largest RSS kept
(a spike shorter than the poll interval can be missed; the client's exact figure is from
wait4). Reported: the client (main) process, the sum of the worker processes' peaks,
and their largest (the nannies live inside the client process).

Usage:
  python benchmarks/run_dask_scale.py --rows 10000000               # the 10M measurement
  python benchmarks/run_dask_scale.py --rows 50000000 --no-pandas --approx --runs reply+resolution
  python benchmarks/run_dask_scale.py --rows 200000 --part-rows 25000 # a smoke run
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_benchmarks import DEFAULT_GENERATOR, machine_facts  # noqa: E402

HERE = Path(__file__).resolve().parent
AS_OF = "2025-12-31"
TOLERANCE = 1e-9
RUNS = {
    "reply+resolution": ["first_reply_time", "full_resolution_time", "-p", "month", "-b", "channel"],
    "volume+one-touch": ["ticket_volume", "one_touch_rate", "-p", "month"],
    # The date range push-down: only the rows created in the second half of 2025 are read
    # (the generator's rows are not sorted by date, so no row group is skipped whole).
    "volume+reply since 2025-07": ["ticket_volume", "first_reply_time", "-p", "month", "--since", "2025-07-01"],
}
TS_COLUMNS = ("created_at", "first_response_at", "resolved_at")
CONFIG = """\
# benchmarks/run_dask_scale.py: gen_crm_data.py's tickets as a folder of Parquet parts (UTC, naive timestamps).
version: 1
timezone: UTC
sources:
  tickets:
    path: tickets
    fields: {ticket_id: id, customer_id: customer_id, created_at: created_at, first_reply_at: first_response_at,
             solved_at: resolved_at, channel: channel, agent_replies: replies_count, status: status}
metrics:
  one_touch_rate: {variant: zendesk_legacy}  # the generator writes no reopen count
"""
COMPARED = ("value", "n", "numerator", "denominator", "mean", "median", "p90")
APPROX_ALPHA = 0.01  # crmmetrics.metrics.sketch.ALPHA: the relative accuracy of --quantiles approx
QUANTILES = ("median", "p90")
# Engine labels: the --engine value and the extra flags of each.
ENGINE_ARGS = {"pandas": ["--engine", "pandas"], "dask": ["--engine", "dask"], "dask-approx": ["--engine", "dask", "--quantiles", "approx"]}


def generate(out: Path, rows: int, generator: Path) -> Path:
    """tickets.csv of ``rows`` rows in ``out`` (the generator writes it in 500k-row chunks)."""
    t0 = time.perf_counter()
    subprocess.run(["nice", "-n", "5", sys.executable, str(generator), "--scale", "large", "--tables", "tickets",
                    "--rows", f"tickets={rows}", "--out", str(out)], check=True)
    print(f"  generated {rows:,} rows in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return out / "tickets.csv"


def to_parquet(csv_path: Path, folder: Path, part_rows: int) -> tuple[int, int]:
    """Stream ``csv_path`` into ``folder/part-NNNN.parquet`` files of ``part_rows`` rows; (rows, bytes)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    types = {c: pa.timestamp("s") for c in TS_COLUMNS} | {"replies_count": pa.int64()}
    reader = pcsv.open_csv(csv_path, read_options=pcsv.ReadOptions(block_size=64 << 20),
                           convert_options=pcsv.ConvertOptions(column_types=types, strings_can_be_null=True,
                                                               timestamp_parsers=["%Y-%m-%d %H:%M:%S"]))
    writer, part, in_part, total = None, 0, 0, 0
    for batch in reader:
        while batch.num_rows:
            if writer is None:
                writer = pq.ParquetWriter(folder / f"part-{part:04d}.parquet", batch.schema, compression="snappy")
            take = batch.slice(0, part_rows - in_part)
            writer.write_table(pa.Table.from_batches([take]), row_group_size=1_000_000)
            in_part += take.num_rows
            total += take.num_rows
            batch = batch.slice(take.num_rows)
            if in_part == part_rows:
                writer.close()
                writer, part, in_part = None, part + 1, 0
    if writer is not None:
        writer.close()
    size = sum(f.stat().st_size for f in folder.glob("*.parquet"))
    return total, size


def _limit(limit_bytes: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    return apply


def run_measured(cmd: list[str], cwd: Path, limit_gb: float) -> dict:
    """Wall, CPU (the whole tree: RUSAGE of the reaped child including its reaped children),
    exit code, stderr tail, and peak RSS per process of the tree (see the module docstring)."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(["nice", "-n", "5", *cmd], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=_limit(int(limit_gb * 2**30)))
    peaks: dict[int, tuple[int, str, int | None]] = {}  # pid -> (peak rss, cmdline kind, parent pid)
    stop = threading.Event()

    def poll() -> None:
        try:
            root = psutil.Process(proc.pid)
        except psutil.Error:
            return
        while not stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    ppid = p.ppid()
                except psutil.Error:
                    continue
                old = peaks.get(p.pid)
                try:
                    # Read every time: a child seen just after fork still shows its parent's command line.
                    cmdline = " ".join(p.cmdline())[:200]
                except psutil.Error:
                    cmdline = old[1] if old else ""
                peaks[p.pid] = (max(rss, old[0]) if old else rss, cmdline, ppid)
            stop.wait(0.1)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    stop.set()
    poller.join()
    code = os.waitstatus_to_exitcode(status)
    # The tree: nice exec's into python, so proc.pid is the client. Dask's nannies are
    # objects inside the client process; each starts one worker process (a child of the
    # client); multiprocessing's resource tracker is a child too and is left out.
    client = proc.pid
    workers = {pid for pid, (_, cmdline, ppid) in peaks.items() if ppid == client and "resource_tracker" not in cmdline}
    mb = lambda b: b / 2**20  # noqa: E731
    worker_peaks = [mb(peaks[p][0]) for p in workers]
    text = err.decode("utf-8", "replace")
    return {
        "cmd": cmd, "code": code, "wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
        # wait4's ru_maxrss covers the child's reaped children too (the Dask workers): the
        # largest of them, so it is the client's own peak only without workers.
        "client_mb": usage.ru_maxrss / 1024 if not workers else mb(peaks.get(client, (0,))[0]),
        "tree_max_mb": usage.ru_maxrss / 1024, "client_polled_mb": mb(peaks.get(client, (0,))[0]),
        "workers": len(workers), "worker_sum_mb": sum(worker_peaks), "worker_max_mb": max(worker_peaks, default=0.0),
        "memory_error": "MemoryError" in text or "Cannot allocate memory" in text or "std::bad_alloc" in text,
        "stderr": text[-2000:],
    }


def load(path: Path) -> dict[tuple, dict[str, float | None]]:
    """(metric, period, channel) → the compared columns of a crmmetrics JSON report's results."""
    out = {}
    for row in json.loads(path.read_text(encoding="utf-8"))["results"]:
        key = (row["metric"], row["period"], row.get("channel", ""))
        out[key] = {c: (None if row.get(c) is None else float(row[c])) for c in COMPARED if c in row}
    return out


def rows_read(path: Path) -> tuple[int, int]:
    """(rows read, rows not read by the date range push-down) of a JSON report."""
    report = json.loads(path.read_text(encoding="utf-8"))
    return (sum(i["rows_read"] for i in report["inputs"]),
            sum(i.get("count") or 0 for i in report["issues"] if i["code"] == "pushed_down"))


def compare(a: dict, b: dict, approx: bool = False) -> list[str]:
    """Disagreements between two results (keys, then every compared column at 1e-9 relative;
    ``approx``: median, p90 and a value that is the median within APPROX_ALPHA relative)."""
    problems = [f"{k}: only in {'pandas' if k in a else 'dask'}" for k in sorted(set(a) ^ set(b))]
    for k in sorted(set(a) & set(b)):
        sketched = {c for c in QUANTILES if approx} | ({"value"} if approx and a[k].get("value") in (a[k].get("median"), a[k].get("p90")) else set())
        for c in set(a[k]) | set(b[k]):
            x, y = a[k].get(c), b[k].get(c)
            tol = APPROX_ALPHA * (1 + 1e-9) if c in sketched else TOLERANCE
            if (x is None) != (y is None) or (x is not None and not math.isclose(x, y, rel_tol=tol, abs_tol=0.0)):
                problems.append(f"{k} {c}: exact {x!r} vs dask {y!r}")
    return problems


def measure(rows: int, work: Path, generator: Path, part_rows: int, limit_gb: float, pandas: bool, runs: dict,
            approx: bool = False) -> dict:
    """Generate, convert and time the runs at one size; the facts for the table."""
    data = work / f"tickets-{rows}"
    data.mkdir(parents=True, exist_ok=True)
    csv_path = generate(data, rows, generator)
    csv_mb = csv_path.stat().st_size / 1e6
    t0 = time.perf_counter()
    n, size = to_parquet(csv_path, data / "tickets", part_rows)
    print(f"  converted to {len(list((data / 'tickets').glob('*.parquet')))} Parquet parts ({size / 1e6:.0f} MB) "
          f"in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    csv_path.unlink()
    (data / "scale.yaml").write_text(CONFIG, encoding="utf-8")
    res = {"rows": n, "csv_mb": csv_mb, "parquet_mb": size / 1e6, "parts": len(list((data / "tickets").glob("*.parquet"))),
           "runs": {}, "check": {}}
    for name, args in runs.items():
        medians = any(m in args for m in ("first_reply_time", "full_resolution_time"))
        for engine in (["pandas"] if pandas else []) + ["dask"] + (["dask-approx"] if approx and medians else []):
            out = f"out_{engine}_{name}.json"
            cmd = [sys.executable, "-m", "crmmetrics", "compute", *args, "-c", "scale.yaml", "--as-of", AS_OF,
                   *ENGINE_ARGS[engine], "-f", "json", "-o", out, "-q"]
            r = run_measured(cmd, data, limit_gb)
            if r["code"] == 0:
                r["rows_read"], r["not_read"] = rows_read(data / out)
            res["runs"][(name, engine)] = r
            print(f"  {rows:,} {name} {engine}: exit {r['code']}, {r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU, "
                  f"client {r['client_mb']:.0f} MB, workers {r['workers']} (sum {r['worker_sum_mb']:.0f} MB, "
                  f"max {r['worker_max_mb']:.0f} MB); load {os.getloadavg()[0]:.2f}", file=sys.stderr)
            if r["code"] != 0 and not r["memory_error"]:
                print(r["stderr"], file=sys.stderr)
        ok = [e for e in ENGINE_ARGS if (name, e) in res["runs"] and res["runs"][(name, e)]["code"] == 0]
        exact = next((e for e in ("pandas", "dask") if e in ok), None)
        for other in (e for e in ("dask", "dask-approx") if e in ok and e != exact and exact):
            a, b = load(data / f"out_{exact}_{name}.json"), load(data / f"out_{other}_{name}.json")
            problems = compare(a, b, approx=other == "dask-approx")
            if problems:
                sys.exit(f"error: {rows:,} {name}: {exact} and {other} disagree on {len(problems)} values:\n  " + "\n  ".join(problems[:20]))
            res["check"][f"{name}, {other} vs {exact}"] = f"{len(a)} result rows agree"
    res["load"] = os.getloadavg()  # 1, 5 and 15 minutes, at the end of this size's runs
    return res


def render(results: list[dict], argv: list[str], limit_gb: float) -> str:
    """The markdown table and facts for docs/performance.md."""
    lines = [*machine_facts(), ""]
    lines += ["| tickets (Parquet) | run | engine | rows read | wall (s) | CPU (s), whole tree | client peak (MB) "
              "| workers: sum of peaks (MB) | workers: max (MB) | load avg (1/5/15 min) after the size |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for res in results:
        size = f"{res['rows']:,} ({res['parts']} parts, {res['parquet_mb']:.0f} MB)"
        for (name, engine), r in res["runs"].items():
            if r["code"] != 0:
                what = f"did not fit (limit {limit_gb:g} GB)" if r["memory_error"] else f"failed (exit {r['code']})"
                lines.append(f"| {size} | {name} | {engine} | | {what} after {r['wall']:.0f} s | {r['cpu']:.1f} "
                             f"| {r['client_mb']:.0f} | | | {' / '.join(f'{x:.1f}' for x in res['load'])} |")
                continue
            if engine.startswith("dask"):
                mem = f"{r['worker_sum_mb']:.0f} ({r['workers']}) | {r['worker_max_mb']:.0f}"
            else:
                mem = "— | —"
            lines.append(f"| {size} | {name} | {engine} | {r.get('rows_read', res['rows']):,} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['client_mb']:.0f} "
                         f"| {mem} | {' / '.join(f'{x:.1f}' for x in res['load'])} |")
    checks = [f"{r['rows']:,} {name}: {text}" for r in results for name, text in r["check"].items()]
    if checks:
        lines += ["", "Check against the exact run (value, n, numerator, denominator, mean, median, p90; relative "
                  f"{TOLERANCE:g}; dask-approx: median, p90 and a median value within {APPROX_ALPHA:g}): " + "; ".join(checks) + "."]
    lines += ["", f"Command: `python benchmarks/run_dask_scale.py {shlex.join(argv)}`; each run, in the data folder "
              f"(under `nice -n 5`, `RLIMIT_AS` {limit_gb:g} GB):", "", "```"]
    for name, args in RUNS.items():
        lines.append(f"crmmetrics compute {shlex.join(args)} -c scale.yaml --as-of {AS_OF} --engine ENGINE -f json -o out.json -q")
    lines.append("```")
    lines += ["", "ENGINE: pandas, dask, or for dask-approx `dask --quantiles approx`."]
    return "\n".join(lines)


def _from_json(r: dict) -> dict:
    """A size's facts as written by --json (runs keyed "name|engine"), for render."""
    runs = {}
    for key, v in r["runs"].items():
        name, engine = key.split("|")
        if engine.startswith("dask") and v.get("workers") and "tree_max_mb" not in v:  # written before client_mb was the polled one
            v = {**v, "tree_max_mb": v["client_mb"], "client_mb": v["client_polled_mb"]}
        runs[(name, engine)] = v
    return {**r, "runs": runs}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, action="append", help="ticket rows (repeatable; default 10M)")
    ap.add_argument("--part-rows", type=int, default=1_000_000, help="rows per Parquet part file (default 1M)")
    ap.add_argument("--limit-gb", type=float, default=20.0, help="RLIMIT_AS of every crmmetrics process (default 20)")
    ap.add_argument("--no-pandas", action="store_true", help="only the Dask engine")
    ap.add_argument("--approx", action="store_true", help="also run the median runs with --quantiles approx (dask-approx)")
    ap.add_argument("--runs", help="comma-separated run names (default: all): " + ", ".join(RUNS))
    ap.add_argument("--work", type=Path, help="scratch folder (default: a new temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the generated data")
    ap.add_argument("--generator", type=Path, default=DEFAULT_GENERATOR, help="path to gen_crm_data.py")
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    ap.add_argument("--render", type=Path, nargs="+", help="only print the table of earlier --json files (no runs)")
    a = ap.parse_args(argv)
    if a.render:
        print(render([_from_json(r) for f in a.render for r in json.loads(f.read_text())], argv, a.limit_gb))
        return 0
    work = a.work or Path(tempfile.mkdtemp(prefix="crm-dask-scale-"))
    if HERE.parent in [work.resolve(), *work.resolve().parents] and "data" not in work.resolve().parts:
        sys.exit("error: --work must be outside the repo (or under the git-ignored benchmarks/data/)")
    results = []
    try:
        for rows in a.rows or [10_000_000]:
            print(f"{rows:,} tickets in {work}", file=sys.stderr)
            runs = {k: v for k, v in RUNS.items() if not a.runs or k in a.runs.split(",")}
            results.append(measure(rows, work, a.generator.resolve(), a.part_rows, a.limit_gb, not a.no_pandas, runs, a.approx))
            if not a.keep:
                shutil.rmtree(work / f"tickets-{rows}", ignore_errors=True)
    finally:
        if not a.keep and a.work is None:
            shutil.rmtree(work, ignore_errors=True)
    if a.json:
        a.json.write_text(json.dumps([{**r, "runs": {f"{k[0]}|{k[1]}": v for k, v in r["runs"].items()}} for r in results],
                                     indent=1, default=str))
    print(render(results, argv, a.limit_gb))
    return 0


if __name__ == "__main__":
    sys.exit(main())
