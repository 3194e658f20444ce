"""The API's connections: autocommitting by default, a snapshot or the driver's own when
a resolver needs one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


@asynccontextmanager
async def snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection whose reads all see one snapshot of the registry (the API's
    connections autocommit, so separate statements could straddle a load's commit)."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            yield conn


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """The driver's own connection, from the engine's pool, autocommitting. The
    verification hot path talks to asyncpg directly: there SQLAlchemy's statement
    handling costs more than the query (about 100 µs a statement)."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert raw.driver_connection is not None
        yield raw.driver_connection
