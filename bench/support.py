"""What the bench scripts share: a throw-away cluster, databases, mdr as a user runs it,
a raw COPY reference, and peak memory."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from loaders.reference import prepare_database  # noqa: E402
from mdr.cluster import LocalCluster  # noqa: E402
from mdr.settings import Settings  # noqa: E402


@contextmanager
def bench_cluster(name: str) -> Iterator[tuple[LocalCluster, Path]]:
    """A PostgreSQL cluster and a work folder under var/, removed afterwards."""
    work = ROOT / "var" / f"bench-{name}-{os.getpid()}"
    cluster = LocalCluster(work / "pg")
    try:
        cluster.start()
        yield cluster, work
    finally:
        cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)


def create_database(cluster: LocalCluster, name: str, template: str | None = None) -> str:
    """A new database (a copy of ``template`` when given); its URL."""
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'
                     + (f' TEMPLATE "{template}"' if template else ""))
    return cluster.url(database=name)


def migrated_with_reference(cluster: LocalCluster, name: str = "mdr") -> str:
    """The database ``name`` at the migration head with the reference data; its URL."""
    url = cluster.url(database=name) if name == "mdr" else create_database(cluster, name)
    prepare_database(url, Settings.from_env({}))
    return url


def run_mdr(url: str, *args: str) -> tuple[dict[str, Any], float]:
    """``mdr <args> --json`` as its own process against ``url``: its summary and seconds."""
    started = time.perf_counter()
    run = subprocess.run([str(ROOT / ".venv" / "bin" / "mdr"), *args, "--json"],
                         env={**os.environ, "MDR_DATABASE_URL": url}, capture_output=True,
                         text=True, check=False)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        raise SystemExit(f"mdr {' '.join(args)} failed:\n{run.stderr}")
    summary: dict[str, Any] = json.loads(run.stdout)
    return summary, seconds


def timed(fn: Callable[..., Any], *args: Any) -> float:
    """Seconds ``fn(*args)`` takes."""
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def peak_child_rss_mb() -> float:
    """The largest resident set of any child process so far (the mdr runs), in MB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def raw_copy(conninfo: str, path: Path, fields: Sequence[str], table: str = "bench_raw"
             ) -> float:
    """COPY the CSV at ``path`` into a bare table keyed by its first field; seconds."""
    columns = ", ".join(f"{c} text" for c in fields[1:])
    started = time.perf_counter()
    with psycopg.connect(conninfo) as conn:
        conn.execute(f"CREATE TABLE {table} ({fields[0]} text PRIMARY KEY, {columns})")
        with conn.cursor() as cur, cur.copy(
            f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)"
        ) as copy, path.open("rb") as handle:
            while block := handle.read(1 << 20):
                copy.write(block)
    return time.perf_counter() - started
