"""Population types of the API: verification claims and answers (DESIGN.md §7)."""

from __future__ import annotations

import datetime
from enum import Enum

import strawberry


@strawberry.enum(description="Sex as recorded in the population registry.")
class Sex(Enum):
    MALE = "male"
    FEMALE = "female"


@strawberry.enum(description="Whether the person was alive on the date asked about.")
class PersonStatus(Enum):
    ALIVE = "alive"
    DECEASED = "deceased"


@strawberry.input(description="What a service was told about a person, to be checked.")
class PersonClaim:
    national_id: str = strawberry.field(description="12-digit personal identification number.")
    full_name: str | None = strawberry.field(
        default=None, description="Full name; compared after normalisation (Unicode form, "
        "case, spacing, tone-mark placement).")
    birth_date: datetime.date | None = strawberry.field(default=None, description="Birth date.")
    sex: Sex | None = strawberry.field(default=None, description="Sex.")


@strawberry.type(description="Whether one claimed field matches the registry.")
class FieldMatch:
    field: str
    match: bool


@strawberry.type(description="The answer to a person claim. It never contains stored values.")
class PersonVerification:
    national_id: str
    found: bool
    match: bool = strawberry.field(description="Found, and every given field matches.")
    status: PersonStatus | None
    fields: list[FieldMatch]
    reference: str = strawberry.field(description="Id of the audit record of this check.")
