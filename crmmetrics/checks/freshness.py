"""Source freshness: a source whose newest dated row is older than its ``max_age`` at
the as-of instant is CRIT, so a month-old export stops passing every day."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from crmmetrics.checks.evaluate import Outcome, Status
from crmmetrics.errors import ConfigError

if TYPE_CHECKING:
    from crmmetrics.checks.rules import Freshness
    from crmmetrics.config import Config
    from crmmetrics.errors import Issue


def _age_text(seconds: float) -> str:
    return f"{seconds / 86400:.1f}d" if seconds >= 86400 else f"{seconds / 3600:.1f}h"


def freshness_outcomes(config: Config, limits: list[Freshness], as_of: dt.datetime, inputs: dict[str, str] | None = None,
                       stdin: Any = None) -> tuple[list[Outcome], list[Issue]]:
    """One Outcome per source with ``max_age``; rows dated after as-of do not count as fresh."""
    if not limits:
        return [], []
    from crmmetrics.dataset import expand_paths, load_dataset
    from crmmetrics.engine import mapped_fields
    from crmmetrics.schema import ENTITIES

    needs: dict[str, set[str]] = {}
    for f in limits:
        date_field = ENTITIES[f.entity].date_field
        if date_field is None or date_field not in mapped_fields(config, f.entity):
            raise ConfigError(f"{f.where}: sources.{f.entity}.max_age needs {f.entity}.{date_field} mapped to date the rows",
                              hint=f"map {date_field} under sources.{f.entity}.fields, or remove max_age")
        needs[f.entity] = {date_field}
    ds = load_dataset(config, needs, inputs, stdin)
    # Which configured source each loaded file came from (load_dataset keeps the order).
    owner: list[tuple[str, int]] = []
    for entity in needs:
        for idx, src in enumerate(config.sources(entity)):
            if inputs and entity in inputs:
                owner.append((entity, 0))
                break
            owner += [(entity, idx)] * len(expand_paths(src.path, config.base_dir))
    outcomes = []
    for f in limits:
        date_field = ENTITIES[f.entity].date_field or ""
        frame = ds.frames.get(f.entity)
        tables = [i for i, o in enumerate(owner) if o == (f.entity, f.index)]
        newest = None
        if frame is not None and tables:
            local = frame.loc[frame["_src"].isin(tables), date_field].dt.tz_convert(config.timezone).dt.tz_localize(None)
            local = local[local < as_of]  # the instant is exclusive (the end of the as-of day)
            newest = local.max() if len(local.dropna()) else None
        name = f"freshness_{f.entity}" + (f"_{f.index + 1}" if len(config.sources(f.entity)) > 1 else "")
        oc = Outcome(name, "", "freshness", Status.OK, unit="days", extra={"source": f.entity, "max_age_seconds": f.max_age})
        oc.period = (as_of - dt.timedelta(microseconds=1)).strftime("%Y-%m-%d")  # the as-of day (the instant is its end)
        if newest is None:
            oc.status, oc.detail = Status.CRIT, f"no dated {f.entity} row at or before as-of; max_age {f.text}"
        else:
            age = (as_of - newest.to_pydatetime()).total_seconds()
            oc.value = age / 86400
            oc.extra.update(newest=newest.isoformat(), age_seconds=age)
            oc.status = Status.CRIT if age > f.max_age else Status.OK
            oc.detail = f"newest {date_field} {newest:%Y-%m-%d %H:%M} is {_age_text(age)} old; max_age {f.text}"
        oc.crit = {"max": f.max_age / 86400}
        outcomes.append(oc)
    return outcomes, ds.issues
