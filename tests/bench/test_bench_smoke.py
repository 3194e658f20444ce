"""Smoke runs of the benchmark scripts: they run, clean up, and print their JSON contract."""

from __future__ import annotations

import json
import subprocess
import sys

from mdr.settings import PROJECT_ROOT


def test_load_population_bench_smoke() -> None:
    run = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / "load_population.py"), "--scale", "10000"],
        capture_output=True, text=True, timeout=600, check=False, cwd=PROJECT_ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout)
    assert result["bench"] == "load_population" and result["scale"] == 10000
    figures = result["figures"]
    assert figures["ours_summary"] == {"inserted": 10000, "rejected": 0, "status": "committed"}
    assert figures["raw_copy_rows_per_s"] > 0 and figures["ours_rows_per_s"] > 0
    assert set(result["ratios"]) == {"ours_vs_raw_copy", "ours_vs_best_to_sql"}
    assert not list((PROJECT_ROOT / "var").glob("bench-load-population-*"))


def test_api_verify_bench_smoke() -> None:
    run = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / "api_verify.py"), "--scale", "3000",
         "--duration", "1", "--connections", "4"],
        capture_output=True, text=True, timeout=900, check=False, cwd=PROJECT_ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout)
    assert result["bench"] == "api_verify" and result["scale"] == 3000
    figures = result["figures"]
    for server in ("mdr_verify_person", "mdr_verify_persons_1000", "postgraphile_person"):
        assert figures[server]["requests"] > 0, server
        assert figures[server]["errors"] == 0 and figures[server]["non_2xx"] == 0, server
    assert figures["pgbench_one"]["statements_per_s"] > 0
    assert set(result["ratios"]) == {"verify_person_vs_postgraphile",
                                     "verify_person_vs_pgbench_one",
                                     "verify_persons_vs_pgbench_batch"}
    assert not list((PROJECT_ROOT / "var").glob("bench-api-verify-3000"))


def test_api_caches_bench_smoke() -> None:
    run = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / "api_caches.py"), "--scale", "40"],
        capture_output=True, text=True, timeout=300, check=False, cwd=PROJECT_ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout)
    assert result["bench"] == "api_caches" and result["scale"] == 40
    assert result["figures"]["requests_per_variant"] == 40
    assert result["figures"]["cached_requests_per_s"] > 0
    assert result["ratios"]["cached_vs_uncached"] > 0
    assert not list((PROJECT_ROOT / "var").glob("bench-api-caches-*"))
