"""The metric registry: the single source of truth for names, titles, formulas, units,
directions, period kinds, needed fields and options.

`crmmetrics metrics`, `explain`, docs/metrics.md and the config JSON Schema are all
generated from it. Registering a metric never imports pandas: compute functions
import it when they run.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from crmmetrics.errors import UsageError
from crmmetrics.metrics.shapes import Custom, Shape, ShapeOrFactory, shape_for

if TYPE_CHECKING:
    import pandas as pd

    from crmmetrics.metrics.context import MetricContext, MetricOutput

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*[a-z0-9]$")
UNITS = ("percent", "points", "currency", "days", "hours", "minutes", "count", "ratio", "score", "months", "years")
PERIOD_KINDS = ("FLOW", "STOCK", "BASE", "COHORT")


class Options(BaseModel):
    """Base class of every metric's options: unknown keys are errors, not ignored."""

    model_config = ConfigDict(extra="forbid")


class NoOptions(Options):
    """A metric without options."""


@dataclass(frozen=True)
class MetricSpec:
    """One registered metric (DESIGN.md section 6).

    ``needs`` are canonical fields of ``entity`` the metric cannot do without;
    ``date_field`` dates each row for period bucketing and ``--since``/``--until``.
    ``extra_columns`` are result columns beyond value/n/numerator/denominator.

    A metric is either a ROW FUNCTION plus a SHAPE (``rows`` gives one row per counted
    thing with ``_period``, the --by dimensions and the columns the shape reads;
    ``shape`` is an aggregator of :mod:`crmmetrics.metrics.shapes`, or a function of
    the options returning one when a variant changes it; ``finish`` optionally derives
    columns from the aggregated result and the rows), or a ``compute`` function with
    the ``Custom`` shape that builds its result itself. A metric with one variant that
    is not a shape (repeat_purchase_rate's lifetime rate) has both: its options → shape
    function returns ``Custom()`` for that variant, and then ``compute`` runs instead of
    rows → aggregate. :meth:`run` runs whichever the options in force pick.
    """

    name: str
    title: str
    family: str
    description: str
    formula: str
    entity: str
    needs: tuple[str, ...]
    unit: str
    better: str  # higher | lower | none
    period_kind: str
    date_field: str
    compute: Callable[[MetricContext], MetricOutput] | None = None
    options: type[Options] = NoOptions
    shape: ShapeOrFactory = Custom()
    rows: Callable[[MetricContext], pd.DataFrame] | None = None
    finish: Callable[[MetricContext, pd.DataFrame, pd.DataFrame], pd.DataFrame] | None = None
    extra_columns: tuple[str, ...] = ()
    edge_rules: tuple[str, ...] = ()
    requires_options: tuple[str, ...] = field(default=())  # options with no safe default
    # entity → fields read when the config maps them (the metric's own entity included),
    # e.g. deals.lead_id to derive a lead's conversion when leads.converted_at is absent.
    optional: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # True: the metric may run without a source for ``entity`` when one of ``optional``'s
    # other entities is configured (MRR from subscriptions alone, customers absent).
    entity_optional: bool = False
    # what dates the rows, when it is not simply ``date_field`` (shown by explain and docs)
    dated_by: str = ""
    # other entities whose own fields may be --by dimensions, read per row of that entity
    # (subscription metrics by the plan of each subscription, not the customer's current plan)
    by_from: tuple[str, ...] = ()
    # fields of the own entity that only some option values need (read only then)
    option_needs: Callable[[Any], tuple[str, ...]] | None = None

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name) or "__" in self.name:
            raise ValueError(f"metric name {self.name!r} is not snake_case")
        if self.unit not in UNITS:
            raise ValueError(f"{self.name}: unknown unit {self.unit!r}")
        if self.period_kind not in PERIOD_KINDS:
            raise ValueError(f"{self.name}: unknown period kind {self.period_kind!r}")
        if isinstance(self.shape, Custom):
            ok = self.compute is not None and self.rows is None and self.finish is None
        elif isinstance(self.shape, Shape):
            ok = self.rows is not None and self.compute is None
        else:  # options → shape: rows for the aggregated variants, compute for a variant whose shape is Custom
            ok = self.rows is not None
        if not ok:
            raise ValueError(f"{self.name}: give rows= and an aggregating shape=, compute= with the Custom shape, "
                             "or rows= and an options → shape function (plus compute= for the variants it makes Custom)")

    def shape_in_force(self, options: Options | None = None) -> Shape | None:
        """The aggregator for ``options`` (the defaults when None); None when the defaults cannot be built."""
        if isinstance(self.shape, Shape):
            return self.shape
        if options is None:
            try:
                options = self.options()
            except ValueError:  # an option without a default
                return None
        return shape_for(self.shape, options)

    def shape_label(self, options: Options | None = None) -> str:
        """The shape's name for `explain` and the docs (``ratio``, ``mean``, ``count``, ``sum``, ``custom``)."""
        shape = self.shape_in_force(options)
        return shape.label if shape is not None else "depends on the options"

    def run(self, ctx: MetricContext) -> MetricOutput:
        """Compute the metric: rows → the shape's aggregator → finish, or the Custom compute function."""
        from crmmetrics.metrics.context import MetricOutput

        shape = shape_for(self.shape, ctx.options)
        if isinstance(shape, Custom):
            if self.compute is None:
                raise ValueError(f"{self.name}: its options pick the Custom shape but it has no compute function")  # a bug
            return self.compute(ctx)
        assert self.rows is not None  # __post_init__ guarantees it
        rows = self.rows(ctx)
        out = shape.aggregate(ctx, rows)
        if self.finish is not None:
            out = self.finish(ctx, out, rows)
        return MetricOutput(out, dict(ctx.in_force))

    def option_rows(self) -> list[tuple[str, str, str]]:
        """(name, default, description) for every option, for `explain` and docs."""
        rows = []
        for name, info in self.options.model_fields.items():
            default = "required" if info.is_required() else repr(info.get_default(call_default_factory=True))
            rows.append((name, default, info.description or ""))
        return rows


REGISTRY: dict[str, MetricSpec] = {}


def register(spec: MetricSpec) -> MetricSpec:
    """Add ``spec`` to the registry (a duplicate name is a programming error)."""
    if spec.name in REGISTRY:
        raise ValueError(f"metric {spec.name!r} registered twice")
    REGISTRY[spec.name] = spec
    return spec


def family_module(spec: MetricSpec) -> str:
    """The family module a metric belongs to: the one defining its compute function.

    Declared by the spec itself (no stack inspection of the caller of :func:`register`).
    """
    return getattr(spec.compute or spec.rows, "__module__", "").rsplit(".", 1)[-1]


def all_metrics() -> dict[str, MetricSpec]:
    """Every registered metric, families loaded: in FAMILY_MODULES order, then in the
    order each module registers them (stable whatever was imported first)."""
    _load_families()
    rank = {m: i for i, m in enumerate(FAMILY_MODULES)}
    return dict(sorted(REGISTRY.items(), key=lambda kv: rank.get(family_module(kv[1]), len(rank))))


def get_metric(name: str) -> MetricSpec:
    """The metric called ``name``; a UsageError with close matches otherwise.

    Imports only the family module that defines ``name`` (``metrics/catalog.py`` knows it
    without importing any), so ``compute nps`` does not pay for the other families; an
    unknown name (or one the catalog has not caught up with) loads them all.
    """
    if name not in REGISTRY:
        from crmmetrics.metrics.catalog import FAMILIES

        family = FAMILIES.get(name)
        if family is not None:
            import_present("crmmetrics.metrics", (family,))
    if name in REGISTRY:
        return REGISTRY[name]
    specs = all_metrics()
    if name in specs:
        return specs[name]
    close = difflib.get_close_matches(name, list(specs), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "run `crmmetrics metrics` for the list"
    raise UsageError(f"unknown metric {name!r}", hint=hint)


# Family modules register their metrics when imported; one not written yet is skipped.
FAMILY_MODULES = ("survey", "sales", "leads", "subscription", "acquisition", "orders", "support", "success")


def _load_families() -> None:
    import_present("crmmetrics.metrics", FAMILY_MODULES)


def import_present(package: str, names: tuple[str, ...]) -> None:
    """Import ``package.name`` for each name whose module exists (registration by import)."""
    import importlib

    for mod in names:
        try:
            importlib.import_module(f"{package}.{mod}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{package}.{mod}":
                raise  # a missing dependency inside an existing module is a real error


def describe_options(spec: MetricSpec, values: dict[str, Any]) -> list[str]:
    """``name = value`` lines for the options in force (for explain and -v)."""
    return [f"{k} = {v!r}" for k, v in values.items()]
