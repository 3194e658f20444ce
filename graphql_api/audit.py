"""Audit records of any mix of operations, through the process's shared AuditWriter."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from graphql_api.audit_writer import new_reference
from graphql_api.auth import audit_subject

if TYPE_CHECKING:
    from graphql_api.context import Context


@dataclass(frozen=True)
class Access:
    """One verification or read of a person's data, about to be recorded."""

    operation: str
    subject: str
    outcome: str
    reference: uuid.UUID = field(default_factory=new_reference)


async def record(ctx: Context, accesses: Sequence[Access]) -> None:
    """Record the calling client's accesses; returns once they are committed.

    The writer takes one operation per call; the calls for each operation are
    queued together, so the writer still commits them with one INSERT.
    """
    by_operation: dict[str, list[Access]] = {}
    for access in accesses:
        by_operation.setdefault(access.operation, []).append(access)
    await asyncio.gather(*(
        ctx.audit.record(ctx.client.id, operation, [a.reference for a in group],
                         [audit_subject(a.subject) for a in group], [a.outcome for a in group])
        for operation, group in by_operation.items()))
