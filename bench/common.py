"""What the load benches share: a throwaway cluster at the migration head with the reference
data loaded, removed afterwards whatever happens."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from loaders.reference import prepare_database
from mdr.cluster import LocalCluster
from mdr.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def reference_cluster(work: Path) -> Iterator[tuple[LocalCluster, str]]:
    """(cluster, administrator URL): a new cluster under ``work``, migrated, with the
    reference data; the cluster and ``work`` are removed on the way out."""
    cluster = LocalCluster(work / "pg")
    try:
        cluster.start()
        url = cluster.url()
        prepare_database(url, Settings.from_env({}))
        yield cluster, url
    finally:
        cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)


def mdr_load(url: str, registry: str, path: Path) -> tuple[dict[str, Any], float]:
    """`mdr load <registry> <path> --json` as its own process, as a steward runs it: its
    summary and the wall-clock seconds (process start included)."""
    env = {**os.environ, "MDR_DATABASE_URL": url}
    started = time.perf_counter()
    run = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "mdr"), "load", registry, str(path),
         "--effective-date", "2026-01-01", "--json"],
        env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        raise SystemExit(f"mdr load {registry} failed:\n{run.stdout}\n{run.stderr}")
    summary: dict[str, Any] = json.loads(run.stdout)
    return summary, seconds
