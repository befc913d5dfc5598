"""Recognise a vendor export by its header fingerprint, and draft the preset's source
block for `crmmetrics init`: the choices a preset leaves open (which question is the NPS
one), the file's own time zone (Qualtrics row 3) and stage labels the preset does not
know, each written with a comment saying it was guessed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from crmmetrics.presets import Preset, all_presets, header_key


@dataclass
class PresetMatch:
    """A preset whose fingerprint the headers carry, and what init adds to it."""

    preset: Preset
    matched: list[str]
    # entity → extra YAML lines under the source (fields, values, timezone), with comments
    extra: dict[str, list[str]] = field(default_factory=dict)
    chosen: dict[str, dict[str, str]] = field(default_factory=dict)  # entity → field → column init picked
    notes: list[str] = field(default_factory=list)


def detect_preset(headers: list[str]) -> PresetMatch | None:
    """The preset every fingerprint column of which is in ``headers`` (aliases count);
    the one with the longest fingerprint wins. None when no preset matches."""
    keys = {header_key(h) for h in headers}
    best: PresetMatch | None = None
    for preset in all_presets().values():
        aliases: dict[str, list[str]] = {}
        for spec in preset.entities.values():
            aliases.update(spec.get("aliases") or {})
        matched = [c for c in preset.fingerprint if any(header_key(a) in keys for a in (c, *aliases.get(c, ())))]
        if preset.fingerprint and len(matched) == len(preset.fingerprint):
            if best is None or len(matched) > len(best.matched):
                best = PresetMatch(preset, matched)
    return best


def near_misses(headers: list[str], threshold: float = 0.6) -> list[tuple[Preset, list[str]]]:
    """Presets most of whose fingerprint is present: (preset, missing columns)."""
    keys = {header_key(h) for h in headers}
    out = []
    for preset in all_presets().values():
        missing = [c for c in preset.fingerprint if header_key(c) not in keys]
        if missing and (len(preset.fingerprint) - len(missing)) / len(preset.fingerprint) >= threshold:
            out.append((preset, missing))
    return out


_NPS_HEADER = re.compile(r"recommend|likely|nps|tavsiye|öner", re.IGNORECASE)


def nps_column(headers: list[str], rows: list[list[Any]], exclude: set[str]) -> tuple[str | None, str]:
    """The column holding 0-10 answers (the NPS question), and why it was chosen."""
    best: tuple[float, str | None, str] = (0.0, None, "")
    for i, h in enumerate(headers):
        if not h or h in exclude:
            continue
        vals = [str(r[i]).strip() for r in rows if i < len(r) and str(r[i]).strip() not in ("", "None")]
        if not vals:
            continue
        nums = [v for v in vals if re.fullmatch(r"\d{1,2}(\.0)?", v) and 0 <= float(v) <= 10]
        share = len(nums) / len(vals)
        if share < 0.9:
            continue
        spread = len(set(nums))
        score = share + (1.0 if _NPS_HEADER.search(h) else 0.0) + min(spread, 11) / 22
        if score > best[0]:
            why = f"{len(nums)} of {len(vals)} sampled values are 0-10" + ("; header names recommending" if _NPS_HEADER.search(h) else "")
            best = (score, h, why)
    return best[1], best[2]


def _q(text: Any) -> str:
    return json.dumps(str(text), ensure_ascii=False)


def _sample_values(headers: list[str], rows: list[list[Any]], column: str) -> list[str]:
    if column not in headers:
        return []
    i = headers.index(column)
    return list(dict.fromkeys(str(r[i]).strip() for r in rows if i < len(r) and str(r[i]).strip()))


def _guess_outcome(label: str) -> str | None:
    """won / lost for a closed-stage label such as "Closed: won" or "Kaybedildi"; else None."""
    low = label.casefold()
    if re.search(r"\bwon\b|kazan|gewonnen|gagn|vyhra", low):
        return "won"
    if re.search(r"\blost\b|kaybet|verloren|perdu|prohra", low):
        return "lost"
    return None


def complete(match: PresetMatch, headers: list[str], rows: list[list[Any]], header_rows: list[list[Any]]) -> PresetMatch:
    """Fill what the preset leaves to the data: NPS column, time zone, unknown stage labels."""
    for entity, spec in match.preset.entities.items():
        lines: list[str] = []
        cols = spec.get("fields") or {}
        for fname, what in (spec.get("choose") or {}).items():
            col, why = nps_column(headers, rows, set(cols.values()))
            if col:
                match.chosen.setdefault(entity, {})[fname] = col
                lines.append(f"      fields: {{{fname}: {_q(col)}}}   # guessed: {why}")
            else:
                lines.append(f"      # fields: {{{fname}: \"...\"}}   # choose {what}; no 0-10 column was found")
                match.notes.append(f"{entity}.{fname}: choose {what}")
        tz = _qualtrics_zone(header_rows) if spec.get("header_rows", 1) >= 3 else None
        if tz:
            lines.append(f"      timezone: {tz}   # from the export's third header row (ImportId timeZone)")
        vmap = (spec.get("values") or {}).get("status")
        status_col = cols.get("status")
        if vmap is not None and status_col and "*" in vmap:
            known = {str(k).casefold() for k in vmap}
            seen = [v for v in _sample_values(headers, rows, _actual(headers, status_col)) if v.casefold() not in known]
            guessed = {v: _guess_outcome(v) for v in seen}
            mapped = {v: g for v, g in guessed.items() if g}
            if mapped:
                lines.append("      values:")
                lines.append("        status: {" + ", ".join(f"{_q(v)}: {g}" for v, g in mapped.items()) + "}   # guessed from the labels")
            rest = [v for v, g in guessed.items() if not g]
            if rest:
                lines.append(f"      # status values read as {vmap['*']} (the preset's default): {', '.join(_q(v) for v in rest)}")
        if lines:
            match.extra[entity] = lines
    return match


def _actual(headers: list[str], col: str) -> str:
    return next((h for h in headers if header_key(h) == header_key(col)), col)


def _qualtrics_zone(header_rows: list[list[Any]]) -> str | None:
    """The timeZone named in Qualtrics' ImportId row (row 3), if any."""
    for row in header_rows[2:3]:
        for cell in row:
            m = re.search(r'"timeZone"\s*:\s*"([^"]+)"', str(cell))
            if m:
                return m.group(1)
    return None
