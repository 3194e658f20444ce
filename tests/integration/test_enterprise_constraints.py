"""The enterprise tables' own checks: what no load or hand-written statement can store."""

from collections.abc import Callable

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError, ProgrammingError

from loaders.rules.identifiers import enterprise_check_digit
from mdr.db import Role


def valid_code(first_nine: str) -> str:
    digit = enterprise_check_digit(first_nine)
    assert digit is not None
    return f"{first_nine}{digit}"


ACME = valid_code("010000001")
OTHER = valid_code("010000002")
PERSON = "001080000001"


@pytest.fixture
def registry(conn: Connection) -> Connection:
    """Two enterprises and one person, inside the test's rolled-back transaction."""
    conn.execute(text("INSERT INTO population.person (national_id, sex, birth_date) "
                      "VALUES (:p, 'male', '1980-01-01')"), {"p": PERSON})
    for code in (ACME, OTHER):
        conn.execute(text("INSERT INTO enterprise.enterprise (code, founding_date) "
                          "VALUES (:c, '2010-01-01')"), {"c": code})
    return conn


def refused(conn: Connection, constraint: str, statement: str, **params: object) -> None:
    with pytest.raises(IntegrityError, match=constraint), conn.begin_nested():
        conn.execute(text(statement), params)


def test_the_enterprise_table_refuses_a_code_whose_check_digit_does_not_hold(
        conn: Connection) -> None:
    good = valid_code("030123456")
    wrong = good[:9] + str((int(good[9]) + 1) % 10)
    for code in (wrong, "0100000000", "01000000O1", "٠١٠٠٠٠٠٠٠١"):
        refused(conn, "code_check_digit",
                "INSERT INTO enterprise.enterprise (code, founding_date) "
                "VALUES (:c, '2010-01-01')", c=code)
    conn.execute(text("INSERT INTO enterprise.enterprise (code, founding_date) "
                      "VALUES (:c, '2010-01-01')"), {"c": good})


def test_a_name_cannot_have_two_overlapping_periods(registry: Connection) -> None:
    insert = ("INSERT INTO enterprise.enterprise_name (enterprise_code, name, name_key, "
              "valid_from, valid_to) VALUES (:c, :n, :n, :f, :t)")
    registry.execute(text(insert), {"c": ACME, "n": "A", "f": "2010-01-01", "t": "2020-01-01"})
    refused(registry, "ex_enterprise_name_period", insert,
            c=ACME, n="B", f="2019-06-01", t=None)
    registry.execute(text(insert), {"c": ACME, "n": "B", "f": "2020-01-01", "t": None})


def test_an_enterprise_has_at_most_one_main_line_at_a_time(registry: Connection) -> None:
    insert = ("INSERT INTO enterprise.business_line (enterprise_code, industry_code, is_main, "
              "valid_from, valid_to) VALUES (:c, :i, :m, :f, :t)")
    registry.execute(text(insert), {"c": ACME, "i": "4610", "m": True, "f": "2010-01-01",
                                    "t": "2015-01-01"})
    registry.execute(text(insert), {"c": ACME, "i": "4620", "m": False, "f": "2010-01-01",
                                    "t": None})
    refused(registry, "ex_business_line_main", insert,
            c=ACME, i="4630", m=True, f="2014-01-01", t=None)
    registry.execute(text(insert), {"c": ACME, "i": "4630", "m": True, "f": "2015-01-01",
                                    "t": None})
    refused(registry, "fk_business_line_industry_code_industry", insert,
            c=ACME, i="9999", m=False, f="2015-01-01", t=None)


@pytest.mark.parametrize(("owner_person", "owner_enterprise", "share", "constraint"), [
    (PERSON, OTHER, 50, "one_owner"),
    (None, None, 50, "one_owner"),
    (PERSON, None, 100.5, "share_range"),
    (PERSON, None, 0, "share_range"),
    (None, ACME, 10, "not_own_owner"),
])
def test_an_owner_is_one_person_or_one_other_enterprise_with_a_share_up_to_100(
        registry: Connection, owner_person: str | None, owner_enterprise: str | None,
        share: float, constraint: str) -> None:
    refused(registry, constraint,
            "INSERT INTO enterprise.ownership (enterprise_code, owner_national_id, "
            "owner_enterprise_code, share, valid_from) VALUES (:c, :p, :e, :s, '2020-01-01')",
            c=ACME, p=owner_person, e=owner_enterprise, s=share)


def test_a_person_holds_one_stake_in_an_enterprise_at_a_time(registry: Connection) -> None:
    insert = ("INSERT INTO enterprise.ownership (enterprise_code, owner_national_id, share, "
              "valid_from) VALUES (:c, :p, :s, :f)")
    registry.execute(text(insert), {"c": ACME, "p": PERSON, "s": 40, "f": "2020-01-01"})
    refused(registry, "ex_ownership_person_period", insert,
            c=ACME, p=PERSON, s=60, f="2021-01-01")
    registry.execute(text(insert), {"c": OTHER, "p": PERSON, "s": 60, "f": "2021-01-01"})


def test_a_dependent_unit_carries_its_parents_code(registry: Connection) -> None:
    insert = ("INSERT INTO enterprise.dependent_unit (code, parent_code, kind, founding_date) "
              "VALUES (:u, :p, 'branch', '2015-01-01')")
    refused(registry, "code_of_parent", insert, u=f"{OTHER}-001", p=ACME)
    refused(registry, "code_digits", insert, u=f"{ACME}-000", p=ACME)
    registry.execute(text(insert), {"u": f"{ACME}-001", "p": ACME})


def test_a_merged_enterprise_names_its_successor_and_only_then(registry: Connection) -> None:
    insert = ("INSERT INTO enterprise.enterprise_status (enterprise_code, status, "
              "successor_code, valid_from) VALUES (:c, :s, :n, '2020-01-01')")
    refused(registry, "merged_has_successor", insert, c=ACME, s="merged", n=None)
    refused(registry, "merged_has_successor", insert, c=ACME, s="active", n=OTHER)
    refused(registry, "successor_not_self", insert, c=ACME, s="merged", n=ACME)
    registry.execute(text(insert), {"c": ACME, "s": "merged", "n": OTHER})


def test_a_legal_representative_is_a_person_of_the_population_registry(
        registry: Connection) -> None:
    refused(registry, "fk_legal_representative_national_id_person",
            "INSERT INTO enterprise.legal_representative (enterprise_code, national_id, title, "
            "valid_from) VALUES (:c, '001080000002', 'director', '2020-01-01')", c=ACME)


@pytest.mark.parametrize(("query", "index"), [
    ("SELECT national_id FROM enterprise.legal_representative r WHERE r.enterprise_code = :v "
     "AND r.superseded_at IS NULL AND r.valid_from <= '2023-05-10' "
     "AND coalesce(r.valid_to, 'infinity') > '2023-05-10'",
     "ix_legal_representative_enterprise_code"),
    ("SELECT enterprise_code FROM enterprise.legal_representative r WHERE r.national_id = :v "
     "AND r.superseded_at IS NULL AND r.valid_from < '2023-01-01' "
     "AND coalesce(r.valid_to, 'infinity') > '2022-01-01'",
     "ix_legal_representative_national_id"),
    ("SELECT enterprise_code, share FROM enterprise.ownership o "
     "WHERE o.owner_enterprise_code = :v AND o.superseded_at IS NULL "
     "AND o.valid_from <= '2023-05-10' AND coalesce(o.valid_to, 'infinity') > '2023-05-10'",
     "ix_ownership_owner_enterprise_code"),
])
def test_the_registrys_common_questions_are_answered_from_an_index(
        registry: Connection, query: str, index: str) -> None:
    # The tables are nearly empty here, so the planner is told to avoid scans it would
    # otherwise rightly prefer: what is checked is that a usable index exists.
    registry.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(registry.execute(text(f"EXPLAIN {query}"), {"v": ACME}).scalars())
    assert index in plan


def test_the_api_reads_the_enterprise_registry_and_the_analyst_does_not(
        role_engine: Callable[[Role], Engine]) -> None:
    with role_engine(Role.API).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM enterprise.legal_representative")
                            ).scalar_one() == 0
        with pytest.raises(ProgrammingError, match="permission denied"):
            conn.execute(text("DELETE FROM enterprise.enterprise"))
    with role_engine(Role.ANALYST).connect() as conn, pytest.raises(
            ProgrammingError, match="permission denied"):
        conn.execute(text("SELECT 1 FROM enterprise.ownership LIMIT 1"))


def test_the_loader_writes_the_enterprise_registry(role_engine: Callable[[Role], Engine]) -> None:
    with role_engine(Role.LOADER).connect() as conn:
        transaction = conn.begin()
        conn.execute(text("INSERT INTO enterprise.enterprise (code, founding_date) "
                          "VALUES (:c, '2010-01-01')"), {"c": ACME})
        transaction.rollback()
