"""`mdr macro derive`: population indicators from the registry, in both unit sets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from fixtures.generator import generate_population
from loaders.base import Options
from loaders.macro_derived import derive
from loaders.population import load_population
from mdr import db
from mdr.settings import Settings

SNAPSHOT = dt.date(2026, 1, 1)
RELEASED = dt.date(2026, 2, 1)


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory, cluster: Any, ref_template: str,
              settings: Settings) -> Iterator[str]:
    """A template holding a generated population of 400, as of 2026-01-01."""
    from tests.conftest import create_database, drop_database

    folder = tmp_path_factory.mktemp("population")
    generate_population(folder, 400, seed=11, effective_date=SNAPSHOT)
    name = "tpl_macro_population"
    url = create_database(cluster, name, template=ref_template)
    engine = db.make_engine(url, settings, role=db.Role.LOADER)
    result = load_population(engine, folder / "persons.csv", Options(SNAPSHOT))
    assert result.status == "committed"
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
    estimated = query(registry, """SELECT count(*) FROM macro.observation
                                   WHERE status = 'E'""")[0][0]
    assert (result.details["allocated_by_rule"] > 0) == (estimated > 0)


def test_re_running_adds_no_vintage_and_a_change_publishes_one(registry: Engine,
                                                             tmp_path: Path) -> None:
    derive(registry, SNAPSHOT, "2025", RELEASED)
    again = derive(registry, SNAPSHOT, "2025", dt.date(2026, 3, 1))
    assert (again.inserted, again.updated) == (0, 0)
    assert query(registry, "SELECT count(*) FROM macro.release") == [(1,)]
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
