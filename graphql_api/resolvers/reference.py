"""Public reference look-ups: units as of a day, a code's versions and changes, location.

The statements are the CLI's (``schemas.reference_queries``), run on the API's async
engine.
"""

from __future__ import annotations

import datetime as dt

from graphql import GraphQLError

from graphql_api.context import Context
from graphql_api.pagination import Connection, connection, decode_cursor, page_size
from graphql_api.types.reference import AdminUnit, Code, CodeList
from schemas import reference as models
from schemas.reference_queries import (
    code_list_entries,
    unit_versions,
    units_covering,
    units_in_force,
)

_CODE_LISTS = {
    CodeList.INDUSTRY: models.Industry, CodeList.LAND_USE_TYPE: models.LandUseType,
    CodeList.LEGAL_FORM: models.LegalForm, CodeList.ETHNIC_GROUP: models.EthnicGroup,
    CodeList.COUNTRY: models.Country, CodeList.CURRENCY: models.Currency,
    CodeList.SEX: models.Sex, CodeList.PERSON_STATUS: models.PersonStatus,
    CodeList.RESIDENCE_KIND: models.ResidenceKind,
    CodeList.HOUSEHOLD_RELATION: models.HouseholdRelation,
    CodeList.FAMILY_RELATION: models.FamilyRelation,
    CodeList.LIFE_EVENT_TYPE: models.LifeEventType,
}


def _may_name_something(*words: str | None) -> bool:
    """False for words no level or code can be (text with NUL cannot even be sent)."""
    return not any(w is not None and "\x00" in w for w in words)


async def admin_units(ctx: Context, as_of: dt.date, level: str | None, parent: str | None,
                      first: int, after: str | None) -> Connection[AdminUnit]:
    """One page of the units in force on ``as_of``, by level and code."""
    size = page_size(first)
    start = decode_cursor(after, str, str)
    if not _may_name_something(level, parent):
        return connection([], size, AdminUnit.from_row, lambda r: ())
    rows = await ctx.read(units_in_force(as_of, level, parent,
                                           after=(start[0], start[1]) if start else None,
                                           limit=size + 1))
    return connection(rows, size, AdminUnit.from_row, lambda r: (r.level, r.code))


async def versions(ctx: Context, code: str) -> list[AdminUnit]:
    """Every version of the unit with ``code``, oldest first."""
    if not _may_name_something(code):
        return []
    return [AdminUnit.from_row(r) for r in await ctx.read(unit_versions(code))]


async def unit_at(ctx: Context, lon: float, lat: float, as_of: dt.date | None
                  ) -> AdminUnit | None:
    """The most specific unit in force on ``as_of`` whose boundary covers the point."""
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise GraphQLError(f"({lon}, {lat}) is not a longitude and latitude in EPSG:4326; "
                           "give lon in [-180, 180] and lat in [-90, 90].",
                           extensions={"code": "BAD_COORDINATES"})
    rows = await ctx.read(units_covering(lon, lat, as_of or dt.date.today()))
    return AdminUnit.from_row(rows[-1]) if rows else None


async def code_list(ctx: Context, name: CodeList, as_of: dt.date | None) -> list[Code]:
    """A code list, whole or as in use on ``as_of``."""
    table = _CODE_LISTS[name].__table__
    return [Code(code=r.code, name=r.name, name_en=r.name_en, parent_code=r.parent_code,
                 valid_from=r.valid_from, valid_to=r.valid_to)
            for r in await ctx.read(code_list_entries(table, as_of))]  # type: ignore[arg-type]
