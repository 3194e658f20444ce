"""What the load benches share: a throwaway cluster at the migration head with the reference
data loaded, removed afterwards whatever happens."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command as alembic_command

from loaders.reference import load_reference
from mdr import db
from mdr.cluster import LocalCluster
from mdr.settings import Settings


@contextmanager
def reference_cluster(work: Path) -> Iterator[tuple[LocalCluster, str]]:
    """(cluster, administrator URL): a new cluster under ``work``, migrated, with the
    reference data; the cluster and ``work`` are removed on the way out."""
    cluster = LocalCluster(work / "pg")
    try:
        cluster.start()
        url = cluster.url()
        alembic_command.upgrade(db.alembic_config(url), "head")
        loader = db.make_engine(url, Settings.from_env({}), role=db.Role.LOADER)
        try:
            load_reference(loader)
        finally:
            loader.dispose()
        yield cluster, url
    finally:
        cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)
