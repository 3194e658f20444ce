"""The API's connections: SQLAlchemy's, autocommitting, with a snapshot when a resolver
needs one; and the driver's own pool for the hot path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


@asynccontextmanager
async def snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection whose reads all see one snapshot of the registry (the API's
    connections autocommit, so separate statements could straddle a load's commit)."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            yield conn


class DriverPool:
    """asyncpg's own pool, for the statements of the verification hot path
    (authentication, look-ups, audit records). There SQLAlchemy's connection and
    statement handling would cost more than the queries themselves. The pool opens
    on first use, in the event loop that serves the requests, and autocommits."""

    def __init__(self, dsn: str, size: int, server_settings: dict[str, str]) -> None:
        self.dsn, self.size, self.server_settings = dsn, size, server_settings
        self._pool: asyncpg.Pool | None = None
        self._opening: asyncio.Lock | None = None

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[PoolConnectionProxy[asyncpg.Record]]:
        pool = self._pool or await self._open()
        async with pool.acquire() as conn:
            yield conn

    async def _open(self) -> asyncpg.Pool:
        self._opening = self._opening or asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self.dsn, min_size=1, max_size=self.size,
                    server_settings=self.server_settings, reset=_keep_session)
        return self._pool

    async def close(self) -> None:
        pool, self._pool, self._opening = self._pool, None, None
        if pool is not None:
            await pool.close()


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The hot path's statements leave no session state (no SET, LISTEN, locks or open
    transaction), so a connection goes back to the pool as it is, without asyncpg's
    default reset query: one round trip less per use."""
