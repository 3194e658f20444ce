"""Compiled operations: the verification hot path without the general executor.

Verification traffic is a handful of operation documents sent millions of times
with new variables. The first time a document arrives it is parsed and validated
against the schema; when it is one verification field selecting plain fields
(no fragments, no directives), it is compiled into a
plan: coerce the variables, check the scope, call the same resolver the schema
calls, write out the selected fields. Every other request, and any request the
plan cannot answer cleanly (an error of any kind), goes through the general
path, so callers get the same answers and the same errors either way; a test
compares the two. The exception is a statement stopped by the statement timeout:
the plan answers it as the general path would (TIMEOUT), rather than have the
general path run the statement again and wait for the limit a second time.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import strawberry
from graphql import (
    FieldNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    VariableNode,
    is_input_type,
    specified_rules,
    type_from_ast,
    validate,
)
from graphql.execution.values import get_argument_values, get_variable_values
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from graphql_api import request_text
from graphql_api.bounds import DOCUMENTS
from graphql_api.context import Context
from graphql_api.limits import (
    LOADING,
    RETRY_AFTER_LOADING,
    loading_error,
    log_loading,
    log_timeout,
    registry_locked,
    statement_timeout,
    timeout_error,
)
from graphql_api.over_http import JSON, negotiate

log = logging.getLogger(__name__)

Resolve = Callable[..., Awaitable[Any]]
Write = Callable[[Any], Any]

MAX_DOCUMENT = 4_000
"""Longer documents are not compiled: the general path applies the token limit."""
MAX_PLANS = 256


class NotCompilable(Exception):
    """The document is not of the shape plans handle; the general path answers it."""


@dataclass(frozen=True)
class Plan:
    """One compiled operation: a single root field and what to write of its result."""

    response_key: str
    field: GraphQLField
    node: FieldNode
    operation: OperationDefinitionNode
    resolve: Resolve
    scopes: tuple[str, ...]
    arguments: dict[str, tuple[str, Write]]
    """GraphQL argument name: the resolver's keyword and the value's conversion."""
    readers: tuple[tuple[str, str, Write], ...] | None
    """When every argument is a variable: variable, resolver keyword, reader."""
    write: Write


class Compiler:
    """Turns documents into plans, once per document text."""

    def __init__(self, schema: strawberry.Schema, entries: Mapping[str, Resolve]) -> None:
        self.schema = schema
        self.graphql = schema._schema
        self.entries = entries
        # The rules strawberry validates with: graphql-core's, the schema's, and its own.
        self.rules = (*specified_rules, *getattr(schema, "limit_rules", ()),
                      MaybeNullValidationRule, OneOfInputValidationRule)
        self._plans: OrderedDict[tuple[str, str | None], Plan | None] = OrderedDict()

    def plan(self, document: str, operation_name: str | None) -> Plan | None:
        key = (document, operation_name)
        if key in self._plans:
            self._plans.move_to_end(key)
            return self._plans[key]
        try:
            plan: Plan | None = self._compile(document, operation_name)
        except NotCompilable:
            plan = None
        except Exception:
            # A shape the compiler does not foresee is the general path's to answer,
            # not an error of the request; the log says which, for a fix.
            log.warning("a document could not be compiled; the general path answers it",
                        exc_info=True)
            plan = None
        self._plans[key] = plan
        if len(self._plans) > MAX_PLANS:
            self._plans.popitem(last=False)
        return plan

    def _compile(self, document: str, operation_name: str | None) -> Plan:
        if len(document) > MAX_DOCUMENT:
            raise NotCompilable
        try:
            # With locations, which a timeout's error reports as the general path does.
            ast = DOCUMENTS.parse(document)
        except GraphQLError:
            raise NotCompilable from None
        # Every rule the general path validates with, limits included: a document any of
        # them refuses is the general path's to answer.
        if len(ast.definitions) != 1 or validate(self.graphql, ast, self.rules):
            raise NotCompilable
        operation = ast.definitions[0]
        if not isinstance(operation, OperationDefinitionNode) \
                or operation.operation is not OperationType.QUERY \
                or operation.directives \
                or (operation_name is not None and (operation.name is None
                                                    or operation.name.value != operation_name)):
            raise NotCompilable
        roots = _fields(operation.selection_set)
        if len(roots) != 1:
            raise NotCompilable
        node = roots[0]
        resolve = self.entries.get(node.name.value)
        if resolve is None:
            raise NotCompilable
        root = self.graphql.query_type
        assert root is not None
        field = root.fields[node.name.value]
        definition = field.extensions["strawberry-definition"]
        scopes = _scopes(definition.permission_classes)
        arguments = {self.schema.config.name_converter.from_argument(a):
                     (a.python_name, _input_converter(field.args[
                         self.schema.config.name_converter.from_argument(a)].type))
                     for a in definition.arguments}
        return Plan(response_key=(node.alias or node.name).value, field=field, node=node,
                    operation=operation, resolve=resolve, scopes=scopes, arguments=arguments,
                    readers=self._readers(operation, node, arguments),
                    write=_writer(field.type, node.selection_set))

    def _readers(self, operation: OperationDefinitionNode, node: FieldNode,
                 arguments: dict[str, tuple[str, Write]]
                 ) -> tuple[tuple[str, str, Write], ...] | None:
        """Readers that take each argument straight from its variable's JSON, or None
        when an argument is written in the document or a variable has a default."""
        definitions = {d.variable.name.value: d for d in operation.variable_definitions or ()}
        readers = []
        for argument in node.arguments or ():
            if not isinstance(argument.value, VariableNode):
                return None
            definition = definitions[argument.value.name.value]
            if definition.default_value is not None:
                return None
            var_type = type_from_ast(self.graphql, definition.type)
            assert var_type is not None and is_input_type(var_type)
            readers.append((argument.value.name.value, arguments[argument.name.value][0],
                            _reader(var_type)))
        return tuple(readers)

    async def run(self, plan: Plan, ctx: Context, variables: Mapping[str, Any] | None
                  ) -> dict[str, Any] | None:
        """The response of the plan, or None when the general path must answer."""
        if not all(s in ctx.client.scopes for s in plan.scopes):
            return None
        variables = variables or {}
        if plan.readers is not None:
            try:
                kwargs = {keyword: read(variables[name])
                          for name, keyword, read in plan.readers if name in variables}
            except _Mismatch:
                return None  # the general path says what is wrong with the variables
        else:
            coerced = get_variable_values(
                self.graphql, plan.operation.variable_definitions or (), dict(variables))
            if isinstance(coerced, list):
                return None
            raw = get_argument_values(plan.field, plan.node, coerced)
            kwargs = {keyword: convert(raw[name])
                      for name, (keyword, convert) in plan.arguments.items() if name in raw}
        try:
            result = await plan.resolve(ctx, **kwargs)
            return {"data": {plan.response_key: plan.write(result)}}
        except Exception as exc:
            timed_out = statement_timeout(exc)
            if timed_out is not None:
                return _timed_out(plan, ctx, timed_out)
            locked = registry_locked(exc)
            if locked is not None:
                return _loading(plan, locked)
            # The general path reports it, masked or readable. A resolver fails before
            # its audit records commit (recording is its last step), so the check is
            # not recorded twice.
            log.debug("compiled plan gave way to the general path", exc_info=True)
            return None


def _scopes(permission_classes: list[type[Any]]) -> tuple[str, ...]:
    """The scopes a plan checks itself: those of ``requires(scope)``. A field with any
    other permission class is left to the general path, which runs the class."""
    scopes = []
    for permission in permission_classes:
        scope = getattr(permission, "required_scope", None)
        if not isinstance(scope, str):
            raise NotCompilable
        scopes.append(scope)
    return tuple(scopes)


def _timed_out(plan: Plan, ctx: Context, error: BaseException) -> dict[str, Any]:
    """The general path's answer to a statement timeout in the plan's field: the field's
    null (the whole data when the field is non-null) and the TIMEOUT error."""
    limit = ctx.settings.statement_timeout_ms
    path = [plan.response_key]
    log_timeout(limit, plan.operation.name.value if plan.operation.name else None, path, error)
    data = None if isinstance(plan.field.type, GraphQLNonNull) else {plan.response_key: None}
    return {"data": data, "errors": [timeout_error(limit, [plan.node], path).formatted]}


def _loading(plan: Plan, error: BaseException) -> dict[str, Any]:
    """The general path's answer while a bulk load holds the registry (REGISTRY_LOADING),
    without waiting for the lock a second time there."""
    path = [plan.response_key]
    log_loading(plan.operation.name.value if plan.operation.name else None, path, error)
    data = None if isinstance(plan.field.type, GraphQLNonNull) else {plan.response_key: None}
    return {"data": data, "errors": [loading_error([plan.node], path).formatted]}


def _fields(selection_set: SelectionSetNode | None) -> list[FieldNode]:
    """The selections, all plain fields without directives, or NotCompilable."""
    if selection_set is None:
        return []
    fields = []
    for selection in selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives:
            raise NotCompilable
        fields.append(selection)
    return fields


class _Mismatch(Exception):
    """A variable's value does not coerce to its type in the simple way readers know."""


def _reader(gql_type: GraphQLInputType) -> Write:
    """A function taking a variable's JSON value to what the resolver takes, with the
    coercion rules of GraphQL; anything else is a _Mismatch, for the general path."""
    if isinstance(gql_type, GraphQLNonNull):
        inner = _reader(gql_type.of_type)

        def required(value: Any) -> Any:
            if value is None:
                raise _Mismatch
            return inner(value)
        return required
    if isinstance(gql_type, GraphQLList):
        item = _reader(gql_type.of_type)

        def items(value: Any) -> Any:
            if value is None:
                return None
            if not isinstance(value, list):
                raise _Mismatch  # a single value would be a list of one: rare, left alone
            return [item(v) for v in value]
        return items
    if isinstance(gql_type, GraphQLInputObjectType):
        definition = gql_type.extensions.get("strawberry-definition")
        if definition is None:
            raise NotCompilable
        fields: dict[str, tuple[str, Write]] = {}
        required_fields = set()
        for graphql_name, input_field in gql_type.fields.items():
            strawberry_field = input_field.extensions.get("strawberry-definition")
            if strawberry_field is None:
                raise NotCompilable
            fields[graphql_name] = (strawberry_field.python_name, _reader(input_field.type))
            if isinstance(input_field.type, GraphQLNonNull) \
                    and input_field.default_value is Undefined:
                required_fields.add(graphql_name)
        cls = definition.origin

        def build(value: Any) -> Any:
            if value is None:
                return None
            if not isinstance(value, dict) or not required_fields <= value.keys() \
                    or not value.keys() <= fields.keys():
                raise _Mismatch
            return cls(**{fields[k][0]: fields[k][1](v) for k, v in value.items()})
        return build
    if isinstance(gql_type, GraphQLScalarType | GraphQLEnumType):
        parse_value = gql_type.parse_value

        def leaf(value: Any) -> Any:
            if value is None:
                return None
            try:
                parsed = parse_value(value)
            except (GraphQLError, TypeError, ValueError):
                raise _Mismatch from None
            if parsed is Undefined or parsed is None:
                raise _Mismatch
            return parsed
        return leaf
    raise NotCompilable


def _input_converter(gql_type: GraphQLInputType) -> Write:
    """A function turning a coerced argument value into what the resolver takes, as
    strawberry does: input objects become their classes; scalars and enums arrive
    already coerced by graphql-core."""
    if isinstance(gql_type, GraphQLNonNull):
        return _input_converter(gql_type.of_type)
    if isinstance(gql_type, GraphQLList):
        item = _input_converter(gql_type.of_type)
        return lambda value: None if value is None else [item(v) for v in value]
    if isinstance(gql_type, GraphQLInputObjectType):
        definition = gql_type.extensions.get("strawberry-definition")
        if definition is None:
            raise NotCompilable
        fields = {}
        for graphql_name, input_field in gql_type.fields.items():
            strawberry_field = input_field.extensions.get("strawberry-definition")
            if strawberry_field is None:
                raise NotCompilable
            fields[graphql_name] = (strawberry_field.python_name,
                                    _input_converter(input_field.type))
        cls = definition.origin

        def build(value: Any) -> Any:
            if value is None:
                return None
            return cls(**{fields[k][0]: fields[k][1](v) for k, v in value.items()})
        return build
    if isinstance(gql_type, GraphQLScalarType | GraphQLEnumType):
        return lambda value: value
    raise NotCompilable


def _writer(gql_type: GraphQLOutputType, selection_set: SelectionSetNode | None) -> Write:
    """A function writing a resolved value as the selection asks, as graphql-core would
    (a null where the schema says non-null fails the plan, and the general path answers)."""
    required, inner = _unwrap(gql_type)
    write = _value_writer(inner, selection_set)
    if not required:
        return lambda value: None if value is None else write(value)

    def non_null(value: Any) -> Any:
        if value is None:
            raise ValueError("null for a non-null field")
        return write(value)
    return non_null


def _unwrap(gql_type: GraphQLOutputType) -> tuple[bool, GraphQLOutputType]:
    if isinstance(gql_type, GraphQLNonNull):
        return True, gql_type.of_type
    return False, gql_type


def _value_writer(gql_type: GraphQLOutputType, selection_set: SelectionSetNode | None
                  ) -> Write:
    """Writes a value known not to be null."""
    if isinstance(gql_type, GraphQLList):
        item = _writer(gql_type.of_type, selection_set)
        return lambda values: [item(v) for v in values]
    if isinstance(gql_type, GraphQLObjectType):
        return _object_writer(gql_type, selection_set)
    if selection_set is not None:
        raise NotCompilable
    serialize: Write = gql_type.serialize  # type: ignore[union-attr]
    return serialize


def _object_writer(gql_type: GraphQLObjectType, selection_set: SelectionSetNode | None
                   ) -> Write:
    if gql_type.extensions.get("strawberry-definition") is None:
        raise NotCompilable
    typename = gql_type.name
    # Per selected field: response key, attribute (None for __typename), non-null, writer.
    parts: list[tuple[str, str | None, bool, Write]] = []
    for node in _fields(selection_set):
        key = (node.alias or node.name).value
        if node.name.value == "__typename":
            parts.append((key, None, True, lambda _value: typename))
            continue
        gql_field = gql_type.fields[node.name.value]
        strawberry_field = gql_field.extensions.get("strawberry-definition")
        if strawberry_field is None or strawberry_field.base_resolver is not None \
                or node.arguments:
            raise NotCompilable
        required, inner = _unwrap(gql_field.type)
        parts.append((key, strawberry_field.python_name, required,
                      _value_writer(inner, node.selection_set)))

    def write(source: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, attribute, required, write_value in parts:
            if attribute is None:
                out[key] = typename
                continue
            value = getattr(source, attribute)
            if value is None:
                if required:
                    raise ValueError(f"null for the non-null field {key}")
                out[key] = None
            else:
                out[key] = write_value(value)
        return out
    return write


class CompiledOperations:
    """ASGI layer before the GraphQL view: answers compilable POSTs itself."""

    def __init__(self, app: ASGIApp, compiler: Compiler,
                 context: Callable[[Scope], Context]) -> None:
        self.app, self.compiler, self.context = app, compiler, context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or ())
        # The body as graphql_api.bounds read it, within the one body limit there; a
        # request that did not come through that layer is left to the general path.
        body = scope.get("mdr.body")
        if scope["type"] != "http" or scope["method"] != "POST" or body is None \
                or not headers.get(b"content-type", b"").startswith(b"application/json"):
            await self.app(scope, receive, send)
            return
        # The same media type as the general path would answer in; none (406) is its job.
        media = negotiate(headers[b"accept"].decode("latin-1")) if b"accept" in headers \
            else JSON
        answer = await self._answer(body, scope) if media else None
        if answer is None or media is None:
            await self.app(scope, receive, send)
            return
        payload = orjson.dumps(answer)
        fields = [(b"content-type", f"{media}; charset=utf-8".encode()),
                  (b"content-length", str(len(payload)).encode())]
        loading = any(e["extensions"]["code"] == LOADING for e in answer.get("errors", ()))
        if loading:  # as the general path answers it
            fields.append((b"retry-after", str(RETRY_AFTER_LOADING).encode()))
        await send({"type": "http.response.start", "status": 503 if loading else 200,
                    "headers": fields})
        await send({"type": "http.response.body", "body": payload})

    async def _answer(self, body: bytes, scope: Scope) -> dict[str, Any] | None:
        # Decoded once already where the request's bounds were checked (graphql_api.bounds).
        request = scope.get("mdr.request")
        if request is None:
            try:
                request = request_text.decode(body)
            except request_text.InvalidRequestText:
                return None  # the general path says why
        if not isinstance(request, dict) or not isinstance(request.get("query"), str) \
                or not isinstance(request.get("variables") or {}, dict) \
                or not isinstance(request.get("operationName") or "", str) \
                or set(request) - {"query", "variables", "operationName", "extensions"}:
            return None
        plan = self.compiler.plan(request["query"], request.get("operationName"))
        if plan is None:
            return None
        return await self.compiler.run(plan, self.context(scope), request.get("variables"))
