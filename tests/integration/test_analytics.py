"""The analytics schema: persons under pseudonyms, the first aggregates, and an analyst role
that reads that and nothing else, and cannot reverse a pseudonym."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command as alembic_command
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, ProgrammingError
from typer.testing import CliRunner

from fixtures.generator import generate_population
from loaders.base import Options
from loaders.land import load_land
from loaders.population import load_population
from loaders.sources.land_layout import RIGHT_FIELDS
from loaders.sources.population_layout import EVENT_FIELDS, SNAPSHOT_FIELDS
from mdr import analytics, db
from mdr.cli import app as cli
from mdr.cluster import LocalCluster
from mdr.settings import Settings
from migrations.analytics_views import SMALL_CELL, population_by_commune, redefine
from tests.api.support import DEFAULT_SEEDS, populated_database
from tests.conftest import drop_database
from tests.factories import write_csv
from tests.factories.enterprise import HOA_SEN, SEN_VANG
from tests.factories.land import (
    LAND_SAMPLE,
    PARCEL_SIZE,
    commune_corner,
    parcel,
    right,
    square,
    write_parcels,
)
from tests.factories.population import FAMILY, HANOI_WARD, event, person

BA_DINH = "00004"  # Phường Ba Đình since 2025-07-01
NEIGHBOURS = [person(f"0010800001{n:02}", given_name=name, household_id=f"HH-N{n}",
                     birth_date=f"1980-0{n}-01")
              for n, name in enumerate(("Lân", "Phúc", "Quang", "Sơn", "Tùng",
                                        "Vinh")[:SMALL_CELL], start=1)]
"""Men born in 1980 in the family's ward: with its father, a cell of more than enough."""
ELDERS = [person(f"0010300002{n:02}", given_name=name, household_id=f"HH-E{n}",
                 birth_date="1930-02-01", commune_code=BA_DINH)
          for n, name in ((1, "Thọ"), (2, "Khang"))]
"""Two men aged 95 in Ba Đình: a cell that would point at them."""

REGISTRY_SCHEMAS = ("ref", "population", "enterprise", "land", "macro", "etl", "audit")


def _enterprise_parcel(loader: Engine, folder: Path) -> None:
    """Parcel 9 of the land sample's row, held by Hoa Sen since 2026-01-01."""
    x, y = commune_corner(loader, HANOI_WARD)
    day = Options(dt.date(2026, 6, 1))
    load_land(loader, write_parcels(folder / "firm_parcel.geojson",
                                    [parcel(HANOI_WARD, "9", square(x + 9 * PARCEL_SIZE * 1.5,
                                                                    y))]), day)
    load_land(loader, write_csv(folder / "firm_right.csv", RIGHT_FIELDS,
                                [right("E9", HANOI_WARD, "9", HOA_SEN,
                                       holder_kind="enterprise")]), day)


@pytest.fixture(scope="module")
def key_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose pseudonym key file is this module's own."""
    folder = tmp_path_factory.mktemp("secrets")
    return Settings.from_env({"MDR_PSEUDONYM_KEY_FILE": str(folder / "pseudonym.key")})


@pytest.fixture(scope="module")
def database(cluster: LocalCluster, ref_template: str, settings: Settings,
             key_settings: Settings, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[str]:
    """The family, enterprise and land samples (and a parcel held by Hoa Sen) loaded and
    the analytics refreshed once, as the loader."""
    name, url = populated_database(cluster, ref_template, tmp_path_factory.mktemp("a"),
                                   settings, (*DEFAULT_SEEDS, LAND_SAMPLE, _enterprise_parcel))
    loader = db.make_engine(url, settings, role=db.Role.LOADER, pool_size=1)
    try:
        refreshed = analytics.refresh(loader, key_settings)
    finally:
        loader.dispose()
    assert {r["view"] for r in refreshed} >= {"person", "population_by_commune"}
    yield url
    drop_database(cluster, name)


@pytest.fixture
def analyst(database: str, settings: Settings) -> Iterator[Engine]:
    engine = db.make_engine(database, settings, role=db.Role.ANALYST, pool_size=1)
    yield engine
    engine.dispose()


def _age_group(birth: dt.date, day: dt.date) -> str:
    years = day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
    return "85+" if years >= 85 else f"{years // 5 * 5}-{years // 5 * 5 + 4}"


def _birth(row: dict[str, str]) -> dt.date:
    value = row["birth_date"]
    if "/" in value:
        d, m, y = value.split("/")
        return dt.date(int(y), int(m), int(d))
    return dt.date.fromisoformat(value)


def test_persons_appear_without_names_or_numbers(analyst: Engine) -> None:
    with analyst.connect() as conn:
        rows = conn.execute(text("SELECT * FROM analytics.person ORDER BY birth_year")).mappings()
        persons = [dict(r) for r in rows]
    assert len(persons) == len(FAMILY)
    assert set(persons[0]) == {"person", "birth_year", "sex", "status", "death_year",
                               "province_code", "commune_code", "commune_name"}
    assert sorted(p["birth_year"] for p in persons) == sorted(_birth(r).year for r in FAMILY)
    assert [p["status"] for p in persons].count("deceased") == 1
    every_value = " ".join(str(v) for p in persons for v in p.values())
    for row in FAMILY:
        assert row["national_id"] not in every_value
        assert row["given_name"] not in every_value
    assert len({p["person"] for p in persons}) == len(FAMILY)


def test_population_by_commune_hides_cells_that_could_point_at_someone(
        clone_db: Callable[[str], str], ref_template: str, settings: Settings,
        key_settings: Settings, tmp_path: Path) -> None:
    url = clone_db(ref_template)
    loader = db.make_engine(url, settings, role=db.Role.LOADER, pool_size=1)
    analyst = db.make_engine(url, settings, role=db.Role.ANALYST, pool_size=1)
    try:
        result = load_population(loader, write_csv(tmp_path / "p.csv", SNAPSHOT_FIELDS,
                                                   FAMILY + NEIGHBOURS + ELDERS),
                                 Options(dt.date(2026, 1, 1)))
        assert result.status == "committed", result.message
        analytics.refresh(loader, key_settings)
        with analyst.connect() as conn:
            rows = conn.execute(text(
                "SELECT as_of, province_code, commune_code, sex, age_group, persons "
                "FROM analytics.population_by_commune")).all()
    finally:
        loader.dispose()
        analyst.dispose()
    day = rows[0].as_of
    cells: dict[tuple[str, str, str], int] = {}
    for row in FAMILY + NEIGHBOURS + ELDERS:
        key = (row["commune_code"], row["sex"], _age_group(_birth(row), day))
        cells[key] = cells.get(key, 0) + 1
    shown = {(r.commune_code, r.sex, r.age_group): r.persons for r in rows}
    # Every cell is there; only those of SMALL_CELL persons or more say how many.
    assert shown == {key: n if n >= SMALL_CELL else None for key, n in cells.items()}
    # The family's father and his neighbours: counted. The two elders of Ba Đình: hidden.
    assert shown[(HANOI_WARD, "male", "45-49")] == len(NEIGHBOURS) + 1
    assert shown[(BA_DINH, "male", "85+")] is None
    assert {r.province_code for r in rows} == {"01"}

    # The migration that brought the rule redefines the view filled, both ways, so an
    # analyst never meets an unfilled view after an upgrade.
    def elders() -> Any:
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as admin:
            return admin.execute(
                "SELECT persons FROM analytics.population_by_commune "
                "WHERE commune_code = %s AND age_group = '85+'", (BA_DINH,)).fetchone()
    alembic_command.downgrade(db.alembic_config(url), "0015-1")
    assert elders() == (len(ELDERS),)
    alembic_command.upgrade(db.alembic_config(url), "head")
    assert elders() == (None,)


def test_family_structure_by_pseudonym(analyst: Engine) -> None:
    with analyst.connect() as conn:
        households = conn.execute(text(
            "SELECT household, count(*) FROM analytics.household_member GROUP BY 1")).all()
        links = conn.execute(text("SELECT relation, count(*) FROM analytics.family_link "
                                  "GROUP BY 1 ORDER BY 1")).all()
        son = conn.execute(text(
            "SELECT p.birth_year FROM analytics.family_link f JOIN analytics.person p "
            "ON p.person = f.person WHERE f.relation = 'father'")).scalar_one()
    assert sorted(n for _, n in households) == [1, 3]
    assert {relation: n for relation, n in links} == {"father": 1, "mother": 1, "spouse": 2}
    assert son == 2010


def test_analyst_cannot_read_any_base_table_audit_or_etl(analyst: Engine,
                                                         database: str) -> None:
    with psycopg.connect(database.replace("postgresql+psycopg", "postgresql")) as admin:
        tables = admin.execute(
            "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname = ANY(%s) "
            "UNION ALL SELECT schemaname || '.' || viewname FROM pg_views "
            "WHERE schemaname = ANY(%s)", (list(REGISTRY_SCHEMAS), list(REGISTRY_SCHEMAS))
        ).fetchall()
    assert len(tables) > 20  # every registry table, reference table, etl, audit
    with analyst.connect() as conn:
        for (table,) in tables:
            with pytest.raises(ProgrammingError, match="permission denied"):
                conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))
            conn.rollback()


SUMMARIES = {"population_by_commune": "persons", "enterprise_by_industry_province":
             "enterprises", "land_use_by_province": "parcels"}
"""The summary views and what each counts."""


def test_the_summary_reader_reads_the_summaries_and_no_person_level_view(
        database: str, settings: Settings) -> None:
    reader = db.make_engine(database, settings, role=db.Role.SUMMARY_READER, pool_size=1)
    analyst = db.make_engine(database, settings, role=db.Role.ANALYST, pool_size=1)
    try:
        with reader.connect() as conn:
            seen = {view: tuple(conn.execute(text(
                f"SELECT count(*), sum({count}) FROM analytics.{view}")).one())
                for view, count in SUMMARIES.items()}
            cells = conn.execute(text(
                "SELECT commune_code, sex, age_group, persons "
                "FROM analytics.population_by_commune ORDER BY 1, 2, 3")).all()
            every = conn.execute(text(
                "SELECT matviewname FROM pg_matviews WHERE schemaname = 'analytics' "
                "UNION ALL SELECT viewname FROM pg_views WHERE schemaname = 'analytics'")
            ).scalars().all()
            assert {"person", "residence", "land_right", "land_parcel"} <= set(every)
            for view in set(every) - set(SUMMARIES):
                with pytest.raises(ProgrammingError, match="permission denied"):
                    conn.execute(text(f"SELECT 1 FROM analytics.{view} LIMIT 1"))
                conn.rollback()
            for table in ("population.person", "population.residence",
                          "enterprise.enterprise", "land.parcel_version", "ref.admin_unit",
                          "etl.load_run", "audit.access_record"):
                with pytest.raises(ProgrammingError, match="permission denied"):
                    conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))
                conn.rollback()
        with analyst.connect() as conn:
            assert conn.execute(text(
                "SELECT commune_code, sex, age_group, persons "
                "FROM analytics.population_by_commune ORDER BY 1, 2, 3")).all() == cells
    finally:
        reader.dispose()
        analyst.dispose()
    assert all(rows for rows, _ in seen.values()), seen
    assert seen["enterprise_by_industry_province"][1] and seen["land_use_by_province"][1]
    # The cells the analyst's aggregate shows, suppressed alike: the family of four fills
    # no cell of SMALL_CELL persons, so none says how many.
    assert cells and all(c.persons is None for c in cells)


def test_a_summary_a_migration_redefines_stays_readable_by_the_summary_reader(
        clone_db: Callable[[str], str], migrated_template: str, settings: Settings) -> None:
    url = clone_db(migrated_template)
    admin = db.make_engine(url, settings, pool_size=1)
    reader = db.make_engine(url, settings, role=db.Role.SUMMARY_READER, pool_size=1)
    try:
        with admin.begin() as conn:
            conn.execute(text("SET LOCAL ROLE mdr_owner"))
            conn.execute(text("REFRESH MATERIALIZED VIEW analytics.population_by_commune"))
            # What a later migration changing the small-cell rule would do.
            with Operations.context(MigrationContext.configure(conn)):
                redefine("population_by_commune",
                         lambda: population_by_commune(SMALL_CELL + 1))
        with reader.connect() as conn:
            assert conn.execute(text(
                "SELECT count(*) FROM analytics.population_by_commune")).scalar_one() == 0
            comment = conn.execute(text(
                "SELECT col_description('analytics.population_by_commune'::regclass, 8)")
            ).scalar_one()
        assert f"fewer than {SMALL_CELL + 1}" in comment
    finally:
        admin.dispose()
        reader.dispose()


def test_a_summary_reader_made_by_hand_keeps_only_what_the_migration_grants(
        clone_db: Callable[[str], str], migrated_template: str, settings: Settings) -> None:
    url = clone_db(migrated_template)
    admin = db.make_engine(url, settings, pool_size=1)
    role = db.Role.SUMMARY_READER.value
    try:
        alembic_command.downgrade(db.alembic_config(url), "0018-1")
        with admin.begin() as conn:  # what an operator might have set up by hand
            conn.execute(text(f"GRANT mdr_analyst TO {role}"))
            conn.execute(text(f"ALTER ROLE {role} CREATEDB"))
        alembic_command.upgrade(db.alembic_config(url), "head")
        with admin.connect() as conn:
            granted = conn.execute(text(
                "SELECT count(*) FROM pg_auth_members WHERE member = CAST(:r AS regrole)"),
                {"r": role}).scalar_one()
            creates = conn.execute(text("SELECT rolcreatedb FROM pg_roles WHERE rolname = :r"),
                                   {"r": role}).scalar_one()
        assert (granted, creates) == (0, False)
    finally:
        with admin.begin() as conn:  # roles belong to the cluster: leave it as it was
            conn.execute(text(f"REVOKE mdr_analyst FROM {role}"))
            conn.execute(text(f"ALTER ROLE {role} NOCREATEDB"))
        admin.dispose()


def test_analyst_cannot_reverse_a_pseudonym(analyst: Engine, database: str,
                                            key_settings: Settings) -> None:
    key = analytics.pseudonym_key(key_settings)
    person_id = FAMILY[0]["national_id"]
    with analyst.connect() as conn:
        # Neither the function that makes pseudonyms nor the refresh is theirs to call.
        for statement in (f"SELECT etl.pseudonym('{person_id}')",
                          "SELECT * FROM etl.refresh_analytics()"):
            with pytest.raises(ProgrammingError, match="permission denied"):
                conn.execute(text(statement))
            conn.rollback()
        # The key is nowhere the database can show them, and no plain hash of a number
        # gives its pseudonym.
        assert conn.execute(text("SELECT current_setting('mdr.pseudonym_key', true)")
                            ).scalar() in (None, "")
        pseudonyms = set(conn.execute(text("SELECT person FROM analytics.person")).scalars())
    for plain in (hashlib.sha256(person_id.encode()).hexdigest(),
                  hashlib.md5(person_id.encode()).hexdigest()):
        assert plain[:32] not in pseudonyms
    # Only the key outside the database makes the pseudonym.
    keyed = hmac.new(key.encode(), person_id.encode(), hashlib.sha256).hexdigest()[:32]
    assert keyed in pseudonyms
    with psycopg.connect(database.replace("postgresql+psycopg", "postgresql")) as admin:
        stored = admin.execute(
            "SELECT count(*) FROM pg_settings WHERE setting LIKE %s", (f"%{key}%",)).fetchone()
        fingerprint = admin.execute("SELECT fingerprint FROM etl.pseudonym_key").fetchall()
        definitions = admin.execute(
            "SELECT count(*) FROM pg_matviews WHERE definition LIKE %s", (f"%{key}%",)
        ).fetchone()
    assert stored == (0,) and definitions == (0,)
    assert len(fingerprint) == 1 and key not in fingerprint[0][0]


def test_pseudonyms_are_stable_and_another_key_is_refused(
        database: str, settings: Settings, key_settings: Settings, tmp_path: Path) -> None:
    loader = db.make_engine(database, settings, role=db.Role.LOADER, pool_size=1)
    analyst = db.make_engine(database, settings, role=db.Role.ANALYST, pool_size=1)
    try:
        with analyst.connect() as conn:
            before = set(conn.execute(text("SELECT person FROM analytics.person")).scalars())
        analytics.refresh(loader, key_settings)
        with analyst.connect() as conn:
            after = set(conn.execute(text("SELECT person FROM analytics.person")).scalars())
        assert before == after
        other = Settings.from_env({"MDR_PSEUDONYM_KEY_FILE": str(tmp_path / "other.key")})
        with pytest.raises(DBAPIError, match="differs from the one the analytics were made"):
            analytics.refresh(loader, other)
    finally:
        loader.dispose()
        analyst.dispose()


def test_a_refresh_does_not_wait_for_readers(database: str, settings: Settings,
                                             key_settings: Settings) -> None:
    analyst = db.make_engine(database, settings, role=db.Role.ANALYST, pool_size=1)
    loader = db.make_engine(database, settings, role=db.Role.LOADER, pool_size=1)
    try:
        with analyst.connect() as reading:
            # An analyst's long query holds its views open while the refresh runs.
            reading.execute(text("BEGIN"))
            assert reading.execute(text("SELECT count(*) FROM analytics.person")).scalar() == 4
            with loader.connect() as conn:
                conn.execute(text("SET lock_timeout = '2s'"))
                conn.commit()
            refreshed = analytics.refresh(loader, key_settings)
            assert reading.execute(text("SELECT count(*) FROM analytics.person")).scalar() == 4
            reading.execute(text("COMMIT"))
        assert {r["view"] for r in refreshed} == {
            "family_link", "household_member", "person", "population_by_commune", "residence",
            "enterprise", "enterprise_by_industry_province", "land_right",
            "land_use_by_province"}
    finally:
        loader.dispose()
        analyst.dispose()


def test_a_refresh_for_a_registry_refreshes_only_the_views_that_read_it(
        database: str, settings: Settings, key_settings: Settings) -> None:
    loader = db.make_engine(database, settings, role=db.Role.LOADER, pool_size=1)
    try:
        def refreshed(registry: str) -> set[str]:
            return {r["view"] for r in analytics.refresh(loader, key_settings, registry)}

        land = refreshed("land")
        population = refreshed("population")
        assert land == {"land_right", "land_use_by_province"}
        assert {"person", "residence", "household_member", "family_link",
                "population_by_commune"} <= population
        assert not population & {"enterprise", "enterprise_by_industry_province",
                                 "land_use_by_province"}
        assert refreshed("enterprise") >= {"enterprise", "enterprise_by_industry_province"}
        assert refreshed("macro") == set()
    finally:
        loader.dispose()


def test_a_refresh_is_not_stopped_by_the_interactive_statement_timeout(
        database: str, key_settings: Settings) -> None:
    # After a national first load a refresh takes minutes; here it takes longer than the
    # 20 ms this engine's statements are otherwise allowed.
    hurried = Settings.from_env({"MDR_STATEMENT_TIMEOUT_MS": "20",
                                 "MDR_PSEUDONYM_KEY_FILE": str(key_settings.pseudonym_key_path)})
    loader = db.make_engine(database, hurried, role=db.Role.LOADER, pool_size=1)
    try:
        refreshed = analytics.refresh(loader, hurried)
        with loader.connect() as conn, pytest.raises(DBAPIError, match="statement timeout"):
            conn.execute(text("SELECT pg_sleep(0.1)"))
    finally:
        loader.dispose()
    assert sum(r["seconds"] for r in refreshed) > 0.02


def test_mdr_load_refreshes_the_analytics(clone_db: Callable[[str], str], ref_template: str,
                                          key_settings: Settings, settings: Settings,
                                          tmp_path: Path) -> None:
    url = clone_db(ref_template)
    source = write_csv(tmp_path / "family.csv", SNAPSHOT_FIELDS, FAMILY)
    result = CliRunner().invoke(cli, ["load", "population", str(source), "--effective-date",
                                      "2026-01-01", "--json"],
                                env={"MDR_DATABASE_URL": url, "MDR_PSEUDONYM_KEY_FILE":
                                     str(key_settings.pseudonym_key_path)})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inserted"] == len(FAMILY)
    analyst = db.make_engine(url, settings, role=db.Role.ANALYST, pool_size=1)
    try:
        with analyst.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM analytics.person")).scalar() \
                == len(FAMILY)
            # Four persons, each alone in a cell: the cells are there, their counts hidden.
            assert conn.execute(text(
                "SELECT count(*), count(persons) FROM analytics.population_by_commune"
            )).one() == (len(FAMILY), 0)
    finally:
        analyst.dispose()


def test_a_small_delta_into_a_large_registry_leaves_the_refresh_to_its_schedule(
        clone_db: Callable[[str], str], ref_template: str, key_settings: Settings,
        settings: Settings, tmp_path: Path) -> None:
    """Recomputing the views costs what the registry holds: a load that changed less than
    REFRESH_AFTER_SHARE of it does not wait for that, and says so."""
    url = clone_db(ref_template)
    env = {"MDR_DATABASE_URL": url,
           "MDR_PSEUDONYM_KEY_FILE": str(key_settings.pseudonym_key_path)}
    generate_population(tmp_path, 1500, seed=5, effective_date=dt.date(2026, 1, 1))

    def mdr(*args: str) -> dict[str, Any]:
        run = CliRunner().invoke(cli, [*args, "--json"], env=env)
        assert run.exit_code == 0, run.output
        return dict(json.loads(run.stdout))

    first = mdr("load", "population", str(tmp_path / "persons.csv"),
                "--effective-date", "2026-01-01")
    assert first["details"]["analytics"] == "refreshed"
    analyst = db.make_engine(url, settings, role=db.Role.ANALYST, pool_size=1)
    try:
        with analyst.connect() as conn:
            alive = conn.execute(text(
                "SELECT count(*) FROM analytics.person WHERE status = 'alive'")).scalar_one()
        with db.make_engine(url, settings, role=db.Role.LOADER).connect() as conn:
            who = conn.execute(text("SELECT national_id FROM population.person "
                                    "WHERE status = 'alive' ORDER BY national_id LIMIT 1"
                                    )).scalar_one()
        death = write_csv(tmp_path / "death.csv", EVENT_FIELDS,
                          [event("death", who, "2026-02-01")])
        delta = mdr("load", "population", str(death), "--kind", "events")
        assert (delta["inserted"], delta["details"]["analytics"]) == (1, "deferred")
        with analyst.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM analytics.person "
                                     "WHERE status = 'alive'")).scalar_one() == alive
        mdr("analytics", "refresh")
        with analyst.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM analytics.person "
                                     "WHERE status = 'alive'")).scalar_one() == alive - 1
    finally:
        analyst.dispose()


def test_enterprises_as_the_public_register_shows_them(analyst: Engine) -> None:
    with analyst.connect() as conn:
        firms = {r.code: r for r in conn.execute(text("SELECT * FROM analytics.enterprise"))}
        counts = conn.execute(text(
            "SELECT section, province_code, status, enterprises "
            "FROM analytics.enterprise_by_industry_province ORDER BY 1, 3")).all()
    assert set(firms) == {HOA_SEN, SEN_VANG}
    hoa_sen = firms[HOA_SEN]
    assert (hoa_sen.name, hoa_sen.legal_form, hoa_sen.status, hoa_sen.main_line,
            hoa_sen.section, hoa_sen.province_code) == (
        "Công ty Cổ phần Hoa Sen", "CP", "active", "4711", "G", "01")
    assert firms[SEN_VANG].status == "dissolved"
    # Hoa Sen retails (G), Sen Vàng served food (I) until it was dissolved; both in Hà Nội.
    assert [tuple(r) for r in counts] == [("G", "01", "active", 1), ("I", "01", "dissolved", 1)]


def test_land_rights_show_holders_by_pseudonym_or_enterprise_code(analyst: Engine) -> None:
    with analyst.connect() as conn:
        rights = conn.execute(text(
            "SELECT reference, holder_kind, person, enterprise_code, organisation, share "
            "FROM analytics.land_right ORDER BY reference, holder_number")).all()
        pseudonyms = set(conn.execute(text("SELECT person FROM analytics.person")).scalars())
        uses = conn.execute(text("SELECT province_code, land_use, parcels "
                                 "FROM analytics.land_use_by_province")).all()
    by_reference: dict[str, list[Any]] = {}
    for r in rights:
        by_reference.setdefault(r.reference, []).append(r)
    (firm,) = by_reference["E9"]
    assert (firm.holder_kind, firm.enterprise_code, firm.person) == ("enterprise", HOA_SEN,
                                                                      None)
    # The couple's parcel: two rows, each member by pseudonym with half.
    couple = by_reference["R2"]
    assert [(r.holder_kind, float(r.share)) for r in couple] == [("group", 0.5)] * 2
    assert {r.person for r in couple} <= pseudonyms and len({r.person for r in couple}) == 2
    assert by_reference["M2"][0].organisation == "Ngân hàng Nông nghiệp"
    assert by_reference["R1"][0].person in pseudonyms
    # Parcels 1, 2, 3a, 3b and 9 are current on the refresh day, all in Hà Nội.
    assert sum(r.parcels for r in uses) == 5 and {r.province_code for r in uses} == {"01"}


def test_no_person_number_appears_in_any_analytics_column(analyst: Engine) -> None:
    with analyst.connect() as conn:
        objects = conn.execute(text(
            "SELECT matviewname FROM pg_matviews WHERE schemaname = 'analytics' "
            "UNION ALL SELECT viewname FROM pg_views WHERE schemaname = 'analytics'")).scalars()
        values = " ".join(
            str(v) for name in list(objects)
            for row in conn.execute(text(f"SELECT * FROM analytics.{name}"))
            for v in row)
    assert HOA_SEN in values  # the enterprise codes are there
    for row in FAMILY:
        assert row["national_id"] not in values
