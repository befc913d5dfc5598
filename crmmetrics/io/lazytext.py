"""The text of a delimited file, decoded only as far as the reader needs it.

A large UTF-8 export goes to pyarrow as its own bytes; the reader needs text only for
the delimiter sniff and the header record (the first few kilobytes). Decoding the whole
file would keep a second copy of it alive (as large as the bytes, up to 4× for
non-Latin text) for nothing, so :class:`LazyText` decodes a head, grows it when a
header runs past it, and decodes the whole file only when asked (the record walk that
names broken lines).
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_CHUNK = 1 << 24  # validation step: 16 MiB of bytes at a time, decoded and dropped
_FIRST_HEAD = 1 << 16


def utf8_as_is(data: bytes) -> bool:
    """True when ``data`` is valid UTF-8 without a BOM whose line ends need no normalising
    (LF only, or CRLF only), so the bytes can be parsed as they are.

    Checked without building the text: an ASCII test, else an incremental decode whose
    output is dropped chunk by chunk.
    """
    if data.startswith(codecs.BOM_UTF8):
        return False
    cr = data.count(b"\r")
    if cr and cr != data.count(b"\r\n"):
        return False  # old-Mac or mixed line ends: the decoded text is rewritten
    if data.isascii():
        return True
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for start in range(0, len(data), _CHUNK):
            decoder.decode(view[start:start + _CHUNK], final=start + _CHUNK >= len(data))
    except UnicodeDecodeError:
        return False
    return True


class LazyText:
    """Either UTF-8 bytes known to be valid (decoded on demand) or an already decoded text."""

    def __init__(self, data: bytes | None = None, text: str | None = None) -> None:
        self._data = data
        self._text = text

    @classmethod
    def decoded(cls, text: str) -> LazyText:
        """A text that had to be decoded whole (another encoding, repairs, old-Mac line ends)."""
        return cls(text=text)

    def _head(self, size: int) -> tuple[str, bool]:
        """The text of the first ``size`` bytes (characters for a decoded text), and whether that is all of it."""
        if self._text is not None:
            return self._text[:size], size >= len(self._text)
        assert self._data is not None
        whole = size >= len(self._data)
        # An incremental decoder keeps a multi-byte character cut at ``size`` back, so the head is exact.
        return codecs.getincrementaldecoder("utf-8")().decode(self._data[:size], final=whole), whole

    def head(self, size: int) -> str:
        """The first characters (from at most ``size`` bytes): enough for a bounded sample."""
        return self._head(size)[0]

    def full(self) -> str:
        """The whole text (decoded now for bytes: only the record walk asks for it)."""
        if self._text is not None:
            return self._text
        assert self._data is not None
        return self._data.decode("utf-8")

    def blank(self) -> bool:
        """True when the text is empty or only whitespace (``not text.strip()``), without copying it."""
        head, whole = self._head(_FIRST_HEAD)
        if head and not head.isspace():
            return False
        if whole:
            return True
        text = self.full()
        return not text or text.isspace()

    def from_head(self, read: Callable[[str], tuple[T, int]], first: int = _FIRST_HEAD) -> tuple[T, int]:
        """``read(text)`` → (value, physical lines it used), computed on a head of the text.

        The head doubles (×16) until the lines used end before its last line, so the answer
        is the one the whole text gives: a header record with quoted newlines (or a
        runaway quote) simply makes the head grow.
        """
        size = first
        while True:
            head, whole = self._head(size)
            value, lines = read(head)
            if whole or head.count("\n") > lines:
                return value, lines
            size *= 16
