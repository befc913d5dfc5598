"""Draft a config from export files: `crmmetrics init FILE... -o CONFIG`.

Reads only the header (and a bounded sample for encoding and delimiter), guesses which
entity each file holds by matching its headers against the canonical fields and the
names CRMs use for them (Salesforce, HubSpot, Pipedrive, Zendesk, Stripe, Turkish
exports), and writes a commented YAML the user then corrects. Nothing is guessed
silently: every column left unmapped is listed in a comment, and the draft is validated
like any config.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crmmetrics.errors import UsageError
from crmmetrics.schema import ENTITIES

# Other names exports use for a canonical field, written normalised (see ``norm``).
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "customers": {
        "customer_id": ("customerid", "accountid", "clientid", "companyid", "musterino", "musteriid", "customer", "account", "masterid"),
        "created_at": ("created", "createddate", "createdate", "signupdate", "signedup", "kayittarihi", "olusturmatarihi"),
        "first_paid_at": ("firstpaid", "firstpaymentdate", "firstpaidat", "customersince", "becameacustomerdate", "firstorderdate"),
        "churned_at": ("churned", "churndate", "churnedat", "canceledat", "cancelleddate", "cancellationdate"),
        "segment": ("segment", "customersegment", "tier"),
        "plan": ("plan", "planname", "contract", "package", "paket"),
        "region": ("region", "country", "bolge", "ulke", "il", "city", "sehir"),
        "acquisition_channel": ("channel", "acquisitionchannel", "leadsource", "originalsource", "kanal"),
        "is_referred": ("referred", "isreferred", "referral"),
        "activated_at": ("activated", "activationdate", "activatedat"),
        "mrr": ("mrr", "monthlycharges", "monthlyrevenue", "monthlyrecurringrevenue"),
        "status": ("status", "durum", "lifecyclestage"),
    },
    "subscriptions": {
        "subscription_id": ("subscriptionid", "subscription", "abonelikno", "id"),
        "customer_id": ("customerid", "customer", "accountid", "musterino"),
        "started_at": ("start", "startdate", "started", "startedat", "currentperiodstart", "baslangic"),
        "canceled_at": ("canceled", "canceledat", "cancelledat", "cancelrequested"),
        "ended_at": ("end", "enddate", "endedat", "ended", "bitis"),
        "amount": ("amount", "price", "planamount", "tutar"),
        "discount_amount": ("discount", "discountamount", "indirim"),
        "tax_amount": ("tax", "taxamount", "vat", "kdv"),
        "billing_interval_months": ("interval", "intervalmonths", "billinginterval", "billingperiodmonths"),
        "quantity": ("quantity", "seats", "adet"),
        "status": ("status", "durum"),
        "currency": ("currency", "parabirimi"),
        "plan": ("plan", "planname", "product"),
    },
    "orders": {
        "order_id": ("orderid", "invoiceno", "invoice", "invoiceid", "siparisno", "faturano", "ordernumber"),
        "customer_id": ("customerid", "customer", "musterino", "clientid", "accountid"),
        "order_date": ("orderdate", "invoicedate", "date", "siparistarihi", "faturatarihi", "purchasedate"),
        "amount": ("amount", "total", "ordertotal", "revenue", "tutar", "sales", "price", "dollarvalue", "paymentvalue"),
        "status": ("status", "durum", "orderstatus", "paymentstatus"),
        "currency": ("currency", "parabirimi"),
        "category": ("category", "kategori", "productcategory"),
        "product_id": ("productid", "sku", "stockcode", "urunkodu", "productcode"),
        "is_recurring": ("recurring", "isrecurring", "tekrarlayan"),
    },
    "deals": {
        "deal_id": ("dealid", "opportunityid", "id", "recordid", "firsatno"),
        "customer_id": ("accountid", "account", "companyid", "customerid", "company"),
        "lead_id": ("leadid", "mqlid"),
        "created_at": ("createddate", "createdate", "created", "engagedate", "createdat"),
        "closed_at": ("closedate", "closedat", "closeddate", "wonat", "wondate"),
        "stage": ("stage", "stagename", "dealstage", "dealstage"),
        "amount": ("amount", "value", "dealvalue", "closevalue", "dealamount", "tutar"),
        "probability": ("probability", "probabilitypercent", "dealprobability"),
        "deal_type": ("type", "dealtype", "opportunitytype"),
        "pipeline": ("pipeline",),
        "owner": ("owner", "ownerid", "salesagent", "dealowner", "opportunityowner", "sahibi"),
        "source": ("leadsource", "source", "dealsource"),
        "currency": ("currency", "currencyisocode"),
    },
    "deal_stages": {
        "deal_id": ("dealid", "opportunityid"),
        "stage": ("stage", "stagename", "tostage"),
        "entered_at": ("entered", "enteredat", "startdate", "createddate"),
        "exited_at": ("exited", "exitedat", "enddate"),
    },
    "leads": {
        "lead_id": ("leadid", "mqlid", "id"),
        "created_at": ("created", "createddate", "createdate", "firstcontactdate", "createdat"),
        "source": ("source", "leadsource", "origin", "kaynak"),
        "status": ("status", "leadstatus", "durum"),
        "owner": ("owner", "ownerid", "leadowner"),
        "mql_at": ("mqldate", "mqlat", "becameamql", "becameamarketingqualifiedleaddate"),
        "sql_at": ("sqldate", "sqlat", "becameasalesqualifiedleaddate"),
        "converted_at": ("converteddate", "convertedat", "wondate"),
        "first_response_at": ("firstresponse", "firstresponseat", "firstcontacted"),
    },
    "tickets": {
        "ticket_id": ("ticketid", "caseid", "id", "casenumber", "talepno", "number", "incidentnumber", "incidentid"),
        "customer_id": ("customerid", "accountid", "requesterid", "organizationid"),
        "created_at": ("created", "createdat", "createddate", "opened", "openedat"),
        "first_reply_at": ("firstreply", "firstreplyat", "firstresponse", "firstresponsetime", "firstresponseat"),
        "first_solved_at": ("firstsolved", "firstsolvedat", "firstresolved", "firstresolvedat"),
        "solved_at": ("solved", "solvedat", "resolved", "resolvedat", "timetoresolution", "lastresolvedat"),
        "closed_at": ("closed", "closedat", "closeddate"),
        "status": ("status", "ticketstatus", "durum", "incidentstate", "state"),
        "reopen_count": ("reopens", "reopencount", "reopened"),
        "agent_replies": ("agentreplies", "replies", "repliescount"),
        "channel": ("channel", "via", "origin", "ticketchannel"),
        "group": ("group", "team", "assignmentgroup"),
        "assignee": ("assignee", "agent", "assignedto", "owner"),
    },
    "surveys": {
        "response_id": ("responseid", "id", "yanitno", "surveyresponseid"),
        "customer_id": ("customerid", "musterino", "accountid", "respondentid"),
        "ticket_id": ("ticketid", "talepno", "caseid"),
        "survey_type": ("surveytype", "type", "survey", "anket"),
        "score": ("score", "rating", "nps", "puan", "csat", "answer"),
        "responded_at": ("respondedat", "submittedat", "date", "createdat", "tarih", "responsedate"),
        "comment": ("comment", "comments", "feedback", "yorum", "verbatim", "explication"),
    },
    "activities": {
        "activity_id": ("activityid", "id", "taskid", "eventid"),
        "customer_id": ("customerid", "accountid"),
        "lead_id": ("leadid", "whoid"),
        "deal_id": ("dealid", "opportunityid", "whatid"),
        "ticket_id": ("ticketid",),
        "user_id": ("userid", "user"),
        "occurred_at": ("date", "occurredat", "activitydate", "timestamp", "createddate"),
        "type": ("type", "activitytype", "tasksubtype", "event"),
        "direction": ("direction",),
        "actor_type": ("actor", "actortype"),
    },
    "spend": {
        "date": ("date", "month", "period", "day", "ay"),
        "amount": ("amount", "spend", "cost", "tutar", "harcama"),
        "category": ("category", "kategori"),
        "channel": ("channel", "kanal", "campaign"),
        "currency": ("currency", "parabirimi"),
    },
}
_TR = str.maketrans("ıİşŞğĞüÜöÖçÇ", "iissgguuoocc")


def norm(name: str) -> str:
    """``"Müşteri No"`` → ``"musterino"``; ``"Close Date"`` → ``"closedate"``."""
    return re.sub(r"[^a-z0-9]", "", name.translate(_TR).casefold())


@dataclass
class Export:
    """What the draft needs to know about one file."""

    path: Path
    kind: str  # csv | xlsx
    headers: list[str]
    encoding: str | None = None
    delimiter: str | None = None
    decimal: str = "."
    sheet: str | None = None
    sample: list[list[Any]] = field(default_factory=list)  # first data rows, for value-map templates
    entity: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    preset: Any = None  # a crmmetrics.presets.detect.PresetMatch when a vendor export was recognised
    extra_lines: list[str] = field(default_factory=list)  # value maps, constants and guesses read from the values
    values_done: set[str] = field(default_factory=set)  # fields whose values init already mapped


def peek(path: Path) -> list[Export]:
    """Headers of a CSV, or of every sheet of a workbook (one Export per sheet)."""
    from crmmetrics.io.detect import decode_text, detect_encoding, sniff_delimiter
    from crmmetrics.io.readers import is_excel, open_calamine, read_bytes, read_sheet_rows, unpack_text
    from crmmetrics.io.structure import normalise_newlines
    from crmmetrics.io.workbook import inspect

    data = read_bytes(str(path))
    if is_excel(str(path), data, None):
        # The same caps and error mapping as compute: a corrupt or hostile workbook is one
        # line and exit 65, never a crash (issue #9 cause 19).
        inspect(str(path), data, None)
        wb = open_calamine(str(path), data)
        out = []
        for name in wb.sheet_names:
            inspect(str(path), data, name)
            rows = read_sheet_rows(str(path), wb, name, nrows=200)
            headers = [str(h).strip() for h in (rows[0] if rows else [])]
            if len([h for h in headers if h]) >= 2:
                out.append(Export(path, "xlsx", headers, sheet=name, sample=rows[1:]))
        return out
    data = unpack_text(str(path), data)
    encoding = detect_encoding(data[:1 << 16])
    text, _, _ = decode_text(data[:1 << 16], encoding, pinned=False)
    text = normalise_newlines(text)
    delimiter = sniff_delimiter(text)
    sample = list(csv.reader(io.StringIO(text), delimiter=delimiter))[:200]
    headers = sample[0] if sample else []
    return [Export(path, "csv", headers, encoding=encoding, delimiter=delimiter, decimal=_decimal_mark(sample[1:]), sample=sample[1:])]


_COMMA_DECIMAL = re.compile(r"^-?\d{1,3}(\.\d{3})*,\d+$|^-?\d+,\d+$")
_DOT_DECIMAL = re.compile(r"^-?\d{1,3}(,\d{3})*\.\d+$|^-?\d+\.\d+$")


def _decimal_mark(rows: list[list[str]]) -> str:
    """"," when sample cells look like 1.234,50 more often than like 1,234.50."""
    cells = [c.strip() for r in rows for c in r]
    commas = sum(bool(_COMMA_DECIMAL.match(c)) for c in cells)
    dots = sum(bool(_DOT_DECIMAL.match(c)) for c in cells)
    return "," if commas > dots else "."


def match(export: Export, entity: str) -> dict[str, str]:
    """Canonical field → header for ``entity``: exact canonical names first, then synonyms."""
    by_norm: dict[str, str] = {}
    for h in export.headers:
        by_norm.setdefault(norm(h), h)
    taken: set[str] = set()
    out: dict[str, str] = {}
    for fname in ENTITIES[entity].field_names:
        for candidate in (norm(fname), *SYNONYMS.get(entity, {}).get(fname, ())):
            header = by_norm.get(candidate)
            if header is not None and header not in taken:
                out[fname] = header
                taken.add(header)
                break
    return out


def guess(export: Export, forced: str | None = None) -> Export:
    """Pick the entity whose fields the headers cover best (its key must be among them)."""
    if forced:
        if forced not in ENTITIES:
            raise UsageError(f"unknown entity {forced!r}", hint=f"use one of {', '.join(ENTITIES)}")
        export.entity, export.fields = forced, match(export, forced)
        return export
    best: tuple[float, str, dict[str, str]] = (0.0, "", {})
    for name, ent in ENTITIES.items():
        fields = match(export, name)
        has_key = ent.key is None or ent.key in fields
        score = len(fields) / len(ent.fields) + len(fields) * 0.05 + (0.2 if has_key else -0.5)
        if fields and score > best[0]:
            best = (score, name, fields)
    export.entity, export.fields = best[1], best[2]
    return export


def _hints(entity: str, ex: Export, q: Any) -> list[str]:
    """Commented templates for what metrics need and a draft cannot know."""
    out = []
    if entity == "deals" and "status" not in ex.fields and "stage" in ex.fields:
        out += [f"        # status: {q(ex.fields['stage'])}   # one column may feed two fields; then map its values:",
                "      # values:",
                '      #   status: {"Closed Won": won, "Closed Lost": lost, "*": open}']
    templates = []
    for fname, header in ex.fields.items():
        f = ENTITIES[entity].field(fname)
        if not f or not f.choices or header not in ex.headers or fname in ex.values_done:
            continue
        col = ex.headers.index(header)
        seen = dict.fromkeys(str(r[col]).strip() for r in ex.sample if col < len(r) and str(r[col]).strip())
        odd = [v for v in seen if v.casefold().replace("-", "_").replace(" ", "_") not in f.choices][:8]
        if odd:
            templates.append(f"      #   {fname}: {{" + ", ".join(f"{q(v)}: ?" for v in odd) + f"}}   # to one of {', '.join(f.choices)}")
    if templates:
        out += ["      # values:   # map these raw values (seen in the first rows) to canonical ones:", *templates]
    if entity == "surveys" and "survey_type" not in ex.fields and "survey_type" not in ex.values_done:
        out.append("      # constants: {survey_type: nps}   # which survey this file holds (nps, csat or ces)")
    return out


def _q(text: str) -> str:
    """``text`` as a quoted YAML scalar: a JSON string is a YAML string, quoted right."""
    return json.dumps(text, ensure_ascii=False)


def _csv_line(ex: Export) -> list[str]:
    """The ``csv:`` line of a source when its file differs from the defaults (none otherwise)."""
    csv_opts = {}
    if ex.delimiter and ex.delimiter != ",":
        csv_opts["delimiter"] = ex.delimiter
    if ex.encoding and ex.encoding not in ("utf-8", "utf-8-sig"):
        csv_opts["encoding"] = ex.encoding
    if ex.decimal == ",":
        csv_opts.update(decimal=",", thousands=".")
    if csv_opts:
        return ["      csv: {" + ", ".join(f"{k}: {_q(v)}" for k, v in csv_opts.items()) + "}"]
    return []


def _source_lines(entity: str, ex: Export, config_path: Path) -> list[str]:
    """One source entry: path (relative to the config when it can be), sheet, csv options,
    the mapped fields and comments naming what stayed unmapped."""
    try:
        rel = ex.path.resolve().relative_to(config_path.resolve().parent)
    except ValueError:
        rel = ex.path.resolve()
    if ex.preset is not None:
        from crmmetrics.presets.drafting import preset_source_lines

        return preset_source_lines(ex, str(rel), _q)
    lines = [f"    - path: {_q(str(rel))}"]
    if ex.sheet:
        lines.append(f"      sheet: {_q(ex.sheet)}")
    lines += _csv_line(ex)
    lines.append("      fields:")
    for fname, header in ex.fields.items():
        lines.append(f"        {fname}: {_q(header)}")
    lines += ex.extra_lines
    lines += _hints(entity, ex, _q)
    unmapped = [h for h in ex.headers if h not in ex.fields.values()]
    missing = [f for f in ENTITIES[entity].field_names if f not in ex.fields]
    if unmapped:
        lines.append(f"        # not mapped (add as `name: \"column\"` to use as --by): {', '.join(unmapped[:30])}")
    if missing:
        lines.append(f"        # canonical fields with no column found: {', '.join(missing)}")
    return lines


def draft_yaml(exports: list[Export], config_path: Path, timezone: str) -> str:
    """The commented YAML text of the draft config."""
    lines = [
        "# yaml-language-server: $schema=./config.schema.json",
        "# Drafted by `crmmetrics init`: check every mapping, then run",
        f"#   crmmetrics validate -c {config_path.name}",
        "version: 1",
        f"timezone: {timezone}",
        "sources:",
    ]
    groups: dict[str, list[Export]] = {}
    for ex in exports:
        if ex.entity:
            groups.setdefault(ex.entity, []).append(ex)
    for entity, items in groups.items():
        lines.append(f"  {entity}:")
        for ex in items:
            lines += _source_lines(entity, ex, config_path)
    if not groups:
        lines[-1] = "sources: {}   # no file was recognised: map your exports here (see the comments below)"
    skipped = [ex for ex in exports if not ex.entity]
    for ex in skipped:
        lines.append(f"# {ex.path}{' sheet ' + ex.sheet if ex.sheet else ''}: no entity recognised (headers: {', '.join(ex.headers[:12])})")
    return "\n".join(lines) + "\n"
