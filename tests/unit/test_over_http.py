"""Which media type the API answers in, from the client's Accept header."""

from __future__ import annotations

import pytest

from graphql_api.over_http import GRAPHQL_RESPONSE, JSON, negotiate


@pytest.mark.parametrize(("accept", "answer"), [
    (None, JSON),
    ("", JSON),
    ("*/*", JSON),
    ("application/*", JSON),
    ("application/json", JSON),
    ("application/graphql-response+json", GRAPHQL_RESPONSE),
    ("application/graphql-response+json, application/json;q=0.9", GRAPHQL_RESPONSE),
    ("application/json, application/graphql-response+json", GRAPHQL_RESPONSE),
    ("application/json, application/graphql-response+json;q=0.9", JSON),
    ("Application/GraphQL-Response+JSON; charset=utf-8", GRAPHQL_RESPONSE),
    ("application/json;q=0, */*", GRAPHQL_RESPONSE),
    ("text/html", None),
    ("application/graphql-response+json;q=0, application/json;q=0", None),
    ("application/json;q=nonsense", None),
])
def test_negotiate(accept: str | None, answer: str | None) -> None:
    assert negotiate(accept) == answer
