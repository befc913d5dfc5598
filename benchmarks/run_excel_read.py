#!/usr/bin/env python3
"""The Excel-input goal of issue #15: a 100k-row .xlsx source ≤ 1.2× a bare
``pandas.read_excel(engine="calamine")`` of the same sheet.

Generates the deals workbook once with ../shared/tools/gen_crm_data.py (``--scale medium
--tables deals --rows deals=N --xlsx --no-csv``) into the git-ignored benchmarks/data/,
writes a config mapping it beside it, then times in interleaved rounds, as fresh processes
(start-up and imports count, as they do for a user):

  crmmetrics      compute new_opportunities -p month -f csv -o OUT -q   (the product)
  read_excel      python -c "import pandas; pandas.read_excel(PATH, engine='calamine')"
  read_excel, 1 BLAS thread   the same with OPENBLAS_NUM_THREADS=1, which crmmetrics' main()
                  sets for itself (numpy starts a BLAS thread per core on import otherwise);
                  the stricter reference, shown so the ratio is not flattered by it

and prints medians of wall and CPU (user + system) time, peak RSS, the ratios and the load
average. CPU is the figure to read on a shared machine. Children run as after a pip
install (see run_benchmarks.user_env: byte-compiled, PYTHONDONTWRITEBYTECODE cleared).

Usage:
  python benchmarks/run_excel_read.py                # 100k deals, 5 rounds
  python benchmarks/run_excel_read.py --rows 1000 -n 3
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_benchmarks import DEFAULT_GENERATOR, machine_facts, run_once  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
GOAL = 1.2
CONFIG = """\
# Written by benchmarks/run_excel_read.py for gen_crm_data.py's deals.xlsx.
version: 1
timezone: UTC
sources:
  deals:
    path: deals.xlsx
    fields: {deal_id: id, customer_id: customer_id, created_at: created_at, closed_at: closed_at, status: stage, amount: amount, owner: owner, source: source}
    values:
      status: {"Won": won, "Lost": lost, "*": open}
"""
READ_EXCEL = "import sys, pandas; pandas.read_excel(sys.argv[1], engine='calamine')"


def workbook(rows: int, generator: Path) -> Path:
    """benchmarks/data/xlsx-deals-ROWS with deals.xlsx and deals.yaml (generated once)."""
    out = DATA / f"xlsx-deals-{rows}"
    args = ["--scale", "medium", "--tables", "deals", "--rows", f"deals={rows}", "--xlsx", "--no-csv"]
    stamp = out / "request.json"
    if not ((out / "deals.xlsx").is_file() and stamp.is_file() and json.loads(stamp.read_text()) == args):
        if not generator.is_file():
            sys.exit(f"error: data generator not found at {generator}; pass --generator PATH/TO/gen_crm_data.py")
        print(f"generating {' '.join(args)} into {out} ...", file=sys.stderr)
        subprocess.run([sys.executable, str(generator), *args, "--out", str(out)], check=True)
        stamp.write_text(json.dumps(args))
    (out / "deals.yaml").write_text(CONFIG, encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000, help="deal rows in the workbook (default 100000)")
    ap.add_argument("-n", "--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--generator", type=Path, default=DEFAULT_GENERATOR, help="path to gen_crm_data.py")
    a = ap.parse_args(argv)
    data = workbook(a.rows, a.generator.resolve())
    cases = {
        "crmmetrics compute new_opportunities": ([sys.executable, "-m", "crmmetrics", "compute", "new_opportunities", "-c", "deals.yaml",
                                                  "-p", "month", "-f", "csv", "-o", "out_crm.csv", "-q"], {}),
        "read_excel (calamine)": ([sys.executable, "-c", READ_EXCEL, "deals.xlsx"], {}),
        "read_excel (calamine), 1 BLAS thread": ([sys.executable, "-c", READ_EXCEL, "deals.xlsx"], {"OPENBLAS_NUM_THREADS": "1"}),
    }
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in cases}
    for r in range(a.rounds):
        for name, (cmd, extra) in cases.items():
            wall, cpu, rss = run_once(cmd, data, extra)
            runs[name].append((wall, cpu or 0.0, rss or 0.0))
            print(f"  round {r + 1} {name}: {wall:.2f} s wall, {cpu or 0:.2f} s CPU, {rss or 0:.0f} MB", file=sys.stderr)
    med = {name: tuple(statistics.median(x[i] for x in rs) for i in range(3)) for name, rs in runs.items()}
    crm = med["crmmetrics compute new_opportunities"]
    load_avg = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    lines = [f"Excel input, {a.rows:,} deal rows (`deals.xlsx`, {(data / 'deals.xlsx').stat().st_size / 1e6:.1f} MB): "
             f"medians of {a.rounds} interleaved round(s), fresh processes.", "", *machine_facts(),
             f"- Load average (1/5/15 min) at the end: {load_avg}", "",
             "| case | wall (s) | CPU (s) | peak (MB) | crmmetrics ÷ this, wall | crmmetrics ÷ this, CPU |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, (wall, cpu, rss) in med.items():
        ratios = "| — | — |" if name.startswith("crmmetrics") else f"| {crm[0] / wall:.2f}× | {crm[1] / cpu:.2f}× |"
        lines.append(f"| {name} | {wall:.2f} | {cpu:.2f} | {rss:.0f} {ratios}")
    worst = max(crm[1] / med[n][1] for n in med if not n.startswith("crmmetrics"))
    lines += ["", f"Goal: ≤ {GOAL}× CPU → {'met' if worst <= GOAL else 'not met'} ({worst:.2f}× against the stricter reference).",
              "", "Command: `python benchmarks/run_excel_read.py " + shlex.join(argv) + "`"]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
