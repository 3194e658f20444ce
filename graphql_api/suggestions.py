"""'Did you mean ...?' hints, which spell out the schema's names, hidden outside development mode.

graphql-core omits them when validation and execution are run with
``hide_suggestions=True``; strawberry passes neither, so this module sets it at
both places: a validation rule switches the validation context to hiding when it
is set up, before any rule visits the document, and an executor class forces it
while coercing variables. Strawberry's own
``disable_field_suggestions`` covers only unknown fields, not arguments, input
fields, enum values or types.
"""

from __future__ import annotations

from typing import Any

from graphql import ValidationContext, ValidationRule
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class HideSuggestions(ValidationRule):
    """Makes every rule run after it leave out suggestions (it reports nothing itself)."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        # graphql-core keeps the flag it was given by validate(hide_suggestions=...) here.
        context._hide_suggestions = True


class QuietExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, coercing variables without suggestions."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        kwargs["hide_suggestions"] = True
        return super().build(*args, **kwargs)
