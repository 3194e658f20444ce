"""Batched reads of persons and their facts on a day: one statement per batch of keys.

Every key is a person on a day; a batch of keys is sent as two arrays and
unnested into rows ``k(national_id, day)``, so one statement answers persons
asked about on different days too. A person reaches a resolver only through
:func:`load_persons`, which records the read in the audit trail before the
data leaves; the fact loaders serve persons already recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text

from graphql_api.audit import Access, record
from graphql_api.context import Context
from graphql_api.dataloaders.keyed import DayKey, keys_table, read_outcome, rows_by_key
from graphql_api.types.population import (
    FamilyLink,
    HouseholdMembership,
    Person,
    PersonKey,
    PersonName,
    PersonStatus,
    Residence,
    Sex,
)
from loaders.rules.identifiers import NATIONAL_ID
from schemas.temporal import current_on

FactKey = DayKey
"""A person's number and the day asked about."""

_KEYS = keys_table("national_id")
# Each bitemporal fact as valid on the key's day, as currently known.
_VALID = current_on("x", "k.day")

_PERSONS = text(f"""
    SELECT k.national_id, k.day, p.sex, p.birth_date, p.death_date
    FROM {_KEYS} JOIN population.person p
      ON p.national_id = k.national_id AND p.birth_date <= k.day""")
_NAMES = text(f"""
    SELECT k.national_id, k.day, x.family_name, x.middle_name, x.given_name, x.full_name
    FROM {_KEYS} JOIN population.person_name x
      ON x.national_id = k.national_id AND {_VALID}""")
_RESIDENCES = text(f"""
    SELECT k.national_id, k.day, x.kind, x.address_line, x.valid_from, x.unit_id
    FROM {_KEYS} JOIN population.residence x ON x.national_id = k.national_id AND {_VALID}
    ORDER BY x.kind""")
_HOUSEHOLDS = text(f"""
    SELECT k.national_id, k.day, h.household_code, x.relation,
           ARRAY(SELECT m.national_id FROM population.household_member m
                 WHERE m.household_id = x.household_id AND {current_on("m", "k.day")}
                 ORDER BY m.national_id) AS members
    FROM {_KEYS} JOIN population.household_member x
      ON x.national_id = k.national_id AND {_VALID}
    JOIN population.household h ON h.id = x.household_id""")
_FAMILY = text(f"""
    SELECT k.national_id, k.day, x.relation, x.related_id
    FROM {_KEYS} JOIN population.family_link x ON x.national_id = k.national_id AND {_VALID}
    ORDER BY x.relation""")


async def _by_key(ctx: Context, statement: Any, keys: Sequence[FactKey]
                  ) -> dict[FactKey, list[Any]]:
    return await rows_by_key(ctx, statement, keys, "national_id")


async def load_persons(ctx: Context, keys: list[PersonKey]) -> list[Person | None]:
    """The persons as of their days (None when unknown then), each read audited."""
    # A malformed number cannot be in the registry, and some (NUL bytes) cannot
    # even be sent as text: answer those without asking.
    asked = [(k.national_id, k.day) for k in keys if NATIONAL_ID.fullmatch(k.national_id)]
    found = await _by_key(ctx, _PERSONS, asked)
    persons = [_person(found[(k.national_id, k.day)][0]) if (k.national_id, k.day) in found
               else None for k in keys]
    await record(ctx, [Access(k.operation, k.national_id, read_outcome(
        p is not None, NATIONAL_ID.fullmatch(k.national_id) is not None))
                       for k, p in zip(keys, persons, strict=True)])
    return persons


def _person(row: Any) -> Person:
    died = row.death_date is not None and row.death_date <= row.day
    return Person(day=row.day, national_id=row.national_id, sex=Sex(row.sex),
                  birth_date=row.birth_date,
                  status=PersonStatus.DECEASED if died else PersonStatus.ALIVE,
                  death_date=row.death_date if died else None)


async def load_names(ctx: Context, keys: list[FactKey]) -> list[PersonName | None]:
    found = await _by_key(ctx, _NAMES, keys)
    return [PersonName(family_name=r.family_name, middle_name=r.middle_name,
                       given_name=r.given_name, full_name=r.full_name)
            if (r := next(iter(found.get(k, ())), None)) else None for k in keys]


async def load_residences(ctx: Context, keys: list[FactKey]) -> list[list[Residence]]:
    found = await _by_key(ctx, _RESIDENCES, keys)
    return [[Residence(unit_id=r.unit_id, kind=r.kind, address_line=r.address_line,
                       since=r.valid_from) for r in found.get(k, ())] for k in keys]


async def load_households(ctx: Context, keys: list[FactKey]
                          ) -> list[HouseholdMembership | None]:
    found = await _by_key(ctx, _HOUSEHOLDS, keys)
    return [HouseholdMembership(household_code=r.household_code, relation=r.relation,
                                member_ids=list(r.members))
            if (r := next(iter(found.get(k, ())), None)) else None for k in keys]


async def load_family(ctx: Context, keys: list[FactKey]) -> list[list[FamilyLink]]:
    found = await _by_key(ctx, _FAMILY, keys)
    return [[FamilyLink(day=r.day, relation=r.relation, national_id=r.related_id)
             for r in found.get(k, ())] for k in keys]
