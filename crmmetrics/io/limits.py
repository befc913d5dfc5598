"""Resource caps for untrusted input, and transparent decompression within them.

Data is untrusted (the config is trusted): a small file must not be able to make the
reader allocate gigabytes. The caps below bound what a compressed export or a
workbook may expand to; they sit far above real CRM exports (a million-row CSV is
about 150 MB) and far below what would exhaust a laptop. README "Security" lists them.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from typing import Any

from crmmetrics.errors import DataError

# Decompressed size of one input (a gzip'd CSV, or all members of a workbook together).
MAX_EXPANDED_BYTES = 4 << 30
# Beyond this much output, a compression ratio above MAX_RATIO is a bomb, not an export:
# real CSV and sheet XML compress 5-30x; a zip/gzip bomb of zeros compresses 1000x.
RATIO_FLOOR_BYTES = 64 << 20
MAX_RATIO = 200
# Cells of the used range of one sheet (rows × columns): the Excel reader allocates the
# whole rectangle, so one stray cell at XFD1048576 would ask for 17 billion cells.
MAX_SHEET_CELLS = 30_000_000

GZIP_MAGIC = b"\x1f\x8b"
BZ2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"
ZIP_MAGIC = b"PK\x03\x04"
CHUNK = 1 << 20


def compression_of(data: bytes) -> str | None:
    """``gzip``, ``bz2`` or ``xz`` when ``data`` starts with that format's magic bytes."""
    if data.startswith(GZIP_MAGIC):
        return "gzip"
    if data.startswith(BZ2_MAGIC) and len(data) > 4 and data[3:4].isdigit():
        return "bz2"
    if data.startswith(XZ_MAGIC):
        return "xz"
    return None


def check_expansion(display: str, what: str, packed: int, expanded: int) -> None:
    """Refuse ``expanded`` bytes from ``packed`` when over the size or ratio caps."""
    if expanded > MAX_EXPANDED_BYTES:
        raise DataError(f"{display}: {what} expands to more than {MAX_EXPANDED_BYTES >> 20} MB; refused",
                        hint="a decompression bomb, or an export too large for one run: split it")
    if expanded > RATIO_FLOOR_BYTES and expanded > MAX_RATIO * max(packed, 1):
        raise DataError(f"{display}: {what} expands {expanded // max(packed, 1)}x (over {expanded >> 20} MB from "
                        f"{max(packed, 1) >> 10} KB); refused as a decompression bomb",
                        hint="real exports compress far less; decompress it yourself if you trust it")


def decompress(display: str, data: bytes, kind: str) -> bytes:
    """The decompressed bytes of a gzip/bz2/xz file, streamed so a bomb stops at the caps.

    Concatenated gzip members (``cat a.gz b.gz``) are read in full, like ``zcat``.
    """
    out: list[bytes] = []
    total = 0
    pos = 0
    dec = _decompressor(kind)
    pending = b""
    try:
        while pending or pos < len(data):
            if pending:
                feed, pending = pending, b""
            else:
                feed, pos = data[pos:pos + CHUNK], pos + CHUNK
            while True:
                piece = dec.decompress(feed, CHUNK)
                out.append(piece)
                total += len(piece)
                check_expansion(display, f"the {kind} data", min(pos, len(data)), total)
                if dec.eof:
                    break
                if kind == "gzip":
                    feed = dec.unconsumed_tail
                    if not feed:
                        break
                elif dec.needs_input:
                    break
                else:
                    feed = b""
            if dec.eof and dec.unused_data.strip(b"\x00"):  # another member follows
                pending = dec.unused_data
                dec = _decompressor(kind)
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
        raise DataError(f"{display}: the {kind} data is corrupt ({exc})", hint="download or export the file again") from None
    if not dec.eof:
        raise DataError(f"{display}: the {kind} data is truncated (ends after {total} bytes)", hint="download or export the file again")
    return b"".join(out)


def _decompressor(kind: str) -> Any:
    if kind == "gzip":
        return zlib.decompressobj(wbits=31)
    if kind == "bz2":
        return bz2.BZ2Decompressor()
    return lzma.LZMADecompressor()
