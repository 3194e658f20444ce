"""The README's GraphiQL walk-through works as written: its set-up, its page, its queries."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from graphql_api.app import create_app
from graphql_api.auth import create_client
from loaders.base import Options
from loaders.population import load_population
from mdr import db
from mdr.cluster import LocalCluster
from mdr.settings import PROJECT_ROOT, Settings

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```graphql\n(.*?)```", README, flags=re.DOTALL)
SAMPLE = re.search(r"mdr load population (fixtures/\S+) --effective-date (\S+)", README)
SCOPES = re.search(r"mdr clients add explorer --scopes (\S+)", README)


def first_field(query: str) -> str:
    """The query's first top-level field: what the example shows."""
    found = re.search(r"\{\s*(\w+)", query)
    assert found, query
    return found[1]


@pytest.fixture(scope="module")
def explorer(cluster: LocalCluster, ref_template: str, settings: Settings
             ) -> Iterator[tuple[TestClient, str]]:
    """The README's set-up: the sample family loaded, a client with its scopes, dev mode."""
    from tests.conftest import create_database, drop_database

    assert SAMPLE and SCOPES, "the README no longer shows how to load the sample or add a key"
    url = create_database(cluster, "readme_examples", template=ref_template)
    loader = db.make_engine(url, settings, role=db.Role.LOADER)
    load_population(loader, PROJECT_ROOT / SAMPLE[1],
                    Options(dt.date.fromisoformat(SAMPLE[2])))
    loader.dispose()
    admin = db.make_engine(url, settings)
    with admin.begin() as conn:
        key = create_client(conn, "explorer", SCOPES[1].split(","))
    admin.dispose()
    app = create_app(Settings.from_env({"MDR_DATABASE_URL": url, "MDR_API_DEV": "1"}))
    with TestClient(app) as client:
        yield client, key
    drop_database(cluster, "readme_examples")


def test_graphiql_page_loads_without_a_key_in_development_mode(
        explorer: tuple[TestClient, str]) -> None:
    client, _ = explorer
    page = client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    # The page is all a missing key gets: queries still need one.
    assert client.get("/graphql?query={__typename}").status_code == 401


def test_the_page_is_not_served_outside_development_mode(client: TestClient) -> None:
    assert client.get("/graphql", headers={"Accept": "text/html"}).status_code == 401


@pytest.mark.parametrize("query", EXAMPLES,
                         ids=[first_field(q) for q in EXAMPLES])
def test_each_readme_example_answers_with_data(explorer: tuple[TestClient, str],
                                               query: str) -> None:
    client, key = explorer
    answer = client.post("/graphql", json={"query": query},
                         headers={"Authorization": f"Bearer {key}"}).json()
    assert "errors" not in answer, answer
    assert all(answer["data"].values()), answer


def test_the_readme_shows_every_query() -> None:
    shown = {first_field(q) for q in EXAMPLES}
    assert shown >= {"verifyPerson", "verifyPersons", "person", "adminUnits", "successors",
                     "unitAt", "accessLog", "codeList"}
