"""What the bench scripts share: timing, and a migrated cluster of their own under var/."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alembic import command as alembic_command  # noqa: E402

from loaders.reference import load_reference  # noqa: E402
from mdr import db  # noqa: E402
from mdr.cluster import LocalCluster  # noqa: E402
from mdr.settings import Settings  # noqa: E402


def timed(fn: Callable[..., Any], *args: Any) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


@contextmanager
def cluster_with_reference(work: Path) -> Iterator[LocalCluster]:
    """A cluster under ``work`` whose database is migrated and holds the reference data;
    removed with ``work`` afterwards."""
    cluster = LocalCluster(work / "pg")
    try:
        cluster.start()
        alembic_command.upgrade(db.alembic_config(cluster.url()), "head")
        loader = db.make_engine(cluster.url(), Settings.from_env({}), role=db.Role.LOADER)
        load_reference(loader)
        loader.dispose()
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)
