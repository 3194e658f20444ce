"""Backups and point-in-time recovery with pgBackRest: load, back up, load more, note the
time, load a wrong file, restore to the noted time, and find the registry exactly as it
was then."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from loaders.reference import prepare_database
from mdr import db
from mdr.cli import app as cli
from mdr.cluster import LocalCluster, free_port
from mdr.settings import Settings
from tests.factories.population import FAMILY, load_snapshot, person

REGISTRY_SCHEMAS = ("population", "ref")


def fingerprint(conninfo: str) -> dict[str, tuple[int, str]]:
    """Row count and checksum of every table of the registry and its reference data."""
    with psycopg.connect(conninfo) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT format('%%I.%%I', schemaname, tablename) FROM pg_tables "
            "WHERE schemaname = ANY(%s) ORDER BY 1", (list(REGISTRY_SCHEMAS),))]
        found = {}
        for table in tables:
            count, checksum = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                f"FROM {table} t").fetchone() or (0, "")
            found[table] = (int(count), str(checksum))
    return found


@pytest.fixture(scope="module")
def env(run_dir: Path) -> Iterator[dict[str, Any]]:
    """The environment of an embedded cluster of this module's own, migrated, with the
    reference data; stopped and removed afterwards."""
    environment: dict[str, Any] = {"MDR_VAR_DIR": str(run_dir / "backed-up"),
                                   "MDR_DATABASE_URL": None}
    settings = Settings.from_env({"MDR_VAR_DIR": environment["MDR_VAR_DIR"]})
    cluster = db.embedded_cluster(settings)
    cluster.start()
    url = cluster.url()
    prepare_database(url, settings)
    yield {**environment, "url": url}
    cluster.destroy()


def mdr(env: dict[str, Any], *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, [*args, "--json"],
                                env={k: v for k, v in env.items() if k.startswith("MDR_")})
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def test_restore_to_a_point_in_time_before_a_wrong_load(env: dict[str, Any], tmp_path: Path,
                                                        run_dir: Path) -> None:
    url = env["url"]
    conninfo = url.replace("postgresql+psycopg", "postgresql")
    load_snapshot(url, tmp_path, "family.csv", FAMILY)
    full = mdr(env, "backup", "create", "--type", "full")
    assert full["type"] == "full" and full["error"] is False
    load_snapshot(url, tmp_path, "more.csv", [person("001080000051", household_id="HH-5"),
                                     person("001182000052", sex="female", given_name="Lan",
                                            birth_date="1982-02-02", household_id="HH-7")])
    incremental = mdr(env, "backup", "create", "--type", "incr")
    assert incremental["type"] == "incr"
    load_snapshot(url, tmp_path, "one-more.csv", [person("001080000053", household_id="HH-6")])
    as_it_was = fingerprint(conninfo)
    with psycopg.connect(conninfo) as conn:
        noted = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    time.sleep(1.0)
    # The wrong file: every person renamed, and strangers added.
    wrong = [{**row, "given_name": "Sai"} for row in FAMILY] + [
        person(f"0010800009{n:02d}", household_id="HH-X") for n in range(10)]
    load_snapshot(url, tmp_path, "wrong.csv", wrong)
    assert fingerprint(conninfo) != as_it_was

    listed = mdr(env, "backup", "list")["backups"]
    assert [b["type"] for b in listed] == ["full", "incr"]
    assert mdr(env, "backup", "verify")["ok"] is True

    copy_dir = run_dir / "restored" / "data"  # where the server's OS user can reach
    restored = mdr(env, "backup", "restore", "--to", noted.isoformat(),
                   "--data-dir", str(copy_dir), "--port", str(free_port()))
    copy = LocalCluster(copy_dir.parent, data_dir=copy_dir)
    try:
        copied = fingerprint(restored["url"].replace("postgresql+psycopg", "postgresql"))
        assert copied == as_it_was
        assert copied["population.person"][0] == len(FAMILY) + 3
        # The copy is a database of its own: it takes writes, and the primary is untouched.
        with psycopg.connect(restored["url"].replace("postgresql+psycopg", "postgresql")
                             ) as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
            assert conn.execute("SHOW archive_mode").fetchone() == ("off",)
    finally:
        copy.destroy()
    assert fingerprint(conninfo)["population.person"][0] == len(FAMILY) + 3 + 10


def test_restore_refuses_a_folder_that_holds_something(env: dict[str, Any],
                                                       tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("not a database")
    result = CliRunner().invoke(cli, ["backup", "restore", "--to", "2026-01-01T00:00:00",
                                      "--data-dir", str(tmp_path)],
                                env={k: v for k, v in env.items() if k.startswith("MDR_")})
    assert result.exit_code == 1 and "is not empty" in " ".join(result.output.split())
    assert (tmp_path / "keep.txt").read_text() == "not a database"
