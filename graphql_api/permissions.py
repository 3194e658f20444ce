"""Scopes as permission classes on fields: outside its scopes a client gets an error, not data,
and the refusal is recorded in the audit trail (outcome ``denied``)."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from graphql_api.audit import Access, record

SUBJECT_ARGUMENTS = ("national_id", "code", "holder")
"""Names of the arguments, or of the fields of a claim, that identify whom a field is about."""


def requires(scope: str) -> type[BasePermission]:
    """A permission class that lets through clients holding ``scope``.

    A refused attempt is recorded, once per identifier it asked about, before the
    caller gets the error: trying is an access a citizen's access log must show.
    The fields it guards are async (they all read the database), so the refusal
    may wait for its record.
    """

    class HasScope(BasePermission):
        required_scope = scope
        message = f"This client lacks the scope {scope!r} needed for this field."
        error_extensions = {"code": "FORBIDDEN", "scope": scope}

        def has_permission(self, source: Any, info: Info, **kwargs: Any
                           ) -> bool | Awaitable[bool]:
            if scope in info.context.client.scopes:
                return True
            return _refuse(info, kwargs)

    HasScope.__name__ = f"Requires_{scope.replace(':', '_')}"
    return HasScope


async def _refuse(info: Info, arguments: Mapping[str, Any]) -> bool:
    ctx = info.context
    await record(ctx, [Access(info.field_name, subject, "denied")
                       for subject in subjects(arguments, ctx.settings.api_max_batch)])
    return False


def subjects(arguments: Mapping[str, Any], most: int) -> list[str]:
    """The identifiers a field's (Python-named, converted) arguments ask about: an
    identifier argument, or the identifier of each claim given, at most ``most`` of them;
    a field about nobody in particular gives one empty subject."""
    found: list[str] = []
    for name, value in arguments.items():
        for item in value if isinstance(value, list) else [value]:
            candidates: list[Any] = (
                ([item] if name in SUBJECT_ARGUMENTS else []) if isinstance(item, str)
                else [getattr(item, field, None) for field in SUBJECT_ARGUMENTS])
            found += [c for c in candidates if isinstance(c, str)]
            if len(found) >= most:
                return found[:most]
    return found or [""]
