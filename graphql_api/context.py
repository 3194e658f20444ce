"""What every resolver gets: the authenticated client, the databases, the settings, loaders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Executable
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from strawberry.extensions import SchemaExtension
from strawberry.types import Info

from graphql_api.audit_writer import AuditWriter
from graphql_api.auth import Client
from graphql_api.connections import DriverPool, snapshot
from mdr.settings import Settings

if TYPE_CHECKING:
    from graphql_api.dataloaders import Loaders


@dataclass(frozen=True)
class Context:
    client: Client
    reads: AsyncEngine
    """Registry reads, as mdr_api (a read replica when MDR_READ_DATABASE_URL is set)."""
    writes: AsyncEngine
    """The primary, as mdr_api: authentication and audit records."""
    lookups: DriverPool
    """The read database through the driver's own pool: the verification look-ups."""
    audit: AuditWriter
    """Audit records, written in bulk with those of concurrent requests."""
    settings: Settings
    _snapshot: _Snapshot = field(default_factory=lambda: _Snapshot(), repr=False)

    async def read(self, statement: Executable, params: dict[str, Any] | None = None
                   ) -> list[Any]:
        """All rows of a registry read, on the read database.

        The reads of one request share one connection and one snapshot, so the
        parts of a person read by different loaders never straddle a load's commit.
        """
        return await self._snapshot.rows(self.reads, statement, params)

    async def close_reads(self) -> None:
        """End the request's snapshot and give its connection back (CloseReads does)."""
        await self._snapshot.close()

    @cached_property
    def loaders(self) -> Loaders:
        """The request's dataloaders: a context lives for one request, so do their caches."""
        from graphql_api.dataloaders import Loaders  # they are built on the context

        return Loaders.for_request(self)


def loaders(info: Info[Context, None]) -> Loaders:
    """The request's dataloaders, for resolvers of nested fields."""
    return info.context.loaders


@dataclass
class _Snapshot:
    """A request's registry reads: one connection, one snapshot, one statement at a time."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    opened: AsyncExitStack | None = None
    conn: AsyncConnection | None = None

    async def rows(self, engine: AsyncEngine, statement: Executable,
                   params: dict[str, Any] | None) -> list[Any]:
        async with self.lock:
            if self.conn is None:
                self.opened = AsyncExitStack()
                self.conn = await self.opened.enter_async_context(snapshot(engine))
            return list((await self.conn.execute(statement, params)).all())

    async def close(self) -> None:
        async with self.lock:
            if self.opened is not None:
                await self.opened.aclose()
            self.opened = self.conn = None


class CloseReads(SchemaExtension):
    """Gives the request's read connection back to the pool once the operation is done."""

    async def on_execute(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            context = self.execution_context.context
            if isinstance(context, Context):
                await context.close_reads()
