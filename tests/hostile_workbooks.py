"""Build small xlsx workbooks in tests, part by part with zipfile (no binaries committed).

Enough of SpreadsheetML for python-calamine: content types, the workbook with its
sheets (and their state), the relationships and one worksheet per sheet.
"""

from __future__ import annotations

import io
import zipfile

_CT = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
       '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
       '<Default Extension="xml" ContentType="application/xml"/>'
       '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
       '{o}</Types>')
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def cell(ref: str, value: object) -> str:
    """One cell: text inline, numbers as values, ``("=", formula, cached)`` as a formula."""
    if isinstance(value, tuple):
        _, formula, cached = value
        if cached is None:
            return f'<c r="{ref}"><f>{formula}</f><v/></c>'
        return f'<c r="{ref}" t="e"><f>{formula}</f><v>{cached}</v></c>'
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'
    return f'<c r="{ref}"><v>{value}</v></c>'


def sheet_data(rows: list[list[object]], extra: str = "") -> str:
    """``<sheetData>`` for rows starting at A1 (columns A-Z), plus trailing XML (mergeCells)."""
    out = []
    for r, vals in enumerate(rows, 1):
        out.append(f'<row r="{r}">' + "".join(cell(f"{chr(65 + c)}{r}", v) for c, v in enumerate(vals) if v is not None) + "</row>")
    return "<sheetData>" + "".join(out) + "</sheetData>" + extra


def xlsx(sheets: list[tuple[str, str | None, str]]) -> bytes:
    """A workbook of (name, state or None, worksheet body XML) sheets."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        over = "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
                       'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                       for i in range(1, len(sheets) + 1))
        z.writestr("[Content_Types].xml", _CT.format(o=over))
        z.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   f'<Relationship Id="rId1" Type="{_R}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        listed = "".join(f'<sheet name="{n}" sheetId="{i}"{f" state={chr(34)}{st}{chr(34)}" if st else ""} r:id="rId{i}"/>'
                         for i, (n, st, _) in enumerate(sheets, 1))
        z.writestr("xl/workbook.xml", f'<?xml version="1.0"?><workbook {_NS} xmlns:r="{_R}"><sheets>{listed}</sheets></workbook>')
        rels = "".join(f'<Relationship Id="rId{i}" Type="{_R}/worksheet" Target="worksheets/sheet{i}.xml"/>' for i in range(1, len(sheets) + 1))
        z.writestr("xl/_rels/workbook.xml.rels",
                   f'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>')
        for i, (_, _, body) in enumerate(sheets, 1):
            z.writestr(f"xl/worksheets/sheet{i}.xml", f'<?xml version="1.0"?><worksheet {_NS}>{body}</worksheet>')
    return buf.getvalue()


def padded_sheet_bomb(padding_mb: int) -> bytes:
    """A one-sheet workbook whose sheet XML is ``padding_mb`` MB of whitespace (a zip bomb)."""
    buf = io.BytesIO()
    base = xlsx([("S", None, sheet_data([["id", "score"], ["1", 10]]))])
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                z.writestr(info.filename, src.read(info.filename))
        body = src.read("xl/worksheets/sheet1.xml")
        head, tail = body.split(b"<sheetData>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write(head + b"<sheetData>")
            block = b" " * (1 << 20)
            for _ in range(padding_mb):
                fh.write(block)
            fh.write(tail)
    return buf.getvalue()
