#!/usr/bin/env python3
"""A/B of two crmmetrics revisions on the full-set commands: CPU, peak memory, same output?

Usage: python benchmarks/ab_compare.py BASE_REV HEAD_REV [--scale medium]

Exports ``crmmetrics/`` of each revision (``git archive``) into a temporary folder and
runs each command of run_full_set.py (set a and set b) once per revision, interleaved, as
fresh processes with PYTHONPATH pointing at that export. Prints CPU (user + system of the
child, os.wait4), peak RSS and whether both outputs are byte-identical. CPU rather than
wall time: on a shared machine wall time mostly measures the other jobs. Run
run_full_set.py once first so the data exists.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_benchmarks import ROOT  # noqa: E402
from run_full_set import AS_OF, DATA, SET_A, SET_B  # noqa: E402


def export(rev: str, into: Path) -> Path:
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev, "crmmetrics"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run(code: Path, args: list[str], data: Path, out: Path) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=str(code))
    cmd = [sys.executable, "-m", "crmmetrics", "compute", *args, "-c", "synthetic.yaml", "--as-of", AS_OF, "-f", "csv", "-o", str(out), "-q"]
    proc = subprocess.Popen(cmd, cwd=data, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status):
        sys.exit(f"error: {' '.join(cmd)} failed with {code}")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base")
    ap.add_argument("head")
    ap.add_argument("--scale", choices=["small", "medium"], default="medium")
    a = ap.parse_args()
    data = DATA / f"full-{a.scale}"
    if not (data / "synthetic.yaml").is_file():
        sys.exit(f"error: no data in {data}; run python benchmarks/run_full_set.py --scale {a.scale} -n 1 first")
    with tempfile.TemporaryDirectory() as tmp:
        base, head = export(a.base, Path(tmp) / "base"), export(a.head, Path(tmp) / "head")
        print(f"| command | CPU {a.base} (s) | CPU {a.head} (s) | peak {a.base} (MB) | peak {a.head} (MB) | same output |")
        print("|---|---:|---:|---:|---:|---|")
        for args, _ in [*SET_A.values(), *SET_B.values()]:
            b = run(base, args, data, Path(tmp) / "b.csv")
            h = run(head, args, data, Path(tmp) / "h.csv")
            same = (Path(tmp) / "b.csv").read_bytes() == (Path(tmp) / "h.csv").read_bytes()
            print(f"| `{' '.join(args)}` | {b[0]:.2f} | {h[0]:.2f} | {b[1]:.0f} | {h[1]:.0f} | {'yes' if same else 'NO'} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
