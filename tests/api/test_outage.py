"""A database that cannot be reached is an outage, not a bug: 503 with a GraphQL error
(UNAVAILABLE) and Retry-After, on either executor, and service resumes by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command as alembic_command
from starlette.testclient import TestClient

from graphql_api.app import create_app
from graphql_api.limits import unavailable
from mdr import db
from mdr.cluster import LocalCluster
from mdr.settings import Settings
from tests.api.support import (
    PERSON_READS,
    add_client,
    database_with_client,
    free_port,
    post_query,
)
from tests.conftest import create_database


def _an_outage(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    errors = response.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["UNAVAILABLE"], errors
    assert "retry" in errors[0]["message"]


@pytest.fixture(scope="module")
def own_cluster(run_dir: Path) -> Iterator[LocalCluster]:
    """A cluster of this module's own, which it may stop."""
    instance = LocalCluster(run_dir / "outage-pg", durable=False)
    instance.start()
    yield instance
    instance.destroy()


def test_with_the_database_stopped_requests_get_503_and_service_resumes(
        own_cluster: LocalCluster) -> None:
    url = create_database(own_cluster, "outage")
    alembic_command.upgrade(db.alembic_config(url), "head")
    with psycopg.connect(own_cluster.conninfo("outage"), autocommit=True) as conn:
        conn.execute("INSERT INTO ref.api_scope (code, name_en) VALUES "
                     "('verify:person', 'Verify persons'), ('read:person', 'Read persons')")
    key = add_client(url, "outage", ["verify:person", "read:person"])
    with TestClient(create_app(Settings.from_env({"MDR_DATABASE_URL": url}))) as client:
        for query, variables in PERSON_READS:
            assert post_query(client, key, query, variables).status_code == 200
        own_cluster.stop()
        try:
            for query, variables in PERSON_READS:
                for accept in (None, "application/graphql-response+json"):
                    _an_outage(post_query(client, key, query, variables, accept))
            # A key the server has not seen yet: refused at authentication, also 503.
            _an_outage(post_query(client, "mdr_unseen", *PERSON_READS[0]))
        finally:
            own_cluster.start()
        deadline = time.monotonic() + 30
        while post_query(client, key, *PERSON_READS[0]).status_code != 200:
            assert time.monotonic() < deadline, "service did not resume"
            time.sleep(0.5)
        assert post_query(client, key, *PERSON_READS[1]).status_code == 200


def test_an_unreachable_read_database_gets_503_from_either_executor(
        cluster: LocalCluster, ref_template: str, settings: Settings,
        tmp_path: Path) -> None:
    # Keys are checked on the primary, which answers; reads go to a replica that does not.
    with database_with_client(cluster, ref_template, tmp_path, settings, "reader") as (url,
                                                                                       key):
        nowhere = f"postgresql+psycopg://mdr@127.0.0.1:{free_port()}/mdr"
        app = create_app(Settings.from_env({"MDR_DATABASE_URL": url,
                                            "MDR_READ_DATABASE_URL": nowhere}))
        with TestClient(app) as client:
            for query, variables in PERSON_READS:
                _an_outage(post_query(client, key, query, variables))


def test_only_errors_of_reaching_the_database_are_outages() -> None:
    assert unavailable(ConnectionRefusedError(111, "refused")) is not None
    wrapped = RuntimeError("lookup failed")
    wrapped.__cause__ = ConnectionResetError()
    assert unavailable(wrapped) is not None
    assert unavailable(ZeroDivisionError()) is None
    assert unavailable(ValueError("connection is closed")) is None
