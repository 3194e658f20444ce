"""Audit types: who looked at a person's data, when, and for what."""

from __future__ import annotations

import datetime

import strawberry


@strawberry.type(description="One verification or read of a person's data, or a refused "
                 "attempt at one.")
class AccessEntry:
    client: str = strawberry.field(description="The service that asked.")
    operation: str = strawberry.field(description="The field it asked, e.g. verifyPerson.")
    outcome: str = strawberry.field(description="match, mismatch, not-found, invalid, read, or "
                                    "denied (the client lacked the scope).")
    at: datetime.datetime = strawberry.field(description="When, by the database's clock.")
    reference: str = strawberry.field(description="The record's id (a verification's "
                                      "reference).")
