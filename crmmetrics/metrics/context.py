"""What a metric's compute function receives, and what it returns.

A metric never reads files or prints: it gets typed frames and the run's period
settings through :class:`MetricContext`, and returns a :class:`MetricOutput` whose
rows follow the result contract (DESIGN.md section 7).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmmetrics.errors import Issue, Level

if TYPE_CHECKING:
    import pandas as pd

    from crmmetrics.config import Config
    from crmmetrics.dataset import Dataset
    from crmmetrics.grid import Grid
    from crmmetrics.metrics.registry import MetricSpec, Options

PERIOD_COL = "_period"


@dataclass
class MetricContext:
    """Inputs of one metric run.

    ``frame`` is the metric's entity with the ``--by`` dimensions attached (joined from
    customers where needed). Periods are bucket starts as naive local datetimes;
    ``since``/``until`` are naive local too (half-open).
    """

    spec: MetricSpec
    options: Options
    frame: pd.DataFrame
    grain: str
    by: list[str]
    timezone: str
    week_start: str
    as_of: dt.datetime
    since: dt.datetime | None
    until: dt.datetime | None
    dataset: Dataset
    config: Config | None = None
    issues: list[Issue] = field(default_factory=list)
    grid: Grid = None  # type: ignore[assignment]  # set by the engine; built from the fields above when absent
    partial: Any = None  # a metrics.partial.Partials on the Dask engine; None on the pandas engine
    in_force: dict[str, Any] = field(default_factory=dict)  # options a row function resolved (shown with the result)

    def __post_init__(self) -> None:
        if self.grid is None:
            from crmmetrics.grid import Grid

            self.grid = Grid(self.grain, self.week_start, self.since, self.until, self.as_of)

    def other(self, entity: str) -> pd.DataFrame | None:
        """The typed frame of another entity listed in the spec's ``optional`` (None when the
        config has no source for it); every field listed there is a column, all-null when unmapped."""
        return self.dataset.frames.get(entity)

    def mapped(self, fieldname: str, entity: str | None = None) -> bool:
        """Whether the config maps ``entity.fieldname`` (default: the metric's own entity).

        A declared field is always a column (all-null when unmapped), so ask this only
        where "not mapped" must differ from "mapped but blank", e.g. a message saying
        what to map; otherwise treat blanks and absence alike (``frame[f].notna()``).
        """
        return fieldname in self.mapped_fields(entity)

    def _undated(self, df: pd.DataFrame, date_field: str) -> bool:
        """True when ``date_field`` is the all-null column of a declared date no entity of
        this metric maps (a dateless snapshot, -p all only), not a column of blank dates.
        Internal columns (``_end``) and empty frames are always dated."""
        if date_field.startswith("_") or not len(df) or df[date_field].notna().any():
            return False
        return not any(self.mapped(date_field, e) for e in (self.spec.entity, *self.spec.optional))

    def mapped_fields(self, entity: str | None = None) -> set[str]:
        """Every field of ``entity`` (default: the metric's own) the config maps."""
        return self.dataset.mapped_fields(entity or self.spec.entity)

    def issue(self, code: str, message: str, level: Level = Level.WARNING, **kw: Any) -> None:
        """Record a metric-level issue (not tied to one row)."""
        self.issues.append(Issue(level, code, message, metric=self.spec.name, entity=self.spec.entity, **kw))

    def row_issues(self, rows: pd.DataFrame, code: str, message: str, fieldname: str | None = None,
                   level: Level = Level.WARNING) -> None:
        """Record one issue per offending row, located in its source file."""
        self.dataset.row_issues(rows, code, message, entity=self.spec.entity, fieldname=fieldname, metric=self.spec.name, level=level)

    def local(self, column: pd.Series) -> pd.Series:
        """Tz-aware timestamps → naive wall-clock in the reporting zone."""
        return column.dt.tz_convert(self.timezone).dt.tz_localize(None)

    def flow_rows(self, frame: pd.DataFrame | None = None, date_field: str | None = None, where: pd.Series | None = None) -> pd.DataFrame:
        """Rows dated inside [since, until) and before the as-of instant, with their period in ``_period``.

        Rows without a date are excluded and reported once (never silently); so are rows
        whose date (when it is not the entity's own date, which the engine already cut)
        falls after the as-of instant. ``where``: only these rows of ``frame`` are
        candidates, exactly as if ``frame[where]`` were passed, with one copy of the rows
        kept instead of two (the 10M-ticket peak).
        """
        import pandas as pd

        df = self.frame if frame is None else frame
        date_field = date_field or self.spec.date_field
        # The undated check reads the candidates only (their date column, not their rows).
        if date_field not in df or self._undated(df if where is None else df[[date_field]][where], date_field):
            # Not dated (the date field is not mapped: a dateless snapshot, -p all only).
            out = df.copy() if where is None else df[where]
            out[PERIOD_COL] = pd.Timestamp(self.grid.all_start) if self.grain == "all" else pd.NaT
            return out
        local = self.local(df[date_field])
        missing = local.isna() if where is None else local.isna() & where
        if missing.any():
            self.issue("missing_date", f"{int(missing.sum())} rows without {date_field} excluded", count=int(missing.sum()), field=date_field)
        keep = ~missing if where is None else where & ~missing
        later = keep & (local >= self.grid.horizon)
        if later.any():
            self.issue("after_as_of", f"{int(later.sum())} rows with {date_field} after the as-of day {self.grid.as_of_day:%Y-%m-%d} excluded",
                       Level.INFO, count=int(later.sum()), field=date_field)
        keep &= ~later
        if self.since is not None:
            keep &= local >= self.since
        if self.until is not None:
            keep &= local < self.until
        local = local[keep]  # the whole column goes before the rows are copied (the 10M-row peak)
        out = df[keep]  # boolean indexing already builds a new frame (copy-on-write): no second copy
        out[PERIOD_COL] = self.grid.bucket(local)
        return out


@dataclass
class MetricOutput:
    """Result rows of one metric: a frame with ``_period`` and dimension columns,
    ``value``, ``n``, ``numerator``, ``denominator``, ``unit`` and any extra columns."""

    rows: pd.DataFrame
    options_in_force: dict[str, Any] = field(default_factory=dict)
