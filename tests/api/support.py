"""Helpers for API tests: a database with a small population, API clients, a real `mdr serve`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx
from starlette.testclient import TestClient

from graphql_api.app import create_app
from graphql_api.auth import create_client
from mdr import db
from mdr.cluster import LocalCluster
from mdr.settings import PROJECT_ROOT, Settings
from tests.conftest import create_database, drop_database
from tests.factories import Seed
from tests.factories.enterprise import ENTERPRISE_SAMPLE
from tests.factories.population import POPULATION_FAMILY

ALL_SCOPES = ("verify:person", "read:person", "audit:read", "verify:enterprise",
              "read:enterprise", "read:enterprise-public")

VERIFY = """query($claim: PersonClaim!, $asOf: Date) {
  verifyPerson(claim: $claim, asOf: $asOf) {
    nationalId found match status reference fields { field match } } }"""
BATCH = """query($claims: [PersonClaim!]!) {
  verifyPersons(claims: $claims) { nationalId found match status reference } }"""
DEFAULT_SEEDS: tuple[Seed, ...] = (POPULATION_FAMILY, ENTERPRISE_SAMPLE)
"""What a populated database holds unless a test names its seeds."""


def populated_database(cluster: LocalCluster, template: str, folder: Path,
                       settings: Settings,
                       seeds: Sequence[Seed] = DEFAULT_SEEDS) -> tuple[str, str]:
    """A fresh database (name, URL) cloned from ``template`` holding each seed's sample, loaded
    in order; by default the four-person family of the load tests, one of whom dies on
    2026-03-01, and two enterprises they represent and own (tests.factories.enterprise)."""
    name = f"api_{uuid.uuid4().hex[:8]}"
    url = create_database(cluster, name, template=template)
    loader = db.make_engine(url, settings, role=db.Role.LOADER)
    try:
        for seed in seeds:
            seed(loader, folder)
    finally:
        loader.dispose()
    return name, url


@contextmanager
def database_with_client(cluster: LocalCluster, template: str, folder: Path,
                         settings: Settings, client: str,
                         seeds: Sequence[Seed] = DEFAULT_SEEDS) -> Iterator[tuple[str, str]]:
    """(URL, key): a populated database with one client holding every scope, dropped after."""
    name, url = populated_database(cluster, template, folder, settings, seeds)
    try:
        yield url, add_client(url, client)
    finally:
        drop_database(cluster, name)


def nodes(connection: dict[str, Any]) -> list[Any]:
    """The nodes of a connection's page."""
    return [edge["node"] for edge in connection["edges"]]


def add_client(url: str, name: str, scopes: Sequence[str] = ALL_SCOPES) -> str:
    """Registers an API client in the database at ``url``; returns its key."""
    admin = db.make_engine(url, Settings.from_env({}), pool_size=1)
    try:
        with admin.begin() as conn:
            return create_client(conn, name, list(scopes))
    finally:
        admin.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(url: str, env: Mapping[str, str] | None = None,
           timeout: float = 30.0) -> Iterator[str]:
    """`mdr serve` (real uvicorn) on a free loopback port against ``url``; yields the
    /graphql address and stops the server afterwards."""
    port = free_port()
    environment = {**os.environ, "MDR_DATABASE_URL": url, **(env or {})}
    mdr = Path(sys.executable).with_name("mdr")
    address = f"http://127.0.0.1:{port}/graphql"
    # The server's log goes to a file: a pipe nobody reads could fill up and stall it.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [str(mdr), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=environment, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=log)
        try:
            _wait_until_up(process, address, log, timeout)
            yield address
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(process: subprocess.Popen[bytes], address: str, log: IO[bytes],
                   timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"mdr serve exited with {process.returncode}: "
                               f"{log.read().decode(errors='replace')}")
        try:
            # Any answer (401 without a key) means the server is up.
            httpx.post(address, json={"query": "{ __typename }"}, timeout=2)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"mdr serve did not answer within {timeout} s") from None
            time.sleep(0.2)


@contextmanager
def production_app(url: str) -> Iterator[TestClient]:
    """The application in its production configuration against ``url``, with the request
    limiter in the path (at a rate far above what the tests send), as in production."""
    settings = Settings.from_env({"MDR_DATABASE_URL": url, "MDR_API_RATE_LIMIT": "1000"})
    with TestClient(create_app(settings)) as client:
        yield client


def poster(client: TestClient, key: str) -> Callable[..., Any]:
    """``send(query, status=200, **variables)``: POST a query with the key, check the HTTP
    status, return the decoded answer."""
    def send(query: str, status: int = 200, **variables: Any) -> Any:
        response = client.post("/graphql", json={"query": query, "variables": variables},
                               headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == status, response.text
        return response.json()

    return send


def post_query(client: TestClient, key: str, query: str, variables: dict[str, Any],
               accept: str | None = None) -> Any:
    """The response to a query POSTed with the key (and ``accept`` as the Accept header)."""
    return client.post("/graphql", json={"query": query, "variables": variables},
                       headers={"Authorization": f"Bearer {key}",
                                **({"Accept": accept} if accept else {})})


PERSON_READS: list[tuple[str, dict[str, Any]]] = [
    ("""query($claim: PersonClaim!) { verifyPerson(claim: $claim) { found match } }""",
     {"claim": {"nationalId": "001182000002", "fullName": "Trần Thị Hoà"}}),
    ("""query($id: String!) { person(nationalId: $id) { status } }""",
     {"id": "001182000002"})]
"""A verification, which the compiled hot path answers, and a look-up, which the general
executor answers, of a person of the sample."""
