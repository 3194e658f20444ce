"""The audit trail over HTTP: refused attempts are recorded, and malformed subjects are kept
so that they never read as a real number."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from mdr import db
from mdr.settings import Settings
from tests.api.support import BATCH, VERIFY, nodes

Ask = Callable[..., Any]
LOG = """query($id: String!) {
  accessLog(nationalId: $id) { edges { node { client operation outcome } } } }"""


def records(api_db: tuple[str, dict[str, str]], client_name: str) -> list[tuple[str, str, str]]:
    """(operation, subject, outcome) of a client's records, oldest first."""
    engine = db.make_engine(api_db[0], Settings.from_env({}))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("""
                SELECT r.operation, r.subject, r.outcome
                FROM audit.access_record r JOIN audit.api_client c ON c.id = r.client_id
                WHERE c.name = :n ORDER BY r.id"""), {"n": client_name}).all()
    finally:
        engine.dispose()
    return [(r[0], r[1], r[2]) for r in rows]


def test_a_refused_read_of_a_person_is_recorded_as_denied(ask: Ask) -> None:
    refused = ask("""query($id: String!) { person(nationalId: $id) { birthDate } }""",
                  key="verifier", id="001080000001")
    assert refused["data"] == {"person": None}
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    log = nodes(ask(LOG, key="dpo", id="001080000001")["data"]["accessLog"])
    assert {"client": "verifier", "operation": "person", "outcome": "denied"} in log


def test_refused_verifications_leave_one_record_per_claim(
        ask: Ask, api_db: tuple[str, dict[str, str]]) -> None:
    before = len(records(api_db, "reader"))
    # One claim: the document the compiled path knows; it gives way to the general path,
    # which refuses, and the refusal is recorded once.
    for _ in range(2):
        answer = ask(VERIFY, key="reader", claim={"nationalId": "001182000002",
                                                   "fullName": "X"})
        assert answer["data"] is None and "verify:person" in answer["errors"][0]["message"]
    answer = ask(BATCH, key="reader", claims=[{"nationalId": "001210000003"},
                                              {"nationalId": "bad\u200b"}])
    assert answer["data"] is None
    refused = ask(LOG, key="reader", id="001210000003")
    assert refused["data"] is None and "audit:read" in refused["errors"][0]["message"]
    assert records(api_db, "reader")[before:] == [
        ("verifyPerson", "001182000002", "denied"),
        ("verifyPerson", "001182000002", "denied"),
        ("verifyPersons", "001210000003", "denied"),
        ("verifyPersons", "\\x62\\x61\\x64\\u200b", "denied"),
        ("accessLog", "001210000003", "denied"),
    ]


@pytest.mark.parametrize("disguised", [
    "070077555447\u200b",       # a zero-width space after a real-looking number
    "\u202e744555770070",       # right-to-left override: shows as 070077555447
    "070077555447\x85",         # a C1 control (next line)
    "０７００７７５５５４４７",   # fullwidth digits
])
def test_a_disguised_number_is_recorded_so_it_cannot_pass_for_the_real_one(
        ask: Ask, api_db: tuple[str, dict[str, str]], disguised: str) -> None:
    result = ask(VERIFY, claim={"nationalId": disguised, "fullName": "An"})
    assert result["data"]["verifyPerson"]["found"] is False
    operation, subject, outcome = records(api_db, "verifier")[-1]
    assert (operation, outcome) == ("verifyPerson", "invalid")
    # Shown anywhere (psql, a log, a spreadsheet), it reads as what it is.
    assert subject.removesuffix("…").isascii() and subject.isprintable()
    assert subject != "070077555447"
    assert "\\" in subject
    # Who looks up the real number does not see the disguised attempt, and the other way.
    real = nodes(ask(LOG, key="dpo", id="070077555447")["data"]["accessLog"])
    assert [entry for entry in real if entry["operation"] == "verifyPerson"] == []
    assert nodes(ask(LOG, key="dpo", id=disguised)["data"]["accessLog"])[-1] == {
        "client": "verifier", "operation": "verifyPerson", "outcome": "invalid"}
