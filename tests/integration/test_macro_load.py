"""`mdr load macro`: SDMX messages in every format, checks with reasons, releases kept."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sdmx
from sqlalchemy import Engine, text

from loaders.base import LoadResult, Options
from loaders.macro import load_macro
from mdr import db
from mdr.settings import Settings
from tests.factories.macro import (
    CSV_NA_MAIN,
    ECB_STRUCTURE,
    ECB_USD,
    EXR_LONG,
    EXR_LONG_PROFILE,
    EXR_WIDE,
    EXR_WIDE_AS_SDMX,
    EXR_WIDE_PROFILE,
    JSON_EXR,
    NA_MAIN_STRUCTURE,
    exr_row,
    write_sdmx_csv,
)

TODAY = dt.date(2026, 6, 1)


@pytest.fixture
def registry(clone_db: Callable[[str], str], ref_template: str,
             settings: Settings) -> Iterator[Engine]:
    """A registry holding the ECB exchange-rate structure."""
    engine = db.make_engine(clone_db(ref_template), settings, role=db.Role.LOADER)
    assert load(engine, ECB_STRUCTURE).status == "committed"
    yield engine
    engine.dispose()


def load(engine: Engine, path: Path, **options: Any) -> LoadResult:
    return load_macro(engine, path, Options(effective_date=TODAY, **options))


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def latest(engine: Engine, flow: str, key: str) -> dict[str, float | None]:
    return {r.period: r.value for r in rows(engine, """
        SELECT DISTINCT ON (o.period) o.period, o.value FROM macro.observation o
        JOIN macro.release r ON r.id = o.release_id JOIN macro.series s ON s.id = o.series_id
        JOIN macro.dataflow f ON f.id = s.dataflow_id
        WHERE f.code = :flow AND s.series_key = :key
        ORDER BY o.period, r.release_date DESC""", flow=flow, key=key)}


def test_ecb_structure_and_data_load_with_the_values_sdmx1_reads(registry: Engine) -> None:
    dims = [r.code for r in rows(registry, """
        SELECT m.code FROM macro.dimension m JOIN macro.data_structure d ON d.id = m.structure_id
        WHERE d.code = 'ECB_EXR1' ORDER BY m.position""")]
    assert dims == ["FREQ", "CURRENCY", "CURRENCY_DENOM", "EXR_TYPE", "EXR_SUFFIX"]
    # The ECB's currency list is the ISO list ref already holds: it is re-used, not copied.
    assert rows(registry, "SELECT ref_table FROM macro.codelist WHERE code = 'CL_CURRENCY'") \
        == [("ref.currency",)]

    result = load(registry, ECB_USD)
    assert (result.status, result.read, result.inserted, result.rejected) \
        == ("committed", 252, 252, 0)
    message: Any = sdmx.read_sdmx(ECB_USD)
    expected = sdmx.to_pandas(message.data[0])
    stored = latest(registry, "ECB_EXR1", "M.USD.EUR.SP00.A")
    assert len(stored) == 252
    for (period, *_), value in expected.items():
        assert stored[str(period)] == pytest.approx(float(value))
    assert rows(registry, "SELECT release_date FROM macro.release") == [(dt.date(2020, 1, 16),)]
    series = rows(registry, "SELECT attributes FROM macro.series")[0][0]
    assert series["UNIT"] == "USD" and series["UNIT_MULT"] == "0"


def test_structure_specific_sdmx_ml_reads_through_the_registry_structure(
        registry: Engine, tmp_path: Path) -> None:
    structures: Any = sdmx.read_sdmx(ECB_STRUCTURE)
    dsd = structures.structure["ECB_EXR1"]
    specific = tmp_path / "exr_specific.xml"
    specific.write_bytes(sdmx.to_xml(sdmx.read_sdmx(ECB_USD, structure=dsd)))
    assert b"StructureSpecificData" in specific.read_bytes()[:300]
    result = load(registry, specific)
    assert (result.status, result.inserted) == ("committed", 252)
    assert latest(registry, "ECB_EXR1", "M.USD.EUR.SP00.A")["1999-01"] == pytest.approx(1.16078)


def test_sdmx_json_and_sdmx_csv_samples_load(registry: Engine) -> None:
    result = load(registry, JSON_EXR)
    assert (result.status, result.inserted, result.rejected) == ("committed", 4, 0)
    # The message links dataflow ECB:EXR to the structure held: the dataflow is registered.
    assert latest(registry, "EXR", "D.RUB.EUR.SP00.A") == {"2013-01-18": 40.3426,
                                                           "2013-01-21": 40.3}
    assert load(registry, NA_MAIN_STRUCTURE).status == "committed"
    result = load(registry, CSV_NA_MAIN)
    assert (result.status, result.inserted) == ("committed", 2)
    stored = rows(registry, """SELECT o.period, o.value, o.attributes, r.release_date
                               FROM macro.observation o JOIN macro.release r
                               ON r.id = o.release_id ORDER BY o.period""")
    assert [(p, v, a["ATTR_1"], d) for p, v, a, d in stored if p.startswith("2014")] == [
        ("2014-01", 12.4, "N", dt.date(2021, 1, 22)),
        ("2014-02", 10.8, "Y", dt.date(2021, 1, 22))]


def test_the_same_release_twice_adds_nothing_and_a_revision_keeps_both_vintages(
        registry: Engine, tmp_path: Path) -> None:
    first = write_sdmx_csv(tmp_path / "r1.csv", [exr_row("2023-10", "1.05"),
                                                 exr_row("2023-11", "1.07")])
    assert load(registry, first).inserted == 2
    again = load(registry, first)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert len(rows(registry, "SELECT * FROM macro.release")) == 1

    second = write_sdmx_csv(tmp_path / "r2.csv", [
        exr_row("2023-10", "1.05", updated="2024-04-01"),
        exr_row("2023-11", "1.08", status="P", updated="2024-04-01"),
        exr_row("2023-12", "1.09", updated="2024-04-01")])
    result = load(registry, second)
    assert (result.inserted, result.updated, result.unchanged) == (1, 1, 1)
    vintages = rows(registry, """
        SELECT r.release_date, o.value, o.status FROM macro.observation o
        JOIN macro.release r ON r.id = o.release_id
        WHERE o.period = '2023-11' ORDER BY 1""")
    assert vintages == [(dt.date(2024, 3, 1), 1.07, "A"), (dt.date(2024, 4, 1), 1.08, "P")]


BAD_ROWS = [
    (("OTHER:FLOW(1.0)", "M", "USD", "EUR", "SP00", "A", "2023-01", "1", "A", "2024-03-01"),
     "unknown-dataflow"),
    (exr_row("2023-13", "1.1"), "period-not-of-frequency"),
    (exr_row("2023-Q1", "1.1"), "period-not-of-frequency"),
    (exr_row("2023-02", "1,1"), "non-numeric-value"),
    (exr_row("2023-03", "1.1", currency="QQQ"), "unknown-dimension-code"),
    (exr_row("2023-04", "1.1", updated="soon"), "missing-release-date"),
]


def test_each_bad_row_is_rejected_with_its_reason_and_the_rest_loads(
        registry: Engine, tmp_path: Path) -> None:
    good = [exr_row(f"20{y:02d}-{m:02d}", "1.1") for y in range(10, 14) for m in range(1, 13)]
    dupes = [exr_row("2009-01", "1.0"), exr_row("2009-01", "1.2")]
    path = write_sdmx_csv(tmp_path / "bad.csv", [*good, *dupes, *(r for r, _ in BAD_ROWS)])
    result = load(registry, path, reject_threshold=None)
    assert result.status == "committed"
    assert result.inserted == len(good)
    expected = {slug: 1 for _, slug in BAD_ROWS}
    expected["period-not-of-frequency"] = 2
    expected["duplicate-observation"] = 2
    assert result.rejected_by_reason == dict(sorted(expected.items()))
    messages = {i.slug: i.message for i in result.issues}
    assert "rows 50, 51" in messages["duplicate-observation"]
    assert "a month (2024-03)" in messages["period-not-of-frequency"]


def test_a_key_that_does_not_fit_the_structure_is_rejected(registry: Engine,
                                                           tmp_path: Path) -> None:
    header = ("DATAFLOW", "FREQ", "CURRENCY", "EXR_TYPE", "TIME_PERIOD", "OBS_VALUE")
    path = write_sdmx_csv(tmp_path / "short.csv",
                          [("ECB:ECB_EXR1(1.0)", "M", "USD", "SP00", "2020-01", "1")], header)
    result = load(registry, path, reject_threshold=None)
    assert result.rejected_by_reason == {"invalid-series-key": 1}
    assert "missing CURRENCY_DENOM, EXR_SUFFIX" in result.issues[0].message


def test_a_load_over_the_threshold_leaves_the_registry_untouched(registry: Engine,
                                                                 tmp_path: Path) -> None:
    path = write_sdmx_csv(tmp_path / "mostly_bad.csv",
                          [exr_row("2020-01", "1.0"), exr_row("2020-02", "x"),
                           exr_row("2020-03", "y")])
    result = load(registry, path)
    assert result.status == "aborted"
    assert rows(registry, "SELECT count(*) FROM macro.observation") == [(0,)]
    assert rows(registry, "SELECT count(*) FROM macro.release") == [(0,)]
    assert rows(registry, "SELECT count(*) FROM etl.rejected_row WHERE run_id = :r",
                r=result.run_id) == [(2,)]


OBSERVATIONS = """
    SELECT s.series_key, o.period, o.value, o.status, r.release_date FROM macro.observation o
    JOIN macro.series s ON s.id = o.series_id JOIN macro.release r ON r.id = o.release_id
    ORDER BY 1, 2, 5"""


def test_a_wide_csv_through_its_profile_loads_what_the_same_sdmx_csv_loads(
        registry: Engine) -> None:
    result = load(registry, EXR_WIDE, profile=str(EXR_WIDE_PROFILE))
    # Three series of three months; GBP has no 2024-02 (a blank cell is no observation).
    assert (result.status, result.inserted, result.rejected) == ("committed", 8, 0)
    mapped = rows(registry, OBSERVATIONS)
    assert mapped[0] == ("M.GBP.EUR.SP00.A", "2024-01", 0.8601, "A", dt.date(2024, 4, 2))
    # The same observations as SDMX-CSV are the same release: nothing new.
    again = load(registry, EXR_WIDE_AS_SDMX)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 8)
    assert rows(registry, OBSERVATIONS) == mapped
    assert rows(registry, "SELECT profile FROM etl.load_run WHERE id = :r",
                r=result.run_id) == [("exr-monthly-wide",)]


def test_a_long_csv_through_its_profile_loads_what_the_same_sdmx_csv_loads(
        registry: Engine, tmp_path: Path) -> None:
    with EXR_LONG.open(encoding="utf-8") as handle:
        source = list(csv.DictReader(handle))
    as_sdmx = write_sdmx_csv(tmp_path / "long.sdmx.csv", [
        exr_row(r["month"], r["rate"], currency=r["currency"], status=r["status"],
                updated=r["published"]) for r in source])
    result = load(registry, EXR_LONG, profile=str(EXR_LONG_PROFILE))
    # Each row its own release date: three releases, each observation in its own.
    assert (result.status, result.inserted, result.rejected) == ("committed", 6, 0)
    mapped = rows(registry, OBSERVATIONS)
    assert ("M.JPY.EUR.SP00.A", "2024-03", 162.77, "P", dt.date(2024, 4, 2)) in mapped
    assert len(rows(registry, "SELECT * FROM macro.release")) == 3
    again = load(registry, as_sdmx)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 6)
    assert rows(registry, OBSERVATIONS) == mapped


def test_a_profile_column_that_does_not_fit_the_structure_is_rejected_with_its_reason(
        registry: Engine, tmp_path: Path) -> None:
    # A column mapped to a dimension the structure does not have: every row's key is wrong.
    profile = tmp_path / "bad.profile.yaml"
    profile.write_text(EXR_LONG_PROFILE.read_text(encoding="utf-8").replace(
        "EXR_TYPE: rate_type", "RATE_KIND: rate_type"), encoding="utf-8")
    result = load(registry, EXR_LONG, profile=str(profile), reject_threshold=None)
    assert result.rejected_by_reason == {"invalid-series-key": 6}
    assert "missing EXR_TYPE; unknown RATE_KIND" in result.issues[0].message
    # A wide column that is no period of the frequency: its cells are rejected, the rest load.
    wide = tmp_path / "wide.csv"
    wide.write_text(EXR_WIDE.read_text(encoding="utf-8").replace("2024-03", "Q1 total"),
                    encoding="utf-8")
    result = load(registry, wide, profile=str(EXR_WIDE_PROFILE), reject_threshold=None)
    assert (result.status, result.inserted) == ("committed", 5)
    assert result.rejected_by_reason == {"period-not-of-frequency": 3}
    assert "Q1 total" in result.issues[0].message


def test_a_column_the_profile_names_but_the_file_lacks_refuses_the_file(
        registry: Engine, tmp_path: Path) -> None:
    path = tmp_path / "no_status.csv"
    path.write_text("currency,rate_type,month,rate,published\nUSD,SP00,2024-01,1.09,2024-02-05\n",
                    encoding="utf-8")
    result = load(registry, path, profile=str(EXR_LONG_PROFILE))
    assert result.status == "aborted"
    assert "lacks the column(s) status" in (result.message or "")
    assert rows(registry, "SELECT count(*) FROM macro.observation") == [(0,)]


def test_a_file_with_more_keys_than_the_check_cache_holds_loads_the_same(
        registry: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks remember a bounded number of keys: one forgotten is checked again, and a
    duplicate of a row whose key was forgotten in between is still found."""
    currencies = ["USD", "JPY", "GBP", "CHF", "AUD"]
    good = [exr_row(f"2020-{m:02d}", f"1.{i}{m}", currency=c)
            for m in range(1, 7) for i, c in enumerate(currencies)]  # keys interleaved
    rejected = [exr_row("2020-07", "1,5", currency="JPY"), exr_row("2020-08", "1", freq="Q"),
                exr_row("2020-01", "9.9", currency="USD")]  # USD's key long forgotten
    path = write_sdmx_csv(tmp_path / "many.csv", [*good, *rejected])
    monkeypatch.setattr("loaders.macro.CHECK_CACHE", 2)
    result = load(registry, path, reject_threshold=None)
    assert result.status == "committed"
    assert result.inserted == len(good) - 1  # USD 2020-01 is a duplicate: both rows out
    assert result.rejected_by_reason == {"duplicate-observation": 2,
                                         "non-numeric-value": 1,
                                         "period-not-of-frequency": 1}
    assert "rows 2, 34" in {i.slug: i.message for i in result.issues}["duplicate-observation"]
    assert len(rows(registry, "SELECT * FROM macro.series")) == len(currencies)
    assert latest(registry, "ECB_EXR1", "M.GBP.EUR.SP00.A")["2020-06"] == 1.26


def test_values_python_and_postgresql_read_differently_load_as_numbers(
        registry: Engine, tmp_path: Path) -> None:
    path = write_sdmx_csv(tmp_path / "values.csv", [
        exr_row("2021-01", "1_000"), exr_row("2021-02", " 2.5 "), exr_row("2021-03", "1e-400"),
        exr_row("2021-04", "-3.25e2"), exr_row("2021-05", "")])
    result = load(registry, path)
    assert (result.status, result.inserted, result.rejected) == ("committed", 5, 0)
    assert latest(registry, "ECB_EXR1", "M.USD.EUR.SP00.A") == {
        "2021-01": 1000.0, "2021-02": 2.5, "2021-03": 0.0, "2021-04": -325.0, "2021-05": None}
