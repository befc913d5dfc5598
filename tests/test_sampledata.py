"""Tests for :mod:`crmmetrics.sampledata`, the demo CRM export generator.

They pin down what the rest of the project relies on: the files are
reproducible to the byte, the committed ``sample_data/`` is exactly what the
generator writes, every file has its documented encoding/delimiter/header, the
ids join across files and ``customers.csv`` MRR agrees with the subscriptions.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import pathlib
import re
import subprocess
import sys
import zipfile

import pytest

from crmmetrics.sampledata import AS_OF, FILE_NAMES, HEADERS, write_sample_data

ROOT = pathlib.Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "sample_data"
REGENERATE = "regenerate it with: python -m crmmetrics.sampledata sample_data"

# name -> (encoding, delimiter) as documented in the module docstring.
CSV_FORMATS = {
    "customers.csv": ("utf-8", ","),
    "subscriptions.csv": ("utf-8", ","),
    "orders_tr.csv": ("cp1254", ";"),
    "leads.csv": ("utf-8", ","),
    "tickets.csv": ("utf-8", ","),
    "surveys_tr.csv": ("utf-8-sig", ";"),
    "activities.csv": ("utf-8", ","),
    "spend.csv": ("utf-8", ","),
}
BOM = b"\xef\xbb\xbf"
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@pytest.fixture
def generated(sample_project: pathlib.Path) -> pathlib.Path:
    """The generator's output, written once per run by the shared `sample_project` fixture."""
    return sample_project / "sample_data"


def read_rows(directory: pathlib.Path, name: str) -> list[dict[str, str]]:
    encoding, delimiter = CSV_FORMATS[name]
    with open(directory / name, encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


def zip_members(data: bytes) -> list[tuple[str, tuple[int, ...], bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(i.filename, i.date_time, zf.read(i.filename)) for i in zf.infolist()]


# --------------------------------------------------------------------------- reproducibility


def test_two_runs_are_byte_identical(generated: pathlib.Path, tmp_path: pathlib.Path) -> None:
    directory = tmp_path / "nested"  # also checks the directory is created
    again = write_sample_data(directory)
    assert [p.name for p in again] == list(FILE_NAMES)
    assert all(p.parent == directory and p.is_file() for p in again)
    for path in again:
        assert path.read_bytes() == (generated / path.name).read_bytes(), path.name


def test_other_seed_gives_other_data(generated: pathlib.Path, tmp_path: pathlib.Path) -> None:
    write_sample_data(tmp_path, seed=1)
    assert (tmp_path / "customers.csv").read_bytes() != (generated / "customers.csv").read_bytes()


def test_committed_sample_data_equals_fresh_generation(generated: pathlib.Path) -> None:
    assert COMMITTED.is_dir(), f"sample_data/ is missing; {REGENERATE}"
    assert sorted(p.name for p in COMMITTED.iterdir()) == sorted(FILE_NAMES), REGENERATE
    deflate_differs = False
    for name in FILE_NAMES:
        fresh, committed = (generated / name).read_bytes(), (COMMITTED / name).read_bytes()
        if fresh == committed:
            continue
        # The only legitimate difference: another zlib build (e.g. zlib-ng)
        # deflates the same workbook members to other bytes.
        if name.endswith(".xlsx") and zip_members(fresh) == zip_members(committed):
            deflate_differs = True
            continue
        pytest.fail(f"sample_data/{name} differs from the generator output; {REGENERATE}")
    if deflate_differs:
        pytest.skip("crm_workbook.xlsx has identical contents but this zlib deflates to other bytes")


def test_import_does_not_load_heavy_libraries() -> None:
    # The CLI imports the package at start-up; numpy/pandas/openpyxl must load lazily.
    code = (
        "import sys, crmmetrics; before = set(sys.modules); import crmmetrics.sampledata; "
        "print(sorted({'numpy', 'pandas', 'openpyxl'} & (set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize("name", sorted(CSV_FORMATS))
def test_csv_headers_and_shape(generated: pathlib.Path, name: str) -> None:
    encoding, delimiter = CSV_FORMATS[name]
    text = (generated / name).read_bytes().decode(encoding)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    assert rows[0] == HEADERS[name]
    assert len(rows) > 100
    assert all(len(row) == len(rows[0]) for row in rows), "ragged rows"


@pytest.mark.parametrize("name", [n for n, (enc, _) in CSV_FORMATS.items() if enc == "utf-8"])
def test_plain_utf8_files_have_no_bom_and_lf(generated: pathlib.Path, name: str) -> None:
    raw = (generated / name).read_bytes()
    assert not raw.startswith(BOM)
    raw.decode("utf-8")
    assert b"\r" not in raw


def test_orders_are_turkish_excel_cp1254(generated: pathlib.Path) -> None:
    raw = (generated / "orders_tr.csv").read_bytes()
    text = raw.decode("cp1254")
    assert "Sipariş No" in text and "Ödendi" in text
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    # Excel on Windows: every line ends with CRLF.
    assert raw.endswith(b"\r\n") and raw.count(b"\n") == raw.count(b"\r\n")
    rows = read_rows(generated, "orders_tr.csv")
    assert all(re.fullmatch(r"\d{1,3}(\.\d{3})*,\d{2}", r["Tutar"]) for r in rows)
    assert any("." in r["Tutar"] for r in rows), "no amount with a thousands separator"
    assert all(re.fullmatch(r"\d{2}\.\d{2}\.\d{4}", r["Sipariş Tarihi"]) for r in rows)
    assert {r["Durum"] for r in rows} == {"Ödendi", "İade Edildi", "İptal"}
    assert {r["Tekrarlayan"] for r in rows} == {"Evet", "Hayır"}
    assert {r["Para Birimi"] for r in rows} == {"TRY"}


def test_orders_parse_with_pandas_turkish_options(generated: pathlib.Path) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(generated / "orders_tr.csv", sep=";", encoding="cp1254", decimal=",",
                        thousands=".", dtype={"Müşteri No": str})
    assert list(frame.columns) == HEADERS["orders_tr.csv"]
    assert pd.api.types.is_float_dtype(frame["Tutar"]) and (frame["Tutar"] > 0).all()


def test_surveys_are_utf8_with_bom_and_quoted_semicolons(generated: pathlib.Path) -> None:
    raw = (generated / "surveys_tr.csv").read_bytes()
    assert raw.startswith(BOM)
    assert raw[len(BOM):].startswith("Yanıt No;".encode("utf-8"))
    rows = read_rows(generated, "surveys_tr.csv")
    assert any(";" in r["Yorum"] for r in rows), "no comment with an embedded delimiter"
    assert all(re.fullmatch(r"\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}", r["Tarih"]) for r in rows)
    ranges = {"NPS": range(0, 11), "CSAT": range(1, 6), "CES": range(1, 8)}
    assert {r["Anket"] for r in rows} == set(ranges)
    blanks = [r for r in rows if r["Puan"] == ""]
    assert 0 < len(blanks) < len(rows) * 0.01
    assert all(int(r["Puan"]) in ranges[r["Anket"]] for r in rows if r["Puan"] != "")


def test_date_and_datetime_formats(generated: pathlib.Path) -> None:
    checks = {
        "customers.csv": (ISO_DATE, ["Created", "First Paid", "Churned", "Activated"]),
        "subscriptions.csv": (ISO_DATE, ["Start", "Canceled", "End"]),
        "leads.csv": (ISO_DATETIME, ["Created", "First Response"]),
        "tickets.csv": (ISO_DATETIME, ["Created", "First Reply", "First Solved", "Solved"]),
        "activities.csv": (ISO_DATETIME, ["Date"]),
    }
    for name, (pattern, columns) in checks.items():
        for row in read_rows(generated, name):
            for column in columns:
                assert row[column] == "" or pattern.match(row[column]), (name, column, row[column])
    for row in read_rows(generated, "leads.csv"):
        for column in ("MQL Date", "SQL Date", "Converted Date"):
            assert row[column] == "" or ISO_DATE.match(row[column])
    months = [r["Month"] for r in read_rows(generated, "spend.csv")]
    assert len(set(months)) == 22 and all(re.fullmatch(r"\d{4}-\d{2}-01", m) for m in months)


def test_everything_happens_inside_the_data_span(generated: pathlib.Path) -> None:
    first, last = "2025-01-01", AS_OF.isoformat()
    for name, column in (("customers.csv", "Created"), ("subscriptions.csv", "Start"),
                         ("tickets.csv", "Created"), ("leads.csv", "Created"), ("activities.csv", "Date")):
        values = [r[column][:10] for r in read_rows(generated, name) if r[column]]
        assert first <= min(values) and max(values) <= last, (name, column)


def test_workbook_sheets_and_real_dates(generated: pathlib.Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.load_workbook(generated / "crm_workbook.xlsx")
    assert wb.sheetnames == ["Oku Beni", "Deals", "Deal Stages"]
    deals = list(wb["Deals"].iter_rows(values_only=True))
    assert list(deals[0]) == HEADERS["Deals"]
    assert len(deals) > 1000
    col = {name: i for i, name in enumerate(HEADERS["Deals"])}
    assert all(isinstance(row[col["Created"]], dt.datetime) for row in deals[1:])
    closes = [row[col["Close Date"]] for row in deals[1:]]
    assert all(value is None or isinstance(value, dt.datetime) for value in closes)
    for row in deals[1:]:
        is_open = row[col["Stage"]] not in ("Closed Won", "Closed Lost")
        assert (row[col["Close Date"]] is None) == is_open
    stages = list(wb["Deal Stages"].iter_rows(values_only=True))
    assert list(stages[0]) == HEADERS["Deal Stages"]
    assert all(isinstance(row[2], dt.datetime) for row in stages[1:])
    # Reproducibility: pinned zip timestamps and document properties.
    with zipfile.ZipFile(generated / "crm_workbook.xlsx") as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert wb.properties.created == wb.properties.modified == dt.datetime(2026, 11, 1)


# --------------------------------------------------------------------------- consistency


def test_ids_join_across_files(generated: pathlib.Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    customers = {r["Customer ID"] for r in read_rows(generated, "customers.csv")}
    assert len(customers) == len(read_rows(generated, "customers.csv"))
    assert all(re.fullmatch(r"C\d{5}", c) for c in customers)
    leads = {r["Lead ID"] for r in read_rows(generated, "leads.csv")}
    tickets = {r["Ticket ID"] for r in read_rows(generated, "tickets.csv")}

    wb = openpyxl.load_workbook(generated / "crm_workbook.xlsx", read_only=True)
    deal_rows = list(wb["Deals"].iter_rows(min_row=2, values_only=True))
    deals = {row[0] for row in deal_rows}
    stage_deals = {row[0] for row in wb["Deal Stages"].iter_rows(min_row=2, values_only=True)}
    wb.close()

    references = {
        "subscriptions.csv": [r["Customer ID"] for r in read_rows(generated, "subscriptions.csv")],
        "orders_tr.csv": [r["Müşteri No"] for r in read_rows(generated, "orders_tr.csv") if r["Müşteri No"]],
        "tickets.csv": [r["Customer ID"] for r in read_rows(generated, "tickets.csv")],
        "surveys_tr.csv": [r["Müşteri No"] for r in read_rows(generated, "surveys_tr.csv")],
        "activities.csv": [r["Customer ID"] for r in read_rows(generated, "activities.csv") if r["Customer ID"]],
        "Deals": [row[1] for row in deal_rows],
    }
    for name, ids in references.items():
        assert ids and set(ids) <= customers, name

    orders = read_rows(generated, "orders_tr.csv")
    walk_ins = sum(1 for r in orders if not r["Müşteri No"])
    assert 0 < walk_ins < len(orders) * 0.02
    assert stage_deals == deals
    assert {row[2] for row in deal_rows if row[2]} <= leads
    activities = read_rows(generated, "activities.csv")
    assert {r["Lead ID"] for r in activities if r["Lead ID"]} <= leads
    assert {r["Deal ID"] for r in activities if r["Deal ID"]} <= deals
    assert {r["Ticket ID"] for r in activities if r["Ticket ID"]} <= tickets
    assert {r["Talep No"] for r in read_rows(generated, "surveys_tr.csv") if r["Talep No"]} <= tickets


def test_customer_mrr_matches_active_subscriptions(generated: pathlib.Path) -> None:
    """MRR = sum over rows active on the as-of date of (Amount - Discount) / Interval.

    Amount is the price of the whole subscription for one interval (all seats);
    Seats is informative and does not multiply Amount.  A row is active on D
    when Start <= D < End (blank End = open-ended); past_due rows count.
    """
    as_of = AS_OF.isoformat()
    expected: dict[str, float] = {}
    for s in read_rows(generated, "subscriptions.csv"):
        if s["Start"] <= as_of and (s["End"] == "" or s["End"] > as_of):
            mrr = (float(s["Amount"]) - float(s["Discount"])) / int(s["Interval (months)"])
            expected[s["Customer ID"]] = expected.get(s["Customer ID"], 0.0) + mrr
    customers = read_rows(generated, "customers.csv")
    for c in customers:
        assert float(c["MRR"]) == pytest.approx(expected.get(c["Customer ID"], 0.0), abs=0.01), c["Customer ID"]
        assert (c["Status"] == "active") == (c["Customer ID"] in expected)
        assert (c["Churned"] != "") == (c["Status"] == "churned")
        assert (c["First Paid"] == "") == (c["Status"] == "trial")
    assert sum(1 for c in customers if c["Status"] == "churned") > 50


def test_subscription_rows_are_coherent(generated: pathlib.Path) -> None:
    rows = read_rows(generated, "subscriptions.csv")
    by_customer: dict[str, list[dict[str, str]]] = {}
    for s in rows:
        assert s["Currency"] == "TRY" and s["Interval (months)"] in ("1", "12")
        assert s["Status"] in ("active", "canceled", "past_due")
        assert s["End"] == "" or s["End"] > s["Start"]
        assert s["Canceled"] == "" or s["Start"] < s["Canceled"] <= s["End"]
        net = float(s["Amount"]) - float(s["Discount"])
        assert float(s["Tax"]) == pytest.approx(net * 0.20, abs=0.006)
        by_customer.setdefault(s["Customer ID"], []).append(s)
    kinds = {"upgrade": 0, "downgrade": 0, "winback": 0}
    for subs in by_customer.values():
        subs.sort(key=lambda s: s["Start"])
        for old, new in zip(subs, subs[1:]):
            assert old["End"] and old["End"] <= new["Start"]
            if old["End"] == new["Start"]:  # plan change: same day hand-over, no cancel request
                assert old["Canceled"] == ""
                kinds["upgrade" if float(new["Amount"]) > float(old["Amount"]) else "downgrade"] += 1
            else:
                kinds["winback"] += 1
    assert all(count > 10 for count in kinds.values()), kinds
    annual = sum(1 for s in rows if s["Interval (months)"] == "12") / len(rows)
    assert 0.12 < annual < 0.30


def test_row_counts_are_in_the_documented_ballpark(generated: pathlib.Path) -> None:
    expected = {
        "customers.csv": (1200, 1200), "subscriptions.csv": (1300, 1900), "orders_tr.csv": (2700, 3300),
        "leads.csv": (2500, 2500), "tickets.csv": (2700, 3300), "surveys_tr.csv": (3700, 4300),
        "activities.csv": (5500, 6500), "spend.csv": (220, 220),
    }
    for name, (low, high) in expected.items():
        assert low <= len(read_rows(generated, name)) <= high, name
    total = sum(p.stat().st_size for p in generated.iterdir())
    assert total < 4 * 1024 * 1024
