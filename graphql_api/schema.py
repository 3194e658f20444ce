"""The GraphQL schema: verification (DESIGN.md §7); look-ups grow with each registry."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from graphql import GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.types import Info

from graphql_api.compiled import Resolve
from graphql_api.limits import MaskWithErrorId
from graphql_api.permissions import requires
from graphql_api.resolvers.audit import access_log
from graphql_api.resolvers.person import person
from graphql_api.resolvers.population import BatchTooLarge, verify_batch, verify_one
from graphql_api.types.audit import AccessEntry
from graphql_api.types.population import Person, PersonClaim, PersonVerification


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[requires("verify:person")],
                      description="Check one claim about a person: yes or no per field.")
    async def verify_person(self, info: Info, claim: PersonClaim,
                            as_of: dt.date | None = None) -> PersonVerification:
        return await verify_one(info.context, claim, as_of)

    @strawberry.field(permission_classes=[requires("verify:person")],
                      description="Check a batch of claims with one round trip.")
    async def verify_persons(self, info: Info, claims: list[PersonClaim],
                             as_of: dt.date | None = None) -> list[PersonVerification]:
        try:
            return await verify_batch(info.context, claims, as_of)
        except BatchTooLarge as exc:
            raise GraphQLError(str(exc), extensions={"code": "BATCH_TOO_LARGE"}) from None


    @strawberry.field(permission_classes=[requires("read:person")],
                      description="A person as the registry knows them on a day.")
    async def person(self, info: Info, national_id: str,
                     as_of: dt.date | None = None) -> Person | None:
        return await person(info.context, national_id, as_of)

    @strawberry.field(permission_classes=[requires("audit:read")],
                      description="Who verified or read a person's data, newest first.")
    async def access_log(self, info: Info, national_id: str) -> list[AccessEntry]:
        return await access_log(info.context, national_id)


# Root fields the compiled hot path may answer (graphql_api/compiled.py), with the same
# functions as the fields above; keyword arguments are the fields' Python argument names.
COMPILED_ENTRIES: dict[str, Resolve] = {"verifyPerson": verify_one, "verifyPersons": verify_batch}


def _expected(error: GraphQLError) -> bool:
    """Errors meant for the caller (validation, permissions, limits) stay readable."""
    return error.original_error is None or isinstance(error.original_error, GraphQLError)


def build_schema(dev_mode: bool = False) -> strawberry.Schema:
    """The schema; introspection is refused unless in development mode."""
    extensions: list[Any] = [
        lambda: QueryDepthLimiter(max_depth=10),
        lambda: MaxAliasesLimiter(max_alias_count=20),
        lambda: MaxTokensLimiter(max_token_count=20_000),
        lambda: MaskWithErrorId(should_mask_error=lambda e: not _expected(e)),
    ]
    if not dev_mode:
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    return strawberry.Schema(query=Query, extensions=extensions)
