"""The embedded cluster's life cycle through `mdr db`: up, reuse, status, down, and the
two ways a start commonly goes wrong (a stale pid file, a port taken by someone else)."""

import json
import logging
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from mdr.cli import app
from mdr.cluster import LocalCluster


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
