"""Protection over HTTP: no schema hints in production, cached parsing and validation,
invalid text refused cleanly, the statement timeout in force on API connections and
answered as a timeout."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import graphql
import psycopg
import pytest
import sqlalchemy
from sqlalchemy import make_url
from starlette.testclient import TestClient
from strawberry.schema import schema as strawberry_schema

from graphql_api.app import create_app
from graphql_api.bounds import Documents
from graphql_api.limits import statement_timeout
from graphql_api.resolvers import population
from mdr import db
from mdr.cluster import LocalCluster
from mdr.settings import Settings
from tests.api.support import database_with_client, poster, production_app

VERIFY = """query($claim: PersonClaim!) {
  verifyPerson(claim: $claim) { found match fields { field match } } }"""
PERSON = "query($id: String!) { person(nationalId: $id) { status } }"


@pytest.fixture(scope="module")
def api(cluster: LocalCluster, ref_template: str, settings: Settings,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with database_with_client(cluster, ref_template, tmp_path_factory.mktemp("protect"),
                              settings, "protected") as api:
        yield api


@pytest.fixture(scope="module")
def client(api: tuple[str, str]) -> Iterator[TestClient]:
    # A rate limit far above what the tests send: the limiter is in the path, as in production.
    with production_app(api[0]) as test_client:
        yield test_client


@pytest.fixture
def post(client: TestClient, api: tuple[str, str]) -> Callable[..., Any]:
    return poster(client, api[1])


# Mistakes whose graphql-core message would suggest a name from the schema.
MISTAKES = [
    ('{ verifyPerso(claim: {nationalId: "1"}) { found } }', "verifyPerson"),
    ('{ verifyPerson(claim: {nationalId: "1"}, asOff: "2020-01-01") { found } }', "asOf"),
    ('{ verifyPerson(claim: {nationalId: "1", fullNam: "A"}) { found } }', "fullName"),
    ('{ verifyPerson(claim: {nationalId: "1", sex: MAL}) { found } }', "MALE"),
    ('query($c: PersonClam!) { verifyPerson(claim: $c) { found } }', "PersonClaim"),
]


@pytest.mark.parametrize(("query", "name"), MISTAKES)
def test_errors_do_not_suggest_schema_names_in_production(
        post: Callable[..., Any], query: str, name: str) -> None:
    errors = post(query)["errors"]
    assert errors, "the mistake should be reported"
    assert not any("Did you mean" in e["message"] or f"'{name}'" in e["message"]
                   for e in errors), errors


def test_variable_errors_do_not_suggest_input_fields(post: Callable[..., Any]) -> None:
    errors = post(VERIFY, claim={"nationalId": "1", "fullNam": "A"})["errors"]
    assert "fullNam" in errors[0]["message"]
    assert "Did you mean" not in errors[0]["message"], errors
    assert "'fullName'" not in errors[0]["message"], errors


# Mistakes whose graphql-core message names schema types, fields or arguments the caller
# did not write: (query, variables, a name that must not appear).
NAMING_MISTAKES = [
    ('{ verifyPerson(claim: {nationalId: "1"}) { foun } }', {}, "PersonVerification"),
    ('{ adminUnits { edges { node { parent { x } } } } }', {}, "AdminUnit"),
    ('{ verifyPerson(claim: {nationalId: "1"}, asOff: "x") { found } }', {}, "Query"),
    ("{ verifyPerson { found } }", {}, "PersonClaim"),
    ('{ verifyPerson(claim: {nationalId: "1"}) }', {}, "PersonVerification"),
    ('{ verifyPerson(claim: {nationalId: "1"}) { found { x } } }', {}, "Boolean"),
    ('{ verifyPerson(claim: {fullName: "A"}) { found } }', {}, "nationalId"),
    ('{ verifyPerson(claim: {nationalId: "1", sex: MAL}) { found } }', {}, "Sex"),
    ("query($c: String!) { verifyPerson(claim: $c) { found } }", {"c": "1"}, "PersonClaim"),
    ('{ unitAt(lon: 1, lat: 1) { ... on PersonVerification { found } } }', {}, "AdminUnit"),
    ("query($c: PersonClaim!) { verifyPerson(claim: $c) { found } }", {"c": {"fullName": "A"}},
     "nationalId"),
    ("query($c: PersonClaim!) { verifyPerson(claim: $c) { found } }",
     {"c": {"nationalId": "1", "sex": "MAL"}}, "Sex"),
]


@pytest.mark.parametrize(("query", "variables", "hidden"), NAMING_MISTAKES)
def test_production_errors_name_nothing_the_caller_did_not_write(
        post: Callable[..., Any], query: str, variables: dict[str, Any], hidden: str) -> None:
    errors = post(query, **variables)["errors"]
    assert errors, "the mistake should be reported"
    written = set(re.findall(r"\w+", query + json.dumps(variables)))
    for error in errors:
        message = error["message"]
        assert hidden not in message, message
        for quoted in re.findall(r"'([^']*)'", message):
            assert quoted == "…" or set(re.findall(r"\w+", quoted)) <= written, message


def test_development_mode_names_the_schema(api: tuple[str, str]) -> None:
    settings = Settings.from_env({"MDR_DATABASE_URL": api[0], "MDR_API_DEV": "1"})
    with TestClient(create_app(settings)) as dev:
        answer = dev.post("/graphql", json={"query": NAMING_MISTAKES[0][0]},
                          headers={"Authorization": f"Bearer {api[1]}"}).json()
    assert "on type 'PersonVerification'" in answer["errors"][0]["message"]


def test_development_mode_keeps_the_suggestions(api: tuple[str, str]) -> None:
    settings = Settings.from_env({"MDR_DATABASE_URL": api[0], "MDR_API_DEV": "1"})
    with TestClient(create_app(settings)) as dev:
        answer = dev.post("/graphql", json={"query": MISTAKES[0][0]},
                          headers={"Authorization": f"Bearer {api[1]}"}).json()
    assert "Did you mean 'verifyPerson'" in answer["errors"][0]["message"]


def test_a_repeated_query_is_parsed_and_validated_once(
        post: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"parse": 0, "validate": 0}
    parse_document = graphql.language.parser.Parser.parse_document
    validate = graphql.validate

    def counting_parse(self: Any) -> Any:
        calls["parse"] += 1
        return parse_document(self)

    def counting_validate(*args: Any, **kwargs: Any) -> Any:
        calls["validate"] += 1
        return validate(*args, **kwargs)

    monkeypatch.setattr(graphql.language.parser.Parser, "parse_document", counting_parse)
    # strawberry calls graphql-core's validate through its own module's name for it.
    monkeypatch.setattr(strawberry_schema, "validate", counting_validate)
    # An operation no other test sent, so the caches start without it; person() is
    # answered by the general executor (verifications may take the compiled path).
    query = PERSON.replace("query(", f"query Read{uuid.uuid4().hex}(")
    assert post(query, id="001182000002")["data"]["person"]["status"] == "ALIVE"
    # Parsed by strawberry and once by the compiler deciding it is not a verification.
    first = dict(calls)
    assert first["validate"] == 1 and first["parse"] >= 1
    for _ in range(4):
        assert post(query, id="001182000002")["data"]["person"]["status"] == "ALIVE"
    assert calls == first, "a repeated query is neither parsed nor validated again"
    post(PERSON.replace("query(", f"query Read{uuid.uuid4().hex}("), id="001182000002")
    assert calls["validate"] == 2 and calls["parse"] > first["parse"], \
        "a new text is parsed and validated"


def test_the_caches_keep_no_long_query_text(post: Callable[..., Any],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"validate": 0}
    validate = graphql.validate

    def counting_validate(*args: Any, **kwargs: Any) -> Any:
        calls["validate"] += 1
        return validate(*args, **kwargs)

    monkeypatch.setattr(strawberry_schema, "validate", counting_validate)
    # A validation result keeps its document, which keeps its text: not for 100 KiB.
    query = "# " + "x" * (100 << 10) + "\n" + PERSON.replace(
        "query(", f"query Long{uuid.uuid4().hex}(")
    for _ in range(2):
        assert post(query, id="001182000002")["data"]["person"]["status"] == "ALIVE"
    assert calls["validate"] == 2
    # Parsed documents are kept up to a total of characters, the oldest leaving first.
    documents = Documents(entries=10, characters=100)
    for name in ("a", "b", "c"):
        documents.parse(f"{{ {name}: __typename }}" + " " * 30)
    assert len(documents._documents) == 2 and documents._size <= 100


# Where a String argument can sit; each gets the text through a variable.
STRING_ARGUMENTS = [
    (VERIFY, lambda text: {"claim": {"nationalId": text, "sex": "FEMALE"}}),
    (VERIFY, lambda text: {"claim": {"nationalId": "001182000002", "fullName": text}}),
    ("""query($claims: [PersonClaim!]!) { verifyPersons(claims: $claims) { found } }""",
     lambda text: {"claims": [{"nationalId": "001182000002", "sex": "FEMALE"},
                            {"nationalId": text, "sex": "FEMALE"}]}),
    ("query($id: String!) { person(nationalId: $id) { status } }", lambda text: {"id": text}),
    ("query($id: String!) { accessLog(nationalId: $id) { edges { node { client } } } }",
     lambda text: {"id": text}),
]


def _clean(answer: Any) -> None:
    """An answer, or errors a person can read; never a masked (unexpected) error."""
    for error in answer.get("errors") or ():
        assert error.get("extensions", {}).get("code") != "INTERNAL", error


@pytest.mark.parametrize(("query", "variables"), STRING_ARGUMENTS)
def test_nul_in_any_string_argument_is_answered_or_refused_cleanly(
        post: Callable[..., Any], query: str, variables: Callable[[str], Any]) -> None:
    answer = post(query, **variables("0011820\x0000002"))
    _clean(answer)
    assert answer.get("data") is not None


def test_nul_in_string_literals_is_answered_or_refused_cleanly(
        post: Callable[..., Any]) -> None:
    # Written into the query text with GraphQL's \u0000 escape instead of a variable.
    answer = post('{ person(nationalId: "0011820\\u000000002") { status } '
                  'accessLog(nationalId: "\\u0000") { edges { node { client } } } '
                  'verifyPerson(claim: {nationalId: "001182000002", fullName: "A\\u0000"}) '
                  '{ found match } }')
    _clean(answer)
    assert answer["data"] == {"person": None, "accessLog": {"edges": []},
                              "verifyPerson": {"found": True, "match": False}}


@pytest.mark.parametrize(("query", "variables"), STRING_ARGUMENTS)
def test_a_lone_surrogate_in_any_string_argument_is_refused_with_400(
        client: TestClient, api: tuple[str, str], query: str,
        variables: Callable[[str], Any]) -> None:
    # json.dumps writes the lone surrogate as the escape \ud800, as a broken client would.
    body = json.dumps({"query": query, "variables": variables("\ud800")})
    response = client.post("/graphql", content=body.encode(), headers={
        "Authorization": f"Bearer {api[1]}", "Content-Type": "application/json"})
    assert response.status_code == 400
    assert "surrogate" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(("body", "says"), [
    (b'{"query": "{ __typename }", "variables": {"a": "\xff\xfe"}}', "UTF-8"),
    (b'{"query": "{ __typename }"', "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "too deeply"),
    (b'{"query": "{ verifyPerson(claim: {nationalId: \\"\\ud800\\"}) { found } }"}',
     "surrogate"),
])
def test_a_body_that_is_not_json_text_gets_400_with_a_reason(
        client: TestClient, api: tuple[str, str], body: bytes, says: str) -> None:
    response = client.post("/graphql", content=body, headers={
        "Authorization": f"Bearer {api[1]}", "Content-Type": "application/json"})
    assert response.status_code == 400
    assert says in response.json()["errors"][0]["message"]


def test_an_escaped_surrogate_in_the_query_text_is_a_syntax_error(
        post: Callable[..., Any]) -> None:
    answer = post('{ person(nationalId: "\\ud800") { status } }')
    assert "Invalid Unicode escape sequence" in answer["errors"][0]["message"]


# A registry read that would take 30 s; the API's sessions stop it at 300 ms.
SLOW_LOOKUP = "SELECT pg_sleep(30) FROM unnest($1::text[])"
CHECK = VERIFY.replace("query(", "query CheckHoa(")
HOA = {"nationalId": "001182000002", "fullName": "Trần Thị Hoa"}


@pytest.fixture
def stopped_at_300_ms(api: tuple[str, str]) -> Iterator[tuple[TestClient, TestClient]]:
    """Apps whose statements stop at 300 ms: with compiled plans, and without."""
    settings = Settings.from_env({"MDR_DATABASE_URL": api[0],
                                  "MDR_STATEMENT_TIMEOUT_MS": "300"})
    with TestClient(create_app(settings)) as compiled, \
            TestClient(create_app(settings, compile_operations=False)) as general:
        yield compiled, general


def _timeout_error(answer: Any) -> Any:
    """The one error of an answer, which must be a readable timeout naming the limit."""
    [error] = answer["errors"]
    assert error["extensions"] == {"code": "TIMEOUT", "limitMs": 300}, error
    assert "300 ms" in error["message"] and "retry later" in error["message"]
    assert "Unexpected" not in error["message"] and "errorId" not in error["extensions"]
    return error


@pytest.mark.parametrize("accept", [None, "application/graphql-response+json"])
def test_a_statement_past_the_timeout_is_answered_as_a_timeout(
        stopped_at_300_ms: tuple[TestClient, TestClient], api: tuple[str, str],
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        accept: str | None) -> None:
    monkeypatch.setattr(population, "_LOOKUP", SLOW_LOOKUP)
    headers = {"Authorization": f"Bearer {api[1]}", **({"Accept": accept} if accept else {})}
    answers = []
    for app in stopped_at_300_ms:
        caplog.clear()
        started = time.monotonic()
        with caplog.at_level(logging.DEBUG, logger="graphql_api.compiled"):
            response = app.post("/graphql", json={"query": CHECK, "variables": {"claim": HOA}},
                                headers=headers)
        assert time.monotonic() - started < 10
        # An answer with errors, as for any field's error: 200 in either media type.
        assert response.status_code == 200, response.text
        answers.append(response.json())
        # Logged once, as a warning: the limit at work, not a fault with a traceback.
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert [(r.name, r.levelno) for r in warnings] == [("mdr.api", logging.WARNING)], \
            caplog.text
        assert "CheckHoa" in warnings[0].getMessage()
        assert "canceling statement due to statement timeout" in warnings[0].getMessage()
        assert not [r for r in caplog.records if r.name == "graphql_api.compiled"], \
            "a timed-out plan answers itself: the statement is not run a second time"
    compiled, general = answers
    assert compiled == general, "the compiled plan answers a timeout as the executor does"
    assert compiled["data"] is None
    assert _timeout_error(compiled)["path"] == ["verifyPerson"]


def test_a_read_waiting_past_the_timeout_for_a_lock_is_answered_as_a_timeout(
        stopped_at_300_ms: tuple[TestClient, TestClient], api: tuple[str, str]) -> None:
    # person() reads through SQLAlchemy, which wraps the driver's error in its own.
    with psycopg.connect(make_url(api[0]).set(drivername="postgresql")
                         .render_as_string(hide_password=False)) as load:
        load.execute("LOCK TABLE population.person IN ACCESS EXCLUSIVE MODE")
        answer = stopped_at_300_ms[1].post(
            "/graphql", json={"query": PERSON, "variables": {"id": "001182000002"}},
            headers={"Authorization": f"Bearer {api[1]}"}).json()
    assert _timeout_error(answer)["path"] == ["person"]


# Errors that are not our statement timeout: the same SQLSTATE 57014 when a statement is
# cancelled on request (here by its own session), and an ordinary failure.
@pytest.mark.parametrize(("lookup", "detail"), [
    ("SELECT pg_cancel_backend(pg_backend_pid()), pg_sleep(30) FROM unnest($1::text[])",
     "canceling statement due to user request"),
    ("SELECT 1 / 0 FROM unnest($1::text[])", "division by zero"),
])
def test_other_database_errors_stay_masked(
        stopped_at_300_ms: tuple[TestClient, TestClient], api: tuple[str, str],
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        lookup: str, detail: str) -> None:
    monkeypatch.setattr(population, "_LOOKUP", lookup)
    answer = stopped_at_300_ms[0].post("/graphql", json={"query": CHECK, "variables": {
        "claim": HOA}}, headers={"Authorization": f"Bearer {api[1]}"}).json()
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "INTERNAL"
    assert error["extensions"]["errorId"] in error["message"]
    assert detail not in str(answer) and "300 ms" not in str(answer)
    assert detail in caplog.text


def test_a_timeout_is_recognised_through_sqlalchemy_and_psycopg(api: tuple[str, str]) -> None:
    # The command-line tools' connections (mdr.db): psycopg, wrapped by SQLAlchemy.
    engine = db.make_engine(api[0], Settings.from_env({"MDR_STATEMENT_TIMEOUT_MS": "50"}),
                            pool_size=1)
    try:
        with engine.connect() as conn, pytest.raises(sqlalchemy.exc.OperationalError) as caught:
            conn.execute(sqlalchemy.text("SELECT pg_sleep(30)"))
    finally:
        engine.dispose()
    assert isinstance(statement_timeout(caught.value), psycopg.errors.QueryCanceled)
    assert statement_timeout(RuntimeError("canceling statement due to statement timeout")) \
        is None


def test_graphiql_still_opens_in_a_browser_in_development_mode(api: tuple[str, str]) -> None:
    settings = Settings.from_env({"MDR_DATABASE_URL": api[0], "MDR_API_DEV": "1"})
    browser = {"Authorization": f"Bearer {api[1]}",
               "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    with TestClient(create_app(settings)) as dev:
        page = dev.get("/graphql", headers=browser)
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    with TestClient(create_app(Settings.from_env({"MDR_DATABASE_URL": api[0]}))) as prod:
        assert prod.get("/graphql", headers=browser).status_code == 404


FIVE_MIB = 5 << 20
# Five MiB of query text around a mistake, in the places a log line could copy it from.
LONG_QUERIES = [
    "# " + "x" * FIVE_MIB + "\n{ foun }",  # the line before the error, in a comment
    '{ codeList(name: "' + "x" * FIVE_MIB + '") { code } }',  # the message itself
    "{ codeList(name: SEX) { code } " + "{" * FIVE_MIB,  # a syntax error
]


@pytest.mark.parametrize("query", LONG_QUERIES)
def test_the_log_keeps_a_bounded_part_of_a_long_failing_query(
        api: tuple[str, str], caplog: pytest.LogCaptureFixture, query: str) -> None:
    settings = Settings.from_env({"MDR_DATABASE_URL": api[0], "MDR_API_MAX_BODY_BYTES":
                                  str(16 << 20), "MDR_API_MAX_TEXT": str(8 << 20)})
    with TestClient(create_app(settings)) as roomy, caplog.at_level(logging.DEBUG):
        answer = roomy.post("/graphql", json={"query": query},
                            headers={"Authorization": f"Bearer {api[1]}"}).json()
    assert answer["errors"]
    logged = sum(len(record.getMessage()) + len(record.exc_text or "")
                 for record in caplog.records)
    assert logged < 20_000, logged
