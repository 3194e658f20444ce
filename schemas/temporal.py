"""Bitemporal columns: valid time (true in the world) and record time (known to the registry).

A row says "from ``valid_from`` until ``valid_to`` (exclusive) this was true",
as the registry believed from ``recorded_at`` until ``superseded_at``. A change
in the world closes a validity; a correction supersedes a record. Two rows of
one subject whose record periods overlap may never have overlapping validity:
that is an exclusion constraint, built by :func:`no_overlap`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, DateTime, func, text
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from schemas.periods import current_on as current_on
from schemas.periods import in_force as in_force


class Bitemporal:
    """Mixin: valid_from, valid_to, recorded_at, superseded_at."""

    valid_from: Mapped[dt.date] = mapped_column(
        Date, comment="First day this was true in the world."
    )
    valid_to: Mapped[dt.date | None] = mapped_column(
        Date, comment="First day it was no longer true (exclusive); NULL while still true."
    )
    recorded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(),
        comment="When the registry recorded this row.",
    )
    superseded_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True),
        comment="When a later record replaced this one; NULL while it is the registry's "
        "current knowledge.",
    )


# Keys made of digits only (checked by their tables), compared as integers.
DIGIT_KEYS = ("national_id", "enterprise_code", "owner_enterprise_code", "owner_national_id")


def no_overlap(name: str, *subject: str, where: str | None = None) -> ExcludeConstraint:
    """No two rows of one subject overlap in both valid time and record time.

    A personal number or an enterprise code is compared as a bigint: 12- and 10-digit
    strings map one-to-one to integers, and GiST compares integers several times faster
    than text. ``where`` limits the constraint to some rows (the main business line).
    """
    return ExcludeConstraint(
        *((text(f"({column}::bigint)") if column in DIGIT_KEYS else column, "=")
          for column in subject),
        (text("daterange(valid_from, valid_to)"), "&&"),
        (text("tstzrange(recorded_at, superseded_at)"), "&&"),
        name=name,
        using="gist",
        **({"where": text(where)} if where else {}),
    )


def periods_in_order() -> tuple[CheckConstraint, CheckConstraint]:
    return (
        CheckConstraint("valid_to IS NULL OR valid_from < valid_to", name="valid_period"),
        CheckConstraint("superseded_at IS NULL OR recorded_at <= superseded_at",
                        name="record_period"),
    )
