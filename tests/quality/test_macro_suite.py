"""The macro suite: passes on the loaded samples and the derived indicators, and catches a
province total that no longer sums, a derived figure a registry contradicts, a gap; per
province, the province at fault."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from mdr.cluster import LocalCluster
from mdr.db import Role, role_url
from mdr.settings import Settings
from quality.run import QualityReport, run_quality
from tests.api.support import populated_database
from tests.conftest import drop_database
from tests.factories.enterprise import ENTERPRISE_SAMPLE
from tests.factories.land import LAND_SAMPLE
from tests.factories.macro import MACRO_SAMPLES
from tests.factories.population import POPULATION_FAMILY
from tests.quality.support import write

AS_OF = dt.date(2026, 6, 1)


@pytest.fixture
def database(cluster: LocalCluster, ref_template: str, settings: Settings,
             tmp_path: Path) -> Iterator[str]:
    name, url = populated_database(cluster, ref_template, tmp_path, settings,
                                   (POPULATION_FAMILY, ENTERPRISE_SAMPLE, LAND_SAMPLE,
                                    MACRO_SAMPLES))
    yield url
    drop_database(cluster, name)


def check(url: str, *, by_province: bool = False) -> QualityReport:
    return run_quality(role_url(url, Role.LOADER), ["macro"], as_of=AS_OF,
                       by_province=by_province)


def failed(report: QualityReport) -> set[str]:
    return set(report.registry("macro").failed_rules)


def test_the_samples_and_the_derived_population_pass(database: str) -> None:
    report = check(database)
    assert failed(report) == set()
    assert len(report.registry("macro").results) == 9


def test_a_province_total_that_no_longer_sums_is_caught(database: str) -> None:
    def tamper(conn: Connection) -> None:
        # A provincial figure changed behind the registry's back (a manual fix).
        conn.execute(text("""
            UPDATE macro.observation o SET value = value + 5 FROM macro.series s
            WHERE s.id = o.series_id AND s.series_key = 'D.01._T._T'"""))

    write(database, tamper)
    assert failed(check(database)) == {"provinces-sum-to-national",
                                       "province-cells-sum-to-total",
                                       "derived-population-matches-registry"}


def test_derived_enterprises_and_land_the_registries_contradict_fail_their_province(
        database: str) -> None:
    report = check(database, by_province=True)
    provinces = {p.code: p for p in report.registry("macro").provinces}
    # Hà Nội, where the samples' people, company (its head office in a pre-2025 ward that
    # went whole into Ba Đình) and parcels are.
    assert "01" in provinces and all(not p.failed_rules for p in provinces.values())
    assert {r.rule for r in provinces["01"].results} >= {
        "derived-enterprises-match-registry", "derived-land-area-matches-registry"}

    def tamper(conn: Connection) -> None:
        # One enterprise and a hectare more than the registries hold, in Hà Nội's totals
        # and the nation's.
        conn.execute(text("""
            UPDATE macro.observation o SET value = value + 1 FROM macro.series s
            JOIN macro.dataflow f ON f.id = s.dataflow_id
            WHERE s.id = o.series_id AND f.code IN ('ENT_PROV_2025', 'LAND_PROV_2025')
              AND s.series_key IN ('D.01._T', 'D.VN._T')"""))

    write(database, tamper)
    report = check(database, by_province=True)
    assert failed(report) == {"province-cells-sum-to-total",
                              "derived-enterprises-match-registry",
                              "derived-land-area-matches-registry"}
    provinces = {p.code: p for p in report.registry("macro").provinces}
    assert set(provinces["01"].failed_rules) == {"province-cells-sum-to-total",
                                                 "derived-enterprises-match-registry",
                                                 "derived-land-area-matches-registry"}
    assert all(not p.failed_rules for code, p in provinces.items() if code != "01")


def test_a_missing_month_and_a_repeated_vintage_are_caught(database: str) -> None:
    def tamper(conn: Connection) -> None:
        conn.execute(text("DELETE FROM macro.observation WHERE period = '2005-06' "))
        conn.execute(text("""
            INSERT INTO macro.release (dataflow_id, release_date)
            SELECT dataflow_id, DATE '2025-01-01' FROM macro.release
            WHERE release_date = DATE '2024-03-01'"""))
        conn.execute(text("""
            INSERT INTO macro.observation (series_id, period, release_id, period_start, value,
                                           status, attributes)
            SELECT o.series_id, o.period, n.id, o.period_start, o.value, o.status,
                   o.attributes
            FROM macro.observation o JOIN macro.release r ON r.id = o.release_id
            JOIN macro.release n ON n.dataflow_id = r.dataflow_id
             AND n.release_date = DATE '2025-01-01'
            WHERE r.release_date = DATE '2024-03-01'"""))

    write(database, tamper)
    assert failed(check(database)) == {"periods-complete", "revision-changes-something"}
