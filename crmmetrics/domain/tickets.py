"""The ticket lifecycle shared by the support metrics (METRICS.md E0–E5).

Which tickets are real (spam, merged and deleted ones are left out: ``usable_tickets``), the
status fold (``fold_status``: case-insensitive labels), when a ticket was solved and whether
that solve is final or was undone by a reopen (``solve_time``), the first public agent reply
derived from activities (``first_replies_from_activities``), and the calendar or business
minutes between two milestones (``elapsed_minutes``, through ``domain/business_hours.py``).
``TicketOptions`` is the policy every support metric shares (solved and excluded statuses).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from crmmetrics.domain import business_hours
from crmmetrics.errors import ConfigError, Level
from crmmetrics.metrics.registry import Options

if TYPE_CHECKING:
    import pandas as pd

    from crmmetrics.metrics.context import MetricContext


class TicketOptions(Options):
    """Options every support metric shares: which statuses mean solved or are not real tickets."""

    solved_statuses: list[str] = Field(["solved", "closed", "resolved"], description="Status values (case-insensitive) that mean the ticket is solved. Used only when tickets.status is mapped.")
    exclude_statuses: list[str] = Field(["deleted", "spam", "merged"], description="Status values of tickets that are left out entirely (spam, merged secondaries; Freshdesk and Zendesk exclude them).")

    @field_validator("solved_statuses", "exclude_statuses")
    @classmethod
    def _fold(cls, v: list[str]) -> list[str]:
        return [s.strip().casefold() for s in v]


def fold_status(df: pd.DataFrame) -> pd.Series:
    """Lower-cased status text (all null when status is not mapped: nothing is then
    excluded, solved or reopened by status, as when it is mapped but blank)."""
    import numpy as np
    import pandas as pd

    from crmmetrics.io.keys import text_codes

    status = df["status"]
    found = text_codes(status) if status.dtype == "str" else None
    if found is not None and len(found[1]):
        # Arrow text (CSV): the column is encoded once per run (io/keys.text_codes: every
        # ticket metric folds the same column), each distinct label folded once, and the
        # rows kept as codes into the folded labels (a categorical: one byte per ticket,
        # not one string or one Python object per ticket: 0.7 GB at 10M tickets).
        codes, uniques = found
        folded = [str(u).strip().casefold() for u in uniques.to_pylist()]
        labels = list(dict.fromkeys(folded))  # "Closed" and "closed" fold to one label
        remap = np.array([labels.index(f) for f in folded], dtype=np.int32)
        rows = np.where(codes < 0, -1, remap[np.maximum(codes, 0)])
        return pd.Series(pd.Categorical.from_codes(rows, categories=labels), index=status.index, name=status.name)
    # Fold each distinct label once; the map itself is a vectorised take.
    folded = {u: str(u).strip().casefold() for u in pd.unique(status.dropna())}
    return status.map(folded)


def repeated_requests(ctx: MetricContext, rows: pd.DataFrame) -> Any:
    """Every row but one of each (group keys of ``ctx``, customer_id) combination: a
    customer's other tickets of a period and segment. Which row stays unmarked does not
    matter, the requesters are only counted per cell (``rows.duplicated(...)`` leaves the
    first, the table of row numbers below one of the others). The customer ids come from
    the run's shared encoding of the ticket column (health_score reads the same) instead of
    hashing 2M ids again."""
    import numpy as np
    import pandas as pd

    from crmmetrics.io.keys import row_codes
    from crmmetrics.metrics.shapes import group_keys

    found = row_codes(ctx.frame, rows, "customer_id")
    if found is None:
        return rows.duplicated([*group_keys(ctx), "customer_id"]).to_numpy()
    cust, uniques = found
    ids = np.where(cust >= 0, cust, len(uniques)).astype(np.int64)  # -1 (no id: not among these rows) as its own value
    size = len(uniques) + 1
    for key in group_keys(ctx):
        codes, distinct = pd.factorize(rows[key], use_na_sentinel=False)  # a blank is a value, as in duplicated
        if size * len(distinct) >= 2**62:
            return rows.duplicated([*group_keys(ctx), "customer_id"]).to_numpy()
        ids += codes.astype(np.int64) * size
        size *= len(distinct)
    if size > 8 * len(ids):  # a sparse id space: hash the ids
        return pd.Series(ids).duplicated().to_numpy()
    # A dense id space: one representative row per id through a table of row numbers, not
    # a hash table (duplicated() took as long as encoding the text).
    row = np.empty(size, dtype=np.int32 if len(ids) < 2**31 else np.int64)
    row[ids] = np.arange(len(ids), dtype=row.dtype)
    repeated = np.ones(len(ids), dtype=bool)
    repeated[row[ids]] = False
    return repeated


def usable_tickets(ctx: MetricContext, opts: TicketOptions) -> pd.DataFrame:
    """The ticket frame without spam/merged/deleted tickets (counted in one info issue)."""
    return usable_with_status(ctx, opts)[0]


def usable_with_status(ctx: MetricContext, opts: TicketOptions, columns: tuple[str | None, ...] | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """``usable_tickets`` and its folded status (for ``solve_time``: folded once, not per step).

    ``columns``: only these ticket columns (see ``row_columns``), cut before any row is
    left out, so leaving rows out copies those columns and not the whole frame.
    """
    df, status, usable = usable_mask(ctx, opts, columns)
    if usable is not None:
        df, status = df[usable], status[usable]
    return df, status


def usable_mask(ctx: MetricContext, opts: TicketOptions, columns: tuple[str | None, ...] | None = None) -> tuple[pd.DataFrame, pd.Series, pd.Series | None]:
    """``usable_with_status`` with the rows left in: (frame cut to ``columns``, folded status,
    mask of the usable tickets or None when all are), the exclusion reported all the same.

    For a caller that copies rows anyway (flow_rows' ``where=``): the tickets are then
    copied once, not once to leave the excluded out and again for the period.
    """
    df = ctx.frame
    status = fold_status(df)
    if columns is not None:
        df = row_columns(ctx, df, *columns)
    if opts.exclude_statuses:
        drop = status.isin(opts.exclude_statuses)
        if drop.any():
            ctx.issue("excluded_status", f"{int(drop.sum())} tickets with status {', '.join(sorted(set(status[drop])))} left out", Level.INFO,
                      count=int(drop.sum()), field="status")
            return df, status, ~drop
    return df, status, None


def row_columns(ctx: MetricContext, df: pd.DataFrame, *fields: str | None) -> pd.DataFrame:
    """``df`` cut to what a ticket metric's rows read: ``fields`` (None skipped), the source
    location of row issues (_src, _row), the --by dimensions and a per-ticket schedule.

    The ticket frame carries every declared field (ids, status, a dozen timestamps and
    durations, mostly all-null when unmapped); filtering it whole copies them all per
    metric, the largest transient of a 10M-ticket run.
    """
    keep = [c for c in dict.fromkeys(("_src", "_row", *ctx.by, "schedule", *fields)) if c is not None and c in df]
    return df[keep]


def solve_time(ctx: MetricContext, df: pd.DataFrame, opts: TicketOptions, end_field: str, *, final: bool,
              closed_fallback: bool, status: pd.Series | None = None, usable: pd.Series | None = None) -> pd.Series:
    """When each ticket was solved (NaT while unsolved), with the checks of E2/E3.

    - ``closed_fallback``: a ticket closed without a solve time (closed directly by a rule
      or the API) ends at ``closed_at`` (Zendesk's first-resolution rule); counted.
    - A status in ``solved_statuses`` with no time at all is an issue per row, left out.
    - ``final``: a solve time on a ticket whose status is not solved (reopened, being
      worked on again) is not final: the ticket counts as unsolved until solved again.

    ``status``: ``df``'s folded status when the caller has it (``usable_with_status``).
    ``usable``: only these rows of ``df`` are tickets (``usable_mask``); the others get a
    time too, but no issue counts or names them.
    """
    import pandas as pd

    def counted(mask: pd.Series) -> pd.Series:
        return mask if usable is None else mask & usable

    end = df[end_field]
    if closed_fallback and end_field != "closed_at":
        use_closed = counted(end.isna() & df["closed_at"].notna())
        if use_closed.any():
            ctx.issue("closed_without_solve", f"{int(use_closed.sum())} tickets closed without {end_field}: closed_at used as their solve time (Zendesk rule)",
                      Level.INFO, count=int(use_closed.sum()), field=end_field)
            end = end.where(~use_closed, df["closed_at"])
    status = fold_status(df) if status is None else status
    # An unmapped status is all null, as a blank one: nothing below fires.
    solved = status.isin(opts.solved_statuses)
    no_time = counted(solved & end.isna())
    if no_time.any():
        hint = ""
        if not closed_fallback and end_field != "closed_at" and df.loc[no_time, "closed_at"].notna().any():
            hint = " (closed_fallback: true would end a closed ticket at closed_at)"
        ctx.row_issues(df[no_time], "solved_without_time", f"ticket status says solved but {end_field} is blank; ticket left out{hint}", "status")
    if final:
        not_final = counted(status.notna() & ~solved & end.notna())
        if not_final.any():
            ctx.issue("solved_then_reopened", f"{int(not_final.sum())} tickets have {end_field} but an unsolved status (reopened); "
                      "counted as unsolved until solved again", Level.INFO, count=int(not_final.sum()), field="status")
            end = end.where(~not_final)
    return end


def elapsed_minutes(ctx: MetricContext, rows: pd.DataFrame, start: str, end: str, schedule: str | None, code: str, what: str) -> pd.Series:
    """Calendar or business minutes from ``start`` to ``end``; rows ending before they
    start are row issues (``code``) and get NaN, so they are counted, never averaged.

    ``schedule`` names a business_hours entry (None: calendar time; a mapped
    tickets.schedule column overrides it per ticket, see ``business_hours.elapsed``)."""
    import numpy as np

    backwards = rows[start].notna() & rows[end].notna() & (rows[end] < rows[start])
    if backwards.any():
        bad = rows[backwards].assign(**{what: rows.loc[backwards, end]})
        ctx.row_issues(bad, code, f"{what} is before {start}; left out of the duration", what)
    minutes = business_hours.elapsed(ctx, rows, start, end, schedule)
    return minutes.where(~backwards, np.nan)


def solved_in_period(ctx: MetricContext, opts: TicketOptions, columns: tuple[str, ...], closed_fallback: bool = True) -> pd.DataFrame:
    """Tickets whose (final) solve falls in the period, with ``_end``, ``_period`` and
    the ticket ``columns`` the caller reads (see ``row_columns``).

    The status is folded once and the usable solved rows are copied once (flow_rows' where=),
    with only the columns read: copying every declared ticket column for the solved
    rows took 8 of one-touch rate's 8.4 s on 10M tickets.
    """
    df, status, usable = usable_mask(ctx, opts, ("solved_at", "closed_at", "status", *columns))
    end = solve_time(ctx, df, opts, "solved_at", final=True, closed_fallback=closed_fallback, status=status, usable=usable)
    df = row_columns(ctx, df, *columns).assign(_end=end)
    solved = df["_end"].notna()
    return ctx.flow_rows(df, "_end", where=solved if usable is None else solved & usable)


# An agent message this close to the ticket's creation is the ticket's own opening comment.
OPENING_SECONDS = 60


def first_replies_from_activities(ctx: MetricContext, tickets: pd.DataFrame, opening: str = "skip") -> pd.Series:
    """First public agent message per ticket from activities (Zendesk's definition).

    Bots, automations, customers and private notes never count; on a ticket an agent
    opened (created_by_agent), the agent's own opening message is skipped and the clock
    stops at the next one. Where created_by_agent is unknown (not mapped, or blank) and
    ``opening`` is skip, a first agent message within OPENING_SECONDS of the creation is
    taken as that opening message (counted in one info issue). Messages before the
    ticket's creation are ignored.

    Example: created 10:00:00, agent messages 10:00:00 and 11:30 → 1.5 h, not 0 h.
    """
    import pandas as pd

    acts = ctx.other("activities")
    need = {"ticket_id", "occurred_at", "actor_type"}
    if acts is None or not need <= ctx.mapped_fields("activities"):
        raise ConfigError(
            "first_reply_time needs tickets.first_reply_at, or activities with ticket_id, occurred_at and actor_type mapped",
            hint="map the export's first reply column under sources.tickets.fields.first_reply_at")
    a = acts[acts["ticket_id"].notna() & acts["occurred_at"].notna() & (acts["actor_type"] == "agent")]
    a = a[a["is_public"].astype(object) != False]  # noqa: E712 — blank (or unmapped) visibility counts as public
    base = tickets[["ticket_id", "created_at"]].dropna().drop_duplicates("ticket_id")
    flags = tickets[["ticket_id", "created_by_agent"]].dropna().drop_duplicates("ticket_id")  # blank or unmapped: unknown, see opening
    base = base.merge(flags, on="ticket_id", how="left")
    a = a[["ticket_id", "occurred_at"]].merge(base, on="ticket_id", how="inner")
    a = a[a["occurred_at"] >= a["created_at"]].sort_values(["ticket_id", "occurred_at"], kind="stable")
    a = a.assign(_k=a.groupby("ticket_id").cumcount())
    by_agent = a["created_by_agent"].astype(object)
    skip = by_agent.eq(True)
    if opening == "skip":
        unknown = by_agent.isna() & (a["_k"] == 0)
        at_creation = (a["occurred_at"] - a["created_at"]) <= pd.Timedelta(seconds=OPENING_SECONDS)
        inferred = unknown & at_creation
        if inferred.any():
            n = int(inferred.sum())
            ctx.issue("agent_opening_skipped", f"{n} tickets open with an agent message at their creation and no created_by_agent: "
                      "read as agent-created, their first reply is the agent's next message (opening_message: count counts it as a reply)",
                      Level.INFO, count=n, field="created_by_agent")
            # The ticket's flag, so its later messages are measured from the second one.
            skip |= a["ticket_id"].isin(a.loc[inferred, "ticket_id"])
    skip = skip.astype("int64")
    first = a[a["_k"] >= skip].groupby("ticket_id")["occurred_at"].min()
    return tickets["ticket_id"].map(first) if len(first) else pd.Series(pd.NaT, index=tickets.index, dtype=tickets["created_at"].dtype)
