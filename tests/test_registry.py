"""The metric registry: one way in, no stack inspection, a stable order."""

from __future__ import annotations

import ast

from crmmetrics.metrics.registry import FAMILY_MODULES, all_metrics, family_module
from tests.conftest import ROOT


def test_no_module_inspects_the_call_stack():
    # The registry used sys._getframe to learn which family registered a metric.
    hits = [p.relative_to(ROOT).as_posix() for p in (ROOT / "crmmetrics").rglob("*.py")
            if "_getframe" in p.read_text(encoding="utf-8") or "inspect.stack" in p.read_text(encoding="utf-8")]
    assert hits == []


def test_every_metric_belongs_to_a_family_module_and_the_order_follows_them():
    specs = all_metrics()
    modules = [family_module(s) for s in specs.values()]
    assert set(modules) <= set(FAMILY_MODULES)
    ranks = [FAMILY_MODULES.index(m) for m in modules]
    assert ranks == sorted(ranks)
    assert list(specs)[:3] == ["nps", "csat", "ces"]  # survey first, in registration order


def _call_name(node: ast.AST) -> str:
    return node.func.id if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else ""


def test_every_metric_is_registered_one_way():
    """One registration style (issue #10): each metric is a module-level statement
    ``register(MetricSpec(name="<literal>", ...))`` in its family module. No wrapper
    functions, loops or factories build specs, so `grep 'name="nps"'` finds every metric's
    definition; shared keyword arguments may come from a module-level dict spread with **."""
    names: list[str] = []
    problems: list[str] = []
    for path in sorted((ROOT / "crmmetrics" / "metrics").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        statements = {id(node.value) for node in tree.body if isinstance(node, ast.Expr)}
        specs_in_register: set[int] = set()
        for node in ast.walk(tree):
            if _call_name(node) != "register":
                continue
            where = f"{path.name}:{node.lineno}"
            spec = node.args[0] if len(node.args) == 1 and not node.keywords else None
            if id(node) not in statements:
                problems.append(f"{where}: register() inside a function, loop or expression")
            if _call_name(spec) != "MetricSpec":
                problems.append(f"{where}: register() of something other than one MetricSpec(...)")
                continue
            specs_in_register.add(id(spec))
            name = next((kw.value for kw in spec.keywords if kw.arg == "name"), None)
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                problems.append(f"{where}: the metric's name is not a literal")
            else:
                names.append(name.value)
        problems += [f"{path.name}:{node.lineno}: MetricSpec(...) outside register()" for node in ast.walk(tree)
                     if _call_name(node) == "MetricSpec" and id(node) not in specs_in_register]
    assert problems == []
    assert sorted(names) == sorted(all_metrics())
