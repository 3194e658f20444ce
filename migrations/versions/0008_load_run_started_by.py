"""Record who started each load

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "load_run",
        sa.Column("started_by", sa.Text(), nullable=True,
                  comment="Who started the load: the operating-system user and host of the "
                  "process (the database role is always mdr_loader)."),
        schema="etl",
    )


def downgrade() -> None:
    op.drop_column("load_run", "started_by", schema="etl")
