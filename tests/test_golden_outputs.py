"""Outputs must not change unnoticed: every computable metric on sample_data and on the
small synthetic set (gen_crm_data.py --scale small) against tests/golden/*.json.

Speed work (issue #15) must keep every number and every issue count identical. When a
change is meant to alter outputs (a definition fix), regenerate with
`python tests/golden/regen.py` and justify the golden diff in the commit message.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.golden.cases import CASES, GENERATOR, ROOT, differences, generate_synthetic, golden_path, reduce_report, run_case

HINT = ("outputs changed. If this is intended (a definition fix), run `python tests/golden/regen.py` "
        "and justify the golden diff in the commit message; speed work must keep outputs identical.")


@pytest.fixture(scope="module")
def synthetic_config(tmp_path_factory) -> Path:
    """The small synthetic set, generated once per test run (about a second)."""
    if not GENERATOR.is_file():
        pytest.skip(f"{GENERATOR} not present (set CRMMETRICS_GENERATOR to gen_crm_data.py)")
    return generate_synthetic(tmp_path_factory.mktemp("synthetic"))


@pytest.mark.parametrize("name", list(CASES))
def test_outputs_match_golden(name: str, request) -> None:
    kind, args = CASES[name]
    config = request.getfixturevalue("synthetic_config") if kind == "synthetic" else ROOT / "config.example.yaml"
    golden = json.loads(golden_path(name).read_text(encoding="utf-8"))
    diffs = differences(golden, reduce_report(run_case(args, config)))
    assert not diffs, f"{name}: {HINT}\n" + "\n".join(diffs[:40]) + (f"\n... {len(diffs) - 40} more" if len(diffs) > 40 else "")


def test_golden_files_are_not_trivial() -> None:
    """A golden file with no rows would guard nothing."""
    for name in CASES:
        golden = json.loads(golden_path(name).read_text(encoding="utf-8"))
        assert len(golden["results"]) > 10, name
        values = [r["value"] for r in golden["results"].values() if "value" in r]
        assert len(values) > 10, name


def test_differences_reports_a_changed_number_and_issue_count() -> None:
    golden = {"results": {"nps|2025-01": {"value": 40.0, "n": 10}}, "issues": {"nps|blank_score|info": 2}}
    now = {"results": {"nps|2025-01": {"value": 40.5, "n": 10, "complete": True}}, "issues": {"nps|blank_score|info": 3}}
    assert differences(golden, now) == ["row nps|2025-01 field value: golden 40.0, now 40.5",
                                        "issues nps|blank_score|info: golden 2, now 3"]
    # A new column alone is an addition, not a change.
    now["results"]["nps|2025-01"]["value"] = 40.0
    now["issues"]["nps|blank_score|info"] = 2
    assert differences(golden, now) == []
