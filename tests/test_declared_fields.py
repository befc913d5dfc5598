"""Declared fields are always present (issue #10, point 6; docs/architecture.md rules).

A metric declares every field it may read (``MetricSpec.needs``, the date field,
``option_needs``, ``optional``); the dataset gives its frames each of them, all-null with
the field's declared type when the config does not map it. So a metric behaves the same
whichever columns the plan happened to load for other metrics, an unmapped optional field
counts like a mapped blank one, and a read of an undeclared field is caught here.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crmmetrics.config import load_config
from crmmetrics.engine import compute, declared_fields, make_plan
from crmmetrics.metrics.registry import all_metrics
from crmmetrics.schema import ENTITIES, FieldType


def _canonical() -> set[str]:
    return {f.name for e in ENTITIES.values() for f in e.fields}


class ColumnReads:
    """Every string key a DataFrame was indexed or membership-tested with while a metric
    ran (engine.run_metric up to the labelling of its result rows)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import crmmetrics.engine as engine

        self.keys: set[str] = set()
        self.active = False
        getitem, contains, get = pd.DataFrame.__getitem__, pd.DataFrame.__contains__, pd.DataFrame.get
        run_metric, label_rows = engine.run_metric, engine.label_rows
        reads = self

        def _run_metric(*args, **kw):  # type: ignore[no-untyped-def]
            reads.active = True
            try:
                return run_metric(*args, **kw)
            finally:
                reads.active = False

        def _label_rows(*args, **kw):  # type: ignore[no-untyped-def]
            reads.active = False
            return label_rows(*args, **kw)

        monkeypatch.setattr(engine, "run_metric", _run_metric)
        monkeypatch.setattr(engine, "label_rows", _label_rows)

        def record(key: object) -> None:
            if not reads.active:
                return
            if isinstance(key, str):
                reads.keys.add(key)
            elif isinstance(key, (list, tuple, set, frozenset)):
                reads.keys.update(k for k in key if isinstance(k, str))

        def _getitem(self, key):  # type: ignore[no-untyped-def]
            record(key)
            return getitem(self, key)

        def _contains(self, key):  # type: ignore[no-untyped-def]
            record(key)
            return contains(self, key)

        def _get(self, key, default=None):  # type: ignore[no-untyped-def]
            record(key)
            return get(self, key, default)

        monkeypatch.setattr(pd.DataFrame, "__getitem__", _getitem)
        monkeypatch.setattr(pd.DataFrame, "__contains__", _contains)
        monkeypatch.setattr(pd.DataFrame, "get", _get)


def _allowed(cfg, name: str) -> set[str]:
    """The fields metric ``name`` may read: what it declares, the keys of the entities it
    reads (read whenever mapped) and the --by join links."""
    plan = make_plan(cfg, [name], "month", [], need_dates=False)
    declared = declared_fields(plan.metrics)
    keys = {ENTITIES[e].key for e in declared if ENTITIES[e].key}
    return set().union(*declared.values()) | keys | {"customer_id", "deal_id"}


@pytest.fixture(scope="module")
def full_run(sample_project):
    """Every metric in one run (so every entity's frame carries every metric's reads)."""
    cfg = load_config(sample_project / "config.example.yaml")
    return compute(cfg, period="month", by=[], as_of="2026-06-30").results


def _values(results: pd.DataFrame, name: str) -> list[dict]:
    """The rows of ``name``, column → value (None for blanks), whatever the column order."""
    rows = results[results["metric"] == name].dropna(axis=1, how="all")
    return rows.astype(object).where(rows.notna(), None).to_dict(orient="records")


@pytest.mark.parametrize("name", list(all_metrics()))
def test_a_metric_reads_only_declared_fields_and_gives_the_same_rows_alone_as_among_all(sample_project, full_run, monkeypatch, name):
    """Run ``name`` alone on the demo project: every canonical field a frame was read with
    is declared by the metric, and its rows equal those of the run of every metric (which
    other metrics run, and so which columns get loaded, never changes a metric)."""
    cfg = load_config(sample_project / "config.example.yaml")
    allowed = _allowed(cfg, name)
    reads = ColumnReads(monkeypatch)
    alone = compute(cfg, [name], period="month", by=[], as_of="2026-06-30").results
    undeclared = sorted((reads.keys & _canonical()) - allowed)
    assert undeclared == [], f"{name} reads fields it does not declare: {undeclared}"
    assert _values(alone, name) == _values(full_run, name)


def test_an_unmapped_declared_field_is_an_all_null_column_of_its_type(sample_project):
    """The null column has the dtype a mapped all-blank column parses to (checked against
    the parser for every field type), and the frame says which fields were mapped."""
    from crmmetrics.config import CsvOptions, DateOptions
    from crmmetrics.dataset import _parse_field, load_dataset, null_column, null_tokens
    from crmmetrics.io.parse import clean_text

    class Source:
        csv, dates, timezone, duration_unit = CsvOptions(), DateOptions(), None, "minutes"

    for ftype in FieldType:
        blank = _parse_field(clean_text(pd.Series(["", None], dtype=object), null_tokens(Source.csv, ftype)), ftype, Source,
                             "Europe/Istanbul", ()).values
        made = null_column(ftype, 2, "Europe/Istanbul")
        assert made.dtype == blank.dtype and made.isna().all(), ftype
    cfg = load_config(sample_project / "config.example.yaml")
    ds = load_dataset(cfg, {"tickets": {"created_at"}}, declared={"tickets": {"created_at", "status", "first_reply_minutes"}})
    frame = ds.frames["tickets"]
    assert str(frame["first_reply_minutes"].dtype) == "float64" and frame["first_reply_minutes"].isna().all()
    assert "first_reply_minutes" not in ds.mapped_fields("tickets") and "created_at" in ds.mapped_fields("tickets")
    assert "status" in frame and "status" not in ds.mapped_fields("tickets")  # declared, mapped, not read: null


def _blanked(project, csv_name: str, column: str):
    """The demo project with ``column`` of ``csv_name`` emptied in every row (mapped, all blank)."""
    import csv

    path = project / "sample_data" / csv_name
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    at = rows[0].index(column)
    for row in rows[1:]:
        row[at] = ""
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return project


def _unmapped(project, csv_name: str, line: str):
    """The demo project with the ``field: "Column"`` line of the source reading ``csv_name``
    removed from the config."""
    cfg = project / "config.example.yaml"
    text = cfg.read_text(encoding="utf-8")
    at = text.index(line, text.index(f"path: sample_data/{csv_name}"))
    cfg.write_text(text[:at] + text[at + len(line):], encoding="utf-8")
    return project


@pytest.mark.parametrize(("csv_name", "column", "line", "metrics"), [
    # ticket status: nothing excluded, solved or reopened by status either way
    ("tickets.csv", "Status", '      status: "Status"\n', ["ticket_volume", "first_resolution_time", "full_resolution_time", "reopen_rate"]),
    # subscription discount: no discount either way
    ("subscriptions.csv", "Discount", '      discount_amount: "Discount"\n', ["mrr", "arpa", "new_mrr", "net_new_mrr"]),
    # customers.churned_at: nobody churned by it either way (the health population)
    ("customers.csv", "Churned", '      churned_at: "Churned"\n', ["health_score"]),
])
def test_an_unmapped_optional_field_counts_like_a_mapped_blank_one(sample_project, tmp_path, csv_name, column, line, metrics):
    import shutil

    blank = _blanked(Path(shutil.copytree(sample_project, tmp_path / "blank")), csv_name, column)
    gone = _unmapped(Path(shutil.copytree(sample_project, tmp_path / "gone")), csv_name, line)
    runs = [compute(load_config(p / "config.example.yaml"), metrics, period="month", by=[], as_of="2026-06-30") for p in (blank, gone)]
    for name in metrics:
        assert _values(runs[0].results, name), name
        assert _values(runs[0].results, name) == _values(runs[1].results, name), name
    assert runs[0].issue_counts() == runs[1].issue_counts()


def test_by_labels_leave_the_dataset_frame_as_read(tmp_path, monkeypatch):
    """`-b channel` labels blank channels "(blank)" in the metric's copy of the frame; the
    dataset's own frame keeps them blank for every other reader of the run."""
    from crmmetrics import engine
    from tests.conftest import write

    write(tmp_path / "t.csv", """
        id,created_at,first_reply_at,channel
        1,2026-03-02 09:00,2026-03-02 10:00,email
        2,2026-03-02 09:00,2026-03-02 11:00,
        """)
    config = write(tmp_path / "c.yaml", """
        version: 1
        timezone: UTC
        sources:
          tickets:
            path: t.csv
            fields: {ticket_id: id, created_at: created_at, first_reply_at: first_reply_at, channel: channel}
        """)
    seen = []
    run_metric = engine.run_metric

    def spy(mp, dataset, *args, **kw):  # type: ignore[no-untyped-def]
        seen.append(dataset)
        return run_metric(mp, dataset, *args, **kw)

    monkeypatch.setattr(engine, "run_metric", spy)
    report = compute(load_config(config), ["first_reply_time"], period="month", by=["channel"], as_of="2026-03-31")
    rows = report.results[["channel", "n"]].to_dict("records")
    assert {"channel": "(blank)", "n": 1} in rows and {"channel": "email", "n": 1} in rows
    assert seen[0].frames["tickets"]["channel"].isna().tolist() == [False, True]
