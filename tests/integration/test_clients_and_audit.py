"""API clients (keys shown once, stored hashed) and the append-only audit trail."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, ProgrammingError
from typer.testing import CliRunner

from graphql_api.auth import authenticate, hash_key
from mdr import db
from mdr.cli import app
from mdr.settings import Settings


@pytest.fixture
def url(clone_db: Callable[[str], str], ref_template: str) -> str:
    return clone_db(ref_template)


def mdr(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"MDR_DATABASE_URL": url})
    return result.exit_code, result.stdout + result.stderr


def test_a_key_is_shown_once_stored_hashed_and_stops_working_when_revoked(
        url: str, settings: Settings) -> None:
    code, output = mdr(url, "clients", "add", "bank-kyc", "--scopes",
                       "verify:person,read:person", "--json")
    assert code == 0, output
    key = json.loads(output.splitlines()[0])["key"]
    engine = db.make_engine(url, settings, role=db.Role.API)
    try:
        with engine.connect() as conn:
            client = authenticate(conn, key)
            assert client is not None and client.name == "bank-kyc"
            assert client.scopes == {"verify:person", "read:person"}
            assert authenticate(conn, key + "x") is None
            stored = conn.execute(text("SELECT key_hash FROM audit.api_client")).scalar()
            assert stored == hash_key(key) and key not in stored
        assert mdr(url, "clients", "revoke", "bank-kyc")[0] == 0
        with engine.connect() as conn:
            assert authenticate(conn, key) is None
    finally:
        engine.dispose()
    listed = json.loads(mdr(url, "clients", "list", "--json")[1].splitlines()[0])
    (bank,) = listed["clients"]
    assert (bank["name"], bank["scopes"]) == ("bank-kyc", ["read:person", "verify:person"])
    assert bank["revoked_at"] is not None and key.startswith(bank["key_prefix"])
    assert key not in json.dumps(listed)
    code, text_listing = mdr(url, "clients", "list")
    assert code == 0 and "bank-kyc" in text_listing and "revoked" in text_listing
    assert key not in text_listing


def test_unknown_scopes_and_duplicate_names_are_refused(url: str) -> None:
    code, output = mdr(url, "clients", "add", "x", "--scopes", "fly:away")
    assert code == 1 and "Unknown scope" in output and "verify:person" in output
    assert mdr(url, "clients", "add", "x", "--scopes", "read:macro")[0] == 0
    code, output = mdr(url, "clients", "add", "x", "--scopes", "read:macro")
    assert code == 1 and "exists" in output


@pytest.fixture
def api_and_record(url: str, settings: Settings) -> tuple[Engine, int]:
    mdr(url, "clients", "add", "tax", "--scopes", "verify:person")
    engine = db.make_engine(url, settings, role=db.Role.API)
    with engine.begin() as conn:
        record = conn.execute(text("""
            INSERT INTO audit.access_record (client_id, operation, subject, outcome)
            SELECT id, 'verifyPerson', '001080000001', 'match' FROM audit.api_client
            RETURNING id""")).scalar_one()
    return engine, int(record)


@pytest.mark.parametrize("statement", [
    "UPDATE audit.access_record SET outcome = 'mismatch'",
    "DELETE FROM audit.access_record",
    "TRUNCATE audit.access_record",
    "INSERT INTO audit.api_client (name, key_prefix, key_hash) VALUES ('me', 'x', 'y')",
    "UPDATE audit.api_client SET revoked_at = NULL",
])
def test_the_api_role_cannot_alter_the_trail_or_the_clients(
        api_and_record: tuple[Engine, int], statement: str) -> None:
    engine, _ = api_and_record
    try:
        with engine.begin() as conn, pytest.raises(ProgrammingError, match="permission denied"):
            conn.execute(text(statement))
    finally:
        engine.dispose()


@pytest.mark.parametrize("statement", [
    "UPDATE audit.access_record SET outcome = 'mismatch'",
    "DELETE FROM audit.access_record",
    "TRUNCATE audit.access_record",
])
def test_not_even_the_owner_can_change_the_trail(
        api_and_record: tuple[Engine, int], url: str, settings: Settings,
        statement: str) -> None:
    api, record = api_and_record
    api.dispose()
    owner = db.make_engine(url, settings)  # the administrator, stronger than mdr_owner
    try:
        with owner.begin() as conn, pytest.raises(DBAPIError, match="cannot be changed"):
            conn.execute(text(statement))
        with owner.connect() as conn:
            assert conn.execute(text("SELECT outcome FROM audit.access_record WHERE id = :i"),
                                {"i": record}).scalar() == "match"
    finally:
        owner.dispose()
