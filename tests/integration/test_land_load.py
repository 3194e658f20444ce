"""`mdr load land`: geometry checks with their reasons, CRS handling, profiles, rights, history."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from shapely import box, from_wkb
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from loaders.base import LoadResult, Options
from loaders.enterprise import load_enterprise
from loaders.land import load_land
from loaders.sources.enterprise_layout import SNAPSHOT_FIELDS
from loaders.sources.land_layout import RIGHT_FIELDS
from mdr import db
from mdr.cli import app
from mdr.settings import PROJECT_ROOT, Settings
from tests.factories import write_csv
from tests.factories.enterprise import ACME, COMPANIES, code, enterprise
from tests.factories.land import (
    PARCEL_SIZE,
    bowtie,
    commune_corner,
    parcel,
    right,
    square,
    write_parcels,
)
from tests.factories.population import HANOI_WARD, POPULATION_FAMILY

EFFECTIVE = dt.date(2026, 6, 1)
OTHER_WARD = "00004"  # Ba Đình, a few kilometres from Hoàn Kiếm
STEP = PARCEL_SIZE * 1.5
CADASTRE = PROJECT_ROOT / "fixtures" / "land" / "cadastre-91216-parcelles.geojson.gz"
CADASTRE_PROFILE = PROJECT_ROOT / "fixtures" / "land" / "profiles" / "cadastre_fr.yaml"


@pytest.fixture
def land_url(clone_db: Callable[[str], str], ref_template: str) -> str:
    return clone_db(ref_template)


@pytest.fixture
def registry(land_url: str, settings: Settings, tmp_path: Path) -> Iterator[Engine]:
    engine = db.make_engine(land_url, settings, role=db.Role.LOADER)
    POPULATION_FAMILY(engine, tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture
def corner(registry: Engine) -> tuple[float, float]:
    return commune_corner(registry, HANOI_WARD)


def load(engine: Engine, path: Path, **options: Any) -> LoadResult:
    return load_land(engine, path, Options(effective_date=EFFECTIVE, **options))


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def row_of_parcels(corner: tuple[float, float], count: int) -> list[dict[str, Any]]:
    x, y = corner
    return [parcel(HANOI_WARD, str(n), square(x + n * STEP, y)) for n in range(1, count + 1)]


def test_every_labelled_defect_is_caught_for_its_reason(
        registry: Engine, corner: tuple[float, float], tmp_path: Path) -> None:
    x, y = corner
    good = row_of_parcels(corner, 3)
    bad = [
        (parcel(HANOI_WARD, "90", bowtie(x, y + 3 * STEP)), "invalid-parcel-geometry"),
        # Half over parcel 1 of the same file.
        (parcel(HANOI_WARD, "91", square(x + STEP + PARCEL_SIZE / 2, y)), "parcel-overlap"),
        # Declared in another ward than where it lies.
        (parcel(OTHER_WARD, "92", square(x, y + 6 * STEP)), "outside-commune"),
        (parcel("99999", "93", square(x, y + 9 * STEP)), "unknown-admin-unit"),
        (parcel(HANOI_WARD, "94", square(x, y + 12 * STEP), land_use="XYZ"), "unknown-code"),
    ]
    path = write_parcels(tmp_path / "parcels.geojson", good + [r for r, _ in bad])
    result = load(registry, path, reject_threshold=1.0)
    assert result.status == "committed"
    assert result.inserted == len(good)
    rejected = {i.row: i.slug for i in result.issues if i.rejected}
    assert rejected == {len(good) + n: slug for n, (_, slug) in enumerate(bad, start=1)}
    messages = {i.slug: i.message for i in result.issues}
    assert "Self-intersection" in messages["invalid-parcel-geometry"]
    assert f"overlaps parcel {HANOI_WARD}/1/1" in messages["parcel-overlap"]
    assert f"outside commune {OTHER_WARD}" in messages["outside-commune"]
    assert scalar(registry, "SELECT count(*) FROM land.parcel_version") == len(good)


def test_an_overlap_with_a_registered_parcel_names_both_and_a_new_version_is_no_overlap(
        registry: Engine, corner: tuple[float, float], tmp_path: Path) -> None:
    x, y = corner
    assert load(registry, write_parcels(tmp_path / "a.geojson",
                                        row_of_parcels(corner, 2))).inserted == 2
    moved = parcel(HANOI_WARD, "1", square(x + 2 * STEP - PARCEL_SIZE / 2, y))
    intruder = parcel(HANOI_WARD, "7", square(x + 2 * STEP + PARCEL_SIZE / 2, y))
    result = load(registry, write_parcels(tmp_path / "b.geojson", [moved, intruder]),
                  reject_threshold=1.0)
    by_slug = {i.slug: i for i in result.issues}
    # Parcel 1 moving over parcel 2 and a new parcel 7 over parcel 2: both rejected, each
    # naming the parcel it overlaps.
    assert {i.row for i in result.issues} == {1, 2}
    assert f"{HANOI_WARD}/1/2" in by_slug["parcel-overlap"].message
    # Parcel 1 re-sent where it is: its own earlier version is not an overlap.
    same = load(registry, write_parcels(tmp_path / "c.geojson", row_of_parcels(corner, 1)))
    assert (same.rejected, same.unchanged) == (0, 1)


def test_repair_makes_an_invalid_boundary_valid_and_flags_it(
        registry: Engine, corner: tuple[float, float], tmp_path: Path) -> None:
    x, y = corner
    path = write_parcels(tmp_path / "p.geojson", [parcel(HANOI_WARD, "1", bowtie(x, y),
                                                         declared_area_m2="215")])
    result = load(registry, path, repair=True)
    assert (result.status, result.inserted, result.rejected) == ("committed", 1, 0)
    assert result.flagged_by_reason == {"repaired-geometry": 1}
    assert scalar(registry, "SELECT bool_and(ST_IsValid(geom) AND repaired) "
                            "FROM land.parcel_version") is True


def test_a_declared_area_far_from_the_measured_one_is_loaded_and_flagged(
        registry: Engine, corner: tuple[float, float], tmp_path: Path) -> None:
    x, y = corner
    path = write_parcels(tmp_path / "p.geojson", [
        parcel(HANOI_WARD, "1", square(x, y), declared_area_m2="4300")])
    result = load(registry, path)
    assert (result.inserted, result.flagged_by_reason) == (1, {"area-mismatch": 1})
    assert "declares 4300" in result.issues[0].message


def test_a_vn2000_file_lands_where_it_belongs(
        registry: Engine, corner: tuple[float, float], tmp_path: Path) -> None:
    x, y = corner
    with registry.connect() as conn:
        projected = conn.execute(text(
            "SELECT ST_AsBinary(ST_Transform(ST_MakeEnvelope(:x, :y, :x + :s, :y + :s, 4326), "
            "3405))"), {"x": x, "y": y, "s": PARCEL_SIZE}).scalar_one()
    vn2000 = from_wkb(bytes(projected))
    assert vn2000.bounds[0] > 100_000  # metres of UTM 48N, not degrees
    path = write_parcels(tmp_path / "vn2000.gpkg", [parcel(HANOI_WARD, "1", vn2000)],
                         crs="EPSG:3405")
    result = load(registry, path)
    assert (result.inserted, result.rejected) == (1, 0)
    # Back in EPSG:4326 within a few centimetres of where it was drawn, inside its ward.
    assert scalar(registry, """
        SELECT ST_HausdorffDistance(v.geom::geography::geometry,
                                    ST_MakeEnvelope(:x, :y, :x + :s, :y + :s, 4326))
        FROM land.parcel_version v""", x=x, y=y, s=PARCEL_SIZE) < 1e-6


def test_a_file_without_a_crs_is_refused_unless_a_profile_names_one(
        registry: Engine, corner: tuple[float, float], tmp_path: Path) -> None:
    path = write_parcels(tmp_path / "noprj.shp", row_of_parcels(corner, 1), crs=None)
    refused = load(registry, path)
    assert refused.status == "aborted"
    assert "does not say its coordinate reference system" in (refused.message or "")
    assert "crs: EPSG:3405" in (refused.message or "")
    assert scalar(registry, "SELECT count(*) FROM land.parcel") == 0
    profile = tmp_path / "wgs84.yaml"
    # A Shapefile cuts field names to 10 characters: the profile maps them back.
    profile.write_text(
        "name: shapefile-wgs84\ncrs: EPSG:4326\ncolumns:\n  commune_co: commune_code\n"
        "  map_sheet: map_sheet\n  parcel_num: parcel_number\n  land_use: land_use\n"
        "  declared_a: declared_area_m2\n  valid_from: valid_from\n", encoding="utf-8")
    assert load(registry, path, profile=str(profile)).inserted == 1


def test_the_french_cadastre_sample_loads_through_its_profile_and_lands_in_france(
        registry: Engine) -> None:
    result = load(registry, CADASTRE, profile=str(CADASTRE_PROFILE), reject_threshold=0.01)
    assert result.status == "committed"
    assert result.inserted + result.rejected == result.read == 4241
    assert result.rejected_by_reason == {"missing-required-field": 1}  # one without an area
    assert result.flagged_by_reason.get("area-mismatch", 0) > 0
    with registry.connect() as conn:
        lon, lat = conn.execute(text(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Collect(geom)) AS c "
            "FROM land.parcel_version) AS x")).one()
        identity = conn.execute(text(
            "SELECT commune_code, map_sheet, parcel_number FROM land.parcel "
            "WHERE parcel_number = '37' AND map_sheet = 'AB'")).one()
    # Épinay-sur-Orge, south of Paris.
    assert 2.28 < lon < 2.35 and 48.65 < lat < 48.69
    assert tuple(identity) == ("91216", "AB", "37")


def test_rights_holders_mortgages_and_the_holder_as_of_a_date(
        registry: Engine, corner: tuple[float, float], tmp_path: Path) -> None:
    load(registry, write_parcels(tmp_path / "p.geojson", row_of_parcels(corner, 3)))
    rows = [
        right("R1", HANOI_WARD, "1", "001080000001", valid_to="2026-04-01"),
        right("R1b", HANOI_WARD, "1", "001182000002", valid_from="2026-04-01"),
        right("R2", HANOI_WARD, "2", holder_kind="group",
              members="001080000001:1/2;001182000002:50%"),
        right("M1", HANOI_WARD, "2", "Ngân hàng Nông nghiệp", rrr_type="mortgage",
              holder_kind="organisation", share="0.5", mortgaged_reference="R2",
              source_type="contract", valid_from="2026-02-01"),
        # Defects: an unknown person, a mortgage of a right that does not exist, a group
        # whose shares do not add up, an enterprise the enterprise registry does not know, a
        # parcel that does not exist.
        (right("X1", HANOI_WARD, "3", "001080099999"), "unknown-holder"),
        (right("X2", HANOI_WARD, "3", "Ngân hàng A", rrr_type="mortgage",
               holder_kind="organisation", mortgaged_reference="R9"),
         "mortgage-without-right"),
        (right("X3", HANOI_WARD, "3", holder_kind="group",
               members="001080000001:0.5;001182000002:0.4"), "invalid-share"),
        (right("X4", HANOI_WARD, "3", "0101234567", holder_kind="enterprise"),
         "unknown-holder"),
        (right("X5", HANOI_WARD, "404", "001080000001"), "unknown-parcel"),
    ]
    good = [r for r in rows if isinstance(r, dict)]
    bad = [r for r in rows if isinstance(r, tuple)]
    path = write_csv(tmp_path / "rights.csv", RIGHT_FIELDS, good + [r for r, _ in bad])
    result = load(registry, path, reject_threshold=1.0)
    assert result.status == "committed" and result.inserted == len(good)
    assert {i.row: i.slug for i in result.issues} == {
        len(good) + n: slug for n, (_, slug) in enumerate(bad, start=1)}

    holder_on = """
        SELECT coalesce(p.national_id, p.name) FROM land.rrr r JOIN land.party p
          ON p.id = r.party_id JOIN land.parcel c ON c.id = r.parcel_id
        WHERE c.parcel_number = '1' AND r.superseded_at IS NULL AND r.valid_from <= :d
          AND (r.valid_to IS NULL OR r.valid_to > :d)"""
    assert scalar(registry, holder_on, d=dt.date(2026, 2, 1)) == "001080000001"
    assert scalar(registry, holder_on, d=dt.date(2026, 5, 1)) == "001182000002"
    shares = scalar(registry, """
        SELECT string_agg(p.national_id || '=' || m.share::float8, ',' ORDER BY p.national_id)
        FROM land.party_member m JOIN land.party p ON p.id = m.member_id""")
    assert shares == "001080000001=0.5,001182000002=0.5"
    again = load(registry, path, reject_threshold=1.0)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(good))


def test_a_split_ends_the_parent_and_keeps_the_lineage(
        registry: Engine, corner: tuple[float, float], tmp_path: Path) -> None:
    x, y = corner
    whole = parcel(HANOI_WARD, "1", box_of(x, y, 2 * PARCEL_SIZE, PARCEL_SIZE),
                   declared_area_m2="860")
    load(registry, write_parcels(tmp_path / "a.geojson", [whole]))
    halves = [parcel(HANOI_WARD, n, square(x + i * PARCEL_SIZE, y), valid_from="2026-05-01",
                     parents=f"{HANOI_WARD}/1/1") for i, n in enumerate(("1a", "1b"))]
    result = load(registry, write_parcels(tmp_path / "b.geojson", halves))
    assert (result.inserted, result.rejected) == (2, 0)
    with registry.connect() as conn:
        lineage = conn.execute(text("""
            SELECT c.parcel_number, p.parcel_number, l.change_kind, l.effective_date
            FROM land.parcel_lineage l JOIN land.parcel p ON p.id = l.parent_id
            JOIN land.parcel c ON c.id = l.child_id ORDER BY 1""")).all()
        parent_until = conn.execute(text("""
            SELECT v.valid_to FROM land.parcel_version v JOIN land.parcel p ON p.id = v.parcel_id
            WHERE p.parcel_number = '1' AND v.superseded_at IS NULL""")).scalar_one()
    assert [tuple(r) for r in lineage] == [("1a", "1", "split", dt.date(2026, 5, 1)),
                                           ("1b", "1", "split", dt.date(2026, 5, 1))]
    assert parent_until == dt.date(2026, 5, 1)


def box_of(x: float, y: float, width: float, height: float) -> Any:
    return box(x, y, x + width, y + height)


def test_the_cli_prints_one_json_summary_and_repair_is_an_option(
        land_url: str, corner: tuple[float, float], tmp_path: Path) -> None:
    x, y = corner
    path = write_parcels(tmp_path / "p.geojson", [parcel(HANOI_WARD, "1", bowtie(x, y),
                                                         declared_area_m2="215")])
    outcome = CliRunner().invoke(app, ["load", "land", str(path), "--repair", "--json",
                                       "--effective-date", "2026-06-01"],
                                 env={"MDR_DATABASE_URL": land_url})
    summary = json.loads(outcome.stdout)
    assert outcome.exit_code == 0, outcome.stdout
    assert (summary["status"], summary["inserted"]) == ("committed", 1)
    assert summary["flagged_by_reason"] == {"repaired-geometry": 1}
    assert set(summary["details"]["check_seconds"]) >= {"geometry", "overlap"}


REGISTRY_CONSTRAINTS = """
    SELECT count(*) FROM pg_constraint
    WHERE conrelid IN ('land.parcel'::regclass, 'land.parcel_version'::regclass)"""
REGISTRY_INDEXES = """
    SELECT count(*) FROM pg_index
    WHERE indrelid IN ('land.parcel'::regclass, 'land.parcel_version'::regclass)"""


def test_a_first_load_of_parcels_builds_the_registry_in_bulk_by_itself_and_checks_all(
        land_url: str, settings: Settings, corner: tuple[float, float],
        tmp_path: Path) -> None:
    x, y = corner
    owner = db.make_engine(land_url, settings, role=db.Role.OWNER)
    constraints, indexes = scalar(owner, REGISTRY_CONSTRAINTS), scalar(owner, REGISTRY_INDEXES)
    rows = row_of_parcels(corner, 3)
    rows.append(parcel(HANOI_WARD, "9", square(x + STEP + PARCEL_SIZE / 2, y)))  # on 1 and 2
    env = {"MDR_DATABASE_URL": land_url}
    first = CliRunner().invoke(app, ["load", "land", str(write_parcels(
        tmp_path / "first.geojson", rows)), "--effective-date", "2026-06-01",
        "--reject-threshold", "0.5", "--json"], env=env)
    assert first.exit_code == 0, first.stdout
    summary = json.loads(first.stdout)
    # Built in bulk (constraints after the data) without being asked, every check on.
    assert summary["details"]["bulk"] and summary["details"]["all_new"]
    assert "rebuild" in summary["details"]["steps_s"]
    assert (summary["inserted"], summary["rejected_by_reason"]) == (3, {"parcel-overlap": 1})
    assert scalar(owner, REGISTRY_CONSTRAINTS) == constraints
    assert scalar(owner, REGISTRY_INDEXES) == indexes
    assert scalar(owner, "SELECT count(*) FROM land.parcel_version "
                         "WHERE NOT ST_IsValid(geom)") == 0
    # The registry holds parcels now: the next load is an ordinary one, as the loader,
    # comparing the parcels it names again with their history.
    moved = [parcel(HANOI_WARD, "1", square(x, y + STEP)),
             parcel(HANOI_WARD, "4", square(x + 4 * STEP, y))]
    second = CliRunner().invoke(app, ["load", "land", str(write_parcels(
        tmp_path / "second.geojson", moved)), "--effective-date", "2026-07-01", "--json"],
        env=env)
    assert second.exit_code == 0, second.stdout
    later = json.loads(second.stdout)
    assert "bulk" not in later["details"] and "all_new" not in later["details"]
    assert (later["inserted"], later["updated"], later["rejected"]) == (1, 1, 0)
    assert scalar(owner, "SELECT count(*) FROM land.parcel_version") == 5
    owner.dispose()


def test_an_enterprise_holds_land_while_it_is_active_in_the_enterprise_registry(
        registry: Engine, corner: tuple[float, float], tmp_path: Path) -> None:
    load(registry, write_parcels(tmp_path / "p.geojson", row_of_parcels(corner, 3)))
    later, ended = code("010000006"), code("010000007")
    firms = [*COMPANIES, enterprise(later, founding_date="2026-03-01", address_since="2026-03-01"),
             enterprise(ended, status="dissolved", status_since="2025-12-01")]
    firms_loaded = load_enterprise(registry, write_csv(tmp_path / "e.csv", SNAPSHOT_FIELDS, firms),
                                   Options(effective_date=dt.date(2026, 3, 10)))
    assert (firms_loaded.status, firms_loaded.rejected) == ("committed", 0)
    rows = [right("E1", HANOI_WARD, "1", ACME, holder_kind="enterprise"),
            right("E2", HANOI_WARD, "2", later, holder_kind="enterprise"),
            right("E3", HANOI_WARD, "3", ended, holder_kind="enterprise")]
    result = load(registry, write_csv(tmp_path / "rights.csv", RIGHT_FIELDS, rows),
                  reject_threshold=1.0)
    assert (result.status, result.inserted) == ("committed", 1)
    assert [(i.row, i.slug) for i in result.issues] == [(2, "holder-not-active"),
                                                        (3, "holder-not-active")]
    assert later in result.issues[0].message and "2026-03-01" in result.issues[0].message
    assert ended in result.issues[1].message and "dissolved" in result.issues[1].message
    assert scalar(registry, "SELECT p.enterprise_code FROM land.rrr r JOIN land.party p "
                  "ON p.id = r.party_id WHERE r.reference = 'E1'") == ACME
    # The party refers to the enterprise registry: the enterprise cannot vanish under it.
    with pytest.raises(IntegrityError, match="fk_party_enterprise_code_enterprise"), \
            registry.begin() as conn:
        conn.execute(text("INSERT INTO land.party (party_kind, enterprise_code) "
                          "VALUES ('enterprise', '0109999999')"))
