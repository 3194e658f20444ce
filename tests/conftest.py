"""Test harness: one real PostGIS cluster per run, templates migrated once, cheap clones.

* ``migrated_template``: a database at the migration head, without data;
* ``ref_template``: the same with the reference data loaded;
* ``clone_db(template)``: a fresh copy (CREATE DATABASE ... TEMPLATE) for tests
  that commit;
* ``conn``: a connection to a shared copy of ``ref_template`` inside a
  transaction that is rolled back after the test.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command as alembic_command
from sqlalchemy import Connection, Engine

from loaders.reference import load_reference
from mdr import db
from mdr.cluster import LocalCluster
from mdr.settings import PROJECT_ROOT, Settings

TEST_ROOT = PROJECT_ROOT / "var" / "test"


@pytest.fixture(scope="session")
def run_dir() -> Iterator[Path]:
    """A folder of this run under var/ (the server's OS user must reach it; /tmp's
    per-user pytest folders are private to root)."""
    # Clusters of earlier runs that were interrupted would otherwise keep running.
    for stale in TEST_ROOT.glob("run-*"):
        if _process_alive(int(stale.name.removeprefix("run-") or 0)):
            continue  # another test run, still going
        for pg in (stale / "pg", stale / "embedded" / "pg"):
            if (pg / "data").exists():
                LocalCluster(pg).destroy()
        shutil.rmtree(stale, ignore_errors=True)
    path = TEST_ROOT / f"run-{os.getpid()}"
    path.mkdir(parents=True, exist_ok=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0
    return pid > 0


@pytest.fixture(scope="session")
def cluster(run_dir: Path) -> Iterator[LocalCluster]:
    """The run's PostgreSQL cluster, created and removed by the tests themselves."""
    instance = LocalCluster(run_dir / "pg", durable=False)
    instance.start()
    yield instance
    instance.destroy()


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env({})


def create_database(cluster: LocalCluster, name: str, template: str | None = None) -> str:
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        clause = f' TEMPLATE "{template}"' if template else ""
        conn.execute(f'CREATE DATABASE "{name}"{clause}')
    return cluster.url(database=name)


def drop_database(cluster: LocalCluster, name: str) -> None:
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def eventually(check: Callable[[], bool], failure: str, seconds: float = 20) -> None:
    """Waits until ``check()`` holds (a replica catching up, a server coming up), asking
    ten times a second; fails with ``failure`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, failure
        time.sleep(0.1)


@pytest.fixture(scope="session")
def migrated_template(cluster: LocalCluster) -> str:
    """Name of a database migrated to head, with no data."""
    name = "tpl_migrated"
    url = create_database(cluster, name)
    alembic_command.upgrade(db.alembic_config(url), "head")
    return name


@pytest.fixture(scope="session")
def ref_template(cluster: LocalCluster, migrated_template: str, settings: Settings) -> str:
    """Name of a migrated database holding the reference data."""
    name = "tpl_ref"
    url = create_database(cluster, name, template=migrated_template)
    engine = db.make_engine(url, settings, role=db.Role.LOADER)
    try:
        load_reference(engine)
    finally:
        engine.dispose()
    return name


@pytest.fixture
def clone_db(cluster: LocalCluster) -> Iterator[Callable[[str], str]]:
    """Factory: a fresh copy of a template for a test that commits; dropped afterwards."""
    made: list[str] = []

    def make(template: str) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        made.append(name)
        return create_database(cluster, name, template=template)

    yield make
    for name in made:
        drop_database(cluster, name)


@pytest.fixture(scope="session")
def shared_ref_url(cluster: LocalCluster, ref_template: str) -> str:
    """One copy of the reference database for tests that only read or roll back."""
    return create_database(cluster, "shared_ref", template=ref_template)


@pytest.fixture(scope="session")
def admin_engine(shared_ref_url: str, settings: Settings) -> Iterator[Engine]:
    engine = db.make_engine(shared_ref_url, settings)
    yield engine
    engine.dispose()


@pytest.fixture
def conn(admin_engine: Engine) -> Iterator[Connection]:
    """A connection whose work is rolled back when the test ends."""
    with admin_engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()


@pytest.fixture
def role_engine(shared_ref_url: str, settings: Settings) -> Iterator[Callable[[db.Role], Engine]]:
    """Factory: engines logged in as one of mdr's roles."""
    engines: list[Engine] = []

    def make(role: db.Role) -> Engine:
        engine = db.make_engine(shared_ref_url, settings, role=role, pool_size=1)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()
