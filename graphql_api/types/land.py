"""Land types of the API: parcels as of a day, their rights, restrictions, holders and lineage.

A holder that is a person is shown by personal number only to clients holding
``read:person``; others see that a person holds the right, not who.
"""

from __future__ import annotations

import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON


@strawberry.type(description="A member of a group of joint holders and their share.")
class HolderMember:
    person_number: str | None = strawberry.field(
        description="The member's personal number; null without the read:person scope.")
    share: float = strawberry.field(description="Share of the group's holding (0-1].")


@strawberry.type(description="Who holds a right (LADM LA_Party): a person, an enterprise, "
                 "another organisation or a group of joint holders.")
class Holder:
    kind: str = strawberry.field(description="person, enterprise, organisation or group.")
    person_number: str | None = strawberry.field(
        description="A person holder's personal number; null without the read:person scope.")
    enterprise_code: str | None = strawberry.field(description="An enterprise's code.")
    name: str | None = strawberry.field(description="An organisation's name.")
    members: list[HolderMember] = strawberry.field(description="A group's members.")


@strawberry.type(description="The document a right rests on (LADM LA_AdministrativeSource).")
class AdministrativeSource:
    type: str = strawberry.field(description="certificate, contract or decision.")
    reference: str = strawberry.field(description="Serial or document number.")
    issue_date: datetime.date | None
    authority: str | None


@strawberry.type(description="A right, restriction or responsibility on a parcel (LADM LA_RRR) "
                 "as valid on the day asked about.")
class Right:
    reference: str
    type: str = strawberry.field(description="land-use-right, asset-ownership, mortgage, "
                                 "easement or planning-restriction.")
    share: float | None = strawberry.field(description="Share of the parcel (a mortgage: the "
                                           "share mortgaged).")
    valid_from: datetime.date
    valid_to: datetime.date | None
    mortgaged_reference: str | None = strawberry.field(
        description="For a mortgage, the right it burdens.")
    holder: Holder | None = strawberry.field(
        description="The holder (a mortgage: the lender); null for a restriction on the land.")
    source: AdministrativeSource


@strawberry.type(description="A parcel that a parcel came from or went into.")
class ParcelLink:
    id: strawberry.ID
    commune_code: str
    map_sheet: str
    parcel_number: str
    change: str = strawberry.field(description="split or merge.")
    effective_date: datetime.date


@strawberry.type(description="A cadastral parcel (LADM LA_SpatialUnit) as of a day.")
class Parcel:
    id: strawberry.ID = strawberry.field(description="The parcel's id (stable over versions).")
    commune_code: str
    map_sheet: str
    parcel_number: str
    land_use: str | None = strawberry.field(description="Land-use type code (ONT, LUC, ...).")
    declared_area_m2: float = strawberry.field(description="Area on the certificate, m².")
    geodesic_area_m2: float = strawberry.field(description="Area of the boundary on the "
                                               "ellipsoid, m².")
    address: str | None
    valid_from: datetime.date
    valid_to: datetime.date | None
    geometry: JSON = strawberry.field(description="Boundary as GeoJSON (EPSG:4326).")
    rights: list[Right] = strawberry.field(description="Rights, restrictions and "
                                           "responsibilities valid on the day.")
    came_from: list[ParcelLink] = strawberry.field(description="Parcels it was split or "
                                                   "merged from.")
    went_into: list[ParcelLink] = strawberry.field(description="Parcels it was split or "
                                                   "merged into.")

    @classmethod
    def from_row(cls, row: Any, rights: list[Right], came_from: list[ParcelLink],
                 went_into: list[ParcelLink]) -> Parcel:
        return cls(id=strawberry.ID(str(row.id)), commune_code=row.commune_code,
                   map_sheet=row.map_sheet, parcel_number=row.parcel_number,
                   land_use=row.land_use, declared_area_m2=float(row.declared_area_m2),
                   geodesic_area_m2=round(float(row.geodesic_area_m2), 1), address=row.address,
                   valid_from=row.valid_from, valid_to=row.valid_to, geometry=row.geometry,
                   rights=rights, came_from=came_from, went_into=went_into)
