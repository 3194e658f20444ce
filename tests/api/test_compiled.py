"""Compiled plans (graphql_api/compiled.py) answer exactly as the general executor does."""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import graphql
import pytest
import strawberry
from starlette.testclient import TestClient
from strawberry.permission import BasePermission

from graphql_api.app import create_app
from graphql_api.compiled import Compiler
from graphql_api.schema import COMPILED_ENTRIES, build_schema
from mdr.settings import Settings
from tests.factories import enterprise as sample
from tests.factories.population import TRUC_BACH

ONE = """query One($claim: PersonClaim!, $asOf: Date) {
  verifyPerson(claim: $claim, asOf: $asOf) {
    nationalId found match status reference fields { field match } } }"""
SOME_FIELDS = """query($claim: PersonClaim!) {
  answer: verifyPerson(claim: $claim) { __typename match fields { __typename match field } } }"""
MANY = """query Many($claims: [PersonClaim!]!, $asOf: Date) {
  verifyPersons(claims: $claims, asOf: $asOf) { nationalId found match status reference
                                                fields { field match } } }"""
LITERAL = """{ verifyPerson(claim: {nationalId: "001182000002", fullName: "Tran Thi Hoa",
                                    sex: FEMALE}) { found match fields { field match } } }"""

HOA = {"nationalId": "001182000002", "fullName": "trần  THỊ HOA", "birthDate": "1982-07-09",
       "sex": "FEMALE"}
BINH = {"nationalId": "001080000004", "birthDate": "1980-05-01"}  # died on 2026-03-01
# Claims for every compiled entry (COMPILED_ENTRIES), each asked with every field of the
# answer (_document); an entry without claims here fails the test.
PERSON_CLAIMS = [
    HOA,
    {**HOA, "fullName": "Trần Thị Hòa", "sex": "MALE"},
    {"nationalId": "00118200000X", "sex": "FEMALE"},
    {"nationalId": "099999999999", "fullName": "Ai Đó"},
    {**BINH, "fullName": "Lê Văn Sai"},
]
# An enterprise that changed name, legal representative and (by reorganisation) the code
# of its head office's commune; and one dissolved (tests.factories.enterprise).
ENTERPRISE_CLAIMS = [
    {"code": sample.HOA_SEN, "name": "công ty cổ phần hoa sen",
     "legalRepresentativeId": sample.HOA, "headOfficeUnitCode": TRUC_BACH},
    {"code": sample.HOA_SEN, "name": sample.HOA_SEN_OLD_NAME,
     "legalRepresentativeId": sample.AN},
    {"code": sample.SEN_VANG, "headOfficeUnitCode": TRUC_BACH},
    {"code": "01234", "name": "Ai Đó"},
    {"code": sample.UNREGISTERED, "legalRepresentativeId": sample.AN},
]
ENTERPRISE_ONE = """query($claim: EnterpriseClaim!) {
  verifyEnterprise(claim: $claim) { code found match status fields { field match } } }"""
ENTRY_CASES: dict[str, list[dict[str, Any]]] = {
    "verifyPerson": [{"claim": c, "asOf": day} for c in PERSON_CLAIMS
                     for day in (None, "1980-01-01", "2026-05-01")] + [{"claim": BINH}],
    "verifyPersons": [{"claims": PERSON_CLAIMS[:3]}, {"claims": [*PERSON_CLAIMS[3:], BINH]},
                      {"claims": [BINH, HOA], "asOf": "2026-05-01"}],
    "verifyEnterprise": [{"claim": c, "asOf": day} for c in ENTERPRISE_CLAIMS
                         for day in (None, "2000-01-01", "2022-01-01", "2026-05-01")],
    "verifyEnterprises": [{"claims": ENTERPRISE_CLAIMS[:3]},
                          {"claims": ENTERPRISE_CLAIMS[3:], "asOf": "2022-01-01"}],
}
COMPILED_CASES = [
    (ONE, {"claim": HOA}),
    (ONE, {"claim": HOA, "asOf": "1980-01-01"}),
    (ONE, {"claim": BINH, "asOf": "2026-05-01"}),
    (SOME_FIELDS, {"claim": HOA}),
    (MANY, {"claims": [HOA, {"nationalId": "bad", "sex": "MALE"}, BINH],
            "asOf": "2026-05-01"}),
    (LITERAL, {}),
]
GENERAL_CASES = [
    # shapes plans leave to the general executor, and requests that are errors
    ("""query($c: PersonClaim!) { verifyPerson(claim: $c) { ...F } }
        fragment F on PersonVerification { found match }""", {"c": HOA}),
    ("""query($c: PersonClaim!, $s: Boolean!) {
          verifyPerson(claim: $c) { found match @include(if: $s) } }""", {"c": HOA, "s": False}),
    ("""query($c: PersonClaim!) { a: verifyPerson(claim: $c) { found }
                                 b: verifyPerson(claim: $c) { match } }""", {"c": HOA}),
    (ONE, {"claim": {"nationalId": 12}}),
    (ONE, {"claim": {**HOA, "sex": "OTHER"}}),
    (ONE, {}),
    ("{ verifyPerson { found } }", {}),
    ("query { nope }", {}),
    # claims of a number alone: refused (EMPTY_CLAIM)
    (ONE, {"claim": {"nationalId": "001182000002"}}),
    (ONE, {"claim": {"nationalId": "bad", "fullName": None}}),
    (MANY, {"claims": [HOA, {"nationalId": "001080000004"}]}),
    ('{ verifyPerson(claim: {nationalId: "001182000002"}) { found } }', {}),
]


@pytest.fixture(scope="module")
def clients(api_db: tuple[str, dict[str, str]]) -> Iterator[tuple[TestClient, TestClient]]:
    settings = Settings.from_env({"MDR_DATABASE_URL": api_db[0], "MDR_API_MAX_BATCH": "3",
                                  "MDR_API_MAX_COST": "300"})
    with TestClient(create_app(settings)) as compiled, \
            TestClient(create_app(settings, compile_operations=False)) as general:
        yield compiled, general


def _post(client: TestClient, key: str, query: str, variables: dict[str, Any]) -> Any:
    response = client.post("/graphql", json={"query": query, "variables": variables},
                           headers={"Authorization": f"Bearer {key}"})
    return response.status_code, response.headers["content-type"], _without_references(
        response.json())


def _without_references(value: Any) -> Any:
    """References are fresh audit ids: check each is one, then compare the rest."""
    if isinstance(value, dict):
        if "reference" in value:
            uuid.UUID(value["reference"])
        return {k: "<reference>" if k == "reference" else _without_references(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_without_references(v) for v in value]
    return value


def _answers(clients: tuple[TestClient, TestClient], key: str, query: str,
             variables: dict[str, Any]) -> tuple[Any, Any]:
    compiled, general = clients
    return _post(compiled, key, query, variables), _post(general, key, query, variables)


def _document(entry: str) -> str:
    """A query of the root field ``entry`` with every argument as a variable, selecting
    every field of its answer (and of the objects in it)."""
    field = build_schema()._schema.query_type.fields[entry]  # type: ignore[union-attr]
    variables = ", ".join(f"${name}: {argument.type}" for name, argument in field.args.items())
    arguments = ", ".join(f"{name}: ${name}" for name in field.args)
    return f"query({variables}) {{ {entry}({arguments}) {_selection(field.type)} }}"


def _selection(gql_type: Any) -> str:
    named = graphql.get_named_type(gql_type)
    if not isinstance(named, graphql.GraphQLObjectType):
        return ""
    return "{ " + " ".join(f"{name} {_selection(f.type)}" for name, f in named.fields.items()) \
        + " }"


def test_every_compiled_entry_has_cases() -> None:
    assert set(ENTRY_CASES) == set(COMPILED_ENTRIES)


@pytest.mark.parametrize(("entry", "variables"), [
    (entry, variables) for entry in COMPILED_ENTRIES
    for variables in ENTRY_CASES.get(entry, [])])
def test_every_entry_answers_as_the_general_executor(
        clients: tuple[TestClient, TestClient], api_db: tuple[str, dict[str, str]],
        caplog: pytest.LogCaptureFixture, entry: str, variables: dict[str, Any]) -> None:
    test_plans_answer_as_the_general_executor(clients, api_db, caplog, _document(entry),
                                              variables)


@pytest.mark.parametrize(("query", "variables"), COMPILED_CASES)
def test_plans_answer_as_the_general_executor(clients: tuple[TestClient, TestClient],
                                              api_db: tuple[str, dict[str, str]],
                                              caplog: pytest.LogCaptureFixture,
                                              query: str, variables: dict[str, Any]) -> None:
    assert Compiler(build_schema(), COMPILED_ENTRIES).plan(query, None) is not None
    with caplog.at_level(logging.DEBUG, logger="graphql_api.compiled"):
        compiled, general = _answers(clients, api_db[1]["verifier"], query, variables)
    assert not caplog.records, "the plan gave way to the general executor"
    assert compiled == general
    assert compiled[0] == 200 and "errors" not in compiled[2]


@pytest.mark.parametrize(("query", "variables"), GENERAL_CASES)
def test_other_requests_get_the_general_executors_answer(
        clients: tuple[TestClient, TestClient], api_db: tuple[str, dict[str, str]],
        query: str, variables: dict[str, Any]) -> None:
    compiled, general = _answers(clients, api_db[1]["verifier"], query, variables)
    assert compiled == general


def _selecting(count: int, field: str = "found") -> str:
    """A verification of one claim selecting ``field`` under ``count`` aliases."""
    aliases = " ".join(f"a{i}: {field}" for i in range(count))
    return f"query($claim: PersonClaim!) {{ verifyPerson(claim: $claim) {{ {aliases} }} }}"


MANY_FIELDS = "query($claims: [PersonClaim!]!) { verifyPersons(claims: $claims) { " \
    + " ".join(f"f{i}: fields {{ field match }}" for i in range(12)) + " } }"
# Every limit, answered alike by plans and the general executor: (query, variables, the
# HTTP status, the error's code or, for validation, its message).
LIMIT_CASES = [
    (_selecting(25), {"claim": HOA}, 200, "25 aliases found. Allowed: 20"),
    ("""query($c: [PersonClaim!]!) { a: verifyPersons(claims: $c) { found }
                                   b: verifyPersons(claims: $c) { found } }""",
     {"c": [HOA, HOA]}, 200, "BATCH_TOO_LARGE"),
    (ONE, {"claim": {**HOA, "fullName": "A" * 257}}, 200, "VALUE_TOO_LONG"),
    (ONE, {"claim": {"nationalId": "0" * 1_900}}, 200, "VALUE_TOO_LONG"),
    (MANY_FIELDS, {"claims": [HOA] * 3}, 200, "TOO_COSTLY"),
    (ONE, {"claim": HOA, "padding": "x" * 80_000}, 413, "BODY_TOO_LARGE"),
    # Enterprise verification is bounded alike.
    (ENTERPRISE_ONE, {"claim": {**ENTERPRISE_CLAIMS[0], "name": "A" * 257}}, 200,
     "VALUE_TOO_LONG"),
    ("""query($c: [EnterpriseClaim!]!) { a: verifyEnterprises(claims: $c) { found }
                                       b: verifyPersons(claims: [{nationalId: "1", sex: MALE}])
                                          { found } }""",
     {"c": ENTERPRISE_CLAIMS[:3]}, 200, "BATCH_TOO_LARGE"),
]


@pytest.mark.parametrize(("query", "variables", "status", "says"), LIMIT_CASES)
def test_plans_apply_every_limit_the_general_executor_applies(
        clients: tuple[TestClient, TestClient], api_db: tuple[str, dict[str, str]],
        query: str, variables: dict[str, Any], status: int, says: str) -> None:
    compiled, general = _answers(clients, api_db[1]["verifier"], query, variables)
    assert compiled == general
    assert compiled[0] == status
    [error] = compiled[2]["errors"]
    assert says in (error["message"], error.get("extensions", {}).get("code")), error


def test_a_document_over_a_validation_limit_gets_no_plan() -> None:
    compiler = Compiler(build_schema(), COMPILED_ENTRIES)
    assert compiler.plan(_selecting(20), None) is not None
    assert compiler.plan(_selecting(21), None) is None


def test_a_client_without_the_scope_gets_the_same_refusal(
        clients: tuple[TestClient, TestClient], api_db: tuple[str, dict[str, str]]) -> None:
    compiled, general = _answers(clients, api_db[1]["reader"], ONE, {"claim": HOA})
    assert compiled == general
    assert compiled[2]["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_batch_over_the_limit_gets_the_same_error(
        clients: tuple[TestClient, TestClient], api_db: tuple[str, dict[str, str]]) -> None:
    compiled, general = _answers(clients, api_db[1]["verifier"], MANY, {"claims": [HOA] * 4})
    assert compiled == general
    assert compiled[2]["errors"][0]["extensions"]["code"] == "BATCH_TOO_LARGE"


@pytest.mark.parametrize(("query", "variables"), [
    (ONE, {"claim": {"nationalId": "001182000002"}}),
    (MANY, {"claims": [HOA, {"nationalId": "001080000004"}]})])
def test_an_empty_claim_gets_the_same_refusal(
        clients: tuple[TestClient, TestClient], api_db: tuple[str, dict[str, str]],
        query: str, variables: dict[str, Any]) -> None:
    compiled, general = _answers(clients, api_db[1]["verifier"], query, variables)
    assert compiled == general
    assert compiled[2]["data"] is None
    assert compiled[2]["errors"][0]["extensions"]["code"] == "EMPTY_CLAIM"


def test_each_entry_takes_its_fields_arguments() -> None:
    compiler = Compiler(build_schema(), COMPILED_ENTRIES)
    for entry, resolve in COMPILED_ENTRIES.items():
        plan = compiler.plan(_document(entry), None)
        assert plan is not None and plan.resolve is resolve
        inspect.signature(resolve).bind(None, **{keyword: None for keyword, _ in
                                                 plan.arguments.values()})


class _Weekdays(BasePermission):
    """A permission that is not a scope: the plan cannot check it itself."""

    message = "Only on weekdays."

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return True


async def _forty_two() -> int:
    return 42


@strawberry.type
class _Guarded:
    answer: int = strawberry.field(resolver=_forty_two, permission_classes=[_Weekdays])


def test_a_field_with_another_permission_class_is_left_to_the_general_path() -> None:
    compiler = Compiler(strawberry.Schema(query=_Guarded), {"answer": _forty_two})
    assert compiler.plan("{ answer }", None) is None


@pytest.mark.parametrize(("padding", "status", "code"), [
    (5 << 19, 200, None),  # 2.5 MiB: within the limit
    (7 << 19, 413, "BODY_TOO_LARGE"),  # 3.5 MiB: over it
])
def test_the_body_limit_is_the_same_on_both_paths(
        api_db: tuple[str, dict[str, str]], padding: int, status: int, code: str | None
) -> None:
    """The one limit in force (MDR_API_MAX_BODY_BYTES, here 3 MiB) decides for both
    executors, whatever size the compiled path might have had in mind."""
    limit = 3 << 20
    settings = Settings.from_env({"MDR_DATABASE_URL": api_db[0],
                                  "MDR_API_MAX_BODY_BYTES": str(limit),
                                  "MDR_API_MAX_TEXT": str(4 << 20)})
    with TestClient(create_app(settings)) as compiled, \
            TestClient(create_app(settings, compile_operations=False)) as general:
        answers = _answers((compiled, general), api_db[1]["verifier"], ONE,
                           {"claim": HOA, "padding": "x" * padding})
    assert answers[0] == answers[1]
    assert answers[0][0] == status
    if code is None:
        assert answers[0][2]["data"]["verifyPerson"]["match"] is True
    else:
        [error] = answers[0][2]["errors"]
        assert error["extensions"] == {"code": code, "limitBytes": limit}
