"""Shared test helpers: tiny configs and exports written to tmp_path, the CLI runner,
the demo project (generated once per run) and the shared datasets folder (tests that
need it skip cleanly without it)."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"


def needs_dataset(*parts: str) -> pytest.MarkDecorator:
    """Skip unless ../shared/datasets/<parts> exists."""
    path = DATASETS.joinpath(*parts)
    return pytest.mark.skipif(not path.exists(), reason=f"{path} not present")


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write dedented text (for CSVs and YAML in tests)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(textwrap.dedent(text).lstrip("\n").encode(encoding))
    return path


SURVEY_CONFIG = """
version: 1
timezone: UTC
sources:
  surveys:
    path: surveys.csv
    fields: {response_id: id, customer_id: customer, survey_type: type, score: score, responded_at: date}
  customers:
    path: customers.csv
    fields: {customer_id: id, plan: plan}
metrics:
  ces: {scale: [1, 7], higher_is_easier: true}
"""


@pytest.fixture
def survey_project(tmp_path: Path):
    """A factory: survey rows (type, score, date[, customer]) → config path."""

    def make(rows: list[tuple], customers: str = "id,plan\nC1,Pro\nC2,Basic\n", config: str = SURVEY_CONFIG) -> Path:
        lines = ["id,customer,type,score,date"]
        for i, row in enumerate(rows, start=1):
            typ, score, date, *rest = row
            cust = rest[0] if rest else "C1"
            lines.append(f"{i},{cust},{typ},{'' if score is None else score},{date}")
        (tmp_path / "surveys.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (tmp_path / "customers.csv").write_text(customers, encoding="utf-8")
        return write(tmp_path / "crm.yaml", config)

    return make


@pytest.fixture(scope="session")
def sample_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The demo project, built once per run: config.example.yaml beside a freshly generated
    sample_data/ (test_sampledata proves it equals the committed copy).

    Shared by every test of the session, so read it and never write into it; a test that
    writes next to it takes `sample_project_copy`.
    """
    # Imported here so that collecting the suite does not import the generator.
    from crmmetrics.sampledata import write_sample_data

    root = tmp_path_factory.mktemp("sample_project")
    write_sample_data(root / "sample_data")
    shutil.copy2(ROOT / "config.example.yaml", root / "config.example.yaml")
    before = _snapshot(root)
    yield root
    # A test that wrote into the shared copy would change what every later test reads.
    assert _snapshot(root) == before, "a test modified the shared sample_project; use sample_project_copy"


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes (2 MB): the read-only check of `sample_project`."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def sample_project_copy(sample_project: Path, tmp_path: Path) -> Path:
    """A private copy of the demo project (2 MB, milliseconds) for a test that writes in it."""
    return Path(shutil.copytree(sample_project, tmp_path / "sample_project"))
