"""The contract every load follows, and the run record it leaves in ``etl``.

Row problems are data (``RowIssue``), never exceptions. A load runs in one
transaction holding an advisory lock for its registry, so two loads of one
registry are serialised and a load either commits whole or leaves the
registry untouched. The run record is written in its own transaction before
the load starts, so a killed load still leaves a trace: the next load of the
registry marks it failed.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, text


@dataclass(frozen=True)
class RowIssue:
    """One problem with one row (or record) of a source."""

    slug: str
    """Stable reason, e.g. ``unknown-admin-unit``."""
    message: str
    """What is wrong and what to do about it."""
    row: int | None = None
    field: str | None = None
    value: str | None = None
    source: str | None = None
    rejected: bool = True
    """False when the row was loaded anyway and is only flagged."""


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
                 "effective_date) VALUES (:registry, :source, 'running', :sha, :profile, :eff) "
                 "RETURNING id"),
            {"registry": registry, "source": source, "sha": extra.get("source_sha256"),
             "profile": extra.get("profile"), "eff": extra.get("effective_date")},
        ).scalar_one()
    return int(run_id)


def take_registry_lock(conn: Connection, registry: str, run_id: int) -> None:
    """Wait for any other load of this registry, then close runs that died midway."""
    # A national file takes minutes per statement: the session's statement timeout,
    # meant for interactive work, does not apply inside a load.
    conn.execute(text("SET LOCAL statement_timeout = 0"))
    # Set-based steps over a whole file hash and sort far more than a query does.
    conn.execute(text("SET LOCAL work_mem = '256MB'"))
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": lock_key(registry)})
    # Holding the lock proves no other load of this registry is running now.
    conn.execute(
        text("UPDATE etl.load_run SET status = 'failed', finished_at = now(), "
             "message = 'The load stopped before finishing (process killed or lost its "
             "connection); nothing of it was applied.' "
             "WHERE registry = :registry AND status = 'running' AND id <> :run_id"),
        {"registry": registry, "run_id": run_id},
    )


def finish_run(engine: Engine, result: LoadResult) -> None:
    """Store the outcome and the issues of a run (after its transaction ended)."""
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE etl.load_run SET status = :status, finished_at = now(), read = :read, "
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


@contextmanager
def timed(result: LoadResult) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        result.seconds = time.perf_counter() - started


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
