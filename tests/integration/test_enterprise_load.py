"""`mdr load enterprise`: labelled defects rejected for their reason, history, idempotence."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from fixtures.enterprise_generator import BASE_YEARS, DEFECT_KINDS, generate_enterprises
from loaders.base import LoadResult, Options
from loaders.enterprise import load_enterprise
from loaders.population import load_population
from loaders.sources.enterprise_layout import CHANGE_FIELDS, SNAPSHOT_FIELDS
from mdr import db
from mdr.settings import Settings
from tests.factories import write_csv
from tests.factories.enterprise import ACME, COMPANIES, HOLDING, SHOP, branch, change, enterprise
from tests.factories.population import POPULATION_FAMILY

EFFECTIVE = dt.date(2026, 1, 1)
BASE = EFFECTIVE.replace(year=EFFECTIVE.year - BASE_YEARS)
TABLES = ("enterprise", "enterprise_name", "enterprise_form", "enterprise_status",
          "head_office", "charter_capital", "business_line", "legal_representative",
          "ownership", "dependent_unit", "dependent_unit_office")


@pytest.fixture
def registry(clone_db: Callable[[str], str], ref_template: str,
             settings: Settings) -> Iterator[Engine]:
    engine = db.make_engine(clone_db(ref_template), settings, role=db.Role.LOADER)
    yield engine
    engine.dispose()


@pytest.fixture
def family(registry: Engine, tmp_path: Path) -> Engine:
    """The registry with the population sample (a couple, their son, a man who died
    on 2026-03-01)."""
    POPULATION_FAMILY(registry, tmp_path)
    return registry


def load(engine: Engine, path: Path, effective: dt.date, **options: Any) -> LoadResult:
    return load_enterprise(engine, path, Options(effective_date=effective, **options))


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def fingerprint(engine: Engine) -> list[Any]:
    """Every row of the registry with its record time: any change shows."""
    return [rows(engine, f"SELECT * FROM enterprise.{t} ORDER BY 1") for t in TABLES]


def labels(folder: Path, file: str) -> set[tuple[int, str]]:
    with (folder / "enterprise_defects.csv").open(encoding="utf-8", newline="") as handle:
        return {(int(r["row"]), r["expected_reason"]) for r in csv.DictReader(handle)
                if r["file"] == file}


def test_every_labelled_defect_is_rejected_for_its_reason_and_no_clean_row_is(
        registry: Engine, tmp_path: Path) -> None:
    generate_enterprises(tmp_path, 250, seed=11, defect_rate=0.12, effective_date=EFFECTIVE)
    people = load_population(registry, tmp_path / "persons.csv", Options(EFFECTIVE))
    assert people.status == "committed" and people.rejected == 0
    for file, day in (("enterprises.csv", BASE), ("enterprise_changes.csv", EFFECTIVE)):
        result = load(registry, tmp_path / file, day)
        assert result.status == "committed"
        assert {(i.row, i.slug) for i in result.issues} == labels(tmp_path, file)
        assert result.inserted + result.updated > 30
        # A second run of the same file changes nothing.
        before = fingerprint(registry)
        again = load(registry, tmp_path / file, day)
        assert (again.inserted, again.updated) == (0, 0)
        assert again.rejected_by_reason == result.rejected_by_reason
        assert fingerprint(registry) == before
    kinds = {slug for file in ("enterprises.csv", "enterprise_changes.csv")
             for _, slug in labels(tmp_path, file)}
    assert kinds == set(DEFECT_KINDS)
    # Every enterprise loaded has its main line.
    assert rows(registry, "SELECT count(*) FROM enterprise.enterprise e WHERE NOT EXISTS "
                "(SELECT 1 FROM enterprise.business_line l WHERE l.enterprise_code = e.code "
                "AND l.is_main)") == [(0,)]


def test_a_change_of_representative_is_history_and_the_old_one_answers_for_before(
        family: Engine, tmp_path: Path) -> None:
    load(family, write_csv(tmp_path / "e.csv", SNAPSHOT_FIELDS, COMPANIES), dt.date(2026, 1, 10))
    moved = change("2026-02-01", ACME, owners=f"{HOLDING}:100",
                   representatives="001182000002:general_director")
    result = load(family, write_csv(tmp_path / "c.csv", CHANGE_FIELDS, [moved]),
                  dt.date(2026, 2, 1))
    assert (result.status, result.updated, result.rejected) == ("committed", 1, 0)
    on = ("SELECT national_id, title FROM enterprise.legal_representative r "
          "WHERE r.enterprise_code = :c AND r.superseded_at IS NULL AND r.valid_from <= :d "
          "AND (r.valid_to IS NULL OR r.valid_to > :d)")
    assert rows(family, on, c=ACME, d=dt.date(2026, 1, 31)) == [("001080000001", "director")]
    assert rows(family, on, c=ACME, d=dt.date(2026, 2, 1)) == [
        ("001182000002", "general_director")]
    assert rows(family, on, c=ACME, d=dt.date(2015, 3, 2)) == [("001080000001", "director")]
    # What the husband represented in 2015-2026, and what the holding owns today.
    assert rows(family, "SELECT enterprise_code FROM enterprise.legal_representative "
                "WHERE national_id = '001080000001' AND superseded_at IS NULL "
                "AND valid_from < '2027-01-01' AND coalesce(valid_to, 'infinity') > "
                "'2015-01-01'") == [(ACME,)]
    assert rows(family, "SELECT enterprise_code, share FROM enterprise.ownership "
                "WHERE owner_enterprise_code = :h AND superseded_at IS NULL "
                "AND valid_to IS NULL", h=HOLDING) == [(ACME, 100)]
    # The head office was in Trúc Bạch until 2025-07-01, then in Ba Đình, which took over
    # the code 00004.
    offices = rows(family, "SELECT u.name, h.valid_from, h.valid_to FROM "
                   "enterprise.head_office h JOIN ref.admin_unit u ON u.id = h.unit_id "
                   "WHERE h.enterprise_code = :c ORDER BY h.valid_from", c=ACME)
    assert [o[1:] for o in offices] == [(dt.date(2015, 3, 2), dt.date(2025, 7, 1)),
                                        (dt.date(2025, 7, 1), None)]
    assert (offices[0][0], offices[1][0]) == ("Trúc Bạch", "Ba Đình")
    # Loading the change again changes nothing.
    again = load(family, tmp_path / "c.csv", dt.date(2026, 2, 1))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1)


@pytest.mark.parametrize(("row", "reason", "number"), [
    (enterprise(SHOP, representatives="001080099999:director", owners=""),
     "unknown-representative", "001080099999"),
    (enterprise(SHOP, representatives="001210000003:director", owners=""),
     "representative-minor", "001210000003"),
    (enterprise(SHOP, owners="001080000001:50;001080099998:50"), "unknown-owner",
     "001080099998"),
    (enterprise(SHOP, owners="001080000001:70;001182000002:40"), "shares-over-100", None),
])
def test_a_rejection_for_a_person_names_the_number(
        family: Engine, tmp_path: Path, row: dict[str, str], reason: str,
        number: str | None) -> None:
    result = load(family, write_csv(tmp_path / "e.csv", SNAPSHOT_FIELDS, [*COMPANIES, row]),
                  dt.date(2026, 1, 10), reject_threshold=1.0)
    assert result.status == "committed"
    assert [(i.row, i.slug) for i in result.issues] == [(len(COMPANIES) + 1, reason)]
    if number:
        assert number in result.issues[0].message
    assert rows(family, "SELECT count(*) FROM enterprise.enterprise") == [(2,)]


def test_a_representative_who_died_before_the_change_is_refused(
        family: Engine, tmp_path: Path) -> None:
    load(family, write_csv(tmp_path / "e.csv", SNAPSHOT_FIELDS, COMPANIES), dt.date(2026, 1, 10))
    late = change("2026-04-01", ACME, owners=f"{HOLDING}:100",
                  representatives="001080000004:director")
    result = load(family, write_csv(tmp_path / "c.csv", CHANGE_FIELDS, [late]),
                  dt.date(2026, 4, 1))
    assert [i.slug for i in result.issues] == ["representative-deceased"]
    assert "001080000004" in result.issues[0].message
    assert "2026-03-01" in result.issues[0].message


def test_a_file_mostly_wrong_leaves_the_registry_untouched(
        family: Engine, tmp_path: Path) -> None:
    bad = [enterprise(SHOP[:9] + str((int(SHOP[9]) + 1) % 10)), *COMPANIES[:1],
           enterprise(ACME, main_line="4610;4620")]
    result = load(family, write_csv(tmp_path / "e.csv", SNAPSHOT_FIELDS, bad),
                  dt.date(2026, 1, 10))
    assert result.status == "aborted"
    assert result.rejected_by_reason == {"invalid-check-digit": 1, "two-main-lines": 1}
    assert rows(family, "SELECT count(*) FROM enterprise.enterprise") == [(0,)]


def test_a_json_lines_file_loads_like_its_csv(family: Engine, tmp_path: Path) -> None:
    path = tmp_path / "enterprises.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in COMPANIES),
                    encoding="utf-8")
    result = load(family, path, dt.date(2026, 1, 10))
    assert (result.status, result.inserted, result.rejected) == ("committed", 3, 0)
    assert rows(family, "SELECT enterprise_code, share FROM enterprise.ownership "
                "WHERE owner_enterprise_code = :h", h=HOLDING) == [(ACME, 100)]


def test_change_rows_repeating_the_head_office_and_status_dates_load_as_no_change(
        family: Engine, tmp_path: Path) -> None:
    load(family, write_csv(tmp_path / "e.csv", SNAPSHOT_FIELDS, COMPANIES), dt.date(2026, 1, 10))
    # Each row restates the office from 2015-03-02 and the suspension from 2026-01-20.
    same = {"owners": f"{HOLDING}:100", "status": "suspended", "status_since": "2026-01-20"}
    renamed = [change("2026-02-01", ACME, name="Công ty TNHH An Phú Mới", **same),
               change("2026-03-01", ACME, name="Công ty TNHH An Phú Hà Nội", **same)]
    result = load(family, write_csv(tmp_path / "c.csv", CHANGE_FIELDS, renamed),
                  dt.date(2026, 3, 1))
    assert (result.status, result.updated, result.rejected) == ("committed", 1, 0)
    assert [r[1:] for r in rows(
        family, "SELECT u.name, h.valid_from, h.valid_to FROM enterprise.head_office h "
        "JOIN ref.admin_unit u ON u.id = h.unit_id WHERE h.enterprise_code = :c "
        "AND h.superseded_at IS NULL ORDER BY h.valid_from", c=ACME)] == [
        (dt.date(2015, 3, 2), dt.date(2025, 7, 1)), (dt.date(2025, 7, 1), None)]
    assert rows(family, "SELECT status, valid_from, valid_to FROM enterprise.enterprise_status "
                "WHERE enterprise_code = :c AND superseded_at IS NULL ORDER BY valid_from",
                c=ACME) == [("active", dt.date(2015, 3, 2), dt.date(2026, 1, 20)),
                            ("suspended", dt.date(2026, 1, 20), None)]
    assert [n for (n,) in rows(family, "SELECT name FROM enterprise.enterprise_name "
                               "WHERE enterprise_code = :c AND superseded_at IS NULL "
                               "ORDER BY valid_from", c=ACME)] == [
        "Công ty TNHH Thương mại An Phú", "Công ty TNHH An Phú Mới", "Công ty TNHH An Phú Hà Nội"]
    again = load(family, tmp_path / "c.csv", dt.date(2026, 3, 1))
    assert (again.status, again.updated, again.unchanged) == ("committed", 0, 1)


@pytest.mark.parametrize(("back", "fact", "began"), [
    ({"address": "12 Phố Hàng Bông", "address_since": "2026-01-01"}, "head office",
     "2026-01-15"),
    ({"status": "dissolving", "status_since": "2026-01-18"}, "status", "2026-01-20"),
])
def test_a_change_row_dated_before_the_registrys_period_is_refused_and_history_kept(
        family: Engine, tmp_path: Path, back: dict[str, str], fact: str, began: str) -> None:
    load(family, write_csv(tmp_path / "e.csv", SNAPSHOT_FIELDS, COMPANIES), dt.date(2026, 1, 10))
    # The office moved on 2026-01-15 and the company was suspended on 2026-01-20.
    moved = change("2026-02-01", ACME, owners=f"{HOLDING}:100", address="8 Phố Huế",
                   address_since="2026-01-15", status="suspended", status_since="2026-01-20")
    assert load(family, write_csv(tmp_path / "c1.csv", CHANGE_FIELDS, [moved]),
                dt.date(2026, 2, 1)).updated == 1
    before = fingerprint(family)
    late = {**moved, **back, "change_date": "2026-03-01"}
    result = load(family, write_csv(tmp_path / "c2.csv", CHANGE_FIELDS, [late]),
                  dt.date(2026, 3, 1), reject_threshold=1.0)
    assert [(i.row, i.slug) for i in result.issues] == [(1, "back-dated-change")]
    message = result.issues[0].message
    assert ACME in message and fact in message and began in message
    assert fingerprint(family) == before
    # Dated within the registry's period, the same change is history.
    within = {**late, "address_since": "2026-02-20" if fact == "head office" else "",
              "status_since": "2026-02-20" if fact == "status" else "2026-01-20"}
    result = load(family, write_csv(tmp_path / "c3.csv", CHANGE_FIELDS, [within]),
                  dt.date(2026, 3, 1))
    assert (result.status, result.updated, result.issues) == ("committed", 1, [])


def test_a_snapshot_renaming_a_branch_dates_the_new_name_from_its_own_day(
        family: Engine, tmp_path: Path) -> None:
    load(family, write_csv(tmp_path / "e.csv", SNAPSHOT_FIELDS, COMPANIES), dt.date(2026, 1, 10))
    # The branch keeps its office (and says since when); only its name changes.
    renamed = branch(f"{ACME}-001", name="Chi nhánh An Phú Hà Nội", address_since="2026-01-05")
    result = load(family, write_csv(tmp_path / "s.csv", SNAPSHOT_FIELDS, [renamed]),
                  dt.date(2026, 3, 1))
    assert (result.status, result.updated, result.issues) == ("committed", 1, [])
    assert rows(family, "SELECT name, address_line, valid_from, valid_to "
                "FROM enterprise.dependent_unit_office WHERE superseded_at IS NULL "
                "ORDER BY valid_from") == [
        ("Chi nhánh An Phú Hoàn Kiếm", "8 Phố Huế", dt.date(2026, 1, 5), dt.date(2026, 3, 1)),
        ("Chi nhánh An Phú Hà Nội", "8 Phố Huế", dt.date(2026, 3, 1), None)]
    again = load(family, tmp_path / "s.csv", dt.date(2026, 3, 1))
    assert (again.updated, again.unchanged) == (0, 1)


@pytest.mark.parametrize(("moved", "fact"), [
    ({"address": "8 Phố Huế", "address_since": "2026-01-15"}, "head office"),
    ({"status": "active", "status_since": "2026-01-25"}, "status"),
])
def test_a_change_dated_into_an_earlier_rows_period_is_refused_naming_both_days(
        family: Engine, tmp_path: Path, moved: dict[str, str], fact: str) -> None:
    load(family, write_csv(tmp_path / "e.csv", SNAPSHOT_FIELDS, COMPANIES), dt.date(2026, 1, 10))
    first = change("2026-02-01", ACME, owners=f"{HOLDING}:100", status="suspended",
                   status_since="2026-01-20")
    late = {**first, **moved, "change_date": "2026-03-01"}
    result = load(family, write_csv(tmp_path / "c.csv", CHANGE_FIELDS, [first, late]),
                  dt.date(2026, 3, 1), reject_threshold=1.0)
    assert result.status == "committed"
    assert [(i.row, i.slug) for i in result.issues] == [(2, "conflicting-period")]
    message = result.issues[0].message
    assert ACME in message and fact in message
    assert moved.get("address_since", moved.get("status_since", "")) in message
    assert "2026-02-01" in message
    assert rows(family, "SELECT status FROM enterprise.enterprise_status WHERE "
                "enterprise_code = :c AND superseded_at IS NULL AND valid_to IS NULL",
                c=ACME) == [("suspended",)]
