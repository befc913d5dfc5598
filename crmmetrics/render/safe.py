"""Make untrusted text (values from the data) safe for each place it is shown.

The config is trusted; the data is not. A cell of an export can hold ``=HYPERLINK(...)``,
an ANSI escape that clears the screen, Rich markup such as ``[/x]`` or HTML. Each output
gets its own rule, all kept here so the threat list in docs/architecture.md points at one
module:

- terminal (tables, stderr lines): escape sequences and control characters removed;
  callers pass the result to Rich as ``rich.text.Text``, never as markup;
- CSV: a text field starting with ``= + - @`` TAB or CR gets a leading ``'`` (OWASP
  "CSV injection"); numbers and texts that are plain numbers are left alone;
- XLSX: characters XML 1.0 cannot carry are removed; cells are written as text, never
  formulas (see ``render.formats.to_xlsx``);
- Markdown: characters that end a table cell, start markup or inject HTML are escaped;
- every text output: lone surrogates (from non-UTF-8 file names) become U+FFFD, so the
  bytes written are always valid UTF-8.
"""

from __future__ import annotations

import re
from typing import Any

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), other two-byte ESC sequences,
# and the 8-bit CSI/OSC introducers.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07]*\x07?")
# C0 and C1 controls except the three whitespace ones handled below, DEL, and the
# bidirectional overrides that reorder what a terminal shows ("Trojan Source").
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_WHITESPACE = re.compile(r"[\t\n\r]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
# XML 1.0 forbids these code points; openpyxl raises IllegalCharacterError on the C0 ones.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+(?:[.,]\d+)*|\.\d+)(?:[eE][+-]?\d+)?$")
_MD_SPECIAL = re.compile(r"([\\`\[\]|~#!])")
# "*" and "_" open or close emphasis only when they touch a non-blank character; a lone
# "*" (the incomplete-period mark "2026-03 *") stays readable in the raw text.
_MD_EMPHASIS = re.compile(r"(?<=\S)([*_])|([*_])(?=\S)")


def valid_utf8(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD (always encodable as UTF-8)."""
    return _SURROGATES.sub("\ufffd", text) if _SURROGATES.search(text) else text


def utf8_bytes(text: str) -> bytes:
    """Encode ``text`` as UTF-8 without failing on non-UTF-8 file names (surrogateescape)."""
    return valid_utf8(text).encode("utf-8")


def terminal_text(value: Any) -> str:
    """Plain text safe to print: no escape sequences, no control characters, one line."""
    text = valid_utf8(str(value))
    if not text.isprintable():
        text = _ESCAPES.sub("", text)
        text = _WHITESPACE.sub(" ", text)
        text = _CONTROLS.sub("", text)
    return text


def csv_field(value: Any, guard: bool = True) -> Any:
    """A CSV field: text starting with a formula trigger gets a leading ``'``.

    Only text is touched; a float ``-5.0`` or the text ``-5`` (a plain number a
    spreadsheet reads as a number, never as a formula) are written as they are.
    """
    if not guard or not isinstance(value, str) or not value.startswith(CSV_TRIGGERS):
        return value
    if _PLAIN_NUMBER.match(value):
        return value
    return "'" + value


def xlsx_text(value: str) -> str:
    """Text a worksheet can hold: XML-illegal characters removed."""
    return _XML_ILLEGAL.sub("", value) if _XML_ILLEGAL.search(value) else value


def markdown_cell(value: Any) -> str:
    """Text for one GitHub-flavoured Markdown table cell, shown literally.

    ``| \\ ` [ ] ~ # !`` and any ``* _`` next to a non-blank are backslash-escaped (no cell
    breaks, no emphasis, links or images), ``& < >`` become entities (no HTML), line breaks
    become spaces.
    """
    text = terminal_text(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return _MD_EMPHASIS.sub(lambda m: "\\" + (m.group(1) or m.group(2)), text)
