"""The enterprise API over HTTP: verification per field, look-ups as of a day, the public
register entry, a person's roles, scopes and the audit trail (tests.factories.enterprise)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

import graphql
import httpx
import pytest
from sqlalchemy import text

from graphql_api.auth import create_client
from graphql_api.schema import build_schema
from mdr import db
from mdr.cluster import LocalCluster
from mdr.settings import Settings
from tests.api.support import nodes, populated_database, poster, production_app, served
from tests.conftest import drop_database
from tests.factories import enterprise as sample
from tests.factories.population import HANOI_WARD, TRUC_BACH

Ask = Callable[..., Any]

VERIFY = """query($claim: EnterpriseClaim!, $asOf: Date) {
  verifyEnterprise(claim: $claim, asOf: $asOf) {
    code found match status reference fields { field match } } }"""
VERIFY_MANY = """query($claims: [EnterpriseClaim!]!, $asOf: Date) {
  verifyEnterprises(claims: $claims, asOf: $asOf) { code found match status
                                                    fields { field match } } }"""
ENTERPRISE = """query($code: String!, $asOf: Date) { enterprise(code: $code, asOf: $asOf) {
  code foundingDate legalForm status successorCode
  name { name foreignName abbreviation since }
  headOffice { addressLine since commune { code fullName } }
  charterCapital { amount currency }
  lines { industryCode main }
  representatives { nationalId title since }
  owners { nationalId enterpriseCode share enterprise { code name { name } } }
  branches { code kind name commune { code } } } }"""
ROLES = """query($id: String!, $asOf: Date) { enterprisesOf(nationalId: $id, asOf: $asOf) {
  kind enterpriseCode title share since enterprise { name { name } status } } }"""
PUBLIC = """query($code: String!, $asOf: Date) { publicEnterprise(code: $code, asOf: $asOf) {
  code name status headOffice { addressLine commune { code } } mainLine { industryCode } } }"""
LOG = """query($id: String!) { accessLog(nationalId: $id, first: 50) {
  edges { node { client operation outcome } } } }"""

CLIENTS = {"enterprise-verifier": ["verify:enterprise"], "person-verifier": ["verify:person"],
           "enterprise-reader": ["read:enterprise"], "register": ["read:enterprise-public"],
           "dpo": ["audit:read"]}


@pytest.fixture(scope="module")
def sample_db(cluster: LocalCluster, ref_template: str, settings: Settings,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """(URL, keys by client name): the family and the enterprise sample."""
    name, url = populated_database(cluster, ref_template, tmp_path_factory.mktemp("ent"),
                                   settings)
    admin = db.make_engine(url, settings)
    with admin.begin() as conn:
        keys = {client: create_client(conn, client, scopes)
                for client, scopes in CLIENTS.items()}
    admin.dispose()
    yield url, keys
    drop_database(cluster, name)


@pytest.fixture(scope="module")
def app(sample_db: tuple[str, dict[str, str]]) -> Iterator[Any]:
    with production_app(sample_db[0]) as client:
        yield client


@pytest.fixture
def ask(app: Any, sample_db: tuple[str, dict[str, str]]) -> Ask:
    """``ask(client, query, **variables)``: the decoded answer to a query by that client."""
    def send(client: str, query: str, **variables: Any) -> Any:
        return poster(app, sample_db[1][client])(query, **variables)
    return send


def fields(answer: dict[str, Any]) -> dict[str, bool]:
    return {f["field"]: f["match"] for f in answer["fields"]}


def audit_of(url: str, reference: str) -> tuple[str, str, str]:
    engine = db.make_engine(url, Settings.from_env({}))
    with engine.connect() as conn:
        row = conn.execute(text("""SELECT c.name, r.operation, r.outcome
            FROM audit.access_record r JOIN audit.api_client c ON c.id = r.client_id
            WHERE r.reference = CAST(:r AS uuid)"""), {"r": reference}).one()
    engine.dispose()
    return row[0], row[1], row[2]


def test_a_verifier_gets_answers_per_field_over_http_and_others_are_refused(
        sample_db: tuple[str, dict[str, str]]) -> None:
    url, keys = sample_db
    # Another Unicode form, case and spacing: the same name.
    name = unicodedata.normalize("NFD", "CÔNG TY  cổ phần HOA Sen")
    claim = {"code": sample.HOA_SEN, "name": name,
             "legalRepresentativeId": sample.HOA, "headOfficeUnitCode": sample.BA_DINH}
    with served(url) as address:
        def post(key: str, claim: dict[str, Any]) -> Any:
            response = httpx.post(address, json={"query": VERIFY, "variables": {
                "claim": claim}}, headers={"Authorization": f"Bearer {key}"}, timeout=10)
            assert response.status_code == 200, response.text
            return response.json()

        yes = post(keys["enterprise-verifier"], claim)["data"]["verifyEnterprise"]
        wrong = post(keys["enterprise-verifier"], {**claim, "name": "Công ty Cổ phần Hoa Lan",
                                                   "legalRepresentativeId": sample.AN})
        refused = post(keys["person-verifier"], claim)
    assert (yes["code"], yes["found"], yes["match"], yes["status"]) == (
        sample.HOA_SEN, True, True, "ACTIVE")
    assert fields(yes) == {"name": True, "legalRepresentativeId": True,
                           "headOfficeUnitCode": True}
    no = wrong["data"]["verifyEnterprise"]
    assert (no["found"], no["match"], no["status"]) == (True, False, None)
    assert fields(no) == {"name": False, "legalRepresentativeId": False,
                          "headOfficeUnitCode": True}
    # Nothing stored is told: neither the registered name nor who represents it.
    assert "Hoa Sen" not in str(wrong) and sample.HOA not in str(wrong)
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"] == {"code": "FORBIDDEN",
                                                  "scope": "verify:enterprise"}
    assert audit_of(url, yes["reference"]) == ("enterprise-verifier", "verifyEnterprise",
                                               "match")
    assert audit_of(url, no["reference"])[2] == "mismatch"


def test_claims_are_compared_as_of_the_day(ask: Ask) -> None:
    def verify(as_of: str | None, **claim: str) -> Any:
        return ask("enterprise-verifier", VERIFY, claim={"code": sample.HOA_SEN, **claim},
                   asOf=as_of)["data"]["verifyEnterprise"]

    # An represented Hoa Sen until 2023-06-01, Hoa since; the name changed on 2024-01-01.
    assert fields(verify("2022-01-01", legalRepresentativeId=sample.AN,
                         name=sample.HOA_SEN_OLD_NAME)) == {"legalRepresentativeId": True,
                                                            "name": True}
    assert fields(verify("2023-07-01", legalRepresentativeId=sample.AN,
                         name=sample.HOA_SEN_OLD_NAME)) == {"legalRepresentativeId": False,
                                                            "name": True}
    assert fields(verify("2026-01-01", name=sample.HOA_SEN_OLD_NAME,
                         legalRepresentativeId=sample.HOA)) == {"name": False,
                                                                "legalRepresentativeId": True}
    # The foreign-language name is a name of the enterprise too, from when it was registered.
    assert verify("2026-01-01", name="hoa sen joint stock company")["match"] is True
    assert verify("2020-01-01", name="hoa sen joint stock company")["match"] is False
    # Before its founding, found all the same, compared with the first versions.
    early = verify("2000-01-01", legalRepresentativeId=sample.AN)
    assert (early["found"], early["match"], early["status"]) == (True, True, "ACTIVE")


@pytest.mark.parametrize(("day", "unit", "expected"), [
    ("2020-01-01", sample.QUAN_THANH, True),
    ("2026-01-01", sample.BA_DINH, True),      # Quán Thánh went whole into Ba Đình
    ("2026-01-01", sample.QUAN_THANH, False),  # no longer a ward that day
    # On 2020-01-01 code 00004 named Phường Trúc Bạch; Ba Đình took the code in 2025.
    ("2020-01-01", TRUC_BACH, False),
    ("2026-01-01", HANOI_WARD, False),
])
def test_the_head_office_answers_to_the_code_of_its_commune_on_the_day(
        ask: Ask, day: str, unit: str, expected: bool) -> None:
    answer = ask("enterprise-verifier", VERIFY, asOf=day, claim={
        "code": sample.HOA_SEN, "headOfficeUnitCode": unit})["data"]["verifyEnterprise"]
    assert answer["match"] is expected


def test_status_is_told_as_of_the_day_and_only_on_a_match(ask: Ask) -> None:
    def verify(day: str, representative: str) -> tuple[bool, str | None]:
        answer = ask("enterprise-verifier", VERIFY, asOf=day, claim={
            "code": sample.SEN_VANG, "legalRepresentativeId": representative})
        return answer["data"]["verifyEnterprise"]["match"], \
            answer["data"]["verifyEnterprise"]["status"]

    # Sen Vàng was dissolved on 2025-01-01; its record (An its representative) stays.
    assert verify("2020-01-01", sample.AN) == (True, "ACTIVE")
    assert verify("2026-01-01", sample.AN) == (True, "DISSOLVED")
    assert verify("2026-01-01", sample.HOA) == (False, None)


@pytest.mark.parametrize(("code", "outcome", "expected"), [
    (sample.UNREGISTERED, "not-found", []),
    ("0101234566", "not-found", []),  # the check digit fails: no enterprise has that code
    ("01-0123", "invalid", [{"field": "code", "match": False}]),
    (f"{sample.HOA_SEN}\x00", "invalid", [{"field": "code", "match": False}]),
])
def test_unknown_and_malformed_codes(ask: Ask, sample_db: tuple[str, dict[str, str]],
                                     code: str, outcome: str, expected: list[Any]) -> None:
    answer = ask("enterprise-verifier", VERIFY, claim={"code": code, "name": "X"})
    result = answer["data"]["verifyEnterprise"]
    assert (result["found"], result["match"], result["status"]) == (False, False, None)
    assert result["fields"] == expected
    assert audit_of(sample_db[0], result["reference"])[2] == outcome


def test_a_code_alone_is_refused(ask: Ask) -> None:
    answer = ask("enterprise-verifier", VERIFY, claim={"code": sample.HOA_SEN})
    assert answer["data"] is None
    assert answer["errors"][0]["extensions"]["code"] == "EMPTY_CLAIM"


def test_a_batch_is_answered_in_order(ask: Ask) -> None:
    claims = [{"code": sample.SEN_VANG, "name": "Công ty TNHH Sen Vàng"},
              {"code": "nope", "name": "X"},
              {"code": sample.HOA_SEN, "legalRepresentativeId": sample.KHOI}]
    answers = ask("enterprise-verifier", VERIFY_MANY, claims=claims,
                  asOf="2020-01-01")["data"]["verifyEnterprises"]
    assert [(a["code"], a["found"], a["match"]) for a in answers] == [
        (sample.SEN_VANG, True, True), ("nope", False, False), (sample.HOA_SEN, True, False)]
    too_many = ask("enterprise-verifier", VERIFY_MANY, claims=claims * 400)
    assert too_many["errors"][0]["extensions"]["code"] == "BATCH_TOO_LARGE"


def test_an_enterprise_as_of_a_day(ask: Ask) -> None:
    before = ask("enterprise-reader", ENTERPRISE, code=sample.HOA_SEN,
                 asOf="2022-01-01")["data"]["enterprise"]
    assert (before["legalForm"], before["status"]) == ("TNHH2", "ACTIVE")
    assert before["name"]["name"] == sample.HOA_SEN_OLD_NAME
    assert before["representatives"] == [{"nationalId": sample.AN, "title": "director",
                                          "since": "2010-01-01"}]
    assert before["branches"] == []
    assert before["headOffice"]["commune"]["code"] == sample.QUAN_THANH
    assert now_office(ask) == sample.BA_DINH  # continued in the ward it went into
    now = ask("enterprise-reader", ENTERPRISE, code=sample.HOA_SEN,
              asOf="2026-01-01")["data"]["enterprise"]
    assert (now["legalForm"], now["name"]["foreignName"]) == ("CP", sample.HOA_SEN_FOREIGN)
    assert [r["nationalId"] for r in now["representatives"]] == [sample.HOA]
    assert now["lines"] == [{"industryCode": "4711", "main": True},
                            {"industryCode": "5610", "main": False}]
    assert [(o["nationalId"], o["share"]) for o in now["owners"]] == [
        (sample.AN, "60.0000"), (sample.HOA, "40.0000")]
    assert now["branches"] == [{"code": f"{sample.HOA_SEN}-001", "kind": "branch",
                                "name": "Chi nhánh Hoàn Kiếm",
                                "commune": {"code": HANOI_WARD}}]
    owned = ask("enterprise-reader", ENTERPRISE, code=sample.SEN_VANG,
                asOf="2026-01-01")["data"]["enterprise"]
    assert owned["status"] == "DISSOLVED"
    assert owned["owners"] == [{"nationalId": None, "enterpriseCode": sample.HOA_SEN,
                                "share": "100.0000", "enterprise": {
                                    "code": sample.HOA_SEN,
                                    "name": {"name": sample.HOA_SEN_NAME}}}]
    # Before its founding, and for codes it does not hold, the registry has no enterprise.
    for code, day in ((sample.HOA_SEN, "2009-12-31"), (sample.UNREGISTERED, None),
                      ("x" * 100, None)):
        assert ask("enterprise-reader", ENTERPRISE, code=code,
                   asOf=day)["data"] == {"enterprise": None}


def now_office(ask: Ask) -> str:
    office = ask("enterprise-reader", ENTERPRISE, code=sample.HOA_SEN,
                 asOf="2026-01-01")["data"]["enterprise"]["headOffice"]
    return str(office["commune"]["code"])


def test_reading_a_persons_roles_shows_in_their_access_log(ask: Ask) -> None:
    ask("enterprise-reader", ENTERPRISE, code=sample.HOA_SEN, asOf="2026-01-01")
    log = nodes(ask("dpo", LOG, id=sample.HOA)["data"]["accessLog"])
    assert {"client": "enterprise-reader", "operation": "enterprise.representatives",
            "outcome": "read"} in log
    assert {"client": "enterprise-reader", "operation": "enterprise.owners",
            "outcome": "read"} in log


def test_the_roles_a_person_held_on_a_day(ask: Ask) -> None:
    roles = ask("enterprise-reader", ROLES, id=sample.AN,
                asOf="2022-01-01")["data"]["enterprisesOf"]
    assert {(r["kind"], r["enterpriseCode"], r["title"], r["share"]) for r in roles} == {
        ("LEGAL_REPRESENTATIVE", sample.HOA_SEN, "director", None),
        ("LEGAL_REPRESENTATIVE", sample.SEN_VANG, "director", None),
        ("OWNER", sample.HOA_SEN, None, "60.0000")}
    assert {r["enterprise"]["name"]["name"] for r in roles} == {
        sample.HOA_SEN_OLD_NAME, "Công ty TNHH Sen Vàng"}
    later = ask("enterprise-reader", ROLES, id=sample.AN,
                asOf="2026-01-01")["data"]["enterprisesOf"]
    # Sen Vàng's record, dissolved, still names An as its representative.
    assert {(r["kind"], r["enterpriseCode"], r["enterprise"]["status"]) for r in later} == {
        ("OWNER", sample.HOA_SEN, "ACTIVE"),
        ("LEGAL_REPRESENTATIVE", sample.SEN_VANG, "DISSOLVED")}
    assert ask("enterprise-reader", ROLES, id=sample.KHOI)["data"]["enterprisesOf"] == []
    log = nodes(ask("dpo", LOG, id=sample.AN)["data"]["accessLog"])
    assert log.count({"client": "enterprise-reader", "operation": "enterprisesOf",
                      "outcome": "read"}) >= 2
    assert ask("enterprise-reader", ROLES, id="12ab")["data"]["enterprisesOf"] == []
    assert nodes(ask("dpo", LOG, id="12ab")["data"]["accessLog"]) == [
        {"client": "enterprise-reader", "operation": "enterprisesOf", "outcome": "invalid"}]


def test_roles_outside_the_scope_are_refused_and_the_attempt_logged(ask: Ask) -> None:
    refused = ask("register", ROLES, id=sample.KHOI)
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["scope"] == "read:enterprise"
    log = nodes(ask("dpo", LOG, id=sample.KHOI)["data"]["accessLog"])
    assert {"client": "register", "operation": "enterprisesOf", "outcome": "denied"} in log


def test_the_public_register_entry_names_no_person(ask: Ask) -> None:
    entry = ask("register", PUBLIC, code=sample.HOA_SEN,
                asOf="2026-01-01")["data"]["publicEnterprise"]
    assert entry == {"code": sample.HOA_SEN, "name": sample.HOA_SEN_NAME, "status": "ACTIVE",
                     "headOffice": {"addressLine": "5 Phố Quán Thánh",
                                    "commune": {"code": sample.BA_DINH}},
                     "mainLine": {"industryCode": "4711"}}
    # The scope opens the public entry only.
    assert ask("register", ENTERPRISE, code=sample.HOA_SEN)["errors"][0]["extensions"][
        "code"] == "FORBIDDEN"
    # Nothing reachable from the public entry can hold a person's number or role.
    schema = build_schema()._schema
    seen, todo = set(), ["PublicEnterprise"]
    while todo:
        named = schema.get_type(todo.pop())
        if isinstance(named, graphql.GraphQLObjectType) and named.name not in seen:
            seen.add(named.name)
            for name, field in named.fields.items():
                assert name not in ("nationalId", "representatives", "owners"), named.name
                todo.append(graphql.get_named_type(field.type).name)
    assert "Enterprise" not in seen and "LegalRepresentative" not in seen
