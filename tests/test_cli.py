"""The CLI contract: formats, streams, and one test per exit code (DESIGN.md section 8)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from crmmetrics.cli import app
from crmmetrics.errors import ExitCode
from tests.conftest import ROOT, write

runner = CliRunner()


def run(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


@pytest.fixture
def project(survey_project):
    rows = [("nps", 10, "2026-01-05", "C1"), ("nps", 3, "2026-01-06", "C2"), ("nps", 9, "2026-02-01", "C1"),
            ("csat", 5, "2026-01-07", "C1"), ("csat", 2, "2026-02-07", "C2"), ("ces", 6, "2026-02-03", "C2")]
    return survey_project(rows)


def test_json_report_has_the_contract_fields(project):
    res = run("compute", "nps", "csat", "ces", "-c", str(project), "-p", "month", "-f", "json", "--as-of", "2026-03-01")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    for key in ("schema_version", "crmmetrics", "generated_at", "as_of", "timezone", "period", "by", "since", "until", "inputs", "results", "issues"):
        assert key in doc
    first = doc["results"][0]
    assert {k: first[k] for k in ("metric", "period", "value", "unit", "n", "numerator", "denominator")} == {
        "metric": "nps", "period": "2026-01", "value": 0.0, "unit": "points", "n": 2, "numerator": 0, "denominator": 2}
    assert doc["inputs"][0]["rows_read"] == 6 and len(doc["inputs"][0]["sha256"]) == 64


def test_csv_prints_the_same_rows_as_json(project):
    as_json = json.loads(run("compute", "nps", "csat", "ces", "-c", str(project), "-f", "json").stdout)["results"]
    res = run("compute", "nps", "csat", "ces", "-c", str(project), "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(rows) == len(as_json)
    assert [(r["metric"], r["period"], r["n"]) for r in rows] == [(r["metric"], r["period"], str(r["n"])) for r in as_json]
    assert float(rows[0]["value"]) == as_json[0]["value"]


def test_by_adds_a_column_also_when_joined_from_customers(project):
    res = run("compute", "nps", "-c", str(project), "-b", "plan", "-f", "csv", "-p", "all")
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [(r["plan"], r["value"]) for r in rows] == [("Basic", "-100.0"), ("Pro", "100.0")]


def test_jsonl_markdown_and_xlsx(project, tmp_path):
    lines = run("compute", "nps", "-c", str(project), "-f", "jsonl").stdout.splitlines()
    assert [json.loads(line)["period"] for line in lines] == ["2026-01", "2026-02"]
    md = run("compute", "csat", "-c", str(project), "-f", "markdown").stdout
    assert md.splitlines()[0].startswith("| metric | period |") and "| 100.0 % |" in md
    out = tmp_path / "r.xlsx"
    assert run("compute", "nps", "-c", str(project), "-o", str(out)).exit_code == 0
    from openpyxl import load_workbook

    wb = load_workbook(out)
    assert wb.sheetnames == ["results", "issues", "inputs"] and wb["results"]["A2"].value == "nps"


def test_output_file_is_written_atomically_and_extension_picks_format(project, tmp_path):
    out = tmp_path / "report.json"
    out.write_text("previous")
    assert run("compute", "nps", "-c", str(project), "-o", str(out), "-q").exit_code == 0
    assert json.loads(out.read_text())["results"][0]["metric"] == "nps"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report")] == []


def test_quiet_success_prints_nothing_on_stderr(project):
    res = run("compute", "nps", "-c", str(project), "-f", "csv", "-q")
    assert res.exit_code == 0 and res.stderr == ""


def test_metrics_and_explain(project):
    res = run("metrics", "-c", str(project))
    assert res.exit_code == 0 and "nps\tvoice of customer" in res.stdout
    text = run("explain", "csat", "-c", str(project)).stdout
    assert "satisfied ÷ rated responses" in text and "satisfied_min (default None)" in text and "[in force: None]" in text



def test_explain_says_what_the_configured_dask_engine_does(tmp_path):
    """explain -c names the engine in force: refused metrics with the reason, approximate
    quantiles with the bound; nothing on the pandas engine (it computes every metric exactly)."""
    base = (ROOT / "config.example.yaml").read_text(encoding="utf-8")
    for engine, metric, wanted in [
        ("{name: dask, quantiles: approx}", "first_reply_time", "median and p90 within 1% (relative)"),
        ("{name: dask}", "first_reply_time", "quantiles exact: every measured value travels to the client"),
        ("{name: dask}", "nps", "per-partition sums merged"),
        ("{name: dask}", "mrr", "refused; mrr is not supported on the Dask engine: it needs all of a customer's rows together"),
    ]:
        cfg = write(tmp_path / "crm.yaml", base.replace("version: 1\n", f"version: 1\nengine: {engine}\n", 1))
        res = run("explain", metric, "-c", str(cfg))
        assert res.exit_code == 0, res.output
        assert "Engine: dask (engine.name in the config)" in res.stdout and wanted in res.stdout, res.stdout
    assert "Engine:" not in run("explain", "first_reply_time", "-c", str(ROOT / "config.example.yaml")).stdout


def test_validate_lists_issues_and_exits_65(survey_project):
    cfg = survey_project([("nps", "ten", "2026-01-05")])
    res = run("validate", "-c", str(cfg))
    assert res.exit_code == ExitCode.DATAERR
    assert "surveys.csv:2: column 'score'" in res.stderr


# ------------------------------------------------------------ one test per exit code


def test_exit_0_ok(project):
    assert run("compute", "nps", "-c", str(project), "-f", "csv").exit_code == 0


def test_exit_1_threshold_breach(survey_project):
    from tests.conftest import SURVEY_CONFIG

    cfg = survey_project([("nps", 3, "2026-01-05")], config=SURVEY_CONFIG + "thresholds:\n  nps: {min: 30}\n")
    # check judges the latest complete period at --as-of (January, once February has begun).
    res = run("check", "-c", str(cfg), "-q", "--as-of", "2026-02-01")
    assert res.exit_code == ExitCode.BREACH
    assert res.stdout == "CRIT nps 2026-01 = -100.0 (min 30, n=1)\n"
    assert res.stderr == ""  # -q: the CRIT line on stdout is the whole message


def test_exit_2_usage_errors(project):
    assert run("compute", "nps", "-c", str(project), "--bogus").exit_code == ExitCode.USAGE
    res = run("compute", "npz", "-c", str(project))
    assert res.exit_code == ExitCode.USAGE and "did you mean nps" in res.stderr
    res = run("compute", "nps", "-c", str(project), "-b", "plann")
    assert res.exit_code == ExitCode.USAGE and "did you mean 'plan'" in res.stderr
    assert run("compute", "nps", "-c", str(project), "-f", "csv", "-o", "x.json").exit_code == ExitCode.USAGE
    assert run("compute", "nps", "-c", str(project), "--since", "01.02.2026").exit_code == ExitCode.USAGE


def test_exit_65_missing_column_lists_headers(survey_project, tmp_path):
    cfg = survey_project([("nps", 9, "2026-01-05")])
    cfg.write_text(cfg.read_text().replace("score: score", "score: Score"))
    res = run("compute", "nps", "-c", str(cfg))
    assert res.exit_code == ExitCode.DATAERR
    assert "column 'Score' (mapped to score) not found" in res.stderr
    assert "'id', 'customer', 'type', 'score', 'date'" in res.stderr and "closest match: 'score'" in res.stderr
    assert "Traceback" not in res.stderr


def test_exit_65_strict_on_any_issue(survey_project):
    cfg = survey_project([("nps", 11, "2026-01-05"), ("nps", 9, "2026-01-05")])
    assert run("compute", "nps", "-c", str(cfg), "-f", "csv").exit_code == 0
    res = run("compute", "nps", "-c", str(cfg), "-f", "csv", "--strict")
    assert res.exit_code == ExitCode.DATAERR and res.stdout == ""
    assert res.stderr.count("score outside the 0-10 NPS scale") == 1  # said once, on the --strict line


def test_exit_66_missing_input_file(survey_project, tmp_path):
    cfg = survey_project([("nps", 9, "2026-01-05")])
    (tmp_path / "surveys.csv").unlink()
    res = run("compute", "nps", "-c", str(cfg))
    assert res.exit_code == ExitCode.NOINPUT and "input file not found" in res.stderr and "surveys.csv" in res.stderr


def test_exit_70_internal_error_is_one_line(project, monkeypatch):
    import crmmetrics.engine as engine

    monkeypatch.setattr(engine, "load_dataset", lambda *a, **k: 1 / 0, raising=False)
    import crmmetrics.dataset as dataset

    monkeypatch.setattr(dataset, "load_dataset", lambda *a, **k: 1 / 0)
    res = run("compute", "nps", "-c", str(project))
    assert res.exit_code == ExitCode.SOFTWARE
    assert res.stderr.strip() == "crmmetrics: error: internal error: ZeroDivisionError: division by zero (a bug; re-run with --debug for the traceback)"


def test_exit_71_out_of_memory_is_not_called_a_bug(project, monkeypatch):
    import crmmetrics.dataset as dataset

    def exhausted(*a, **k):
        raise MemoryError

    monkeypatch.setattr(dataset, "load_dataset", exhausted)
    res = run("compute", "nps", "-c", str(project))
    assert res.exit_code == ExitCode.OSERR == 71
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith("crmmetrics: error: out of memory") and "bug" not in res.stderr
    assert lines[1].startswith("crmmetrics: hint: read less: a date range") and "--engine dask" in lines[1]


def test_exit_73_output_cannot_be_created(project, tmp_path):
    res = run("compute", "nps", "-c", str(project), "-o", str(tmp_path / "no" / "such" / "dir.csv"))
    assert res.exit_code == ExitCode.CANTCREAT and "does not exist" in res.stderr


def test_exit_74_read_fails_part_way(project, monkeypatch):
    from pathlib import Path

    def boom(self):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(Path, "read_bytes", boom)
    res = run("compute", "nps", "-c", str(project))
    assert res.exit_code == ExitCode.IOERR and "Input/output error" in res.stderr


def test_exit_78_malformed_config_with_line(tmp_path):
    cfg = write(tmp_path / "bad.yaml", "version: 1\nsources:\n  surveys: {path: [x\n")
    res = run("compute", "nps", "-c", str(cfg))
    assert res.exit_code == ExitCode.CONFIG
    assert res.stderr.startswith(f"crmmetrics: error: {cfg}:") and "malformed YAML" in res.stderr


def test_exit_130_interrupted(project, monkeypatch):
    import crmmetrics.dataset as dataset

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(dataset, "load_dataset", interrupt)
    assert run("compute", "nps", "-c", str(project)).exit_code == ExitCode.INTERRUPTED


# ------------------------------------------------------------ processes


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CRMMETRICS_CONFIG", None)
    return env


def test_installed_command_piped_to_head_has_no_traceback(project):
    cmd = f"{sys.executable} -m crmmetrics compute nps csat ces -c {project} -f csv -p day | head -1"
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, env=_env(), cwd=ROOT)
    assert proc.stdout.startswith("metric,period,")
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_help_does_not_import_pandas():
    code = "import sys\nfrom crmmetrics.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass\nprint('pandas' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), cwd=ROOT)
    assert proc.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.parametrize("args", [["--help"], ["compute", "--help"], ["analyze", "--help"], ["check", "--help"]])
def test_help_via_python_m_imports_no_heavy_module(args):
    """`python -m crmmetrics ... --help` as a user runs it: -X importtime lists every module
    imported, and none of the data stack (pandas, numpy, pyarrow) may be among them, so help
    stays instant (issue #15)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "crmmetrics", *args], capture_output=True,
                          text=True, env=_env(), cwd=ROOT)
    assert proc.returncode == 0 and "Usage" in proc.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "typer" in imported  # the probe works: importtime did list modules
    assert not imported & {"pandas", "numpy", "pyarrow"}, sorted(imported & {"pandas", "numpy", "pyarrow"})


def test_engine_imports_neither_typer_nor_rich():
    code = "import sys, crmmetrics.engine\nprint(sorted(m for m in ('typer', 'rich') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), cwd=ROOT)
    assert proc.stdout.strip() == "[]"


def test_config_discovery_and_exit_78_without_one(project, tmp_path, monkeypatch):
    monkeypatch.delenv("CRMMETRICS_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    res = run("compute", "nps", "-f", "csv")
    assert res.exit_code == ExitCode.CONFIG and "no config file" in res.stderr
    (tmp_path / "crmmetrics.yaml").write_text(project.read_text())
    assert run("compute", "nps", "-f", "csv").exit_code == 0
    monkeypatch.setenv("CRMMETRICS_CONFIG", str(tmp_path / "missing.yaml"))
    res = run("compute", "nps", "-f", "csv")
    assert res.exit_code == ExitCode.CONFIG and "config file not found" in res.stderr


def test_sample_data_command_writes_the_demo_exports(tmp_path):
    res = run("sample-data", str(tmp_path / "demo"), "-q")
    assert res.exit_code == 0 and res.stderr == ""
    written = sorted(p.name for p in (tmp_path / "demo").iterdir())
    assert written == sorted(p.name for p in (ROOT / "sample_data").iterdir())
    assert (tmp_path / "demo" / "surveys_tr.csv").read_bytes() == (ROOT / "sample_data" / "surveys_tr.csv").read_bytes()


def test_input_override_glob_and_source_lists(survey_project, tmp_path):
    cfg = survey_project([("nps", 10, "2026-01-05")])
    other = write(tmp_path / "other.csv", "id,customer,type,score,date\n1,C1,nps,0,2026-01-06\n")
    res = run("compute", "nps", "-c", str(cfg), "--input", f"surveys={other}", "-f", "csv", "-p", "all")
    assert list(csv.DictReader(io.StringIO(res.stdout)))[0]["value"] == "-100.0"
    assert run("compute", "nps", "-c", str(cfg), "--input", "surveys", "-f", "csv").exit_code == ExitCode.USAGE
    # a glob and a list of sources are concatenated, each row keeping its own file line
    write(tmp_path / "parts" / "a.csv", "id,customer,type,score,date\n1,C1,nps,10,2026-01-05\n")
    write(tmp_path / "parts" / "b.csv", "id,customer,type,score,date\n2,C1,nps,12,2026-01-06\n")
    cfg2 = write(tmp_path / "g.yaml", """
        version: 1
        sources:
          surveys:
            - path: parts/*.csv
              fields: {response_id: id, survey_type: type, score: score, responded_at: date}
            - path: surveys.csv
              fields: {response_id: id, survey_type: type, score: score, responded_at: date}
        """)
    res = run("compute", "nps", "-c", str(cfg2), "-f", "json", "-p", "all")
    doc = json.loads(res.stdout)
    assert [i["path"].rsplit("/", 1)[-1] for i in doc["inputs"]] == ["a.csv", "b.csv", "surveys.csv"]
    assert doc["results"][0]["n"] == 2
    assert [i["location"].rsplit("/", 1)[-1] for i in doc["issues"] if i["code"] == "score_out_of_range"] == ["b.csv:2"]


def test_issue_line_says_a_count_once():
    """A message that states its count is not followed by '(+N more like it)'; one that does not, is."""
    from crmmetrics.errors import Issue, Level

    said = Issue(Level.INFO, "canceled", "74 canceled orders left out of every metric", location="o.csv:27", count=74)
    assert said.one_line() == "o.csv:27: 74 canceled orders left out of every metric"
    grouped = Issue(Level.WARNING, "bad_date", "closed_at: not a date", location="d.csv:3", count=1234)
    assert grouped.one_line() == "d.csv:3: closed_at: not a date (+1233 more like it)"
    thousands = Issue(Level.INFO, "x", "1,234 rows without a date, first 2025-01-02", count=1234)
    assert thousands.one_line().endswith("first 2025-01-02")
    other_number = Issue(Level.INFO, "x", "score 12 is outside 0-10", location="s.csv:9", count=2)
    assert other_number.one_line().endswith("(+1 more like it)")


@pytest.mark.parametrize("variable, default, users", [("ARROW_DEFAULT_MEMORY_POOL", "system", "jemalloc"),
                                                     ("OPENBLAS_NUM_THREADS", "1", "4")])
def test_the_command_line_sets_the_native_libraries_up_unless_the_user_chose(monkeypatch, variable, default, users):
    """Set before pyarrow and numpy load, a user's own value winning. mimalloc keeps freed
    Arrow text for reuse that never comes (10M tickets: 3.08 GB peak against 2.88 GB): main()
    picks the system allocator. OpenBLAS starts a thread per core when numpy loads; crmmetrics
    does no linear algebra, so main() asks for one (issue #15: ≈ 0.07 s CPU per process)."""
    import crmmetrics.cli as cli
    from crmmetrics.cli import root

    monkeypatch.setattr(root, "app", lambda **kwargs: None)
    monkeypatch.delenv(variable, raising=False)
    cli.main()
    assert os.environ[variable] == default
    monkeypatch.setenv(variable, users)
    cli.main()
    assert os.environ[variable] == users


def test_a_command_line_imports_only_the_module_of_its_command():
    """`crmmetrics compute ...` registers compute alone (issue #15: importing and building
    every command was ≈ 0.15 s of each run); --help, --version and unknown words get them all,
    and the command table names exactly what the modules register."""
    from crmmetrics.cli import COMMAND_MODULES, commands_for, root

    assert commands_for(["compute", "nps", "-c", "x.yaml"]) == ["compute"]
    assert commands_for(["sample-data", "demo"]) == ["sample-data"]
    assert commands_for(["--help"]) is None and commands_for([]) is None and commands_for(["comptue"]) is None
    code = ("import sys\nsys.argv = ['crmmetrics', 'compute', '--help']\nfrom crmmetrics.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('crmmetrics.cli.')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), cwd=ROOT)
    assert "Usage: crmmetrics compute" in proc.stdout
    loaded = eval(proc.stdout.strip().splitlines()[-1])
    assert not {"crmmetrics.cli.analyze", "crmmetrics.cli.check", "crmmetrics.cli.report", "crmmetrics.cli.validate"} & set(loaded)
    from crmmetrics.cli import app  # every command registered

    registered = {c.name for c in root.app.registered_commands} | {g.name for g in root.app.registered_groups}
    assert registered == set(COMMAND_MODULES)
    for c in root.app.registered_commands:
        assert c.callback.__module__ == f"crmmetrics.cli.{COMMAND_MODULES[c.name]}"
    assert app is root.app
