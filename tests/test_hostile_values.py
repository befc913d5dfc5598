"""Hostile and messy cell values (issue #9, the parsing half): dates, numbers, nulls,
Turkish casing and rows that used to vanish. Each test checks the exit code, the issue
or error line (file:line, column, value, hint) and the numbers, on an untouched input."""

from __future__ import annotations

import pytest

from crmmetrics.errors import ExitCode
from tests.conftest import write
from tests.test_hostile_inputs import error_line, nps_project, nps_value, run_on

SURVEY_HEAD = "id,type,score,date\n"


def issue_lines(res, code: str) -> list[str]:
    return [ln for ln in res.stderr.splitlines() if code in ln or ln.startswith("  ")]


# ---------------------------------------------------------------- 5: rows that vanished


def test_blank_survey_types_are_counted_and_fail_strict(tmp_path):
    # 6 responses: 10, 9 typed nps; 0, 1, 2, 3 blank type. The blanks are in no metric,
    # and the run says so instead of reporting NPS +100 as if nothing were left out.
    data = SURVEY_HEAD + "1,nps,10,2026-01-01\n2,,0,2026-01-01\n3,,1,2026-01-01\n4,,2,2026-01-01\n5,nps,9,2026-01-01\n6,,3,2026-01-01\n"
    cfg, export = nps_project(tmp_path, data.encode())
    res = run_on(cfg, export, "compute", "nps", "-f", "csv", "-p", "all")
    assert res.exit_code == 0 and nps_value(res) == 100.0
    assert "crmmetrics: 4 issue(s): blank_survey_type 4" in res.stderr
    assert "s.csv:3 (nps): 4 responses have no survey_type" in res.stderr
    strict = run_on(cfg, export, "compute", "nps", "-f", "csv", "-p", "all", "--strict")
    assert strict.exit_code == ExitCode.DATAERR and "4 responses have no survey_type" in error_line(strict)


def test_info_exclusions_are_counted_in_the_default_summary_line(tmp_path):
    data = SURVEY_HEAD + "1,nps,10,2026-01-01\n2,nps,,2026-01-01\n"
    cfg, export = nps_project(tmp_path, data.encode())
    res = run_on(cfg, export, "compute", "nps", "-f", "csv", "-p", "all")
    assert res.exit_code == 0 and "crmmetrics: info: blank_score 1 (-v lists them)" in res.stderr


# ---------------------------------------------------------------- 9: dates outside the nanosecond range


@pytest.mark.parametrize("value", ["9999-12-31", "01.01.1600", "31/12/9999", "1600-01-01 10:00", "99991231"])
def test_out_of_range_dates_are_issues_naming_the_cell(tmp_path, value):
    data = SURVEY_HEAD + f"1,nps,10,2026-01-01\n2,nps,0,{value}\n"
    cfg, export = nps_project(tmp_path, data.encode())
    res = run_on(cfg, export, "compute", "nps", "-f", "csv", "-p", "all")
    assert res.exit_code == 0 and nps_value(res) == 100.0
    assert "date_out_of_range 1" in res.stderr
    assert f"s.csv:3: column 'date': responded_at: date outside 1678–2261; value ignored (hint: fix the year" in res.stderr


def test_a_9999_end_date_means_no_end(tmp_path):
    cfg = write(tmp_path / "c.yaml", """
        version: 1
        timezone: UTC
        sources:
          subscriptions:
            path: subs.csv
            fields: {subscription_id: id, customer_id: customer, started_at: start, ended_at: end, amount: mrr}
        """)
    export = tmp_path / "subs.csv"
    export.write_text("id,customer,start,end,mrr\nS1,C1,2026-01-01,9999-12-31,100\nS2,C2,2026-01-01,2026-02-15,50\n")
    res = run_on(cfg, export, "compute", "mrr", "-f", "csv", "-p", "month", "--since", "2026-01-01", "--until", "2026-04-01", "-v")
    assert res.exit_code == 0, res.stderr
    values = [ln.split(",") for ln in res.stdout.splitlines()]
    col = values[0].index("value")
    assert [float(r[col]) for r in values[1:]] == [150.0, 100.0, 100.0]  # MRR at month end: S2 ends mid-February; S1 never
    assert "open_end 1" in res.stderr and "9999-12-31" in res.stderr


@pytest.mark.parametrize("flag, value", [("--since", "0001-01-01"), ("--until", "9999-12-31"), ("--as-of", "9999-12-31")])
def test_date_flags_outside_the_range_are_usage_errors(tmp_path, flag, value):
    cfg, export = nps_project(tmp_path, (SURVEY_HEAD + "1,nps,10,2026-01-01\n").encode())
    res = run_on(cfg, export, "compute", "nps", "-f", "csv", flag, value)
    assert res.exit_code == ExitCode.USAGE
    assert f"{flag} '{value}' is outside the dates crmmetrics can compute with" in error_line(res)


# ---------------------------------------------------------------- 10: numbers in text are not serial days


def test_a_year_in_a_text_date_column_is_not_1905(tmp_path):
    cfg, export = nps_project(tmp_path, (SURVEY_HEAD + "1,nps,10,2026-01-01\n2,nps,0,2026\n3,nps,0,2026-01-01T10:00+99:99\n").encode())
    res = run_on(cfg, export, "compute", "nps", "-f", "csv", "-p", "all")
    assert res.exit_code == 0 and nps_value(res) == 100.0 and "1905" not in res.stdout
    assert "unparseable_datetime 2" in res.stderr and "s.csv:3: column 'date'" in res.stderr and "s.csv:4: column 'date'" in res.stderr


def test_serial_days_in_text_when_the_config_says_so(tmp_path):
    cfg, export = nps_project(tmp_path, (SURVEY_HEAD + "1,nps,10,46023\n").encode(), extra="dates: {excel_serials: true}")
    res = run_on(cfg, export, "compute", "nps", "-f", "csv", "-p", "month")
    assert res.exit_code == 0 and ",2026-01-01,2026-02-01," in res.stdout  # 46023 = 2026-01-01


# ---------------------------------------------------------------- 11: numbers


ORDERS = """
version: 1
timezone: UTC
sources:
  orders:
    path: o.csv
    {extra}
    fields: {{order_id: id, customer_id: customer, order_date: date, amount: amount}}
"""


def orders_project(tmp_path, amounts: list[str], extra: str = ""):
    lines = ["id;customer;date;amount"] + [f"O{i};C{i};2026-01-0{i};{a}" for i, a in enumerate(amounts, start=1)]
    export = tmp_path / "o.csv"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return write(tmp_path / "c.yaml", ORDERS.format(extra=extra)), export


def revenue(res) -> float:
    rows = [ln.split(",") for ln in res.stdout.splitlines()]
    return float(rows[1][rows[0].index("value")])


@pytest.mark.parametrize("big", ["1e400", "9" * 400])
def test_overflowing_amounts_are_issues_not_a_null_month(tmp_path, big):
    cfg, export = orders_project(tmp_path, ["100", big, "50"])
    res = run_on(cfg, export, "compute", "revenue", "-f", "csv", "-p", "all")
    assert res.exit_code == 0 and revenue(res) == 150.0
    assert "number_overflow 1" in res.stderr and "o.csv:3: column 'amount': amount: number too large" in res.stderr


def test_mixed_currency_markers_fail_the_run(tmp_path):
    cfg, export = orders_project(tmp_path, ["$100", "€50", "20 TL", "£5"])
    res = run_on(cfg, export, "compute", "revenue", "-f", "csv", "-p", "all")
    assert res.exit_code == ExitCode.DATAERR
    line = error_line(res)
    assert "o.csv:2: column 'amount': amount: the column mixes currencies (EUR, GBP, TRY, USD)" in line
    assert "'$100'" in line and "set fx_rates for EUR, GBP, TRY, USD" in res.stderr


def test_fx_rates_convert_mixed_currency_markers(tmp_path):
    cfg, export = orders_project(tmp_path, ["$100", "€50", "20 TL", "10"])
    cfg.write_text(cfg.read_text() + "currency: USD\nfx_rates: {EUR: 1.2, TRY: 0.05}\n")
    res = run_on(cfg, export, "compute", "revenue", "-f", "csv", "-p", "all")
    # 100 + 50 × 1.2 + 20 × 0.05 + 10 (unmarked: the reporting currency) = 171
    assert res.exit_code == 0 and revenue(res) == pytest.approx(171.0)
    assert "info: fx_converted 3" in res.stderr


def test_spaces_percentages_and_ambiguous_groups(tmp_path):
    # "1 2" is not 12; "1 234" is 1234; "50%" is 0.5; beside "12,5", "12,500" is ambiguous.
    cfg, export = orders_project(tmp_path, ["1 2", "1 234", "50%", "12,5", "12,500"])
    res = run_on(cfg, export, "compute", "revenue", "-f", "csv", "-p", "all", "-vv")
    assert res.exit_code == 0 and revenue(res) == 1234.0
    assert "o.csv:2: column 'amount': amount: not a number" in res.stderr
    assert "o.csv:4: column 'amount': amount: a percentage where an amount is expected" in res.stderr
    assert "o.csv:5: column 'amount': amount: not a number" in res.stderr
    assert "o.csv:6: column 'amount': amount: reads as thousands grouped by ','" in res.stderr


def test_the_config_refuses_thousands_equal_to_decimal(tmp_path):
    cfg, export = orders_project(tmp_path, ["$1.5"], extra='csv: {thousands: ".", decimal: "."}')
    res = run_on(cfg, export, "compute", "revenue", "-f", "csv")
    assert res.exit_code == ExitCode.CONFIG
    assert "c.yaml:6" in res.stderr and "thousands and decimal are both '.'" in res.stderr


# ---------------------------------------------------------------- 12: Turkish casing


DEALS = """
version: 1
timezone: Europe/Istanbul
sources:
  deals:
    path: d.csv
    {extra}
    fields: {{deal_id: id, created_at: created, closed_at: closed, status: stage, amount: amount}}
    values:
      status: {{"Kazanıldı": won, "Kaybedildi": lost, "*": open}}
"""


@pytest.mark.parametrize("encoding, extra", [("utf-8", ""), ("cp1254", ""), ("utf-8", "csv: {locale: tr}")])
def test_turkish_upper_case_matches_the_values_map(tmp_path, encoding, extra):
    rows = ["id;created;closed;stage;amount", "1;2026-01-01;2026-01-10;Kazanıldı;100", "2;2026-01-01;2026-01-10;KAZANILDI;100",
            "3;2026-01-01;2026-01-10;KAYBEDİLDİ;100", "4;2026-01-01;2026-01-10;kaybedildi;100", "5;2026-01-01;2026-01-10;Kazanıldı;100",
            "6;2026-01-01;;Müzakere;100"]
    export = tmp_path / "d.csv"
    export.write_bytes(("\n".join(rows) + "\n").encode(encoding))
    cfg = write(tmp_path / "c.yaml", DEALS.format(extra=extra))
    res = run_on(cfg, export, "compute", "win_rate", "-f", "csv", "-p", "all", "-v")
    assert res.exit_code == 0, res.stderr
    assert revenue(res) == pytest.approx(0.6)  # 3 won of 5 closed (66.7 % before)
    assert "info: value_defaulted 1" in res.stderr and "'Müzakere' 1" in res.stderr


# ---------------------------------------------------------------- 23: null tokens


def segments(res) -> list[str]:
    rows = [ln.split(",") for ln in res.stdout.splitlines()]
    return [r[rows[0].index("segment")] for r in rows[1:]]


def test_region_na_stays_na_while_numbers_still_take_the_tokens(tmp_path):
    data = "id,type,score,date,region\n1,nps,10,2026-01-01,NA\n2,nps,0,2026-01-01,EU\n3,nps,NA,2026-01-01,NA\n"
    cfg, export = nps_project(tmp_path, data.encode(), more=", segment: region")
    res = run_on(cfg, export, "compute", "nps", "-f", "csv", "-p", "all", "-b", "segment")
    assert res.exit_code == 0
    assert segments(res) == ["EU", "NA"]  # not "(blank)"
    assert "info: blank_score 1" in res.stderr  # score "NA" is still no value
    cfg.write_text(cfg.read_text().replace("fields:", 'csv: {null_values: ["", "NA"]}\n    fields:'))
    res = run_on(cfg, export, "compute", "nps", "-f", "csv", "-p", "all", "-b", "segment")
    assert segments(res) == ["(blank)", "EU"]
