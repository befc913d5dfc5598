"""The metric registry: one way in, no stack inspection, a stable order."""

from __future__ import annotations

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
