"""The canonical input layout of the land registry (what `mdr load land` reads without a
profile, and what `mdr fixtures generate land` writes).

Two kinds of file:

* **parcels**: a spatial file (GeoJSON, GeoPackage, Shapefile), one feature per
  parcel, polygon or multipolygon, in any CRS the file states (or its profile
  names); the attributes are :data:`PARCEL_FIELDS`;
* **rights**: CSV or JSON Lines, one row per right, restriction or
  responsibility, with its holder and source: :data:`RIGHT_FIELDS`.

Field conventions:

* a parcel is named by ``commune_code``, ``map_sheet`` and ``parcel_number``;
  ``parents`` lists the parcels a split or merge made it from, as
  ``commune/sheet/number`` separated by ``;`` (one parent: a split; several: a
  merge), which end on the new parcel's ``valid_from``;
* ``holder_kind`` is person (``holder_id`` a 12-digit personal number),
  enterprise (a 10-digit enterprise code), organisation (``holder_id`` its name)
  or group (joint holders: ``members`` as ``id:share`` separated by ``;``);
* shares are fractions (``0.5``), percentages (``50%``) or ratios (``1/2``);
* a mortgage names the right it burdens in ``mortgaged_reference`` and its
  lender as the holder;
* dates: ISO ``YYYY-MM-DD`` or the Vietnamese ``DD/MM/YYYY``.
"""

from __future__ import annotations

PARCEL_FIELDS: tuple[str, ...] = (
    "commune_code", "map_sheet", "parcel_number", "land_use", "declared_area_m2", "address",
    "valid_from", "parents",
)
REQUIRED_PARCEL_FIELDS = ("commune_code", "map_sheet", "parcel_number", "declared_area_m2")

RIGHT_FIELDS: tuple[str, ...] = (
    "reference", "rrr_type", "commune_code", "map_sheet", "parcel_number", "holder_kind",
    "holder_id", "members", "share", "valid_from", "valid_to", "mortgaged_reference",
    "source_type", "source_reference", "source_issue_date", "source_authority",
)
REQUIRED_RIGHT_FIELDS = ("reference", "rrr_type", "commune_code", "map_sheet",
                         "parcel_number", "valid_from", "source_type", "source_reference")
