"""The person table's own checks: what no load or hand-written statement can store."""

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from loaders.rules.identifiers import PERSONAL_NUMBER

PERSON = text("INSERT INTO population.person (national_id, sex, birth_date) "
              "VALUES (:id, 'male', '1980-01-01')")


@pytest.mark.parametrize("number", [
    "٠٠١٠٨٠٠٠٠٠٠١",        # Arabic-Indic digits
    "００１０８００００００１",  # fullwidth digits
    "00108000000१",         # one Devanagari digit
    "00108000001",          # eleven digits
])
def test_the_database_refuses_a_personal_number_that_is_not_twelve_ascii_digits(
        conn: Connection, number: str) -> None:
    with pytest.raises(IntegrityError, match="national_id_digits"), conn.begin_nested():
        conn.execute(PERSON, {"id": number})
    conn.execute(PERSON, {"id": "001080000001"})


def test_the_database_check_is_the_rules_pattern(conn: Connection) -> None:
    definition = conn.execute(text(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conname = 'ck_person_national_id_digits'")).scalar_one()
    assert f"'^{PERSONAL_NUMBER}$'" in definition
