"""GraphQL over HTTP conformance: graphql-http's server audits against a real `mdr serve`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mdr.cluster import LocalCluster
from mdr.settings import Settings
from tests.api.support import database_with_client, served

AUDIT = Path(__file__).with_name("graphql_http_audit")

# Audits whose queries ask for `__type(name: ...)`: with introspection refused outside
# development mode, validation rejects them, as it should. They pass in development mode.
NEED_INTROSPECTION = {"28B9", "2EA1"}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: `make test` installs Node.js and npm "
                    "(scripts/system-deps.sh); run it, or apt-get install nodejs npm.")
    return path


@pytest.fixture(scope="module")
def audit_script() -> Path:
    """The audit script with its pinned packages installed (npm ci, first time only)."""
    _tool("node")
    if not (AUDIT / "node_modules" / "graphql-http").exists():
        subprocess.run([_tool("npm"), "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=AUDIT, check=True, timeout=300)
    return AUDIT / "audit.mjs"


@pytest.fixture(scope="module")
def api(cluster: LocalCluster, ref_template: str, settings: Settings,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with database_with_client(cluster, ref_template, tmp_path_factory.mktemp("audit"),
                              settings, "conformance") as api:
        yield api


def run_audit(script: Path, address: str, key: str) -> dict[str, Any]:
    done = subprocess.run(["node", str(script)], cwd=script.parent, capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "MDR_AUDIT_URL": address, "MDR_AUDIT_KEY": key})
    assert done.returncode in (0, 1), done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def not_passed(report: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: f"{r['name']}: {r.get('reason')} (HTTP {r.get('httpStatus')}) "
                     f"{r.get('body', '')[:200]}"
            for r in report["results"] if r["level"] != "MAY" and r["status"] != "ok"}


def test_every_must_and_should_audit_passes_in_development_mode(
        audit_script: Path, api: tuple[str, str]) -> None:
    url, key = api
    with served(url, {"MDR_API_DEV": "1"}) as address:
        report = run_audit(audit_script, address, key)
    print("graphql-http audit, development mode:", json.dumps(report["counts"]))
    failing = not_passed(report)
    assert not failing, "\n".join(f"{k} {v}" for k, v in failing.items())
    assert report["counts"]["MUST"]["total"] > 0 and report["counts"]["SHOULD"]["total"] > 0


def test_in_production_only_the_introspection_audits_are_refused(
        audit_script: Path, api: tuple[str, str]) -> None:
    url, key = api
    with served(url) as address:
        report = run_audit(audit_script, address, key)
    print("graphql-http audit, production mode:", json.dumps(report["counts"]))
    failing = not_passed(report)
    assert set(failing) == NEED_INTROSPECTION, failing
    assert all("introspection" in failing[i].lower() for i in NEED_INTROSPECTION), failing
