"""Reference types of the API: administrative units over time and code lists (public)."""

from __future__ import annotations

import datetime
import json
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graphql_api.context import loaders


@strawberry.type(description="One version of an administrative unit: a code names a unit "
                 "only together with a date, since the 2025 reorganisation re-used codes.")
class AdminUnit:
    unit_id: strawberry.Private[int]
    parent_id: strawberry.Private[int | None]
    code: str = strawberry.field(description="Statistics-office code (2 digits province, "
                                 "3 district, 5 commune).")
    level: str = strawberry.field(description="province, district or commune.")
    unit_type: str = strawberry.field(description="Kind of unit (e.g. tinh, thanh_pho_tw, "
                                      "phuong, xa).")
    name: str = strawberry.field(description="Short Vietnamese name, without the type.")
    full_name: str = strawberry.field(description="Vietnamese name with its type.")
    name_en: str | None = strawberry.field(description="English name, where known.")
    valid_from: datetime.date | None = strawberry.field(
        description="First day in force; null: since before the records begin.")
    valid_to: datetime.date | None = strawberry.field(
        description="First day no longer in force (exclusive); null while in force.")

    @classmethod
    def from_row(cls, row: Any) -> AdminUnit:
        """From a row of the unit selects in ``schemas.reference_queries``."""
        return cls(unit_id=row.id, parent_id=row.parent_id, code=row.code, level=row.level,
                   unit_type=row.unit_type, name=row.name, full_name=row.full_name,
                   name_en=row.name_en, valid_from=row.valid_from, valid_to=row.valid_to)

    @strawberry.field(description="The unit this version belonged to during its validity.")
    async def parent(self, info: Info) -> AdminUnit | None:
        if self.parent_id is None:
            return None
        return await loaders(info).unit.load(self.parent_id)

    @strawberry.field(description="What this version became at a reorganisation.")
    async def successors(self, info: Info) -> list[UnitChange]:
        return await loaders(info).successors.load(self.unit_id)

    @strawberry.field(description="What this version came from at a reorganisation.")
    async def predecessors(self, info: Info) -> list[UnitChange]:
        return await loaders(info).predecessors.load(self.unit_id)

    @strawberry.field(description="The boundary as a GeoJSON MultiPolygon (EPSG:4326), where "
                      "published; large, so sent only when asked for.")
    async def geometry(self, info: Info) -> JSON | None:
        geojson = await loaders(info).boundary.load(self.unit_id)
        return None if geojson is None else json.loads(geojson)


@strawberry.type(description="One step of a reorganisation, seen from one unit version.")
class UnitChange:
    unit: AdminUnit = strawberry.field(description="The unit version on the other side.")
    change_type: str = strawberry.field(description="merge, split, rename, recode or continue.")
    effective_date: datetime.date
    whole_unit: bool | None = strawberry.field(
        description="True when the whole old unit went into the new one, false when part of "
        "it did, null when the sources disagree.")


@strawberry.enum(description="The code lists the registries use.")
class CodeList(Enum):
    INDUSTRY = "industry"
    LAND_USE_TYPE = "land_use_type"
    LEGAL_FORM = "legal_form"
    ETHNIC_GROUP = "ethnic_group"
    COUNTRY = "country"
    CURRENCY = "currency"
    SEX = "sex"
    PERSON_STATUS = "person_status"
    RESIDENCE_KIND = "residence_kind"
    HOUSEHOLD_RELATION = "household_relation"
    FAMILY_RELATION = "family_relation"
    LIFE_EVENT_TYPE = "life_event_type"


@strawberry.type(description="One entry of a code list.")
class Code:
    code: str
    name: str | None = strawberry.field(description="Vietnamese name, where known.")
    name_en: str
    parent_code: str | None = strawberry.field(
        description="The enclosing code, for hierarchical lists (industries, land use).")
    valid_from: datetime.date | None
    valid_to: datetime.date | None
