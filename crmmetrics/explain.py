"""Plain-text and Markdown descriptions of metrics, generated from the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crmmetrics.metrics.registry import MetricSpec, all_metrics

PERIOD_KIND_TEXT = {
    "FLOW": "events dated inside the period [start, end)",
    "STOCK": "a snapshot at the period end",
    "BASE": "the population at the period start, followed to its end",
    "COHORT": "grouped by the period of a first event",
}


def entity_text(spec: MetricSpec) -> str:
    """Which export feeds the metric, what it needs and what dates it."""
    others = [e for e in spec.optional if e != spec.entity]
    if spec.entity_optional and others:
        return f"{' or '.join(others)}, else {spec.entity}; dated by {spec.dated_by or spec.date_field}"
    extra = f"; also reads {', '.join(others)} when mapped" if others else ""
    return f"{spec.entity} (needs {', '.join(spec.needs)}; dated by {spec.dated_by or spec.date_field}){extra}"


def explain_text(spec: MetricSpec, in_force: dict[str, Any] | None = None) -> str:
    """What `crmmetrics explain` prints."""
    lines = [
        f"{spec.name} — {spec.title}",
        "",
        spec.description,
        "",
        f"Formula:      {spec.formula}",
        f"Entity:       {entity_text(spec)}",
        f"Unit:         {spec.unit}   Better: {spec.better}   Shape: {spec.shape_label(_options(spec, in_force))}",
        f"Period kind:  {spec.period_kind}: {PERIOD_KIND_TEXT[spec.period_kind]}",
        "Result:       value, n, numerator, denominator" + (", " + ", ".join(spec.extra_columns) if spec.extra_columns else ""),
        "",
        "Options (metrics." + spec.name + " in the config):",
    ]
    rows = spec.option_rows()
    if not rows:
        lines.append("  (none)")
    for name, default, desc in rows:
        now = f"  [in force: {in_force[name]!r}]" if in_force is not None and name in in_force else ""
        lines.append(f"  {name} (default {default}){now}: {desc}")
    if spec.edge_rules:
        lines += ["", "Rules and edge cases:"] + [f"  - {r}" for r in spec.edge_rules]
    return "\n".join(lines) + "\n"


def _options(spec: MetricSpec, in_force: dict[str, Any] | None) -> Any:
    """The options in force as the spec's Options (None: the defaults), so a variant's shape shows (csat variant mean → mean)."""
    if in_force is None:
        return None
    try:
        return spec.options.model_validate(in_force)
    except ValueError:  # pydantic's ValidationError: fall back to the defaults' shape
        return None


def metrics_markdown() -> str:
    """docs/metrics.md: every registered metric, generated (a test keeps it fresh)."""
    specs = all_metrics()
    out = ["# Metrics", "", "Generated from the registry by `python -m crmmetrics.explain > docs/metrics.md`; do not edit by hand.", "",
           "| metric | title | unit | period | entity | formula |", "|---|---|---|---|---|---|"]
    for s in specs.values():
        out.append(f"| `{s.name}` | {s.title} | {s.unit} | {s.period_kind} | {s.entity} | {s.formula.replace('|', '/')} |")
    for s in specs.values():
        out += ["", f"## `{s.name}` — {s.title}", "", s.description, "",
                f"- **Formula:** {s.formula}",
                f"- **Inputs:** {entity_text(s)}",
                f"- **Unit / better:** {s.unit} / {s.better}",
                f"- **Shape:** {s.shape_label()}",
                f"- **Period kind:** {s.period_kind} ({PERIOD_KIND_TEXT[s.period_kind]})",
                f"- **Result columns:** value, n, numerator, denominator" + (", " + ", ".join(s.extra_columns) if s.extra_columns else "")]
        rows = s.option_rows()
        if rows:
            out += ["", "| option | default | meaning |", "|---|---|---|"]
            out += [f"| `{n}` | `{d}` | {desc} |" for n, d, desc in rows]
        if s.edge_rules:
            out += ["", "Rules and edge cases:", ""] + [f"- {r}" for r in s.edge_rules]
    return "\n".join(out) + "\n"


README_START = "<!-- metrics:start (generated: python -m crmmetrics.explain --update) -->"
README_END = "<!-- metrics:end -->"


def readme_table() -> str:
    """The metrics table that README.md carries between its markers."""
    rows = ["| metric | what | unit | period |", "|---|---|---|---|"]
    rows += [f"| `{s.name}` | {s.title} | {s.unit} | {s.period_kind} |" for s in all_metrics().values()]
    return "\n".join(rows) + "\n"


def update_docs(root: Path) -> None:
    """Rewrite docs/metrics.md and the README's metrics table from the registry."""
    (root / "docs" / "metrics.md").write_text(metrics_markdown(), encoding="utf-8")
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    head, _, rest = text.partition(README_START)
    _, _, tail = rest.partition(README_END)
    readme.write_text(f"{head}{README_START}\n{readme_table()}{README_END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    import sys
    from pathlib import Path

    if "--update" in sys.argv:
        update_docs(Path(__file__).resolve().parents[1])
    else:
        sys.stdout.write(metrics_markdown())
