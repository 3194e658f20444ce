"""Let loads refresh the planner's statistics of the tables they change

``ANALYZE`` needs the table's owner, and loads run as ``mdr_loader``. Without
statistics (after a first load, before autovacuum comes round) the planner takes
a registry table for a few hundred rows and scans it whole for every later
delta; a load that has just written a large share of a table refreshes them
through this function, which runs as the owner and does nothing else.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 17:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""
        CREATE FUNCTION etl.refresh_statistics(target regclass) RETURNS void
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
        BEGIN
            -- Only the registries' tables: those the loader may write.
            IF NOT has_table_privilege('mdr_loader', target, 'INSERT') THEN
                RAISE EXCEPTION 'mdr_loader does not write %', target;
            END IF;
            EXECUTE format('ANALYZE %s', target);
        END $$""")
    op.execute("REVOKE ALL ON FUNCTION etl.refresh_statistics(regclass) FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION etl.refresh_statistics(regclass) TO mdr_loader")


def downgrade() -> None:
    op.execute("DROP FUNCTION etl.refresh_statistics(regclass)")
