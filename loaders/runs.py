"""What a steward works from after loads: the run history and the rejected rows to fix.

``export_rejects`` writes the rows a run rejected in the source's own layout (its
columns, delimiter and encoding) with two more columns, ``reject_reason`` and
``reject_message``. A steward fixes the values, leaves the two columns (loaders read
only the fields they know), and loads the file again: what was missing is added and
nothing else changes.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from loaders.base import sha256
from loaders.sources.readers import Profile, SourceError, read_records, source_format

REASON_COLUMNS = ("reject_reason", "reject_message")


class ExportError(ValueError):
    """The rejected rows of a run cannot be exported; the message says why and what to do."""


@dataclass(frozen=True)
class RunListing:
    """One load run as ``mdr runs`` shows it."""

    id: int
    registry: str
    source: str
    status: str
    started_at: dt.datetime
    started_by: str | None
    seconds: float | None
    read: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    rejected_by_reason: dict[str, int]
    source_sha256: str | None
    message: str | None


def list_runs(conn: Connection, registry: str | None = None, last: int = 20
              ) -> list[RunListing]:
    """The latest runs, newest first, of one registry or all."""
    rows = conn.execute(text("""
        SELECT id, registry, source, status, started_at, started_by, seconds, read, inserted,
               updated, unchanged, rejected, rejected_by_reason, source_sha256, message
        FROM etl.load_run
        WHERE CAST(:registry AS text) IS NULL OR registry = :registry
        ORDER BY id DESC LIMIT :last"""), {"registry": registry, "last": last})
    return [RunListing(*row) for row in rows]


@dataclass(frozen=True)
class RejectsExport:
    run_id: int
    path: Path
    rows: int
    """Rows written (rejected rows found in the source)."""
    missing: int
    """Rejected rows that could not be written: unreadable in the source."""


def export_rejects(conn: Connection, run_id: int, out: Path) -> RejectsExport:
    """Write the rows run ``run_id`` rejected, in its source's layout, to ``out``."""
    run = conn.execute(text("SELECT source, source_sha256, profile FROM etl.load_run "
                            "WHERE id = :id"), {"id": run_id}).first()
    if run is None:
        raise ExportError(f"There is no load run {run_id}; `mdr runs` lists them.")
    source, digest, profile_name = run
    reasons = {
        int(number): (reason, message) for number, reason, message in conn.execute(text("""
            SELECT row_number, string_agg(reason, '; ' ORDER BY id),
                   string_agg(message, ' ' ORDER BY id)
            FROM etl.rejected_row
            WHERE run_id = :id AND rejected AND row_number IS NOT NULL
            GROUP BY row_number"""), {"id": run_id})}
    path = Path(source)
    if not path.is_file():
        raise ExportError(f"Run {run_id} read {source}, which is no longer there; the "
                          "rejected rows are in etl.rejected_row (reason, field, value).")
    if digest and sha256(path) != digest:
        raise ExportError(f"{source} has changed since run {run_id} read it, so its rows no "
                          "longer line up with the rejections; export from the file as loaded.")
    try:
        profile = Profile.load(None if profile_name in (None, "canonical") else profile_name)
        fmt = source_format(path, profile)
        # The source's own columns: the profile's format, delimiter and encoding, no mapping.
        raw = Profile(profile.name, fmt, profile.delimiter, profile.encoding)
        rejected = [(number, record) for number, record in read_records(path, raw)
                    if number in reasons and isinstance(record, dict)]
    except SourceError as exc:
        raise ExportError(f"{source} cannot be read for the export: {exc}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding=profile.encoding, newline="") as sink:
        if fmt == "csv":
            writer: Any = None
            for number, record in rejected:
                if writer is None:
                    writer = csv.writer(sink, delimiter=profile.delimiter)
                    writer.writerow([*record, *REASON_COLUMNS])
                writer.writerow([*record.values(), *reasons[number]])
        else:
            for number, record in rejected:
                reason, message = reasons[number]
                sink.write(json.dumps({**record, REASON_COLUMNS[0]: reason,
                                       REASON_COLUMNS[1]: message}, ensure_ascii=False) + "\n")
    return RejectsExport(run_id, out, len(rejected), len(reasons) - len(rejected))
