"""Deterministic generator of realistic demo CRM exports.

The demo company is *Atlas Yazılım*, a fictional Turkish B2B SaaS vendor that
sells three plans (Starter, Growth, Enterprise) in TRY.  The data covers
2025-01-01 .. 2026-10-31 (22 months); 2026-10-31 is the "as of" date of every
export.  :func:`write_sample_data` writes nine files that look like what real
tools export, including their quirks:

========================  ==================================================
``customers.csv``          UTF-8, ``,``, ISO dates; billing/customer master
``subscriptions.csv``      UTF-8, ``,``; plan changes, cancellations, win-backs
``orders_tr.csv``          cp1254, ``;``, ``1.234,50``, ``dd.mm.yyyy``, CRLF
``crm_workbook.xlsx``      sheets ``Oku Beni`` (text), ``Deals``, ``Deal Stages``
``leads.csv``              UTF-8, ``,``; datetimes ``YYYY-MM-DD HH:MM:SS``
``tickets.csv``            UTF-8, ``,``; business-hours timestamps
``surveys_tr.csv``         UTF-8 *with BOM*, ``;``, ``dd.mm.yyyy HH:MM``
``activities.csv``         UTF-8, ``,``; product usage + sales/support touches
``spend.csv``              UTF-8, ``,``; marketing spend per month/channel
========================  ==================================================

Conventions shared by the files (the metrics code and tests rely on them):

* A subscription row is *active on day D* when ``Start <= D`` and ``End`` is
  blank or ``End > D`` (End is the first day no longer paid for).  Rows with
  status ``past_due`` are still active: the customer has not left yet.
* ``Amount`` is the list price of the whole subscription for one billing
  interval (all seats together, before discount and before tax); ``Seats``
  is informative only and never multiplies ``Amount``.  ``Discount`` is an
  absolute amount per interval and ``Tax`` is 20 % KDV of
  ``Amount - Discount``.  Monthly recurring revenue of a row is therefore
  ``(Amount - Discount) / Interval (months)``, and ``customers.csv`` ``MRR``
  is the sum of that over the customer's rows active on 2026-10-31.
* ``Canceled`` is the day the customer *asked* to stop; ``End`` is the end of
  the paid period (a little later).  A row that ended only because it was
  replaced by a plan change (upgrade/downgrade) has ``End`` = the new row's
  ``Start``, status ``canceled`` and a blank ``Canceled``.
* ``customers.csv`` ``Churned`` is the ``End`` of the last subscription for
  customers with no active subscription on the as-of date; customers who left
  and came back (win-back) are ``active`` again and have no ``Churned`` date.
* Order amounts (``Tutar``) and deal amounts exclude KDV.

Everything is drawn from ``numpy.random.default_rng`` seeded by ``seed``; the
wall clock is never read, so the bytes of every file (the ``.xlsx`` included)
are identical across runs and machines.  numpy/openpyxl are imported inside
the functions so that importing this module (e.g. from the CLI) stays cheap.

Regenerate the committed copy with ``python -m crmmetrics.sampledata sample_data``.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import pathlib
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pragma: no cover - typing only, keeps numpy out of the import path
    from numpy.random import Generator

__all__ = ["AS_OF", "DEFAULT_SEED", "FILE_NAMES", "HEADERS", "START", "write_sample_data"]

DEFAULT_SEED = 20261123

START = dt.date(2025, 1, 1)
AS_OF = dt.date(2026, 10, 31)
_START_DT = dt.datetime(2025, 1, 1, 9, 0, 0)
_AS_OF_END = dt.datetime(2026, 10, 31, 23, 59, 59)
# A fixed timestamp for workbook metadata and zip entries: the wall clock would
# make every regeneration differ.
_XLSX_TIMESTAMP = dt.datetime(2026, 11, 1, 0, 0, 0)
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)

FILE_NAMES = (
    "customers.csv",
    "subscriptions.csv",
    "orders_tr.csv",
    "crm_workbook.xlsx",
    "leads.csv",
    "tickets.csv",
    "surveys_tr.csv",
    "activities.csv",
    "spend.csv",
)

HEADERS: dict[str, list[str]] = {
    "customers.csv": [
        "Customer ID", "Company", "Created", "First Paid", "Churned", "Status", "Segment",
        "Plan", "Region", "Channel", "Referred", "Activated", "MRR",
    ],
    "subscriptions.csv": [
        "Subscription ID", "Customer ID", "Plan", "Start", "Canceled", "End", "Amount",
        "Discount", "Tax", "Interval (months)", "Seats", "Status", "Currency",
    ],
    "orders_tr.csv": [
        "Sipariş No", "Müşteri No", "Sipariş Tarihi", "Tutar", "Durum", "Para Birimi",
        "Kategori", "Ürün Kodu", "Tekrarlayan",
    ],
    "Deals": [
        "Deal ID", "Account ID", "Lead ID", "Created", "Close Date", "Stage", "Amount",
        "Probability (%)", "Type", "Pipeline", "Owner", "Source",
    ],
    "Deal Stages": ["Deal ID", "Stage", "Entered", "Exited"],
    "leads.csv": [
        "Lead ID", "Created", "Source", "Status", "Owner", "MQL Date", "SQL Date",
        "Converted Date", "First Response",
    ],
    "tickets.csv": [
        "Ticket ID", "Customer ID", "Created", "First Reply", "First Solved", "Solved",
        "Status", "Reopens", "Agent Replies", "Channel", "Group", "Assignee",
    ],
    "surveys_tr.csv": ["Yanıt No", "Müşteri No", "Talep No", "Anket", "Puan", "Tarih", "Yorum"],
    "activities.csv": [
        "Activity ID", "Customer ID", "Lead ID", "Deal ID", "Ticket ID", "User", "Date",
        "Type", "Direction", "Actor",
    ],
    "spend.csv": ["Month", "Amount", "Category", "Channel", "Currency"],
}

PLANS = ("Starter", "Growth", "Enterprise")
SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
REGIONS = ("Marmara", "Ege", "İç Anadolu", "Akdeniz", "Karadeniz")
CHANNELS = ("organic", "paid_search", "referral", "outbound", "partner")
SALES_REPS = ("Ayşe Yılmaz", "Mehmet Demir", "Zeynep Kaya", "Emre Şahin", "Elif Çelik", "Burak Öztürk")
SUPPORT_AGENTS = ("Deniz Aydın", "Can Arslan", "Selin Koç", "Hakan Yıldız", "Merve Doğan")
OPEN_STAGES = ("Prospecting", "Qualification", "Proposal", "Negotiation")
STAGE_PROBABILITY = {
    "Prospecting": 10, "Qualification": 20, "Proposal": 50, "Negotiation": 70,
    "Closed Won": 100, "Closed Lost": 0,
}
KDV_RATE = 0.20

# Monthly list price per seat.  Prices went up on 2026-01-01 (Turkish
# inflation); existing customers keep the price book they signed on, so a plan
# change never looks like a price hike.
_SEAT_PRICE = {
    2025: {"Starter": 290, "Growth": 490, "Enterprise": 890},
    2026: {"Starter": 390, "Growth": 660, "Enterprise": 1200},
}
# Annual plans cost 12 months minus 15 %.
_ANNUAL_MONTHS = 10.2
_SEATS = {"Starter": (1, 5), "Growth": (5, 30), "Enterprise": (25, 120)}
# Hazards per month (plan changes) and per renewal (annual churn).
_CHURN_MONTHLY = {"Starter": 0.04, "Growth": 0.025, "Enterprise": 0.014}
_CHURN_AT_ANNUAL_RENEWAL = {"Starter": 0.22, "Growth": 0.15, "Enterprise": 0.08}
_UPGRADE = {"Starter": 0.055, "Growth": 0.05, "Enterprise": 0.045}
_DOWNGRADE = {"Starter": 0.012, "Growth": 0.015, "Enterprise": 0.012}
_WINBACK = 0.3


# --------------------------------------------------------------------------- helpers


def _add_months(day: dt.date, months: int) -> dt.date:
    """``day`` shifted by whole months, clamping the day of month (Jan 31 + 1 = Feb 28)."""
    years, month0 = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month0 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def _month_starts() -> list[dt.date]:
    months, m = [], START
    while m <= AS_OF:
        months.append(m)
        m = _add_months(m, 1)
    return months


def _choice(rng: Generator, options: Sequence[Any], p: Sequence[float] | None = None) -> Any:
    """One element of ``options`` (a plain Python object, not a numpy scalar)."""
    return options[int(rng.choice(len(options), p=p))]


def _randint(rng: Generator, low: int, high: int) -> int:
    """Integer in ``[low, high]`` (both inclusive)."""
    return int(rng.integers(low, high + 1))


def _random_day(rng: Generator, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=_randint(rng, 0, max(0, (last - first).days)))


def _business_datetime(rng: Generator, day: dt.date, latest: dt.datetime = _AS_OF_END) -> dt.datetime:
    """A time between 09:00 and 18:00 on ``day`` or, on weekends, the next weekday.

    Falls back to the previous weekday when the next one would be after ``latest``.
    """
    forward = day
    while forward.weekday() >= 5:
        forward += dt.timedelta(days=1)
    if dt.datetime.combine(forward, dt.time(9)) > latest:
        forward = day
        while forward.weekday() >= 5:
            forward -= dt.timedelta(days=1)
    moment = dt.datetime.combine(forward, dt.time(9)) + dt.timedelta(seconds=_randint(rng, 0, 9 * 3600 - 1))
    return min(moment, latest)


def _any_time(rng: Generator, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0)) + dt.timedelta(seconds=_randint(rng, 0, 86399))


def _next_business_moment(rng: Generator, moment: dt.datetime) -> dt.datetime:
    """``moment`` if it is within Mon-Fri 09:00-18:00, else shortly after the next opening.

    Support and sales staff only work business hours (Europe/Istanbul local
    time, stored naive), so replies to evening tickets land the next morning.
    """
    if moment.weekday() < 5 and 9 <= moment.hour < 18:
        return moment
    day = moment.date() if moment.hour < 9 else moment.date() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(9)) + dt.timedelta(seconds=_randint(rng, 60, 90 * 60))


def _iso(value: dt.date | None) -> str:
    return "" if value is None else value.isoformat()


def _iso_dt(value: dt.datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _money(value: float) -> str:
    return f"{value:.2f}"


def _money_tr(value: float) -> str:
    """``1234.5`` -> ``1.234,50`` (Turkish locale: ``.`` thousands, ``,`` decimals)."""
    return f"{value:,.2f}".replace(",", "\0").replace(".", ",").replace("\0", ".")


def _months_between(first: dt.date, last: dt.date) -> float:
    return max(0.0, (last - first).days / 30.44)


def _lognormal_minutes(rng: Generator, median_minutes: float, sigma: float) -> dt.timedelta:
    import math

    minutes = float(rng.lognormal(math.log(median_minutes), sigma))
    return dt.timedelta(seconds=int(minutes * 60))


# --------------------------------------------------------------------------- model


@dataclass(eq=False)
class _Customer:
    company: str
    created: dt.date
    segment: str
    region: str
    channel: str
    referred: bool
    trial_plan: str
    pay_date: dt.date | None  # when the trial converts; None = never within the data
    activated: dt.date | None
    owner: str  # account owner among the sales reps
    num: int = 0
    subs: list[_Sub] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"C{self.num:05d}"

    @property
    def user_prefix(self) -> str:
        return f"U{self.num:04d}"

    @property
    def paying(self) -> bool:
        return bool(self.subs)

    @property
    def first_paid(self) -> dt.date | None:
        return min(s.start for s in self.subs) if self.subs else None

    def active_subs(self, day: dt.date) -> list[_Sub]:
        return [s for s in self.subs if s.active_on(day)]

    def is_active(self, day: dt.date) -> bool:
        return any(s.active_on(day) for s in self.subs)

    @property
    def status(self) -> str:
        if not self.subs:
            return "trial"
        return "active" if self.is_active(AS_OF) else "churned"

    @property
    def churned(self) -> dt.date | None:
        if self.status != "churned":
            return None
        return max(s.end for s in self.subs if s.end is not None)

    @property
    def plan(self) -> str:
        """Current plan; the last plan for churned customers; the trialled plan for trials."""
        if not self.subs:
            return self.trial_plan
        active = self.active_subs(AS_OF)
        pool = active or self.subs
        return max(pool, key=lambda s: s.start).plan

    @property
    def mrr(self) -> float:
        return round(sum(s.mrr for s in self.active_subs(AS_OF)), 2)

    @property
    def last_day(self) -> dt.date:
        """Last day the customer was around (churn date or the as-of date)."""
        return self.churned or AS_OF


@dataclass(eq=False)
class _Sub:
    customer: _Customer
    plan: str
    start: dt.date
    interval: int
    seats: int
    amount: float
    discount: float
    kind: str  # new / upgrade / downgrade / winback (internal: drives deals)
    previous: _Sub | None = None
    end: dt.date | None = None
    canceled: dt.date | None = None
    status: str = "active"
    id: str = ""

    @property
    def mrr(self) -> float:
        return (self.amount - self.discount) / self.interval

    @property
    def tax(self) -> float:
        return round((self.amount - self.discount) * KDV_RATE, 2)

    def active_on(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or self.end > day)


@dataclass(eq=False)
class _Lead:
    created: dt.datetime
    source: str
    owner: str
    mql: dt.date | None
    sql: dt.date | None
    converted: dt.date | None
    first_response: dt.datetime | None
    status: str = ""
    id: str = ""


@dataclass(eq=False)
class _Deal:
    account: _Customer
    type: str
    created: dt.datetime
    close: dt.datetime | None
    stage: str
    amount: float
    owner: str
    source: str
    pipeline: str
    probability: int
    history: list[tuple[str, dt.datetime, dt.datetime | None]]
    lead: _Lead | None = None
    id: str = ""


@dataclass(eq=False)
class _Ticket:
    customer: _Customer
    created: dt.datetime
    first_reply: dt.datetime | None
    first_solved: dt.datetime | None
    solved: dt.datetime | None
    status: str
    reopens: int
    agent_replies: int
    channel: str
    group: str
    assignee: str
    id: str = ""


# --------------------------------------------------------------------------- customers

_NAME_STEMS = (
    "Anadolu", "Boğaziçi", "Kuzey", "Güney", "Yıldız", "Marmara", "Toros", "Kapadokya", "Akdeniz",
    "Karadeniz", "Deniz", "Güneş", "Demir", "Çınar", "Lale", "Zirve", "Umut", "Ufuk", "Doruk",
    "Pusula", "Kartal", "Aslan", "Meltem", "Poyraz", "Sedir", "Defne", "Ilgaz", "Erciyes",
    "Uludağ", "Fırat", "Dicle", "Kızılırmak", "Sakarya", "Bereket", "Işık", "Özgür", "Mavi",
    "Yeşil", "Altın", "Gümüş",
)
_NAME_SECTORS = (
    "Lojistik", "Gıda", "Tekstil", "Yazılım", "Danışmanlık", "Enerji", "Otomotiv", "Mobilya",
    "İnşaat", "Turizm", "Sağlık", "Kimya", "Medya", "Tarım", "Elektronik", "Ambalaj", "Plastik",
    "Makine", "Eğitim", "Perakende", "Mimarlık", "Reklam", "Dış Ticaret", "Metal",
)
_NAME_SUFFIXES = ("A.Ş.", "Ltd. Şti.", "San. ve Tic. A.Ş.", "Tic. Ltd. Şti.")

_SEGMENT_P = (0.64, 0.28, 0.08)
_REGION_P = (0.42, 0.16, 0.20, 0.12, 0.10)
_CHANNEL_P_BY_SEGMENT = {
    "SMB": (0.36, 0.30, 0.16, 0.08, 0.10),
    "Mid-Market": (0.22, 0.18, 0.15, 0.30, 0.15),
    "Enterprise": (0.10, 0.05, 0.15, 0.50, 0.20),
}
_CONVERSION_BY_CHANNEL = {
    "organic": 0.82, "paid_search": 0.74, "referral": 0.9, "outbound": 0.86, "partner": 0.86,
}
_INITIAL_PLAN_P = {
    "SMB": (0.82, 0.18, 0.0),
    "Mid-Market": (0.15, 0.75, 0.10),
    "Enterprise": (0.0, 0.25, 0.75),
}
_ANNUAL_P = {"SMB": 0.12, "Mid-Market": 0.28, "Enterprise": 0.45}


def _make_customers(rng: Generator, n: int = 1200) -> list[_Customer]:
    """Sign-ups over the 22 months, growing over time, sorted and numbered by creation."""
    import numpy as np

    months = _month_starts()
    # Linear growth: the last month gets about 2.3x the sign-ups of the first.
    weights = np.array([1 + 0.06 * i for i in range(len(months))])
    month_idx = rng.choice(len(months), size=n, p=weights / weights.sum())
    names = [f"{a} {b} {c}" for a in _NAME_STEMS for b in _NAME_SECTORS for c in _NAME_SUFFIXES]
    name_idx = rng.choice(len(names), size=n, replace=False)

    customers = []
    for i in range(n):
        month = months[int(month_idx[i])]
        created = _random_day(rng, month, min(_add_months(month, 1) - dt.timedelta(days=1), AS_OF))
        segment = _choice(rng, SEGMENTS, _SEGMENT_P)
        channel = _choice(rng, CHANNELS, _CHANNEL_P_BY_SEGMENT[segment])
        # "Referred" is a separate CRM checkbox: it mostly, but not always, agrees with the channel.
        referred = bool(rng.random() < (0.93 if channel == "referral" else 0.03))
        trial_plan = _choice(rng, PLANS, _INITIAL_PLAN_P[segment])
        pay_date = created + dt.timedelta(days=_randint(rng, 7, 31))
        if rng.random() >= _CONVERSION_BY_CHANNEL[channel] or pay_date > AS_OF:
            pay_date = None
        if pay_date is not None:
            activated = None if rng.random() < 0.04 else created + dt.timedelta(days=_randint(rng, 0, 12))
        else:
            activated = created + dt.timedelta(days=_randint(rng, 1, 20)) if rng.random() < 0.35 else None
        if activated is not None and activated > AS_OF:
            activated = None
        customers.append(
            _Customer(
                company=names[int(name_idx[i])], created=created, segment=segment,
                region=_choice(rng, REGIONS, _REGION_P), channel=channel, referred=referred,
                trial_plan=trial_plan, pay_date=pay_date, activated=activated,
                owner=_choice(rng, SALES_REPS),
            )
        )
    # Sort by sign-up date (stable, so same-day ties keep draw order) and number them.
    customers.sort(key=lambda c: c.created)
    for num, customer in enumerate(customers, start=1):
        customer.num = num
    return customers


# --------------------------------------------------------------------------- subscriptions


def _price(plan: str, seats: int, interval: int, price_year: int) -> float:
    per_month = _SEAT_PRICE[price_year][plan] * seats
    return round(per_month * (_ANNUAL_MONTHS if interval == 12 else 1), 2)


def _next_plan(plan: str, step: int) -> str:
    return PLANS[min(len(PLANS) - 1, max(0, PLANS.index(plan) + step))]


def _upgraded(rng: Generator, plan: str, seats: int) -> tuple[str, int]:
    """A plan upgrade (more seats too) or, on the same plan, a seat expansion."""
    if plan != "Enterprise" and rng.random() < 0.55:
        new_plan = _next_plan(plan, +1)
        low, high = _SEATS[new_plan]
        return new_plan, max(seats, _randint(rng, low, (low + high) // 2))
    return plan, seats + _randint(rng, 1, max(1, seats // 3))


def _downgraded(rng: Generator, plan: str, seats: int) -> tuple[str, int] | None:
    """A plan downgrade or a seat reduction; ``None`` when there is nothing to cut."""
    if plan != "Starter" and rng.random() < 0.5:
        new_plan = _next_plan(plan, -1)
        return new_plan, min(seats, _randint(rng, *_SEATS[new_plan]))
    if seats <= 1:
        return None
    return plan, seats - _randint(rng, 1, max(1, seats // 4))


def _new_sub(customer: _Customer, plan: str, start: dt.date, interval: int, seats: int,
             price_year: int, discount_rate: float, kind: str, previous: _Sub | None) -> _Sub:
    amount = _price(plan, seats, interval, price_year)
    return _Sub(customer=customer, plan=plan, start=start, interval=interval, seats=seats,
                amount=amount, discount=round(amount * discount_rate, 2), kind=kind, previous=previous)


def _simulate_subscriptions(rng: Generator, customer: _Customer) -> None:
    """Fill ``customer.subs``: month by month, draw churn, upgrade or downgrade.

    Monthly rows can churn at every billing date; annual rows only at the
    yearly renewal (cancelling earlier still runs to the end of the paid
    year).  Upgrades take effect on any day; downgrades at the next billing
    date.  Churned customers sometimes come back months later (win-back).
    """
    assert customer.pay_date is not None
    plan = customer.trial_plan
    seats = _randint(rng, *_SEATS[plan])
    interval = 12 if rng.random() < _ANNUAL_P[customer.segment] else 1
    # Contract terms (price book year and discount) stick to the customer until
    # a win-back signs a fresh contract.
    price_year = customer.pay_date.year
    discount_rate = _choice(rng, (0.0, 0.05, 0.10, 0.15, 0.20), (0.86, 0.04, 0.05, 0.03, 0.02))
    sub = _new_sub(customer, plan, customer.pay_date, interval, seats, price_year, discount_rate, "new", None)
    customer.subs.append(sub)

    k = 0
    while True:
        k += 1
        period_start = _add_months(sub.start, k - 1)
        billing_date = _add_months(sub.start, k)
        if period_start > AS_OF:
            return
        renewal = k % sub.interval == 0
        if sub.interval == 1:
            churn_p = _CHURN_MONTHLY[sub.plan]
            down_p = _DOWNGRADE[sub.plan]
        else:
            churn_p = _CHURN_AT_ANNUAL_RENEWAL[sub.plan] if renewal else 0.0
            down_p = _DOWNGRADE[sub.plan] * 12 if renewal else 0.0
        up_p = _UPGRADE[sub.plan]
        u = rng.random()

        if u < churn_p:
            notice = _randint(rng, 1, 25) if sub.interval == 1 else _randint(rng, 7, 60)
            canceled = max(sub.start + dt.timedelta(days=1), billing_date - dt.timedelta(days=notice))
            if canceled > AS_OF:
                return  # the request lies after the export: still a normal active row
            sub.canceled, sub.end, sub.status = canceled, billing_date, "canceled"
            if rng.random() >= _WINBACK:
                return
            restart = billing_date + dt.timedelta(days=_randint(rng, 45, 300))
            if restart > AS_OF:
                return
            plan = sub.plan if rng.random() < 0.7 else _next_plan(sub.plan, -1)
            low, high = _SEATS[plan]
            seats = max(low, min(high, sub.seats))
            discount_rate = _choice(rng, (0.0, 0.10, 0.20), (0.6, 0.25, 0.15))  # win-back offers
            price_year = restart.year  # a win-back signs a fresh contract at current prices
            sub = _new_sub(customer, plan, restart, 1, seats, price_year, discount_rate, "winback", None)
            customer.subs.append(sub)
            k = 0
            continue

        change: tuple[str, int] | None = None
        if u < churn_p + up_p:
            change_day = period_start + dt.timedelta(days=_randint(rng, 1, 27))
            change, kind = _upgraded(rng, sub.plan, sub.seats), "upgrade"
        elif u < churn_p + up_p + down_p:
            change_day = billing_date
            change, kind = _downgraded(rng, sub.plan, sub.seats), "downgrade"
        if change is None:
            continue
        if change_day > AS_OF:
            return
        sub.end, sub.status = change_day, "canceled"
        new_plan, new_seats = change
        sub = _new_sub(customer, new_plan, change_day, sub.interval, new_seats, price_year,
                       discount_rate, kind, sub)
        customer.subs.append(sub)
        k = 0


def _make_subscriptions(rng: Generator, customers: list[_Customer]) -> list[_Sub]:
    for customer in customers:
        if customer.pay_date is not None:
            _simulate_subscriptions(rng, customer)
    subs = sorted((s for c in customers for s in c.subs), key=lambda s: (s.start, s.customer.num))
    for i, sub in enumerate(subs, start=1):
        sub.id = f"S{i:05d}"
        # A few open rows have a failed card payment: past_due but still active.
        if sub.end is None and rng.random() < 0.03:
            sub.status = "past_due"
    return subs


# --------------------------------------------------------------------------- tickets


def _make_tickets(rng: Generator, customers: list[_Customer], target: int = 3000) -> list[_Ticket]:
    """Support tickets, more for bigger customers, during the customer's lifetime."""
    relative = {"SMB": 1.0, "Mid-Market": 2.2, "Enterprise": 5.0}
    windows = []
    for c in customers:
        if c.paying:
            first, last, weight = c.created, c.last_day, relative[c.segment]
        else:  # trial users only raise tickets during their first weeks
            first, last, weight = c.created, min(c.created + dt.timedelta(days=45), AS_OF), 0.5
        windows.append((c, first, last, weight * max(_months_between(first, last), 0.1)))
    base = target / sum(w[3] for w in windows)

    tickets: list[_Ticket] = []
    for c, first, last, weight in windows:
        for _ in range(int(rng.poisson(base * weight))):
            day = _random_day(rng, first, last)
            created = _business_datetime(rng, day) if rng.random() < 0.85 else _any_time(rng, day)
            channel = _choice(rng, ("email", "chat", "phone", "web"), (0.4, 0.3, 0.1, 0.2))
            if (day - c.created).days < 45 and rng.random() < 0.6:
                group = "Onboarding"
            else:
                group = _choice(rng, ("Billing", "Technical", "Onboarding"), (0.3, 0.6, 0.1))
            if channel == "chat":
                delay = _lognormal_minutes(rng, 4, 0.8)
            elif channel == "phone":
                delay = dt.timedelta(seconds=_randint(rng, 0, 360))
            elif rng.random() < 0.12:
                delay = dt.timedelta(hours=float(rng.uniform(18, 40)))
            else:
                delay = _lognormal_minutes(rng, 90, 1.0)
            first_reply = _next_business_moment(rng, created + delay)
            solve_median = (30 if channel in ("chat", "phone") else 300) * (2 if group == "Technical" else 1)
            first_solved = _next_business_moment(rng, first_reply + _lognormal_minutes(rng, solve_median, 1.1))
            reopens = _choice(rng, (0, 1, 2), (0.86, 0.10, 0.04))
            solved = first_solved
            for _ in range(reopens):
                solved = _next_business_moment(rng, solved + _lognormal_minutes(rng, 36 * 60, 0.9))
            replies = min(6, 1 + int(rng.poisson(1.0)) + reopens)

            # Cut everything at the export moment.
            if first_reply > _AS_OF_END:
                first_reply, first_solved, solved, replies, reopens = None, None, None, 0, 0
                status = "open"
            elif first_solved > _AS_OF_END:
                first_solved, solved, reopens = None, None, 0
                status = _choice(rng, ("open", "pending"), (0.6, 0.4))
            elif solved > _AS_OF_END:
                solved = None  # reopened and being worked on again
                status = "open"
            else:
                # Helpdesks auto-close solved tickets after a few days.
                status = "closed" if solved < _AS_OF_END - dt.timedelta(days=4) else "solved"
            tickets.append(
                _Ticket(customer=c, created=created, first_reply=first_reply, first_solved=first_solved,
                        solved=solved, status=status, reopens=reopens, agent_replies=replies,
                        channel=channel, group=group, assignee=_choice(rng, SUPPORT_AGENTS))
            )
    tickets.sort(key=lambda t: (t.created, t.customer.num))
    for i, ticket in enumerate(tickets, start=1):
        ticket.id = f"T{i:06d}"
    return tickets


# --------------------------------------------------------------------------- deals and leads

_SOURCE_BY_CHANNEL = {
    "organic": ("inbound",), "paid_search": ("inbound",), "referral": ("referral",),
    "outbound": ("outbound",), "partner": ("referral", "event"),
}
_SALES_CYCLE_DAYS = {"SMB": (7, 45), "Mid-Market": (20, 90), "Enterprise": (45, 180)}


def _stage_history(rng: Generator, created: dt.datetime, close: dt.datetime | None, reached: int,
                   final: str | None) -> list[tuple[str, dt.datetime, dt.datetime | None]]:
    """Stage rows from ``Prospecting`` up to ``OPEN_STAGES[reached]``.

    Closed deals end with a ``Closed Won``/``Closed Lost`` row whose Exited
    equals Entered (a terminal stage is left the moment it is entered); open
    deals end with their current stage and a blank Exited.
    """
    stages = list(OPEN_STAGES[: reached + 1])
    span_end = close if close is not None else _AS_OF_END
    total = (span_end - created).total_seconds()
    # Open deals have spent an unknown part of their life in the current stage:
    # one extra Dirichlet share stands for the time since the last change.
    parts = rng.dirichlet([2.0] * (len(stages) + (0 if close is not None else 1)))
    entered = [created]
    for share in parts[: len(stages) - 1]:
        entered.append(entered[-1] + dt.timedelta(seconds=int(total * float(share))))
    rows: list[tuple[str, dt.datetime, dt.datetime | None]] = []
    for i, stage in enumerate(stages):
        exited = entered[i + 1] if i + 1 < len(stages) else close
        rows.append((stage, entered[i], exited))
    if final is not None and close is not None:
        rows.append((final, close, close))
    return rows


def _make_deal(rng: Generator, account: _Customer, deal_type: str, created: dt.datetime,
               close: dt.datetime | None, outcome: str, amount: float, source: str,
               pipeline: str | None = None) -> _Deal:
    """A deal with its stage history; ``outcome`` is ``won``, ``lost`` or ``open``."""
    if created < _START_DT:
        # The data starts on 2025-01-01: squeeze earlier pipelines into the span
        # instead of piling them up on the first morning.
        assert close is not None
        created = _START_DT + (close - _START_DT) * float(rng.uniform(0.0, 0.5))
        created = created.replace(microsecond=0)
    if close is not None and close <= created:
        close = created + dt.timedelta(hours=_randint(rng, 2, 30))
    if outcome == "won":
        reached, stage = 3, "Closed Won"
    elif outcome == "lost":
        reached, stage = _choice(rng, (0, 1, 2, 3), (0.3, 0.3, 0.25, 0.15)), "Closed Lost"
    else:
        reached = _choice(rng, (0, 1, 2, 3), (0.25, 0.3, 0.3, 0.15))
        stage, close = OPEN_STAGES[reached], None
    history = _stage_history(rng, created, close, reached, stage if outcome != "open" else None)
    probability = STAGE_PROBABILITY[stage]
    if outcome == "open" and rng.random() < 0.15:
        probability = _choice(rng, (15, 30, 40, 60, 80, 90))  # the rep's own forecast
    if pipeline is None:
        pipeline = "Partner" if account.channel == "partner" or rng.random() < 0.05 else "Direct"
    owner = account.owner if rng.random() < 0.85 else _choice(rng, SALES_REPS)
    return _Deal(account=account, type=deal_type, created=created, close=close, stage=stage,
                 amount=round(amount, 2), owner=owner, source=source, pipeline=pipeline,
                 probability=probability, history=history)


def _quote_acv(rng: Generator, customer: _Customer) -> float:
    """A plausible annual contract value for a prospect of this segment."""
    plan = _choice(rng, PLANS, _INITIAL_PLAN_P[customer.segment])
    return _price(plan, _randint(rng, *_SEATS[plan]), 1, 2025) * 12


def _cycle(rng: Generator, c: _Customer) -> dt.timedelta:
    """A sales cycle length drawn for the customer's segment."""
    return dt.timedelta(days=_randint(rng, *_SALES_CYCLE_DAYS[c.segment]))


def _won_new_business(rng: Generator, paying: list[_Customer]) -> list[_Deal]:
    """New business won: sales-assisted sign-ups close (almost) on the first paid day."""
    deals: list[_Deal] = []
    for c in paying:
        assisted = c.channel in ("outbound", "partner") or c.segment == "Enterprise" or (
            rng.random() < (0.8 if c.segment == "Mid-Market" else 0.35))
        if not assisted:
            continue
        first = min(c.subs, key=lambda s: s.start)
        close = _business_datetime(rng, c.first_paid - dt.timedelta(days=_randint(rng, 0, 3)))
        deals.append(_make_deal(rng, c, "New Business", close - _cycle(rng, c), close, "won", first.mrr * 12,
                                _choice(rng, _SOURCE_BY_CHANNEL[c.channel])))
    return deals


def _lost_new_business(rng: Generator, paying: list[_Customer], trials: list[_Customer], count: int) -> list[_Deal]:
    """New business lost: trials that never bought, and earlier failed attempts on later customers."""
    deals: list[_Deal] = []
    while count > 0:
        if rng.random() < 0.45:
            c = _choice(rng, trials)
            lo, hi = c.created + dt.timedelta(days=10), min(c.created + dt.timedelta(days=120), AS_OF)
        else:
            c = _choice(rng, paying)
            lo = max(START + dt.timedelta(days=10), c.created - dt.timedelta(days=120))
            hi = c.first_paid - dt.timedelta(days=1)
        if hi < lo:
            continue
        close = _business_datetime(rng, _random_day(rng, lo, hi))
        source = _choice(rng, ("inbound", "outbound", "referral", "event"), (0.45, 0.3, 0.1, 0.15))
        deals.append(_make_deal(rng, c, "New Business", close - _cycle(rng, c), close, "lost",
                                _quote_acv(rng, c), source))
        count -= 1
    return deals


def _open_new_business(rng: Generator, trials: list[_Customer]) -> list[_Deal]:
    """New business still open: recent trials being worked by sales."""
    deals: list[_Deal] = []
    for c in trials:
        if (AS_OF - c.created).days <= 150 and rng.random() < 0.7:
            created = _business_datetime(rng, _random_day(rng, c.created, AS_OF))
            source = _choice(rng, ("inbound", "outbound", "referral", "event"), (0.5, 0.25, 0.1, 0.15))
            deals.append(_make_deal(rng, c, "New Business", created, None, "open", _quote_acv(rng, c), source))
    return deals


def _won_upsells(rng: Generator, subs: list[_Sub]) -> list[_Deal]:
    """Upsell won = recorded upgrades (most SMB upgrades are self-serve, without a deal)."""
    deals: list[_Deal] = []
    for s in subs:
        if s.kind != "upgrade" or s.previous is None:
            continue
        if s.customer.segment == "SMB" and rng.random() < 0.75:
            continue  # self-serve upgrade in the app, no deal
        close = _business_datetime(rng, s.start)
        deals.append(_make_deal(rng, s.customer, "Upsell", close - _cycle(rng, s.customer) / 2, close, "won",
                                (s.mrr - s.previous.mrr) * 12, "outbound"))
    return deals


def _upsell_attempt(rng: Generator, paying: list[_Customer], outcome: str) -> _Deal | None:
    """One lost or open upsell attempt on a paying customer (None: the customer is gone)."""
    c = _choice(rng, paying)
    last = c.last_day if outcome == "lost" else AS_OF
    if outcome == "open" and not c.is_active(AS_OF):
        return None
    first = max(c.first_paid, last - dt.timedelta(days=120)) if outcome == "open" else c.first_paid
    day = _random_day(rng, first, last)
    mrr = sum(s.mrr for s in c.active_subs(day)) or c.subs[0].mrr
    when = _business_datetime(rng, day)
    if outcome == "lost":
        return _make_deal(rng, c, "Upsell", when - _cycle(rng, c) / 2, when, "lost",
                          mrr * 12 * float(rng.uniform(0.2, 0.8)), "outbound")
    return _make_deal(rng, c, "Upsell", when, None, "open", mrr * 12 * float(rng.uniform(0.2, 0.8)), "outbound")


def _renewals(rng: Generator, s: _Sub) -> list[_Deal]:
    """Renewal deals of one annual subscription: won if renewed, lost if cancelled, open if upcoming."""
    deals: list[_Deal] = []
    year = 1
    while True:
        anniversary = _add_months(s.start, 12 * year)
        year += 1
        if anniversary > AS_OF + dt.timedelta(days=75):
            break
        if s.end is not None and s.end < anniversary:
            break  # replaced by a plan change before renewal
        created = _business_datetime(rng, anniversary - dt.timedelta(days=90))
        if created > _AS_OF_END:
            break
        if s.canceled is not None and s.end == anniversary:
            close, outcome = _business_datetime(rng, s.canceled), "lost"
        elif anniversary <= AS_OF:
            close = _business_datetime(rng, anniversary - dt.timedelta(days=_randint(rng, 0, 20)))
            outcome = "won"
        else:
            close, outcome = None, "open"
        deals.append(_make_deal(rng, s.customer, "Renewal", created, close, outcome, s.mrr * 12,
                                "outbound", pipeline="Direct"))
        if outcome != "won":
            break
    return deals


def _cross_sell_deals(rng: Generator, paying: list[_Customer]) -> list[_Deal]:
    """Cross-sell of services (training, integration) to paying customers, bigger accounts more often."""
    deals: list[_Deal] = []
    weights = {"SMB": 1.0, "Mid-Market": 3.0, "Enterprise": 8.0}
    w = [weights[c.segment] for c in paying]
    p = [x / sum(w) for x in w]
    for _ in range(170):
        c = _choice(rng, paying, p)
        outcome = _choice(rng, ("won", "lost", "open"), (0.45, 0.45, 0.10))
        amount = _randint(rng, 30, 500) * 500
        if outcome == "open":
            if not c.is_active(AS_OF):
                continue
            first = max(c.first_paid, AS_OF - dt.timedelta(days=120))
            created = _business_datetime(rng, _random_day(rng, first, AS_OF))
            deals.append(_make_deal(rng, c, "Cross-sell", created, None, "open", amount, "outbound"))
        else:
            close = _business_datetime(rng, _random_day(rng, c.first_paid, c.last_day))
            deals.append(_make_deal(rng, c, "Cross-sell", close - _cycle(rng, c) / 2, close, outcome, amount,
                                    _choice(rng, ("outbound", "inbound", "event"), (0.6, 0.3, 0.1))))
    return deals


def _make_deals(rng: Generator, customers: list[_Customer], subs: list[_Sub]) -> list[_Deal]:
    """Every deal of the demo CRM, in the order the random draws are made, then numbered by creation."""
    paying = [c for c in customers if c.paying]
    trials = [c for c in customers if not c.paying]
    deals = _won_new_business(rng, paying)
    deals += _lost_new_business(rng, paying, trials, round(len(deals) * 1.3))
    deals += _open_new_business(rng, trials)
    upsells = _won_upsells(rng, subs)
    deals += upsells
    for outcome, count in (("lost", round(len(upsells) * 0.6)), ("open", 40)):
        attempts = (_upsell_attempt(rng, paying, outcome) for _ in range(count))
        deals += [d for d in attempts if d is not None]
    for s in subs:
        if s.interval == 12:
            deals += _renewals(rng, s)
    deals += _cross_sell_deals(rng, paying)
    deals.sort(key=lambda d: (d.created, d.account.num))
    for i, deal in enumerate(deals, start=1):
        deal.id = f"D{i:05d}"
    return deals


def _first_response(rng: Generator, created: dt.datetime) -> dt.datetime:
    if rng.random() < 0.06:  # slow: more than a day
        return created + dt.timedelta(hours=float(rng.uniform(24, 96)))
    return _next_business_moment(rng, created + min(_lognormal_minutes(rng, 90, 1.0), dt.timedelta(hours=20)))


def _converted_leads(rng: Generator, deals: list[_Deal], converted: int) -> list[_Lead]:
    """``converted`` leads that became inbound/event/referral new-business deals, funnel dates ordered."""
    leads: list[_Lead] = []
    candidates = [d for d in deals if d.type == "New Business" and d.source in ("inbound", "event", "referral")
                  and d.created >= _START_DT + dt.timedelta(days=60)]
    picked = rng.choice(len(candidates), size=min(converted, len(candidates)), replace=False)
    for idx in sorted(int(i) for i in picked):
        deal = candidates[idx]
        conv = deal.created.date()
        created = _business_datetime(rng, conv - dt.timedelta(days=_randint(rng, 5, 60)), latest=deal.created)
        created = max(created, _START_DT)
        # Walk forward from the lead's creation so the funnel dates stay ordered.
        days = (conv - created.date()).days
        mql = created.date() + dt.timedelta(days=_randint(rng, 0, days // 2))
        sql = mql + dt.timedelta(days=_randint(rng, 0, (conv - mql).days))
        first_response = min(_first_response(rng, created), deal.created)
        lead = _Lead(created=created, source=deal.source, owner=deal.owner, mql=mql, sql=sql, converted=conv,
                     first_response=first_response, status="converted")
        deal.lead = lead
        leads.append(lead)
    return leads


def _funnel_dates(rng: Generator, created: dt.datetime, p_mql: float, p_sql: float) -> tuple[dt.date | None, dt.date | None]:
    """MQL and SQL dates of an unconverted lead (None: not reached, or not by the as-of day)."""
    mql = sql = None
    if rng.random() < p_mql:
        mql = created.date() + dt.timedelta(days=_randint(rng, 0, 21))
        if rng.random() < p_sql:
            sql = mql + dt.timedelta(days=_randint(rng, 1, 30))
    if sql is not None and sql > AS_OF:
        sql = None
    if mql is not None and mql > AS_OF:
        mql = None
    return mql, sql


def _lead_status(rng: Generator, age: int, mql: dt.date | None, sql: dt.date | None,
                 first_response: dt.datetime | None) -> str:
    """The CRM status of an unconverted lead ``age`` days old on the as-of day."""
    if sql is not None:
        return "qualified" if (AS_OF - sql).days <= 60 or rng.random() < 0.2 else "disqualified"
    if mql is not None:
        return "working" if (AS_OF - mql).days <= 45 or rng.random() < 0.15 else "disqualified"
    if first_response is None or age <= 10:
        return "new"  # nobody has contacted them yet
    if age <= 40:
        return "working"
    # Old leads that never qualified: mostly ruled out, some kept in nurture.
    return _choice(rng, ("disqualified", "working"), (0.7, 0.3))


def _organic_lead(rng: Generator, month: dt.date, p_mql: float, p_sql: float) -> _Lead:
    """One lead created in ``month`` that has not converted (yet)."""
    day = _random_day(rng, month, min(_add_months(month, 1) - dt.timedelta(days=1), AS_OF))
    # Web forms arrive around the clock; most still in office hours.
    created = _business_datetime(rng, day) if rng.random() < 0.7 else _any_time(rng, day)
    mql, sql = _funnel_dates(rng, created, p_mql, p_sql)
    age = (AS_OF - created.date()).days
    never_answered = mql is None and (rng.random() < 0.06 or age <= 1)
    first_response = None if never_answered else _first_response(rng, created)
    if first_response is not None and first_response > _AS_OF_END:
        first_response = None
    status = _lead_status(rng, age, mql, sql, first_response)
    source = _choice(rng, ("inbound", "outbound", "referral", "event"), (0.55, 0.2, 0.1, 0.15))
    return _Lead(created=created, source=source, owner=_choice(rng, SALES_REPS), mql=mql, sql=sql,
                 converted=None, first_response=first_response, status=status)


def _make_leads(rng: Generator, deals: list[_Deal], total: int = 2500, converted: int = 200) -> list[_Lead]:
    """Leads; ``converted`` of them became new-business deals (deal.created = converted date).

    Funnel targets: ~40 % reach MQL, ~50 % of those SQL, ~40 % of SQL convert.
    """
    import numpy as np

    leads = _converted_leads(rng, deals, converted)
    n_rest = total - len(leads)
    months = _month_starts()
    weights = np.array([1 + 0.05 * i for i in range(len(months))])
    month_idx = rng.choice(len(months), size=n_rest, p=weights / weights.sum())
    p_mql = (total * 0.40 - len(leads)) / n_rest
    p_sql = (total * 0.20 - len(leads)) / (total * 0.40 - len(leads))
    leads += [_organic_lead(rng, months[int(month_idx[i])], p_mql, p_sql) for i in range(n_rest)]
    leads.sort(key=lambda lead: lead.created)
    for i, lead in enumerate(leads, start=1):
        lead.id = f"L{i:06d}"
    return leads


# --------------------------------------------------------------------------- orders

_PRODUCTS = {
    # Kategori: [(Ürün Kodu, base net price in 2025 TRY)]
    "Lisans": [("LIS-ADD-010", 2900.0), ("LIS-API-001", 7500.0), ("LIS-DEP-050", 14500.0)],
    "Eğitim": [("EGT-101", 4500.0), ("EGT-201", 9000.0), ("EGT-301", 18000.0)],
    "Danışmanlık": [("DAN-010", 15000.0), ("DAN-020", 45000.0), ("DAN-030", 28000.0)],
    "Donanım": [("DON-110", 12500.0), ("DON-120", 8900.0), ("DON-130", 21000.0)],
}
_PLAN_CODE = {"Starter": "STR", "Growth": "GRW", "Enterprise": "ENT"}


def _make_orders(rng: Generator, customers: list[_Customer], subs: list[_Sub], target: int = 3000
                 ) -> list[tuple[_Customer | None, dt.date, float, str, str, str, bool]]:
    """Invoices: recurring licence invoices (annual plans, monthly Enterprise) plus one-off orders."""
    orders: list[tuple[_Customer | None, dt.date, float, str, str, str, bool]] = []

    def status() -> str:
        return _choice(rng, ("Ödendi", "İade Edildi", "İptal"), (0.95, 0.03, 0.02))

    for s in subs:
        if s.interval != 12 and s.plan != "Enterprise":
            continue  # self-serve monthly plans are card payments, not invoices
        k = 0
        while True:
            due = _add_months(s.start, k)
            k += s.interval
            if due > AS_OF or (s.end is not None and due >= s.end):
                break
            code = f"LIS-{_PLAN_CODE[s.plan]}-{s.interval:02d}"
            orders.append((s.customer, due, s.amount - s.discount, status(), "Lisans", code, True))

    paying = [c for c in customers if c.paying]
    weights = {"SMB": 1.0, "Mid-Market": 2.5, "Enterprise": 6.0}
    w = [weights[c.segment] for c in paying]
    p = [x / sum(w) for x in w]
    n_one_off = max(500, target - len(orders))
    for _ in range(n_one_off):
        category = _choice(rng, tuple(_PRODUCTS), (0.2, 0.35, 0.25, 0.2))
        code, base = _choice(rng, _PRODUCTS[category])
        if rng.random() < 0.01:  # walk-in buyer at a fair or the office: no customer record
            customer, day = None, _random_day(rng, START, AS_OF)
        else:
            customer = _choice(rng, paying, p)
            day = _random_day(rng, customer.first_paid, customer.last_day)
        quantity = _randint(rng, 1, 4) if category == "Donanım" else 1
        inflation = 1.35 if day.year >= 2026 else 1.0
        amount = round(base * inflation * quantity * float(rng.uniform(0.9, 1.1)), 2)
        orders.append((customer, day, amount, status(), category, code, False))

    orders.sort(key=lambda o: (o[1], o[0].num if o[0] is not None else 0, o[5]))
    return orders


# --------------------------------------------------------------------------- surveys

_COMMENTS_POSITIVE = (
    "Çok memnunuz, teşekkürler.", "Destek ekibi hızlı ve ilgili.", "Raporlama ekranı harika.",
    "Kullanımı kolay, ekip hemen alıştı.", "Entegrasyonlar sorunsuz çalışıyor.", "Harika bir ürün!",
    "Sorunum aynı gün çözüldü.", 'Yeni "Panolar" özelliği çok işimize yarıyor.',
)
_COMMENTS_NEUTRAL = (
    "Fena değil, bazı özellikler eksik.", "Mobil uygulama geliştirilmeli.", "Fiyat biraz yüksek.",
    "İdare eder.", "Arayüz biraz karışık.",
)
_COMMENTS_NEGATIVE = (
    "Sistem sık sık yavaşlıyor.", "Destek geç dönüş yaptı.", "Fatura hatası iki kez tekrarlandı.",
    "Beklentimizi karşılamadı.", "Çok pahalı, alternatiflere bakıyoruz.",
)
# Rare comments with the delimiter inside: they must come out quoted.
_COMMENTS_WITH_SEMICOLON = (
    "Hızlı çözüm; teşekkürler!", "Ürün iyi; fiyat ise yüksek.", "Destek yavaş; ürün yine de iyi.",
    "Excel'e aktarım; tarih biçimi bozuk geliyor.",
)
_NPS_PLAN_OFFSET = {"Starter": -0.08, "Growth": 0.0, "Enterprise": 0.12}


def _comment(rng: Generator, sentiment: int) -> str:
    """A short comment for a -1/0/+1 sentiment; empty about 45 % of the time."""
    if rng.random() < 0.45:
        return ""
    if rng.random() < 0.02:
        return _choice(rng, _COMMENTS_WITH_SEMICOLON)
    bank = {1: _COMMENTS_POSITIVE, 0: _COMMENTS_NEUTRAL, -1: _COMMENTS_NEGATIVE}[sentiment]
    return _choice(rng, bank)


def _nps_groups(rng: Generator, n: int, target: float) -> list[str]:
    """``n`` shuffled NPS groups whose promoter - detractor share is ``target`` (30 % passives).

    Group sizes are set by (randomly rounded) quotas rather than drawn one by
    one: with only ~100-200 answers a month, independent draws would bury the
    month-to-month trend in sampling noise.
    """
    passive = 0.30

    def quota(share: float) -> int:
        exact = n * share
        return int(exact) + int(rng.random() < exact - int(exact))

    promoters = quota((1 - passive + target) / 2)
    detractors = min(n - promoters, quota((1 - passive - target) / 2))
    groups = ["promoter"] * promoters + ["detractor"] * detractors
    groups += ["passive"] * (n - len(groups))
    return [groups[int(i)] for i in rng.permutation(n)]


def _nps_score(rng: Generator, group: str) -> int:
    """A 0-10 score inside the NPS ``group`` (promoter 9-10, passive 7-8, detractor 0-6)."""
    if group == "promoter":
        return _choice(rng, (9, 10), (0.45, 0.55))
    if group == "passive":
        return _choice(rng, (7, 8), (0.45, 0.55))
    return _choice(rng, (0, 1, 2, 3, 4, 5, 6), (0.03, 0.02, 0.04, 0.06, 0.10, 0.30, 0.45))


# One survey answer: customer, ticket (CSAT/CES after a ticket), type, score, answered at, comment.
_Response = tuple[_Customer, _Ticket | None, str, int | None, dt.datetime, str]


def _nps_month(rng: Generator, i: int, month: dt.date, sample: list[_Customer], n_months: int) -> list[_Response]:
    """The NPS answers of one month's sample (the ``i``-th of ``n_months`` months).

    The product gets better: the company-wide NPS drifts from +20 to +40. Plans differ
    around that trend; centring the plan offsets on this month's sample keeps the plan mix
    (which shifts as customers upgrade) from bending the company-wide line.
    """
    target = 0.20 + 0.20 * i / (n_months - 1) + float(rng.normal(0, 0.03))
    mix = sum(_NPS_PLAN_OFFSET[c.plan] for c in sample) / max(1, len(sample))
    groups: dict[str, list[str]] = {}
    for plan in PLANS:
        members = sum(1 for c in sample if c.plan == plan)
        groups[plan] = _nps_groups(rng, members, target + _NPS_PLAN_OFFSET[plan] - mix)
    responses: list[_Response] = []
    for c in sample:
        score = _nps_score(rng, groups[c.plan].pop())
        when = _any_time(rng, month + dt.timedelta(days=_randint(rng, 0, 27)))
        when = when.replace(hour=_randint(rng, 8, 21))
        sentiment = 1 if score >= 9 else (0 if score >= 7 else -1)
        responses.append((c, None, "NPS", score, when, _comment(rng, sentiment)))
    return responses


def _nps_responses(rng: Generator, paying: list[_Customer]) -> list[_Response]:
    """NPS: each month a sample of the customers paying mid-month answers."""
    months = _month_starts()
    active_by_month = [[c for c in paying if c.is_active(m + dt.timedelta(days=14))] for m in months]
    rate = 2200 / sum(len(a) for a in active_by_month)
    responses: list[_Response] = []
    for i, (month, active) in enumerate(zip(months, active_by_month)):
        n = min(len(active), int(round(len(active) * rate)))
        sample = [active[int(j)] for j in sorted(rng.choice(len(active), size=n, replace=False))]
        responses += _nps_month(rng, i, month, sample, len(months))
    return responses


def _after_ticket(rng: Generator, t: _Ticket) -> dt.datetime:
    """When the survey sent at a ticket's solve is answered (never after the export)."""
    return min(t.solved + _lognormal_minutes(rng, 180, 1.0), _AS_OF_END)


def _csat_responses(rng: Generator, paying: list[_Customer], solved: list[_Ticket]) -> list[_Response]:
    """CSAT: mostly sent when a ticket is solved (worse after a reopen); a few from onboarding calls."""
    csat_p = (0.05, 0.06, 0.12, 0.32, 0.45)
    csat_p_reopened = (0.15, 0.15, 0.20, 0.25, 0.25)
    responses: list[_Response] = []
    for idx in sorted(int(j) for j in rng.choice(len(solved), size=min(1080, len(solved)), replace=False)):
        t = solved[idx]
        score = _choice(rng, (1, 2, 3, 4, 5), csat_p_reopened if t.reopens else csat_p)
        sentiment = 1 if score >= 4 else (0 if score == 3 else -1)
        responses.append((t.customer, t, "CSAT", score, _after_ticket(rng, t), _comment(rng, sentiment)))
    for _ in range(120):
        c = _choice(rng, paying)
        onboarding_end = min(c.first_paid + dt.timedelta(days=60), AS_OF)
        when = _business_datetime(rng, _random_day(rng, c.first_paid, onboarding_end))
        score = _choice(rng, (1, 2, 3, 4, 5), csat_p)
        responses.append((c, None, "CSAT", score, when, _comment(rng, 1 if score >= 4 else 0)))
    return responses


def _ces_responses(rng: Generator, paying: list[_Customer], solved: list[_Ticket]) -> list[_Response]:
    """CES (1 = very hard, 7 = very easy): half after tickets, half in-app."""
    ces_p = (0.03, 0.04, 0.08, 0.12, 0.20, 0.28, 0.25)
    responses: list[_Response] = []
    for idx in sorted(int(j) for j in rng.choice(len(solved), size=min(300, len(solved)), replace=False)):
        t = solved[idx]
        score = _choice(rng, (1, 2, 3, 4, 5, 6, 7), ces_p)
        responses.append((t.customer, t, "CES", score, _after_ticket(rng, t),
                          _comment(rng, 1 if score >= 6 else (0 if score >= 4 else -1))))
    for _ in range(300):
        c = _choice(rng, paying)
        when = _any_time(rng, _random_day(rng, c.first_paid, c.last_day))
        score = _choice(rng, (1, 2, 3, 4, 5, 6, 7), ces_p)
        sentiment = 1 if score >= 6 else (0 if score >= 4 else -1)
        responses.append((c, None, "CES", score, when, _comment(rng, sentiment)))
    return responses


def _make_surveys(rng: Generator, customers: list[_Customer], tickets: list[_Ticket]) -> list[_Response]:
    """NPS (relationship survey, monthly sample), CSAT after tickets, CES."""
    paying = [c for c in customers if c.paying]
    solved = [t for t in tickets if t.solved is not None]
    responses = _nps_responses(rng, paying) + _csat_responses(rng, paying, solved) + _ces_responses(rng, paying, solved)
    responses.sort(key=lambda r: (r[4], r[0].num, r[2]))
    # A handful skipped the score question but left the survey open.
    skipped = {int(j) for j in rng.choice(len(responses), size=len(responses) // 200, replace=False)}
    return [(c, t, kind, None if i in skipped else score, when, text)
            for i, (c, t, kind, score, when, text) in enumerate(responses)]


# --------------------------------------------------------------------------- activities


# One activity before numbering: when, customer, lead, deal, ticket id, user, type, direction, actor.
_Activity = tuple[dt.datetime, str, str, str, str, str, str, str, str]


def _activity(when: dt.datetime, customer: _Customer | None, lead: _Lead | None, deal: _Deal | None,
              ticket: _Ticket | None, user: str, kind: str, direction: str, actor: str) -> _Activity:
    """An activity row with the linked records' ids (blank where none is linked)."""
    return (when, customer.id if customer else "", lead.id if lead else "", deal.id if deal else "",
            ticket.id if ticket else "", user, kind, direction, actor)


def _deal_touches(rng: Generator, deals: list[_Deal]) -> list[_Activity]:
    """Sales touches on deals, between creation and close (or today)."""
    acts: list[_Activity] = []
    for deal in deals:
        n = int(rng.poisson(1.2 if deal.stage == "Closed Won" else 0.6))
        end = deal.close or _AS_OF_END
        for _ in range(n):
            when = deal.created + (end - deal.created) * float(rng.random())
            when = _next_business_moment(rng, when.replace(microsecond=0))
            if when > _AS_OF_END:
                continue  # would fall after the export
            kind = _choice(rng, ("email", "call", "meeting", "demo"), (0.4, 0.3, 0.15, 0.15))
            if kind == "email" and rng.random() < 0.3:  # the prospect writing back
                acts.append(_activity(when, deal.account, deal.lead, deal, None, "", kind, "inbound", "customer"))
            else:
                acts.append(_activity(when, deal.account, deal.lead, deal, None, deal.owner, kind, "outbound", "agent"))
    return acts


def _service_messages(rng: Generator, customers: list[_Customer], leads: list[_Lead],
                      tickets: list[_Ticket]) -> list[_Activity]:
    """Lead first responses, help-desk bot acknowledgements and automated onboarding e-mails."""
    acts: list[_Activity] = []
    # The first response to each qualified lead is logged as a call or an email.
    for lead in leads:
        if lead.first_response is not None and lead.mql is not None:
            acts.append(_activity(lead.first_response, None, lead, None, None, lead.owner,
                                  _choice(rng, ("call", "email"), (0.4, 0.6)), "outbound", "agent"))
    # The help-desk bot acknowledges e-mail/web tickets (recent ones: older logs were purged).
    for t in tickets:
        if t.channel in ("email", "web") and t.created.date() >= dt.date(2026, 8, 1):
            acts.append(_activity(t.created + dt.timedelta(seconds=_randint(rng, 5, 90)), t.customer, None, None, t, "",
                                  "email", "outbound", "bot"))
    # Automated onboarding e-mails to recent sign-ups.
    for c in customers:
        if c.created >= dt.date(2026, 8, 1):
            for offset in (0, 3, 7):
                day = c.created + dt.timedelta(days=offset)
                if day <= AS_OF:
                    acts.append(_activity(dt.datetime.combine(day, dt.time(10, 0)), c, None, None, None, "", "email",
                                          "outbound", "system"))
    return acts


_USAGE_WINDOW_START = dt.date(2026, 8, 1)  # the analytics tool keeps 90 days


def _product_users(rng: Generator, customers: list[_Customer]) -> tuple[list[tuple[_Customer, str, dt.date, dt.date]], list[float]]:
    """The product's users (customer, user id, first and last active day in the window) and how much each uses it."""
    users: list[tuple[_Customer, str, dt.date, dt.date]] = []
    propensity: list[float] = []
    seats_cap = {"SMB": 3, "Mid-Market": 6, "Enterprise": 12}
    for c in customers:
        if not c.paying:
            continue
        active_days = [s for s in c.subs if s.start <= AS_OF and (s.end is None or s.end > _USAGE_WINDOW_START)]
        if not active_days:
            continue
        first = max(_USAGE_WINDOW_START, min(s.start for s in active_days))
        last = min(AS_OF, max((s.end - dt.timedelta(days=1)) if s.end else AS_OF for s in active_days))
        for k in range(1, _randint(rng, 1, seats_cap[c.segment]) + 1):
            users.append((c, f"{c.user_prefix}-{k}", first, last))
            propensity.append(float(rng.gamma(1.5)))
    return users, propensity


def _product_usage(rng: Generator, customers: list[_Customer], n_usage: int) -> list[_Activity]:
    """Product usage (logins, feature use) for the last three months only, which is what DAU/MAU needs."""
    users, propensity = _product_users(rng, customers)
    p = [x / sum(propensity) for x in propensity]
    picks = rng.choice(len(users), size=n_usage, p=p)
    acts: list[_Activity] = []
    for idx in picks:
        c, user, first, last = users[int(idx)]
        day = _random_day(rng, first, last)
        if day.weekday() >= 5 and rng.random() < 0.8:  # B2B tool: weekends are quiet
            day = _random_day(rng, first, last)
        when = _business_datetime(rng, day, latest=_AS_OF_END) if rng.random() < 0.85 else _any_time(rng, day)
        acts.append(_activity(when, c, None, None, None, user, _choice(rng, ("login", "feature_used"), (0.45, 0.55)),
                              "inbound", "customer"))
    return acts


def _make_activities(rng: Generator, customers: list[_Customer], leads: list[_Lead], deals: list[_Deal],
                     tickets: list[_Ticket], target: int = 6000) -> list[list[str]]:
    """Sales touches, lead first responses, bot/system messages and product usage."""
    acts = _deal_touches(rng, deals) + _service_messages(rng, customers, leads, tickets)
    acts += _product_usage(rng, customers, max(1000, target - len(acts)))
    acts.sort()
    return [[f"A{i:06d}", cid, lid, did, tid, user, _iso_dt(when), kind, direction, actor]
            for i, (when, cid, lid, did, tid, user, kind, direction, actor) in enumerate(acts, start=1)]


# --------------------------------------------------------------------------- spend

_SPEND_BASE = {  # monthly TRY in January 2025
    "acquisition": {
        "organic": 45000, "paid_search": 185000, "referral": 30000, "outbound": 120000, "partner": 65000,
    },
    "retention": {"organic": 15000, "paid_search": 12000, "referral": 8000, "outbound": 25000, "partner": 10000},
}


def _make_spend(rng: Generator) -> list[list[str]]:
    rows = []
    for i, month in enumerate(_month_starts()):
        for channel in CHANNELS:
            for category in ("acquisition", "retention"):
                growth = 1.03 ** i  # budgets follow inflation and growth
                amount = _SPEND_BASE[category][channel] * growth * float(rng.uniform(0.88, 1.12))
                rows.append([month.isoformat(), _money(round(amount, 2)), category, channel, "TRY"])
    return rows


# --------------------------------------------------------------------------- writers


def _write_csv(path: pathlib.Path, header: list[str], rows: list[list[str]], *, encoding: str = "utf-8",
               delimiter: str = ",", lineterminator: str = "\n") -> None:
    from crmmetrics.io.output import atomic_write

    # The csv module writes the line endings given; QUOTE_MINIMAL quotes only fields
    # containing the delimiter, quotes or newlines, as spreadsheets do. Written
    # atomically, so an interrupted run never leaves half a demo file.
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=lineterminator, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write(path, buf.getvalue().encode(encoding, errors="strict"))


def _write_workbook(path: pathlib.Path, deals: list[_Deal]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.xml.functions import tostring

    wb = Workbook()
    readme = wb.active
    readme.title = "Oku Beni"
    lines = [
        "Atlas Yazılım — CRM dışa aktarımı (demo verisi)",
        "",
        "Bu çalışma kitabı crmmetrics için üretilmiş kurgusal örnek veridir; "
        "gerçek kişi ve şirketlerle ilgisi yoktur.",
        "Deals: her satır bir fırsat. Tutarlar TRY, KDV hariç. Açık fırsatların Close Date alanı boştur.",
        "Deal Stages: fırsatların aşama geçmişi. Açık fırsatların mevcut aşamasında Exited boştur.",
        "Veri tarihi: 31.10.2026",
        "",
        "This sheet is documentation, not data. Regenerate with: python -m crmmetrics.sampledata sample_data",
    ]
    for line in lines:
        readme.append([line])
    readme["A1"].font = Font(bold=True, size=14)
    readme.column_dimensions["A"].width = 110

    sheet = wb.create_sheet("Deals")
    sheet.append(HEADERS["Deals"])
    for d in deals:
        sheet.append([d.id, d.account.id, d.lead.id if d.lead else None, d.created,
                      d.close.date() if d.close else None, d.stage, d.amount, d.probability, d.type,
                      d.pipeline, d.owner, d.source])
    for row in sheet.iter_rows(min_row=2):
        row[3].number_format = "yyyy-mm-dd hh:mm"
        row[4].number_format = "yyyy-mm-dd"
        row[6].number_format = "#,##0.00"

    stages = wb.create_sheet("Deal Stages")
    stages.append(HEADERS["Deal Stages"])
    for d in deals:
        for stage, entered, exited in d.history:
            stages.append([d.id, stage, entered, exited])
    for row in stages.iter_rows(min_row=2):
        row[2].number_format = row[3].number_format = "yyyy-mm-dd hh:mm"

    for ws, widths in ((sheet, (9, 11, 10, 17, 12, 14, 14, 15, 14, 9, 15, 10)), (stages, (9, 14, 17, 17))):
        ws.freeze_panes = "A2"
        for cell, width in zip(ws[1], widths):
            cell.font = Font(bold=True)
            ws.column_dimensions[cell.column_letter].width = width

    wb.properties.creator = "crmmetrics sampledata"
    wb.properties.title = "Atlas Yazılım CRM export (demo)"
    buffer = io.BytesIO()
    wb.save(buffer)
    # openpyxl stamps "modified" with the wall clock while saving; put fixed
    # values back into docProps/core.xml when re-packing below.
    wb.properties.created = wb.properties.modified = _XLSX_TIMESTAMP
    core_xml = tostring(wb.properties.to_tree())
    _repack_zip(buffer.getvalue(), path, {"docProps/core.xml": core_xml})


def _repack_zip(data: bytes, path: pathlib.Path, replace: dict[str, bytes]) -> None:
    """Re-write a zip with fixed timestamps/attributes so its bytes are reproducible.

    Entries are deflated at a fixed level (stored entries would make the
    workbook ~3 MB).  Deflate is deterministic for a given zlib; a different
    zlib implementation (e.g. zlib-ng) may produce other, equally valid bytes,
    which the test of the committed copy tolerates by comparing the contents.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = replace.get(info.filename, src.read(info.filename))
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.create_system = 3  # ZipInfo defaults to the running OS; pin it
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, content, compresslevel=9)
    from crmmetrics.io.output import atomic_write

    atomic_write(path, out.getvalue())


# --------------------------------------------------------------------------- public API


def write_sample_data(directory: pathlib.Path, seed: int = DEFAULT_SEED) -> list[pathlib.Path]:
    """Generate the demo CRM exports into ``directory`` (created if needed).

    The output depends only on ``seed``: the same seed always produces
    byte-identical files.  Returns the written paths in :data:`FILE_NAMES` order.
    """
    import numpy as np

    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    # One independent stream per table, so changing how one table is drawn
    # does not reshuffle every other file.
    def stream(k: int) -> Generator:
        return np.random.default_rng([seed, k])

    customers = _make_customers(stream(1))
    subs = _make_subscriptions(stream(2), customers)
    tickets = _make_tickets(stream(3), customers)
    deals = _make_deals(stream(4), customers, subs)
    leads = _make_leads(stream(5), deals)
    orders = _make_orders(stream(6), customers, subs)
    surveys = _make_surveys(stream(7), customers, tickets)
    activities = _make_activities(stream(8), customers, leads, deals, tickets)
    spend = _make_spend(stream(9))

    paths = {name: directory / name for name in FILE_NAMES}
    _write_csv(paths["customers.csv"], HEADERS["customers.csv"], [
        [c.id, c.company, _iso(c.created), _iso(c.first_paid), _iso(c.churned), c.status, c.segment, c.plan,
         c.region, c.channel, "yes" if c.referred else "no", _iso(c.activated), _money(c.mrr)]
        for c in customers
    ])
    _write_csv(paths["subscriptions.csv"], HEADERS["subscriptions.csv"], [
        [s.id, s.customer.id, s.plan, _iso(s.start), _iso(s.canceled), _iso(s.end), _money(s.amount),
         _money(s.discount), _money(s.tax), str(s.interval), str(s.seats), s.status, "TRY"]
        for s in subs
    ])
    # Turkish Excel on Windows: ANSI code page 1254, ";" separators, CRLF.
    _write_csv(paths["orders_tr.csv"], HEADERS["orders_tr.csv"], [
        [f"SP{i:06d}", c.id if c else "", day.strftime("%d.%m.%Y"), _money_tr(amount), status, "TRY",
         category, code, "Evet" if recurring else "Hayır"]
        for i, (c, day, amount, status, category, code, recurring) in enumerate(orders, start=1)
    ], encoding="cp1254", delimiter=";", lineterminator="\r\n")
    _write_workbook(paths["crm_workbook.xlsx"], deals)
    _write_csv(paths["leads.csv"], HEADERS["leads.csv"], [
        [lead.id, _iso_dt(lead.created), lead.source, lead.status, lead.owner, _iso(lead.mql), _iso(lead.sql),
         _iso(lead.converted), _iso_dt(lead.first_response)]
        for lead in leads
    ])
    _write_csv(paths["tickets.csv"], HEADERS["tickets.csv"], [
        [t.id, t.customer.id, _iso_dt(t.created), _iso_dt(t.first_reply), _iso_dt(t.first_solved),
         _iso_dt(t.solved), t.status, str(t.reopens), str(t.agent_replies), t.channel, t.group, t.assignee]
        for t in tickets
    ])
    # A Turkish survey tool: UTF-8 with BOM (so Excel detects the encoding), ";" separators.
    _write_csv(paths["surveys_tr.csv"], HEADERS["surveys_tr.csv"], [
        [f"Y{i:06d}", c.id, t.id if t else "", kind, "" if score is None else str(score),
         when.strftime("%d.%m.%Y %H:%M"), text]
        for i, (c, t, kind, score, when, text) in enumerate(surveys, start=1)
    ], encoding="utf-8-sig", delimiter=";")
    _write_csv(paths["activities.csv"], HEADERS["activities.csv"], activities)
    _write_csv(paths["spend.csv"], HEADERS["spend.csv"], spend)
    return [paths[name] for name in FILE_NAMES]


def main(argv: list[str] | None = None) -> int:
    """``python -m crmmetrics.sampledata [DIRECTORY] [--seed N]``: write the demo data."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m crmmetrics.sampledata", description=main.__doc__)
    parser.add_argument("directory", nargs="?", default="sample_data", type=pathlib.Path)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    for path in write_sample_data(args.directory, seed=args.seed):
        print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
