"""Exports with more than one header row (SurveyMonkey 2, Qualtrics 3): column names
come from the first; the others are skipped, never read as data."""

from __future__ import annotations

import csv
import io
from typing import Any


def extra_header_rows(source: Any) -> int:
    """Header rows after the first that the source declares (``header_rows`` − 1)."""
    return max(0, int(getattr(source, "header_rows", 1) or 1) - 1) if source.csv.header else 0


def header_lines(text: str, delimiter: str, quotechar: str, records: int) -> int:
    """Physical lines taken by the first ``records`` non-empty records (quoted newlines count)."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=quotechar)
    seen = 0
    for record in reader:
        if record:
            seen += 1
            if seen == records:
                break
    return reader.line_num
