"""Authenticated keys kept in memory until a change to the clients is announced.

Checking the key against the database on every request costs a round trip on the
hot path. A server process instead remembers the clients of the keys it has seen,
and listens on the channel ``mdr_api_clients``, on which the database announces
every change to a client or its scopes as it commits (migration 0005). On an
announcement the process forgets every key, so a revocation takes effect as soon
as the notice arrives. While the process has no listening connection (not yet
made, or lost), it remembers nothing and checks every key in the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from graphql_api.auth import Client

log = logging.getLogger(__name__)

CHANNEL = "mdr_api_clients"
RETRY_SECONDS = 5.0
MAX_KEYS = 10_000


class KeyCache:
    """``client(key_hash, look_up)``: the client of a key, from memory or the database."""

    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]]) -> None:
        self._connect = connect
        self._known: dict[str, Client] = {}
        self._generation = 0
        self._listener: asyncpg.Connection | None = None
        self._next_attempt = 0.0
        self._connecting: asyncio.Lock | None = None

    async def client(self, key_hash: str,
                     look_up: Callable[[str], Awaitable[Client | None]]) -> Client | None:
        if self._listener is not None and key_hash in self._known:
            return self._known[key_hash]
        await self._listen()
        generation = self._generation
        client = await look_up(key_hash)
        # Remember only what no announcement has overtaken while it was looked up.
        if client is not None and self._listener is not None \
                and generation == self._generation and len(self._known) < MAX_KEYS:
            self._known[key_hash] = client
        return client

    def forget(self, *_: Any) -> None:
        self._generation += 1
        self._known.clear()

    def _lost(self, *_: Any) -> None:
        log.warning("lost the connection listening on %s; checking every key until it is back",
                    CHANNEL)
        self._listener = None
        self.forget()

    async def _listen(self) -> None:
        if self._listener is not None or time.monotonic() < self._next_attempt:
            return
        self._connecting = self._connecting or asyncio.Lock()
        async with self._connecting:
            if self._listener is not None:
                return
            self._next_attempt = time.monotonic() + RETRY_SECONDS
            try:
                conn = await self._connect()
                await conn.add_listener(CHANNEL, self.forget)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("cannot listen on %s (%s); checking every key", CHANNEL, exc)
                return
            conn.add_termination_listener(self._lost)
            self.forget()
            self._listener = conn

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        self.forget()
        if listener is not None:
            await listener.close()
