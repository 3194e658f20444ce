"""`mdr load population --bulk`: the same registry as an ordinary load, atomic when killed,
run by the loader without the right to alter the registry's tables."""

from __future__ import annotations

import csv
import datetime as dt
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from fixtures.generator import generate_population
from loaders.base import LoadResult, Options
from loaders.population import load_population
from loaders.sources.population_layout import SNAPSHOT_FIELDS
from mdr import db
from mdr.settings import PROJECT_ROOT, Settings
from tests.factories import write_csv
from tests.factories.population import FAMILY
from tests.integration.test_population_load import BAD

EFFECTIVE = dt.date(2026, 1, 1)
TABLES = ("person", "person_name", "residence", "household", "household_member",
          "family_link", "life_event")


@pytest.fixture
def databases(clone_db: Callable[[str], str], ref_template: str,
              settings: Settings) -> Iterator[Callable[[db.Role], tuple[str, Engine]]]:
    """Fresh registries: (url, engine as the given role)."""
    made: list[Engine] = []

    def make(role: db.Role) -> tuple[str, Engine]:
        url = clone_db(ref_template)
        made.append(db.make_engine(url, settings, role=role))
        return url, made[-1]

    yield make
    for engine in made:
        engine.dispose()


@pytest.fixture(scope="module")
def population_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("population")
    generate_population(out, 1500, seed=5, effective_date=EFFECTIVE)
    return out


def load(engine: Engine, path: Path, **options: Any) -> LoadResult:
    return load_population(engine, path, Options(effective_date=EFFECTIVE, **options))


def registry_rows(engine: Engine, row_ids: bool = True) -> dict[str, list[Any]]:
    """Every row of the registry, without the times and runs that record when it loaded
    (and without the rows' own serial ids unless ``row_ids``: they number rows in the order
    a statement wrote them, which says nothing about a person)."""
    found: dict[str, list[Any]] = {}
    with engine.connect() as conn:
        for table in TABLES:
            dropped = conn.execute(text(
                "SELECT coalesce(array_agg(column_name::text), '{}') "
                "FROM information_schema.columns WHERE table_schema = 'population' "
                "AND table_name = :t AND (data_type LIKE 'timestamp%' "
                "OR column_name = 'load_run_id' OR (column_name = 'id' AND NOT :ids))"),
                {"t": table, "ids": row_ids}).scalar_one()
            found[table] = sorted(conn.execute(text(
                f"SELECT (to_jsonb(t) - CAST(:d AS text[]))::text FROM population.{table} t"),
                {"d": dropped}).scalars())
    return found


def constraints(engine: Engine) -> set[tuple[str, str]]:
    """The registry's constraints and indexes, as their definitions."""
    with engine.connect() as conn:
        return {(r[0], r[1]) for r in conn.execute(text("""
            SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint
            WHERE connamespace = 'population'::regnamespace
            UNION ALL
            SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'population'"""))}


def test_bulk_and_ordinary_loads_leave_identical_registries(
        databases: Callable[[db.Role], tuple[str, Engine]], population_files: Path) -> None:
    _, ordinary = databases(db.Role.LOADER)
    _, bulk = databases(db.Role.LOADER)
    for engine, as_bulk in ((ordinary, False), (bulk, True)):
        first = load(engine, population_files / "persons.csv", bulk=as_bulk)
        assert first.status == "committed" and first.inserted == 1500
        assert first.details.get("bulk", False) is as_bulk
        events = load(engine, population_files / "events.csv", kind="events")
        assert events.status == "committed" and events.rejected == 0
    assert registry_rows(bulk) == registry_rows(ordinary)
    assert registry_rows(bulk)["residence"]
    assert constraints(bulk) == constraints(ordinary)


def test_an_empty_registry_is_loaded_in_bulk(
        databases: Callable[[db.Role], tuple[str, Engine]], population_files: Path) -> None:
    _, loader = databases(db.Role.LOADER)
    assert load(loader, population_files / "persons.csv").details.get("bulk") is True
    # Not empty any more: the next snapshot is merged the ordinary way.
    assert "bulk" not in load(loader, population_files / "persons.csv").details


def test_the_loader_cannot_commit_with_constraints_set_aside(
        databases: Callable[[db.Role], tuple[str, Engine]]) -> None:
    _, loader = databases(db.Role.LOADER)
    before = constraints(loader)
    with pytest.raises(DBAPIError, match="was set aside and not restored"), \
            loader.begin() as conn:
        conn.execute(text("SELECT etl.set_aside_constraints("
                          "ARRAY['population.residence']::regclass[])"))
    assert constraints(loader) == before
    # Nor set aside the constraints of a table outside the registries.
    with pytest.raises(DBAPIError, match=r"etl\.load_run is not a table of a registry"), \
            loader.begin() as conn:
        conn.execute(text("SELECT etl.set_aside_constraints(ARRAY['etl.load_run']::regclass[])"))
    # The loader may not alter a registry table itself.
    with pytest.raises(DBAPIError, match="must be owner"), loader.begin() as conn:
        conn.execute(text("ALTER TABLE population.residence DROP CONSTRAINT ex_residence_period"))


def test_a_bulk_load_rejects_a_defect_for_the_same_reason(
        databases: Callable[[db.Role], tuple[str, Engine]], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", SNAPSHOT_FIELDS, FAMILY + [row for row, _ in BAD])
    _, ordinary = databases(db.Role.LOADER)
    _, bulk = databases(db.Role.LOADER)
    # The bulk side validates its rows in two worker processes.
    results = [load(ordinary, path, reject_threshold=1.0),
               load(bulk, path, reject_threshold=1.0, bulk=True, workers=2)]
    reasons = [{i.row: i.slug for i in r.issues} for r in results]
    assert reasons[0] == reasons[1]
    assert sorted(reasons[1].values()) == sorted(slug for _, slug in BAD)
    assert [r.inserted for r in results] == [len(FAMILY), len(FAMILY)]
    assert registry_rows(bulk) == registry_rows(ordinary)


def test_a_killed_bulk_load_leaves_the_registry_as_it_was(
        databases: Callable[[db.Role], tuple[str, Engine]], population_files: Path,
        tmp_path: Path) -> None:
    url, loader = databases(db.Role.LOADER)
    assert load(loader, write_csv(tmp_path / "p.csv", SNAPSHOT_FIELDS, FAMILY),
                bulk=False).status == "committed"
    before_rows, before_constraints = registry_rows(loader), constraints(loader)
    loading = subprocess.Popen(
        [str(PROJECT_ROOT / ".venv" / "bin" / "mdr"), "load", "population",
         str(population_files / "persons.csv"), "--bulk", "--effective-date", "2026-01-01"],
        env={**os.environ, "MDR_DATABASE_URL": url}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        # The bulk work has begun once the load holds a registry table exclusively.
        deadline = time.monotonic() + 300
        while not _altering(loader):
            assert loading.poll() is None, "the load ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        loading.send_signal(signal.SIGKILL)
        loading.wait()
    finally:
        if loading.poll() is None:
            loading.kill()
    # Its server session rolls back when it notices; the registry lock says when.
    with loader.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('mdr.load.population'))"))
    assert registry_rows(loader) == before_rows
    assert constraints(loader) == before_constraints
    # Safe to run again: the next load closes the killed run and commits.
    again = load(loader, population_files / "persons.csv", bulk=True)
    assert again.status == "committed" and again.inserted == 1500
    assert constraints(loader) == before_constraints
    with loader.connect() as conn:
        statuses = conn.execute(text("SELECT status FROM etl.load_run "
                                     "WHERE registry = 'population' ORDER BY id")).scalars()
        assert list(statuses) == ["committed", "failed", "committed"]


def _altering(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("""
            SELECT EXISTS (SELECT 1 FROM pg_locks l
                           WHERE l.mode = 'AccessExclusiveLock' AND l.granted
                             AND l.relation = 'population.residence'::regclass
                             AND l.pid <> pg_backend_pid())""")).scalar_one())


def _by_province(persons: Path, folder: Path) -> tuple[Path, Path, Path, int]:
    """Three snapshots of the generated persons: the other provinces; the province with
    the most households (its two-digit code starts the household numbers) alone; and that
    province with one person of the others, unchanged (a file not all new to the
    registry). Persons with a relative across the border are left out, and that one
    person has no household, so both ways of loading the province add the same rows.
    Returns the paths and the number of the province's persons."""
    with persons.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    province = Counter(r["household_id"][2:4] for r in rows if r["household_id"]) \
        .most_common(1)[0][0]

    def inside(row: dict[str, str]) -> bool:
        return row["household_id"][2:4] == province

    while True:  # drop persons whose relatives are across the border, until none are
        sides = {r["national_id"]: inside(r) for r in rows}
        kept = [r for r in rows
                if all(sides.get(r[k], not inside(r)) == inside(r)
                       for k in ("father_id", "mother_id", "spouse_id") if r[k])]
        if len(kept) == len(rows):
            break
        rows = kept
    others = [r for r in rows if not inside(r)]
    alone = [r for r in rows if inside(r)]
    anchor = next(r for r in others if r["relation_to_head"] != "head")
    anchor.update(household_id="", relation_to_head="")
    return (write_csv(folder / "others.csv", SNAPSHOT_FIELDS, others),
            write_csv(folder / "province.csv", SNAPSHOT_FIELDS, alone),
            write_csv(folder / "province_and_one.csv", SNAPSHOT_FIELDS, [*alone, anchor]),
            len(alone))


def test_a_province_with_no_persons_yet_is_merged_as_new_with_the_same_result(
        databases: Callable[[db.Role], tuple[str, Engine]], population_files: Path,
        tmp_path: Path) -> None:
    others, province, with_one, count = _by_province(population_files / "persons.csv",
                                                     tmp_path)
    _, as_new = databases(db.Role.LOADER)
    _, compared = databases(db.Role.LOADER)
    for engine in (as_new, compared):
        assert load(engine, others).status == "committed"
    # The province's persons are all new: no history to compare, inserted as they are.
    fast = load(as_new, province)
    assert fast.details.get("all_new") is True and "bulk" not in fast.details
    # With one known person in the file, every person's history is compared.
    slow = load(compared, with_one)
    assert "all_new" not in slow.details
    assert (fast.status, fast.inserted, fast.rejected) == ("committed", count, 0)
    assert (slow.status, slow.inserted, slow.unchanged, slow.rejected) == (
        "committed", count, 1, 0)
    assert count > 100
    assert registry_rows(as_new, row_ids=False) == registry_rows(compared, row_ids=False)
    # And the province's later events land alike on both.
    for engine in (as_new, compared):
        assert load(engine, population_files / "events.csv", kind="events",
                    reject_threshold=1.0).status == "committed"
    assert registry_rows(as_new, row_ids=False) == registry_rows(compared, row_ids=False)
