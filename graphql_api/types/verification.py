"""Types every registry's verification answers share."""

from __future__ import annotations

import strawberry


@strawberry.type(description="Whether one claimed field matches the registry.")
class FieldMatch:
    field: str
    match: bool
