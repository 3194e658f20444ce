"""The population suite on a real PostGIS: clean data passes, each defect fails its rule."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from tests.factories.population_quality import (
    PERSONS,
    Person,
    commune,
    district,
    insert_event,
    insert_link,
    insert_person,
    insert_residence,
    nid,
)
from tests.quality.support import PROVINCES, RULES, check, write


def test_clean_population_meets_every_rule(db_url: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    report = check(db_url)

    assert capsys.readouterr().out == "", "nothing may reach stdout: --json needs it clean"
    result = report.registry("population")
    assert [r.rule for r in result.results] == RULES
    assert result.failed_rules == []
    assert report.ok and result.run_id is not None
    assert all(r.unexpected_count == 0 and r.error is None for r in result.results)
    assert (result.score.passed, result.score.failed, result.score.score) == (len(RULES), 0, 1.0)
    assert {p.code: p.name for p in result.provinces} == {
        "001": "Thành phố Hà Nội", "015": "Tỉnh Yên Bái", "079": "Thành phố Hồ Chí Minh"}
    assert all(p.score.score == 1.0 and len(p.results) == len(RULES) for p in result.provinces)

    summary = json.loads(json.dumps(report.as_dict()))
    assert summary["ok"] is True
    assert summary["registries"]["population"] | {"provinces": None} == {
        "passed": len(RULES), "failed": 0, "score": 1.0, "failed_rules": [],
        "run_id": result.run_id, "provinces": None}
    assert set(summary["registries"]["population"]["provinces"]) == PROVINCES


@dataclass(frozen=True)
class Defect:
    """Bad data written straight into the registry, and what the suite must say about it."""

    write: Callable[[Connection], None]
    rules: frozenset[str]
    province: str
    """The only province whose rows show the defect."""


def _sql(statement: str, **params: object) -> Callable[[Connection], None]:
    def run(conn: Connection) -> None:
        conn.execute(text(statement), params)
    return run


def _extra_person(person: Person, number: str) -> Callable[[Connection], None]:
    def run(conn: Connection) -> None:
        insert_person(conn, person, national_id=number)
    return run


def _residence(label: str, province: str, unit_day: dt.date, since: dt.date,
               until: dt.date | None, *, level: str = "commune") -> Callable[[Connection], None]:
    def run(conn: Connection) -> None:
        find = commune if level == "commune" else district
        insert_residence(conn, nid(label), find(conn, province, unit_day), since, until,
                         kind="temporary")
    return run


def _birth_place_after_reorganisation(conn: Connection) -> None:
    conn.execute(text("UPDATE population.person SET birth_place_unit_id = :unit "
                      "WHERE national_id = :nid"),
                 {"unit": commune(conn, "01", dt.date(2025, 8, 1)), "nid": nid("A")})


def _parent_born_with_child(conn: Connection) -> None:
    mother = insert_person(
        conn, Person("L", "01", "female", PERSONS["D"].birth_date, 12, "Trịnh", "Thu"))
    insert_link(conn, nid("D"), "mother", mother, PERSONS["D"].birth_date)


DEFECTS = {
    "wrong-sex-digit": Defect(
        _sql("UPDATE population.person SET sex = 'female' WHERE national_id = :nid",
             nid=nid("A")),
        frozenset({"national-id-sex-digit"}), "001"),
    "birth-year-not-in-number": Defect(
        _sql("UPDATE population.person SET birth_date = DATE '1981-05-05' "
             "WHERE national_id = :nid", nid=nid("F")),
        frozenset({"national-id-birth-year"}), "015"),
    "future-birth-date": Defect(  # 2025 typed as 2026: the number no longer matches either
        _sql("UPDATE population.person SET birth_date = DATE '2026-09-10' "
             "WHERE national_id = :nid", nid=nid("D")),
        frozenset({"birth-date-not-future", "national-id-birth-year"}), "001"),
    "aged-130": Defect(
        _extra_person(Person("J", "15", "male", dt.date(1896, 6, 1), 10, "Đỗ", "Bá"),
                      "015096000010"),
        frozenset({"age-at-most-125"}), "015"),
    "not-a-province-prefix": Defect(
        _extra_person(Person("K", "00", "female", dt.date(1990, 1, 1), 11, "Vũ", "Hà"),
                      "000190000011"),
        frozenset({"national-id-birth-province"}), "000"),
    "living-with-death-event": Defect(
        lambda conn: insert_event(conn, nid("B"), "death", dt.date(2026, 1, 1)),
        frozenset({"no-death-event-while-alive"}), "001"),
    "household-with-two-heads": Defect(
        _sql("UPDATE population.household_member SET relation = 'head' "
             "WHERE national_id = :nid", nid=nid("B")),
        frozenset({"household-one-head"}), "001"),
    "household-without-head": Defect(
        _sql("UPDATE population.household_member SET relation = 'other' "
             "WHERE national_id = :nid", nid=nid("E")),
        frozenset({"household-one-head"}), "079"),
    "child-older-than-parent": Defect(  # G (2001) linked to D (2025) as her mother
        lambda conn: insert_link(conn, nid("G"), "mother", nid("D"), dt.date(2026, 1, 1)),
        frozenset({"parent-born-before-child"}), "015"),
    "parent-born-the-same-day": Defect(  # D's mother recorded with D's own birth date
        _parent_born_with_child, frozenset({"parent-born-before-child"}), "001"),
    "residence-commune-not-yet-in-force": Defect(
        _residence("F", "15", dt.date(2025, 8, 1), dt.date(2020, 1, 1), dt.date(2021, 1, 1)),
        frozenset({"residence-commune-in-force"}), "015"),
    "residence-commune-no-longer-in-force": Defect(
        _residence("E", "79", dt.date(2020, 1, 1), dt.date(2025, 9, 1), None),
        frozenset({"residence-commune-in-force"}), "079"),
    "residence-in-a-district": Defect(
        _residence("G", "15", dt.date(2015, 1, 1), dt.date(2015, 1, 1), dt.date(2016, 1, 1),
                   level="district"),
        frozenset({"residence-commune-in-force"}), "015"),
    "birth-place-not-in-force": Defect(
        _birth_place_after_reorganisation, frozenset({"birth-place-in-force"}), "001"),
    "blank-family-name": Defect(
        _sql("UPDATE population.person_name SET family_name = ' ' WHERE national_id = :nid",
             nid=nid("E")),
        frozenset({"family-name-present"}), "079"),
    "blank-given-name": Defect(
        _sql("UPDATE population.person_name SET given_name = '' WHERE national_id = :nid "
             "AND valid_to IS NULL", nid=nid("A")),
        frozenset({"given-name-present"}), "001"),
    "no-current-name": Defect(
        _sql("UPDATE population.person_name SET valid_to = DATE '2026-01-01' "
             "WHERE national_id = :nid", nid=nid("G")),
        frozenset({"current-name-present"}), "015"),
}


@pytest.mark.parametrize("defect", list(DEFECTS.values()), ids=list(DEFECTS))
def test_defect_fails_its_rule_in_its_province(db_url: str, defect: Defect) -> None:
    """Each defect fails exactly its rules, over the registry and in its province only.

    Some defects cannot be written at all, so they have no case here: the
    schema refuses them (see ``test_the_schema_refuses_some_defects``).
    """
    write(db_url, defect.write)

    report = check(db_url, store=False)

    assert not report.ok
    result = report.registry("population")
    assert set(result.failed_rules) == defect.rules
    assert all(result.result(rule).unexpected_count == 1 for rule in defect.rules)
    failing = {p.code: set(p.failed_rules) for p in result.provinces if p.failed_rules}
    assert failing == {defect.province: defect.rules}
    assert report.as_dict()["registries"]["population"]["failed_rules"] == [
        rule for rule in RULES if rule in defect.rules]


PERSON = ("INSERT INTO population.person (national_id, sex, birth_date, status, death_date) "
          "VALUES ")
NAME = ("INSERT INTO population.person_name (national_id, family_name, given_name, full_name, "
        "name_key, valid_from) VALUES ")


@pytest.mark.parametrize(("statements", "refusal"), [
    pytest.param([PERSON + "('01219000001', 'male', '1990-01-01', 'alive', NULL)"],
                 "ck_person_national_id_digits", id="national-id-format"),
    pytest.param([PERSON + "('001090000001', 'male', '1990-01-01', 'alive', NULL)"] * 2,
                 "pk_person", id="national-id-unique"),
    pytest.param([PERSON + "(NULL, 'male', '1990-01-01', 'alive', NULL)"],
                 "national_id", id="national-id-present"),
    pytest.param([PERSON + "('001090000001', NULL, '1990-01-01', 'alive', NULL)"],
                 "sex", id="sex-present"),
    pytest.param([PERSON + "('001090000001', 'male', NULL, 'alive', NULL)"],
                 "birth_date", id="birth-date-present"),
    pytest.param([PERSON + "('001090000001', 'male', '1990-01-01', 'deceased', '1989-01-01')"],
                 "ck_person_death_after_birth", id="death-not-before-birth"),
    pytest.param([PERSON + "('001090000001', 'male', '1990-01-01', 'alive', '2020-01-01')"],
                 "ck_person_status_death", id="alive-with-death-date"),
    pytest.param([PERSON + "('001090000001', 'male', '1990-01-01', 'alive', NULL)",
                  NAME + "('001090000001', 'A', 'B', 'A B', 'a b', '1990-01-01')",
                  NAME + "('001090000001', 'A', 'C', 'A C', 'a c', '2000-01-01')"],
                 "ex_person_name_period", id="one-current-name"),
    pytest.param([PERSON + "('001090000001', 'male', '1990-01-01', 'alive', NULL)",
                  NAME + "('001090000001', NULL, 'B', 'B', 'b', '1990-01-01')"],
                 "family_name", id="family-name-not-null"),
])
def test_the_schema_refuses_some_defects(conn: Connection, statements: list[str],
                                         refusal: str) -> None:
    """Defects the database cannot hold, so the defect tests cannot write them.

    The rules national-id-format, national-id-unique, national-id-present,
    sex-present, birth-date-present, death-not-before-birth and one-current-name
    (two name versions valid today in current knowledge), and a NULL family or
    given name, are enforced by the schema today: a CHECK, the primary key, NOT
    NULL or the name period exclusion constraint. The suite keeps these rules in
    case a constraint is relaxed; this test fails first if one is, as the sign
    that its defect now needs a case in ``DEFECTS``.
    """
    with pytest.raises(IntegrityError, match=refusal), conn.begin_nested():
        for statement in statements:
            conn.execute(text(statement))


def test_person_factory_numbers_agree_with_the_rules() -> None:
    # The clean population is only clean if its numbers are built right.
    assert nid("A") == "001070000001" and nid("B") == "001172000002"
    assert nid("D") == "001325000004" and nid("I") == "079101000009"
    assert len({p.national_id for p in PERSONS.values()}) == len(PERSONS)
