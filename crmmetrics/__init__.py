"""crmmetrics: customer metrics from CRM exports.

The small public API::

    from crmmetrics import load_config, compute
    report = compute(load_config("crm.yaml"), ["nps"], period="month")
    report.results  # a pandas DataFrame of tidy result rows
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "compute", "load_config"]


def load_config(path: Any) -> Any:
    """Load and validate a config file (see crmmetrics.config.load_config)."""
    from crmmetrics.config import load_config as _load

    return _load(path)


def compute(config: Any, metrics: list[str] | None = None, **kwargs: Any) -> Any:
    """Compute metrics into a Report (see crmmetrics.engine.compute)."""
    from crmmetrics.engine import compute as _compute

    return _compute(config, metrics, **kwargs)
