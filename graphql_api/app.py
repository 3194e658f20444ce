"""The ASGI application behind `mdr serve`: Bearer-key authentication, then GraphQL."""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from http import HTTPStatus
from typing import Any

import asyncpg
import strawberry
from cross_web import HTTPException
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route, request_response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.ides import get_graphql_ide_html
from strawberry.types import ExecutionResult

from graphql_api import request_text
from graphql_api.audit_writer import AuditWriter
from graphql_api.auth import AUTHENTICATE_DRIVER, Client, client_from_row, hash_key
from graphql_api.bounds import Bounds
from graphql_api.compiled import CompiledOperations, Compiler
from graphql_api.connections import (
    CONNECT_TIMEOUT_S,
    DriverPool,
    PoolSizes,
    connection_limit,
    pool_sizes,
)
from graphql_api.context import Context
from graphql_api.key_cache import KeyCache
from graphql_api.limits import (
    LOADING,
    RETRY_AFTER_LOADING,
    RETRY_AFTER_OUTAGE,
    RateLimiter,
    log_unavailable,
    unavailable,
    unavailable_error,
)
from graphql_api.over_http import GRAPHQL_RESPONSE, JSON, is_request_error, negotiate
from graphql_api.replica_guard import READ_FROM_PRIMARY, GuardReads, ReplicaGuard
from graphql_api.schema import COMPILED_ENTRIES, build_schema
from graphql_api.sdmx_rest import SdmxData
from mdr import db
from mdr.settings import Settings

log = logging.getLogger("mdr.api")


def _driver_dsn(url: str) -> str:
    """A database as asyncpg takes it, logged in as mdr_api."""
    return make_url(db.role_url(url, db.Role.API)).set(drivername="postgresql") \
        .render_as_string(hide_password=False)


def _server_settings(settings: Settings) -> dict[str, str]:
    return {"statement_timeout": str(settings.statement_timeout_ms),
            "lock_timeout": str(settings.api_lock_timeout_ms), "timezone": "UTC"}


def _driver_pool(url: str, settings: Settings, sizes: PoolSizes) -> DriverPool:
    return DriverPool(_driver_dsn(url), sizes.driver, _server_settings(settings))


def _engine(url: str, settings: Settings, sizes: PoolSizes) -> AsyncEngine:
    # Autocommit: a verification is one SELECT and one INSERT, each a round trip of its
    # own, with no BEGIN/COMMIT/ROLLBACK around them; reads that need one snapshot
    # open a transaction (graphql_api.context.snapshot).
    api_url = make_url(db.role_url(url, db.Role.API)).set(drivername="postgresql+asyncpg")
    return create_async_engine(
        api_url, pool_size=sizes.engine, max_overflow=sizes.overflow,
        isolation_level="AUTOCOMMIT",
        connect_args={"server_settings": _server_settings(settings),
                      "timeout": CONNECT_TIMEOUT_S})


def _unauthorised(message: str) -> Response:
    body = json.dumps({"errors": [{"message": message,
                                   "extensions": {"code": "UNAUTHENTICATED"}}]})
    return Response(body, status_code=401, media_type="application/json",
                    headers={"WWW-Authenticate": 'Bearer realm="mdr"'})


class MdrGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with mdr's context, speaking GraphQL over HTTP: it answers
    in application/graphql-response+json when asked to, with 400 for requests that fail
    before execution, and its own refusals (bad JSON, wrong method) as GraphQL errors."""

    def __init__(self, schema: strawberry.Schema, settings: Settings, reads: AsyncEngine,
                 writes: AsyncEngine, lookups: DriverPool, primary: DriverPool,
                 audit: AuditWriter) -> None:
        super().__init__(schema,
                         graphql_ide="graphiql" if settings.api_dev_mode else None,
                         allow_queries_via_get=False)
        self.settings, self.reads, self.writes = settings, reads, writes
        self.lookups, self.primary, self.audit = lookups, primary, audit

    async def get_context(self, request: Any, response: Any) -> Context:
        return self.context_for(request.scope)

    def context_for(self, scope: Scope) -> Context:
        # While the replica may not be read, a request may read from the primary instead.
        on_primary = scope.get(READ_FROM_PRIMARY, False)
        return Context(client=scope["mdr.client"],
                       reads=self.writes if on_primary else self.reads, writes=self.writes,
                       lookups=self.primary if on_primary else self.lookups,
                       audit=self.audit, settings=self.settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        media_type = negotiate(request.headers.get("accept"))
        if self.graphql_ide and request.method == "GET" \
                and "text/html" in request.headers.get("accept", ""):
            media_type = JSON  # a person opening GraphiQL in a browser
        if media_type is None:
            response: Response = _errors(
                406, JSON, f"Ask for {GRAPHQL_RESPONSE} or {JSON} in the Accept header.",
                "NOT_ACCEPTABLE")
        else:
            try:
                response = await self.run(request)
            except HTTPException as exc:
                response = _errors(exc.status_code, media_type, exc.reason,
                                   HTTPStatus(exc.status_code).name)
            else:
                if response.media_type == JSON:
                    response.headers["content-type"] = f"{media_type}; charset=utf-8"
                    # Only the new media type may say "no data" through the status code;
                    # application/json clients expect 200 with errors.
                    if media_type == GRAPHQL_RESPONSE and scope.get("mdr.request_error"):
                        response.status_code = 400
                    # An outage is told apart from a bug in either media type.
                    # So is a registry that cannot be read while a bulk load rebuilds it.
                    if scope.get("mdr.unavailable"):
                        response.status_code = 503
                        response.headers["Retry-After"] = str(scope["mdr.unavailable"])
        await response(scope, receive, send)

    def decode_json(self, data: str | bytes) -> object:
        try:
            return request_text.decode(data)
        except request_text.InvalidRequestText as exc:
            raise HTTPException(400, str(exc)) from None

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        processed = await super().process_result(request, result)
        if is_request_error(result):
            # Nothing was executed, so there is no data entry, not even null.
            processed.pop("data", None)
            request.scope["mdr.request_error"] = True
        codes = {(e.extensions or {}).get("code") for e in result.errors or ()}
        if "UNAVAILABLE" in codes:
            request.scope["mdr.unavailable"] = RETRY_AFTER_OUTAGE
        elif LOADING in codes:
            request.scope["mdr.unavailable"] = RETRY_AFTER_LOADING
        return processed


def _errors(status: int, media_type: str, message: str, code: str) -> Response:
    body = json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})
    return Response(body, status_code=status, media_type=f"{media_type}; charset=utf-8")


class AnswerOutages:
    """503 with a GraphQL error (UNAVAILABLE) and Retry-After, rather than a plain-text
    500, for a request that fails because the database cannot be reached before any
    answer began (authentication looks keys up in it). Other failures go on up."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            outage = unavailable(exc)
            if scope["type"] != "http" or started or outage is None:
                raise
            log_unavailable(None, None, outage)
            accept = Request(scope).headers.get("accept")
            error = unavailable_error().formatted
            response = Response(json.dumps({"errors": [error]}), status_code=503,
                                media_type=f"{negotiate(accept) or JSON}; charset=utf-8",
                                headers={"Retry-After": str(RETRY_AFTER_OUTAGE)})
            await response(scope, receive, send)


class Authenticate:
    """Answers 401 to requests without a valid key; otherwise passes the client on."""

    def __init__(self, app: ASGIApp, primary: DriverPool, limiter: RateLimiter,
                 keys: KeyCache, dev_mode: bool = False) -> None:
        self.app, self.primary, self.limiter, self.keys = app, primary, limiter, keys
        # In development mode a browser may load GraphiQL without a key (a page load
        # cannot carry one); the queries it sends then carry the key from its headers.
        self.ide = get_graphql_ide_html("graphiql") if dev_mode else None

    async def _look_up(self, key_hash: str) -> Client | None:
        async with self.primary.connection() as conn:
            return client_from_row(await conn.fetchrow(AUTHENTICATE_DRIVER, key_hash))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if self.ide and request.method == "GET" and "query" not in request.query_params \
                and "text/html" in request.headers.get("accept", ""):
            await HTMLResponse(self.ide)(scope, receive, send)
            return
        header = request.headers.get("authorization", "")
        kind, _, key = header.partition(" ")
        if kind.lower() != "bearer" or not key.strip():
            await _unauthorised("Send an API key: Authorization: Bearer <key>.")(
                scope, receive, send)
            return
        # Keys are checked against the primary, and remembered only until the primary
        # announces a change to the clients, so a revocation takes effect at once.
        client = await self.keys.client(hash_key(key.strip()), self._look_up)
        if client is None:
            await _unauthorised("The API key is unknown or revoked.")(scope, receive, send)
            return
        wait = self.limiter.retry_after(client.id)
        if wait:
            body = json.dumps({"errors": [{"message": f"Too many requests; retry in {wait} s.",
                                           "extensions": {"code": "RATE_LIMITED"}}]})
            await Response(body, status_code=429, media_type="application/json",
                           headers={"Retry-After": str(wait)})(scope, receive, send)
            return
        scope["mdr.client"] = client
        await self.app(scope, receive, send)


def create_app(settings: Settings, compile_operations: bool = True, *,
               caches: bool = True) -> GraphQLFirst:
    """The application for the configured databases (the embedded cluster by default).

    ``compile_operations=False`` sends every request through the general executor; the
    tests use it to check that compiled plans answer the same. ``caches=False`` turns
    the general executor's parse/validation caches off, to measure them.
    """
    primary = db.primary_url(settings)
    admin = db.make_engine(primary, settings, pool_size=1)
    try:
        db.require_current_schema(admin)
        with admin.connect() as conn:
            max_connections, reserved = connection_limit(conn)
    finally:
        admin.dispose()
    # Every worker opens these to each database; a replica allows at least as many
    # connections as its primary (PostgreSQL requires it), so the primary's limit serves.
    sizes = pool_sizes(max_connections, reserved, settings.api_workers)
    log.info(sizes.describe())
    writes = _engine(primary, settings, sizes)
    reads = _engine(settings.read_database_url, settings, sizes) \
        if settings.read_database_url else writes
    limiter = RateLimiter(rate=settings.api_rate_limit, burst=max(1.0, 5 * settings.api_rate_limit))
    schema = build_schema(settings.api_dev_mode, caches=caches)
    # The hot path's statements go through the driver's own pools.
    primary_driver = _driver_pool(primary, settings, sizes)
    lookups = _driver_pool(settings.read_database_url, settings, sizes) \
        if settings.read_database_url else primary_driver
    audit = AuditWriter(primary_driver)
    view = MdrGraphQL(schema, settings, reads, writes, lookups, primary_driver, audit)
    entries = COMPILED_ENTRIES if compile_operations else {}
    compiled = CompiledOperations(view, Compiler(schema, entries), view.context_for)
    # Every request is bounded (body, lists, text, claims, cost) before either executor.
    bounded = Bounds(compiled, settings, schema._schema)
    keys = KeyCache(lambda: asyncpg.connect(_driver_dsn(primary)))
    guard = ReplicaGuard(_driver_dsn(settings.read_database_url), settings.read_max_lag_seconds) \
        if settings.read_database_url and (settings.read_max_lag_seconds is not None
                                           or settings.read_fallback) else None
    guarded: ASGIApp = GuardReads(bounded, guard, settings.read_fallback) if guard else bounded
    graphql = AnswerOutages(
        Authenticate(guarded, primary_driver, limiter, keys, settings.api_dev_mode))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await keys.close()
        if guard is not None:
            await guard.close()
        await audit.close()
        for pool in {primary_driver, lookups}:
            await pool.close()
        await writes.dispose()
        if reads is not writes:
            await reads.dispose()

    # The SDMX data endpoint: the same keys, scopes and request limits as GraphQL.
    sdmx_data = AnswerOutages(Authenticate(request_response(SdmxData(reads)), primary_driver,
                                           limiter, keys, settings.api_dev_mode))
    return GraphQLFirst(graphql, Starlette(
        routes=[Route("/graphql", graphql, methods=["GET", "POST"]),
                Route("/sdmx/2.1/data/{flow}", sdmx_data, methods=["GET"]),
                Route("/sdmx/2.1/data/{flow}/{key}", sdmx_data, methods=["GET"]),
                Route("/sdmx/2.1/data/{flow}/{key}/{provider}", sdmx_data, methods=["GET"])],
        lifespan=lifespan))


class GraphQLFirst:
    """GET and POST /graphql straight to the GraphQL chain; everything else (the lifespan,
    other paths and methods) to Starlette, whose middleware and router otherwise cost
    about a tenth of a verification's time."""

    def __init__(self, graphql: ASGIApp, rest: Starlette) -> None:
        self.graphql, self.rest = graphql, rest

    def lifespan(self) -> AbstractAsyncContextManager[object]:
        """Start-up and shut-down, for running the application in-process."""
        return self.rest.router.lifespan_context(self.rest)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/graphql" \
                and scope["method"] in ("GET", "POST"):
            await self.graphql(scope, receive, send)
        else:
            await self.rest(scope, receive, send)


def app_from_env() -> GraphQLFirst:
    """Factory for uvicorn (`mdr serve`)."""
    app = create_app(Settings.from_env())
    # What exists now (modules, the schema, plans' machinery) lives as long as the
    # process: keep it out of the collector's way, and collect the young generation
    # less often, so a request rarely pays for a collection (fewer latency spikes).
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
    return app
