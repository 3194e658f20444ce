"""The enterprise suite: the loaded sample passes, defects fail their rule, and the
cross-registry consistency scores per province are stored and reported."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from mdr import db
from mdr.settings import Settings
from quality.report import render_html
from quality.suites import enterprise
from tests.factories.enterprise import ACME, ENTERPRISE_COMPANIES, HOLDING
from tests.factories.population import POPULATION_FAMILY
from tests.quality.support import check, write

AS_OF = dt.date(2026, 6, 1)
DEAD = "001080000004"   # died 2026-03-01 (the population sample)


@pytest.fixture
def sample_url(clone_db: Callable[[str], str], ref_template: str, settings: Settings,
               tmp_path: Path) -> str:
    """The population and enterprise samples, loaded by their loaders."""
    url = clone_db(ref_template)
    loader = db.make_engine(url, settings, role=db.Role.LOADER)
    try:
        POPULATION_FAMILY(loader, tmp_path)
        ENTERPRISE_COMPANIES(loader, tmp_path)
    finally:
        loader.dispose()
    return url


def test_the_loaded_sample_meets_every_rule_and_is_consistent(sample_url: str) -> None:
    result = check(sample_url, registry="enterprise", as_of=AS_OF).registry("enterprise")
    names = [r.name for r in enterprise.rules(AS_OF)] + [
        c.name for c in enterprise.consistency(AS_OF)]
    assert [r.rule for r in result.results] == names
    assert result.failed_rules == [] and all(r.error is None for r in result.results)
    assert {p.code: p.name for p in result.provinces} == {"01": "Thành phố Hà Nội"}
    scores = {r.rule: r.consistency for r in result.provinces[0].results
              if r.consistency is not None}
    assert scores == {"representatives-alive": 1.0, "head-office-unit-exists": 1.0,
                      "roles-match-residence": 1.0}


def test_a_representative_who_died_since_lowers_the_provinces_consistency(
        sample_url: str) -> None:
    def appoint_the_dead(conn: Connection) -> None:
        conn.execute(text("INSERT INTO enterprise.legal_representative (enterprise_code, "
                          "national_id, title, valid_from) VALUES (:c, :p, 'chair_board', "
                          "'2020-01-01')"), {"c": HOLDING, "p": DEAD})

    write(sample_url, appoint_the_dead)
    report = check(sample_url, registry="enterprise", as_of=AS_OF)
    result = report.registry("enterprise")
    assert result.failed_rules == ["representatives-alive", "roles-match-residence"]
    hanoi = {r.rule: r for r in result.provinces[0].results}
    # Three representatives today, one of them dead; five roles, one without a residence.
    assert hanoi["representatives-alive"].observed_value == {
        "checked": 3, "inconsistent": 1, "consistency": 0.6667}
    assert hanoi["roles-match-residence"].consistency == 0.8
    stored: dict[str, float] = {}
    write(sample_url, lambda conn: stored.update(conn.execute(text(
        "SELECT rule, (observed_value->>'consistency')::float FROM etl.quality_result "
        "WHERE run_id = :r AND province_code = '01' AND observed_value ? 'consistency'"),
        {"r": result.run_id}).tuples().all()))
    assert stored["representatives-alive"] == 0.6667
    html = render_html(report)
    assert "<th>representatives-alive</th>" in html and "66.7%" in html


def test_shares_over_100_and_two_main_lines_fail_their_rules(sample_url: str) -> None:
    def break_rules(conn: Connection) -> None:
        conn.execute(text("INSERT INTO enterprise.ownership (enterprise_code, "
                          "owner_national_id, share, valid_from) VALUES "
                          "(:c, '001182000002', 20, '2026-01-10')"), {"c": ACME})
        conn.execute(text("UPDATE enterprise.business_line SET is_main = false "
                          "WHERE enterprise_code = :c"), {"c": HOLDING})

    write(sample_url, break_rules)
    result = check(sample_url, registry="enterprise", as_of=AS_OF,
                   by_province=False).registry("enterprise")
    assert result.failed_rules == ["one-main-line", "shares-at-most-100"]
    assert result.result("shares-at-most-100").unexpected_count == 1
