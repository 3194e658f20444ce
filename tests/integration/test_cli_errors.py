"""The usual mistakes get a sentence saying what is wrong and what to run, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from mdr.cli import app
from mdr.cluster import LocalCluster
from mdr.errors import explain
from tests.api.support import free_port
from tests.conftest import create_database, drop_database


def run(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"MDR_DATABASE_URL": url})
    return result.exit_code, result.output


def test_a_database_that_does_not_run_is_named_with_what_to_do() -> None:
    url = f"postgresql+psycopg://mdr@127.0.0.1:{free_port()}/mdr"
    code, output = run(url, "ref", "units", "--as-of", "2025-07-01")
    assert code == 1
    assert "cannot reach" in output and "mdr db up" in output and "MDR_DATABASE_URL" in output
    assert "Traceback" not in output


def test_a_database_without_the_schema_asks_for_a_migration(cluster: LocalCluster) -> None:
    url = create_database(cluster, "not_migrated")
    try:
        code, output = run(url, "runs")
    finally:
        drop_database(cluster, "not_migrated")
    assert code == 1 and "mdr db migrate" in output and "Traceback" not in output


def test_a_missing_file_is_named(shared_ref_url: str) -> None:
    code, output = run(shared_ref_url, "load", "population", "/nonexistent/persons.csv")
    assert code != 0 and "does not exist" in output


def test_a_missing_postgis_says_how_to_install_it(cluster: LocalCluster) -> None:
    # The server's own error for an extension whose files are not installed.
    engine = create_engine(cluster.url(database="postgres"), poolclass=NullPool)
    with pytest.raises(DBAPIError) as raised, engine.connect() as conn:
        conn.execute(text('CREATE EXTENSION "postgis_not_installed_here"'))
    engine.dispose()
    assert isinstance(raised.value.orig, psycopg.Error)
    message = explain(raised.value, None)
    assert message is not None and "apt-get install" in message and "mdr db migrate" in message


def test_other_database_errors_are_not_explained_away(cluster: LocalCluster) -> None:
    engine = create_engine(cluster.url(database="postgres"), poolclass=NullPool)
    with pytest.raises(DBAPIError) as raised, engine.connect() as conn:
        conn.execute(text("SELECT 1 / 0"))
    engine.dispose()
    assert explain(raised.value, None) is None


@pytest.mark.parametrize(("content", "said"), [
    ("", "holds no rows"),
    ("national_id,family_name\n", "holds no rows"),
    ("001080000001,Nguyễn,Văn,An\n001080000002,Trần,Thị,Hoa\n", "no header line"),
])
def test_an_empty_file_or_one_without_a_header_is_refused(
        clone_db: Callable[[str], str], ref_template: str, tmp_path: Path,
        content: str, said: str) -> None:
    source = tmp_path / "persons.csv"
    source.write_text(content, encoding="utf-8")
    url = clone_db(ref_template)
    result = CliRunner().invoke(app, ["load", "population", str(source), "--json"],
                                env={"MDR_DATABASE_URL": url})
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["status"] == "aborted" and said in summary["message"]
    assert summary["inserted"] == 0


def test_an_unknown_registry_lists_the_known_ones(shared_ref_url: str, tmp_path: Path) -> None:
    source = tmp_path / "x.csv"
    source.write_text("a\n1\n", encoding="utf-8")
    code, output = run(shared_ref_url, "load", "persons", str(source))
    assert code == 2 and "population" in output and "ref" in output
