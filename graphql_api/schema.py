"""The GraphQL schema: verification (DESIGN.md §7); look-ups grow with each registry."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry
from graphql import ASTValidationRule, GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.types import ExecutionContext, Info
from strawberry.utils.logging import StrawberryLogger

from graphql_api.bounds import BoundedValidationCache, SharedParserCache
from graphql_api.compiled import Resolve
from graphql_api.context import CloseReads
from graphql_api.limits import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_TOKENS,
    MaskWithErrorId,
    bounded,
    statement_timeout,
)
from graphql_api.pagination import DEFAULT_PAGE_SIZE, Connection
from graphql_api.permissions import requires
from graphql_api.resolvers import land, macro, reference
from graphql_api.resolvers.audit import access_log
from graphql_api.resolvers.enterprise import ENTERPRISES, enterprises_of, public_enterprise
from graphql_api.resolvers.enterprise import enterprise as enterprise_on
from graphql_api.resolvers.person import person
from graphql_api.resolvers.population import PERSONS
from graphql_api.suggestions import HideSuggestions, QuietExecutor
from graphql_api.types.audit import AccessEntry
from graphql_api.types.enterprise import Enterprise, EnterpriseRole, PublicEnterprise
from graphql_api.types.land import Parcel
from graphql_api.types.macro import Dataflow, Series
from graphql_api.types.population import Person
from graphql_api.types.reference import AdminUnit, Code, CodeList

Day = Annotated[dt.date | None, strawberry.argument(description="The day; default today.")]
First = Annotated[int, strawberry.argument(description="Page size, at most 500.")]
After = Annotated[str | None, strawberry.argument(
    description="Start after this cursor (pageInfo.endCursor of the previous page).")]

# Distinct query texts whose parse and validation results are kept (LRU).
CACHED_QUERIES = 1_000


@strawberry.type
class Query:
    verify_person = PERSONS.one
    verify_persons = PERSONS.many
    verify_enterprise = ENTERPRISES.one
    verify_enterprises = ENTERPRISES.many

    @strawberry.field(permission_classes=[requires("read:person")],
                      description="A person as the registry knows them on a day.")
    async def person(self, info: Info, national_id: str,
                     as_of: dt.date | None = None) -> Person | None:
        return await person(info.context, national_id, as_of)

    @strawberry.field(permission_classes=[requires("read:enterprise")],
                      description="An enterprise as the registry knows it on a day.")
    async def enterprise(self, info: Info, code: str,
                         as_of: dt.date | None = None) -> Enterprise | None:
        return await enterprise_on(info.context, code, as_of)

    @strawberry.field(permission_classes=[requires("read:enterprise")],
                      description="The roles a person held in enterprises on a day (legal "
                      "representative, owner); the look-up shows in the person's access log.")
    async def enterprises_of(self, info: Info, national_id: str,
                             as_of: dt.date | None = None) -> list[EnterpriseRole]:
        return await enterprises_of(info.context, national_id, as_of)

    @strawberry.field(permission_classes=[requires("read:enterprise-public")],
                      description="What the business register publishes of an enterprise on "
                      "a day: code, name, status, head office, main line.")
    async def public_enterprise(self, info: Info, code: str,
                                as_of: dt.date | None = None) -> PublicEnterprise | None:
        return await public_enterprise(info.context, code, as_of)

    @strawberry.field(permission_classes=[requires("audit:read")],
                      description="Who verified or read a person's data, newest first.")
    async def access_log(self, info: Info, national_id: str, first: First = DEFAULT_PAGE_SIZE,
                         after: After = None) -> Connection[AccessEntry]:
        return await access_log(info.context, national_id, first, after)

    # Land: parcels as of a day. A holder's personal number needs read:person too, and an
    # answer that ties a person to parcels is recorded under that person.

    @strawberry.field(permission_classes=[requires("read:land")],
                      description="The parcels whose boundary covers a point (EPSG:4326) on a "
                      "day: one, or two on a shared edge.")
    async def parcels_at(self, info: Info, lon: float, lat: float,
                         as_of: Day = None) -> list[Parcel]:
        return await land.parcels_at(info.context, lon, lat, as_of)

    @strawberry.field(permission_classes=[requires("read:land")],
                      description="A parcel as it was on a day, with its rights, holders and "
                      "the parcels it came from or went into.")
    async def parcel(self, info: Info, id: strawberry.ID,
                     as_of: Day = None) -> Parcel | None:
        return await land.parcel(info.context, id, as_of)

    @strawberry.field(permission_classes=[requires("read:land")],
                      description="The parcels of a commune on a day, by id, a page at a "
                      "time.")
    async def parcels(self, info: Info, commune: str, as_of: Day = None,
                      first: First = DEFAULT_PAGE_SIZE,
                      after: After = None) -> Connection[Parcel]:
        return await land.parcels_in(info.context, commune, as_of, first, after)

    @strawberry.field(permission_classes=[requires("read:land")],
                      description="The parcels a person holds a right on (alone or jointly) "
                      "on a day. Recorded in the person's access log.")
    async def parcels_of(self, info: Info, holder: str,
                         as_of: Day = None) -> list[Parcel]:
        return await land.parcels_of(info.context, holder, as_of)

    @strawberry.field(permission_classes=[requires("read:macro")],
                      description="The macro-economy registry's dataflows and their "
                      "structures.")
    async def dataflows(self, info: Info) -> list[Dataflow]:
        return await macro.dataflows(info.context)

    @strawberry.field(permission_classes=[requires("read:macro")],
                      description="Series of a dataflow by SDMX key (dot-separated codes, "
                      "empty for any, + for alternatives), each with its observations as "
                      "published on asOf (default: the latest release) and its vintages.")
    async def series(
            self, info: Info, flow: str,
            key: Annotated[str | None, strawberry.argument(
                description="SDMX key, e.g. M.USD.EUR.SP00.A or D..F.; null: all.")] = None,
            as_of: Annotated[dt.date | None, strawberry.argument(
                description="Answer as published on this day.")] = None,
            start_period: str | None = None, end_period: str | None = None,
            first: First = DEFAULT_PAGE_SIZE, after: After = None) -> Connection[Series]:
        return await macro.series(info.context, flow, key, as_of, start_period, end_period,
                                  first, after)

    # Reference data is public: any client with a valid key, no scope needed.

    @strawberry.field(description="Administrative units in force on a day, by level and code.")
    async def admin_units(
            self, info: Info, as_of: Day = None,
            level: Annotated[str | None, strawberry.argument(
                description="province, district or commune.")] = None,
            parent: Annotated[str | None, strawberry.argument(
                description="Only units under the unit with this code (on that day).")] = None,
            first: First = DEFAULT_PAGE_SIZE, after: After = None) -> Connection[AdminUnit]:
        return await reference.admin_units(info.context, as_of or dt.date.today(), level,
                                           parent, first, after)

    @strawberry.field(description="Every version of the unit with a code, oldest first, each "
                      "with what it became (successors) and came from (predecessors).")
    async def successors(self, info: Info, code: str) -> list[AdminUnit]:
        return await reference.versions(info.context, code)

    @strawberry.field(description="The most specific unit in force on a day whose boundary "
                      "covers a point (EPSG:4326); its parent is the unit above.")
    async def unit_at(self, info: Info, lon: float, lat: float,
                      as_of: Day = None) -> AdminUnit | None:
        return await reference.unit_at(info.context, lon, lat, as_of)

    @strawberry.field(description="A code list; with asOf, only the codes in use that day.")
    async def code_list(self, info: Info, name: CodeList, as_of: Day = None) -> list[Code]:
        return await reference.code_list(info.context, name, as_of)


# Root fields the compiled hot path may answer (graphql_api/compiled.py): made by the
# helper that makes the fields (graphql_api/verification.py), so they call the same
# functions with the same argument names.
COMPILED_ENTRIES: dict[str, Resolve] = {**PERSONS.entries, **ENTERPRISES.entries}


def _expected(error: GraphQLError) -> bool:
    """Errors meant for the caller (validation, permissions, limits) stay readable."""
    return error.original_error is None or isinstance(error.original_error, GraphQLError)


class _Schema(strawberry.Schema):
    """Strawberry's schema, whose log of errors leaves out statement timeouts: they are
    the database's limit at work, logged once as a warning where they are answered
    (MaskWithErrorId, or the compiled plan), not as an error with a traceback; and whose
    log keeps at most LOGGED_CHARACTERS of each error's text.

    ``limit_rules`` are the validation rules it adds to graphql-core's (the limits, and
    in production the rules that say less); the compiled path validates with them too."""

    limit_rules: tuple[type[ASTValidationRule], ...] = ()

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        # As strawberry logs them, with the text bounded: graphql-core's text of an error
        # quotes the query's lines around it, and the query can be megabytes long.
        for error in errors:
            if statement_timeout(error.original_error) is None:
                StrawberryLogger.logger.error("%s", bounded(str(error)),
                                              exc_info=error.original_error)


def _validation_rules(dev_mode: bool) -> list[type[ASTValidationRule]]:
    """The limits as validation rules, built once per schema.

    The depth and alias limiters make a new rule class each time they are built; one
    set of classes per schema keeps the rules the same from request to request, which
    is what lets the validation cache recognise a query it has seen.
    """
    rules = [*QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
             *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules]
    if not dev_mode:
        rules += [NoSchemaIntrospectionCustomRule, HideSuggestions]
    return rules


def build_schema(dev_mode: bool = False, caches: bool = True) -> strawberry.Schema:
    """The schema; introspection and "Did you mean" hints only in development mode.

    Parsed documents and validation results are cached (bounded LRU, keyed by the
    query text and the rules, and bounded in the text they keep: graphql_api.bounds),
    so a repeated query is parsed and validated once; ``caches=False`` exists to
    measure what they save (bench/api_caches.py).
    """
    rules = _validation_rules(dev_mode)
    extensions: list[Any] = [
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: AddValidationRules(rules),
        lambda: MaskWithErrorId(should_mask_error=lambda e: not _expected(e)),
        CloseReads,
    ]
    if caches:
        # Parsed documents are shared with the request bounds and the compiled path.
        extensions += [SharedParserCache,
                       lambda: BoundedValidationCache(maxsize=CACHED_QUERIES)]
    schema = _Schema(query=Query, extensions=extensions,
                     execution_context_class=None if dev_mode else QuietExecutor)
    schema.limit_rules = tuple(rules)
    return schema
