"""Deals as the sales metrics see them: cleaning, closed outcomes and open-deal snapshots.

Shared by every sales pipeline metric (METRICS.md D1–D7). ``clean_deals`` decides once per
metric which deal rows may be counted (one row per deal, a usable status, consistent dates,
no negative amount where amounts matter), each dropped row an issue with its location.
``closed_rows`` places won/lost deals in the period of their close date (FLOW).
``deal_intervals`` gives the STOCK view's intervals (the Stock shape places them at each
period's snapshot instant; ``open_at_snapshots`` for the metrics that weigh each snapshot
themselves): a deal is open at t when ``created_at < t <= closed_at``, and an open deal's
exported (expected) close date is ignored.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from crmmetrics.domain.spans import precedes
from crmmetrics.errors import ConfigError
from crmmetrics.io.keys import repeated
from crmmetrics.metrics.shapes import STOCK_END, STOCK_PLACED, STOCK_START, in_stock_at

if TYPE_CHECKING:
    import pandas as pd

    from crmmetrics.metrics.context import MetricContext

CLOSED = ("won", "lost")


# Entities whose metrics keep only the last row of a repeated id: key and issue code.
# The Dask engine drops the rows a later part file repeats before these metrics run
# (dask_engine.py), and counts them in the same issue.
LAST_ROW_WINS = {"deals": ("deal_id", "duplicate_deal"), "leads": ("lead_id", "duplicate_lead")}


def repeated_message(key: str, count: int) -> str:
    """The message of the issue counting the earlier rows of repeated ``key`` values left out."""
    return f"{count} earlier rows of repeated {key}s ignored; the last row of each {key.removesuffix('_id')} is used"


def keep_last_rows(ctx: MetricContext, df: pd.DataFrame, key: str) -> pd.DataFrame:
    """``df`` with one row per ``key`` value, its last; the earlier rows counted in one issue."""
    if key not in df:
        return df
    dup = repeated(df[key], "last")
    if dup.any():
        code = next(c for k, c in LAST_ROW_WINS.values() if k == key)
        ctx.issue(code, repeated_message(key, int(dup.sum())), count=int(dup.sum()), field=key)
        df = df[~dup]
    return df


def clean_deals(ctx: MetricContext, *, amounts: bool = False, dates: bool = False, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """The deals a metric may use: one row per deal, a usable status, and

    - with ``dates`` (metrics that measure from created_at to closed_at: cycle, pipeline,
      velocity), a close date not before the created date: when the two contradict, the
      span between them is unknown. A metric reading only the close date keeps the deal.
    - with ``amounts`` (amount metrics), no negative amount: a negative deal value does not
      change whether the deal was won, so counting metrics keep it.

    Each dropped row is an issue with its location; a won deal without an amount is
    checked by the amount metrics themselves.
    """
    # Exports concatenated over time repeat a deal; its latest row carries the latest status.
    df = keep_last_rows(ctx, ctx.frame if frame is None else frame, "deal_id")
    if ctx.mapped("status", "deals"):  # an unmapped status is no reason to drop every deal
        bad = df["status"].isna()
        if bad.any():
            ctx.row_issues(df[bad], "unusable_status", "deal status is blank or not mapped to open / won / lost "
                           "(map it under values: status); deal excluded", "status")
            df = df[~bad]
    if dates:  # blank (or unmapped) dates contradict nothing
        backwards = df["status"].isin(CLOSED) & precedes(ctx, df["closed_at"], df["created_at"])
        if backwards.any():
            ctx.row_issues(df[backwards], "closed_before_created", "close date is before the created date; deal excluded", "closed_at")
            df = df[~backwards]
    if amounts:
        negative = df["amount"] < 0
        if negative.any():
            ctx.row_issues(df[negative], "negative_amount", "deal amount is negative; deal excluded", "amount")
            df = df[~negative]
    return df


def closed_rows(ctx: MetricContext, deals: pd.DataFrame, statuses: tuple[str, ...] = CLOSED) -> pd.DataFrame:
    """Deals with a status in ``statuses`` whose close date falls in range, bucketed by it.

    A won or lost deal without a close date cannot be placed in a period: an issue per row.
    """
    if not ctx.mapped("closed_at", "deals"):
        raise ConfigError(f"{ctx.spec.name} needs deals.closed_at mapped")
    df = deals[deals["status"].isin(statuses)]
    undated = df["closed_at"].isna()
    if undated.any():
        ctx.row_issues(df[undated], "missing_close_date", "won/lost deal without a close date; excluded", "closed_at")
        df = df[~undated]
    return ctx.flow_rows(df, "closed_at")


def deal_intervals(ctx: MetricContext, deals: pd.DataFrame) -> pd.DataFrame:
    """``deals`` with the Stock shape's interval columns: a deal is open from its created_at
    (``_start``) to its close date when won or lost (``_end``; NaT while open), local time.

    Open deals stay open until today whatever their (expected) close date says. A deal
    without a created date, or won/lost without a close date, cannot be placed in time:
    ``_placed`` is False and each is reported with its location (it still starts the grid
    and brings its segment, as before the Stock shape existed).
    """
    created = ctx.local(deals["created_at"])
    undated = created.isna()
    if undated.any():
        ctx.row_issues(deals[undated], "missing_created_date", "deal without a created date cannot be placed in time; excluded from the snapshots", "created_at")
    closed_status = deals["status"].isin(CLOSED)
    no_close = closed_status & deals["closed_at"].isna()
    if no_close.any():
        ctx.row_issues(deals[no_close], "missing_close_date", "won/lost deal without a close date cannot be placed in time; excluded", "closed_at")
    return deals.assign(**{STOCK_START: created, STOCK_END: ctx.local(deals["closed_at"]).where(closed_status),
                           STOCK_PLACED: ~undated & ~no_close})


def open_at_snapshots(ctx: MetricContext, deals: pd.DataFrame, grid: list[tuple[dt.datetime, dt.datetime]],
                      columns: Any = None) -> pd.DataFrame:
    """One row per (deal, snapshot) where the deal was open: created_at < t ≤ closed_at
    (:func:`deal_intervals` placed by :func:`~crmmetrics.metrics.shapes.in_stock_at`),
    with the deal's ``columns`` (default: all) beside ``_period`` and ``_snapshot``."""
    placed = deal_intervals(ctx, deals)
    return in_stock_at(placed[placed[STOCK_PLACED]], grid, columns)


def first_created(ctx: MetricContext, deals: pd.DataFrame) -> dt.datetime | None:
    """The earliest created_at of ``deals`` (local time), where a STOCK grid starts; None when none is dated."""
    created = ctx.local(deals["created_at"]).dropna()
    return created.min().to_pydatetime() if len(created) else None
