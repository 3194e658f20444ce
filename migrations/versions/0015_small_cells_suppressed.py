"""Small cells suppressed in the analytics views that count persons

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 20:00:00

A count of 1 to 4 persons in a cell of an aggregate view (a commune's women aged 85+)
can point at someone; such counts are now NULL, the row kept so that analysts see a cell
was hidden rather than read a total as complete. The threshold is
``migrations.analytics_views.SMALL_CELL``. ``population_by_commune`` is the one view that
counts persons; the enterprise and land aggregates count enterprises of the public
register and parcels, each of which other analytics views show row by row anyway.
"""

from collections.abc import Sequence

from migrations.analytics_views import SMALL_CELL, population_by_commune, redefine

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    redefine("population_by_commune", lambda: population_by_commune(SMALL_CELL))


def downgrade() -> None:
    redefine("population_by_commune", lambda: population_by_commune(None))
