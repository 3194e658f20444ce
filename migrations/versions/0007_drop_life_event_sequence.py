"""Drop population.life_event.sequence, which nothing wrote or read

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 14:25:00

The column promised the "order of events of one person on one day" but every
row held its default 0: no source file carries such an order, no loader wrote
it and no query read it. One person has at most one event of a kind on a day
(the unique constraint on person, type and date), events of different kinds on
one day are ordered by what they are (a birth before a death), and the order in
which the registry learnt of them is ``recorded_at`` and ``id``. A column that
is always 0 would only mislead. The downgrade restores it, filled with 0 as it
always was.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_column("life_event", "sequence", schema="population")


def downgrade() -> None:
    op.add_column(
        "life_event",
        sa.Column(
            "sequence",
            sa.Integer(),
            server_default="0",
            nullable=False,
            comment="Order of events of one person on one day.",
        ),
        schema="population",
    )
