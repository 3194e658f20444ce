"""`mdr load ref` is idempotent, serialised, recorded, and reports what it cannot map."""

import threading
from collections.abc import Callable

from sqlalchemy import text

from loaders.base import LoadResult, start_run
from loaders.reference import load_reference
from mdr import db
from mdr.settings import Settings


def test_second_load_changes_nothing(clone_db: Callable[[str], str], ref_template: str,
                                     settings: Settings) -> None:
    engine = db.make_engine(clone_db(ref_template), settings, role=db.Role.LOADER)
    try:
        with engine.connect() as conn:
            before = conn.execute(text("SELECT max(recorded_at) FROM ref.admin_unit")).scalar()
        result = load_reference(engine)
        with engine.connect() as conn:
            after = conn.execute(text("SELECT max(recorded_at) FROM ref.admin_unit")).scalar()
    finally:
        engine.dispose()
    assert result.status == "committed"
    assert (result.inserted, result.updated) == (0, 0)
    assert result.unchanged == result.read > 25_000
    assert before == after


def test_problems_in_the_sources_are_reported_not_guessed(
        clone_db: Callable[[str], str], migrated_template: str, settings: Settings) -> None:
    engine = db.make_engine(clone_db(migrated_template), settings, role=db.Role.LOADER)
    try:
        result = load_reference(engine)
        with engine.connect() as conn:
            stored: dict[str, int] = {reason: n for reason, n in conn.execute(text(
                "SELECT reason, count(*) FROM etl.rejected_row WHERE run_id = :id GROUP BY 1"),
                {"id": result.run_id})}
            run = conn.execute(text("SELECT status, read, inserted, rejected FROM etl.load_run "
                                    "WHERE id = :id"), {"id": result.run_id}).one()
    finally:
        engine.dispose()
    # The crosswalk names codes that are in neither unit list: those pairs are not loaded.
    assert result.rejected_by_reason["unknown-admin-unit"] > 0
    # Old communes the crosswalk does not map are listed for a steward.
    assert result.flagged_by_reason["unmapped-unit"] > 0
    assert stored == {**result.rejected_by_reason, **result.flagged_by_reason}
    assert tuple(run) == ("committed", result.read, result.inserted, result.rejected)


def test_concurrent_loads_are_serialised(clone_db: Callable[[str], str], migrated_template: str,
                                         settings: Settings) -> None:
    url = clone_db(migrated_template)
    results: list[LoadResult] = []
    errors: list[BaseException] = []

    def run() -> None:
        engine = db.make_engine(url, settings, role=db.Role.LOADER)
        try:
            results.append(load_reference(engine))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    first, second = sorted(results, key=lambda r: r.inserted, reverse=True)
    # One load inserted everything; the other waited for it and found nothing to do.
    assert first.inserted == first.read
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, second.read)


def test_a_killed_load_is_marked_failed_by_the_next(
        clone_db: Callable[[str], str], ref_template: str, settings: Settings) -> None:
    engine = db.make_engine(clone_db(ref_template), settings, role=db.Role.LOADER)
    try:
        # A load that recorded its start and then died (no finish, no commit).
        dead = start_run(engine, "ref", "killed-load")
        load_reference(engine)
        with engine.connect() as conn:
            status, message = conn.execute(text(
                "SELECT status, message FROM etl.load_run WHERE id = :id"), {"id": dead}).one()
    finally:
        engine.dispose()
    assert status == "failed"
    assert "killed" in message
