"""Period buckets: half-open, labelled, in the reporting time zone, week start honoured."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from crmmetrics import compute, load_config
from crmmetrics.periods import bucket_range, floor_local, label, next_start
from tests.conftest import write


@pytest.mark.parametrize("grain, start, text", [
    ("day", dt.datetime(2026, 11, 22), "2026-11-22"),
    ("week", dt.datetime(2026, 11, 16), "2026-W47"),
    ("month", dt.datetime(2026, 11, 1), "2026-11"),
    ("quarter", dt.datetime(2026, 10, 1), "2026-Q4"),
    ("year", dt.datetime(2026, 1, 1), "2026"),
])
def test_labels(grain, start, text):
    assert label(start, grain) == text


def test_floor_and_next_start():
    s = pd.Series(pd.to_datetime(["2026-11-22 14:05", "2026-01-01 00:00", "2026-03-31 23:59"]))
    assert floor_local(s, "quarter").dt.strftime("%Y-%m-%d").tolist() == ["2026-10-01", "2026-01-01", "2026-01-01"]
    assert floor_local(s, "week", "monday").dt.strftime("%Y-%m-%d").tolist() == ["2026-11-16", "2025-12-29", "2026-03-30"]
    assert floor_local(s, "week", "sunday").dt.strftime("%Y-%m-%d").tolist() == ["2026-11-22", "2025-12-28", "2026-03-29"]
    assert next_start(dt.datetime(2026, 12, 1), "month") == dt.datetime(2027, 1, 1)
    assert next_start(dt.datetime(2026, 10, 1), "quarter") == dt.datetime(2027, 1, 1)
    assert len(bucket_range(dt.datetime(2026, 1, 15), dt.datetime(2026, 4, 1), "month")) == 4


def test_sunday_week_label_names_the_iso_week_holding_most_days():
    assert label(dt.datetime(2026, 11, 22), "week") == "2026-W48"  # Sun 22 Nov → Mon 23 is W48


def _config(tmp_path, tz):
    write(tmp_path / "s.csv", "score,at\n10,2026-01-31T22:30:00Z\n0,2026-02-01T00:30:00+03:00\n")
    return write(tmp_path / "c.yaml", f"""
        version: 1
        timezone: {tz}
        sources:
          surveys: {{path: s.csv, constants: {{survey_type: nps}}, fields: {{score: score, responded_at: at}}}}
        """)


def test_month_boundary_depends_on_the_reporting_zone(tmp_path):
    utc = compute(load_config(_config(tmp_path, "UTC")), ["nps"]).results
    assert utc[["period", "n"]].values.tolist() == [["2026-01", 2]]  # 22:30Z and 21:30Z on Jan 31
    ist = compute(load_config(_config(tmp_path, "Europe/Istanbul")), ["nps"]).results
    assert ist[["period", "n"]].values.tolist() == [["2026-02", 2]]  # 01:30 and 00:30 on Feb 1 local


def test_since_inclusive_until_exclusive(tmp_path):
    write(tmp_path / "s.csv", "score,at\n10,2026-01-01\n9,2026-01-31 23:59:59\n0,2026-02-01\n")
    cfg = write(tmp_path / "c.yaml", """
        version: 1
        sources:
          surveys: {path: s.csv, constants: {survey_type: nps}, fields: {score: score, responded_at: at}}
        """)
    res = compute(load_config(cfg), ["nps"], since="2026-01-01", until="2026-02-01", period="all").results
    assert res[["period", "period_start", "period_end", "n", "value"]].values.tolist() == [["all", "2026-01-01", "2026-02-01", 2, 100.0]]
    res = compute(load_config(cfg), ["nps"], since="2025-12-01", until="2026-03-01").results
    assert res["period"].tolist() == ["2025-12", "2026-01", "2026-02"] and res["n"].tolist() == [0, 2, 1]


def _pandas_floor(local: pd.Series, grain: str, week_start: str = "monday") -> pd.Series:
    """The pandas-only bucketing floor_local used before its numpy path (the reference)."""
    from crmmetrics.periods import WEEKDAYS

    day = local.dt.normalize()
    if grain == "day":
        return day
    if grain == "week":
        return day - pd.to_timedelta((day.dt.day_of_week - WEEKDAYS.index(week_start)) % 7, unit="D")
    if grain == "month":
        return day - pd.to_timedelta(day.dt.day - 1, unit="D")
    month0 = (day.dt.month - 1) // 3 * 3 + 1 if grain == "quarter" else 1
    return pd.to_datetime({"year": day.dt.year, "month": month0, "day": 1}, errors="coerce")


@pytest.mark.parametrize("unit", ["ns", "us"])
@pytest.mark.parametrize("grain", ["day", "week", "month", "quarter", "year"])
@pytest.mark.parametrize("week_start", ["monday", "thursday", "sunday"])
def test_floor_local_numpy_path_equals_the_pandas_buckets(unit, grain, week_start):
    """Values, dtype, index and name as pandas made them, before 1970 too, NaT kept."""
    import numpy as np

    rng = np.random.default_rng(7)
    stamps = pd.to_datetime(rng.integers(-3 * 10**9, 3 * 10**9, 500), unit="s").as_unit(unit)
    local = pd.Series(stamps, index=rng.permutation(1000)[:500], name="created_at")
    local.iloc[::7] = pd.NaT
    got = floor_local(local, grain, week_start)
    pd.testing.assert_series_equal(got, _pandas_floor(local, grain, week_start), check_exact=True)
