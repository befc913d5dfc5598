"""Preset header matching runs against what is really read: the config's path,
``--input tickets=FILE`` and ``--input tickets=-`` (stdin) give the same numbers for an
export that lacks a column the preset maps as optional (issue #12, presets)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crmmetrics.cli import app
from tests.conftest import ROOT

runner = CliRunner()
FIX = ROOT / "tests" / "fixtures" / "presets"
DROPPED = "First reply time in minutes within business hours"  # optional in zendesk-tickets


def _trimmed_export() -> bytes:
    """The Zendesk fixture without its business-hours first-reply column (a plan without it)."""
    rows = list(csv.reader(io.StringIO((FIX / "zendesk-tickets.csv").read_text(encoding="utf-8-sig"))))
    cut = rows[0].index(DROPPED)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(r[:cut] + r[cut + 1:] for r in rows)
    return out.getvalue().encode("utf-8")


def _run(args: list[str], stdin: bytes | None = None) -> dict[str, dict]:
    res = runner.invoke(app, ["compute", "first_reply_time", "ticket_volume", *args, "-p", "all", "--as-of", "2026-12-31", "-f", "json"],
                        input=stdin)
    assert res.exit_code == 0, res.stderr
    return {r["metric"]: r for r in json.loads(res.stdout)["results"]}


@pytest.fixture()
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, bytes]:
    data = _trimmed_export()
    (tmp_path / "tickets.csv").write_bytes(data)
    (tmp_path / "other.csv").write_bytes(data)
    cfg = tmp_path / "crm.yaml"
    cfg.write_text("version: 1\ntimezone: UTC\nsources:\n  tickets: {preset: zendesk-tickets, path: tickets.csv}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # --input paths are relative to the working directory
    return cfg, data


def test_input_path_and_stdin_match_the_preset_like_the_config_path(setup):
    cfg, data = setup
    from_config = _run(["-c", str(cfg)])
    # Calendar first reply = business + 600 min; business 15..150 three times each → median 82.5 → (82.5 + 600) / 60 h.
    assert from_config["first_reply_time"]["value"] == pytest.approx((82.5 + 600) / 60)
    assert from_config["ticket_volume"]["value"] == 30
    cfg.write_text(cfg.read_text().replace("path: tickets.csv", "path: missing.csv"))  # only --input is read now
    for got in (_run(["-c", str(cfg), "--input", "tickets=other.csv"]), _run(["-c", str(cfg), "--input", "tickets=-"], stdin=data)):
        for metric in ("first_reply_time", "ticket_volume"):
            assert (got[metric]["value"], got[metric]["n"]) == (from_config[metric]["value"], from_config[metric]["n"])


def test_stdin_missing_a_required_column_names_the_preset_and_closest_header(setup):
    cfg, data = setup
    broken = data.replace(b"Created at,", b"Created,", 1)
    res = runner.invoke(app, ["compute", "ticket_volume", "-c", str(cfg), "--input", "tickets=-"], input=broken)
    assert res.exit_code != 0 and res.exit_code != 70
    assert "<stdin>:1: not a zendesk-tickets export: column 'Created at' (tickets.created_at) not found; closest header: 'Created'" in res.stderr


def test_gzipped_stdin_is_matched_after_unpacking(setup):
    import gzip

    cfg, data = setup
    plain = _run(["-c", str(cfg), "--input", "tickets=-"], stdin=data)
    packed = _run(["-c", str(cfg), "--input", "tickets=-"], stdin=gzip.compress(data))
    assert packed["first_reply_time"]["value"] == pytest.approx((82.5 + 600) / 60)
    assert (packed["ticket_volume"]["value"], packed["first_reply_time"]["n"]) == (plain["ticket_volume"]["value"], plain["first_reply_time"]["n"]) == (30, 30)
