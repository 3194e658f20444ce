"""Migrations: a full round trip, no drift between models and database, and the guard."""

from collections.abc import Callable

import pytest
from alembic import command as alembic_command
from sqlalchemy import text
from typer.testing import CliRunner

from mdr import db
from mdr.cli import app
from mdr.cluster import LocalCluster
from mdr.settings import Settings
from tests.conftest import create_database, drop_database


def test_upgrade_check_downgrade_upgrade(cluster: LocalCluster, settings: Settings) -> None:
    url = create_database(cluster, "t_roundtrip")
    try:
        cfg = db.alembic_config(url)
        alembic_command.upgrade(cfg, "head")
        alembic_command.check(cfg)  # raises when the models and the database differ
        alembic_command.downgrade(cfg, "base")
        engine = db.make_engine(url, settings)
        try:
            with engine.connect() as conn:
                left = conn.execute(text(
                    "SELECT count(*) FROM pg_namespace WHERE nspname IN "
                    "('ref', 'population', 'enterprise', 'land', 'macro', 'etl', 'audit', "
                    "'analytics')")).scalar_one()
            assert left == 0
            alembic_command.upgrade(cfg, "head")
            alembic_command.check(cfg)
            assert db.database_revision(engine) == db.code_head()
        finally:
            engine.dispose()
    finally:
        drop_database(cluster, "t_roundtrip")


def test_code_refuses_a_database_behind_its_schema(cluster: LocalCluster,
                                                   settings: Settings) -> None:
    url = create_database(cluster, "t_behind")
    try:
        alembic_command.upgrade(db.alembic_config(url), "0001")
        engine = db.make_engine(url, settings)
        try:
            with pytest.raises(db.SchemaBehindError, match="mdr db migrate"):
                db.require_current_schema(engine)
        finally:
            engine.dispose()
        result = CliRunner().invoke(app, ["ref", "units", "--as-of", "2025-07-01"],
                                    env={"MDR_DATABASE_URL": url})
        assert result.exit_code == 1
        assert "mdr db migrate" in result.output
        assert "Traceback" not in result.output
    finally:
        drop_database(cluster, "t_behind")


def test_migrate_command_brings_a_database_to_head(
        clone_db: Callable[[str], str], migrated_template: str) -> None:
    url = clone_db(migrated_template)
    result = CliRunner().invoke(app, ["db", "migrate", "--json"], env={"MDR_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert f'"revision": "{db.code_head()}"' in result.stdout
