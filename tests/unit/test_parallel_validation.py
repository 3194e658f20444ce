"""Rows validated in worker processes: the same rows staged and the same issues, in file
order, as one process gives."""

from __future__ import annotations

import datetime as dt
from typing import Any

from loaders import reasons
from loaders.parallel import validated
from loaders.population import PersonChecker
from tests.factories.population import FAMILY
from tests.integration.test_population_load import BAD

PROVINCES = {"001", "079"}


def _records() -> list[tuple[int, dict[str, str] | str]]:
    rows: list[dict[str, str] | str] = [*FAMILY, *(row for row, _ in BAD),
                                        "The row has 3 fields, the header 18."]
    return [(number, row) for number, row in enumerate(rows * 5, start=1)]


def _one_process() -> tuple[list[Any], list[tuple[int | None, str]]]:
    checker = PersonChecker("p.csv", dt.date(2026, 1, 1), PROVINCES)
    staged = []
    for number, rec in _records():
        if isinstance(rec, str):
            checker.reject(reasons.UNREADABLE_ROW, number, problem=rec)
        elif (row := checker.snapshot_row(number, rec)) is not None:
            staged.append(row)
    return staged, [(i.row, i.slug) for i in checker.issues]


def test_workers_stage_and_reject_as_one_process_in_file_order() -> None:
    checker = PersonChecker("p.csv", dt.date(2026, 1, 1), PROVINCES)
    checker.reject(reasons.UNREADABLE_ROW, 0, problem="Recorded before the workers began.")
    staged: list[Any] = []
    issues: list[tuple[int | None, str]] = []
    # Batches of 7 rows, at most 4 in flight: many batches, answered out of order.
    for rows, found in validated(
            _records(), checker.snapshot_row,
            lambda number, problem: checker.reject(reasons.UNREADABLE_ROW, number,
                                                   problem=problem),
            checker.issues, workers=2, batch_rows=7):
        staged.extend(rows)
        issues.extend((i.row, i.slug) for i in found)
    expected_rows, expected_issues = _one_process()
    assert staged == expected_rows and len(staged) >= 5 * len(FAMILY)
    assert issues == expected_issues
    assert {slug for _, slug in issues} >= {"unreadable-row", "sex-digit-mismatch"}
    # What the parent had recorded is not sent back again.
    assert [(i.row, i.slug) for i in checker.issues] == [(0, "unreadable-row")]
