"""Reader of spatial files (GeoJSON, GeoPackage, Shapefile) through GDAL (pyogrio), mapped by
a profile like the text readers.

Each feature comes out as its attributes (text, mapped by the profile) and its
geometry as WKB, in the file's own CRS; the database transforms it. A file must
say its CRS, or its profile must name one: guessing would put parcels on the
wrong continent. GeoJSON is EPSG:4326 by its standard (RFC 7946) unless it says
otherwise.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyogrio
import pyogrio.errors
import pyogrio.raw

from loaders.sources.readers import Profile, SourceError, as_text

SPATIAL_SUFFIXES = (".geojson", ".gpkg", ".shp", ".json", ".fgb")
_EPSG = re.compile(r"^EPSG:(\d{4,6})$", re.IGNORECASE)


@dataclass(frozen=True)
class SpatialSource:
    """A spatial file's layer, read: its CRS as an EPSG code and its features."""

    srid: int
    fields: tuple[str, ...]
    count: int
    _columns: list[Any]
    _geometry: Any
    profile: Profile

    def features(self) -> Iterator[tuple[int, dict[str, str], bytes | None]]:
        """(feature number from 1, mapped attributes, WKB or None) in file order."""
        for index in range(self.count):
            raw = {name: _value(column[index]) for name, column
                   in zip(self.fields, self._columns, strict=True)}
            geometry = self._geometry[index] if self._geometry is not None else None
            yield index + 1, self.profile.apply(raw), geometry


def is_spatial(path: Path) -> bool:
    """Whether the file is read as spatial features (by its suffix; ``.gz`` is looked through)."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    return bool(suffixes) and suffixes[-1] in SPATIAL_SUFFIXES


def _gdal_path(path: Path) -> str:
    # GDAL reads a gzip-compressed file through its virtual file system.
    return f"/vsigzip/{path}" if path.suffix.lower() == ".gz" else str(path)


def read_spatial(path: Path, profile: Profile, max_features: int | None = None) -> SpatialSource:
    """Read the file's first layer; SourceError when it cannot be read, holds more than
    ``max_features`` features, or has no CRS and the profile names none."""
    try:
        meta, _, geometry, columns = pyogrio.raw.read(
            _gdal_path(path), max_features=None if max_features is None else max_features + 1)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise SourceError(f"{path.name} cannot be read as a spatial file: {exc}") from exc
    count = len(geometry) if geometry is not None else (len(columns[0]) if columns else 0)
    if max_features is not None and count > max_features:
        raise SourceError(f"{path.name} holds more than {max_features} features, the limit of "
                          "one load (MDR_LOAD_MAX_RECORDS); split the file.")
    crs = meta.get("crs") or profile.crs
    if not crs:
        raise SourceError(
            f"{path.name} does not say its coordinate reference system (no .prj, no CRS in "
            "the file), so its coordinates cannot be placed on the map. Give the file its "
            "CRS, or load it with a profile that names one (crs: EPSG:3405 for VN-2000 / UTM "
            "48N).")
    return SpatialSource(_srid(str(crs), path), tuple(str(f) for f in meta["fields"]), count,
                         list(columns), geometry, profile)


def _srid(crs: str, path: Path) -> int:
    match = _EPSG.match(crs.strip())
    if match:
        return int(match.group(1))
    raise SourceError(f"The CRS of {path.name} is not given as an EPSG code ({crs[:80]!r}); "
                      "load it with a profile naming its EPSG code (crs: EPSG:nnnn).")


def _value(value: Any) -> str:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars: datetime64, integers, floats
        value = value.item()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, dt.date | dt.datetime):
            return value.isoformat()[:10] if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, float) and value != value:  # NaN: a missing number
        return ""
    return as_text(value)
