"""The self-contained HTML dashboard of `crmmetrics report -o report.html`.

One file, no scripts, no external URL: inline CSS (light and dark through
``prefers-color-scheme``, a print style) and inline SVG charts (render/svg.py). Every
number carries how it was computed: the formula, n, numerator and denominator in a
``title`` tooltip and, for KPI tiles, in a details row. Raw values sit in ``data-value``
attributes, so tests (and scrapers) compare them with the JSON report exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

from crmmetrics.render.display import fmt_plain, fmt_value
from crmmetrics.render.glance import fmt_change, latest_value
from crmmetrics.render.svg import Series, line_chart, short_number, stacked_bars

if TYPE_CHECKING:
    from crmmetrics.engine import Report
    from crmmetrics.summary import Point, Status, SummaryRow

MOVEMENTS = (("new_mrr", "new", "m-new"), ("expansion_mrr", "expansion", "m-exp"), ("reactivation_mrr", "reactivation", "m-rea"),
             ("contraction_mrr", "contraction", "m-con"), ("churned_mrr", "churn", "m-chu"))
NEGATIVE = {"contraction_mrr", "churned_mrr"}  # drawn below zero
ISSUE_EXAMPLES = 3
MAX_SERIES = 8  # segments per chart; more are listed in the segment table only


@dataclass
class Extras:
    """What the dashboard shows beyond the metrics: segment rows and analyses."""

    segments: list[SummaryRow] = field(default_factory=list)  # rows of the -b report
    by: list[str] = field(default_factory=list)
    cohorts: Report | None = None
    rfm: Report | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # section → why it is not shown
    config_name: str = ""


def attr(value: Any) -> str:
    """An attribute value, escaped (quotes included)."""
    return escape(str(value), quote=True)


def raw(value: Any) -> str:
    """The exact value for ``data-value`` (repr of floats, so it round-trips)."""
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def how(row: SummaryRow, p: Point | None, currency: str | None, formula: bool = True) -> str:
    """The tooltip: value, period, formula, n, numerator, denominator, completeness.

    Chart points and table cells leave the formula out (``formula=False``): their chart or
    column states it once, which keeps a 70-chart page small.
    """
    if p is None:
        return f"{row.metric}: no value for this period" + (f"\nformula: {row.formula}" if formula else "")
    lines = [f"{row.metric}{' [' + row.segment + ']' if row.segment else ''} {p.period}: {fmt_value(p.value, row.unit, currency)}",
             *([f"formula: {row.formula}"] if formula else []),
             f"n = {fmt_plain(p.n)}, numerator = {fmt_plain(p.numerator)}, denominator = {fmt_plain(p.denominator)}",
             *([row.measured] if formula and row.measured else [])]
    if not p.complete:
        lines.append("incomplete: the period is not over at the report's as-of; the value is partial")
    return "\n".join(lines)


def progress_bar(v: Status) -> str:
    """A goal's share of the way to its target as a bar (clipped to 0..100 %)."""
    if v.progress is None:
        return ""
    pct = max(0.0, min(v.progress, 1.0)) * 100
    return f'<div class="progress" title="{pct:.0f}% of the way"><span style="width:{pct:.0f}%"></span></div>'


def verdict_html(v: Status) -> str:
    """A check verdict or goal line for a tile, with its detail as tooltip."""
    label = "goal " if v.kind == "goal" else "check "
    return (f'<div class="status {"ok" if v.ok else "bad"}" title="{attr(v.detail)}">{escape(label + v.text)}</div>'
            f"{progress_bar(v)}")


def tile(row: SummaryRow, currency: str | None) -> str:
    """One KPI tile: title, value, change, period, n, status and a details row."""
    p = row.latest
    judgement = row.judgement or "neutral"
    status = "".join(verdict_html(v) for v in row.verdicts)
    tip = how(row, p, currency)
    details = ""
    if p is not None:
        details = (f'<details><summary>how</summary><div class="how">{escape(row.formula)}<br>n = {escape(fmt_plain(p.n))} · '
                   f'numerator = {escape(fmt_plain(p.numerator))} · denominator = {escape(fmt_plain(p.denominator))}'
                   f'{"<br>" + escape(row.measured) if row.measured else ""}</div></details>')
    return (f'<div class="tile" title="{attr(tip)}" data-metric="{attr(row.metric)}" data-period="{attr(p.period if p else "")}" '
            f'data-value="{attr(raw(p.value if p else None))}" data-n="{attr(raw(p.n if p else None))}">'
            f'<div class="name">{escape(row.title)}{escape(" · " + row.segment) if row.segment else ""} <code>{escape(row.metric)}</code></div>'
            f'<div class="value">{escape(latest_value(row, currency))}</div>'
            f'<div class="change {judgement}">{escape(fmt_change(row))} <span class="muted">vs {escape(row.previous.period if row.previous else "—")}</span></div>'
            f'<div class="muted">{escape(p.period if p else "no complete period")} · n {escape(fmt_plain(p.n) if p else "—")}</div>'
            f"{status}{details}</div>")


def chart_card(rows: list[SummaryRow], currency: str | None) -> str:
    """A trend chart of one metric (one line per segment), or "" with fewer than 2 periods."""
    head = rows[0]
    shown = rows[:MAX_SERIES]
    series = [Series(r.segment.split("=", 1)[-1] if r.segment.count("=") == 1 else r.segment, r.points,
                     [how(r, p, currency, formula=False) for p in r.points]) for r in shown]
    svg = line_chart(series, head.unit, f"{head.title} per {head.points[0].period and 'period'}")
    if not svg:
        return ""
    legend = ""
    if len(shown) > 1 or shown[0].segment:
        legend = '<div class="legend">' + "".join(f'<span class="key s{i}">{escape(s.label or "all")}</span>' for i, s in enumerate(series)) + "</div>"
        if len(rows) > MAX_SERIES:
            legend += f'<div class="muted">{len(rows) - MAX_SERIES} more segment(s) in the segment table</div>'
    incomplete = any(not p.complete for r in shown for p in r.points)
    note = '<div class="muted">dashed, hollow: period not over yet</div>' if incomplete else ""
    return (f'<figure class="card" data-chart="{attr(head.metric)}"><figcaption title="{attr(head.formula)}">{escape(head.title)} '
            f'<span class="muted">({escape(head.unit)})</span></figcaption>{svg}{legend}{note}'
            f'<details><summary>formula</summary><div class="how">{escape(head.formula)}</div></details></figure>')


def _group(rows: list[SummaryRow]) -> dict[str, list[SummaryRow]]:
    out: dict[str, list[SummaryRow]] = {}
    for r in rows:
        out.setdefault(r.metric, []).append(r)
    return out


def segment_table(rows: list[SummaryRow], by: list[str], currency: str | None) -> str:
    """Latest complete value per metric and segment."""
    groups = _group(rows)
    segs = list(dict.fromkeys(r.segment for r in rows))
    if not segs:
        return ""
    head = "".join(f"<th>{escape(s)}</th>" for s in segs)
    body = []
    for metric, mine in groups.items():
        cells = {r.segment: r for r in mine}
        tds = []
        for s in segs:
            r = cells.get(s)
            if r is None or r.latest is None:
                tds.append('<td class="num muted">—</td>')
                continue
            tds.append(f'<td class="num" title="{attr(how(r, r.latest, currency))}" data-value="{attr(raw(r.latest.value))}">'
                       f"{escape(latest_value(r, currency))}</td>")
        body.append(f"<tr><th>{escape(metric)}</th>{''.join(tds)}</tr>")
    return (f'<section><h2>Segments by {escape(", ".join(by))}</h2><div class="scroll"><table class="grid-table">'
            f"<thead><tr><th>metric</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div></section>")


def _movement_stacks(present: list[tuple[str, str, str]], by_metric: dict[str, SummaryRow], periods: list[str],
                     currency: str | None) -> tuple[dict[str, list[float | None]], dict[str, list[str]]]:
    """Bar values per movement and period (churn and contraction negative) and their tooltips."""
    stacks: dict[str, list[float | None]] = {}
    tips: dict[str, list[str]] = {}
    for name, _label, _cls in present:
        r = by_metric[name]
        vals = {p.period: p for p in r.points}
        sign = -1 if name in NEGATIVE else 1
        stacks[name] = [None if vals.get(pd) is None or vals[pd].value is None else sign * vals[pd].value for pd in periods]
        tips[name] = [how(r, vals.get(pd), currency, formula=False) for pd in periods]
    return stacks, tips


def _movement_cell(r: SummaryRow, name: str, pd: str, currency: str | None) -> str:
    """One movement's amount in one period, with how it was computed as its tooltip."""
    p = next((q for q in r.points if q.period == pd), None)
    return (f'<td class="num" title="{attr(how(r, p, currency, formula=False))}" data-metric="{attr(name)}" data-period="{attr(pd)}" '
            f'data-value="{attr(raw(p.value if p else None))}">{escape(fmt_value(p.value if p else None, "currency"))}</td>')


def _movement_rows(present: list[tuple[str, str, str]], by_metric: dict[str, SummaryRow], periods: list[str],
                   currency: str | None) -> list[str]:
    """The table rows: one per period, marked when the period is not over yet."""
    body = []
    for pd in periods:
        tds = [_movement_cell(by_metric[name], name, pd, currency) for name, _l, _c in present]
        inc = any(not q.complete for _n, _l, _c in present for q in by_metric[_n].points if q.period == pd)
        body.append(f"<tr{' class=inc' if inc else ''}><th>{escape(pd)}{' (incomplete)' if inc else ''}</th>{''.join(tds)}</tr>")
    return body


def movements_section(rows: list[SummaryRow], currency: str | None) -> str:
    """MRR movements per period: stacked bars (churn and contraction below zero) and a table."""
    by_metric = {r.metric: r for r in rows if not r.segment}
    present = [m for m in MOVEMENTS if m[0] in by_metric]
    if not present:
        return ""
    periods = list(dict.fromkeys(p.period for m in present for p in by_metric[m[0]].points))
    stacks, tips = _movement_stacks(present, by_metric, periods, currency)
    incomplete = {p.period for m in present for p in by_metric[m[0]].points if not p.complete}
    svg = stacked_bars(periods, stacks, {m[0]: m[2] for m in present}, tips, "MRR movements per period", incomplete)
    legend = '<div class="legend">' + "".join(f'<span class="key {cls}">{escape(label)}</span>' for _n, label, cls in present) + "</div>"
    head = "".join(f'<th title="{attr(by_metric[n].formula)}">{escape(label)}</th>' for n, label, _c in present)
    body = _movement_rows(present, by_metric, periods, currency)
    return (f'<section><h2>MRR movements</h2><p class="muted">Per period{", " + escape(currency) if currency else ""}; churn and contraction '
            f'below zero; faded bars: period not over yet.</p>{svg}{legend}<details><summary>table</summary><div class="scroll"><table class="grid-table">'
            f"<thead><tr><th>period</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div></details></section>")


def cohorts_section(report: Report | None, why: str | None) -> str:
    """The cohort retention matrix as a heatmap table (share of the cohort active at age k)."""
    if report is None:
        return f'<section><h2>Cohort retention</h2><p class="muted">{escape(why or "not available")}</p></section>' if why else ""
    from crmmetrics.engine import result_records

    cells = result_records(report.tables.get("cells")) if "cells" in report.tables else []
    if not cells:
        return ""
    cohorts = list(dict.fromkeys(c["cohort"] for c in cells))
    ks = sorted({c["k"] for c in cells})
    grid = {(c["cohort"], c["k"]): c for c in cells}
    sizes = {c["cohort"]: c["size"] for c in cells}
    body = []
    for co in cohorts:
        tds = []
        for k in ks:
            c = grid.get((co, k))
            if c is None or c.get("value") is None:
                tds.append("<td></td>")
                continue
            v = c["value"]
            tip = f"cohort {co}, age {k} ({c['period']}): {v * 100:.1f} % = active {c['active']} ÷ base {c['base']}" + \
                  ("" if c.get("complete", True) else "; incomplete period")
            cls = "heat" + ("" if c.get("complete", True) else " inc")
            tds.append(f'<td class="{cls}" style="--a:{min(max(v, 0), 1):.2f}" title="{attr(tip)}" data-value="{attr(raw(v))}">{v * 100:.0f}</td>')
        body.append(f"<tr><th>{escape(str(co))}</th><td class='num muted'>{escape(fmt_plain(sizes[co]))}</td>{''.join(tds)}</tr>")
    head = "".join(f"<th>{k}</th>" for k in ks)
    notes = "".join(f"<p class='muted'>{escape(n)}</p>" for n in report.notes[:1])
    return (f'<section><h2>Cohort retention</h2>{notes}<p class="muted">Percent of each cohort active k periods after it '
            f'started; hatched cells are periods not over yet.</p><div class="scroll"><table class="heatmap">'
            f"<thead><tr><th>cohort</th><th>size</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div></section>")


def rfm_section(report: Report | None, why: str | None, currency: str | None) -> str:
    """RFM segment sizes: customers and revenue share per segment, as bars."""
    if report is None:
        return f'<section><h2>RFM segments</h2><p class="muted">{escape(why or "not available")}</p></section>' if why else ""
    from crmmetrics.engine import result_records

    segs = result_records(report.tables["segments"]) if "segments" in report.tables else []
    if not segs:
        return ""
    total = sum(s["customers"] for s in segs) or 1
    top = max(s["customers"] for s in segs) or 1
    rows = []
    for s in sorted(segs, key=lambda s: -s["customers"]):
        tip = (f"{s['segment']}: {s['customers']} of {total} customers ({s['share_customers'] * 100:.1f} %), revenue "
               f"{fmt_value(s['revenue'], 'currency', currency)} ({s['share_revenue'] * 100:.1f} % of revenue)")
        rows.append(f'<tr title="{attr(tip)}"><th>{escape(str(s["segment"]))}</th>'
                    f'<td class="num" data-value="{attr(raw(s["customers"]))}">{escape(fmt_plain(s["customers"]))}</td>'
                    f'<td class="barcell"><span class="bar" style="width:{s["customers"] / top * 100:.1f}%"></span></td>'
                    f'<td class="num">{s["share_customers"] * 100:.1f} %</td><td class="num">{s["share_revenue"] * 100:.1f} %</td></tr>')
    notes = "".join(f"<p class='muted'>{escape(n)}</p>" for n in report.notes[:1])
    return (f'<section><h2>RFM segments</h2>{notes}<table class="grid-table rfm"><thead><tr><th>segment</th><th>customers</th>'
            f"<th></th><th>share</th><th>revenue share</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>")


def goals_section(rows: list[SummaryRow], currency: str | None) -> str:
    """Goals and checks of the latest complete period, failures first."""
    items = [(r, v) for r in rows for v in r.verdicts]
    if not items:
        return ""
    out = []
    for r, v in sorted(items, key=lambda rv: (rv[1].ok, rv[1].kind, rv[0].metric)):
        out.append(f'<tr><th>{escape(r.metric)}</th>'
                   f'<td class="num" title="{attr(how(r, r.latest, currency))}" data-value="{attr(raw(r.latest.value if r.latest else None))}">'
                   f'{escape(latest_value(r, currency))}</td><td>{escape(v.kind)}</td>'
                   f'<td class="status {"ok" if v.ok else "bad"}">{escape(v.text)}</td><td>{escape(v.detail)}{progress_bar(v)}</td></tr>')
    return (f'<section><h2>Goals and checks</h2><table class="grid-table"><thead><tr><th>metric</th><th>latest</th><th>kind</th>'
            f"<th>status</th><th>detail</th></tr></thead><tbody>{''.join(out)}</tbody></table></section>")


def quality_section(report: Report) -> str:
    """Issues by code (count, level, the first examples) and the inputs read."""
    groups: dict[str, list[Any]] = {}
    for i in report.issues:
        groups.setdefault(i.code, []).append(i)
    rows = []
    for code, items in sorted(groups.items(), key=lambda kv: (-sum(i.count for i in kv[1]), kv[0])):
        ex = "".join(f"<li>{escape(i.one_line())}</li>" for i in items[:ISSUE_EXAMPLES])
        more = f"<li class='muted'>… {len(items) - ISSUE_EXAMPLES} more (-f json has every issue)</li>" if len(items) > ISSUE_EXAMPLES else ""
        rows.append(f"<tr><th><code>{escape(code)}</code></th><td>{escape(items[0].level.value)}</td>"
                    f'<td class="num">{sum(i.count for i in items):,}</td><td><ul>{ex}{more}</ul></td></tr>')
    issues = (f'<table class="grid-table"><thead><tr><th>code</th><th>level</th><th>rows</th><th>first examples</th></tr></thead>'
              f"<tbody>{''.join(rows)}</tbody></table>") if rows else "<p>No data issues.</p>"
    inputs = "".join(f"<tr><td>{escape(f.entity)}</td><td><code>{escape(f.path)}</code>{(' sheet ' + escape(f.sheet)) if f.sheet else ''}</td>"
                     f'<td class="num">{f.rows_read:,}</td><td class="num">{f.rows_rejected:,}</td><td>{escape(f.format)}'
                     f"{(' · ' + escape(f.encoding)) if f.encoding else ''}</td><td><code title=\"{attr(f.sha256)}\">{escape(f.sha256[:12])}</code></td></tr>"
                     for f in report.inputs)
    return (f'<section><h2>Data quality</h2><h3>Issues by code</h3>{issues}<h3>Inputs read</h3><table class="grid-table">'
            f"<thead><tr><th>entity</th><th>file</th><th>rows</th><th>rows with rejected values</th><th>format</th><th>sha256</th></tr></thead>"
            f"<tbody>{inputs}</tbody></table></section>")


def _family_blocks(rows: list[SummaryRow], currency: str | None, extras: Extras) -> tuple[list[str], list[str]]:
    """Per family: its tiles (one per metric) and its trend charts (by segment where asked)."""
    from crmmetrics.summary import by_family

    tiles_by_family = []
    charts_by_family = []
    seg_groups = _group(extras.segments)
    for fam in by_family(rows):
        # one tile per metric: the overall row, else its first segment (stage_duration's total)
        first = [next((r for r in mine if not r.segment), mine[0]) for mine in _group(fam.rows).values()]
        tiles = "".join(tile(r, currency) for r in first)
        tiles_by_family.append(f'<h3>{escape(fam.name)}</h3><div class="tiles">{tiles}</div>')
        cards = []
        for metric, mine in _group(fam.rows).items():
            cards.append(chart_card(seg_groups.get(metric) or mine, currency))
        cards_html = "".join(c for c in cards if c)
        if cards_html:
            charts_by_family.append(f'<h3>{escape(fam.name)}</h3><div class="cards">{cards_html}</div>')
    return tiles_by_family, charts_by_family


def _page_header(report: Report, rows: list[SummaryRow], overall: list[SummaryRow], extras: Extras) -> str:
    """Title, what the numbers are as of (period, zone, latest complete period, --by, config) and the incomplete-period note."""
    latest = sorted({r.latest.period for r in overall if r.latest})
    subtitle = (f"as of {escape(report.as_of[:10])} · period {escape(report.period)} · {escape(report.timezone)}"
                + (f" · latest complete {escape(latest[-1])}" if latest else "")
                + (f" · by {escape(', '.join(extras.by))}" if extras.by else "")
                + (f" · config {escape(extras.config_name)}" if extras.config_name else ""))
    incomplete = sorted({p.period for r in rows for p in r.incomplete})
    inc_note = (f'<p class="muted">Periods not over at the as-of ({escape(", ".join(incomplete[:4]))}) are drawn dashed and hollow and never '
                f"used as the headline value.</p>") if incomplete else ""
    return f'<header><h1>crmmetrics report</h1><p class="muted">{subtitle}</p>{inc_note}</header>'


def dashboard_html(report: Report, rows: list[SummaryRow], currency: str | None, extras: Extras | None = None) -> str:
    """The whole page as one string."""
    from crmmetrics import __version__

    extras = extras or Extras()
    overall = [r for r in rows if not r.segment]
    tiles_by_family, charts_by_family = _family_blocks(rows, currency, extras)
    body = [
        _page_header(report, rows, overall, extras),
        goals_section(overall, currency),
        f'<section><h2>At a glance</h2>{"".join(tiles_by_family)}</section>',
        segment_table(extras.segments, extras.by, currency) if extras.segments else "",
        f'<section><h2>Trends</h2>{"".join(charts_by_family)}</section>' if charts_by_family else "",
        movements_section(overall, currency),
        cohorts_section(extras.cohorts, extras.skipped.get("cohorts")),
        rfm_section(extras.rfm, extras.skipped.get("rfm"), currency),
        quality_section(report),
        f'<footer class="muted">crmmetrics {escape(__version__)} · generated {escape(report.generated_at)} · hover a number for '
        f"its formula, n, numerator and denominator</footer>",
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>crmmetrics report {escape(report.as_of[:10])}</title><style>{CSS}</style></head><body>"
            + "".join(b for b in body if b) + "</body></html>\n")


CSS = """
:root{--bg:#fff;--fg:#1d2330;--muted:#667085;--card:#f6f7f9;--line:#d0d5dd;--good:#12805c;--bad:#c4320a;--accent:#2563eb;
--s0:#2563eb;--s1:#d97706;--s2:#059669;--s3:#db2777;--s4:#7c3aed;--s5:#0891b2;--s6:#65a30d;--s7:#dc2626;--heat:37,99,235}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--fg:#e6e8eb;--muted:#98a2b3;--card:#1b2027;--line:#344054;--good:#3ccb8f;
--bad:#ff7a59;--accent:#60a5fa;--s0:#60a5fa;--s1:#fbbf24;--s2:#34d399;--s3:#f472b6;--s4:#a78bfa;--s5:#22d3ee;--s6:#a3e635;--s7:#f87171;--heat:96,165,250}}
*{box-sizing:border-box}body{margin:0 auto;max-width:1240px;padding:16px 20px;background:var(--bg);color:var(--fg);
font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:14px;margin:16px 0 6px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.muted{color:var(--muted);font-size:12px}code{font-size:11px;color:var(--muted)}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(188px,1fr));gap:8px}
.tile{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 10px;break-inside:avoid}
.tile .name{font-size:12px;min-height:32px}.tile .value{font-size:18px;font-weight:600;font-variant-numeric:tabular-nums;white-space:nowrap}
.change{font-size:12px;font-variant-numeric:tabular-nums}.good{color:var(--good)}.bad{color:var(--bad)}.neutral{color:var(--muted)}
details summary{cursor:pointer;font-size:11px;color:var(--muted)}.how{font-size:11px;color:var(--muted)}
.status{font-size:12px;font-weight:600}.status.ok{color:var(--good)}.status.bad{color:var(--bad)}
.progress{height:5px;background:var(--line);border-radius:3px;margin-top:3px;min-width:80px}.progress span{display:block;height:100%;background:var(--accent);border-radius:3px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:10px}
.card{margin:0;background:var(--card);border:1px solid var(--line);border-radius:6px;padding:6px 8px;break-inside:avoid}
figcaption{font-size:13px;font-weight:600}
svg.chart{width:100%;height:auto;display:block}svg.wide{max-width:900px}
.axis{font-size:9px;fill:var(--muted)}.grid{stroke:var(--line);stroke-width:.6}.zero{stroke:var(--muted);stroke-width:.8}
.line{fill:none;stroke-width:1.6}.dash{stroke-dasharray:3 3}.pt{stroke-width:1.2}.pt.inc{fill:var(--bg)!important}
""" + "".join(f".line.s{i}{{stroke:var(--s{i})}}.pt.s{i}{{fill:var(--s{i});stroke:var(--s{i})}}.key.s{i}::before{{background:var(--s{i})}}" for i in range(8)) + """
.legend{font-size:11px;display:flex;flex-wrap:wrap;gap:4px 10px;margin-top:2px}.key::before{content:"";display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px;vertical-align:-1px}
rect.inc{opacity:.4}.m-new{fill:#12805c}.m-exp{fill:#3ccb8f}.m-rea{fill:#60a5fa}.m-con{fill:#f59e0b}.m-chu{fill:#c4320a}
.key.m-new::before{background:#12805c}.key.m-exp::before{background:#3ccb8f}.key.m-rea::before{background:#60a5fa}.key.m-con::before{background:#f59e0b}.key.m-chu::before{background:#c4320a}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}.grid-table th,.grid-table td{border-bottom:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
td.num{text-align:right;white-space:nowrap}.scroll{overflow-x:auto}tr.inc th{color:var(--muted)}ul{margin:0;padding-left:16px}
.heatmap th,.heatmap td{padding:2px 4px;font-size:11px;text-align:right;min-width:28px}
.heatmap td.heat{background:rgba(var(--heat),var(--a));color:var(--fg)}.heatmap td.inc{background-image:repeating-linear-gradient(45deg,transparent 0 3px,rgba(127,127,127,.35) 3px 4px)}
.rfm td.barcell{width:320px}.bar{display:block;height:10px;background:var(--accent);border-radius:2px}
footer{margin-top:28px}
@media print{:root{--bg:#fff;--fg:#000;--muted:#444;--card:#fff;--line:#999;--good:#0b6b4a;--bad:#b42318}
body{max-width:none;padding:0;font-size:11px;background:#fff;color:#000}details{display:none}
.tile,.card{border-color:#999;background:#fff}.tiles{grid-template-columns:repeat(4,1fr)}.cards{grid-template-columns:repeat(3,1fr)}
section{break-inside:auto}h2{break-after:avoid}.scroll{overflow:visible}}
"""
