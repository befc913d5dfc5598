#!/usr/bin/env python3
"""Where crmmetrics' time goes on the full set: cProfile, attributed to stages.

Runs the crmmetrics commands of run_full_set.py (set a: four runs; set b: `compute
-p month` with no metric list) in this process under cProfile, on the data that
run_full_set.py generated (benchmarks/data/full-<scale>/; run that first), and
prints a Markdown table of where the time went.

Attribution: cProfile gives each function its own ("self") time. Time spent inside
pandas, numpy, pyarrow or the standard library is handed up the call graph, split in
proportion to each caller's share, until it reaches a crmmetrics function; module-level
code and importlib count as imports. So "io/parse.py" includes the pandas work that
parse.py asked for. Each crmmetrics module is then mapped to a stage.

Usage:
  python benchmarks/profile_full_set.py                 # medium, sets a and b
  python benchmarks/profile_full_set.py --sets a --top 25
  python benchmarks/profile_full_set.py --save prof.out # also keep the raw profile
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_full_set import AS_OF, DATA, SET_A, SET_B  # noqa: E402

# crmmetrics module (path under crmmetrics/) → stage. First match wins.
STAGES = [
    ("io/readers.py", "read (bytes, hash, decode, CSV/XLSX parse)"),
    ("io/detect.py", "read (bytes, hash, decode, CSV/XLSX parse)"),
    ("io/parse.py", "typing and cleaning (parse_*, clean_text, value maps)"),
    ("dataset.py", "typing and cleaning (parse_*, clean_text, value maps)"),
    ("engine.py", "engine (plan, --by joins, period grid, issues)"),
    ("periods.py", "engine (plan, --by joins, period grid, issues)"),
    ("metrics/", "per-metric compute"),
    ("analyses/", "per-metric compute"),
    ("render/", "output (CSV/JSON/XLSX, terminal)"),
    ("cli/output.py", "output (CSV/JSON/XLSX, terminal)"),
    ("config.py", "config (load, validate, option models)"),
    ("schema.py", "config (load, validate, option models)"),
    ("yamlload.py", "config (load, validate, option models)"),
]
IMPORTS = "imports"


def is_own(func: tuple) -> bool:
    return f"{os.sep}crmmetrics{os.sep}" in func[0] and f"{os.sep}site-packages{os.sep}" not in func[0]


def is_import(func: tuple) -> bool:
    return func[2] == "<module>" or "importlib" in func[0] or func[2].startswith("<built-in method _imp.")


def attribute(stats: dict) -> dict[tuple, float]:
    """Self time of every function, handed up to the nearest crmmetrics (or import) frame."""
    memo: dict[tuple, dict[tuple, float]] = {}

    def dist(func: tuple, seen: frozenset) -> dict[tuple, float]:
        """func's time as shares of the crmmetrics frames above it. Cycles (recursion in
        pandas) are cut: a caller already on the path is skipped and the others renormalised."""
        if is_own(func) or is_import(func):
            return {func: 1.0}
        if func in memo:
            return memo[func]
        callers = stats[func][4] if func in stats else {}
        if not callers:
            return {func: 1.0}  # a root outside crmmetrics (the profiler's own frames)
        live = {c: v for c, v in callers.items() if c not in seen and v[3] > 0}
        total = sum(v[3] for v in live.values())
        out: dict[tuple, float] = defaultdict(float)
        for caller, v in live.items():
            for target, share in dist(caller, seen | {func}).items():
                out[target] += share * v[3] / total
        norm = sum(out.values())
        # Nothing but the path itself above: contribute nothing here (the caller renormalises).
        result = {k: v / norm for k, v in out.items()} if norm > 0 else {}
        if len(live) == len(callers):  # complete: safe to reuse on other paths
            memo[func] = result
        return result

    got: dict[tuple, float] = defaultdict(float)
    for func, (_cc, _nc, tt, _ct, _callers) in stats.items():
        for target, share in (dist(func, frozenset()) or {func: 1.0}).items():
            got[target] += tt * share
    return got


def stage_of(func: tuple) -> str:
    if is_import(func):
        return IMPORTS
    if not is_own(func):
        return "other (outside crmmetrics, no crmmetrics caller)"
    rel = func[0].split(f"{os.sep}crmmetrics{os.sep}", 1)[1].replace(os.sep, "/")
    return next((stage for prefix, stage in STAGES if rel.startswith(prefix)), f"other crmmetrics ({rel})")


def run(argv: list[str]) -> None:
    from crmmetrics.cli import app

    try:
        app(argv, prog_name="crmmetrics")
    except SystemExit as e:
        if e.code not in (0, None):
            raise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=["small", "medium"], default="medium")
    ap.add_argument("--sets", default="a,b")
    ap.add_argument("--top", type=int, default=15, help="crmmetrics functions to list (default 15)")
    ap.add_argument("--save", type=Path, help="write the raw cProfile data here")
    a = ap.parse_args(argv)
    data = DATA / f"full-{a.scale}"
    if not (data / "synthetic.yaml").is_file():
        sys.exit(f"error: {data} has no data yet; run python benchmarks/run_full_set.py --scale {a.scale} -n 1 first")
    os.chdir(data)
    cases = {**({f"a/{k}": v for k, v in SET_A.items()} if "a" in a.sets else {}),
             **({f"b/{k}": v for k, v in SET_B.items()} if "b" in a.sets else {})}
    out = []
    for set_name in sorted({k.split("/")[0] for k in cases}):
        # CPU time, not wall time: on a shared machine wall time mostly measures the others.
        prof = cProfile.Profile(time.process_time)
        t0, c0 = time.perf_counter(), time.process_time()
        prof.enable()
        # Imports are profiled once, in the first run, as a process pays them once.
        for name, (args, _) in cases.items():
            if name.startswith(set_name + "/"):
                run(["compute", *args, "-c", "synthetic.yaml", "--as-of", AS_OF, "-f", "csv", "-o", f"prof_{name.replace('/', '_')}.csv", "-q"])
        prof.disable()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if a.save:
            prof.dump_stats(f"{a.save}.{set_name}")
        stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
        got = attribute(stats)
        total = sum(got.values())
        by_stage: dict[str, float] = defaultdict(float)
        for func, t in got.items():
            by_stage[stage_of(func)] += t
        out += [f"Set {set_name}: {wall:.1f} s wall, {cpu:.1f} s CPU in-process under cProfile (profiled CPU time {total:.1f} s).", "",
                "| stage | CPU (s) | share |", "|---|---:|---:|"]
        out += [f"| {s} | {t:.1f} | {t / total:.0%} |" for s, t in sorted(by_stage.items(), key=lambda kv: -kv[1])]
        out += ["", f"Top {a.top} crmmetrics functions (self time plus the library time they called directly or through libraries):", "",
                "| function | CPU (s) | share |", "|---|---:|---:|"]
        own = sorted(((f, t) for f, t in got.items() if is_own(f) and not is_import(f)), key=lambda kv: -kv[1])[: a.top]
        for f, t in own:
            rel = f[0].split(f"{os.sep}crmmetrics{os.sep}", 1)[1]
            out.append(f"| `{rel}:{f[2]}` | {t:.1f} | {t / total:.0%} |")
        out.append("")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
