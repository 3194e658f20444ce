"""The API tests' fixtures: a database holding the sample family, clients with keys, the app,
and ``ask`` to post a query with a key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from graphql_api.app import create_app
from graphql_api.auth import create_client, revoke_client
from mdr import db
from mdr.settings import Settings
from tests.api.support import populated_database
from tests.conftest import drop_database


@pytest.fixture(scope="module")
def api_db(cluster: Any, ref_template: str, tmp_path_factory: pytest.TempPathFactory,
           settings: Settings) -> Iterator[tuple[str, dict[str, str]]]:
    """(URL, keys by client name): the sample family, and one client per kind of caller (one
    of them revoked); dropped after the module."""
    name, url = populated_database(cluster, ref_template, tmp_path_factory.mktemp("api"),
                                   settings)
    admin = db.make_engine(url, settings)
    with admin.begin() as conn:
        keys = {"verifier": create_client(conn, "verifier", ["verify:person",
                                                             "verify:enterprise"]),
                "reader": create_client(conn, "reader", ["read:macro"]),
                "dpo": create_client(conn, "dpo", ["audit:read"]),
                "registry-reader": create_client(conn, "registry-reader", ["read:person"]),
                "enterprise-reader": create_client(conn, "enterprise-reader",
                                                   ["read:enterprise"]),
                "revoked": create_client(conn, "revoked", ["verify:person"])}
        revoke_client(conn, "revoked")
    admin.dispose()
    yield url, keys
    drop_database(cluster, name)


@pytest.fixture(scope="module")
def client(api_db: tuple[str, dict[str, str]]) -> Iterator[TestClient]:
    url, _ = api_db
    with TestClient(create_app(Settings.from_env({"MDR_DATABASE_URL": url}))) as test_client:
        yield test_client


@pytest.fixture
def ask(client: TestClient, api_db: tuple[str, dict[str, str]]) -> Callable[..., Any]:
    def post(query: str, key: str = "verifier", **variables: Any) -> Any:
        response = client.post("/graphql", json={"query": query, "variables": variables},
                               headers={"Authorization": f"Bearer {api_db[1][key]}"})
        assert response.status_code == 200, response.text
        return response.json()

    return post
