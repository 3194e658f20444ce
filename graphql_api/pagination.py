"""Relay-style connections over keyset pagination: a page is "the next N after this key".

Each list is read in a stable order that ends in a unique key; a cursor is that
key of an item, wrapped in opaque base64, and the next page starts strictly
after it. Unlike OFFSET, this costs the same on page 1 and page 10,000 and
neither skips nor repeats items when rows are added while a client pages.

Only forward paging (``first``/``after``) is offered; ``hasPreviousPage`` is
always false, which the Relay specification allows for forward paging.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry import relay

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500


@strawberry.type(description="An item of a list and its place in it.")
class Edge(Generic[T]):
    node: T
    cursor: str = strawberry.field(description="Pass as after to continue after this item.")


@strawberry.type(description="A page of a list, in a stable order; ask for the next page "
                 "with after: pageInfo.endCursor.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: relay.PageInfo


def page_size(first: int) -> int:
    """``first`` checked against the limits, or a readable error."""
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise GraphQLError(f"first must be between 0 and {MAX_PAGE_SIZE}; it was {first}.",
                           extensions={"code": "BAD_PAGE_SIZE"})
    return first


def encode_cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def decode_cursor(cursor: str | None, *types: type) -> tuple[Any, ...] | None:
    """The key inside ``cursor`` (None for no cursor), checked to hold ``types``."""
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        key = None
    if not (isinstance(key, list) and len(key) == len(types)
            and all(type(k) is t and "\x00" not in str(k)
                    for k, t in zip(key, types, strict=True))):
        raise bad_cursor()
    return tuple(key)


def bad_cursor() -> GraphQLError:
    return GraphQLError("after is not a cursor of this list; pass a pageInfo.endCursor "
                        "or an edge's cursor from an earlier page.",
                        extensions={"code": "BAD_CURSOR"})


def connection(rows: Sequence[R], first: int, node: Callable[[R], T],
               key: Callable[[R], Sequence[Any]]) -> Connection[T]:
    """A page from ``rows``, read with LIMIT first + 1 so the extra row tells if more follow."""
    page = rows[:first]
    edges = [Edge(node=node(r), cursor=encode_cursor(key(r))) for r in page]
    return Connection(edges=edges, page_info=relay.PageInfo(
        has_next_page=len(rows) > first, has_previous_page=False,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None))
