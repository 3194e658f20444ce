"""Identifier rules: the personal identification number and the enterprise code.

Rules return the violations they find (data, not exceptions); loaders turn
them into RowIssue records with the row number. Facts used here:

* personal number ``PPP G YY NNNNNN``: PPP the pre-2025 province code (001-096)
  where the birth was registered, G the sex/century digit (0/1 male/female
  born 1900-1999, 2/3 for 2000-2099, 4/5 for 2100-2199, ...), YY the last two
  digits of the birth year, then six digits; there is no check digit;
* enterprise code ``N1N2 N3..N9 N10`` (equal to the tax code): N10 is
  ``10 - (sum(d_i * w_i) mod 11)`` with weights 31, 29, 23, 19, 17, 13, 7, 5, 3
  on the first nine digits, and a result of 10 means the number cannot exist;
  branches add ``-NNN`` (001-999).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass

ENTERPRISE_WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)

# ASCII digits only: ``\d`` would also take the digits of other scripts (``٠١٠٠١٠٩١٠٦``),
# which Python's int() reads as numbers, so such an "identifier" could pass every check.
PERSONAL_NUMBER = "[0-9]{12}"
"""The personal number as a regular expression (without anchors), the one definition that
these rules, the API (``NATIONAL_ID``), the person table's CHECK constraint and the quality
suite use; Python's and PostgreSQL's regular expressions read it alike."""
NATIONAL_ID = re.compile(PERSONAL_NUMBER)
"""A well-formed personal number (use ``fullmatch``)."""
ENTERPRISE_CODE = "[0-9]{10}"
"""The 10-digit enterprise (tax) code as a regular expression, without anchors; the check
digit is a further rule (:func:`enterprise_check_digit`, and its SQL twin in the
enterprise table's CHECK constraint)."""
DEPENDENT_UNIT_CODE = "[0-9]{10}-[0-9]{3}"
"""A branch, representative office or business location: the parent's code, ``-``, 3 digits."""
_ENTERPRISE = re.compile(r"([0-9]{10})(?:-([0-9]{3}))?")


@dataclass(frozen=True)
class Violation:
    """A broken rule: stable slug, the field it concerns, and a message for a steward."""

    slug: str
    field: str
    message: str


def sex_century_digit(sex: str, birth_year: int) -> int | None:
    """The G digit for a sex (``male``/``female``) and birth year; None when out of range."""
    century = birth_year // 100 - 19
    if not 0 <= century <= 4 or sex not in ("male", "female"):
        return None
    return 2 * century + (1 if sex == "female" else 0)


def check_personal_number(number: str, *, province_codes: Collection[str],
                          sex: str | None = None,
                          birth_date: dt.date | None = None) -> list[Violation]:
    """Check a personal number's structure and its agreement with the person's data.

    ``province_codes`` are the three-digit birth-registration codes accepted
    as prefix (the pre-2025 provinces, zero-padded).
    """
    if not NATIONAL_ID.fullmatch(number):
        return [Violation("invalid-personal-number", "national_id",
                          f"{number!r} is not 12 digits 0-9; a personal number is exactly 12 "
                          "digits 0-9, with no spaces, separators or digits of other "
                          "scripts.")]
    found: list[Violation] = []
    province, digit, year_digits = number[:3], int(number[3]), number[4:6]
    if province not in province_codes:
        found.append(Violation("unknown-birth-province", "national_id",
                               f"The number starts with {province}, which is not a province "
                               "code where births were registered; check the first 3 digits."))
    if birth_date is not None:
        if year_digits != f"{birth_date.year % 100:02d}":
            found.append(Violation("birth-year-mismatch", "national_id",
                                   f"Digits 5-6 of the number ({year_digits}) should be the "
                                   f"last two digits of the birth year {birth_date.year}."))
        if sex is not None:
            expected = sex_century_digit(sex, birth_date.year)
            if expected is not None and digit != expected:
                found.append(Violation("sex-digit-mismatch", "national_id",
                                       f"Digit 4 of the number is {digit}, but a {sex} person "
                                       f"born in {birth_date.year} has {expected}; either the "
                                       "number, the sex or the birth date is wrong."))
    return found


def enterprise_check_digit(first_nine: str) -> int | None:
    """The check digit of a 10-digit enterprise code; None when no valid code has these nine."""
    total = sum(int(d) * w for d, w in zip(first_nine, ENTERPRISE_WEIGHTS, strict=True))
    digit = 10 - total % 11
    return None if digit == 10 else digit


def check_enterprise_code(code: str) -> list[Violation]:
    """Check an enterprise (tax) code, with or without a branch suffix."""
    match = _ENTERPRISE.fullmatch(code)
    if match is None:
        return [Violation("invalid-enterprise-code", "code",
                          f"{code!r} is neither 10 digits nor 10 digits, a hyphen and 3 digits "
                          "(a branch); the digits are 0-9, never those of other scripts.")]
    main, branch = match.groups()
    found: list[Violation] = []
    if main[2:9] == "0000000":
        found.append(Violation("invalid-enterprise-code", "code",
                               f"Digits 3-9 of {main} are all zero; no enterprise has that "
                               "sequence number."))
    expected = enterprise_check_digit(main[:9])
    if expected is None or int(main[9]) != expected:
        wanted = "none: no valid code starts so" if expected is None else str(expected)
        found.append(Violation("invalid-check-digit", "code",
                               f"The check digit of {main} does not hold (last digit "
                               f"{main[9]}, expected {wanted}); the code was probably mistyped."))
    if branch == "000":
        found.append(Violation("invalid-enterprise-code", "code",
                               "Branch suffixes run from 001 to 999; 000 is not a branch."))
    return found
