"""Readers (CSV/TSV/text, Excel, stdin), typed parsing and atomic output."""
