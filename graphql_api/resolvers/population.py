"""Person verification: the population registry's part of the verification kit
(graphql_api/verification.py): its claim, its look-up and a comparison per field."""

from __future__ import annotations

import datetime as dt
import re
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
from loaders.rules.text import name_key

__all__ = ["NATIONAL_ID", "PERSONS", "BatchTooLarge"]

NATIONAL_ID = re.compile(r"[0-9]{12}")
"""A well-formed personal number; anything else is answered without asking the database."""

# The registry's current knowledge of each asked-for person, whatever the day: identity
# facts, and every version of the name (start, comparison key), oldest first. The day is
# applied in Python (version_on), so whether a person is found cannot depend on it.
_LOOKUP = """
    SELECT p.national_id, p.sex, p.birth_date, p.death_date, n.starts, n.keys
    FROM population.person p
    LEFT JOIN LATERAL (
        SELECT array_agg(v.valid_from ORDER BY v.valid_from) AS starts,
               array_agg(v.name_key ORDER BY v.valid_from) AS keys
        FROM population.person_name v
        WHERE v.national_id = p.national_id AND v.superseded_at IS NULL) n ON true
    WHERE p.national_id = ANY($1::text[])"""


@dataclass(frozen=True)
class _Known:
    sex: str
    birth_date: dt.date
    death_date: dt.date | None
    names: tuple[tuple[dt.date, str], ...]


async def _look_up(conn: PoolConnectionProxy[Any], numbers: list[str]) -> dict[str, _Known]:
    return {row[0]: _Known(row[1], row[2], row[3], tuple(zip(row[4] or (), row[5] or (),
                                                             strict=True)))
            for row in await conn.fetch(_LOOKUP, numbers)}


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
