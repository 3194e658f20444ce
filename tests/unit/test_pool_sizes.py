"""API workers size their connection pools so that together they stay within the
server's max_connections."""

from __future__ import annotations

import pytest

from graphql_api.connections import (
    KEPT_FOR_OTHERS,
    LISTENERS,
    TooFewConnections,
    pool_sizes,
)
from mdr.settings import Settings, SettingsError


def test_one_worker_against_the_embedded_cluster_keeps_full_pools() -> None:
    sizes = pool_sizes(200, 3, 1)
    assert (sizes.driver, sizes.engine, sizes.overflow) == (32, 32, 32)


@pytest.mark.parametrize("max_connections", [20 + 3 + 3, 50, 100, 200, 500, 5000])
@pytest.mark.parametrize("workers", [1, 2, 3, 4, 8, 16])
def test_all_workers_together_stay_within_the_limit(max_connections: int,
                                                    workers: int) -> None:
    try:
        sizes = pool_sizes(max_connections, 3, workers)
    except TooFewConnections:
        assert (max_connections - 3 - KEPT_FOR_OTHERS) // workers < 2 + LISTENERS
        return
    assert min(sizes.driver, sizes.engine) >= 1 and sizes.overflow >= 0
    assert max(sizes.driver, sizes.engine, sizes.overflow) <= 32
    assert sizes.per_worker == sizes.driver + sizes.engine + sizes.overflow + LISTENERS
    assert workers * sizes.per_worker <= max_connections - 3 - KEPT_FOR_OTHERS


def test_four_workers_against_200_share_them() -> None:
    # Before, each of four workers could open 32 + 32 + 32 (+1): 388 against 200.
    sizes = pool_sizes(200, 3, 4)
    assert 4 * sizes.per_worker <= 177
    assert "4 worker(s)" in sizes.describe() and "max_connections 200" in sizes.describe()


def test_too_many_workers_are_refused_with_what_to_do() -> None:
    with pytest.raises(SettingsError, match=r"Run fewer workers .* or raise max_connections"):
        pool_sizes(200, 3, 100)


def test_the_worker_count_is_a_setting() -> None:
    assert Settings.from_env({}).api_workers == 1
    assert Settings.from_env({"MDR_API_WORKERS": "4"}).api_workers == 4
