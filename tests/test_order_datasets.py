"""Order analytics on the real datasets in ../shared/datasets (skipped when absent).

CDNOW (lifetimes' sample, headerless whitespace text with YYYYMMDD dates): the BTYD
summary equals the published cdnow_customers_summary_with_transactions.csv.
UCI Online Retail (541,909 invoice lines): RFM and the monthly cohort matrix, with the
excluded rows counted, and the December-2010 .xlsx giving the CSV's December figures.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from crmmetrics import compute
from crmmetrics.config import load_config
from crmmetrics.engine import analyze
from tests.conftest import DATASETS, needs_dataset, write

CDNOW = DATASETS / "cdnow_lifetimes"
RETAIL = DATASETS / "online_retail_uci" / "derived"
# As examples/online_retail.yaml: its 2,102 invoices worth 0 are stock adjustments, excluded.
RETAIL_POLICY = '{order_lines: true, amount_is_unit_price: true, cancellation_prefix: "C", zero_amount: exclude}'


@needs_dataset("cdnow_lifetimes", "CDNOW_sample.txt")
def test_cdnow_btyd_summary_equals_the_published_one(tmp_path):
    cfg = write(tmp_path / "cdnow.yaml", f"""
        version: 1
        sources:
          orders:
            path: {CDNOW / "CDNOW_sample.txt"}
            csv: {{header: false, delimiter: whitespace}}
            fields: {{customer_id: 2, order_date: 3, amount: 5, cds: 4}}
        analyses:
          btyd: {{observation_period_end: "1997-09-30", freq: D, freq_multiplier: 7}}  # zero_amount: keep by default
    """)
    report = analyze(load_config(cfg), "btyd")
    assert report.inputs[0].rows_read == 6919 and report.inputs[0].rows_rejected == 0
    ours = report.results
    assert ours["customer_id"].iloc[0] == "0001"  # zero-padded ids stay text
    ours = ours.assign(ID=ours["customer_id"].astype(int))
    ref = pd.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv")
    both = ref.merge(ours, on="ID", how="outer", indicator=True)
    assert len(ref) == 2357 and (both["_merge"] == "both").all()
    # The published file is rounded to 2 decimals: every value within half a cent.
    for theirs, mine in (("x", "frequency"), ("t_x", "recency"), ("T_x", "T_y"), ("zbar", "monetary_value")):
        assert (both[theirs] - both[mine]).abs().max() <= 0.005 + 1e-9, theirs
    assert (both["x"] == both["frequency"]).all()
    # 1,959 orders after 30 Sep 1997 are the holdout, reported once.
    assert next(i for i in report.issues if i.code == "after_observation_end").count == 1959


def _issue_total(issues, code: str) -> int:
    return sum(i.count for i in issues if i.code == code)


@needs_dataset("online_retail_uci", "derived", "online_retail_full.csv")
@needs_dataset("online_retail_uci", "derived", "online_retail_2010-12.xlsx")
def test_online_retail_rfm_cohorts_and_december_xlsx(tmp_path):
    from crmmetrics.analyses import AnalysisContext, get_analysis
    from crmmetrics.dataset import load_dataset
    from crmmetrics.domain.orders import OrderPolicy, prepare_orders

    fields = "{order_id: InvoiceNo, customer_id: CustomerID, order_date: InvoiceDate, amount: UnitPrice, quantity: Quantity}"
    cfg = load_config(write(tmp_path / "retail.yaml", f"""
        version: 1
        timezone: Europe/London
        sources:
          orders:
            path: {RETAIL / "online_retail_full.csv"}
            fields: {fields}
        analyses:
          rfm: {RETAIL_POLICY}
          cohorts: {RETAIL_POLICY}
    """))
    # One read of the 541,909 lines feeds both analyses (analyze() would read it twice).
    from crmmetrics.domain.orders import POLICY_FIELDS

    # As analyze() loads it: the analyses' declared fields are columns (status, cost: all null here).
    ds = load_dataset(cfg, {"orders": {"order_id", "customer_id", "order_date", "amount", "quantity"}},
                      declared={"orders": {"order_date", *POLICY_FIELDS}})
    assert ds.inputs[0].rows_read == 541909 and ds.inputs[0].rows_rejected == 0

    def run(name: str):
        spec = get_analysis(name)
        ctx = AnalysisContext(spec, getattr(cfg.model.analyses, name), ds.frames, ds, cfg, "month", None, None, None)
        return spec.compute(ctx), ctx

    rfm, _ = run("rfm")
    customers = rfm.tables["customers"]
    assert rfm.options_in_force["analysis_date"] == "2011-12-10"
    assert len(customers) == 4338
    assert customers["r_score"].value_counts().sort_index().tolist() == [868, 867, 868, 867, 868]
    assert rfm.tables["segments"]["customers"].sum() == 4338
    top = customers.set_index("customer_id").loc["12347"]
    assert (top["recency_days"], top["frequency"], top["monetary"], top["segment"]) == (3, 7, pytest.approx(4310.0), "champions")

    cohorts, _ = run("cohorts")
    m = cohorts.tables["retention"].set_index("cohort")
    assert m.loc["2010-12", "size"] == 885 and m.loc["2010-12", "p1"] == pytest.approx(324 / 885)
    assert m.loc["2010-12", "incomplete_k"] == 12  # December 2011 ends on the 9th
    assert int(m.drop(index="weighted average")["size"].sum()) == 4338

    # Excluded and rejected rows are counted in the issues (each counted once).
    assert _issue_total(ds.issues, "credit_row") == 3838  # C-invoices and negative invoices: credits
    assert _issue_total(ds.issues, "missing_customer_id") == 1612  # invoices without a customer
    assert _issue_total(ds.issues, "zero_amount") == 2102

    # December 2010 from the CSV equals December 2010 read from the derived .xlsx.
    prepared = prepare_orders(ds.frames["orders"], OrderPolicy(order_lines=True, amount_is_unit_price=True, cancellation_prefix="C",
                                                               zero_amount="exclude"),
                              ds, "Europe/London", None)
    dec = prepared[(prepared["_local"] >= dt.datetime(2010, 12, 1)) & (prepared["_local"] < dt.datetime(2011, 1, 1))]
    xcfg = load_config(write(tmp_path / "dec.yaml", f"""
        version: 1
        timezone: Europe/London
        sources:
          orders:
            path: {RETAIL / "online_retail_2010-12.xlsx"}
            fields: {fields}
        metrics:
          revenue: &p {RETAIL_POLICY}
          order_count: *p
          purchase_frequency: *p
    """))
    report = compute(xcfg, ["revenue", "order_count", "purchase_frequency"], as_of="2010-12-31")
    assert report.inputs[0].rows_read == 42481
    got = report.results.set_index("metric")
    assert got.loc["revenue", "value"] == pytest.approx(dec["_value"].sum()) == pytest.approx(748957.02)
    assert got.loc["order_count", "value"] == dec["_order"].sum() == 1559
    known = dec[(dec["_known"] == 1) & (dec["_order"] == 1)]
    assert got.loc["purchase_frequency", "denominator"] == known["customer_id"].nunique() == 885
