"""Which engine computes a run: the one entry point ``compute``, ``check`` and ``report`` share.

``--engine`` (else the config's ``engine:``, else pandas) picks the function that turns a
config into a :class:`~crmmetrics.engine.Report`: :func:`crmmetrics.engine.compute` or
:func:`crmmetrics.dask_engine.compute_dask`. Callers only ever call what :func:`computer`
returns, so every command refuses or skips the metrics Dask cannot merge the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from crmmetrics.errors import UsageError

if TYPE_CHECKING:
    from crmmetrics.engine import Report

ENGINES = ("pandas", "dask")
Computer = Callable[..., "Report"]


QUANTILES = ("exact", "approx")


def chosen_engine(flag: str | None, cfg: object, quantiles: str | None = None) -> tuple[str, str | None, str]:
    """(engine name, scheduler address, quantiles): --engine, else the config's engine:, else
    pandas; --quantiles, else engine.quantiles, else exact. Dask's absence is a usage error
    with the install line, before anything is read."""
    conf = getattr(getattr(cfg, "model", None), "engine", None)
    name = flag or (conf.name if conf is not None else "pandas")
    if name not in ENGINES:
        raise UsageError(f"--engine {name!r} is not an engine", hint="use pandas (the default) or dask")
    quantiles = quantiles or (conf.quantiles if conf is not None else "exact")
    if quantiles not in QUANTILES:
        raise UsageError(f"--quantiles {quantiles!r} is not a choice", hint="use exact (the default) or approx")
    if name == "dask":
        from crmmetrics.dask_engine import require_dask

        require_dask()
    return name, (conf.scheduler if conf is not None else None), quantiles


def computer(name: str = "pandas", scheduler: str | None = None, quantiles: str = "exact", client: Any = None) -> Computer:
    """A function with :func:`crmmetrics.engine.compute`'s signature running on engine ``name``.

    ``client`` (tests) is a connected Dask client; ``scheduler`` an address; neither: a local cluster.
    ``quantiles`` (exact or approx) applies to Dask only: the pandas engine is always exact.
    """
    if name != "dask":
        from crmmetrics.engine import compute

        return compute
    from crmmetrics.dask_engine import compute_dask

    def on_dask(config: Any, metrics: list[str] | None = None, *, stdin: Any = None, **kw: Any) -> Report:
        # stdin is unused: compute_dask refuses an --input of "-" (its workers read files).
        return compute_dask(config, metrics, scheduler=scheduler, client=client, quantiles=quantiles, **kw)

    on_dask.engine = "dask"  # type: ignore[attr-defined]
    return on_dask


def refused_on(compute_fn: Computer, config: Any, metric: str, grain: str, by: list[str]) -> str | None:
    """Why ``metric`` cannot run on ``compute_fn``'s engine (None on pandas, or when Dask can run it)."""
    if getattr(compute_fn, "engine", "pandas") != "dask":
        return None
    from crmmetrics.dask_support import refusal
    from crmmetrics.engine import make_plan

    plan = make_plan(config, [metric], grain, by, need_dates=False)
    return refusal(plan.metrics[0], config) if plan.metrics else None
