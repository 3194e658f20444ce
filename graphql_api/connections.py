"""The API's connections: SQLAlchemy's, autocommitting, with a snapshot when a resolver
needs one; and the driver's own pool for the hot path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mdr.settings import SettingsError

MOST_PER_POOL = 32
"""Connections a pool keeps at most: as many as the concurrency one worker sees (beyond
a pool's size, connections are opened and closed per use, which under load costs more
than the queries)."""
KEPT_FOR_OTHERS = 20
"""Connections the API leaves free for everything else: loads, quality runs, the
command line, psql, replication."""
LISTENERS = 1
"""Connections each worker holds outside its pools: the key cache's LISTEN."""


CONNECT_TIMEOUT_S = 5
"""The longest opening a connection may take: a database that does not answer makes
requests fail (503), never hang."""


class TooFewConnections(SettingsError):
    """The server's connection limit cannot give every worker its pools; says what to do."""


@dataclass(frozen=True)
class PoolSizes:
    """How many connections each API worker may open to each database."""

    driver: int
    """asyncpg's pool: authentication, verification look-ups, audit records."""
    engine: int
    """SQLAlchemy's pool: the general executor's reads."""
    overflow: int
    """SQLAlchemy's connections beyond its pool, opened per use under bursts."""
    workers: int
    max_connections: int
    reserved: int

    @property
    def per_worker(self) -> int:
        return self.driver + self.engine + self.overflow + LISTENERS

    def describe(self) -> str:
        return (f"API connections per worker and database: {self.driver} asyncpg, "
                f"{self.engine} SQLAlchemy (+{self.overflow} overflow), {LISTENERS} listener; "
                f"{self.workers} worker(s) x {self.per_worker} = "
                f"{self.workers * self.per_worker} of the server's max_connections "
                f"{self.max_connections} ({self.reserved} reserved for superusers, "
                f"{KEPT_FOR_OTHERS} kept for loads and tools)")


def pool_sizes(max_connections: int, reserved: int, workers: int) -> PoolSizes:
    """Pools for ``workers`` processes that together stay within the server's limit,
    leaving its reserved slots and KEPT_FOR_OTHERS free; half to each library, up to
    MOST_PER_POOL a pool."""
    budget = (max_connections - reserved - KEPT_FOR_OTHERS) // max(1, workers) - LISTENERS
    if budget < 2:
        raise TooFewConnections(
            f"The database allows {max_connections} connections ({reserved} reserved for "
            f"superusers, {KEPT_FOR_OTHERS} kept for loads and tools): too few for "
            f"{workers} API worker(s), each needing at least {2 + LISTENERS}. Run fewer "
            "workers (mdr serve --workers, MDR_API_WORKERS) or raise max_connections.")
    driver = min(MOST_PER_POOL, (budget + 1) // 2)
    engine = min(MOST_PER_POOL, max(1, (budget - driver + 1) // 2))
    overflow = min(MOST_PER_POOL, budget - driver - engine)
    return PoolSizes(driver, engine, overflow, workers, max_connections, reserved)


def connection_limit(conn: Connection) -> tuple[int, int]:
    """The server's max_connections, and the slots of it only superusers (and, from
    PostgreSQL 16, roles with pg_use_reserved_connections) may take."""
    row = conn.execute(text(
        "SELECT current_setting('max_connections')::int, "
        "current_setting('superuser_reserved_connections')::int "
        "+ coalesce(current_setting('reserved_connections', true)::int, 0)")).one()
    return int(row[0]), int(row[1])


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
                    self.dsn, min_size=1, max_size=self.size, timeout=CONNECT_TIMEOUT_S,
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
