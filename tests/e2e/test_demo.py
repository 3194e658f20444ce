"""`mdr demo` end to end at a small scale: load, quality, API; its examples work as printed."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from loaders.macro_derived import DERIVATIONS, flow_code
from tests.api.support import free_port


def demo(env: dict[str, str], *args: str) -> dict[str, Any]:
    mdr = Path(sys.executable).with_name("mdr")
    done = subprocess.run([str(mdr), "demo", *args], env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    if "--json" not in args:
        return {"banner": done.stdout}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def paste(curl: str) -> dict[str, Any]:
    """Send a printed curl line as a shell would (its URL, headers and body)."""
    words = shlex.split(curl)
    assert words[:2] == ["curl", "-s"]
    url, headers, body = words[2], {}, ""
    for flag, value in zip(words[3::2], words[4::2], strict=True):
        if flag == "-H":
            name, _, content = value.partition(": ")
            headers[name] = content
        else:
            assert flag == "-d"
            body = value
    answer: dict[str, Any] = httpx.post(url, headers=headers, content=body.encode(),
                                        timeout=30).json()
    return answer


def without_references(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: without_references(v) for k, v in data.items() if k != "reference"}
    if isinstance(data, list):
        return [without_references(v) for v in data]
    return data


def test_demo_comes_up_its_examples_answer_as_printed_and_a_second_run_reuses_it(
        clone_db: Callable[[str], str], migrated_template: str, tmp_path: Path) -> None:
    env = {**os.environ, "MDR_DATABASE_URL": clone_db(migrated_template),
           "MDR_VAR_DIR": str(tmp_path / "var")}
    port = str(free_port())
    first = demo(env, "--persons", "300", "--port", port, "--json")
    try:
        assert first["loads"]["ref"]["status"] == "committed"
        persons = first["loads"]["persons"]
        assert persons["inserted"] + persons["rejected"] == 300 and persons["rejected"] > 0
        enterprises = first["loads"]["enterprises"]
        assert enterprises["status"] == "committed" and enterprises["inserted"] >= 15
        assert first["loads"]["enterprise_changes"]["status"] == "committed"
        assert first["quality"]["registries"]["enterprise"]["score"] > 0.9
        assert first["quality"]["registries"]["population"]["score"] > 0.9
        assert Path(first["report"]).is_file()

        parcels = first["loads"]["parcels"]
        assert parcels["status"] == "committed" and parcels["inserted"] > 1000
        assert first["quality"]["registries"]["land"]["provinces"]

        (matching, mismatching, look_up, access_log, enterprise, ecb, population, at_point,
         split) = first["examples"]
        answer = paste(matching["curl"])["data"]["verifyPerson"]
        assert (answer["found"], answer["match"], answer["status"]) == (True, True, "ALIVE")
        answer = paste(mismatching["curl"])["data"]["verifyPerson"]
        assert answer["match"] is False
        assert {"field": "birthDate", "match": False} in answer["fields"]
        person = paste(look_up["curl"])["data"]["person"]
        assert person == look_up["expect"]["person"] and person["residences"]
        entries = paste(access_log["curl"])["data"]["accessLog"]["edges"]
        assert {e["node"]["operation"] for e in entries} >= {"verifyPerson"}
        answer = paste(enterprise["curl"])["data"]["verifyEnterprise"]
        assert (answer["found"], answer["match"], answer["status"]) == (True, True, "ACTIVE")
        assert [f["field"] for f in answer["fields"]] == [
            "name", "legalRepresentativeId", "headOfficeUnitCode"]
        (found,) = paste(at_point["curl"])["data"]["parcelsAt"]
        assert found == at_point["expect"]["parcelsAt"][0]
        holders = [r["holder"] for r in found["rights"] if r["type"] == "land-use-right"]
        assert holders[0]["kind"] == "group" and len(holders[0]["members"]) == 2
        child = paste(split["curl"])["data"]["parcel"]
        assert child["cameFrom"][0]["change"] == "split"
        assert child["geometry"]["type"] == "MultiPolygon"
        node = paste(ecb["curl"])["data"]["series"]["edges"][0]["node"]
        assert len(node["observations"]) == 12 and node["vintages"]
        assert node == ecb["expect"]["series"]["edges"][0]["node"]
        totals = {e["node"]["key"]: e["node"]["observations"][0]["value"]
                  for e in paste(population["curl"])["data"]["series"]["edges"]}
        national = totals.pop("D.VN._T._T")
        assert len(totals) > 1 and sum(totals.values()) == national
        assert first["loads"]["derive-legacy"]["status"] == "committed"
        assert first["quality"]["registries"]["macro"]["failed"] == 0
        for example in (matching, mismatching, enterprise):
            assert without_references(paste(example["curl"])["data"]) == \
                without_references(example["expect"])

        second = demo(env, "--persons", "300", "--port", port, "--json")
        assert second["loads"] == {}
        assert second["key"] == first["key"]
        assert set(second["reused"]) == {"reference data", "300 persons", "15 enterprises",
                                         "1,200 parcels", "macro series and derived indicators",
                                         "quality report", f"the API on port {port}"}
        banner = demo(env, "--persons", "300", "--port", port)["banner"]
        assert "mdr demo stop" in banner and first["key"] in banner
        assert matching["curl"] in banner
        # Each derived flow family the registries publish has a URL that answers as printed.
        assert [f["flow"] for f in first["sdmx"]] == [flow_code(d, "2025") for d in DERIVATIONS]
        assert {f["flow"] for f in first["sdmx"]} >= {"POP_PROV_2025", "ENT_PROV_2025",
                                                      "LAND_PROV_2025"}
        for flow in first["sdmx"]:
            assert f"{shlex.quote(flow['url'])} -H" in banner
            answer = httpx.get(flow["url"], headers={"Authorization": f"Bearer {first['key']}"},
                               timeout=30)
            assert answer.status_code == 200 and flow["flow"] in answer.text
            assert len(answer.text.splitlines()) - 1 == flow["observations"] > 0
        assert first["persons_run"] == persons["run_id"]
        assert f"mdr rejects export {persons['run_id']} --out" in banner
    finally:
        stop = subprocess.run([str(Path(sys.executable).with_name("mdr")), "demo", "stop"],
                              env=env, capture_output=True, text=True, timeout=60, check=False)
    assert stop.returncode == 0 and "the API" in stop.stderr
    try:
        httpx.post(first["api"], json={"query": "{ __typename }"}, timeout=2)
        raise AssertionError("the demo's API still answers after mdr demo stop")
    except httpx.TransportError:
        pass
