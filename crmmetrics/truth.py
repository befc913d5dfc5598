"""What `compute` would do with a config, found by doing it: which metrics it computes,
why each other one is skipped, and the issues it reports.

`metrics -c` and `validate` used to judge metrics by the mapped field names alone and
validate read the data without running the metrics, so they called metrics computable
that compute then refused and said "no issues" where compute reported thousands (issue
#12). Both now take their answers from :func:`dry_run`, which runs compute's own path
(same plan, same defaults, same row checks), so the counts are compute's by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmmetrics.errors import ConfigError, CrmMetricsError, Issue

if TYPE_CHECKING:
    from crmmetrics.config import Config
    from crmmetrics.dataset import InputFact


@dataclass
class DryRun:
    """The outcome of running compute with the config's defaults."""

    status: dict[str, str]  # metric → "yes" or "no: why, and what to map"
    issues: list[Issue] = field(default_factory=list)
    inputs: list[InputFact] = field(default_factory=list)
    data_error: str | None = None  # why the data could not be read (metrics -c falls back to the mapping)


def static_status(config: Config, name: str) -> str:
    """The mapping-only verdict for one metric (fields, sources, options)."""
    from crmmetrics.engine import make_plan

    try:
        make_plan(config, [name], config.model.report.period, [], need_dates=False)
        return "yes"
    except CrmMetricsError as exc:
        return f"no: {exc}"


def all_mapped(config: Config) -> dict[str, set[str]]:
    """Every mapped field of every configured entity (what validate reads)."""
    from crmmetrics.engine import mapped_fields

    return {e: mapped_fields(config, e) for e in config.configured_entities()}


def dry_run(config: Config, *, stdin: Any = None, read_all: bool = False) -> DryRun:
    """Run compute as `crmmetrics compute -c CONFIG` would (no flags) and collect verdicts.

    ``read_all`` also reads mapped fields no metric uses (validate checks every value);
    their issues are added on top of compute's. Data that cannot be read at all raises,
    unless nothing could be computed anyway.
    """
    from crmmetrics.engine import compute
    from crmmetrics.metrics.registry import all_metrics

    names = list(all_metrics())
    try:
        report = compute(config, None, stdin=stdin, extra_needs=all_mapped(config) if read_all else None)
    except ConfigError as exc:
        if not str(exc).startswith("nothing to do"):
            raise
        status = {n: static_status(config, n) for n in names}
        run = DryRun(status)
        if read_all:
            from crmmetrics.dataset import load_dataset

            ds = load_dataset(config, all_mapped(config), stdin=stdin)
            run.issues, run.inputs = ds.issues, ds.inputs
        _explain_skips(config, run)
        return run
    status: dict[str, str] = {}
    for issue in report.issues:
        if issue.code == "metric_skipped" and issue.metric:
            status[issue.metric] = "no: " + issue.message.split(" not computed: ", 1)[-1]
    for name in report.options:
        status[name] = "yes"
    for name in names:
        if name not in status:  # outside report.metrics: judged by the mapping
            verdict = static_status(config, name)
            status[name] = verdict if verdict != "yes" else "yes (not in report.metrics, so compute leaves it out by default)"
    run = DryRun({n: status[n] for n in names}, list(report.issues), list(report.inputs))
    _explain_skips(config, run)
    return run


def _explain_skips(config: Config, run: DryRun) -> None:
    """Name the preset's open choices in the verdicts they cause (e.g. Typeform's score)."""
    from crmmetrics.presets import all_presets

    for entity in config.configured_entities():
        for src in config.sources(entity):
            preset = all_presets().get(getattr(src, "preset", None) or "")
            if preset is None or entity not in preset.entities:
                continue
            for fname, what in (preset.block(entity).get("choose") or {}).items():
                if getattr(src.fields, fname, None) is None:
                    for metric, verdict in run.status.items():
                        if verdict.startswith("no") and f"{entity}.{fname}" in verdict:
                            run.status[metric] = f"{verdict} [preset {preset.name}: set fields.{fname} to {what}]"


def metric_verdicts(config: Config) -> tuple[dict[str, str], str | None]:
    """Per metric "yes" / "no: ..." for `metrics -c`, from a dry run on the data.

    When the data cannot be read (a missing file, stdin sources, unreadable bytes) the
    verdicts fall back to the mapping alone, and the second value says why.
    """
    from crmmetrics.errors import DataError, InputNotFoundError, ReadError
    from crmmetrics.metrics.registry import all_metrics

    stdin_sources = [e for e in config.configured_entities() for s in config.sources(e) if s.path == "-"]
    why = None
    if stdin_sources:
        why = f"{', '.join(stdin_sources)} read from stdin"
    else:
        try:
            return dry_run(config).status, None
        except (DataError, InputNotFoundError, ReadError) as exc:
            why = exc.message.splitlines()[0]
    return {n: static_status(config, n) for n in all_metrics()}, why


def verdict_lines(status: dict[str, str]) -> list[str]:
    """The not-computable metrics, one line each; metrics lacking a whole source are
    grouped per source ("no surveys source: nps, csat, ces") so the real gaps stand out."""
    import re

    groups: dict[str, list[str]] = {}
    lines: list[str] = []
    for metric, verdict in status.items():
        if verdict.startswith("yes"):
            continue
        why = verdict.removeprefix("no: ")
        m = re.match(rf"{re.escape(metric)} needs an? ([\w ]+?) source; the config has none", why)
        if m:
            groups.setdefault(m.group(1), []).append(metric)
        else:
            lines.append(f"{metric}: {why.removeprefix(metric + ' ')}")
    return [f"no {src} source: {', '.join(ms)}" for src, ms in groups.items()] + lines
