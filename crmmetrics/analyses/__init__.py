"""Per-customer analyses (RFM, BTYD summary, cohorts, MRR movements, health, ...).

An analysis returns whole tables rather than one value per period, so it has its own
small registry and its own command, ``crmmetrics analyze NAME``. Like metrics, an
analysis never reads files or prints: it gets typed frames through
:class:`AnalysisContext` and returns named pandas tables.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmmetrics.errors import Issue, Level, UsageError
from crmmetrics.metrics.registry import NoOptions, Options, import_present

if TYPE_CHECKING:
    import pandas as pd

    from crmmetrics.config import Config
    from crmmetrics.dataset import Dataset
    from crmmetrics.grid import Grid

# Modules that register analyses when imported; a module not written yet is skipped.
ANALYSIS_MODULES = ("rfm", "btyd", "cohorts", "mrr_movements", "health")


@dataclass(frozen=True)
class AnalysisSpec:
    """One registered analysis. ``needs`` maps entity → canonical fields it requires."""

    name: str
    title: str
    description: str
    needs: dict[str, tuple[str, ...]]
    compute: Callable[[AnalysisContext], AnalysisOutput]
    options: type[Options] = NoOptions
    optional: dict[str, tuple[str, ...]] = field(default_factory=dict)  # read when mapped
    edge_rules: tuple[str, ...] = ()


@dataclass
class AnalysisContext:
    """Inputs of one analysis run: typed frames of every entity it needs, and settings."""

    spec: AnalysisSpec
    options: Options
    frames: dict[str, pd.DataFrame]
    dataset: Dataset
    config: Config
    grain: str
    as_of: dt.datetime | None
    since: dt.datetime | None
    until: dt.datetime | None
    issues: list[Issue] = field(default_factory=list)
    grid: Grid = None  # type: ignore[assignment]  # the run's period grid and as-of instant (set by the engine)

    def __post_init__(self) -> None:
        if self.grid is None:
            from crmmetrics.grid import build_grid

            now = dt.datetime.now()
            self.grid = build_grid(self.grain, self.config.week_start if self.config else "monday", self.since, self.until, self.as_of, now)

    @property
    def timezone(self) -> str:
        return self.config.timezone

    def issue(self, code: str, message: str, level: Level = Level.WARNING, **kw: Any) -> None:
        self.issues.append(Issue(level, code, message, metric=self.spec.name, **kw))

    def row_issues(self, entity: str, rows: pd.DataFrame, code: str, message: str, fieldname: str | None = None) -> None:
        self.dataset.row_issues(rows, code, message, entity=entity, fieldname=fieldname, metric=self.spec.name)

    def local(self, column: pd.Series) -> pd.Series:
        """Tz-aware timestamps → naive wall-clock in the reporting zone."""
        return column.dt.tz_convert(self.timezone).dt.tz_localize(None)


@dataclass
class AnalysisOutput:
    """Named tables, the main one first; ``notes`` are shown on stderr (e.g. cut points)."""

    tables: dict[str, pd.DataFrame]
    notes: list[str] = field(default_factory=list)
    options_in_force: dict[str, Any] = field(default_factory=dict)


ANALYSES: dict[str, AnalysisSpec] = {}


def register_analysis(spec: AnalysisSpec) -> AnalysisSpec:
    """Add ``spec`` to the registry."""
    if spec.name in ANALYSES:
        raise ValueError(f"analysis {spec.name!r} registered twice")
    ANALYSES[spec.name] = spec
    return spec


def all_analyses() -> dict[str, AnalysisSpec]:
    """Every registered analysis (modules imported on first call)."""
    import_present("crmmetrics.analyses", ANALYSIS_MODULES)
    return ANALYSES


def get_analysis(name: str) -> AnalysisSpec:
    """The analysis called ``name``; UsageError with close matches otherwise."""
    specs = all_analyses()
    if name in specs:
        return specs[name]
    close = difflib.get_close_matches(name, list(specs), n=2)
    hint = f"did you mean {', '.join(close)}?" if close else f"available: {', '.join(specs) or 'none'}"
    raise UsageError(f"unknown analysis {name!r}", hint=hint)
