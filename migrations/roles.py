"""What the migrations that make database roles share: a role made only when missing (roles
belong to the cluster, so another database may have made it, and none is dropped on
downgrade), and memberships cut so that a role made by hand opens no way in or out."""

from alembic import op

_ATTRIBUTES = "NOSUPERUSER NOCREATEDB NOCREATEROLE"


def ensure_role(role: str, purpose: str, *, login: bool) -> None:
    """Creates ``role`` when missing and records ``purpose`` in its comment; needs the
    administrator."""
    can_login = "LOGIN" if login else "NOLOGIN"
    op.execute(f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
            CREATE ROLE {role} {can_login} {_ATTRIBUTES};
          END IF;
        END $$""")
    op.execute(f"COMMENT ON ROLE {role} IS 'mdr: {purpose}'")


def only_attributes(role: str, *, login: bool) -> None:
    """Takes from ``role``, which may have existed before, every attribute beyond the ones
    mdr gives it."""
    can_login = "LOGIN" if login else "NOLOGIN"
    op.execute(f"ALTER ROLE {role} {can_login} {_ATTRIBUTES} NOREPLICATION NOBYPASSRLS")


_REVOKE_MEMBERSHIPS = """
    DO $$ DECLARE pair record; BEGIN
      FOR pair IN SELECT g.rolname AS granted, r.rolname AS member FROM pg_auth_members m
                  JOIN pg_roles g ON g.oid = m.roleid
                  JOIN pg_roles r ON r.oid = m.member
                  WHERE {which} LOOP
        EXECUTE format('REVOKE %I FROM %I', pair.granted, pair.member);
      END LOOP;
    END $$"""


def without_members(role: str) -> None:
    """No role but a superuser and the administrator running the migration is a member of
    ``role`` (none can act as it)."""
    op.execute(_REVOKE_MEMBERSHIPS.format(
        which=f"g.rolname = '{role}' AND NOT r.rolsuper AND r.rolname <> session_user"))


def member_of_none(role: str) -> None:
    """``role`` is a member of no other role (it holds only what is granted to it)."""
    op.execute(_REVOKE_MEMBERSHIPS.format(which=f"r.rolname = '{role}'"))
