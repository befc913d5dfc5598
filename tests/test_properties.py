"""Property tests (hypothesis): survey metric invariants on random responses."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from crmmetrics import compute, load_config
from tests.conftest import SURVEY_CONFIG

response = st.tuples(
    st.sampled_from(["nps", "csat", "ces"]),
    st.integers(min_value=0, max_value=10),
    st.dates(min_value=__import__("datetime").date(2026, 1, 1), max_value=__import__("datetime").date(2026, 6, 30)).map(str),
    st.sampled_from(["C1", "C2"]),
)


def _write(tmp_path, rows):
    lines = ["id,customer,type,score,date"] + [f"{i},{c},{t},{s},{d}" for i, (t, s, d, c) in enumerate(rows, 1)]
    (tmp_path / "surveys.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "customers.csv").write_text("id,plan\nC1,Pro\nC2,Basic\n")
    (tmp_path / "crm.yaml").write_text(SURVEY_CONFIG)
    return load_config(tmp_path / "crm.yaml")


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(response, min_size=1, max_size=40), seed=st.integers(0, 1000))
def test_ranges_order_independence_and_segment_sums(tmp_path_factory, rows, seed):
    tmp = tmp_path_factory.mktemp("p")
    base = compute(_write(tmp, rows), ["nps", "csat", "ces"]).results
    nps = base[base["metric"] == "nps"]["value"].dropna()
    assert ((nps >= -100) & (nps <= 100)).all()
    csat = base[base["metric"] == "csat"]["value"].dropna()
    assert ((csat >= 0) & (csat <= 1)).all()
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    again = compute(_write(tmp, shuffled), ["nps", "csat", "ces"]).results
    cols = ["metric", "period", "n", "numerator", "denominator"]
    assert base[cols].astype(str).values.tolist() == again[cols].astype(str).values.tolist()
    by_plan = compute(_write(tmp, rows), ["nps"], by=["plan"]).results
    total = base[base["metric"] == "nps"].set_index("period")["n"]
    summed = by_plan.groupby("period")["n"].sum()
    assert summed.reindex(total.index, fill_value=0).tolist() == total.tolist()
