"""Enterprise registry: enterprises, dependent units and their history; three code lists

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 16:32:02.872178

The tables live in the ``enterprise`` schema and the code lists in ``ref``; the
bootstrap revision's default privileges give ``mdr_loader`` read-write and
``mdr_api`` read-only access to both, as for the population registry, and the
analyst role none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dependent_unit_kind",
        sa.Column("code", sa.String(length=16), nullable=False, comment="The code."),
        sa.Column("name", sa.Text(), nullable=True, comment="Vietnamese name, where known."),
        sa.Column("name_en", sa.Text(), nullable=False, comment="English name."),
        sa.Column(
            "valid_from",
            sa.Date(),
            nullable=True,
            comment="First day the code may be used; NULL: since before the records begin.",
        ),
        sa.Column(
            "valid_to",
            sa.Date(),
            nullable=True,
            comment="First day the code may no longer be used; NULL while in use.",
        ),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="When the registry recorded this row.",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_dependent_unit_kind")),
        schema="ref",
        comment="Kinds of dependent unit of an enterprise (branch, representative office, business\n    location).",
    )
    op.create_table(
        "enterprise_status",
        sa.Column(
            "final",
            sa.Boolean(),
            server_default=sa.text("false"),
            nullable=False,
            comment="True when the enterprise has ended: after this status nothing about it changes but its record.",
        ),
        sa.Column("code", sa.String(length=16), nullable=False, comment="The code."),
        sa.Column("name", sa.Text(), nullable=True, comment="Vietnamese name, where known."),
        sa.Column("name_en", sa.Text(), nullable=False, comment="English name."),
        sa.Column(
            "valid_from",
            sa.Date(),
            nullable=True,
            comment="First day the code may be used; NULL: since before the records begin.",
        ),
        sa.Column(
            "valid_to",
            sa.Date(),
            nullable=True,
            comment="First day the code may no longer be used; NULL while in use.",
        ),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="When the registry recorded this row.",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_enterprise_status")),
        schema="ref",
        comment="Where an enterprise stands: active, suspended, dissolving, dissolved, bankrupt, merged\n    into another enterprise, split.",
    )
    op.create_table(
        "representative_title",
        sa.Column("code", sa.String(length=16), nullable=False, comment="The code."),
        sa.Column("name", sa.Text(), nullable=True, comment="Vietnamese name, where known."),
        sa.Column("name_en", sa.Text(), nullable=False, comment="English name."),
        sa.Column(
            "valid_from",
            sa.Date(),
            nullable=True,
            comment="First day the code may be used; NULL: since before the records begin.",
        ),
        sa.Column(
            "valid_to",
            sa.Date(),
            nullable=True,
            comment="First day the code may no longer be used; NULL while in use.",
        ),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="When the registry recorded this row.",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_representative_title")),
        schema="ref",
        comment="Titles under which a person represents an enterprise at law (director, chair, ...).",
    )
    op.create_table(
        "enterprise",
        sa.Column(
            "code",
            sa.String(length=10),
            nullable=False,
            comment="10-digit enterprise code, equal to the tax code: province of first registration, sequence, check digit.",
        ),
        sa.Column(
            "founding_date",
            sa.Date(),
            nullable=False,
            comment="Date of first registration (the enterprise exists from this day).",
        ),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="When the registry first recorded the enterprise.",
        ),
        sa.Column(
            "load_run_id",
            sa.BigInteger(),
            nullable=True,
            comment="The load that first recorded it.",
        ),
        sa.CheckConstraint(
            "CASE WHEN code ~ '^[0-9]{10}$' AND substr(code, 3, 7) <> '0000000' THEN 10 - mod(substr(code, 1, 1)::int * 31 + substr(code, 2, 1)::int * 29 + substr(code, 3, 1)::int * 23 + substr(code, 4, 1)::int * 19 + substr(code, 5, 1)::int * 17 + substr(code, 6, 1)::int * 13 + substr(code, 7, 1)::int * 7 + substr(code, 8, 1)::int * 5 + substr(code, 9, 1)::int * 3, 11) = substr(code, 10, 1)::int ELSE false END",
            name=op.f("ck_enterprise_code_check_digit"),
        ),
        sa.ForeignKeyConstraint(
            ["load_run_id"], ["etl.load_run.id"], name=op.f("fk_enterprise_load_run_id_load_run")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_enterprise")),
        schema="enterprise",
        comment="An enterprise (legal person or registered business), keyed by its enterprise code; the facts fixed at registration.",
    )
    op.create_table(
        "business_line",
        sa.Column(
            "id", sa.BigInteger(), sa.Identity(always=False), nullable=False, comment="Row key."
        ),
        sa.Column(
            "enterprise_code", sa.String(length=10), nullable=False, comment="The enterprise."
        ),
        sa.Column(
            "industry_code",
            sa.String(length=16),
            nullable=False,
            comment="Industry (VSIC, as its ISIC Rev. 4 class).",
        ),
        sa.Column(
            "is_main", sa.Boolean(), nullable=False, comment="True for the main business line."
        ),
        sa.Column(
            "valid_from", sa.Date(), nullable=False, comment="First day this was true in the world."
        ),
        sa.Column(
            "valid_to",
            sa.Date(),
            nullable=True,
            comment="First day it was no longer true (exclusive); NULL while still true.",
        ),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="When the registry recorded this row.",
        ),
        sa.Column(
            "superseded_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a later record replaced this one; NULL while it is the registry's current knowledge.",
        ),
        postgresql.ExcludeConstraint(
            (sa.text("(enterprise_code::bigint)"), "="),
            (sa.column("industry_code"), "="),
            (sa.text("daterange(valid_from, valid_to)"), "&&"),
            (sa.text("tstzrange(recorded_at, superseded_at)"), "&&"),
            using="gist",
            name="ex_business_line_period",
        ),
        postgresql.ExcludeConstraint(
            (sa.text("(enterprise_code::bigint)"), "="),
            (sa.text("daterange(valid_from, valid_to)"), "&&"),
            (sa.text("tstzrange(recorded_at, superseded_at)"), "&&"),
            where=sa.text("is_main"),
            using="gist",
            name="ex_business_line_main",
        ),
        sa.CheckConstraint(
            "superseded_at IS NULL OR recorded_at <= superseded_at",
            name=op.f("ck_business_line_record_period"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from < valid_to", name=op.f("ck_business_line_valid_period")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_code"],
            ["enterprise.enterprise.code"],
            name=op.f("fk_business_line_enterprise_code_enterprise"),
        ),
        sa.ForeignKeyConstraint(
            ["industry_code"],
            ["ref.industry.code"],
            name=op.f("fk_business_line_industry_code_industry"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_line")),
        schema="enterprise",
        comment="The business lines an enterprise registered (bitemporal), exactly one of them its main line at any time.",
    )
    op.create_index(
        "ix_business_line_enterprise_code",
        "business_line",
        ["enterprise_code"],
        unique=False,
        schema="enterprise",
    )
    op.create_index(
        "ix_business_line_industry_code",
        "business_line",
        ["industry_code"],
        unique=False,
        schema="enterprise",
    )
    op.create_table(
        "charter_capital",
        sa.Column(
            "id", sa.BigInteger(), sa.Identity(always=False), nullable=False, comment="Row key."
        ),
        sa.Column(
            "enterprise_code", sa.String(length=10), nullable=False, comment="The enterprise."
        ),
        sa.Column(
            "amount",
            sa.Numeric(precision=20, scale=2),
            nullable=False,
            comment="Amount, in the currency.",
        ),
        sa.Column(
            "currency",
            sa.String(length=16),
            server_default="VND",
            nullable=False,
            comment="Currency (ISO 4217).",
        ),
        sa.Column(
            "valid_from", sa.Date(), nullable=False, comment="First day this was true in the world."
        ),
        sa.Column(
            "valid_to",
            sa.Date(),
            nullable=True,
            comment="First day it was no longer true (exclusive); NULL while still true.",
        ),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="When the registry recorded this row.",
        ),
        sa.Column(
            "superseded_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a later record replaced this one; NULL while it is the registry's current knowledge.",
        ),
        postgresql.ExcludeConstraint(
            (sa.text("(enterprise_code::bigint)"), "="),
            (sa.text("daterange(valid_from, valid_to)"), "&&"),
            (sa.text("tstzrange(recorded_at, superseded_at)"), "&&"),
            using="gist",
            name="ex_charter_capital_period",
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_charter_capital_amount_not_negative")),
        sa.CheckConstraint(
            "superseded_at IS NULL OR recorded_at <= superseded_at",
            name=op.f("ck_charter_capital_record_period"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from < valid_to",
            name=op.f("ck_charter_capital_valid_period"),
        ),
        sa.ForeignKeyConstraint(
            ["currency"], ["ref.currency.code"], name=op.f("fk_charter_capital_currency_currency")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_code"],
            ["enterprise.enterprise.code"],
            name=op.f("fk_charter_capital_enterprise_code_enterprise"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charter_capital")),
        schema="enterprise",
        comment="An enterprise's registered charter capital over time (bitemporal).",
    )
    op.create_index(
        "ix_charter_capital_enterprise_code",
        "charter_capital",
        ["enterprise_code"],
        unique=False,
        schema="enterprise",
    )
    op.create_table(
        "dependent_unit",
        sa.Column(
            "code",
            sa.String(length=14),
            nullable=False,
            comment="Parent's enterprise code, '-', 3 digits (001-999).",
        ),
        sa.Column(
            "parent_code",
            sa.String(length=10),
            nullable=False,
            comment="The enterprise the unit depends on.",
        ),
        sa.Column(
            "kind",
            sa.String(length=16),
            nullable=False,
            comment="Branch, office or business location.",
        ),
        sa.Column("founding_date", sa.Date(), nullable=False, comment="Date of registration."),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="When the registry first recorded the unit.",
        ),
        sa.Column(
            "load_run_id",
            sa.BigInteger(),
            nullable=True,
            comment="The load that first recorded it.",
        ),
        sa.CheckConstraint(
            "code ~ '^[0-9]{10}-[0-9]{3}$' AND right(code, 3) <> '000'",
            name=op.f("ck_dependent_unit_code_digits"),
        ),
        sa.CheckConstraint(
            "left(code, 10) = parent_code", name=op.f("ck_dependent_unit_code_of_parent")
        ),
        sa.ForeignKeyConstraint(
            ["kind"],
            ["ref.dependent_unit_kind.code"],
            name=op.f("fk_dependent_unit_kind_dependent_unit_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["load_run_id"],
            ["etl.load_run.id"],
            name=op.f("fk_dependent_unit_load_run_id_load_run"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["enterprise.enterprise.code"],
            name=op.f("fk_dependent_unit_parent_code_enterprise"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_dependent_unit")),
        schema="enterprise",
        comment="Branches, representative offices and business locations of an enterprise, keyed by the parent's code and a 3-digit suffix.",
    )
    op.create_index(
        "ix_dependent_unit_parent_code",
        "dependent_unit",
        ["parent_code"],
        unique=False,
        schema="enterprise",
    )
    op.create_table(
        "enterprise_form",
        sa.Column(
            "id", sa.BigInteger(), sa.Identity(always=False), nullable=False, comment="Row key."
        ),
        sa.Column(
            "enterprise_code", sa.String(length=10), nullable=False, comment="The enterprise."
        ),
        sa.Column("legal_form", sa.String(length=16), nullable=False, comment="Legal form."),
        sa.Column(
            "valid_from", sa.Date(), nullable=False, comment="First day this was true in the world."
        ),
        sa.Column(
            "valid_to",
            sa.Date(),
            nullable=True,
            comment="First day it was no longer true (exclusive); NULL while still true.",
        ),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="When the registry recorded this row.",
        ),
        sa.Column(
            "superseded_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a later record replaced this one; NULL while it is the registry's current knowledge.",
        ),
        postgresql.ExcludeConstraint(
            (sa.text("(enterprise_code::bigint)"), "="),
            (sa.text("daterange(valid_from, valid_to)"), "&&"),
            (sa.text("tstzrange(recorded_at, superseded_at)"), "&&"),
            using="gist",
            name="ex_enterprise_form_period",
        ),
        sa.CheckConstraint(
            "superseded_at IS NULL OR recorded_at <= superseded_at",
            name=op.f("ck_enterprise_form_record_period"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from < valid_to",
            name=op.f("ck_enterprise_form_valid_period"),
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_code"],
            ["enterprise.enterprise.code"],
            name=op.f("fk_enterprise_form_enterprise_code_enterprise"),
        ),
        sa.ForeignKeyConstraint(
            ["legal_form"],
            ["ref.legal_form.code"],
            name=op.f("fk_enterprise_form_legal_form_legal_form"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise_form")),
        schema="enterprise",
        comment="An enterprise's legal form over time (bitemporal): a conversion (say, from LLC to joint-stock company) closes one form and opens another.",
    )
    op.create_index(
        "ix_enterprise_form_enterprise_code",
        "enterprise_form",
        ["enterprise_code"],
        unique=False,
        schema="enterprise",
    )
    op.create_table(
        "enterprise_name",
        sa.Column(
            "id", sa.BigInteger(), sa.Identity(always=False), nullable=False, comment="Row key."
        ),
        sa.Column(
            "enterprise_code", sa.String(length=10), nullable=False, comment="The enterprise."
        ),
        sa.Column("name", sa.Text(), nullable=False, comment="Name in Vietnamese, NFC."),
        sa.Column(
            "foreign_name",
            sa.Text(),
            nullable=True,
            comment="Name in a foreign language, where registered.",
        ),
        sa.Column(
            "abbreviation", sa.Text(), nullable=True, comment="Abbreviated name, where registered."
        ),
        sa.Column(
            "name_key",
            sa.Text(),
            nullable=False,
            comment="Vietnamese name folded for comparison (case, spacing, tone-mark placement).",
        ),
        sa.Column(
            "valid_from", sa.Date(), nullable=False, comment="First day this was true in the world."
        ),
        sa.Column(
            "valid_to",
            sa.Date(),
            nullable=True,
            comment="First day it was no longer true (exclusive); NULL while still true.",
        ),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="When the registry recorded this row.",
        ),
        sa.Column(
            "superseded_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a later record replaced this one; NULL while it is the registry's current knowledge.",
        ),
        postgresql.ExcludeConstraint(
            (sa.text("(enterprise_code::bigint)"), "="),
            (sa.text("daterange(valid_from, valid_to)"), "&&"),
            (sa.text("tstzrange(recorded_at, superseded_at)"), "&&"),
            using="gist",
            name="ex_enterprise_name_period",
        ),
        sa.CheckConstraint(
            "superseded_at IS NULL OR recorded_at <= superseded_at",
            name=op.f("ck_enterprise_name_record_period"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from < valid_to",
            name=op.f("ck_enterprise_name_valid_period"),
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_code"],
            ["enterprise.enterprise.code"],
            name=op.f("fk_enterprise_name_enterprise_code_enterprise"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise_name")),
        schema="enterprise",
        comment="An enterprise's names over time (bitemporal).",
    )
    op.create_index(
        "ix_enterprise_name_enterprise_code",
        "enterprise_name",
        ["enterprise_code"],
        unique=False,
        schema="enterprise",
    )
    op.create_index(
        "ix_enterprise_name_name_key",
        "enterprise_name",
        ["name_key"],
        unique=False,
        schema="enterprise",
    )
    op.create_table(
        "enterprise_status",
        sa.Column(
            "id", sa.BigInteger(), sa.Identity(always=False), nullable=False, comment="Row key."
        ),
        sa.Column(
            "enterprise_code", sa.String(length=10), nullable=False, comment="The enterprise."
        ),
        sa.Column("status", sa.String(length=16), nullable=False, comment="The status."),
        sa.Column(
            "successor_code",
            sa.String(length=10),
            nullable=True,
            comment="The enterprise it merged into (status merged only).",
        ),
        sa.Column(
            "valid_from", sa.Date(), nullable=False, comment="First day this was true in the world."
        ),
        sa.Column(
            "valid_to",
            sa.Date(),
            nullable=True,
            comment="First day it was no longer true (exclusive); NULL while still true.",
        ),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="When the registry recorded this row.",
        ),
        sa.Column(
            "superseded_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a later record replaced this one; NULL while it is the registry's current knowledge.",
        ),
        postgresql.ExcludeConstraint(
            (sa.text("(enterprise_code::bigint)"), "="),
            (sa.text("daterange(valid_from, valid_to)"), "&&"),
            (sa.text("tstzrange(recorded_at, superseded_at)"), "&&"),
            using="gist",
            name="ex_enterprise_status_period",
        ),
        sa.CheckConstraint(
            "(status = 'merged') = (successor_code IS NOT NULL)",
            name=op.f("ck_enterprise_status_merged_has_successor"),
        ),
        sa.CheckConstraint(
            "successor_code IS NULL OR successor_code <> enterprise_code",
            name=op.f("ck_enterprise_status_successor_not_self"),
        ),
        sa.CheckConstraint(
            "superseded_at IS NULL OR recorded_at <= superseded_at",
            name=op.f("ck_enterprise_status_record_period"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from < valid_to",
            name=op.f("ck_enterprise_status_valid_period"),
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_code"],
            ["enterprise.enterprise.code"],
            name=op.f("fk_enterprise_status_enterprise_code_enterprise"),
        ),
        sa.ForeignKeyConstraint(
            ["status"],
            ["ref.enterprise_status.code"],
            name=op.f("fk_enterprise_status_status_enterprise_status"),
        ),
        sa.ForeignKeyConstraint(
            ["successor_code"],
            ["enterprise.enterprise.code"],
            name=op.f("fk_enterprise_status_successor_code_enterprise"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise_status")),
        schema="enterprise",
        comment="An enterprise's status over time (bitemporal): active, suspended, dissolving, dissolved, bankrupt, merged, split.",
    )
    op.create_index(
        "ix_enterprise_status_enterprise_code",
        "enterprise_status",
        ["enterprise_code"],
        unique=False,
        schema="enterprise",
    )
    op.create_index(
        "ix_enterprise_status_successor_code",
        "enterprise_status",
        ["successor_code"],
        unique=False,
        schema="enterprise",
    )
    op.create_table(
        "dependent_unit_office",
        sa.Column(
            "id", sa.BigInteger(), sa.Identity(always=False), nullable=False, comment="Row key."
        ),
        sa.Column(
            "dependent_unit_code",
            sa.String(length=14),
            nullable=False,
            comment="The dependent unit.",
        ),
        sa.Column("name", sa.Text(), nullable=False, comment="Name of the unit, NFC."),
        sa.Column(
            "address_line", sa.Text(), nullable=False, comment="House number, street, hamlet; NFC."
        ),
        sa.Column(
            "unit_id",
            sa.Integer(),
            nullable=False,
            comment="Commune, as the unit in force on valid_from.",
        ),
        sa.Column(
            "valid_from", sa.Date(), nullable=False, comment="First day this was true in the world."
        ),
        sa.Column(
            "valid_to",
            sa.Date(),
            nullable=True,
            comment="First day it was no longer true (exclusive); NULL while still true.",
        ),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="When the registry recorded this row.",
        ),
        sa.Column(
            "superseded_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a later record replaced this one; NULL while it is the registry's current knowledge.",
        ),
        postgresql.ExcludeConstraint(
            (sa.column("dependent_unit_code"), "="),
            (sa.text("daterange(valid_from, valid_to)"), "&&"),
            (sa.text("tstzrange(recorded_at, superseded_at)"), "&&"),
            using="gist",
            name="ex_dependent_unit_office_period",
        ),
        sa.CheckConstraint(
            "superseded_at IS NULL OR recorded_at <= superseded_at",
            name=op.f("ck_dependent_unit_office_record_period"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from < valid_to",
            name=op.f("ck_dependent_unit_office_valid_period"),
        ),
        sa.ForeignKeyConstraint(
            ["dependent_unit_code"],
            ["enterprise.dependent_unit.code"],
            name=op.f("fk_dependent_unit_office_dependent_unit_code_dependent_unit"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["ref.admin_unit.id"],
            name=op.f("fk_dependent_unit_office_unit_id_admin_unit"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dependent_unit_office")),
        schema="enterprise",
        comment="A dependent unit's name and address over time (bitemporal); the unit is open while a row is valid, closed after the last one.",
    )
    op.create_index(
        "ix_dependent_unit_office_dependent_unit_code",
        "dependent_unit_office",
        ["dependent_unit_code"],
        unique=False,
        schema="enterprise",
    )
    op.create_index(
        "ix_dependent_unit_office_unit_id",
        "dependent_unit_office",
        ["unit_id"],
        unique=False,
        schema="enterprise",
    )
    op.create_table(
        "head_office",
        sa.Column(
            "id", sa.BigInteger(), sa.Identity(always=False), nullable=False, comment="Row key."
        ),
        sa.Column(
            "enterprise_code", sa.String(length=10), nullable=False, comment="The enterprise."
        ),
        sa.Column(
            "address_line", sa.Text(), nullable=False, comment="House number, street, hamlet; NFC."
        ),
        sa.Column(
            "unit_id",
            sa.Integer(),
            nullable=False,
            comment="Commune, as the unit in force on valid_from.",
        ),
        sa.Column(
            "valid_from", sa.Date(), nullable=False, comment="First day this was true in the world."
        ),
        sa.Column(
            "valid_to",
            sa.Date(),
            nullable=True,
            comment="First day it was no longer true (exclusive); NULL while still true.",
        ),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="When the registry recorded this row.",
        ),
        sa.Column(
            "superseded_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a later record replaced this one; NULL while it is the registry's current knowledge.",
        ),
        postgresql.ExcludeConstraint(
            (sa.text("(enterprise_code::bigint)"), "="),
            (sa.text("daterange(valid_from, valid_to)"), "&&"),
            (sa.text("tstzrange(recorded_at, superseded_at)"), "&&"),
            using="gist",
            name="ex_head_office_period",
        ),
        sa.CheckConstraint(
            "superseded_at IS NULL OR recorded_at <= superseded_at",
            name=op.f("ck_head_office_record_period"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from < valid_to", name=op.f("ck_head_office_valid_period")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_code"],
            ["enterprise.enterprise.code"],
            name=op.f("fk_head_office_enterprise_code_enterprise"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["ref.admin_unit.id"], name=op.f("fk_head_office_unit_id_admin_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_head_office")),
        schema="enterprise",
        comment="An enterprise's head office over time (bitemporal).",
    )
    op.create_index(
        "ix_head_office_enterprise_code",
        "head_office",
        ["enterprise_code"],
        unique=False,
        schema="enterprise",
    )
    op.create_index(
        "ix_head_office_unit_id", "head_office", ["unit_id"], unique=False, schema="enterprise"
    )
    op.create_table(
        "legal_representative",
        sa.Column(
            "id", sa.BigInteger(), sa.Identity(always=False), nullable=False, comment="Row key."
        ),
        sa.Column(
            "enterprise_code", sa.String(length=10), nullable=False, comment="The enterprise."
        ),
        sa.Column(
            "national_id",
            sa.String(length=12),
            nullable=False,
            comment="The representative, a person of the population registry.",
        ),
        sa.Column(
            "title", sa.String(length=16), nullable=False, comment="Title the role is held under."
        ),
        sa.Column(
            "valid_from", sa.Date(), nullable=False, comment="First day this was true in the world."
        ),
        sa.Column(
            "valid_to",
            sa.Date(),
            nullable=True,
            comment="First day it was no longer true (exclusive); NULL while still true.",
        ),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="When the registry recorded this row.",
        ),
        sa.Column(
            "superseded_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a later record replaced this one; NULL while it is the registry's current knowledge.",
        ),
        postgresql.ExcludeConstraint(
            (sa.text("(enterprise_code::bigint)"), "="),
            (sa.text("(national_id::bigint)"), "="),
            (sa.text("daterange(valid_from, valid_to)"), "&&"),
            (sa.text("tstzrange(recorded_at, superseded_at)"), "&&"),
            using="gist",
            name="ex_legal_representative_period",
        ),
        sa.CheckConstraint(
            "superseded_at IS NULL OR recorded_at <= superseded_at",
            name=op.f("ck_legal_representative_record_period"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from < valid_to",
            name=op.f("ck_legal_representative_valid_period"),
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_code"],
            ["enterprise.enterprise.code"],
            name=op.f("fk_legal_representative_enterprise_code_enterprise"),
        ),
        sa.ForeignKeyConstraint(
            ["national_id"],
            ["population.person.national_id"],
            name=op.f("fk_legal_representative_national_id_person"),
        ),
        sa.ForeignKeyConstraint(
            ["title"],
            ["ref.representative_title.code"],
            name=op.f("fk_legal_representative_title_representative_title"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_representative")),
        schema="enterprise",
        comment="The persons who represented an enterprise at law, with their title (bitemporal); an enterprise may have several at once.",
    )
    op.create_index(
        "ix_legal_representative_enterprise_code",
        "legal_representative",
        ["enterprise_code"],
        unique=False,
        schema="enterprise",
    )
    op.create_index(
        "ix_legal_representative_national_id",
        "legal_representative",
        ["national_id"],
        unique=False,
        schema="enterprise",
    )
    op.create_table(
        "ownership",
        sa.Column(
            "id", sa.BigInteger(), sa.Identity(always=False), nullable=False, comment="Row key."
        ),
        sa.Column(
            "enterprise_code", sa.String(length=10), nullable=False, comment="The enterprise owned."
        ),
        sa.Column(
            "owner_national_id",
            sa.String(length=12),
            nullable=True,
            comment="The owner when a person (population registry).",
        ),
        sa.Column(
            "owner_enterprise_code",
            sa.String(length=10),
            nullable=True,
            comment="The owner when another enterprise.",
        ),
        sa.Column(
            "share",
            sa.Numeric(precision=7, scale=4),
            nullable=False,
            comment="Share of the charter capital, in percent (0 < share <= 100).",
        ),
        sa.Column(
            "valid_from", sa.Date(), nullable=False, comment="First day this was true in the world."
        ),
        sa.Column(
            "valid_to",
            sa.Date(),
            nullable=True,
            comment="First day it was no longer true (exclusive); NULL while still true.",
        ),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="When the registry recorded this row.",
        ),
        sa.Column(
            "superseded_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When a later record replaced this one; NULL while it is the registry's current knowledge.",
        ),
        postgresql.ExcludeConstraint(
            (sa.text("(enterprise_code::bigint)"), "="),
            (sa.text("(owner_enterprise_code::bigint)"), "="),
            (sa.text("daterange(valid_from, valid_to)"), "&&"),
            (sa.text("tstzrange(recorded_at, superseded_at)"), "&&"),
            where=sa.text("owner_enterprise_code IS NOT NULL"),
            using="gist",
            name="ex_ownership_enterprise_period",
        ),
        postgresql.ExcludeConstraint(
            (sa.text("(enterprise_code::bigint)"), "="),
            (sa.text("(owner_national_id::bigint)"), "="),
            (sa.text("daterange(valid_from, valid_to)"), "&&"),
            (sa.text("tstzrange(recorded_at, superseded_at)"), "&&"),
            where=sa.text("owner_national_id IS NOT NULL"),
            using="gist",
            name="ex_ownership_person_period",
        ),
        sa.CheckConstraint(
            "(owner_national_id IS NULL) <> (owner_enterprise_code IS NULL)",
            name=op.f("ck_ownership_one_owner"),
        ),
        sa.CheckConstraint(
            "owner_enterprise_code IS NULL OR owner_enterprise_code <> enterprise_code",
            name=op.f("ck_ownership_not_own_owner"),
        ),
        sa.CheckConstraint("share > 0 AND share <= 100", name=op.f("ck_ownership_share_range")),
        sa.CheckConstraint(
            "superseded_at IS NULL OR recorded_at <= superseded_at",
            name=op.f("ck_ownership_record_period"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from < valid_to", name=op.f("ck_ownership_valid_period")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_code"],
            ["enterprise.enterprise.code"],
            name=op.f("fk_ownership_enterprise_code_enterprise"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_enterprise_code"],
            ["enterprise.enterprise.code"],
            name=op.f("fk_ownership_owner_enterprise_code_enterprise"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_national_id"],
            ["population.person.national_id"],
            name=op.f("fk_ownership_owner_national_id_person"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ownership")),
        schema="enterprise",
        comment="Owners, members and shareholders of an enterprise, each a person or another enterprise, with their share (bitemporal).",
    )
    op.create_index(
        "ix_ownership_enterprise_code",
        "ownership",
        ["enterprise_code"],
        unique=False,
        schema="enterprise",
    )
    op.create_index(
        "ix_ownership_owner_enterprise_code",
        "ownership",
        ["owner_enterprise_code"],
        unique=False,
        schema="enterprise",
    )
    op.create_index(
        "ix_ownership_owner_national_id",
        "ownership",
        ["owner_national_id"],
        unique=False,
        schema="enterprise",
    )


def downgrade() -> None:
    op.drop_index("ix_ownership_owner_national_id", table_name="ownership", schema="enterprise")
    op.drop_index("ix_ownership_owner_enterprise_code", table_name="ownership", schema="enterprise")
    op.drop_index("ix_ownership_enterprise_code", table_name="ownership", schema="enterprise")
    op.drop_table("ownership", schema="enterprise")
    op.drop_index(
        "ix_legal_representative_national_id",
        table_name="legal_representative",
        schema="enterprise",
    )
    op.drop_index(
        "ix_legal_representative_enterprise_code",
        table_name="legal_representative",
        schema="enterprise",
    )
    op.drop_table("legal_representative", schema="enterprise")
    op.drop_index("ix_head_office_unit_id", table_name="head_office", schema="enterprise")
    op.drop_index("ix_head_office_enterprise_code", table_name="head_office", schema="enterprise")
    op.drop_table("head_office", schema="enterprise")
    op.drop_index(
        "ix_dependent_unit_office_unit_id", table_name="dependent_unit_office", schema="enterprise"
    )
    op.drop_index(
        "ix_dependent_unit_office_dependent_unit_code",
        table_name="dependent_unit_office",
        schema="enterprise",
    )
    op.drop_table("dependent_unit_office", schema="enterprise")
    op.drop_index(
        "ix_enterprise_status_successor_code", table_name="enterprise_status", schema="enterprise"
    )
    op.drop_index(
        "ix_enterprise_status_enterprise_code", table_name="enterprise_status", schema="enterprise"
    )
    op.drop_table("enterprise_status", schema="enterprise")
    op.drop_index("ix_enterprise_name_name_key", table_name="enterprise_name", schema="enterprise")
    op.drop_index(
        "ix_enterprise_name_enterprise_code", table_name="enterprise_name", schema="enterprise"
    )
    op.drop_table("enterprise_name", schema="enterprise")
    op.drop_index(
        "ix_enterprise_form_enterprise_code", table_name="enterprise_form", schema="enterprise"
    )
    op.drop_table("enterprise_form", schema="enterprise")
    op.drop_index("ix_dependent_unit_parent_code", table_name="dependent_unit", schema="enterprise")
    op.drop_table("dependent_unit", schema="enterprise")
    op.drop_index(
        "ix_charter_capital_enterprise_code", table_name="charter_capital", schema="enterprise"
    )
    op.drop_table("charter_capital", schema="enterprise")
    op.drop_index("ix_business_line_industry_code", table_name="business_line", schema="enterprise")
    op.drop_index(
        "ix_business_line_enterprise_code", table_name="business_line", schema="enterprise"
    )
    op.drop_table("business_line", schema="enterprise")
    op.drop_table("enterprise", schema="enterprise")
    op.drop_table("representative_title", schema="ref")
    op.drop_table("enterprise_status", schema="ref")
    op.drop_table("dependent_unit_kind", schema="ref")
