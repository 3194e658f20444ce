"""Verification over HTTP: keys, scopes, answers per field without stored values, audit."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from graphql_api.app import create_app
from mdr import db
from mdr.settings import Settings
from tests.api.support import BATCH, VERIFY, nodes

BATCH_AS_OF = """query($claims: [PersonClaim!]!, $asOf: Date) {
  verifyPersons(claims: $claims, asOf: $asOf) {
    nationalId found match status reference fields { field match } } }"""


def audit(api_db: tuple[str, dict[str, str]], reference: str) -> tuple[str, str, str] | None:
    engine = db.make_engine(api_db[0], Settings.from_env({}))
    try:
        with engine.connect() as conn:
            row = conn.execute(text("""SELECT c.name, r.operation, r.outcome
                FROM audit.access_record r JOIN audit.api_client c ON c.id = r.client_id
                WHERE r.reference = CAST(:r AS uuid)"""), {"r": reference}).first()
    finally:
        engine.dispose()
    return None if row is None else (row[0], row[1], row[2])


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"},
                                     {"Authorization": "Basic abc"}])
def test_requests_without_a_valid_key_get_401(client: TestClient,
                                              headers: dict[str, str]) -> None:
    response = client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_revoked_key_gets_401(client: TestClient,
                                api_db: tuple[str, dict[str, str]]) -> None:
    response = client.post("/graphql", json={"query": "{ __typename }"},
                           headers={"Authorization": f"Bearer {api_db[1]['revoked']}"})
    assert response.status_code == 401


def test_a_matching_claim_in_another_spelling(ask: Callable[..., Any],
                                              api_db: tuple[str, dict[str, str]]) -> None:
    name = unicodedata.normalize("NFD", "trần  THỊ HOA")
    answer = ask(VERIFY, claim={"nationalId": "001182000002", "fullName": name,
                                "birthDate": "1982-07-09", "sex": "FEMALE"})["data"]
    result = answer["verifyPerson"]
    assert (result["found"], result["match"], result["status"]) == (True, True, "ALIVE")
    assert result["fields"] == [{"field": "fullName", "match": True},
                                {"field": "birthDate", "match": True},
                                {"field": "sex", "match": True}]
    assert audit(api_db, result["reference"]) == ("verifier", "verifyPerson", "match")


def test_a_mismatch_says_which_field_and_reveals_nothing(ask: Callable[..., Any],
                                                         api_db: tuple[str, dict[str, str]]
                                                         ) -> None:
    answer = ask(VERIFY, claim={"nationalId": "001182000002", "fullName": "Trần Thị Hoa",
                                "birthDate": "1982-07-10"})
    result = answer["data"]["verifyPerson"]
    assert (result["match"], result["status"]) == (False, None)
    assert {f["field"]: f["match"] for f in result["fields"]} == {"fullName": True,
                                                                  "birthDate": False}
    assert "1982-07-09" not in str(answer)
    assert audit(api_db, result["reference"])[2] == "mismatch"  # type: ignore[index]


@pytest.mark.parametrize(("national_id", "outcome", "fields"), [
    ("001080009999", "not-found", []),
    ("12ab", "invalid", [{"field": "nationalId", "match": False}]),
    ("00108000\x000001", "invalid", [{"field": "nationalId", "match": False}]),
])
def test_unknown_and_malformed_numbers_are_answered_not_errors(
        ask: Callable[..., Any], api_db: tuple[str, dict[str, str]], national_id: str,
        outcome: str, fields: list[dict[str, Any]]) -> None:
    answer = ask(VERIFY, claim={"nationalId": national_id, "fullName": "An"})
    result = answer["data"]["verifyPerson"]
    assert (result["found"], result["match"], result["status"]) == (False, False, None)
    assert result["fields"] == fields
    assert audit(api_db, result["reference"])[2] == outcome  # type: ignore[index]


def test_as_of_answers_for_that_day(ask: Callable[..., Any]) -> None:
    # Every claimed field matches, so the status is told, as it was on the day.
    claim = {"nationalId": "001080000004", "birthDate": "1980-05-01"}
    assert ask(VERIFY, claim=claim, asOf="2026-02-01")["data"]["verifyPerson"]["status"] \
        == "ALIVE"
    assert ask(VERIFY, claim=claim, asOf="2026-04-01")["data"]["verifyPerson"]["status"] \
        == "DECEASED"
    before_birth = ask(VERIFY, claim=claim, asOf="1970-01-01")["data"]["verifyPerson"]
    assert (before_birth["found"], before_birth["match"]) == (True, True)


def test_before_the_first_name_version_the_first_is_compared(ask: Callable[..., Any]) -> None:
    claim = {"nationalId": "001182000002", "fullName": "Trần Thị Hoa"}
    for day in ("1900-01-01", "1982-07-08", "2025-12-31", "2026-01-01", "2090-01-01"):
        result = ask(VERIFY, claim=claim, asOf=day)["data"]["verifyPerson"]
        assert (result["found"], result["match"], result["fields"]) == (
            True, True, [{"field": "fullName", "match": True}]), day


@pytest.mark.parametrize("query", [VERIFY, BATCH])
@pytest.mark.parametrize("claim", [{"nationalId": "001182000002"},
                                   {"nationalId": "001182000002", "fullName": None},
                                   {"nationalId": "bad"}])
def test_a_claim_of_a_number_alone_is_refused(ask: Callable[..., Any], query: str,
                                              claim: dict[str, Any]) -> None:
    variables = {"claim": claim} if query is VERIFY else {"claims": [claim]}
    answer = ask(query, **variables)
    assert answer["data"] is None
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "EMPTY_CLAIM"
    assert "nationalId" in error["message"] and "fullName, birthDate, sex" in error["message"]


def test_a_batch_names_its_empty_claims(ask: Callable[..., Any],
                                        api_db: tuple[str, dict[str, str]]) -> None:
    before = _audit_count(api_db)
    answer = ask(BATCH, claims=[{"nationalId": "001182000002", "sex": "FEMALE"},
                                {"nationalId": "001080000001"}, {"nationalId": "x"}])
    [error] = answer["errors"]
    assert error["extensions"] == {"code": "EMPTY_CLAIM", "claims": [1, 2]}
    assert "Claims 1, 2" in error["message"]
    assert _audit_count(api_db) == before, "a refused batch is not looked up or recorded"


def _audit_count(api_db: tuple[str, dict[str, str]]) -> int:
    engine = db.make_engine(api_db[0], Settings.from_env({}))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM audit.access_record"))
                       .scalar_one())
    finally:
        engine.dispose()


# Days around every date the registry holds for the person who died on 2026-03-01 (born
# 1980-05-01, names recorded from the first load): an answer that changed at any of them
# would give the date away to a caller who bisects over asOf.
BISECTED_DAYS = ["0001-01-01", "1900-01-01", "1980-04-30", "1980-05-01", "1980-05-02",
                 "2000-01-01", "2025-12-31", "2026-01-01", "2026-01-02", "2026-02-28",
                 "2026-03-01", "2026-03-02", "2026-06-01", "2099-12-31", "9999-12-31"]


@pytest.mark.parametrize("claim", [
    {"nationalId": "001080000004"},                              # the number alone
    {"nationalId": "001080000004", "fullName": "Lê Văn Sai"},    # a wrong name
    {"nationalId": "001080000004", "birthDate": "1980-05-02"},   # a wrong birth date
    {"nationalId": "001080000004", "fullName": "Nguyễn Văn Bình",
     "birthDate": "1999-01-01"},                                 # one of two wrong
    {"nationalId": "001080000005", "fullName": "Lê Văn Sai"},    # a number not held
])
def test_bisecting_over_as_of_learns_nothing(ask: Callable[..., Any],
                                             claim: dict[str, Any]) -> None:
    def answers(query: str, **variables: Any) -> list[Any]:
        out = []
        for day in BISECTED_DAYS:
            answer = ask(query, asOf=day, **variables)
            out.append(json.dumps(_without_references(answer), sort_keys=True))
        return out

    one = answers(VERIFY, claim=claim)
    assert len(set(one)) == 1, set(one)
    batch = answers(BATCH_AS_OF, claims=[claim] * 3)
    assert len(set(batch)) == 1, set(batch)
    if len(claim) > 1:
        result = json.loads(one[0])["data"]["verifyPerson"]
        assert result["match"] is False and result["status"] is None


def _without_references(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_references(v) for k, v in value.items() if k != "reference"}
    if isinstance(value, list):
        return [_without_references(v) for v in value]
    return value


def test_a_client_without_the_scope_gets_an_error_not_data(ask: Callable[..., Any]) -> None:
    answer = ask(VERIFY, key="reader", claim={"nationalId": "001182000002"})
    assert answer["data"] is None
    assert "verify:person" in answer["errors"][0]["message"]


def test_a_batch_is_answered_in_order_with_one_audit_record_each(
        ask: Callable[..., Any], api_db: tuple[str, dict[str, str]]) -> None:
    claims = [{"nationalId": "001210000003", "fullName": "Nguyễn Minh Khôi"},
              {"nationalId": "bad", "sex": "MALE"},
              {"nationalId": "001080000001", "fullName": "Nguyễn Văn Bình"}]
    results = ask(BATCH, claims=claims)["data"]["verifyPersons"]
    assert [(r["nationalId"], r["found"], r["match"]) for r in results] == [
        ("001210000003", True, True), ("bad", False, False), ("001080000001", True, False)]
    assert [audit(api_db, r["reference"])[2] for r in results] == [  # type: ignore[index]
        "match", "invalid", "mismatch"]


def test_a_batch_over_the_limit_is_refused(ask: Callable[..., Any]) -> None:
    answer = ask(BATCH, claims=[{"nationalId": "001182000002"}] * 1001)
    assert "data" not in answer, "refused before execution"
    assert "at most 1000" in answer["errors"][0]["message"]
    assert answer["errors"][0]["extensions"]["code"] == "BATCH_TOO_LARGE"


def test_introspection_only_in_development_mode(client: TestClient,
                                                api_db: tuple[str, dict[str, str]]) -> None:
    headers = {"Authorization": f"Bearer {api_db[1]['verifier']}"}
    query = {"query": "{ __schema { queryType { name } } }"}
    refused = client.post("/graphql", json=query, headers=headers).json()
    assert "introspection" in refused["errors"][0]["message"].lower()
    dev = create_app(Settings.from_env({"MDR_DATABASE_URL": api_db[0], "MDR_API_DEV": "1"}))
    with TestClient(dev) as dev_client:
        allowed = dev_client.post("/graphql", json=query, headers=headers).json()
    assert allowed["data"]["__schema"]["queryType"]["name"] == "Query"


def test_the_access_log_shows_who_asked_and_is_itself_recorded(
        ask: Callable[..., Any]) -> None:
    ask(VERIFY, claim={"nationalId": "001210000003", "fullName": "x"})
    query = """query($id: String!) {
      accessLog(nationalId: $id) { edges { node { client operation outcome } } } }"""
    first = nodes(ask(query, key="dpo", id="001210000003")["data"]["accessLog"])
    assert {"client": "verifier", "operation": "verifyPerson", "outcome": "mismatch"} in first
    second = nodes(ask(query, key="dpo", id="001210000003")["data"]["accessLog"])
    assert second[0] == {"client": "dpo", "operation": "accessLog", "outcome": "read"}
    refused = ask(query, key="verifier", id="001210000003")
    assert refused["data"] is None and "audit:read" in refused["errors"][0]["message"]


def test_too_many_aliases_are_refused_readably(ask: Callable[..., Any]) -> None:
    fields = " ".join(f'a{i}: verifyPerson(claim: {{nationalId: "1"}}) {{ found }}'
                      for i in range(21))
    answer = ask("{ " + fields + " }")
    assert "aliases" in answer["errors"][0]["message"]


def test_an_unexpected_failure_is_masked_with_an_error_id(
        ask: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from graphql_api.resolvers import population

    monkeypatch.setattr(population, "_LOOKUP", "SELECT * FROM no_such_table")
    answer = ask(VERIFY, claim={"nationalId": "001182000002", "sex": "FEMALE"})
    error = answer["errors"][0]
    assert "no_such_table" not in str(answer)
    assert error["extensions"]["errorId"] in error["message"]
    assert error["extensions"]["errorId"] in caplog.text and "no_such_table" in caplog.text


def test_rate_limit_answers_429_with_retry_after(api_db: tuple[str, dict[str, str]]) -> None:
    settings = Settings.from_env({"MDR_DATABASE_URL": api_db[0], "MDR_API_RATE_LIMIT": "1"})
    headers = {"Authorization": f"Bearer {api_db[1]['verifier']}"}
    with TestClient(create_app(settings)) as limited:
        codes = [limited.post("/graphql", json={"query": "{ __typename }"},
                              headers=headers) for _ in range(7)]
    assert [r.status_code for r in codes[:5]] == [200] * 5
    assert codes[-1].status_code == 429
    assert int(codes[-1].headers["retry-after"]) >= 1


PERSON = """query($id: String!, $asOf: Date) {
  person(nationalId: $id, asOf: $asOf) {
    status name { fullName } residences { addressLine since commune { code fullName } }
    household { householdCode relation memberIds } family { relation nationalId } } }"""


def test_a_person_as_of_different_days(ask: Callable[..., Any]) -> None:
    def on(day: str, who: str = "001080000004") -> Any:
        return ask(PERSON, key="registry-reader", id=who, asOf=day)["data"]["person"]

    before = on("2020-01-01")
    assert before["residences"] == [{"addressLine": "12 Phố Hàng Bông", "since": "2010-01-01",
                                     "commune": {"code": "00004",
                                                 "fullName": "Phường Trúc Bạch"}}]
    after = on("2026-01-01")
    assert after["status"] == "ALIVE"
    assert after["residences"][0]["commune"]["fullName"] == "Phường Ba Đình"
    dead = on("2026-04-01")
    assert dead["status"] == "DECEASED" and dead["residences"] == []
    child = on("2026-01-01", "001210000003")
    assert {(f["relation"], f["nationalId"]) for f in child["family"]} == {
        ("father", "001080000001"), ("mother", "001182000002")}
    assert child["household"]["memberIds"] == ["001080000001", "001182000002", "001210000003"]
    assert ask(PERSON, key="registry-reader", id="001080009999")["data"]["person"] is None


def test_reading_a_person_needs_read_person_and_is_audited(ask: Callable[..., Any]) -> None:
    refused = ask(PERSON, key="verifier", id="001182000002")
    # A nullable field: null, with the error saying why.
    assert refused["data"] == {"person": None}
    assert "read:person" in refused["errors"][0]["message"]
    ask(PERSON, key="registry-reader", id="001182000002")
    log = nodes(ask('{ accessLog(nationalId: "001182000002") { edges { node '
                    '{ client operation outcome } } } }', key="dpo")["data"]["accessLog"])
    assert {"client": "registry-reader", "operation": "person", "outcome": "read"} in log
