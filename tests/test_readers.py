"""Readers: encodings, delimiters, Excel sheets and cells, stdin, line numbers."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from crmmetrics import compute, load_config
from crmmetrics.errors import DataError, InputNotFoundError
from crmmetrics.io.detect import decode_text, detect_encoding, sniff_delimiter
from tests.conftest import write

TR_CONFIG = """
version: 1
timezone: Europe/Istanbul
sources:
  surveys:
    path: {path}
    {extra}
    constants: {{survey_type: nps}}
    fields: {{response_id: "Yanıt No", score: "Puan", responded_at: "Tarih", segment: "Şehir"}}
"""
TR_ROWS = "Yanıt No;Puan;Tarih;Şehir\n1;10;05.01.2026;İstanbul\n2;3;06.01.2026;İzmir\n3;9;07.02.2026;Muğla\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1254", "utf-16"])
def test_turkish_exports_in_every_common_encoding_are_detected(tmp_path, encoding):
    (tmp_path / "nps.csv").write_bytes(TR_ROWS.encode(encoding))
    cfg = write(tmp_path / "c.yaml", TR_CONFIG.format(path="nps.csv", extra=""))
    report = compute(load_config(cfg), ["nps"], by=["segment"])
    assert sorted(report.results["segment"].unique()) == ["Muğla", "İstanbul", "İzmir"]
    assert report.inputs[0].delimiter == ";"


def test_detect_encoding_rules():
    assert detect_encoding(b"\xef\xbb\xbfa") == "utf-8-sig"
    assert detect_encoding("Müşteri".encode("cp1254")) == "cp1254"
    assert detect_encoding("Müşteri".encode("utf-8")) == "utf-8"
    assert detect_encoding("a,b\n".encode("utf-16-le")) == "utf-16-le"
    assert detect_encoding(b"caf\xe9 \x90") == "latin-1"  # 0x90 is undefined in cp1254


def test_mixed_utf8_with_stray_latin1_bytes_is_repaired_and_reported():
    text, repaired, first = decode_text("é".encode() * 5 + b" caf\xe9", "utf-8", pinned=False)
    assert text.endswith("café") and repaired == 1 and first == 14


def test_a_pinned_wrong_encoding_names_file_line_and_byte(tmp_path):
    (tmp_path / "nps.csv").write_bytes(TR_ROWS.encode("cp1254"))
    cfg = write(tmp_path / "c.yaml", TR_CONFIG.format(path="nps.csv", extra="csv: {encoding: utf-8}"))
    with pytest.raises(DataError) as err:
        compute(load_config(cfg), ["nps"])
    assert "nps.csv:1:" in err.value.message and "utf-8" in err.value.message
    assert "cp1254" in err.value.hint


def test_delimiter_sniffing():
    assert sniff_delimiter("a;b;c\n1,5;2;3\n") == ";"
    assert sniff_delimiter("a\tb\n1\t2\n") == "\t"
    assert sniff_delimiter('a,b\n"x;y",2\n') == ","


def test_missing_column_lists_headers_with_repr_and_closest_match(tmp_path):
    (tmp_path / "nps.csv").write_bytes(TR_ROWS.encode("utf-8-sig"))
    cfg = write(tmp_path / "c.yaml", TR_CONFIG.format(path="nps.csv", extra="").replace('"Puan"', '"Puanı"'))
    with pytest.raises(DataError) as err:
        compute(load_config(cfg), ["nps"])
    assert "'Puanı'" in err.value.message and "'Yanıt No', 'Puan', 'Tarih', 'Şehir'" in err.value.message
    assert err.value.hint == "closest match: 'Puan'"


def test_line_numbers_count_physical_lines_across_quoted_newlines(tmp_path):
    write(tmp_path / "s.csv", 'id,score,date,comment\n1,10,2026-01-01,"two\nlines"\n2,12,2026-01-02,x\n')
    cfg = write(tmp_path / "c.yaml", """
        version: 1
        sources:
          surveys:
            path: s.csv
            constants: {survey_type: nps}
            fields: {response_id: id, score: score, responded_at: date, comment: comment}
        """)
    report = compute(load_config(cfg), ["nps"])
    issue = next(i for i in report.issues if i.code == "score_out_of_range")
    assert issue.location.endswith("s.csv:4")


def test_unparseable_values_are_counted_as_rejected_with_location(tmp_path):
    write(tmp_path / "s.csv", "id,score,date\n1,10,2026-01-01\n2,ten,2026-01-02\n3,9,someday\n")
    cfg = write(tmp_path / "c.yaml", """
        version: 1
        sources:
          surveys:
            path: s.csv
            constants: {survey_type: nps}
            fields: {response_id: id, score: score, responded_at: date}
        """)
    report = compute(load_config(cfg), ["nps"])
    assert report.inputs[0].rows_read == 3 and report.inputs[0].rows_rejected == 2
    locs = {i.code: (i.location, i.value, i.column) for i in report.issues if i.code.startswith("unparseable")}
    assert locs["unparseable_number"][1:] == ("ten", "score")
    assert locs["unparseable_number"][0].endswith("s.csv:3") and locs["unparseable_datetime"][0].endswith("s.csv:4")


def test_excel_sheet_by_name_with_real_date_cells_and_cell_locations(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "Read me"
    wb.active.append(["This sheet is not data"])
    ws = wb.create_sheet("Answers")
    ws.append(["id", "score", "when"])
    ws.append([1, 10, dt.datetime(2026, 1, 5, 9, 30)])
    ws.append([2, 11, dt.datetime(2026, 1, 6)])
    ws.append([3, 6, dt.datetime(2026, 2, 1)])
    wb.save(tmp_path / "s.xlsx")
    cfg = write(tmp_path / "c.yaml", """
        version: 1
        sources:
          surveys:
            path: s.xlsx
            sheet: Answers
            constants: {survey_type: nps}
            fields: {response_id: id, score: score, responded_at: when}
        """)
    report = compute(load_config(cfg), ["nps"])
    assert report.results["period"].tolist() == ["2026-01", "2026-02"]
    assert report.results["value"].tolist() == [100.0, -100.0]
    issue = next(i for i in report.issues if i.code == "score_out_of_range")
    assert issue.location.endswith("s.xlsx Answers!B3")
    assert report.inputs[0].sheet == "Answers"


def test_unknown_sheet_lists_the_sheets(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "Data"
    wb.save(tmp_path / "s.xlsx")
    cfg = write(tmp_path / "c.yaml", """
        version: 1
        sources:
          surveys: {path: s.xlsx, sheet: Dta, constants: {survey_type: nps}, fields: {score: a, responded_at: b}}
        """)
    with pytest.raises(DataError, match=r"sheets found: \['Data'\]"):
        compute(load_config(cfg), ["nps"])


def test_stdin_only_through_dash_and_never_from_a_terminal(tmp_path):
    cfg = write(tmp_path / "c.yaml", """
        version: 1
        sources:
          surveys: {path: "-", constants: {survey_type: nps}, fields: {score: score, responded_at: date}}
        """)
    stream = io.BytesIO(b"score,date\n10,2026-01-01\n")
    report = compute(load_config(cfg), ["nps"], stdin=stream)
    assert report.results["value"].tolist() == [100.0]

    class Tty(io.BytesIO):
        def isatty(self) -> bool:
            return True

    with pytest.raises(InputNotFoundError, match="stdin is a terminal"):
        compute(load_config(cfg), ["nps"], stdin=Tty())


def test_headerless_whitespace_files_map_by_position(tmp_path):
    write(tmp_path / "s.txt", "00001   19970101  10\n00002   19970102   3\n")
    cfg = write(tmp_path / "c.yaml", """
        version: 1
        sources:
          surveys:
            path: s.txt
            csv: {header: false, delimiter: whitespace}
            constants: {survey_type: nps}
            fields: {customer_id: 1, responded_at: 2, score: 3}
        """)
    report = compute(load_config(cfg), ["nps"], period="all")
    assert report.results["value"].tolist() == [0.0] and report.results["n"].tolist() == [2]


def test_a_wrong_pinned_delimiter_gets_a_delimiter_hint(tmp_path):
    (tmp_path / "nps.csv").write_bytes(TR_ROWS.encode("utf-8"))
    cfg = write(tmp_path / "c.yaml", TR_CONFIG.format(path="nps.csv", extra='csv: {delimiter: ","}'))
    with pytest.raises(DataError) as err:
        compute(load_config(cfg), ["nps"])
    assert "headers found (1, delimiter ',')" in err.value.message
    assert err.value.hint == "the header is one column holding ';': set csv.delimiter to ';'"


def test_blank_rows_inside_an_excel_sheet_are_skipped_and_locations_stay_true(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append(["id", "score", "when"])
    ws.append([1, 10, dt.datetime(2026, 1, 5)])
    ws.append([None, None, None])  # a spacer row
    ws.append([2, 12, dt.datetime(2026, 1, 6)])
    wb.save(tmp_path / "s.xlsx")
    cfg = write(tmp_path / "c.yaml", """
        version: 1
        sources:
          surveys: {path: s.xlsx, constants: {survey_type: nps}, fields: {response_id: id, score: score, responded_at: when}}
        """)
    report = compute(load_config(cfg), ["nps"])
    assert report.inputs[0].rows_read == 2 and report.results["n"].tolist() == [1]
    issue = next(i for i in report.issues if i.code == "score_out_of_range")
    assert issue.location.endswith("s.xlsx Data!B4")
    assert not any(i.code == "missing_date" for i in report.issues)


# ---------------------------------------------------------------- reading without the whole text
# The CSV reader hands valid UTF-8 bytes to pyarrow as they are and decodes only a head
# for the header (io/lazytext.py); these compare each shortcut with the whole-text rule.

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from crmmetrics.io.lazytext import LazyText, utf8_as_is  # noqa: E402
from crmmetrics.io.structure import header_record, nonblank_lines, normalise_newlines  # noqa: E402

_PIECES = st.lists(st.sampled_from(["a", "b", ",", ";", '"', "\n", "\r\n", "\r", " ", "\x1c", "é", "İ", "€", "𝄞", ""]), max_size=60)


def _nonblank_reference(data: bytes) -> list[int]:
    return [i + 1 for i, line in enumerate(data.split(b"\n")) if line not in (b"", b"\r")]


@settings(max_examples=300, deadline=None)
@given(_PIECES, st.integers(1, 9))
def test_nonblank_lines_in_chunks_equal_the_line_split(pieces, chunk):
    data = "".join(pieces).encode("utf-8")
    assert nonblank_lines(data, chunk=chunk).tolist() == _nonblank_reference(data)


@settings(max_examples=300, deadline=None)
@given(_PIECES, st.integers(1, 12))
def test_the_header_from_a_growing_head_is_the_header_of_the_whole_text(pieces, first):
    text = "".join(pieces)
    data = text.encode("utf-8")
    if utf8_as_is(data):
        lazy = LazyText(data)
        assert lazy.from_head(lambda head: header_record(head, ",", '"'), first=first) == header_record(text, ",", '"')
        assert lazy.blank() == (not text.strip())
        assert lazy.full() == text
    text = normalise_newlines(text)  # what a decoded text gets before its header is read
    decoded = LazyText.decoded(text)
    assert decoded.from_head(lambda head: header_record(head, ",", '"'), first=first) == header_record(text, ",", '"')
    assert decoded.blank() == (not text.strip())


def test_bytes_go_to_the_parser_as_they_are_only_when_nothing_would_change_them():
    assert utf8_as_is(b"a,b\r\n1,2\r\n") and utf8_as_is("é,€\n1,2\n".encode())
    assert not utf8_as_is(b"a,b\r1,2\r")  # old-Mac line ends are rewritten
    assert not utf8_as_is(b"a,b\r\n1,2\n3,4\r")  # mixed
    assert not utf8_as_is(b"\xef\xbb\xbfa,b\n")  # the BOM is dropped from the text
    assert not utf8_as_is(b"a,b\ncaf\xe9\n")  # stray cp1252 byte: repaired and reported
    # A multi-byte character cut by the head is kept back, never garbled.
    assert LazyText("xxx€€".encode()).head(5) == "xxx"


def test_a_file_rewritten_while_pyarrow_reads_it_is_an_error_not_a_mixed_read(survey_project, monkeypatch):
    """pyarrow reads a plain UTF-8 file from disk after the hash and line map were taken
    from its bytes; if the export is still being written, the two would not match."""
    from crmmetrics.errors import ReadError
    from crmmetrics.io import readers

    cfg = survey_project([("nps", 9, "2026-01-05"), ("nps", 3, "2026-01-06")])
    real = readers._read_with_arrow

    def append_then_read(display, source, *args):
        assert isinstance(source, str)  # the file's path: its bytes are already freed
        with open(source, "a", encoding="utf-8") as f:
            f.write("3,C1,nps,10,2026-01-07\n")
        return real(display, source, *args)

    monkeypatch.setattr(readers, "_read_with_arrow", append_then_read)
    with pytest.raises(ReadError, match="changed while it was being read"):
        compute(load_config(cfg), ["nps"])

