"""Parcel queries: at a point, by id with rights and lineage, by commune (paged), by holder;
person holders' numbers only for read:person, and every such read in the person's access log."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from shapely.geometry import shape
from sqlalchemy import text
from starlette.testclient import TestClient

from graphql_api.app import create_app
from mdr import db
from mdr.settings import Settings
from tests.api.support import add_client, nodes, populated_database, poster
from tests.conftest import drop_database
from tests.factories.land import LAND_SAMPLE, PARCEL_SIZE, commune_corner
from tests.factories.population import HANOI_WARD, POPULATION_FAMILY

PARCEL = """query($id: ID!, $asOf: Date) { parcel(id: $id, asOf: $asOf) {
  communeCode mapSheet parcelNumber landUse declaredAreaM2 geodesicAreaM2 geometry
  cameFrom { parcelNumber change effectiveDate } wentInto { parcelNumber change }
  rights { reference type share validFrom validTo mortgagedReference
           source { type reference issueDate }
           holder { kind personNumber name members { personNumber share } } } } }"""
AT = """query($lon: Float!, $lat: Float!, $asOf: Date) {
  parcelsAt(lon: $lon, lat: $lat, asOf: $asOf) { id parcelNumber
    rights { holder { personNumber } } } }"""
OF = """query($holder: String!, $asOf: Date) {
  parcelsOf(holder: $holder, asOf: $asOf) { parcelNumber } }"""
PAGE = """query($commune: String!, $asOf: Date, $first: Int!, $after: String) {
  parcels(commune: $commune, asOf: $asOf, first: $first, after: $after) {
    edges { node { parcelNumber } } pageInfo { hasNextPage endCursor } } }"""
LOG = """query($id: String!) { accessLog(nationalId: $id) { edges { node {
  client operation outcome } } } }"""


@pytest.fixture(scope="module")
def land_api(cluster: Any, ref_template: str, tmp_path_factory: pytest.TempPathFactory,
             settings: Settings) -> Iterator[tuple[str, dict[str, str]]]:
    name, url = populated_database(cluster, ref_template, tmp_path_factory.mktemp("land"),
                                   settings, seeds=(POPULATION_FAMILY, LAND_SAMPLE))
    keys = {"surveyor": add_client(url, "surveyor", ["read:land"]),
            "bank": add_client(url, "bank", ["read:land", "read:person"]),
            "dpo": add_client(url, "dpo", ["audit:read"]),
            "other": add_client(url, "other", ["read:person"])}
    yield url, keys
    drop_database(cluster, name)


@pytest.fixture(scope="module")
def ask(land_api: tuple[str, dict[str, str]]) -> Iterator[Callable[..., Any]]:
    url, keys = land_api
    with TestClient(create_app(Settings.from_env({"MDR_DATABASE_URL": url}))) as client:
        posters = {name: poster(client, key) for name, key in keys.items()}
        yield lambda query, key="bank", **variables: posters[key](query, **variables)


def parcel_id(url: str, number: str) -> str:
    engine = db.make_engine(url, Settings.from_env({}), pool_size=1)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT id FROM land.parcel WHERE parcel_number = :n"),
                                    {"n": number}).scalar_one())
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def corner(land_api: tuple[str, dict[str, str]]) -> tuple[float, float]:
    engine = db.make_engine(land_api[0], Settings.from_env({}), pool_size=1)
    try:
        return commune_corner(engine, HANOI_WARD)
    finally:
        engine.dispose()


def test_the_parcel_at_a_point_and_its_holder_as_of_a_date(
        ask: Callable[..., Any], corner: tuple[float, float]) -> None:
    x, y = corner
    inside = {"lon": x + PARCEL_SIZE / 2, "lat": y + PARCEL_SIZE / 2}
    before = ask(AT, asOf="2026-02-01", **inside)["data"]["parcelsAt"]
    after = ask(AT, asOf="2026-05-01", **inside)["data"]["parcelsAt"]
    assert [p["parcelNumber"] for p in before] == ["1"]
    assert before[0]["rights"][0]["holder"]["personNumber"] == "001080000001"
    assert after[0]["rights"][0]["holder"]["personNumber"] == "001182000002"
    # Between the parcels there is nothing.
    gap = ask(AT, lon=x + PARCEL_SIZE * 1.25, lat=y + PARCEL_SIZE / 2)["data"]["parcelsAt"]
    assert gap == []


def test_a_parcel_with_its_rights_mortgage_group_and_geometry(
        ask: Callable[..., Any], land_api: tuple[str, dict[str, str]],
        corner: tuple[float, float]) -> None:
    found = ask(PARCEL, id=parcel_id(land_api[0], "2"), asOf="2026-03-01")["data"]["parcel"]
    assert (found["communeCode"], found["mapSheet"], found["landUse"]) == (HANOI_WARD, "1",
                                                                          "ODT")
    rights = {r["reference"]: r for r in found["rights"]}
    assert set(rights) == {"R2", "M2"}
    assert rights["R2"]["holder"]["kind"] == "group"
    assert rights["R2"]["holder"]["members"] == [
        {"personNumber": "001080000001", "share": 0.5},
        {"personNumber": "001182000002", "share": 0.5}]
    assert (rights["M2"]["type"], rights["M2"]["share"], rights["M2"]["mortgagedReference"],
            rights["M2"]["holder"]["name"]) == ("mortgage", 0.5, "R2", "Ngân hàng Nông nghiệp")
    assert rights["M2"]["source"]["type"] == "contract"
    geometry = shape(found["geometry"])
    x, _ = corner
    assert geometry.geom_type == "MultiPolygon"
    assert geometry.bounds[0] == pytest.approx(x + PARCEL_SIZE * 1.5, abs=1e-7)
    assert 380 < found["geodesicAreaM2"] < 480


def test_a_split_parcel_shows_where_it_came_from_and_the_parent_where_it_went(
        ask: Callable[..., Any], land_api: tuple[str, dict[str, str]]) -> None:
    child = ask(PARCEL, id=parcel_id(land_api[0], "3a"), asOf="2026-06-01")["data"]["parcel"]
    assert child["cameFrom"] == [{"parcelNumber": "3", "change": "split",
                                  "effectiveDate": "2026-05-01"}]
    parent_id = parcel_id(land_api[0], "3")
    assert ask(PARCEL, id=parent_id, asOf="2026-06-01")["data"]["parcel"] is None
    parent = ask(PARCEL, id=parent_id, asOf="2026-04-30")["data"]["parcel"]
    assert parent["wentInto"] == []  # not yet split on that day
    assert [r["holder"]["personNumber"] for r in parent["rights"]] == ["001182000002"]


def test_a_commune_s_parcels_page_by_page(ask: Callable[..., Any]) -> None:
    seen: list[str] = []
    after = None
    while True:
        page = ask(PAGE, commune=HANOI_WARD, asOf="2026-06-01", first=2,
                   after=after)["data"]["parcels"]
        seen += [n["parcelNumber"] for n in nodes(page)]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["1", "2", "3a", "3b"]


def test_parcels_of_a_holder_alone_or_jointly_as_of_a_date(ask: Callable[..., Any]) -> None:
    def numbers(holder: str, day: str) -> list[str]:
        return [p["parcelNumber"] for p in ask(OF, holder=holder, asOf=day)["data"]["parcelsOf"]]

    assert numbers("001080000001", "2026-03-01") == ["1", "2"]
    assert numbers("001080000001", "2026-06-01") == ["2"]
    assert numbers("001182000002", "2026-06-01") == ["1", "2", "3a", "3b"]
    bad = ask(OF, holder="12345", asOf="2026-06-01")
    assert bad["errors"][0]["extensions"]["code"] == "BAD_HOLDER"


def test_person_numbers_only_with_read_person_and_land_needs_read_land(
        ask: Callable[..., Any], corner: tuple[float, float]) -> None:
    x, y = corner
    point = {"lon": x + PARCEL_SIZE / 2, "lat": y + PARCEL_SIZE / 2, "asOf": "2026-02-01"}
    hidden = ask(AT, key="surveyor", **point)["data"]["parcelsAt"]
    assert hidden[0]["rights"][0]["holder"] == {"personNumber": None}
    refused = ask(AT, key="other", **point)
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_reads_that_reveal_a_person_s_holdings_are_in_their_access_log(
        ask: Callable[..., Any], corner: tuple[float, float]) -> None:
    def log(number: str) -> list[tuple[str, str, str]]:
        # Reading the log is itself logged; those entries are left out here.
        entries = nodes(ask(LOG, key="dpo", id=number)["data"]["accessLog"])
        return [(e["client"], e["operation"], e["outcome"]) for e in entries
                if e["operation"] != "accessLog"]

    ask(OF, key="surveyor", holder="001210000003", asOf="2026-06-01")
    # Asking for someone's holdings is an access, even when they hold nothing.
    assert log("001210000003")[0] == ("surveyor", "parcelsOf", "not-found")
    x, y = corner
    ask(AT, key="bank", lon=x + PARCEL_SIZE / 2, lat=y + PARCEL_SIZE / 2, asOf="2026-02-01")
    assert ("bank", "parcelsAt", "read") in log("001080000001")
    # Without read:person nobody is identified, so nobody's log grows.
    count = len(log("001182000002"))
    ask(AT, key="surveyor", lon=x + PARCEL_SIZE / 2, lat=y + PARCEL_SIZE / 2, asOf="2026-05-01")
    assert len(log("001182000002")) == count
