"""The land suite: a clean sample passes; each rule catches what it names, per province."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from loaders.base import Options
from loaders.enterprise import load_enterprise
from loaders.sources.enterprise_layout import SNAPSHOT_FIELDS
from mdr import db
from mdr.db import Role, role_url
from mdr.settings import Settings
from quality.run import QualityReport, run_quality
from tests.factories import write_csv
from tests.factories.enterprise import ACME, COMPANIES
from tests.factories.land import LAND_SAMPLE
from tests.factories.population import POPULATION_FAMILY
from tests.quality.support import write

AS_OF = dt.date(2026, 6, 1)
HANOI = "01"


@pytest.fixture
def land_url(clone_db: Callable[[str], str], ref_template: str, settings: Settings,
             tmp_path: Path) -> str:
    url = clone_db(ref_template)
    loader = db.make_engine(url, settings, role=db.Role.LOADER)
    try:
        POPULATION_FAMILY(loader, tmp_path)
        LAND_SAMPLE(loader, tmp_path)
    finally:
        loader.dispose()
    return url


def check(url: str) -> QualityReport:
    return run_quality(role_url(url, Role.LOADER), ["land"], as_of=AS_OF, store=True)


def test_the_sample_passes_every_rule_and_is_scored_in_its_province(land_url: str) -> None:
    land = check(land_url).registry("land")
    assert land.failed_rules == []
    assert [(p.code, p.score.failed) for p in land.provinces] == [(HANOI, 0)]


def _break(conn: Connection) -> None:
    # An old system's writes: parcel 2 drawn over parcel 1, the couple's shares no longer
    # whole, a mortgage of a right that does not exist, parcel 1's holder born after the
    # right began, and a declared area ten times the real one.
    conn.execute(text("""
        UPDATE land.parcel_version v SET geom = (
            SELECT ST_Multi(ST_Translate(o.geom, -0.0002, 0)) FROM land.parcel_version o
            JOIN land.parcel q ON q.id = o.parcel_id WHERE q.parcel_number = '2')
        FROM land.parcel p WHERE p.id = v.parcel_id AND p.parcel_number = '2'"""))
    conn.execute(text("UPDATE land.party_member SET share = 0.4"))
    conn.execute(text("UPDATE land.rrr SET mortgaged_reference = 'R404' "
                      "WHERE rrr_type = 'mortgage'"))
    conn.execute(text("UPDATE land.rrr SET valid_from = '1979-01-01' WHERE reference = 'R3a'"))
    conn.execute(text("""
        UPDATE land.parcel_version v SET declared_area_m2 = declared_area_m2 * 10
        FROM land.parcel p WHERE p.id = v.parcel_id AND p.parcel_number = '3b'"""))


def test_each_rule_catches_what_it_names(land_url: str) -> None:
    write(land_url, _break)
    report = check(land_url)
    land = report.registry("land")
    assert set(land.failed_rules) == {"no-overlapping-parcels", "shares-sum-to-one",
                                      "mortgage-on-a-right", "holder-alive-at-start",
                                      "area-consistent"}
    assert land.result("no-overlapping-parcels").unexpected_count == 2  # each of the pair
    assert not report.ok
    (hanoi,) = land.provinces
    assert hanoi.code == HANOI and hanoi.failed_rules == land.failed_rules


def test_an_enterprise_holding_land_before_its_founding_is_caught(
        land_url: str, settings: Settings, tmp_path: Path) -> None:
    loader = db.make_engine(land_url, settings, role=db.Role.LOADER)
    try:
        loaded = load_enterprise(loader, write_csv(tmp_path / "e.csv", SNAPSHOT_FIELDS,
                                                   COMPANIES), Options(dt.date(2026, 1, 10)))
    finally:
        loader.dispose()
    assert loaded.status == "committed"
    assert check(land_url).registry("land").failed_rules == []

    def _hand_over(conn: Connection) -> None:
        # An old system's write: right R3a handed to ACME (founded 2015-03-02) from 2010.
        conn.execute(text("""
            WITH p AS (INSERT INTO land.party (party_kind, enterprise_code)
                       VALUES ('enterprise', :code) RETURNING id)
            UPDATE land.rrr SET party_id = (SELECT id FROM p), valid_from = '2010-01-01'
            WHERE reference = 'R3a'"""), {"code": ACME})

    write(land_url, _hand_over)
    land = check(land_url).registry("land")
    assert land.failed_rules == ["holder-alive-at-start"]
    assert land.result("holder-alive-at-start").unexpected_count == 1
