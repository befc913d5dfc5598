"""Renderers: a Report → bytes (csv, json, jsonl, markdown, xlsx) or a Rich table.

Only the CLI prints; these functions return what to print or write.
"""

from __future__ import annotations

from pathlib import Path

FORMATS = ("auto", "table", "csv", "json", "jsonl", "markdown", "xlsx")
EXTENSIONS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".md": "markdown",
              ".markdown": "markdown", ".xlsx": "xlsx", ".txt": "table"}


def format_for_path(path: str | None) -> str | None:
    """The format an output file's extension asks for (None when it says nothing)."""
    if not path or path == "-":
        return None
    return EXTENSIONS.get(Path(path).suffix.lower())
