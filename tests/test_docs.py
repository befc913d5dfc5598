"""Docs generated from the code stay fresh; every command and metric is documented."""

from __future__ import annotations

from crmmetrics.explain import README_END, README_START, metrics_markdown, readme_table
from crmmetrics.metrics.registry import all_metrics
from tests.conftest import ROOT


def test_docs_metrics_md_is_generated_from_the_registry():
    assert (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8") == metrics_markdown(), \
        "run: python -m crmmetrics.explain --update"


def test_readme_metrics_table_is_fresh():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split(README_START, 1)[1].split(README_END, 1)[0]
    assert block.strip() == readme_table().strip(), "run: python -m crmmetrics.explain --update"


def test_every_metric_has_description_formula_and_option_docs():
    for spec in all_metrics().values():
        assert spec.description and spec.formula and spec.title, spec.name
        for name, _default, desc in spec.option_rows():
            assert desc, f"{spec.name}.{name} has no description"


def test_every_command_has_help_and_is_in_the_readme():
    from crmmetrics.cli import app

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for cmd in app.registered_commands:
        name = cmd.name or cmd.callback.__name__
        assert cmd.callback.__doc__, name
        assert f"crmmetrics {name}" in readme, name
    for heading in ("## Quick start", "## Commands", "## Metrics", "## The config file", "## Output formats",
                    "## Exit codes", "## Recipes", "## Troubleshooting"):
        assert heading in readme


def _layout_tree() -> dict[str, str]:
    """Path → job of every line of the tree under "## Layout" in docs/architecture.md.

    The tree is the first fenced block of that section; each level indents two spaces,
    folders end with ``/``, and a module's job follows its name after at least two spaces.
    """
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("\n## Layout\n", 1)[1]
    block = section.split("```", 2)[1].split("\n", 1)[1]
    entries: dict[str, str] = {}
    folders: list[str] = []
    for line in block.splitlines():
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2
        name, _, job = line.strip().partition("  ")
        folders = folders[:depth]
        path = "/".join([*folders, name.rstrip("/")])
        if name.endswith("/"):
            folders.append(name.rstrip("/"))
        entries[path] = job.strip()
    return entries


def test_every_module_is_in_the_layout_tree():
    """docs/architecture.md draws the package as one tree, one line per module with its job;
    a module added, moved or removed without updating the picture fails here."""
    tree = _layout_tree()
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "crmmetrics").rglob("*.py")}
    listed = {path for path in tree if path.endswith(".py")}
    assert sorted(modules - listed) == [], "add these modules to the tree in docs/architecture.md"
    assert sorted(listed - modules) == [], "these modules in docs/architecture.md no longer exist"
    assert [path for path in listed if not tree[path]] == [], "each module line says its job"
