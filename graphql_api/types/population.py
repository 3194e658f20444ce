"""Population types of the API: verification claims and answers (DESIGN.md §7), persons."""

from __future__ import annotations

import datetime
from enum import Enum
from typing import NamedTuple

import strawberry
from strawberry.types import Info

from graphql_api.context import loaders
from graphql_api.types.reference import AdminUnit
from graphql_api.types.verification import FieldMatch


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


@strawberry.type(description="The answer to a person claim. It never contains stored values.")
class PersonVerification:
    national_id: str
    found: bool
    match: bool = strawberry.field(description="Found, and every given field matches.")
    status: PersonStatus | None = strawberry.field(
        description="Alive or deceased on the day asked about; null unless every claimed "
        "field matches.")
    fields: list[FieldMatch]
    reference: str = strawberry.field(description="Id of the audit record of this check.")


class PersonKey(NamedTuple):
    """A person asked about on a day; ``operation`` is how the read is audited."""

    national_id: str
    day: datetime.date
    operation: str = "person"


@strawberry.type(description="A person's name on the day asked about.")
class PersonName:
    family_name: str
    middle_name: str | None
    given_name: str
    full_name: str


@strawberry.type(description="Where a person was registered as living on the day asked about.")
class Residence:
    unit_id: strawberry.Private[int]
    kind: str = strawberry.field(description="permanent or temporary.")
    address_line: str
    since: datetime.date

    @strawberry.field(description="The commune, as the unit in force when the residence began.")
    async def commune(self, info: Info) -> AdminUnit:
        unit = await loaders(info).unit.load(self.unit_id)
        assert unit is not None, "a residence refers to a unit by foreign key"
        return unit


@strawberry.type(description="A family link on the day asked about.")
class FamilyLink:
    day: strawberry.Private[datetime.date]
    relation: str = strawberry.field(description="father, mother or spouse.")
    national_id: str

    @strawberry.field(description="The related person on the same day (a read of their data, "
                      "audited as such).")
    async def person(self, info: Info) -> Person | None:
        return await _related_person(info, self)


@strawberry.type(description="Household membership on the day asked about.")
class HouseholdMembership:
    household_code: str
    relation: str = strawberry.field(description="Relation to the head of the household.")
    member_ids: list[str] = strawberry.field(description="Everyone in the household that day.")


@strawberry.type(description="A person as the registry knows them on a day (read:person). "
                 "Every person returned, nested ones included, is an audited read.")
class Person:
    day: strawberry.Private[datetime.date]
    national_id: str
    sex: Sex
    birth_date: datetime.date
    status: PersonStatus
    death_date: datetime.date | None

    @strawberry.field(description="The name valid that day.")
    async def name(self, info: Info) -> PersonName | None:
        return await loaders(info).person_name.load(self._facts)

    @strawberry.field(description="Permanent and temporary residence that day.")
    async def residences(self, info: Info) -> list[Residence]:
        return await loaders(info).residences.load(self._facts)

    @strawberry.field(description="The household the person belonged to that day.")
    async def household(self, info: Info) -> HouseholdMembership | None:
        return await loaders(info).household.load(self._facts)

    @strawberry.field(description="Father, mother and spouse links that day.")
    async def family(self, info: Info) -> list[FamilyLink]:
        return await _family(info, self)

    @strawberry.field(description="The father that day, as a person.")
    async def father(self, info: Info) -> Person | None:
        return await self._related(info, "father")

    @strawberry.field(description="The mother that day, as a person.")
    async def mother(self, info: Info) -> Person | None:
        return await self._related(info, "mother")

    @strawberry.field(description="The spouse that day, as a person.")
    async def spouse(self, info: Info) -> Person | None:
        return await self._related(info, "spouse")

    @property
    def _facts(self) -> tuple[str, datetime.date]:
        return self.national_id, self.day

    async def _related(self, info: Info, relation: str) -> Person | None:
        for link in await _family(info, self):
            if link.relation == relation:
                return await _related_person(info, link)
        return None


async def _family(info: Info, person: Person) -> list[FamilyLink]:
    return await loaders(info).family.load((person.national_id, person.day))


async def _related_person(info: Info, link: FamilyLink) -> Person | None:
    return await loaders(info).person.load(PersonKey(link.national_id, link.day,
                                                     "person.family"))
