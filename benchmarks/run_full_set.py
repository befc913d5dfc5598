#!/usr/bin/env python3
"""The full-set benchmark of issue #15: crmmetrics against DuckDB doing the same work.

Generates the synthetic exports once with ../shared/tools/gen_crm_data.py into the
git-ignored benchmarks/data/, copies benchmarks/synthetic.yaml beside them and times,
in interleaved rounds (crmmetrics, DuckDB, crmmetrics, DuckDB, ...), fresh processes:

  set a    four `crmmetrics compute` runs (NPS/CSAT/CES by month and plan; win rate,
           sales cycle and pipeline by quarter; first reply and full resolution medians
           and one-touch rate by month and channel; monthly customer churn) against the
           same four results
           from benchmarks/duckdb_full_set.py, one process each; wall and CPU are summed
           over the four, peak memory is the largest of the four
  set b    `crmmetrics compute -p month` with no metric list (everything computable)
           against DuckDB computing what is feasible of it in SQL (see duckdb_full_set.py)
  10M      (--tickets-10m) the ticket run of set a on 10M tickets
  curve    (--linearity) `compute first_reply_time -p month` on 10k, 100k, 1M tickets
           (and 10M with --tickets-10m): cost per row should stay flat

After the first round it checks that crmmetrics and DuckDB agree on every value and
count they both compute (|diff| ≤ 1e-9, relative) and stops if they do not. Peak
memory is each child's own ru_maxrss (os.wait4). Every crmmetrics run is as of
2025-12-31, the generator's export date.

The children run as a user's would after ``pip install`` (run_benchmarks.user_env):
crmmetrics is byte-compiled first and PYTHONDONTWRITEBYTECODE is removed from their
environment. Figures before 2026-12-01 were taken on a machine that sets it, so every
crmmetrics process there also compiled ~50 modules from source (≈ 0.1 s per process,
≈ 0.4 s of set a) — a cost no installed copy pays.

Usage:
  python benchmarks/run_full_set.py                       # medium, 3 rounds
  python benchmarks/run_full_set.py --scale small -n 1    # a smoke run
  python benchmarks/run_full_set.py --tickets-10m --linearity --write-doc
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_benchmarks import DEFAULT_GENERATOR, machine_facts, run_once, write_doc  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
CONFIG = HERE / "synthetic.yaml"
DUCKDB = HERE / "duckdb_full_set.py"
TOLERANCE = 1e-9
AS_OF = "2025-12-31"
START, END = "<!-- full-set:start -->", "<!-- full-set:end -->"

# case → (crmmetrics arguments after `compute`, DuckDB case name)
SET_A = {
    "surveys": (["nps", "csat", "ces", "-p", "month", "-b", "plan"], "surveys"),
    "deals": (["win_rate", "sales_cycle_length", "pipeline_value", "-p", "quarter"], "deals"),
    "tickets": (["first_reply_time", "full_resolution_time", "one_touch_rate", "-p", "month", "-b", "channel"], "tickets"),
    "churn": (["customer_churn_rate", "-p", "month"], "churn"),
}
SET_B = {"all": (["-p", "month"], "all")}
CURVE = (["first_reply_time", "-p", "month"], "reply")
# What any pandas-based run pays before reading a byte: Python and the imports a run needs.
# Timed once per crmmetrics process beside the two, so the table shows how much of a
# wall-time goal that floor alone takes.
FLOOR = "import pandas, pyarrow.csv, pyarrow.compute"
CURVE_ROWS = [10_000, 100_000, 1_000_000]


def generate(out: Path, generator: Path, args: list[str], needed: list[str]) -> Path:
    """Run the generator into ``out`` unless the same request is already there."""
    stamp = out / "request.json"
    if all((out / f"{t}.csv").is_file() for t in needed) and stamp.is_file() and json.loads(stamp.read_text()) == args:
        return out
    if not generator.is_file():
        sys.exit(f"error: data generator not found at {generator}; pass --generator PATH/TO/gen_crm_data.py")
    print(f"generating {' '.join(args)} into {out} ...", file=sys.stderr)
    subprocess.run([sys.executable, str(generator), *args, "--out", str(out)], check=True)
    stamp.write_text(json.dumps(args))
    return out


def prepare(out: Path) -> Path:
    (out / "synthetic.yaml").write_text(CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    return out


def crm_cmd(args: list[str], out: str) -> list[str]:
    return [sys.executable, "-m", "crmmetrics", "compute", *args, "-c", "synthetic.yaml", "--as-of", AS_OF,
            "-f", "csv", "-o", out, "-q"]


def duck_cmd(case: str, out: str) -> list[str]:
    return [sys.executable, str(DUCKDB), case, ".", out]


def load(path: Path, by: str | None) -> dict[tuple, tuple[float | None, int]]:
    """(metric, period, segment) → (value, n) of a crmmetrics (segment: the ``by`` column)
    or DuckDB (segment: ``segment``) result; rows with n = 0 dropped (empty periods:
    crmmetrics reports them, a GROUP BY has no row for them)."""
    out = {}
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.DictReader(f)
        seg_col = "segment" if "segment" in (r.fieldnames or []) else by
        for row in r:
            n = int(float(row["n"])) if row["n"] else 0
            if n:
                out[(row["metric"], row["period"], row[seg_col] if seg_col else "")] = (float(row["value"]) if row["value"] else None, n)
    return out


def compare(ours: dict, ref: dict) -> list[str]:
    """Disagreements on the metrics the reference computes."""
    ours = {k: v for k, v in ours.items() if k[0] in {m for m, _, _ in ref}}
    problems = [f"{k}: only in {'crmmetrics' if k in ours else 'duckdb'}" for k in sorted(set(ours) ^ set(ref))]
    for k in sorted(set(ours) & set(ref)):
        (v1, n1), (v2, n2) = ours[k], ref[k]
        if n1 != n2 or v1 is None or v2 is None or not math.isclose(v1, v2, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
            problems.append(f"{k}: crmmetrics {v1!r} (n={n1}) vs duckdb {v2!r} (n={n2})")
    return problems


def time_work(name: str, data: Path, cases: dict, rounds: int, check: list[str]) -> dict:
    """Interleaved rounds of crmmetrics and DuckDB on one data set; sums per round."""
    res = {"name": name, "data": data, "crm": [], "duck": [], "floor": [], "cases": cases}
    for r in range(rounds):
        for side in ("crm", "duck", "floor"):
            wall = cpu = rss = 0.0
            for case, (args, dcase) in cases.items():
                cmd = (crm_cmd(args, f"out_crm_{case}.csv") if side == "crm" else duck_cmd(dcase, f"out_duck_{case}.csv")
                       if side == "duck" else [sys.executable, "-c", FLOOR])
                w, c, m = run_once(cmd, data)
                wall, cpu, rss = wall + w, cpu + (c or 0), max(rss, m or 0)
            res[side].append((wall, cpu, rss))
            print(f"  {name} round {r + 1} {side}: {wall:.2f} s wall, {cpu:.2f} s CPU, {rss:.0f} MB", file=sys.stderr)
        if r == 0:
            for case, (args, _) in cases.items():
                by = args[args.index("-b") + 1] if "-b" in args else None
                problems = compare(load(data / f"out_crm_{case}.csv", by), load(data / f"out_duck_{case}.csv", None))
                agreed = len(load(data / f"out_duck_{case}.csv", None))
                if problems:
                    sys.exit(f"error: {name}/{case}: crmmetrics and DuckDB disagree on {len(problems)} values:\n  "
                             + "\n  ".join(problems[:20]))
                check.append(f"{name}/{case}: {agreed} values and counts agree")
    return res


def summary(res: dict) -> dict:
    med = lambda side, i: statistics.median(x[i] for x in res[side])  # noqa: E731
    return {"crm_wall": med("crm", 0), "crm_cpu": med("crm", 1), "crm_rss": max(x[2] for x in res["crm"]),
            "duck_wall": med("duck", 0), "duck_cpu": med("duck", 1), "duck_rss": max(x[2] for x in res["duck"]),
            "floor_wall": med("floor", 0)}


def rows_of(data: Path, table: str) -> int:
    return json.loads((data / "manifest.json").read_text())["rows"][table]


def render(works: list[dict], curve: list[tuple], rounds: int, check: list[str], argv: list[str]) -> str:
    load_avg = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    lines = [f"Medians of {rounds} interleaved round(s); fresh processes, Python start-up included; "
             "peak memory is the largest ru_maxrss of a round's processes.", "", *machine_facts(),
             f"- Load average (1/5/15 min) at the end: {load_avg}", "",
             "| work | crmmetrics wall (s) | DuckDB wall (s) | ÷ DuckDB wall | crmmetrics CPU (s) | DuckDB CPU (s) "
             "| ÷ DuckDB CPU | crmmetrics peak (MB) | DuckDB peak (MB) | ÷ DuckDB memory | import floor wall (s) | floor ÷ DuckDB wall |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for w in works:
        s = summary(w)
        lines.append(f"| {w['label']} | {s['crm_wall']:.2f} | {s['duck_wall']:.2f} | {s['crm_wall'] / s['duck_wall']:.2f}× "
                     f"| {s['crm_cpu']:.2f} | {s['duck_cpu']:.2f} | {s['crm_cpu'] / s['duck_cpu']:.2f}× "
                     f"| {s['crm_rss']:.0f} | {s['duck_rss']:.0f} | {s['crm_rss'] / s['duck_rss']:.2f}× "
                     f"| {s['floor_wall']:.2f} | {s['floor_wall'] / s['duck_wall']:.2f}× |")
    if curve:
        lines += ["", "Linearity: `compute first_reply_time -p month` on tickets only (fresh process each):", "",
                  "| tickets | crmmetrics wall (s) | CPU (s) | CPU µs per row above the 10k run | peak (MB) "
                  "| DuckDB wall (s) | DuckDB CPU (s) | DuckDB peak (MB) | ÷ DuckDB wall |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        base = curve[0]
        for n, s in curve:
            per = f"{(s['crm_cpu'] - base[1]['crm_cpu']) / (n - base[0]) * 1e6:.2f}" if n > base[0] else "—"
            lines.append(f"| {n:,} | {s['crm_wall']:.2f} | {s['crm_cpu']:.2f} | {per} | {s['crm_rss']:.0f} "
                         f"| {s['duck_wall']:.2f} | {s['duck_cpu']:.2f} | {s['duck_rss']:.0f} | {s['crm_wall'] / s['duck_wall']:.2f}× |")
    lines += ["", f"Import floor: `python -c \"{FLOOR}\"`, once per crmmetrics process of the row, "
              "in the same rounds: what a pandas-based run pays before it reads its first byte.",
              "", "Check (first round): " + "; ".join(check) + f" (|diff| ≤ {TOLERANCE:g}).", "",
              "Command: `python benchmarks/run_full_set.py " + shlex.join(argv) + "`; the crmmetrics commands, "
              f"run in the data folder (`-c synthetic.yaml --as-of {AS_OF} -f csv -o out.csv -q` after each):", "", "```"]
    for w in works:
        for case, (args, dcase) in w["cases"].items():
            lines.append(f"crmmetrics compute {shlex.join(args)}    # DuckDB: duckdb_full_set.py {dcase}")
    lines.append("```")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=["small", "medium"], default="medium")
    ap.add_argument("-n", "--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--generator", type=Path, default=DEFAULT_GENERATOR, help="path to gen_crm_data.py")
    ap.add_argument("--sets", default="a,b", help="comma-separated: a, b (default both); '' for none")
    ap.add_argument("--tickets-10m", action="store_true", help="also time the ticket run on 10M tickets (1 GB CSV)")
    ap.add_argument("--linearity", action="store_true", help="one ticket metric on 10k → 100k → 1M (→ 10M) tickets")
    ap.add_argument("--write-doc", action="store_true", help="rewrite the full-set section of docs/performance.md")
    a = ap.parse_args(argv)
    gen = a.generator.resolve()
    sets = [s for s in a.sets.split(",") if s]

    works, check, curve = [], [], []
    if sets:
        data = prepare(generate(DATA / f"full-{a.scale}", gen, ["--scale", a.scale], ["customers", "deals", "tickets", "surveys"]))
        size = f"{rows_of(data, 'customers'):,} customers, {rows_of(data, 'deals'):,} deals, {rows_of(data, 'tickets'):,} tickets, {rows_of(data, 'surveys'):,} surveys"
        if "a" in sets:
            works.append(time_work("set a", data, SET_A, a.rounds, check) | {"label": f"set a (4 runs; {a.scale}: {size})"})
        if "b" in sets:
            works.append(time_work("set b", data, SET_B, a.rounds, check)
                         | {"label": "set b: `compute -p month`, no metric list (DuckDB: the feasible subset)"})
    if a.tickets_10m:
        big = prepare(generate(DATA / "tickets-10m", gen, ["--scale", "large", "--tables", "tickets"], ["tickets"]))
        works.append(time_work("10M", big, {"tickets": SET_A["tickets"]}, a.rounds, check)
                     | {"label": "10M tickets: reply and resolution medians and one-touch rate by month and channel"})
    if a.linearity:
        points = [(n, DATA / f"tickets-{n}", ["--scale", "medium", "--tables", "tickets", "--rows", f"tickets={n}"]) for n in CURVE_ROWS]
        if a.tickets_10m:
            points.append((10_000_000, DATA / "tickets-10m", ["--scale", "large", "--tables", "tickets"]))
        for n, out, gargs in points:
            d = prepare(generate(out, gen, gargs, ["tickets"]))
            res = time_work(f"curve {n:,}", d, {"curve": CURVE}, a.rounds, check)
            curve.append((n, summary(res)))
    section = render(works, curve, a.rounds, check, argv)
    print(section)
    if a.write_doc:
        write_doc(section, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
