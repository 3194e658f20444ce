"""The macro suite: passes on the loaded samples and the derived population, and catches a
province total that no longer sums, a derived figure the registry contradicts, a gap."""

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
from tests.factories.macro import MACRO_SAMPLES
from tests.factories.population import POPULATION_FAMILY
from tests.quality.support import write

AS_OF = dt.date(2026, 6, 1)


@pytest.fixture
def database(cluster: LocalCluster, ref_template: str, settings: Settings,
             tmp_path: Path) -> Iterator[str]:
    name, url = populated_database(cluster, ref_template, tmp_path, settings,
                                   (POPULATION_FAMILY, MACRO_SAMPLES))
    yield url
    drop_database(cluster, name)


def check(url: str) -> QualityReport:
    return run_quality(role_url(url, Role.LOADER), ["macro"], as_of=AS_OF, by_province=False)


def failed(report: QualityReport) -> set[str]:
    return set(report.registry("macro").failed_rules)


def test_the_samples_and_the_derived_population_pass(database: str) -> None:
    report = check(database)
    assert failed(report) == set()
    assert len(report.registry("macro").results) == 6


def test_a_province_total_that_no_longer_sums_is_caught(database: str) -> None:
    def tamper(conn: Connection) -> None:
        # A provincial figure changed behind the registry's back (a manual fix).
        conn.execute(text("""
            UPDATE macro.observation o SET value = value + 5 FROM macro.series s
            WHERE s.id = o.series_id AND s.series_key = 'D.01._T._T'"""))

    write(database, tamper)
    assert failed(check(database)) == {"provinces-sum-to-national",
                                       "derived-population-matches-registry"}


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
