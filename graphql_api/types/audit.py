"""Audit types: who looked at a person's data, when, and for what."""

from __future__ import annotations

import datetime

import strawberry


@strawberry.type(description="One verification or read of a person's data.")
class AccessEntry:
    client: str = strawberry.field(description="The service that asked.")
    operation: str
    outcome: str
    at: datetime.datetime
    reference: str
