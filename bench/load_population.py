"""Population load speed: `mdr load population` against raw COPY and pandas.to_sql, and
how a load's cost grows with the registry.

Run from the project root: `.venv/bin/python bench/load_population.py [--scale N]
[--sizes A,B]`. It starts its own PostgreSQL cluster under var/, generates N persons,
measures

* ours: `mdr load population` (validation, staging, set-based checks, history,
  run records) as a separate process, with its peak memory;
* raw COPY of the same file into a bare table with only a primary key (the
  database's limit for getting these rows in);
* pandas.DataFrame.to_sql, method=None and method="multi", on a 100,000-row
  subset (what a user would otherwise reach for);

and, for each registry size of ``--sizes`` (default N/10 and N), the growth curve:
the first load of the snapshot in bulk (``--bulk``), then against the loaded registry
(vacuumed) three files of 1,000 events and three partial snapshots of 1,000 persons (the
median counts; the whole command's seconds are reported too), then the first load the
ordinary way (``--no-bulk``; each load with its peak memory and the seconds of its steps); at the
smallest size also the bulk load with a validating process per core. Ratios: the bulk
rate over the ordinary rate at the largest size, bulk with a validating process per core
over bulk with one, and each delta's time at the largest size over its time at the smallest
(1.0: a delta costs what it changes, whatever the registry holds). Each size's figures
are written to stderr as soon as they are measured; ``--data DIR`` keeps the generated
files for later runs.

It prints one JSON object with rows/s for each and the ratios ours / reference.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
from sqlalchemy import create_engine
from support import (
    ROOT,
    bench_cluster,
    create_database,
    migrated_with_reference,
    raw_copy,
    timed,
)

from fixtures.generator import generate_population
from loaders.sources.population_layout import SNAPSHOT_FIELDS
from mdr.cluster import LocalCluster

TO_SQL_ROWS = 100_000
DELTA_ROWS = 1_000
DELTA_REPEATS = 3


def to_sql(url: str, frame: pd.DataFrame, method: str | None) -> None:
    engine = create_engine(url)
    try:
        frame.to_sql(f"bench_to_sql_{method or 'none'}", engine, index=False,
                     if_exists="replace", method=method, chunksize=1_000)
    finally:
        engine.dispose()


def spread(path: Path, out: Path, count: int, offset: int = 0) -> Path:
    """``count`` rows taken evenly across ``path`` (with its header), starting at row
    ``offset``: files of different offsets share no row."""
    lines = path.read_text(encoding="utf-8").splitlines()
    step = max(1, (len(lines) - 1) // count)
    picked = lines[1 + offset % step::step][:count]
    out.write_text("\n".join([lines[0], *picked]) + "\n", encoding="utf-8")
    return out


def mdr_load(url: str, path: Path, *options: str) -> tuple[float, dict[str, Any], float]:
    """``mdr load population`` as a separate process: the load's seconds (as it measured
    them: the start of the process, the same for every size, would hide a delta's own
    time), its summary (with the whole process's seconds as ``wall_seconds``, which
    include whatever the command does after the load) and the process's peak RSS (MB)."""
    script = ("import resource, subprocess, sys; "
              "run = subprocess.run(sys.argv[1:]); "
              "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
              "sys.exit(run.returncode)")
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / ".venv" / "bin" / "mdr"), "load",
         "population", str(path), "--effective-date", "2026-01-01", "--json", *options],
        env={**os.environ, "MDR_DATABASE_URL": url}, capture_output=True, text=True,
        check=False)
    wall = time.perf_counter() - started
    if run.returncode != 0:
        raise SystemExit(f"mdr load population {path.name} failed:\n{run.stdout}{run.stderr}")
    rss_kb = int(run.stderr.strip().splitlines()[-1])
    summary = json.loads(run.stdout)
    summary["wall_seconds"] = wall
    return float(summary["seconds"]), summary, rss_kb / 1024


def generated(data_root: Path, size: int) -> Path:
    """The folder of ``size`` generated persons (seed 5), generated once under
    ``data_root`` and reused by later runs."""
    data = data_root / f"population-{size}-seed5"
    if not (data / "done").exists():
        generate_population(data, size, seed=5)
        (data / "done").touch()
    return data


def first_load(url: str, persons: Path, size: int, *options: str) -> dict[str, Any]:
    seconds, summary, rss = mdr_load(url, persons, *options)
    return {"seconds": round(seconds, 2), "rows_per_s": round(size / seconds),
            "peak_rss_mb": round(rss), "inserted": summary["inserted"],
            "rejected": summary["rejected"], "status": summary["status"],
            "steps_s": summary.get("details", {}).get("steps_s", {})}


def growth(cluster: LocalCluster, data_root: Path, size: int, compare_workers: bool
           ) -> dict[str, Any]:
    """First loads (bulk, then ordinary) and 1,000-row deltas at one registry size; with
    ``compare_workers``, the bulk load with a validating process per core too."""
    data = generated(data_root, size)
    persons, events = data / "persons.csv", data / "events.csv"
    point: dict[str, Any] = {"persons": size}

    def measured(name: str, figures: dict[str, Any]) -> None:
        # A run of an hour tells what it has done so far.
        point[name] = figures
        print(json.dumps({"persons": size, name: figures}), file=sys.stderr, flush=True)

    measured("bulk", first_load(create_database(cluster, f"b{size}", "mdr"), persons, size,
                                "--bulk"))
    if compare_workers:
        cores = str(os.cpu_count() or 1)
        measured("bulk_workers", first_load(create_database(cluster, f"bw{size}", "mdr"),
                                            persons, size, "--bulk", "--workers", cores))
    # The deltas go to the registry loaded in bulk (the same rows as the ordinary load
    # leaves), before the ordinary load, the longest step, begins; after the vacuum that
    # autovacuum would run on the new rows anyway (timing a delta beside it would time
    # the vacuum). Each is run DELTA_REPEATS times with files that share no row; the
    # median counts.
    url = cluster.url(database=f"b{size}")
    with psycopg.connect(cluster.conninfo(database=f"b{size}"), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    for name, source, kind in (("events_1000", events, "events"),
                               ("snapshot_1000", persons, "snapshot")):
        runs = [mdr_load(url, spread(source, data / f"{kind}-{i}.csv", DELTA_ROWS, i),
                         "--kind", kind) for i in range(DELTA_REPEATS)]
        measured(name, {
            "seconds": round(statistics.median(s for s, _, _ in runs), 2),
            "each_s": [round(s, 2) for s, _, _ in runs],
            "wall_s": [round(r["wall_seconds"], 2) for _, r, _ in runs],
            "analytics": [r["details"].get("analytics") for _, r, _ in runs],
            "inserted": [r["inserted"] for _, r, _ in runs],
            "unchanged": [r["unchanged"] for _, r, _ in runs],
            "rejected": [r["rejected"] for _, r, _ in runs]})
    measured("ordinary", first_load(create_database(cluster, f"o{size}", "mdr"), persons,
                                    size, "--no-bulk"))
    return point


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=1_000_000, help="persons to load")
    parser.add_argument("--sizes", default=None,
                        help="registry sizes of the growth curve, e.g. 100000,1000000 "
                             "(default: scale/10 and scale)")
    parser.add_argument("--data", type=Path, default=None,
                        help="keep the generated files in this folder and reuse them in "
                             "later runs (default: generated for this run only)")
    parser.add_argument("--no-worker-comparison", dest="compare_workers",
                        action="store_false",
                        help="skip the bulk load with a validating process per core")
    args = parser.parse_args()
    sizes = sorted({*([int(s) for s in args.sizes.split(",")] if args.sizes
                      else [max(1, args.scale // 10)]), args.scale})
    with bench_cluster("load-population") as (cluster, work):
        url = migrated_with_reference(cluster)
        data_root = args.data.resolve() if args.data else work
        curve = [growth(cluster, data_root, size,
                        compare_workers=args.compare_workers and size == sizes[0])
                 for size in sizes]
        small, large = curve[0], curve[-1]
        # The ordinary first load at the largest size is "ours": its file is the one the
        # references load too.
        persons = generated(data_root, large["persons"]) / "persons.csv"
        summary = {"read": large["persons"],
                   **{k: large["ordinary"][k] for k in ("inserted", "rejected", "status")}}
        ours_seconds = large["ordinary"]["seconds"]
        peak_rss_mb = large["ordinary"]["peak_rss_mb"]

        copy_seconds = raw_copy(cluster.conninfo(database="mdr"), persons, SNAPSHOT_FIELDS)
        frame = pd.read_csv(persons, nrows=TO_SQL_ROWS, dtype=str, keep_default_na=False)
        to_sql_seconds = {str(m): timed(to_sql, url, frame, m) for m in (None, "multi")}

        rows = summary["read"]
        ours = rows / ours_seconds
        copy_rate = rows / copy_seconds
        to_sql_rates = {m: len(frame) / s for m, s in to_sql_seconds.items()}
        best_to_sql = max(to_sql_rates.values())
        print(json.dumps({
            "bench": "load_population",
            "scale": args.scale,
            "figures": {
                "rows": rows,
                "ours_seconds": round(ours_seconds, 2),
                "ours_rows_per_s": round(ours),
                "ours_peak_rss_mb": round(peak_rss_mb),
                "ours_summary": {k: summary[k] for k in ("inserted", "rejected", "status")},
                "raw_copy_seconds": round(copy_seconds, 2),
                "raw_copy_rows_per_s": round(copy_rate),
                "to_sql_rows": len(frame),
                "to_sql_rows_per_s": {m: round(r) for m, r in to_sql_rates.items()},
                "growth": curve,
            },
            "ratios": {
                "ours_vs_raw_copy": round(ours / copy_rate, 3),
                "ours_vs_best_to_sql": round(ours / best_to_sql, 2),
                "bulk_vs_ordinary_at_largest": round(
                    large["bulk"]["rows_per_s"] / large["ordinary"]["rows_per_s"], 2),
                **({"bulk_workers_vs_one_worker_at_smallest": round(
                    small["bulk_workers"]["rows_per_s"] / small["bulk"]["rows_per_s"], 2)}
                   if "bulk_workers" in small else {}),
                "events_1000_largest_vs_smallest": round(
                    large["events_1000"]["seconds"] / small["events_1000"]["seconds"], 2),
                "snapshot_1000_largest_vs_smallest": round(
                    large["snapshot_1000"]["seconds"] / small["snapshot_1000"]["seconds"], 2),
            },
        }))


if __name__ == "__main__":
    main()
