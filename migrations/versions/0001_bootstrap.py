"""Bootstrap: extensions, schemas, roles and least-privilege grants.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Runs as the database administrator (it creates extensions and roles), then
hands the rest of the migration to ``mdr_owner``. Roles belong to the whole
PostgreSQL cluster, not to one database, so they are created only when
missing and are not dropped on downgrade (another database may use them).
"""

from collections.abc import Sequence

from alembic import op

from migrations.roles import ensure_role

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXTENSIONS = ("postgis", "btree_gist", "pg_trgm", "unaccent")
REGISTRIES = ("population", "enterprise", "land", "macro")
SCHEMAS = ("ref", *REGISTRIES, "etl", "audit", "analytics")
ROLES = {
    "mdr_owner": "owns the mdr schemas and runs migrations",
    "mdr_loader": "runs loads: writes registries, reference data and etl",
    "mdr_api": "serves the API: reads registries, inserts audit records",
    "mdr_analyst": "reads the analytics schema only",
}


def upgrade() -> None:
    # A re-run after a downgrade may start as mdr_owner; bootstrap needs the admin.
    op.execute("RESET ROLE")
    for ext in EXTENSIONS:
        op.execute(f"CREATE EXTENSION IF NOT EXISTS {ext} WITH SCHEMA public")

    for role, purpose in ROLES.items():
        ensure_role(role, purpose, login=True)

    # Nobody but the owner may create objects in the shared schema.
    op.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    for schema in SCHEMAS:
        op.execute(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION mdr_owner")
        op.execute(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC")

    def grant(schemas: Sequence[str], role: str, tables: str, sequences: str | None) -> None:
        for schema in schemas:
            op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
            op.execute(f"GRANT {tables} ON ALL TABLES IN SCHEMA {schema} TO {role}")
            op.execute(
                f"ALTER DEFAULT PRIVILEGES FOR ROLE mdr_owner IN SCHEMA {schema} "
                f"GRANT {tables} ON TABLES TO {role}"
            )
            if sequences:
                op.execute(f"GRANT {sequences} ON ALL SEQUENCES IN SCHEMA {schema} TO {role}")
                op.execute(
                    f"ALTER DEFAULT PRIVILEGES FOR ROLE mdr_owner IN SCHEMA {schema} "
                    f"GRANT {sequences} ON SEQUENCES TO {role}"
                )

    writable = ("ref", *REGISTRIES, "etl")
    grant(writable, "mdr_loader", "SELECT, INSERT, UPDATE, DELETE", "USAGE, SELECT")
    grant(("ref", *REGISTRIES), "mdr_api", "SELECT", None)
    # Audit is append-only for the API: no UPDATE, DELETE or TRUNCATE, ever.
    grant(("audit",), "mdr_api", "SELECT, INSERT", "USAGE, SELECT")
    grant(("analytics",), "mdr_analyst", "SELECT", None)

    # Migrations from here on run as mdr_owner (see env.py), which must keep
    # the version table up to date.
    op.execute("ALTER TABLE public.alembic_version OWNER TO mdr_owner")
    op.execute("SET LOCAL ROLE mdr_owner")


def downgrade() -> None:
    op.execute("RESET ROLE")
    for schema in reversed(SCHEMAS):
        op.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    op.execute("ALTER TABLE public.alembic_version OWNER TO CURRENT_USER")
    for ext in reversed(EXTENSIONS):
        op.execute(f"DROP EXTENSION IF EXISTS {ext}")
