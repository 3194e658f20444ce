"""Dates as sources write them: ISO and the Vietnamese day-first forms."""

from __future__ import annotations

import datetime as dt
import re

_DATE_DMY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})")
_DATE_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def parse_date(value: str) -> dt.date | str | None:
    """A date from ``YYYY-MM-DD`` or ``DD/MM/YYYY`` (also ``-`` or ``.``); None when blank.

    A str instead of a date says what is wrong with the value (it completes
    "<value> ...", e.g. "is not a date that exists").
    """
    if not value:
        return None
    match = _DATE_ISO.fullmatch(value)
    if match:
        year, month, day = (int(g) for g in match.groups())
    else:
        match = _DATE_DMY.fullmatch(value)
        if not match:
            return "is not a date (use YYYY-MM-DD or DD/MM/YYYY)"
        day, month, year = (int(g) for g in match.groups())
    try:
        return dt.date(year, month, day)
    except ValueError:
        return "is not a date that exists"


def years_between(earlier: dt.date, later: dt.date) -> int:
    """Whole years from ``earlier`` to ``later`` (an age)."""
    return later.year - earlier.year - ((later.month, later.day) < (earlier.month, earlier.day))
