"""Issues of a Dask run: every partition's merged into what one pandas run reports.

A partition reports what it saw of its part file. Merged on the client:

- row issues (one per row, with a location) keep exact counts and at most
  :data:`~crmmetrics.dataset.ROW_ISSUES_PER_FIELD` (100) examples per code, entity, field
  and metric over the whole run; the rest become one summary issue with the count;
- summary issues of the run (rows after the as-of day, excluded statuses, rows without a
  date: one per entity or metric in a pandas run) become one issue with the summed count,
  located at the first partition's first row; a note that does not carry a count (a
  mapping hint) is kept once;
- issues of one file (a value that fell to the ``"*"`` default, a date-order note) stay
  one per part file, as the pandas engine reports them per file of a glob.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from crmmetrics.errors import Issue

MORE_ROWS = " more rows"


def is_row_issue(i: Issue) -> bool:
    """One row's issue (as ``Dataset.row_issues`` makes them) or its "N more rows" summary."""
    return (i.count == 1 and i.location is not None) or (i.location is None and i.message.endswith(MORE_ROWS))


def cap_examples(issues: list[Issue], limit: int | None = None) -> list[Issue]:
    """Row issues from every partition, with at most ``limit`` examples per code and field
    overall (as one pandas run would keep); the rest are one summary with the exact count."""
    from crmmetrics.dataset import ROW_ISSUES_PER_FIELD

    limit = ROW_ISSUES_PER_FIELD if limit is None else limit
    kept: list[Issue] = []
    seen: dict[tuple[Any, ...], int] = {}
    extra: dict[tuple[Any, ...], tuple[Issue, int]] = {}
    for i in issues:
        key = (i.code, i.entity, i.field, i.metric)
        summary = i.location is None and i.message.endswith(MORE_ROWS)
        if not summary and i.count == 1 and i.location is not None:
            seen[key] = seen.get(key, 0) + 1
            if seen[key] <= limit:
                kept.append(i)
                continue
            first, n = extra.get(key, (i, 0))
            extra[key] = (first, n + 1)
        elif summary:
            first, n = extra.get(key, (i, 0))
            extra[key] = (first, n + i.count)
        else:
            kept.append(i)
    for (first, n) in extra.values():
        base = first.message.rsplit(": ", 1)[0] if first.message.endswith(MORE_ROWS) else first.message
        kept.append(Issue(first.level, first.code, f"{base}: {n}{MORE_ROWS}", entity=first.entity, field=first.field,
                          metric=first.metric, count=n))
    return kept


def merge_summaries(issues: list[Issue]) -> list[Issue]:
    """Summary issues of the same code, entity, field and metric from several partitions as one.

    The count the message starts with is the sum; a list of statuses (``excluded_status``)
    is the union. A note not starting with its count comes once when every partition wrote
    the same text (a mapping hint), else once per partition.
    """
    groups: dict[tuple[Any, ...], list[Issue]] = {}
    for i in issues:
        groups.setdefault((i.level, i.code, i.entity, i.field, i.metric), []).append(i)
    out: list[Issue] = []
    for same in groups.values():
        first = same[0]
        if len(same) == 1:
            out.append(first)
            continue
        token = re.compile(rf"^{first.count}(?![\d.])")  # summaries start with their count: "13 rows with ..."
        if not token.search(first.message):
            out.extend(same if len({i.message for i in same}) > 1 else [first])
            continue
        total = sum(i.count for i in same)
        message = token.sub(str(total), first.message, count=1)
        if first.code == "excluded_status":
            message = _union_statuses(message, same)
        out.append(replace(first, message=message, count=total))
    return out


_STATUSES = re.compile(r"with status (.*) left out")


def _union_statuses(message: str, same: list[Issue]) -> str:
    """``excluded_status``'s message naming every status any partition left out, sorted as pandas does."""
    found: set[str] = set()
    for i in same:
        m = _STATUSES.search(i.message)
        if m:
            found.update(m.group(1).split(", "))
    return _STATUSES.sub(lambda _: f"with status {', '.join(sorted(found))} left out", message, count=1)


def adjust_count(issues: list[Issue], code: str, metric: str, added: int, make: Any) -> list[Issue]:
    """Add ``added`` to the count of ``metric``'s ``code`` issue (``make(total)`` builds it;
    created when no partition reported one)."""
    if not added:
        return issues
    for k, i in enumerate(issues):
        if i.code == code and i.metric == metric:
            issues[k] = make(i.count + added)
            return issues
    return [*issues, make(added)]
