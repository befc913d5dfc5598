"""NPS over the real survey exports in ../shared/datasets (skipped when absent).

Expected figures are recomputed here with the csv module alone, so the test checks
crmmetrics' reading and counting against an independent hand computation.
"""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from crmmetrics import compute, load_config
from tests.conftest import DATASETS, needs_dataset, write

BOTANIC = DATASETS / "nps_botanic" / "nps.csv"
FIELD = DATASETS / "nps_field_service" / "nps.csv"


@needs_dataset("nps_botanic", "nps.csv")
def test_botanic_nps_with_mixed_latin1_bytes_and_na_scores(tmp_path):
    cfg = write(tmp_path / "botanic.yaml", f"""
        version: 1
        sources:
          surveys:
            path: {BOTANIC}
            constants: {{survey_type: nps}}
            fields: {{response_id: id, score: nps, comment: explication}}
        metrics:
          nps: {{scale_min: 1}}   # this survey asks 1-10, not 0-10: said, not hidden
        """)
    with BOTANIC.open(encoding="latin-1", newline="") as fh:
        scores = [row["nps"] for row in csv.DictReader(fh)]
    valid = [int(s) for s in scores if s != "NA"]
    promoters = sum(s >= 9 for s in valid)
    detractors = sum(s <= 6 for s in valid)
    report = compute(load_config(cfg), ["nps"], period="all")
    row = report.results.iloc[0]
    assert (row["n"], row["promoters"], row["detractors"]) == (len(valid), promoters, detractors)
    assert row["value"] == pytest.approx(100 * (promoters - detractors) / len(valid))
    assert len(valid) == 13954 - 342
    blanks = [i for i in report.issues if i.code == "blank_score"]
    assert sum(i.count for i in blanks) == 342
    # The first NA score is on data row k → physical line k + 1 (no multi-line cells before it).
    assert blanks[0].location.endswith(f"nps.csv:{scores.index('NA') + 2}")
    assert report.inputs[0].encoding in {"latin-1", "cp1254"} and report.inputs[0].rows_read == 13954


@needs_dataset("nps_field_service", "nps.csv")
def test_field_service_nps_rejects_scores_of_11_with_their_lines(tmp_path):
    cfg = write(tmp_path / "field.yaml", f"""
        version: 1
        timezone: Europe/Amsterdam
        sources:
          surveys:
            path: {FIELD}
            constants: {{survey_type: nps}}
            fields: {{response_id: response_id, score: nps, responded_at: submitted_at, appointment: serviceappointment_id}}
        """)
    with FIELD.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    bad_lines = [i + 2 for i, r in enumerate(rows) if float(r["nps"]) > 10]
    assert len(bad_lines) == 2
    months: dict[str, Counter] = {}
    for r in rows:
        s = float(r["nps"])
        if s > 10:
            continue
        c = months.setdefault(r["submitted_at"][:7], Counter())
        c["n"] += 1
        c["p"] += s >= 9
        c["d"] += s <= 6
    report = compute(load_config(cfg), ["nps"], period="month")
    got = {r["period"]: (r["n"], r["value"]) for _, r in report.results.iterrows()}
    want = {m: (c["n"], 100 * (c["p"] - c["d"]) / c["n"]) for m, c in months.items()}
    assert got.keys() == want.keys()
    for m in want:
        assert got[m][0] == want[m][0] and got[m][1] == pytest.approx(want[m][1])
    out_of_range = [i for i in report.issues if i.code == "score_out_of_range"]
    assert sorted(int(i.location.rsplit(":", 1)[1]) for i in out_of_range) == bad_lines
    assert all(i.value == "11.0" for i in out_of_range)
    dup = [i for i in report.issues if i.code == "duplicate_id"]
    assert len(dup) == 1 and dup[0].column == "response_id"
