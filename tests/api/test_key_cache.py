"""Keys are remembered between requests, and forgotten as soon as a client changes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
from starlette.testclient import TestClient

from graphql_api.app import _driver_dsn, create_app
from graphql_api.auth import Client, create_client, revoke_client
from graphql_api.key_cache import KeyCache
from mdr import db
from mdr.settings import Settings


def _admin(url: str, action: Any, *args: Any) -> Any:
    engine = db.make_engine(url, Settings.from_env({}))
    try:
        with engine.begin() as conn:
            return action(conn, *args)
    finally:
        engine.dispose()


def test_a_key_revoked_while_the_server_runs_is_refused_at_once(
        api_db: tuple[str, dict[str, str]]) -> None:
    url = api_db[0]
    key = _admin(url, create_client, "soon-revoked", ["verify:person"])
    with TestClient(create_app(Settings.from_env({"MDR_DATABASE_URL": url}))) as client:
        def status() -> int:
            response = client.post("/graphql", json={"query": "{ __typename }"},
                                   headers={"Authorization": f"Bearer {key}"})
            return int(response.status_code)

        assert status() == 200 and status() == 200  # the second from memory
        _admin(url, revoke_client, "soon-revoked")
        revoked_at = time.monotonic()
        while status() != 401:
            assert time.monotonic() - revoked_at < 2, "the revocation did not take effect"
            time.sleep(0.02)


def test_the_database_is_asked_once_per_key_until_a_client_changes(
        api_db: tuple[str, dict[str, str]]) -> None:
    url = api_db[0]
    asked: list[str] = []

    async def look_up(key_hash: str) -> Client | None:
        asked.append(key_hash)
        return Client(1, "someone", frozenset())

    async def scenario() -> None:
        cache = KeyCache(lambda: asyncpg.connect(_driver_dsn(url)))
        try:
            for _ in range(3):
                assert (await cache.client("h1", look_up)) is not None
            assert asked == ["h1"]
            _admin(url, create_client, "newcomer", ["read:macro"])
            for _ in range(100):  # the announcement arrives on the listening connection
                await asyncio.sleep(0.02)
                await cache.client("h1", look_up)
                if len(asked) > 1:
                    break
            assert asked == ["h1", "h1"]
        finally:
            await cache.close()

    asyncio.run(scenario())


def test_without_a_listening_connection_every_key_is_checked() -> None:
    asked: list[str] = []

    async def look_up(key_hash: str) -> Client | None:
        asked.append(key_hash)
        return Client(1, "someone", frozenset())

    async def refuse() -> asyncpg.Connection:
        raise OSError("no database to listen to")

    async def scenario() -> None:
        cache = KeyCache(refuse)
        for _ in range(3):
            await cache.client("h1", look_up)

    asyncio.run(scenario())
    assert asked == ["h1", "h1", "h1"]
