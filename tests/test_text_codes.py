"""Value maps and category choices on Arrow text go through the dictionary of distinct
values (io/parse.py distinct_codes): the same answers as the per-value object path."""

from __future__ import annotations

import pandas as pd

from crmmetrics.io.parse import map_values, parse_category


def test_map_values_on_arrow_text_by_hand() -> None:
    raw = ["Won", "lost", None, "Stage 2", "Stage 2", "KAZANILDI", "Demo"]
    mapping = {"Won": "won", "Lost": "lost", "Kazanıldı": "won", "*": "open"}
    text, fallen = map_values(pd.Series(raw, dtype="str"), mapping)
    assert text.dtype == "str"  # stays Arrow text for the parsers after it
    assert text.fillna("-").tolist() == ["won", "lost", "-", "open", "open", "won", "open"]
    assert fallen == {"Stage 2": 2, "Demo": 1}  # most rows first
    obj, obj_fallen = map_values(pd.Series(raw, dtype=object), mapping)
    assert obj.fillna("-").tolist() == text.fillna("-").tolist() and obj_fallen == fallen


def test_map_values_to_non_text_is_an_object_column() -> None:
    mapped, fallen = map_values(pd.Series(["Yes", "no", None, "maybe"], dtype="str"), {"yes": True, "No": False})
    assert mapped.dtype == object
    assert mapped.tolist() == [True, False, None, "maybe"] and fallen == {}


def test_parse_category_on_arrow_text_by_hand() -> None:
    parsed = parse_category(pd.Series(["Closed Won", "closed-won", None, "OPEN", "other"], dtype="str"), ("closed_won", "open"))
    assert parsed.values.dtype == object
    assert parsed.values.tolist() == ["closed_won", "closed_won", None, "open", None]
    assert parsed.bad.tolist() == [False, False, False, False, True]
