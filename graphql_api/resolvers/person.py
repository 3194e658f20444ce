"""`person(nationalId, asOf)`: the record as of a day; nested parts come from dataloaders."""

from __future__ import annotations

import datetime as dt

from graphql_api.context import Context
from graphql_api.types.population import Person, PersonKey


async def person(ctx: Context, national_id: str, as_of: dt.date | None) -> Person | None:
    """The person as of ``as_of`` (default today), or None; the read is audited.

    Through the request's person loader, so aliases of ``person`` in one query
    and the relatives they lead to are read in batches.
    """
    return await ctx.loaders.person.load(PersonKey(national_id, as_of or dt.date.today()))
