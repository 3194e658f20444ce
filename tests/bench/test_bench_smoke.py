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
