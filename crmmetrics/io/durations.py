"""Precomputed durations as exports state them, into minutes.

Zendesk writes whole minutes (``First reply time in minutes within business hours``),
Intercom seconds, Freshdesk ``HH:MM:SS`` text (``First response time (in hrs)``). A
number is read in the source's ``duration_unit``; ``H:MM`` / ``H:MM:SS`` text is always
hours, minutes (and seconds). A negative or unreadable value is a failure the caller
reports per row, never a silent zero.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from crmmetrics.io.parse import Parsed

if TYPE_CHECKING:
    import pandas as pd

MINUTES_IN = {"seconds": 1 / 60, "minutes": 1.0, "hours": 60.0}
_HMS = re.compile(r"^(?P<h>\d+):(?P<m>[0-5]?\d)(?::(?P<s>[0-5]?\d(?:\.\d+)?))?$")


def to_minutes(value: object, unit: str) -> float | None:
    """One value in minutes; None when it is not a duration. ``"01:30:00"`` → 90.0."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = str(value).strip()
        m = _HMS.match(text)
        if m:
            return int(m["h"]) * 60 + int(m["m"]) + float(m["s"] or 0) / 60
        try:
            number = float(text.replace(",", ""))
        except ValueError:
            return None
    if number != number or number < 0:  # NaN or negative: not an elapsed time
        return None
    return number * MINUTES_IN[unit]


def parse_duration(values: pd.Series, unit: str = "minutes") -> Parsed:
    """Cleaned values (None = absent) → float minutes, with the rows that failed."""
    import numpy as np
    import pandas as pd

    table = {v: to_minutes(v, unit) for v in pd.unique(values.dropna())}
    out = values.map(table).astype(float) if len(table) else pd.Series(np.nan, index=values.index)
    bad = values.notna() & out.isna()
    return Parsed(out, bad, reason="not a duration (a number of " + unit + ", or HH:MM:SS)",
                  hint="set duration_unit on the source if the export uses another unit")
