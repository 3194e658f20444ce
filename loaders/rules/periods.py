"""SDMX time periods: which periods a frequency has, and the day each one starts."""

from __future__ import annotations

import datetime as dt
import re

# Frequency code -> (the period's pattern, how it is described to a steward).
_PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    "A": (re.compile(r"(\d{4})(?:-A1)?"), "a year (2024)"),
    "S": (re.compile(r"(\d{4})-S([12])"), "a half-year (2024-S1)"),
    "Q": (re.compile(r"(\d{4})-Q([1-4])"), "a quarter (2024-Q1)"),
    "M": (re.compile(r"(\d{4})-(\d{2})"), "a month (2024-03)"),
    "W": (re.compile(r"(\d{4})-W(\d{2})"), "a week (2024-W09)"),
    "D": (re.compile(r"(\d{4})-(\d{2})-(\d{2})"), "a day (2024-03-01)"),
}
_PATTERNS["B"] = _PATTERNS["D"]  # business days are days


def frequency_of(period: str) -> str | None:
    """The frequency whose pattern ``period`` has, or None when it is no SDMX period."""
    for code, (pattern, _) in _PATTERNS.items():
        if pattern.fullmatch(period) and period_start(period, code) is not None:
            return code
    return None


def describe(frequency: str | None) -> str:
    """What a period of ``frequency`` looks like (for messages)."""
    if frequency in _PATTERNS:
        return _PATTERNS[frequency][1]
    return "an SDMX time period"


def period_start(period: str, frequency: str | None) -> dt.date | None:
    """The first day of ``period`` read as a period of ``frequency`` (any frequency when
    None); None when it is not one."""
    if frequency is None:
        found = frequency_of(period)
        return None if found is None else period_start(period, found)
    entry = _PATTERNS.get(frequency)
    match = entry[0].fullmatch(period) if entry else None
    if match is None:
        return None
    year = int(match.group(1))
    try:
        if frequency == "A":
            return dt.date(year, 1, 1)
        part = int(match.group(2))
        if frequency == "S":
            return dt.date(year, 6 * (part - 1) + 1, 1)
        if frequency == "Q":
            return dt.date(year, 3 * (part - 1) + 1, 1)
        if frequency == "M":
            return dt.date(year, part, 1)
        if frequency == "W":
            return dt.date.fromisocalendar(year, part, 1)
        return dt.date(year, part, int(match.group(3)))
    except ValueError:
        return None
