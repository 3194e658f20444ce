"""Smoke runs of the benchmark scripts: they run, clean up, and print their JSON contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from mdr.settings import PROJECT_ROOT


def run_bench(script: str, *options: str, timeout: int) -> dict[str, Any]:
    """Runs bench/<script>.py as a user would; its one JSON object."""
    run = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / f"{script}.py"), *options],
        capture_output=True, text=True, timeout=timeout, check=False, cwd=PROJECT_ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    result: dict[str, Any] = json.loads(run.stdout)
    assert result["bench"] == script
    return result


def test_load_population_bench_smoke() -> None:
    result = run_bench("load_population", "--scale", "3000", "--sizes", "1000", timeout=900)
    assert result["scale"] == 3000
    figures = result["figures"]
    assert figures["ours_summary"] == {"inserted": 3000, "rejected": 0, "status": "committed"}
    assert figures["raw_copy_rows_per_s"] > 0 and figures["ours_rows_per_s"] > 0
    assert [point["persons"] for point in figures["growth"]] == [1000, 3000]
    for point in figures["growth"]:
        assert point["bulk"]["inserted"] == point["ordinary"]["inserted"] == point["persons"]
        for delta in ("events_1000", "snapshot_1000"):
            assert point[delta]["rejected"] == [0, 0, 0]
            assert len(point[delta]["wall_s"]) == 3 and point[delta]["seconds"] > 0
        assert point["events_1000"]["inserted"][0] > 0 and point["bulk"]["peak_rss_mb"] > 0
        assert point["bulk"]["steps_s"]["rebuild"] > 0
        assert "rebuild" not in point["ordinary"]["steps_s"]
    assert figures["growth"][0]["bulk_workers"]["inserted"] == 1000
    assert set(result["ratios"]) == {"ours_vs_raw_copy", "ours_vs_best_to_sql",
                                     "bulk_vs_ordinary_at_largest",
                                     "bulk_workers_vs_one_worker_at_smallest",
                                     "events_1000_largest_vs_smallest",
                                     "snapshot_1000_largest_vs_smallest"}
    assert not list((PROJECT_ROOT / "var").glob("bench-load-population-*"))


def test_normalise_population_bench_smoke(tmp_path: Path) -> None:
    # The bench itself stops unless the column-wise result equals the row-wise one.
    result = run_bench("normalise_population", "--scale", "500", "--data", str(tmp_path),
                       timeout=300)
    assert result["figures"]["cells_compared"] == 500 * 18
    assert result["figures"]["row_wise_us_per_row"] \
        > result["figures"]["row_wise_column_part_us_per_row"] > 0
    assert 0 < result["ratios"]["column_part_share_of_row_wise"] < 1


def test_index_builds_bench_smoke() -> None:
    result = run_bench("index_builds", "--rows", "5000", timeout=300)
    figures = result["figures"]
    assert all(figures[f"{kind}_{label}_seconds"] > 0 for kind in ("btree", "gist")
               for label in ("no_workers", "workers"))
    assert set(result["ratios"]) == {"btree_no_workers_vs_workers",
                                     "gist_no_workers_vs_workers"}
    assert not list((PROJECT_ROOT / "var").glob("bench-index-builds-*"))


def test_api_verify_bench_smoke() -> None:
    result = run_bench("api_verify", "--scale", "3000", "--duration", "1", "--connections", "4",
                       timeout=900)
    assert result["scale"] == 3000
    figures = result["figures"]
    # The bench itself stops unless mdr and the function-based peer answered the same
    # claims alike; here each server answered its load without errors.
    for server in ("mdr_verify_person", "mdr_verify_persons_1000", "mdr_verify_enterprise",
                   "postgraphile_verify_person", "postgraphile_verify_enterprise",
                   "postgraphile_person_lookup"):
        assert figures[server]["requests"] > 0, server
        assert figures[server]["errors"] == 0 and figures[server]["non_2xx"] == 0, server
    assert figures["pgbench_one"]["statements_per_s"] > 0
    assert figures["enterprises"] == 1000
    assert set(result["ratios"]) == {"verify_person_vs_postgraphile_function",
                                     "verify_enterprise_vs_postgraphile_function",
                                     "verify_person_vs_postgraphile_lookup",
                                     "verify_person_vs_pgbench_one",
                                     "verify_persons_vs_pgbench_batch"}
    assert not list((PROJECT_ROOT / "var").glob("bench-api-verify-3000"))


def test_api_caches_bench_smoke() -> None:
    result = run_bench("api_caches", "--scale", "40", timeout=300)
    assert result["scale"] == 40
    assert result["figures"]["requests_per_variant"] == 40
    assert result["figures"]["cached_requests_per_s"] > 0
    assert result["ratios"]["cached_vs_uncached"] > 0
    assert not list((PROJECT_ROOT / "var").glob("bench-api-caches-*"))


def test_replica_lag_bench_smoke() -> None:
    result = run_bench("replica_lag", "--scale", "1000", timeout=600)
    assert result["scale"] == 1000
    figures = result["figures"]
    assert figures["load_summary"] == {"inserted": 1000, "rejected": 0, "status": "committed"}
    assert figures["samples"] > 0 and figures["restored_persons"] == 1000
    assert figures["lag_bytes"]["max"] >= figures["lag_bytes"]["p99"] >= 0
    assert 0 < figures["commit_to_visible_seconds_idle"]["p50"] < 5
    assert figures["backup_full_seconds"] > 0 and figures["restore_seconds"] > 0
    assert set(result["ratios"]) == {"backup_vs_pg_basebackup", "restore_vs_pg_basebackup",
                                     "visible_idle_vs_under_load"}
    assert not list((PROJECT_ROOT / "var").glob("bench-replica-lag-*"))


def test_load_land_bench_smoke() -> None:
    result = run_bench("load_land", "--scale", "1000", timeout=600)
    assert result["scale"] == 1000
    figures = result["figures"]
    assert figures["ours_summary"] == {"inserted": 1000, "rejected": 0, "status": "committed"}
    assert figures["ceiling_rows"] == 1000
    assert figures["ogr2ogr_parcels_per_s"] > 0 and figures["overlap_check_seconds"] >= 0
    assert figures["bulk_summary"] == figures["ours_summary"]
    for steps in (figures["ours_step_seconds"], figures["bulk_step_seconds"]):
        # The plain command's first load builds the registry in bulk as --bulk does.
        assert {"read", "check", "merge", "rebuild", "statistics"} <= set(steps)
    assert set(result["ratios"]) == {"ours_vs_ogr2ogr", "ours_vs_ceiling", "bulk_vs_ogr2ogr",
                                     "bulk_vs_ceiling"}
    assert not list((PROJECT_ROOT / "var").glob("bench-load-land-*"))


def test_load_enterprise_bench_smoke() -> None:
    result = run_bench("load_enterprise", "--scale", "1000", timeout=600)
    assert result["scale"] == 1000
    figures = result["figures"]
    assert figures["ours_summary"]["rejected"] == 0
    assert figures["ours_summary"]["status"] == "committed"
    assert figures["ours_summary"]["inserted"] == figures["rows"] >= 1000
    # The ceiling re-writes every row the load wrote: several per enterprise.
    assert figures["rows_written"] > 5 * figures["rows"]
    assert figures["ceiling_rows_per_s"] > 0 and figures["raw_copy_rows_per_s"] > 0
    assert set(result["ratios"]) == {"ours_vs_ceiling", "ours_vs_raw_copy"}
    assert not list((PROJECT_ROOT / "var").glob("bench-load-enterprise-*"))


def test_load_macro_bench_smoke() -> None:
    result = run_bench("load_macro", "--scale", "5000", timeout=600)
    assert result["scale"] == 5000
    figures = result["figures"]
    assert figures["ours_summary"] == {"inserted": 5000, "rejected": 0, "status": "committed"}
    assert figures["ceiling_rows_per_s"] > 0 and figures["sdmx1_to_sql_rows"] == 5000
    assert set(result["ratios"]) == {"ours_vs_ceiling", "ours_vs_sdmx1_to_sql"}
    assert not list((PROJECT_ROOT / "var").glob("bench-load-macro-*"))
