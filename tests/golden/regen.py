#!/usr/bin/env python3
"""Rewrite the golden outputs under tests/golden/ from the current code.

    python tests/golden/regen.py            # every case
    python tests/golden/regen.py sample_all_month synthetic_all_month

Only run this when a number or an issue count changes ON PURPOSE (a definition fix,
a new issue code) and say in the commit message which cases changed and why: the
golden files exist so that speed work cannot change an output unnoticed. Review
`git diff tests/golden/` before committing.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.golden.cases import CASES, ROOT, GENERATOR, dump, generate_synthetic, golden_path, reduce_report, run_case  # noqa: E402


def main(names: list[str]) -> int:
    unknown = set(names) - set(CASES)
    if unknown:
        print(f"unknown case(s): {', '.join(sorted(unknown))}; known: {', '.join(CASES)}", file=sys.stderr)
        return 2
    wanted = names or list(CASES)
    with tempfile.TemporaryDirectory() as tmp:
        synthetic = None
        for name in wanted:
            kind, args = CASES[name]
            if kind == "synthetic":
                if not GENERATOR.is_file():
                    print(f"skip {name}: generator {GENERATOR} not found (set CRMMETRICS_GENERATOR)", file=sys.stderr)
                    continue
                synthetic = synthetic or generate_synthetic(Path(tmp))
                config = synthetic
            else:
                config = ROOT / "config.example.yaml"
            golden_path(name).write_text(dump(reduce_report(run_case(args, config))), encoding="utf-8")
            print(f"wrote {golden_path(name).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
