"""Config loading: line numbers, close-match hints, YAML 1.2 scalars, JSON Schema."""

from __future__ import annotations

import json

import pytest

from crmmetrics.config import json_schema_text, load_config
from crmmetrics.errors import ConfigError
from crmmetrics.yamlload import load_yaml
from tests.conftest import ROOT, write

BASE = """
version: 1
timezone: Europe/Istanbul
sources:
  surveys:
    path: s.csv
    fields: {score: Puan, responded_at: Tarih, survey_type: Tip}
"""


def _problems(tmp_path, text):
    cfg = write(tmp_path / "crm.yaml", text)
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    return err.value.message.splitlines()


def test_unknown_key_has_file_line_path_and_close_match(tmp_path):
    lines = _problems(tmp_path, BASE + "metrcs:\n  nps: {promoter_min: 9}\n")
    assert lines == [f"{tmp_path / 'crm.yaml'}:7: metrcs: unknown key; did you mean 'metrics'?"]


def test_nested_problems_point_at_their_own_lines(tmp_path):
    """Metric option sections are validated when a run loads the registry (loading a config
    imports no metric family), with the same FILE:LINE lines; every other key at load."""
    text = BASE + "metrics:\n  nps:\n    promoter_mn: 9\n  csat: {scale: [5, 1]}\nweek_start: moonday\n"
    lines = _problems(tmp_path, text)
    assert any(":11: week_start:" in line for line in lines)
    cfg = load_config(write(tmp_path / "crm.yaml", text.replace("moonday", "monday")))
    with pytest.raises(ConfigError) as err:
        cfg.check_metric_options()
    lines = err.value.message.splitlines()
    assert lines[0] == f"{tmp_path / 'crm.yaml'}:9: metrics.nps.promoter_mn: unknown key; did you mean 'promoter_min'?"
    assert ":10: metrics.csat" in lines[1] and "highest > lowest" in lines[1]
    assert len(lines) == 2


def test_a_bad_metric_option_fails_every_run_even_of_another_metric(tmp_path):
    """A typo in metrics.csat stops `compute nps` with exit 78 and the line, as when the
    sections were validated at load; it is never turned into a metric_skipped note."""
    from typer.testing import CliRunner

    from crmmetrics.cli import app

    write(tmp_path / "s.csv", "Puan,Tarih,Tip\n9,2026-01-05,nps\n")
    cfg = write(tmp_path / "crm.yaml", BASE + "metrics:\n  csat: {scale: [5, 1]}\n")
    for args in (["compute", "nps"], ["compute"], ["explain", "nps"], ["check"]):
        res = CliRunner().invoke(app, [*args, "-c", str(cfg)])
        assert res.exit_code == 78, (args, res.output)
        assert f"{cfg}:8: metrics.csat" in res.output and "highest > lowest" in res.output, (args, res.output)


def test_single_source_paths_do_not_show_a_list_index(tmp_path):
    lines = _problems(tmp_path, BASE.replace("    path: s.csv\n", "    path: s.csv\n    sheeet: 1\n"))
    assert lines[0].endswith(":6: sources.surveys.sheeet: unknown key; did you mean 'sheet'?")


def test_mistyped_canonical_field_is_caught(tmp_path):
    lines = _problems(tmp_path, BASE.replace("score: Puan", "scroe: Puan"))
    assert "sources.surveys.fields.scroe: not a field of surveys; did you mean 'score'?" in lines[0]


def test_malformed_yaml_names_the_line(tmp_path):
    lines = _problems(tmp_path, BASE + "metrics: [unclosed\n")
    assert lines[0].startswith(f"{tmp_path / 'crm.yaml'}:") and "malformed YAML" in lines[0]


def test_bad_time_zone_and_missing_file(tmp_path):
    assert "unknown time zone 'Europe/Istanbull'" in _problems(tmp_path, BASE.replace("Europe/Istanbul", "Europe/Istanbull"))[0]
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_yaml_12_scalars_keep_no_and_times_as_text():
    data, lines = load_yaml("a: no\nb: 12:30\nc: 2024-01-05\nd: 010\ne: true\n")
    assert data == {"a": "no", "b": "12:30", "c": "2024-01-05", "d": 10, "e": True}
    assert lines[("c",)] == 3


def test_values_map_keys_survive_as_strings(tmp_path):
    cfg = write(tmp_path / "crm.yaml", BASE + "    values:\n      survey_type: {yes: nps, Evet: nps, '*': csat}\n")
    src = load_config(cfg).sources("surveys")[0]
    assert src.values["survey_type"] == {"yes": "nps", "Evet": "nps", "*": "csat"}


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    cfg = write(tmp_path / "sub" / "crm.yaml", BASE)
    assert load_config(cfg).base_dir == tmp_path / "sub"


def test_committed_schema_equals_the_generated_one():
    committed = (ROOT / "config.schema.json").read_text(encoding="utf-8")
    assert committed == json_schema_text(), "run: crmmetrics config schema > config.schema.json"
    schema = json.loads(committed)
    assert schema["additionalProperties"] is False
    assert "promoter_min" in json.dumps(schema)


def test_example_config_has_the_modeline_and_validates_against_the_schema():
    import jsonschema

    from crmmetrics.yamlload import load_yaml as ly

    text = (ROOT / "config.example.yaml").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "# yaml-language-server: $schema=./config.schema.json"
    data, _ = ly(text)
    jsonschema.validate(data, json.loads((ROOT / "config.schema.json").read_text(encoding="utf-8")))
    load_config(ROOT / "config.example.yaml")
