"""Announce changes to API clients, so servers can keep authenticated keys in memory

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 13:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Any change to a client or its scopes (a revocation above all) is announced on the
    # channel mdr_api_clients when it commits; each server forgets the keys it knows.
    op.execute("""
        CREATE FUNCTION audit.announce_client_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('mdr_api_clients', '');
            RETURN NULL;
        END $$""")
    for table in ("api_client", "api_client_scope"):
        op.execute(f"""
            CREATE TRIGGER {table}_announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
            ON audit.{table} FOR EACH STATEMENT EXECUTE FUNCTION audit.announce_client_change()""")


def downgrade() -> None:
    for table in ("api_client", "api_client_scope"):
        op.execute(f"DROP TRIGGER {table}_announce ON audit.{table}")
    op.execute("DROP FUNCTION audit.announce_client_change()")
