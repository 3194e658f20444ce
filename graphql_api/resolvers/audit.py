"""The access log of a person: what a citizen or a data-protection officer asks for."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from graphql_api.auth import audit_subject
from graphql_api.context import Context
from graphql_api.types.audit import AccessEntry

MAX_ENTRIES = 1_000

_LOG = text("""
    SELECT c.name, r.operation, r.outcome, r.at, r.reference
    FROM audit.access_record r JOIN audit.api_client c ON c.id = r.client_id
    WHERE r.subject = :subject
    ORDER BY r.at DESC, r.id DESC
    LIMIT :limit""")
_RECORD = text("""
    INSERT INTO audit.access_record (reference, client_id, operation, subject, outcome)
    VALUES (:ref, :client, 'accessLog', :subject, 'read')""")


async def access_log(ctx: Context, national_id: str) -> list[AccessEntry]:
    """The newest accesses first; reading the log is itself recorded (after the read)."""
    subject = audit_subject(national_id)
    async with ctx.writes.begin() as conn:
        rows = (await conn.execute(_LOG, {"subject": subject, "limit": MAX_ENTRIES})).all()
        await conn.execute(_RECORD, {"ref": uuid.uuid4(), "client": ctx.client.id,
                                     "subject": subject})
    return [AccessEntry(client=r[0], operation=r[1], outcome=r[2], at=r[3],
                        reference=str(r[4])) for r in rows]
