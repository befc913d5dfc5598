"""The import rules of the package layout (issue #10, docs/architecture.md "Layout").

Rule (a): no module under ``crmmetrics/analyses/`` or ``crmmetrics/domain/`` imports a
metric family, i.e. any ``crmmetrics.metrics.<name>`` other than the metric framework
modules ``registry``, ``shapes`` and ``context`` (nor the family by name through
``from crmmetrics.metrics import <name>``). Every import counts: module level, inside a
function, or under ``if TYPE_CHECKING:``. Shared business engines live in
``crmmetrics/domain/``; a family module holds metric definitions only.

Rule (b): no module under ``crmmetrics/domain/`` imports ``crmmetrics.cli``,
``crmmetrics.render`` or ``crmmetrics.config`` (or anything below them) at run time.
Imports under ``if TYPE_CHECKING:`` are exempt: they never execute, they only name a
type in an annotation.

Rule (c): no module under ``crmmetrics/metrics/`` imports ``crmmetrics.config`` or
``crmmetrics.io`` at run time: a metric gets typed frames and resolved options, it never
reads the config or a file (``TYPE_CHECKING`` imports are exempt, as in rule (b)).

Rule (d): loading a config imports no metric family (nor pandas): names and units come from
``metrics/catalog.py``, option sections are validated when a run loads the registry.

The scans are syntactic (AST), so they see lazy imports inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "crmmetrics"
FRAMEWORK = frozenset({"registry", "shapes", "context"})
DOMAIN_FORBIDDEN = ("crmmetrics.cli", "crmmetrics.render", "crmmetrics.config")
METRICS_FORBIDDEN = ("crmmetrics.config", "crmmetrics.io")


def _is_type_checking(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:``."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(source: str, module: str, *, runtime_only: bool = False) -> list[tuple[int, str]]:
    """Every module an import statement in ``source`` names, as ``(line, dotted name)``.

    ``module`` is the dotted name of the file scanned (``crmmetrics.domain.mrr``; a package's
    ``crmmetrics.analyses.__init__``), used to resolve relative imports. ``from a import b`` yields both ``a`` and ``a.b`` (``b`` may be
    a submodule). ``runtime_only`` skips the bodies of ``if TYPE_CHECKING:`` blocks.
    """
    found: list[tuple[int, str]] = []
    package = module.split(".")[:-1]

    def visit(node: ast.AST) -> None:
        if runtime_only and isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.append((node.lineno, base))
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def _first_per_line(module: str, hits: list[tuple[int, str]]) -> list[str]:
    """One message per offending import statement (the shortest name it imports)."""
    seen: dict[int, str] = {}
    for line, name in hits:
        seen.setdefault(line, name)
    return [f"{module}:{line} imports {name}" for line, name in seen.items()]


def family_imports(source: str, module: str) -> list[str]:
    """Rule (a) violations in ``source``: imports of a metric family module."""
    def family(name: str) -> bool:
        parts = name.split(".")
        return parts[:2] == ["crmmetrics", "metrics"] and len(parts) > 2 and parts[2] not in FRAMEWORK

    return _first_per_line(module, [(line, name) for line, name in imports(source, module) if family(name)])


def layer_imports(source: str, module: str, forbidden: tuple[str, ...] = DOMAIN_FORBIDDEN) -> list[str]:
    """Rule (b) (or (c) with ``METRICS_FORBIDDEN``) violations in ``source``: run-time
    imports of ``forbidden`` packages or anything below them."""
    return _first_per_line(module, [(line, name) for line, name in imports(source, module, runtime_only=True)
                                    if any(name == f or name.startswith(f + ".") for f in forbidden)])


def _modules(folder: str) -> list[tuple[str, str]]:
    """``(dotted name, source)`` of every module under ``crmmetrics/<folder>/``."""
    out = []
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        parts = ["crmmetrics", *path.relative_to(PACKAGE).with_suffix("").parts]
        out.append((".".join(parts), path.read_text(encoding="utf-8")))
    return out


def test_the_domain_package_holds_the_shared_engines() -> None:
    """The scan below would pass vacuously on a missing folder; the engines are there."""
    names = {m for m, _ in _modules("domain")}
    assert {"crmmetrics.domain.mrr", "crmmetrics.domain.orders", "crmmetrics.domain.activity",
            "crmmetrics.domain.business_hours", "crmmetrics.domain.deals", "crmmetrics.domain.tickets",
            "crmmetrics.domain.spans"} <= names


# The engines moved out of the family modules; a family that defines one again duplicates it.
# (snapshot_grid and in_stock_at belong to the Stock shape in metrics/shapes.py, not to a family.)
MOVED = {"clean_deals", "closed_rows", "snapshot_grid", "in_stock_at", "deal_intervals", "open_at_snapshots", "first_created", "precedes",
         "seconds_between", "days_between", "fold_status", "usable_tickets", "solve_time", "solved_in_period",
         "elapsed_minutes", "first_replies_from_activities", "TicketOptions"}


def test_no_metric_family_redefines_a_shared_engine() -> None:
    """``domain/deals.py``, ``domain/spans.py`` and ``domain/tickets.py`` own these; a metric
    module imports them (the names below may appear in imports, never as a definition)."""
    bad = [f"{m}:{node.lineno} defines {node.name}"
           for m, src in _modules("metrics") if m != "crmmetrics.metrics.shapes"
           for node in ast.walk(ast.parse(src))
           if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name.lstrip("_") in MOVED]
    assert bad == [], "import it from crmmetrics.domain instead:\n" + "\n".join(bad)


@pytest.mark.parametrize("folder", ["analyses", "domain"])
def test_analyses_and_domain_never_import_a_metric_family(folder: str) -> None:
    modules = _modules(folder)
    assert modules
    bad = [v for m, src in modules for v in family_imports(src, m)]
    assert bad == [], "import the engine from crmmetrics.domain instead:\n" + "\n".join(bad)


def test_domain_never_imports_cli_render_or_config() -> None:
    bad = [v for m, src in _modules("domain") for v in layer_imports(src, m)]
    assert bad == [], "\n".join(bad)


def test_the_scanner_catches_every_import_form() -> None:
    """The rules above are only as good as the scanner: each spelling of a forbidden
    import is caught, each allowed one is not."""
    assert family_imports("from crmmetrics.metrics.orders import OrderPolicy\n", "crmmetrics.analyses.rfm") == [
        "crmmetrics.analyses.rfm:1 imports crmmetrics.metrics.orders"]
    assert family_imports("def f():\n    import crmmetrics.metrics.mrr\n", "crmmetrics.domain.x") == [
        "crmmetrics.domain.x:2 imports crmmetrics.metrics.mrr"]
    assert family_imports("from crmmetrics.metrics import success\n", "crmmetrics.analyses.health") == [
        "crmmetrics.analyses.health:1 imports crmmetrics.metrics.success"]
    assert family_imports("from ..metrics.support import fill_counts\n", "crmmetrics.domain.x") == [
        "crmmetrics.domain.x:1 imports crmmetrics.metrics.support"]
    assert family_imports("if TYPE_CHECKING:\n    from crmmetrics.metrics.success import X\n", "crmmetrics.domain.x") != []
    allowed = ("from crmmetrics.metrics.registry import Options\nfrom crmmetrics.metrics.shapes import ratio\n"
               "from crmmetrics.metrics.context import PERIOD_COL\nfrom crmmetrics.domain.mrr import Run\n")
    assert family_imports(allowed, "crmmetrics.analyses.x") == []

    assert layer_imports("def f():\n    from crmmetrics.render.table import x\n", "crmmetrics.domain.x") == [
        "crmmetrics.domain.x:2 imports crmmetrics.render.table"]
    assert layer_imports("from crmmetrics import config\n", "crmmetrics.domain.x") == [
        "crmmetrics.domain.x:1 imports crmmetrics.config"]
    assert layer_imports("from ..cli import app\n", "crmmetrics.domain.x")[0].endswith("imports crmmetrics.cli")
    assert layer_imports("if TYPE_CHECKING:\n    from crmmetrics.config import Config\nelse:\n    import crmmetrics.config\n",
                         "crmmetrics.domain.x") == ["crmmetrics.domain.x:4 imports crmmetrics.config"]
    assert layer_imports("from crmmetrics.configuration import x\n", "crmmetrics.domain.x") == []


def test_metrics_never_import_the_config_or_io_at_run_time() -> None:
    modules = _modules("metrics")
    assert any(m == "crmmetrics.metrics.sales" for m, _ in modules)
    bad = [v for m, src in modules for v in layer_imports(src, m, METRICS_FORBIDDEN)]
    assert bad == [], "a metric gets typed frames and resolved options (engine.inherited_options):\n" + "\n".join(bad)
    assert layer_imports("def f():\n    from crmmetrics.io.parse import x\n", "crmmetrics.metrics.x", METRICS_FORBIDDEN) == [
        "crmmetrics.metrics.x:2 imports crmmetrics.io.parse"]
    assert layer_imports("from crmmetrics.iox import y\n", "crmmetrics.metrics.x", METRICS_FORBIDDEN) == []


def test_loading_a_config_imports_no_metric_family_nor_pandas() -> None:
    """In a fresh interpreter: load config.example.yaml (every section, every family's
    options) and list what got imported."""
    import json
    import subprocess
    import sys

    from crmmetrics.metrics.registry import FAMILY_MODULES

    code = ("import json, sys\nfrom crmmetrics.config import load_config\n"
            f"cfg = load_config({str(PACKAGE.parent / 'config.example.yaml')!r})\n"
            "assert cfg.rules and cfg.model.metrics.nps is not None\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent)
    loaded = set(json.loads(out.stdout))
    assert "crmmetrics.config" in loaded
    assert sorted(loaded & {f"crmmetrics.metrics.{f}" for f in FAMILY_MODULES}) == []
    assert "pandas" not in loaded


def test_the_catalog_matches_the_registry() -> None:
    """metrics/catalog.py (what the config loader knows) is what the registry says."""
    from crmmetrics.metrics import catalog
    from crmmetrics.metrics.registry import all_metrics, family_module

    assert catalog.UNITS == {name: spec.unit for name, spec in all_metrics().items()}, \
        "regenerate it: python -m crmmetrics.metrics.catalog"
    assert list(catalog.UNITS) == list(all_metrics()), "regenerate it: python -m crmmetrics.metrics.catalog"
    assert catalog.FAMILIES == {name: family_module(spec) for name, spec in all_metrics().items()}, \
        "regenerate it: python -m crmmetrics.metrics.catalog"


def test_a_named_metric_imports_its_family_only() -> None:
    """``get_metric("nps")`` imports metrics/survey.py and no other family (issue #15: a
    ``compute nps`` process does not pay for the sales, support, ... families); an unknown
    name still gets close matches from every family."""
    import json
    import subprocess
    import sys

    from crmmetrics.metrics.registry import FAMILY_MODULES

    code = ("import sys, json\nfrom crmmetrics.metrics.registry import get_metric\n"
            "spec = get_metric('nps')\n"
            "print(json.dumps([spec.name, sorted(m for m in sys.modules if m.startswith('crmmetrics.metrics.'))]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent)
    name, loaded = json.loads(out.stdout)
    assert name == "nps"
    assert sorted(set(loaded) & {f"crmmetrics.metrics.{f}" for f in FAMILY_MODULES}) == ["crmmetrics.metrics.survey"]
    from crmmetrics.errors import UsageError
    from crmmetrics.metrics.registry import get_metric

    with pytest.raises(UsageError) as exc:
        get_metric("win_rat")
    assert exc.value.hint == "did you mean win_rate?"
