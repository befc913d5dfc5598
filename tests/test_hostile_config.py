"""Issue #9, the config side: YAML bombs, recursive aliases, deep nesting, duplicate keys
and config values the readers cannot honour are exit 78 with the line, never 70 or a hang.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crmmetrics.cli import app
from crmmetrics.errors import ExitCode
from tests.conftest import write

runner = CliRunner()
SOURCE = """
version: 1
sources:
  surveys:
    path: surveys.csv
    fields: {response_id: id, survey_type: type, score: score, responded_at: date}
"""
BOMB = SOURCE + """
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def project(tmp_path: Path, config: str) -> Path:
    (tmp_path / "surveys.csv").write_text("id,type,score,date\n1,nps,10,2026-01-05\n", encoding="utf-8")
    return write(tmp_path / "crm.yaml", config)


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("crmmetrics: error:")]


def _limit_memory() -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (1536 * 2**20, 1536 * 2**20))


# ------------------------------------------------ cause 13: YAML


def test_billion_laughs_is_refused_quickly_in_bounded_memory(tmp_path):
    cfg = project(tmp_path, BOMB)
    before = cfg.read_bytes()
    res = subprocess.run([sys.executable, "-m", "crmmetrics", "compute", "nps", "-c", str(cfg), "-f", "csv"],
                         capture_output=True, text=True, timeout=60, preexec_fn=_limit_memory)
    assert res.returncode == ExitCode.CONFIG, res.stderr
    assert errors(res.stderr) == [f"crmmetrics: error: {cfg}:11: more than 100,000 values once aliases are expanded (an alias bomb?)"]
    assert "crmmetrics: hint: use anchors and aliases sparingly" in res.stderr
    assert cfg.read_bytes() == before


@pytest.mark.parametrize("text, line, message", [
    ("x: &x [*x]\n", 6, "an alias refers to a node that contains it (a recursive alias)"),
    ("x: &x\n  y: *x\n", 6, "an alias refers to a node that contains it (a recursive alias)"),
    ("x: " + "[" * 60 + "]" * 60 + "\n", 6, "nested more than 50 levels deep"),
    ("x: " + "[" * 5000 + "]" * 5000 + "\n", 6, "nested more than 50 levels deep"),
])
def test_recursive_aliases_and_deep_nesting_are_exit_78(tmp_path, text, line, message):
    cfg = project(tmp_path, SOURCE + text)
    res = runner.invoke(app, ["compute", "nps", "-c", str(cfg)])
    assert res.exit_code == ExitCode.CONFIG
    assert errors(res.stderr) == [f"crmmetrics: error: {cfg}:{line}: {message}"]


def test_duplicate_keys_are_refused_with_both_lines(tmp_path):
    cfg = project(tmp_path, SOURCE + "timezone: UTC\ntimezone: Europe/Istanbul\n")
    res = runner.invoke(app, ["validate", "-c", str(cfg)])
    assert res.exit_code == ExitCode.CONFIG
    assert errors(res.stderr) == [f"crmmetrics: error: {cfg}:7: duplicate key 'timezone' (first at line 6, again at line 7)"]
    assert "crmmetrics: hint: keep one of them: YAML would silently use the last" in res.stderr


def test_duplicate_keys_deeper_down_and_merge_keys():
    from crmmetrics.yamlload import YamlRefused, load_yaml

    with pytest.raises(YamlRefused, match=r"duplicate key 'score' \(first at line 3, again at line 4\)"):
        load_yaml("a:\n  fields:\n    score: s\n    score: t\n")
    with pytest.raises(YamlRefused, match=r"duplicate key '01'"):
        load_yaml("1: a\n01: b\n")  # the same int
    data, _ = load_yaml("base: &b {x: 1, y: 2}\nover:\n  <<: *b\n  y: 3\n")  # merging may override
    assert data["over"] == {"x": 1, "y": 3}
    assert load_yaml("'1': a\n1: b\n")[0] == {"1": "a", 1: "b"}  # a string and an int differ


def test_aliases_within_budget_still_work():
    from crmmetrics.yamlload import load_yaml

    data, lines = load_yaml("base: &b [1, 2]\nuse: *b\n")
    assert data == {"base": [1, 2], "use": [1, 2]} and lines[("use",)] == 2


# ------------------------------------------------ cause 14: config gaps


@pytest.mark.parametrize("csv_opts, key, message", [
    ('{delimiter: ";;"}', "delimiter", 'must be one character (",", ";", "\\t", "|") or "whitespace" (got \';;\')'),
    ("{quotechar: ''}", "quotechar", "must be exactly one character, e.g. '\"' or \"'\" (got '')"),
    ("{quotechar: '\"\"'}", "quotechar", "must be exactly one character, e.g. '\"' or \"'\" (got '\"\"')"),
])
def test_csv_options_the_reader_cannot_use_are_exit_78(tmp_path, csv_opts, key, message):
    cfg = project(tmp_path, SOURCE + f"    csv: {csv_opts}\n")
    res = runner.invoke(app, ["compute", "nps", "-c", str(cfg)])
    assert res.exit_code == ExitCode.CONFIG
    assert errors(res.stderr) == [f"crmmetrics: error: {cfg}:6: sources.surveys.csv.{key}: Value error, {message}"]


def test_tab_and_whitespace_delimiters_are_still_accepted(tmp_path):
    from crmmetrics.config import load_config

    for delim, kept in (('"\\t"', "\t"), ("'\\t'", "\\t"), ("tab", "tab"), ("whitespace", "whitespace"), ("'|'", "|")):
        cfg = project(tmp_path, SOURCE + f"    csv: {{delimiter: {delim}}}\n")
        assert load_config(cfg).sources("surveys")[0].csv.delimiter == kept


@pytest.mark.parametrize("bounds, message", [
    ("{min: .nan}", "thresholds.nps.min: nan is not a finite number"),
    ("{min: 50, max: 30}", "thresholds.nps: min 50 is above max 30: every value would breach"),
])
def test_thresholds_that_can_never_work_are_exit_78(tmp_path, bounds, message):
    cfg = project(tmp_path, SOURCE + f"thresholds:\n  nps: {bounds}\n")
    res = runner.invoke(app, ["compute", "nps", "-c", str(cfg)])
    assert res.exit_code == ExitCode.CONFIG
    [line] = errors(res.stderr)
    assert line.startswith(f"crmmetrics: error: {cfg}:7: {message}")


def test_config_text_is_not_modified(tmp_path):
    cfg = project(tmp_path, SOURCE + textwrap.dedent("""
        x: &x [*x]
        """))
    before = cfg.read_bytes()
    runner.invoke(app, ["validate", "-c", str(cfg)])
    assert cfg.read_bytes() == before
