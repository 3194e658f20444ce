"""API keys: issued once, stored as SHA-256, checked on every request.

Keys are 32 random bytes (URL-safe base64 with an ``mdr_`` prefix); with that much
entropy a fast hash is as safe as a slow one, and keeps authentication cheap on
the verification hot path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

KEY_PREFIX = "mdr_"


class ClientError(ValueError):
    """A client operation that cannot be done as asked; the message says why."""


@dataclass(frozen=True)
class Client:
    """An authenticated caller."""

    id: int
    name: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class ClientListing:
    """A registered client as operators see it: never the key, only its first characters."""

    id: int
    name: str
    key_prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    scopes: list[str]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_client(conn: Connection, name: str, scopes: Sequence[str]) -> str:
    """Register a client with scopes; returns its key (shown once, never stored)."""
    known = set(conn.execute(text("SELECT code FROM ref.api_scope")).scalars())
    unknown = sorted(set(scopes) - known)
    if unknown or not scopes:
        raise ClientError(f"Unknown scope(s) {', '.join(unknown) or '(none given)'}; "
                          f"known scopes: {', '.join(sorted(known))}.")
    if conn.execute(text("SELECT 1 FROM audit.api_client WHERE name = :n"),
                    {"n": name}).first():
        raise ClientError(f"A client named {name!r} exists; revoke it or pick another name.")
    key = new_key()
    client_id = conn.execute(text(
        "INSERT INTO audit.api_client (name, key_prefix, key_hash) VALUES (:n, :p, :h) "
        "RETURNING id"), {"n": name, "p": key[:10], "h": hash_key(key)}).scalar_one()
    conn.execute(text("INSERT INTO audit.api_client_scope (client_id, scope) "
                      "SELECT :id, unnest(CAST(:scopes AS text[]))"),
                 {"id": client_id, "scopes": sorted(set(scopes))})
    return key


def list_clients(conn: Connection) -> list[ClientListing]:
    rows = conn.execute(text("""
        SELECT c.id, c.name, c.key_prefix, c.created_at, c.revoked_at,
               coalesce(array_agg(s.scope ORDER BY s.scope)
                        FILTER (WHERE s.scope IS NOT NULL), '{}') AS scopes
        FROM audit.api_client c LEFT JOIN audit.api_client_scope s ON s.client_id = c.id
        GROUP BY c.id ORDER BY c.name"""))
    return [ClientListing(r.id, r.name, r.key_prefix, r.created_at, r.revoked_at,
                          list(r.scopes)) for r in rows]


def revoke_client(conn: Connection, name: str) -> None:
    done = conn.execute(text("UPDATE audit.api_client SET revoked_at = now() "
                             "WHERE name = :n AND revoked_at IS NULL RETURNING id"),
                        {"n": name}).first()
    if done is None:
        raise ClientError(f"No active client named {name!r}.")


def authenticate(conn: Connection, key: str) -> Client | None:
    """The client holding ``key``, or None for an unknown or revoked key."""
    return client_from_row(conn.execute(AUTHENTICATE, {"h": hash_key(key)}).first())


# The active client holding a key hash, with its scopes (one indexed look-up); written
# once, for SQLAlchemy (the CLI) and for the driver's own placeholders (the server).
_AUTHENTICATE = """
    SELECT c.id, c.name, array_agg(s.scope) FILTER (WHERE s.scope IS NOT NULL)
    FROM audit.api_client c LEFT JOIN audit.api_client_scope s ON s.client_id = c.id
    WHERE c.key_hash = {key_hash} AND c.revoked_at IS NULL
    GROUP BY c.id"""
AUTHENTICATE = text(_AUTHENTICATE.format(key_hash=":h"))
AUTHENTICATE_DRIVER = _AUTHENTICATE.format(key_hash="$1")


def client_from_row(row: Any) -> Client | None:
    if row is None:
        return None
    return Client(int(row[0]), str(row[1]), frozenset(row[2] or ()))


SUBJECT_LENGTH = 64


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def audit_subject(identifier: str) -> str:
    """An identifier as kept in the audit trail: ASCII digits as given, every other
    character escaped (``\\x5c``, ``\\u200b``, ``\\U0001f600``), a mark where it was cut.

    A well-formed number (digits only) is kept as it is; anything else is kept
    so that it cannot pass for a number when it is shown: dropping a NUL would log
    ``00108000\\x000001`` as ``001080000001``, and stored raw, an invisible
    character (``\\u200b``), a direction override (``\\u202e``), a C1 control or
    fullwidth digits display in psql or a spreadsheet as a real person's number,
    an access to someone who was never asked about. The backslash is escaped too,
    so an escaped subject never reads as another one.
    """
    # Each piece is at least one character: the first LENGTH + 1 say whether to cut.
    pieces = [c if "0" <= c <= "9" else _escape(c) for c in identifier[:SUBJECT_LENGTH + 1]]
    if sum(map(len, pieces)) <= SUBJECT_LENGTH:
        return "".join(pieces)
    kept, size = [], 0
    for piece in pieces:  # cut between escapes, never inside one
        if size + len(piece) > SUBJECT_LENGTH - 1:
            break
        kept.append(piece)
        size += len(piece)
    return "".join(kept) + "…"
