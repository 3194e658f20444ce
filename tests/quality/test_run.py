"""Quality runs whatever the registry: results stored per registry and province, the HTML
report, checks and runs that fail, and the registries a run accepts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from great_expectations.expectations.core.unexpected_rows_expectation import (
    UnexpectedRowsExpectation,
)
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool

from quality.report import render_html, write_html_report
from quality.run import (
    ProvinceResult,
    QualityReport,
    QualityStorageError,
    RegistryResult,
    RuleResult,
    run_quality,
)
from quality.suites import SUITES, Rule, Suite, population
from tests.factories.population_quality import AS_OF, insert_event, nid
from tests.quality.support import PROVINCES, RULES, check, write


def _query(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_results_are_stored_per_registry_and_province(db_url: str) -> None:
    def defect(conn: Connection) -> None:  # two heads in the Hà Nội household
        conn.execute(text("UPDATE population.household_member SET relation = 'head' "
                          "WHERE national_id = :nid"), {"nid": nid("B")})

    write(db_url, defect)
    report = check(db_url)

    result = report.registry("population")
    engine = create_engine(db_url, poolclass=NullPool)
    with engine.connect() as conn:
        run = conn.execute(text("SELECT * FROM etl.quality_run")).mappings().one()
        rows = conn.execute(text(
            "SELECT rule, province_code, passed, unexpected_count, observed_value "
            "FROM etl.quality_result WHERE run_id = :run"), {"run": run["id"]}).all()
    engine.dispose()
    assert run["id"] == result.run_id
    assert (run["registry"], run["as_of"], run["passed"], run["failed"]) == (
        "population", AS_OF, len(RULES) - 1, 1)
    assert run["score"] == pytest.approx((len(RULES) - 1) / len(RULES))
    assert run["finished_at"] is not None and run["error"] is None
    assert len(rows) == len(RULES) * (1 + len(PROVINCES))
    failed = {(rule, province, count, observed["observed_value"])
              for rule, province, passed, count, observed in rows if not passed}
    assert failed == {("household-one-head", None, 1, 1), ("household-one-head", "001", 1, 1)}


def test_html_report_names_the_rules_and_provinces(db_url: str, tmp_path: Path) -> None:
    write(db_url, lambda conn: insert_event(conn, nid("B"), "death", dt.date(2026, 1, 1)))
    report = check(db_url, store=False)

    path = write_html_report(report, tmp_path / "reports" / "quality.html")

    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<link" not in page and "<script" not in page
    for rule in RULES:
        assert f"<code>{rule}</code>" in page
    assert "Thành phố Hà Nội" in page and "Tỉnh Yên Bái" in page
    assert "expectations failed" in page
    # The failing rule, its count and its per-province tally (it fails in 1 of 3).
    row = page.split("<code>no-death-event-while-alive</code>")[1].split("</tr>")[0]
    assert 'class="failed"' in row and '<td class="num">1</td>' in row and "2/3" in row


def test_html_report_escapes_every_value() -> None:
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    hostile = RuleResult("x<y", "a & b", False, None, None, error="<script>alert(1)</script>")
    report = QualityReport(AS_OF, (RegistryResult(
        "population", AS_OF, now, now, (hostile,),
        (ProvinceResult("0\"1", "<b>bold</b>", (hostile,)),), province_basis="'quoted'"),))

    page = render_html(report)

    assert "<script>" not in page and "<b>bold" not in page
    for escaped in ("&lt;script&gt;alert(1)&lt;/script&gt;", "x&lt;y", "a &amp; b",
                    "&lt;b&gt;bold&lt;/b&gt;", "0&quot;1", "&#x27;quoted&#x27;"):
        assert escaped in page


def _one_rule_suite(query: str, provinces_query: str | None = None) -> Callable[[dt.date], Suite]:
    def make(as_of: dt.date) -> Suite:
        rule = Rule(name="probe", batch="person", message="A probe.",
                    expectation=UnexpectedRowsExpectation(unexpected_rows_query=query,
                                                          meta={"rule": "probe"}))
        return Suite("population", population.batches(as_of), (rule,), provinces_query)
    return make


def test_great_expectations_notices_stay_off_stdout(
        db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # GE prints a warning when an unexpected-rows query lacks {batch}.
    monkeypatch.setitem(SUITES, "population",
                        _one_rule_suite("SELECT national_id FROM population.person WHERE false"))
    report = check(db_url, store=False, by_province=False)

    captured = capsys.readouterr()
    assert captured.out == "" and "{batch}" in captured.err
    assert report.registry("population").failed_rules == []


def test_a_check_that_cannot_run_counts_as_failed(db_url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SUITES, "population",
                        _one_rule_suite("SELECT no_such_column FROM {batch}"))

    report = check(db_url, by_province=False)

    assert not report.ok
    probe = report.registry("population").result("probe")
    assert (probe.passed, probe.unexpected_count) == (False, None)
    assert probe.error is not None and "no_such_column" in probe.error
    stored = _query(db_url, "SELECT passed, unexpected_count, error FROM etl.quality_result")
    assert stored[0][:2] == (False, None) and "no_such_column" in stored[0][2]


def test_a_run_that_dies_leaves_its_error(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SUITES, "population", _one_rule_suite(
        "SELECT national_id FROM {batch} WHERE false", "SELECT code FROM no_such_table"))

    with pytest.raises(ProgrammingError, match="no_such_table"):
        check(db_url)

    (finished_at, error), = _query(db_url, "SELECT finished_at, error FROM etl.quality_run")
    assert finished_at is None and "no_such_table" in error
    assert _query(db_url, "SELECT count(*) FROM etl.quality_result") == [(0,)]


def test_storing_needs_the_quality_tables(clone_db: Callable[[str], str],
                                          ref_template: str) -> None:
    url = clone_db(ref_template)
    # As on a database whose schema predates the quality tables.
    def drop_quality_tables(conn: Connection) -> None:
        conn.execute(text("DROP TABLE etl.quality_result, etl.quality_run"))

    write(url, drop_quality_tables)

    with pytest.raises(QualityStorageError, match="mdr db migrate"):
        check(url)
    assert check(url, store=False, by_province=False).ok  # an empty registry breaks nothing


@pytest.mark.parametrize(("registries", "message"), [
    (["lands"], r"No quality suite for 'lands'; registries with a suite: population"),
    ([], r"Name the registries to check: population"),
])
def test_unknown_registries_are_refused_with_the_known_ones(registries: list[str],
                                                             message: str) -> None:
    # Refused before connecting: nothing listens on this URL.
    with pytest.raises(ValueError, match=message):
        run_quality("postgresql+psycopg://nobody@127.0.0.1:1/none", registries)
