"""Land records as a cadastre office sends them: parcel features in a spatial file, rights rows."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
from shapely import Polygon, box, to_wkb
from sqlalchemy import Engine, text

from loaders.sources.land_layout import PARCEL_FIELDS, RIGHT_FIELDS
from tests.factories import Seed, write_csv
from tests.factories.population import HANOI_WARD

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


def _load_land_sample(loader: Engine, folder: Path) -> None:
    from loaders.base import Options
    from loaders.land import load_land

    x, y = commune_corner(loader, HANOI_WARD)
    step = PARCEL_SIZE * 1.5
    first = [parcel(HANOI_WARD, "1", square(x, y)),
             parcel(HANOI_WARD, "2", square(x + step, y)),
             parcel(HANOI_WARD, "3", box(x + 2 * step, y, x + 2 * step + 2 * PARCEL_SIZE,
                                         y + PARCEL_SIZE), declared_area_m2="860")]
    split = [parcel(HANOI_WARD, f"3{part}", square(x + 2 * step + i * PARCEL_SIZE, y),
                    valid_from="2026-05-01", parents=f"{HANOI_WARD}/1/3")
             for i, part in enumerate("ab")]
    rights = [
        right("R1", HANOI_WARD, "1", "001080000001", valid_to="2026-04-01"),
        right("R1b", HANOI_WARD, "1", "001182000002", valid_from="2026-04-01"),
        right("R2", HANOI_WARD, "2", holder_kind="group",
              members="001080000001:0.5;001182000002:0.5"),
        right("M2", HANOI_WARD, "2", "Ngân hàng Nông nghiệp", rrr_type="mortgage",
              holder_kind="organisation", share="0.5", mortgaged_reference="R2",
              source_type="contract", valid_from="2026-02-01"),
        right("R3", HANOI_WARD, "3", "001182000002", valid_to="2026-05-01"),
    ]
    after_split = [right(f"R3{part}", HANOI_WARD, f"3{part}", "001182000002",
                         valid_from="2026-05-01") for part in "ab"]
    eff = Options(dt.date(2026, 6, 1))
    load_land(loader, write_parcels(folder / "land_parcels.geojson", first), eff)
    load_land(loader, write_csv(folder / "land_rights.csv", RIGHT_FIELDS, rights), eff)
    load_land(loader, write_parcels(folder / "land_split.geojson", split), eff)
    load_land(loader, write_csv(folder / "land_split_rights.csv", RIGHT_FIELDS, after_split),
              eff)


LAND_SAMPLE: Seed = _load_land_sample
"""The land sample (needs ``POPULATION_FAMILY``): in Hoàn Kiếm, parcel 1 held by
001080000001 until 2026-04-01 and by 001182000002 after; parcel 2 held half each by
the couple, half of it mortgaged to a bank; parcel 3 held by 001182000002 and split into
3a and 3b on 2026-05-01."""
