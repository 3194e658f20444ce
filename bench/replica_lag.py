"""Replica lag during a population load, and the time to back up and restore the result.

Run from the project root: `.venv/bin/python bench/replica_lag.py [--scale N]`. It starts
its own embedded cluster and a streaming replica (`mdr replica create`) under var/,
generates N persons and, while `mdr load population` loads them on the primary, samples
every `--interval` seconds

* the replica's lag in bytes (the primary's WAL position against the replica's replay
  position) and in seconds (the replica's own measure, as `mdr replica status`);
* the time from a commit on the primary to its visibility on the replica (a marker row
  committed, then polled for on the replica);

then the same commit-to-visibility with the primary idle, a full backup through
pgBackRest (`mdr backup create --type full`) against `pg_basebackup` of the same
cluster (PostgreSQL's plain copy, the peer), and a point-in-time restore of that backup
(`mdr backup restore`) up to a running copy. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from fixtures.generator import generate_population  # noqa: E402
from loaders.reference import prepare_database  # noqa: E402
from mdr import db, replica  # noqa: E402
from mdr.backup import BackupRepository  # noqa: E402
from mdr.cluster import LocalCluster, free_port  # noqa: E402
from mdr.settings import Settings  # noqa: E402

VISIBILITY_TIMEOUT_S = 120.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


class Sampler(threading.Thread):
    """Samples lag and commit-to-visibility until told to stop."""

    def __init__(self, primary: str, standby: str, interval: float) -> None:
        super().__init__(daemon=True)
        self.primary, self.standby, self.interval = primary, standby, interval
        self.stop = threading.Event()
        self.lag_bytes: list[float] = []
        self.lag_seconds: list[float] = []
        self.visibility: list[float] = []
        self.timeline: list[dict[str, float]] = []

    def run(self) -> None:
        with psycopg.connect(self.primary, autocommit=True) as primary, \
                psycopg.connect(self.standby, autocommit=True) as standby:
            started = time.monotonic()
            while not self.stop.is_set():
                sample = lag(primary, standby)
                self.lag_bytes.append(sample[0])
                self.lag_seconds.append(sample[1])
                seen = visibility(primary, standby)
                self.visibility.append(seen)
                self.timeline.append({"t": round(time.monotonic() - started, 1),
                                      "lag_bytes": sample[0], "lag_seconds": sample[1],
                                      "visible_after_s": round(seen, 4)})
                self.stop.wait(self.interval)


def lag(primary: psycopg.Connection[Any], standby: psycopg.Connection[Any]
        ) -> tuple[float, float]:
    row = primary.execute(
        "SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 0)::float8 "
        "FROM pg_stat_replication").fetchone()
    behind = standby.execute(replica.REPLICA_VIEW).fetchone()
    return float(row[0] if row else 0.0), float(behind[1] if behind and behind[1] else 0.0)


def visibility(primary: psycopg.Connection[Any], standby: psycopg.Connection[Any]) -> float:
    """Seconds from a marker's commit on the primary until the replica shows it."""
    marker = primary.execute("INSERT INTO bench_marker DEFAULT VALUES RETURNING id"
                             ).fetchone()[0]  # type: ignore[index]
    committed = time.perf_counter()
    while standby.execute("SELECT 1 FROM bench_marker WHERE id = %s", (marker,)
                          ).fetchone() is None:
        if time.perf_counter() - committed > VISIBILITY_TIMEOUT_S:
            raise SystemExit("the replica did not show a committed row within "
                             f"{VISIBILITY_TIMEOUT_S} s")
        time.sleep(0.001)
    return time.perf_counter() - committed


def summary(values: list[float], digits: int = 4) -> dict[str, float]:
    return {"max": round(max(values, default=0.0), digits),
            "p99": round(percentile(values, 0.99), digits),
            "p50": round(percentile(values, 0.50), digits)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=1_000_000, help="persons to load")
    parser.add_argument("--interval", type=float, default=0.25,
                        help="seconds between samples during the load")
    args = parser.parse_args()
    work = ROOT / "var" / f"bench-replica-lag-{os.getpid()}"
    settings = Settings.from_env({"MDR_VAR_DIR": str(work),
                                  "MDR_PSEUDONYM_KEY_FILE": str(work / "pseudonym.key")})
    cluster = db.embedded_cluster(settings)
    standby: replica.Replica | None = None
    copy: LocalCluster | None = None
    try:
        cluster.start()
        prepare_database(cluster.url(), settings)
        primary = cluster.conninfo(database="mdr")
        with psycopg.connect(primary, autocommit=True) as conn:
            conn.execute("CREATE TABLE bench_marker (id bigint GENERATED ALWAYS AS IDENTITY "
                         "PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())")
        generated = generate_population(work / "data", args.scale, seed=1)
        standby = replica.create(settings, free_port(), work / "replica")
        on_replica = standby.conninfo(database="mdr")

        sampler = Sampler(primary, on_replica, args.interval)
        sampler.start()
        env = {**os.environ, "MDR_VAR_DIR": str(work),
               "MDR_PSEUDONYM_KEY_FILE": str(work / "pseudonym.key")}
        env.pop("MDR_DATABASE_URL", None)
        started = time.perf_counter()
        run = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "mdr"), "load", "population",
             str(work / "data" / "persons.csv"), "--effective-date", "2026-01-01", "--json"],
            env=env, capture_output=True, text=True, check=False)
        load_seconds = time.perf_counter() - started
        if run.returncode != 0:
            raise SystemExit(f"mdr load population failed:\n{run.stderr}")
        loaded = json.loads(run.stdout)
        # The replica's catching up after the load's last commit belongs to the figure.
        with psycopg.connect(primary, autocommit=True) as p, \
                psycopg.connect(on_replica, autocommit=True) as r:
            caught_up = visibility(p, r)
            sampler.stop.set()
            sampler.join()
            idle = [visibility(p, r) for _ in range(20)]

        backups = BackupRepository(cluster, work / "backup")
        backups.enable_archiving()  # one restart; not part of a backup's time
        started = time.perf_counter()
        backup = backups.create("full")
        backup_seconds = time.perf_counter() - started
        peer_dir = work / "basebackup"
        peer_dir.mkdir(mode=0o700)
        cluster.give_to_server_user(peer_dir)
        started = time.perf_counter()
        cluster.run_as_server_user(
            [str(cluster.bindir / "pg_basebackup"), "--dbname", cluster.conninfo(),
             "--pgdata", str(peer_dir), "--wal-method", "stream", "--checkpoint", "fast"])
        basebackup_seconds = time.perf_counter() - started
        shutil.rmtree(peer_dir, ignore_errors=True)
        # pgBackRest keeps a backup's stop time in whole seconds and restores only from a
        # backup that stopped before the target: the target must not share its second.
        time.sleep(1.1)
        with psycopg.connect(primary) as conn:
            moment = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        started = time.perf_counter()
        copy = backups.restore(moment, work / "restored" / "data", free_port())
        restore_seconds = time.perf_counter() - started
        with psycopg.connect(copy.conninfo(database="mdr")) as conn:
            restored_persons = conn.execute("SELECT count(*) FROM population.person"
                                            ).fetchone()[0]  # type: ignore[index]

        loaded_p99 = percentile(sampler.visibility, 0.99)
        print(json.dumps({
            "bench": "replica_lag",
            "scale": args.scale,
            "figures": {
                "generate_seconds": round(generated.seconds, 2),
                "load_seconds": round(load_seconds, 2),
                "load_summary": {k: loaded[k] for k in ("inserted", "rejected", "status")},
                "samples": len(sampler.lag_bytes),
                "lag_bytes": summary(sampler.lag_bytes, 0),
                "lag_seconds": summary(sampler.lag_seconds, 3),
                "commit_to_visible_seconds_under_load": summary(sampler.visibility),
                "commit_to_visible_seconds_after_load": round(caught_up, 4),
                "commit_to_visible_seconds_idle": summary(idle),
                "backup_full_seconds": round(backup_seconds, 2),
                "backup_database_mb": round(backup["database_bytes"] / 1e6, 1),
                "backup_stored_mb": round(backup["repository_bytes"] / 1e6, 1),
                "pg_basebackup_seconds": round(basebackup_seconds, 2),
                "restore_seconds": round(restore_seconds, 2),
                "restored_persons": restored_persons,
                "lag_over_time": sampler.timeline[:: max(1, len(sampler.timeline) // 40)],
            },
            "ratios": {
                "backup_vs_pg_basebackup": round(basebackup_seconds / backup_seconds, 3),
                "restore_vs_pg_basebackup": round(basebackup_seconds / restore_seconds, 3),
                "visible_idle_vs_under_load": round(
                    statistics.median(idle) / loaded_p99, 3) if loaded_p99 else 1.0,
            },
        }, default=str))
    finally:
        if copy is not None:
            copy.stop()
        if standby is not None:
            replica.remove(settings, standby.name)
        cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
