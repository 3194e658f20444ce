"""A role that reads the published summaries and nothing else: mdr_summary_reader

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-01 23:30:00

``mdr_analyst`` reads every analytics view, ``analytics.person`` among them: a birth year,
a sex and a commune per pseudonym, from which anyone can count a cell that
``population_by_commune`` suppresses (fewer than ``SMALL_CELL`` persons). Whoever needs
only the aggregates gets ``mdr_summary_reader``: SELECT on the summary views, granted one
by one (no default privileges, so a view added later is not readable until a migration
grants it), and no access to the person-level views, the registries, reference data,
``etl`` or ``audit``.

Like the bootstrap revision, this one runs as the administrator, which creates roles.
Roles belong to the cluster, so the role is created only when missing and is not dropped
on downgrade (another database may use it); the downgrade takes its grants back.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUMMARY_READER = "mdr_summary_reader"
SUMMARIES = ("population_by_commune", "enterprise_by_industry_province",
             "land_use_by_province")
"""The aggregate views: persons counted with small cells suppressed, enterprises and
parcels counted by province."""


def upgrade() -> None:
    op.execute("RESET ROLE")
    op.execute(f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{SUMMARY_READER}') THEN
            CREATE ROLE {SUMMARY_READER} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
          END IF;
        END $$""")
    op.execute(f"COMMENT ON ROLE {SUMMARY_READER} IS "
               "'mdr: reads the summary views of the analytics schema only'")
    # A role that already existed (made by hand, say) must not bring more than this
    # grants: no attributes beyond login, and no membership of another role.
    op.execute(f"ALTER ROLE {SUMMARY_READER} NOSUPERUSER NOCREATEDB NOCREATEROLE "
               "NOREPLICATION NOBYPASSRLS")
    op.execute(f"""
        DO $$ DECLARE granted text; BEGIN
          FOR granted IN SELECT g.rolname FROM pg_auth_members m
                         JOIN pg_roles g ON g.oid = m.roleid
                         JOIN pg_roles r ON r.oid = m.member
                         WHERE r.rolname = '{SUMMARY_READER}' LOOP
            EXECUTE format('REVOKE %I FROM {SUMMARY_READER}', granted);
          END LOOP;
        END $$""")
    op.execute(f"GRANT USAGE ON SCHEMA analytics TO {SUMMARY_READER}")
    for view in SUMMARIES:
        op.execute(f"GRANT SELECT ON analytics.{view} TO {SUMMARY_READER}")
    op.execute("SET LOCAL ROLE mdr_owner")


def downgrade() -> None:
    op.execute("RESET ROLE")
    for view in SUMMARIES:
        op.execute(f"REVOKE ALL ON analytics.{view} FROM {SUMMARY_READER}")
    op.execute(f"REVOKE USAGE ON SCHEMA analytics FROM {SUMMARY_READER}")
    op.execute("SET LOCAL ROLE mdr_owner")
