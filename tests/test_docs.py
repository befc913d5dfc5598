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
