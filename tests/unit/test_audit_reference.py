"""Audit references are RFC 9562 version 7 UUIDs: unique, and in the order they were made."""

from __future__ import annotations

import time

from graphql_api.audit_writer import new_reference


def test_references_are_version_7_and_follow_the_clock() -> None:
    earlier = new_reference()
    time.sleep(0.002)
    later = new_reference()
    assert earlier.version == later.version == 7
    assert str(earlier) < str(later)  # the index on them grows at one end
    assert abs((earlier.int >> 80) - time.time_ns() // 1_000_000) < 1_000


def test_references_within_a_millisecond_differ() -> None:
    assert len({new_reference() for _ in range(10_000)}) == 10_000

