"""Every request is bounded before it costs anything.

An ASGI layer between authentication and the two executors (the compiled hot path
and strawberry's), so both answer alike by construction. In order, each check
cheaper than what it protects:

* the body: a ``Content-Length`` over the limit is answered 413 without reading a
  byte; a body sent in chunks is read only up to the limit (``MDR_API_MAX_BODY_BYTES``,
  by default sized from the batch limit);
* the variables' JSON, walked once: no more list items than a batch holds (all lists
  together), no text longer than ``MDR_API_MAX_TEXT`` characters. graphql-core coerces
  variables item by item, which for a 2,000,000-claim list takes most of a minute; this
  walk refuses it first;
* the document, measured once per text (parsed with the token limit, kept in a small
  cache): how many claims the operation verifies, counted over every field and alias
  (``verifyPerson`` one, ``verifyPersons`` one per item of its list), and what it
  costs to answer (:class:`Cost`), worked out from the variables in time proportional
  to the document. Over ``MDR_API_MAX_BATCH`` claims or ``MDR_API_MAX_COST`` it is
  refused before validation, coercion or execution;
* the client's claim budget: claims per second (``MDR_API_CLAIM_RATE``), the same token
  bucket as the request rate limit, counting claims instead of requests (HTTP 429).

A document that does not parse, or does not fit the schema, is passed on unmeasured
where that is harmless: the executors refuse it with the usual errors.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    parse,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension, ValidationCache

from graphql_api import request_text
from graphql_api.limits import MAX_TOKENS, RateLimiter
from graphql_api.over_http import GRAPHQL_RESPONSE, JSON, negotiate
from graphql_api.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from mdr.settings import Settings

MEASURED_DOCUMENTS = 1_000
"""Distinct documents whose measures are kept (LRU)."""
MEASURED_TEXT = 64 << 10
"""Longer documents are measured each time rather than kept."""
CACHED_DOCUMENTS = 1_000
"""Distinct query texts whose parsed documents are kept (LRU)..."""
CACHED_CHARACTERS = 64 << 20
"""...as long as their texts come to no more than this many characters together."""
MAX_NESTING = 64
"""Selections nested deeper are not measured: the depth limit refuses them anyway."""


class Cost:
    """What answering a field costs, in units of about one scalar value in the response.

    Each field costs its weight once per time it is answered; a list multiplies what it
    selects by its length: a page's ``edges`` by ``first``, a batch verification's items
    by its claims, other lists by the length in LIST_SIZES (or DEFAULT_LIST_SIZE).
    Geometries weigh like the thousand values they roughly are (a commune's boundary
    as GeoJSON is tens of kilobytes).
    """

    WEIGHTS: Mapping[tuple[str, str], int] = {("AdminUnit", "geometry"): 1_000}
    LIST_SIZES: Mapping[tuple[str, str], int] = {
        ("Query", "codeList"): 1_000,  # ISIC Rev. 4 has 766 codes, the largest list
        ("PersonVerification", "fields"): 4,  # one per claimable field
        ("EnterpriseVerification", "fields"): 4,
        ("Enterprise", "branches"): 999,  # a dependent unit's code has 3 digits
        ("Person", "residences"): 2,
        ("Person", "family"): 3,
    }
    DEFAULT_LIST_SIZE = 10


class Refusal(Exception):
    """A request refused before it costs anything: the HTTP status and a GraphQL error."""

    def __init__(self, status: int, message: str, code: str, headers: dict[str, str] | None
                 = None, **extensions: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers, self.extensions = headers or {}, extensions

    def response(self, media_type: str) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        """Status, body and headers of the answer in ``media_type``. Refusals of the
        request's content are request errors: 400 in application/graphql-response+json,
        200 with errors in application/json (as validation errors are answered)."""
        status = self.status
        if status == 200 and media_type == GRAPHQL_RESPONSE:
            status = 400
        body = orjson.dumps({"errors": [{"message": self.message, "extensions": {
            "code": self.code, **self.extensions}}]})
        headers = [(b"content-type", f"{media_type}; charset=utf-8".encode()),
                   (b"content-length", str(len(body)).encode()),
                   *((k.lower().encode(), v.encode()) for k, v in self.headers.items())]
        return status, body, headers


def body_too_large(limit: int) -> Refusal:
    # The connection is closed after the answer, so that the server does not read on
    # through the rest of the body only to throw it away.
    return Refusal(413, f"The request body is larger than {limit} bytes, the most this "
                   "server accepts; send less (smaller batches).", "BODY_TOO_LARGE",
                   {"Connection": "close"}, limitBytes=limit)


def batch_too_large(items: int, limit: int, across: bool = False) -> Refusal:
    holds = f"{items} across its fields" if across else f"{items} items in its lists"
    return Refusal(200, f"A request may hold at most {limit} claims, in one list or across "
                   f"its fields; this one holds {holds}. Split it.", "BATCH_TOO_LARGE",
                   limit=limit, items=items)


def value_too_long(length: int, limit: int, where: str) -> Refusal:
    return Refusal(200, f"A text value ({where}) is {length} characters long; at most {limit} "
                   "are accepted.", "VALUE_TOO_LONG", limit=limit, length=length)


def too_costly(cost: int, limit: int) -> Refusal:
    return Refusal(200, f"This request would cost about {cost} units to answer; at most "
                   f"{limit} are allowed. Ask for less: fewer aliases, a smaller `first`, "
                   "no geometry, or several requests.", "TOO_COSTLY", cost=cost, limit=limit)


def rate_limited(wait: int, what: str) -> Refusal:
    return Refusal(429, f"Too many {what}; retry in {wait} s.", "RATE_LIMITED",
                   {"Retry-After": str(wait)})


# -- the variables ----------------------------------------------------------------------

def check_variables(variables: Any, max_items: int, max_text: int) -> None:
    """Raises a Refusal when the lists hold more than ``max_items`` items together (so that
    nested lists cannot multiply what coercion goes through) or a text (value or key) is
    longer than ``max_text`` characters. One pass, no recursion."""
    items = 0
    stack = [variables]
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is dict:
            for key, item in value.items():
                if len(key) > max_text:
                    break
                child = type(item)
                if child is str:
                    if len(item) > max_text:
                        break
                elif child is dict or child is list:
                    stack.append(item)
            else:
                continue
            break
        if kind is list:
            items += len(value)
            if items > max_items:
                raise batch_too_large(items, max_items)
            for item in value:
                child = type(item)
                if child is str:
                    if len(item) > max_text:
                        break
                elif child is dict or child is list:
                    stack.append(item)
            else:
                continue
            break
        if kind is str and len(value) > max_text:
            break
    else:
        return
    path, length = next(_long_texts(variables, "$", max_text))
    raise value_too_long(length, max_text, path)


def _long_texts(value: Any, path: str, max_text: int) -> Iterator[tuple[str, int]]:
    """Where the texts longer than ``max_text`` are (only walked once one is known)."""
    if isinstance(value, str) and len(value) > max_text:
        yield path, len(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if len(key) > max_text:
                yield f"a name in {path}", len(key)
            yield from _long_texts(item, f"{path}.{key}" if path != "$" else f"${key}",
                                   max_text)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _long_texts(item, f"{path}[{index}]", max_text)


# -- the document -----------------------------------------------------------------------

class Documents:
    """Query texts parsed once per process, for everyone who needs the document: this
    module's measures, the compiled path's plans and strawberry's executor
    (:class:`SharedParserCache`). A long text costs the parser most of a second per
    megabyte; without sharing, each of them would pay it. Bounded in entries and in
    characters (LRU); parse errors are not kept (the executor reports them itself)."""

    def __init__(self, entries: int = CACHED_DOCUMENTS,
                 characters: int = CACHED_CHARACTERS) -> None:
        self.entries, self.characters = entries, characters
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()
        self._size = 0

    def parse(self, query: str) -> DocumentNode:
        """The parsed document (with locations and the token limit); raises GraphQLError."""
        document = self._documents.get(query)
        if document is not None:
            self._documents.move_to_end(query)
            return document
        document = parse(query, max_tokens=MAX_TOKENS)
        if len(query) <= self.characters:
            self._documents[query] = document
            self._size += len(query)
            while len(self._documents) > self.entries or self._size > self.characters:
                evicted, _ = self._documents.popitem(last=False)
                self._size -= len(evicted)
        return document


DOCUMENTS = Documents()


class SharedParserCache(SchemaExtension):
    """Strawberry's ParserCache, with the documents of :data:`DOCUMENTS`."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None and context.graphql_document is None:
            # On a syntax error strawberry parses the text itself and reports it as usual.
            with suppress(GraphQLError):
                context.graphql_document = DOCUMENTS.parse(context.query)
        yield


@dataclass(frozen=True)
class _Count:
    """A number known from the document or from a variable at request time."""

    constant: int = 0
    variable: str | None = None
    page: bool = False
    """A page size (``first``): clamped to the page limits, its default when absent."""

    def value(self, variables: Mapping[str, Any]) -> int:
        if self.variable is None:
            return self.constant
        value = variables.get(self.variable)
        if self.page:
            if type(value) is not int:
                return self.constant
            return min(max(value, 0), MAX_PAGE_SIZE)
        if isinstance(value, list):
            return len(value)
        return 1 if isinstance(value, dict) else 0


@dataclass(frozen=True)
class _Field:
    weight: int
    claims: tuple[_Count, ...]
    """Claims in the arguments, per time the field is answered."""
    size: _Count | None
    """For a list, its length; None for a single value."""
    children: tuple[_Field, ...]
    fixed: tuple[int, int] | None = None
    """Claims and cost when they depend on no variable (worked out once)."""


def _field(weight: int, claims: tuple[_Count, ...], size: _Count | None,
           children: tuple[_Field, ...]) -> _Field:
    """A field, with its claims and cost worked out now when no variable decides them."""
    if all(c.variable is None for c in claims) and (size is None or size.variable is None) \
            and all(child.fixed is not None for child in children):
        inner_claims, inner_cost = _total(children, {}, {})
        times = 1 if size is None else size.constant
        return _Field(weight, claims, size, children,
                      (sum(c.constant for c in claims) + times * inner_claims,
                       weight + times * inner_cost))
    return _Field(weight, claims, size, children)


def _total(fields: tuple[_Field, ...], variables: Mapping[str, Any],
           memo: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """Claims and cost of ``fields``; ``memo`` keeps the totals of fragments' fields
    (shared tuples), so a fragment spread many times is added up once."""
    key = id(fields)
    if key in memo:
        return memo[key]
    claims = cost = 0
    for f in fields:
        if f.fixed is not None:
            claims += f.fixed[0]
            cost += f.fixed[1]
            continue
        inner_claims, inner_cost = _total(f.children, variables, memo) if f.children \
            else (0, 0)
        times = 1 if f.size is None else f.size.value(variables)
        claims += sum(c.value(variables) for c in f.claims) + times * inner_claims
        cost += f.weight + times * inner_cost
    memo[key] = claims, cost
    return claims, cost


@dataclass(frozen=True)
class Measure:
    """A document's operation, reduced to what its claims and cost depend on."""

    fields: tuple[_Field, ...]
    longest_text: int
    """The longest string literal in the document (characters)."""

    def claims_and_cost(self, variables: Mapping[str, Any]) -> tuple[int, int]:
        return _total(self.fields, variables, {})


class BoundedValidationCache(ValidationCache):
    """Strawberry's ValidationCache for documents of up to MEASURED_TEXT characters only:
    a cached result keeps its document, and the document its whole text, alive; longer
    documents are validated each time (strawberry does it when no result is set)."""

    def on_validate(self) -> Iterator[None]:
        document = self.execution_context.graphql_document
        location = document.loc if document is not None else None
        if location is not None and len(location.source.body) <= MEASURED_TEXT:
            yield from super().on_validate()
        else:
            yield


class Unmeasurable(Exception):
    """The document is not of a shape this module measures; the executors judge it."""


class Measurer:
    """Measures documents against a schema, once per document text."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        self._measures: OrderedDict[tuple[str, str | None], Measure | None] = OrderedDict()

    def measure(self, query: str, operation_name: str | None) -> Measure | None:
        """The document's measure, or None when it cannot be measured (it does not
        parse, names no such operation, or nests deeper than any valid document)."""
        key = (query, operation_name)
        if key in self._measures:
            self._measures.move_to_end(key)
            return self._measures[key]
        try:
            measure: Measure | None = self._measure(DOCUMENTS.parse(query), operation_name)
        except (GraphQLError, Unmeasurable, RecursionError):
            measure = None
        if len(query) <= MEASURED_TEXT:
            self._measures[key] = measure
            if len(self._measures) > MEASURED_DOCUMENTS:
                self._measures.popitem(last=False)
        return measure

    def _measure(self, document: DocumentNode, operation_name: str | None) -> Measure:
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        fragments = {d.name.value: d for d in document.definitions
                     if isinstance(d, FragmentDefinitionNode)}
        chosen = [o for o in operations if operation_name is None
                  or (o.name is not None and o.name.value == operation_name)]
        if len(chosen) != 1:
            raise Unmeasurable
        operation = chosen[0]
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            raise Unmeasurable
        walk = _Walk(self.schema, fragments)
        fields = walk.selections(operation.selection_set, root, None, 0)
        return Measure(fields=fields, longest_text=_longest_string(document))


class _Walk:
    """One document's fields with their types, each fragment reduced once."""

    def __init__(self, schema: GraphQLSchema,
                 fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.schema, self.fragments = schema, fragments
        self.reduced: dict[tuple[str, str, _Count | None], tuple[_Field, ...]] = {}
        self.visiting: set[str] = set()

    def selections(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None,
                   page: _Count | None, depth: int) -> tuple[_Field, ...]:
        if selection_set is None:
            return ()
        if depth > MAX_NESTING:
            raise Unmeasurable
        out: list[_Field] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                out.append(self.field(selection, parent, page, depth))
            elif isinstance(selection, InlineFragmentNode):
                on = parent if selection.type_condition is None \
                    else self.schema.get_type(selection.type_condition.name.value)
                out.extend(self.selections(selection.selection_set, on, page, depth + 1))
            elif isinstance(selection, FragmentSpreadNode):
                out.extend(self.spread(selection.name.value, page, depth))
        return tuple(out)

    def spread(self, name: str, page: _Count | None, depth: int) -> tuple[_Field, ...]:
        fragment = self.fragments.get(name)
        if fragment is None or name in self.visiting:
            return ()  # unknown or cyclic: validation refuses it
        on = self.schema.get_type(fragment.type_condition.name.value)
        key = (name, on.name if on else "", page)
        if key not in self.reduced:
            self.visiting.add(name)
            try:
                self.reduced[key] = self.selections(fragment.selection_set, on, page,
                                                    depth + 1)
            finally:
                self.visiting.discard(name)
        # One shared field standing for the fragment, so that its total is worked out
        # once however many times it is spread.
        return (_field(0, (), None, self.reduced[key]),)

    def field(self, node: FieldNode, parent: GraphQLNamedType | None, page: _Count | None,
              depth: int) -> _Field:
        name = node.name.value
        definition = parent.fields.get(name) \
            if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) else None
        if definition is None:  # __typename, introspection, or unknown (validation's job)
            return _field(1, (), None,
                          self.selections(node.selection_set, None, None, depth + 1))
        type_name = parent.name if parent is not None else ""
        arguments = {a.name.value: a.value for a in node.arguments or ()}
        claims: list[_Count] = []
        for arg_name, arg in definition.args.items():
            value = arguments.get(arg_name)
            if value is not None and isinstance(get_named_type(arg.type),
                                                GraphQLInputObjectType):
                claims.append(_claims(value))
        # A paged field's size reaches its edges (a connection's list), no further.
        inner_page: _Count | None = None
        if "first" in definition.args:
            default = definition.args["first"].default_value
            inner_page = _page(arguments.get("first"),
                               default if isinstance(default, int) else DEFAULT_PAGE_SIZE)
        size: _Count | None = None
        nullable = get_nullable_type(definition.type)
        if isinstance(nullable, GraphQLList):
            if claims and any(isinstance(get_nullable_type(a.type), GraphQLList)
                              for a in definition.args.values()):
                size = claims[0]  # a batch: one answer per claim
            elif name == "edges" and page is not None:
                size = page
            else:
                size = _Count(Cost.LIST_SIZES.get((type_name, name), Cost.DEFAULT_LIST_SIZE))
        children = self.selections(node.selection_set, get_named_type(definition.type),
                                   inner_page, depth + 1)
        return _field(Cost.WEIGHTS.get((type_name, name), 1), tuple(claims), size, children)


def _claims(value: ValueNode) -> _Count:
    if isinstance(value, VariableNode):
        return _Count(variable=value.name.value)
    if isinstance(value, ListValueNode):
        return _Count(len(value.values))
    return _Count(1 if isinstance(value, ObjectValueNode) else 0)


def _page(value: ValueNode | None, default: int) -> _Count:
    if isinstance(value, VariableNode):
        return _Count(constant=default, variable=value.name.value, page=True)
    if isinstance(value, IntValueNode):
        return _Count(min(max(int(value.value), 0), MAX_PAGE_SIZE))
    return _Count(default)


def _longest_string(document: DocumentNode) -> int:
    """The length of the longest string literal (found from the tokens the parser
    left in the AST: every StringValueNode)."""
    longest = 0
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, StringValueNode):
            longest = max(longest, len(node.value))
            continue
        for key in node.keys:
            child = getattr(node, key, None)
            if isinstance(child, tuple | list):
                stack.extend(c for c in child if hasattr(c, "keys"))
            elif hasattr(child, "keys") and not isinstance(child, dict):
                stack.append(child)
    return longest


# -- the ASGI layer ---------------------------------------------------------------------

class Bounds:
    """Reads the body (at most the limit), checks it, and passes it on: to the next
    layer's ``receive``, and to the compiled path as read (``scope["mdr.body"]``) and
    decoded (``scope["mdr.request"]``), so that it reads and decodes nothing again."""

    def __init__(self, app: ASGIApp, settings: Settings, schema: GraphQLSchema) -> None:
        self.app, self.settings = app, settings
        self.measurer = Measurer(schema)
        self.max_body = settings.max_body_bytes
        self.max_claims = settings.api_max_batch
        rate = settings.claims_per_second
        self.claims = RateLimiter(rate=rate, burst=max(5 * rate, settings.api_max_batch))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        media = negotiate(headers[b"accept"].decode("latin-1")) if b"accept" in headers \
            else JSON
        try:
            body = await self._read(headers, receive)
            if body is None:
                return  # the client went away
            scope["mdr.body"] = body
            if body and media is not None \
                    and headers.get(b"content-type", b"").startswith(b"application/json"):
                self._check(body, scope)
        except Refusal as refusal:
            await _send(refusal, media or JSON, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, headers: Mapping[bytes, bytes], receive: Receive) -> bytes | None:
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            raise body_too_large(self.max_body)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise body_too_large(self.max_body)
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    def _check(self, body: bytes, scope: Scope) -> None:
        try:
            request = request_text.decode(body)
        except request_text.InvalidRequestText:
            return  # the executors say why
        scope["mdr.request"] = request
        if not isinstance(request, dict):
            return
        variables = request.get("variables")
        if variables is not None:
            check_variables(variables, self.max_claims, self.settings.api_max_text)
        query, name = request.get("query"), request.get("operationName")
        if not isinstance(query, str) or not isinstance(name, str | None):
            return
        measure = self.measurer.measure(query, name)
        if measure is None:
            return
        if measure.longest_text > self.settings.api_max_text:
            raise value_too_long(measure.longest_text, self.settings.api_max_text,
                                 "a string in the query")
        claims, cost = measure.claims_and_cost(variables if isinstance(variables, dict)
                                               else {})
        if claims > self.max_claims:
            raise batch_too_large(claims, self.max_claims, across=True)
        if cost > self.settings.api_max_cost:
            raise too_costly(cost, self.settings.api_max_cost)
        if claims:
            client = scope.get("mdr.client")
            wait = self.claims.retry_after(client.id, cost=claims) if client else 0
            if wait:
                raise rate_limited(wait, "claims")


async def _send(refusal: Refusal, media_type: str, send: Send) -> None:
    status, body, headers = refusal.response(media_type)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the next layer: the whole body at once, then what follows."""
    pending = True

    async def again() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again
