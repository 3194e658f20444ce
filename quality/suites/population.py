"""The population registry's quality suite: Great Expectations rules run as SQL in the database.

Batches are SQL queries over ``population.*`` (Great Expectations query
assets), so every check runs where the data is; rules that span tables are
``UnexpectedRowsExpectation`` queries joining ``ref`` and the other
``population`` tables. "Current" means the registry's current knowledge
(``superseded_at IS NULL``) and, for facts that change over a life, valid on
the run's ``as_of`` day.

Every batch carries ``province_code``: the PPP prefix of the person's national
id (for a household, its head's; see :mod:`quality.run` for why the prefix).

Some rules guard against what the schema already forbids today (NOT NULL, the
12-digit CHECK, the primary key, the one-name-at-a-time exclusion, death on
or after birth). They stay: the suite states the registry's rules, whatever
enforces them, and keeps watching if a constraint is ever relaxed for a bulk
migration.
"""

from __future__ import annotations

import datetime as dt

# Imported from their modules: the package re-exports them without __all__, which mypy
# treats as private.
from great_expectations.expectations.core.expect_column_pair_values_a_to_be_greater_than_b import (
    ExpectColumnPairValuesAToBeGreaterThanB,
)
from great_expectations.expectations.core.expect_column_values_to_be_between import (
    ExpectColumnValuesToBeBetween,
)
from great_expectations.expectations.core.expect_column_values_to_be_unique import (
    ExpectColumnValuesToBeUnique,
)
from great_expectations.expectations.core.expect_column_values_to_match_regex import (
    ExpectColumnValuesToMatchRegex,
)
from great_expectations.expectations.core.expect_column_values_to_not_be_null import (
    ExpectColumnValuesToNotBeNull,
)

from loaders.rules.identifiers import PERSONAL_NUMBER
from quality.suites.base import Batch, Rule, Suite
from quality.suites.base import expect as _rule
from quality.suites.base import sql_date as _date
from quality.suites.base import unexpected_rows as _rows
from schemas.reference import REORGANISATION_2025
from schemas.temporal import current_on, in_force

REGISTRY = "population"
PROVINCE_BASIS = (
    "A person's province is where the birth was registered: the first three digits of the "
    "national id, in the pre-2025 numbering; a household's is its head's."
)
MAX_AGE = 125
"""Oldest plausible age, in whole years, of a living person."""


def batches(as_of: dt.date) -> tuple[Batch, ...]:
    """The rows the rules look at, each with its ``province_code``."""
    day = _date(as_of)
    ppp = "substr({}.national_id, 1, 3)"
    return (
        Batch("person", f"""
            SELECT p.national_id, p.sex, p.birth_date, p.birth_place_unit_id, p.status,
                   p.death_date,
                   -- Age only for the living, so the range rule ignores the dead (NULL).
                   CASE WHEN p.status = 'alive'
                        THEN date_part('year', age({day}, p.birth_date))::int END AS living_age,
                   {ppp.format('p')} AS province_code
            FROM population.person AS p"""),
        Batch("current_name", f"""
            SELECT n.id, n.national_id, n.family_name, n.given_name,
                   {ppp.format('n')} AS province_code
            FROM population.person_name AS n
            WHERE {current_on('n', day)}"""),
        Batch("residence", f"""
            SELECT r.id, r.national_id, r.kind, r.unit_id, r.valid_from, r.valid_to,
                   {ppp.format('r')} AS province_code
            FROM population.residence AS r
            WHERE r.superseded_at IS NULL"""),
        # A household belongs to its head's province (the lowest-numbered member's when it
        # has no head), so a household with two heads from two provinces is counted once.
        Batch("household", f"""
            SELECT h.id, h.household_code,
                   (SELECT substr(coalesce(min(m.national_id) FILTER (WHERE m.relation = 'head'),
                                           min(m.national_id)), 1, 3)
                    FROM population.household_member AS m
                    WHERE m.household_id = h.id AND {current_on('m', day)}) AS province_code
            FROM population.household AS h"""),
        Batch("family_link", f"""
            SELECT f.id, f.national_id, f.relation, f.related_id,
                   {ppp.format('f')} AS province_code
            FROM population.family_link AS f
            WHERE f.superseded_at IS NULL"""),
        Batch("life_event", f"""
            SELECT e.id, e.national_id, e.event_type, e.event_date,
                   {ppp.format('e')} AS province_code
            FROM population.life_event AS e"""),
    )


def rules(as_of: dt.date) -> tuple[Rule, ...]:
    """Every population rule, fresh for one run on ``as_of``."""
    day = _date(as_of)
    reorganised = _date(REORGANISATION_2025)
    return (
        # Completeness.
        _rule("national-id-present", "person",
              "Every person has a national id; add the missing number.",
              ExpectColumnValuesToNotBeNull, column="national_id"),
        _rule("sex-present", "person",
              "Every person has a sex; fill it in from the birth record.",
              ExpectColumnValuesToNotBeNull, column="sex"),
        _rule("birth-date-present", "person",
              "Every person has a birth date; fill it in from the birth record.",
              ExpectColumnValuesToNotBeNull, column="birth_date"),
        _rule("family-name-present", "current_name",
              "The current name has a family name that is not blank; correct the name record.",
              ExpectColumnValuesToMatchRegex, column="family_name", regex=r"\S"),
        _rule("given-name-present", "current_name",
              "The current name has a given name that is not blank; correct the name record.",
              ExpectColumnValuesToMatchRegex, column="given_name", regex=r"\S"),
        _rows("current-name-present", "person",
              "Every person has a name valid today; record one or reopen the last name's "
              "validity.", f"""
              SELECT p.national_id FROM {{batch}} AS p
              LEFT JOIN population.person_name AS n
                ON n.national_id = p.national_id AND {current_on('n', day)}
              WHERE n.id IS NULL"""),
        # Uniqueness and format.
        _rule("national-id-unique", "person",
              "A national id belongs to one person; merge or renumber the duplicates.",
              ExpectColumnValuesToBeUnique, column="national_id"),
        _rule("one-current-name", "current_name",
              "A person has at most one name valid today; close or supersede the extra "
              "version.", ExpectColumnValuesToBeUnique, column="national_id"),
        _rule("national-id-format", "person",
              "A national id is exactly 12 digits; correct the number.",
              ExpectColumnValuesToMatchRegex, column="national_id",
              regex=f"^{PERSONAL_NUMBER}$"),
        # Plausible ranges.
        _rule("birth-date-not-future", "person",
              "Nobody is born after today; correct the birth date.",
              ExpectColumnValuesToBeBetween, column="birth_date",
              max_value=as_of),
        _rule("age-at-most-125", "person",
              f"A living person is at most {MAX_AGE} years old; record the death or correct "
              "the birth date.",
              ExpectColumnValuesToBeBetween, column="living_age",
              max_value=MAX_AGE),
        _rule("death-not-before-birth", "person",
              "Death is on or after birth; correct the death or the birth date.",
              ExpectColumnPairValuesAToBeGreaterThanB, column_A="death_date",
              column_B="birth_date", or_equal=True, ignore_row_if="either_value_is_missing"),
        # Personal-number consistency (PPP G YY NNNNNN, see loaders.rules.identifiers).
        _rows("national-id-sex-digit", "person",
              "Digit 4 of the national id encodes sex and birth century (0/1 male/female "
              "born 19xx, 2/3 born 20xx, ...); the number, the sex or the birth date is wrong.",
              """
              SELECT national_id, sex, birth_date FROM {batch}
              WHERE sex IN ('male', 'female')
                AND date_part('year', birth_date) BETWEEN 1900 AND 2399
                AND substr(national_id, 4, 1) <>
                    (2 * (date_part('year', birth_date)::int / 100 - 19)
                     + CASE WHEN sex = 'female' THEN 1 ELSE 0 END)::text"""),
        _rows("national-id-birth-year", "person",
              "Digits 5-6 of the national id are the last two digits of the birth year; the "
              "number or the birth date is wrong.",
              """
              SELECT national_id, birth_date FROM {batch}
              WHERE substr(national_id, 5, 2)
                    <> to_char(date_part('year', birth_date)::int % 100, 'FM00')"""),
        _rows("national-id-birth-province", "person",
              "The first 3 digits of the national id are a province code from before the "
              "2025 reorganisation (001-096); correct the number.", f"""
              SELECT p.national_id FROM {{batch}} AS p
              LEFT JOIN ref.admin_unit AS u
                ON u.level = 'province' AND u.valid_to = {reorganised}
               AND '0' || u.code = substr(p.national_id, 1, 3)
              WHERE u.id IS NULL"""),
        # References valid at their dates.
        _rows("birth-place-in-force", "person",
              "The birth place is a unit in force on the birth date; use the unit as it was "
              "then (see `mdr ref successors`).", f"""
              SELECT p.national_id, p.birth_date, p.birth_place_unit_id FROM {{batch}} AS p
              LEFT JOIN ref.admin_unit AS u
                ON u.id = p.birth_place_unit_id AND {in_force('u', 'p.birth_date')}
              WHERE p.birth_place_unit_id IS NOT NULL AND u.id IS NULL"""),
        _rows("residence-commune-in-force", "residence",
              "A residence is in a commune in force on the day it starts; use the commune as "
              "it was then (see `mdr ref successors`).", f"""
              SELECT r.id, r.national_id, r.unit_id, r.valid_from FROM {{batch}} AS r
              LEFT JOIN ref.admin_unit AS u
                ON u.id = r.unit_id AND u.level = 'commune' AND {in_force('u', 'r.valid_from')}
              WHERE u.id IS NULL"""),
        # Households, life events, families.
        _rows("household-one-head", "household",
              "A household with current members has exactly one head among them; correct "
              "the members' relations.", f"""
              SELECT h.id, h.household_code FROM {{batch}} AS h
              JOIN population.household_member AS m
                ON m.household_id = h.id AND {current_on('m', day)}
              GROUP BY h.id, h.household_code
              HAVING count(*) FILTER (WHERE m.relation = 'head') <> 1"""),
        _rows("no-death-event-while-alive", "life_event",
              "A person with a death event is recorded as deceased; record the death on the "
              "person or remove the wrong event.", """
              SELECT e.national_id, e.event_date FROM {batch} AS e
              JOIN population.person AS p ON p.national_id = e.national_id
              WHERE e.event_type = 'death' AND p.status = 'alive'"""),
        # A parent born on the child's birthday is as impossible as one born after it.
        _rows("parent-born-before-child", "family_link",
              "A father or mother is born before the child; the link or a birth date is "
              "wrong.", """
              SELECT f.national_id, f.relation, f.related_id FROM {batch} AS f
              JOIN population.person AS child ON child.national_id = f.national_id
              JOIN population.person AS parent ON parent.national_id = f.related_id
              WHERE f.relation IN ('father', 'mother')
                AND parent.birth_date >= child.birth_date"""),
    )


def provinces_query() -> str:
    """Birth-registration provinces present in the registry, with their names where known."""
    return f"""
        SELECT k.code, u.full_name AS name
        FROM (SELECT DISTINCT substr(national_id, 1, 3) AS code
              FROM population.person) AS k
        LEFT JOIN ref.admin_unit AS u
          ON u.level = 'province' AND u.valid_to = {_date(REORGANISATION_2025)}
         AND '0' || u.code = k.code
        ORDER BY k.code"""


def suite(as_of: dt.date) -> Suite:
    """The population suite for a run that takes ``as_of`` as today."""
    return Suite(REGISTRY, batches(as_of), rules(as_of), provinces_query(), PROVINCE_BASIS)
