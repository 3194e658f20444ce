"""What every resolver gets: the authenticated client, the databases, the settings, loaders."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Executable
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.types import Info

from graphql_api.audit_writer import AuditWriter
from graphql_api.auth import Client
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
    audit: AuditWriter
    """Audit records, written in bulk with those of concurrent requests."""
    settings: Settings

    async def read(self, statement: Executable, params: dict[str, Any] | None = None
                   ) -> list[Any]:
        """All rows of a registry read, on the read database."""
        async with self.reads.connect() as conn:
            return list((await conn.execute(statement, params)).all())

    @cached_property
    def loaders(self) -> Loaders:
        """The request's dataloaders: a context lives for one request, so do their caches."""
        from graphql_api.dataloaders import Loaders  # they are built on the context

        return Loaders.for_request(self)


def loaders(info: Info[Context, None]) -> Loaders:
    """The request's dataloaders, for resolvers of nested fields."""
    return info.context.loaders
