"""The population registry: persons, their names, residences, households, family and events.

Identity facts that do not change (sex, birth) sit on ``person``; facts that
change over a life are bitemporal rows (see ``schemas.temporal``). "Who lived
at this address on 2024-03-01, as the registry knew it on 2024-06-01" is:

    SELECT national_id FROM population.residence
    WHERE unit_id = :commune AND address_line = :address
      AND valid_from <= '2024-03-01' AND coalesce(valid_to, 'infinity') > '2024-03-01'
      AND recorded_at <= '2024-06-01' AND coalesce(superseded_at, 'infinity') > '2024-06-01'
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from loaders.rules.identifiers import PERSONAL_NUMBER
from schemas.base import Base
from schemas.temporal import Bitemporal, no_overlap, periods_in_order

SCHEMA = "population"
PERSON_FK = f"{SCHEMA}.person.national_id"


class Person(Base):
    __tablename__ = "person"
    __table_args__ = (
        CheckConstraint(f"national_id ~ '^{PERSONAL_NUMBER}$'", name="national_id_digits"),
        CheckConstraint("(status = 'deceased') = (death_date IS NOT NULL)", name="status_death"),
        CheckConstraint("death_date IS NULL OR death_date >= birth_date", name="death_after_birth"),
        Index("ix_person_birth_place_unit_id", "birth_place_unit_id"),
        {"schema": SCHEMA, "comment": "A citizen or resident, keyed by the personal "
         "identification number; the facts fixed at birth and the current status."},
    )

    national_id: Mapped[str] = mapped_column(
        String(12), primary_key=True,
        comment="12-digit personal identification number (province, sex/century, birth year, "
        "serial).",
    )
    sex: Mapped[str] = mapped_column(ForeignKey("ref.sex.code"), comment="Sex.")
    birth_date: Mapped[dt.date] = mapped_column(Date, comment="Date of birth.")
    birth_place_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("ref.admin_unit.id"),
        comment="Commune where the birth was registered, as the unit in force on the birth date.",
    )
    nationality: Mapped[str] = mapped_column(
        ForeignKey("ref.country.code"), server_default="VN", comment="Nationality (ISO alpha-2)."
    )
    ethnic_group: Mapped[str | None] = mapped_column(
        ForeignKey("ref.ethnic_group.code"), comment="Ethnic group (statistics office code)."
    )
    status: Mapped[str] = mapped_column(
        ForeignKey("ref.person_status.code"), server_default="alive", comment="Alive or deceased."
    )
    death_date: Mapped[dt.date | None] = mapped_column(Date, comment="Date of death, if deceased.")
    recorded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(),
        comment="When the registry first recorded the person.",
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(),
        comment="When status or death date last changed (the events say why).",
    )
    load_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("etl.load_run.id"), comment="The load that last changed this row."
    )


class PersonName(Bitemporal, Base):
    __tablename__ = "person_name"
    __table_args__ = (
        no_overlap("ex_person_name_period", "national_id"),
        *periods_in_order(),
        Index("ix_person_name_national_id", "national_id"),
        Index("ix_person_name_name_key", "name_key"),
        {"schema": SCHEMA, "comment": "A person's name over time (bitemporal)."},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True, comment="Row key.")
    national_id: Mapped[str] = mapped_column(ForeignKey(PERSON_FK), comment="The person.")
    family_name: Mapped[str] = mapped_column(Text, comment="Family name (họ), NFC.")
    middle_name: Mapped[str | None] = mapped_column(Text, comment="Middle name (tên đệm), NFC.")
    given_name: Mapped[str] = mapped_column(Text, comment="Given name (tên), NFC.")
    full_name: Mapped[str] = mapped_column(Text, comment="Family, middle and given name, NFC.")
    name_key: Mapped[str] = mapped_column(
        Text, comment="Full name folded for comparison (case, spacing, tone-mark placement)."
    )


class Residence(Bitemporal, Base):
    __tablename__ = "residence"
    __table_args__ = (
        no_overlap("ex_residence_period", "national_id", "kind"),
        *periods_in_order(),
        Index("ix_residence_national_id", "national_id"),
        Index("ix_residence_unit_id", "unit_id"),
        {"schema": SCHEMA, "comment": "Permanent and temporary residence over time (bitemporal)."},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True, comment="Row key.")
    national_id: Mapped[str] = mapped_column(ForeignKey(PERSON_FK), comment="The person.")
    kind: Mapped[str] = mapped_column(
        ForeignKey("ref.residence_kind.code"), comment="Permanent or temporary."
    )
    address_line: Mapped[str] = mapped_column(Text, comment="House number, street, hamlet; NFC.")
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("ref.admin_unit.id"), comment="Commune, as the unit in force on valid_from."
    )


class Household(Base):
    __tablename__ = "household"
    __table_args__ = {"schema": SCHEMA, "comment": "Households (hộ gia đình) as registered."}

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True, comment="Row key.")
    household_code: Mapped[str] = mapped_column(
        Text, unique=True, comment="The household's number in the residence register."
    )
    recorded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(),
        comment="When the registry first recorded the household.",
    )


class HouseholdMember(Bitemporal, Base):
    __tablename__ = "household_member"
    __table_args__ = (
        no_overlap("ex_household_member_period", "national_id"),
        *periods_in_order(),
        Index("ix_household_member_household_id", "household_id"),
        Index("ix_household_member_national_id", "national_id"),
        {"schema": SCHEMA, "comment": "Membership of a household over time (bitemporal); a "
         "person belongs to one household at a time."},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True, comment="Row key.")
    household_id: Mapped[int] = mapped_column(
        ForeignKey(f"{SCHEMA}.household.id"), comment="The household."
    )
    national_id: Mapped[str] = mapped_column(ForeignKey(PERSON_FK), comment="The member.")
    relation: Mapped[str] = mapped_column(
        ForeignKey("ref.household_relation.code"), comment="Relation to the head."
    )


class FamilyLink(Bitemporal, Base):
    __tablename__ = "family_link"
    __table_args__ = (
        no_overlap("ex_family_link_period", "national_id", "relation"),
        *periods_in_order(),
        CheckConstraint("national_id <> related_id", name="not_self"),
        Index("ix_family_link_related_id", "related_id"),
        Index("ix_family_link_national_id", "national_id"),
        {"schema": SCHEMA, "comment": "Father, mother and spouse links between persons "
         "(bitemporal); one of each kind at a time."},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True, comment="Row key.")
    national_id: Mapped[str] = mapped_column(ForeignKey(PERSON_FK), comment="The person.")
    relation: Mapped[str] = mapped_column(
        ForeignKey("ref.family_relation.code"), comment="What the related person is to them."
    )
    related_id: Mapped[str] = mapped_column(ForeignKey(PERSON_FK), comment="The related person.")


class LifeEvent(Base):
    __tablename__ = "life_event"
    __table_args__ = (
        UniqueConstraint("national_id", "event_type", "event_date"),
        Index("ix_life_event_event_date", "event_date"),
        {"schema": SCHEMA, "comment": "Births, deaths, marriages, divorces, moves and name "
         "changes, with where, when and on what document."},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True, comment="Row key.")
    national_id: Mapped[str] = mapped_column(ForeignKey(PERSON_FK), comment="The person.")
    event_type: Mapped[str] = mapped_column(
        ForeignKey("ref.life_event_type.code"), comment="Kind of event."
    )
    event_date: Mapped[dt.date] = mapped_column(Date, comment="When it happened.")
    place_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("ref.admin_unit.id"), comment="Where, as the unit in force on the event date."
    )
    related_id: Mapped[str | None] = mapped_column(
        ForeignKey(PERSON_FK), comment="The other person (the spouse of a marriage or divorce)."
    )
    source_document: Mapped[str | None] = mapped_column(
        Text, comment="Reference of the civil-status or residence document."
    )
    recorded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), comment="When it was recorded."
    )
    load_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("etl.load_run.id"), comment="The load that recorded it."
    )
