"""Generated national data through the whole pipeline: generate → load → events → quality."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import signal
import subprocess
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from fixtures.generator import generate_population
from loaders.base import Options
from loaders.population import load_population
from mdr import db
from mdr.cli import app
from mdr.settings import PROJECT_ROOT, Settings

EFFECTIVE = dt.date(2026, 1, 1)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    generate_population(out, 3000, seed=7, defect_rate=0.05, effective_date=EFFECTIVE)
    return out


@pytest.fixture
def registry(clone_db: Callable[[str], str], ref_template: str,
             settings: Settings) -> Iterator[tuple[str, Engine]]:
    url = clone_db(ref_template)
    engine = db.make_engine(url, settings, role=db.Role.LOADER)
    yield url, engine
    engine.dispose()


def labelled(generated: Path, file: str) -> dict[int, str]:
    with (generated / "defects.csv").open(encoding="utf-8") as handle:
        return {int(r["row"]): r["expected_reason"] for r in csv.DictReader(handle)
                if r["file"] == file}


def test_every_labelled_defect_is_rejected_for_its_reason_and_nothing_else(
        generated: Path, registry: tuple[str, Engine]) -> None:
    _, engine = registry
    result = load_population(engine, generated / "persons.csv", Options(EFFECTIVE))
    assert result.status == "committed"
    expected = {row: reason for row, reason in labelled(generated, "persons.csv").items()
                if reason != "normalised"}
    assert len(expected) > 100
    got = {issue.row: issue.slug for issue in result.issues}
    assert got == expected
    assert result.inserted == result.read - len(expected)

    # Rows that only needed normalising were accepted and stored in NFC.
    with engine.connect() as conn:
        names = conn.execute(text("SELECT full_name FROM population.person_name")).scalars()
        assert all(unicodedata.is_normalized("NFC", n) for n in names)

    again = load_population(engine, generated / "persons.csv", Options(EFFECTIVE))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, result.inserted)


def test_events_load_on_top_and_quality_passes(generated: Path,
                                                registry: tuple[str, Engine]) -> None:
    url, engine = registry
    load_population(engine, generated / "persons.csv", Options(EFFECTIVE))
    events = load_population(engine, generated / "events.csv", Options(EFFECTIVE))
    assert events.status == "committed"
    # Events of persons whose snapshot row was rejected cannot be applied; nothing else fails.
    assert set(events.rejected_by_reason) <= {"unknown-person", "unknown-related-person"}
    again = load_population(engine, generated / "events.csv", Options(EFFECTIVE))
    assert (again.inserted, again.updated) == (0, 0)

    result = CliRunner().invoke(app, ["quality", "run", "population", "--as-of",
                                      str(EFFECTIVE), "--json"],
                                env={"MDR_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["registries"]["population"]["failed"] == 0


def test_quality_fails_naming_the_rule_when_bad_data_is_written_directly(
        generated: Path, registry: tuple[str, Engine]) -> None:
    url, engine = registry
    load_population(engine, generated / "persons.csv", Options(EFFECTIVE))
    with engine.begin() as conn:  # as an old system or a manual fix would leave it
        conn.execute(text("""
            INSERT INTO population.life_event (national_id, event_type, event_date)
            SELECT national_id, 'death', DATE '2025-12-01' FROM population.person
            WHERE status = 'alive' LIMIT 1"""))
    result = CliRunner().invoke(app, ["quality", "run", "population", "--as-of",
                                      str(EFFECTIVE), "--json"],
                                env={"MDR_DATABASE_URL": url})
    assert result.exit_code == 1
    summary = json.loads(result.stdout)["registries"]["population"]
    assert summary["failed_rules"] == ["no-death-event-while-alive"]


def test_a_killed_load_leaves_the_registry_as_it_was(
        tmp_path: Path, registry: tuple[str, Engine]) -> None:
    url, engine = registry
    generate_population(tmp_path, 40_000, seed=8, effective_date=EFFECTIVE)
    process = subprocess.Popen(
        [str(PROJECT_ROOT / ".venv" / "bin" / "mdr"), "load", "population",
         str(tmp_path / "persons.csv"), "--effective-date", str(EFFECTIVE)],
        env={**os.environ, "MDR_DATABASE_URL": url},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    with engine.connect() as conn:
        # Wait until the load is inside its transaction, then kill it outright.
        while time.monotonic() < deadline:
            running = conn.execute(text(
                "SELECT count(*) FROM etl.load_run WHERE status = 'running'")).scalar()
            conn.rollback()
            if running:
                break
            time.sleep(0.05)
    time.sleep(1.0)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    with engine.connect() as conn:
        # PostgreSQL notices the lost client and rolls its transaction back.
        for _ in range(100):
            busy = conn.execute(text("""SELECT count(*) FROM pg_stat_activity
                                        WHERE usename = 'mdr_loader' AND state <> 'idle'
                                          AND pid <> pg_backend_pid()""")).scalar()
            conn.rollback()
            if not busy:
                break
            time.sleep(0.1)
        assert conn.execute(text("SELECT count(*) FROM population.person")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM population.residence")).scalar() == 0
    # The next load finds the dead run and marks it failed.
    small = tmp_path / "small"
    generate_population(small, 10, seed=9, effective_date=EFFECTIVE)
    load_population(engine, small / "persons.csv", Options(EFFECTIVE))
    with engine.connect() as conn:
        statuses = conn.execute(text("SELECT status FROM etl.load_run "
                                     "WHERE registry = 'population' ORDER BY id")).scalars()
        assert list(statuses) == ["failed", "committed"]
