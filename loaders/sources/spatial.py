"""Reader of spatial files (GeoJSON, GeoPackage, Shapefile) through GDAL (pyogrio), mapped by
a profile like the text readers.

The layer is read as a stream of Arrow batches of at most ``batch_size`` features,
so a load holds one batch at a time whatever the file's size. Each batch comes
out column by column: the attributes as text, mapped by the profile, and the
geometries as WKB in the file's own CRS; the database transforms them. A file
must say its CRS, or its profile must name one: guessing would put parcels on
the wrong continent. GeoJSON is EPSG:4326 by its standard (RFC 7946) unless it
says otherwise.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
import pyogrio.errors
import pyogrio.raw

from loaders.sources.readers import Profile, SourceError, as_text

SPATIAL_SUFFIXES = (".geojson", ".gpkg", ".shp", ".json", ".fgb")
BATCH_FEATURES = 10_000
"""Features read at once: large enough that the per-batch work is negligible, small
enough that a batch of parcels (a few MB) is the most a load holds of its file."""
_EPSG = re.compile(r"^EPSG:(\d{4,6})$", re.IGNORECASE)
_GDAL_ERRORS = (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
                pyogrio.errors.FieldError, pyogrio.errors.GeometryError, OSError)


@dataclass(frozen=True)
class FeatureBatch:
    """Consecutive features of a layer, column by column."""

    first: int
    """The number of its first feature (features are numbered from 1 in file order)."""
    columns: dict[str, list[str]]
    """Attribute (after the profile's mapping) to its values as text, blank when missing."""
    wkb: list[bytes | None]
    """Each feature's geometry as WKB, None when it has none."""

    def __len__(self) -> int:
        return len(self.wkb)

    def records(self) -> Iterator[tuple[int, dict[str, str], bytes | None]]:
        """(feature number, attributes, WKB) one feature at a time."""
        names = list(self.columns)
        for index, values in enumerate(zip(*self.columns.values(), strict=True)):
            yield self.first + index, dict(zip(names, values, strict=True)), self.wkb[index]
        if not names:
            for index, wkb in enumerate(self.wkb):
                yield self.first + index, {}, wkb


@dataclass(frozen=True)
class SpatialLayer:
    """A spatial file's first layer, open: its CRS as an EPSG code and its features."""

    path: Path
    srid: int
    fields: tuple[str, ...]
    profile: Profile
    _reader: Any
    _geometry_column: str

    def batches(self) -> Iterator[FeatureBatch]:
        """The features in file order, a batch at a time; SourceError when the file breaks
        off midway (the load is then aborted whole)."""
        first = 1
        try:
            for batch in self._reader:
                out = self._batch(first, batch)
                first += len(out)
                yield out
        except (*_GDAL_ERRORS, pa.ArrowException) as exc:
            raise SourceError(f"{self.path.name} cannot be read as a spatial file past "
                              f"feature {first - 1}: {exc}") from exc

    def features(self) -> Iterator[tuple[int, dict[str, str], bytes | None]]:
        """(feature number from 1, mapped attributes, WKB or None) in file order."""
        for batch in self.batches():
            yield from batch.records()

    def _batch(self, first: int, batch: pa.RecordBatch) -> FeatureBatch:
        names = batch.schema.names
        wkb: list[bytes | None] = (batch.column(names.index(self._geometry_column)).to_pylist()
                                   if self._geometry_column in names else [None] * len(batch))
        raw = {field: _texts(batch.column(names.index(field))) for field in self.fields
               if field in names}
        return FeatureBatch(first, _mapped(self.profile, raw, len(wkb)), wkb)


@contextmanager
def open_spatial(path: Path, profile: Profile,
                 batch_size: int = BATCH_FEATURES) -> Iterator[SpatialLayer]:
    """Open the file's first layer for reading in batches; SourceError when it cannot be
    read, or has no CRS and the profile names none."""
    stack = ExitStack()
    try:
        meta, reader = stack.enter_context(pyogrio.raw.open_arrow(
            _gdal_path(path), batch_size=batch_size, use_pyarrow=True))
    except _GDAL_ERRORS as exc:
        stack.close()
        raise SourceError(f"{path.name} cannot be read as a spatial file: {exc}") from exc
    with stack:
        crs = meta.get("crs") or profile.crs
        if not crs:
            raise SourceError(
                f"{path.name} does not say its coordinate reference system (no .prj, no CRS "
                "in the file), so its coordinates cannot be placed on the map. Give the file "
                "its CRS, or load it with a profile that names one (crs: EPSG:3405 for "
                "VN-2000 / UTM 48N).")
        yield SpatialLayer(path, _srid(str(crs), path), tuple(str(f) for f in meta["fields"]),
                           profile, reader, meta.get("geometry_name") or "wkb_geometry")


def is_spatial(path: Path) -> bool:
    """Whether the file is read as spatial features (by its suffix; ``.gz`` is looked through)."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    return bool(suffixes) and suffixes[-1] in SPATIAL_SUFFIXES


def _gdal_path(path: Path) -> str:
    # GDAL reads a gzip-compressed file through its virtual file system.
    return f"/vsigzip/{path}" if path.suffix.lower() == ".gz" else str(path)


def _srid(crs: str, path: Path) -> int:
    match = _EPSG.match(crs.strip())
    if match:
        return int(match.group(1))
    raise SourceError(f"The CRS of {path.name} is not given as an EPSG code ({crs[:80]!r}); "
                      "load it with a profile naming its EPSG code (crs: EPSG:nnnn).")


def _texts(column: pa.Array) -> list[str]:
    """A column's values as text, blank when missing."""
    if pa.types.is_date32(column.type):
        # Arrow writes a whole column of days as ISO text at once (as date.isoformat does
        # one value at a time).
        column = pc.cast(column, pa.string())
    values = column.to_pylist()
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return [value if value is not None else "" for value in values]
    return [_value(value) for value in values]


def _mapped(profile: Profile, raw: dict[str, list[str]], count: int) -> dict[str, list[str]]:
    """The profile's mapping (``Profile.apply``) applied to whole columns."""
    if profile.layout is not None:
        rows = [profile.apply(dict(zip(raw, values, strict=True)))
                for values in zip(*raw.values(), strict=True)]
        names = list(dict.fromkeys(name for row in rows for name in row))
        return {name: [row.get(name, "") for row in rows] for name in names}
    if not (profile.columns or profile.values or profile.defaults):
        return raw
    out: dict[str, list[str]] = {}
    for key, values in raw.items():
        target = profile.columns.get(key, key if not profile.columns else None)
        if target is None:
            continue
        mapping = profile.values.get(target)
        out[target] = [mapping.get(v, v) for v in values] if mapping else values
    for key, value in profile.defaults.items():
        out[key] = [v or value for v in out.get(key, [""] * count)]
    return out


def _value(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()[:10]
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN: a missing number
        return ""
    return as_text(value)
