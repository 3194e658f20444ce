"""The access log of a person: what a citizen or a data-protection officer asks for."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from graphql_api.audit import Access, record
from graphql_api.auth import audit_subject
from graphql_api.context import Context
from graphql_api.pagination import (
    Connection,
    bad_cursor,
    connection,
    decode_cursor,
    page_size,
)
from graphql_api.types.audit import AccessEntry

# Newest first; (at, id) is unique and the index on (subject, at) serves the order.
_LOG = text("""
    SELECT r.id, c.name, r.operation, r.outcome, r.at, r.reference
    FROM audit.access_record r JOIN audit.api_client c ON c.id = r.client_id
    WHERE r.subject = :subject
      AND (CAST(:at AS timestamptz) IS NULL OR (r.at, r.id) < (CAST(:at AS timestamptz), :id))
    ORDER BY r.at DESC, r.id DESC
    LIMIT :limit""")


async def access_log(ctx: Context, national_id: str, first: int, after: str | None
                     ) -> Connection[AccessEntry]:
    """A page of the accesses, newest first; reading the log is itself recorded.

    The log is read on the primary, where the records are written, so it is
    never behind.
    """
    size = page_size(first)
    start = decode_cursor(after, str, int)
    try:
        at = dt.datetime.fromisoformat(start[0]) if start else None
    except ValueError:
        raise bad_cursor() from None
    params = {"subject": audit_subject(national_id), "limit": size + 1, "at": at,
              "id": start[1] if start else None}
    async with ctx.writes.connect() as conn:
        rows = list((await conn.execute(_LOG, params)).all())
    await record(ctx, [Access("accessLog", national_id, "read")])
    return connection(rows, size, lambda r: AccessEntry(
        client=r.name, operation=r.operation, outcome=r.outcome, at=r.at,
        reference=str(r.reference)), lambda r: (r.at.isoformat(), r.id))
