"""The verification kit: claims answered yes or no per field, batched, audited, and
revealing nothing the claim did not state; a registry brings only its claim type,
its look-up and its comparison per field.

The rule every registry's verification inherits from here (README, "The API"):

- a claim states at least one field besides the identifier, or it is refused
  (``EMPTY_CLAIM``): a bare identifier is not a verification;
- whether a subject is found never depends on ``asOf``: the look-up is given the
  identifiers only, never the day;
- facts that change over time are compared as of the day asked about; before a
  fact's first version, with that first version (:func:`version_on`), so that no
  answer changes at a date the caller did not claim;
- the status (alive, deceased; active, dissolved) is told only when every claimed
  field matches, and is null otherwise.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.types import Info
from strawberry.utils.str_converters import to_camel_case

from graphql_api.audit_writer import new_reference
from graphql_api.auth import audit_subject
from graphql_api.context import Context
from graphql_api.permissions import requires
from graphql_api.types.verification import FieldMatch

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

Claim = TypeVar("Claim")
Known = TypeVar("Known")
Answer = TypeVar("Answer")
V = TypeVar("V")

Resolve = Callable[..., Awaitable[Any]]
if TYPE_CHECKING:
    LookUp = Callable[[PoolConnectionProxy[Any], list[str]], Awaitable[dict[str, Known]]]


class Refused(GraphQLError):
    """A verification refused as a whole: the message says why and what to do, and
    ``extensions.code`` names the rule for programs."""

    code = "REFUSED"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": self.code, **extensions})


class BatchTooLarge(Refused):
    """More claims than the configured batch limit."""

    code = "BATCH_TOO_LARGE"


class EmptyClaim(Refused):
    """A claim that states nothing besides the identifier."""

    code = "EMPTY_CLAIM"


@dataclass(frozen=True)
class Registry(Generic[Claim, Known, Answer]):
    """What one registry's verification is made of; :func:`verify_claims` does the rest."""

    subject: str
    """The claim's identifier attribute (``national_id``)."""
    wellformed: re.Pattern[str]
    """A well-formed identifier; others are answered without asking the database."""
    look_up: LookUp[Known]
    """What the registry knows of each identifier found, by identifier. It is given no
    day: whether a subject is found must not depend on ``asOf``."""
    compare: Callable[[Claim, Known, dt.date], list[FieldMatch]]
    """One FieldMatch per claimed field, in the claim's order, as of the day."""
    status: Callable[[Known, dt.date], Enum]
    """The subject's status on the day; told only when every claimed field matches."""
    answer: Callable[..., Answer]
    """The answer type, called with the identifier as given (keyword ``subject``),
    found, match, status, fields and reference."""

    def key(self, claim: Claim) -> str:
        return str(getattr(claim, self.subject))

    def states_something(self, claim: Claim) -> bool:
        """Whether a claim states a field besides its identifier."""
        for attribute, _ in _claimable(type(claim), self.subject):
            if getattr(claim, attribute) is not None:
                return True
        return False

    @property
    def subject_field(self) -> str:
        return to_camel_case(self.subject)


_CLAIMABLE: dict[tuple[type[Any], str], tuple[tuple[str, str], ...]] = {}


def _claimable(claim_type: type[Any], subject: str) -> tuple[tuple[str, str], ...]:
    """The attribute and GraphQL name of each field of a claim type but its identifier."""
    fields = _CLAIMABLE.get((claim_type, subject))
    if fields is None:
        fields = _CLAIMABLE[claim_type, subject] = tuple(
            (f.name, getattr(f, "graphql_name", None) or to_camel_case(f.name))
            for f in dataclasses.fields(claim_type) if f.name != subject)
    return fields


def version_on(versions: Sequence[tuple[dt.date, V]], day: dt.date) -> V | None:
    """The version of a fact to compare on ``day``, from its versions ordered by start:
    the last that started on or before the day; before the first, the first. So the
    answer cannot change at the first version's start, which the caller did not claim."""
    chosen = None
    for i, (start, value) in enumerate(versions):
        if i and start > day:
            break
        chosen = value
    return chosen


async def verify_claims(ctx: Context, registry: Registry[Claim, Known, Answer],
                        claims: Sequence[Claim], as_of: dt.date | None,
                        operation: str) -> list[Answer]:
    """Answer every claim with one look-up; each answer gets its own audit record, all
    written with one insert. Refused (nothing looked up, nothing recorded): a batch
    over the limit, and any claim that states nothing besides its identifier."""
    limit = ctx.settings.api_max_batch
    if len(claims) > limit:
        raise BatchTooLarge(f"A batch may hold at most {limit} claims; this one holds "
                            f"{len(claims)}. Split it.", limit=limit)
    empty = [i for i, claim in enumerate(claims) if not registry.states_something(claim)]
    if empty:
        fields = ", ".join(name for _, name in _claimable(type(claims[empty[0]]),
                                                          registry.subject))
        which = "The claim" if len(claims) == 1 else \
            f"Claim{'s' if len(empty) > 1 else ''} {', '.join(map(str, empty[:10]))}" \
            f"{' …' if len(empty) > 10 else ''} (counted from 0)"
        raise EmptyClaim(f"{which} states nothing besides {registry.subject_field}. "
                         f"State at least one of {fields}: an identifier alone is not "
                         "verified.", claims=empty[:10])
    day = as_of or dt.date.today()
    keys = [registry.key(claim) for claim in claims]
    wellformed = [registry.wellformed.fullmatch(key) is not None for key in keys]
    asked = sorted({key for key, ok in zip(keys, wellformed, strict=True) if ok})
    known: dict[str, Known] = {}
    if asked:
        async with ctx.lookups.connection() as conn:
            known = await registry.look_up(conn, asked)
    answers: list[Answer] = []
    outcomes: list[str] = []
    for claim, key, ok in zip(claims, keys, wellformed, strict=True):
        answer, outcome = _answer(registry, claim, key, known.get(key) if ok else None, ok,
                                  day)
        answers.append(answer)
        outcomes.append(outcome)
    await ctx.audit.record(ctx.client.id, operation,
                           [a.reference for a in answers],  # type: ignore[attr-defined]
                           [audit_subject(key) for key in keys], outcomes)
    return answers


def _answer(registry: Registry[Claim, Known, Answer], claim: Claim, key: str,
            known: Known | None, wellformed: bool, day: dt.date) -> tuple[Answer, str]:
    reference = str(new_reference())
    if not wellformed:
        return registry.answer(subject=key, found=False, match=False, status=None,
                               fields=[FieldMatch(field=registry.subject_field, match=False)],
                               reference=reference), "invalid"
    if known is None:
        return registry.answer(subject=key, found=False, match=False, status=None, fields=[],
                               reference=reference), "not-found"
    fields = registry.compare(claim, known, day)
    match = bool(fields)
    for field in fields:
        match = match and field.match
    return registry.answer(subject=key, found=True, match=match,
                           status=registry.status(known, day) if match else None,
                           fields=fields, reference=reference), \
        "match" if match else "mismatch"


@dataclass(frozen=True)
class VerificationFields:
    """A registry's two root fields and their compiled-path entries, made together."""

    one: Any
    many: Any
    entries: dict[str, Resolve]
    """GraphQL field name: the function the field calls (graphql_api/compiled.py)."""


def verification_fields(registry: Registry[Any, Any, Any], *, claim: type, answer: type,
                        scope: str, one: str, many: str, one_description: str,
                        many_description: str) -> VerificationFields:
    """``one(claim, asOf)`` and ``many(claims, asOf)`` for a registry, guarded by
    ``scope``, and the entries by which the compiled path calls the very functions the
    fields call, with the fields' argument names."""

    async def verify_one(ctx: Context, claim: Any, as_of: dt.date | None = None) -> Any:
        return (await verify_claims(ctx, registry, [claim], as_of, one))[0]

    async def verify_many(ctx: Context, claims: list[Any],
                          as_of: dt.date | None = None) -> list[Any]:
        return await verify_claims(ctx, registry, claims, as_of, many)

    async def one_field(info: Info, claim: Any, as_of: dt.date | None = None) -> Any:
        return await verify_one(info.context, claim, as_of)

    async def many_field(info: Info, claims: list[Any],
                         as_of: dt.date | None = None) -> list[Any]:
        return await verify_many(info.context, claims, as_of)

    # The claim and answer types are the registry's: strawberry reads them from here.
    one_field.__annotations__ = {"info": Info, "claim": claim, "as_of": dt.date | None,
                                 "return": answer}
    many_field.__annotations__ = {"info": Info, "claims": list[claim],  # type: ignore[valid-type]
                                  "as_of": dt.date | None, "return": list[answer]}  # type: ignore[valid-type]
    permission = [requires(scope)]
    return VerificationFields(
        one=strawberry.field(resolver=one_field, name=one, permission_classes=permission,
                             description=one_description),
        many=strawberry.field(resolver=many_field, name=many, permission_classes=permission,
                              description=many_description),
        entries={one: verify_one, many: verify_many})
