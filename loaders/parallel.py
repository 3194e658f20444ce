"""Row validation spread over worker processes, in bounded batches, in file order.

A first load of a nation validates its rows one by one in Python, on one core. Here
the records are read in the load's process and sent in batches to worker processes
forked from it: they run the stage's own row rules (pure Python, no connection) and
send back the staged tuples and the issues, which the load copies and records batch
by batch in file order, exactly as one process would. At most ``2 × workers`` batches
are in flight, so memory stays bounded whatever the size of the file.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from loaders.reasons import RowIssue

BATCH_ROWS = 2_000

Record = tuple[int, dict[str, str] | str]
Validate = Callable[[int, dict[str, str]], tuple[Any, ...] | None]
Batch = tuple[list[tuple[Any, ...]], list[RowIssue]]

# What a forked worker validates with: set in the parent just before the workers fork.
_work: tuple[Validate, list[RowIssue], Callable[[int, str], None]] | None = None


def _validate_batch(records: list[Record]) -> Batch:
    assert _work is not None
    validate, issues, unreadable = _work
    before = len(issues)  # what the parent had recorded when the worker forked
    staged = []
    for number, rec in records:
        if isinstance(rec, str):
            unreadable(number, rec)
            continue
        row = validate(number, rec)
        if row is not None:
            staged.append(row)
    found = issues[before:]
    del issues[before:]
    return staged, found


def validated(records: Iterable[Record], validate: Validate,
              unreadable: Callable[[int, str], None], issues: list[RowIssue], workers: int,
              batch_rows: int = BATCH_ROWS) -> Iterator[Batch]:
    """(staged rows, issues) of each batch of ``records``, in order, validated by
    ``validate`` in ``workers`` processes; ``validate`` and ``unreadable`` (a record that
    could not be parsed, with why) append their issues to ``issues``."""
    global _work
    _work = (validate, issues, unreadable)
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) \
                as pool:
            pending: deque[Future[Batch]] = deque()
            for batch in _batches(records, batch_rows):
                pending.append(pool.submit(_validate_batch, batch))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
    finally:
        _work = None


def _batches(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
