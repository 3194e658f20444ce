"""Generated cadastre end to end: every labelled defect caught for its reason, nothing else."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from fixtures.enterprise_generator import BASE_YEARS
from fixtures.land_generator import generate_land
from loaders.base import Options
from loaders.enterprise import load_enterprise
from loaders.land import load_land
from loaders.population import load_population
from mdr import db
from mdr.cli import app
from mdr.settings import Settings

EFFECTIVE = dt.date(2026, 6, 1)
CHANGES = dt.date(2026, 1, 1)
"""The effective date generate all writes the business register's changes for."""
BASE = CHANGES.replace(year=CHANGES.year - BASE_YEARS)


def test_generated_parcels_tile_communes_and_each_defect_is_caught_for_its_reason(
        clone_db: Callable[[str], str], ref_template: str, settings: Settings,
        tmp_path: Path) -> None:
    summary = generate_land(tmp_path, 1200, seed=3, defect_rate=0.05)
    assert set(summary.defects) == {"self-intersection", "overlap", "wrong-commune",
                                    "area-mismatch", "unknown-holder", "mortgage-without-right"}
    with (tmp_path / "land_defects.csv").open(encoding="utf-8") as handle:
        labelled = {(r["file"], int(r["row"]), r["expected_reason"])
                    for r in csv.DictReader(handle)}
    engine = db.make_engine(clone_db(ref_template), settings, role=db.Role.LOADER)
    try:
        options = Options(effective_date=EFFECTIVE, reject_threshold=None)
        assert load_population(engine, tmp_path / "persons.csv", options).rejected == 0
        found: set[tuple[str, int, str]] = set()
        for name in ("parcels.geojson", "rights.csv", "parcel_changes.geojson",
                     "right_changes.csv"):
            result = load_land(engine, tmp_path / name, options)
            assert result.status == "committed", result.message
            found |= {(name, i.row or 0, i.slug) for i in result.issues}
        # Nothing but the labelled defects: the plots tile their communes without overlaps
        # and lie inside them, and every holder exists.
        assert found == labelled
        with engine.connect() as conn:
            lineage = conn.execute(text(
                "SELECT count(*) FILTER (WHERE change_kind = 'split'), "
                "count(*) FILTER (WHERE change_kind = 'merge') FROM land.parcel_lineage")).one()
            communes = conn.execute(text(
                "SELECT count(DISTINCT commune_code) FROM land.parcel")).scalar_one()
        assert lineage[0] > 0 and lineage[1] > 0
        assert communes >= 3
    finally:
        engine.dispose()


def test_the_same_seed_writes_the_same_files(tmp_path: Path) -> None:
    generate_land(tmp_path / "a", 300, seed=11, defect_rate=0.05)
    generate_land(tmp_path / "b", 300, seed=11, defect_rate=0.05)
    for name in ("parcels.geojson", "rights.csv", "parcel_changes.geojson", "right_changes.csv",
                 "land_defects.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_generate_all_writes_the_persons_and_the_parcels_they_hold(tmp_path: Path) -> None:
    outcome = CliRunner().invoke(app, ["fixtures", "generate", "all", "--count", "400",
                                       "--seed", "2", "--out", str(tmp_path), "--json"])
    assert outcome.exit_code == 0, outcome.output
    summary = json.loads(outcome.stdout)
    assert list(summary["registries"]) == ["population", "enterprise", "land"]
    with (tmp_path / "persons.csv").open(encoding="utf-8") as handle:
        persons = {row["national_id"] for row in csv.DictReader(handle)}
    with (tmp_path / "enterprises.csv").open(encoding="utf-8") as handle:
        firms = {row["code"] for row in csv.DictReader(handle)}
    with (tmp_path / "rights.csv").open(encoding="utf-8") as handle:
        rights = list(csv.DictReader(handle))
    holders = {h for row in rights if row["holder_kind"] in ("person", "group")
               for h in ([row["holder_id"]] if row["holder_id"] else
                         [m.split(":")[0] for m in row["members"].split(";")])}
    assert holders and holders <= persons
    # Some parcels are held by enterprises of the register written beside.
    held_by_firms = {row["holder_id"] for row in rights if row["holder_kind"] == "enterprise"}
    assert held_by_firms and held_by_firms <= firms


def test_the_parcels_of_generate_all_load_with_their_enterprise_holders(
        clone_db: Callable[[str], str], ref_template: str, settings: Settings,
        tmp_path: Path) -> None:
    outcome = CliRunner().invoke(app, ["fixtures", "generate", "all", "--count", "400",
                                       "--seed", "5", "--out", str(tmp_path), "--json"])
    assert outcome.exit_code == 0, outcome.output
    engine = db.make_engine(clone_db(ref_template), settings, role=db.Role.LOADER)
    try:
        load = Options(effective_date=EFFECTIVE, reject_threshold=None)
        assert load_population(engine, tmp_path / "persons.csv", load).rejected == 0
        for name, day in (("enterprises.csv", BASE), ("enterprise_changes.csv", CHANGES)):
            firms = load_enterprise(engine, tmp_path / name, Options(day, reject_threshold=None))
            assert (firms.status, firms.rejected) == ("committed", 0)
        for name in ("parcels.geojson", "rights.csv", "parcel_changes.geojson",
                     "right_changes.csv"):
            result = load_land(engine, tmp_path / name, load)
            assert (result.status, result.issues) == ("committed", []), name
        with engine.connect() as conn:
            held = conn.execute(text(
                "SELECT count(*) FROM land.rrr r JOIN land.party p ON p.id = r.party_id "
                "JOIN enterprise.enterprise e ON e.code = p.enterprise_code "
                "WHERE r.superseded_at IS NULL")).scalar_one()
        assert held > 0
    finally:
        engine.dispose()
