"""Enterprise holders of land, and the analytics of the enterprise and land registries

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 18:00:00

Both registries share the database now, so a land party of kind ``enterprise`` refers
to the enterprise registry by a foreign key.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTY_ENTERPRISE = "The enterprise (10-digit code), for an enterprise party."
PARTY_ENTERPRISE_BEFORE = ("The enterprise (10-digit code), for an enterprise party; its "
                           "foreign key to the enterprise registry comes with that registry.")


def enterprise_holders() -> None:
    op.create_foreign_key(op.f("fk_party_enterprise_code_enterprise"), "party", "enterprise",
                          ["enterprise_code"], ["code"], source_schema="land",
                          referent_schema="enterprise")
    op.alter_column("party", "enterprise_code", schema="land", existing_type=sa.String(10),
                    comment=PARTY_ENTERPRISE, existing_comment=PARTY_ENTERPRISE_BEFORE)


def upgrade() -> None:
    enterprise_holders()


def downgrade() -> None:
    op.alter_column("party", "enterprise_code", schema="land", existing_type=sa.String(10),
                    comment=PARTY_ENTERPRISE_BEFORE, existing_comment=PARTY_ENTERPRISE)
    op.drop_constraint(op.f("fk_party_enterprise_code_enterprise"), "party", schema="land",
                       type_="foreignkey")
