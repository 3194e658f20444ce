"""`mdr macro derive`: indicators from the population, enterprise and land registries, in
both unit sets, equal to direct counts of the registries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from fixtures.enterprise_generator import BASE_YEARS
from fixtures.registries import generate_all
from loaders.base import Options
from loaders.enterprise import load_enterprise
from loaders.land import load_land
from loaders.macro_derived import derive
from loaders.population import load_population
from mdr import db
from mdr.settings import Settings

SNAPSHOT = dt.date(2026, 1, 1)
RELEASED = dt.date(2026, 2, 1)


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory, cluster: Any, ref_template: str,
              settings: Settings) -> Iterator[str]:
    """A template holding one generated set of 600 persons, their enterprises (the register
    two years earlier, then what changed since) and parcels, as of 2026-01-01."""
    from tests.conftest import create_database, drop_database

    folder = tmp_path_factory.mktemp("registries")
    generate_all(folder, 600, seed=11, defect_rate=0.0, effective_date=SNAPSHOT)
    name = "tpl_macro_population"
    url = create_database(cluster, name, template=ref_template)
    engine = db.make_engine(url, settings, role=db.Role.LOADER)
    base = SNAPSHOT.replace(year=SNAPSHOT.year - BASE_YEARS)
    for loader, file, day in (
            (load_population, "persons.csv", SNAPSHOT), (load_enterprise, "enterprises.csv", base),
            (load_enterprise, "enterprise_changes.csv", SNAPSHOT),
            (load_land, "parcels.geojson", SNAPSHOT), (load_land, "rights.csv", SNAPSHOT)):
        result = loader(engine, folder / file, Options(day))
        assert result.status == "committed", (file, result.issues[:3])
    engine.dispose()
    yield name
    drop_database(cluster, name)


@pytest.fixture
def registry(clone_db: Callable[[str], str], populated: str,
             settings: Settings) -> Iterator[Engine]:
    engine = db.make_engine(clone_db(populated), settings, role=db.Role.LOADER)
    yield engine
    engine.dispose()


def query(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def derived(engine: Engine, flow: str) -> dict[str, float]:
    """The latest value of every series of a derived dataflow, by key."""
    return {key: value for key, value in query(engine, """
        SELECT DISTINCT ON (s.id) s.series_key, o.value FROM macro.observation o
        JOIN macro.series s ON s.id = o.series_id JOIN macro.dataflow f ON f.id = s.dataflow_id
        JOIN macro.release r ON r.id = o.release_id
        WHERE f.code = :flow ORDER BY s.id, r.release_date DESC""", flow=flow)}


LIVING = """
    FROM population.person p JOIN population.residence r
      ON r.national_id = p.national_id AND r.superseded_at IS NULL
     AND r.valid_from <= :day AND (r.valid_to IS NULL OR r.valid_to > :day)
    JOIN ref.admin_unit c ON c.id = r.unit_id
    JOIN ref.admin_unit up ON up.id = c.parent_id
    LEFT JOIN ref.admin_unit upp ON upp.id = up.parent_id
    WHERE p.birth_date <= :day AND (p.death_date IS NULL OR p.death_date > :day)"""
"""Persons living on :day with their commune (c) and its parents: the province is up
(2025 communes) or upp (a pre-2025 commune's district's parent)."""


def by_province(engine: Engine, day: dt.date) -> dict[str, int]:
    return {code: n for code, n in query(
        engine, f"SELECT coalesce(upp.code, up.code), count(*) {LIVING} GROUP BY 1", day=day)}


def test_population_by_province_equals_the_registry_in_2025_units(registry: Engine) -> None:
    result = derive(registry, SNAPSHOT, "2025", RELEASED)
    assert result.status == "committed" and result.inserted > 0
    figures = derived(registry, "POP_PROV_2025")
    living = query(registry, f"SELECT count(*) {LIVING}", day=SNAPSHOT)[0][0]
    assert living > 300
    assert figures["D.VN._T._T"] == living
    expected = by_province(registry, SNAPSHOT)
    provinces = {k.split(".")[1]: v for k, v in figures.items()
                 if k.endswith("._T._T") and k != "D.VN._T._T"}
    assert provinces == expected
    # Every province's sex-by-age cells add up to its total.
    for code, total in provinces.items():
        cells = [v for k, v in figures.items()
                 if k.startswith(f"D.{code}.") and "_T" not in k.split(".")[2:]]
        assert sum(cells) == total
    by_sex = query(registry, f"SELECT p.sex, count(*) {LIVING} GROUP BY 1", day=SNAPSHOT)
    for sex, n in by_sex:
        assert sum(v for k, v in figures.items()
                   if k.split(".")[2] == sex and k.split(".")[1] != "VN") == n


def test_legacy_units_before_the_reorganisation_count_the_old_provinces(
        registry: Engine) -> None:
    day = dt.date(2025, 1, 1)
    derive(registry, day, "legacy", RELEASED)
    figures = derived(registry, "POP_PROV_LEGACY")
    expected = by_province(registry, day)
    assert {k.split(".")[1]: v for k, v in figures.items()
            if k.endswith("._T._T") and k != "D.VN._T._T"} == expected
    assert len(expected) > 20  # the 63 old provinces, not the 34 new ones
    assert figures["D.VN._T._T"] == sum(expected.values())


def test_legacy_units_after_the_reorganisation_go_through_the_crosswalk(
        registry: Engine) -> None:
    result = derive(registry, SNAPSHOT, "legacy", RELEASED)
    figures = derived(registry, "POP_PROV_LEGACY")
    living = query(registry, f"SELECT count(*) {LIVING}", day=SNAPSHOT)[0][0]
    provinces = {k.split(".")[1]: v for k, v in figures.items()
                 if k.endswith("._T._T") and k != "D.VN._T._T"}
    assert sum(provinces.values()) == figures["D.VN._T._T"] == living
    legacy_codes = {c for (c,) in query(registry, "SELECT code FROM ref.admin_unit WHERE "
                                        "level = 'province' AND valid_to = '2025-07-01'")}
    assert set(provinces) <= legacy_codes
    assert len(provinces) > 34 or len(provinces) > len(by_province(registry, SNAPSHOT))
    # Whoever was placed by rule (a split commune the record cannot resolve) is counted
    # and marked estimated.
    estimated = query(registry, """SELECT count(*) FROM macro.observation o
                                   JOIN macro.series s ON s.id = o.series_id
                                   WHERE o.status = 'E' AND s.series_key LIKE 'D.%._T._T'
                                   """)[0][0]
    assert (result.details["allocated_by_rule"] > 0) == (estimated > 0)


def test_re_running_adds_no_vintage_and_a_change_publishes_one(registry: Engine,
                                                             tmp_path: Path) -> None:
    derive(registry, SNAPSHOT, "2025", RELEASED)
    again = derive(registry, SNAPSHOT, "2025", dt.date(2026, 3, 1))
    assert (again.inserted, again.updated) == (0, 0)
    # One release for each derived flow (population, enterprises, land), none added.
    assert query(registry, "SELECT count(*) FROM macro.release") == [(3,)]
    # A death recorded later lowers the figures: the next release revises them.
    victim, = query(registry, f"SELECT p.national_id {LIVING} ORDER BY 1 LIMIT 1",
                    day=SNAPSHOT)[0]
    with registry.begin() as conn:
        conn.execute(text("UPDATE population.person SET status = 'deceased', "
                           "death_date = '2025-12-01' WHERE national_id = :n"), {"n": victim})
    revised = derive(registry, SNAPSHOT, "2025", dt.date(2026, 3, 1))
    assert revised.updated >= 3  # the person's cell, province total, national total
    national = query(registry, """
        SELECT r.release_date, o.value FROM macro.observation o
        JOIN macro.series s ON s.id = o.series_id JOIN macro.release r ON r.id = o.release_id
        WHERE s.series_key = 'D.VN._T._T' ORDER BY 1""")
    assert [d for d, _ in national] == [RELEASED, dt.date(2026, 3, 1)]
    assert national[1][1] == national[0][1] - 1


def provinces_of(engine: Engine, units: str, subjects: str, day: dt.date
                 ) -> list[tuple[str, float, list[str]]]:
    """Each subject's group and weight with the provinces of ``units`` its commune may lie
    in on ``day``: one when its commune is of the set or the crosswalk leads to one."""
    of_set = "c.valid_from = :reorg" if units == "2025" else "c.valid_to = :reorg"
    old, new = ("old_unit_id", "new_unit_id") if units == "2025" \
        else ("new_unit_id", "old_unit_id")
    province = "coalesce(pp.code, p.code)"
    return [(group, float(weight), list(candidates)) for group, weight, candidates in query(
        engine, f"""
        SELECT s.grp, s.weight, array(
            SELECT DISTINCT {province} FROM ref.admin_unit c
            JOIN ref.admin_unit p ON p.id = c.parent_id
            LEFT JOIN ref.admin_unit pp ON pp.id = p.parent_id
            WHERE (c.id = s.unit_id AND {of_set})
               OR c.id IN (SELECT x.{new} FROM ref.admin_unit_change x
                           JOIN ref.admin_unit o ON o.id = x.{old}
                           WHERE x.{old} = s.unit_id AND NOT EXISTS (
                               SELECT 1 FROM ref.admin_unit c WHERE c.id = s.unit_id
                                 AND {of_set})))
        FROM ({subjects}) AS s(grp, weight, unit_id)""",
        day=day, reorg=dt.date(2025, 7, 1))]


ACTIVE = """
    SELECT coalesce((SELECT sec.code FROM ref.industry c
                     JOIN ref.industry g ON g.code = c.parent_code
                     JOIN ref.industry d ON d.code = g.parent_code
                     JOIN ref.industry sec ON sec.code = d.parent_code
                     WHERE c.code = b.industry_code), '_U'), 1, h.unit_id
    FROM enterprise.enterprise e
    JOIN enterprise.enterprise_status s ON s.enterprise_code = e.code AND s.status = 'active'
     AND s.superseded_at IS NULL AND s.valid_from <= :day
     AND (s.valid_to IS NULL OR s.valid_to > :day)
    JOIN enterprise.head_office h ON h.enterprise_code = e.code AND h.superseded_at IS NULL
     AND h.valid_from <= :day AND (h.valid_to IS NULL OR h.valid_to > :day)
    LEFT JOIN enterprise.business_line b ON b.enterprise_code = e.code AND b.is_main
     AND b.superseded_at IS NULL AND b.valid_from <= :day
     AND (b.valid_to IS NULL OR b.valid_to > :day)"""
"""Active enterprises on :day: the section of their main line (a class's grandparent's
parent), 1, their head office's commune."""

PARCEL_AREAS = """
    SELECT coalesce(v.land_use, '_U'), ST_Area(v.geom::geography) / 10000, v.unit_id
    FROM land.parcel_version v WHERE v.superseded_at IS NULL AND v.unit_id IS NOT NULL
     AND v.valid_from <= :day AND (v.valid_to IS NULL OR v.valid_to > :day)"""
"""Current parcels on :day: land use, geodesic area in hectares, commune."""


def assert_matches(figures: dict[str, float], expected: list[tuple[str, float, list[str]]],
                   tolerance: float) -> None:
    """The derived cells (D.<province>.<group>) against the registry's subjects: exact where
    the commune settles the province, within the subjects a split commune may send either
    way otherwise; totals exact."""
    assert expected, "the registry has nothing to count"
    assert abs(figures["D.VN._T"] - sum(w for _, w, _ in expected)) <= tolerance
    cells: dict[str, dict[str, float]] = {}
    for key, value in figures.items():
        _, area, group = key.split(".")
        if area != "VN":
            cells.setdefault(area, {})[group] = value
    for area, groups in cells.items():
        # A province's total is the sum of its groups.
        assert abs(groups.pop("_T") - sum(groups.values())) <= tolerance
        for group, value in groups.items():
            sure = sum(w for g, w, c in expected if g == group and c == [area])
            maybe = sum(w for g, w, c in expected if g == group and len(c) > 1 and area in c)
            assert sure - tolerance <= value <= sure + maybe + tolerance, (area, group)
    for group in {g for g, _, _ in expected}:
        assert abs(sum(v.get(group, 0) for v in cells.values())
                   - sum(w for g, w, _ in expected if g == group)) <= tolerance
        assert abs(figures[f"D.VN.{group}"] - sum(w for g, w, _ in expected if g == group)) \
            <= tolerance


@pytest.mark.parametrize("units", ["2025", "legacy"])
def test_active_enterprises_by_section_and_province_equal_the_registry(
        registry: Engine, units: str) -> None:
    result = derive(registry, SNAPSHOT, units, RELEASED)
    assert result.status == "committed"
    figures = derived(registry, f"ENT_PROV_{units.upper()}")
    expected = provinces_of(registry, units, ACTIVE, SNAPSHOT)
    assert len(expected) > 15 and len({g for g, _, _ in expected}) > 3
    assert_matches(figures, expected, tolerance=0)
    bound = "valid_from" if units == "2025" else "valid_to"
    of_set = {c for (c,) in query(registry, "SELECT code FROM ref.admin_unit WHERE level = "
                                  f"'province' AND {bound} = '2025-07-01'")}
    assert {k.split(".")[1] for k in figures} - {"VN"} <= of_set
    # Every series states its unit.
    units_of = query(registry, """SELECT DISTINCT s.attributes ->> 'UNIT_MEASURE'
                                  FROM macro.series s JOIN macro.dataflow f
                                    ON f.id = s.dataflow_id WHERE f.code LIKE 'ENT_PROV_%'""")
    assert units_of == [("ENT",)]


def test_legacy_enterprises_before_the_reorganisation_count_the_old_provinces(
        registry: Engine) -> None:
    day = dt.date(2025, 1, 1)
    derive(registry, day, "legacy", RELEASED)
    expected = provinces_of(registry, "legacy", ACTIVE, day)
    assert expected and all(len(c) == 1 for _, _, c in expected)
    assert_matches(derived(registry, "ENT_PROV_LEGACY"), expected, tolerance=0)


@pytest.mark.parametrize("units", ["2025", "legacy"])
def test_parcel_area_by_land_use_and_province_equals_the_registry(
        registry: Engine, units: str) -> None:
    derive(registry, SNAPSHOT, units, RELEASED)
    figures = derived(registry, f"LAND_PROV_{units.upper()}")
    expected = provinces_of(registry, units, PARCEL_AREAS, SNAPSHOT)
    assert len(expected) > 200
    # Rounded to the square metre per cell: a few cells' rounding at most.
    assert_matches(figures, expected, tolerance=0.001)
    assert query(registry, """SELECT DISTINCT s.attributes ->> 'UNIT_MEASURE'
                              FROM macro.series s JOIN macro.dataflow f ON f.id = s.dataflow_id
                              WHERE f.code LIKE 'LAND_PROV_%'""") == [("HA",)]


def test_re_deriving_enterprises_and_land_adds_no_vintage_until_the_registry_changes(
        registry: Engine) -> None:
    derive(registry, SNAPSHOT, "2025", RELEASED)
    again = derive(registry, SNAPSHOT, "2025", dt.date(2026, 3, 1))
    assert (again.inserted, again.updated) == (0, 0)
    # An enterprise dissolved (recorded later, back-dated) lowers its province's count.
    code, = query(registry, f"""SELECT e.code FROM ({ACTIVE.replace("SELECT coalesce",
                  "SELECT e.code, coalesce", 1)}) AS e(code, s, w, u)
                  ORDER BY 1 LIMIT 1""", day=SNAPSHOT)[0]
    with registry.begin() as conn:
        conn.execute(text("""UPDATE enterprise.enterprise_status SET valid_to = '2025-12-01'
                             WHERE enterprise_code = :c AND superseded_at IS NULL
                               AND valid_to IS NULL"""), {"c": code})
        conn.execute(text("""INSERT INTO enterprise.enterprise_status
                                 (enterprise_code, status, valid_from)
                             VALUES (:c, 'dissolved', '2025-12-01')"""), {"c": code})
    revised = derive(registry, SNAPSHOT, "2025", dt.date(2026, 3, 1))
    assert revised.updated >= 3  # its section cell, province total, national total
    national = query(registry, """
        SELECT r.release_date, o.value FROM macro.observation o
        JOIN macro.series s ON s.id = o.series_id JOIN macro.release r ON r.id = o.release_id
        JOIN macro.dataflow f ON f.id = s.dataflow_id
        WHERE f.code = 'ENT_PROV_2025' AND s.series_key = 'D.VN._T' ORDER BY 1""")
    assert [d for d, _ in national] == [RELEASED, dt.date(2026, 3, 1)]
    assert national[1][1] == national[0][1] - 1
    # The land flow did not change: still its one release.
    assert query(registry, """SELECT count(*) FROM macro.release r JOIN macro.dataflow f
                              ON f.id = r.dataflow_id WHERE f.code = 'LAND_PROV_2025'""") \
        == [(1,)]
