"""Declarative base, naming convention and the column helpers the registries share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import DateTime, MetaData, func
from sqlalchemy.orm import DeclarativeBase, MappedColumn, mapped_column

# Constraint names are predictable, so migrations can name what they alter.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The schemas mdr owns; everything else in the database (PostGIS's own tables,
# for instance) is left alone by migrations and autogenerate.
SCHEMAS = ("ref", "population", "enterprise", "land", "macro", "etl", "audit", "analytics")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def recorded_at_column(comment: str = "When the registry recorded this row.") -> MappedColumn[Any]:
    """Record time: set by the database when the row is written."""
    return mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), comment=comment
    )
