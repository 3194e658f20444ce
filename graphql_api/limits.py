"""Protection: masked unexpected errors with an id, per-client rate limits."""

from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import dataclass, field

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

log = logging.getLogger("mdr.api")


class MaskWithErrorId(MaskErrors):
    """The caller sees an error id; the log keeps the detail under that id."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        error_id = uuid.uuid4().hex[:12]
        log.error("error %s in %s", error_id, error.path, exc_info=error.original_error)
        return GraphQLError(
            message=f"Unexpected error; quote id {error_id} to the operators.",
            nodes=error.nodes, source=error.source, positions=error.positions,
            path=error.path, extensions={"code": "INTERNAL", "errorId": error_id},
        )


@dataclass
class RateLimiter:
    """A token bucket per client: ``rate`` requests per second, bursts up to ``burst``.

    It lives in each server process, in front of parsing, so refused requests
    cost nothing and the parse/validation caches are untouched.
    """

    rate: float
    burst: float
    _buckets: dict[int, tuple[float, float]] = field(default_factory=dict)

    def retry_after(self, client_id: int, now: float | None = None) -> int:
        """0 when the request may go ahead, else whole seconds to wait."""
        if self.rate <= 0:
            return 0
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(client_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[client_id] = (tokens - 1, now)
            return 0
        self._buckets[client_id] = (tokens, now)
        return max(1, math.ceil((1 - tokens) / self.rate))
