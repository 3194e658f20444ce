"""Load runs and the rows they rejected: what a data steward works from."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, REGCLASS
from sqlalchemy.orm import Mapped, mapped_column

from schemas.base import Base

SCHEMA = "etl"
RUN_STATUSES = ("running", "committed", "aborted", "failed")
"""How a load run can stand; the CHECK constraint on ``etl.load_run.status`` is built from it."""


class LoadRun(Base):
    __tablename__ = "load_run"
    __table_args__ = (
        CheckConstraint(
            "status IN ({})".format(", ".join(f"'{s}'" for s in RUN_STATUSES)), name="status"
        ),
        Index("ix_load_run_registry_started_at", "registry", "started_at"),
        {
            "schema": SCHEMA,
            "comment": "One row per load: what was read, what it did to the registry, and how "
            "it ended. Written before the load starts so a killed load leaves its trace.",
        },
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True, comment="Run id.")
    # The attribute is not called "registry": that name belongs to SQLAlchemy's base class.
    registry_name: Mapped[str] = mapped_column(
        "registry", Text, comment="Registry loaded (ref, population, ...)."
    )
    source: Mapped[str] = mapped_column(Text, comment="File or folder the load read.")
    source_sha256: Mapped[str | None] = mapped_column(Text, comment="Digest of the source.")
    profile: Mapped[str | None] = mapped_column(Text, comment="Column-mapping profile used.")
    effective_date: Mapped[dt.date | None] = mapped_column(
        Date, comment="Date the loaded facts take effect, when the load was given one."
    )
    status: Mapped[str] = mapped_column(
        Text, comment="running, committed (applied whole), aborted (rejected by rule, nothing "
        "applied) or failed (stopped by an error or killed, nothing applied)."
    )
    started_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), comment="When the load started."
    )
    finished_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), comment="When it ended; NULL while running."
    )
    read: Mapped[int] = mapped_column(Integer, server_default="0", comment="Rows read.")
    inserted: Mapped[int] = mapped_column(Integer, server_default="0", comment="Rows added.")
    updated: Mapped[int] = mapped_column(Integer, server_default="0", comment="Rows changed.")
    unchanged: Mapped[int] = mapped_column(
        Integer, server_default="0", comment="Rows identical to what the registry held."
    )
    rejected: Mapped[int] = mapped_column(Integer, server_default="0", comment="Rows rejected.")
    rejected_by_reason: Mapped[dict[str, Any]] = mapped_column(
        JSONB, server_default="{}", comment="Rejected rows counted by reason slug."
    )
    seconds: Mapped[float | None] = mapped_column(Double, comment="Wall-clock duration.")
    message: Mapped[str | None] = mapped_column(Text, comment="Why the run aborted or failed.")
    started_by: Mapped[str | None] = mapped_column(
        Text, comment="Who started the load: the operating-system user and host of the "
        "process (the database role is always mdr_loader)."
    )


class RejectedRow(Base):
    __tablename__ = "rejected_row"
    __table_args__ = (
        Index("ix_rejected_row_run_id_row_number", "run_id", "row_number"),
        {
            "schema": SCHEMA,
            "comment": "Rows a load rejected (or flagged), with the reason a steward can act on.",
        },
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True, comment="Row key.")
    run_id: Mapped[int] = mapped_column(
        ForeignKey(f"{SCHEMA}.load_run.id", ondelete="CASCADE"), comment="The load run."
    )
    source: Mapped[str | None] = mapped_column(
        Text, comment="File within the load, when it read several."
    )
    row_number: Mapped[int | None] = mapped_column(
        Integer, comment="Row (1 = first data row) or record position in the source."
    )
    field: Mapped[str | None] = mapped_column(Text, comment="Field the problem is in.")
    value: Mapped[str | None] = mapped_column(Text, comment="The offending value as read.")
    reason: Mapped[str] = mapped_column(
        Text, comment="Stable reason slug (invalid-check-digit, unknown-admin-unit, ...)."
    )
    rejected: Mapped[bool] = mapped_column(
        Boolean, server_default="true",
        comment="True when the row was kept out of the registry; false when it was loaded "
        "but flagged for a steward to check.",
    )
    message: Mapped[str] = mapped_column(Text, comment="What is wrong and how to fix it.")



class QualityRun(Base):
    __tablename__ = "quality_run"
    __table_args__ = (
        CheckConstraint("score >= 0 AND score <= 1", name="score_range"),
        Index("ix_quality_run_registry_started_at", "registry", "started_at"),
        {
            "schema": SCHEMA,
            "comment": "One row per registry per `mdr quality run`: when it ran and how the "
            "registry scored. Written before the checks start, so a run that died leaves a "
            "trace (finished_at NULL).",
        },
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True, comment="Run id.")
    # The attribute is not called "registry": that name belongs to SQLAlchemy's base class.
    registry_name: Mapped[str] = mapped_column(
        "registry", Text, comment="Registry checked (population, enterprise, ...)."
    )
    as_of: Mapped[dt.date] = mapped_column(
        Date, comment="Day the checks took as today (future births, ages, current rows)."
    )
    started_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), comment="When the checks started."
    )
    finished_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), comment="When the results were stored; NULL while running or "
        "when the run died."
    )
    passed: Mapped[int | None] = mapped_column(
        Integer, comment="Expectations met over the whole registry."
    )
    failed: Mapped[int | None] = mapped_column(
        Integer, comment="Expectations not met (or that could not be evaluated)."
    )
    score: Mapped[float | None] = mapped_column(
        Double, comment="passed / (passed + failed), from 0 to 1."
    )
    engine_version: Mapped[str] = mapped_column(
        Text, comment="Great Expectations version that evaluated the suite."
    )
    error: Mapped[str | None] = mapped_column(
        Text, comment="Why the run stopped before storing its results; NULL otherwise."
    )


class QualityResult(Base):
    __tablename__ = "quality_result"
    __table_args__ = (
        UniqueConstraint("run_id", "rule", "province_code", postgresql_nulls_not_distinct=True),
        Index("ix_quality_result_rule_run_id", "rule", "run_id"),
        {
            "schema": SCHEMA,
            "comment": "The outcome of one rule in one quality run, over the whole registry "
            "(province_code NULL) or over one province's rows.",
        },
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True, comment="Row key.")
    run_id: Mapped[int] = mapped_column(
        ForeignKey(f"{SCHEMA}.quality_run.id", ondelete="CASCADE"), comment="The quality run."
    )
    rule: Mapped[str] = mapped_column(
        Text, comment="Stable rule name (national-id-sex-digit, household-one-head, ...)."
    )
    province_code: Mapped[str | None] = mapped_column(
        String(3), comment="Province the result covers (the registry's province key, e.g. the "
        "PPP prefix of the national id); NULL for the whole registry."
    )
    passed: Mapped[bool] = mapped_column(Boolean, comment="True when the expectation was met.")
    unexpected_count: Mapped[int | None] = mapped_column(
        BigInteger, comment="Rows breaking the rule; NULL when the check could not run."
    )
    observed_value: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, comment="Great Expectations' result summary (observed value, element and "
        "unexpected counts, a sample of unexpected values)."
    )
    error: Mapped[str | None] = mapped_column(
        Text, comment="Why the check could not be evaluated (it then counts as failed)."
    )


class PseudonymKey(Base):
    __tablename__ = "pseudonym_key"
    __table_args__ = {
        "schema": SCHEMA,
        "comment": "A fingerprint (an HMAC of a fixed text) of the key the analytics "
        "pseudonyms were made with, so that a refresh with another key is refused instead of "
        "changing every pseudonym; the key itself is never stored.",
    }

    fingerprint: Mapped[str] = mapped_column(
        Text, primary_key=True, comment="HMAC-SHA256 of a fixed text under the key, hex."
    )
    first_used_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(),
        comment="When a refresh first used the key.",
    )


class SetAside(Base):
    __tablename__ = "set_aside"
    __table_args__ = (
        CheckConstraint("kind IN ('i', 'f', 'x')", name="kind_known"),
        {"schema": SCHEMA,
         "comment": "Constraints and indexes a bulk load dropped and must build again before "
         "its transaction commits (empty between loads)."},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True,
                                    comment="Row key.")
    xact: Mapped[int] = mapped_column(
        BigInteger, server_default=text("txid_current()"),
        comment="The transaction that set it aside.")
    target: Mapped[str] = mapped_column(REGCLASS, comment="Its table.")
    name: Mapped[str] = mapped_column(Text, comment="Its name.")
    kind: Mapped[str] = mapped_column(
        String(1), comment="i: a plain index; f: a foreign key; x: an exclusion constraint.")
    definition: Mapped[str] = mapped_column(
        Text, comment="Its definition, as PostgreSQL prints it.")
