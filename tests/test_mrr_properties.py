"""Property tests of the MRR engine on random subscription histories (hypothesis).

Invariants: MRR(end) − MRR(start) = net new MRR in every period, and each period starts
where the previous one ended; MRR and paying customers agree with a brute-force count of
the subscriptions active on each period's last day; GRR ≤ 1; churn and retention rates
lie in [0, 1]; results do not depend on row order; --by segments add up to the total.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmmetrics.dataset import Dataset
from crmmetrics.domain.mrr import EngineOptions, Run, period_summary
from crmmetrics.metrics.subscription import churn_parts

BASE = dt.datetime(2025, 1, 1)
AS_OF = dt.datetime(2026, 6, 30)


class _Table:
    """Just enough of a RawTable for issue locations."""

    path = "subs.csv"
    column_names: dict[str, str] = {}

    def locate(self, rows, fieldname=None):
        return [f"subs.csv:{int(r) + 2}" for r in rows]


row = st.tuples(
    st.integers(0, 5),                                   # customer
    st.integers(0, 500),                                 # start day
    st.one_of(st.none(), st.integers(1, 300)),           # duration in days (None: still running)
    st.sampled_from([0.0, 5.0, 10.0, 25.5, 100.0]),      # amount per interval
    st.sampled_from([1, 3, 12]),                         # billing interval in months
)
histories = st.lists(row, min_size=1, max_size=25)


def frames(rows: list[tuple]) -> tuple[pd.DataFrame, pd.DataFrame]:
    start = [pd.Timestamp(BASE + dt.timedelta(days=d), tz="UTC") for _, d, _, _, _ in rows]
    end = [pd.NaT if dur is None else s + pd.Timedelta(days=dur) for s, (_, _, dur, _, _) in zip(start, rows)]
    subs = pd.DataFrame({
        "_src": np.zeros(len(rows), dtype=np.int32), "_row": np.arange(len(rows), dtype=np.int64),
        "subscription_id": [f"S{i}" for i in range(len(rows))], "customer_id": [f"C{c}" for c, *_ in rows],
        "started_at": pd.Series(start, dtype="datetime64[ns, UTC]"), "ended_at": pd.Series(end, dtype="datetime64[ns, UTC]"),
        "amount": [a for *_, a, _ in rows], "billing_interval_months": [float(i) for *_, i in rows],
    })
    customers = pd.DataFrame({"_src": np.zeros(6, dtype=np.int32), "_row": np.arange(6), "customer_id": [f"C{i}" for i in range(6)],
                              "segment": ["odd" if i % 2 else "even" for i in range(6)]})
    # What the dataset hands the engine: every declared field a column (all-null when unmapped).
    from crmmetrics.dataset import with_declared
    from crmmetrics.domain.mrr import CUSTOMER_FIELDS, SUBSCRIPTION_FIELDS

    return with_declared(subs, "subscriptions", set(SUBSCRIPTION_FIELDS), "UTC"), with_declared(customers, "customers", set(CUSTOMER_FIELDS), "UTC")


def summary(subs: pd.DataFrame, customers: pd.DataFrame, by: list[str] | None = None, grain: str = "month") -> pd.DataFrame:
    ds = Dataset(frames={"subscriptions": subs, "customers": customers}, tables=[_Table()])
    dims = customers[["customer_id", *(by or [])]] if by else None
    run = Run(ds, None, "UTC", grain, "monday", None, None, AS_OF, list(by or []), "property", [], dims, {d: d for d in by or []})
    return period_summary(run, EngineOptions(), daily=True).frame


def brute_force(subs: pd.DataFrame, instant: pd.Timestamp) -> tuple[float, int]:
    """Σ MRR and paying customers of the rows active just before ``instant`` (independent of the engine)."""
    s = subs["started_at"].dt.tz_localize(None)
    e = subs["ended_at"].dt.tz_localize(None)
    horizon = pd.Timestamp(AS_OF) + pd.Timedelta(days=1)
    active = (s < instant) & (s < horizon) & (e.isna() | (e >= instant) | (e >= horizon))
    mrr = subs["amount"] / subs["billing_interval_months"]
    by_customer = mrr[active].groupby(subs["customer_id"][active]).sum()
    return float(by_customer.sum()), int((by_customer > 1e-9).sum())


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(histories)
def test_mrr_reconciles_with_movements_and_a_brute_force_count(rows):
    subs, customers = frames(rows)
    f = summary(subs, customers)
    net = f["new_mrr"] + f["expansion_mrr"] + f["reactivation_mrr"] - f["contraction_mrr"] - f["churned_mrr"]
    assert np.allclose(f["mrr_end"] - f["mrr_start"], net, atol=1e-6)
    assert np.allclose(f["mrr_start"].iloc[1:].to_numpy(), f["mrr_end"].iloc[:-1].to_numpy(), atol=1e-6)
    for r in f.itertuples():
        mrr, paying = brute_force(subs, pd.Timestamp(r.hi))
        assert r.mrr_end == pytest.approx(mrr, abs=1e-6)
        assert r.customers_end == paying


@SETTINGS
@given(histories)
def test_grr_at_most_one_and_rates_within_zero_and_one(rows):
    subs, customers = frames(rows)
    f = summary(subs, customers)
    start = f["mrr_start"]
    has = start > 1e-9
    assert ((f["grr_num"] <= start + 1e-6) & (f["grr_num"] >= -1e-9)).all()
    assert (f.loc[has, "nrr_num"] >= -1e-9).all()
    for formula in ("chartmogul", "stripe", "profitwell"):
        num, den = churn_parts(f, formula)
        den = np.asarray(den, dtype=float)
        rate = np.asarray(num, dtype=float)[den > 0] / den[den > 0]
        assert ((rate >= 0) & (rate <= 1)).all(), formula
    cust = f["customers_start"] > 0
    retention = (f["customers_end"] - f["joined_and_stayed"])[cust] / f["customers_start"][cust]
    assert ((retention >= 0) & (retention <= 1)).all()
    # Gross MRR churn is ≥ 0 but not capped: MRR added and removed inside P counts as contraction.
    gross = (f["churned_mrr"] + f["contraction_mrr"])[has] / start[has]
    assert (gross >= 0).all()


@SETTINGS
@given(histories, st.randoms(use_true_random=False))
def test_results_do_not_depend_on_row_order(rows, rnd):
    subs, customers = frames(rows)
    order = list(range(len(subs)))
    rnd.shuffle(order)
    shuffled = subs.iloc[order].reset_index(drop=True)
    a, b = summary(subs, customers), summary(shuffled, customers)
    pd.testing.assert_frame_equal(a, b, check_exact=False, atol=1e-9)


@SETTINGS
@given(histories)
def test_segments_add_up_to_the_total(rows):
    subs, customers = frames(rows)
    total = summary(subs, customers, grain="quarter").set_index("_period")
    split = summary(subs, customers, by=["segment"], grain="quarter").groupby("_period").sum(numeric_only=True)
    for col in ("mrr_end", "customers_end", "new_mrr", "churned_mrr", "expansion_mrr", "contraction_mrr", "reactivation_mrr", "nrr_num", "grr_num"):
        assert np.allclose(split[col].reindex(total.index, fill_value=0), total[col], atol=1e-6), col
