"""A primary and a streaming replica on loopback: a committed load shows on the replica,
the replica refuses writes, reports its lag, and the API reads from it (audit records go
to the primary) while it is within its bound, and otherwise fails fast or falls back."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from graphql_api.app import create_app
from loaders.reference import prepare_database
from mdr import replica
from mdr.cli import app as cli
from mdr.cluster import LocalCluster, free_port
from mdr.settings import Settings
from tests.api.support import add_client
from tests.conftest import create_database, eventually
from tests.factories.population import FAMILY, load_snapshot, person

LATER = "001080000031"
QUERY = """query($id: String!) { person(nationalId: $id) { name { fullName } } }"""


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg", "postgresql")


@pytest.fixture(scope="module")
def primary(run_dir: Path, settings: Settings) -> Iterator[tuple[LocalCluster, str]]:
    """A cluster of this module's own (the replica copies all of it), migrated, with the
    reference data and an API client."""
    instance = LocalCluster(run_dir / "replicated-pg", durable=False)
    instance.start()
    url = create_database(instance, "registry")
    prepare_database(url, settings)
    yield instance, url
    instance.destroy()


@pytest.fixture(scope="module")
def ops_settings(primary: tuple[LocalCluster, str], run_dir: Path) -> Settings:
    return Settings.from_env({"MDR_DATABASE_URL": primary[1],
                              "MDR_VAR_DIR": str(run_dir / "replicated-var")})


@pytest.fixture(scope="module")
def standby(ops_settings: Settings, run_dir: Path) -> Iterator[replica.Replica]:
    made = replica.create(ops_settings, free_port(), run_dir / "replicated-var" / "r1")
    yield made
    replica.remove(ops_settings, made.name)


def _persons(conninfo: str) -> int:
    with psycopg.connect(conninfo) as conn:
        return int(conn.execute("SELECT count(*) FROM population.person").fetchone()[0])  # type: ignore[index]


def _eventually(check: Callable[[], bool]) -> None:
    eventually(check, "the replica did not catch up")


def _status(settings: Settings) -> dict[str, Any]:
    env = {"MDR_DATABASE_URL": settings.database_url or "", "MDR_VAR_DIR": str(settings.var_dir)}
    result = CliRunner().invoke(cli, ["replica", "status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    reports: list[dict[str, Any]] = json.loads(result.stdout)["replicas"]
    assert len(reports) == 1
    return reports[0]


def test_a_committed_load_shows_on_the_replica_which_refuses_writes(
        primary: tuple[LocalCluster, str], standby: replica.Replica, tmp_path: Path) -> None:
    _, url = primary
    on_replica = standby.conninfo(database="registry")
    load_snapshot(url, tmp_path, "family.csv", FAMILY)
    _eventually(lambda: _persons(on_replica) == len(FAMILY))
    with psycopg.connect(on_replica) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("DELETE FROM population.person")


def test_status_reports_streaming_and_lag(ops_settings: Settings, standby: replica.Replica,
                                          primary: tuple[LocalCluster, str],
                                          tmp_path: Path) -> None:
    report = _status(ops_settings)
    assert report["name"] == standby.name and report["streaming"] is True
    assert report["read_only"] is True
    # Replay paused: the replica receives the next load but does not apply it.
    with psycopg.connect(standby.conninfo(), autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
        try:
            load_snapshot(primary[1], tmp_path, "p.csv",
                          [person("001080000041", household_id="HH-8")])
            _eventually(lambda: (_status(ops_settings)["lag_bytes"] or 0) > 0)
            behind = _status(ops_settings)
            assert behind["lag_seconds"] is not None and behind["lag_seconds"] >= 0
        finally:
            conn.execute("SELECT pg_wal_replay_resume()")
    _eventually(lambda: _status(ops_settings)["lag_bytes"] == 0)
    assert _status(ops_settings)["lag_seconds"] == 0


def _ask(client: TestClient, key: str, national_id: str) -> Any:
    return client.post("/graphql", json={"query": QUERY, "variables": {"id": national_id}},
                       headers={"Authorization": f"Bearer {key}"})


def test_the_api_reads_from_the_replica_within_its_bound(
        primary: tuple[LocalCluster, str], standby: replica.Replica, tmp_path: Path) -> None:
    _, url = primary
    key = add_client(url, "replica-reader")
    replica_url = standby.url(Settings.from_env({"MDR_DATABASE_URL": url}))
    bounded = {"MDR_DATABASE_URL": url, "MDR_READ_DATABASE_URL": replica_url,
               "MDR_READ_MAX_LAG_SECONDS": "1"}
    _eventually(lambda: _persons(standby.conninfo(database="registry"))
                == _persons(_libpq(url)))
    with psycopg.connect(standby.conninfo(), autocommit=True) as paused:
        paused.execute("SELECT pg_wal_replay_pause()")
        try:
            load_snapshot(url, tmp_path, "later.csv",
                          [person(LATER, given_name="Cường", household_id="HH-9")])
            time.sleep(1.5)  # the replica is now more than a second behind
            with TestClient(create_app(Settings.from_env(bounded))) as client:
                started = time.monotonic()
                refused = _ask(client, key, LATER)
                assert time.monotonic() - started < 3
            assert refused.status_code == 503
            assert "behind the primary" in refused.json()["errors"][0]["message"]
            with TestClient(create_app(Settings.from_env(
                    {**bounded, "MDR_READ_FALLBACK": "1"}))) as client:
                # Falling back, the primary answers, with the person the replica lacks.
                assert _ask(client, key, LATER).json()["data"]["person"] is not None
            with TestClient(create_app(Settings.from_env(
                    {**bounded, "MDR_READ_MAX_LAG_SECONDS": "3600"}))) as client:
                # Within a generous bound the replica answers: it lacks the person yet.
                answer = _ask(client, key, LATER)
            assert answer.status_code == 200 and answer.json()["data"]["person"] is None
        finally:
            paused.execute("SELECT pg_wal_replay_resume()")
    _eventually(lambda: _persons(standby.conninfo(database="registry"))
                == _persons(_libpq(url)))
    with TestClient(create_app(Settings.from_env(bounded))) as client:
        verified = client.post("/graphql", json={"query": """query($id: String!) {
            verifyPerson(claim: {nationalId: $id, fullName: "Nguyễn Văn Cường"}) {
              match reference } }""", "variables": {"id": LATER}},
            headers={"Authorization": f"Bearer {key}"}).json()["data"]["verifyPerson"]
    assert verified["match"] is True
    # The audit record is written on the primary (and reaches the replica by streaming).
    with psycopg.connect(_libpq(url)) as conn:
        assert conn.execute("SELECT outcome FROM audit.access_record WHERE reference = %s",
                            (verified["reference"],)).fetchone() == ("match",)


def test_a_replica_that_is_down_fails_fast_or_falls_back(
        primary: tuple[LocalCluster, str], ops_settings: Settings,
        standby: replica.Replica) -> None:
    _, url = primary
    key = add_client(url, "replica-down")
    replica_url = standby.url(ops_settings)
    standby.cluster(ops_settings).stop()
    try:
        env = {"MDR_DATABASE_URL": url, "MDR_READ_DATABASE_URL": replica_url,
               "MDR_READ_MAX_LAG_SECONDS": "5"}
        with TestClient(create_app(Settings.from_env(env))) as client:
            started = time.monotonic()
            refused = _ask(client, key, FAMILY[0]["national_id"])
            assert time.monotonic() - started < 3
        assert refused.status_code == 503
        assert "cannot be reached" in refused.json()["errors"][0]["message"]
        with TestClient(create_app(Settings.from_env({**env, "MDR_READ_FALLBACK": "1"}))
                        ) as client:
            answer = _ask(client, key, FAMILY[0]["national_id"])
        assert answer.status_code == 200 and answer.json()["data"]["person"] is not None
        assert _status(ops_settings)["running"] is False
    finally:
        standby.cluster(ops_settings).start()
