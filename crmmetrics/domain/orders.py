"""The order policy shared by the order metrics and the order analyses.

:class:`OrderPolicy`, applied by :func:`prepare_orders`, decides once what an order row
is worth before any metric or analysis counts it (the rules are spelled out in
:data:`POLICY_RULES`, the text every order metric and analysis shows). Every
data issue is recorded once per dataset (not once per metric), without a metric name,
because it is a property of the export rather than of one number.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from crmmetrics.errors import ConfigError, Issue, Level
from crmmetrics.grid import Grid
from crmmetrics.metrics.registry import Options

if TYPE_CHECKING:
    import pandas as pd

    from crmmetrics.dataset import Dataset

# Fields the policy reads when the config maps them (quantity is a non-canonical
# column, read as a dimension, for line-level exports such as UCI Online Retail).
POLICY_FIELDS = ("order_id", "customer_id", "amount", "status", "quantity", "cost")

POLICY_RULES = (
    "Refund policy (refunds: net, default): status canceled → dropped; status refunded → neither revenue nor an order; "
    "negative amounts (and ids starting with cancellation_prefix) are credits subtracted from revenue on their own date, never orders. "
    "refunds: gross keeps refunded orders at full value and ignores credits.",
    "Orders of amount 0 count as orders worth 0 (as Shopify's AOV, GA4, lifetimes and rfm count them), reported in one info issue with "
    "their count; zero_amount: exclude leaves them out (stock adjustments, test orders), each an issue; repeated order ids are issues and only the first row counts "
    "(order_lines: true sums the lines of one order instead); orders dated after the as-of day are issues and excluded.",
    "Orders without customer_id stay in revenue, order counts and APV, and are excluded (and counted in one issue) from customer metrics.",
)


class OrderPolicy(Options):
    """How order rows become orders and revenue; shared by every order metric and analysis."""

    refunds: Literal["net", "gross"] = Field(
        "net", description="net: refunded orders and credit rows (negative amounts) reduce revenue, refunded orders are not counted; "
                           "gross: refunded orders count at full value and credit rows are ignored.")
    order_lines: bool = Field(False, description="The export has one row per order line: rows sharing order_id are summed into one order "
                                                 "(earliest line date, first customer id).")
    amount_is_unit_price: bool = Field(False, description="amount holds a unit price: the line value is amount × quantity "
                                                          "(map the quantity column under orders.fields as quantity).")
    cancellation_prefix: str | None = Field(None, description='Order ids starting with this text are cancellation invoices (credits), '
                                                              'e.g. "C" for UCI Online Retail.')
    zero_amount: Literal["keep", "exclude"] = Field("keep", description="Orders of amount 0: keep (default) counts them as orders worth 0 "
                                                                      "(free orders, one info issue with the count); exclude leaves them out, "
                                                                      "one issue per row (e.g. stock adjustments).")

    def policy_key(self) -> tuple[Any, ...]:
        """The policy settings as a hashable key (for the per-dataset cache)."""
        return tuple(getattr(self, f) for f in OrderPolicy.model_fields)


def prepare_orders(frame: pd.DataFrame, policy: OrderPolicy, dataset: Dataset, tz: str, cutoff: dt.datetime | None,
                   cutoff_label: str = "the as-of day") -> pd.DataFrame:
    """Apply the refund and cancellation policy; return one row per order or credit.

    Added columns: ``_local`` (naive local order time), ``_value`` (signed revenue:
    the order amount, or minus the credit), ``_order`` (1 for an order, 0 for a credit),
    ``_gross`` and ``_credit`` (the two parts of ``_value``), ``_known`` (1 when the row
    has a customer id). Issues go to ``dataset.issues`` once per dataset and policy.

    Example (net): rows paid 100, refunded 50, canceled 70, -30 (credit), 0 → orders
    [100, 0], credits [-30]; revenue 70, orders 2, APV 35; 50 and 70 are left out (each
    counted in an issue), the 0 is counted in one info issue (zero_amount: exclude drops it).
    """
    # Several metrics and analyses share one dataset: prepare once per policy and report
    # each data issue once, not once per metric.
    cache: dict[Any, pd.DataFrame] = dataset.__dict__.setdefault("_orders_prepared", {})
    reported: set[Any] = dataset.__dict__.setdefault("_orders_reported", set())
    key = (policy.policy_key(), tuple(frame.columns), len(frame), tz)
    if key not in cache:
        cache[key] = _prepare(frame, policy, _IssueLog(dataset, policy.policy_key() not in reported), tz, dataset.mapped_fields("orders"))
        reported.add(policy.policy_key())
    df = cache[key]
    if cutoff is not None:
        future = df["_local"] >= cutoff
        if future.any():
            _IssueLog(dataset, (policy.policy_key(), cutoff) not in reported).rows(
                df[future], "future_order", f"order dated after {cutoff_label} ({(cutoff - dt.timedelta(days=1)):%Y-%m-%d}) excluded", "order_date")
            reported.add((policy.policy_key(), cutoff))
            df = df[~future]
    return df


def _dated_rows(frame: pd.DataFrame, log: _IssueLog, tz: str) -> pd.DataFrame:
    """A copy with blank ids as missing, ``_local`` (naive local order time), undated rows out."""
    df = frame.copy()
    for col in ("customer_id", "order_id"):
        # Work-around: io/parse.py clean_text turns blank cells of pandas' str dtype into NaN,
        # which parse_id then writes as the text "nan"; a blank id is a missing id.
        df[col] = df[col].mask(df[col].isna() | (df[col].astype(object) == "nan"))
    df["_local"] = df["order_date"].dt.tz_convert(tz).dt.tz_localize(None)
    no_date = df["_local"].isna()
    if no_date.any():
        log.rows(df[no_date], "missing_date", "order without order_date excluded", "order_date")
        df = df[~no_date]
    return df


def _priced_rows(df: pd.DataFrame, policy: OrderPolicy, log: _IssueLog, mapped: set[str]) -> pd.DataFrame:
    """Line amounts (unit price × quantity when the policy says so); rows without a usable amount out."""
    import pandas as pd

    has_amount = "amount" in mapped
    if policy.amount_is_unit_price:
        if not has_amount or "quantity" not in mapped:
            raise ConfigError("amount_is_unit_price needs orders.fields.amount (the unit price) and orders.fields.quantity mapped",
                              hint="add quantity: <column> under sources.orders.fields")
        qty = pd.to_numeric(df["quantity"].astype(object), errors="coerce")
        bad_qty = df["quantity"].notna() & qty.isna()
        if bad_qty.any():
            log.rows(df[bad_qty], "unparseable_quantity", "quantity is not a number; line excluded", "quantity")
            df, qty = df[~bad_qty], qty[~bad_qty]
        df["amount"] = df["amount"] * qty
    if has_amount:
        no_amount = df["amount"].isna()
        if no_amount.any():
            log.rows(df[no_amount], "missing_amount", "order without a usable amount excluded", "amount")
            df = df[~no_amount]
    return df


def _credit_rows(df: pd.DataFrame, status: pd.Series, amount: pd.Series, policy: OrderPolicy, log: _IssueLog,
                 has_id: bool) -> tuple[pd.DataFrame, pd.Series, pd.Series, pd.Series]:
    """Which rows are credits (negative amount, or an id with the cancellation prefix): kept
    and flagged under refunds: net, dropped under gross. Returns df, status, amount, credit."""
    credit = (amount < 0).fillna(False).astype(bool)
    if policy.cancellation_prefix and has_id:
        credit |= df["order_id"].astype(object).fillna("").astype(str).str.startswith(policy.cancellation_prefix).to_numpy()
    if credit.any():
        if policy.refunds == "net":
            log.summary(df[credit], "credit_row", f"{int(credit.sum())} refund/cancellation rows (negative amount"
                        + (f" or id starting with {policy.cancellation_prefix!r}" if policy.cancellation_prefix else "")
                        + ") subtracted from revenue on their own date; they are not orders", Level.INFO)
        else:
            log.summary(df[credit], "credit_row", f"{int(credit.sum())} refund/cancellation rows ignored (refunds: gross)", Level.INFO)
            df, status, amount, credit = df[~credit], status[~credit], amount[~credit], credit[~credit]
    return df, status, amount, credit


def _zero_amounts(df: pd.DataFrame, amount: pd.Series, credit: pd.Series, policy: OrderPolicy, log: _IssueLog
                  ) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Orders of amount 0: counted (one info issue) or, with zero_amount: exclude, left out (an issue each)."""
    zero = (amount == 0) & ~credit
    if zero.any() and policy.zero_amount == "exclude":
        log.rows(df[zero], "zero_amount", "order amount is 0; excluded (zero_amount: exclude)", "amount")
        df, amount, credit = df[~zero], amount[~zero], credit[~zero]
    elif zero.any():
        log.summary(df[zero], "zero_amount", f"{int(zero.sum())} orders of amount 0 counted as orders worth 0 "
                    "(set zero_amount: exclude to leave them out)", Level.INFO)
    return df, amount, credit


def _first_of_each_id(df: pd.DataFrame, amount: pd.Series, credit: pd.Series, log: _IssueLog
                      ) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """A repeated order id counts once (its first row); each later row is an issue."""
    ids = df["order_id"]
    dup = ids.notna() & ~credit & ids.where(~credit).duplicated(keep="first")
    if dup.any():
        log.rows(df[dup], "duplicate_order", "order_id already used by an earlier order row; this row is excluded so the order counts "
                 "once (set order_lines: true if the export has one row per order line)", "order_id")
        df, amount, credit = df[~dup], amount[~dup], credit[~dup]
    return df, amount, credit


def _with_values(df: pd.DataFrame, amount: pd.Series, credit: pd.Series, log: _IssueLog, mapped: set[str]) -> pd.DataFrame:
    """The policy's columns: ``_order``, ``_gross``, ``_credit``, ``_value``, ``_known`` (guests counted in one issue)."""
    import numpy as np
    import pandas as pd

    if "customer_id" in mapped:
        guests = df["customer_id"].isna()
        if guests.any():
            log.summary(df[guests], "missing_customer_id", f"{int(guests.sum())} orders without customer_id: kept in revenue, order counts "
                        "and APV, excluded from customer metrics and analyses", Level.INFO)
        known = (~guests).astype("int64")
    else:
        known = pd.Series(0, index=df.index, dtype="int64")
    is_credit = credit.to_numpy(dtype=bool)
    amt = amount.to_numpy(dtype="float64")
    df["_order"] = np.where(is_credit, 0, 1).astype("int64")
    df["_gross"] = np.where(is_credit, 0.0, amt)
    df["_credit"] = np.where(is_credit, np.abs(amt), 0.0)
    df["_value"] = df["_gross"] - df["_credit"]
    df["_known"] = known.to_numpy()
    return df.reset_index(drop=True)


def _prepare(frame: pd.DataFrame, policy: OrderPolicy, log: _IssueLog, tz: str, mapped: set[str]) -> pd.DataFrame:
    """The cutoff-free part of :func:`prepare_orders` (cached per dataset and policy), in the
    order the rules apply: dates, amounts, order lines, cancellations, credits, refunds,
    zero amounts, repeated ids, then the value columns.

    ``mapped``: the orders fields the config maps. Declared fields are columns either way;
    an unmapped amount means "count orders only", not "every amount is missing".
    """
    import numpy as np
    import pandas as pd

    has_amount, has_id = "amount" in mapped, "order_id" in mapped
    df = _priced_rows(_dated_rows(frame, log, tz), policy, log, mapped)
    if policy.order_lines:
        if not has_id:
            raise ConfigError("order_lines: true needs orders.fields.order_id mapped (lines are grouped by it)")
        df = _collapse_lines(df)

    status = df["status"]  # blank or unmapped: neither canceled nor refunded
    canceled = (status == "canceled").fillna(False).astype(bool)
    if canceled.any():
        log.summary(df[canceled], "canceled_order", f"{int(canceled.sum())} canceled orders left out of every metric", Level.INFO)
        df, status = df[~canceled], status[~canceled]

    amount = df["amount"] if has_amount else pd.Series(np.nan, index=df.index)
    df, status, amount, credit = _credit_rows(df, status, amount, policy, log, has_id)
    refunded = ((status == "refunded").fillna(False).astype(bool)) & ~credit
    if refunded.any() and policy.refunds == "net":
        log.summary(df[refunded], "refunded_order", f"{int(refunded.sum())} fully refunded orders are neither revenue nor orders (refunds: net)", Level.INFO)
        df, amount, credit = df[~refunded], amount[~refunded], credit[~refunded]
    if has_amount:
        df, amount, credit = _zero_amounts(df, amount, credit, policy, log)
    if has_id and not policy.order_lines:
        df, amount, credit = _first_of_each_id(df, amount, credit, log)
    return _with_values(df, amount, credit, log, mapped)


def _collapse_lines(df: pd.DataFrame) -> pd.DataFrame:
    """Sum the lines of each order_id into one order (vectorised groupby).

    Example: lines (536365, 15.30), (536365, 20.34) → one order 536365 of 35.64 dated at
    its earliest line; rows without an order id stay single orders.
    """
    import pandas as pd

    has = df["order_id"].notna()
    lines, singles = df[has], df[~has]
    if lines.empty:
        return df
    agg: dict[str, Any] = {c: "first" for c in df.columns if c != "order_id"}
    agg["_local"] = "min"
    agg["order_date"] = "min"
    for c in ("amount", "cost"):
        if c in agg:
            agg[c] = "sum"
    orders = lines.groupby("order_id", sort=False).agg(agg).reset_index()
    orders = orders[list(df.columns)]
    return pd.concat([orders, singles], ignore_index=True) if len(singles) else orders


class _IssueLog:
    """Records policy issues on the dataset (once per dataset and policy), metric-free."""

    def __init__(self, dataset: Dataset, active: bool) -> None:
        self.dataset = dataset
        self.active = active

    def rows(self, rows: pd.DataFrame, code: str, message: str, fieldname: str | None) -> None:
        """One warning per row (capped by the dataset), located in the source file."""
        if self.active and len(rows):
            self.dataset.row_issues(rows, code, message, entity="orders", fieldname=fieldname if fieldname in rows else None)

    def summary(self, rows: pd.DataFrame, code: str, message: str, level: Level) -> None:
        """One issue standing for all ``rows``, located at the first of them."""
        if not self.active or not len(rows):
            return
        first = rows.iloc[:1]
        loc = self.dataset.locate(first["_src"].to_numpy(), first["_row"].to_numpy())[0]
        source = self.dataset.tables[int(first["_src"].iloc[0])].path
        self.dataset.issues.append(Issue(level, code, message, entity="orders", source=source, location=loc, count=len(rows)))


# ------------------------------------------------------------------ helpers for the order analyses


def analysis_orders(ctx: Any, policy: OrderPolicy, cutoff: dt.datetime | None, cutoff_label: str) -> pd.DataFrame:
    """The policy applied to an analysis' orders frame; identified customers only.

    ``ctx`` is an :class:`crmmetrics.analyses.AnalysisContext`; rows at or after
    ``cutoff`` are issues ("future_order") and left out.
    """
    frame = ctx.frames["orders"]
    prepared = prepare_orders(frame, policy, ctx.dataset, ctx.timezone, cutoff, cutoff_label)
    if "customer_id" not in ctx.dataset.mapped_fields("orders"):
        raise ConfigError(f"analysis {ctx.spec.name} needs orders.customer_id mapped")
    return prepared[prepared["_known"] == 1]


def day_after_last_order(ctx: Any, policy: OrderPolicy) -> dt.datetime:
    """Midnight after the last order in the data (the default analysis date)."""
    from crmmetrics.errors import DataError

    everything = prepare_orders(ctx.frames["orders"], policy, ctx.dataset, ctx.timezone, None)
    orders = everything[everything["_order"] == 1]
    if orders.empty:
        raise DataError("no usable orders in the data (see the issues above)")
    last = orders["_local"].max()
    return Grid.day_end(last)
