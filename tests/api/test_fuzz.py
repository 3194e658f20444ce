"""Fuzzing the production schema's resolvers with schemathesis (GraphQL mode, in-process).

Introspection is refused outside development mode, so schemathesis gets the schema
as SDL from the code, and the application under test is the production one. The
run is bounded (a fixed number of examples per query field, derandomised), and
every generated request, valid or not, must be answered without a server error:
no 5xx and no masked unexpected error.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi as schemathesis_asgi
from starlette.types import ASGIApp

from graphql_api.app import create_app
from graphql_api.schema import build_schema
from mdr.cluster import LocalCluster
from mdr.settings import Settings
from tests.api.support import add_client, populated_database
from tests.conftest import drop_database

# Examples per query field: valid queries reach the resolvers, invalid ones stop at
# validation, so most of the budget goes to the valid ones.
EXAMPLES = {GenerationMode.POSITIVE: 75, GenerationMode.NEGATIVE: 25}


@pytest.fixture(scope="module")
def api(cluster: LocalCluster, ref_template: str, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[tuple[ASGIApp, str]]:
    settings = Settings.from_env({})
    name, url = populated_database(cluster, ref_template, tmp_path_factory.mktemp("fuzz"),
                                   settings)
    # Every scope, so that refusals for scope do not hide what the resolvers do.
    key = add_client(url, "fuzzer")
    yield create_app(Settings.from_env({"MDR_DATABASE_URL": url})), key
    schemathesis_asgi.shutdown_lifespans()  # the app's engines, before its database goes
    drop_database(cluster, name)


def test_generated_queries_get_no_server_error(api: tuple[ASGIApp, str]) -> None:
    app, key = api
    schema = schemathesis.graphql.from_file(build_schema().as_str())
    schema.app = app
    schema.location = "/graphql"
    ran: Counter[str] = Counter()
    server_errors: list[str] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the schema's SDL does not load: {result}"
        operation = result.ok()
        for mode, examples in EXAMPLES.items():

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                      suppress_health_check=list(HealthCheck))
            def fuzz(case: Any) -> None:
                response = case.call(headers={"Authorization": f"Bearer {key}"})
                ran[case.operation.label] += 1
                body = response.json() if response.content else {}
                masked = [e for e in body.get("errors") or ()
                          if e.get("extensions", {}).get("code") == "INTERNAL"]
                if response.status_code >= 500 or masked:
                    server_errors.append(f"{response.status_code} {response.text[:300]} "
                                         f"for {case.body}")

            fuzz()
    print(f"schemathesis: {sum(ran.values())} cases, {len(server_errors)} server errors",
          dict(ran))
    query_type = build_schema()._schema.query_type
    assert query_type is not None
    assert set(ran) == {f"Query.{name}" for name in query_type.fields}  # every field fuzzed
    assert not server_errors, "\n".join(server_errors[:5])
