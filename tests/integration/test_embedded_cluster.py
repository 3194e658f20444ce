"""The embedded cluster's life cycle through `mdr db`: up, reuse, status, down, the two
ways a start commonly goes wrong (a stale pid file, a port taken by someone else), and
its read replicas going down and up with it."""

import json
import logging
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner, Result

from mdr.cli import app
from mdr.cluster import LocalCluster, free_port
from tests.conftest import eventually


@pytest.fixture
def embedded(run_dir: Path) -> Iterator[tuple[Path, Callable[..., Result]]]:
    var_dir = run_dir / "embedded"

    def mdr(*args: str, **env: str) -> Result:
        return CliRunner().invoke(app, list(args), env={
            "MDR_DATABASE_URL": "", "MDR_VAR_DIR": str(var_dir), "MDR_PG_PORT": "", **env})

    yield var_dir, mdr
    LocalCluster(var_dir / "pg").destroy()


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_life_cycle(embedded: tuple[Path, Callable[..., Result]],
                    caplog: pytest.LogCaptureFixture) -> None:
    var_dir, mdr = embedded
    first = as_json(mdr("db", "up", "--json"))
    assert first["running"] and first["port"]
    assert first["url"].startswith(f"postgresql+psycopg://mdr@127.0.0.1:{first['port']}/")

    again = as_json(mdr("db", "up", "--json"))
    assert again["pid"] == first["pid"], "a second `db up` reuses the running cluster"

    status = as_json(mdr("db", "status", "--json"))
    assert status["running"] and status["revision"] is None and status["current"] is False

    url = mdr("db", "url")
    assert f":{first['port']}/" in url.stdout

    assert mdr("db", "down").exit_code == 0
    assert as_json(mdr("db", "status", "--json"))["running"] is False

    # A pid file left behind by a crash, naming a process that no longer exists.
    dead = subprocess.Popen(["true"])
    dead.wait()
    (var_dir / "pg" / "data" / "postmaster.pid").write_text(f"{dead.pid}\n")
    with caplog.at_level(logging.WARNING):
        restarted = as_json(mdr("db", "up", "--json"))
    assert restarted["running"]
    assert "stale postmaster.pid" in caplog.text
    assert mdr("db", "down").exit_code == 0

    # Another program takes the cluster's port while it is down.
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", restarted["port"]))
        squatter.listen()
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            moved = as_json(mdr("db", "up", "--json"))
        assert moved["running"] and moved["port"] != restarted["port"]
        assert "in use by another program" in caplog.text
        assert mdr("db", "down").exit_code == 0

        # When the port was asked for explicitly, mdr says so instead of moving.
        refused = mdr("db", "up", MDR_PG_PORT=str(restarted["port"]))
        assert refused.exit_code == 1
        assert "in use by another program" in refused.output
        assert "Traceback" not in refused.output


def test_db_commands_refuse_to_manage_an_external_database() -> None:
    result = CliRunner().invoke(app, ["db", "up"],
                                env={"MDR_DATABASE_URL": "postgresql+psycopg://x@127.0.0.1/x"})
    assert result.exit_code == 1
    assert "MDR_DATABASE_URL is set" in result.output


def _server_processes(postmaster: int) -> set[int]:
    """A running server's processes: the postmaster and its children (from /proc)."""
    found = {postmaster}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The fields after the command's name, which is in parentheses: state, ppid...
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == postmaster:
            found.add(int(stat.parent.name))
    return found


def _postgres_alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"postgres" in command:
            alive.add(pid)
    return alive


def _probe_rows(conn: psycopg.Connection[Any]) -> int | None:
    try:
        row = conn.execute("SELECT count(*) FROM probe").fetchone()
    except psycopg.errors.UndefinedTable:
        return None  # not replayed yet
    return int(row[0]) if row else None


def _shows(conninfo: str, rows: int | None) -> Callable[[], bool]:
    """Whether the server at ``conninfo`` shows ``rows`` probe rows (asked each call)."""
    def check() -> bool:
        with psycopg.connect(conninfo) as conn:
            return _probe_rows(conn) == rows
    return check


def test_replicas_go_down_and_up_with_the_cluster(
        embedded: tuple[Path, Callable[..., Result]]) -> None:
    var_dir, mdr = embedded
    replica_dir = var_dir / "replicas" / "r1"
    try:
        primary = as_json(mdr("db", "up", "--json"))
        port = free_port()
        made = mdr("replica", "create", "--port", str(port), "--data-dir", str(replica_dir))
        assert made.exit_code == 0, made.output
        on_primary = f"host=127.0.0.1 port={primary['port']} dbname=mdr user=mdr"
        on_replica = f"host=127.0.0.1 port={port} dbname=mdr user=mdr"

        for _ in range(2):  # down from after `replica create`, then from after `db up`
            replica_pid = LocalCluster(replica_dir.parent, data_dir=replica_dir).status().pid
            assert replica_pid is not None and primary["pid"] is not None
            processes = _server_processes(primary["pid"]) | _server_processes(replica_pid)
            assert len(processes) > 2  # the servers' workers, the walsender and walreceiver

            assert mdr("db", "down").exit_code == 0
            # pg_ctl waits for each postmaster; its workers are gone before it exits.
            assert _postgres_alive(processes) == set()
            [report] = as_json(mdr("replica", "status", "--json"))["replicas"]
            assert (report["running"], report["streaming"]) == (False, False)

            primary = as_json(mdr("db", "up", "--json"))
            [report] = as_json(mdr("replica", "status", "--json"))["replicas"]
            assert report["running"] and report["read_only"]
            eventually(lambda: as_json(mdr("replica", "status", "--json"))
                       ["replicas"][0]["streaming"], "the replica does not stream", 30)
            # What the primary commits now reaches the restarted replica.
            with psycopg.connect(on_primary, autocommit=True) as conn:
                conn.execute("CREATE TABLE IF NOT EXISTS probe (n int)")
                conn.execute("INSERT INTO probe VALUES (1)")
                written = _probe_rows(conn)
            eventually(_shows(on_replica, written), "the replica did not catch up", 30)
    finally:
        mdr("db", "down")
        LocalCluster(replica_dir.parent, data_dir=replica_dir).destroy()
        shutil.rmtree(var_dir / "replicas", ignore_errors=True)
