"""Encoding and delimiter detection from a bounded sample.

Only the first :data:`SAMPLE_BYTES` decide the guess (big exports stay cheap); the
whole file is then decoded with it, and a UTF-8 guess that meets stray single-byte
characters later on (a file edited by two programs) reads those bytes as cp1252 and
reports it, instead of failing or garbling the rest.
"""

from __future__ import annotations

import codecs
import csv
import io
import re

SAMPLE_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")


def detect_encoding(data: bytes) -> str:
    """Best guess for ``data``: BOMs, UTF-16 NUL patterns, UTF-8, then cp1254 or cp1252.

    Between the two Windows code pages the letters decide (see :func:`encoding_guess`):
    ``b"M\\xfc\\xfeteri"`` (cp1254 "Müşteri") → ``cp1254``; ``b"\\xde\\xf3r\\xf0ur"``
    (cp1252 "Þórður", with the Western ó) → ``cp1252``. Bytes neither decodes → latin-1.
    """
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    sample = data[:SAMPLE_BYTES]
    if sample and sample.count(b"\x00") > len(sample) // 4:
        # UTF-16 without BOM: ASCII text has every other byte NUL.
        return "utf-16-le" if sample[1:2] == b"\x00" else "utf-16-be"
    if data.isascii():  # one C pass; most exports never get further
        return "utf-8"
    high = len(_HIGH_BYTE.findall(data))
    multibyte = sum(len(m) for m in _UTF8_MULTIBYTE.findall(data))
    # Mostly valid UTF-8 sequences → UTF-8 (stray bytes are repaired by decode_text).
    if multibyte >= high * 0.5:
        return "utf-8"
    turkish, western = _letter_evidence(data)
    # Turkish never writes á é ó ...; Icelandic writes ð þ ý all the time: a Western
    # letter weighs more than a Turkish-or-Icelandic one.
    if turkish > WESTERN_WEIGHT * western:
        try:
            data.decode("cp1254")
            return "cp1254"  # Turkish Windows exports
        except UnicodeDecodeError:
            pass
    try:
        data.decode("cp1252")
        return "cp1252"  # Western Windows exports (a superset of latin-1's letters)
    except UnicodeDecodeError:
        return "latin-1"


# Bytes that are Turkish letters in cp1254 (ğ Ğ ş Ş ı İ) but Icelandic/Western ones in
# cp1252 (ð Ð þ Þ ý Ý), and Western letters Turkish never writes (á é í ó ú æ ø å ä ë ...).
_TURKISH_BYTES = re.compile(rb"[\xd0\xdd\xde\xf0\xfd\xfe]")
_WESTERN_BYTES = re.compile(rb"[\xc0\xc1\xc3-\xc6\xc8-\xcb\xcc\xcd\xd1\xd2\xd3\xd5\xd8\xd9\xda"
                            rb"\xe0\xe1\xe3-\xe6\xe8-\xeb\xec\xed\xf1\xf2\xf3\xf5\xf8\xf9\xfa]")
CONFIDENT_LETTERS = 3  # evidence bytes needed to call the choice certain
WESTERN_WEIGHT = 4


def _letter_evidence(data: bytes) -> tuple[int, int]:
    """(Turkish-only, Western-only) letter byte counts in the sample (C-speed regex)."""
    sample = data[:SAMPLE_BYTES * 16]
    return len(_TURKISH_BYTES.findall(sample)), len(_WESTERN_BYTES.findall(sample))


def encoding_guess(data: bytes, encoding: str) -> str | None:
    """Why a detected single-byte encoding is only a guess, or None when the bytes decide it.

    cp1254 and cp1252 share every byte but six (ğ/ð, ş/þ, ı/ý and capitals): the choice
    is certain when only Turkish letters appear (at least :data:`CONFIDENT_LETTERS`), or
    Western-only ones (at least as many, and not outnumbered twice over); a guess otherwise (say so; the user can pin it).
    """
    if encoding not in ("cp1254", "cp1252", "latin-1"):
        return None
    turkish, western = _letter_evidence(data)
    if turkish == 0:
        return None  # the six bytes never occur: both encodings read the file the same
    if encoding == "cp1254" and western == 0 and turkish >= CONFIDENT_LETTERS:
        return None
    if encoding != "cp1254" and western >= CONFIDENT_LETTERS and turkish <= 2 * western:
        return None
    name = "Turkish cp1254" if encoding == "cp1254" else f"Western {encoding}"
    return (f"encoding guessed as {name} from {turkish} Turkish-only and {western} Western-only letter bytes; "
            f"bytes such as \\xf0 read {'ğ' if encoding == 'cp1254' else 'ð'} in it")


def decode_text(data: bytes, encoding: str, pinned: bool) -> tuple[str, int, int | None]:
    """Decode ``data``; return (text, repaired byte count, byte offset of the first).

    With a detected UTF-8 encoding, undecodable bytes are read as cp1252 (else
    latin-1) one by one and counted. A pinned encoding is strict: the caller turns
    the UnicodeDecodeError into a message with file, line and byte.
    """
    if pinned or encoding.lower().replace("_", "-") not in {"utf-8", "utf8"}:
        text = data.decode(encoding)
        return _strip_bom(text), 0, None
    try:
        return data.decode("utf-8"), 0, None
    except UnicodeDecodeError as exc:
        first = exc.start
    repaired = 0

    def _fallback(err: UnicodeDecodeError) -> tuple[str, int]:
        nonlocal repaired
        bad = err.object[err.start:err.end]
        repaired += len(bad)
        try:
            return bad.decode("cp1252"), err.end
        except UnicodeDecodeError:
            return bad.decode("latin-1"), err.end

    codecs.register_error("crmmetrics-cp1252", _fallback)
    return data.decode("utf-8", errors="crmmetrics-cp1252"), repaired, first


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


def sniff_delimiter(text: str, quotechar: str = '"') -> str:
    """The candidate delimiter that splits the sample's lines most consistently.

    Example: ``"a;b;c\\n1,5;2;3\\n"`` → ``";"`` (3 fields on every line, while ","
    gives 1 then 2).
    """
    sample = text[:SAMPLE_BYTES]
    if len(text) > SAMPLE_BYTES and "\n" in sample:
        sample = sample[: sample.rfind("\n")]
    best, best_score = ",", (-1.0, 0)
    for cand in DELIMITERS:
        rows = [r for r in csv.reader(io.StringIO(sample), delimiter=cand, quotechar=quotechar) if r][:50]
        if not rows:
            continue
        counts = [len(r) for r in rows]
        width = max(set(counts), key=counts.count)
        if width < 2:
            continue
        consistency = counts.count(width) / len(counts)
        score = (consistency, width)
        if score > best_score:
            best, best_score = cand, score
    return best


def line_of_offset(data: bytes, offset: int) -> int:
    """1-based line number of byte ``offset``."""
    return data.count(b"\n", 0, offset) + 1
