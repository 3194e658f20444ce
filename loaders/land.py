"""``mdr load land``: parcels (spatial files) and rights (CSV / JSON Lines) into the land registry.

Parcels: extract (GeoJSON, GeoPackage, Shapefile through pyogrio, mapped by a
profile) → validate each feature's attributes → COPY into staging with the
geometry as WKB in its source CRS → set-based checks in PostGIS (transform to
EPSG:4326, validity or ``--repair``, overlaps with current parcels and with the
file's own, inside the declared commune, declared against geodesic area, units,
codes, lineage) → merge with history (``loaders.history``). Rights: validate →
stage → check parcels, holders, codes, shares and mortgages → merge parties,
sources and versioned rights. The run itself (lock, threshold, one transaction,
run record) is ``loaders.base.run_load``.

Counts: parcels (or rights) inserted (new), updated (a new version recorded) and
unchanged.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from loaders import reasons
from loaders.base import (
    FileStage,
    LoadResult,
    Options,
    Progress,
    RegistryLoader,
    RowChecker,
    Steps,
    copy_rows,
    load_file,
)
from loaders.checks import reject_units_not_found, reject_unknown_codes, set_unit_at, upsert
from loaders.history import Versioned, apply_versions, insert_first_versions
from loaders.rules.dates import parse_date
from loaders.rules.identifiers import PERSONAL_NUMBER
from loaders.rules.text import clean, clean_all, has_control_characters
from loaders.sources.land_layout import (
    PARCEL_FIELDS,
    REQUIRED_PARCEL_FIELDS,
    REQUIRED_RIGHT_FIELDS,
    RIGHT_FIELDS,
)
from loaders.sources.readers import Profile, SourceError
from loaders.sources.spatial import FeatureBatch, is_spatial, open_spatial
from schemas.constants import RRR_TYPES
from schemas.periods import current_on

REGISTRY = "land"

OVERLAP_MIN_AREA_M2 = 1.0
"""An overlap smaller than this is survey noise, not two claims on one piece of land ..."""
OVERLAP_MIN_SHARE = 0.01
"""... and so is one below this share of the smaller parcel; above both, it is rejected."""
OUTSIDE_MAX_SHARE = 0.5
"""Commune boundaries are simplified (about 55 m), so a parcel near a border may stick out
of its commune's polygon; more than half of it outside means the wrong commune."""
AREA_TOLERANCE = 0.10
"""Declared and geodesic area may differ by this share (old surveys, rounding) unflagged ..."""
AREA_TOLERANCE_M2 = 5.0
"""... or by this many square metres (small plots)."""
TEMP_BUFFERS = "1GB"
"""Most memory a parcel load's staging tables may take before spilling (allocated as used)."""
DISTINCT_DAYS_KEPT = 4096
"""Parsed days kept for reuse: a file's parcels share few distinct days."""
METRES_PER_DEGREE = 111_320.0
"""Of latitude (and of longitude at the equator)."""

_PERSONAL_NUMBER = re.compile(f"^{PERSONAL_NUMBER}$")
_ENTERPRISE_CODE = re.compile(r"^[0-9]{10}$")
HOLDER_KINDS = ("person", "enterprise", "organisation", "group")
RIGHTS_NEEDING_A_HOLDER = ("land-use-right", "asset-ownership", "mortgage", "easement")


# -- rows: normalise and validate ------------------------------------------------------------


def parse_number(value: str) -> float | None:
    """A decimal in either notation: 1234.5, 1,234.5, 1.234,5 or 1234,5; None if not one."""
    text = value.replace(" ", "").replace("\u00a0", "")
    if "," in text and "." in text:
        text = text.replace(".", "").replace(",", ".") if text.rfind(",") > text.rfind(".") \
            else text.replace(",", "")
    elif "," in text:
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return None


def parse_share(value: str) -> Fraction | str:
    """A share as a fraction in (0, 1], or why it is not one."""
    text = value.strip()
    try:
        if text.endswith("%"):
            share = Fraction(text[:-1].strip()) / 100
        else:
            share = Fraction(text.replace(",", "."))
    except (ValueError, ZeroDivisionError):
        return "is not a number"
    if not 0 < share <= 1:
        return "is not above 0 and at most 1"
    return share


def parcel_key(commune: str, sheet: str, number: str) -> str:
    """How messages and lineage name a parcel: commune/sheet/number."""
    return f"{commune}/{sheet}/{number}"


class LandChecker(RowChecker):
    """Normalises and validates the rows of a land file."""

    def __init__(self, source: str, effective_date: dt.date) -> None:
        super().__init__(source, effective_date)
        self.effective_date: dt.date = effective_date
        # Few distinct days recur across a file's rows: each is parsed once (the cache
        # holds at most a batch's worth of distinct values per batch read).
        self._days: dict[str, dt.date | None] = {}

    def required(self, number: int, rec: dict[str, str], fields: tuple[str, ...]) -> bool:
        for name in fields:
            if not rec.get(name):
                self.reject(reasons.MISSING_REQUIRED_FIELD, number, name, "", context="")
                return False
        return True

    def parcel_row(self, number: int, rec: dict[str, str], wkb: bytes | None
                   ) -> tuple[Any, ...] | None:
        rec = {k: clean(rec.get(k) or "") for k in PARCEL_FIELDS}
        if not self.text_ok(number, rec) or not self.required(number, rec,
                                                              REQUIRED_PARCEL_FIELDS):
            return None
        if wkb is None:
            self.reject(reasons.MISSING_REQUIRED_FIELD, number, "geometry", "", context="")
            return None
        area = parse_number(rec["declared_area_m2"])
        if area is None or area <= 0:
            self.reject(reasons.MISSING_REQUIRED_FIELD, number, "declared_area_m2",
                        rec["declared_area_m2"], context=" as a positive number of m²")
            return None
        dates = self.dates(number, rec, ("valid_from",))
        if dates is None:
            return None
        since = dates["valid_from"] or self.effective_date
        parents = [p.strip() for p in rec["parents"].split(";") if p.strip()]
        for parent in parents:
            if parent.count("/") != 2:
                self.reject(reasons.UNKNOWN_PARCEL, number, "parents", parent,
                            day=since)
                return None
        return (number, rec["commune_code"], rec["map_sheet"], rec["parcel_number"],
                rec["land_use"] or None, round(area, 2), rec["address"] or None, since,
                parents or None, wkb)

    def parcel_rows(self, batch: FeatureBatch) -> Iterator[tuple[Any, ...]]:
        """The staged rows of a batch of features, worked out column by column.

        A feature whose values all pass the quick column checks is staged as it is; any
        other one goes through :meth:`parcel_row`, which names what is wrong with it (or
        accepts it, e.g. an area written as 1.234,5). Either way a feature is staged or
        rejected exactly as :meth:`parcel_row` would.
        """
        count = len(batch)
        blank = [""] * count
        cols = {name: clean_all(batch.columns.get(name, blank)) for name in PARCEL_FIELDS}
        suspect: set[int] = set()
        for name in PARCEL_FIELDS:
            column = cols[name]
            if has_control_characters("".join(column)):
                suspect.update(i for i, v in enumerate(column) if has_control_characters(v))
        for name in REQUIRED_PARCEL_FIELDS:
            if not all(cols[name]):
                suspect.update(i for i, v in enumerate(cols[name]) if not v)
        suspect.update(i for i, wkb in enumerate(batch.wkb) if wkb is None)
        areas = [parse_number(v) for v in cols["declared_area_m2"]]
        suspect.update(i for i, a in enumerate(areas) if a is None or a <= 0)
        days = [self._day(v) for v in cols["valid_from"]]
        suspect.update(i for i, d in enumerate(days) if d is None)
        parents: list[list[str] | None] = [None] * count
        for i, text in enumerate(cols["parents"]):
            if text:
                keys = [p.strip() for p in text.split(";") if p.strip()]
                parents[i] = keys or None
                if any(k.count("/") != 2 for k in keys):
                    suspect.add(i)
        for i, row in enumerate(zip(
                range(batch.first, batch.first + count), cols["commune_code"],
                cols["map_sheet"], cols["parcel_number"], cols["land_use"], areas,
                cols["address"], days, parents, batch.wkb, strict=True)):
            if i in suspect:
                staged = self.parcel_row(batch.first + i, {name: batch.columns.get(
                    name, blank)[i] for name in PARCEL_FIELDS}, batch.wkb[i])
                if staged is not None:
                    yield staged
                continue
            number, commune, sheet, parcel, land_use, area, address, day, keys, wkb = row
            assert area is not None
            yield (number, commune, sheet, parcel, land_use or None, round(area, 2),
                   address or None, day, keys, wkb)

    def _day(self, text: str) -> dt.date | None:
        """The day a value names (the effective date when blank); None if it is not one."""
        if not text:
            return self.effective_date
        day = self._days.get(text)
        if day is None:
            if len(self._days) >= DISTINCT_DAYS_KEPT:
                self._days.clear()
            parsed = parse_date(text)
            day = self._days[text] = parsed if isinstance(parsed, dt.date) else None
        return day

    def right_row(self, number: int, rec: dict[str, str]) -> tuple[Any, ...] | None:
        rec = {k: clean(rec.get(k) or "") for k in RIGHT_FIELDS}
        if not self.text_ok(number, rec) or not self.required(number, rec,
                                                              REQUIRED_RIGHT_FIELDS):
            return None
        kind = rec["holder_kind"] or ("group" if rec["members"] else "person")
        if kind not in HOLDER_KINDS:
            self.reject(reasons.UNKNOWN_CODE, number, "holder_kind", kind, what="Holder kind",
                        expected=", ".join(HOLDER_KINDS))
            return None
        holder = rec["holder_id"]
        members: list[str] = []
        shares: list[str] = []
        if kind == "group":
            if not self.group_ok(number, rec["members"], members, shares):
                return None
        elif not holder and rec["rrr_type"] in RIGHTS_NEEDING_A_HOLDER:
            self.reject(reasons.MISSING_REQUIRED_FIELD, number, "holder_id", "",
                        context=f" for a {rec['rrr_type']}")
            return None
        elif kind == "person" and holder and not _PERSONAL_NUMBER.match(holder):
            self.reject(reasons.UNKNOWN_HOLDER, number, "holder_id", holder,
                        what="a 12-digit personal number")
            return None
        elif kind == "enterprise" and not _ENTERPRISE_CODE.match(holder):
            self.reject(reasons.UNKNOWN_HOLDER, number, "holder_id", holder,
                        what="a 10-digit enterprise code")
            return None
        share: Fraction | str | None = None
        if rec["share"]:
            share = parse_share(rec["share"])
            if isinstance(share, str):
                self.reject(reasons.INVALID_SHARE, number, "share", rec["share"],
                            problem=share)
                return None
        dates = self.dates(number, rec, ("valid_from", "valid_to", "source_issue_date"))
        if dates is None:
            return None
        since, until = dates["valid_from"], dates["valid_to"]
        assert since is not None
        if until is not None and until <= since:
            self.reject(reasons.INVALID_DATE, number, "valid_to", str(until),
                        problem=f"is not after valid_from {since}")
            return None
        return (number, rec["reference"], rec["rrr_type"], rec["commune_code"],
                rec["map_sheet"], rec["parcel_number"], kind, holder or None,
                members or None, shares or None,
                float(share) if isinstance(share, Fraction) else None, since, until,
                rec["mortgaged_reference"] or None, rec["source_type"],
                rec["source_reference"], dates["source_issue_date"],
                rec["source_authority"] or None)

    def group_ok(self, number: int, text: str, members: list[str], shares: list[str]) -> bool:
        """Parse ``id:share;id:share``; the shares of a group add up to 1."""
        total = Fraction(0)
        for part in (p.strip() for p in text.split(";") if p.strip()):
            member, _, share_text = part.partition(":")
            member = member.strip()
            if not _PERSONAL_NUMBER.match(member):
                self.reject(reasons.UNKNOWN_HOLDER, number, "members", member,
                            what="a 12-digit personal number")
                return False
            share = parse_share(share_text or "")
            if isinstance(share, str):
                self.reject(reasons.INVALID_SHARE, number, "members", part, problem=share)
                return False
            members.append(member)
            shares.append(str(float(share)))
            total += share
        if len(members) < 2 or total != 1:
            self.reject(reasons.INVALID_SHARE, number, "members", text,
                        problem="must name two or more members whose shares add up to 1")
            return False
        return True


# -- the load ---------------------------------------------------------------------------------


def file_kind(path: Path, requested: str | None) -> str:
    """parcels (a spatial file) or rights (CSV / JSON Lines): as asked, or by the suffix."""
    if requested:
        return requested
    return "parcels" if is_spatial(path) else "rights"


def load_land(engine: Engine, path: Path, options: Options,
              progress: Progress | None = None) -> LoadResult:
    """Load one parcel or rights file; commits whole or leaves the registry untouched."""
    profile = Profile.load(options.profile)
    kind = file_kind(path, options.kind)
    return load_file(engine, REGISTRY, path, options, progress, profile, kind,
                     ParcelStage if kind == "parcels" else RightStage,
                     lambda conn: LandChecker(path.name, options.effective_date))


LOADER = RegistryLoader(
    REGISTRY, "a spatial file of parcels or a file of rights and their holders",
    load_land, kinds=("parcels", "rights"))


class _LandStage(FileStage):
    checker: LandChecker

    @property
    def effective_date(self) -> dt.date:
        return self.checker.effective_date


class ParcelStage(_LandStage):
    table = "stage_parcel"
    copy_table = "stage_parcel_in"
    registry_tables = ("land.parcel", "land.parcel_version")
    source_fields = PARCEL_FIELDS
    columns = ("row_number", "commune_code", "map_sheet", "parcel_number", "land_use",
               "declared_area_m2", "address", "valid_from", "parents", "wkb")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.srid = 4326
        """The file's CRS (EPSG code), known once it is read."""
        self.check_steps = Steps()
        """Seconds of each geometry check (the summary's ``check_seconds``)."""
        # The geometry checks' per-parcel index probes look costly to the planner, which
        # then JIT-compiles them: seconds of compiling for statements that run in less.
        self.sql("SET LOCAL jit = off")
        # Staged parcels with their geometry outgrow the default 8 MB of buffers for temporary
        # tables, and every index probe of the checks then reads them back from the OS. The
        # size can only be set before a session's first temporary table: a session that
        # already had one keeps its size.
        with self.conn.begin_nested() as savepoint:
            try:
                self.sql(f"SET LOCAL temp_buffers = '{TEMP_BUFFERS}'")
            except DBAPIError:
                savepoint.rollback()
        self.sql("""
            CREATE TEMP TABLE stage_parcel_in (
                row_number int, commune_code text, map_sheet text, parcel_number text,
                land_use text, declared_area_m2 numeric(14, 2), address text, valid_from date,
                parents text[], wkb bytea
            ) ON COMMIT DROP""")

    def read(self, progress: Progress | None) -> int:
        """Read the file a batch of features at a time (only one batch is held), validate
        each batch column by column and COPY its rows into staging."""
        if not is_spatial(self.path):
            raise SourceError(f"{self.path.name} is not a spatial file (.geojson, .gpkg, .shp, "
                              ".json): parcels come with their boundaries.")
        read = 0
        with open_spatial(self.path, self.profile) as layer:
            self.srid = layer.srid

            def rows() -> Iterator[tuple[Any, ...]]:
                nonlocal read
                for batch in layer.batches():
                    if read == 0 and len(batch):
                        self.check_header(next(batch.records())[1])
                    yield from self.checker.parcel_rows(batch)
                    read += len(batch)
                    if progress is not None:
                        progress(read)

            copy_rows(self.conn, self.copy_table, self.columns, rows())
        self.require_rows(read)
        return read

    def check(self) -> None:
        national = self.profile.units == "national"
        self.sql(f"""
            CREATE TEMP TABLE stage_parcel ON COMMIT DROP AS
            SELECT s.row_number, s.commune_code, s.map_sheet, s.parcel_number, s.land_use,
                   s.declared_area_m2, s.address, s.valid_from, s.parents,
                   NULL::text AS reject, NULL::int AS unit_id, p.id AS parcel_id,
                   ST_Transform(ST_GeomFromWKB(s.wkb, {self.srid}),
                                4326) AS geom,
                   false AS repaired, NULL::text AS why
            FROM stage_parcel_in s
            LEFT JOIN land.parcel p ON p.commune_code = s.commune_code
             AND p.map_sheet = s.map_sheet AND p.parcel_number = s.parcel_number""")
        self.sql("DROP TABLE stage_parcel_in")
        # Statistics before the first check: without them the planner probes the unit list
        # row by row. Not of the boundaries: no check looks them up in this table, and
        # their statistics take longest to gather.
        self.sql("ANALYZE stage_parcel (row_number, commune_code, map_sheet, parcel_number, "
                 "land_use, valid_from, parcel_id, reject)")
        self.reject_where(
            reasons.DUPLICATE_PARCEL, "parcel_number",
            "(s.commune_code, s.map_sheet, s.parcel_number) IN (SELECT commune_code, map_sheet, "
            "parcel_number FROM stage_parcel GROUP BY 1, 2, 3 HAVING count(*) > 1)",
            _KEY)
        if national:
            self.sql(set_unit_at("stage_parcel", "unit_id", "commune_code", "valid_from"))
            reject_units_not_found(self, "commune_code", "commune_code", "unit_id",
                                   "valid_from")
        reject_unknown_codes(self, "land_use", "land_use", "ref.land_use_type",
                             "Land-use type", "the cadastre's codes, such as LUC, ONT, ODT, CLN")
        self.timed("geometry", self.check_geometry)
        if national:
            self.timed("inside_commune", self.check_inside_commune)
        self.timed("overlap", self.check_overlaps)
        self.check_lineage()
        self.timed("area", self.flag_area_mismatch)

    def timed(self, name: str, check: Callable[[], None]) -> None:
        """Run one geometry check, keeping its seconds in the summary's details."""
        with self.check_steps.timed(name):
            check()
        self.details["check_seconds"] = self.check_steps.rounded()

    def check_geometry(self) -> None:
        # Only the rows at fault are written (writing every row would copy every boundary).
        self.sql("""
            UPDATE stage_parcel SET why = CASE
                WHEN GeometryType(geom) NOT IN ('POLYGON', 'MULTIPOLYGON')
                    THEN 'a ' || GeometryType(geom) || ' is not a polygon'
                WHEN ST_IsEmpty(geom) THEN 'it is empty'
                ELSE ST_IsValidReason(geom) END
            WHERE reject IS NULL AND (GeometryType(geom) NOT IN ('POLYGON', 'MULTIPOLYGON')
                                      OR ST_IsEmpty(geom) OR NOT ST_IsValid(geom))""")
        if self.options is not None and self.options.repair:
            repaired = self.sql("""
                UPDATE stage_parcel SET repaired = true,
                       geom = ST_Multi(ST_CollectionExtract(ST_MakeValid(geom), 3))
                WHERE reject IS NULL AND why IS NOT NULL
                  AND GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON') AND NOT ST_IsEmpty(geom)
                  AND NOT ST_IsEmpty(ST_CollectionExtract(ST_MakeValid(geom), 3))
                RETURNING row_number, commune_code || '/' || map_sheet || '/' || parcel_number,
                          why""").all()
            for number, key, why in repaired:
                self.checker.reject(reasons.REPAIRED_GEOMETRY, number, "geometry", key, why=why)
            self.sql("UPDATE stage_parcel SET why = NULL WHERE repaired")
        self.reject_where(reasons.INVALID_PARCEL_GEOMETRY, "geometry", "s.why IS NOT NULL",
                          _KEY, columns={"why": "s.why"})

    def check_inside_commune(self) -> None:
        self.sql("""
            CREATE TEMP TABLE parcel_outside ON COMMIT DROP AS
            SELECT s.row_number,
                   1 - ST_Area(ST_Intersection(s.geom, u.geom)) / ST_Area(s.geom) AS share
            FROM stage_parcel s JOIN ref.admin_unit u ON u.id = s.unit_id
            WHERE s.reject IS NULL AND u.geom IS NOT NULL AND NOT ST_Within(s.geom, u.geom)""")
        self.reject_where(
            reasons.OUTSIDE_COMMUNE, "commune_code",
            "s.row_number IN (SELECT row_number FROM parcel_outside "
            f"WHERE share > {OUTSIDE_MAX_SHARE})",
            _KEY, columns={"share": "(SELECT round(100 * share) || '%' FROM parcel_outside o "
                                    "WHERE o.row_number = s.row_number)",
                           "commune": "s.commune_code"})

    def check_overlaps(self) -> None:
        """Overlaps with the registry's current parcels (other than this parcel's own earlier
        version and the parcels this file replaces by a split or merge) and between rows of
        the file (the later row is rejected)."""
        self.sql(f"""
            CREATE TEMP TABLE replaced ON COMMIT DROP AS
            SELECT DISTINCT p.id FROM stage_parcel s, unnest(s.parents) AS k
            JOIN land.parcel p ON {_IS_PARENT}
            WHERE s.reject IS NULL""")
        # The file's own pairs are found on their bounding boxes first, with PostgreSQL's
        # plain boxes: their index and their overlap area cost a fraction of a geometry
        # index's probes, and neighbours that only share an edge (nearly every pair)
        # stop there.
        self.sql("""
            CREATE TEMP TABLE stage_box ON COMMIT DROP AS
            SELECT row_number, box(point(ST_XMin(geom), ST_YMin(geom)),
                                   point(ST_XMax(geom), ST_YMax(geom))) AS box
            FROM stage_parcel WHERE reject IS NULL""")
        # Their index is SP-GiST's quad-tree of boxes: built in a third of a GiST's time
        # (no penalties to weigh), probed about as fast.
        self.sql("CREATE INDEX ON stage_box USING spgist (box)")
        self.sql("ANALYZE stage_box")
        self.sql(f"""
            CREATE TEMP TABLE stage_pair ON COMMIT DROP AS
            SELECT a.row_number AS later, b.row_number AS earlier
            FROM stage_box a JOIN stage_box b ON a.box && b.box
             AND b.row_number < a.row_number
             AND area(a.box # b.box) * {METRES_PER_DEGREE ** 2} > {OVERLAP_MIN_AREA_M2}""")
        self.sql("ANALYZE stage_pair")
        # A registry without parcels (a first load) has none to overlap: its index is not
        # probed once per staged parcel for nothing.
        registered = self.sql("SELECT EXISTS (SELECT 1 FROM land.parcel_version)").scalar_one()
        self.sql(f"""
            CREATE TEMP TABLE parcel_overlap ON COMMIT DROP AS
            SELECT s.row_number, o.other, o.area, o.area / least(ST_Area(s.geom::geography),
                                                               o.other_area) AS share
            FROM stage_parcel s
            CROSS JOIN LATERAL (
                SELECT p.commune_code || '/' || p.map_sheet || '/' || p.parcel_number AS other,
                       ST_Area(ST_Intersection(s.geom, v.geom)::geography) AS area,
                       ST_Area(v.geom::geography) AS other_area
                FROM land.parcel_version v JOIN land.parcel p ON p.id = v.parcel_id
                WHERE s.geom && v.geom AND {_boxes_overlap('s.geom', 'v.geom')}
                  AND ST_Relate(s.geom, v.geom, 'T********')
                  AND {current_on('v', 's.valid_from')}
                  AND v.parcel_id IS DISTINCT FROM s.parcel_id
                  AND v.parcel_id NOT IN (SELECT id FROM replaced)) AS o
            WHERE s.reject IS NULL AND {'true' if registered else 'false'}""")
        self.sql("""
            INSERT INTO parcel_overlap
            SELECT s.row_number, t.commune_code || '/' || t.map_sheet || '/' || t.parcel_number,
                   a.area, a.area / least(ST_Area(s.geom::geography),
                                          ST_Area(t.geom::geography))
            FROM stage_pair x
            JOIN stage_parcel s ON s.row_number = x.later
            JOIN stage_parcel t ON t.row_number = x.earlier
            CROSS JOIN LATERAL (SELECT ST_Area(ST_Intersection(s.geom, t.geom)::geography)
                                AS area) AS a
            WHERE ST_Relate(s.geom, t.geom, 'T********')""")
        self.sql("DELETE FROM parcel_overlap WHERE area <= :area OR share <= :share",
                 area=OVERLAP_MIN_AREA_M2, share=OVERLAP_MIN_SHARE)
        first = ("(SELECT {} FROM parcel_overlap o WHERE o.row_number = s.row_number "
                 "ORDER BY o.area DESC LIMIT 1)")
        self.reject_where(
            reasons.PARCEL_OVERLAP, "geometry",
            "s.row_number IN (SELECT row_number FROM parcel_overlap)", _KEY,
            columns={"other": first.format("o.other"),
                     "area": first.format("round(o.area::numeric, 1)"),
                     "share": first.format("round(100 * o.share) || '%'")})

    def check_lineage(self) -> None:
        self.reject_where(
            reasons.UNKNOWN_PARCEL, "parents",
            f"""EXISTS (SELECT 1 FROM unnest(s.parents) AS k
                        WHERE NOT EXISTS (SELECT 1 FROM land.parcel p WHERE {_IS_PARENT}))""",
            "array_to_string(s.parents, ';')", columns={"day": "s.valid_from"})

    def flag_area_mismatch(self) -> None:
        # The geodesic area is dear; a planar one in degrees, scaled at the parcel's
        # latitude, is within a percent or two of it for a parcel, so only the parcels whose
        # declared area is near or past the tolerance on that rough area are measured.
        for number, key, declared, measured in self.sql(f"""
                SELECT row_number, commune_code || '/' || map_sheet || '/' || parcel_number,
                       declared_area_m2, round(a::numeric, 1)
                FROM (SELECT *, ST_Area(geom::geography) AS a
                      FROM (SELECT *, {_ROUGH_AREA} AS rough FROM stage_parcel) r
                      WHERE reject IS NULL
                        AND abs(declared_area_m2 - rough) > :near * greatest(:share * rough, :m2)
                     ) s
                WHERE abs(declared_area_m2 - a) > greatest(:share * a, :m2)""",
                share=AREA_TOLERANCE, m2=AREA_TOLERANCE_M2, near=AREA_ROUGH_MARGIN):
            self.checker.reject(reasons.AREA_MISMATCH, number, "declared_area_m2", key,
                                declared=declared, measured=measured)

    def merge(self) -> tuple[int, int, int]:
        self.sql("DELETE FROM stage_parcel WHERE reject IS NOT NULL")
        staged = int(self.sql("SELECT count(*) FROM stage_parcel").scalar_one())
        # New parcels: those the registry did not know when the file was staged (the
        # load holds the registry's lock, and a file names each parcel once). Ids follow
        # the file's order.
        inserted = self.sql("""
            INSERT INTO land.parcel (commune_code, map_sheet, parcel_number)
            SELECT commune_code, map_sheet, parcel_number FROM stage_parcel
            WHERE parcel_id IS NULL ORDER BY row_number""").rowcount
        # Each row's parcel id in a narrow table of its own: updating the staged rows
        # would write every one of them (and its boundary) again.
        self.sql("""
            CREATE TEMP TABLE stage_id ON COMMIT DROP AS
            SELECT s.row_number, p.id AS parcel_id FROM stage_parcel s JOIN land.parcel p
              ON p.commune_code = s.commune_code AND p.map_sheet = s.map_sheet
             AND p.parcel_number = s.parcel_number""")
        known, splits = self.sql(
            "SELECT bool_or(parcel_id IS NOT NULL), bool_or(parents IS NOT NULL) "
            "FROM stage_parcel").one()
        # Parcels all new to the registry, none replacing another (a first load of the
        # registry or of a commune) have no history to compare with.
        all_new = not known and not splits
        if all_new:
            self.details["all_new"] = True
        # Boundaries are stored as multipolygons, whichever of the two a file gives.
        # In the order of their place on a Hilbert curve (the geometry's sort order),
        # so neighbours arrive together: the GiST indexes (the boundaries' and the
        # exclusion constraint's, whose parcel ids follow the file) are built or grown
        # several times faster than from rows in the file's order.
        versions = Versioned(
            "land.parcel_version", ("parcel_id",),
            ("unit_id", "geom", "declared_area_m2", "land_use", "address", "repaired"),
            # A split or merge ends the parents on the day their children begin.
            scope=f"""SELECT i.parcel_id, valid_from FROM stage_parcel JOIN stage_id i
                       USING (row_number)
                     UNION ALL
                     SELECT p.id, s.valid_from FROM stage_parcel s, unnest(s.parents) AS k
                     JOIN land.parcel p ON {_IS_PARENT}""",
            versions="""SELECT i.parcel_id, unit_id, ST_Multi(geom), declared_area_m2,
                               land_use, address, repaired, valid_from, NULL::date
                        FROM stage_parcel JOIN stage_id i USING (row_number)
                        ORDER BY geom""")
        if all_new:
            # Each staged parcel is new with its one version, and none replaces another.
            insert_first_versions(self.conn, versions, {"run_id": self.run_id},
                                  stamp={"load_run_id": ":run_id"})
            return inserted, 0, staged - inserted
        self.sql("ANALYZE stage_id")
        self.sql("CREATE TEMP TABLE changed_parcel (parcel_id bigint) ON COMMIT DROP")
        apply_versions(self.conn, versions, {"run_id": self.run_id},
                       changed_table="changed_parcel", stamp={"load_run_id": ":run_id"})
        self.sql(f"""
            INSERT INTO land.parcel_lineage (parent_id, child_id, change_kind, effective_date,
                                             load_run_id)
            SELECT p.id, i.parcel_id,
                   CASE WHEN cardinality(s.parents) > 1 THEN 'merge' ELSE 'split' END,
                   s.valid_from, :run_id
            FROM stage_parcel s JOIN stage_id i USING (row_number), unnest(s.parents) AS k
            JOIN land.parcel p ON {_IS_PARENT}
            ON CONFLICT (parent_id, child_id) DO NOTHING""")
        changed = int(self.sql("SELECT count(DISTINCT parcel_id) FROM changed_parcel "
                               "WHERE parcel_id IN (SELECT parcel_id FROM stage_id)")
                      .scalar_one())
        updated = max(changed - inserted, 0)
        return inserted, updated, staged - inserted - updated


_ROUGH_AREA = (f"ST_Area(geom) * {METRES_PER_DEGREE ** 2} "
               "* cos(radians((ST_YMin(geom) + ST_YMax(geom)) / 2))")
"""SQL: a parcel's area in m², planar in degrees scaled at its latitude: within 1.5 % of the
geodesic area (the ellipsoid makes a degree 0.5 % longer or shorter than the sphere's)."""
AREA_ROUGH_MARGIN = 0.8
"""The rough area is trusted to clear a parcel only this far inside the tolerance."""

_IS_PARENT = ("p.commune_code = split_part(k, '/', 1) AND p.map_sheet = split_part(k, '/', 2) "
              "AND p.parcel_number = split_part(k, '/', 3)")
"""SQL: parcel ``p`` is the one the parent key ``k`` (commune/sheet/number, checked to have
two slashes) names; by its columns, so the registry's index finds it."""

_KEY = "s.commune_code || '/' || s.map_sheet || '/' || s.parcel_number"


def _boxes_overlap(a: str, b: str) -> str:
    """SQL: the bounding boxes of two geometries overlap by more than the overlap tolerance.

    Two parcels cannot overlap by more than their boxes do, and comparing boxes costs
    next to nothing; neighbours that only share an edge (most pairs the index finds)
    fail here, before the exact test. A degree of longitude is at most as long as one of
    latitude, so the box's area in m² is over-estimated: no real overlap is skipped.
    """
    dx = f"least(ST_XMax({a}), ST_XMax({b})) - greatest(ST_XMin({a}), ST_XMin({b}))"
    dy = f"least(ST_YMax({a}), ST_YMax({b})) - greatest(ST_YMin({a}), ST_YMin({b}))"
    return (f"({dx}) > 0 AND ({dy}) > 0 "
            f"AND ({dx}) * ({dy}) * {METRES_PER_DEGREE ** 2} > {OVERLAP_MIN_AREA_M2}")


class RightStage(_LandStage):
    table = "stage_right"
    source_fields = RIGHT_FIELDS
    columns = ("row_number", "reference", "rrr_type", "commune_code", "map_sheet",
               "parcel_number", "holder_kind", "holder_id", "members", "member_shares",
               "share", "valid_from", "valid_to", "mortgaged_reference", "source_type",
               "source_reference", "source_issue_date", "source_authority")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql("""
            CREATE TEMP TABLE stage_right (
                row_number int, reference text, rrr_type text, commune_code text,
                map_sheet text, parcel_number text, holder_kind text, holder_id text,
                members text[], member_shares numeric[], share numeric, valid_from date,
                valid_to date, mortgaged_reference text, source_type text,
                source_reference text, source_issue_date date, source_authority text,
                parcel_id bigint, party_id bigint, source_id bigint, group_name text, reject text
            ) ON COMMIT DROP""")

    def validate(self, number: int, rec: dict[str, str]) -> tuple[Any, ...] | None:
        return self.checker.right_row(number, rec)

    def check(self) -> None:
        self.sql("CREATE INDEX ON stage_right (reference)")
        self.sql("ANALYZE stage_right")
        self.reject_where(
            reasons.DUPLICATE_PARCEL, "reference",
            "s.reference IN (SELECT reference FROM stage_right GROUP BY 1 HAVING count(*) > 1)",
            "s.reference")
        reject_unknown_codes(self, "rrr_type", "rrr_type", "land.rrr_type",
                             "Right or restriction type", ", ".join(RRR_TYPES), required=True)
        reject_unknown_codes(self, "source_type", "source_type", "land.source_type",
                             "Source type", "certificate, contract, decision", required=True)
        # The parcel as the registry knows it on the right's first day.
        self.sql(f"""
            UPDATE stage_right s SET parcel_id = p.id FROM land.parcel p
            WHERE p.commune_code = s.commune_code AND p.map_sheet = s.map_sheet
              AND p.parcel_number = s.parcel_number
              AND EXISTS (SELECT 1 FROM land.parcel_version v WHERE v.parcel_id = p.id
                            AND {current_on('v', 's.valid_from')})""")
        self.reject_where(reasons.UNKNOWN_PARCEL, "parcel_number", "s.parcel_id IS NULL", _KEY,
                          columns={"day": "s.valid_from"})
        self.reject_where(
            reasons.UNKNOWN_HOLDER, "holder_id",
            "s.holder_kind = 'person' AND s.holder_id IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM population.person p WHERE p.national_id = s.holder_id)",
            "s.holder_id", what="a person of the population registry")
        self.reject_where(
            reasons.UNKNOWN_HOLDER, "members",
            "s.holder_kind = 'group' AND EXISTS (SELECT 1 FROM unnest(s.members) AS m "
            "WHERE NOT EXISTS (SELECT 1 FROM population.person p WHERE p.national_id = m))",
            "(SELECT string_agg(m, ', ') FROM unnest(s.members) AS m WHERE NOT EXISTS "
            "(SELECT 1 FROM population.person p WHERE p.national_id = m))",
            what="a person of the population registry")
        self.reject_where(
            reasons.UNKNOWN_HOLDER, "holder_id",
            "s.holder_kind = 'enterprise' AND NOT EXISTS "
            "(SELECT 1 FROM enterprise.enterprise e WHERE e.code = s.holder_id)",
            "s.holder_id", what="an enterprise of the enterprise registry")
        # An enterprise holds land from its founding until it ends (a final status).
        ended = ("(SELECT st.status || ' since ' || st.valid_from FROM "
                 "enterprise.enterprise_status st JOIN ref.enterprise_status k "
                 "ON k.code = st.status AND k.final WHERE st.enterprise_code = s.holder_id "
                 "AND st.superseded_at IS NULL AND st.valid_from <= s.valid_from "
                 "ORDER BY st.valid_from LIMIT 1)")
        founded = ("(SELECT e.founding_date FROM enterprise.enterprise e "
                   "WHERE e.code = s.holder_id AND e.founding_date > s.valid_from)")
        self.reject_where(
            reasons.HOLDER_NOT_ACTIVE, "holder_id",
            f"s.holder_kind = 'enterprise' AND ({founded} IS NOT NULL OR {ended} IS NOT NULL)",
            "s.holder_id",
            columns={"state": f"coalesce('was not founded until ' || {founded}, "
                              f"'was ' || {ended})",
                     "day": "s.valid_from"})
        self.reject_where(
            reasons.MORTGAGE_WITHOUT_RIGHT, "mortgaged_reference",
            f"""(s.rrr_type = 'mortgage') <> (s.mortgaged_reference IS NOT NULL)
                OR (s.rrr_type = 'mortgage' AND NOT EXISTS (
                    SELECT 1 FROM land.rrr r WHERE r.reference = s.mortgaged_reference
                      AND r.parcel_id = s.parcel_id
                      AND r.rrr_type IN ('land-use-right', 'asset-ownership')
                      AND {current_on('r', 's.valid_from')})
                AND NOT EXISTS (
                    SELECT 1 FROM stage_right o WHERE o.reference = s.mortgaged_reference
                      AND o.reject IS NULL AND o.parcel_id = s.parcel_id
                      AND o.rrr_type IN ('land-use-right', 'asset-ownership')
                      AND o.valid_from <= s.valid_from
                      AND (o.valid_to IS NULL OR o.valid_to > s.valid_from)))""",
            "s.reference", columns={"right": "coalesce(s.mortgaged_reference, '(none given)')",
                                    "day": "s.valid_from"})

    def merge(self) -> tuple[int, int, int]:
        self.sql("DELETE FROM stage_right WHERE reject IS NOT NULL")
        staged = int(self.sql("SELECT count(*) FROM stage_right").scalar_one())
        self.sql("""INSERT INTO land.party (party_kind, national_id)
                    SELECT DISTINCT 'person', m FROM stage_right,
                         unnest(coalesce(members, ARRAY[]::text[]) ||
                                CASE WHEN holder_kind = 'person' AND holder_id IS NOT NULL
                                     THEN ARRAY[holder_id] ELSE ARRAY[]::text[] END) AS m
                    ON CONFLICT (national_id) DO NOTHING""")
        # A group is named by its members and shares, so the same joint holders are one party.
        self.sql("""UPDATE stage_right SET group_name = 'group ' || array_to_string(
                        ARRAY(SELECT m || ':' || sh::float8 FROM unnest(members, member_shares)
                              AS x(m, sh) ORDER BY m), ';')
                    WHERE holder_kind = 'group'""")
        self.sql("""INSERT INTO land.party (party_kind, enterprise_code)
                    SELECT DISTINCT 'enterprise', holder_id FROM stage_right
                    WHERE holder_kind = 'enterprise'
                    ON CONFLICT (enterprise_code) DO NOTHING""")
        self.sql("""INSERT INTO land.party (party_kind, name)
                    SELECT DISTINCT holder_kind,
                           CASE holder_kind WHEN 'group' THEN group_name ELSE holder_id END
                    FROM stage_right WHERE holder_kind IN ('organisation', 'group')
                      AND (holder_id IS NOT NULL OR members IS NOT NULL)
                    ON CONFLICT (name) DO NOTHING""")
        self.sql("""
            INSERT INTO land.party_member (group_id, member_id, share)
            SELECT DISTINCT g.id, p.id, x.sh
            FROM stage_right s CROSS JOIN LATERAL unnest(s.members, s.member_shares) AS x(m, sh)
            JOIN land.party p ON p.national_id = x.m
            JOIN land.party g ON g.name = s.group_name
            WHERE s.holder_kind = 'group'
            ON CONFLICT (group_id, member_id) DO NOTHING""")
        self.sql("""
            UPDATE stage_right s SET party_id = p.id FROM land.party p
            WHERE (s.holder_kind = 'person' AND p.national_id = s.holder_id)
               OR (s.holder_kind = 'enterprise' AND p.enterprise_code = s.holder_id)
               OR (s.holder_kind = 'organisation' AND p.name = s.holder_id)
               OR (s.holder_kind = 'group' AND p.name = s.group_name)""")
        upsert(self.conn, "land.administrative_source",
               ("source_type", "reference", "issue_date", "authority"),
               ("source_type", "reference"),
               """SELECT DISTINCT ON (source_type, source_reference) source_type,
                         source_reference, source_issue_date, source_authority
                  FROM stage_right ORDER BY source_type, source_reference, row_number""")
        self.sql("""UPDATE stage_right s SET source_id = a.id FROM land.administrative_source a
                    WHERE a.source_type = s.source_type AND a.reference = s.source_reference""")
        new = int(self.sql("SELECT count(*) FROM stage_right s WHERE NOT EXISTS "
                           "(SELECT 1 FROM land.rrr r WHERE r.reference = s.reference)")
                  .scalar_one())
        self.sql("CREATE TEMP TABLE changed_right (reference text) ON COMMIT DROP")
        apply_versions(self.conn, Versioned(
            "land.rrr", ("reference",),
            ("rrr_type", "parcel_id", "party_id", "share", "mortgaged_reference", "source_id"),
            scope="SELECT reference, valid_from FROM stage_right",
            versions="""SELECT reference, rrr_type, parcel_id, party_id,
                               share::numeric(9, 8), mortgaged_reference, source_id,
                               valid_from, valid_to FROM stage_right"""),
            {"run_id": self.run_id}, changed_table="changed_right",
            stamp={"load_run_id": ":run_id"})
        changed = int(self.sql("SELECT count(DISTINCT reference) FROM changed_right")
                      .scalar_one())
        updated = max(changed - new, 0)
        return new, updated, staged - new - updated

