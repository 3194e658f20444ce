"""Smoke runs of the benchmark scripts: they run, clean up, and print their JSON contract."""

from __future__ import annotations

import json
import subprocess
import sys
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
    result = run_bench("load_population", "--scale", "10000", timeout=600)
    assert result["scale"] == 10000
    figures = result["figures"]
    assert figures["ours_summary"] == {"inserted": 10000, "rejected": 0, "status": "committed"}
    assert figures["raw_copy_rows_per_s"] > 0 and figures["ours_rows_per_s"] > 0
    assert set(result["ratios"]) == {"ours_vs_raw_copy", "ours_vs_best_to_sql"}
    assert not list((PROJECT_ROOT / "var").glob("bench-load-population-*"))


def test_api_verify_bench_smoke() -> None:
    result = run_bench("api_verify", "--scale", "3000", "--duration", "1", "--connections", "4",
                       timeout=900)
    assert result["scale"] == 3000
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
    result = run_bench("api_caches", "--scale", "40", timeout=300)
    assert result["scale"] == 40
    assert result["figures"]["requests_per_variant"] == 40
    assert result["figures"]["cached_requests_per_s"] > 0
    assert result["ratios"]["cached_vs_uncached"] > 0
    assert not list((PROJECT_ROOT / "var").glob("bench-api-caches-*"))


def test_load_macro_bench_smoke() -> None:
    result = run_bench("load_macro", "--scale", "5000", timeout=600)
    assert result["scale"] == 5000
    figures = result["figures"]
    assert figures["ours_summary"] == {"inserted": 5000, "rejected": 0, "status": "committed"}
    assert figures["ceiling_rows_per_s"] > 0 and figures["sdmx1_to_sql_rows"] == 5000
    assert set(result["ratios"]) == {"ours_vs_ceiling", "ours_vs_sdmx1_to_sql"}
    assert not list((PROJECT_ROOT / "var").glob("bench-load-macro-*"))
