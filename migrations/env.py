"""Alembic environment: one transaction, bounded waits, one migrator at a time."""

from __future__ import annotations

from typing import Any

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, pool, text

import schemas
from mdr.db import primary_url
from mdr.settings import Settings

# Any constant will do, as long as every migrator uses the same one.
MIGRATION_LOCK = 0x6D64_7201

config = context.config
settings = Settings.from_env()
target_metadata = schemas.metadata


def include_name(name: str | None, type_: Any, parent_names: Any) -> bool:
    """Only mdr's own schemas take part in autogenerate (not PostGIS's tables)."""
    if type_ == "schema":
        return name in schemas.SCHEMAS
    return True


def include_object(obj: Any, name: str | None, type_: str, reflected: bool,
                   compare_to: Any) -> bool:
    return bool(alembic_helpers.include_object(  # type: ignore[no-untyped-call]
        obj, name, type_, reflected, compare_to))


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url") or primary_url(settings)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_schemas=True,
            include_name=include_name,
            include_object=include_object,
            process_revision_directives=alembic_helpers.writer,
            render_item=alembic_helpers.render_item,
            compare_type=True,
            compare_server_default=True,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            connection.execute(text(f"SET LOCAL lock_timeout = {settings.lock_timeout_ms}"))
            connection.execute(
                text(f"SET LOCAL statement_timeout = {max(settings.statement_timeout_ms, 600_000)}")
            )
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            # Once the bootstrap revision has run, DDL runs as mdr_owner so that the
            # schema objects belong to it and its default privileges apply.
            bootstrapped = connection.execute(
                text("SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public' "
                     "AND tablename = 'alembic_version' AND tableowner = 'mdr_owner')")
            ).scalar_one()
            if bootstrapped:
                connection.execute(text("SET LOCAL ROLE mdr_owner"))
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; run `mdr db migrate`.")
run_migrations_online()
