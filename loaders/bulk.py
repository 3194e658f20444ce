"""Bulk loads: a registry's constraints built after its data, in the load's transaction.

An ordinary load into an empty registry pays, for every row, the foreign-key
triggers and the maintenance of every index (the exclusion constraints' GiST
indexes most). A bulk load drops the foreign keys, exclusion constraints and
plain indexes of the tables it fills, merges, and builds them again: each
foreign key is then validated by one set-based anti-join, each index by one
sorted build. Primary keys and unique constraints stay (the merge's
``ON CONFLICT`` needs them). Everything happens inside the load's transaction,
so the registry ends with every constraint an ordinary load leaves, or, when
the load fails or is killed, exactly as it was (PostgreSQL's DDL is
transactional). Altering a table locks it: reads of the registry wait until a
bulk load commits or rolls back.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Connection, text

# Foreign keys (f) and exclusion constraints (x), whatever their names.
_CONSTRAINTS = """
    SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
    FROM pg_constraint
    WHERE conrelid = ANY(CAST(:tables AS regclass[])) AND contype IN ('f', 'x')
    ORDER BY contype DESC, conrelid::regclass::text, conname"""
# Indexes that back no constraint.
_INDEXES = """
    SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid)
    FROM pg_index i
    WHERE indrelid = ANY(CAST(:tables AS regclass[]))
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"""


def registry_is_empty(conn: Connection, table: str) -> bool:
    """Whether ``table`` (a registry's subject table) holds no row."""
    return not conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {table})")).scalar_one()


def may_rebuild(conn: Connection, tables: Sequence[str]) -> bool:
    """Whether the connection's role owns every table (only the owner may alter one)."""
    return bool(conn.execute(text("""
        SELECT bool_and(pg_has_role(relowner, 'USAGE')) FROM pg_class
        WHERE oid = ANY(CAST(:tables AS regclass[]))"""), {"tables": list(tables)}).scalar_one())


MAINTENANCE_WORK_MEM = "256MB"
"""Memory for each index build (a btree build sorts in it; split among its workers)."""


@contextmanager
def constraints_built_after(conn: Connection, tables: Sequence[str],
                            seconds: dict[str, float] | None = None) -> Iterator[None]:
    """Drop the tables' foreign keys, exclusion constraints and plain indexes; build them
    again after the body (which fills the tables). Only for the owner of the tables.
    ``seconds``: filled with each build's time, by index or constraint name."""
    seconds = {} if seconds is None else seconds
    # A btree build may sort with parallel workers, one per core, inside this
    # transaction; GiST builds (the exclusion constraints) have no parallel mode in
    # PostgreSQL 15 and run on one core whatever this says.
    conn.execute(text(f"SET LOCAL max_parallel_maintenance_workers = {os.cpu_count() or 1}"))
    conn.execute(text(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'"))
    params = {"tables": list(tables)}
    constraints = conn.execute(text(_CONSTRAINTS), params).all()
    indexes = conn.execute(text(_INDEXES), params).all()
    for table, name, _ in constraints:
        conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for index, _ in indexes:
        conn.execute(text(f"DROP INDEX {index}"))
    yield
    # Indexes first: the foreign keys' anti-joins and the exclusion checks use them.
    for index, definition in indexes:
        started = time.perf_counter()
        conn.execute(text(definition))
        seconds[index.rpartition(".")[2]] = time.perf_counter() - started
    for table, name, definition in reversed(constraints):
        started = time.perf_counter()
        conn.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
        seconds[name] = time.perf_counter() - started
