"""A small, clean population written with SQL INSERTs: three households that break no rule.

National ids follow ``PPP G YY NNNNNN`` (``loaders.rules.identifiers``);
residences and birth places are real units of ``ref.admin_unit`` in force on
their dates: pre-2025 communes before 2025-07-01, the 2025 communes after.

* ``HN-0001`` (Hà Nội, PPP 001): A (head) and B, married; their son C; C's
  daughter D, born after the reorganisation. A changed his name in 2000; B's
  name was corrected (a superseded record).
* ``HCM-0001`` (Hồ Chí Minh City, PPP 079): E (head) and her mother I, who is
  exactly 125 on ``AS_OF``. E moved into a 2025 commune on 2025-07-01 itself.
* ``YB-0001`` (Yên Bái, now Lào Cai, PPP 015): F (head) and his daughter G.
  F's father H, head until his death in 2010, is no longer a member.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, text

from loaders.rules.identifiers import sex_century_digit
from loaders.rules.text import name_key

AS_OF = dt.date(2026, 6, 1)
"""The day every test run takes as today."""
REORGANISED = dt.date(2025, 7, 1)


@dataclass(frozen=True)
class Person:
    """A person of the clean population."""

    label: str
    province: str
    """Two-digit code of the pre-2025 province where the birth was registered."""
    sex: str
    birth_date: dt.date
    serial: int
    family_name: str
    given_name: str
    death_date: dt.date | None = None

    @property
    def national_id(self) -> str:
        return national_id(self.province, self.sex, self.birth_date, self.serial)


def national_id(province: str, sex: str, birth_date: dt.date, serial: int) -> str:
    """A personal number consistent with province, sex and birth date."""
    digit = sex_century_digit(sex, birth_date.year)
    assert digit is not None, f"no sex/century digit for a birth in {birth_date.year}"
    return f"0{province}{digit}{birth_date.year % 100:02d}{serial:06d}"


PERSONS = {p.label: p for p in (
    Person("A", "01", "male", dt.date(1970, 3, 15), 1, "Nguyễn", "Minh"),
    Person("B", "01", "female", dt.date(1972, 7, 2), 2, "Trần", "Lan"),
    Person("C", "01", "male", dt.date(2005, 11, 20), 3, "Nguyễn", "Đức"),
    Person("D", "01", "female", dt.date(2025, 9, 10), 4, "Nguyễn", "An"),
    Person("E", "79", "female", dt.date(1955, 1, 1), 5, "Lê", "Hoa"),
    Person("I", "79", "female", dt.date(1901, 6, 1), 9, "Phạm", "Thị"),
    Person("F", "15", "male", dt.date(1980, 5, 5), 6, "Hoàng", "Văn"),
    Person("G", "15", "female", dt.date(2001, 2, 3), 7, "Hoàng", "Mai"),
    Person("H", "15", "male", dt.date(1920, 1, 1), 8, "Hoàng", "Sơn",
           death_date=dt.date(2010, 4, 4)),
)}


def nid(label: str) -> str:
    """National id of a person of the clean population."""
    return PERSONS[label].national_id


def commune(conn: Connection, province: str, day: dt.date, *, rank: int = 0) -> int:
    """Id of a commune of ``province`` in force on ``day`` (the ``rank``-th by code)."""
    return int(conn.execute(text("""
        SELECT c.id FROM ref.admin_unit AS c
        JOIN ref.admin_unit AS up ON up.id = c.parent_id
        LEFT JOIN ref.admin_unit AS up2 ON up2.id = up.parent_id
        WHERE c.level = 'commune'
          AND (c.valid_from IS NULL OR c.valid_from <= :day)
          AND (c.valid_to IS NULL OR c.valid_to > :day)
          AND ((up.level = 'province' AND up.code = :province)
               OR (up2.level = 'province' AND up2.code = :province))
        ORDER BY c.code OFFSET :rank LIMIT 1"""),
        {"province": province, "day": day, "rank": rank}).scalar_one())


def district(conn: Connection, province: str, day: dt.date) -> int:
    """Id of a pre-2025 district of ``province`` in force on ``day``."""
    return int(conn.execute(text("""
        SELECT d.id FROM ref.admin_unit AS d JOIN ref.admin_unit AS p ON p.id = d.parent_id
        WHERE d.level = 'district' AND p.code = :province
          AND (d.valid_from IS NULL OR d.valid_from <= :day)
          AND (d.valid_to IS NULL OR d.valid_to > :day)
        ORDER BY d.code LIMIT 1"""), {"province": province, "day": day}).scalar_one())


def insert_person(conn: Connection, person: Person, *, birth_place: int | None = None,
                  national_id: str | None = None) -> str:
    """The person and a current name valid from birth; returns the national id."""
    number = national_id or person.national_id
    conn.execute(text("""
        INSERT INTO population.person (national_id, sex, birth_date, birth_place_unit_id,
                                       ethnic_group, status, death_date)
        VALUES (:nid, :sex, :birth, :place, NULL, :status, :death)"""),
        {"nid": number, "sex": person.sex, "birth": person.birth_date, "place": birth_place,
         "status": "deceased" if person.death_date else "alive", "death": person.death_date})
    insert_name(conn, number, person.family_name, person.given_name, person.birth_date)
    return number


def insert_name(conn: Connection, number: str, family: str, given: str, valid_from: dt.date,
                valid_to: dt.date | None = None, *, recorded_at: dt.datetime | None = None,
                superseded_at: dt.datetime | None = None) -> None:
    """One version of a person's name."""
    full = f"{family} {given}"
    conn.execute(text("""
        INSERT INTO population.person_name (national_id, family_name, given_name, full_name,
                                            name_key, valid_from, valid_to, recorded_at,
                                            superseded_at)
        VALUES (:nid, :family, :given, :full, :key, :from, :to,
                coalesce(:recorded, now()), :superseded)"""),
        {"nid": number, "family": family, "given": given, "full": full, "key": name_key(full),
         "from": valid_from, "to": valid_to, "recorded": recorded_at,
         "superseded": superseded_at})


def insert_residence(conn: Connection, number: str, unit: int, valid_from: dt.date,
                     valid_to: dt.date | None = None, *, kind: str = "permanent") -> None:
    """One residence period."""
    conn.execute(text("""
        INSERT INTO population.residence (national_id, kind, address_line, unit_id,
                                          valid_from, valid_to)
        VALUES (:nid, :kind, 'Số 1', :unit, :from, :to)"""),
        {"nid": number, "kind": kind, "unit": unit, "from": valid_from, "to": valid_to})


def insert_member(conn: Connection, household: int, number: str, relation: str,
                  valid_from: dt.date, valid_to: dt.date | None = None) -> None:
    """One household membership period."""
    conn.execute(text("""
        INSERT INTO population.household_member (household_id, national_id, relation,
                                                 valid_from, valid_to)
        VALUES (:household, :nid, :relation, :from, :to)"""),
        {"household": household, "nid": number, "relation": relation, "from": valid_from,
         "to": valid_to})


def insert_link(conn: Connection, child: str, relation: str, related: str,
                valid_from: dt.date) -> None:
    """A father, mother or spouse link."""
    conn.execute(text("""
        INSERT INTO population.family_link (national_id, relation, related_id, valid_from)
        VALUES (:nid, :relation, :related, :from)"""),
        {"nid": child, "relation": relation, "related": related, "from": valid_from})


def insert_event(conn: Connection, number: str, event_type: str, day: dt.date,
                 related: str | None = None) -> None:
    """A life event."""
    conn.execute(text("""
        INSERT INTO population.life_event (national_id, event_type, event_date, related_id)
        VALUES (:nid, :type, :day, :related)"""),
        {"nid": number, "type": event_type, "day": day, "related": related})


def household_id(conn: Connection, code: str) -> int:
    """Row key of a household by its register number."""
    return int(conn.execute(text(
        "SELECT id FROM population.household WHERE household_code = :code"),
        {"code": code}).scalar_one())


def build_clean_population(conn: Connection) -> None:
    """Write the three households; the quality suite finds nothing wrong with them."""
    def born_in(label: str) -> int:
        person = PERSONS[label]
        return commune(conn, person.province, person.birth_date)

    for person in PERSONS.values():
        insert_person(conn, person, birth_place=born_in(person.label))

    # Name history: A's old name ended in 2000; B's first record was corrected in 2021.
    conn.execute(text("UPDATE population.person_name SET valid_from = DATE '2000-01-01' "
                      "WHERE national_id = :nid"), {"nid": nid("A")})
    insert_name(conn, nid("A"), "Nguyễn", "Minh Tuấn", PERSONS["A"].birth_date,
                dt.date(2000, 1, 1))
    conn.execute(text("UPDATE population.person_name SET recorded_at = TIMESTAMPTZ "
                      "'2021-01-01 00:00Z' WHERE national_id = :nid"), {"nid": nid("B")})
    insert_name(conn, nid("B"), "Trần", "Lam", PERSONS["B"].birth_date,
                recorded_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
                superseded_at=dt.datetime(2021, 1, 1, tzinfo=dt.UTC))

    for code in ("HN-0001", "HCM-0001", "YB-0001"):
        conn.execute(text("INSERT INTO population.household (household_code) VALUES (:code)"),
                     {"code": code})
    hanoi, hcm, yen_bai = (household_id(conn, c) for c in ("HN-0001", "HCM-0001", "YB-0001"))

    # Residences: a pre-2025 commune until the move, a 2025 commune after.
    moved = dt.date(2025, 8, 1)
    for label, since in (("A", dt.date(2000, 1, 1)), ("B", dt.date(2000, 1, 1)),
                         ("C", PERSONS["C"].birth_date)):
        insert_residence(conn, nid(label), commune(conn, "01", since), since, moved)
        insert_residence(conn, nid(label), commune(conn, "01", moved), moved)
    insert_residence(conn, nid("D"), commune(conn, "01", PERSONS["D"].birth_date),
                     PERSONS["D"].birth_date)
    for label in ("E", "I"):
        insert_residence(conn, nid(label), commune(conn, "79", dt.date(1980, 1, 1)),
                         dt.date(1980, 1, 1), REORGANISED)
        insert_residence(conn, nid(label), commune(conn, "79", REORGANISED), REORGANISED)
    for label in ("F", "G"):
        since = PERSONS[label].birth_date
        insert_residence(conn, nid(label), commune(conn, "15", since), since)
    insert_residence(conn, nid("H"), commune(conn, "15", dt.date(1950, 1, 1)),
                     dt.date(1950, 1, 1), PERSONS["H"].death_date)

    # Households: one current head each; H was head until he died.
    for label, relation, since in (("A", "head", dt.date(2000, 1, 1)),
                                   ("B", "spouse", dt.date(2000, 1, 1)),
                                   ("C", "child", PERSONS["C"].birth_date),
                                   ("D", "grandchild", PERSONS["D"].birth_date)):
        insert_member(conn, hanoi, nid(label), relation, since)
    insert_member(conn, hcm, nid("E"), "head", dt.date(1980, 1, 1))
    insert_member(conn, hcm, nid("I"), "parent", dt.date(1980, 1, 1))
    died = PERSONS["H"].death_date
    assert died is not None
    insert_member(conn, yen_bai, nid("H"), "head", dt.date(1950, 1, 1), died)
    insert_member(conn, yen_bai, nid("F"), "child", PERSONS["F"].birth_date, died)
    insert_member(conn, yen_bai, nid("F"), "head", died)
    insert_member(conn, yen_bai, nid("G"), "child", PERSONS["G"].birth_date)

    # Families: parents born before their children.
    for child, relation, parent in (("C", "father", "A"), ("C", "mother", "B"),
                                    ("D", "father", "C"), ("E", "mother", "I"),
                                    ("F", "father", "H"), ("G", "father", "F")):
        insert_link(conn, nid(child), relation, nid(parent), PERSONS[child].birth_date)
    married = dt.date(1995, 5, 20)
    insert_link(conn, nid("A"), "spouse", nid("B"), married)
    insert_link(conn, nid("B"), "spouse", nid("A"), married)

    # Events: births, a marriage, and H's death (he is recorded as deceased).
    for label in ("C", "D", "G"):
        insert_event(conn, nid(label), "birth", PERSONS[label].birth_date)
    insert_event(conn, nid("A"), "marriage", married, related=nid("B"))
    insert_event(conn, nid("H"), "death", died)
