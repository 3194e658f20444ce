"""Land records as a cadastre office sends them: parcel features in a spatial file, rights rows."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
from shapely import Polygon, box, to_wkb
from sqlalchemy import Engine, text

from loaders.sources.land_layout import PARCEL_FIELDS, RIGHT_FIELDS

PARCEL_SIZE = 0.0002
"""A square parcel's side in degrees (about 20 m in Hà Nội)."""


def commune_corner(engine: Engine, code: str) -> tuple[float, float]:
    """A point well inside a 2025 commune, from which a row of parcels fits in it."""
    with engine.connect() as conn:
        x, y = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p "
            "FROM ref.admin_unit WHERE level = 'commune' AND code = :c "
            "AND valid_to IS NULL) AS u"), {"c": code}).one()
    return float(x), float(y)


def square(x: float, y: float, size: float = PARCEL_SIZE) -> Polygon:
    return box(x, y, x + size, y + size)


def bowtie(x: float, y: float, size: float = PARCEL_SIZE) -> Polygon:
    """A self-intersecting ring (the survey's points out of order)."""
    return Polygon([(x, y), (x + size, y + size), (x + size, y), (x, y + size), (x, y)])


def parcel(commune: str, number: str, geometry: Any, **fields: str) -> dict[str, Any]:
    """A parcel feature on map sheet 1 with a plausible declared area (square metres)."""
    row: dict[str, Any] = {name: "" for name in PARCEL_FIELDS}
    row.update(commune_code=commune, map_sheet="1", parcel_number=number, land_use="ODT",
               declared_area_m2="430", address="Phố Hàng Bông", valid_from="2026-01-01",
               geometry=geometry)
    row.update(fields)
    return row


def write_parcels(path: Path, rows: list[dict[str, Any]], crs: str | None = "EPSG:4326",
                  driver: str | None = None) -> Path:
    """A spatial file of the rows (driver from the suffix: .geojson, .gpkg, .shp)."""
    geometry = np.array([to_wkb(r["geometry"]) for r in rows], dtype=object)
    fields = list(PARCEL_FIELDS)
    data = [np.array([r[f] for r in rows], dtype=object) for f in fields]
    with warnings.catch_warnings():
        # Writing without a CRS, or a Shapefile's short field names, is what a test wants.
        warnings.simplefilter("ignore")
        pyogrio.raw.write(str(path), geometry, data, fields, crs=crs, driver=driver,
                          geometry_type="Unknown")
    return path


def right(reference: str, commune: str, number: str, holder: str = "", **fields: str
          ) -> dict[str, str]:
    """A land-use right on parcel commune/1/number, held whole by a person, on a certificate."""
    row = {name: "" for name in RIGHT_FIELDS}
    row.update(reference=reference, rrr_type="land-use-right", commune_code=commune,
               map_sheet="1", parcel_number=number, holder_kind="person", holder_id=holder,
               share="1", valid_from="2026-01-01", source_type="certificate",
               source_reference=f"CS {reference}", source_issue_date="2026-01-01",
               source_authority="Văn phòng đăng ký đất đai Hà Nội")
    row.update(fields)
    return row
