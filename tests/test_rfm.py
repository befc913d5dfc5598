"""RFM scores, cut points and segment maps (METRICS.md B7, B8, WX24)."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crmmetrics.analyses.rfm import PYMC, RF_GRID, RFM_PACKAGE, RfmOptions, assign_segments, break_scores, rank_scores
from crmmetrics.cli import app
from crmmetrics.config import load_config
from crmmetrics.engine import analyze
from crmmetrics.errors import ConfigError
from tests.conftest import write


def _cells(bins: int, dims: int = 3) -> pd.DataFrame:
    grid = list(itertools.product(range(1, bins + 1), repeat=dims))
    return pd.DataFrame(grid, columns=["r", "f", "m"][:dims])


def test_wx24_rfm_package_map_coverage_on_all_125_cells():
    cells = _cells(5)
    seg = assign_segments(cells["r"], cells["f"], cells["m"], RFM_PACKAGE, "Others")
    assert Counter(seg) == {"Others": 36, "Loyal Customers": 28, "Potential Loyalist": 24, "At Risk": 20, "Champions": 8,
                            "Lost": 3, "About To Sleep": 3, "Need Attention": 3}
    for unreachable in ("New Customers", "Promising", "Can't Lose Them"):
        assert unreachable not in set(seg)


def test_rf_grid_is_a_complete_partition_of_the_25_cells():
    cells = _cells(5, 2)
    for r, f in zip(cells["r"], cells["f"]):
        matching = [rule.name for rule in RF_GRID if rule.r[0] <= r <= rule.r[1] and rule.f[0] <= f <= rule.f[1]]
        assert len(matching) == 1, (r, f, matching)
    seg = assign_segments(cells["r"], cells["f"], pd.Series(1, index=cells.index), RF_GRID, "other")
    assert "other" not in set(seg) and len(set(seg)) == 10
    assert Counter(seg)["hibernating"] == 4 and Counter(seg)["champions"] == 2


def test_pymc_map_leaves_18_of_64_quartile_cells_as_other():
    cells = _cells(4)
    seg = assign_segments(cells["r"], cells["f"], cells["m"], PYMC, "Other")
    assert Counter(seg)["Other"] == 18
    assert seg[(cells["r"] == 3) & (cells["f"] == 3) & (cells["m"] == 4)].iloc[0] == "Premium Customer"


def test_rank_scores_break_ties_by_customer_id():
    values = np.array([1, 1, 1, 2, 5])
    ids = np.array(["e", "d", "c", "b", "a"])
    assert rank_scores(values, ids, 5).tolist() == [3, 2, 1, 4, 5]  # equal 1s ordered c, d, e
    assert rank_scores(values, ids, 5, reverse=True).tolist() == [3, 4, 5, 2, 1]
    # Same bins as pandas.qcut on first-ranks: 7 customers, 5 bins → 2, 1, 1, 1, 2.
    assert Counter(rank_scores(np.arange(7), np.arange(7).astype(str), 5).tolist()) == {1: 2, 2: 1, 3: 1, 4: 1, 5: 2}


def test_break_scores_follow_the_rfm_package_and_may_collapse():
    score, lower, upper = break_scores(np.array([1, 1, 1, 1, 2, 3], dtype=float), None, 5)
    assert score.tolist() == [1, 1, 1, 1, 4, 5]
    assert lower == [1, 2, 2, 2, 3] and upper == [2, 2, 2, 3, 4]
    score, _, _ = break_scores(np.array([5.0, 40, 200, 400]), [30, 90, 180, 365], 5, reverse=True)
    assert score.tolist() == [5, 4, 2, 1]  # user thresholds; recency reversed


def test_preset_maps_require_their_bin_count():
    with pytest.raises(ValueError, match="4 bins"):
        RfmOptions(segment_map="pymc")
    assert RfmOptions(segment_map="pymc", bins=4).rules()[1] == "Other"
    with pytest.raises(ValueError, match="segments"):
        RfmOptions(segment_map="custom")


ORDERS = """
id,customer,date,amount,status
1,A,2026-03-30,100,paid
2,A,2026-03-01,50,paid
3,B,2026-01-15,400,paid
4,C,2026-02-10,10,paid
5,C,2026-03-25,20,paid
6,C,2026-03-28,30,paid
7,D,2025-12-01,5,paid
8,E,2026-03-29,60,refunded
9,E,2026-03-30,80,paid
10,B,2026-04-05,1000,paid
11,,2026-03-01,70,paid
"""


def _project(tmp_path: Path, options: str = "{}", orders: str = ORDERS) -> Path:
    write(tmp_path / "orders.csv", orders)
    return write(tmp_path / "crm.yaml", f"""
        version: 1
        sources:
          orders:
            path: orders.csv
            fields: {{order_id: id, customer_id: customer, order_date: date, amount: amount, status: status}}
        analyses:
          rfm: {options}
    """)


def test_rfm_table_scores_and_segments(tmp_path):
    report = analyze(load_config(_project(tmp_path, "{bins: 5}")), "rfm", as_of="2026-03-31")
    t = report.results.set_index("customer_id")
    assert list(t.index) == ["A", "B", "C", "D", "E"]  # the guest order is not a customer
    assert t.loc["A", ["recency_days", "frequency", "monetary"]].tolist() == [1, 2, 150]
    assert t.loc["C", ["recency_days", "frequency", "monetary"]].tolist() == [3, 3, 60]
    assert t.loc["E", ["frequency", "monetary"]].tolist() == [1, 80]  # the refunded order does not count
    # Recency 1 (A), 1 (E), 3 (C), 75 (B), 120 (D): with 5 customers each score is used once; A beats E on the id.
    assert t["r_score"].to_dict() == {"A": 5, "E": 4, "C": 3, "B": 2, "D": 1}
    assert t["f_score"].to_dict() == {"C": 5, "A": 4, "B": 1, "D": 2, "E": 3}
    assert t["m_score"].to_dict() == {"B": 5, "A": 4, "E": 3, "C": 2, "D": 1}
    assert t.loc["A", "rfm_score"] == 544 and t.loc["A", "segment"] == "champions"  # R 5, F 4
    assert t.loc["C", "segment"] == "loyal_customers" and t.loc["D", "segment"] == "hibernating" and t.loc["B", "segment"] == "hibernating"
    assert t.loc["E", "segment"] == "potential_loyalists"
    future = next(i for i in report.issues if i.code == "after_as_of")  # the run's as-of policy
    assert future.location.endswith("orders.csv:11")
    seg = report.tables["segments"].set_index("segment")
    assert seg.loc["hibernating", "customers"] == 2 and seg.loc["hibernating", "revenue"] == 405
    assert seg["share_customers"].sum() == pytest.approx(1.0) and seg["share_revenue"].sum() == pytest.approx(1.0)
    assert len(seg) == 10  # every segment of the map is listed, empty ones too
    cuts = report.tables["cuts"]
    rec = cuts[cuts["dimension"] == "recency"].set_index("score")
    assert (rec.loc[5, "min"], rec.loc[1, "max"]) == (1, 120)
    assert any("rfm cut points, recency" in n for n in report.notes)


def test_rfm_is_independent_of_row_order(tmp_path):
    lines = ORDERS.strip().splitlines()
    shuffled = "\n".join([lines[0], *reversed(lines[1:])]) + "\n"
    a = analyze(load_config(_project(tmp_path / "a")), "rfm", as_of="2026-03-31").results
    b = analyze(load_config(_project(tmp_path / "b", orders=shuffled)), "rfm", as_of="2026-03-31").results
    pd.testing.assert_frame_equal(a, b)


def test_default_analysis_date_is_the_day_after_the_last_order(tmp_path):
    report = analyze(load_config(_project(tmp_path)), "rfm")
    assert report.options["rfm"]["analysis_date"] == "2026-04-06"
    assert report.results.set_index("customer_id").loc["B", "recency_days"] == 1
    assert not any(i.code == "future_order" for i in report.issues)


def test_quantile_breaks_and_user_map(tmp_path):
    opts = ("{scoring: quantile_breaks, segment_map: custom, other_segment: rest, "
            "segments: [{name: vip, m: [5, 5]}, {name: recent, cells: ['53', '543']}]}")
    report = analyze(load_config(_project(tmp_path, opts)), "rfm", as_of="2026-03-31")
    t = report.results.set_index("customer_id")
    # Monetary 5, 60, 80, 150, 400: quantiles 49, 72, 108, 200, + 1 → breaks 50, 73, 109, 201.
    assert t["m_score"].to_dict() == {"A": 4, "B": 5, "C": 2, "D": 1, "E": 3}
    assert t.loc["B", "segment"] == "vip" and t.loc["D", "segment"] == "rest"
    # Frequencies 1, 1, 1, 2, 3: breaks 2, 2, 2.4, 3.2 → A's 2 orders land in bin 3 (bin 2 is empty).
    assert t.loc["A", "rf"] == "53" and t.loc["A", "segment"] == "recent"
    assert any(i.code == "collapsed_bins" for i in report.issues)
    cuts = report.tables["cuts"]
    mon = cuts[cuts["dimension"] == "monetary"].set_index("score")
    assert (mon.loc[5, "lower"], mon.loc[5, "upper"]) == (pytest.approx(201), 401)


def test_rfm_needs_an_amount_column(tmp_path):
    cfg = _project(tmp_path)
    cfg.write_text(cfg.read_text().replace(", amount: amount", ""))
    with pytest.raises(ConfigError, match="orders.amount"):
        analyze(load_config(cfg), "rfm")


def test_cli_prints_cut_points_and_writes_every_table(tmp_path):
    cfg = _project(tmp_path)
    res = CliRunner().invoke(app, ["analyze", "rfm", "-c", str(cfg), "--as-of", "2026-03-31", "-f", "json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert set(doc["tables"]) == {"customers", "segments", "cuts", "segment_map"}
    assert "rfm cut points, frequency" in res.stderr
    res = CliRunner().invoke(app, ["analyze", "rfm", "-c", str(cfg), "-t", "segments", "-f", "csv"])
    assert res.exit_code == 0 and res.stdout.startswith("segment,customers,share_customers")
