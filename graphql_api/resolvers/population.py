"""Person verification: the population registry's part of the verification kit
(graphql_api/verification.py): its claim, its look-up and a comparison per field."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from asyncpg.pool import PoolConnectionProxy

from graphql_api.types.population import (
    PersonClaim,
    PersonStatus,
    PersonVerification,
    Sex,
)
from graphql_api.types.verification import FieldMatch
from graphql_api.verification import BatchTooLarge, Registry, verification_fields, version_on
from loaders.rules.identifiers import NATIONAL_ID
from loaders.rules.text import name_key

__all__ = ["NATIONAL_ID", "PERSONS", "BatchTooLarge"]

# The registry's current knowledge of each asked-for person, whatever the day: identity
# facts, and each version of the name (start, comparison key), one row per version. The
# day is applied in Python (version_on), so whether a person is found cannot depend on it.
_LOOKUP = """
    SELECT p.national_id, p.sex, p.birth_date, p.death_date, n.valid_from, n.name_key
    FROM population.person p
    LEFT JOIN population.person_name n
      ON n.national_id = p.national_id AND n.superseded_at IS NULL
    WHERE p.national_id = ANY($1::text[])"""


@dataclass(frozen=True)
class _Known:
    sex: str
    birth_date: dt.date
    death_date: dt.date | None
    names: list[tuple[dt.date, str]]
    """Versions of the name, oldest first."""


async def _look_up(conn: PoolConnectionProxy[Any], numbers: list[str]) -> dict[str, _Known]:
    known: dict[str, _Known] = {}
    for number, sex, birth_date, death_date, start, key in await conn.fetch(_LOOKUP, numbers):
        person = known.get(number)
        if person is None:
            known[number] = _Known(sex, birth_date, death_date,
                                   [] if start is None else [(start, key)])
        else:
            person.names.append((start, key))
            person.names.sort()
    return known


def _compare(claim: PersonClaim, person: _Known, day: dt.date) -> list[FieldMatch]:
    fields = []
    if claim.full_name is not None:
        known = version_on(person.names, day)
        fields.append(FieldMatch(field="fullName",
                                 match=known is not None and name_key(claim.full_name) == known))
    if claim.birth_date is not None:
        fields.append(FieldMatch(field="birthDate", match=claim.birth_date == person.birth_date))
    if claim.sex is not None:
        fields.append(FieldMatch(field="sex", match=claim.sex == Sex(person.sex)))
    return fields


def _status(person: _Known, day: dt.date) -> PersonStatus:
    died = person.death_date is not None and person.death_date <= day
    return PersonStatus.DECEASED if died else PersonStatus.ALIVE


PERSONS = verification_fields(
    Registry(subject="national_id", wellformed=NATIONAL_ID, look_up=_look_up,
             compare=_compare, status=_status,
             answer=lambda subject, **rest: PersonVerification(national_id=subject, **rest)),
    claim=PersonClaim, answer=PersonVerification, scope="verify:person",
    one="verifyPerson", many="verifyPersons",
    one_description="Check one claim about a person: yes or no per field.",
    many_description="Check a batch of claims with one round trip.")
"""``verifyPerson`` and ``verifyPersons``, and their compiled-path entries."""
