"""Subscription revenue and retention against METRICS.md A1–A21 and its worked examples
(WX5–WX12), with hand-computed values on tiny subscription exports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from crmmetrics import compute, load_config
from crmmetrics.errors import ConfigError, DataError
from tests.conftest import ROOT, write

AS_OF = "2026-12-31"
SUB_COLS = ("id", "customer", "start", "end", "canceled", "amount", "discount", "tax", "interval", "qty", "status", "currency")
SUBS_FIELDS = ("{subscription_id: id, customer_id: customer, started_at: start, ended_at: end, canceled_at: canceled, amount: amount, "
               "discount_amount: discount, tax_amount: tax, billing_interval_months: interval, quantity: qty, status: status, currency: currency}")
CONFIG = """
version: 1
timezone: UTC
currency: USD
sources:
  customers:
    path: customers.csv
    fields: {{customer_id: id, created_at: created, segment: segment, acquisition_channel: channel, is_referred: referred, referred_by: referred_by}}
  subscriptions:
    path: subs.csv
    fields: {subs_fields}
{extra}
metrics:
{metrics}
"""


def sub(customer: str, start: str, end: str | None = None, amount: float = 10.0, **kw) -> dict:
    """One subscription row; keyword arguments set the other columns."""
    row = {"customer": customer, "start": start, "end": end or "", "amount": amount, "discount": 0, "tax": 0, "interval": 1,
           "qty": 1, "status": "", "canceled": "", "currency": "USD"}
    row.update({k: ("" if v is None else v) for k, v in kw.items()})
    return row


def make(tmp_path, subs: list[dict], *, metrics: str = "", extra: str = "", customers: list[dict] | None = None,
         subs_fields: str = SUBS_FIELDS):
    """Write subs.csv, customers.csv and crm.yaml; return the config path."""
    cols = list(SUB_COLS) + [k for k in dict.fromkeys(k for r in subs for k in r) if k not in SUB_COLS]
    lines = [",".join(cols)]
    for i, r in enumerate(subs, start=1):
        r = {"id": r.get("id", f"S{i}"), **r}
        lines.append(",".join(str(r.get(c, "")) for c in cols))
    (tmp_path / "subs.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if customers is None:
        ids = sorted({r["customer"] for r in subs})
        customers = [{"id": c} for c in ids]
    cols = ("id", "created", "segment", "channel", "referred", "referred_by")
    rows = [",".join(cols)] + [",".join(str(c.get(k, {"created": "2020-01-01", "segment": "A"}.get(k, ""))) for k in cols) for c in customers]
    (tmp_path / "customers.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return write(tmp_path / "crm.yaml", CONFIG.format(subs_fields=subs_fields, extra=extra, metrics=metrics or "  nps: {}"))


def run(cfg, metrics, **kw):
    kw.setdefault("as_of", AS_OF)
    return compute(load_config(cfg), metrics, **kw)


def rows(report, metric):
    return report.results[report.results["metric"] == metric].reset_index(drop=True)


def at(report, metric, period, **dims):
    """The result row of ``metric`` for ``period`` (and dimension values)."""
    r = rows(report, metric)
    r = r[r["period"] == period]
    for k, v in dims.items():
        r = r[r[k] == v]
    assert len(r) == 1, f"{metric} {period} {dims}: {len(r)} rows"
    return r.iloc[0]


def codes(report):
    return {i.code for i in report.issues}


# ------------------------------------------------------------------ MRR, ARR, ARPA (WX5–WX7)


def test_wx6_mrr_25_then_85_arr_300_and_annual_plan_166_67(tmp_path):
    subs = [sub(f"C{i}", "2026-01-01", amount=5) for i in range(1, 6)] + [sub("C6", "2026-02-10", amount=30), sub("C7", "2026-02-20", amount=30)]
    subs.append(sub("C8", "2026-03-01", amount=2000, interval=12))
    rep = run(make(tmp_path, subs), ["mrr", "arr", "new_mrr", "net_new_mrr"], until="2026-04-01")
    assert at(rep, "mrr", "2026-01")["value"] == pytest.approx(25)
    assert at(rep, "arr", "2026-01")["value"] == pytest.approx(300)
    feb = at(rep, "mrr", "2026-02")
    assert (feb["value"], feb["n"], feb["mrr_start"]) == (pytest.approx(85), 7, pytest.approx(25))
    assert at(rep, "new_mrr", "2026-02")["value"] == pytest.approx(60)
    assert at(rep, "net_new_mrr", "2026-02")["value"] == pytest.approx(85 - 25)
    assert at(rep, "mrr", "2026-03")["value"] == pytest.approx(85 + 2000 / 12)  # 166.67 a month
    assert at(rep, "new_mrr", "2026-03")["value"] == pytest.approx(166.6666667)


def test_wx7_annual_120_with_10_percent_discount_is_9_and_tax_is_excluded(tmp_path):
    cfg = make(tmp_path, [sub("C1", "2026-01-15", amount=120, discount=12, tax=21.6, interval=12)])
    assert at(run(cfg, ["mrr"], until="2026-02-01"), "mrr", "2026-01")["value"] == pytest.approx(9.0)


def test_amount_including_tax_subtracts_it(tmp_path):
    cfg = make(tmp_path, [sub("C1", "2026-01-15", amount=120, tax=20)], metrics="  mrr: {amount_includes_tax: true}")
    assert at(run(cfg, ["mrr"], until="2026-02-01"), "mrr", "2026-01")["value"] == pytest.approx(100.0)


def test_quantity_is_informative_unless_multiply(tmp_path):
    subs = [sub("C1", "2026-01-01", amount=10, qty=3)]
    assert at(run(make(tmp_path, subs), ["mrr"], until="2026-02-01"), "mrr", "2026-01")["value"] == pytest.approx(10)
    cfg = make(tmp_path, subs, metrics="  mrr: {quantity: multiply}")
    assert at(run(cfg, ["mrr", "arpa"], until="2026-02-01"), "arpa", "2026-01")["value"] == pytest.approx(30)


def test_wx5_arpa_is_3_and_counts_customers_not_subscriptions(tmp_path):
    # Customers paying 1, 1, 3, 5, 5; C5's 5 is two subscriptions (2 + 3): still one account.
    subs = [sub("C1", "2026-01-01", amount=1), sub("C2", "2026-01-01", amount=1), sub("C3", "2026-01-01", amount=3),
            sub("C4", "2026-01-01", amount=5), sub("C5", "2026-01-01", amount=2), sub("C5", "2026-01-01", amount=3)]
    row = at(run(make(tmp_path, subs), ["arpa"], until="2026-02-01"), "arpa", "2026-01")
    assert (row["value"], row["numerator"], row["denominator"], row["n"]) == (pytest.approx(3.0), pytest.approx(15), 5, 5)


def test_arpa_new_only_and_strict_annual_arr(tmp_path):
    subs = [sub("C1", "2025-12-01", amount=100), sub("C2", "2026-01-05", amount=40), sub("C3", "2026-01-20", amount=1200, interval=12)]
    cfg = make(tmp_path, subs, metrics="  arpa: {new_only: true}\n  arr: {annual_contracts_only: true}")
    rep = run(cfg, ["arpa", "arr"], since="2026-01-01", until="2026-02-01")
    assert at(rep, "arpa", "2026-01")["value"] == pytest.approx((40 + 100) / 2)  # ASP: new MRR ÷ new customers
    assert at(rep, "arr", "2026-01")["value"] == pytest.approx(1200)  # only the annual contract


# ------------------------------------------------------------------ movements (A4–A9)


def test_movements_are_classified_per_customer(tmp_path):
    subs = [
        sub("A", "2026-01-01", "2026-03-10", amount=100), sub("A", "2026-03-10", amount=150),           # upgrade → expansion 50
        sub("B", "2026-01-01", "2026-03-05", amount=80), sub("B", "2026-03-05", amount=50),              # downgrade → contraction 30
        sub("C", "2026-01-01", amount=40), sub("C", "2026-01-01", "2026-03-15", amount=20),             # one of two ends → contraction 20
        sub("D", "2026-01-01", amount=10), sub("D", "2026-03-20", amount=15),                           # second subscription → expansion 15
        sub("E", "2026-01-01", "2026-03-25", amount=60),                                                # last one ends → churned 60
        sub("F", "2025-06-01", "2025-09-01", amount=25), sub("F", "2026-03-12", amount=35),              # returns → reactivation 35
        sub("G", "2026-03-03", amount=70),                                                              # first payment → new 70
    ]
    rep = run(make(tmp_path, subs), ["new_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr", "reactivation_mrr", "net_new_mrr", "mrr"],
              since="2026-03-01", until="2026-04-01")
    got = {m: (at(rep, m, "2026-03")["value"], at(rep, m, "2026-03")["n"]) for m in
           ("new_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr", "reactivation_mrr")}
    assert got == {"new_mrr": (70, 1), "expansion_mrr": (65, 2), "contraction_mrr": (50, 2), "churned_mrr": (60, 1), "reactivation_mrr": (35, 1)}
    net = at(rep, "net_new_mrr", "2026-03")
    assert net["value"] == pytest.approx(70 + 65 + 35 - 50 - 60)
    assert net["value"] == pytest.approx(net["mrr_end"] - net["mrr_start"])
    assert at(rep, "mrr", "2026-03")["value"] == pytest.approx(150 + 50 + 40 + 25 + 35 + 70)


def test_reactivation_window_makes_a_late_return_new_business(tmp_path):
    subs = [sub("A", "2025-01-01", "2025-06-01", amount=10), sub("A", "2025-12-01", amount=10),   # back after 183 days
            sub("B", "2025-01-01", "2025-10-01", amount=20), sub("B", "2025-12-01", amount=20)]   # back after 61 days
    cfg = make(tmp_path, subs)
    rep = run(cfg, ["new_mrr", "reactivation_mrr"], since="2025-12-01", until="2026-01-01")
    assert (at(rep, "new_mrr", "2025-12")["value"], at(rep, "reactivation_mrr", "2025-12")["value"]) == (0, 30)
    cfg = make(tmp_path, subs, metrics="  mrr: {reactivation_window_days: 90}")
    rep = run(cfg, ["new_mrr", "reactivation_mrr"], since="2025-12-01", until="2026-01-01")
    assert (at(rep, "new_mrr", "2025-12")["value"], at(rep, "reactivation_mrr", "2025-12")["value"]) == (10, 20)


def test_purchases_within_the_merge_window_are_one_new_business(tmp_path):
    subs = [sub("A", "2026-01-05 10:00", amount=10), sub("A", "2026-01-05 10:40", amount=5)]
    rep = run(make(tmp_path, subs), ["new_mrr", "expansion_mrr"], until="2026-02-01")
    assert (at(rep, "new_mrr", "2026-01")["value"], at(rep, "expansion_mrr", "2026-01")["value"]) == (15, 0)
    rep = run(make(tmp_path, subs, metrics="  mrr: {merge_window_minutes: 0}"), ["new_mrr", "expansion_mrr"], until="2026-02-01")
    assert (at(rep, "new_mrr", "2026-01")["value"], at(rep, "expansion_mrr", "2026-01")["value"]) == (10, 5)


def test_same_period_sign_up_and_churn_netted_out_profitwell(tmp_path):
    subs = [sub("A", "2026-01-01", amount=50), sub("B", "2026-02-03", "2026-02-20", amount=30), sub("C", "2026-02-10", amount=20)]
    metrics = ["new_mrr", "churned_mrr", "net_new_mrr"]
    rep = run(make(tmp_path, subs), metrics, since="2026-02-01", until="2026-03-01")
    assert [at(rep, m, "2026-02")["value"] for m in metrics] == [50, 30, 20]
    rep = run(make(tmp_path, subs, metrics="  mrr: {}\n  new_mrr: {same_period_churn: net}\n  churned_mrr: {same_period_churn: net}\n"
                   "  net_new_mrr: {same_period_churn: net}"), metrics, since="2026-02-01", until="2026-03-01")
    assert [at(rep, m, "2026-02")["value"] for m in metrics] == [20, 0, 20]


def test_churn_date_option_moves_churn_to_the_cancellation_request(tmp_path):
    subs = [sub("A", "2026-01-01", amount=10), sub("B", "2026-01-01", "2026-04-01", amount=20, canceled="2026-03-10")]
    rep = run(make(tmp_path, subs), ["churned_mrr"], since="2026-03-01", until="2026-05-01")
    assert (at(rep, "churned_mrr", "2026-03")["value"], at(rep, "churned_mrr", "2026-04")["value"]) == (0, 20)
    rep = run(make(tmp_path, subs, metrics="  mrr: {churn_date: canceled_at}"), ["churned_mrr"], since="2026-03-01", until="2026-05-01")
    assert (at(rep, "churned_mrr", "2026-03")["value"], at(rep, "churned_mrr", "2026-04")["value"]) == (20, 0)


def test_past_due_stops_counting_after_delinquent_days(tmp_path):
    subs = [sub("A", "2026-01-01", amount=10, status="past_due", due="2026-02-10"),
            sub("B", "2026-01-01", amount=20, status="past_due", due="")]
    fields = SUBS_FIELDS.replace("currency: currency}", "currency: currency, past_due_since: due}")
    cfg = make(tmp_path, subs, subs_fields=fields)
    rep = run(cfg, ["mrr", "churned_mrr"], until="2026-04-01")
    # A: delinquent since 10 Feb, 30 days → churned on 12 March; B: no date → still counts.
    assert [at(rep, "mrr", p)["value"] for p in ("2026-02", "2026-03")] == [30, 20]
    assert at(rep, "churned_mrr", "2026-03")["value"] == 10
    rep = run(make(tmp_path, subs, metrics="  mrr: {delinquent_days: null}", subs_fields=fields), ["mrr"], until="2026-04-01")
    assert at(rep, "mrr", "2026-03")["value"] == 30


def test_past_due_without_a_date_counts_and_says_so(tmp_path):
    rep = run(make(tmp_path, [sub("A", "2026-01-01", amount=10, status="past_due")]), ["mrr"], until="2026-02-01")
    assert at(rep, "mrr", "2026-01")["value"] == 10 and "past_due_kept" in codes(rep)


def test_trialing_is_not_mrr_and_paused_follows_the_option(tmp_path):
    subs = [sub("A", "2026-01-01", amount=10, status="trialing"), sub("B", "2026-01-01", amount=20, status="paused"),
            sub("C", "2026-01-01", amount=40, status="active")]
    assert at(run(make(tmp_path, subs), ["mrr"], until="2026-02-01"), "mrr", "2026-01")["value"] == 60
    rep = run(make(tmp_path, subs, metrics="  mrr: {paused: excluded}"), ["mrr"], until="2026-02-01")
    assert at(rep, "mrr", "2026-01")["value"] == 40 and {"trialing", "paused"} <= codes(rep)


def test_engine_options_set_under_mrr_apply_to_the_family(tmp_path):
    subs = [sub("A", "2026-01-01", amount=10, qty=4)]
    cfg = make(tmp_path, subs, metrics="  mrr: {quantity: multiply}\n  arpa: {}")
    rep = run(cfg, ["arr", "arpa"], until="2026-02-01")
    assert (at(rep, "arr", "2026-01")["value"], at(rep, "arpa", "2026-01")["value"]) == (480, 40)
    assert rep.options["arpa"]["quantity"] == "multiply"
    cfg = make(tmp_path, subs, metrics="  mrr: {quantity: multiply}\n  arpa: {quantity: ignore}")
    assert at(run(cfg, ["arpa"], until="2026-02-01"), "arpa", "2026-01")["value"] == 10  # the metric's own choice wins


# ------------------------------------------------------------------ churn (A10) and retention (A17)


def test_wx8_chartmogul_churn_10_percent_excludes_same_month_signup(tmp_path):
    subs = [sub(f"C{i:03d}", "2026-01-01", "2026-03-15" if i <= 10 else None) for i in range(1, 101)]
    subs.append(sub("N1", "2026-03-02", "2026-03-20"))  # joined and cancelled in March: the 11th cancellation
    rep = run(make(tmp_path, subs), ["customer_churn_rate"], since="2026-03-01", until="2026-04-01")
    row = at(rep, "customer_churn_rate", "2026-03")
    assert (row["value"], row["numerator"], row["denominator"], row["churned_customers"]) == (pytest.approx(0.10), 10, 100, 11)


CHURN_SET = [
    *[sub(f"C{i}", "2026-01-01") for i in range(4, 11)],                               # C4..C10 stay
    sub("C1", "2026-01-01", "2026-03-15"), sub("C2", "2026-01-01", "2026-03-22"),        # base churners
    sub("C3", "2026-01-01", "2026-03-05"), sub("C3", "2026-03-20"),                      # leaves and returns within March
    sub("N1", "2026-03-03", "2026-03-25"),                                               # joins and leaves in March
    sub("N2", "2026-03-10"),                                                             # joins and stays
    sub("R1", "2025-11-01", "2026-01-15"), sub("R1", "2026-03-08", "2026-03-28"),        # former customer: returns, leaves again
]


@pytest.mark.parametrize(("formula", "expected", "num", "den"), [
    ("chartmogul", 3 / 10, 3, 10),      # C1, C2, C3: paying on 1 March and churned in it
    ("profitwell", 2 / 10, 2, 10),      # C1, C2: paying at the start, not at the end (C3's in-and-out ignored)
    ("baremetrics", 5 / 10, 5, 10),     # every customer who churned: C1, C2, C3, N1, R1
    ("stripe", 5 / 14, 5, 14),          # 5 churn events ÷ (10 at start + new N1, N2 + returning C3, R1)
    ("daily", 1 / 11 + 1 / 12 + 1 / 12 + 1 / 11 + 1 / 10, None, 1),  # C3 5th (11 at day start), C1 15th (12), C2 22nd (12), N1 25th (11), R1 28th (10)
])
def test_churn_formulas_differ_on_one_small_data_set(tmp_path, formula, expected, num, den):
    cfg = make(tmp_path, CHURN_SET, metrics=f"  customer_churn_rate: {{formula: {formula}}}")
    row = at(run(cfg, ["customer_churn_rate"], since="2026-03-01", until="2026-04-01"), "customer_churn_rate", "2026-03")
    assert row["value"] == pytest.approx(expected)
    assert row["denominator"] == den and (num is None or row["numerator"] == num)


def test_retention_classic_and_complement_on_the_churn_set(tmp_path):
    cfg = make(tmp_path, CHURN_SET, metrics="  customer_retention_rate: {variant: classic}")
    row = at(run(cfg, ["customer_retention_rate"], since="2026-03-01", until="2026-04-01"), "customer_retention_rate", "2026-03")
    # E = C3..C10 + N2 = 9, N = N2 (joined and stayed) = 1, S = 10 → 0.8
    assert (row["value"], row["customers_end"], row["new_or_returning_customers"], row["customers_start"]) == (pytest.approx(0.8), 9, 1, 10)
    cfg = make(tmp_path, CHURN_SET, metrics="  customer_retention_rate: {variant: complement, churn_formula: chartmogul}")
    assert at(run(cfg, ["customer_retention_rate"], since="2026-03-01", until="2026-04-01"),
              "customer_retention_rate", "2026-03")["value"] == pytest.approx(0.7)


def test_wx12_retention_29_of_30_is_96_67_percent(tmp_path):
    subs = [sub(f"C{i}", "2025-12-01", "2026-01-20" if i == 30 else None) for i in range(1, 31)]
    row = at(run(make(tmp_path, subs), ["customer_retention_rate"], since="2026-01-01", until="2026-02-01"), "customer_retention_rate", "2026-01")
    assert row["value"] == pytest.approx(29 / 30)  # 96.67 %


def test_no_customers_at_the_start_is_null_with_an_issue(tmp_path):
    rep = run(make(tmp_path, [sub("A", "2026-01-10")]), ["customer_churn_rate"], until="2026-03-01")
    first = at(rep, "customer_churn_rate", "2026-01")
    assert first["n"] == 0 and first["value"] != first["value"]  # NaN
    assert at(rep, "customer_churn_rate", "2026-02")["value"] == 0.0
    assert "zero_denominator" in codes(rep)


# ------------------------------------------------------------------ MRR churn, NRR, GRR, quick ratio (WX9, WX10)


def _wx9(tmp_path, metrics: str = ""):
    subs = [sub("A", "2026-01-01", amount=40),
            sub("B", "2026-01-01", "2026-03-10", amount=30), sub("B", "2026-03-10", amount=40),   # expansion 10
            sub("C", "2026-01-01", "2026-03-12", amount=20), sub("C", "2026-03-12", amount=10),   # contraction 10
            sub("D", "2026-01-01", "2026-03-20", amount=10)]                                       # churn 10
    return make(tmp_path, subs, metrics=metrics)


def test_wx9_gross_20_net_10_nrr_90_grr_80_quick_ratio_0_5(tmp_path):
    metrics = ["gross_mrr_churn_rate", "net_mrr_churn_rate", "net_revenue_retention", "gross_revenue_retention", "quick_ratio"]
    rep = run(_wx9(tmp_path), metrics, since="2026-03-01", until="2026-04-01")
    got = {m: at(rep, m, "2026-03")["value"] for m in metrics}
    assert got == pytest.approx({"gross_mrr_churn_rate": 0.20, "net_mrr_churn_rate": 0.10, "net_revenue_retention": 0.90,
                                 "gross_revenue_retention": 0.80, "quick_ratio": 0.5})
    gross = at(rep, "gross_mrr_churn_rate", "2026-03")
    assert (gross["numerator"], gross["denominator"]) == (20, 100)


def test_nrr_start_base_differs_from_movement_variant_by_outside_reactivations(tmp_path):
    subs = [sub("A", "2026-01-01", amount=100), sub("R", "2025-05-01", "2025-08-01", amount=50), sub("R", "2026-03-05", amount=50)]
    metrics = "  net_revenue_retention: {variant: movement}"
    rep = run(make(tmp_path, subs), ["net_revenue_retention", "net_mrr_churn_rate"], since="2026-03-01", until="2026-04-01")
    assert at(rep, "net_revenue_retention", "2026-03")["value"] == pytest.approx(1.0)  # R was not paying on 1 March
    assert at(rep, "net_mrr_churn_rate", "2026-03")["value"] == pytest.approx(-0.5)
    rep = run(make(tmp_path, subs, metrics=metrics), ["net_revenue_retention"], since="2026-03-01", until="2026-04-01")
    assert at(rep, "net_revenue_retention", "2026-03")["value"] == pytest.approx(1.5)  # 1 − (−50 %) credits the reactivation


def test_baremetrics_net_churn_has_no_reactivation_term(tmp_path):
    subs = [sub("A", "2026-01-01", amount=100), sub("A", "2026-01-01", "2026-03-10", amount=20),
            sub("R", "2025-05-01", "2025-08-01", amount=5), sub("R", "2026-03-05", amount=5)]
    cfg = make(tmp_path, subs, metrics="  net_mrr_churn_rate: {formula: baremetrics}")
    row = at(run(cfg, ["net_mrr_churn_rate"], since="2026-03-01", until="2026-04-01"), "net_mrr_churn_rate", "2026-03")
    assert row["value"] == pytest.approx(20 / 120)  # chartmogul would give (20 − 5) / 120


def test_wx10_daily_net_mrr_churn_is_minus_10_percent(tmp_path):
    # Day start 100; that day a new customer at 10 and A expanding 100 → 110: end of day 120.
    subs = [sub("A", "2026-03-01", "2026-03-10", amount=100), sub("A", "2026-03-10", amount=110), sub("B", "2026-03-10", amount=10)]
    cfg = make(tmp_path, subs, metrics="  net_mrr_churn_rate: {formula: daily}\n  gross_mrr_churn_rate: {formula: daily}")
    rep = run(cfg, ["net_mrr_churn_rate", "gross_mrr_churn_rate"], period="day", since="2026-03-10", until="2026-03-11")
    assert at(rep, "net_mrr_churn_rate", "2026-03-10")["value"] == pytest.approx(-0.10)
    assert at(rep, "gross_mrr_churn_rate", "2026-03-10")["value"] == pytest.approx(0.0)


def test_daily_formula_sums_day_rates_over_the_month(tmp_path):
    # 100 at the start; 10 lost on the 5th (10 %), 9 lost on the 20th (9/90 = 10 %) → 20 % over March.
    subs = [sub("A", "2026-01-01", amount=81), sub("B", "2026-01-01", "2026-03-05", amount=10), sub("C", "2026-01-01", "2026-03-20", amount=9)]
    cfg = make(tmp_path, subs, metrics="  gross_mrr_churn_rate: {formula: daily}")
    row = at(run(cfg, ["gross_mrr_churn_rate"], since="2026-03-01", until="2026-04-01"), "gross_mrr_churn_rate", "2026-03")
    assert row["value"] == pytest.approx(0.10 + 0.10)


# ------------------------------------------------------------------ LTV (WX11)


def _steady(tmp_path, metrics: str):
    """20 paying customers at 100; every month from January one leaves on the 15th and one joins."""
    subs = [sub(f"B{i}", "2025-12-01", f"2026-{i:02d}-15" if i <= 7 else None, amount=100) for i in range(1, 21)]
    subs += [sub(f"J{i}", f"2026-{i:02d}-15", amount=100) for i in range(1, 8)]
    return make(tmp_path, subs, metrics=metrics)


def test_wx11_ltv_with_six_month_trailing_churn_is_2000(tmp_path):
    cfg = _steady(tmp_path, "  ltv: {churn: trailing, trailing_periods: 6}")
    rep = run(cfg, ["ltv"], since="2026-07-01", until="2026-08-01")
    row = at(rep, "ltv", "2026-07")
    assert (row["arpa"], row["churn_rate"], row["value"]) == (pytest.approx(100), pytest.approx(0.05), pytest.approx(2000))


def test_ltv_current_churn_gross_margin_and_zero_churn(tmp_path):
    cfg = _steady(tmp_path, "  ltv: {gross_margin: 0.8}")
    rep = run(cfg, ["ltv"], since="2026-03-01", until="2026-10-01")
    assert at(rep, "ltv", "2026-03")["value"] == pytest.approx(100 * 0.8 / 0.05)
    sept = at(rep, "ltv", "2026-09")  # nobody left in September: LTV undefined
    assert sept["churn_rate"] == 0 and sept["value"] != sept["value"]


# ------------------------------------------------------------------ renewal, expansion, upsell, cross-sell


def test_wx12_renewal_29_of_30_annual_contracts(tmp_path):
    subs = [sub(f"C{i}", "2025-03-01", "2026-03-01" if i == 30 else None, amount=1200, interval=12) for i in range(1, 31)]
    row = at(run(make(tmp_path, subs), ["renewal_rate"], since="2026-03-01", until="2026-04-01"), "renewal_rate", "2026-03")
    assert (row["value"], row["contracts_due"], row["contracts_renewed"]) == (pytest.approx(29 / 30), 30, 29)


def test_renewal_counts_a_late_re_sign_and_a_new_plan_and_values_them(tmp_path):
    subs = [sub("A", "2025-03-01", amount=1200, interval=12),                                    # runs on
            sub("B", "2025-03-10", "2026-03-10", amount=1200, interval=12), sub("B", "2026-03-25", amount=2400, interval=12),  # re-signs 15 days late, bigger
            sub("C", "2025-03-20", "2026-03-20", amount=1200, interval=12),                      # leaves
            sub("D", "2025-03-01", amount=100)]                                                  # monthly: not a contract
    rep = run(make(tmp_path, subs), ["renewal_rate"], since="2026-03-01", until="2026-04-01")
    assert at(rep, "renewal_rate", "2026-03")["value"] == pytest.approx(2 / 3)
    cfg = make(tmp_path, subs, metrics="  renewal_rate: {basis: value}")
    rep = run(cfg, ["renewal_rate"], since="2026-03-01", until="2026-04-01")
    assert at(rep, "renewal_rate", "2026-03")["value"] == pytest.approx((100 + 200) / 300)


DEALS = """id,customer,closed,status,amount,type
D1,A,2026-03-05,won,1000,upsell
D2,B,2026-03-08,won,500,upsell
D3,A,2026-03-09,won,250,cross_sell
D4,C,2026-03-12,lost,900,upsell
D5,A,2026-03-15,won,3000,renewal
D6,B,2026-03-18,lost,1000,renewal
D7,C,2026-03-20,won,2000,renewal
D8,N,2026-03-22,won,700,upsell
D9,B,2026-04-02,won,800,new
"""
DEALS_SOURCE = """  deals:
    path: deals.csv
    fields: {deal_id: id, customer_id: customer, closed_at: closed, status: status, amount: amount, deal_type: type}"""


def _deals_project(tmp_path, metrics: str = ""):
    (tmp_path / "deals.csv").write_text(DEALS, encoding="utf-8")
    subs = [sub(c, "2026-01-01", amount=10) for c in "ABCD"] + [sub("N", "2026-03-10", amount=10)]
    return make(tmp_path, subs, extra=DEALS_SOURCE, metrics=metrics)


def test_upsell_and_cross_sell_rates_from_won_deals_over_the_start_base(tmp_path):
    rep = run(_deals_project(tmp_path), ["upsell_rate", "cross_sell_rate"], since="2026-03-01", until="2026-04-01")
    up = at(rep, "upsell_rate", "2026-03")  # A and B won upsells; N's upsell is not from the start base
    assert (up["value"], up["numerator"], up["denominator"]) == (pytest.approx(2 / 4), 2, 4)
    assert at(rep, "cross_sell_rate", "2026-03")["value"] == pytest.approx(1 / 4)


def test_upsell_revenue_share_and_subscription_source(tmp_path):
    cfg = _deals_project(tmp_path, "  upsell_rate: {variant: revenue_share}")
    row = at(run(cfg, ["upsell_rate"], since="2026-03-01", until="2026-04-01"), "upsell_rate", "2026-03")
    assert row["value"] == pytest.approx((1000 + 500 + 700) / (1000 + 500 + 250 + 3000 + 2000 + 700))
    subs = [sub("A", "2026-01-01", "2026-03-05", amount=10), sub("A", "2026-03-05", amount=20), sub("B", "2026-01-01", amount=10)]
    cfg = make(tmp_path, subs, metrics="  upsell_rate: {rate_source: subscriptions}")
    assert at(run(cfg, ["upsell_rate"], since="2026-03-01", until="2026-04-01"), "upsell_rate", "2026-03")["value"] == pytest.approx(0.5)


def test_expansion_revenue_from_deals_and_from_subscriptions(tmp_path):
    cfg = _deals_project(tmp_path, "  expansion_revenue: {revenue_source: deals}")
    assert at(run(cfg, ["expansion_revenue"], since="2026-03-01", until="2026-04-01"),
              "expansion_revenue", "2026-03")["value"] == pytest.approx(1000 + 500 + 250 + 700)
    subs = [sub("A", "2026-01-01", "2026-03-05", amount=10), sub("A", "2026-03-05", amount=25)]
    assert at(run(make(tmp_path, subs), ["expansion_revenue"], since="2026-03-01", until="2026-04-01"),
              "expansion_revenue", "2026-03")["value"] == pytest.approx(15)


def test_renewal_rate_from_renewal_deals_logo_and_value(tmp_path):
    cfg = _deals_project(tmp_path, "  renewal_rate: {renewal_source: deals}")
    row = at(run(cfg, ["renewal_rate"], since="2026-03-01", until="2026-04-01"), "renewal_rate", "2026-03")
    assert (row["value"], row["contracts_due"]) == (pytest.approx(2 / 3), 3)
    cfg = _deals_project(tmp_path, "  renewal_rate: {renewal_source: deals, basis: value}")
    assert at(run(cfg, ["renewal_rate"], since="2026-03-01", until="2026-04-01"),
              "renewal_rate", "2026-03")["value"] == pytest.approx(5000 / 6000)


def test_cross_sell_from_orders_is_a_category_new_to_the_customer(tmp_path):
    (tmp_path / "orders.csv").write_text(
        "id,customer,date,amount,category,status\n"
        "O1,A,2026-01-10,10,licence,paid\nO2,A,2026-03-04,10,training,paid\n"   # A: new category in March → cross-sell
        "O3,B,2026-01-10,10,licence,paid\nO4,B,2026-03-04,10,licence,paid\n"    # B: same category
        "O5,C,2026-03-04,10,training,paid\n", encoding="utf-8")                 # C: first order ever
    extra = """  orders:
    path: orders.csv
    fields: {order_id: id, customer_id: customer, order_date: date, amount: amount, category: category, status: status}"""
    subs = [sub(c, "2026-01-01", amount=10) for c in "ABCD"]
    cfg = make(tmp_path, subs, extra=extra, metrics="  cross_sell_rate: {rate_source: orders}")
    assert at(run(cfg, ["cross_sell_rate"], since="2026-03-01", until="2026-04-01"), "cross_sell_rate", "2026-03")["value"] == pytest.approx(1 / 4)


# ------------------------------------------------------------------ bad input


def test_bad_rows_are_issues_with_their_line_and_left_out(tmp_path):
    subs = [sub("A", "2026-01-01", amount=10),
            sub("B", "2026-03-01", "2026-02-01", amount=10),      # line 3: ends before it starts
            sub("C", "2026-01-01", amount=-5),                     # line 4: negative amount
            sub("D", "2026-01-01", amount=10, interval=0),         # line 5: billing interval 0
            sub("E", "2026-01-01", amount=10, interval=""),        # line 6: no billing interval
            sub("F", "2026-01-01", amount=10, status="canceled"),  # line 7: canceled, no end date
            sub("G", "2026-01-01", amount=10, discount=15)]        # line 8: discount larger than the amount
    rep = run(make(tmp_path, subs), ["mrr", "arpa"], until="2026-02-01")
    assert at(rep, "mrr", "2026-01")["value"] == 10
    where = {i.code: i.location for i in rep.issues if i.location}
    assert where["end_before_start"].endswith("subs.csv:3")
    assert where["negative_amount"].endswith("subs.csv:4")
    assert where["bad_billing_interval"].endswith("subs.csv:5")
    assert where["missing_billing_interval"].endswith("subs.csv:6")
    assert where["canceled_without_end"].endswith("subs.csv:7")
    assert where["discount_exceeds_amount"].endswith("subs.csv:8")
    # reported once per run, not once per metric
    assert sum(1 for i in rep.issues if i.code == "negative_amount") == 1


def test_overlapping_subscriptions_of_one_customer_are_summed_and_reported(tmp_path):
    subs = [sub("A", "2026-01-01", "2026-06-01", amount=10), sub("A", "2026-02-01", amount=5), sub("B", "2026-01-01", amount=1)]
    rep = run(make(tmp_path, subs), ["mrr"], until="2026-03-01")
    assert at(rep, "mrr", "2026-02")["value"] == 16
    overlap = [i for i in rep.issues if i.code == "overlapping_subscriptions"]
    assert len(overlap) == 1 and overlap[0].location.endswith("subs.csv:3") and overlap[0].level.value == "info"


def test_mixed_currencies_without_rates_are_refused_naming_them(tmp_path):
    subs = [sub("A", "2026-01-01", amount=10), sub("B", "2026-01-01", amount=100, currency="EUR"), sub("C", "2026-01-01", amount=7, currency="TRY")]
    with pytest.raises(DataError, match=r"USD.*EUR|EUR.*TRY") as err:
        run(make(tmp_path, subs), ["mrr"], until="2026-02-01")
    assert "EUR" in str(err.value) and "TRY" in str(err.value) and "fx_rates" in str(err.value)
    cfg = make(tmp_path, subs, metrics="  mrr: {fx_rates: {EUR: 1.1, TRY: {'2025-01-01': 0.05, '2026-01-01': 0.03}}}")
    assert at(run(cfg, ["mrr"], until="2026-02-01"), "mrr", "2026-01")["value"] == pytest.approx(10 + 110 + 7 * 0.03)


def test_mixed_currencies_exit_65_on_the_command_line(tmp_path):
    from typer.testing import CliRunner

    from crmmetrics.cli import app

    cfg = make(tmp_path, [sub("A", "2026-01-01"), sub("B", "2026-01-01", currency="GBP")])
    res = CliRunner().invoke(app, ["compute", "mrr", "-c", str(cfg), "--as-of", AS_OF])
    assert res.exit_code == 65 and "GBP" in res.stderr


def test_future_events_after_the_as_of_day_have_not_happened(tmp_path):
    subs = [sub("A", "2026-01-01", "2026-05-01", amount=10), sub("B", "2026-04-10", amount=20)]
    rep = run(make(tmp_path, subs), ["mrr", "churned_mrr"], as_of="2026-03-31")
    assert list(rows(rep, "mrr")["period"]) == ["2026-01", "2026-02", "2026-03"]
    assert at(rep, "mrr", "2026-03")["value"] == 10 and rows(rep, "churned_mrr")["value"].sum() == 0


# ------------------------------------------------------------------ --by, fallback, snapshot


def test_by_segment_values_add_up_to_the_total(tmp_path):
    subs = [sub("A", "2026-01-01", amount=10), sub("B", "2026-01-01", "2026-02-10", amount=20), sub("C", "2026-02-05", amount=40)]
    customers = [{"id": "A", "segment": "SMB"}, {"id": "B", "segment": "SMB"}, {"id": "C", "segment": "ENT"}]
    cfg = make(tmp_path, subs, customers=customers)
    metrics = ["mrr", "new_mrr", "churned_mrr", "customer_churn_rate"]
    split = run(cfg, metrics, by=["segment"], since="2026-02-01", until="2026-03-01")
    total = run(cfg, metrics, since="2026-02-01", until="2026-03-01")
    for m in ("mrr", "new_mrr", "churned_mrr"):
        assert rows(split, m)["value"].sum() == pytest.approx(at(total, m, "2026-02")["value"])
    assert at(split, "customer_churn_rate", "2026-02", segment="SMB")["value"] == pytest.approx(0.5)
    assert at(split, "mrr", "2026-02", segment="ENT")["value"] == 40


FALLBACK = """
version: 1
timezone: UTC
sources:
  customers:
    path: customers.csv
    fields: {customer_id: id, created_at: created, first_paid_at: paid, churned_at: churned, mrr: mrr, status: status}
"""


def test_customers_fallback_without_subscriptions(tmp_path):
    (tmp_path / "customers.csv").write_text(
        "id,created,paid,churned,mrr,status\n"
        "A,2025-12-01,2026-01-05,,100,active\n"
        "B,2025-12-01,2026-01-10,2026-02-15,40,churned\n"
        "C,2025-12-01,,,0,trial\n"                        # never paid: not a customer
        "D,2025-12-01,2026-02-01,2026-01-01,30,active\n",  # churned before first paid
        encoding="utf-8")
    cfg = write(tmp_path / "crm.yaml", FALLBACK)
    rep = run(cfg, ["mrr", "customer_churn_rate", "churned_mrr"], until="2026-03-01")
    assert [at(rep, "mrr", p)["value"] for p in ("2026-01", "2026-02")] == [140, 100]
    assert at(rep, "customer_churn_rate", "2026-02")["value"] == pytest.approx(0.5)
    assert at(rep, "churned_mrr", "2026-02")["value"] == 40
    assert {"end_before_start", "constant_mrr"} <= codes(rep)


def test_snapshot_without_dates_only_measures_one_period(tmp_path):
    (tmp_path / "customers.csv").write_text("id,mrr,churn,total\nA,50,No,500\nB,30,Yes,90\nC,20,No,\nD,10,No,10\n", encoding="utf-8")
    cfg = write(tmp_path / "crm.yaml", """
version: 1
sources:
  customers:
    path: customers.csv
    fields: {customer_id: id, mrr: mrr, status: churn, lifetime_revenue: total}
    values: {status: {"Yes": churned, "No": active}}
""")
    rep = run(cfg, ["customer_churn_rate", "mrr", "churned_mrr", "arpa"], period="all")
    assert at(rep, "customer_churn_rate", "all")["value"] == pytest.approx(1 / 3)  # C (never billed) left out
    assert (at(rep, "mrr", "all")["value"], at(rep, "churned_mrr", "all")["value"], at(rep, "arpa", "all")["value"]) == (60, 30, 30)
    blank = [i for i in rep.issues if i.code == "blank_lifetime_revenue"]
    assert len(blank) == 1 and blank[0].location.endswith("customers.csv:4")
    with pytest.raises(ConfigError):
        run(cfg, ["mrr"], period="month")


# ------------------------------------------------------------------ analysis and the sample data


def test_mrr_movements_analysis_lists_the_customers_behind_the_numbers(tmp_path):
    from crmmetrics.engine import analyze

    subs = [sub("A", "2026-01-01", "2026-03-10", amount=100), sub("A", "2026-03-10", "2026-03-20", amount=150), sub("B", "2026-03-03", amount=70)]
    rep = analyze(load_config(make(tmp_path, subs)), "mrr_movements", period="month", since="2026-03-01", until="2026-04-01", as_of=AS_OF)
    t = rep.tables["movements"].set_index("customer_id")
    assert t.loc["A", ["mrr_start", "expansion", "churned", "net_change", "mrr_end", "movements"]].tolist() == [100, 50, 150, -100, 0, "expansion+churned"]
    assert t.loc["B", ["new", "mrr_end"]].tolist() == [70, 70]
    summ = rep.tables["summary"].iloc[0]
    assert summ["net_new_mrr"] == pytest.approx(summ["mrr_end"] - summ["mrr_start"]) == -30
    assert list(rep.tables["events"]["kind"]) == ["new", "expansion", "churned"]


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "markdown", "table", "xlsx"])
def test_mrr_movements_in_every_output_format(tmp_path, fmt):
    from typer.testing import CliRunner

    from crmmetrics.cli import app

    cfg = make(tmp_path, [sub("A", "2026-01-01", "2026-03-10", amount=100), sub("B", "2026-03-03", amount=70)])
    out = tmp_path / f"out.{fmt}"
    args = ["analyze", "mrr_movements", "-c", str(cfg), "--as-of", AS_OF, "--since", "2026-03-01", "--until", "2026-04-01", "-f", fmt]
    res = CliRunner().invoke(app, args + (["-o", str(out)] if fmt == "xlsx" else []))
    assert res.exit_code == 0, res.stderr
    if fmt == "xlsx":
        assert out.stat().st_size > 0
    elif fmt == "json":
        doc = json.loads(res.stdout)
        assert {r["customer_id"]: r["movements"] for r in doc["results"]} == {"A": "churned", "B": "new"}
        assert set(doc["tables"]) == {"movements", "events", "summary"}
    elif fmt == "table":  # narrow terminal: columns are cut, values stay
        assert "70" in res.stdout and "new" in res.stdout
    else:
        assert "B" in res.stdout and "churned" in res.stdout and "100" in res.stdout


FAMILY = ["mrr", "arr", "arpa", "new_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr", "reactivation_mrr", "net_new_mrr",
          "customer_churn_rate", "gross_mrr_churn_rate", "net_mrr_churn_rate", "net_revenue_retention", "gross_revenue_retention",
          "quick_ratio", "customer_retention_rate", "renewal_rate", "expansion_revenue", "upsell_rate", "cross_sell_rate", "ltv"]


def test_sample_data_feeds_every_metric_and_mrr_matches_the_customer_master(sample_project):
    import pandas as pd

    rep = compute(load_config(sample_project / "config.example.yaml"), FAMILY, since="2026-01-01", as_of="2026-10-31")
    for m in FAMILY:
        r = rows(rep, m)
        assert len(r) == 10 and r["value"].notna().all(), m
    master = pd.read_csv(sample_project / "sample_data" / "customers.csv")
    october = at(rep, "mrr", "2026-10")
    assert october["value"] == pytest.approx(master["MRR"].sum(), abs=0.05)
    assert october["n"] == int((master["MRR"] > 0).sum())
    for p in rows(rep, "net_new_mrr").itertuples():
        assert p.value == pytest.approx(p.mrr_end - p.mrr_start)
    # the demo history has every kind of movement
    for m in ("new_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr", "reactivation_mrr"):
        assert rows(rep, m)["value"].sum() > 0, m


# ------------------------------------------------------------------ analyze mrr_movements


SUBS_ONLY = """
version: 1
timezone: UTC
sources:
  subscriptions:
    path: subs.csv
    fields: {subscription_id: id, customer_id: customer, started_at: start, ended_at: end, amount: amount}
"""


def test_mrr_movements_runs_on_subscriptions_alone_like_the_metrics(tmp_path):
    # The *_mrr metrics run without a customers source; the analysis refused (exit 78).
    from crmmetrics.engine import analyze
    from tests.conftest import write

    (tmp_path / "subs.csv").write_text("id,customer,start,end,amount\nS1,A,2026-01-01,,100\nS2,B,2026-02-01,2026-03-15,50\n"
                                       "S3,A,2026-03-10,,30\n", encoding="utf-8")
    cfg = load_config(write(tmp_path / "crm.yaml", SUBS_ONLY))
    rep = analyze(cfg, "mrr_movements", period="month", since="2026-03-01", until="2026-04-01", as_of=AS_OF)
    t = rep.tables["movements"].set_index("customer_id")
    assert t.loc["A", ["mrr_start", "expansion", "mrr_end"]].tolist() == [100, 30, 130]
    assert t.loc["B", ["mrr_start", "churned", "mrr_end"]].tolist() == [50, 50, 0]
    summ = rep.tables["summary"].iloc[0]
    assert (summ["mrr_start"], summ["net_new_mrr"], summ["mrr_end"]) == (150, -20, 130)


def test_mrr_movements_without_any_revenue_source_is_one_config_error(tmp_path):
    from crmmetrics.engine import analyze
    from tests.conftest import write

    (tmp_path / "deals.csv").write_text("id,closed\nD1,2026-03-01\n", encoding="utf-8")
    cfg = load_config(write(tmp_path / "crm.yaml", "version: 1\nsources:\n  deals:\n    path: deals.csv\n"
                                                   "    fields: {deal_id: id, closed_at: closed}\n"))
    with pytest.raises(ConfigError, match="subscriptions source or customers"):
        analyze(cfg, "mrr_movements", period="month", as_of=AS_OF)


# ------------------------------------------------------------------ upsell revenue share


def test_upsell_revenue_share_counts_won_deals_without_a_type_in_the_total(tmp_path):
    from tests.test_subscription_metrics import DEALS_SOURCE

    # won in March: upsell 100, new 300, a deal whose type is blank 100 → 100 ÷ 500 = 20 % (was 100 ÷ 400).
    (tmp_path / "deals.csv").write_text("id,customer,closed,status,amount,type\nD1,A,2026-03-02,won,100,upsell\n"
                                        "D2,B,2026-03-03,won,300,new\nD3,A,2026-03-04,won,100,\nD4,B,2026-03-05,lost,900,upsell\n",
                                        encoding="utf-8")
    cfg = make(tmp_path, [sub("A", "2026-01-01"), sub("B", "2026-01-01")], extra=DEALS_SOURCE,
               metrics="  upsell_rate: {variant: revenue_share}")
    row = at(run(cfg, ["upsell_rate"], since="2026-03-01", until="2026-04-01"), "upsell_rate", "2026-03")
    assert (row["numerator"], row["denominator"], row["value"]) == (100, 500, pytest.approx(0.2))


# ------------------------------------------------------------------ refactors kept honest (hand-computed)


def test_ltv_trailing_churn_is_averaged_within_each_segment(tmp_path):
    # A: 10 customers at 100; one churns in January (1/10), one in February (1/9).
    # B: 4 customers at 50; nobody churns in January (0), one in February (1/4).
    # March, trailing 2: A 100 ÷ mean(0.1, 1/9) = 947.37; B 50 ÷ mean(0, 0.25) = 400.
    subs = [sub(f"A{i}", "2025-12-01", {1: "2026-01-15", 2: "2026-02-15"}.get(i), amount=100) for i in range(1, 11)]
    subs += [sub(f"B{i}", "2025-12-01", "2026-02-10" if i == 1 else None, amount=50) for i in range(1, 5)]
    customers = [{"id": r["customer"], "segment": r["customer"][0]} for r in subs]
    cfg = make(tmp_path, subs, customers=customers, metrics="  ltv: {churn: trailing, trailing_periods: 2}")
    rep = run(cfg, ["ltv"], by=["segment"], since="2026-03-01", until="2026-04-01")
    assert at(rep, "ltv", "2026-03", segment="A")["value"] == pytest.approx(100 / ((0.1 + 1 / 9) / 2))
    assert at(rep, "ltv", "2026-03", segment="B")["value"] == pytest.approx(400)


def test_renewal_terms_of_a_long_running_contract_are_each_due(tmp_path):
    # L: annual from 2023-03-15, still running → due 2024-03-15, 2025-03-15, 2026-03-15, renewed each time.
    # E: annual from 2025-03-20, ends at its term end 2026-03-20 with no successor → not renewed.
    subs = [sub("L", "2023-03-15", amount=1200, interval=12), sub("E", "2025-03-20", "2026-03-20", amount=1200, interval=12)]
    rep = run(make(tmp_path, subs), ["renewal_rate"], period="year", since="2024-01-01", until="2027-01-01")
    assert [(r.numerator, r.denominator) for r in rows(rep, "renewal_rate").itertuples()] == [(1, 1), (1, 1), (1, 2)]


def test_daily_churn_day_sums_stay_within_their_segment(tmp_path):
    # A: 2 paying, one leaves on 10 March → 1/2. B: 4 paying, one leaves on 5 March (1/4),
    # another on 20 March (1/3 of the 3 left) → 7/12.
    subs = [sub("A1", "2025-12-01"), sub("A2", "2025-12-01", "2026-03-10")]
    subs += [sub("B1", "2025-12-01", "2026-03-05"), sub("B2", "2025-12-01", "2026-03-20"), sub("B3", "2025-12-01"), sub("B4", "2025-12-01")]
    customers = [{"id": r["customer"], "segment": r["customer"][0]} for r in subs]
    cfg = make(tmp_path, subs, customers=customers, metrics="  customer_churn_rate: {formula: daily}")
    rep = run(cfg, ["customer_churn_rate"], by=["segment"], since="2026-03-01", until="2026-04-01")
    assert at(rep, "customer_churn_rate", "2026-03", segment="A")["value"] == pytest.approx(0.5)
    assert at(rep, "customer_churn_rate", "2026-03", segment="B")["value"] == pytest.approx(1 / 4 + 1 / 3)


# ------------------------------------------------------------------ deal-sourced variants need deals only


CRM_DEALS = """
version: 1
timezone: UTC
sources:
  customers:
    path: customers.csv
    fields: {customer_id: id, created_at: created, segment: segment}
  deals:
    path: deals.csv
    fields: {deal_id: id, customer_id: customer, closed_at: closed, status: status, amount: amount, deal_type: type}
"""


def test_renewal_and_expansion_from_deals_need_no_billing_dates(tmp_path):
    # A CRM-only project (customers without first_paid_at, no subscriptions): both metrics
    # read deals alone, but were refused as a "dateless snapshot" (exit 78).
    from tests.conftest import write

    (tmp_path / "customers.csv").write_text("id,created,segment\nA,2025-01-01,x\nB,2025-01-01,y\n", encoding="utf-8")
    (tmp_path / "deals.csv").write_text(
        "id,customer,closed,status,amount,type\nD1,A,2026-03-05,won,100,renewal\nD2,B,2026-03-06,lost,50,renewal\n"
        "D3,A,2026-03-07,won,70,upsell\nD4,B,2026-03-08,won,30,cross_sell\nD5,A,2026-03-09,open,999,upsell\n"
        "D6,B,2026-03-20,won,500,renewal\n", encoding="utf-8")
    cfg = write(tmp_path / "crm.yaml", CRM_DEALS)
    rep = run(cfg, ["renewal_rate", "expansion_revenue"], since="2026-03-01", until="2026-04-01", as_of="2026-03-15")
    renewal = at(rep, "renewal_rate", "2026-03")  # D6 closes after the as-of day: not yet
    assert (renewal["numerator"], renewal["denominator"], renewal["contracts_due"]) == (1, 2, 2)
    assert at(rep, "expansion_revenue", "2026-03")["value"] == pytest.approx(70 + 30)
    by = run(cfg, ["renewal_rate", "expansion_revenue"], by=["segment"], since="2026-03-01", until="2026-04-01", as_of="2026-03-31")
    assert at(by, "renewal_rate", "2026-03", segment="y")["value"] == pytest.approx(1 / 2)  # D2 lost, D6 won
    assert at(by, "expansion_revenue", "2026-03", segment="x")["value"] == pytest.approx(70)


GENERATOR = ROOT.parent / "shared" / "tools" / "gen_crm_data.py"


# ------------------------------------------------------------------ 1. customers MRR 0 is not paying

CUSTOMERS_ONLY = """
version: 1
timezone: UTC
sources:
  customers:
    path: customers.csv
    fields: {customer_id: id, first_paid_at: paid, churned_at: churned, mrr: mrr, plan: plan}
"""


def test_customers_with_mrr_0_are_not_paying_customers(tmp_path):
    # A and B pay 100 and 50; F is on a free plan (MRR 0); G churned on a free plan in
    # February. Paying customers on 1 Feb: A, B → ARPA 75 (not 150 / 4 = 37.5), and G's
    # leaving is no churn (it never paid): churn 1/2 from B alone, not 2/4.
    (tmp_path / "customers.csv").write_text(
        "id,paid,churned,mrr,plan\n"
        "A,2026-01-05,,100,Pro\n"
        "B,2026-01-10,2026-02-15,50,Pro\n"
        "F,2026-01-10,,0,Free\n"
        "G,2026-01-12,2026-02-20,0,Free\n", encoding="utf-8")
    rep = compute(load_config(write(tmp_path / "crm.yaml", CUSTOMERS_ONLY)), ["arpa", "customer_churn_rate", "mrr"],
                  since="2026-01-01", until="2026-03-01", as_of="2026-12-31")
    jan = at(rep, "arpa", "2026-01")
    assert (jan["value"], jan["n"]) == (75, 2)
    churn = at(rep, "customer_churn_rate", "2026-02")
    assert (churn["value"], churn["numerator"], churn["denominator"]) == (0.5, 1, 2)
    assert at(rep, "mrr", "2026-02")["value"] == 100
    note = [i for i in rep.issues if i.code == "zero_mrr_not_paying"]
    assert len(note) == 1 and note[0].count == 2


@pytest.mark.skipif(not GENERATOR.exists(), reason=f"{GENERATOR} not present")
def test_synthetic_customers_file_december_2025_arpa_640_19_churn_3_14(tmp_path):
    # The audit's numbers: gen_crm_data.py --scale small (seed 42), customers only.
    # Counting MRR-0 customers as paying read ARPA 489.52 and churn 4.06 %.
    subprocess.run([sys.executable, str(GENERATOR), "--scale", "small", "--out", str(tmp_path), "--tables", "customers"],
                   check=True, capture_output=True)
    cfg = write(tmp_path / "crm.yaml", """
        version: 1
        timezone: UTC
        sources:
          customers:
            path: customers.csv
            fields: {customer_id: id, first_paid_at: created_at, churned_at: churned_at, plan: plan, region: region, mrr: mrr}
        """)
    rep = compute(load_config(cfg), ["arpa", "customer_churn_rate", "customer_retention_rate"],
                  since="2025-12-01", until="2026-01-01", as_of="2025-12-31")
    assert at(rep, "arpa", "2025-12")["value"] == pytest.approx(640.19, abs=0.005)
    churn = at(rep, "customer_churn_rate", "2025-12")
    assert churn["value"] == pytest.approx(0.0314, abs=0.00005)
    assert (churn["numerator"], churn["denominator"]) == (96, 3056)
    assert at(rep, "customer_retention_rate", "2025-12")["value"] == pytest.approx(2960 / 3056)


# ------------------------------------------------------------------ 2. -b plan: the plan at that time

PLAN_SUBS = """
version: 1
timezone: UTC
sources:
  customers:
    path: customers.csv
    fields: {customer_id: id, segment: segment}
  subscriptions:
    path: subs.csv
    fields: {subscription_id: id, customer_id: customer, plan: plan, started_at: start, ended_at: end, amount: amount}
"""


def _plan_project(tmp_path):
    # A moves Pro → Enterprise on 10 March (100 → 300); B stays on Pro at 50; C joins
    # Enterprise on 5 March at 200. customers has no plan column at all.
    (tmp_path / "customers.csv").write_text("id,segment\nA,SMB\nB,SMB\nC,ENT\n", encoding="utf-8")
    (tmp_path / "subs.csv").write_text(
        "id,customer,plan,start,end,amount\n"
        "S1,A,Pro,2026-01-01,2026-03-10,100\n"
        "S2,A,Enterprise,2026-03-10,,300\n"
        "S3,B,Pro,2026-01-01,,50\n"
        "S4,C,Enterprise,2026-03-05,,200\n", encoding="utf-8")
    return load_config(write(tmp_path / "crm.yaml", PLAN_SUBS))


def test_by_plan_segments_by_the_subscription_plan_at_that_time(tmp_path):
    cfg = _plan_project(tmp_path)
    metrics = ["mrr", "new_mrr", "churned_mrr", "expansion_mrr", "net_new_mrr", "customer_churn_rate"]
    rep = compute(cfg, metrics, by=["plan"], since="2026-02-01", until="2026-04-01", as_of="2026-12-31")
    # February: A on Pro (100), B on Pro (50); nobody on Enterprise yet.
    assert at(rep, "mrr", "2026-02", plan="Pro")["value"] == 150
    assert at(rep, "mrr", "2026-02", plan="Enterprise")["value"] == 0
    # March: A's move leaves Pro as churned 100 and enters Enterprise as new 300.
    assert at(rep, "mrr", "2026-03", plan="Pro")["value"] == 50
    assert at(rep, "mrr", "2026-03", plan="Enterprise")["value"] == 500
    assert at(rep, "churned_mrr", "2026-03", plan="Pro")["value"] == 100
    assert at(rep, "new_mrr", "2026-03", plan="Enterprise")["value"] == 500
    assert at(rep, "customer_churn_rate", "2026-03", plan="Pro")["value"] == pytest.approx(0.5)
    # Every segment reconciles on its own: MRR(end) − MRR(start) = its net new MRR.
    for plan in ("Pro", "Enterprise"):
        r = at(rep, "net_new_mrr", "2026-03", plan=plan)
        assert r["value"] == pytest.approx(r["mrr_end"] - r["mrr_start"])
    # The total sees A's move as one expansion of 200, and the same MRR.
    total = compute(cfg, metrics, by=[], since="2026-03-01", until="2026-04-01", as_of="2026-12-31")
    assert at(total, "expansion_mrr", "2026-03")["value"] == 200
    assert at(total, "mrr", "2026-03")["value"] == 550
    # A dimension subscriptions lack still comes from customers.
    seg = compute(cfg, ["mrr"], by=["segment"], since="2026-03-01", until="2026-04-01", as_of="2026-12-31")
    assert at(seg, "mrr", "2026-03", segment="SMB")["value"] == 350


def test_sample_data_january_2025_enterprise_mrr_is_139997(sample_project):
    # The customer master's Plan is today's plan; subscriptions say what was paid then.
    # Reading every customer's current plan for all history gave 155,824.
    cfg = load_config(sample_project / "config.example.yaml")
    rep = compute(cfg, ["mrr"], by=["plan"], since="2025-01-01", until="2025-02-01", as_of="2026-10-31")
    assert at(rep, "mrr", "2025-01", plan="Enterprise")["value"] == 139_997


# ------------------------------------------------------------------ 8. retention's N is new or returning customers

def test_retention_column_says_new_or_returning_customers(sample_project):
    # September 2025 on the sample: 39 customers joined and stayed, 2 of them returning;
    # customer_churn_rate's new_customers counts the 37 first-time sign-ups.
    cfg = load_config(sample_project / "config.example.yaml")
    rep = compute(cfg, ["customer_retention_rate"], since="2025-09-01", until="2025-10-01", as_of="2026-10-31")
    assert "new_customers" not in rep.results.columns
    assert at(rep, "customer_retention_rate", "2025-09")["new_or_returning_customers"] == 39
    churn = compute(cfg, ["customer_churn_rate"], since="2025-09-01", until="2025-10-01", as_of="2026-10-31")
    assert at(churn, "customer_churn_rate", "2025-09")["new_customers"] == 37
