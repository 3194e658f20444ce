"""Reads from a replica only while it is up and close enough behind the primary.

With ``MDR_READ_MAX_LAG_SECONDS`` or ``MDR_READ_FALLBACK`` set, the replica's replay lag
is asked at most once a second (bounded by a short timeout, so a request never waits on
a replica that does not answer). While the replica is down or further behind than the
bound, a request either reads from the primary (``MDR_READ_FALLBACK``) or is refused at
once with 503, a GraphQL error saying why, and Retry-After.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass

import asyncpg
from starlette.types import ASGIApp, Receive, Scope, Send

from graphql_api.limits import RETRY_AFTER_OUTAGE, unavailable
from graphql_api.over_http import JSON, negotiate

log = logging.getLogger("mdr.api")

CHECK_EVERY_S = 1.0
"""How long one answer about the replica's lag is trusted."""
CHECK_TIMEOUT_S = 2.0
"""The longest a check may take; a replica slower than this counts as down."""
READ_FROM_PRIMARY = "mdr.read_from_primary"
"""Set in a request's scope when its reads go to the primary instead of the replica."""

# Behind: nothing when everything received is replayed, otherwise the age of the last
# transaction replayed. A database that is not a standby is never behind.
LAG = """
SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0.0
            WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END
"""


@dataclass(frozen=True)
class ReplicaState:
    lag_seconds: float | None
    """Seconds behind the primary; None when the replica did not answer."""
    problem: str | None
    """Why it must not be read from now; None when it may."""


class ReplicaGuard:
    """Watches one replica's lag against a bound; shared by every request of a worker."""

    def __init__(self, dsn: str, max_lag_seconds: float | None) -> None:
        self.dsn, self.max_lag = dsn, max_lag_seconds
        self._state: ReplicaState | None = None
        self._checked = 0.0
        self._lock: asyncio.Lock | None = None
        self._conn: asyncpg.Connection | None = None

    async def state(self) -> ReplicaState:
        if self._state is not None and time.monotonic() - self._checked < CHECK_EVERY_S:
            return self._state
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if self._state is None or time.monotonic() - self._checked >= CHECK_EVERY_S:
                self._state = await self._check()
                self._checked = time.monotonic()
        return self._state

    async def _check(self) -> ReplicaState:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                if self._conn is None or self._conn.is_closed():
                    self._conn = await asyncpg.connect(self.dsn, timeout=CHECK_TIMEOUT_S)
                lag = float(await self._conn.fetchval(LAG) or 0.0)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            await self.close()
            if isinstance(exc, asyncpg.PostgresError) and unavailable(exc) is None:
                raise
            log.warning("read replica unavailable: %s", exc or type(exc).__name__)
            return ReplicaState(None, "The read replica cannot be reached just now")
        if self.max_lag is not None and lag > self.max_lag:
            return ReplicaState(lag, f"The read replica is {lag:.1f} s behind the primary, "
                                     f"more than the {self.max_lag:g} s allowed")
        return ReplicaState(lag, None)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()


class GuardReads:
    """Sends a request's reads to the replica, to the primary (when falling back), or
    refuses it at once while the replica may not be read."""

    def __init__(self, app: ASGIApp, guard: ReplicaGuard, fallback: bool) -> None:
        self.app, self.guard, self.fallback = app, guard, fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            state = await self.guard.state()
            if state.problem is not None:
                if not self.fallback:
                    await _refuse(scope, receive, send, state.problem)
                    return
                scope[READ_FROM_PRIMARY] = True
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, problem: str) -> None:
    from starlette.requests import Request
    from starlette.responses import Response

    accept = Request(scope).headers.get("accept")
    body = json.dumps({"errors": [{
        "message": f"{problem}; retry in {RETRY_AFTER_OUTAGE} s.",
        "extensions": {"code": "UNAVAILABLE", "retryAfter": RETRY_AFTER_OUTAGE}}]})
    await Response(body, status_code=503, media_type=f"{negotiate(accept) or JSON}; "
                   "charset=utf-8", headers={"Retry-After": str(RETRY_AFTER_OUTAGE)}
                   )(scope, receive, send)
