"""Person verification: a batch of claims answered with one query and one audit insert."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from graphql_api.audit_writer import new_reference
from graphql_api.auth import audit_subject
from graphql_api.context import Context
from graphql_api.types.population import (
    FieldMatch,
    PersonClaim,
    PersonStatus,
    PersonVerification,
    Sex,
)
from loaders.rules.identifiers import NATIONAL_ID
from loaders.rules.text import name_key
from schemas.temporal import current_on

# The registry's view of each asked-for person on the day asked about: identity facts,
# the name valid that day as currently known, and whether they had died by then.
_LOOKUP = f"""
    SELECT p.national_id, p.sex, p.birth_date,
           p.death_date IS NOT NULL AND p.death_date <= $2 AS deceased, n.name_key
    FROM population.person p
    LEFT JOIN population.person_name n
      ON n.national_id = p.national_id AND {current_on("n", "$2")}
    WHERE p.national_id = ANY($1::text[]) AND p.birth_date <= $2"""


@dataclass(frozen=True)
class _Known:
    sex: str
    birth_date: dt.date
    deceased: bool
    name_key: str | None


class BatchTooLarge(ValueError):
    """More claims than the configured batch limit."""


async def verify_persons(ctx: Context, claims: list[PersonClaim], as_of: dt.date | None,
                         operation: str) -> list[PersonVerification]:
    """Answer every claim; each answer gets its own audit record."""
    if len(claims) > ctx.settings.api_max_batch:
        raise BatchTooLarge(f"A batch may hold at most {ctx.settings.api_max_batch} claims; "
                            f"this one holds {len(claims)}. Split it.")
    day = as_of or dt.date.today()
    wellformed = sorted({c.national_id for c in claims if NATIONAL_ID.fullmatch(c.national_id)})
    known: dict[str, _Known] = {}
    if wellformed:
        async with ctx.lookups.connection() as conn:
            for row in await conn.fetch(_LOOKUP, wellformed, day):
                known[row[0]] = _Known(row[1], row[2], row[3], row[4])
    answers = [_answer(claim, known.get(claim.national_id)) for claim in claims]
    await ctx.audit.record(ctx.client.id, operation, [a.reference for a in answers],
                           [audit_subject(c.national_id) for c in claims],
                           [_outcome(a, c) for a, c in zip(answers, claims, strict=True)])
    return answers


async def verify_one(ctx: Context, claim: PersonClaim,
                        as_of: dt.date | None = None) -> PersonVerification:
    """``verifyPerson``: one claim."""
    return (await verify_persons(ctx, [claim], as_of, "verifyPerson"))[0]


async def verify_batch(ctx: Context, claims: list[PersonClaim],
                       as_of: dt.date | None = None) -> list[PersonVerification]:
    """``verifyPersons``: a batch of claims."""
    return await verify_persons(ctx, claims, as_of, "verifyPersons")


def _answer(claim: PersonClaim, person: _Known | None) -> PersonVerification:
    reference = str(new_reference())
    if not NATIONAL_ID.fullmatch(claim.national_id):
        return PersonVerification(national_id=claim.national_id, found=False, match=False,
                                  status=None, fields=[FieldMatch(field="nationalId",
                                                                  match=False)],
                                  reference=reference)
    if person is None:
        return PersonVerification(national_id=claim.national_id, found=False, match=False,
                                  status=None, fields=[], reference=reference)
    fields = []
    if claim.full_name is not None:
        fields.append(FieldMatch(field="fullName", match=person.name_key is not None
                                 and name_key(claim.full_name) == person.name_key))
    if claim.birth_date is not None:
        fields.append(FieldMatch(field="birthDate", match=claim.birth_date == person.birth_date))
    if claim.sex is not None:
        fields.append(FieldMatch(field="sex", match=claim.sex == Sex(person.sex)))
    return PersonVerification(
        national_id=claim.national_id, found=True, match=all(f.match for f in fields),
        status=PersonStatus.DECEASED if person.deceased else PersonStatus.ALIVE,
        fields=fields, reference=reference)


def _outcome(answer: PersonVerification, claim: PersonClaim) -> str:
    if not NATIONAL_ID.fullmatch(claim.national_id):
        return "invalid"
    if not answer.found:
        return "not-found"
    return "match" if answer.match else "mismatch"
