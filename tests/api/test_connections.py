"""At start-up the API asks the server for its connection limit, sizes its pools from it
and the number of workers, and says so."""

from __future__ import annotations

import logging
import re

import pytest
from starlette.testclient import TestClient

from graphql_api.app import create_app
from graphql_api.connections import TooFewConnections
from mdr.settings import Settings


def _settings(url: str, workers: int) -> Settings:
    return Settings.from_env({"MDR_DATABASE_URL": url, "MDR_API_WORKERS": str(workers)})


def test_start_up_names_the_pools_and_the_servers_limit(
        api_db: tuple[str, dict[str, str]], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="mdr.api"):
        app = create_app(_settings(api_db[0], 4))
    [line] = [r.getMessage() for r in caplog.records if "max_connections" in r.getMessage()]
    match = re.search(r"4 worker\(s\) x (\d+) = (\d+) of the server's max_connections (\d+) "
                      r"\((\d+) reserved", line)
    assert match, line
    per_worker, total, limit, reserved = map(int, match.groups())
    assert limit == 200 and total == 4 * per_worker <= limit - reserved
    # The app so sized answers.
    with TestClient(app) as client:
        answer = client.post("/graphql", json={"query": "{ __typename }"}, headers={
            "Authorization": f"Bearer {api_db[1]['verifier']}"}).json()
    assert answer == {"data": {"__typename": "Query"}}


def test_more_workers_than_the_server_can_take_are_refused(
        api_db: tuple[str, dict[str, str]]) -> None:
    with pytest.raises(TooFewConnections, match="max_connections"):
        create_app(_settings(api_db[0], 500))
