"""Identifier rules: real enterprise codes pass, typos and disagreements are caught."""

import datetime as dt

import pytest

from loaders.rules.identifiers import (
    Violation,
    check_enterprise_code,
    check_personal_number,
    enterprise_check_digit,
    sex_century_digit,
)

PROVINCES = {f"{n:03d}" for n in range(1, 97)}


def slugs(violations: list[Violation]) -> list[str]:
    return [v.slug for v in violations]


@pytest.mark.parametrize("code", ["0100109106", "0300588569", "0100109106-001"])
def test_published_enterprise_codes_are_valid(code: str) -> None:
    assert check_enterprise_code(code) == []


@pytest.mark.parametrize(("code", "slug"), [
    ("0100109107", "invalid-check-digit"),      # last digit mistyped
    ("0300585869", "invalid-check-digit"),      # two digits swapped
    ("010010910", "invalid-enterprise-code"),   # nine digits
    ("01001091O6", "invalid-enterprise-code"),  # a letter O for a zero
    ("0100109106-000", "invalid-enterprise-code"),
])
def test_bad_enterprise_codes_are_named(code: str, slug: str) -> None:
    assert slug in slugs(check_enterprise_code(code))


def test_a_nine_digit_start_without_a_valid_check_digit() -> None:
    # Weighted sum divisible by 11: the formula yields 10, so no valid code exists.
    first_nine = next(
        f"{n:09d}" for n in range(10**8, 10**9) if enterprise_check_digit(f"{n:09d}") is None
    )
    assert enterprise_check_digit(first_nine) is None
    assert "invalid-check-digit" in slugs(check_enterprise_code(first_nine + "0"))


@pytest.mark.parametrize(("sex", "year", "digit"), [
    ("male", 1985, 0), ("female", 1985, 1), ("male", 2003, 2), ("female", 2099, 3),
    ("female", 2100, 5), ("male", 1899, None),
])
def test_sex_century_digit(sex: str, year: int, digit: int | None) -> None:
    assert sex_century_digit(sex, year) == digit


def test_a_consistent_personal_number_passes() -> None:
    assert check_personal_number("001185012345", province_codes=PROVINCES, sex="female",
                                 birth_date=dt.date(1985, 3, 2)) == []


@pytest.mark.parametrize(("number", "sex", "born", "slug"), [
    ("001085012345", "female", dt.date(1985, 3, 2), "sex-digit-mismatch"),
    ("001285012345", "male", dt.date(1985, 3, 2), "sex-digit-mismatch"),   # wrong century
    ("001186012345", "female", dt.date(1985, 3, 2), "birth-year-mismatch"),
    ("099185012345", "female", dt.date(1985, 3, 2), "unknown-birth-province"),
    ("00118501234", "female", dt.date(1985, 3, 2), "invalid-personal-number"),
    ("001 185 012345", "female", dt.date(1985, 3, 2), "invalid-personal-number"),
])
def test_personal_number_disagreements(number: str, sex: str, born: dt.date, slug: str) -> None:
    assert slug in slugs(check_personal_number(number, province_codes=PROVINCES, sex=sex,
                                               birth_date=born))


# Digits of other scripts: Python's int() reads them as numbers, so a \d pattern let
# them through every check (the Arabic-Indic code below passed the check digit).
@pytest.mark.parametrize("number", [
    "٠٠١٠٨٠٠٠٠٠٠١",        # Arabic-Indic
    "００１０８００００００１",  # fullwidth
    "00108000000१",         # one Devanagari digit
    "001080000001\n",       # a pattern anchored with $ would take the newline
])
def test_a_personal_number_is_twelve_ascii_digits(number: str) -> None:
    assert slugs(check_personal_number(number, province_codes=PROVINCES)) == [
        "invalid-personal-number"]


@pytest.mark.parametrize("code", ["٠١٠٠١٠٩١٠٦", "０１００１０９１０６", "0100109106-٠٠١"])
def test_an_enterprise_code_is_ascii_digits(code: str) -> None:
    assert slugs(check_enterprise_code(code)) == ["invalid-enterprise-code"]


def test_the_personal_number_pattern_is_written_once() -> None:
    from sqlalchemy import CheckConstraint

    import schemas
    from graphql_api.resolvers import population as resolvers
    from loaders.rules import identifiers
    from quality.suites import population as suite

    assert vars(resolvers)["NATIONAL_ID"] is identifiers.NATIONAL_ID
    anchored = f"^{identifiers.PERSONAL_NUMBER}$"
    (check,) = [c for c in schemas.metadata.tables["population.person"].constraints
                if isinstance(c, CheckConstraint) and c.name == "ck_person_national_id_digits"]
    assert str(check.sqltext) == f"national_id ~ '{anchored}'"
    (rule,) = [r for r in suite.rules(dt.date(2026, 1, 1)) if r.name == "national-id-format"]
    assert rule.expectation.regex == anchored  # type: ignore[attr-defined]
