"""Parcel look-ups as of a day: at a point, by id, by commune (paged), by holder.

Each look-up reads the parcels, then the rights, members and lineage of all of
them in one statement each, so a page of parcels costs four statements whatever
its size. A person's number is shown only to ``read:person`` clients, and every
answer that ties a person to parcels is recorded in the audit trail under that
person, so it shows in their ``accessLog``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from graphql import GraphQLError
from sqlalchemy import text

from graphql_api.audit import Access, record
from graphql_api.context import Context
from graphql_api.pagination import (
    MAX_PAGE_SIZE,
    Connection,
    connection,
    decode_cursor,
    page_size,
)
from graphql_api.types.land import (
    AdministrativeSource,
    Holder,
    HolderMember,
    Parcel,
    ParcelLink,
    Right,
)
from loaders.rules.identifiers import NATIONAL_ID
from schemas.temporal import current_on

_PARCELS = f"""
    SELECT p.id, p.commune_code, p.map_sheet, p.parcel_number, v.land_use,
           v.declared_area_m2, ST_Area(v.geom::geography) AS geodesic_area_m2, v.address,
           v.valid_from, v.valid_to, ST_AsGeoJSON(v.geom, 7)::json AS geometry
    FROM land.parcel p
    JOIN land.parcel_version v ON v.parcel_id = p.id AND {current_on('v', ':day')}"""

_AT = text(_PARCELS + """
    WHERE ST_Covers(v.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
    ORDER BY p.id LIMIT :limit""")
_BY_ID = text(_PARCELS + " WHERE p.id = :id")
_IN_COMMUNE = text(_PARCELS + """
    WHERE p.commune_code = :commune AND p.id > :after ORDER BY p.id LIMIT :limit""")
# A person holds a parcel alone or as a member of a group.
_OF_HOLDER = text(_PARCELS + f"""
    WHERE p.id IN (
        SELECT r.parcel_id FROM land.rrr r JOIN land.party h ON h.id = r.party_id
        WHERE {current_on('r', ':day')} AND r.rrr_type <> 'mortgage'
          AND (h.national_id = :holder OR h.id IN (
                SELECT m.group_id FROM land.party_member m JOIN land.party x
                  ON x.id = m.member_id WHERE x.national_id = :holder)))
    ORDER BY p.id LIMIT :limit""")

_RIGHTS = text(f"""
    SELECT r.parcel_id, r.reference, r.rrr_type, r.share, r.valid_from, r.valid_to,
           r.mortgaged_reference, h.id AS party_id, h.party_kind, h.national_id,
           h.enterprise_code, h.name, s.source_type, s.reference AS source_reference,
           s.issue_date, s.authority
    FROM land.rrr r
    JOIN land.administrative_source s ON s.id = r.source_id
    LEFT JOIN land.party h ON h.id = r.party_id
    WHERE r.parcel_id = ANY(CAST(:ids AS bigint[])) AND {current_on('r', ':day')}
    ORDER BY r.parcel_id, r.reference""")
_MEMBERS = text("""
    SELECT m.group_id, x.national_id, m.share FROM land.party_member m
    JOIN land.party x ON x.id = m.member_id
    WHERE m.group_id = ANY(CAST(:ids AS bigint[])) ORDER BY m.group_id, x.national_id""")
_LINEAGE = text("""
    SELECT l.parent_id, l.child_id, l.change_kind, l.effective_date,
           a.commune_code AS parent_commune, a.map_sheet AS parent_sheet,
           a.parcel_number AS parent_number, b.commune_code AS child_commune,
           b.map_sheet AS child_sheet, b.parcel_number AS child_number
    FROM land.parcel_lineage l
    JOIN land.parcel a ON a.id = l.parent_id JOIN land.parcel b ON b.id = l.child_id
    WHERE (l.parent_id = ANY(CAST(:ids AS bigint[])) OR l.child_id = ANY(CAST(:ids AS bigint[])))
      AND l.effective_date <= :day
    ORDER BY l.effective_date, l.id""")


async def parcels_at(ctx: Context, lon: float, lat: float, as_of: dt.date | None
                     ) -> list[Parcel]:
    """The parcels whose boundary covers the point on the day (two on a shared edge)."""
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise GraphQLError(f"({lon}, {lat}) is not a longitude and latitude in EPSG:4326; "
                           "give lon in [-180, 180] and lat in [-90, 90].",
                           extensions={"code": "BAD_COORDINATES"})
    day = as_of or dt.date.today()
    rows = _bounded(await ctx.read(_AT, {"lon": lon, "lat": lat, "day": day,
                                         "limit": MAX_PAGE_SIZE + 1}))
    return await _complete(ctx, rows, day, "parcelsAt")


async def parcel(ctx: Context, parcel_id: strawberry.ID, as_of: dt.date | None
                 ) -> Parcel | None:
    """The parcel with this id as it was on the day, or None."""
    if not str(parcel_id).isdigit() or len(str(parcel_id)) > 18:
        return None
    day = as_of or dt.date.today()
    rows = await ctx.read(_BY_ID, {"id": int(parcel_id), "day": day})
    found = await _complete(ctx, rows, day, "parcel")
    return found[0] if found else None


async def parcels_in(ctx: Context, commune: str, as_of: dt.date | None, first: int,
                     after: str | None) -> Connection[Parcel]:
    """One page of a commune's parcels on the day, by id."""
    size = page_size(first)
    start = decode_cursor(after, int)
    day = as_of or dt.date.today()
    if "\x00" in commune or len(commune) > 8:
        return connection([], size, lambda p: p, lambda p: ())
    rows = await ctx.read(_IN_COMMUNE, {"commune": commune, "day": day,
                                        "after": start[0] if start else 0, "limit": size + 1})
    page = connection(await _complete(ctx, rows[:size], day, "parcels"), size, lambda p: p,
                      lambda p: (int(p.id),))
    # The extra row read only says whether another page follows.
    page.page_info.has_next_page = len(rows) > size
    return page


async def parcels_of(ctx: Context, holder: str, as_of: dt.date | None) -> list[Parcel]:
    """The parcels a person holds a right on, alone or jointly, on the day; audited."""
    if not NATIONAL_ID.fullmatch(holder):
        raise GraphQLError("holder must be a 12-digit personal number.",
                           extensions={"code": "BAD_HOLDER"})
    day = as_of or dt.date.today()
    rows = _bounded(await ctx.read(_OF_HOLDER, {"holder": holder, "day": day,
                                                "limit": MAX_PAGE_SIZE + 1}))
    return await _complete(ctx, rows, day, "parcelsOf", asked_about=holder)


def _bounded(rows: list[Any]) -> list[Any]:
    """A list answer holds at most MAX_PAGE_SIZE parcels, like a page."""
    if len(rows) > MAX_PAGE_SIZE:
        raise GraphQLError(f"More than {MAX_PAGE_SIZE} parcels answer this question; ask for "
                           "a commune's parcels page by page (parcels) instead.",
                           extensions={"code": "TOO_MANY_PARCELS", "limit": MAX_PAGE_SIZE})
    return rows


async def _complete(ctx: Context, rows: list[Any], day: dt.date, operation: str,
                    asked_about: str | None = None) -> list[Parcel]:
    """Parcels with their rights and lineage; records whom the answer reveals holdings of."""
    if not rows:
        if asked_about is not None:
            await record(ctx, [Access(operation, asked_about, "not-found")])
        return []
    ids = [row.id for row in rows]
    rights_rows = await ctx.read(_RIGHTS, {"ids": ids, "day": day})
    groups = sorted({r.party_id for r in rights_rows if r.party_kind == "group"})
    members: dict[int, list[tuple[str, float]]] = {}
    for m in (await ctx.read(_MEMBERS, {"ids": groups}) if groups else []):
        members.setdefault(m.group_id, []).append((m.national_id, float(m.share)))
    lineage = await ctx.read(_LINEAGE, {"ids": ids, "day": day})
    shows_numbers = "read:person" in ctx.client.scopes
    revealed: set[str] = {asked_about} if asked_about else set()

    def person(number: str | None) -> str | None:
        if number is None or not shows_numbers:
            return None
        revealed.add(number)
        return number

    rights: dict[int, list[Right]] = {}
    for r in rights_rows:
        holder = None if r.party_id is None else Holder(
            kind=r.party_kind, person_number=person(r.national_id),
            enterprise_code=r.enterprise_code,
            name=r.name if r.party_kind == "organisation" else None,
            members=[HolderMember(person_number=person(n), share=s)
                     for n, s in members.get(r.party_id, [])])
        rights.setdefault(r.parcel_id, []).append(Right(
            reference=r.reference, type=r.rrr_type,
            share=None if r.share is None else float(r.share), valid_from=r.valid_from,
            valid_to=r.valid_to, mortgaged_reference=r.mortgaged_reference, holder=holder,
            source=AdministrativeSource(type=r.source_type, reference=r.source_reference,
                                        issue_date=r.issue_date, authority=r.authority)))
    came_from: dict[int, list[ParcelLink]] = {}
    went_into: dict[int, list[ParcelLink]] = {}
    for link in lineage:
        came_from.setdefault(link.child_id, []).append(ParcelLink(
            id=strawberry.ID(str(link.parent_id)), commune_code=link.parent_commune,
            map_sheet=link.parent_sheet, parcel_number=link.parent_number,
            change=link.change_kind, effective_date=link.effective_date))
        went_into.setdefault(link.parent_id, []).append(ParcelLink(
            id=strawberry.ID(str(link.child_id)), commune_code=link.child_commune,
            map_sheet=link.child_sheet, parcel_number=link.child_number,
            change=link.change_kind, effective_date=link.effective_date))
    parcels = [Parcel.from_row(row, rights.get(row.id, []), came_from.get(row.id, []),
                               went_into.get(row.id, [])) for row in rows]
    if revealed:
        await record(ctx, [Access(operation, number, "read") for number in sorted(revealed)])
    return parcels
