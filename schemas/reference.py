"""Reference data: administrative units over time, their changes, and code lists."""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from schemas.base import Base, recorded_at_column
from schemas.constants import REORGANISATION_2025 as REORGANISATION_2025

SCHEMA = "ref"


LEVEL_BY_CODE_LENGTH = {2: "province", 3: "district", 5: "commune"}


def level_of(code: str) -> str | None:
    """The tier a unit code belongs to, by its length (2, 3 or 5 digits)."""
    return LEVEL_BY_CODE_LENGTH.get(len(code)) if code.isdigit() else None


class AdminLevel(Base):
    __tablename__ = "admin_level"
    __table_args__ = {"schema": SCHEMA, "comment": "Tiers of the administrative hierarchy."}

    code: Mapped[str] = mapped_column(
        String(16), primary_key=True, comment="province, district or commune."
    )
    rank: Mapped[int] = mapped_column(
        SmallInteger, unique=True, comment="1 for the top tier, growing downwards."
    )
    name: Mapped[str] = mapped_column(Text, comment="Vietnamese name of the tier.")
    name_en: Mapped[str] = mapped_column(Text, comment="English name of the tier.")


class AdminUnitType(Base):
    __tablename__ = "admin_unit_type"
    __table_args__ = {
        "schema": SCHEMA,
        "comment": "Kinds of administrative unit (province, municipality, ward, commune, ...).",
    }

    code: Mapped[str] = mapped_column(String(32), primary_key=True, comment="Stable type code.")
    level: Mapped[str] = mapped_column(
        ForeignKey(f"{SCHEMA}.admin_level.code"), comment="The tier units of this type sit on."
    )
    name: Mapped[str] = mapped_column(Text, comment="Vietnamese name, as used in full names.")
    name_en: Mapped[str] = mapped_column(Text, comment="English name.")


class AdminUnit(Base):
    """One version of an administrative unit: a code with a validity period.

    Codes were re-used by the 2025 reorganisation (province 15 was Yên Bái and
    is now the larger Lào Cai), so a code alone names no unit: a code plus a
    date does. Validity is half-open: ``[valid_from, valid_to)``.
    """

    __tablename__ = "admin_unit"
    __table_args__ = (
        UniqueConstraint("level", "code", "valid_from", postgresql_nulls_not_distinct=True),
        ExcludeConstraint(
            ("level", "="),
            ("code", "="),
            (text("daterange(valid_from, valid_to)"), "&&"),
            name="ex_admin_unit_code_period",
            using="gist",
        ),
        CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_from < valid_to",
                        name="period"),
        Index("ix_admin_unit_parent_id", "parent_id"),
        {
            "schema": SCHEMA,
            "comment": "Administrative units (provinces, districts, communes), one row per "
            "version; a code plus a date identifies a unit.",
        },
    )

    id: Mapped[int] = mapped_column(
        Integer, Identity(), primary_key=True, comment="Surrogate key of this unit version."
    )
    code: Mapped[str] = mapped_column(
        String(8), comment="Official statistics-office code (2 digits province, 3 district, "
        "5 commune)."
    )
    level: Mapped[str] = mapped_column(
        ForeignKey(f"{SCHEMA}.admin_level.code"), comment="Tier of the hierarchy."
    )
    unit_type: Mapped[str] = mapped_column(
        ForeignKey(f"{SCHEMA}.admin_unit_type.code"), comment="Kind of unit."
    )
    name: Mapped[str] = mapped_column(Text, comment="Short Vietnamese name (without the type).")
    full_name: Mapped[str] = mapped_column(Text, comment="Vietnamese name with its type.")
    name_en: Mapped[str | None] = mapped_column(Text, comment="English name, where known.")
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey(f"{SCHEMA}.admin_unit.id"),
        comment="The unit this one belonged to during its validity (NULL for provinces).",
    )
    valid_from: Mapped[dt.date | None] = mapped_column(
        Date, comment="First day in force; NULL when in force since before the records begin."
    )
    valid_to: Mapped[dt.date | None] = mapped_column(
        Date, comment="First day no longer in force (exclusive end); NULL while in force."
    )
    geom: Mapped[str | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True),
        comment="Boundary (EPSG:4326), where published.",
    )
    recorded_at: Mapped[dt.datetime] = recorded_at_column()


class AdminChangeType(Base):
    __tablename__ = "admin_change_type"
    __table_args__ = {"schema": SCHEMA, "comment": "Kinds of change between unit versions."}

    code: Mapped[str] = mapped_column(String(16), primary_key=True, comment="Change code.")
    name_en: Mapped[str] = mapped_column(Text, comment="What the change means.")


class AdminUnitChange(Base):
    """Maps an old unit version to a new one: the crosswalk of a reorganisation."""

    __tablename__ = "admin_unit_change"
    __table_args__ = (
        UniqueConstraint("old_unit_id", "new_unit_id"),
        Index("ix_admin_unit_change_new_unit_id", "new_unit_id"),
        {
            "schema": SCHEMA,
            "comment": "Crosswalk between unit versions (merge, split, rename, re-code) "
            "with the date the change took effect.",
        },
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True, comment="Row key.")
    old_unit_id: Mapped[int] = mapped_column(
        ForeignKey(f"{SCHEMA}.admin_unit.id"), comment="The unit version before the change."
    )
    new_unit_id: Mapped[int] = mapped_column(
        ForeignKey(f"{SCHEMA}.admin_unit.id"), comment="A unit version after the change."
    )
    change_type: Mapped[str] = mapped_column(
        ForeignKey(f"{SCHEMA}.admin_change_type.code"), comment="Kind of change."
    )
    effective_date: Mapped[dt.date] = mapped_column(Date, comment="Day the change took effect.")
    whole_unit: Mapped[bool | None] = mapped_column(
        Boolean,
        comment="True when all of the old unit went into the new one, false when part of "
        "it did, NULL when the sources disagree.",
    )
    stated_by_merges: Mapped[bool] = mapped_column(
        Boolean, comment="The new-to-old (merge) list of the source states this pair."
    )
    stated_by_splits: Mapped[bool] = mapped_column(
        Boolean, comment="The old-to-new (split) list of the source states this pair."
    )
    recorded_at: Mapped[dt.datetime] = recorded_at_column()


class CodeListEntry:
    """Columns every code list shares: a code, names and a validity period."""

    @declared_attr.directive
    def __table_args__(cls) -> dict[str, str]:
        return {"schema": SCHEMA, "comment": cls.__doc__ or ""}

    code: Mapped[str] = mapped_column(String(16), primary_key=True, comment="The code.")
    name: Mapped[str | None] = mapped_column(Text, comment="Vietnamese name, where known.")
    name_en: Mapped[str] = mapped_column(Text, comment="English name.")
    valid_from: Mapped[dt.date | None] = mapped_column(
        Date, comment="First day the code may be used; NULL: since before the records begin."
    )
    valid_to: Mapped[dt.date | None] = mapped_column(
        Date, comment="First day the code may no longer be used; NULL while in use."
    )
    recorded_at: Mapped[dt.datetime] = recorded_at_column()


class Industry(CodeListEntry, Base):
    """Industry classification (ISIC Rev. 4, which VSIC 2018 follows to four levels)."""

    __tablename__ = "industry"

    depth: Mapped[int] = mapped_column(
        SmallInteger, comment="1 section, 2 division, 3 group, 4 class, 5 VSIC sub-class."
    )
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey(f"{SCHEMA}.industry.code"), comment="The enclosing code (NULL for sections)."
    )


class LandUseType(CodeListEntry, Base):
    """Land-use types of the Vietnamese cadastre, grouped under their land categories."""

    __tablename__ = "land_use_type"

    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey(f"{SCHEMA}.land_use_type.code"),
        comment="The land category (NNP, PNN, CSD) this type belongs to.",
    )


class LegalForm(CodeListEntry, Base):
    """Legal forms of enterprises and other registered businesses."""

    __tablename__ = "legal_form"


class EnterpriseStatus(CodeListEntry, Base):
    """Where an enterprise stands: active, suspended, dissolving, dissolved, bankrupt, merged
    into another enterprise, split."""

    __tablename__ = "enterprise_status"

    final: Mapped[bool] = mapped_column(
        Boolean, server_default=text("false"),
        comment="True when the enterprise has ended: after this status nothing about it "
        "changes but its record.",
    )


class DependentUnitKind(CodeListEntry, Base):
    """Kinds of dependent unit of an enterprise (branch, representative office, business
    location)."""

    __tablename__ = "dependent_unit_kind"


class RepresentativeTitle(CodeListEntry, Base):
    """Titles under which a person represents an enterprise at law (director, chair, ...)."""

    __tablename__ = "representative_title"


class EthnicGroup(CodeListEntry, Base):
    """The 54 ethnic groups of Viet Nam, with the statistics office's codes."""

    __tablename__ = "ethnic_group"


class Country(CodeListEntry, Base):
    """Countries and territories (ISO 3166-1; code is alpha-2)."""

    __tablename__ = "country"

    alpha_3: Mapped[str] = mapped_column(String(3), unique=True, comment="ISO 3166-1 alpha-3.")
    numeric: Mapped[str] = mapped_column(String(3), comment="ISO 3166-1 numeric code.")


class Currency(CodeListEntry, Base):
    """Currencies (ISO 4217; code is the alphabetic code)."""

    __tablename__ = "currency"

    numeric: Mapped[str | None] = mapped_column(String(3), comment="ISO 4217 numeric code.")


class Sex(CodeListEntry, Base):
    """Sex as recorded in the population registry."""

    __tablename__ = "sex"


class PersonStatus(CodeListEntry, Base):
    """Whether a person is alive or deceased."""

    __tablename__ = "person_status"


class ResidenceKind(CodeListEntry, Base):
    """Kinds of residence registration (permanent, temporary)."""

    __tablename__ = "residence_kind"


class HouseholdRelation(CodeListEntry, Base):
    """A household member's relation to the head of the household."""

    __tablename__ = "household_relation"


class FamilyRelation(CodeListEntry, Base):
    """Family links the registry keeps between persons (father, mother, spouse)."""

    __tablename__ = "family_relation"


class LifeEventType(CodeListEntry, Base):
    """Kinds of civil-status and residence events."""

    __tablename__ = "life_event_type"


class ApiScope(CodeListEntry, Base):
    """What an API client may be allowed to do (verify:person, read:person, ...)."""

    __tablename__ = "api_scope"

    code: Mapped[str] = mapped_column(String(32), primary_key=True, comment="The scope.")
