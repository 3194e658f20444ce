"""A role that reads the published summaries and nothing else: mdr_summary_reader

Revision ID: 0018
Revises: 0017
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

from migrations.roles import ensure_role, member_of_none, only_attributes

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUMMARY_READER = "mdr_summary_reader"
SUMMARIES = ("population_by_commune", "enterprise_by_industry_province",
             "land_use_by_province")
"""The aggregate views: persons counted with small cells suppressed, enterprises and
parcels counted by province."""


def upgrade() -> None:
    op.execute("RESET ROLE")
    ensure_role(SUMMARY_READER, "reads the summary views of the analytics schema only",
                login=True)
    # A role that already existed (made by hand, say) must not bring more than this
    # grants: no attribute beyond login, and no membership of another role.
    only_attributes(SUMMARY_READER, login=True)
    member_of_none(SUMMARY_READER)
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
