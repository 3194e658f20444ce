"""Protection: masked unexpected errors with an id, readable statement timeouts, rate limits."""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import asyncpg
from graphql import GraphQLError, Node
from strawberry.extensions import MaskErrors

from graphql_api.context import Context

log = logging.getLogger("mdr.api")

MAX_TOKENS = 20_000
"""Most tokens a query document may have (both executors parse with this limit)."""
MAX_DEPTH = 10
"""Deepest selection nesting a query may have."""
MAX_ALIASES = 20
"""Most aliases a query may have."""

LOGGED_CHARACTERS = 2_000
"""Most characters of one error's text the log keeps (a query can be megabytes long)."""

QUERY_CANCELED = "57014"
"""SQLSTATE of a statement PostgreSQL cancelled: past statement_timeout, or on request."""


def bounded(text: str, limit: int = LOGGED_CHARACTERS) -> str:
    """``text`` cut to ``limit`` characters, saying how many were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters not logged)"


RETRY_AFTER_OUTAGE = 5
"""Seconds a client is asked to wait when the database cannot be reached."""
_OUTAGE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
"""Shut down by an administrator, crashed, starting or stopping, out of connections."""


def first_in_chain(error: BaseException | None,
                   matches: Callable[[BaseException, str | None], bool], *,
                   implicit: bool = False) -> BaseException | None:
    """The first error in ``error``'s chain that ``matches`` (given the error and its
    SQLSTATE, from asyncpg's ``sqlstate`` or psycopg's ``pgcode``), or None.

    The chain is the error, then the driver's error SQLAlchemy keeps in ``orig``, then
    the explicit cause (``raise ... from``); with ``implicit`` also the error being
    handled when this one was raised (``__context__``), for a lost connection explains
    whatever fails after it (a rollback, a cleanup). A chain that loops ends."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if matches(error, sqlstate if isinstance(sqlstate, str) else None):
            return error
        error = getattr(error, "orig", None) or error.__cause__ \
            or (error.__context__ if implicit else None)
    return None


def _is_outage(error: BaseException, sqlstate: str | None) -> bool:
    return isinstance(error, OSError | asyncpg.ConnectionDoesNotExistError) \
        or (sqlstate is not None and (sqlstate.startswith("08")
                                      or sqlstate in _OUTAGE_SQLSTATES)) \
        or (isinstance(error, asyncpg.InterfaceError)
            and "connection is closed" in str(error)) \
        or bool(getattr(error, "connection_invalidated", False))


def unavailable(error: BaseException | None) -> BaseException | None:
    """The error saying the database cannot be reached, when ``error`` is it or was raised
    from it, or while handling it (refused or lost connections, a server shutting down or
    starting up, no free connection slot); None for every other error."""
    return first_in_chain(error, _is_outage, implicit=True)


def unavailable_error(nodes: Collection[Node] | None = None,
                      path: Collection[str | int] | None = None) -> GraphQLError:
    """What the caller reads when the database cannot be reached: an outage, not a bug."""
    return GraphQLError(
        message="The registry's database cannot be reached just now; retry in "
                f"{RETRY_AFTER_OUTAGE} s.", nodes=nodes, path=path,
        extensions={"code": "UNAVAILABLE", "retryAfter": RETRY_AFTER_OUTAGE})


def log_unavailable(operation: str | None, path: Collection[str | int] | None,
                    error: BaseException) -> None:
    """The server's record of an outage: a warning, not an error with a traceback."""
    log.warning("database unavailable in %s at %s: %s",
                operation or "an anonymous operation", list(path or ()), error)


def statement_timeout(error: BaseException | None) -> BaseException | None:
    """The database error that stopped a statement at ``statement_timeout``, when ``error``
    is it or was raised from it (SQLAlchemy's wrappers keep the driver's error in ``orig``
    and as the cause); None otherwise.

    SQLSTATE 57014 also ends statements cancelled on request (``pg_cancel_backend``, an
    operator), which are not our limit; only the message tells them apart. PostgreSQL
    writes it in English unless ``lc_messages`` says otherwise (mdr's cluster runs in
    C.UTF-8); with translated messages a timeout stays a masked error, as any other.
    """
    return first_in_chain(error, lambda cancelled, sqlstate: sqlstate == QUERY_CANCELED
                          and "statement timeout" in str(cancelled))


LOCK_NOT_AVAILABLE = "55P03"
"""SQLSTATE of a statement that waited ``lock_timeout`` for a lock and gave up."""
LOADING = "REGISTRY_LOADING"
RETRY_AFTER_LOADING = 60
"""Seconds a client is asked to wait while a bulk load holds the registry."""


def registry_locked(error: BaseException | None) -> BaseException | None:
    """The database error of a read that gave up waiting for a lock on a registry table,
    when ``error`` is it or was raised from it; None otherwise. The API's reads wait for
    no lock but the one a bulk load of a whole registry holds while it rebuilds the
    registry's tables (loaders/bulk.py) until it commits or rolls back."""
    return first_in_chain(error, lambda _, sqlstate: sqlstate == LOCK_NOT_AVAILABLE)


def loading_error(nodes: Collection[Node] | None,
                  path: Collection[str | int] | None) -> GraphQLError:
    """What the caller reads while a bulk load holds the registry: not a bug, not an
    outage of the database, and over when the load ends (the HTTP answer is 503 with
    Retry-After)."""
    return GraphQLError(
        message="The registry is being loaded in bulk and cannot be read until the load "
                f"ends; retry in {RETRY_AFTER_LOADING} s.", nodes=nodes, path=path,
        extensions={"code": LOADING, "retryAfter": RETRY_AFTER_LOADING})


def log_loading(operation: str | None, path: Collection[str | int] | None,
                error: BaseException) -> None:
    log.warning("registry locked by a bulk load in %s at %s: %s",
                operation or "an anonymous operation", list(path or ()), error)


def timeout_error(limit_ms: int | None, nodes: Collection[Node] | None,
                  path: Collection[str | int] | None) -> GraphQLError:
    """What the caller reads when the database stopped a statement at our limit: what
    happened and what to do, code TIMEOUT (nothing to quote to the operators)."""
    took = f"longer than {limit_ms} ms" if limit_ms else "too long"
    return GraphQLError(
        message=f"The registry took {took} to answer and stopped; ask for less "
                "(a smaller `first` or batch) or retry later.",
        nodes=nodes, path=path,
        extensions={"code": "TIMEOUT", **({"limitMs": limit_ms} if limit_ms else {})})


def log_timeout(limit_ms: int | None, operation: str | None,
                path: Collection[str | int] | None, error: BaseException) -> None:
    """The server's record of a statement timeout: a warning naming the operation."""
    log.warning("statement timeout (%s ms) in %s at %s: %s", limit_ms,
                operation or "an anonymous operation", list(path or ()), error)


class MaskWithErrorId(MaskErrors):
    """The caller sees an error id; the log keeps the detail under that id. A statement
    stopped by the statement timeout is no mystery: the caller reads that (TIMEOUT); nor
    is a database that cannot be reached (UNAVAILABLE, answered 503 with Retry-After), nor
    a registry a bulk load holds (REGISTRY_LOADING, also 503 with Retry-After)."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        outage = unavailable(error.original_error)
        if outage is not None:
            log_unavailable(self.execution_context.operation_name, error.path, outage)
            return unavailable_error(error.nodes, error.path)
        locked = registry_locked(error.original_error)
        if locked is not None:
            log_loading(self.execution_context.operation_name, error.path, locked)
            return loading_error(error.nodes, error.path)
        timed_out = statement_timeout(error.original_error)
        if timed_out is not None:
            context = self.execution_context.context
            limit = context.settings.statement_timeout_ms if isinstance(context, Context) \
                else None
            log_timeout(limit, self.execution_context.operation_name, error.path, timed_out)
            return timeout_error(limit, error.nodes, error.path)
        error_id = uuid.uuid4().hex[:12]
        log.error("error %s in %s", error_id, error.path, exc_info=error.original_error)
        return GraphQLError(
            message=f"Unexpected error; quote id {error_id} to the operators.",
            nodes=error.nodes, source=error.source, positions=error.positions,
            path=error.path, extensions={"code": "INTERNAL", "errorId": error_id},
        )


@dataclass
class RateLimiter:
    """A token bucket per client: ``rate`` tokens per second, bursts up to ``burst``.

    One bucket counts requests (a token each), in front of parsing, so refused requests
    cost nothing and the parse/validation caches are untouched; another counts claims
    (a token per claim, graphql_api/bounds.py), so that twenty aliases of a batch cost
    what they verify. Each server process keeps its own buckets.
    """

    rate: float
    burst: float
    _buckets: dict[int, tuple[float, float]] = field(default_factory=dict)

    def retry_after(self, client_id: int, now: float | None = None, cost: float = 1) -> int:
        """0 when a request costing ``cost`` tokens may go ahead (they are spent), else
        whole seconds to wait (nothing is spent). A cost above the burst is charged as
        the burst, so that it can go ahead once the bucket is full."""
        if self.rate <= 0:
            return 0
        now = time.monotonic() if now is None else now
        cost = min(cost, self.burst)
        tokens, last = self._buckets.get(client_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= cost:
            self._buckets[client_id] = (tokens - cost, now)
            return 0
        self._buckets[client_id] = (tokens, now)
        return max(1, math.ceil((cost - tokens) / self.rate))
