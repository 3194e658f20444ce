"""Production errors name nothing of the schema the caller did not write.

graphql-core's messages map the schema for anyone who sends mistakes: "Did you
mean ...?" hints, and the names of the types, arguments and input fields around a
mistake ("Cannot query field 'foun' on type 'PersonVerification'"). Outside
development mode this module takes both out of validation and variable errors:

* hints: graphql-core omits them when validation and execution are run with
  ``hide_suggestions=True``; strawberry passes neither, so a validation rule switches
  the validation context to hiding when it is set up, before any rule visits the
  document, and an executor class forces it while coercing variables. (Strawberry's
  own ``disable_field_suggestions`` covers only unknown fields.)
* names: the same two places rewrite each message (:func:`say_less`): the common ones
  into a shorter form, then any quoted name the request does not contain becomes '…'.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from graphql import GraphQLError, ValidationContext, ValidationRule
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
_QUOTED = re.compile(r"'([^']*)'")
HIDDEN = "'…'"

# graphql-core's messages that name the schema, in a form that names only what the
# caller wrote (the generic pass then hides whatever else is left).
_REWRITES: list[tuple[re.Pattern[str], str]] = [(re.compile(p), r) for p, r in [
    (r"^Cannot query field '([^']*)' on type '[^']*'\.", r"Cannot query field '\1' here."),
    (r"^Unknown argument '([^']*)' on field '[_0-9A-Za-z]+\.([_0-9A-Za-z]+)'\.",
     r"Unknown argument '\1' on field '\2'."),
    (r"^Argument '(?:[_0-9A-Za-z]+\.)?([_0-9A-Za-z]+)\([_0-9A-Za-z]+:\)' of type '[^']*' is "
     r"required, but it was not provided\.", r"Field '\1' lacks a required argument."),
    (r"^Field '([^']*)' of type '[^']*' must have a selection of subfields\..*",
     r"Field '\1' must have a selection of subfields."),
    (r"^Field '([^']*)' must not have a selection since type '[^']*' has no subfields\.",
     r"Field '\1' must not have a selection."),
    (r"Expected value of type '[^']*' to include required field '[^']*', found",
     "Expected a value with every required field, found"),
    (r"Expected value of type '[^']*'", "Expected value"),
    (r"Value '([^']*)' does not exist in '[^']*' enum\.", r"Value '\1' is not allowed here."),
    (r" used in position expecting type '[^']*'\.", " cannot be used in this position."),
    (r"^Fragment (?:'([^']*)' )?cannot be spread here as objects of type .*",
     "Fragment cannot be spread here."),
    (r"they return conflicting types '[^']*' and '[^']*'", "they return different types"),
]]


def written_names(*texts: str) -> frozenset[str]:
    """Every name-like word of what the caller sent."""
    return frozenset(name for text in texts for name in _NAME.findall(text))


def say_less(message: str, written: frozenset[str]) -> str:
    """``message`` without schema names the caller did not write."""
    for pattern, replacement in _REWRITES:
        message = pattern.sub(replacement, message)

    def hide(match: re.Match[str]) -> str:
        names = _NAME.findall(match.group(1))
        return match.group(0) if all(n in written for n in names) else HIDDEN
    return _QUOTED.sub(hide, message)


class HideSuggestions(ValidationRule):
    """Makes every rule run after it leave out suggestions and the names of the schema
    the document does not contain (it reports nothing itself)."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        # graphql-core keeps the flag it was given by validate(hide_suggestions=...) here.
        context._hide_suggestions = True
        location = context.document.loc
        written = written_names(location.source.body if location else "")
        report: Callable[[GraphQLError], None] = context.on_error

        def quietly(error: GraphQLError) -> None:
            error.message = say_less(error.message, written)
            report(error)
        context.on_error = quietly  # type: ignore[method-assign]


class QuietExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, coercing variables without suggestions or schema names."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        kwargs["hide_suggestions"] = True
        built = super().build(*args, **kwargs)
        if isinstance(built, list):
            document = kwargs.get("document", args[1] if len(args) > 1 else None)
            variables = kwargs.get("raw_variable_values", args[4] if len(args) > 4 else None)
            location = getattr(document, "loc", None)
            written = written_names(location.source.body if location else "",
                                    json.dumps(variables, default=str))
            for error in built:
                error.message = say_less(error.message, written)
        return built
