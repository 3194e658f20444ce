"""Every request is bounded before it costs anything: body size, list and text lengths,
claims across fields, the estimated cost, and each client's claim budget."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.types import Message

from graphql_api.app import create_app
from graphql_api.bounds import Bounds, Measurer, check_variables
from graphql_api.limits import RateLimiter
from graphql_api.schema import build_schema
from loaders.rules import text
from mdr.cluster import LocalCluster
from mdr.settings import Settings
from tests.api.support import database_with_client, poster, production_app, served

BATCH = """query($claims: [PersonClaim!]!) {
  verifyPersons(claims: $claims) { nationalId found match } }"""
VERIFY = """query($claim: PersonClaim!) { verifyPerson(claim: $claim) { found match } }"""
HOA = {"nationalId": "001182000002", "fullName": "Trần Thị Hoà"}
GEOMETRIES = "{ " + " ".join(
    f'a{i}: adminUnits(first: 500, level: "commune") '
    "{ edges { node { geometry parent { geometry } } } }" for i in range(20)) + " }"


def aliases(count: int, field: str = "verifyPersons(claims: $claims)") -> str:
    fields = " ".join(f"a{i}: {field} {{ found }}" for i in range(count))
    return f"query($claims: [PersonClaim!]!) {{ {fields} }}"


@pytest.fixture(scope="module")
def api(cluster: LocalCluster, ref_template: str, settings: Settings,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with database_with_client(cluster, ref_template, tmp_path_factory.mktemp("bounds"),
                              settings, "bounded") as api:
        yield api


@pytest.fixture(scope="module")
def client(api: tuple[str, str]) -> Iterator[TestClient]:
    """The production defaults (limits, claim budget), with the request limiter in the path."""
    with production_app(api[0]) as test_client:
        yield test_client


@pytest.fixture
def post(client: TestClient, api: tuple[str, str]) -> Callable[..., Any]:
    return poster(client, api[1])


def _error(answer: Any, code: str) -> dict[str, Any]:
    [error] = answer["errors"]
    assert error["extensions"]["code"] == code, error
    assert "data" not in answer, "refused before execution: no data entry"
    return dict(error)


# -- body size --------------------------------------------------------------------------

def test_the_body_limit_is_sized_from_the_batch_limit() -> None:
    assert Settings.from_env({}).max_body_bytes == (64 << 10) + 1_000 * (2 << 10)
    assert Settings.from_env({"MDR_API_MAX_BATCH": "10"}).max_body_bytes == (64 << 10) + 20480
    assert Settings.from_env({"MDR_API_MAX_BODY_BYTES": "5000"}).max_body_bytes == 5000


def test_two_million_claims_are_refused_with_413_at_once(client: TestClient,
                                                         api: tuple[str, str]) -> None:
    claim = json.dumps(HOA, ensure_ascii=False).encode()
    body = b'{"query": %s, "variables": {"claims": [%s]}}' % (
        json.dumps(BATCH).encode(), b",".join([claim] * 2_000_000))
    assert len(body) > 40 << 20
    started = time.monotonic()
    response = client.post("/graphql", content=body, headers={
        "Authorization": f"Bearer {api[1]}", "Content-Type": "application/json"})
    assert time.monotonic() - started < 1.0
    assert response.status_code == 413
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "BODY_TOO_LARGE", "limitBytes": 2_113_536}


def test_a_real_server_refuses_a_huge_body_at_once_and_keeps_answering(
        api: tuple[str, str]) -> None:
    """Through uvicorn (`mdr serve` on 127.0.0.1): the 413 arrives while the client is
    still sending, the connection is closed rather than drained, and another client's
    verification is answered meanwhile."""
    claim = json.dumps(HOA).encode()
    body = b'{"query": %s, "variables": {"claims": [%s]}}' % (
        json.dumps(BATCH).encode(), b",".join([claim] * 2_000_000))
    headers = {"Authorization": f"Bearer {api[1]}", "Content-Type": "application/json"}
    with served(api[0]) as address:
        def verify() -> float:
            started = time.monotonic()
            answer = httpx.post(address, json={"query": VERIFY, "variables": {"claim": HOA}},
                                headers=headers, timeout=30).json()
            assert answer["data"]["verifyPerson"]["found"] is True
            return time.monotonic() - started

        verify()  # the server's pools are open
        huge: dict[str, Any] = {}

        def send_huge() -> None:
            started = time.monotonic()
            response = httpx.post(address, content=body, headers=headers, timeout=30)
            huge.update(status=response.status_code, seconds=time.monotonic() - started)

        sender = threading.Thread(target=send_huge)
        sender.start()
        time.sleep(0.05)
        meanwhile = verify()
        sender.join(timeout=60)
    assert huge["status"] == 413
    assert huge["seconds"] < 3.0, huge
    assert meanwhile < 1.0, meanwhile


def test_a_body_without_a_length_is_read_only_up_to_the_limit() -> None:
    """Chunks beyond the limit are never asked for: the layer stops reading and answers."""
    settings = Settings.from_env({"MDR_API_MAX_BODY_BYTES": "1000"})
    reached: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)

    layer = Bounds(app, settings, build_schema()._schema)
    chunks = iter([b"x" * 400] * 100)
    asked = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": next(chunks), "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/graphql",
             "headers": [(b"content-type", b"application/json")]}
    asyncio.run(layer(scope, receive, send))
    assert asked == 3 and not reached
    assert sent[0]["status"] == 413


def test_a_list_longer_than_a_batch_is_refused_before_coercion(api: tuple[str, str]) -> None:
    # With a body limit far above the batch's, the list itself is the limit: 200,000
    # claims are refused in well under a second, not after coercing each of them.
    settings = Settings.from_env({"MDR_DATABASE_URL": api[0],
                                  "MDR_API_MAX_BODY_BYTES": str(64 << 20)})
    body = json.dumps({"query": BATCH, "variables": {"claims": [HOA] * 200_000}}).encode()
    with TestClient(create_app(settings)) as big:
        started = time.monotonic()
        response = big.post("/graphql", content=body, headers={
            "Authorization": f"Bearer {api[1]}", "Content-Type": "application/json"})
        took = time.monotonic() - started
    assert response.status_code == 200
    error = _error(response.json(), "BATCH_TOO_LARGE")
    assert error["extensions"]["items"] == 200_000 and error["extensions"]["limit"] == 1000
    assert took < 1.0, took


# -- claims -----------------------------------------------------------------------------

def test_claims_are_counted_across_aliases(post: Callable[..., Any]) -> None:
    claims = [HOA] * 1_000
    started = time.monotonic()
    error = _error(post(aliases(20), claims=claims), "BATCH_TOO_LARGE")
    assert time.monotonic() - started < 1.0
    assert error["extensions"] == {"code": "BATCH_TOO_LARGE", "limit": 1000, "items": 20_000}
    assert "20000 across its fields" in error["message"]
    # Single verifications count one each, literal lists one per item.
    claim = '{nationalId: "001182000002", sex: FEMALE}'
    many = " ".join(f"v{i}: verifyPerson(claim: {claim}) {{ found }}" for i in range(5))
    literal = "verifyPersons(claims: [" + ", ".join([claim] * 996) + "]) { found }"
    _error(post(f"{{ {many} {literal} }}"), "BATCH_TOO_LARGE")
    answer = post(f"{{ {many} }}")
    assert answer["data"]["v4"] == {"found": True}


def test_a_batch_within_the_limit_is_answered(post: Callable[..., Any]) -> None:
    answer = post(aliases(2), claims=[HOA] * 3)
    assert answer["data"]["a1"] == [{"found": True}] * 3


def test_each_client_has_a_claim_budget(api: tuple[str, str]) -> None:
    settings = Settings.from_env({"MDR_DATABASE_URL": api[0], "MDR_API_CLAIM_RATE": "2",
                                  "MDR_API_MAX_BATCH": "5"})
    with TestClient(create_app(settings)) as budgeted:
        def send(claims: int) -> Any:
            return budgeted.post("/graphql", json={"query": BATCH, "variables": {
                "claims": [HOA] * claims}}, headers={"Authorization": f"Bearer {api[1]}"})

        # Bursts of 5 s (10 claims), and at least one full batch.
        assert send(5).status_code == 200 and send(5).status_code == 200
        refused = send(5)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        # Requests that verify nothing spend nothing.
        reference = budgeted.post("/graphql", json={"query": "{ codeList(name: SEX) { code } }"},
                                  headers={"Authorization": f"Bearer {api[1]}"})
        assert reference.status_code == 200


def test_the_claim_budget_is_on_by_default_in_production_only() -> None:
    assert Settings.from_env({}).claims_per_second == 5_000
    assert Settings.from_env({"MDR_API_DEV": "1"}).claims_per_second == 0
    assert Settings.from_env({"MDR_API_CLAIM_RATE": "0"}).claims_per_second == 0


def test_the_rate_limiter_counts_tokens_of_any_cost() -> None:
    bucket = RateLimiter(rate=10, burst=100)
    assert bucket.retry_after(1, now=0.0, cost=60) == 0
    assert bucket.retry_after(1, now=0.0, cost=60) == 2  # 20 more tokens: 2 s
    assert bucket.retry_after(1, now=2.0, cost=60) == 0
    assert bucket.retry_after(1, now=2.0, cost=500) == 10  # charged as the burst


# -- text -------------------------------------------------------------------------------

def test_long_text_is_refused_in_variables_and_in_the_query(post: Callable[..., Any]) -> None:
    error = _error(post(VERIFY, claim={**HOA, "fullName": "A" * (1 << 20)}), "VALUE_TOO_LONG")
    assert "$claim.fullName" in error["message"]
    assert error["extensions"] == {"code": "VALUE_TOO_LONG", "limit": 256, "length": 1 << 20}
    long_id = "0" * 1_900
    _error(post(BATCH, claims=[HOA, {"nationalId": long_id}]), "VALUE_TOO_LONG")
    _error(post(f'{{ verifyPerson(claim: {{nationalId: "{long_id}"}}) {{ found }} }}'),
           "VALUE_TOO_LONG")
    _error(post(VERIFY, claim={**HOA, "x" * 300: 1}), "VALUE_TOO_LONG")
    # At the limit is fine.
    answer = post(VERIFY, claim={**HOA, "fullName": "A" * 256})
    assert answer["data"]["verifyPerson"] == {"found": True, "match": False}


def test_check_variables_walks_without_recursion() -> None:
    deep: Any = "x"
    for _ in range(100_000):
        deep = [deep]
    check_variables(deep, max_items=200_000, max_text=10)
    # Lists count together: nested lists cannot multiply what coercion goes through.
    check_variables({"a": [[1] * 4, [1] * 4]}, max_items=10, max_text=10)
    with pytest.raises(Exception, match="at most 10 claims"):
        check_variables({"a": [[1] * 6, [1] * 6]}, max_items=10, max_text=10)


def test_long_words_are_not_kept_by_the_name_key_cache() -> None:
    before = text._word_key.cache_info().currsize
    word, short = "Nguyễn" * 10_000, uuid.uuid4().hex
    assert text.name_key(f"{word} {short}") == f"{text.name_key(word)} {short}"
    assert text._word_key.cache_info().currsize == before + 1  # the short word only


# -- cost -------------------------------------------------------------------------------

def test_a_query_over_the_cost_budget_is_refused_before_execution(
        post: Callable[..., Any]) -> None:
    started = time.monotonic()
    error = _error(post(GEOMETRIES), "TOO_COSTLY")
    assert time.monotonic() - started < 1.0
    cost = error["extensions"]["cost"]
    assert cost > 20_000_000 and error["extensions"]["limit"] == 1_000_000
    assert str(cost) in error["message"] and "1000000" in error["message"]


def test_a_refusal_is_a_request_error_in_either_media_type(client: TestClient,
                                                          api: tuple[str, str]) -> None:
    for accept, status in [("application/json", 200),
                           ("application/graphql-response+json", 400)]:
        response = client.post("/graphql", json={"query": GEOMETRIES}, headers={
            "Authorization": f"Bearer {api[1]}", "Accept": accept})
        assert response.status_code == status
        assert response.headers["content-type"] == f"{accept}; charset=utf-8"
        _error(response.json(), "TOO_COSTLY")


def test_fragments_and_variables_cost_what_they_select(post: Callable[..., Any]) -> None:
    fields = " ".join(
        f'a{i}: adminUnits(first: $n, level: "commune") {{ edges {{ node {{ ...U }} }} }}'
        for i in range(3))
    spread = f"""query($n: Int!) {{ {fields} }}
        fragment U on AdminUnit {{ geometry parent {{ geometry }} }}"""
    _error(post(spread, n=500), "TOO_COSTLY")
    answer = post(spread, n=2)
    assert len(answer["data"]["a2"]["edges"]) == 2
    assert answer["data"]["a2"]["edges"][0]["node"]["geometry"]["type"] == "MultiPolygon"


@pytest.mark.parametrize(("query", "variables", "cheaper_than"), [
    ('{ adminUnits(first: 500) { edges { node { code fullName parent { code } } } } }', {},
     20_000),
    ("{ unitAt(lon: 105.85, lat: 21.03) { geometry parent { geometry } } }", {}, 3_000),
    ('{ adminUnits(first: 300, level: "commune") { edges { node { geometry } } } }', {},
     400_000),
    (BATCH, {"claims": [HOA] * 1000}, 10_000),
    ("query($n: Int) { adminUnits(first: $n) { edges { node { code } } } }",
     {"n": 10 ** 9}, 2_000),
])
def test_ordinary_queries_fit_the_budget(query: str, variables: dict[str, Any],
                                         cheaper_than: int) -> None:
    measure = Measurer(build_schema()._schema).measure(query, None)
    assert measure is not None
    _, cost = measure.claims_and_cost(variables)
    assert cost < cheaper_than, cost


def test_a_fragment_spread_many_times_is_measured_once() -> None:
    # Each level spreads the one below it 10 times: 10**8 fields, measured in a moment.
    levels = ["fragment F0 on AdminUnit { code }"] + [
        f"fragment F{i} on AdminUnit {{ "
        + " ".join(f"p{j}: parent {{ ...F{i - 1} }}" for j in range(10)) + " }"
        for i in range(1, 9)]
    query = "{ unitAt(lon: 1, lat: 1) { ...F8 } } " + " ".join(levels)
    started = time.monotonic()
    measure = Measurer(build_schema()._schema).measure(query, None)
    assert measure is not None and measure.claims_and_cost({})[1] > 10 ** 8
    assert time.monotonic() - started < 1.0
