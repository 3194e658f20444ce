"""Scopes as permission classes on fields: outside its scopes a client gets an error, not data."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info


def requires(scope: str) -> type[BasePermission]:
    """A permission class that lets through clients holding ``scope``."""

    class HasScope(BasePermission):
        required_scope = scope
        message = f"This client lacks the scope {scope!r} needed for this field."
        error_extensions = {"code": "FORBIDDEN", "scope": scope}

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            return scope in info.context.client.scopes

    HasScope.__name__ = f"Requires_{scope.replace(':', '_')}"
    return HasScope
