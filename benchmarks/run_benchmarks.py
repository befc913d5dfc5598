#!/usr/bin/env python3
"""End-to-end timing of `crmmetrics compute nps csat ces` against two baselines.

Builds a synthetic survey export with ../shared/tools/gen_crm_data.py (once, into the
git-ignored benchmarks/data/<scale>/), then times, each --repeat times, as separate
processes (so Python start-up and imports count, as they do for a user):

  crmmetrics   compute nps csat ces -p month -f csv     (the product, end to end)
  crmmetrics   compute nps -p month                     (one metric: fixed vs per-metric cost)
  pandas       pandas.read_csv(path, engine="pyarrow")  (just reading the file: a floor)
  duckdb       the same monthly NPS, CSAT and CES in SQL (what the work costs elsewhere)

Children run as a user's process after ``pip install`` would (:func:`user_env`): crmmetrics
byte-compiled, PYTHONDONTWRITEBYTECODE cleared, so a machine that sets it does not add
compiling every module from source to each timed run. It reports min and median wall time and peak RSS per case, checks that crmmetrics
and DuckDB give the same monthly numbers (|diff| <= 1e-9), and prints a Markdown
table with the ratios. DuckDB is optional: `pip install -e '.[bench]'`.

Usage:
  python benchmarks/run_benchmarks.py                    # medium: 1M survey rows
  python benchmarks/run_benchmarks.py --scale small -n 1 # 10k rows, a quick smoke run
  python benchmarks/run_benchmarks.py --write-doc        # also update docs/performance.md
  python benchmarks/run_benchmarks.py --generator /path/to/gen_crm_data.py
"""
from __future__ import annotations

import argparse
import csv
import functools
import importlib.metadata as md
import importlib.util
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_GENERATOR = ROOT.parent / "shared" / "tools" / "gen_crm_data.py"
DOC = ROOT / "docs" / "performance.md"
DOC_START, DOC_END = "<!-- results:start -->", "<!-- results:end -->"
TOLERANCE = 1e-9

# UTC: the generator writes naive timestamps and DuckDB buckets them as wall-clock
# time, so both sides must read them in the same zone for the months to line up.
# Scales are the generator's: CSAT 1-5 (top-2 box = 4+), CES 1-7 skewed towards 7,
# i.e. a CES 2.0 agreement scale where higher means easier.
CONFIG = """\
# Written by benchmarks/run_benchmarks.py; mapping for gen_crm_data.py surveys.csv.
version: 1
timezone: UTC
sources:
  surveys:
    path: surveys.csv
    fields: {response_id: id, customer_id: customer_id, survey_type: type, score: score, responded_at: submitted_at}
metrics:
  nps: {promoter_min: 9, detractor_max: 6}
  csat: {scale: [1, 5], satisfied_min: 4}
  ces: {scale: [1, 7], higher_is_easier: true}
"""

# A bare read, as a floor: what any pandas-based tool pays before doing any work.
PANDAS_CHILD = 'import sys, pandas; pandas.read_csv(sys.argv[1], engine="pyarrow")'
# The SQL lives in its own file so it can be read (and run) on its own.
DUCKDB_SCRIPT = Path(__file__).resolve().parent / "duckdb_reference.py"


def ensure_data(scale: str, generator: Path) -> Path:
    """benchmarks/data/<scale>/surveys.csv, generated once (the generator is deterministic)."""
    out = ROOT / "benchmarks" / "data" / scale
    manifest = out / "manifest.json"
    if (out / "surveys.csv").is_file() and manifest.is_file() and json.loads(manifest.read_text()).get("scale") == scale:
        return out
    if not generator.is_file():
        sys.exit(f"error: data generator not found at {generator}\n"
                 f"  the default is ../shared/tools/gen_crm_data.py next to the project;\n"
                 f"  pass --generator PATH/TO/gen_crm_data.py (any copy of it works)")
    print(f"generating {scale} surveys into {out} ...", file=sys.stderr)
    subprocess.run([sys.executable, str(generator), "--scale", scale, "--tables", "surveys", "--out", str(out)], check=True)
    return out


@functools.lru_cache(maxsize=None)
def _byte_compile() -> None:
    """Byte-compile the crmmetrics package the children import (once per benchmark)."""
    import compileall

    import crmmetrics

    compileall.compile_dir(str(Path(crmmetrics.__file__).parent), quiet=1)


def user_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a timed child: as a user's after ``pip install``.

    pip byte-compiles what it installs, so a user's process loads crmmetrics from .pyc
    files. A machine (or CI) that sets PYTHONDONTWRITEBYTECODE=1 — this project's
    benchmark machine did — would instead compile every crmmetrics module from source in
    every timed process (≈ 0.1 s per process, four processes in set a), a cost no user pays. So the
    package is byte-compiled once (``compileall``, beside an editable install's sources,
    git-ignored __pycache__/) and the children run without the variable. ``extra`` adds
    variables for one case.
    """
    _byte_compile()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return env | (extra or {})


def run_once(cmd: list[str], cwd: Path, extra_env: dict[str, str] | None = None) -> tuple[float, float | None, float | None]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one child process (environment:
    :func:`user_env` plus ``extra_env``).

    os.wait4 returns the rusage of exactly this child (RUSAGE_CHILDREN would only give
    the maximum over every child so far, hiding a smaller case run after a bigger one).
    CPU time (user + system, all threads) is reported because it is far less disturbed
    than wall time when other work shares the machine.
    """
    env = user_env(extra_env)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    err = proc.stderr.read()  # drain before waiting, so a chatty child cannot block
    if hasattr(os, "wait4"):
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        # ru_maxrss is KiB on Linux, bytes on macOS.
        rss = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
        cpu = usage.ru_utime + usage.ru_stime
    else:  # Windows: no rusage
        proc.wait()
        wall, cpu, rss = time.perf_counter() - t0, None, None
    if proc.returncode != 0:
        sys.exit(f"error: {shlex.join(cmd)} exited {proc.returncode}\n{err.decode(errors='replace')[-2000:]}")
    return wall, cpu, rss


def bench(cmd: list[str], cwd: Path, repeat: int) -> dict:
    runs = [run_once(cmd, cwd) for _ in range(repeat)]
    walls = [w for w, _, _ in runs]
    cpus = [c for _, c, _ in runs if c is not None]
    rss = [r for _, _, r in runs if r is not None]
    return {"cmd": cmd, "min": min(walls), "median": statistics.median(walls), "cpu": min(cpus) if cpus else None,
            "rss": max(rss) if rss else None}


def load_results(path: Path) -> dict[tuple[str, str], tuple[float, int]]:
    """(metric, period) → (value, n) from a crmmetrics or DuckDB result CSV.

    Rows with n = 0 are dropped: crmmetrics reports empty months (value null), a
    GROUP BY has no row for them, and neither is a disagreement.
    """
    with open(path, newline="", encoding="utf-8") as f:
        return {(r["metric"], r["period"]): (float(r["value"]), int(r["n"])) for r in csv.DictReader(f) if int(r["n"]) > 0}


def compare(ours: dict, ref: dict) -> list[str]:
    """Every disagreement between crmmetrics and DuckDB, as readable lines."""
    problems = [f"{k[0]} {k[1]}: only in {'crmmetrics' if k in ours else 'duckdb'}" for k in sorted(set(ours) ^ set(ref))]
    for key in sorted(set(ours) & set(ref)):
        (v1, n1), (v2, n2) = ours[key], ref[key]
        if n1 != n2 or not abs(v1 - v2) <= TOLERANCE:
            problems.append(f"{key[0]} {key[1]}: crmmetrics {v1!r} (n={n1}) vs duckdb {v2!r} (n={n2})")
    return problems


def machine_facts() -> list[str]:
    def version(dist: str) -> str:
        try:
            return md.version(dist)
        except md.PackageNotFoundError:
            return "not installed"

    ram = ""
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        ram = f", {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB RAM"
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return [
        f"- Machine: {platform.machine()} {platform.processor() or ''}".rstrip() + f", {os.cpu_count()} CPUs (nproc){ram}, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; crmmetrics {version('crmmetrics')} ({commit or 'no git'}), "
        f"pandas {version('pandas')}, pyarrow {version('pyarrow')}, numpy {version('numpy')}, duckdb {version('duckdb')}",
    ]


def render(scale: str, rows_n: int, size_mb: float, repeat: int, cases: dict[str, dict], notes: list[str]) -> str:
    # Ratios use the minimum wall time: the run least disturbed by other load.
    base_pd = cases.get("pandas.read_csv (pyarrow)", {}).get("min")
    base_db = cases.get("DuckDB SQL, same metrics", {}).get("min")
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    lines = [f"Scale `{scale}`: {rows_n:,} survey rows, {size_mb:.1f} MB CSV; {repeat} run(s) per case; "
             f"wall time includes Python start-up; CPU is the smallest user + system time of the runs; "
             f"peak RSS is the largest of the runs.", "", *machine_facts(), f"- Load average (1/5/15 min) at the end: {load}", "",
             "| Case | min (s) | median (s) | CPU (s) | peak RSS (MB) | ÷ pandas read | ÷ DuckDB |",
             "|---|---:|---:|---:|---:|---:|---:|"]

    def ratio(name: str, c: dict, base: float | None) -> str:
        return f"{c['min'] / base:.1f}×" if base and name.startswith("crmmetrics") else ""

    for name, c in cases.items():
        rss = f"{c['rss']:.0f}" if c["rss"] is not None else "n/a"
        cpu = f"{c['cpu']:.2f}" if c["cpu"] is not None else "n/a"
        lines.append(f"| {name} | {c['min']:.2f} | {c['median']:.2f} | {cpu} | {rss} | {ratio(name, c, base_pd)} | {ratio(name, c, base_db)} |")
    lines += ["", f"Ratios are of minimum wall times. Commands, run in `benchmarks/data/{scale}/`:", "", "```"]
    lines += [shlex.join(["python", *c["cmd"][1:]]) for c in cases.values()]  # as a user would type them
    lines += ["```"] + ([""] + notes if notes else [])
    return "\n".join(lines)


def write_doc(section: str, start: str = DOC_START, end: str = DOC_END) -> None:
    """Replace the text between the ``start`` and ``end`` markers of docs/performance.md."""
    text = DOC.read_text(encoding="utf-8") if DOC.is_file() else f"# Performance\n\n{start}\n{end}\n"
    if start not in text or end not in text:
        sys.exit(f"error: {DOC} has no {start} ... {end} markers; add them where the results go")
    head, rest = text.split(start, 1)
    DOC.write_text(f"{head}{start}\n{section}\n{end}{rest.split(end, 1)[1]}", encoding="utf-8")
    print(f"updated {DOC}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=["small", "medium"], default="medium", help="small = 10k rows, medium = 1M (default)")
    ap.add_argument("-n", "--repeat", type=int, default=3, help="runs per case (default 3)")
    ap.add_argument("--generator", type=Path, default=DEFAULT_GENERATOR, help="path to gen_crm_data.py")
    ap.add_argument("--write-doc", action="store_true", help="rewrite the results section of docs/performance.md")
    a = ap.parse_args(argv)

    data = ensure_data(a.scale, a.generator.resolve())
    (data / "bench.yaml").write_text(CONFIG, encoding="utf-8")
    csv_path = data / "surveys.csv"
    py, cm = sys.executable, [sys.executable, "-m", "crmmetrics", "compute"]
    plan = {
        "crmmetrics compute nps csat ces": cm + ["nps", "csat", "ces", "-c", "bench.yaml", "-p", "month", "-f", "csv", "-o", "out_crmmetrics.csv", "-q"],
        "crmmetrics compute nps": cm + ["nps", "-c", "bench.yaml", "-p", "month", "-f", "csv", "-o", "out_nps.csv", "-q"],
        "pandas.read_csv (pyarrow)": [py, "-c", PANDAS_CHILD, "surveys.csv"],
        "DuckDB SQL, same metrics": [py, os.path.relpath(DUCKDB_SCRIPT, data), "surveys.csv", "out_duckdb.csv"],
    }
    notes: list[str] = []
    if importlib.util.find_spec("duckdb") is None:
        del plan["DuckDB SQL, same metrics"]
        notes.append("DuckDB row skipped: duckdb is not installed (`pip install -e '.[bench]'`).")
    cases = {}
    for name, cmd in plan.items():
        print(f"timing {name} x{a.repeat} ...", file=sys.stderr)
        cases[name] = bench(cmd, data, a.repeat)

    if "DuckDB SQL, same metrics" in cases:
        problems = compare(load_results(data / "out_crmmetrics.csv"), load_results(data / "out_duckdb.csv"))
        if problems:
            print(f"WARNING: crmmetrics and DuckDB disagree on {len(problems)} values:", *problems[:20], sep="\n  ", file=sys.stderr)
            notes.append(f"**Warning:** crmmetrics and DuckDB disagree on {len(problems)} monthly values (first: {problems[0]}).")
        else:
            agreed = len(load_results(data / "out_duckdb.csv"))
            notes.append(f"Check: crmmetrics and DuckDB agree on all {agreed} monthly NPS, CSAT and CES values and counts (|diff| ≤ {TOLERANCE:g}).")
    rows_n = json.loads((data / "manifest.json").read_text())["rows"]["surveys"]
    section = render(a.scale, rows_n, csv_path.stat().st_size / 1e6, a.repeat, cases, notes)
    print(section)
    if a.write_doc:
        write_doc(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
