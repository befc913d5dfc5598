"""Elapsed time between two milestones of one record, where the later one may be a bare date.

Exports often date a milestone by day only (a deal's Close Date 2026-03-05, a lead's
conversion day) while the earlier one has a time (created 2026-03-05 14:20). Read as local
midnight, such a same-day date would look hours *before* the earlier instant. These helpers
treat it as "the same day": never earlier, and 0 elapsed. Shared by the deal cleaning
(``domain/deals.py``), the sales metrics and the lead metrics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from crmmetrics.metrics.context import MetricContext

SECONDS_PER_DAY = 86400.0


def _same_day_date_only(ctx: MetricContext, later: pd.Series, earlier: pd.Series) -> pd.Series:
    """``later`` is a bare date (local midnight) on the same local day as ``earlier``."""
    lo, eo = ctx.local(later), ctx.local(earlier)
    return (lo == lo.dt.normalize()) & (lo.dt.normalize() == eo.dt.normalize())


def precedes(ctx: MetricContext, later: pd.Series, earlier: pd.Series) -> pd.Series:
    """``later < earlier``, except for a date-only ``later`` on the same day as ``earlier``.

    Exports often date milestones by day only (Close Date 2026-03-05) while creation has a
    time (2026-03-05 14:20): read as midnight, a same-day close would look 14 h too early.
    """
    early = later < earlier
    if early.any():
        early &= ~_same_day_date_only(ctx, later, earlier)
    return early


def seconds_between(ctx: MetricContext, end: pd.Series, start: pd.Series) -> pd.Series:
    """(end − start) in seconds; a date-only end on the start's own day counts as 0, not negative."""
    secs = (end - start).dt.total_seconds()
    neg = secs < 0
    if neg.any():
        secs = secs.mask(neg & _same_day_date_only(ctx, end, start), 0.0)
    return secs


def days_between(ctx: MetricContext, end: pd.Series, start: pd.Series) -> pd.Series:
    """(end − start) in fractional days: 2026-05-01 → 2026-05-11 12:00 is 10.5."""
    return seconds_between(ctx, end, start) / SECONDS_PER_DAY
