"""Streaming read replicas of the primary, made and watched with PostgreSQL's own tools.

``pg_basebackup`` copies the primary and writes the standby's connection settings
(``-R``) while creating a physical replication slot (``-C -S``), so the primary keeps
the WAL a replica has not yet received; the replica is then an embedded cluster of its
own on loopback. mdr keeps a small record of the replicas it made (their port, folder
and slot) under ``var/replicas``; their state and lag come from the servers themselves.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from mdr import db
from mdr.cluster import SUPERUSER, ClusterError, LocalCluster, port_is_free
from mdr.settings import Settings

REPLICATION_TIMEOUT_S = 600
"""The longest a base backup for a new replica may take before mdr gives up."""
CONNECT_TIMEOUT_S = 3
"""A replica or primary that does not answer within this is reported as unreachable."""


@dataclass(frozen=True)
class Replica:
    """A replica mdr made: where it listens, where its data lives, its slot on the primary."""

    name: str
    port: int
    data_dir: str
    slot: str

    def cluster(self, settings: Settings) -> LocalCluster:
        data = Path(self.data_dir)
        return LocalCluster(data.parent, bindir=settings.pg_bindir, port=self.port,
                            data_dir=data)

    def conninfo(self, user: str = SUPERUSER, database: str = "postgres") -> str:
        return (f"host=127.0.0.1 port={self.port} dbname={database} user={user}"
                f" connect_timeout={CONNECT_TIMEOUT_S}")

    def url(self, settings: Settings) -> str:
        """The replica's URL: the primary's database and administrator, at the replica."""
        return make_url(db.primary_url(settings, start=False)) \
            .set(host="127.0.0.1", port=self.port) \
            .render_as_string(hide_password=False)


def _record_file(settings: Settings) -> Path:
    return settings.var_dir / "replicas" / "replicas.json"


def known_replicas(settings: Settings) -> list[Replica]:
    """The replicas mdr made for this project, in the order they were made."""
    with contextlib.suppress(FileNotFoundError):
        return [Replica(**r) for r in json.loads(_record_file(settings).read_text())]
    return []


def _save(settings: Settings, replicas: list[Replica]) -> None:
    path = _record_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(r) for r in replicas], indent=2) + "\n")


def primary_conninfo(settings: Settings, *, start: bool = False) -> str:
    """libpq connection settings of the primary as its administrator (starting the
    embedded cluster, when no database URL is configured, if ``start``)."""
    url = make_url(db.primary_url(settings, start=start))
    parts = {"host": url.host or "127.0.0.1", "port": url.port or 5432,
             "dbname": url.database or "postgres", "user": url.username,
             "password": url.password, "connect_timeout": CONNECT_TIMEOUT_S}
    return " ".join(f"{k}={v}" for k, v in parts.items() if v is not None)


def _slot_name(name: str) -> str:
    return "mdr_" + re.sub(r"[^a-z0-9_]", "_", name.lower())


def create(settings: Settings, port: int, data_dir: Path, name: str | None = None) -> Replica:
    """Make a streaming replica of the primary in ``data_dir``, listening on 127.0.0.1:port,
    and start it. Refuses a used port, a folder that holds something, or a taken name."""
    data_dir = data_dir.resolve()
    name = name or f"replica-{port}"
    replicas = known_replicas(settings)
    if any(r.name == name for r in replicas):
        raise ClusterError(f"A replica named {name!r} exists; remove it first "
                           f"(`mdr replica remove {name}`) or choose another --name.")
    if not port_is_free(port):
        raise ClusterError(f"Port {port} on 127.0.0.1 is in use; choose a free --port.")
    if data_dir.exists() and any(data_dir.iterdir()):
        raise ClusterError(f"{data_dir} is not empty; a replica needs a new or empty folder.")
    replica = Replica(name=name, port=port, data_dir=str(data_dir), slot=_slot_name(name))
    cluster = replica.cluster(settings)
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    (cluster.root / "log").mkdir(exist_ok=True)
    cluster.give_to_server_user(data_dir)
    try:
        cluster.run_as_server_user(
            [str(cluster.bindir / "pg_basebackup"), "--dbname",
             primary_conninfo(settings, start=True),
             "--pgdata", str(data_dir), "--write-recovery-conf", "--create-slot",
             "--slot", replica.slot, "--wal-method", "stream", "--checkpoint", "fast",
             "--no-password"],
            timeout=REPLICATION_TIMEOUT_S)
        # The copy carries the primary's own port setting; the replica listens on its own.
        (data_dir / "mdr.conf").write_text(
            f"# written by mdr: the port of this replica\nport = {port}\n"
            f"cluster_name = '{name}'\n")
        cluster.give_to_server_user(data_dir / "mdr.conf")
        cluster.start()
    except Exception:
        _drop_slot(settings, replica.slot)
        with contextlib.suppress(ClusterError):
            cluster.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        raise
    _save(settings, [*replicas, replica])
    return replica


def _drop_slot(settings: Settings, slot: str) -> None:
    with contextlib.suppress(psycopg.Error), \
            psycopg.connect(primary_conninfo(settings), autocommit=True) as conn:
        conn.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                     "WHERE slot_name = %s AND NOT active", (slot,))


def find(settings: Settings, name: str) -> Replica:
    for replica in known_replicas(settings):
        if name in (replica.name, replica.data_dir, str(replica.port)):
            return replica
    names = ", ".join(r.name for r in known_replicas(settings)) or "none"
    raise ClusterError(f"No replica {name!r} (known: {names}); `mdr replica status` lists them.")


def remove(settings: Settings, name: str) -> Replica:
    """Stop a replica, drop its slot on the primary (so WAL is no longer kept for it)
    and delete its folder."""
    replica = find(settings, name)
    replica.cluster(settings).stop()
    _drop_slot(settings, replica.slot)
    shutil.rmtree(replica.data_dir, ignore_errors=True)
    _save(settings, [r for r in known_replicas(settings) if r.name != replica.name])
    return replica


PRIMARY_VIEW = """
SELECT s.slot_name, s.active, r.state, r.client_addr::text AS client_addr,
       pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint AS replay_lag_bytes,
       pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint AS retained_wal_bytes,
       extract(epoch FROM r.replay_lag)::float8 AS replay_lag_seconds
FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
WHERE s.slot_name = %s
"""

# Seconds behind: none when everything received is replayed; otherwise the age of the
# last transaction replayed (PostgreSQL's usual measure).
REPLICA_VIEW = """
SELECT pg_is_in_recovery() AS in_recovery,
       CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8
       END AS lag_seconds,
       pg_last_xact_replay_timestamp() AS last_replayed_commit
"""


def status(settings: Settings, replica: Replica) -> dict[str, Any]:
    """One replica's state and lag (bytes from the primary's view, seconds from its own)."""
    report: dict[str, Any] = {**asdict(replica), "running": False, "streaming": False,
                              "lag_bytes": None, "lag_seconds": None}
    with contextlib.suppress(psycopg.Error), \
            psycopg.connect(primary_conninfo(settings), autocommit=True) as conn:
        row = conn.execute(PRIMARY_VIEW, (replica.slot,)).fetchone()
        if row is not None:
            _, active, state, _, lag_bytes, retained, _ = row
            report.update(streaming=bool(active) and state == "streaming", state=state,
                          lag_bytes=lag_bytes, retained_wal_bytes=retained)
    user = make_url(db.primary_url(settings, start=False)).username or SUPERUSER
    with contextlib.suppress(psycopg.Error), psycopg.connect(replica.conninfo(user),
                                                           autocommit=True) as conn:
        in_recovery, lag_seconds, last = conn.execute(REPLICA_VIEW).fetchone() or (None,) * 3
        report.update(running=True, read_only=bool(in_recovery), lag_seconds=lag_seconds,
                      last_replayed_commit=last.isoformat() if last else None)
    return report
