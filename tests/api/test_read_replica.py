"""MDR_READ_DATABASE_URL: registry reads from the replica; keys and audit records on the primary."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from graphql_api.app import create_app
from loaders.base import Options
from loaders.population import load_population
from loaders.sources.population_layout import SNAPSHOT_FIELDS
from mdr import db
from mdr.cluster import LocalCluster
from mdr.settings import Settings
from tests.api.support import add_client, populated_database
from tests.conftest import create_database, drop_database
from tests.factories import write_csv
from tests.factories.population import person

ONLY_IN_REPLICA = "001080000031"


@pytest.fixture(scope="module")
def databases(cluster: LocalCluster, ref_template: str, settings: Settings,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """(primary URL, replica URL, key): the replica is a copy of the primary that also
    holds one more person; the key exists on the primary only."""
    folder = tmp_path_factory.mktemp("replica")
    primary_name, primary = populated_database(cluster, ref_template, folder, settings)
    replica_name = f"replica_{uuid.uuid4().hex[:8]}"
    replica = create_database(cluster, replica_name, template=primary_name)
    loader = db.make_engine(replica, settings, role=db.Role.LOADER)
    try:
        load_population(loader, write_csv(folder / "only.csv", SNAPSHOT_FIELDS, [
            person(ONLY_IN_REPLICA, given_name="Cường", household_id="HH-9")]),
            Options(dt.date(2026, 1, 1)))
    finally:
        loader.dispose()
    yield primary, replica, add_client(primary, "replica-reader")
    drop_database(cluster, replica_name)
    drop_database(cluster, primary_name)


def _audit_outcome(url: str, reference: str) -> str | None:
    engine = db.make_engine(url, Settings.from_env({}), pool_size=1)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT outcome FROM audit.access_record "
                                     "WHERE reference = CAST(:r AS uuid)"),
                                {"r": reference}).scalar()
    finally:
        engine.dispose()


def test_reads_go_to_the_replica_and_audit_records_to_the_primary(
        databases: tuple[str, str, str]) -> None:
    primary, replica, key = databases
    settings = Settings.from_env({"MDR_DATABASE_URL": primary,
                                  "MDR_READ_DATABASE_URL": replica})
    query = """query($id: String!) {
      verifyPerson(claim: {nationalId: $id, fullName: "Nguyễn Văn Cường"}) {
        found match reference }
      person(nationalId: $id) { name { fullName } } }"""
    with TestClient(create_app(settings)) as client:
        # The key is on the primary only: authentication reads the primary.
        response = client.post("/graphql", json={"query": query,
                                                 "variables": {"id": ONLY_IN_REPLICA}},
                               headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    # The person exists only in the replica: the registry was read there.
    assert data["verifyPerson"]["found"] is True and data["verifyPerson"]["match"] is True
    assert data["person"] == {"name": {"fullName": "Nguyễn Văn Cường"}}
    reference = data["verifyPerson"]["reference"]
    assert _audit_outcome(primary, reference) == "match"
    assert _audit_outcome(replica, reference) is None


def test_without_a_replica_the_primary_answers(databases: tuple[str, str, str]) -> None:
    primary, _, key = databases
    with TestClient(create_app(Settings.from_env({"MDR_DATABASE_URL": primary}))) as client:
        answer = client.post("/graphql", json={
            "query": "query($id: String!) { person(nationalId: $id) { status } }",
            "variables": {"id": ONLY_IN_REPLICA}},
            headers={"Authorization": f"Bearer {key}"}).json()
    assert answer == {"data": {"person": None}}
