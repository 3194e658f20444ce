"""What a registry's quality suite is made of: batches of rows, and rules with stable names."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from great_expectations.expectations.core.unexpected_rows_expectation import (
    UnexpectedRowsExpectation,
)
from great_expectations.expectations.expectation import Expectation

PROVINCE_COLUMN = "province_code"
"""Column every batch query carries, so one definition serves the whole registry and each
province (a province's run keeps the batch's rows with its code)."""


@dataclass(frozen=True)
class Batch:
    """Rows a group of rules looks at: one SQL query, run as a Great Expectations query asset.

    ``query`` is plain SELECT text that must return a ``province_code`` column
    (NULL for rows that belong to no province); the rules of the batch see its
    rows as ``{batch}``.
    """

    name: str
    query: str


@dataclass(frozen=True)
class Rule:
    """One expectation with the stable name that results, messages and stored rows use."""

    name: str
    """Stable slug, e.g. ``national-id-sex-digit``; never renamed once results are stored."""
    batch: str
    """Name of the batch the expectation runs on."""
    expectation: Expectation
    """The Great Expectations expectation; a fresh object per run (GE gives it an id)."""
    message: str
    """What the rule demands, and what a steward does about a violation."""


@dataclass(frozen=True)
class Suite:
    """A registry's rules, the batches they run on, and how its rows divide into provinces."""

    registry: str
    batches: tuple[Batch, ...]
    rules: tuple[Rule, ...]
    provinces_query: str | None = None
    """SELECT (code, name) of the provinces to score separately; None: no per-province scores."""
    province_basis: str | None = None
    """How rows are assigned to provinces, for readers of the report."""

    def rules_of(self, batch: str) -> tuple[Rule, ...]:
        """The rules that run on one batch, in suite order."""
        return tuple(rule for rule in self.rules if rule.batch == batch)


def expect(name: str, batch: str, message: str, expectation: type[Expectation],
           **kwargs: Any) -> Rule:
    """A rule made of one Great Expectations expectation built with ``kwargs``."""
    # The rule name travels inside the expectation, so results map back without relying
    # on the order Great Expectations returns them in.
    built = expectation(**kwargs, meta={"rule": name})
    return Rule(name=name, batch=batch, expectation=built, message=message)


def unexpected_rows(name: str, batch: str, message: str, query: str) -> Rule:
    """A rule whose query returns the offending rows; ``{batch}`` is the batch's rows.

    Great Expectations substitutes ``(batch query) AS subselect`` when the query has
    no JOIN and a bare ``(batch query)`` when it has one, so a query that joins
    names its own alias (``{batch} AS p``) and one that does not gives none.
    """
    return expect(name, batch, message, UnexpectedRowsExpectation,
                  unexpected_rows_query=query)


def sql_date(day: dt.date) -> str:
    """A date as an SQL literal, for rule queries."""
    return f"DATE '{day.isoformat()}'"
