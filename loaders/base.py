"""The contract every load follows, its run record in ``etl``, and ``run_load``.

Row problems are data (``RowIssue``, named in ``loaders.reasons``), never
exceptions. Every registry's load goes through :func:`run_load`: the run record
is written in its own transaction before the load starts (so a killed load
still leaves a trace: the next load of the registry marks it failed); then one
transaction takes the registry's advisory lock (two loads of one registry are
serialised), stages and checks the rows, aborts untouched above the reject
threshold, merges, and records the outcome, so a load either commits whole,
with its run record saying so, or leaves the registry untouched.

A registry supplies its own :class:`Stage` (for files, a :class:`FileStage`
with a row validator built on :class:`RowChecker`).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import importlib
import json
import os
import pkgutil
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Connection, Engine, text

from loaders import reasons
from loaders.bulk import constraints_built_after, may_rebuild, registry_is_empty
from loaders.parallel import validated
from loaders.reasons import Reason, RowIssue
from loaders.rules.dates import parse_date
from loaders.rules.text import escaped, has_control_characters
from loaders.sources.readers import Profile, ReadLimits, SourceError, read_records

__all__ = ["AbortedLoad", "FileStage", "LoadResult", "Options", "RegistryLoader",
           "RowChecker", "RowIssue", "Stage", "load_file", "registered_loaders", "run_load",
           "sha256"]

DEFAULT_REJECT_THRESHOLD = 0.10

Progress = Callable[[int], None]
"""Told the number of rows read so far, now and then."""


class AbortedLoad(Exception):
    """Raised inside the load transaction to roll it back on purpose."""


@dataclass(frozen=True)
class Options:
    """How one load of a file runs (the options of ``mdr load <registry> <path>``)."""

    effective_date: dt.date
    """The day the file speaks for."""
    reject_threshold: float | None = DEFAULT_REJECT_THRESHOLD
    """Abort untouched when more than this share of the rows is rejected; None: never."""
    profile: str | None = None
    """Column-mapping profile (name or path); None: the registry's canonical layout."""
    kind: str | None = None
    """Which of the registry's kinds of file; None: the registry tells from the file."""
    limits: ReadLimits = field(default_factory=ReadLimits)
    """Bounds on records and decompressed size (settings MDR_LOAD_MAX_*)."""
    repair: bool = False
    """Repair what a registry can repair on load (invalid geometry), flagging it, instead of
    rejecting it."""
    bulk: bool | None = None
    """Build the registry's constraints after the data (``loaders.bulk``); None: when the
    registry is empty and the load's role owns its tables."""
    workers: int = 1
    """Processes validating the rows (``loaders.parallel``). More than one pays only with
    idle cores: on two busy cores, where the database parses the COPY beside them, worker
    processes measured no faster than one (bench/load_population.py)."""


def sha256(path: Path) -> str:
    """The file's SHA-256 (hex), kept in the run record."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class LoadResult:
    """What a load did; ``as_dict`` is the ``--json`` summary of DESIGN.md §10."""

    registry: str
    run_id: int | None = None
    status: str = "running"
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    seconds: float = 0.0
    issues: list[RowIssue] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    message: str | None = None

    @property
    def rejected_by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(i.slug for i in self.issues if i.rejected).items()))

    @property
    def flagged_by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(i.slug for i in self.issues if not i.rejected).items()))

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_reason.values())

    def add(self, counts: tuple[int, int, int]) -> None:
        """Add (inserted, updated, unchanged) counts of one merge step."""
        self.inserted += counts[0]
        self.updated += counts[1]
        self.unchanged += counts[2]

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "registry": self.registry,
            "status": self.status,
            "read": self.read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "rejected_by_reason": self.rejected_by_reason,
            "flagged": sum(self.flagged_by_reason.values()),
            "flagged_by_reason": self.flagged_by_reason,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.read / self.seconds) if self.seconds else None,
            "details": self.details,
            "message": self.message,
        }


class LoadFailed(Exception):
    """A load stopped by an unexpected error (its cause); the run is recorded as failed,
    nothing of it was applied, and ``result`` says which run it was."""

    def __init__(self, result: LoadResult) -> None:
        super().__init__(result.message)
        self.result = result


def lock_key(registry: str) -> str:
    return f"mdr.load.{registry}"


def start_run(engine: Engine, registry: str, source: str, **extra: Any) -> int:
    """Record that a load begins (committed at once, before any work)."""
    with engine.begin() as conn:
        run_id = conn.execute(
            text("INSERT INTO etl.load_run (registry, source, status, source_sha256, profile, "
                 "effective_date, started_by) VALUES (:registry, :source, 'running', :sha, "
                 ":profile, :eff, :by) RETURNING id"),
            {"registry": registry, "source": source, "sha": extra.get("source_sha256"),
             "profile": extra.get("profile"), "eff": extra.get("effective_date"),
             "by": started_by()},
        ).scalar_one()
    return int(run_id)


def started_by() -> str:
    """Who is loading: the operating-system user and host (the database role is shared)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container user with no passwd entry
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def take_registry_lock(conn: Connection, registry: str, run_id: int) -> None:
    """Wait for any other load of this registry, then close runs that died midway."""
    # A national file takes minutes per statement: the session's statement timeout,
    # meant for interactive work, does not apply inside a load.
    conn.execute(text("SET LOCAL statement_timeout = 0"))
    # Set-based steps over a whole file hash and sort far more than a query does.
    conn.execute(text("SET LOCAL work_mem = '256MB'"))
    # A delta looks up its few thousand persons through the registry's indexes, whose
    # pages are cached (or on SSD): priced as spinning-disk seeks (the default of 4),
    # looking them up seems dearer than scanning the whole registry up to millions of
    # persons, and a delta would cost what the registry holds.
    conn.execute(text("SET LOCAL random_page_cost = 1.1"))
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": lock_key(registry)})
    # Holding the lock proves no other load of this registry is running now.
    conn.execute(
        text("UPDATE etl.load_run SET status = 'failed', finished_at = now(), "
             "message = 'The load stopped before finishing (process killed or lost its "
             "connection); nothing of it was applied.' "
             "WHERE registry = :registry AND status = 'running' AND id <> :run_id"),
        {"registry": registry, "run_id": run_id},
    )


def record_outcome(conn: Connection, result: LoadResult) -> None:
    """Store the outcome and the issues of a run on ``conn``.

    A committed load records them inside its own transaction, so the registry's
    change and the record of it commit together.
    """
    conn.execute(
        # clock_timestamp: now() would be the start of a load's transaction.
        text("UPDATE etl.load_run SET status = :status, finished_at = clock_timestamp(), "
             "read = :read, "
             "inserted = :inserted, updated = :updated, unchanged = :unchanged, "
             "rejected = :rejected, rejected_by_reason = CAST(:by_reason AS jsonb), "
             "seconds = :seconds, message = :message WHERE id = :run_id"),
        {"status": result.status, "read": result.read, "inserted": result.inserted,
         "updated": result.updated, "unchanged": result.unchanged,
         "rejected": result.rejected, "by_reason": _json(result.rejected_by_reason),
         "seconds": result.seconds, "message": result.message, "run_id": result.run_id},
    )
    copy_rows(
        conn, "etl.rejected_row",
        ("run_id", "source", "row_number", "field", "value", "reason", "message", "rejected"),
        ((result.run_id, i.source, i.row, i.field, i.value, i.slug, i.message, i.rejected)
         for i in result.issues),
    )


def finish_run(engine: Engine, result: LoadResult) -> None:
    """Store the outcome of a run whose transaction rolled back, in a transaction of its own."""
    with engine.begin() as conn:
        record_outcome(conn, result)


def copy_rows(conn: Connection, table: str, columns: tuple[str, ...],
              rows: Iterable[tuple[Any, ...]]) -> int:
    """COPY rows into a table through the connection's psycopg cursor; returns the count."""
    raw = conn.connection.driver_connection
    assert raw is not None
    count = 0
    with raw.cursor() as cur, cur.copy(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


STATISTICS_STALE_SHARE = 0.10
"""A load that changed more than this share of a table's rows refreshes its statistics."""


def refresh_statistics(conn: Connection, tables: Iterable[str], changed_rows: int) -> list[str]:
    """ANALYZE the tables that ``changed_rows`` is a large share of; returns them.

    Without fresh statistics after a large load the planner believes a registry table
    small and answers every later delta with whole-table scans. ANALYZE reads a sample
    of fixed size, and only after a load that changed a large share of the table, so a
    small delta never pays for it: autovacuum keeps the statistics current from then on.
    """
    analyzed = []
    for table in tables:
        estimate = conn.execute(text("SELECT reltuples FROM pg_class "
                                     "WHERE oid = CAST(:t AS regclass)"), {"t": table}).scalar_one()
        # reltuples is -1 for a table never analyzed.
        if estimate < 0 or changed_rows > STATISTICS_STALE_SHARE * estimate:
            conn.execute(text("SELECT etl.refresh_statistics(CAST(:t AS regclass))"),
                         {"t": table})
            analyzed.append(table)
    return analyzed


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# -- rows: the generic half of validation ------------------------------------------------------


class RowChecker:
    """Validates the rows of one source, collecting their issues.

    A registry's checker adds its own row rules; these are the ones every
    source needs.
    """

    def __init__(self, source: str, effective_date: dt.date | None = None) -> None:
        self.source = source
        self.effective_date = effective_date
        self.issues: list[RowIssue] = []

    def reject(self, reason: Reason, row: int | None, field: str | None = None,
               value: str | None = None, **params: Any) -> None:
        """Record one occurrence of ``reason`` (its message from the catalogue)."""
        self.issues.append(reason.issue(row=row, field=field, value=value, source=self.source,
                                        **params))

    def dates(self, number: int, rec: dict[str, str], fields: Iterable[str]
              ) -> dict[str, dt.date | None] | None:
        """The named fields as dates (None when blank); None, rejected, when one is not."""
        out: dict[str, dt.date | None] = {}
        for name in fields:
            parsed = parse_date(rec.get(name, ""))
            if isinstance(parsed, str):
                self.reject(reasons.INVALID_DATE, number, name, rec.get(name), problem=parsed)
                return None
            out[name] = parsed
        return out

    def text_ok(self, number: int, rec: dict[str, str]) -> bool:
        """Reject control characters (a NUL cannot even be stored) instead of failing."""
        if not has_control_characters("".join(rec.values())):
            return True
        for name, value in rec.items():
            if has_control_characters(value):
                self.reject(reasons.INVALID_TEXT, number, name, escaped(value))
                return False
        return True


# -- stages: what a registry brings to run_load -------------------------------------------------


class Stage:
    """One load's work inside its transaction: read and stage, check, merge."""

    sql_params: ClassVar[dict[str, Any]] = {}
    """Bind parameters every statement of the stage may use, beside ``eff`` and ``run_id``."""
    registry_tables: ClassVar[tuple[str, ...]] = ()
    """The registry tables the merge writes (their statistics are refreshed after a load
    that changed a large share of them)."""

    def __init__(self, conn: Connection, checker: RowChecker, options: Options | None,
                 run_id: int) -> None:
        self.conn = conn
        self.checker = checker
        self.options = options
        self.run_id = run_id
        self.details: dict[str, Any] = {}
        """Registry-specific counts for the summary (``LoadResult.details``)."""

    def sql(self, statement: str, **params: Any) -> Any:
        """Run one statement with the stage's parameters (``:eff``, ``:run_id``, ...)."""
        return self.conn.execute(text(statement), {
            "eff": self.options.effective_date if self.options else None,
            "run_id": self.run_id, **self.sql_params, **params})

    def read(self, progress: Progress | None) -> int:
        """Read the source and stage what is valid; returns the rows (records) read."""
        raise NotImplementedError

    def check(self) -> None:
        """Set-based checks of the staged rows (rejections go to the checker)."""

    def merge(self) -> tuple[int, int, int]:
        """Apply the staged rows to the registry; (inserted, updated, unchanged)."""
        raise NotImplementedError


class FileStage(Stage):
    """A source file read through a profile, each row validated and COPYed into ``table``.

    The staging table has the :attr:`columns` plus ``reject text`` (the first
    reason a set-based check found), so checks mark rows with :meth:`reject_where`
    and the merge takes the rows where ``reject IS NULL``.
    """

    table = ""
    copy_table = ""
    """Where the rows are copied; the table itself when empty."""
    columns: tuple[str, ...] = ()
    source_fields: tuple[str, ...] = ()
    """The layout's fields (after the profile's mapping): a file whose first record names
    none of them has no header, or the wrong one, and is refused whole."""

    def __init__(self, conn: Connection, checker: RowChecker, options: Options | None,
                 run_id: int, path: Path, profile: Profile) -> None:
        super().__init__(conn, checker, options, run_id)
        self.path = path
        self.profile = profile

    def validate(self, number: int, rec: dict[str, str]) -> tuple[Any, ...] | None:
        """The staged tuple for a valid row, or None (its issue recorded)."""
        raise NotImplementedError

    def read(self, progress: Progress | None) -> int:
        read = 0

        def records() -> Iterator[tuple[int, dict[str, str] | str]]:
            nonlocal read
            for number, rec in self.records():
                read += 1
                if progress is not None and read % 10_000 == 0:
                    progress(read)
                if read == 1 and not isinstance(rec, str):
                    self.check_header(rec)
                yield number, rec

        def unreadable(number: int, problem: str) -> None:
            self.checker.reject(reasons.UNREADABLE_ROW, number, problem=problem)

        def rows() -> Iterable[tuple[Any, ...]]:
            for number, rec in records():
                if isinstance(rec, str):
                    unreadable(number, rec)
                    continue
                staged = self.validate(number, rec)
                if staged is not None:
                    yield staged

        def rows_of_workers(workers: int) -> Iterable[tuple[Any, ...]]:
            for staged, issues in validated(records(), self.validate, unreadable,
                                            self.checker.issues, workers):
                self.checker.issues.extend(issues)
                yield from staged

        workers = max(1, self.options.workers) if self.options else 1
        copy_rows(self.conn, self.copy_table or self.table, self.columns,
                  rows() if workers == 1 else rows_of_workers(workers))
        if progress is not None:
            progress(read)
        self.require_rows(read)
        return read

    def require_rows(self, read: int) -> None:
        """Refuse a source that held no rows (``read`` of them)."""
        if read == 0:
            raise SourceError(f"{self.path.name} holds no rows to load (it is empty, or has a "
                              "header line only); nothing was loaded. Check that it is the "
                              "file you meant to send.")

    def records(self) -> Iterator[tuple[int, dict[str, str] | str]]:
        """The source's records, numbered from 1 (a text: why one cannot be read)."""
        limits = self.options.limits if self.options else None
        return read_records(self.path, self.profile, limits)

    def check_header(self, record: dict[str, str]) -> None:
        """Refuse a file whose first record names none of the layout's fields."""
        if not self.source_fields or not set(record).isdisjoint(self.source_fields):
            return
        found = ", ".join(list(record)[:6]) or "nothing"
        raise SourceError(
            f"The first line of {self.path.name} names none of the fields of this layout "
            f"(it holds: {found}): the file has no header line, or another layout. Add the "
            f"header ({', '.join(self.source_fields[:4])}, ...) or load it with a profile "
            "(--profile) that maps its columns.")

    def reject_where(self, reason: Reason, field: str, condition: str,
                     value_sql: str | None = None, *, columns: dict[str, str] | None = None,
                     **params: Any) -> int:
        """Mark staged rows matching ``condition`` rejected (first reason wins).

        ``s`` is the staged row. Each rejection's message is the reason's template
        filled with ``value_sql``, the SQL expressions of ``columns`` and ``params``.
        """
        columns = columns or {}
        extra = "".join(f", ({expr})::text" for expr in columns.values())
        rows = self.sql(f"""
            UPDATE {self.table} s SET reject = :slug
            WHERE s.reject IS NULL AND ({condition})
            RETURNING s.row_number, ({value_sql or 'NULL'})::text{extra}""",
                        slug=reason.slug).all()
        for number, value, *values in rows:
            self.checker.reject(reason, number, field, value,
                                **dict(zip(columns, values, strict=True)), **params)
        return len(rows)


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Steps:
    """Seconds each step of a load took (the summary's ``steps_s``)."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timed(self, step: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[step] = time.perf_counter() - started

    def rounded(self) -> dict[str, float]:
        return {step: round(s, 2) for step, s in self.seconds.items()}


def run_load(engine: Engine, registry: str, source: str,
             make_stage: Callable[[Connection, int], Stage], *,
             options: Options | None = None, progress: Progress | None = None,
             source_sha256: str | None = None, profile: str | None = None,
             details: dict[str, Any] | None = None) -> LoadResult:
    """One load of ``registry``: commits whole, with its outcome, or leaves it untouched.

    ``make_stage(conn, run_id)`` builds the registry's stage inside the load's
    transaction, after the lock is taken. Above the reject threshold, or when the file
    cannot be read to its end (``SourceError``), the load is aborted (status
    ``aborted``, nothing applied); any other exception marks the run ``failed`` and is
    raised again as ``LoadFailed``, which carries the run.
    """
    result = LoadResult(registry, details=dict(details or {}))
    result.run_id = start_run(engine, registry, source, source_sha256=source_sha256,
                              profile=profile,
                              effective_date=options.effective_date if options else None)
    started = time.perf_counter()
    try:
        with engine.begin() as conn:
            take_registry_lock(conn, registry, result.run_id)
            stage = make_stage(conn, result.run_id)
            result.issues = stage.checker.issues
            steps = Steps()
            with steps.timed("read"):
                result.read = stage.read(progress)
            with steps.timed("check"):
                stage.check()
            threshold = options.reject_threshold if options else None
            rejected = result.rejected
            if threshold is not None and result.read and rejected / result.read > threshold:
                result.status = "aborted"
                result.message = (
                    f"{rejected} of {result.read} rows ({rejected / result.read:.1%}) were "
                    f"rejected, more than the threshold of {threshold:.0%}; nothing was "
                    "applied. Fix the rejected rows and resubmit the file.")
                raise AbortedLoad
            bulk = stage.registry_tables and (
                options.bulk if options is not None and options.bulk is not None
                else registry_is_empty(conn, stage.registry_tables[0])
                and may_rebuild(conn))
            if bulk:
                result.details["bulk"] = True
                with constraints_built_after(conn, stage.registry_tables, steps), \
                        steps.timed("merge"):
                    result.add(stage.merge())
            else:
                with steps.timed("merge"):
                    result.add(stage.merge())
            with steps.timed("statistics"):
                refresh_statistics(conn, stage.registry_tables, result.inserted + result.updated)
            result.details.update(stage.details)
            result.details["steps_s"] = steps.rounded()
            result.status = "committed"
            result.seconds = time.perf_counter() - started
            record_outcome(conn, result)
    except AbortedLoad:
        result.seconds = time.perf_counter() - started
        finish_run(engine, result)
    except SourceError as exc:
        # The file cannot be read to its end: none of it is applied (the transaction
        # rolled back), and its rows are not judged one by one.
        result.status = "aborted"
        result.message = str(exc)
        result.seconds = time.perf_counter() - started
        finish_run(engine, result)
    except Exception as exc:
        result.status = "failed"
        result.message = f"{type(exc).__name__}: {exc}"
        result.seconds = time.perf_counter() - started
        finish_run(engine, result)
        raise LoadFailed(result) from exc
    return result


def load_file(engine: Engine, registry: str, path: Path, options: Options,
              progress: Progress | None, profile: Profile, kind: str,
              stage: type[FileStage], checker: Callable[[Connection], RowChecker]
              ) -> LoadResult:
    """``run_load`` of one file through a registry's ``stage`` class, its rows validated by
    the RowChecker ``checker(conn)`` makes inside the load's transaction."""

    def make_stage(conn: Connection, run_id: int) -> FileStage:
        return stage(conn, checker(conn), options, run_id, path, profile)

    return run_load(engine, registry, str(path), make_stage, options=options, progress=progress,
                    source_sha256=sha256(path), profile=profile.name, details={"kind": kind})


# -- the registries' loaders ------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryLoader:
    """How ``mdr load <registry> <path>`` loads one registry.

    A registry's loader module declares one as ``LOADER``; the front door finds
    it there, so a new registry needs no edit to another registry's files.
    """

    registry: str
    """The name on the command line (and in ``etl.load_run.registry``)."""
    summary: str
    """What it loads, e.g. "a snapshot or event file of persons"."""
    load: Callable[[Engine, Path, Options, Progress | None], LoadResult]
    kinds: tuple[str, ...] = ()
    """The kinds of file it reads (``--kind``); empty: one kind."""
    default_path: Path | None = None
    """What it loads when no path is given (data shipped with mdr); None: a path is needed."""


def registered_loader(registry: str) -> RegistryLoader | None:
    """The loader of ``registry``: looked for in its namesake module first, so a load
    imports only the loader it runs; else among all of them."""
    loader = None
    if registry.isidentifier():
        with suppress(ModuleNotFoundError):
            loader = getattr(importlib.import_module(f"loaders.{registry}"), "LOADER", None)
    if isinstance(loader, RegistryLoader) and loader.registry == registry:
        return loader
    return registered_loaders().get(registry)


def registered_loaders() -> dict[str, RegistryLoader]:
    """Every registry's loader, by registry name: the ``LOADER`` of each module in loaders/."""
    import loaders

    found: dict[str, RegistryLoader] = {}
    for module in pkgutil.iter_modules(loaders.__path__):
        if module.ispkg:
            continue
        loader = getattr(importlib.import_module(f"loaders.{module.name}"), "LOADER", None)
        if isinstance(loader, RegistryLoader):
            found[loader.registry] = loader
    return dict(sorted(found.items()))


def kind_by_first_record(path: Path, profile: Profile, requested: str | None,
                         limits: ReadLimits | None, marker: str, marked_kind: str) -> str:
    """The kind of a text source: as asked, else ``marked_kind`` when its first record has
    the ``marker`` field, else snapshot (also when the first record cannot be read: reading
    the file in the load then says why)."""
    if requested:
        return requested
    try:
        for _, first in read_records(path, profile, limits):
            if isinstance(first, dict):
                return marked_kind if marker in first else "snapshot"
            break
    except SourceError:
        pass
    return "snapshot"
