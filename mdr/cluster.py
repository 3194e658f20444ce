"""The embedded local PostgreSQL cluster used when no database URL is configured.

It lives under ``var/pg`` (data, log, settings), listens on 127.0.0.1 only, and
trusts loopback connections: it is a private development and demo cluster,
not a production server. PostgreSQL refuses to run as root, so when mdr runs
as root the server runs as an unprivileged OS user (``postgres`` when the
packages created it, otherwise ``mdr-pg``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import re
import shutil
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

SUPERUSER = "mdr"
DATABASE = "mdr"
FALLBACK_OS_USER = "mdr-pg"


class ClusterError(RuntimeError):
    """A problem with the embedded cluster, worded for the person at the terminal."""


@dataclass(frozen=True)
class ClusterStatus:
    """What ``mdr db status`` reports."""

    data_dir: str
    initialised: bool
    running: bool
    port: int | None
    pid: int | None
    version: str | None

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def find_bindir(configured: Path | None = None) -> Path:
    """Locate the PostgreSQL server binaries: setting, pg_config, then Debian's layout."""
    candidates: list[Path] = []
    if configured is not None:
        candidates.append(configured)
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run(
                [pg_config, "--bindir"], check=True, capture_output=True, text=True
            ).stdout.strip()
            candidates.append(Path(out))
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(debian)
    for path in candidates:
        if (path / "postgres").is_file() and (path / "initdb").is_file():
            return path
    raise ClusterError(
        "PostgreSQL server binaries were not found (looked at MDR_PG_BINDIR, pg_config "
        "and /usr/lib/postgresql/*/bin). Install them with `make system-deps` "
        "(or `apt-get install postgresql postgis`), or set MDR_PG_BINDIR."
    )


def port_is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalCluster:
    """A PostgreSQL cluster in a folder of the project, managed with pg_ctl."""

    def __init__(
        self,
        root: Path,
        *,
        bindir: Path | None = None,
        port: int | None = None,
        durable: bool = True,
        data_dir: Path | None = None,
    ) -> None:
        self.root = root
        # A replica or a restored copy lives in the data folder its operator chose.
        self.data_dir = data_dir or root / "data"
        self.log_file = root / "log" / f"{self.data_dir.name}.log" if data_dir \
            else root / "log" / "postgres.log"
        self._bindir = bindir
        self._requested_port = port
        # Test clusters trade crash safety for speed; the dev cluster keeps it.
        self.durable = durable

    # -- binaries and OS user ------------------------------------------------------------

    @property
    def bindir(self) -> Path:
        if self._bindir is None or not (self._bindir / "postgres").is_file():
            self._bindir = find_bindir(self._bindir)
        return self._bindir

    def _os_user(self) -> pwd.struct_passwd | None:
        """The unprivileged account the server runs as, or None when we are not root."""
        if os.geteuid() != 0:
            return None
        for name in ("postgres", FALLBACK_OS_USER):
            with contextlib.suppress(KeyError):
                return pwd.getpwnam(name)
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             FALLBACK_OS_USER],
            check=True, capture_output=True,
        )
        return pwd.getpwnam(FALLBACK_OS_USER)

    def _run(self, args: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program as the server's OS user."""
        return self.run_as_server_user([str(self.bindir / args[0]), *args[1:]], check=check)

    def run_as_server_user(self, args: Sequence[str], *, check: bool = True,
                           timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        """Run a program (PostgreSQL's, or a tool that reads its files) as the server's OS
        user, without the caller's PG* variables; a failure raises ClusterError."""
        user = self._os_user()
        kwargs: dict[str, object] = {}
        if user is not None:
            kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C.UTF-8"
        try:
            result: subprocess.CompletedProcess[str] = subprocess.run(
                list(args), cwd=self.root, env=env, capture_output=True, text=True,
                timeout=timeout, **kwargs,  # type: ignore[call-overload]
            )
        except subprocess.TimeoutExpired:
            raise ClusterError(f"{Path(args[0]).name} did not finish within {timeout:.0f} s."
                               ) from None
        if check and result.returncode != 0:
            raise ClusterError(
                f"{Path(args[0]).name} failed (exit {result.returncode}):\n"
                f"{(result.stderr or result.stdout).strip()}\nServer log: {self.log_file}"
            )
        return result

    def give_to_server_user(self, *paths: Path) -> None:
        """Hand the folders (and any file mdr wrote) to the server's OS user.

        The data folder's contents are created by the server itself, so only what
        mdr creates as root needs handing over; no walk over the data.
        """
        user = self._os_user()
        if user is None:
            return
        for path in (self.root, self.root / "log", *paths):
            with contextlib.suppress(FileNotFoundError):
                os.lchown(path, user.pw_uid, user.pw_gid)
        # The server must be able to reach its folder through every parent.
        for parent in self.root.parents:
            if not os.stat(parent).st_mode & 0o001:
                raise ClusterError(
                    f"The server runs as OS user {user.pw_name!r}, which cannot enter "
                    f"{parent}. Move the project to a readable place or set MDR_VAR_DIR "
                    "to a folder it can reach."
                )

    # -- state ---------------------------------------------------------------------------

    @property
    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    @property
    def _port_file(self) -> Path:
        return self.data_dir / "mdr.conf"

    def configured_port(self) -> int | None:
        with contextlib.suppress(FileNotFoundError):
            match = re.search(r"^port\s*=\s*(\d+)", self._port_file.read_text(), re.M)
            if match:
                return int(match.group(1))
        return None

    def _write_port(self, port: int) -> None:
        self._port_file.write_text(f"# written by mdr: the port of this cluster\nport = {port}\n")
        self.give_to_server_user(self._port_file)

    def _pid(self) -> int | None:
        """The postmaster's pid if one is really running for this data folder."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            first = pid_file.read_text().splitlines()[0]
            pid = int(first)
        except (FileNotFoundError, IndexError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            cmdline = []
        if cmdline and cmdline[0].endswith(b"postgres"):
            return pid
        # A pid file whose process is gone (or was reused by another program) is stale:
        # removing it lets the server start instead of refusing.
        log.warning("Removed a stale postmaster.pid (process %d is not this cluster's server).",
                    pid)
        pid_file.unlink()
        return None

    def version(self) -> str:
        out = subprocess.run([str(self.bindir / "postgres"), "--version"],
                             capture_output=True, text=True, check=True).stdout
        return out.strip()

    def status(self) -> ClusterStatus:
        pid = self._pid() if self.initialised else None
        return ClusterStatus(
            data_dir=str(self.data_dir),
            initialised=self.initialised,
            running=pid is not None,
            port=self.configured_port(),
            pid=pid,
            version=self.version() if self.initialised else None,
        )

    # -- life cycle ----------------------------------------------------------------------

    def init(self) -> None:
        """Create the data folder with initdb (once)."""
        if self.initialised:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "log").mkdir(exist_ok=True)
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise ClusterError(
                f"{self.data_dir} exists but holds no PostgreSQL cluster. Remove it "
                "(it is not a database mdr made) and run the command again."
            )
        self.give_to_server_user()
        log.info("Creating the embedded PostgreSQL cluster in %s", self.data_dir)
        self._run(["initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust",
                   "-E", "UTF8", "--locale=C.UTF-8"])
        settings = [
            "",
            "# mdr: a private cluster on loopback only",
            "listen_addresses = '127.0.0.1'",
            "unix_socket_directories = ''",
            "shared_buffers = 256MB",
            "max_connections = 200",
            "wal_level = replica",
            "max_wal_senders = 10",
            "logging_collector = off",
        ]
        if not self.durable:
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        settings.append("include_if_exists = 'mdr.conf'")
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n".join(settings) + "\n")
        self._write_port(self._requested_port or free_port())

    def start(self) -> ClusterStatus:
        """Start the cluster (initialising it first); a running cluster is reused."""
        self.init()
        if self._pid() is not None:
            return self.status()
        port = self.configured_port() or free_port()
        if self._requested_port is not None and self._requested_port != port:
            port = self._requested_port
        if not port_is_free(port):
            if self._requested_port is not None:
                raise ClusterError(
                    f"Port {port} on 127.0.0.1 is in use by another program. Stop that "
                    "program, or set MDR_PG_PORT to a free port (or unset it to let mdr pick)."
                )
            new_port = free_port()
            log.warning("Port %d is in use by another program; the cluster moves to port %d.",
                        port, new_port)
            port = new_port
        if port != self.configured_port():
            self._write_port(port)
        self.give_to_server_user()
        self._run(["pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file),
                   "-w", "-t", "60", "start"])
        self._ensure_database()
        return self.status()

    def stop(self) -> None:
        """Stop the cluster if it runs (fast shutdown: open sessions are rolled back)."""
        if not self.initialised or self._pid() is None:
            return
        self._run(["pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60", "stop"])

    def destroy(self) -> None:
        """Stop and delete the cluster's folder (tests use this)."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- connecting ----------------------------------------------------------------------

    def url(self, database: str = DATABASE, user: str = SUPERUSER,
            driver: str = "psycopg") -> str:
        port = self.configured_port()
        if port is None:
            raise ClusterError("The embedded cluster has not been created yet: run `mdr db up`.")
        return f"postgresql+{driver}://{user}@127.0.0.1:{port}/{database}"

    def conninfo(self, database: str = "postgres", user: str = SUPERUSER) -> str:
        return f"host=127.0.0.1 port={self.configured_port()} dbname={database} user={user}"

    def _ensure_database(self) -> None:
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (DATABASE,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
            if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'"
                            ).fetchone() is None:
                major = self.version().split()[-1].split(".")[0]
                raise ClusterError(
                    f"PostGIS is not installed for PostgreSQL {major}. Run `make system-deps` "
                    f"(or `apt-get install postgresql-{major}-postgis-3`) and try again."
                )

