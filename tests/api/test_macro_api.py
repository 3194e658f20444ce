"""The macro-economy registry served: GraphQL (read:macro) and the SDMX REST endpoint, read
back with the same values the shipped messages hold, by a real SDMX client."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sdmx
from starlette.testclient import TestClient

from mdr.cluster import LocalCluster
from mdr.settings import Settings
from tests.api.support import add_client, populated_database, poster, production_app, served
from tests.conftest import drop_database
from tests.factories.macro import (
    CSV_NA_MAIN,
    ECB_USD,
    MACRO_SAMPLES,
    REVISED_PERIOD,
    REVISED_VALUE,
    REVISION_DAY,
)
from tests.factories.population import POPULATION_FAMILY

SERIES = """query($flow: String!, $key: String, $asOf: Date, $first: Int!, $after: String,
                  $start: String, $end: String) {
  series(flow: $flow, key: $key, asOf: $asOf, first: $first, after: $after,
         startPeriod: $start, endPeriod: $end) {
    edges { node { key dimensions attributes
                   observations { period value status releaseDate }
                   vintages { releaseDate observations } } }
    pageInfo { hasNextPage endCursor } } }"""


@pytest.fixture(scope="module")
def database(cluster: LocalCluster, ref_template: str, settings: Settings,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """(URL, a read:macro key, a key without it) of a database holding the samples."""
    name, url = populated_database(cluster, ref_template, tmp_path_factory.mktemp("macro"),
                                   settings, (POPULATION_FAMILY, MACRO_SAMPLES))
    try:
        yield url, add_client(url, "statistician", ["read:macro"]), \
            add_client(url, "bank", ["verify:person"])
    finally:
        drop_database(cluster, name)


@pytest.fixture(scope="module")
def api(database: tuple[str, str, str]) -> Iterator[TestClient]:
    with production_app(database[0]) as client:
        yield client


def ecb_values() -> dict[str, float]:
    message: Any = sdmx.read_sdmx(ECB_USD)
    return {str(k[0]): float(v) for k, v in sdmx.to_pandas(message.data[0]).items()}


def test_graphql_reads_the_ecb_series_back_with_both_vintages(
        api: TestClient, database: tuple[str, str, str]) -> None:
    send = poster(api, database[1])
    page = send(SERIES, flow="ECB,ECB_EXR1", key="M.USD.EUR.SP00.A", first=10)["data"]
    node, = [e["node"] for e in page["series"]["edges"]]
    latest = {o["period"]: o["value"] for o in node["observations"]}
    expected = ecb_values()
    assert latest == {**expected, REVISED_PERIOD: REVISED_VALUE}
    assert [v["releaseDate"] for v in node["vintages"]] == ["2020-01-16", REVISION_DAY]
    assert node["attributes"]["UNIT"] == "USD"
    # As published before the revision: the ECB's own value.
    before = send(SERIES, flow="ECB_EXR1", key="M.USD.EUR.SP00.A", first=10,
                  asOf="2024-01-01")["data"]["series"]["edges"][0]["node"]
    old = {o["period"]: o for o in before["observations"]}
    assert old[REVISED_PERIOD]["value"] == expected[REVISED_PERIOD]
    assert old[REVISED_PERIOD]["releaseDate"] == "2020-01-16"


def test_graphql_pages_series_and_lists_dataflows(api: TestClient,
                                                  database: tuple[str, str, str]) -> None:
    send = poster(api, database[1])
    flows = send("{ dataflows { agency id structure dimensions { id position } } }")["data"]
    ids = {f["id"] for f in flows["dataflows"]}
    assert {"ECB_EXR1", "EXR", "NA_MAIN", "POP_PROV_2025"} <= ids
    first = send(SERIES, flow="EXR", first=1)["data"]["series"]
    assert first["pageInfo"]["hasNextPage"]
    second = send(SERIES, flow="EXR", first=1,
                  after=first["pageInfo"]["endCursor"])["data"]["series"]
    keys = [first["edges"][0]["node"]["key"], second["edges"][0]["node"]["key"]]
    assert keys == ["D.NZD.EUR.SP00.A", "D.RUB.EUR.SP00.A"]
    assert not second["pageInfo"]["hasNextPage"]
    national = send(SERIES, flow="POP_PROV_2025", key="D.VN._T._T", first=5)["data"]
    assert national["series"]["edges"][0]["node"]["observations"][0]["value"] == 4.0


def test_graphql_without_read_macro_is_refused(api: TestClient,
                                               database: tuple[str, str, str]) -> None:
    answer = poster(api, database[2])(SERIES, flow="EXR", first=1)
    assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert answer["data"] is None


def test_an_sdmx_client_reads_the_rest_endpoint(database: tuple[str, str, str]) -> None:
    url, key, other = database
    with served(url) as address:
        base = address.removesuffix("/graphql") + "/sdmx/2.1"
        sdmx.add_source({"id": "MDR_TEST", "url": base, "name": "mdr",
                         "data_content_type": "JSON"}, override=True)
        client = sdmx.Client("MDR_TEST")
        client.session.headers["Authorization"] = f"Bearer {key}"
        message: Any = client.data("ECB_EXR1", key="M.USD.EUR.SP00.A",
                                   params={"startPeriod": "2019-01", "endPeriod": "2019-12"})
        read = {str(k[-1]) if isinstance(k, tuple) else str(k): float(v)
                for k, v in sdmx.to_pandas(message.data[0]).items()}
        expected = {p: v for p, v in ecb_values().items() if p.startswith("2019")}
        assert read == {**expected, REVISED_PERIOD: REVISED_VALUE}

        headers = {"Authorization": f"Bearer {key}",
                   "Accept": "application/vnd.sdmx.data+csv;version=1.0.0"}
        answer = httpx.get(f"{base}/data/ESTAT,NA_MAIN/A.B", headers=headers)
        assert answer.status_code == 200, answer.text
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        shipped = list(csv.DictReader(CSV_NA_MAIN.open(encoding="utf-8")))
        assert [(r["DIM_3"], float(r["OBS_VALUE"]), r["ATTR_1"]) for r in shipped] == \
            [(r["TIME_PERIOD"], float(r["OBS_VALUE"]), r["ATTR_1"]) for r in rows]
        assert rows[0]["DATAFLOW"] == "ESTAT:NA_MAIN(1.6.0)"

        as_of = httpx.get(f"{base}/data/ECB_EXR1/M.USD.EUR.SP00.A",
                          params={"startPeriod": REVISED_PERIOD, "endPeriod": REVISED_PERIOD,
                                  "asOf": "2024-01-01", "format": "csv"}, headers=headers)
        old, = csv.DictReader(io.StringIO(as_of.text))
        assert float(old["OBS_VALUE"]) == ecb_values()[REVISED_PERIOD]

        refused = httpx.get(f"{base}/data/EXR", headers={"Authorization": f"Bearer {other}"})
        assert refused.status_code == 403
        assert httpx.get(f"{base}/data/EXR").status_code == 401
        bad = httpx.get(f"{base}/data/EXR/D.<script>", headers=headers)
        assert bad.status_code == 400 and "no code" in bad.text
        assert httpx.get(f"{base}/data/NOPE", headers=headers).status_code == 404


def test_the_population_series_read_back_by_province(api: TestClient,
                                                     database: tuple[str, str, str]) -> None:
    send = poster(api, database[1])
    page = send(SERIES, flow="POP_PROV_2025", key="D.01._T._T", first=5)["data"]["series"]
    node, = [e["node"] for e in page["edges"]]
    # The family sample: all four live in Hà Nội (01) on 2026-01-01 (one dies in March).
    assert node["observations"] == [{"period": "2026-01-01", "value": 4.0, "status": "A",
                                     "releaseDate": "2026-02-01"}]
    assert dt.date.fromisoformat(node["vintages"][0]["releaseDate"]) == dt.date(2026, 2, 1)


def test_the_rest_endpoint_answers_sdmx_json_2_that_mdr_reads_back(
        api: TestClient, database: tuple[str, str, str]) -> None:
    from loaders.sources.sdmx_messages import ObsRecord, read_json_2

    headers = {"Authorization": f"Bearer {database[1]}",
               "Accept": "application/vnd.sdmx.data+json;version=2.0.0"}
    answer = api.get("/sdmx/2.1/data/ECB_EXR1/M.USD.EUR.SP00.A",
                     params={"startPeriod": "2019-01", "endPeriod": "2019-12"}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert "version=2.0.0" in answer.headers["content-type"]
    message = read_json_2(answer.json())
    records = [r for r in message.records if isinstance(r, ObsRecord)]
    expected = {p: v for p, v in ecb_values().items() if p.startswith("2019")}
    assert {r.period: float(r.value) for r in records} == {**expected,
                                                           REVISED_PERIOD: REVISED_VALUE}
    assert {str(r.flow) for r in records} == {"ECB:ECB_EXR1(1.0)"}
    assert {tuple(r.key.values()) for r in records} == {("M", "USD", "EUR", "SP00", "A")}
    statuses = {r.period: r.attributes.get("OBS_STATUS") for r in records}
    assert statuses[REVISED_PERIOD] == "P"
    # SDMX-JSON 1.0 stays the default.
    plain = api.get("/sdmx/2.1/data/ECB_EXR1/M.USD.EUR.SP00.A",
                    headers={"Authorization": f"Bearer {database[1]}"})
    assert "version=1.0.0" in plain.headers["content-type"] and "dataSets" in plain.json()
