"""What every registry's batched loader shares: keys of a subject on a day, sent as two
arrays and unnested into rows ``k(<subject>, day)``, so that one statement answers
subjects asked about on different days; rows grouped back by key; and the outcome an
audited read records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from graphql_api.context import Context

DayKey = tuple[str, dt.date]
"""A subject's identifier and the day asked about."""


def keys_table(subject: str) -> str:
    """SQL: the statement's keys as rows ``k(subject, day)``."""
    return f"unnest(CAST(:ids AS text[]), CAST(:days AS date[])) AS k({subject}, day)"


async def rows_by_key(ctx: Context, statement: Any, keys: Sequence[DayKey],
                      subject: str) -> dict[DayKey, list[Any]]:
    """Rows of ``statement`` (over :func:`keys_table`) for the keys, grouped by
    (subject, day)."""
    grouped: dict[DayKey, list[Any]] = {}
    if keys:
        for row in await ctx.read(statement, {"ids": [k[0] for k in keys],
                                              "days": [k[1] for k in keys]}):
            grouped.setdefault((getattr(row, subject), row.day), []).append(row)
    return grouped


def read_outcome(found: bool, wellformed: bool) -> str:
    """How a read of one subject is recorded: read, not-found, or invalid (malformed)."""
    if found:
        return "read"
    return "not-found" if wellformed else "invalid"
