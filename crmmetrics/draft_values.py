"""`crmmetrics init` looks at the values, not only the headers.

:func:`refine` re-decides each file's entity with its sample values (a column called
``created`` that holds no dates is not ``created_at``; a file with customer ids is not
marketing spend; a Yes/No ``Churn`` column makes a customers file), reads the distinct
values of status-like columns and pre-fills the value maps (Won → won, Yes → churned),
and adds what a metric needs and the values reveal (unit prices with quantities, line
items, a 1-10 NPS scale). Every guess is written with a comment saying so, and every
value it could not place is listed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from crmmetrics.draft import Export, match, norm
from crmmetrics.schema import ENTITIES, FieldType

NULLS = {"", "na", "n/a", "null", "none", "-", "?", "#n/a", "nan"}
MIN_SHARE = 0.8  # share of sample values that must fit a field's type for a header match to stand
# Raw labels → canonical values, matched on folded text (norm); first matching rule wins.
WON = re.compile(r"^(closed)?won$|^win$|^kazan|^gagn|^gewonnen|^success")
LOST = re.compile(r"^(closed)?lost$|^lose$|^kaybed|^perdu|^verloren|^closedlost")
CHURN_HEADER = re.compile(r"churn|cancel|attrit", re.IGNORECASE)
TRUE_WORDS = {"yes", "y", "true", "1", "1.0", "evet", "t"}
FALSE_WORDS = {"no", "n", "false", "0", "0.0", "hayir", "hayır", "f"}
ORDER_STATUS = {"paid": "paid", "complete": "paid", "completed": "paid", "delivered": "paid", "shipped": "paid", "invoiced": "paid",
                "approved": "paid", "fulfilled": "paid", "refunded": "refunded", "returned": "refunded", "canceled": "canceled",
                "cancelled": "canceled", "voided": "canceled", "unavailable": "canceled",
                "odendi": "paid", "odenmis": "paid", "tamamlandi": "paid", "iadeedildi": "refunded", "iade": "refunded", "iptal": "canceled",
                "iptaledildi": "canceled"}
SUB_STATUS = {"active": "active", "trialing": "trialing", "trial": "trialing", "pastdue": "past_due", "unpaid": "past_due",
              "paused": "paused", "canceled": "canceled", "cancelled": "canceled", "ended": "canceled", "expired": "canceled"}
# Order metrics that share the line/price policy (analyses take it too).
ORDER_METRICS = ("revenue", "order_count", "average_purchase_value", "purchase_frequency", "repeat_purchase_rate",
                 "new_customer_revenue", "customer_lifespan", "clv")


@dataclass
class Profile:
    """What the sample says about one column."""

    values: list[str]
    date_share: float = 0.0
    number_share: float = 0.0
    distinct: list[str] = field(default_factory=list)
    repeats: bool = False

    @property
    def numbers(self) -> list[float]:
        out = []
        for v in self.values:
            try:
                out.append(float(v.replace(",", "")))
            except ValueError:
                pass
        return out


def profile(ex: Export) -> dict[str, Profile]:
    """Per header: sample values, how many read as dates and numbers, distinct values."""
    import pandas as pd

    from crmmetrics.io.parse import parse_datetime, parse_number

    out: dict[str, Profile] = {}
    for i, h in enumerate(ex.headers):
        vals = [str(r[i]).strip() for r in ex.sample if i < len(r) and r[i] is not None and str(r[i]).strip().casefold() not in NULLS]
        p = Profile(vals, distinct=list(dict.fromkeys(vals))[:40], repeats=len(set(vals)) < len(vals))
        if vals:
            s = pd.Series(vals, dtype=object)
            try:
                parsed = parse_datetime(s, tz="UTC")
                p.date_share = float(parsed.values.notna().mean())
            except Exception:  # noqa: BLE001 — a column that defeats the date parser is simply not dates
                p.date_share = 0.0
            if p.date_share and all(re.fullmatch(r"-?\d+(\.\d+)?", v) for v in vals[:50]) and not all(re.fullmatch(r"\d{8}", v) for v in vals[:50]):
                p.date_share = 0.0  # plain numbers are not Excel serial dates in a text export
            p.number_share = float(parse_number(s, decimal=ex.decimal, thousands="." if ex.decimal == "," else None).values.notna().mean())
        out[h] = p
    return out


def fits(ftype: FieldType, p: Profile) -> bool:
    """Whether a column's sample values can feed a field of this type."""
    if not p.values:
        return True  # an empty column in the sample: keep the header's word for it
    if ftype in (FieldType.DATETIME, FieldType.DATE):
        return p.date_share >= MIN_SHARE
    if ftype in (FieldType.MONEY, FieldType.NUMBER, FieldType.INTEGER, FieldType.DURATION):
        return p.number_share >= MIN_SHARE
    if ftype is FieldType.BOOL:
        return all(v.casefold() in TRUE_WORDS | FALSE_WORDS for v in p.values)
    return True


def typed_match(ex: Export, entity: str, prof: dict[str, Profile]) -> dict[str, str]:
    """Header matches whose values fit the field's type."""
    ent = ENTITIES[entity]
    out = {}
    for fname, header in match(ex, entity).items():
        f = ent.field(fname)
        if f is None or fits(f.type, prof.get(header, Profile([]))):
            out[fname] = header
    return out


def _has_bool_churn(ex: Export, prof: dict[str, Profile]) -> str | None:
    for h in ex.headers:
        p = prof.get(h)
        if p and CHURN_HEADER.search(h) and p.values and {v.casefold() for v in p.distinct} <= TRUE_WORDS | FALSE_WORDS:
            return h
    return None


def _won_lost_column(ex: Export, prof: dict[str, Profile]) -> str | None:
    for h in ex.headers:
        p = prof.get(h)
        if p and 1 < len(p.distinct) <= 30 and any(WON.search(norm(v)) for v in p.distinct) and any(LOST.search(norm(v)) for v in p.distinct):
            return h
    return None


def _has_key(ent: Any, entity: str, fields: dict[str, str]) -> bool:
    """The file identifies its records: the entity's key, or a combination that stands for it."""
    if ent.key is None or ent.key in fields:
        return True
    if entity == "orders":
        return {"customer_id", "order_date", "amount"} <= set(fields)  # CDNOW: purchases without ids
    if entity == "deals":
        return {"lead_id", "closed_at"} <= set(fields)  # Olist closed deals: one won deal per lead
    return False


def _ruled_out(ex: Export, ent: Any, entity: str, fields: dict[str, str], prof: dict[str, Profile]) -> bool:
    """Files that cannot be ``entity`` whatever their headers match."""
    if entity == "deals" and not ({"amount", "stage", "closed_at"} & set(fields) or _won_lost_column(ex, prof)):
        return True  # an id, a date and a status that is never won or lost is not a pipeline
    if ent.key is None:
        # Key-less entities (spend, stage history) must carry their date and another field,
        # and a file of customer ids is never marketing spend.
        return (ent.date_field not in fields or len(fields) < 2
                or any(norm(h) in ("customerid", "customer", "masterid", "clientid") for h in ex.headers))
    # A dated entity without its date feeds no metric (a Returns sheet of order ids).
    return bool(ent.date_field) and ent.date_field not in fields and entity not in ("customers", "deals", "tickets", "surveys")


def _value_evidence(ex: Export, entity: str, fields: dict[str, str], prof: dict[str, Profile]) -> float:
    """What the sample values add: a yes/no churn column, a won/lost status, a score on a 0-10 scale."""
    if entity == "customers" and _has_bool_churn(ex, prof):
        return 0.6
    if entity == "deals" and _won_lost_column(ex, prof):
        return 0.6
    if entity == "surveys":
        score_col = fields.get("score")
        nums = prof[score_col].numbers if score_col in prof else []
        if not nums or min(nums) < 0 or max(nums) > 10:
            return -1.0
    return 0.0


def score(ex: Export, entity: str, fields: dict[str, str], prof: dict[str, Profile]) -> float:
    """How well ``entity`` explains the file, from header matches and values."""
    ent = ENTITIES[entity]
    if not fields or _ruled_out(ex, ent, entity, fields, prof):
        return 0.0
    s = len(fields) / len(ent.fields) + len(fields) * 0.05 + (0.2 if _has_key(ent, entity, fields) else -0.5)
    return s + _value_evidence(ex, entity, fields, prof)


def decide(ex: Export) -> Export:
    """Pick the entity with headers and values together; keep mappings whose values fit."""
    prof = profile(ex)
    best: tuple[float, str, dict[str, str]] = (0.0, "", {})
    for name in ENTITIES:
        fields = typed_match(ex, name, prof)
        sc = score(ex, name, fields, prof)
        if sc > best[0]:
            best = (sc, name, fields)
    ex.entity, ex.fields = best[1], best[2]
    return ex


def _q(text: Any) -> str:
    return json.dumps(str(text), ensure_ascii=False)


def complete(ex: Export) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Value maps, constants and metric options the sample values call for.

    Returns the YAML lines to put under the source (after ``fields:``) and metric
    options (metric → options).
    """
    prof = profile(ex)
    lines: list[str] = []
    values: dict[str, list[str]] = {}
    constants: dict[str, tuple[Any, str]] = {}
    metrics: dict[str, dict[str, Any]] = {}
    if ex.entity == "deals":
        _deal_status(ex, prof, lines, values, constants)
    elif ex.entity == "customers":
        _churn_status(ex, prof, lines, values)
    if ex.entity in ("orders", "subscriptions") and "status" in ex.fields:
        _vocab_status(ex, prof, lines, values)
    if ex.entity == "orders":
        _order_amount(ex, prof, lines, metrics)
    elif ex.entity == "surveys":
        _survey_scale(ex, prof, lines, constants, metrics)
    if constants:
        lines.append("      constants: {" + ", ".join(f"{k}: {v}" for k, (v, _) in constants.items()) + "}   # "
                     + "; ".join(c for _, c in constants.values()))
    if values:
        lines.append("      values:")
        lines += [f"        {fname}: {{{', '.join(items)}}}" for fname, items in values.items()]
    ex.values_done = set(values) | set(constants)
    return lines, metrics


def _deal_status(ex: Export, prof: dict[str, Profile], lines: list[str], values: dict[str, list[str]],
                 constants: dict[str, tuple[Any, str]]) -> None:
    """Won/lost labels of the status (or stage) column; a won-only file's constant status."""
    col = ex.fields.get("status") or _won_lost_column(ex, prof)
    if col and col in prof:
        ex.fields["status"] = col
        won = [v for v in prof[col].distinct if WON.search(norm(v))]
        lost = [v for v in prof[col].distinct if LOST.search(norm(v))]
        rest = [v for v in prof[col].distinct if v not in won and v not in lost]
        values["status"] = [*(f"{_q(v)}: won" for v in won), *(f"{_q(v)}: lost" for v in lost), '"*": open']
        lines.append(f"      # guessed: status from {_q(col)}: {', '.join(won) or '-'} → won; {', '.join(lost) or '-'} → lost;"
                     f" every other value → open ({', '.join(rest[:12]) or 'none seen'})")
    elif "closed_at" in ex.fields and "won" in ex.fields["closed_at"].casefold():
        constants["status"] = ("won", f"guessed: the only close date is {_q(ex.fields['closed_at'])}, so every row is a won deal")
    if "deal_id" not in ex.fields and "lead_id" in ex.fields:
        ex.fields = {"deal_id": ex.fields["lead_id"], **ex.fields}
        lines.append(f"      # guessed: each {_q(ex.fields['lead_id'])} is one deal (no deal id column)")


def _churn_status(ex: Export, prof: dict[str, Profile], lines: list[str], values: dict[str, list[str]]) -> None:
    """A Yes/No churn column as the customer status (yes → churned, anything else → active)."""
    churn = _has_bool_churn(ex, prof)
    if not churn or "status" in ex.fields:
        return
    ex.fields["status"] = churn
    yes = [v for v in prof[churn].distinct if v.casefold() in TRUE_WORDS]
    values["status"] = [*(f"{_q(v)}: churned" for v in yes), '"*": active']
    lines.append(f"      # guessed: {_q(churn)} holds {'/'.join(prof[churn].distinct)} in the first rows: {'/'.join(yes)} → churned,"
                 " every other value (No, 0, blank) → active")


def _vocab_status(ex: Export, prof: dict[str, Profile], lines: list[str], values: dict[str, list[str]]) -> None:
    """Order / subscription statuses by their meaning; unplaceable ones leave status unmapped."""
    vocab = ORDER_STATUS if ex.entity == "orders" else SUB_STATUS
    col = ex.fields["status"]
    seen = prof[col].distinct if col in prof else []
    placed = {v: vocab.get(norm(v)) for v in seen}
    unknown = [v for v, c in placed.items() if c is None]
    if unknown:
        del ex.fields["status"]  # an unmapped status would reject rows; leave it to the user
        lines.append(f"      # status: {_q(col)}   # not mapped: values {', '.join(_q(v) for v in unknown[:12])} have no canonical meaning yet;"
                     f" map them under values.status to one of {', '.join(ENTITIES[ex.entity].field('status').choices)}")
    elif any(norm(v) != c for v, c in placed.items()):
        values["status"] = [f"{_q(v)}: {c}" for v, c in placed.items() if norm(v) != c]
        lines.append(f"      # guessed: status values {', '.join(_q(v) for v in seen)} read by their meaning")


def _order_amount(ex: Export, prof: dict[str, Profile], lines: list[str], metrics: dict[str, dict[str, Any]]) -> None:
    """Unit price × quantity, and one row per order line, as the values show."""
    by_norm = {norm(h): h for h in ex.headers}
    qty = next((by_norm[k] for k in ("quantity", "qty", "adet", "miktar") if k in by_norm), None)
    price = next((by_norm[k] for k in ("unitprice", "price", "birimfiyat") if k in by_norm), None)
    opts: dict[str, Any] = {}
    if "amount" not in ex.fields and price and qty:
        ex.fields["amount"] = price
        ex.fields["quantity"] = qty
        opts["amount_is_unit_price"] = True
        lines.append(f"      # guessed: {_q(price)} is a unit price and {_q(qty)} a quantity: amount = price × quantity")
    elif "amount" in ex.fields and qty and "quantity" not in ex.fields:
        ex.fields["quantity"] = qty
    order_col = ex.fields.get("order_id")
    if order_col and order_col in prof and prof[order_col].repeats:
        opts["order_lines"] = True
        lines.append(f"      # guessed: {_q(order_col)} repeats in the first rows: one row per order line, lines summed per order")
        ids = prof[order_col].distinct
        if any(re.fullmatch(r"C\d+", v) for v in ids) and any(re.fullmatch(r"\d+", v) for v in ids):
            opts["cancellation_prefix"] = "C"
    if opts:
        for m in ORDER_METRICS:
            metrics[m] = dict(opts)


def _survey_scale(ex: Export, prof: dict[str, Profile], lines: list[str], constants: dict[str, tuple[Any, str]],
                  metrics: dict[str, dict[str, Any]]) -> None:
    """Survey type from the header and the values; a 1-10 scale is said out loud."""
    col = ex.fields.get("score")
    if not col or col not in prof or "survey_type" in ex.fields:
        return
    nums = prof[col].numbers
    hi = max(nums) if nums else 0
    lo = min(nums) if nums else 0
    if re.search(r"nps|recommend|likely|tavsiye", col, re.IGNORECASE) or hi > 7:
        constants["survey_type"] = ("nps", f"guessed: {_q(col)} holds scores {lo:g}-{hi:g}")
        if lo >= 1 and hi == 10:
            metrics["nps"] = {"scale_min": 1}
            lines.append(f"      # guessed: no 0 among the {_q(col)} scores: a 1-10 survey (metrics.nps.scale_min: 1; not a true NPS)")
    elif hi <= 5:
        constants["survey_type"] = ("csat", f"guessed: {_q(col)} holds scores {lo:g}-{hi:g} (a 1-5 rating)")
    else:
        constants["survey_type"] = ("csat", f"guessed: {_q(col)} holds scores {lo:g}-{hi:g}")
        metrics["csat"] = {"scale": [int(lo), int(hi)]}


def metrics_block(options: dict[str, dict[str, Any]]) -> list[str]:
    """The ``metrics:`` YAML lines for the options the values called for."""
    if not options:
        return []
    lines = ["metrics:   # options init chose from the values (see the comments at the sources)"]
    for name, opts in options.items():
        lines.append(f"  {name}: {{{', '.join(f'{k}: {json.dumps(v)}' for k, v in opts.items())}}}")
    return lines


def check_encoding(ex: Export) -> None:
    """Drop a sampled encoding guess the whole file does not decode with (mixed bytes):
    the reader then detects per file and repairs, instead of failing on a pinned one."""
    if ex.kind != "csv" or not ex.encoding or ex.encoding.replace("_", "-").lower() in ("utf-8", "utf-8-sig", "utf8"):
        return
    try:
        ex.path.read_bytes().decode(ex.encoding)
    except (UnicodeDecodeError, LookupError, OSError):
        ex.encoding = None


def undated(exports: list[Export]) -> bool:
    """True when no recognised file maps its entity's date: periods cannot be told apart,
    so the draft reports over all time (report.period: all)."""
    seen = [ex for ex in exports if ex.entity and ex.preset is None]
    return bool(seen) and all(ENTITIES[ex.entity].date_field not in ex.fields for ex in seen)


def satisfaction_survey(ex: Export) -> Export | None:
    """A tickets file that carries a satisfaction rating per ticket (Zendesk-like, the Kaggle
    support set) also feeds CSAT: a surveys source on the same file, dated by the solve."""
    import copy

    if ex.entity != "tickets" or "ticket_id" not in ex.fields:
        return None
    prof = profile(ex)
    col = next((h for h in ex.headers if re.search(r"satisf|csat|rating", h, re.IGNORECASE) and h in prof
                and prof[h].values and prof[h].number_share >= MIN_SHARE), None)
    date = next((ex.fields[f] for f in ("solved_at", "closed_at", "created_at", "first_reply_at") if f in ex.fields), None)
    if col is None or date is None:
        return None
    nums = prof[col].numbers
    if not nums or min(nums) < 1 or max(nums) > 5:
        return None  # only a 1-5 rating is read as CSAT without asking
    survey = copy.copy(ex)
    survey.entity = "surveys"
    survey.fields = {"response_id": ex.fields["ticket_id"], "ticket_id": ex.fields["ticket_id"], "score": col, "responded_at": date}
    survey.extra_lines = [f"      constants: {{survey_type: csat}}   # guessed: {_q(col)} holds 1-5 ratings on the tickets; dated by {_q(date)}"]
    survey.values_done = {"survey_type"}
    return survey
