"""`crmmetrics init` with presets: a file whose headers carry a preset's fingerprint
becomes one `preset:` source per entity the preset maps, completed from the data."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from crmmetrics.presets.detect import complete, detect_preset


def peek_json(path: Path) -> list[Any]:
    """An Export for a JSON / NDJSON file: its dotted keys as headers, records as rows."""
    from crmmetrics.draft import Export
    from crmmetrics.io.json_reader import parse_records, record_keys

    records, _ = parse_records(str(path), path.read_bytes())
    keys = record_keys(records)
    rows = [[rec.get(k, "") if rec.get(k) is not None else "" for k in keys] for rec in records[:200]]
    return [Export(path, "json", keys, sample=rows)]


def preset_exports(ex: Any) -> list[Any] | None:
    """One Export per entity of the matching preset (None when no preset matches)."""
    match = detect_preset(ex.headers)
    if match is None:
        return None
    spec_rows = max((s.get("header_rows", 1) for s in match.preset.entities.values()), default=1)
    rows = ex.sample[spec_rows - 1:]
    header_rows = [ex.headers, *ex.sample[: spec_rows - 1]]
    complete(match, ex.headers, rows, header_rows)
    out = []
    for entity in match.preset.entities:
        item = copy.copy(ex)
        item.entity = entity
        item.fields = dict(match.preset.columns(entity))
        item.preset = match
        out.append(item)
    return out


def preset_source_lines(ex: Any, rel: str, q: Any) -> list[str]:
    """The YAML lines of one preset source (under ``sources.<entity>:``)."""
    match = ex.preset
    p = match.preset
    lines = [f"    - preset: {p.name}   # recognised by its headers ({', '.join(match.matched)}); `crmmetrics presets {p.name}` shows the mapping",
             f"      path: {q(rel)}"]
    if ex.sheet:
        lines.append(f"      sheet: {q(ex.sheet)}")
    lines += match.extra.get(ex.entity, [])
    if "account" in p.timezone_rule or "user time zone" in p.timezone_rule or "owner" in p.timezone_rule or "agent" in p.timezone_rule:
        lines.append(f"      # timezone: Europe/Istanbul   # {p.timezone_rule}")
    mapped = {str(c).casefold() for c in [*p.columns(ex.entity).values(), *match.chosen.get(ex.entity, {}).values()]}
    unmapped = [h for h in ex.headers if h and h.strip().casefold() not in mapped]
    if unmapped:
        lines.append(f"      # not mapped (add under fields: as `name: \"column\"` to use as --by): {', '.join(unmapped[:30])}"
                     + (" ..." if len(unmapped) > 30 else ""))
    return lines


def peek_any(path: Path) -> list[Any]:
    """Headers and sample rows of a CSV, workbook or JSON export (see draft.peek)."""
    from crmmetrics.draft import peek
    from crmmetrics.io.json_reader import looks_like_json
    from crmmetrics.io.readers import read_bytes

    if looks_like_json(str(path), read_bytes(str(path))[:64], None):
        return peek_json(path)
    return peek(path)


def near_miss_note(ex: Any) -> str | None:
    """One line when the headers almost carry a preset's fingerprint (a renamed column)."""
    import difflib

    from crmmetrics.presets import header_key
    from crmmetrics.presets.detect import near_misses

    misses = near_misses(ex.headers)
    if not misses:
        return None
    preset, missing = max(misses, key=lambda m: len(m[0].fingerprint) - len(m[1]))
    by_key = {header_key(h): h for h in ex.headers if h}
    parts = []
    for col in missing:
        close = difflib.get_close_matches(header_key(col), list(by_key), n=1, cutoff=0.4)
        parts.append(f"{col!r}" + (f" (closest header: {by_key[close[0]]!r})" if close else ""))
    return (f"looks like a {preset.name} export but lacks column {', '.join(parts)}; drafted from headers instead "
            f"(rename the column back, or write preset: {preset.name} with that field mapped)")
