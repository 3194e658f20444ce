"""A load refreshes only the analytics views that read its registry

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 21:00:00

``etl.refresh_analytics()`` refreshed every materialized view after every load: a land
load re-computed the population's pseudonymised views, which it cannot have changed.
The function now takes the schema of the registry a load changed and refreshes the views
that read one of its tables, directly or through views; without it (``mdr analytics
refresh``), every view, as before.
"""

from collections.abc import Sequence

from alembic import op

from migrations.analytics_views import refresh_function

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DROP FUNCTION etl.refresh_analytics()")
    refresh_function(by_registry=True)


def downgrade() -> None:
    op.execute("DROP FUNCTION etl.refresh_analytics(text)")
    refresh_function(by_registry=False)
