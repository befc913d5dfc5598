"""Vendor presets: the column mapping, value vocabularies, header shape and time-zone
rule of a real CRM export, shipped as YAML inside the package.

A config source says ``preset: zendesk-tickets`` and a path; :func:`expand_sources`
merges the preset's block for that entity under whatever the user wrote (the user's
keys win, per field and per value), then resolves the preset's column names against the
file's real header: case, stray spaces, BOMs and language aliases are tolerated, a
column the export does not have is dropped (exports differ by plan and by view), and a
*required* column that is missing is one error line naming the preset, the column and
the closest header. So ``metrics -c`` and ``validate`` judge the mapping that will
really be read.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from crmmetrics.errors import ConfigError, DataError

# Keys of a preset entity block that describe the preset, not a source option.
_META_KEYS = ("required", "aliases", "choose")


@dataclass(frozen=True)
class Preset:
    """One vendor export format."""

    name: str
    title: str
    vendor: str
    evidence: str
    timezone_rule: str
    fingerprint: tuple[str, ...]
    entities: dict[str, dict[str, Any]]
    notes: tuple[str, ...] = ()
    beta: bool = False
    format: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def block(self, entity: str) -> dict[str, Any]:
        """The source block (fields, values, options) this preset gives ``entity``."""
        return self.entities[entity]

    def columns(self, entity: str) -> dict[str, str]:
        """Canonical field → vendor column for ``entity``."""
        return dict(self.entities[entity].get("fields") or {})


@lru_cache(maxsize=1)
def all_presets() -> dict[str, Preset]:
    """Every shipped preset by name, sorted."""
    import yaml

    out: dict[str, Preset] = {}
    root = resources.files("crmmetrics.presets")
    for item in sorted(root.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".yaml"):
            continue
        data = yaml.safe_load(item.read_text(encoding="utf-8"))
        name = item.name[:-5]
        out[name] = Preset(name, data["title"], data["vendor"], data.get("evidence", ""), data.get("timezone_rule", ""),
                           tuple(data.get("fingerprint") or ()), data["entities"], tuple(data.get("notes") or ()),
                           bool(data.get("beta")), data.get("format"), data)
    return out


def get_preset(name: str) -> Preset:
    """The preset called ``name``; ConfigError with the closest names otherwise."""
    presets = all_presets()
    if name in presets:
        return presets[name]
    close = difflib.get_close_matches(name, list(presets), n=2, cutoff=0.5)
    raise ConfigError(f"unknown preset {name!r}", hint=f"did you mean {' or '.join(close)}?" if close else "run `crmmetrics presets` for the list")


def header_key(name: Any) -> str:
    """How headers are compared: BOM, quotes and spaces stripped, case folded."""
    return str(name).replace("\ufeff", "").strip().strip('"').strip().casefold()


def merge_block(base: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    """The preset block with the user's source keys laid over it.

    ``fields``, ``values`` (per field, then per raw value), ``csv``, ``dates`` and
    ``constants`` merge key by key; any other key the user wrote replaces the preset's.
    A field the user sets to null is unmapped.
    """
    out = {k: copy.deepcopy(v) for k, v in base.items() if k not in _META_KEYS}
    for key, value in user.items():
        if key in ("fields", "csv", "dates", "constants") and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        elif key == "values" and isinstance(value, dict) and isinstance(out.get(key), dict):
            merged = dict(out[key])
            for fname, vmap in value.items():
                merged[fname] = {**merged.get(fname, {}), **vmap} if isinstance(vmap, dict) and isinstance(merged.get(fname), dict) else vmap
            out[key] = merged
        else:
            out[key] = value
    return out


def resolve_columns(preset: Preset, entity: str, block: dict[str, Any], user_fields: dict[str, Any], headers: list[str],
                    shown: str) -> dict[str, Any]:
    """Point the preset's columns at the file's real headers; drop the absent optional ones.

    ``user_fields`` are the fields the user wrote themselves: they are kept as written.
    Raises DataError for a required column the export lacks.
    """
    spec = preset.block(entity)
    required = set(spec.get("required") or ())
    aliases: dict[str, list[str]] = spec.get("aliases") or {}
    by_key: dict[str, str] = {}
    for h in headers:
        by_key.setdefault(header_key(h), h)
    fields = dict(block.get("fields") or {})
    dropped: list[str] = []
    for fname, col in list(fields.items()):
        if fname in user_fields or not isinstance(col, str):
            continue
        found = next((by_key[header_key(c)] for c in (col, *aliases.get(col, ())) if header_key(c) in by_key), None)
        if found is not None:
            fields[fname] = found
        elif fname in required:
            close = difflib.get_close_matches(header_key(col), list(by_key), n=1, cutoff=0.4)
            hint_col = by_key[close[0]] if close else None
            closest = f"; closest header: {hint_col!r}" if hint_col else ""
            raise DataError(
                f"{shown}:1: not a {preset.name} export: column {col!r} ({entity}.{fname}) not found{closest}",
                hint=(f"map it yourself under sources.{entity}.fields: {fname}: {hint_col!r}" if hint_col else
                      f"map {entity}.{fname} under sources.{entity}.fields") + ", or run `crmmetrics init` to pick a preset",
            )
        else:
            del fields[fname]
            dropped.append(fname)
    block = dict(block)
    block["fields"] = fields
    if dropped and isinstance(block.get("values"), dict):
        block["values"] = {k: v for k, v in block["values"].items() if k not in dropped or k in (block.get("constants") or {})}
    return block


def file_headers(path: str, base_dir: Path, source: dict[str, Any]) -> tuple[list[str], str] | None:
    """The header names of the file a source points at (first glob match), or None when
    it cannot be known before reading (stdin, a missing file: the reader reports that)."""
    if path == "-":
        return None
    from crmmetrics.io.paths import source_paths

    files, _ = source_paths(path, base_dir)
    if not files:
        return None
    full = files[0]
    if not full.is_file():
        return None
    from crmmetrics.presets.headers import read_headers

    return read_headers(full, source), str(path)


def expand_sources(sources: dict[str, Any], base_dir: Path,
                   read_headers_of: dict[str, tuple[list[str], str]] | None = None) -> dict[str, Any]:
    """``sources`` (entity → source or list) with every ``preset:`` source expanded.

    ``read_headers_of`` (entity → headers, shown name) are the headers of what a run really
    reads instead of the config's path (``--input ENTITY=PATH`` or stdin): that entity's
    first source, the one --input replaces, is matched against them.
    Raises ConfigError for an unknown preset or one without the entity, DataError when
    the export lacks a column the preset requires.
    """
    out: dict[str, Any] = {}
    given = read_headers_of or {}
    for entity, value in sources.items():
        items = value if isinstance(value, list) else [value]
        expanded = [_expand_one(entity, s, base_dir, given.get(entity) if i == 0 else None) if isinstance(s, dict) and s.get("preset") else s
                    for i, s in enumerate(items)]
        out[entity] = expanded if isinstance(value, list) else expanded[0]
    return out


def preset_entities(sources: Any) -> set[str]:
    """The entities whose first source (the one --input replaces) uses a preset."""
    if not isinstance(sources, dict):
        return set()
    firsts = {e: (v[0] if isinstance(v, list) and v else v) for e, v in sources.items()}
    return {e for e, s in firsts.items() if isinstance(s, dict) and s.get("preset")}


def merged_block(entity: str, source: dict[str, Any]) -> tuple[Preset, dict[str, Any]]:
    """The preset of a ``preset:`` source and its block with the user's keys laid over it
    (columns not yet matched against any header)."""
    preset = get_preset(str(source["preset"]))
    if entity not in preset.entities:
        raise ConfigError(f"sources.{entity}: preset {preset.name} has no {entity} mapping",
                          hint=f"it maps {', '.join(preset.entities)}; list it under one of those")
    user = {k: v for k, v in source.items()}
    block = merge_block(preset.block(entity), user)
    if preset.format and "format" not in user:
        block["format"] = preset.format
    block.setdefault("fields", {})
    return preset, block


def _expand_one(entity: str, source: dict[str, Any], base_dir: Path,
                given: tuple[list[str], str] | None = None) -> dict[str, Any]:
    preset, block = merged_block(entity, source)
    path = source.get("path")
    if given is not None or isinstance(path, str):
        found = given or file_headers(str(path), base_dir, block)
        if found is not None:
            headers, shown = found
            block = resolve_columns(preset, entity, block, dict(source.get("fields") or {}), headers, shown)
    return block


def describe(preset: Preset) -> str:
    """The text of `crmmetrics presets NAME`: what it reads and how, as YAML-ish lines."""
    lines = [f"{preset.name}{' (beta)' if preset.beta else ''}: {preset.title}",
             f"  evidence: {preset.evidence}", f"  time zone: {preset.timezone_rule}"]
    if preset.format:
        lines.append(f"  format: {preset.format}")
    lines.append(f"  recognised by the headers: {', '.join(preset.fingerprint)}")
    for note in preset.notes:
        lines.append(f"  note: {note}")
    for entity, spec in preset.entities.items():
        lines.append(f"  {entity}:")
        required = set(spec.get("required") or ())
        for key in ("header_rows", "line_items", "timezone", "duration_unit"):
            if key in spec:
                lines.append(f"    {key}: {spec[key]}")
        lines.append("    fields:")
        for fname, col in (spec.get("fields") or {}).items():
            alias = spec.get("aliases", {}).get(col)
            lines.append(f"      {fname}: {col!r}{' (required)' if fname in required else ''}"
                         + (f"  also: {', '.join(repr(a) for a in alias)}" if alias else ""))
        for fname, what in (spec.get("choose") or {}).items():
            lines.append(f"      {fname}: ?  # you choose: {what}")
        for fname, vmap in (spec.get("values") or {}).items():
            lines.append(f"    values.{fname}: " + ", ".join(f"{k} → {v}" for k, v in vmap.items()))
        if spec.get("constants"):
            lines.append("    constants: " + ", ".join(f"{k}: {v}" for k, v in spec["constants"].items()))
    first = next(iter(preset.entities))
    lines.append(f"  start: crmmetrics init YOUR_EXPORT -o crm.yaml   (or write sources: {{{first}: {{preset: {preset.name}, path: YOUR_EXPORT}}}})")
    return "\n".join(lines) + "\n"
