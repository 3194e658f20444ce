"""Backups, WAL archiving and point-in-time restore of the embedded cluster, by pgBackRest.

mdr writes pgBackRest's configuration for the cluster (its repository, log and lock
folders under ``var/backup``; nothing system-wide), turns WAL archiving on through
PostgreSQL's ``archive_command``, and drives pgBackRest's own commands: ``backup``,
``info``, ``verify``, ``check`` and ``restore``. The backup and recovery logic is
pgBackRest's and PostgreSQL's; mdr chooses the options and checks the results.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from mdr.cluster import SUPERUSER, ClusterError, LocalCluster, port_is_free

STANZA = "mdr"
COMMAND_TIMEOUT_S = 3600
"""The longest one pgBackRest command may run (a full backup of a large registry)."""
PROMOTION_TIMEOUT_S = 600
"""The longest a restored copy may take to replay WAL up to its target and open."""


def pgbackrest_program() -> str:
    found = shutil.which("pgbackrest")
    if found is None:
        raise ClusterError("pgBackRest is not installed. Run `make system-deps` "
                           "(or `apt-get install pgbackrest`) and try again.")
    return found


def in_utc(moment: dt.datetime) -> dt.datetime:
    """The moment in UTC; a time without a zone is taken as UTC."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def utc_target(moment: dt.datetime) -> str:
    """A recovery target as PostgreSQL reads it."""
    return in_utc(moment).strftime("%Y-%m-%d %H:%M:%S.%f+00")


@dataclass(frozen=True)
class BackupRepository:
    """The pgBackRest repository of one cluster, in a folder of the project."""

    cluster: LocalCluster
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "pgbackrest.conf"

    @property
    def socket_dir(self) -> Path:
        # pgBackRest reaches the server through a Unix socket; the cluster's own folder
        # keeps it private to the server's OS user.
        return self.cluster.root / "socket"

    def _write_config(self) -> None:
        port = self.cluster.configured_port()
        folders = [self.root / name for name in ("repo", "log", "lock")]
        for folder in (self.root, *folders, self.socket_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.config.write_text("\n".join([
            "# written by mdr: pgBackRest for the embedded cluster (see mdr/backup.py)",
            "[global]",
            f"repo1-path={self.root / 'repo'}",
            # Two full backups are kept, with everything they need (incrementals, WAL).
            "repo1-retention-full=2",
            f"log-path={self.root / 'log'}",
            f"lock-path={self.root / 'lock'}",
            "log-level-console=warn",
            "log-level-file=info",
            "start-fast=y",
            "compress-type=lz4",
            "archive-timeout=60",
            "",
            f"[{STANZA}]",
            f"pg1-path={self.cluster.data_dir}",
            f"pg1-port={port}",
            f"pg1-socket-path={self.socket_dir}",
            f"pg1-user={SUPERUSER}",
            "",
        ]))
        self.cluster.give_to_server_user(self.root, *folders, self.socket_dir, self.config)

    def run(self, *args: str, timeout: float = COMMAND_TIMEOUT_S) -> str:
        """One pgBackRest command on this repository, as the server's OS user; its output."""
        result = self.cluster.run_as_server_user(
            [pgbackrest_program(), f"--config={self.config}", f"--stanza={STANZA}", *args],
            timeout=timeout)
        return result.stdout

    def _admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.cluster.conninfo(), autocommit=True)

    def enable_archiving(self) -> bool:
        """Turn WAL archiving into this repository on (restarting the cluster once when it
        was off), create the stanza and check it. True when something had to change."""
        self.cluster.start()
        self._write_config()
        archive_command = (f"{pgbackrest_program()} --config={self.config} "
                           f"--stanza={STANZA} archive-push %p")
        wanted = {"archive_mode": "on", "archive_command": archive_command,
                  "unix_socket_directories": str(self.socket_dir)}
        with self._admin() as conn:
            current = {name: conn.execute("SELECT current_setting(%s)", (name,)).fetchone()
                       for name in wanted}
            current = {name: row[0] if row else None for name, row in current.items()}
            changed = current != wanted
            for name, value in wanted.items():
                if current[name] != value:
                    conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        if changed:
            # archive_mode and the socket take effect only at a restart.
            self.cluster.stop()
            self.cluster.start()
            self.run("stanza-create")
        self.run("check")
        return changed

    def create(self, kind: str = "incr") -> dict[str, Any]:
        """Take a backup (full, diff or incr; an incremental with no full before it is
        taken as full) and return its entry from ``info``."""
        if kind not in ("full", "diff", "incr"):
            raise ClusterError(f"A backup is full, diff or incr, not {kind!r}.")
        self.enable_archiving()
        self.run("backup", f"--type={kind}")
        return self.list()[-1]

    def info(self) -> dict[str, Any]:
        if not self.config.is_file():
            return {}
        stanzas: list[dict[str, Any]] = json.loads(self.run("info", "--output=json"))
        return stanzas[0] if stanzas else {}

    def list(self) -> list[dict[str, Any]]:
        """The backups in the repository, oldest first, with the times they can restore to."""
        backups = []
        for entry in self.info().get("backup", []):
            start, stop = entry["timestamp"]["start"], entry["timestamp"]["stop"]
            backups.append({
                "label": entry["label"], "type": entry["type"],
                "started": dt.datetime.fromtimestamp(start, dt.UTC).isoformat(),
                "finished": dt.datetime.fromtimestamp(stop, dt.UTC).isoformat(),
                "seconds": stop - start,
                "database_bytes": entry["info"]["size"],
                "repository_bytes": entry["info"]["repository"]["size"],
                "wal_start": entry["archive"]["start"], "wal_stop": entry["archive"]["stop"],
                "error": bool(entry.get("error", False)),
            })
        return backups

    def verify(self) -> dict[str, Any]:
        """pgBackRest's verification of every backup and WAL file in the repository."""
        if not self.config.is_file():
            raise ClusterError("There is no backup repository yet: run `mdr backup create`.")
        self._write_config()
        result = self.cluster.run_as_server_user(
            [pgbackrest_program(), f"--config={self.config}", f"--stanza={STANZA}",
             "verify", "--output=text", "--verbose"],
            check=False, timeout=COMMAND_TIMEOUT_S)
        status = self.info().get("status", {})
        return {"ok": result.returncode == 0 and status.get("code") == 0,
                "status": status.get("message"), "report": result.stdout.strip(),
                "errors": result.stderr.strip()}

    def restore(self, to: dt.datetime, data_dir: Path, port: int) -> LocalCluster:
        """Recover a copy of the cluster as it was at ``to`` into ``data_dir`` and start it
        on 127.0.0.1:port for inspection; archiving stays off in the copy, so it never
        writes into this repository."""
        data_dir = data_dir.resolve()
        if data_dir.exists() and any(data_dir.iterdir()):
            raise ClusterError(f"{data_dir} is not empty; a restore needs a new or empty folder.")
        if not port_is_free(port):
            raise ClusterError(f"Port {port} on 127.0.0.1 is in use; choose a free --port.")
        if not self.list():
            raise ClusterError("There is no backup to restore from: run `mdr backup create`.")
        if in_utc(to) > dt.datetime.now(dt.UTC):
            raise ClusterError(f"{to.isoformat()} has not come yet; restore to a past time.")
        if self.cluster.status().running:
            # Recovery stops at the first commit after the target, so one is written now
            # (an empty transaction), and the WAL up to now is archived: any time before
            # now can then be reached.
            with self._admin() as conn:
                conn.execute("SELECT pg_current_xact_id()")
            self._write_config()
            self.run("check")
        copy = LocalCluster(data_dir.parent, bindir=self.cluster._bindir, port=port,
                            data_dir=data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir.chmod(0o700)
        (copy.root / "log").mkdir(exist_ok=True)
        copy.give_to_server_user(data_dir)
        self.run("restore", f"--pg1-path={data_dir}", "--type=time",
                 f"--target={utc_target(to)}", "--target-action=promote",
                 "--archive-mode=off")
        (data_dir / "mdr.conf").write_text(f"# written by mdr: a restored copy\nport = {port}\n")
        # The copy's settings come from the primary; it must not share its socket folder.
        with (data_dir / "postgresql.auto.conf").open("a") as auto:
            auto.write("unix_socket_directories = ''\n")
        copy.give_to_server_user(data_dir / "mdr.conf", data_dir / "postgresql.auto.conf")
        copy.start()
        _wait_for_promotion(copy)
        return copy


def _wait_for_promotion(copy: LocalCluster) -> None:
    deadline = time.monotonic() + PROMOTION_TIMEOUT_S
    while True:
        try:
            with psycopg.connect(copy.conninfo(), autocommit=True) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        except psycopg.OperationalError:
            log = copy.log_file.read_text(errors="replace").strip().splitlines()[-5:]
            raise ClusterError("The restored copy stopped during recovery (is the time "
                               "before the first backup, or after the archived WAL?):\n"
                               + "\n".join(log)) from None
        if row is not None and not row[0]:
            return
        if time.monotonic() > deadline:
            raise ClusterError(f"The restored copy did not finish recovery within "
                               f"{PROMOTION_TIMEOUT_S} s; see {copy.log_file}.")
        time.sleep(0.2)
