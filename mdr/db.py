"""Engines, roles and the schema-version guard.

The registry is reached as one of five database roles created by the
migrations (see ``migrations/versions/0001_bootstrap.py`` and ``0018``):

* ``mdr_owner``   owns the schemas and runs DDL (migrations);
* ``mdr_loader``  writes the registries, reference data and ``etl``;
* ``mdr_api``     reads the registries and inserts into ``audit``;
* ``mdr_analyst`` reads the ``analytics`` schema only;
* ``mdr_summary_reader`` reads the summary views of ``analytics`` only (counts with
  small cells suppressed; no person-level view).

Each process connects *as* its role (not as a superuser that could reset it).
With the embedded cluster the roles log in over trusted loopback; with
``MDR_DATABASE_URL`` the same URL is used with the role's name, and the
password comes from libpq's usual places (``~/.pgpass``, ``PGPASSFILE``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from mdr.cluster import LocalCluster
from mdr.settings import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from alembic.config import Config


class Role(StrEnum):
    OWNER = "mdr_owner"
    LOADER = "mdr_loader"
    API = "mdr_api"
    ANALYST = "mdr_analyst"
    SUMMARY_READER = "mdr_summary_reader"


class SchemaBehindError(RuntimeError):
    """The database's migration head is older than the code's."""


def embedded_cluster(settings: Settings) -> LocalCluster:
    """The local cluster under ``var/pg`` that serves when no URL is configured."""
    return LocalCluster(settings.var_dir / "pg", bindir=settings.pg_bindir, port=settings.pg_port)


def primary_url(settings: Settings, *, start: bool = True) -> str:
    """URL of the primary database as its administrator; starts the embedded cluster."""
    if settings.database_url:
        return settings.database_url
    cluster = embedded_cluster(settings)
    if start:
        cluster.start()
    return cluster.url()


def role_url(url: str, role: Role) -> str:
    """The same database, logged in as ``role``."""
    return make_url(url).set(username=role.value, password=None).render_as_string(
        hide_password=False
    )


def make_engine(url: str, settings: Settings, *, role: Role | None = None,
                pool_size: int = 5) -> Engine:
    """An engine for ``url`` (as ``role`` when given) with the configured timeouts."""
    if role is not None:
        url = role_url(url, role)
    options = (f"-c statement_timeout={settings.statement_timeout_ms} -c timezone=UTC "
               "-c temp_buffers=256MB")
    return create_engine(
        url,
        connect_args={"options": options, "application_name": "mdr"},
        pool_size=pool_size,
        pool_pre_ping=True,
    )


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration for this project, pointed at ``url`` when given."""
    # Alembic is imported where it is used: loads and queries, most of the commands run,
    # do without its second of importing.
    from alembic.config import Config

    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


_REVISION_LINE = re.compile(r"^(revision|down_revision)\b[^=\n]*=(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"[\"']([^\"']+)[\"']")


def code_head() -> str:
    """The newest migration revision this code knows: the one no other revision follows.

    Read from the text of the revision files (their ``revision`` and ``down_revision``
    lines): Alembic would import every one of them, with the models they use, which takes
    longer than many a command that only checks the schema is current.
    """
    revisions: set[str] = set()
    followed: set[str] = set()
    for path in (PROJECT_ROOT / "migrations" / "versions").glob("*.py"):
        found = dict(reversed(_REVISION_LINE.findall(path.read_text(encoding="utf-8"))))
        revisions.update(_QUOTED.findall(found.get("revision", "")))
        followed.update(_QUOTED.findall(found.get("down_revision", "")))
    heads = revisions - followed
    assert len(heads) == 1, f"migrations/versions holds {len(heads)} heads: {sorted(heads)}"
    return heads.pop()


def database_revision(engine: Engine) -> str | None:
    """The migration revision the database is at (None when never migrated)."""
    with engine.connect() as conn:
        if conn.execute(text("SELECT to_regclass('public.alembic_version')")).scalar() is None:
            return None
        return conn.execute(text("SELECT version_num FROM public.alembic_version")).scalar()


def require_current_schema(engine: Engine) -> None:
    """Refuse to work against a database whose schema is behind the code."""
    current, head = database_revision(engine), code_head()
    if current != head:
        raise SchemaBehindError(
            f"The database schema is at revision {current or 'none'} but this code needs "
            f"{head}. Run `mdr db migrate` to bring it up to date."
        )


def admin_engine(settings: Settings) -> Engine:
    """A small engine on the primary as its administrator."""
    return make_engine(primary_url(settings), settings, pool_size=2)


def require_current(settings: Settings) -> None:
    """:func:`require_current_schema` for the configured database (asked as administrator)."""
    admin = admin_engine(settings)
    try:
        require_current_schema(admin)
    finally:
        admin.dispose()


@contextmanager
def role_engine(settings: Settings, role: Role) -> Iterator[Engine]:
    """An engine as ``role``, after checking the schema is current; disposed afterwards."""
    require_current(settings)
    engine = make_engine(primary_url(settings), settings, role=role)
    try:
        yield engine
    finally:
        engine.dispose()
