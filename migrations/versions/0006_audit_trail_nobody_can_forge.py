"""An audit trail nobody can forge: owned by a role nobody logs in as, written through one function

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 14:10:00

Until now ``mdr_owner`` owned the audit tables, so it could disable the trigger
that keeps them append-only (or drop it, or the table) and then delete records;
and ``mdr_api`` inserted records itself, with any client id and any time.
From here on:

* the ``audit`` schema and everything in it belong to ``mdr_audit_owner``, a
  role without LOGIN that no other role is a member of: no application role
  (``mdr_owner`` included) can alter, disable, drop or replace any of it;
* ``mdr_api`` may no longer INSERT into ``audit.access_record``; it calls
  ``audit.record_access(...)``, a SECURITY DEFINER function owned by
  ``mdr_audit_owner``, which takes a batch as arrays (one call per batch), sets
  ``at`` from the database clock and refuses a client id that is not an active
  client.

Like the bootstrap revision, this one runs as the administrator: moving
objects to a role needs membership of it, and ``mdr_owner`` must never have
that. Roles belong to the cluster, so ``mdr_audit_owner`` is created only when
missing and is not dropped on downgrade.
"""

from collections.abc import Sequence

from alembic import op

from migrations.roles import ensure_role, only_attributes, without_members

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUDIT_OWNER = "mdr_audit_owner"
TABLES = ("api_client", "api_client_scope", "access_record")
FUNCTIONS = ("audit.refuse_change()", "audit.announce_client_change()")
RECORD_ACCESS = "audit.record_access(uuid[], integer[], text[], text[], text[])"
OUTCOMES = ("match", "mismatch", "not-found", "invalid", "read", "denied")


def upgrade() -> None:
    op.execute("RESET ROLE")
    ensure_role(AUDIT_OWNER, "owns the audit trail; nobody logs in as it or is a member "
                "of it", login=False)
    # A role that already existed (made by hand, say) must not open a way in: no login,
    # and no member but the administrator running this migration.
    only_attributes(AUDIT_OWNER, login=False)
    without_members(AUDIT_OWNER)

    # Grants given by the old owner pass to the new one; the owner's own rights go with
    # the objects. Identity sequences and indexes follow their tables.
    op.execute(f"ALTER SCHEMA audit OWNER TO {AUDIT_OWNER}")
    for table in TABLES:
        op.execute(f"ALTER TABLE audit.{table} OWNER TO {AUDIT_OWNER}")
    for function in FUNCTIONS:
        op.execute(f"ALTER FUNCTION {function} OWNER TO {AUDIT_OWNER}")
    # Migrations (autogenerate, alembic check) still read the schema's definitions;
    # USAGE lets mdr_owner name its objects, not read, change or create any.
    op.execute("GRANT USAGE ON SCHEMA audit TO mdr_owner")

    outcomes = ", ".join(f"'{o}'" for o in OUTCOMES)
    # One statement on the way that succeeds (the checks are the join and the filter,
    # and the row count tells whether any record was refused); the slow way only
    # finds out why, and the exception undoes the insert.
    op.execute(f"""
        CREATE FUNCTION audit.record_access(
            reference uuid[], client_id integer[], operation text[], subject text[],
            outcome text[]) RETURNS void
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        DECLARE
            -- The clock, not now(): a caller holding a transaction open cannot back-date.
            stamp timestamptz := clock_timestamp();
            written bigint;
            unknown integer;
        BEGIN
            IF reference IS NULL
               OR cardinality(reference) IS DISTINCT FROM cardinality(client_id)
               OR cardinality(reference) IS DISTINCT FROM cardinality(operation)
               OR cardinality(reference) IS DISTINCT FROM cardinality(subject)
               OR cardinality(reference) IS DISTINCT FROM cardinality(outcome) THEN
                RAISE EXCEPTION 'audit.record_access needs arrays of one length, not null'
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            INSERT INTO audit.access_record (reference, client_id, operation, subject, outcome,
                                             at)
            SELECT u.r, u.c, u.o, u.s, u.x, stamp
            FROM unnest(reference, client_id, operation, subject, outcome) AS u(r, c, o, s, x)
            JOIN audit.api_client a ON a.id = u.c AND a.revoked_at IS NULL
            WHERE u.x = ANY (ARRAY[{outcomes}]);
            GET DIAGNOSTICS written = ROW_COUNT;
            IF written = cardinality(reference) THEN
                RETURN;
            END IF;
            SELECT c.id INTO unknown FROM unnest(client_id) AS c(id)
            WHERE c.id IS NULL OR NOT EXISTS (
                SELECT 1 FROM audit.api_client a WHERE a.id = c.id AND a.revoked_at IS NULL)
            LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'no active API client has id %', unknown
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RAISE EXCEPTION 'an audit outcome is one of {", ".join(OUTCOMES)}'
                USING ERRCODE = 'check_violation';
        END $$""")
    op.execute(f"COMMENT ON FUNCTION {RECORD_ACCESS} IS 'The only way to add audit records: "
               "one call per batch (equal arrays); the time comes from the database clock and "
               "the client must be active.'")
    op.execute(f"ALTER FUNCTION {RECORD_ACCESS} OWNER TO {AUDIT_OWNER}")
    op.execute(f"REVOKE ALL ON FUNCTION {RECORD_ACCESS} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {RECORD_ACCESS} TO mdr_api")
    # The API still reads the trail (accessLog) and the clients, and writes neither.
    op.execute("REVOKE INSERT ON audit.access_record FROM mdr_api")
    op.execute("REVOKE ALL ON SEQUENCE audit.access_record_id_seq FROM mdr_api")
    op.execute("SET LOCAL ROLE mdr_owner")


def downgrade() -> None:
    op.execute("RESET ROLE")
    op.execute(f"DROP FUNCTION {RECORD_ACCESS}")
    op.execute("GRANT INSERT ON audit.access_record TO mdr_api")
    op.execute("GRANT USAGE, SELECT ON SEQUENCE audit.access_record_id_seq TO mdr_api")
    for function in FUNCTIONS:
        op.execute(f"ALTER FUNCTION {function} OWNER TO mdr_owner")
    for table in TABLES:
        op.execute(f"ALTER TABLE audit.{table} OWNER TO mdr_owner")
    op.execute("REVOKE USAGE ON SCHEMA audit FROM mdr_owner")
    op.execute("ALTER SCHEMA audit OWNER TO mdr_owner")
    op.execute("SET LOCAL ROLE mdr_owner")
