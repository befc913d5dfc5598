"""The config file: YAML with line numbers → validated pydantic models → JSON Schema.

Every problem is reported as ``FILE:LINE: key.path: message`` (exit 78), unknown keys
with a close-match hint. Paths in ``sources`` are relative to the config file, so a
cron job started from ``$HOME`` reads the same files as the analyst did.
"""

from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from crmmetrics.errors import ConfigError
from crmmetrics.periods import GRAINS, WEEKDAYS
from crmmetrics.schema import ENTITIES

NULLABLE_SECTIONS = ("report", "metrics", "analyses", "thresholds", "business_hours", "checks", "goals")
DIMENSION_RE = re.compile(r"^[a-z][a-z0-9_]*$")
Scalar = Union[str, int, float, bool, None]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CsvOptions(_Strict):
    """How to read a delimited text source. Unset options are detected from a sample."""

    delimiter: str | None = Field(None, description='Field separator: ",", ";", "\\t", "|", or "whitespace" (runs of blanks). Detected when unset.')
    encoding: str | None = Field(None, description="Text encoding (utf-8, utf-8-sig, utf-16, cp1254, latin-1, ...). Detected when unset: BOM, then UTF-8, then cp1254.")
    decimal: str = Field(".", description='Decimal mark of numbers: "." or ",".')
    thousands: str | None = Field(None, description='Thousands separator; default "," when decimal is "." and "." when decimal is ",". Use "" for none.')
    header: bool = Field(True, description="Whether the first line holds column names. Without one, map fields by 1-based column position.")
    quotechar: str = Field('"', description="Quote character.")
    null_values: list[str] = Field(default_factory=lambda: ["", "NA", "N/A", "null", "NULL", "None", "-", "?", "#N/A"],
                                   description="Cell texts that mean 'no value'. The default list applies to numbers, dates and yes/no "
                                               "fields only (a region 'NA' stays 'NA'); a list set here applies to every column.")
    locale: Literal["tr"] | None = Field(None, description="Language of the text values: 'tr' matches values: maps with Turkish "
                                                           "case rules (I/ı, İ/i). Also used when the file is detected as cp1254.")

    @field_validator("decimal")
    @classmethod
    def _decimal(cls, v: str) -> str:
        if v not in {".", ","}:
            raise ValueError('must be "." or ","')
        return v

    # The CSV readers (pyarrow, csv) take one character; a longer string would be cut or
    # crash the reader far from the config line, so it is refused here (exit 78).
    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, v: str | None) -> str | None:
        if v is None or v in {"whitespace", "tab", "\\t"}:
            return v
        if len(v) != 1 or v in "\r\n":
            raise ValueError('must be one character (",", ";", "\\t", "|") or "whitespace"')
        return v

    @field_validator("quotechar")
    @classmethod
    def _quotechar(cls, v: str) -> str:
        if len(v) != 1 or v in "\r\n":
            raise ValueError("must be exactly one character, e.g. '\"' or \"'\"")
        return v

    @model_validator(mode="after")
    def _separators_differ(self) -> CsvOptions:
        if self.thousands is not None and self.thousands == self.decimal:
            raise ValueError(f"thousands and decimal are both {self.decimal!r}: $1.5 would read 15; set them apart")
        return self


class DateOptions(_Strict):
    """How to read dates of this source."""

    format: str | None = Field(None, description="An explicit strftime format such as %d.%m.%Y %H:%M; when set, nothing else is tried.")
    dayfirst: bool | None = Field(None, description="Read 03/04/2026 as 3 April (true) or March 4 (false). Unset: inferred per column; dd.mm.yyyy is always day-first.")
    excel_serials: bool = Field(False, description="Read plain numbers in a text date column as Excel serial days (46348 = 2026-11-22). "
                                                   "Off by default: a text 2026 is not 1905-07-18. Numeric Excel cells are always serials.")


def _source_extras() -> dict[str, Any]:
    """Source options presets need (multi-row headers, line items, the export's zone)."""
    return {
        "header_rows": (int, Field(1, ge=1, le=10, description="Header rows at the top (SurveyMonkey 2, Qualtrics 3); names come from the first, the others are skipped.")),
        "line_items": (bool, Field(False, description="Rows sharing the entity key are line items of one record (Shopify, message-level Intercom): the first row is kept and carries the record's fields.")),
        "timezone": (str | None, Field(None, description="IANA zone the export writes naive timestamps in (Zendesk: the account's zone) when it is not the reporting zone.")),
        "duration_unit": (Literal["seconds", "minutes", "hours"], Field("minutes", description="Unit of plain numbers in the duration fields (*_minutes); HH:MM:SS text is always read as hours:minutes:seconds.")),
    }


@lru_cache(maxsize=None)
def source_model(entity_name: str) -> type[BaseModel]:
    """The model of one source of ``entity_name`` (``DealsSource``), built on first use:
    a config names a few of the ten entities, and each model costs a few ms to build."""
    ent = ENTITIES[entity_name]
    title = "".join(p.capitalize() for p in entity_name.split("_"))
    field_defs: dict[str, Any] = {
        f.name: (str | int | None, Field(None, description=f"{f.description} ({f.type.value}). A column name, or a 1-based position for files without a header."))
        for f in ent.fields
    }
    fields_model = create_model(
        f"{title}Fields",
        __config__=ConfigDict(extra="allow", json_schema_extra={"additionalProperties": {"type": ["string", "integer"]}}),
        **field_defs,
    )
    return create_model(
        f"{title}Source",
        __config__=ConfigDict(extra="forbid"),
        __doc__=f"One export feeding {entity_name}.",
        path=(str, Field(..., description='File path relative to this config, a glob, or "-" for stdin.')),
        preset=(str | None, Field(None, description="A vendor export preset (`crmmetrics presets` lists them): its column mapping, value maps and options, under what you write here.")),
        sheet=(str | int | None, Field(None, description="Excel sheet name, or 0-based index. Default: the first sheet.")),
        format=(Literal["csv", "xlsx", "json", "ndjson", "parquet"] | None, Field(None, description="Force the reader (stdin is detected: Excel by its bytes, JSON by a leading [ or {; Parquet on stdin needs format: parquet).")),
        **_source_extras(),
        csv=(CsvOptions, Field(default_factory=CsvOptions, description="Delimited-text options.")),
        dates=(DateOptions, Field(default_factory=DateOptions, description="Date parsing options.")),
        constants=(dict[str, Scalar], Field(default_factory=dict, description="Fields with one value for every row, e.g. survey_type: nps.")),
        fields=(fields_model, Field(..., description="Canonical field → source column. Other keys become --by dimensions.")),
        values=(dict[str, dict[str, Scalar]], Field(default_factory=dict, description='Raw → canonical value maps per field; "*" is the default for unlisted values.')),
        max_age=(str | float | None, Field(None, description=f"`crmmetrics check` is CRIT when this source's newest {ENTITIES[entity_name].date_field or 'dated'} row "
                                           "is older than this at the as-of instant, e.g. 36h or 7d (a bare number is days).")),
    )


# A threshold in the metric's display unit: 30, 80%, 48h, -10%, 5pp (crmmetrics/checks/values.py).
UnitValue = Union[float, str]
UNIT_VALUE_HELP = " In the metric's unit: 30, 80% (a bare number on a percent metric is a fraction 0-1), 48h, 7d."


class Threshold(_Strict):
    """Critical bounds for `crmmetrics check`: a value below min or above max is CRIT."""

    min: UnitValue | None = Field(None, description="CRIT when the value is below this." + UNIT_VALUE_HELP)
    max: UnitValue | None = Field(None, description="CRIT when the value is above this." + UNIT_VALUE_HELP)


class CheckLevel(_Strict):
    """The bounds of one level (warn or crit) of a check rule; which keys apply depends on the kind."""

    min: UnitValue | None = Field(None, description="static: fires when the value is below this." + UNIT_VALUE_HELP)
    max: UnitValue | None = Field(None, description="static: fires when the value is above this." + UNIT_VALUE_HELP)
    change: UnitValue | None = Field(None, description="change: fires on a change vs the previous complete period at least this large, "
                                     "signed: -10% (relative fall), +5pp (percentage points), -4h, or a bare number in the metric's unit.")
    z: float | None = Field(None, description="anomaly: fires when |z| (standard deviations from the trailing mean) reaches this.")


class CheckRule(_Strict):
    """One `crmmetrics check` rule on the latest complete period (or each segment of it)."""

    metric: str = Field(..., description="The metric checked.")
    kind: Literal["static", "change", "anomaly"] = Field("static", description="static bounds; change vs the previous complete period; "
                                                         "anomaly: z-score against the trailing complete periods.")
    name: str | None = Field(None, description="A label for output and monitoring (default METRIC_KIND).")
    warn: CheckLevel | None = Field(None, description="Bounds that give WARN.")
    crit: CheckLevel | None = Field(None, description="Bounds that give CRIT (checked first).")
    min_n: int = Field(1, ge=0, description="Fewer observations than this in a period → insufficient data, neither ok nor a breach.")
    by: list[str] = Field(default_factory=list, description="Evaluate each segment of these dimensions separately; a breach names the segment.")
    periods: int = Field(8, ge=3, le=520, description="anomaly: how many trailing complete periods form the baseline.")
    seasonality: Literal["none", "year"] = Field("none", description="anomaly: year compares year-over-year differences (same period last year).")
    direction: Literal["both", "up", "down"] = Field("both", description="anomaly: which side of the trailing mean fires.")


class Goal(_Strict):
    """A target for a metric by a date; progress is shown by compute, check and the report."""

    metric: str = Field(..., description="The metric the goal is on.")
    target: UnitValue = Field(..., description="The value to reach." + UNIT_VALUE_HELP)
    due: str = Field(..., description="The day the target should be reached by (YYYY-MM-DD).")
    start: str | None = Field(None, description="The day the goal was set (YYYY-MM-DD); default: the first period with a value.")
    baseline: UnitValue | None = Field(None, description="The value at start; default: the metric's value in the period holding start.")
    name: str | None = Field(None, description="A label for output (default: the metric).")


class BusinessHours(_Strict):
    """A named support schedule: weekly opening intervals in a time zone, minus holidays."""

    timezone: str | None = Field(None, description="IANA zone of the schedule (default: the reporting zone).")
    intervals: dict[Literal[WEEKDAYS], list[tuple[str, str]]] = Field(  # type: ignore[valid-type]
        ..., description='Opening hours per weekday, e.g. monday: [["09:00", "18:00"]]; a missing day is closed.')
    holidays: list[str] = Field(default_factory=list, description="Closed days, YYYY-MM-DD.")


class ReportDefaults(_Strict):
    """Defaults for `compute` when the flags are not given."""

    period: Literal["day", "week", "month", "quarter", "year", "all"] = Field("month", description="Period grain.")
    by: list[str] = Field(default_factory=list, description="Dimensions to group by.")
    metrics: list[str] = Field(default_factory=list, description="Metrics computed when none are named (default: every computable one).")
    csv_bom: bool = Field(False, description="CSV output starts with a UTF-8 byte-order mark (as --bom), so Excel on Turkish "
                          "Windows opens it as UTF-8 directly.")


class EngineSettings(_Strict):
    """Which engine computes `compute`, `check` and `report` (their `--engine` overrides the name)."""

    name: Literal["pandas", "dask"] = Field("pandas", description="pandas: one machine, every metric (the reference). dask: the survey and ticket metrics on a Dask cluster (pip install 'crmmetrics[dask]').")
    scheduler: str | None = Field(None, description="Dask scheduler address (tcp://HOST:8786); unset: a local cluster with one worker per core.")
    quantiles: Literal["exact", "approx"] = Field(
        "exact", description="Median and p90 of the duration and amount metrics on the Dask engine (--quantiles). exact: every measured "
        "value travels to the client, which needs memory for all the rows in range. approx: each partition sends a sketch "
        "per period × segment instead; median and p90 are within 1 % (relative) of the exact values, counts, sums and means "
        "stay exact. The pandas engine always computes them exactly (it holds every value anyway), so approx changes nothing there.")


def config_model() -> type[BaseModel]:
    """The top-level model as the JSON Schema shows it: each ``metrics.<name>`` typed by the
    metric's Options class and described by its title (imports every metric family).

    ``load_config`` validates with :func:`load_model` instead, which does not import them.
    """
    from crmmetrics.metrics.registry import all_metrics

    specs = all_metrics()
    return _top_model(
        {name: (spec.options | None, Field(None, description=spec.title)) for name, spec in specs.items()},
        {name: (Threshold | None, Field(None, description=spec.title)) for name, spec in specs.items()})


@lru_cache(maxsize=8)
def load_model(entities: frozenset[str] | None = None, analyses: bool = True, metrics: bool = True,
               thresholds: bool = True) -> type[BaseModel]:
    """The top-level model ``load_config`` validates with: the same keys as
    :func:`config_model`, metric names from ``metrics/catalog.py``, and each
    ``metrics.<name>`` section kept as written (any value) until
    :meth:`Config.check_metric_options` validates it against the metric's Options class.

    Why: loading a config must not import the metric families (docs/architecture.md).

    Only the sections a config writes need their models (issue #15: building all of them
    was a tenth of a second of every run): ``entities`` are the ``sources:`` keys that get
    a source model (None: all), and ``analyses`` False types each ``analyses.<name>`` as
    absent without importing the analysis modules. Every key stays a field, so a typo
    gets the same close-match hint. A config without a ``metrics:`` (``thresholds:``)
    section gets that section without fields (nothing to validate, and 66 fields less to
    build): read its entries with ``getattr(section, name, None)``.
    """
    from crmmetrics.metrics.catalog import UNITS

    return _top_model({name: (Any, Field(None)) for name in UNITS} if metrics else {},
                      {name: (Threshold | None, Field(None)) for name in UNITS} if thresholds else {}, entities, analyses)


def _top_model(metric_fields: dict[str, Any], threshold_fields: dict[str, Any], entities: frozenset[str] | None = None,
               analyses: bool = True) -> type[BaseModel]:
    """The whole config model around the given ``metrics:`` and ``thresholds:`` fields
    (``entities`` and ``analyses`` as in :func:`load_model`)."""
    metrics_model = create_model("MetricOptions", __config__=ConfigDict(extra="forbid"), **metric_fields)
    thresholds_model = create_model("Thresholds", __config__=ConfigDict(extra="forbid"), **threshold_fields)
    if analyses:
        from crmmetrics.analyses import all_analyses

        analysis_fields = {name: (spec.options | None, Field(None, description=spec.title)) for name, spec in all_analyses().items()}
    else:
        from crmmetrics.analyses import ANALYSIS_MODULES  # one module per analysis, named as it

        analysis_fields = {name: (None, Field(None)) for name in ANALYSIS_MODULES}
    analyses_model = create_model("AnalysisOptions", __config__=ConfigDict(extra="forbid"), **analysis_fields)
    sources_model = create_model(
        "Sources",
        __config__=ConfigDict(extra="forbid"),
        **{name: (list[source_model(name)] | None if entities is None or name in entities else None,  # type: ignore[misc]
                  Field(None, description=ENTITIES[name].description)) for name in ENTITIES},
    )
    return create_model(
        "CrmMetricsConfig",
        __config__=ConfigDict(extra="forbid", title="crmmetrics config"),
        version=(Literal[1], Field(..., description="Config format version.")),
        timezone=(str, Field("UTC", description="Reporting time zone (IANA name); naive timestamps are read in it.")),
        currency=(str | None, Field(None, description="Reporting currency label, e.g. TRY.")),
        fx_rates=(dict[Literal["USD", "EUR", "GBP", "TRY", "JPY"], Annotated[float, Field(gt=0, allow_inf_nan=False)]],
                  Field(default_factory=dict, description="Rates into the reporting currency, e.g. {EUR: 1.08, TRY: 0.029} with "
                        "currency: USD. A money column that mixes currency markers ($ € £ ₺/TL ¥) is converted with them "
                        "instead of failing; unmarked amounts are taken as the reporting currency.")),
        week_start=(Literal[WEEKDAYS], Field("monday", description="First day of a week period.")),  # type: ignore[valid-type]
        business_hours=(dict[str, BusinessHours], Field(default_factory=dict, description="Named business-hours schedules for duration metrics (option schedule).")),
        report=(ReportDefaults, Field(default_factory=ReportDefaults, description="Defaults for compute.")),
        engine=(EngineSettings | None, Field(None, description="The compute engine: pandas (default) or dask with a scheduler address.")),
        sources=(sources_model, Field(..., description="Where each entity's data comes from.")),
        metrics=(metrics_model, Field(default_factory=metrics_model, description="Per-metric options.")),
        analyses=(analyses_model, Field(default_factory=analyses_model, description="Per-analysis options (crmmetrics analyze).")),
        thresholds=(thresholds_model, Field(default_factory=thresholds_model, description="Critical bounds checked by `crmmetrics check` (the short form of checks:).")),
        checks=(list[CheckRule], Field(default_factory=list, description="Rules for `crmmetrics check`: static, change and anomaly, with warn and crit levels.")),
        goals=(list[Goal], Field(default_factory=list, description="Targets by a date; progress in compute, check and the report.")),
    )


def base_dir(path: Path | None) -> Path:
    """The folder relative source paths start from: the config file's, or the current one
    when the config is not a file in a folder (``-c <(...)`` is /dev/fd/63, a pipe)."""
    import os
    import stat

    if path is None or str(path).startswith(("/dev/", "/proc/")):
        return Path.cwd()
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return path.parent  # not there yet (init drafting a new config)
    return Path.cwd() if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) else path.parent


class Config:
    """A validated config plus where it came from (for relative paths and messages)."""

    def __init__(self, model: BaseModel, path: Path | None, lines: dict[tuple[Any, ...], int]) -> None:
        self.model = model
        self.path = path
        self.base_dir = base_dir(path)
        self.lines = lines
        # Filled while loading (crmmetrics/checks/rules.py): parsed check rules, goals
        # and source freshness limits, every value in the metric's stored unit.
        self.rules: list[Any] = []
        self.goals: list[Any] = []
        self.freshness: list[Any] = []
        self.data: Any = None  # the parsed YAML, set by config_from_data
        self._metric_options: dict[str, BaseModel] | None = None  # set by check_metric_options

    @property
    def timezone(self) -> str:
        return self.model.timezone

    @property
    def week_start(self) -> str:
        return self.model.week_start

    def sources(self, entity: str) -> list[Any]:
        """The source models of ``entity`` (empty when not configured)."""
        return getattr(self.model.sources, entity) or []

    def configured_entities(self) -> list[str]:
        return [e for e in ENTITIES if self.sources(e)]

    def metric_options(self, name: str) -> BaseModel | None:
        """The options block the user wrote for ``name``, validated (None when absent).

        The first call validates every ``metrics:`` section (:meth:`check_metric_options`).
        """
        return self.check_metric_options().get(name)

    def check_metric_options(self) -> dict[str, BaseModel]:
        """Every ``metrics.<name>`` section validated against its metric's Options class.

        Done here, not in ``load_config``, because it imports the metric families; every
        run that plans metrics calls it first. A bad value is a ConfigError listing every
        problem as ``FILE:LINE: metrics.NAME.KEY: message`` (exit 78), the text
        ``load_config`` gave when it validated them itself.
        """
        if self._metric_options is None:
            from crmmetrics.metrics.catalog import UNITS
            from crmmetrics.metrics.registry import get_metric

            name = str(self.path) if self.path else "<config>"
            parsed: dict[str, BaseModel] = {}
            problems: list[str] = []
            # Only the families of the sections written are imported; UNITS is in
            # registry order, so problems are listed in the order they always were.
            for metric in UNITS:
                raw = getattr(self.model.metrics, metric, None)
                if raw is None:
                    continue
                spec = get_metric(metric)
                try:
                    parsed[metric] = spec.options.model_validate(raw)
                except ValidationError as exc:
                    problems += [_format_problem(name, ["metrics", metric, *err["loc"]], err, self.lines, spec.options, root=2)
                                 for err in exc.errors()]
            if problems:
                raise ConfigError("\n".join(problems))
            self._metric_options = parsed
        return self._metric_options

    def threshold(self, name: str) -> Threshold | None:
        return getattr(self.model.thresholds, name, None)

    def where(self, *path: Any) -> str:
        """``file:line`` of a key path, for messages."""
        from crmmetrics.yamlload import line_for

        line = line_for(tuple(path), self.lines)
        name = str(self.path) if self.path else "<config>"
        return f"{name}:{line}" if line else name


def find_config(path: str | Path | None) -> Path:
    """The config to use: the one named (-c or CRMMETRICS_CONFIG), else ./crmmetrics.yaml,
    else $XDG_CONFIG_HOME/crmmetrics/config.yaml (~/.config/crmmetrics/config.yaml).

    A file that was named explicitly must exist (load_config says so); discovery falls
    through to the next place.
    """
    import os

    if path is not None:
        return Path(path)
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    for candidate in (Path.cwd() / "crmmetrics.yaml", xdg / "crmmetrics" / "config.yaml"):
        if candidate.is_file():
            return candidate
    raise ConfigError("no config file: pass -c PATH, set CRMMETRICS_CONFIG, or create ./crmmetrics.yaml",
                      hint="config.example.yaml is a commented starting point")


def load_config(path: str | Path) -> Config:
    """Read and validate a config file. Raises ConfigError listing every problem."""
    import yaml

    from crmmetrics.yamlload import YamlRefused, load_yaml

    p = Path(path)
    # Any readable file will do, a pipe included (-c <(sops -d crm.yaml)); only a missing
    # path or a folder is refused here.
    if not p.exists():
        raise ConfigError(f"config file not found: {p}", hint="pass -c PATH or set CRMMETRICS_CONFIG")
    if p.is_dir():
        raise ConfigError(f"config path is a folder, not a file: {p}", hint="pass -c FOLDER/crmmetrics.yaml")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: config is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config: {exc.strerror}") from None
    try:
        data, lines = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if isinstance(exc, YamlRefused):  # well-formed, but not usable: say why, not "malformed"
            raise ConfigError(f"{p}{line}: {problem}", hint=exc.hint) from None
        raise ConfigError(f"{p}{line}: malformed YAML: {problem}", hint="check indentation and quoting around this line") from None
    return config_from_data(data, lines, p)


def config_from_data(data: Any, lines: dict[tuple[Any, ...], int], path: Path | None = None,
                     read_headers_of: dict[str, tuple[list[str], str]] | None = None) -> Config:
    """Validate already-parsed config data (used by load_config and by tests).

    ``read_headers_of`` (entity → headers, shown name): match that entity's preset against
    these headers, not its config path's (crmmetrics.presets.inputs, for --input and stdin).
    """
    name = str(path) if path else "<config>"
    if not isinstance(data, dict):
        raise ConfigError(f"{name}:1: the config must be a mapping with version, sources, ...")
    single = {k for k, v in (data.get("sources") or {}).items() if isinstance(v, dict)} if isinstance(data.get("sources"), dict) else set()
    # A section holding only comments loads as None: treat it as absent.
    normalised = {k: v for k, v in data.items() if not (v is None and k in NULLABLE_SECTIONS)}
    if isinstance(data.get("sources"), dict):
        from crmmetrics.presets import expand_sources

        expanded = expand_sources(data["sources"], base_dir(path), read_headers_of)
        normalised["sources"] = {k: ([v] if isinstance(v, dict) else v) for k, v in expanded.items()}
    sources = normalised.get("sources")
    model_cls = load_model(frozenset(sources) & set(ENTITIES) if isinstance(sources, dict) else frozenset(),
                           analyses=normalised.get("analyses") is not None, metrics=normalised.get("metrics") is not None,
                           thresholds=normalised.get("thresholds") is not None)
    problems: list[str] = []
    try:
        model = model_cls.model_validate(normalised)
    except ValidationError as exc:
        for err in exc.errors():
            loc = list(err["loc"])
            if len(loc) >= 3 and loc[0] == "sources" and loc[1] in single and loc[2] == 0:
                del loc[2]  # the user wrote one mapping, not a list
            problems.append(_format_problem(name, loc, err, lines, model_cls))
        raise ConfigError("\n".join(problems)) from None
    cfg = Config(model, path, lines)
    cfg.data = data  # kept so a run can match presets again against its --input (presets.inputs)
    problems = _domain_checks(cfg, single)
    if problems:
        raise ConfigError("\n".join(problems))
    return cfg


def _format_problem(name: str, loc: list[Any], err: dict[str, Any], lines: dict[tuple[Any, ...], int], model_cls: type[BaseModel],
                    root: int = 0) -> str:
    """One ``FILE:LINE: key.path: message`` line; ``model_cls`` is the model at ``loc[root:]``
    (close-match hints for unknown keys come from it)."""
    from crmmetrics.yamlload import line_for

    line = line_for(tuple(loc), lines)
    where = f"{name}:{line}" if line else name
    dotted = ".".join(str(x) for x in loc) or "(top)"
    if err["type"] == "extra_forbidden":
        allowed = _allowed_keys(model_cls, loc[root:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else (f"; allowed: {', '.join(allowed)}" if allowed and len(allowed) <= 12 else "")
        return f"{where}: {dotted}: unknown key{hint}"
    msg = err["msg"]
    if err["type"] == "missing":
        msg = "required key is missing"
    elif "input" in err and err["type"] not in {"missing"}:
        msg = f"{msg} (got {err['input']!r})" if not isinstance(err["input"], dict | list) else msg
    return f"{where}: {dotted}: {msg}"


def _allowed_keys(model_cls: type[BaseModel], loc: list[Any]) -> list[str]:
    """Keys accepted at ``loc`` (walking the model's annotations)."""
    import typing

    current: Any = model_cls
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        info = current.model_fields.get(part)
        if info is None:
            return []
        current = info.annotation
        # unwrap Optional[...] / list[...]
        for _ in range(3):
            args = [a for a in typing.get_args(current) if a is not type(None)]
            if typing.get_origin(current) in (Union, list, typing.Union) or str(typing.get_origin(current)) == "<class 'types.UnionType'>":
                current = args[0] if args else current
            else:
                break
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unknown_zone(name: str) -> bool:
    """``name`` is not an IANA time zone this machine knows."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return True
    return False


def _domain_checks(cfg: Config, single: set[str]) -> list[str]:
    """Checks a JSON Schema cannot express: time zone, field names, values maps."""

    problems: list[str] = []
    if _unknown_zone(cfg.timezone):
        problems.append(f"{cfg.where('timezone')}: timezone: unknown time zone {cfg.timezone!r} (use an IANA name such as Europe/Istanbul or UTC)")
    problems += _check_schedules(cfg)
    if _has_checks(cfg):  # nothing to parse otherwise: rules, goals and freshness stay empty
        from crmmetrics.checks.rules import parse_checks

        cfg.rules, cfg.goals, cfg.freshness, check_problems = parse_checks(cfg, single)
        problems += check_problems
    problems += _check_report_metrics(cfg)
    for ent_name in ENTITIES:
        for idx, src in enumerate(cfg.sources(ent_name)):
            base: tuple[Any, ...] = ("sources", ent_name) if ent_name in single else ("sources", ent_name, idx)
            problems += _check_source(cfg, ent_name, base, src)
    return problems


def _has_checks(cfg: Config) -> bool:
    """The config sets something ``crmmetrics check`` evaluates: checks, goals, a threshold
    or a source's max_age (most configs set none, and parsing imports crmmetrics.checks)."""
    from crmmetrics.metrics.catalog import UNITS

    model = cfg.model
    return bool(model.checks or model.goals or any(getattr(model.thresholds, name, None) is not None for name in UNITS)
                or any(src.max_age is not None for ent in ENTITIES for src in cfg.sources(ent)))


def _check_report_metrics(cfg: Config) -> list[str]:
    """Every name under report.metrics is a metric (with the nearest name as a hint; names
    from metrics/catalog.py, so loading a config imports no metric family)."""
    from crmmetrics.metrics.catalog import UNITS

    problems: list[str] = []
    for i, name in enumerate(cfg.model.report.metrics):
        if name not in UNITS:
            close = difflib.get_close_matches(name, list(UNITS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"{cfg.where('report', 'metrics', i)}: report.metrics.{i}: unknown metric {name!r}{hint}")
    return problems


def _check_source(cfg: Config, ent_name: str, base: tuple[Any, ...], src: Any) -> list[str]:
    """One source at ``base``: its time zone, field and dimension names, constants, values maps and
    (without a header row) column positions."""
    canonical = ENTITIES[ent_name].field_names
    dotted = ".".join(str(x) for x in base)
    mapped = {k for k, v in src.fields.model_dump().items() if v is not None}
    problems: list[str] = []
    if src.timezone and _unknown_zone(src.timezone):
        problems.append(f"{cfg.where(*base, 'timezone')}: {dotted}.timezone: unknown time zone {src.timezone!r} (use an IANA name such as America/Denver)")
    for key in sorted(mapped - set(canonical)):
        close = difflib.get_close_matches(key, canonical, n=1, cutoff=0.8)
        if close:
            problems.append(f"{cfg.where(*base, 'fields', key)}: {dotted}.fields.{key}: not a field of {ent_name}; did you mean {close[0]!r}? (other names become --by dimensions)")
        elif not DIMENSION_RE.match(key):
            problems.append(f"{cfg.where(*base, 'fields', key)}: {dotted}.fields.{key}: dimension names must be lower_snake_case")
    for key in src.constants:
        if key not in canonical and not DIMENSION_RE.match(key):
            problems.append(f"{cfg.where(*base, 'constants', key)}: {dotted}.constants.{key}: not a field of {ent_name}")
    for key in src.values:
        if key not in mapped and key not in src.constants:
            problems.append(f"{cfg.where(*base, 'values', key)}: {dotted}.values.{key}: no such mapped field (map it under fields first)")
    if src.path != "-" and not src.csv.header:
        for key, col in src.fields.model_dump().items():
            if col is not None and not isinstance(col, int):
                problems.append(f"{cfg.where(*base, 'fields', key)}: {dotted}.fields.{key}: with csv.header false, map fields by 1-based column position")
    return problems


def _check_schedules(cfg: Config) -> list[str]:
    """Every business_hours schedule compiles; every `schedule` option names one (read from
    the sections as written: they are validated later, see Config.check_metric_options)."""
    problems: list[str] = []
    names = list(cfg.model.business_hours)
    if names:  # most configs have no schedules: then business_hours is not imported
        from crmmetrics.domain.business_hours import compile_schedule
    for name, bh in cfg.model.business_hours.items():
        try:
            compile_schedule(name, bh, cfg.timezone, cfg.where)
        except ConfigError as exc:
            problems.append(exc.message)
    for metric, raw in cfg.model.metrics:
        chosen = raw.get("schedule") if isinstance(raw, dict) else None
        if isinstance(chosen, str) and chosen not in names:
            close = difflib.get_close_matches(chosen, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; defined: {', '.join(names) or 'none (add business_hours:)'}"
            problems.append(f"{cfg.where('metrics', metric, 'schedule')}: metrics.{metric}.schedule: no business_hours schedule named {chosen!r}{hint}")
    return problems


def json_schema() -> dict[str, Any]:
    """The JSON Schema (Draft 2020-12 subset editors accept) of the config file.

    ``sources.<entity>`` accepts one source or a list; the model stores lists only.
    """
    schema = config_model().model_json_schema()
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema["title"] = "crmmetrics config"
    for key in NULLABLE_SECTIONS:
        prop = schema["properties"][key]
        schema["properties"][key] = {"anyOf": [{k: v for k, v in prop.items() if k not in ("description", "title")}, {"type": "null"}],
                                     "description": prop.get("description", "")}
    props = schema["$defs"]["Sources"]["properties"]
    for name, prop in props.items():
        ref = {"$ref": f"#/$defs/{source_model(name).__name__}"}
        props[name] = {"anyOf": [ref, {"type": "array", "items": ref}, {"type": "null"}], "default": None, "description": prop.get("description", "")}
    return schema


def json_schema_text() -> str:
    """The schema as the committed config.schema.json holds it."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
