"""While a bulk load rebuilds the registry, reads answer REGISTRY_LOADING (503 with
Retry-After) on either executor instead of hanging on its lock, and work again after it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from graphql_api.app import create_app
from graphql_api.limits import RETRY_AFTER_LOADING
from loaders.bulk import constraints_built_after
from loaders.population import SnapshotStage
from mdr import db
from mdr.cluster import LocalCluster
from mdr.settings import Settings
from tests.api.support import PERSON_READS, database_with_client, post_query


class KilledLoad(Exception):
    """Ends the bulk load's transaction as a killed load's ends: rolled back."""


def _loading(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == str(RETRY_AFTER_LOADING)
    errors = response.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["REGISTRY_LOADING"], errors
    assert "loaded in bulk" in errors[0]["message"] and "retry" in errors[0]["message"]


def test_reads_during_a_bulk_load_say_the_registry_is_loading_then_work_again(
        cluster: LocalCluster, ref_template: str, settings: Settings,
        tmp_path: Path) -> None:
    with database_with_client(cluster, ref_template, tmp_path, settings, "loading") as (url,
                                                                                        key):
        api = Settings.from_env({"MDR_DATABASE_URL": url, "MDR_API_LOCK_TIMEOUT_MS": "300"})
        owner = db.make_engine(url, settings, role=db.Role.OWNER)
        try:
            with TestClient(create_app(api)) as compiled, \
                    TestClient(create_app(api, compile_operations=False)) as general:
                # What a bulk load of the whole registry holds while it merges: the
                # registry's tables, their constraints dropped, until it ends.
                with pytest.raises(KilledLoad), owner.begin() as conn, \
                        constraints_built_after(conn, SnapshotStage.registry_tables):
                    for client in (compiled, general):
                        for query, variables in PERSON_READS:
                            for accept in (None, "application/graphql-response+json"):
                                _loading(post_query(client, key, query, variables, accept))
                    raise KilledLoad
                for client in (compiled, general):
                    for query, variables in PERSON_READS:
                        answer = post_query(client, key, query, variables)
                        assert answer.status_code == 200 and "errors" not in answer.json()
                assert post_query(compiled, key, *PERSON_READS[0]).json()["data"]["verifyPerson"][
                    "found"] is True
        finally:
            owner.dispose()
