"""The verification kit's rule, as any registry gets it: a registry of shops written here
with nothing but a claim type, a look-up and a comparison per field."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import Enum
from types import SimpleNamespace
from typing import Any, cast

import pytest
import strawberry

from graphql_api.context import Context
from graphql_api.types.verification import FieldMatch
from graphql_api.verification import (
    BatchTooLarge,
    EmptyClaim,
    Registry,
    verification_fields,
    verify_claims,
    version_on,
)

D = dt.date


@pytest.mark.parametrize(("day", "expected"), [
    (D(1900, 1, 1), "first"),      # before the first version: the first
    (D(2000, 1, 1), "first"),
    (D(2010, 6, 1), "first"),
    (D(2010, 6, 2), "second"),
    (D(2099, 1, 1), "second"),     # after the last began: the last
])
def test_the_version_compared_on_a_day(day: dt.date, expected: str) -> None:
    versions = [(D(2000, 1, 1), "first"), (D(2010, 6, 2), "second")]
    assert version_on(versions, day) == expected


def test_no_versions_no_value() -> None:
    assert version_on([], D(2000, 1, 1)) is None


class ShopStatus(Enum):
    OPEN = "open"
    CLOSED = "closed"


@strawberry.input
class ShopClaim:
    code: str
    name: str | None = None
    owner: str | None = None


@strawberry.type
class ShopVerification:
    code: str
    found: bool
    match: bool
    status: ShopStatus | None
    fields: list[FieldMatch]
    reference: str


@dataclass(frozen=True)
class Shop:
    names: tuple[tuple[dt.date, str], ...]
    owner: str
    closed_on: dt.date | None


SHOPS = {"1234": Shop(((D(2020, 1, 1), "Corner"), (D(2024, 1, 1), "Corner Shop")), "An",
                      D(2025, 1, 1))}
ASKED: list[Any] = []


async def look_up(conn: Any, codes: list[str]) -> dict[str, Shop]:
    ASKED.append(codes)
    return {code: SHOPS[code] for code in codes if code in SHOPS}


def compare(claim: ShopClaim, shop: Shop, day: dt.date) -> list[FieldMatch]:
    fields = []
    if claim.name is not None:
        fields.append(FieldMatch(field="name", match=claim.name == version_on(shop.names, day)))
    if claim.owner is not None:
        fields.append(FieldMatch(field="owner", match=claim.owner == shop.owner))
    return fields


def status(shop: Shop, day: dt.date) -> ShopStatus:
    return ShopStatus.CLOSED if shop.closed_on and shop.closed_on <= day else ShopStatus.OPEN


REGISTRY = Registry(subject="code", wellformed=re.compile(r"[0-9]{4}"), look_up=look_up,
                    compare=compare, status=status,
                    answer=lambda subject, **rest: ShopVerification(code=subject, **rest))


@dataclass
class FakeAudit:
    records: list[tuple[Any, ...]] = field(default_factory=list)

    async def record(self, *args: Any) -> None:
        self.records.append(args)


@asynccontextmanager
async def connection() -> AsyncIterator[None]:
    yield None


def context(audit: FakeAudit, max_batch: int = 10) -> Context:
    return cast(Context, SimpleNamespace(
        settings=SimpleNamespace(api_max_batch=max_batch), client=SimpleNamespace(id=7),
        lookups=SimpleNamespace(connection=connection), audit=audit))


def verify(claims: list[ShopClaim], day: dt.date | None = None,
           audit: FakeAudit | None = None, max_batch: int = 10) -> list[ShopVerification]:
    return asyncio.run(verify_claims(context(audit or FakeAudit(), max_batch), REGISTRY,
                                     claims, day, "verifyShops"))


def plain(answer: ShopVerification) -> tuple[Any, ...]:
    return (answer.code, answer.found, answer.match, answer.status,
            [(f.field, f.match) for f in answer.fields])


DAYS = [D(1, 1, 1), D(2019, 12, 31), D(2020, 1, 1), D(2023, 12, 31), D(2024, 1, 1),
        D(2024, 12, 31), D(2025, 1, 1), D(9999, 12, 31)]


@pytest.mark.parametrize("claim", [ShopClaim(code="1234", name="Nobody's"),
                                   ShopClaim(code="1234", name="Corner Shop Ltd", owner="Bo"),
                                   ShopClaim(code="9999", owner="An"),
                                   ShopClaim(code="12a4", owner="An")])
def test_a_claim_with_a_wrong_field_gets_the_same_answer_every_day(claim: ShopClaim) -> None:
    answers = {repr(plain(verify([claim], day)[0])) for day in DAYS}
    assert len(answers) == 1, answers
    assert "CLOSED" not in answers.pop()


def test_a_matching_claim_is_told_the_status_on_the_day() -> None:
    claim = ShopClaim(code="1234", name="Corner Shop", owner="An")
    assert plain(verify([claim], D(2024, 6, 1))[0]) == (
        "1234", True, True, ShopStatus.OPEN, [("name", True), ("owner", True)])
    assert verify([claim], D(2025, 1, 1))[0].status is ShopStatus.CLOSED
    # Before the first name, the first one is compared: "Corner" matches on any day till 2024.
    assert verify([ShopClaim(code="1234", name="Corner")], D(1990, 1, 1))[0].match is True
    # A claimed name is checked against the name of the day asked about.
    assert verify([ShopClaim(code="1234", name="Corner")], D(2024, 1, 1))[0].match is False


def test_the_look_up_is_given_identifiers_never_the_day() -> None:
    ASKED.clear()
    verify([ShopClaim(code="1234", owner="An"), ShopClaim(code="x", owner="An"),
            ShopClaim(code="1234", name="Corner")], D(2020, 1, 1))
    assert ASKED == [["1234"]]


def test_claims_of_an_identifier_alone_are_refused_before_anything_is_asked() -> None:
    ASKED.clear()
    audit = FakeAudit()
    with pytest.raises(EmptyClaim) as refused:
        verify([ShopClaim(code="1234", owner="An"), ShopClaim(code="1234")], audit=audit)
    assert refused.value.extensions == {"code": "EMPTY_CLAIM", "claims": [1]}
    assert "besides code" in refused.value.message and "name, owner" in refused.value.message
    assert ASKED == [] and audit.records == []


def test_a_batch_over_the_limit_is_refused() -> None:
    with pytest.raises(BatchTooLarge) as refused:
        verify([ShopClaim(code="1234", owner="An")] * 3, max_batch=2)
    assert refused.value.extensions == {"code": "BATCH_TOO_LARGE", "limit": 2}


def test_every_answer_is_recorded_with_its_outcome() -> None:
    audit = FakeAudit()
    answers = verify([ShopClaim(code="1234", owner="An"), ShopClaim(code="1234", owner="Bo"),
                      ShopClaim(code="9999", owner="An"), ShopClaim(code="12a4", owner="An")],
                     audit=audit)
    [(client, operation, references, subjects, outcomes)] = audit.records
    assert (client, operation) == (7, "verifyShops")
    assert references == [a.reference for a in answers]
    # A malformed identifier is kept with everything but ASCII digits escaped.
    assert subjects == ["1234", "1234", "9999", "12\\x614"]
    assert outcomes == ["match", "mismatch", "not-found", "invalid"]
    assert answers[3].fields == [FieldMatch(field="code", match=False)]


def test_the_fields_and_their_compiled_entries_come_from_one_helper() -> None:
    made = verification_fields(REGISTRY, claim=ShopClaim, answer=ShopVerification,
                               scope="verify:shop", one="verifyShop", many="verifyShops",
                               one_description="One shop.", many_description="Shops.")

    @strawberry.type
    class Query:
        verify_shop = made.one
        verify_shops = made.many

    sdl = strawberry.Schema(query=Query).as_str()
    assert "verifyShop(claim: ShopClaim!, asOf: Date = null): ShopVerification!" in sdl
    assert "verifyShops(claims: [ShopClaim!]!, asOf: Date = null): [ShopVerification!]!" in sdl
    assert set(made.entries) == {"verifyShop", "verifyShops"}


def test_the_person_look_up_keeps_every_name_version_oldest_first() -> None:
    from graphql_api.resolvers import population

    rows = [("001", "male", D(1980, 5, 1), None, D(2010, 1, 1), "b"),
            ("001", "male", D(1980, 5, 1), None, D(2000, 1, 1), "a"),
            ("002", "female", D(1990, 1, 1), D(2020, 1, 1), None, None)]

    class Connection:
        async def fetch(self, query: str, numbers: list[str]) -> list[Any]:
            assert "$2" not in query, "the look-up is given no day"
            return rows

    known = asyncio.run(population._look_up(cast(Any, Connection()), ["001", "002"]))
    assert known["001"].names == [(D(2000, 1, 1), "a"), (D(2010, 1, 1), "b")]
    assert known["002"].names == [] and known["002"].death_date == D(2020, 1, 1)
    assert version_on(known["001"].names, D(1990, 1, 1)) == "a"
    assert version_on(known["001"].names, D(2010, 1, 1)) == "b"
