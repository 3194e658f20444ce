"""API clients (keys shown once, stored hashed) and the append-only audit trail."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
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


RECORD_ACCESS = text("SELECT audit.record_access(CAST(:refs AS uuid[]), CAST(:clients AS "
                     "integer[]), CAST(:ops AS text[]), CAST(:subjects AS text[]), "
                     "CAST(:outcomes AS text[]))")


def record_access(conn: Connection, client_id: int, *subjects: str,
                  outcome: str = "match") -> list[uuid.UUID]:
    """Audit records written as the server writes them, through the database's function."""
    refs = [uuid.uuid4() for _ in subjects]
    conn.execute(RECORD_ACCESS, {"refs": refs, "clients": [client_id] * len(refs),
                                 "ops": ["verifyPerson"] * len(refs), "subjects": list(subjects),
                                 "outcomes": [outcome] * len(refs)})
    return refs


@pytest.fixture
def api_and_record(url: str, settings: Settings) -> tuple[Engine, int]:
    mdr(url, "clients", "add", "tax", "--scopes", "verify:person")
    engine = db.make_engine(url, settings, role=db.Role.API)
    with engine.begin() as conn:
        client = conn.execute(text("SELECT id FROM audit.api_client")).scalar_one()
        (ref,) = record_access(conn, client, "001080000001")
        record = conn.execute(text("SELECT id FROM audit.access_record WHERE reference = :r"),
                              {"r": ref}).scalar_one()
    return engine, int(record)


@pytest.mark.parametrize("statement", [
    "UPDATE audit.access_record SET outcome = 'mismatch'",
    "DELETE FROM audit.access_record",
    "TRUNCATE audit.access_record",
    "INSERT INTO audit.access_record (client_id, operation, subject, outcome, at) "
    "SELECT id, 'verifyPerson', '001080000001', 'match', '2001-01-01' FROM audit.api_client",
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


def test_the_database_stamps_each_record_and_accepts_active_clients_only(
        api_and_record: tuple[Engine, int], url: str) -> None:
    api, _ = api_and_record
    try:
        with api.begin() as conn:
            client = conn.execute(text("SELECT id FROM audit.api_client")).scalar_one()
            # A transaction held open cannot back-date: the time is the clock's, not now().
            conn.execute(text("SELECT pg_sleep(0.2)"))
            before = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
            refs = record_access(conn, client, "001080000002", "001080000003")
            stamped = conn.execute(text(
                "SELECT at, client_id FROM audit.access_record WHERE reference = ANY(:r)"),
                {"r": refs}).all()
            assert len(stamped) == 2
            assert all(at >= before and who == client for at, who in stamped)
        for wrong in (client + 1000, None):
            with api.begin() as conn, pytest.raises(DBAPIError, match="no active API client"):
                conn.execute(RECORD_ACCESS, {"refs": [uuid.uuid4()], "clients": [wrong],
                                             "ops": ["verifyPerson"], "subjects": ["1"],
                                             "outcomes": ["match"]})
        with api.begin() as conn, pytest.raises(DBAPIError, match="outcome is one of"):
            record_access(conn, client, "001080000002", outcome="trusted")
        with api.begin() as conn, pytest.raises(DBAPIError, match="arrays of one length"):
            conn.execute(RECORD_ACCESS, {"refs": [uuid.uuid4()], "clients": [client, client],
                                         "ops": ["verifyPerson"], "subjects": ["1"],
                                         "outcomes": ["match"]})
        assert mdr(url, "clients", "revoke", "tax")[0] == 0
        with api.begin() as conn, pytest.raises(DBAPIError, match="no active API client"):
            record_access(conn, client, "001080000002")
    finally:
        api.dispose()


@pytest.mark.parametrize("statement", [
    "ALTER TABLE audit.access_record DISABLE TRIGGER access_record_append_only",
    "DROP TRIGGER access_record_append_only ON audit.access_record",
    "DELETE FROM audit.access_record",
    "UPDATE audit.access_record SET at = '2001-01-01'",
    "INSERT INTO audit.access_record (client_id, operation, subject, outcome) "
    "SELECT id, 'verifyPerson', '001080000001', 'match' FROM audit.api_client",
    "DROP TABLE audit.access_record CASCADE",
    "ALTER TABLE audit.access_record RENAME TO old_record",
    "CREATE OR REPLACE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql "
    "AS $$ BEGIN RETURN OLD; END $$",
    "DROP FUNCTION audit.refuse_change() CASCADE",
    "CREATE OR REPLACE FUNCTION audit.record_access(uuid[], integer[], text[], text[], text[]) "
    "RETURNS void LANGUAGE sql AS $$ SELECT $$",
    "DROP SCHEMA audit CASCADE",
    "SET ROLE mdr_audit_owner",
    "UPDATE audit.api_client SET name = 'someone else'",
])
def test_the_migration_role_cannot_touch_the_trail(
        api_and_record: tuple[Engine, int], url: str, settings: Settings,
        statement: str) -> None:
    api, record = api_and_record
    api.dispose()
    owner = db.make_engine(url, settings, role=db.Role.OWNER)
    try:
        with owner.begin() as conn, pytest.raises(
                ProgrammingError, match=r"permission denied|must be owner"):
            conn.execute(text(statement))
    finally:
        owner.dispose()
    admin = db.make_engine(url, settings)
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT outcome FROM audit.access_record WHERE id = :i"),
                                {"i": record}).scalar() == "match"
    finally:
        admin.dispose()


def test_nobody_logs_in_as_the_owner_of_the_trail(url: str, settings: Settings) -> None:
    engine = create_engine(make_url(url).set(username="mdr_audit_owner"))
    try:
        with pytest.raises(OperationalError, match="not permitted to log in"):
            engine.connect()
    finally:
        engine.dispose()
    admin = db.make_engine(url, settings)
    try:
        with admin.connect() as conn:
            owners = set(conn.execute(text("""
                SELECT tableowner FROM pg_tables WHERE schemaname = 'audit'
                UNION SELECT pg_get_userbyid(nspowner) FROM pg_namespace
                      WHERE nspname = 'audit'
                UNION SELECT pg_get_userbyid(proowner) FROM pg_proc
                      WHERE pronamespace = 'audit'::regnamespace""")).scalars())
            members = conn.execute(text("""
                SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member
                WHERE m.roleid = 'mdr_audit_owner'::regrole AND NOT r.rolsuper""")).scalar_one()
    finally:
        admin.dispose()
    assert owners == {"mdr_audit_owner"} and members == 0
