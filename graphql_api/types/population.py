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


@strawberry.type(description="An administrative unit version.")
class AdminUnit:
    code: str
    level: str
    full_name: str
    name_en: str | None
    valid_from: datetime.date | None
    valid_to: datetime.date | None


@strawberry.type(description="A person's name on the day asked about.")
class PersonName:
    family_name: str
    middle_name: str | None
    given_name: str
    full_name: str


@strawberry.type(description="Where a person was registered as living on the day asked about.")
class Residence:
    kind: str
    address_line: str
    commune: AdminUnit
    since: datetime.date


@strawberry.type(description="A family link on the day asked about.")
class FamilyLink:
    relation: str
    national_id: str


@strawberry.type(description="Household membership on the day asked about.")
class HouseholdMembership:
    household_code: str
    relation: str
    member_ids: list[str] = strawberry.field(description="Everyone in the household that day.")


@strawberry.type(description="A person as the registry knows them on a day (read:person).")
class Person:
    national_id: str
    sex: Sex
    birth_date: datetime.date
    status: PersonStatus
    death_date: datetime.date | None
    name: PersonName | None
    residences: list[Residence]
    household: HouseholdMembership | None
    family: list[FamilyLink]
