"""The enterprise registry: enterprises, their dependent units, and everything that changes.

An enterprise is keyed by its 10-digit code (equal to the tax code, check digit
enforced by the table); its dependent units (branches, representative offices,
business locations) by ``NNNNNNNNNN-NNN``. What is fixed at registration sits
on ``enterprise``; names, legal form, status, head office, capital, business
lines, legal representatives and owners are bitemporal rows (see
``schemas.temporal``). The three questions stewards and services ask most are
plain indexed queries:

    -- who represented enterprise X on 2023-05-10 (ix_legal_representative_enterprise_code)
    SELECT national_id, title FROM enterprise.legal_representative r
    WHERE r.enterprise_code = :x AND <current_on(r, '2023-05-10')>

    -- which enterprises person P represented during 2022 (ix_legal_representative_national_id)
    SELECT enterprise_code FROM enterprise.legal_representative r
    WHERE r.national_id = :p AND r.superseded_at IS NULL
      AND r.valid_from < '2023-01-01' AND coalesce(r.valid_to, 'infinity') > '2022-01-01'

    -- what enterprise E owned on a date (ix_ownership_owner_enterprise_code)
    SELECT enterprise_code, share FROM enterprise.ownership o
    WHERE o.owner_enterprise_code = :e AND <current_on(o, :day)>
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from loaders.rules.identifiers import DEPENDENT_UNIT_CODE, ENTERPRISE_CODE, ENTERPRISE_WEIGHTS
from schemas.base import Base
from schemas.population import PERSON_FK
from schemas.temporal import Bitemporal, no_overlap, periods_in_order

SCHEMA = "enterprise"
ENTERPRISE_FK = f"{SCHEMA}.enterprise.code"


def check_digit_holds(column: str) -> str:
    """SQL: the enterprise code in ``column`` is 10 digits, digits 3-9 not all zero, and its
    check digit holds (the rule of ``loaders.rules.identifiers``, in the database's words).

    CASE keeps the digit arithmetic away from strings that are not 10 digits.
    """
    weighted = " + ".join(f"substr({column}, {i}, 1)::int * {w}"
                          for i, w in enumerate(ENTERPRISE_WEIGHTS, start=1))
    return (f"CASE WHEN {column} ~ '^{ENTERPRISE_CODE}$' AND substr({column}, 3, 7) <> '0000000' "
            f"THEN 10 - mod({weighted}, 11) = substr({column}, 10, 1)::int ELSE false END")


def _enterprise_code(comment: str = "The enterprise.") -> Mapped[str]:
    return mapped_column(String(10), ForeignKey(ENTERPRISE_FK), comment=comment)


def _row_key() -> Mapped[int]:
    return mapped_column(BigInteger, Identity(), primary_key=True, comment="Row key.")


class Enterprise(Base):
    __tablename__ = "enterprise"
    __table_args__ = (
        CheckConstraint(check_digit_holds("code"), name="code_check_digit"),
        {"schema": SCHEMA, "comment": "An enterprise (legal person or registered business), "
         "keyed by its enterprise code; the facts fixed at registration."},
    )

    code: Mapped[str] = mapped_column(
        String(10), primary_key=True,
        comment="10-digit enterprise code, equal to the tax code: province of first "
        "registration, sequence, check digit.",
    )
    founding_date: Mapped[dt.date] = mapped_column(
        Date, comment="Date of first registration (the enterprise exists from this day)."
    )
    recorded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(),
        comment="When the registry first recorded the enterprise.",
    )
    load_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("etl.load_run.id"), comment="The load that first recorded it."
    )


class EnterpriseName(Bitemporal, Base):
    __tablename__ = "enterprise_name"
    __table_args__ = (
        no_overlap("ex_enterprise_name_period", "enterprise_code"),
        *periods_in_order(),
        Index("ix_enterprise_name_enterprise_code", "enterprise_code"),
        Index("ix_enterprise_name_name_key", "name_key"),
        {"schema": SCHEMA, "comment": "An enterprise's names over time (bitemporal)."},
    )

    id: Mapped[int] = _row_key()
    enterprise_code: Mapped[str] = _enterprise_code()
    name: Mapped[str] = mapped_column(Text, comment="Name in Vietnamese, NFC.")
    foreign_name: Mapped[str | None] = mapped_column(
        Text, comment="Name in a foreign language, where registered."
    )
    abbreviation: Mapped[str | None] = mapped_column(
        Text, comment="Abbreviated name, where registered."
    )
    name_key: Mapped[str] = mapped_column(
        Text, comment="Vietnamese name folded for comparison (case, spacing, tone-mark placement)."
    )


class EnterpriseForm(Bitemporal, Base):
    __tablename__ = "enterprise_form"
    __table_args__ = (
        no_overlap("ex_enterprise_form_period", "enterprise_code"),
        *periods_in_order(),
        Index("ix_enterprise_form_enterprise_code", "enterprise_code"),
        {"schema": SCHEMA, "comment": "An enterprise's legal form over time (bitemporal): a "
         "conversion (say, from LLC to joint-stock company) closes one form and opens another."},
    )

    id: Mapped[int] = _row_key()
    enterprise_code: Mapped[str] = _enterprise_code()
    legal_form: Mapped[str] = mapped_column(
        ForeignKey("ref.legal_form.code"), comment="Legal form."
    )


class EnterpriseStatus(Bitemporal, Base):
    __tablename__ = "enterprise_status"
    __table_args__ = (
        no_overlap("ex_enterprise_status_period", "enterprise_code"),
        *periods_in_order(),
        CheckConstraint("(status = 'merged') = (successor_code IS NOT NULL)",
                        name="merged_has_successor"),
        CheckConstraint("successor_code IS NULL OR successor_code <> enterprise_code",
                        name="successor_not_self"),
        Index("ix_enterprise_status_enterprise_code", "enterprise_code"),
        Index("ix_enterprise_status_successor_code", "successor_code"),
        {"schema": SCHEMA, "comment": "An enterprise's status over time (bitemporal): active, "
         "suspended, dissolving, dissolved, bankrupt, merged, split."},
    )

    id: Mapped[int] = _row_key()
    enterprise_code: Mapped[str] = _enterprise_code()
    status: Mapped[str] = mapped_column(
        ForeignKey("ref.enterprise_status.code"), comment="The status."
    )
    successor_code: Mapped[str | None] = _enterprise_code(
        "The enterprise it merged into (status merged only)."
    )


class HeadOffice(Bitemporal, Base):
    __tablename__ = "head_office"
    __table_args__ = (
        no_overlap("ex_head_office_period", "enterprise_code"),
        *periods_in_order(),
        Index("ix_head_office_enterprise_code", "enterprise_code"),
        Index("ix_head_office_unit_id", "unit_id"),
        {"schema": SCHEMA, "comment": "An enterprise's head office over time (bitemporal)."},
    )

    id: Mapped[int] = _row_key()
    enterprise_code: Mapped[str] = _enterprise_code()
    address_line: Mapped[str] = mapped_column(Text, comment="House number, street, hamlet; NFC.")
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("ref.admin_unit.id"), comment="Commune, as the unit in force on valid_from."
    )


class CharterCapital(Bitemporal, Base):
    __tablename__ = "charter_capital"
    __table_args__ = (
        no_overlap("ex_charter_capital_period", "enterprise_code"),
        *periods_in_order(),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        Index("ix_charter_capital_enterprise_code", "enterprise_code"),
        {"schema": SCHEMA, "comment": "An enterprise's registered charter capital over time "
         "(bitemporal)."},
    )

    id: Mapped[int] = _row_key()
    enterprise_code: Mapped[str] = _enterprise_code()
    amount: Mapped[Decimal] = mapped_column(Numeric(20, 2), comment="Amount, in the currency.")
    currency: Mapped[str] = mapped_column(
        ForeignKey("ref.currency.code"), server_default="VND", comment="Currency (ISO 4217)."
    )


class BusinessLine(Bitemporal, Base):
    __tablename__ = "business_line"
    __table_args__ = (
        no_overlap("ex_business_line_period", "enterprise_code", "industry_code"),
        # At most one main line at a time; "at least one" is for the loader and the quality
        # suite, since an enterprise's lines change in one declaration, not row by row.
        no_overlap("ex_business_line_main", "enterprise_code", where="is_main"),
        *periods_in_order(),
        Index("ix_business_line_enterprise_code", "enterprise_code"),
        Index("ix_business_line_industry_code", "industry_code"),
        {"schema": SCHEMA, "comment": "The business lines an enterprise registered "
         "(bitemporal), exactly one of them its main line at any time."},
    )

    id: Mapped[int] = _row_key()
    enterprise_code: Mapped[str] = _enterprise_code()
    industry_code: Mapped[str] = mapped_column(
        ForeignKey("ref.industry.code"), comment="Industry (VSIC, as its ISIC Rev. 4 class)."
    )
    is_main: Mapped[bool] = mapped_column(Boolean, comment="True for the main business line.")


class LegalRepresentative(Bitemporal, Base):
    __tablename__ = "legal_representative"
    __table_args__ = (
        no_overlap("ex_legal_representative_period", "enterprise_code", "national_id"),
        *periods_in_order(),
        Index("ix_legal_representative_enterprise_code", "enterprise_code"),
        Index("ix_legal_representative_national_id", "national_id"),
        {"schema": SCHEMA, "comment": "The persons who represented an enterprise at law, with "
         "their title (bitemporal); an enterprise may have several at once."},
    )

    id: Mapped[int] = _row_key()
    enterprise_code: Mapped[str] = _enterprise_code()
    national_id: Mapped[str] = mapped_column(
        ForeignKey(PERSON_FK), comment="The representative, a person of the population registry."
    )
    title: Mapped[str] = mapped_column(
        ForeignKey("ref.representative_title.code"), comment="Title the role is held under."
    )


class Ownership(Bitemporal, Base):
    __tablename__ = "ownership"
    __table_args__ = (
        no_overlap("ex_ownership_person_period", "enterprise_code", "owner_national_id",
                   where="owner_national_id IS NOT NULL"),
        no_overlap("ex_ownership_enterprise_period", "enterprise_code", "owner_enterprise_code",
                   where="owner_enterprise_code IS NOT NULL"),
        *periods_in_order(),
        CheckConstraint("(owner_national_id IS NULL) <> (owner_enterprise_code IS NULL)",
                        name="one_owner"),
        CheckConstraint("owner_enterprise_code IS NULL OR owner_enterprise_code <> "
                        "enterprise_code", name="not_own_owner"),
        CheckConstraint("share > 0 AND share <= 100", name="share_range"),
        Index("ix_ownership_enterprise_code", "enterprise_code"),
        Index("ix_ownership_owner_national_id", "owner_national_id"),
        Index("ix_ownership_owner_enterprise_code", "owner_enterprise_code"),
        {"schema": SCHEMA, "comment": "Owners, members and shareholders of an enterprise, each "
         "a person or another enterprise, with their share (bitemporal)."},
    )

    id: Mapped[int] = _row_key()
    enterprise_code: Mapped[str] = _enterprise_code("The enterprise owned.")
    owner_national_id: Mapped[str | None] = mapped_column(
        ForeignKey(PERSON_FK), comment="The owner when a person (population registry)."
    )
    owner_enterprise_code: Mapped[str | None] = _enterprise_code(
        "The owner when another enterprise."
    )
    share: Mapped[Decimal] = mapped_column(
        Numeric(7, 4), comment="Share of the charter capital, in percent (0 < share <= 100)."
    )


class DependentUnit(Base):
    __tablename__ = "dependent_unit"
    __table_args__ = (
        CheckConstraint(f"code ~ '^{DEPENDENT_UNIT_CODE}$' AND right(code, 3) <> '000'",
                        name="code_digits"),
        CheckConstraint("left(code, 10) = parent_code", name="code_of_parent"),
        Index("ix_dependent_unit_parent_code", "parent_code"),
        {"schema": SCHEMA, "comment": "Branches, representative offices and business locations "
         "of an enterprise, keyed by the parent's code and a 3-digit suffix."},
    )

    code: Mapped[str] = mapped_column(
        String(14), primary_key=True, comment="Parent's enterprise code, '-', 3 digits (001-999)."
    )
    parent_code: Mapped[str] = _enterprise_code("The enterprise the unit depends on.")
    kind: Mapped[str] = mapped_column(
        ForeignKey("ref.dependent_unit_kind.code"), comment="Branch, office or business location."
    )
    founding_date: Mapped[dt.date] = mapped_column(Date, comment="Date of registration.")
    recorded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(),
        comment="When the registry first recorded the unit.",
    )
    load_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("etl.load_run.id"), comment="The load that first recorded it."
    )


class DependentUnitOffice(Bitemporal, Base):
    __tablename__ = "dependent_unit_office"
    __table_args__ = (
        no_overlap("ex_dependent_unit_office_period", "dependent_unit_code"),
        *periods_in_order(),
        Index("ix_dependent_unit_office_dependent_unit_code", "dependent_unit_code"),
        Index("ix_dependent_unit_office_unit_id", "unit_id"),
        {"schema": SCHEMA, "comment": "A dependent unit's name and address over time "
         "(bitemporal); the unit is open while a row is valid, closed after the last one."},
    )

    id: Mapped[int] = _row_key()
    dependent_unit_code: Mapped[str] = mapped_column(
        ForeignKey(f"{SCHEMA}.dependent_unit.code"), comment="The dependent unit."
    )
    name: Mapped[str] = mapped_column(Text, comment="Name of the unit, NFC.")
    address_line: Mapped[str] = mapped_column(Text, comment="House number, street, hamlet; NFC.")
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("ref.admin_unit.id"), comment="Commune, as the unit in force on valid_from."
    )
