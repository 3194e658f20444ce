"""Macro-economy reads: dataflows, and series by SDMX key as published on a day."""

from __future__ import annotations

import datetime as dt

from graphql import GraphQLError

from graphql_api.context import Context
from graphql_api.pagination import Connection, connection, decode_cursor, page_size
from graphql_api.types.macro import Dataflow, Observation, Series, Vintage
from schemas.macro_queries import (
    DATAFLOWS,
    BadRequest,
    FlowQuery,
    find_dataflow,
    grouped,
    key_pattern,
    observations_as_of,
    period_bounds,
    series_page,
    vintages,
)

MAX_OBSERVATIONS = 100_000
"""Observations one page of series may carry; a larger answer asks for a narrower one."""


async def dataflows(ctx: Context) -> list[Dataflow]:
    return [Dataflow.from_row(r) for r in await ctx.read(DATAFLOWS)]


async def series(ctx: Context, flow: str, key: str | None, as_of: dt.date | None,
                 start_period: str | None, end_period: str | None, first: int,
                 after: str | None) -> Connection[Series]:
    """One page of the series of ``flow`` matching ``key``, each with its observations as
    published on ``as_of`` (latest when None) and its vintages."""
    size = page_size(first)
    start = decode_cursor(after, str)
    try:
        query = FlowQuery.parse(flow)
        pattern = key_pattern(key)
        begin, end = period_bounds(start_period, end_period)
    except BadRequest as exc:
        raise GraphQLError(str(exc), extensions={"code": "BAD_REQUEST"}) from None
    found = await ctx.read(find_dataflow(query))
    if not found:
        return connection([], size, lambda r: r, lambda r: ())
    rows = await ctx.read(series_page(found[0].id, pattern, start[0] if start else None,
                                      size + 1))
    ids = [r.id for r in rows[:size]]
    values = grouped(await ctx.read(observations_as_of(ids, as_of, begin, end,
                                                       MAX_OBSERVATIONS + 1)))
    if sum(len(v) for v in values.values()) > MAX_OBSERVATIONS:
        raise GraphQLError(f"The page would hold more than {MAX_OBSERVATIONS} observations; "
                           "ask for fewer series (first) or periods.",
                           extensions={"code": "TOO_LARGE"})
    releases = grouped(await ctx.read(vintages(ids)))
    return connection(
        rows, size,
        lambda r: Series(key=r.series_key, dimensions=r.dimensions,
                         attributes=r.attributes,
                         observations=[Observation.from_row(o) for o in values.get(r.id, [])],
                         vintages=[Vintage(release_date=v.release_date,
                                           observations=v.observations)
                                   for v in releases.get(r.id, [])]),
        lambda r: (r.series_key,))
