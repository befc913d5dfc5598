"""Look inside a workbook before the Excel reader does: caps, sheet state, cell facts.

python-calamine allocates the whole used range of a sheet and trusts the zip's sizes,
so a 5 KB file with one cell at XFD1048576 would ask for 17 billion cells and a zip
bomb for gigabytes. This module reads the zip's directory and streams the chosen
sheet's XML once (bounded chunks, counting the bytes really inflated) to check the
caps, find the first *visible* sheet, the merged ranges, and the formula cells without
a cached value or with an error value (#DIV/0!), which the reader would otherwise turn
into blanks. Legacy .xls (OLE) is bounded by its format (65,536 × 256 cells); an OLE
file holding ``EncryptionInfo`` is a password-protected workbook and is named as such.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from dataclasses import dataclass, field

from crmmetrics.errors import DataError
from crmmetrics.io.limits import CHUNK, MAX_SHEET_CELLS, check_expansion

OLE_MAGIC = b"\xd0\xcf\x11\xe0"
_ENCRYPTION_INFO = "EncryptionInfo".encode("utf-16-le")
_SHEET = re.compile(rb"<(?:\w+:)?sheet\b([^>]*)/?>")
_ATTR = re.compile(rb'([\w:]+)="([^"]*)"')
_REL = re.compile(rb"<Relationship\b([^>]*)/?>")
_ROW = re.compile(rb'<row\b[^>]*?\br="(\d+)"')
_WIDE_CELL = re.compile(rb'<c r="([A-Z]{2,3})(\d+)"')
_MERGE = re.compile(rb'<mergeCell ref="([A-Z]+\d+):([A-Z]+\d+)"')
_NO_VALUE = re.compile(rb'<c r="([A-Z]+\d+)"[^>]*>\s*<f(?:\s[^>]*)?(?:/>|>[^<]*</f>)\s*(?:<v\s*/>|<v>\s*</v>)?\s*</c>')
_ERROR = re.compile(rb'<c r="([A-Z]+\d+)"[^>]*\bt="e"[^>]*>(?:\s*<f(?:\s[^>]*)?(?:/>|>[^<]*</f>))?\s*<v>([^<]*)</v>')
CELLS_LISTED = 1000  # formula cells remembered one by one (the rest are counted)


@dataclass
class SheetFacts:
    """What the scan of one sheet found (cell references like ``B7``)."""

    name: str
    rows: int = 0
    cols: int = 0
    merged: list[tuple[str, str]] = field(default_factory=list)
    no_value: list[str] = field(default_factory=list)  # formula cells without a cached value
    errors: list[tuple[str, str]] = field(default_factory=list)  # (cell, "#DIV/0!")
    hidden_skipped: list[str] = field(default_factory=list)  # hidden sheets before the one read


def col_index(letters: str) -> int:
    """``A`` → 0, ``Z`` → 25, ``AA`` → 26, ``XFD`` → 16383."""
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def split_ref(ref: str) -> tuple[int, int]:
    """``C17`` → (0-based column 2, 1-based row 17)."""
    m = re.match(r"([A-Z]+)(\d+)", ref)
    if not m:
        return 0, 0
    return col_index(m.group(1)), int(m.group(2))


def refuse_encrypted_or_foreign(display: str, data: bytes) -> None:
    """An encrypted workbook (an OLE container with EncryptionInfo) is named as such."""
    if data.startswith(OLE_MAGIC) and _ENCRYPTION_INFO in data[: 1 << 20]:
        raise DataError(f"{display}: is an encrypted (password-protected) workbook",
                        hint="open it in Excel and save a copy without a password, or export the sheet as CSV")


def inspect(display: str, data: bytes, sheet: str | int | None) -> SheetFacts | None:
    """Check the caps and pick the sheet of an xlsx/xlsm; None for other formats (xls, ods)."""
    refuse_encrypted_or_foreign(display, data)
    if not data.startswith(b"PK"):
        return None
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError(f"{display}: not a readable workbook (damaged zip: {exc})", hint="export or download the file again") from None
    check_expansion(display, "the workbook", len(data), sum(i.file_size for i in infos))
    for info in infos:
        check_expansion(display, f"member {info.filename!r}", info.compress_size, info.file_size)
    names = set(zf.namelist())
    if "xl/workbook.xml" not in names:
        return None  # ods or xlsb: calamine's own checks; the sizes above are capped
    sheets = _sheets(zf)
    if not sheets:
        raise DataError(f"{display}: the workbook lists no sheets", hint="export or download the file again")
    chosen, skipped = _choose(display, sheets, sheet)
    facts = SheetFacts(chosen[0], hidden_skipped=skipped)
    if chosen[2] in names:
        _scan(display, zf, chosen[2], facts)
    cells = facts.rows * facts.cols
    if cells > MAX_SHEET_CELLS:
        raise DataError(f"{display} sheet {facts.name!r}: the used range reaches row {facts.rows}, column {facts.cols} "
                        f"({cells:,} cells, over the cap of {MAX_SHEET_CELLS:,})",
                        hint="a stray cell far from the data? delete the empty rows and columns after the table, or export as CSV")
    return facts


def _sheets(zf: zipfile.ZipFile) -> list[tuple[str, str, str]]:
    """(name, state, sheet XML path) in workbook order."""
    rels: dict[bytes, bytes] = {}
    if "xl/_rels/workbook.xml.rels" in zf.namelist():
        for m in _REL.finditer(_read_small(zf, "xl/_rels/workbook.xml.rels")):
            attrs = dict(_ATTR.findall(m.group(1)))
            rels[attrs.get(b"Id", b"")] = attrs.get(b"Target", b"")
    out = []
    for m in _SHEET.finditer(_read_small(zf, "xl/workbook.xml")):
        attrs = dict(_ATTR.findall(m.group(1)))
        rid = next((v for k, v in attrs.items() if k.endswith(b":id")), b"")
        target = rels.get(rid, b"").decode("utf-8", "replace")
        path = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        name = html.unescape(attrs.get(b"name", b"").decode("utf-8", "replace"))
        out.append((name, attrs.get(b"state", b"visible").decode(), path))
    return out


def _read_small(zf: zipfile.ZipFile, name: str) -> bytes:
    """A metadata member (workbook.xml, rels): read whole, its size already capped."""
    return zf.read(name)


def _choose(display: str, sheets: list[tuple[str, str, str]], sheet: str | int | None) -> tuple[tuple[str, str, str], list[str]]:
    """The configured sheet, or the first visible one (hidden sheets are skipped and named)."""
    if sheet is None:
        visible = [s for s in sheets if s[1] == "visible"]
        if not visible:
            raise DataError(f"{display}: every sheet is hidden", hint="set sheet: to a name or 0-based index to read a hidden sheet")
        first = visible[0]
        return first, [s[0] for s in sheets[: sheets.index(first)]]
    if isinstance(sheet, int):
        return (sheets[sheet] if 0 <= sheet < len(sheets) else sheets[0]), []
    return next((s for s in sheets if s[0] == sheet), sheets[0]), []


def _scan(display: str, zf: zipfile.ZipFile, path: str, facts: SheetFacts) -> None:
    """Stream the sheet XML once: used range, merged ranges, formula cells without values."""
    info = zf.getinfo(path)
    total = 0
    max_row = 0
    max_col = -1
    narrow = False
    tail = b""
    try:
        with zf.open(info) as fh:
            while True:
                chunk = fh.read(CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                # The real inflated size, not the one the zip header claims.
                check_expansion(display, f"sheet {facts.name!r}", info.compress_size, total)
                buf = tail + chunk
                cut = buf.rfind(b"</c>")
                cut = cut + 4 if cut >= 0 else 0
                if len(buf) - cut > 64 * CHUNK:
                    cut = len(buf)  # one absurd element: do not hold it forever
                body, tail = buf[:cut], buf[cut:]
                rows = _ROW.findall(body)
                if rows:
                    max_row = max(max_row, max(map(int, rows)))
                wide = set(_WIDE_CELL.findall(body))
                for letters, row in wide:
                    max_col = max(max_col, col_index(letters.decode()))
                    max_row = max(max_row, int(row))
                narrow = narrow or b'<c r="' in body
                _collect(body, facts)
            _collect(tail, facts)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise DataError(f"{display} sheet {facts.name!r}: the sheet is damaged ({exc})", hint="export or download the file again") from None
    if narrow and max_col < 25:
        max_col = 25  # single-letter columns only: at most 26 wide
    facts.rows, facts.cols = max_row, max_col + 1


def _collect(body: bytes, facts: SheetFacts) -> None:
    # Each pattern is tried at every cell; a literal it cannot match without (a merge, a
    # formula, an error type) is looked for first, so a sheet of plain values costs three
    # C-speed searches per chunk, not three regex passes.
    for a, b in _MERGE.findall(body) if b"<mergeCell" in body else ():
        facts.merged.append((a.decode(), b.decode()))
    for ref in _NO_VALUE.findall(body) if b"<f" in body else ():
        if len(facts.no_value) < CELLS_LISTED:
            facts.no_value.append(ref.decode())
    for ref, val in _ERROR.findall(body) if b't="e"' in body else ():
        if len(facts.errors) < CELLS_LISTED:
            facts.errors.append((ref.decode(), val.decode("utf-8", "replace")))
