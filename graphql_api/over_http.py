"""GraphQL over HTTP: which media type to answer in, and when a request failed before execution."""

from __future__ import annotations

from strawberry.types import ExecutionResult

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def _ranges(accept: str) -> list[tuple[str, float]]:
    """The media ranges of an Accept header with their weights (q), lower-cased."""
    ranges = []
    for item in accept.split(","):
        media_range, *params = (part.strip() for part in item.split(";"))
        if not media_range:
            continue
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = max(0.0, min(1.0, float(value)))
                except ValueError:
                    weight = 0.0
        ranges.append((media_range.lower(), weight))
    return ranges


def _weight(media_type: str, ranges: list[tuple[str, float]]) -> tuple[float, int]:
    """The weight the client gives ``media_type`` and how specific the range that set it
    is (2 exact, 1 ``type/*``, 0 ``*/*``; -1 when nothing matches)."""
    kind = media_type.split("/")[0]
    best = (0.0, -1)
    for media_range, weight in ranges:
        specificity = {media_type: 2, f"{kind}/*": 1, "*/*": 0}.get(media_range)
        if specificity is not None and specificity > best[1]:
            best = (weight, specificity)
    return best


def negotiate(accept: str | None) -> str | None:
    """The media type to answer in, or None when the client accepts neither.

    No Accept header, or a wildcard, means application/json (what clients written
    before application/graphql-response+json expect); application/graphql-response+json
    is chosen when the client names it and weighs it at least as high as JSON.
    """
    if not accept or not accept.strip():
        return JSON
    ranges = _ranges(accept)
    response_weight, response_specificity = _weight(GRAPHQL_RESPONSE, ranges)
    json_weight, _ = _weight(JSON, ranges)
    if response_weight == json_weight == 0:
        return None
    if response_specificity == 2 and response_weight >= json_weight:
        return GRAPHQL_RESPONSE
    return JSON if json_weight > 0 else GRAPHQL_RESPONSE


def is_request_error(result: ExecutionResult) -> bool:
    """True when the request failed before execution (parse, validation or variable
    coercion): no data, and no error points at a field."""
    return result.data is None and bool(result.errors) and all(
        error.path is None for error in result.errors or ())
