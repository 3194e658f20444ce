"""Enterprise types of the API: verification claims and answers (DESIGN.md §7), enterprises
as of a day (read:enterprise), the published register entry (read:enterprise-public), and
the roles a person held."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from enum import Enum
from typing import NamedTuple

import strawberry
from strawberry.types import Info

from graphql_api.context import loaders
from graphql_api.types.reference import AdminUnit
from graphql_api.types.verification import FieldMatch
from loaders.rules.identifiers import ENTERPRISE_CODE

WELLFORMED_CODE = re.compile(ENTERPRISE_CODE)
"""A well-formed enterprise code (use ``fullmatch``). The check digit is the registry's to
know: a code whose digit fails is not found."""


@strawberry.enum(description="An enterprise's status on the day asked about.")
class EnterpriseStatus(Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DISSOLVING = "dissolving"
    DISSOLVED = "dissolved"
    BANKRUPT = "bankrupt"
    MERGED = "merged"
    SPLIT = "split"


@strawberry.input(description="What a service was told about an enterprise, to be checked.")
class EnterpriseClaim:
    code: str = strawberry.field(description="10-digit enterprise code (the tax code).")
    name: str | None = strawberry.field(
        default=None, description="Name, Vietnamese or foreign-language; compared after "
        "normalisation (Unicode form, case, spacing, tone-mark placement).")
    legal_representative_id: str | None = strawberry.field(
        default=None, description="Personal number of a person said to represent the "
        "enterprise at law.")
    head_office_unit_code: str | None = strawberry.field(
        default=None, description="Code of the commune of the head office on the day (a "
        "code names the unit that had it that day: the 2025 reorganisation re-used codes).")


@strawberry.type(description="The answer to an enterprise claim. It never contains stored "
                 "values.")
class EnterpriseVerification:
    code: str
    found: bool
    match: bool = strawberry.field(description="Found, and every given field matches.")
    status: EnterpriseStatus | None = strawberry.field(
        description="The status on the day asked about; null unless every claimed field "
        "matches.")
    fields: list[FieldMatch]
    reference: str = strawberry.field(description="Id of the audit record of this check.")


class EnterpriseKey(NamedTuple):
    """An enterprise asked about on a day; ``operation`` is how the read is audited."""

    code: str
    day: datetime.date
    operation: str = "enterprise"


EnterpriseFacts = tuple[str, datetime.date]
"""An enterprise's code and the day asked about: the key of its parts' loaders."""


@strawberry.type(description="An enterprise's names on the day asked about.")
class EnterpriseName:
    name: str = strawberry.field(description="Name in Vietnamese.")
    foreign_name: str | None = strawberry.field(description="Name in a foreign language.")
    abbreviation: str | None
    since: datetime.date


@strawberry.type(description="Where an enterprise has its head office.")
class HeadOffice:
    unit_id: strawberry.Private[int]
    address_line: str
    since: datetime.date

    @strawberry.field(description="The commune, as the unit in force when the office "
                      "opened there.")
    async def commune(self, info: Info) -> AdminUnit:
        unit = await loaders(info).unit.load(self.unit_id)
        assert unit is not None, "a head office refers to a unit by foreign key"
        return unit


@strawberry.type(description="A registered business line.")
class BusinessLine:
    industry_code: str = strawberry.field(description="VSIC (ISIC Rev. 4) code.")
    industry: str = strawberry.field(description="The industry's English name.")
    main: bool = strawberry.field(description="True for the main line.")
    since: datetime.date


@strawberry.type(description="Registered charter capital.")
class CharterCapital:
    amount: Decimal
    currency: str = strawberry.field(description="ISO 4217 code.")
    since: datetime.date


@strawberry.type(description="A person representing the enterprise at law on the day.")
class LegalRepresentative:
    national_id: str
    title: str = strawberry.field(description="Title the role is held under (director, "
                                  "general_director, ...).")
    since: datetime.date


@strawberry.type(description="An owner, member or shareholder on the day: a person or "
                 "another enterprise.")
class Owner:
    day: strawberry.Private[datetime.date]
    national_id: str | None = strawberry.field(description="The owner, when a person.")
    enterprise_code: str | None = strawberry.field(description="The owner, when an "
                                                   "enterprise.")
    share: Decimal = strawberry.field(description="Share of the charter capital, in percent.")
    since: datetime.date

    @strawberry.field(description="The owning enterprise on the same day, when an "
                      "enterprise owns it.")
    async def enterprise(self, info: Info) -> Enterprise | None:
        if self.enterprise_code is None:
            return None
        return await loaders(info).enterprise.load(
            EnterpriseKey(self.enterprise_code, self.day, "enterprise.owners"))


@strawberry.type(description="A branch, representative office or business location open on "
                 "the day.")
class DependentUnit:
    unit_id: strawberry.Private[int]
    code: str = strawberry.field(description="The parent's code, '-', three digits.")
    kind: str = strawberry.field(description="branch, rep_office or location.")
    name: str
    address_line: str
    since: datetime.date = strawberry.field(description="Since when its name and address "
                                            "are as given.")

    @strawberry.field(description="The commune, as the unit in force when the address "
                      "began.")
    async def commune(self, info: Info) -> AdminUnit:
        unit = await loaders(info).unit.load(self.unit_id)
        assert unit is not None, "a dependent unit's office refers to a unit by foreign key"
        return unit


@strawberry.type(description="An enterprise as the registry knows it on a day "
                 "(read:enterprise). Its representatives and person-owners are persons: each "
                 "read of them is audited, and shows in their access log.")
class Enterprise:
    day: strawberry.Private[datetime.date]
    code: str
    founding_date: datetime.date
    name: EnterpriseName | None = strawberry.field(description="The names valid that day.")
    legal_form: str | None = strawberry.field(description="Legal-form code that day (DNTN, "
                                              "TNHH1, TNHH2, CP, HD, HTX, ...).")
    status: EnterpriseStatus | None = strawberry.field(description="Status that day.")
    successor_code: str | None = strawberry.field(description="The enterprise it merged "
                                                  "into, when merged.")
    head_office: HeadOffice | None
    charter_capital: CharterCapital | None

    @strawberry.field(description="The business lines that day, the main line first.")
    async def lines(self, info: Info) -> list[BusinessLine]:
        return await loaders(info).business_lines.load(self._facts)

    @strawberry.field(description="Its legal representatives that day (an audited read of "
                      "each person's role).")
    async def representatives(self, info: Info) -> list[LegalRepresentative]:
        return await loaders(info).representatives.load(self._facts)

    @strawberry.field(description="Its owners that day (persons' roles audited as read).")
    async def owners(self, info: Info) -> list[Owner]:
        return await loaders(info).owners.load(self._facts)

    @strawberry.field(description="Its dependent units open that day, by code (at most 999).")
    async def branches(self, info: Info) -> list[DependentUnit]:
        return await loaders(info).branches.load(self._facts)

    @property
    def _facts(self) -> EnterpriseFacts:
        return self.code, self.day


@strawberry.type(description="What the business register publishes of an enterprise on a "
                 "day (read:enterprise-public): no person's number.")
class PublicEnterprise:
    day: strawberry.Private[datetime.date]
    code: str
    name: str | None = strawberry.field(description="Name in Vietnamese that day.")
    status: EnterpriseStatus | None = strawberry.field(description="Status that day.")
    head_office: HeadOffice | None

    @strawberry.field(description="The main business line that day.")
    async def main_line(self, info: Info) -> BusinessLine | None:
        lines = await loaders(info).business_lines.load((self.code, self.day))
        return next((line for line in lines if line.main), None)


@strawberry.enum(description="The kind of role a person holds in an enterprise.")
class RoleKind(Enum):
    LEGAL_REPRESENTATIVE = "legal_representative"
    OWNER = "owner"


@strawberry.type(description="A role a person held in an enterprise on the day asked about.")
class EnterpriseRole:
    day: strawberry.Private[datetime.date]
    kind: RoleKind
    enterprise_code: str
    title: str | None = strawberry.field(description="For a legal representative.")
    share: Decimal | None = strawberry.field(description="For an owner, in percent.")
    since: datetime.date

    @strawberry.field(description="The enterprise on the same day.")
    async def enterprise(self, info: Info) -> Enterprise | None:
        return await loaders(info).enterprise.load(
            EnterpriseKey(self.enterprise_code, self.day, "enterprisesOf.enterprise"))
