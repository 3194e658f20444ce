"""The ``mdr`` command: the one front door for stewards, operators and scripts."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from alembic import command as alembic_command
from sqlalchemy import Engine

from mdr import db
from mdr.cluster import ClusterError
from mdr.output import emit_json, err, out
from mdr.settings import Settings, SettingsError

app = typer.Typer(help="mdr: national master-data registries.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="The database: embedded cluster and migrations.", no_args_is_help=True)
load_app = typer.Typer(help="Load data into the registries.", no_args_is_help=True)
ref_app = typer.Typer(help="Reference look-ups: administrative units over time.",
                      no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(load_app, name="load")
app.add_typer(ref_app, name="ref")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
P = ParamSpec("P")
R = TypeVar("R")


def friendly_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors a user can act on into a message and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (ClusterError, db.SchemaBehindError, SettingsError) as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(message)s", handlers=[logging.StreamHandler()])
    logging.getLogger("alembic").setLevel(logging.INFO if verbose else logging.WARNING)


def settings() -> Settings:
    return Settings.from_env()


def admin_engine(cfg: Settings) -> Engine:
    return db.make_engine(db.primary_url(cfg), cfg, pool_size=2)


def role_engine(cfg: Settings, role: db.Role) -> Engine:
    """An engine as ``role``, after checking the schema is current."""
    admin = admin_engine(cfg)
    try:
        db.require_current_schema(admin)
    finally:
        admin.dispose()
    return db.make_engine(db.primary_url(cfg), cfg, role=role)


# -- mdr db ---------------------------------------------------------------------------------


def _require_embedded(cfg: Settings, what: str) -> None:
    if not cfg.embedded:
        raise ClusterError(
            f"`mdr db {what}` manages the embedded cluster, but MDR_DATABASE_URL is set: "
            "that database is managed by its own administrators."
        )


@db_app.command("up")
@friendly_errors
def db_up(as_json: JsonFlag = False) -> None:
    """Create (first time) and start the embedded cluster; reuse it when it runs."""
    cfg = settings()
    _require_embedded(cfg, "up")
    status = db.embedded_cluster(cfg).start()
    if as_json:
        emit_json({**status.as_dict(), "url": db.embedded_cluster(cfg).url()})
    else:
        err.print(f"PostgreSQL is running on 127.0.0.1:{status.port} ({status.data_dir}).")
        out.print(db.embedded_cluster(cfg).url(), highlight=False)


@db_app.command("down")
@friendly_errors
def db_down() -> None:
    """Stop the embedded cluster."""
    cfg = settings()
    _require_embedded(cfg, "down")
    db.embedded_cluster(cfg).stop()
    err.print("The embedded cluster is stopped.")


@db_app.command("status")
@friendly_errors
def db_status(as_json: JsonFlag = False) -> None:
    """Whether the database runs, where, and at which migration revision."""
    cfg = settings()
    payload: dict[str, Any] = {"embedded": cfg.embedded, "head": db.code_head()}
    running = True
    if cfg.embedded:
        status = db.embedded_cluster(cfg).status()
        payload.update(status.as_dict())
        running = status.running
    if running:
        engine = db.make_engine(db.primary_url(cfg, start=False), cfg, pool_size=1)
        try:
            payload["revision"] = db.database_revision(engine)
        finally:
            engine.dispose()
    payload["current"] = payload.get("revision") == payload["head"]
    if as_json:
        emit_json(payload)
        return
    for key, value in payload.items():
        out.print(f"{key:12} {value}", highlight=False)


@db_app.command("url")
@friendly_errors
def db_url() -> None:
    """Print the database URL (starting the embedded cluster if needed)."""
    out.print(db.primary_url(settings()), highlight=False, soft_wrap=True)


@db_app.command("migrate")
@friendly_errors
def db_migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    as_json: JsonFlag = False,
) -> None:
    """Bring the database schema up to date (Alembic upgrade)."""
    cfg = settings()
    url = db.primary_url(cfg)
    alembic_command.upgrade(db.alembic_config(url), revision)
    engine = db.make_engine(url, cfg, pool_size=1)
    try:
        current = db.database_revision(engine)
    finally:
        engine.dispose()
    if as_json:
        emit_json({"revision": current, "head": db.code_head()})
    else:
        err.print(f"The database is at revision {current}.")


# -- mdr load / ref are registered by their modules ------------------------------------------


def parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2025-07-01") from None


def existing_path(value: str) -> Path:
    path = Path(value)
    if not path.exists():
        raise typer.BadParameter(f"{value} does not exist")
    return path
