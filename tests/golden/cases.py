"""The golden cases and how an output is reduced to what must not change.

A case is one `crmmetrics compute ... -f json` run. What is kept of its report:
every result row (keyed by metric, period and --by segment) with its numbers, and
the issue counts per (metric, code, level). Timestamps, paths and messages are
left out, so rewording a message does not churn the golden files; a changed
number or a changed issue count does.

Used by tests/test_golden_outputs.py (compare) and tests/golden/regen.py (rewrite).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent
GENERATOR = Path(os.environ.get("CRMMETRICS_GENERATOR", ROOT.parent / "shared" / "tools" / "gen_crm_data.py"))
SYNTHETIC_CONFIG = ROOT / "benchmarks" / "synthetic.yaml"
# A fixed "now": several metrics (stock snapshots, open pipelines) depend on it.
AS_OF = "2025-12-31"

# name → (data set, compute arguments). "sample" runs config.example.yaml in the repo
# root; "synthetic" runs benchmarks/synthetic.yaml on `gen_crm_data.py --scale small`.
CASES: dict[str, tuple[str, list[str]]] = {
    "sample_all_month": ("sample", ["-p", "month"]),
    "sample_by_plan_quarter": ("sample", ["nps", "csat", "win_rate", "first_reply_time", "customer_churn_rate",
                                          "-p", "quarter", "-b", "plan"]),
    "synthetic_all_month": ("synthetic", ["-p", "month"]),
    "synthetic_surveys_by_plan": ("synthetic", ["nps", "csat", "ces", "-p", "month", "-b", "plan"]),
    "synthetic_deals_quarter": ("synthetic", ["win_rate", "sales_cycle_length", "pipeline_value", "-p", "quarter"]),
    "synthetic_tickets_by_channel": ("synthetic", ["first_reply_time", "full_resolution_time", "one_touch_rate",
                                                   "-p", "month", "-b", "channel"]),
}

# Row fields that identify a row rather than measure it (stage: stage_duration has a
# row per stage).
_KEY_FIELDS = ("metric", "period", "period_start", "period_end", "stage")


def generate_synthetic(out: Path) -> Path:
    """Write the small synthetic set (10k rows per table) and the config into ``out``."""
    subprocess.run([sys.executable, str(GENERATOR), "--scale", "small", "--out", str(out)],
                   check=True, capture_output=True)
    (out / "synthetic.yaml").write_text(SYNTHETIC_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    return out / "synthetic.yaml"


def run_case(args: list[str], config: Path) -> dict:
    """Run `crmmetrics compute` as a user would and return its JSON report."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "crmmetrics", "compute", *args, "-c", str(config), "--as-of", AS_OF,
               "-f", "json", "-o", str(out), "-q"]
        proc = subprocess.run(cmd, cwd=config.parent, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
        return json.loads(out.read_text(encoding="utf-8"))


def reduce_report(report: dict) -> dict:
    """What a golden file holds: result rows by key (null fields dropped) and issue counts."""
    by = report.get("by") or []
    rows: dict[str, dict] = {}
    for r in report["results"]:
        key = "|".join([str(r.get(f)) for f in ("metric", "period", *by)] + ([str(r["stage"])] if r.get("stage") is not None else []))
        if key in rows:
            raise AssertionError(f"two result rows with the key {key}")
        rows[key] = {k: v for k, v in r.items() if k not in _KEY_FIELDS and k not in by and v is not None
                     and not (isinstance(v, float) and math.isnan(v))}
    issues: Counter = Counter()
    for i in report["issues"]:
        issues[f"{i.get('metric')}|{i['code']}|{i['level']}"] += int(i.get("count") or 1)
    return {"results": rows, "issues": dict(sorted(issues.items()))}


def differences(golden: dict, now: dict, rel: float = 1e-9) -> list[str]:
    """Readable differences. Fields present now but absent from the golden file are new
    columns (an addition, not a change) and are ignored; everything else must match."""
    out = []
    g, n = golden["results"], now["results"]
    out += [f"row {k}: missing now" for k in sorted(set(g) - set(n))]
    out += [f"row {k}: new row" for k in sorted(set(n) - set(g))]
    for key in sorted(set(g) & set(n)):
        for field, want in g[key].items():
            got = n[key].get(field)
            if isinstance(want, (int, float)) and isinstance(got, (int, float)) and not isinstance(want, bool):
                if math.isclose(want, got, rel_tol=rel, abs_tol=rel):
                    continue
            elif want == got:
                continue
            out.append(f"row {key} field {field}: golden {want!r}, now {got!r}")
    gi, ni = golden["issues"], now["issues"]
    for key in sorted(set(gi) | set(ni)):
        if gi.get(key) != ni.get(key):
            out.append(f"issues {key}: golden {gi.get(key)}, now {ni.get(key)}")
    return out


def golden_path(name: str) -> Path:
    return GOLDEN / f"{name}.json"


def dump(data: dict) -> str:
    """Stable, diff-friendly JSON: one result row and one issue count per line."""
    def line(key: str, value) -> str:
        return f"  {json.dumps(key, ensure_ascii=False)}: {json.dumps(value, sort_keys=True, ensure_ascii=False)}"

    parts = []
    for section in ("results", "issues"):
        body = ",\n".join(line(k, v) for k, v in sorted(data[section].items()))
        parts.append(f"{json.dumps(section)}: {{\n{body}\n}}")
    return "{\n" + ",\n".join(parts) + "\n}\n"
