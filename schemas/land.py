"""The land registry, after ISO 19152 (LADM): parties, spatial units, RRRs and their sources.

LADM's classes map to tables a land administrator will recognise:

* ``LA_Party`` / ``LA_GroupParty`` / ``LA_PartyMember``: ``party`` and
  ``party_member`` (joint holders, such as spouses, with their shares);
* ``LA_SpatialUnit``: ``parcel`` (its identity: commune, map sheet, parcel
  number) and ``parcel_version`` (geometry, area, land use, address over time);
  splits and merges leave ``parcel_lineage``;
* ``LA_RRR`` (``LA_Right``, ``LA_Restriction``, ``LA_Responsibility``): ``rrr``,
  each with its share, term and ``administrative_source``
  (``LA_AdministrativeSource``: a certificate, contract or decision).

LADM's lifespan (``beginLifespanVersion``/``endLifespanVersion``) is record
time here (``recorded_at``/``superseded_at``), beside valid time
(``valid_from``/``valid_to``); see ``schemas.temporal``. "Who held parcel P on
D" is ``rrr`` where ``current_on('r', D)``.

Holders are persons, groups of persons, organisations and enterprises: an
enterprise holder is a party of kind ``enterprise`` whose ``enterprise_code``
refers to the enterprise registry.
"""

from __future__ import annotations

import datetime as dt
import decimal

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Identity,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loaders.rules.identifiers import PERSONAL_NUMBER
from schemas.base import Base, recorded_at_column
from schemas.constants import RRR_TYPES as RRR_TYPES
from schemas.enterprise import ENTERPRISE_FK
from schemas.population import PERSON_FK
from schemas.temporal import Bitemporal, periods_in_order

SCHEMA = "land"

PARTY_KINDS = ("person", "enterprise", "organisation", "group")
SOURCE_TYPES = {
    "certificate": "Certificate of land-use rights (Giấy chứng nhận), with its serial number",
    "contract": "Contract (transfer, lease, mortgage)",
    "decision": "Decision of an authority (allocation, planning, court)",
}
LINEAGE_KINDS = ("split", "merge")


def period_exclusion(name: str, subject: str) -> ExcludeConstraint:
    """No two rows of one ``subject`` overlap in valid and record time."""
    return ExcludeConstraint(
        (subject, "="),
        (text("daterange(valid_from, valid_to)"), "&&"),
        (text("tstzrange(recorded_at, superseded_at)"), "&&"),
        name=name, using="gist")


class PartyKind(Base):
    __tablename__ = "party_kind"
    __table_args__ = {"schema": SCHEMA, "comment": "LADM LA_PartyType: kinds of party."}

    code: Mapped[str] = mapped_column(String(16), primary_key=True, comment="Kind code.")
    name_en: Mapped[str] = mapped_column(Text, comment="What the kind means.")


class RrrType(Base):
    __tablename__ = "rrr_type"
    __table_args__ = {"schema": SCHEMA, "comment": "LADM LA_RightType / LA_RestrictionType: "
                      "kinds of right, restriction and responsibility."}

    code: Mapped[str] = mapped_column(String(32), primary_key=True, comment="Type code.")
    ladm_class: Mapped[str] = mapped_column(
        Text, comment="right, restriction or responsibility (the LADM class).")
    name: Mapped[str] = mapped_column(Text, comment="Vietnamese name.")
    name_en: Mapped[str] = mapped_column(Text, comment="English name.")


class SourceType(Base):
    __tablename__ = "source_type"
    __table_args__ = {"schema": SCHEMA, "comment": "LADM LA_AdministrativeSourceType: kinds "
                      "of document a right rests on."}

    code: Mapped[str] = mapped_column(String(16), primary_key=True, comment="Type code.")
    name_en: Mapped[str] = mapped_column(Text, comment="What the document is.")


class Party(Base):
    __tablename__ = "party"
    __table_args__ = (
        CheckConstraint(
            "(party_kind = 'person') = (national_id IS NOT NULL) AND "
            "(party_kind = 'enterprise') = (enterprise_code IS NOT NULL) AND "
            "(party_kind IN ('organisation', 'group')) = (name IS NOT NULL)",
            name="identified_by_kind"),
        CheckConstraint(f"national_id ~ '^{PERSONAL_NUMBER}$'", name="national_id_digits"),
        CheckConstraint("enterprise_code ~ '^[0-9]{10}$'", name="enterprise_code_digits"),
        {"schema": SCHEMA, "comment": "LADM LA_Party: who holds rights or is bound by "
         "restrictions: a person, an enterprise, another organisation or a group."},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True, comment="Party id.")
    party_kind: Mapped[str] = mapped_column(
        ForeignKey(f"{SCHEMA}.party_kind.code"), comment="person, enterprise, organisation or "
        "group.")
    national_id: Mapped[str | None] = mapped_column(
        ForeignKey(PERSON_FK), unique=True, comment="The person, for a person party.")
    enterprise_code: Mapped[str | None] = mapped_column(
        String(10), ForeignKey(ENTERPRISE_FK), unique=True,
        comment="The enterprise (10-digit code), for an enterprise party.")
    name: Mapped[str | None] = mapped_column(
        Text, unique=True, comment="Name of an organisation, or the key of a group of joint "
        "holders.")
    recorded_at: Mapped[dt.datetime] = recorded_at_column()


class PartyMember(Base):
    __tablename__ = "party_member"
    __table_args__ = (
        UniqueConstraint("group_id", "member_id"),
        CheckConstraint("share > 0 AND share <= 1", name="share_fraction"),
        CheckConstraint("group_id <> member_id", name="not_self"),
        Index("ix_party_member_member_id", "member_id"),
        {"schema": SCHEMA, "comment": "LADM LA_PartyMember: the members of a group party "
         "(joint holders) and their shares of what the group holds."},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True, comment="Row key.")
    group_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.party.id"), comment="The group.")
    member_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.party.id"),
                                           comment="The member.")
    share: Mapped[decimal.Decimal] = mapped_column(
        Numeric(9, 8), comment="The member's share of the group's holding (0-1].")


class Parcel(Base):
    __tablename__ = "parcel"
    __table_args__ = (
        UniqueConstraint("commune_code", "map_sheet", "parcel_number"),
        {"schema": SCHEMA, "comment": "LADM LA_SpatialUnit: a parcel's identity (commune, map "
         "sheet, parcel number); what it is over time is in parcel_version."},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True,
                                    comment="Parcel id (surrogate).")
    commune_code: Mapped[str] = mapped_column(
        String(8), comment="Code of the commune the parcel was numbered in.")
    map_sheet: Mapped[str] = mapped_column(Text, comment="Cadastral map sheet number (tờ bản đồ).")
    parcel_number: Mapped[str] = mapped_column(Text, comment="Parcel number on the sheet "
                                               "(số thửa).")
    recorded_at: Mapped[dt.datetime] = recorded_at_column(
        "When the registry first recorded the parcel.")


class ParcelVersion(Bitemporal, Base):
    __tablename__ = "parcel_version"
    __table_args__ = (
        period_exclusion("ex_parcel_version_period", "parcel_id"),
        *periods_in_order(),
        CheckConstraint("declared_area_m2 > 0", name="area_positive"),
        Index("ix_parcel_version_parcel_id", "parcel_id"),
        Index("ix_parcel_version_unit_id", "unit_id"),
        {"schema": SCHEMA, "comment": "A parcel's boundary, area, land use and address over "
         "time (bitemporal)."},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True, comment="Row key.")
    parcel_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.parcel.id"),
                                           comment="The parcel.")
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("ref.admin_unit.id"),
        comment="Commune, as the unit in force on valid_from; NULL for a parcel of another "
        "country's cadastre, whose commune code is kept as given.")
    geom: Mapped[str] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True),
        comment="Boundary, EPSG:4326.")
    declared_area_m2: Mapped[decimal.Decimal] = mapped_column(
        Numeric(14, 2), comment="Area on the certificate, square metres.")
    land_use: Mapped[str | None] = mapped_column(
        ForeignKey("ref.land_use_type.code"),
        comment="Land-use type (LUA, ONT, ODT, CLN, ...); NULL when the source does not say.")
    address: Mapped[str | None] = mapped_column(Text, comment="Address or locality, NFC.")
    repaired: Mapped[bool] = mapped_column(
        server_default=text("false"),
        comment="True when the source boundary was invalid and repaired on load (ST_MakeValid).")
    load_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("etl.load_run.id"), comment="The load that recorded this version.")


class ParcelLineage(Base):
    __tablename__ = "parcel_lineage"
    __table_args__ = (
        UniqueConstraint("parent_id", "child_id"),
        CheckConstraint("parent_id <> child_id", name="not_self"),
        Index("ix_parcel_lineage_child_id", "child_id"),
        {"schema": SCHEMA, "comment": "Which parcels a parcel came from: splits (one parent, "
         "several children) and merges (several parents, one child)."},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True, comment="Row key.")
    parent_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.parcel.id"),
                                           comment="The earlier parcel.")
    child_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.parcel.id"),
                                          comment="The parcel it became (part of).")
    change_kind: Mapped[str] = mapped_column(
        Text, CheckConstraint("change_kind IN ('split', 'merge')", name="change_kind"),
        comment="split or merge.")
    effective_date: Mapped[dt.date] = mapped_column(Date, comment="The day the change took "
                                                    "effect.")
    load_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("etl.load_run.id"), comment="The load that recorded it.")


class AdministrativeSource(Base):
    __tablename__ = "administrative_source"
    __table_args__ = (
        UniqueConstraint("source_type", "reference"),
        {"schema": SCHEMA, "comment": "LADM LA_AdministrativeSource: the document a right, "
         "restriction or responsibility rests on."},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True, comment="Row key.")
    source_type: Mapped[str] = mapped_column(
        ForeignKey(f"{SCHEMA}.source_type.code"), comment="certificate, contract or decision.")
    reference: Mapped[str] = mapped_column(
        Text, comment="Serial number of a certificate, or number of a contract or decision.")
    issue_date: Mapped[dt.date | None] = mapped_column(Date, comment="When it was issued.")
    authority: Mapped[str | None] = mapped_column(Text, comment="Who issued it.")
    recorded_at: Mapped[dt.datetime] = recorded_at_column()


class Rrr(Bitemporal, Base):
    __tablename__ = "rrr"
    __table_args__ = (
        period_exclusion("ex_rrr_period", "reference"),
        *periods_in_order(),
        CheckConstraint("share IS NULL OR (share > 0 AND share <= 1)", name="share_fraction"),
        CheckConstraint("(rrr_type = 'mortgage') = (mortgaged_reference IS NOT NULL)",
                        name="mortgage_on_a_right"),
        Index("ix_rrr_parcel_id", "parcel_id"),
        Index("ix_rrr_party_id", "party_id"),
        Index("ix_rrr_reference", "reference"),
        {"schema": SCHEMA, "comment": "LADM LA_RRR: rights, restrictions and responsibilities "
         "on parcels, their holders, shares, terms and sources (bitemporal)."},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True, comment="Row key.")
    reference: Mapped[str] = mapped_column(
        Text, comment="The right's reference, its identity across its versions.")
    rrr_type: Mapped[str] = mapped_column(
        ForeignKey(f"{SCHEMA}.rrr_type.code"), comment="Kind of right or restriction.")
    parcel_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.parcel.id"),
                                           comment="The parcel.")
    party_id: Mapped[int | None] = mapped_column(
        ForeignKey(f"{SCHEMA}.party.id"),
        comment="The holder (for a mortgage, the lender); NULL for a restriction on the land "
        "itself, such as planning.")
    share: Mapped[decimal.Decimal | None] = mapped_column(
        Numeric(9, 8), comment="Share of the parcel held (0-1]; for a mortgage, the share "
        "mortgaged.")
    mortgaged_reference: Mapped[str | None] = mapped_column(
        Text, comment="For a mortgage: the reference of the right it burdens.")
    source_id: Mapped[int] = mapped_column(
        ForeignKey(f"{SCHEMA}.administrative_source.id"), comment="The document it rests on.")
    load_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("etl.load_run.id"), comment="The load that recorded this version.")
