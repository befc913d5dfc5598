"""The executable shapes (metrics/shapes.py): Ratio, Mean, CountSum and Custom, with
numbers computed by hand on a 3-month × 2-segment grid (January to March 2025,
segments basic and pro), and the declared column kinds."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmmetrics.dataset import Dataset
from crmmetrics.grid import Grid
from crmmetrics.metrics.context import PERIOD_COL, MetricContext
from crmmetrics.metrics.registry import MetricSpec, NoOptions, all_metrics
from crmmetrics.metrics.shapes import KINDS, Column, CountSum, Custom, Mean, Ratio, Stock

JAN, FEB, MAR = (pd.Timestamp(2025, m, 1) for m in (1, 2, 3))


def _spec(unit: str = "percent", **kw) -> MetricSpec:
    kw.setdefault("rows", lambda ctx: ctx.frame)
    kw.setdefault("shape", Ratio("_num", "_den"))
    return MetricSpec(name="probe", title="Probe", family="test", description="", formula="", entity="surveys", needs=(),
                      unit=unit, better="higher", period_kind="FLOW", date_field="responded_at", **kw)


def _ctx(frame: pd.DataFrame, by: list[str] | None = None, unit: str = "percent", *, bounded: bool = True, **kw) -> MetricContext:
    """A context over January-March 2025 (--since 2025-01-01 --until 2025-04-01 when ``bounded``)."""
    since, until = (dt.datetime(2025, 1, 1), dt.datetime(2025, 4, 1)) if bounded else (None, None)
    grid = Grid("month", "monday", since, until, dt.datetime(2025, 12, 31))
    return MetricContext(_spec(unit, **kw), NoOptions(), frame, "month", list(by or []), "UTC", "monday", dt.datetime(2025, 12, 31),
                         since, until, Dataset(frames={}), grid=grid)


def _frame(cells: list[tuple], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(cells, columns=[PERIOD_COL, "plan", *columns])


def _cell(out: pd.DataFrame, period: pd.Timestamp, plan: str) -> pd.Series:
    hit = out[(out[PERIOD_COL] == period) & (out["plan"] == plan)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_ratio_over_three_periods_and_two_segments_with_a_zero_denominator():
    rows = _frame([
        (JAN, "basic", 1, 1), (JAN, "basic", 0, 1), (JAN, "basic", 1, 1),   # 2 of 3
        (JAN, "pro", 1, 1),                                                 # 1 of 1
        (FEB, "basic", 0, 0),                                               # one row, denominator 0
        (MAR, "basic", 1, 1), (MAR, "basic", 0, 1),                         # 1 of 2
        (MAR, "pro", 1, 1), (MAR, "pro", 1, 1),                             # 2 of 2
    ], ["_num", "_den"])                                                    # February pro: no rows at all
    ctx = _ctx(rows, ["plan"])
    out = Ratio("_num", "_den", scale=100.0, extras={"hits": "_num"}, what="probes").aggregate(ctx, rows)
    assert len(out) == 6
    expect = {(JAN, "basic"): (200 / 3, 3, 2, 3), (JAN, "pro"): (100.0, 1, 1, 1), (FEB, "basic"): (None, 1, 0, 0),
              (FEB, "pro"): (None, 0, 0, 0), (MAR, "basic"): (50.0, 2, 1, 2), (MAR, "pro"): (100.0, 2, 2, 2)}
    for (period, plan), (value, n, num, den) in expect.items():
        row = _cell(out, period, plan)
        assert (pd.isna(row["value"]) if value is None else row["value"] == pytest.approx(value)), (period, plan)
        assert (row["n"], row["numerator"], row["denominator"], row["hits"]) == (n, num, den, num)
    assert set(out["unit"]) == {"percent"}
    [issue] = ctx.issues
    assert (issue.code, issue.count) == ("zero_denominator", 2)
    assert "first: period starting 2025-02-01" in issue.message and "probes" in issue.message
    assert {c: str(out[c].dtype) for c in ("value", "n", "numerator", "denominator", "hits")} == {
        "value": "float64", "n": "int64", "numerator": "int64", "denominator": "int64", "hits": "int64"}


def test_mean_gives_n_mean_median_and_p90_per_cell():
    rows = _frame([(JAN, "basic", v) for v in (1.0, 2.0, 3.0, 4.0, 10.0)] + [(JAN, "pro", 5.0)]
                  + [(MAR, "pro", 2.0), (MAR, "pro", 4.0)], ["_d"])
    ctx = _ctx(rows, ["plan"], unit="hours")
    out = Mean("_d", headline="median", what="answered leads").aggregate(ctx, rows)
    jan = _cell(out, JAN, "basic")
    # mean 20 / 5 = 4; median 3; p90 (linear): position 0.9 × 4 = 3.6 → 4 + 0.6 × (10 − 4) = 7.6
    assert (jan["n"], jan["mean"], jan["median"], jan["p90"], jan["value"]) == (5, 4.0, 3.0, pytest.approx(7.6), 3.0)
    assert (jan["numerator"], jan["denominator"]) == (20.0, 5)
    mar = _cell(out, MAR, "pro")  # mean 3, median 3, p90 = 2 + 0.9 × (4 − 2) = 3.8
    assert (mar["n"], mar["mean"], mar["median"], mar["p90"]) == (2, 3.0, 3.0, pytest.approx(3.8))
    assert tuple(_cell(out, JAN, "pro")[["n", "mean", "median", "p90"]]) == (1, 5.0, 5.0, 5.0)
    for period, plan in ((FEB, "basic"), (FEB, "pro"), (MAR, "basic")):
        row = _cell(out, period, plan)
        assert row["n"] == 0 and pd.isna(row["value"]) and pd.isna(row["median"])
    [issue] = ctx.issues
    assert (issue.code, issue.count) == ("zero_denominator", 3)
    assert str(out["n"].dtype) == "int64" and str(out["p90"].dtype) == "float64" and set(out["unit"]) == {"hours"}


def test_mean_headline_must_be_a_statistic():
    with pytest.raises(ValueError, match="headline"):
        Mean("_d", headline="p95")


def test_countsum_fills_empty_cells_with_zero_and_raises_no_issue():
    rows = _frame([(JAN, "basic", 10.5), (JAN, "basic", 2.0), (MAR, "pro", 4.0)], ["amt"])
    ctx = _ctx(rows, ["plan"], unit="count")
    counts = CountSum(extras={"money": ("amt", "amount")}).aggregate(ctx, rows)
    got = {(r[PERIOD_COL], r["plan"]): (r["value"], r["n"], r["money"]) for _, r in counts.iterrows()}
    assert got == {(JAN, "basic"): (2, 2, 12.5), (JAN, "pro"): (0, 0, 0.0), (FEB, "basic"): (0, 0, 0.0), (FEB, "pro"): (0, 0, 0.0),
                   (MAR, "basic"): (0, 0, 0.0), (MAR, "pro"): (1, 1, 4.0)}
    assert counts["denominator"].isna().all()  # a count has no denominator
    assert (str(counts["value"].dtype), str(counts["money"].dtype)) == ("int64", "float64")
    sums = CountSum("amt", kind="amount").aggregate(_ctx(rows, ["plan"], unit="currency"), rows)
    assert _cell(sums, JAN, "basic")["value"] == 12.5 and _cell(sums, FEB, "pro")["value"] == 0.0
    assert str(sums["value"].dtype) == "float64"
    assert ctx.issues == []


def test_stock_counts_what_is_open_at_each_snapshot_instant():
    """Snapshots at the month ends 1 Feb, 1 Mar, 1 Apr; in stock at t when start < t <= end."""
    nat = pd.NaT
    items = pd.DataFrame([
        ("A", "basic", pd.Timestamp(2024, 12, 15), pd.Timestamp(2025, 2, 1), 100.0, True),  # ends at the 1 Feb snapshot: still in
        ("B", "pro", pd.Timestamp(2025, 1, 10), nat, 50.0, True),                           # open throughout
        ("C", "basic", pd.Timestamp(2025, 3, 1), nat, 20.0, True),                          # starts at the 1 Mar snapshot: March's
        ("D", "basic", nat, nat, 999.0, False),                                             # cannot be placed: never counted
        ("E", "pro", pd.Timestamp(2025, 2, 5), pd.Timestamp(2025, 2, 20), 7.0, True),       # opens and closes between snapshots
        ("F", "enterprise", pd.Timestamp(2025, 1, 2), nat, 500.0, False),                   # not placed, but its segment is seen
    ], columns=["id", "plan", "_start", "_end", "amt", "_placed"])
    ctx = _ctx(items, ["plan"], unit="currency")
    out = Stock("amt", kind="amount").aggregate(ctx, items)
    expect = {(JAN, "basic"): (100.0, 1), (JAN, "pro"): (50.0, 1), (JAN, "enterprise"): (0.0, 0),
              (FEB, "basic"): (0.0, 0), (FEB, "pro"): (50.0, 1), (FEB, "enterprise"): (0.0, 0),
              (MAR, "basic"): (20.0, 1), (MAR, "pro"): (50.0, 1), (MAR, "enterprise"): (0.0, 0)}
    assert len(out) == len(expect)
    for (period, plan), (value, n) in expect.items():
        cell = _cell(out, period, plan)
        assert (cell["value"], cell["numerator"], cell["n"]) == (value, value, n), (period, plan)
    assert list(out[out["plan"] == "pro"]["snapshot_at"]) == ["2025-02-01 00:00", "2025-03-01 00:00", "2025-04-01 00:00"]
    assert (str(out["value"].dtype), str(out["n"].dtype)) == ("float64", "int64") and out["denominator"].isna().all()
    counts = Stock().aggregate(_ctx(items, unit="count"), items)  # no column: the count of open items
    assert list(counts["value"]) == [2, 1, 2] and str(counts["value"].dtype) == "int64"
    assert ctx.issues == []


@pytest.mark.parametrize("shape", [Ratio("_num", "_den"), Mean("_num"), CountSum()], ids=["ratio", "mean", "countsum"])
def test_declared_kinds_hold_on_an_empty_result(shape):
    """No rows and no --since/--until: no grid, no rows; the dtypes are still the declared ones."""
    empty = pd.DataFrame({PERIOD_COL: pd.Series(dtype="datetime64[ns]"), "_num": pd.Series(dtype="float64"),
                          "_den": pd.Series(dtype="float64")})
    ctx = _ctx(empty, bounded=False)
    out = shape.aggregate(ctx, empty)
    assert out.empty
    for col in shape.columns("percent"):
        assert str(out[col.name].dtype) == KINDS[col.kind], col
    assert str(out["n"].dtype) == "int64"
    assert [i.code for i in ctx.issues] == ["no_data"]


def test_an_empty_bounded_grid_is_all_zero_cells_with_one_issue():
    empty = pd.DataFrame({PERIOD_COL: pd.Series(dtype="datetime64[ns]"), "_num": pd.Series(dtype="int64"), "_den": pd.Series(dtype="int64")})
    ctx = _ctx(empty)
    out = Ratio("_num", "_den").aggregate(ctx, empty)
    assert list(out[PERIOD_COL]) == [JAN, FEB, MAR] and list(out["n"]) == [0, 0, 0] and out["value"].isna().all()
    assert [(i.code, i.count) for i in ctx.issues] == [("zero_denominator", 3)]


def test_a_count_column_holding_fractions_is_a_bug_not_a_truncation():
    rows = _frame([(JAN, "basic", 0.5, 1)], ["_num", "_den"])
    with pytest.raises(ValueError, match="declared a count"):
        Ratio("_num", "_den").aggregate(_ctx(rows, ["plan"]), rows)
    assert Ratio("_num", "_den", numerator_kind="amount").aggregate(_ctx(rows, ["plan"]), rows)["value"].iloc[0] == 0.5


def test_column_kinds_are_checked():
    with pytest.raises(ValueError, match="unknown kind"):
        Column("x", "money")


def test_spec_runs_rows_then_the_shape_then_finish():
    def rows(ctx):
        ctx.in_force["seen"] = len(ctx.frame)
        return ctx.frame.assign(_one=np.int64(1))

    def finish(ctx, out, rows):
        return out.assign(rows_seen=len(rows))

    frame = _frame([(JAN, "basic", 1), (FEB, "basic", 0)], ["_num"])
    ctx = _ctx(frame, unit="percent", rows=rows, shape=lambda opts: Ratio("_num", "_one"), finish=finish)
    result = ctx.spec.run(ctx)
    assert list(result.rows["value"].fillna(-1)) == [1.0, 0.0, -1]  # January 1/1, February 0/1, March no rows (null)
    assert set(result.rows["rows_seen"]) == {2} and result.options_in_force == {"seen": 2}


def test_a_spec_is_either_rows_and_a_shape_or_compute_and_custom():
    with pytest.raises(ValueError, match="rows= and an aggregating shape"):
        _spec(shape=Custom())  # rows without an aggregator
    with pytest.raises(ValueError, match="rows= and an aggregating shape"):
        _spec(rows=None, compute=lambda ctx: None)  # compute with an aggregator


def test_a_variant_that_is_not_a_shape_runs_the_compute_function():
    """rows= plus an options → shape function that returns Custom() for one variant, plus compute= for it."""
    from crmmetrics.metrics.context import MetricOutput

    frame = _frame([(JAN, "basic", 1), (FEB, "basic", 0)], ["_num"])
    custom = MetricOutput(pd.DataFrame({"value": [42.0]}))
    picks = lambda opts: Custom() if opts.model_config.get("title") == "custom variant" else Ratio("_num", "_one")  # noqa: E731
    kw = dict(rows=lambda ctx: ctx.frame.assign(_one=np.int64(1)), shape=picks, compute=lambda ctx: custom)
    ratio_ctx = _ctx(frame, **kw)
    assert list(ratio_ctx.spec.run(ratio_ctx).rows["value"].fillna(-1)) == [1.0, 0.0, -1]

    class CustomVariant(NoOptions):
        model_config = {"title": "custom variant", "extra": "forbid"}

    custom_ctx = _ctx(frame, **kw)
    custom_ctx.options = CustomVariant()
    assert custom_ctx.spec.run(custom_ctx) is custom
    no_compute = _ctx(frame, rows=kw["rows"], shape=picks)
    no_compute.options = CustomVariant()
    with pytest.raises(ValueError, match="no compute function"):
        no_compute.spec.run(no_compute)
    specs = all_metrics()  # the registry's hybrids: the default variant's shape, and the other's
    assert specs["repeat_purchase_rate"].shape_label() == "ratio"
    assert specs["repeat_purchase_rate"].shape_label(specs["repeat_purchase_rate"].options(variant="lifetime")) == "custom"
    assert specs["customer_lifespan"].shape_label(specs["customer_lifespan"].options(variant="observed")) == "mean"
    assert specs["renewal_rate"].shape_label(specs["renewal_rate"].options(renewal_source="deals")) == "ratio"
    assert specs["tickets_per_customer"].shape_label(specs["tickets_per_customer"].options(denominator="active_customers")) == "custom"


def test_shape_labels_come_from_the_aggregators():
    specs = all_metrics()
    assert specs["nps"].shape_label() == "ratio"
    assert specs["csat"].shape_label() == "ratio"  # default variant top_box
    assert specs["csat"].shape_label(specs["csat"].options(variant="mean")) == "mean"
    assert specs["ces"].shape_label() == "mean"
    assert specs["mrr"].shape_label() == "custom"
    assert CountSum().label == "count" and CountSum("amount", kind="amount").label == "sum"


def test_explain_and_the_metrics_page_show_the_aggregators_label():
    from crmmetrics.explain import explain_text, metrics_markdown

    specs = all_metrics()
    assert "Shape: ratio" in explain_text(specs["nps"]) and "Shape: mean" in explain_text(specs["first_reply_time"])
    assert "Shape: count" in explain_text(specs["ticket_volume"]) and "Shape: custom" in explain_text(specs["mrr"])
    # With the options in force (explain -c), a variant's shape: csat variant mean is a Mean.
    assert "Shape: mean" in explain_text(specs["csat"], {"variant": "mean"})
    assert "Shape: ratio" in explain_text(specs["csat"], {"variant": "top_box"})
    page = metrics_markdown()
    assert page.count("- **Shape:** ") == len(specs)
    assert "- **Shape:** sum" in page  # revenue: CountSum of amounts


def _pandas_statistics(rows: pd.DataFrame, keys: list[str], agg: dict) -> pd.DataFrame:
    """Mean's grouped frame as pandas computes it (the reference of grouped_statistics)."""
    groups = rows.groupby(keys, dropna=False, sort=True)
    grouped = groups.agg(**agg)
    grouped["p90"] = groups[agg["mean"][0]].quantile(0.9)
    return grouped.reset_index()


@pytest.mark.parametrize("seed", range(6))
def test_grouped_statistics_equal_pandas_groupby_bit_for_bit(seed):
    """The integer-code path of Mean gives pandas' own sums, counts, means, medians and p90
    to the last bit: ties, NaN, one-value cells, all-NaN cells, negative and huge values."""
    from crmmetrics.metrics.shapes import grouped_statistics

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    values = [rng.exponential(30.0, n), rng.integers(0, 5, n).astype(float), rng.normal(0, 1e9, n)][seed % 3]
    values[rng.random(n) < 0.2] = np.nan
    plans = pd.Series(rng.choice(["pro", "basic", "(blank)", "Ärger", "z"], n), dtype="str")
    periods = pd.Series(pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 12, n) * 31, unit="D")).dt.normalize()
    rows = pd.DataFrame({PERIOD_COL: periods.astype("datetime64[ns]"), "plan": plans, "_d": values,
                         "_flag": (rng.random(n) < 0.3).astype("int64")})
    rows.loc[rows["plan"] == "z", "_d"] = np.nan  # a cell with no values at all
    agg = {"numerator": ("_d", "sum"), "denominator": ("_d", "count"), "n": ("_d", "count"), "mean": ("_d", "mean"),
           "median": ("_d", "median"), "flags": ("_flag", "sum")}
    for keys in ([PERIOD_COL, "plan"], [PERIOD_COL]):
        fast = grouped_statistics(rows, keys, "_d", agg)
        assert fast is not None
        pd.testing.assert_frame_equal(fast, _pandas_statistics(rows, keys, agg), check_exact=True)


@pytest.mark.parametrize("seed", range(4))
def test_ratio_cell_codes_equal_pandas_groupby_bit_for_bit(seed, monkeypatch):
    """Ratio's integer-code path gives pandas' own grouped sums and sizes, the same grid of
    empty cells (zero counts, null values) and the same zero_denominator issue: float and
    integer columns, huge values, a segment with no rows in some months."""
    from crmmetrics.metrics import shapes

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    plans = pd.Series(rng.choice(["pro", "basic", "(blank)", "Ärger", "z"], n), dtype="str")
    periods = pd.Series(pd.to_datetime("2025-01-01") + pd.to_timedelta(rng.integers(0, 3, n) * 31, unit="D")).dt.normalize()
    rows = pd.DataFrame({PERIOD_COL: periods.astype("datetime64[ns]"), "plan": plans,
                         "_num": [rng.integers(0, 2, n), rng.normal(0, 1e9, n)][seed % 2],
                         "_den": rng.integers(0, 2, n).astype("int64"), "_flag": (rng.random(n) < 0.3).astype("int64")})
    rows = rows[~((rows["plan"] == "z") & (rows[PERIOD_COL] > rows[PERIOD_COL].min()))]  # z: first month only
    shape = Ratio("_num", "_den", scale=100.0, extras={"flags": "_flag"}, numerator_kind=["count", "amount"][seed % 2])

    def run(by):
        ctx = _ctx(rows, by, bounded=False)
        return shape.aggregate(ctx, rows), [(i.code, i.message) for i in ctx.issues]

    for by in (["plan"], []):
        assert shapes.cell_codes(rows, [PERIOD_COL, *by]) is not None
        fast = run(by)
        with monkeypatch.context() as mp:
            mp.setattr(shapes, "cell_codes", lambda *a: None)
            slow = run(by)
        pd.testing.assert_frame_equal(fast[0], slow[0], check_exact=True)
        assert fast[1] == slow[1]


def test_grouped_statistics_leave_null_or_object_keys_to_pandas():
    from crmmetrics.metrics.shapes import grouped_statistics

    agg = {"numerator": ("_d", "sum"), "median": ("_d", "median")}
    rows = pd.DataFrame({PERIOD_COL: [JAN, FEB], "plan": pd.Series(["a", None], dtype="str"), "_d": [1.0, 2.0]})
    assert grouped_statistics(rows, [PERIOD_COL, "plan"], "_d", agg) is None
    assert grouped_statistics(rows.astype({"plan": object}).fillna({"plan": "b"}), [PERIOD_COL, "plan"], "_d", agg) is None


@pytest.mark.parametrize("field", ["_end", "responded_at"])
def test_flow_rows_where_equals_flow_rows_of_the_filtered_frame(field):
    """flow_rows(frame, f, where=m) keeps the rows, periods and issues of flow_rows(frame[m], f)
    (one copy instead of two): missing and after-as-of dates are counted among the candidates only."""
    stamps = pd.Series(pd.to_datetime(["2025-01-05 10:00", None, "2025-02-01 00:00", "2026-03-01 00:00", None, "2025-03-31 23:00"], utc=True))
    frame = pd.DataFrame({"_src": 0, "_row": range(6), "plan": ["a", "b", "a", "b", "a", "b"], field: stamps})
    where = pd.Series([True, True, False, True, False, True])

    def run(**kw):
        ctx = _ctx(frame, ["plan"], bounded=False)
        rows = ctx.flow_rows(frame[where] if not kw else frame, field, **kw)
        return rows, [(i.code, i.count, i.message) for i in ctx.issues]

    (want, want_issues), (got, got_issues) = run(), run(where=where)
    pd.testing.assert_frame_equal(got, want)
    assert got_issues == want_issues and [c for c, _, _ in got_issues] == ["missing_date", "after_as_of"]
    assert got_issues[0][1] == 1 and got[PERIOD_COL].dt.strftime("%Y-%m").tolist() == ["2025-01", "2025-03"]


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.sampled_from(["email", "chat", "", "(blank)", "ı", "İ", "i", "Z", "a b", "é", "😀"]), min_size=1, max_size=30),
       chunks=st.integers(1, 4))
def test_arrow_text_keys_factorize_as_pandas_does(values, chunks):
    """Grouped statistics' Arrow path gives pd.factorize(sort=True)'s codes and uniques."""
    import pyarrow as pa

    from crmmetrics.metrics.shapes import _factorize_sorted

    size = -(-len(values) // chunks)
    parts = [pa.array(values[i:i + size], pa.large_string()) for i in range(0, len(values), size)]
    col = pa.table({"k": pa.chunked_array(parts)}).to_pandas()["k"]
    codes, uniques = _factorize_sorted(col)
    want_codes, want_uniques = pd.factorize(col, sort=True)
    assert codes.tolist() == want_codes.tolist()
    assert uniques.tolist() == want_uniques.tolist() and uniques.dtype == want_uniques.dtype
