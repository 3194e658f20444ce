"""What every resolver gets: the authenticated client, the databases, the settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.audit_writer import AuditWriter
from graphql_api.auth import Client
from mdr.settings import Settings


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
