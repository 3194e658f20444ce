"""API clients and the audit trail of every verification and read of personal data.

The trail is append-only and its records are the database's word, not the API's:
the ``audit`` schema belongs to ``mdr_audit_owner``, a role nobody logs in as, so
no application role can alter, disable or drop anything in it; ``mdr_api`` reads
records and adds them only through ``audit.record_access(...)``, which stamps the
time from the database clock and accepts active clients only; a trigger refuses
UPDATE, DELETE and TRUNCATE for every role (see migrations 0004 and 0006).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from schemas.base import Base

SCHEMA = "audit"


class ApiClient(Base):
    __tablename__ = "api_client"
    __table_args__ = {"schema": SCHEMA, "comment": "Services allowed to call the API; the key "
                      "itself is never stored, only its SHA-256."}

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True, comment="Client id.")
    name: Mapped[str] = mapped_column(Text, unique=True, comment="Who the client is.")
    key_prefix: Mapped[str] = mapped_column(
        Text, comment="First characters of the key, to recognise it in logs."
    )
    key_hash: Mapped[str] = mapped_column(
        Text, unique=True, comment="SHA-256 (hex) of the full key."
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), comment="When it was registered."
    )
    revoked_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), comment="When its key stopped working; NULL while valid."
    )


class ApiClientScope(Base):
    __tablename__ = "api_client_scope"
    __table_args__ = {"schema": SCHEMA, "comment": "What each client may do."}

    client_id: Mapped[int] = mapped_column(
        ForeignKey(f"{SCHEMA}.api_client.id"), primary_key=True, comment="The client."
    )
    scope: Mapped[str] = mapped_column(
        ForeignKey("ref.api_scope.code"), primary_key=True, comment="A scope it holds."
    )


class AccessRecord(Base):
    __tablename__ = "access_record"
    __table_args__ = (
        Index("ix_access_record_subject_at", "subject", "at"),
        {"schema": SCHEMA, "comment": "One row per verification or read of personal data: "
         "who asked, what about whom, with what outcome, when. Append-only."},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True, comment="Row key.")
    reference: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), unique=True, server_default=text("gen_random_uuid()"),
        comment="The id given to the caller (a verification's reference).",
    )
    client_id: Mapped[int] = mapped_column(
        ForeignKey(f"{SCHEMA}.api_client.id"), comment="The calling client."
    )
    operation: Mapped[str] = mapped_column(Text, comment="GraphQL field, e.g. verifyPerson.")
    subject: Mapped[str] = mapped_column(
        Text, comment="The identifier asked about (personal number, enterprise code)."
    )
    outcome: Mapped[str] = mapped_column(
        Text, comment="match, mismatch, not-found, invalid, read or denied."
    )
    at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), comment="When."
    )
