"""Bulk loads: a registry's constraints built after its data, in the load's transaction.

An ordinary load into an empty registry pays, for every row, the foreign-key
triggers and the maintenance of every index (the exclusion constraints' GiST
indexes most). A bulk load sets aside the foreign keys, exclusion constraints and
plain indexes of the tables it fills, merges, and builds them again: each
foreign key is then validated by one set-based anti-join, each index by one
build. Primary keys and unique constraints stay (the merge's ``ON CONFLICT``
needs them). Everything happens inside the load's transaction, so the registry
ends with every constraint an ordinary load leaves, or, when the load fails or is
killed, exactly as it was (PostgreSQL's DDL is transactional). Altering a table
locks it: reads of the registry wait until a bulk load commits or rolls back.

Only a table's owner may alter it; the loader does it through two functions the
owner lends it for this one purpose (``etl.set_aside_constraints`` and
``etl.restore_constraints``, migration 0017), and the load's transaction cannot
commit with anything left set aside.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text

if TYPE_CHECKING:
    from loaders.base import Steps


def registry_is_empty(conn: Connection, table: str) -> bool:
    """Whether ``table`` (a registry's subject table) holds no row."""
    return not conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {table})")).scalar_one()


def may_rebuild(conn: Connection) -> bool:
    """Whether the connection's role may set a registry's constraints aside."""
    return bool(conn.execute(text(
        "SELECT has_function_privilege('etl.set_aside_constraints(regclass[])', 'EXECUTE')"
    )).scalar_one())


MAINTENANCE_WORK_MEM = "256MB"
"""Memory for each index build (a btree build sorts in it; split among its workers)."""


@contextmanager
def constraints_built_after(conn: Connection, tables: Sequence[str],
                            steps: Steps | None = None) -> Iterator[None]:
    """Set the tables' foreign keys, exclusion constraints and plain indexes aside; build
    them again after the body (which fills the tables). ``steps``: given the seconds of
    the rebuild (``rebuild``) and of each build (``rebuild <index or constraint>``)."""
    # A btree build may sort with parallel workers, one per core, inside this
    # transaction; GiST builds (the exclusion constraints) have no parallel mode in
    # PostgreSQL 15 and run on one core whatever this says.
    conn.execute(text(f"SET LOCAL max_parallel_maintenance_workers = {os.cpu_count() or 1}"))
    conn.execute(text(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'"))
    conn.execute(text("SELECT etl.set_aside_constraints(CAST(:tables AS regclass[]))"),
                 {"tables": list(tables)})
    yield
    builds = conn.execute(text("SELECT name, seconds FROM etl.restore_constraints()")).all()
    if steps is not None:
        steps.seconds["rebuild"] = sum(took for _, took in builds)
        steps.seconds.update({f"rebuild {name}": took for name, took in builds})
