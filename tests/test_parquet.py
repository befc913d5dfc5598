"""Parquet sources give the same numbers as the CSV/Excel exports of the same data.

The Parquet files are written here from sample_data/ with real types (timestamps,
integers, floats), so the typed columns take the parse layer's typed paths and the
comparison is against the reference run on the original text exports.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from crmmetrics.config import load_config
from crmmetrics.engine import compute
from crmmetrics.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
METRICS = ["nps", "csat", "win_rate", "first_reply_time"]
AS_OF = "2026-06-30"


def typed_frames() -> dict[str, pd.DataFrame]:
    """tickets, surveys and deals as typed frames (what a warehouse would export)."""
    tickets = pd.read_csv(SAMPLE / "tickets.csv", dtype={"Reopens": "Int64"})
    for col in ("Created", "First Reply", "First Solved", "Solved"):
        tickets[col] = pd.to_datetime(tickets[col], format="%Y-%m-%d %H:%M:%S")
    surveys = pd.read_csv(SAMPLE / "surveys_tr.csv", sep=";", encoding="utf-8-sig", dtype={"Talep No": "str"})
    surveys["Tarih"] = pd.to_datetime(surveys["Tarih"], format="%d.%m.%Y %H:%M")
    assert surveys["Puan"].dtype.kind in "if"  # a typed score column
    deals = pd.read_excel(SAMPLE / "crm_workbook.xlsx", sheet_name="Deals", engine="calamine")
    return {"tickets": tickets, "surveys": surveys, "deals": deals}


def write_config(tmp_path: Path, paths: dict[str, str]) -> Path:
    """config.example.yaml with absolute paths, and ``paths`` replacing some sources."""
    cfg = yaml.safe_load((ROOT / "config.example.yaml").read_text(encoding="utf-8"))
    for name, src in cfg["sources"].items():
        if isinstance(src, dict) and "path" in src:
            src["path"] = str(ROOT / src["path"])
    for name, path in paths.items():
        src = cfg["sources"][name]
        src["path"] = path
        src.pop("sheet", None)
        src.pop("csv", None)  # delimiter and encoding are text matters
    out = tmp_path / "parquet.yaml"
    out.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return compute(load_config(ROOT / "config.example.yaml"), METRICS, as_of=AS_OF).results


def run(config: Path) -> pd.DataFrame:
    return compute(load_config(config), METRICS, as_of=AS_OF).results


def test_parquet_files_equal_the_csv_run(tmp_path: Path, reference: pd.DataFrame) -> None:
    paths = {}
    for name, frame in typed_frames().items():
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
        paths[name] = str(tmp_path / f"{name}.parquet")
    got = run(write_config(tmp_path, paths))
    pd.testing.assert_frame_equal(got, reference)
    # Real values, not only equality: the sample's first NPS month by hand from the file.
    nps = got[(got["metric"] == "nps")].iloc[0]
    assert nps["n"] > 0 and nps["value"] == pytest.approx((nps["promoters"] - nps["detractors"]) / nps["n"] * 100)


def test_a_folder_of_three_parts_and_a_glob_equal_the_csv_run(tmp_path: Path, reference: pd.DataFrame) -> None:
    folder_paths, glob_paths = {}, {}
    for name, frame in typed_frames().items():
        folder = tmp_path / name
        folder.mkdir()
        for i, chunk in enumerate((frame.iloc[k::3] for k in range(3))):  # interleaved rows: order must not matter
            chunk.to_parquet(folder / f"part-{i}.parquet", index=False)
        (folder / "_SUCCESS").write_text("")  # Spark's marker file is not data
        folder_paths[name] = str(folder)
        glob_paths[name] = str(folder / "part-*.parquet")
    pd.testing.assert_frame_equal(run(write_config(tmp_path, folder_paths)), reference)
    pd.testing.assert_frame_equal(run(write_config(tmp_path, glob_paths)), reference)


def test_tz_aware_timestamps_are_instants(tmp_path: Path, reference: pd.DataFrame) -> None:
    """UTC timestamps convert to the reporting zone: the same instants as the naive Istanbul text."""
    frames = typed_frames()
    paths = {}
    for name, frame in frames.items():
        for col in frame.columns:
            if frame[col].dtype.kind == "M":
                frame[col] = frame[col].dt.tz_localize("Europe/Istanbul").dt.tz_convert("UTC")
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
        paths[name] = str(tmp_path / f"{name}.parquet")
    pd.testing.assert_frame_equal(run(write_config(tmp_path, paths)), reference)


def test_only_mapped_columns_are_read(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from crmmetrics.io.parquet_reader import read_parquet

    table = pa.table({"id": ["a", "b"], "score": [9, 3], "blob": pa.array([[1, 2], [3]])})  # a list column no parser takes
    pq.write_table(table, tmp_path / "s.parquet")
    raw = read_parquet(str(tmp_path / "s.parquet"), "s.parquet", {"response_id": "id", "score": "score"})
    assert set(raw.columns) == {"response_id", "score"}
    assert raw.columns["score"].tolist() == [9, 3] and raw.columns["score"].dtype.kind == "i"  # typed, not text
    assert raw.locate([1]) == ["s.parquet: row 2"]


def test_folder_locations_name_the_part(tmp_path: Path) -> None:
    from crmmetrics.io.parquet_reader import read_parquet

    for i in range(2):
        pd.DataFrame({"id": [f"{i}a", f"{i}b"]}).to_parquet(tmp_path / f"part-{i}.parquet", index=False)
    raw = read_parquet(str(tmp_path), "exports", {"response_id": "id"})
    assert raw.n_rows == 4 and raw.locate([0, 3]) == ["exports/part-0.parquet: row 1", "exports/part-1.parquet: row 2"]


def test_not_parquet_and_missing_column_are_one_line_errors(tmp_path: Path) -> None:
    from crmmetrics.io.parquet_reader import read_parquet

    bad = tmp_path / "x.parquet"
    bad.write_text("id,score\n1,2\n")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        read_parquet(str(bad), "x.parquet", {"response_id": "id"})
    pd.DataFrame({"id": ["a"]}).to_parquet(tmp_path / "ok.parquet", index=False)
    with pytest.raises(DataError, match="column .ID. .* not found.*closest match: .id."):
        read_parquet(str(tmp_path / "ok.parquet"), "ok.parquet", {"response_id": "ID"})
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "_SUCCESS").write_text("")
    with pytest.raises(DataError, match="holds no .parquet files"):
        read_parquet(str(empty), "empty", {"response_id": "id"})
    shutil.rmtree(empty)


def test_parquet_on_stdin_with_format_parquet(tmp_path: Path) -> None:
    """A pipe cannot be sniffed by name: format: parquet reads it, with the same numbers."""
    import io

    frames = typed_frames()
    buf = io.BytesIO()
    frames["surveys"].to_parquet(buf, index=False)
    cfg = yaml.safe_load(write_config(tmp_path, {}).read_text(encoding="utf-8"))
    cfg["sources"]["surveys"]["format"] = "parquet"
    cfg["sources"]["surveys"].pop("csv", None)
    (tmp_path / "stdin.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    got = compute(load_config(tmp_path / "stdin.yaml"), ["nps", "csat"], as_of=AS_OF, inputs={"surveys": "-"},
                  stdin=io.BytesIO(buf.getvalue())).results
    pd.testing.assert_frame_equal(got, compute(load_config(ROOT / "config.example.yaml"), ["nps", "csat"], as_of=AS_OF).results)
