"""The ``mdr`` command: the one front door for stewards, operators and scripts."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from loaders.base import DEFAULT_REJECT_THRESHOLD
from mdr import db
from mdr.cluster import ClusterError
from mdr.errors import explain
from mdr.output import emit_json, err, out
from mdr.settings import Settings, SettingsError
from schemas.constants import REORGANISATION_2025

app = typer.Typer(help="mdr: national master-data registries.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="The database: embedded cluster and migrations.", no_args_is_help=True)
ref_app = typer.Typer(help="Reference look-ups: administrative units over time.",
                      no_args_is_help=True)
app.add_typer(db_app, name="db")
quality_app = typer.Typer(help="Data-quality suites.", no_args_is_help=True)
app.add_typer(ref_app, name="ref")
app.add_typer(quality_app, name="quality")
fixtures_app = typer.Typer(help="Synthetic national data for tests and benchmarks.",
                           no_args_is_help=True)
app.add_typer(fixtures_app, name="fixtures")
clients_app = typer.Typer(help="API clients and their keys.", no_args_is_help=True)
app.add_typer(clients_app, name="clients")
macro_app = typer.Typer(help="The macro-economy registry: indicators derived from the "
                        "registries.", no_args_is_help=True)
app.add_typer(macro_app, name="macro")

log = logging.getLogger("mdr.cli")
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
        except DBAPIError as exc:
            message = explain(exc, Settings.from_env().database_url)
            if message is None:
                raise
            err.print(f"[red]error:[/red] {message}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    # Other libraries (Great Expectations above all) speak only when something is wrong.
    logging.basicConfig(level=logging.WARNING, format="%(message)s",
                        handlers=[logging.StreamHandler()])
    for name in ("mdr", "loaders", "quality", "alembic"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("alembic").setLevel(logging.INFO if verbose else logging.WARNING)


def settings() -> Settings:
    return Settings.from_env()


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
    """Create (first time) and start the embedded cluster, and the replicas made of it;
    reuse what runs."""
    from mdr import replica

    cfg = settings()
    _require_embedded(cfg, "up")
    status = db.embedded_cluster(cfg).start()
    for each in replica.known_replicas(cfg):
        each.cluster(cfg).start()
    if as_json:
        emit_json({**status.as_dict(), "url": db.embedded_cluster(cfg).url()})
    else:
        err.print(f"PostgreSQL is running on 127.0.0.1:{status.port} ({status.data_dir}).")
        out.print(db.embedded_cluster(cfg).url(), highlight=False)


@db_app.command("down")
@friendly_errors
def db_down() -> None:
    """Stop the embedded cluster and the replicas made of it."""
    from mdr import replica

    cfg = settings()
    _require_embedded(cfg, "down")
    # Its replicas go down with it (`mdr replica remove` deletes one for good).
    for each in replica.known_replicas(cfg):
        each.cluster(cfg).stop()
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
    from alembic import command as alembic_command

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


# -- mdr load / ref: the commands are defined in this module, below ----------------------------


def parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2025-07-01") from None



def print_load_result(result: Any, as_json: bool) -> None:
    """The load summary of DESIGN.md §5: JSON on stdout, or a short table on stderr."""
    summary = result.as_dict()
    if as_json:
        emit_json(summary)
        return
    err.print(
        f"[bold]{summary['registry']}[/bold] load {summary['run_id']}: {summary['status']} — "
        f"read {summary['read']}, inserted {summary['inserted']}, updated {summary['updated']}, "
        f"unchanged {summary['unchanged']}, rejected {summary['rejected']}, "
        f"flagged {summary['flagged']} in {summary['seconds']} s"
        + (f" ({summary['rows_per_second']} rows/s)" if summary["rows_per_second"] else ""),
        highlight=False,
    )
    for label, counts in (("rejected", summary["rejected_by_reason"]),
                          ("flagged", summary["flagged_by_reason"])):
        for slug, n in counts.items():
            err.print(f"  {label} {slug}: {n}", highlight=False)
    if summary["rejected"] or summary["flagged"]:
        err.print(f"  details: SELECT * FROM etl.rejected_row WHERE run_id = {summary['run_id']}",
                  highlight=False)


@contextlib.contextmanager
def load_failures(registry: str) -> Iterator[list[Any]]:
    """Gives a list for the load's result; a load that fails instead leaves a failed result
    there (status ``failed`` and a message), so that the summary is printed all the same.

    Failures a user can act on (a file that cannot be read, the database's state) are
    their message. An unexpected error is its first line and the run id; its traceback
    goes to the log (``mdr -v``) and the full error to the run's record.
    """
    from loaders.base import LoadFailed, LoadResult
    from loaders.sources.readers import SourceError

    outcome: list[Any] = []
    try:
        yield outcome
    except LoadFailed as exc:
        log.debug("load run %s failed", exc.result.run_id, exc_info=exc.__cause__)
        result = exc.result
        first = (result.message or "").strip().splitlines()[0:1] or ["unknown error"]
        result.message = (f"The load failed unexpectedly and nothing of it was applied: "
                          f"{first[0][:500]} (the full error is in etl.load_run, "
                          f"id {result.run_id}; run with -v for the traceback).")
        outcome[:] = [result]
    except (SourceError, ClusterError, db.SchemaBehindError, SettingsError) as exc:
        outcome[:] = [LoadResult(registry, status="failed", message=str(exc))]
    except Exception as exc:
        log.debug("load of %s failed", registry, exc_info=True)
        explained = explain(exc, settings().database_url) if isinstance(exc, DBAPIError) \
            else None
        first = str(exc).strip().splitlines()[0:1] or [""]
        outcome[:] = [LoadResult(registry, status="failed", message=explained or (
            f"The load failed: {type(exc).__name__}: {first[0][:500]} "
            "(run with -v for the traceback)."))]


@app.command("load", no_args_is_help=True)
@friendly_errors
def load(
    registry: Annotated[str, typer.Argument(help="The registry: population, or ref for the "
                                            "reference data shipped in fixtures/.")],
    path: Annotated[Path | None, typer.Argument(
        help="The file to load (.csv, .jsonl, .gz); ref: fixtures/reference unless given.",
        exists=True)] = None,
    profile: Annotated[str | None, typer.Option(help="Column-mapping profile (YAML path).")]
    = None,
    effective_date: Annotated[str | None, typer.Option(
        "--effective-date", help="Date the file speaks for; default today.")] = None,
    kind: Annotated[str | None, typer.Option(help="The kind of file (population: snapshot or "
                                             "events); default: from the file's columns.")]
    = None,
    reject_threshold: Annotated[float, typer.Option(
        help="Abort without changes when more than this share of rows is rejected.")]
    = DEFAULT_REJECT_THRESHOLD,
    repair: Annotated[bool, typer.Option(
        "--repair", help="Repair invalid geometry (ST_MakeValid) and flag it, instead of "
        "rejecting it (land).")] = False,
    bulk: Annotated[bool | None, typer.Option(
        "--bulk/--no-bulk", help="Build the registry's constraints and indexes after the "
        "data (reads of the registry wait until the load ends); default: only when the "
        "registry is empty.", show_default=False)]
    = None,
    workers: Annotated[int, typer.Option(
        help="Processes validating the rows (more pay only with idle cores).")] = 1,
    as_json: JsonFlag = False,
) -> None:
    """Load a file into a registry (commits whole or not at all)."""
    from rich.progress import Progress

    from loaders.base import Options, registered_loader, registered_loaders
    from loaders.sources.readers import ReadLimits

    loader = registered_loader(registry)
    if loader is None:
        known = registered_loaders()
        listing = ", ".join(f"{name} ({each.summary})" for name, each in known.items())
        raise typer.BadParameter(f"{registry!r} is not a registry with a loader. Known: "
                                 f"{listing}", param_hint="REGISTRY")
    if kind is not None and kind not in loader.kinds:
        raise typer.BadParameter(f"{registry} files are of the kinds "
                                 f"{', '.join(loader.kinds) or '(one kind only)'}",
                                 param_hint="--kind")
    source = path or loader.default_path
    if source is None:
        raise typer.BadParameter(f"{registry} needs the path of the file to load",
                                 param_hint="PATH")
    day = parse_date(effective_date) if effective_date else dt.date.today()
    with load_failures(registry) as outcome:
        cfg = settings()
        options = Options(effective_date=day, reject_threshold=reject_threshold,
                          profile=profile, kind=kind, repair=repair,
                          bulk=bulk, workers=workers,
                          limits=ReadLimits(cfg.load_max_record_bytes,
                                            cfg.load_max_decompressed_bytes,
                                            cfg.load_max_expansion))
        with db.role_engine(cfg, db.Role.LOADER) as engine, \
                Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
            task = bar.add_task(f"loading {source.name}", total=None)
            outcome.append(loader.load(engine, source, options,
                                       lambda n: bar.update(task, completed=n)))
    result = outcome[0]
    if result.status == "committed" and registry != "ref":
        # Analysts see the load once the analytics views that read its registry are
        # refreshed: now, unless the load is too small a part of the registry to pay for
        # recomputing the views from all of it.
        views = refresh_after_load(cfg, registry, result.inserted + result.updated)
        if views is not None:
            result.details["analytics"] = "refreshed"
            log.info("Analytics refreshed: %s.", ", ".join(v["view"] for v in views))
        else:
            result.details["analytics"] = "deferred"
            log.info("Analytics not refreshed: the load changed a small part of the "
                     "registry; `mdr analytics refresh` shows it to analysts.")
    print_load_result(result, as_json)
    if result.status != "committed":
        if not as_json and result.message:
            err.print(result.message, highlight=False, markup=False)
        raise typer.Exit(1)


@app.command("reasons")
def reasons_cmd(
    registry: Annotated[str | None, typer.Option(
        help="Only the reasons this registry's loads give (population, ref, ...).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The reasons a load gives rejected and flagged rows: slug, title, message."""
    from loaders.reasons import for_registry

    catalogue = for_registry(registry)
    if as_json:
        emit_json({"registry": registry, "reasons": [r.as_dict() for r in catalogue]})
        return
    if not catalogue:
        err.print(f"No reasons are catalogued for {registry!r}.", highlight=False)
        raise typer.Exit(1)
    for reason in catalogue:
        disposition = "rejected" if reason.rejects else "flagged"
        out.print(f"[bold]{reason.slug}[/bold] ({disposition}; {', '.join(reason.registries)})"
                  f"\n  {reason.title}\n  message: {reason.template}", highlight=False,
                  soft_wrap=True)


def _lookup(fn: Callable[..., R], *args: Any) -> R:
    """Run a reference look-up as the least-privileged reading role."""
    with db.role_engine(settings(), db.Role.API) as engine, engine.connect() as conn:
        return fn(conn, *args)


def _print_units(units: list[dict[str, Any]]) -> None:
    for u in units:
        period = f"{u['valid_from'] or '…'} – {u['valid_to'] or '…'}"
        parent = f" in {u['parent_code']}" if u.get("parent_code") else ""
        out.print(f"{u['code']:>5}  {u['level']:8} {u['full_name']}{parent}  [{period})",
                  highlight=False)


@ref_app.command("units")
@friendly_errors
def ref_units(
    as_of: Annotated[str, typer.Option("--as-of", help="Date, e.g. 2025-07-01.")],
    level: Annotated[str | None, typer.Option(help="province, district or commune.")] = None,
    parent: Annotated[str | None, typer.Option(help="Code of the parent unit.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Administrative units in force on a date."""
    from schemas.reference_queries import units_as_of

    day = parse_date(as_of)
    units = _lookup(units_as_of, day, level, parent)
    if as_json:
        emit_json({"as_of": day, "level": level, "parent": parent, "count": len(units),
                   "units": units})
    else:
        _print_units(units)
        err.print(f"{len(units)} unit(s) in force on {day}.")


@ref_app.command("successors")
@friendly_errors
def ref_successors(
    code: Annotated[str, typer.Argument(help="Unit code (2 digits province, 5 commune).")],
    as_json: JsonFlag = False,
) -> None:
    """What a unit code became (and came from) at each reorganisation."""
    from schemas.reference_queries import successors

    versions = _lookup(successors, code)
    if as_json:
        emit_json({"code": code, "versions": versions})
        return
    if not versions:
        err.print(f"No unit has code {code}.")
        raise typer.Exit(1)
    for v in versions:
        _print_units([v])
        for label, links in (("became", v["successors"]), ("came from", v["predecessors"])):
            for link in links:
                whole = {True: "whole", False: "part", None: "unclear"}[link["whole_unit"]]
                out.print(f"        {label} {link['code']} {link['full_name']} "
                          f"({link['change_type']}, {whole}, {link['effective_date']})",
                          highlight=False)


@ref_app.command("locate")
@friendly_errors
def ref_locate(
    lon: Annotated[float, typer.Argument(help="Longitude (EPSG:4326).")],
    lat: Annotated[float, typer.Argument(help="Latitude (EPSG:4326).")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date; default today.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The commune and province containing a point on a date."""
    from schemas.reference_queries import boundaries_in_force, locate

    def units_and_coverage(conn: Connection, day: dt.date) -> tuple[list[dict[str, Any]], bool]:
        units = locate(conn, lon, lat, day)
        return units, bool(units) or boundaries_in_force(conn, day) > 0

    day = parse_date(as_of) if as_of else dt.date.today()
    units, covered = _lookup(units_and_coverage, day)  # one connection, one schema check
    if not covered:
        err.print(f"No boundaries are held for the units in force on {day}; "
                  "boundaries are loaded for the units in force since "
                  f"{REORGANISATION_2025}.")
    if as_json:
        emit_json({"lon": lon, "lat": lat, "as_of": day, "units": units})
    else:
        _print_units(units)
        if not units:
            err.print("No unit contains that point.")


demo_app = typer.Typer(help="The main job end to end on a generated sample.",
                       invoke_without_command=True)
app.add_typer(demo_app, name="demo")


@demo_app.callback()
@friendly_errors
def demo(
    ctx: typer.Context,
    persons: Annotated[int | None, typer.Option(
        help="Persons in the generated sample; default MDR_DEMO_SCALE or 100,000.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the generated sample.")] = 1,
    port: Annotated[int | None, typer.Option(help="API port; default 8000 or a free one.")]
    = None,
    as_json: JsonFlag = False,
) -> None:
    """Database, reference data, a national sample loaded and checked, the API serving it,
    and queries to try. A second run reuses what is there."""
    if ctx.invoked_subcommand is not None:
        return
    from mdr.demo import DemoError, banner, run_demo

    cfg = settings()
    try:
        result = run_demo(cfg, persons or cfg.demo_scale, seed, port)
    except DemoError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    if as_json:
        emit_json(result.as_dict())
    else:
        out.print(banner(result), highlight=False, soft_wrap=True)


@demo_app.command("stop")
@friendly_errors
def demo_stop() -> None:
    """Stop the demo's API and the embedded database."""
    from mdr.demo import stop_demo

    stopped = stop_demo(settings())
    err.print(f"Stopped {' and '.join(stopped)}." if stopped else "Nothing was running.")


@macro_app.command("derive")
@friendly_errors
def macro_derive(
    as_of: Annotated[str, typer.Option("--as-of", help="Reference date of the figures.")],
    units: Annotated[str, typer.Option(help="Unit set: 2025 (34 provinces) or legacy (63).")]
    = "2025",
    release_date: Annotated[str | None, typer.Option(
        "--release-date", help="Date the release is published; default today.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Compute the derived indicators for a date and publish them as a new vintage
    (nothing new when the figures did not change)."""
    from loaders.macro_derived import UNIT_SETS, derive

    if units not in UNIT_SETS:
        raise typer.BadParameter(f"use one of {', '.join(UNIT_SETS)}", param_hint="--units")
    day = parse_date(as_of)
    released = parse_date(release_date) if release_date else None
    with load_failures("macro") as outcome, \
            db.role_engine(settings(), db.Role.LOADER) as engine:
        outcome.append(derive(engine, day, units, released))
    result = outcome[0]
    print_load_result(result, as_json)
    if result.status != "committed":
        raise typer.Exit(1)


@quality_app.command("run")
@friendly_errors
def quality_run(
    registries: Annotated[list[str] | None, typer.Argument(help="Registries, or all.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Day taken as today.")] = None,
    report: Annotated[Path | None, typer.Option(help="HTML report path; default "
                                                 "var/reports/quality.html.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run the quality suites in the database; exit 1 when an expectation fails."""
    from quality.report import write_html_report
    from quality.run import QualityStorageError, run_quality

    cfg = settings()
    db.require_current(cfg)
    url = db.role_url(db.primary_url(cfg), db.Role.LOADER)
    try:
        result = run_quality(url, registries or ["all"],
                             as_of=parse_date(as_of) if as_of else None, settings=cfg)
    except (QualityStorageError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    path = write_html_report(result, report or cfg.var_dir / "reports" / "quality.html")
    summary = result.as_dict()
    if as_json:
        emit_json({**summary, "report": str(path)})
    else:
        for name, registry in summary["registries"].items():
            failed = ", ".join(registry["failed_rules"]) or "none"
            out.print(f"{name}: {registry['passed']} passed, {registry['failed']} failed, "
                      f"score {registry['score']:.3f}; failed: {failed}", highlight=False)
        err.print(f"Report: {path}")
    if not result.ok:
        raise typer.Exit(1)


@fixtures_app.command("generate")
@friendly_errors
def fixtures_generate(
    registry: Annotated[str, typer.Argument(help="population, enterprise, land, or all.")],
    count: Annotated[int, typer.Option(
        help="How many records: persons, enterprises, parcels; for all, persons.")],
    seed: Annotated[int, typer.Option(help="Same seed, same files.")],
    out: Annotated[Path, typer.Option(
        help="Folder to write into; the earlier registries' files found there are reused.")],
    defect_rate: Annotated[float, typer.Option(
        help="Share of rows with a labelled defect (listed in the *defects.csv files).")] = 0.0,
    effective_date: Annotated[str | None, typer.Option(
        "--effective-date", help="The day the data describes; default 2026-01-01.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Write deterministic synthetic registry data (with labelled defects if asked)."""
    from fixtures.registries import GENERATORS, by_name, generate_all

    day = parse_date(effective_date) if effective_date else dt.date(2026, 1, 1)
    try:
        if registry == "all":
            summaries = generate_all(out, count, seed, defect_rate, day)
        else:
            summaries = {registry: by_name(registry).generate(out, count, seed, defect_rate,
                                                              day)}
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    units = {g.registry: g.unit for g in GENERATORS}
    payload = {name: {"count": s.count, "seed": seed, "defects": s.defects,
                      "seconds": round(s.seconds, 2), "files": s.files}
               for name, s in summaries.items()}
    if as_json:
        emit_json({"registry": registry, **payload[registry]} if registry != "all"
                  else {"registry": "all", "registries": payload})
    else:
        for name, s in summaries.items():
            err.print(f"{s.count} {units[name]} in {s.seconds:.1f} s: " + ", ".join(s.files),
                      highlight=False)


def _admin_transaction(fn: Callable[..., R], *args: Any) -> R:
    """Run a client-registry change as the administrator (the API role cannot)."""
    from graphql_api.auth import ClientError

    cfg = settings()
    engine = db.admin_engine(cfg)
    try:
        db.require_current_schema(engine)
        with engine.begin() as conn:
            return fn(conn, *args)
    except ClientError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


@clients_app.command("add")
@friendly_errors
def clients_add(
    name: Annotated[str, typer.Argument(help="Who the client is.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated, e.g. verify:person,read:person.")],
    as_json: JsonFlag = False,
) -> None:
    """Register a client; prints its key once (only a hash is kept)."""
    from graphql_api.auth import create_client

    wanted = [s.strip() for s in scopes.split(",") if s.strip()]
    key = _admin_transaction(create_client, name, wanted)
    if as_json:
        emit_json({"name": name, "scopes": sorted(set(wanted)), "key": key})
    else:
        err.print(f"Client {name!r} registered. Its key, shown only now:", highlight=False)
        out.print(key, highlight=False)


@clients_app.command("list")
@friendly_errors
def clients_list(as_json: JsonFlag = False) -> None:
    """Registered clients, their scopes and whether they are revoked (never the keys)."""
    from graphql_api.auth import list_clients

    clients = _admin_transaction(list_clients)
    if as_json:
        emit_json({"clients": [dataclasses.asdict(c) for c in clients]})
        return
    for c in clients:
        state = f"revoked {c.revoked_at:%Y-%m-%d}" if c.revoked_at else "active"
        out.print(f"{c.name:24} {c.key_prefix}…  {state:18} {', '.join(c.scopes)}",
                  highlight=False)


@clients_app.command("revoke")
@friendly_errors
def clients_revoke(name: Annotated[str, typer.Argument(help="The client to revoke.")]) -> None:
    """Stop a client's key from working."""
    from graphql_api.auth import revoke_client

    _admin_transaction(revoke_client, name)
    err.print(f"Client {name!r} revoked.", highlight=False)


@app.command("serve")
@friendly_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int | None, typer.Option(
        help="Worker processes (default: MDR_API_WORKERS, else 1).")] = None,
) -> None:
    """Serve the GraphQL API at /graphql."""
    import os

    import uvicorn

    from graphql_api.app import app_from_env

    workers = workers or settings().api_workers
    # Each worker sizes its connection pools by the number of workers (Settings).
    os.environ["MDR_API_WORKERS"] = str(workers)
    app_from_env()  # fail here, readably, when the database is missing or behind
    uvicorn.run("graphql_api.app:app_from_env", factory=True, host=host, port=port,
                workers=workers, log_level="warning")


# -- a steward's day: runs and rejected rows -----------------------------------------------

rejects_app = typer.Typer(help="Rows that loads rejected, to fix and resubmit.",
                          no_args_is_help=True)
app.add_typer(rejects_app, name="rejects")


@app.command("runs")
@friendly_errors
def runs(
    registry: Annotated[str | None, typer.Option(help="Only this registry's loads.")] = None,
    last: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Load history: counts, status, duration, who ran it and the file's checksum."""
    from loaders.runs import list_runs

    with db.role_engine(settings(), db.Role.LOADER) as engine, engine.connect() as conn:
        listed = list_runs(conn, registry, last)
    if as_json:
        emit_json({"runs": [dataclasses.asdict(r) for r in listed]})
        return
    for r in listed:
        seconds = f"{r.seconds:.1f} s" if r.seconds is not None else "-"
        out.print(f"{r.id:>5}  {r.started_at:%Y-%m-%d %H:%M}  {r.registry:11} {r.status:9} "
                  f"read {r.read:,}, +{r.inserted:,} ~{r.updated:,} ={r.unchanged:,} "
                  f"rejected {r.rejected:,}  {seconds:>8}  {r.started_by or '-'}  "
                  f"{r.source}  sha256 {(r.source_sha256 or '-')[:12]}", highlight=False,
                  soft_wrap=True)
        if r.message and r.status != "committed":
            out.print(f"       {r.message}", highlight=False, soft_wrap=True)
    if not listed:
        err.print("No loads yet.")


@rejects_app.command("export")
@friendly_errors
def rejects_export(
    run_id: Annotated[int, typer.Argument(help="The load run (see `mdr runs`).")],
    out_path: Annotated[Path, typer.Option("--out", help="File to write.")],
    as_json: JsonFlag = False,
) -> None:
    """Write a run's rejected rows in the source's layout, with reason and message columns,
    ready to fix and load again."""
    from loaders.runs import ExportError, export_rejects

    try:
        with db.role_engine(settings(), db.Role.LOADER) as engine, engine.connect() as conn:
            done = export_rejects(conn, run_id, out_path)
    except ExportError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    if as_json:
        emit_json({"run_id": done.run_id, "path": str(done.path), "rows": done.rows,
                   "missing": done.missing})
        return
    err.print(f"{done.rows} rejected row(s) of run {done.run_id} written to {done.path}"
              + (f"; {done.missing} could not be read from the source" if done.missing else "")
              + ". Fix them and load the file again.", highlight=False)


@quality_app.command("report")
@friendly_errors
def quality_report(
    last: Annotated[int, typer.Option(help="Runs per registry in the trend.")] = 5,
    provinces: Annotated[int, typer.Option(help="Provinces shown, worst first.")] = 10,
    open_report: Annotated[bool, typer.Option(
        "--open", help="Open the HTML report of the last run in a browser.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """The latest quality scores per registry and province, and their trend."""
    from quality.history import quality_history

    cfg = settings()
    with db.role_engine(cfg, db.Role.LOADER) as engine, engine.connect() as conn:
        histories = quality_history(conn, last)
    report = cfg.var_dir / "reports" / "quality.html"
    if as_json:
        emit_json({"registries": {h.registry: {
            "latest": dataclasses.asdict(h.latest), "change": h.change,
            "failed_rules": h.failed_rules,
            "runs": [dataclasses.asdict(r) for r in h.runs],
            "provinces": [{**dataclasses.asdict(p), "score": p.score} for p in h.provinces],
        } for h in histories}, "report": str(report) if report.exists() else None})
    else:
        if not histories:
            err.print("No quality run has finished yet; run `mdr quality run`.")
        for h in histories:
            change = "" if h.change is None else f" ({h.change:+.3f} since the run before)"
            out.print(f"[bold]{h.registry}[/bold]: score {h.latest.score:.3f}{change}, "
                      f"{h.latest.passed} passed, {h.latest.failed} failed, run "
                      f"{h.latest.run_id} at {h.latest.started_at:%Y-%m-%d %H:%M}",
                      highlight=False)
            out.print("  trend (oldest first): "
                      + " → ".join(f"{r.score:.3f}" for r in reversed(h.runs)), highlight=False)
            if h.failed_rules:
                out.print(f"  failed: {', '.join(h.failed_rules)}", highlight=False)
            for p in h.provinces[:provinces]:
                out.print(f"  province {p.code}: {p.score:.3f}"
                          + (f" — {', '.join(p.failed_rules)}" if p.failed_rules else ""),
                          highlight=False)
    if open_report:
        import webbrowser

        if not report.exists():
            err.print(f"No HTML report at {report}; `mdr quality run` writes it.")
            raise typer.Exit(1)
        webbrowser.open(report.as_uri())


# -- mdr analytics, mdr replica, mdr backup ---------------------------------------------------

analytics_app = typer.Typer(help="The analytics schema analysts read (no identities).",
                            no_args_is_help=True)
app.add_typer(analytics_app, name="analytics")
replica_app = typer.Typer(help="Streaming read replicas on loopback (pg_basebackup).",
                          no_args_is_help=True)
app.add_typer(replica_app, name="replica")
backup_app = typer.Typer(help="Backups, WAL archive and point-in-time restore (pgBackRest).",
                         no_args_is_help=True)
app.add_typer(backup_app, name="backup")


def refresh_analytics(cfg: Settings, registry: str | None = None) -> list[dict[str, Any]]:
    """Refresh the analytics views that read ``registry`` (all of them by default) as the
    loader (loads and the command share this)."""
    from mdr import analytics

    with db.role_engine(cfg, db.Role.LOADER) as engine:
        return analytics.refresh(engine, cfg, registry)


def refresh_after_load(cfg: Settings, registry: str, written: int
                       ) -> list[dict[str, Any]] | None:
    """``refresh_analytics`` after a load that wrote ``written`` rows into ``registry``,
    when that is worth it (``analytics.worth_refreshing``); None when the refresh is left
    to ``mdr analytics refresh``."""
    from mdr import analytics

    with db.role_engine(cfg, db.Role.LOADER) as engine:
        if not analytics.worth_refreshing(engine, registry, written):
            return None
        return analytics.refresh(engine, cfg, registry)


@analytics_app.command("refresh")
@friendly_errors
def analytics_refresh(as_json: JsonFlag = False) -> None:
    """Refresh the analytics views (concurrently: analysts' queries are not blocked)."""
    views = refresh_analytics(settings())
    if as_json:
        emit_json({"refreshed": views})
        return
    for view in views:
        out.print(f"analytics.{view['view']:28} {view['seconds']:8.3f} s", highlight=False)


@replica_app.command("create")
@friendly_errors
def replica_create(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 the replica listens on.")],
    data_dir: Annotated[Path, typer.Option("--data-dir", help="New or empty folder for its "
                                           "data.")],
    name: Annotated[str | None, typer.Option(help="Its name (default replica-PORT).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Make a streaming replica of the current database and start it."""
    from mdr import replica

    cfg = settings()
    made = replica.create(cfg, port, data_dir, name)
    if as_json:
        emit_json({**dataclasses.asdict(made), "url": made.url(cfg)})
    else:
        err.print(f"Replica {made.name!r} streams from the primary on 127.0.0.1:{made.port} "
                  f"(slot {made.slot}, data in {made.data_dir}). Point "
                  "MDR_READ_DATABASE_URL at:", highlight=False)
        out.print(made.url(cfg), highlight=False)


@replica_app.command("status")
@friendly_errors
def replica_status(as_json: JsonFlag = False) -> None:
    """Each replica's state and its lag behind the primary, in bytes and seconds."""
    from mdr import replica

    cfg = settings()
    reports = [replica.status(cfg, r) for r in replica.known_replicas(cfg)]
    if as_json:
        emit_json({"replicas": reports})
        return
    if not reports:
        err.print("No replicas; `mdr replica create --port P --data-dir D` makes one.")
    for r in reports:
        state = "streaming" if r["streaming"] else ("running, not streaming" if r["running"]
                                                     else "down")
        lag = (f"lag {r['lag_bytes']} bytes, {r['lag_seconds']:.1f} s"
               if r["lag_bytes"] is not None and r["lag_seconds"] is not None else "lag unknown")
        out.print(f"{r['name']:20} 127.0.0.1:{r['port']:<6} {state:24} {lag}", highlight=False)


@replica_app.command("remove")
@friendly_errors
def replica_remove(name: Annotated[str, typer.Argument(help="Its name, port or folder.")]
                   ) -> None:
    """Stop a replica, drop its replication slot and delete its folder."""
    from mdr import replica

    gone = replica.remove(settings(), name)
    err.print(f"Replica {gone.name!r} removed (slot {gone.slot} dropped, {gone.data_dir} "
              "deleted).", highlight=False)


def _backups(cfg: Settings) -> Any:
    from mdr.backup import BackupRepository

    if not cfg.embedded:
        raise ClusterError(
            "`mdr backup` backs up the embedded cluster, but MDR_DATABASE_URL is set: run "
            "pgBackRest on that database's own host (see README, Operations).")
    return BackupRepository(db.embedded_cluster(cfg), cfg.var_dir / "backup")


def _print_backups(backups: list[dict[str, Any]]) -> None:
    for b in backups:
        out.print(f"{b['label']:26} {b['type']:5} {b['started']}  {b['seconds']:>5} s  "
                  f"{b['database_bytes'] / 1e6:10.1f} MB  (stored {b['repository_bytes'] / 1e6:.1f}"
                  " MB)", highlight=False)


@backup_app.command("create")
@friendly_errors
def backup_create(
    kind: Annotated[str, typer.Option("--type", help="full, diff or incr (an incr with no "
                                      "full before it is taken full).")] = "incr",
    as_json: JsonFlag = False,
) -> None:
    """Take a backup; the first one also turns WAL archiving on (one restart)."""
    made = _backups(settings()).create(kind)
    if as_json:
        emit_json(made)
    else:
        _print_backups([made])


@backup_app.command("list")
@friendly_errors
def backup_list(as_json: JsonFlag = False) -> None:
    """The backups in the repository, oldest first."""
    backups = _backups(settings()).list()
    if as_json:
        emit_json({"backups": backups})
    elif not backups:
        err.print("No backups yet; `mdr backup create --type full` takes one.")
    else:
        _print_backups(backups)


@backup_app.command("verify")
@friendly_errors
def backup_verify(as_json: JsonFlag = False) -> None:
    """Check every backup and archived WAL file in the repository (checksums, sizes)."""
    report = _backups(settings()).verify()
    if as_json:
        emit_json(report)
    else:
        out.print(report["report"] or report["errors"], highlight=False, markup=False)
    if not report["ok"]:
        raise typer.Exit(1)


@backup_app.command("restore")
@friendly_errors
def backup_restore(
    to: Annotated[str, typer.Option("--to", help="The time to recover to, ISO 8601 "
                                    "(without a zone: UTC).")],
    data_dir: Annotated[Path, typer.Option("--data-dir", help="New or empty folder for the "
                                           "copy.")],
    port: Annotated[int | None, typer.Option(help="Port of the copy (default: a free one).")]
    = None,
    as_json: JsonFlag = False,
) -> None:
    """Recover a copy of the database as it was at a time, started on its own port."""
    from mdr.cluster import free_port

    try:
        moment = dt.datetime.fromisoformat(to)
    except ValueError:
        raise typer.BadParameter(f"{to!r} is not an ISO 8601 time", param_hint="--to") from None
    cfg = settings()
    copy = _backups(cfg).restore(moment, data_dir, port or free_port())
    url = copy.url()
    if as_json:
        emit_json({"data_dir": str(copy.data_dir), "port": copy.configured_port(), "url": url,
                   "recovered_to": moment.isoformat()})
    else:
        err.print(f"A copy as of {moment.isoformat()} runs on 127.0.0.1:"
                  f"{copy.configured_port()} ({copy.data_dir}); stop it with "
                  f"`pg_ctl -D {copy.data_dir} stop`. Its URL:", highlight=False)
        out.print(url, highlight=False)
