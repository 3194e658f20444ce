"""Look-ups over HTTP: public reference queries, pages, persons with relatives, audit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, Pool, event, text
from starlette.testclient import TestClient

from graphql_api.connections import DriverPool
from mdr import db
from mdr.settings import Settings
from tests.api.support import nodes
from tests.factories.enterprise import HOA_SEN, SEN_VANG

Ask = Callable[..., Any]

UNITS = """query($asOf: Date, $level: String, $parent: String, $first: Int!, $after: String) {
  adminUnits(asOf: $asOf, level: $level, parent: $parent, first: $first, after: $after) {
    edges { cursor node { code fullName } } pageInfo { hasNextPage endCursor } } }"""


def all_pages(ask: Ask, first: int, **variables: Any) -> tuple[list[str], int]:
    """Every unit code of a listing, paged through; and how many pages it took."""
    codes: list[str] = []
    after, pages = None, 0
    while True:
        page = ask(UNITS, key="reader", first=first, after=after, **variables)["data"]
        pages += 1
        codes += [n["code"] for n in nodes(page["adminUnits"])]
        if not page["adminUnits"]["pageInfo"]["hasNextPage"]:
            return codes, pages
        after = page["adminUnits"]["pageInfo"]["endCursor"]


def test_admin_units_page_through_every_unit_once_in_order(ask: Ask) -> None:
    codes, pages = all_pages(ask, 10, asOf="2025-07-01", level="province")
    assert (len(codes), pages) == (34, 4)
    assert codes == sorted(set(codes)) and codes[0] == "01"
    hanoi, pages = all_pages(ask, 100, asOf="2025-07-01", level="commune", parent="01")
    assert (len(hanoi), pages) == (126, 2)
    before, _ = all_pages(ask, 500, asOf="2020-01-01", level="province")
    assert len(before) == 63


def test_a_page_size_or_cursor_out_of_bounds_is_a_readable_error(ask: Ask) -> None:
    too_big = ask(UNITS, key="reader", first=501)
    assert too_big["data"] is None and "between 0 and 500" in too_big["errors"][0]["message"]
    forged = ask(UNITS, key="reader", first=5, after="bm90IGEgY3Vyc29y")
    assert forged["errors"][0]["extensions"]["code"] == "BAD_CURSOR"
    empty = ask(UNITS, key="reader", first=0, asOf="2025-07-01")["data"]["adminUnits"]
    assert empty["edges"] == [] and empty["pageInfo"]["hasNextPage"] is True


def test_successors_of_a_reused_code(ask: Ask) -> None:
    query = """{ successors(code: "15") { fullName validFrom validTo
        successors { changeType unit { code fullName validFrom } }
        predecessors { unit { code fullName } } } }"""
    versions = ask(query, key="reader")["data"]["successors"]
    assert [v["fullName"] for v in versions] == ["Tỉnh Yên Bái", "Tỉnh Lào Cai"]
    assert versions[0]["validTo"] == "2025-07-01"
    assert versions[0]["successors"] == [{"changeType": "merge", "unit": {
        "code": "15", "fullName": "Tỉnh Lào Cai", "validFrom": "2025-07-01"}}]
    assert {p["unit"]["code"] for p in versions[1]["predecessors"]} == {"10", "15"}
    assert ask('{ successors(code: "9\\u0000") { code } }', key="reader")["data"] == {
        "successors": []}


def test_unit_at_a_point_with_its_parent_and_geometry_on_request(ask: Ask) -> None:
    query = """query($asOf: Date) { unitAt(lon: 105.8542, lat: 21.0285, asOf: $asOf) {
        code fullName parent { code fullName } } }"""
    unit = ask(query, key="reader", asOf="2025-07-01")["data"]["unitAt"]
    assert unit == {"code": "00070", "fullName": "Phường Hoàn Kiếm",
                    "parent": {"code": "01", "fullName": "Thành phố Hà Nội"}}
    # Boundaries are held for the units since 2025-07-01 only.
    assert ask(query, key="reader", asOf="2020-01-01")["data"]["unitAt"] is None
    shape = ask('{ unitAt(lon: 105.8542, lat: 21.0285) { geometry } }',
                key="reader")["data"]["unitAt"]["geometry"]
    assert shape["type"] == "MultiPolygon" and len(shape["coordinates"][0][0]) > 3
    off_earth = ask("{ unitAt(lon: 200, lat: 21) { code } }", key="reader")
    assert off_earth["errors"][0]["extensions"]["code"] == "BAD_COORDINATES"


def test_code_lists(ask: Ask) -> None:
    codes = ask("{ codeList(name: FAMILY_RELATION) { code nameEn } }",
                key="reader")["data"]["codeList"]
    assert [c["code"] for c in codes] == ["father", "mother", "spouse"]
    industries = ask('{ codeList(name: INDUSTRY, asOf: "2025-01-01") { code parentCode } }',
                     key="reader")["data"]["codeList"]
    assert {"code": "A", "parentCode": None} in industries
    assert {"code": "01", "parentCode": "A"} in industries


@pytest.mark.parametrize("query", [
    "{ adminUnits { edges { node { code } } } }",
    '{ successors(code: "15") { code } }',
    "{ unitAt(lon: 105.85, lat: 21.03) { code } }",
    "{ codeList(name: SEX) { code } }",
])
def test_public_queries_need_a_key_but_no_scope(client: TestClient, ask: Ask,
                                                query: str) -> None:
    assert client.post("/graphql", json={"query": query}).status_code == 401
    answer = ask(query, key="reader")  # holds read:macro only
    assert "errors" not in answer and answer["data"]


PERSON_WITH_RELATIVES = """person(nationalId: "%s", asOf: "%s") {
    name { fullName } residences { addressLine commune { fullName parent { code } } }
    household { householdCode }
    father { name { fullName } residences { commune { code } } }
    mother { name { fullName } residences { commune { code } } }
    spouse { name { fullName } residences { commune { code } } }
    family { relation person { name { fullName } } } }"""
FAMILY_IDS = ["001210000003", "001080000001", "001182000002", "001080000004"]


def family_query(count: int) -> str:
    """``count`` persons with their relatives, each on another day: no two share a key,
    so the loaders' caches save nothing and every person is read."""
    return "{ " + "\n".join(
        f"p{i}: " + PERSON_WITH_RELATIVES % (FAMILY_IDS[i % 4], f"2026-01-{1 + i:02d}")
        for i in range(count)) + " }"


def test_a_person_with_relatives_as_persons(ask: Ask) -> None:
    child = ask("{ " + PERSON_WITH_RELATIVES % ("001210000003", "2026-01-01") + " }",
                key="registry-reader")["data"]["person"]
    assert child["name"] == {"fullName": "Nguyễn Minh Khôi"}
    assert child["father"] == {"name": {"fullName": "Nguyễn Văn An"},
                               "residences": [{"commune": {"code": "00070"}}]}
    assert child["mother"]["name"] == {"fullName": "Trần Thị Hoa"}
    assert child["spouse"] is None
    assert {(f["relation"], f["person"]["name"]["fullName"]) for f in child["family"]} == {
        ("father", "Nguyễn Văn An"), ("mother", "Trần Thị Hoa")}
    assert child["residences"][0]["commune"] == {"fullName": "Phường Hoàn Kiếm",
                                                 "parent": {"code": "01"}}


def test_relatives_read_through_a_person_are_audited_as_such(ask: Ask) -> None:
    ask('{ person(nationalId: "001210000003") { father { name { fullName } } } }',
        key="registry-reader")
    log = nodes(ask('{ accessLog(nationalId: "001080000001", first: 5) '
                    '{ edges { node { client operation outcome } } } }',
                    key="dpo")["data"]["accessLog"])
    assert {"client": "registry-reader", "operation": "person.family", "outcome": "read"} \
        in log


def test_unknown_and_malformed_persons_are_null_and_audited(ask: Ask) -> None:
    query = "query($id: String!) { person(nationalId: $id) { nationalId } }"
    for national_id, outcome in (("001080009999", "not-found"),
                                 ("00108000\x000001", "invalid"), ("x" * 100, "invalid")):
        answer = ask(query, key="registry-reader", id=national_id)
        assert answer == {"data": {"person": None}}
        log = nodes(ask("query($id: String!) { accessLog(nationalId: $id, first: 1) "
                        "{ edges { node { client outcome } } } }", key="dpo",
                        id=national_id)["data"]["accessLog"])
        assert log == [{"client": "registry-reader", "outcome": outcome}]


def test_a_malformed_number_is_never_logged_as_a_real_persons(ask: Ask) -> None:
    # Without its NUL, 00108000<NUL>0001 would read 001080000001, a registered person.
    query = "query($id: String!) { person(nationalId: $id) { nationalId } }"
    ask(query, key="registry-reader", id="00108000\x000001")
    log = nodes(ask('{ accessLog(nationalId: "001080000001", first: 100) '
                    "{ edges { node { outcome } } } }", key="dpo")["data"]["accessLog"])
    assert {"outcome": "invalid"} not in log


def test_a_nested_person_outside_scope_is_an_error_not_data(ask: Ask) -> None:
    answer = ask('{ person(nationalId: "001210000003") { father { name { fullName } } } }',
                 key="reader")
    assert answer["data"] == {"person": None}
    assert "read:person" in answer["errors"][0]["message"]
    assert "Nguyễn" not in str(answer)


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """The SQL statements the API sends while the test runs: through SQLAlchemy (seen by
    its events) and straight to the asyncpg driver (seen by the driver's query loggers)."""
    sent: list[str] = []
    drivers: list[Any] = []

    def through_sqlalchemy(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    def to_driver(logged: Any) -> None:
        # Not the driver's own type introspection (it wraps it in jit settings): that
        # comes once per connection and type, and is no cost of the query.
        if not any(mark in logged.query for mark in DRIVER_INTROSPECTION):
            sent.append(logged.query)

    def watch_driver(dbapi_connection: Any, *args: Any) -> None:
        driver: Any = getattr(dbapi_connection, "driver_connection", None)
        if hasattr(driver, "add_query_logger") and driver not in drivers:
            driver.add_query_logger(to_driver)
            drivers.append(driver)

    @asynccontextmanager
    async def watched(pool: DriverPool) -> AsyncIterator[Any]:
        # The hot path's own pool (authentication, audit records) hands out the driver's
        # connections directly.
        async with hot_path_connection(pool) as conn:
            conn.add_query_logger(to_driver)
            try:
                yield conn
            finally:
                conn.remove_query_logger(to_driver)

    hot_path_connection = DriverPool.connection
    event.listen(Engine, "before_cursor_execute", through_sqlalchemy)
    event.listen(Pool, "checkout", watch_driver)
    DriverPool.connection = watched  # type: ignore[method-assign,assignment]
    yield sent
    DriverPool.connection = hot_path_connection  # type: ignore[method-assign]
    event.remove(Engine, "before_cursor_execute", through_sqlalchemy)
    event.remove(Pool, "checkout", watch_driver)
    for driver in drivers:
        driver.remove_query_logger(to_driver)


DRIVER_INTROSPECTION = ("typeinfo_tree", "current_setting('jit')", "set_config('jit'")

# The persons asked for 1 and their audit records 1; their names, residences,
# households and family links 4; communes 1; the relatives 1 and their audit
# records 1; their names and residences 2 (their communes are cached); the communes'
# parents 1; BEGIN and COMMIT of the request's read snapshot 2. The key was looked up
# by the warm-up and is remembered, so authentication costs nothing.
NESTED_QUERY_STATEMENTS = 14


def statement_counts(ask: Ask, statements: list[str], key: str,
                     query_of: Callable[[int], str], sizes: tuple[int, ...]
                     ) -> dict[int, list[str]]:
    """The statements each query of ``query_of(size)`` sent, after a warm-up with the
    largest (the key, the pool); each answer checked whole and without errors."""
    ask(query_of(sizes[-1]), key=key)
    sent = {}
    for size in sizes:
        statements.clear()
        answer = ask(query_of(size), key=key)
        assert "errors" not in answer and len(answer["data"]) == size
        assert all(answer["data"].values())
        sent[size] = list(statements)
    return sent


def test_nested_queries_cost_a_fixed_number_of_statements(ask: Ask,
                                                          statements: list[str]) -> None:
    sent = statement_counts(ask, statements, "registry-reader", family_query, (1, 4, 12))
    counts = {size: len(s) for size, s in sent.items()}
    assert counts == dict.fromkeys((1, 4, 12), NESTED_QUERY_STATEMENTS), counts
    audits = [s for s in sent[12] if "audit.record_access" in s]
    assert len(audits) == 2  # one bulk insert per level of persons


ENTERPRISE_WITH_PARTS = """enterprise(code: "%s", asOf: "%s") {
    name { name } headOffice { commune { code parent { code } } } lines { industryCode }
    representatives { nationalId } branches { code commune { code } }
    owners { share enterprise { name { name } representatives { nationalId } } } }"""


def enterprises_query(count: int) -> str:
    """``count`` enterprises with their parts, alternately one owned by persons and one
    owned by the other (read again, nested), each on another day: no key is shared."""
    return "{ " + "\n".join(
        f"e{i}: " + ENTERPRISE_WITH_PARTS % ((HOA_SEN, SEN_VANG)[i % 2], f"2026-02-{1 + i:02d}")
        for i in range(count)) + " }"


# The enterprises 1 and their audit records 1 (names, form, status, head office and
# capital come with them); lines, representatives, branches and owners 4; the
# representatives' and the person-owners' audit records 2; communes and their parents 2;
# the owning enterprises 1, their audit records 1, their representatives 1 and those
# audit records 1; BEGIN and COMMIT of the read snapshot 2.
ENTERPRISE_QUERY_STATEMENTS = 17


def test_enterprise_queries_cost_a_fixed_number_of_statements(ask: Ask,
                                                              statements: list[str]) -> None:
    sent = statement_counts(ask, statements, "enterprise-reader", enterprises_query, (2, 4, 8))
    counts = {size: len(s) for size, s in sent.items()}
    assert counts == dict.fromkeys((2, 4, 8), ENTERPRISE_QUERY_STATEMENTS), counts


def test_the_access_log_pages_newest_first(ask: Ask, api_db: tuple[str, dict[str, str]],
                                           settings: Settings) -> None:
    for _ in range(5):
        ask('{ verifyPerson(claim: {nationalId: "001080000004", sex: MALE}) { found } }')
    engine = db.make_engine(api_db[0], settings)
    with engine.connect() as conn:
        held = conn.execute(text("SELECT count(*) FROM audit.access_record "
                                 "WHERE subject = '001080000004'")).scalar_one()
    engine.dispose()
    query = """query($after: String) { accessLog(nationalId: "001080000004", first: 2,
        after: $after) { edges { node { reference at } } pageInfo { hasNextPage endCursor } } }"""
    seen: list[dict[str, str]] = []
    after, pages = None, 0
    while True:
        page = ask(query, key="dpo", after=after)["data"]["accessLog"]
        seen += nodes(page)
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    # Reading the log adds to it, but after the first page's place: nothing is seen twice.
    assert len({e["reference"] for e in seen}) == len(seen) == held >= 5
    assert pages == (held + 1) // 2
    assert [e["at"] for e in seen] == sorted((e["at"] for e in seen), reverse=True)


def test_a_request_leaves_no_snapshot_open(ask: Ask, api_db: tuple[str, dict[str, str]],
                                           settings: Settings) -> None:
    ask(family_query(2), key="registry-reader")
    ask("{ adminUnits(first: 1) { edges { node { code parent { code } } } } }", key="reader")
    engine = db.make_engine(api_db[0], settings)
    with engine.connect() as conn:
        open_transactions = conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'mdr_api' "
            "AND datname = current_database() AND state <> 'idle'")).scalar_one()
    engine.dispose()
    assert open_transactions == 0
