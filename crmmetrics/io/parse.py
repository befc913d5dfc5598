"""Typed, vectorised parsing of raw columns into canonical types.

Every canonical field has one declared type (``crmmetrics.schema``); a raw value that
does not parse as that type becomes null *and* a failure the caller turns into an
Issue with its location. Nothing is guessed globally; the only inference is per
column and documented (the day/month order of slash dates, see ``parse_datetime``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmmetrics.schema import FieldType

if TYPE_CHECKING:
    import pandas as pd

EXCEL_EPOCH = dt.datetime(1899, 12, 30)  # serial 1 = 1900-01-01 (Lotus leap-year bug included)
MAX_SERIAL = 2958465  # 9999-12-31

TRUE_WORDS = {"true", "t", "yes", "y", "1", "evet", "e", "doğru", "dogru", "x", "on", "1.0"}
FALSE_WORDS = {"false", "f", "no", "n", "0", "hayır", "hayir", "h", "yanlış", "yanlis", "off", "0.0"}

_TIME = (r"(?:(?:T|\s+)(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?)?"
         r"\s*(?P<tz>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?")
# 2026-11-22, 2026/11/22, 2026-11-22T14:05:00.000+0300
_ISO = re.compile(r"^(?P<y>\d{4})[-/](?P<m>\d{1,2})[-/](?P<d>\d{1,2})" + _TIME + "$")
# 22.11.2026, 22/11/2026, 11/22/2026, 22-11-26 (a and b are day/month in some order)
_DMY = re.compile(r"^(?P<a>\d{1,2})(?P<sep>[./-])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})" + _TIME + "$")
# 20261122 (old order systems, CDNOW)
_COMPACT = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$")
# 46348 or 46348.59375: an Excel serial day number in a text column
_SERIAL = re.compile(r"^\d{1,7}(?:\.\d+)?$")
_DATE_HINT = "set dates.format (e.g. %d.%m.%Y %H:%M) or dates.dayfirst for this source"
# (full-match pattern, strptime layout): unambiguous layouts parsed without the general rules.
_FAST_DATE_LAYOUTS = (
    (r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d"),
    (r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}", "ISO8601"),
    (r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}", "ISO8601"),
    (r"\d{2}\.\d{2}\.\d{4}", "%d.%m.%Y"),
    (r"\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}", "%d.%m.%Y %H:%M"),
    (r"\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2}", "%d.%m.%Y %H:%M:%S"),
)
_CURRENCY = re.compile(r"[₺$€£¥\s\u00a0\u202f%]|(?<![A-Za-z])(?:TL|TRY|USD|EUR|GBP)(?![A-Za-z])", re.IGNORECASE)


@dataclass
class Parsed:
    """A parsed column: values (nulls where absent or bad), which rows failed and why."""

    values: Any  # pandas Series
    bad: Any  # boolean Series: a value was present but did not parse
    reason: str = ""
    hint: str = ""
    note: str = ""  # a per-column remark (e.g. ambiguous day/month order)


def is_text(values: pd.Series) -> bool:
    """True for a pandas string column (CSV input): every value is text or missing.

    Such columns take vectorised (pyarrow-backed) paths; object columns from Excel may
    mix text, numbers and dates and take the per-value paths.
    """
    import pandas as pd

    return values.dtype != object and pd.api.types.is_string_dtype(values.dtype)


def clean_text(raw: pd.Series, null_values: list[str]) -> pd.Series:
    """Strip text and turn the null tokens ("", "NA", "?", ...) into missing values.

    A text column stays a string column (missing = NA); an Excel column stays object
    with non-text cells (numbers, dates) untouched and None for missing.
    """
    import pandas as pd

    if is_text(raw):
        stripped = raw.str.strip()
        return stripped.mask(stripped.isin(null_values))
    obj = raw.astype(object)
    is_str = obj.map(lambda v: isinstance(v, str))
    out = obj.copy()
    if is_str.any():
        s = obj[is_str].map(str.strip)
        out[is_str] = s.where(~s.isin(null_values), None)
    # Missing cells are None (never float NaN, which would read back as the text "nan").
    return pd.Series(out.where(out.notna(), None), index=raw.index, dtype=object)


def apply_values_map(values: pd.Series, mapping: dict[str, Any]) -> pd.Series:
    """Map raw → canonical values; ``"*"`` is the default for anything else present.

    Keys match exactly first, then case-insensitively (``"closed won"`` ~ ``"Closed Won"``).
    """
    if not mapping:
        return values
    exact = {str(k): v for k, v in mapping.items() if k != "*"}
    folded = {str(k).casefold(): v for k, v in exact.items()}
    default = mapping.get("*", _MISSING)

    def lookup(v: Any) -> Any:
        if v is None:
            return None
        key = _as_key(v)
        if key in exact:
            return exact[key]
        if key.casefold() in folded:
            return folded[key.casefold()]
        return v if default is _MISSING else default

    uniq = values.dropna().unique()
    table = {u: lookup(u) for u in uniq}
    mapped = values.map(table).astype(object)  # a dict lookup per distinct value, not per row
    mapped = mapped.where(mapped.notna(), None)
    if all(isinstance(v, str) for v in table.values()):
        return mapped.astype("str")  # keep the vectorised text paths downstream
    return mapped


_MISSING = object()


def _missing(v: Any) -> bool:
    """None or a float NaN (pandas may hand either for an empty cell)."""
    return v is None or (isinstance(v, float) and v != v)


def _as_key(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def parse(values: pd.Series, ftype: FieldType, *, decimal: str = ".", thousands: str | None = None,
          dayfirst: bool | None = None, date_format: str | None = None, tz: str = "UTC",
          choices: tuple[str, ...] = ()) -> Parsed:
    """Parse cleaned values (None = absent) as ``ftype``."""
    if ftype in (FieldType.DATETIME, FieldType.DATE):
        return parse_datetime(values, tz=tz, dayfirst=dayfirst, fmt=date_format, date_only=ftype is FieldType.DATE)
    if ftype in (FieldType.MONEY, FieldType.NUMBER, FieldType.INTEGER):
        return parse_number(values, decimal=decimal, thousands=thousands, integer=ftype is FieldType.INTEGER)
    if ftype is FieldType.BOOL:
        return parse_bool(values)
    if ftype is FieldType.ID:
        return parse_id(values)
    if ftype is FieldType.CATEGORY:
        return parse_category(values, choices)
    import pandas as pd

    return Parsed(_to_object(values) if is_text(values) else values.map(lambda v: None if v is None else str(v)).astype(object),
                  pd.Series(False, index=values.index))


def _to_object(values: pd.Series) -> pd.Series:
    """A text column as object values with None for missing (what metrics receive)."""
    obj = values.astype(object)
    return obj.where(values.notna(), None)


def parse_id(values: pd.Series) -> Parsed:
    """Ids stay text; an Excel number 42.0 becomes "42" (leading zeros need text cells)."""
    import pandas as pd

    if is_text(values):
        return Parsed(_to_object(values), pd.Series(False, index=values.index))
    out = values.map(lambda v: None if _missing(v) else _as_key(v)).astype(object)
    return Parsed(out, pd.Series(False, index=values.index))


def parse_category(values: pd.Series, choices: tuple[str, ...]) -> Parsed:
    """Labels; with ``choices``, values match them case-insensitively or fail."""
    import pandas as pd

    if is_text(values):
        out = values
    else:
        out = values.map(lambda v: None if _missing(v) else _as_key(v)).astype(object)
    if not choices:
        return Parsed(_to_object(out) if is_text(out) else out, pd.Series(False, index=values.index))
    folded = {c.casefold(): c for c in choices}
    uniq = {u: folded.get(str(u).casefold().replace("-", "_").replace(" ", "_")) for u in out.dropna().unique()}
    mapped = out.map(uniq).astype(object)  # one lookup per distinct label
    mapped = mapped.where(mapped.notna(), None)
    bad = out.notna() & mapped.isna()
    return Parsed(mapped, bad, reason=f"not one of {', '.join(choices)}", hint="add it to values: in the config (\"*\" sets a default)")


def parse_bool(values: pd.Series) -> Parsed:
    """true/false, yes/no, evet/hayır, 1/0 (case-insensitive); Excel booleans pass."""
    import pandas as pd

    if is_text(values):
        words = {**{w: True for w in TRUE_WORDS}, **{w: False for w in FALSE_WORDS}}
        keys = values.str.casefold()
        out = keys.map(words).astype(object)
        bad = values.notna() & out.isna()
        return Parsed(out.where(out.notna(), None), bad, reason="not a yes/no value",
                      hint="use true/false, yes/no, evet/hayır, 1/0, or a values: map")

    def one(v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, bool):
            return v
        key = _as_key(v).strip().casefold()
        if key in TRUE_WORDS:
            return True
        if key in FALSE_WORDS:
            return False
        return _MISSING

    out = values.map(one)
    bad = out.map(lambda v: v is _MISSING)
    out = out.where(~bad, None).astype(object)
    return Parsed(out, bad, reason="not a yes/no value", hint="use true/false, yes/no, evet/hayır, 1/0, or a values: map")


def parse_number(values: pd.Series, *, decimal: str = ".", thousands: str | None = None, integer: bool = False) -> Parsed:
    """Numbers with locale separators, currency symbols and (parenthesised) negatives.

    Examples with decimal "," (thousands "."): ``"1.234,50"`` → 1234.5,
    ``"(12,00) TL"`` → -12.0, ``"₺7"`` → 7.0. With decimal "." the text ``"1,5"``
    fails (1,5 is not a thousands group), so a wrong decimal setting is an issue,
    never a silently 10x number.
    """
    import numpy as np
    import pandas as pd

    if thousands is None:
        thousands = "." if decimal == "," else ","
    present = values.notna()
    out = pd.Series(np.nan, index=values.index, dtype="float64")
    if is_text(values):
        is_num = pd.Series(False, index=values.index)
        # Fast path: plain numbers ("12", "-3.5" / "3,5") need no symbol or group handling.
        d = re.escape(decimal)
        plain = values.str.fullmatch(rf"[+-]?\d+(?:{d}\d+)?").fillna(False).astype(bool)
        if plain.any():
            txt = values[plain] if decimal == "." else values[plain].str.replace(",", ".", regex=False)
            out[plain] = pd.to_numeric(txt, errors="coerce").astype("float64")
        text_mask = present & ~plain
    else:
        is_num = values.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
        if is_num.any():
            out[is_num] = values[is_num].astype("float64")
        text_mask = present & ~is_num
    if text_mask.any():
        s = values[text_mask].astype(str).str.replace(_CURRENCY, "", regex=True)
        neg = s.str.match(r"^\((.*)\)$")
        s = s.str.replace(r"^\((.*)\)$", r"\1", regex=True)
        t, d = re.escape(thousands) if thousands else "", re.escape(decimal)
        group = rf"\d{{1,3}}(?:{t}\d{{3}})+|" if thousands else ""
        pattern = rf"^[+-]?(?:{group}\d+)(?:{d}\d*)?(?:[eE][+-]?\d+)?$|^[+-]?{d}\d+$"
        ok = s.str.match(pattern)
        cleaned = s.where(ok, None)
        if thousands:
            cleaned = cleaned.str.replace(thousands, "", regex=False)
        cleaned = cleaned.str.replace(decimal, ".", regex=False)
        nums = pd.to_numeric(cleaned, errors="coerce").astype("float64")
        nums[neg.fillna(False).astype(bool)] *= -1
        out[text_mask] = nums
    bad = present & out.isna()
    reason = f"not a number (decimal {decimal!r}, thousands {thousands!r})"
    if integer:
        frac = present & out.notna() & (out % 1 != 0)
        bad = bad | frac
        out[frac] = np.nan
        reason = "not a whole number"
    return Parsed(out, bad, reason=reason, hint="set csv.decimal / csv.thousands for this source")


def parse_datetime(values: pd.Series, *, tz: str, dayfirst: bool | None = None, fmt: str | None = None,
                   date_only: bool = False) -> Parsed:
    """Dates and times into tz-aware timestamps in the reporting zone ``tz``.

    Accepted: ISO (``2026-11-22``, ``2026-11-22T14:05:00+03:00``, ``...+0000``, ``Z``),
    ``dd.mm.yyyy`` (always day-first), ``dd/mm/yyyy`` or ``m/d/yyyy`` and ``dd-mm-yy``
    (order from ``dayfirst``; unset, inferred from values above 12 in the column),
    an optional time with seconds, fractions and AM/PM, compact ``YYYYMMDD``, Excel
    serial numbers, and real Excel date cells. Values with an offset are converted;
    naive ones are read in ``tz``. An explicit ``fmt`` (strftime) replaces all rules.
    """
    import numpy as np
    import pandas as pd

    present = values.notna()
    local = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    offset_min = pd.Series(np.nan, index=values.index, dtype="float64")
    note = ""
    if is_text(values):
        text_mask = present.copy()
        if not fmt:
            # Fast paths for the common unambiguous layouts: one vectorised match and one
            # fixed-format conversion each, instead of the general regex per value.
            for pattern, layout in _FAST_DATE_LAYOUTS:
                if not text_mask.any():
                    break
                hit = text_mask & values.str.fullmatch(pattern).fillna(False).astype(bool)
                if hit.any():
                    local[hit] = pd.to_datetime(values[hit], format=layout, errors="coerce")
                    text_mask &= ~hit
        s = values[text_mask].astype(object)
    else:
        typed = values.map(lambda v: isinstance(v, (dt.datetime, dt.date)))
        if typed.any():
            local[typed] = pd.to_datetime(values[typed].map(lambda v: v if isinstance(v, dt.datetime) else dt.datetime(v.year, v.month, v.day)), errors="coerce")
        numeric = values.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
        if numeric.any():
            local[numeric] = _from_serial(values[numeric].astype("float64"))
        text_mask = present & ~typed & ~numeric
        s = values[text_mask].astype(str).str.strip()
    if text_mask.any():
        if fmt:
            local[text_mask] = pd.to_datetime(s, format=fmt, errors="coerce")
        else:
            parts, offs, note = _parse_text_dates(s, dayfirst)
            local[text_mask] = parts
            offset_min[text_mask] = offs
    result = _localise(local, offset_min, tz)
    if date_only:
        result = result.dt.normalize()
    bad = present & result.isna()
    return Parsed(result, bad, reason="not a date" if date_only else "not a date/time", hint=_DATE_HINT, note=note)


def _from_serial(serial: pd.Series) -> pd.Series:
    import pandas as pd

    ok = (serial >= 1) & (serial <= MAX_SERIAL)
    days = serial.where(ok)
    return pd.Timestamp(EXCEL_EPOCH) + pd.to_timedelta(days * 86400, unit="s").dt.round("s")


def _parse_text_dates(s: pd.Series, dayfirst: bool | None) -> tuple[pd.Series, pd.Series, str]:
    import numpy as np
    import pandas as pd

    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    offs = pd.Series(np.nan, index=s.index, dtype="float64")
    note = ""
    iso = s.str.extract(_ISO)
    m_iso = iso["y"].notna()
    if m_iso.any():
        out[m_iso], offs[m_iso] = _assemble(iso[m_iso], iso["y"][m_iso], iso["m"][m_iso], iso["d"][m_iso])
    rest = ~m_iso
    if rest.any():
        dmy = s[rest].str.extract(_DMY)
        m_dmy = dmy["a"].notna()
        if m_dmy.any():
            d = dmy[m_dmy]
            a, b = d["a"].astype(int), d["b"].astype(int)
            dotted = d["sep"] == "."
            if dayfirst is None:
                slashy = ~dotted
                says_day = bool(((a > 12) & slashy).any())
                says_month = bool(((b > 12) & slashy).any())
                if says_day and says_month:
                    first_is_day = (a >= b)  # conflicting column: each row its own reading
                    first_is_day = pd.Series(first_is_day, index=d.index) | dotted
                    note = "the column mixes day-first and month-first dates; set dates.dayfirst"
                elif says_day or says_month:
                    first_is_day = pd.Series(says_day, index=d.index) | dotted
                else:
                    # Nothing above 12 in either place: "/" reads month-first (US exports),
                    # "-" and "." day-first. Said once so the user can pin it.
                    first_is_day = (d["sep"] != "/")
                    if (d["sep"] == "/").any():
                        note = "slash dates have no day above 12; read as month/day; set dates.dayfirst to be sure"
            else:
                first_is_day = pd.Series(dayfirst, index=d.index) | dotted if dayfirst else pd.Series(False, index=d.index) | dotted
            day = a.where(first_is_day, b)
            month = b.where(first_is_day, a)
            year = d["y"].astype(int)
            short = d["y"].str.len() == 2
            year = year.where(~short, np.where(year < 69, 2000 + year, 1900 + year))
            idx = d.index
            out[idx], offs[idx] = _assemble(d, year, month, day)
        rest2 = rest.copy()
        rest2[dmy.index[m_dmy]] = False
        if rest2.any():
            comp = s[rest2].str.extract(_COMPACT)
            m_c = comp["y"].notna()
            if m_c.any():
                c = comp[m_c]
                out[c.index] = pd.to_datetime({"year": c["y"].astype(int), "month": c["m"].astype(int), "day": c["d"].astype(int)}, errors="coerce")
                rest2[c.index] = False
            ser = rest2 & s.str.match(_SERIAL)
            if ser.any():
                out[ser] = _from_serial(s[ser].astype("float64"))
    return out, offs, note


def _assemble(parts: pd.DataFrame, year: Any, month: Any, day: Any) -> tuple[pd.Series, pd.Series]:
    import numpy as np
    import pandas as pd

    def num(col: str) -> pd.Series:
        return pd.to_numeric(parts[col], errors="coerce").fillna(0).astype(int)

    hour = num("H")
    ampm = parts["ampm"].fillna("").str.lower().str.replace(".", "", regex=False)
    hour = hour.where(ampm == "", (hour % 12) + np.where(ampm == "pm", 12, 0))
    frac = parts["f"].fillna("0").str.ljust(9, "0").str[:9].astype(int)
    comps = pd.DataFrame({"year": pd.Series(year).astype(int), "month": pd.Series(month).astype(int), "day": pd.Series(day).astype(int),
                          "hour": hour, "minute": num("M"), "second": num("S"), "ns": frac}, index=parts.index)
    stamps = pd.to_datetime(comps, errors="coerce")
    bad_clock = (comps["hour"] > 23) | (comps["minute"] > 59) | (comps["second"] > 59)
    stamps[bad_clock] = pd.NaT
    tzs = parts["tz"]
    offs = pd.Series(np.nan, index=parts.index, dtype="float64")
    has = tzs.notna()
    if has.any():
        t = tzs[has].str.upper()
        zero = t.isin(["Z", "UTC", "GMT"])
        digits = t.str.replace(":", "", regex=False)
        sign = np.where(digits.str[0] == "-", -1, 1)
        hh = pd.to_numeric(digits.str[1:3], errors="coerce").fillna(0)
        mm = pd.to_numeric(digits.str[3:5], errors="coerce").fillna(0)
        offs[has] = np.where(zero, 0.0, sign * (hh * 60 + mm))
    return stamps, offs


def _localise(local: pd.Series, offset_min: pd.Series, tz: str) -> pd.Series:
    """Naive wall-clock values → ``tz``; values with a UTC offset → converted to ``tz``.

    A wall-clock time that occurs twice (the hour the clocks go back) is read as its
    first occurrence, like Python's ``fold=0``; one that never occurs (the hour the
    clocks go forward) moves forward to the first valid instant. Both are real
    timestamps from an export and are never rejected.
    """
    import numpy as np
    import pandas as pd

    has_off = offset_min.notna()
    result = pd.Series(pd.NaT, index=local.index, dtype=f"datetime64[ns, {tz}]")
    naive = ~has_off & local.notna()
    if naive.any():
        first = np.ones(int(naive.sum()), dtype=bool)  # True = the DST (earlier) reading of an ambiguous time
        result[naive] = local[naive].dt.tz_localize(tz, ambiguous=first, nonexistent="shift_forward")
    if has_off.any():
        utc = (local[has_off] - pd.to_timedelta(offset_min[has_off], unit="m")).dt.tz_localize("UTC")
        result[has_off] = utc.dt.tz_convert(tz)
    return result
