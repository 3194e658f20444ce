"""Population load speed: `mdr load population` against raw COPY and pandas.to_sql.

Run from the project root: `.venv/bin/python bench/load_population.py [--scale N]`.
It starts its own PostgreSQL cluster under var/, generates N persons, measures

* ours: `mdr load population` (validation, staging, set-based checks, history,
  run records) as a separate process, with its peak memory;
* raw COPY of the same file into a bare table with only a primary key (the
  database's limit for getting these rows in);
* pandas.DataFrame.to_sql, method=None and method="multi", on a 100,000-row
  subset (what a user would otherwise reach for);

and prints one JSON object with rows/s for each and the ratios ours / reference.
"""

from __future__ import annotations

import argparse
import json
import time

import pandas as pd
from sqlalchemy import create_engine
from support import bench_cluster, migrated_with_reference, peak_child_rss_mb, raw_copy, run_mdr

from fixtures.generator import generate_population
from loaders.sources.population_layout import SNAPSHOT_FIELDS

TO_SQL_ROWS = 100_000


def timed(fn: object, *args: object) -> float:
    started = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - started


def to_sql(url: str, frame: pd.DataFrame, method: str | None) -> None:
    engine = create_engine(url)
    try:
        frame.to_sql(f"bench_to_sql_{method or 'none'}", engine, index=False,
                     if_exists="replace", method=method, chunksize=1_000)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=1_000_000, help="persons to load")
    args = parser.parse_args()
    with bench_cluster("load-population") as (cluster, work):
        url = migrated_with_reference(cluster)
        data = work / "data"
        generated = generate_population(data, args.scale, seed=1)
        persons = data / "persons.csv"

        summary, ours_seconds = run_mdr(url, "load", "population", str(persons),
                                        "--effective-date", "2026-01-01")
        peak_rss_mb = peak_child_rss_mb()

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
                "generate_seconds": round(generated.seconds, 2),
                "ours_seconds": round(ours_seconds, 2),
                "ours_rows_per_s": round(ours),
                "ours_peak_rss_mb": round(peak_rss_mb),
                "ours_summary": {k: summary[k] for k in ("inserted", "rejected", "status")},
                "raw_copy_seconds": round(copy_seconds, 2),
                "raw_copy_rows_per_s": round(copy_rate),
                "to_sql_rows": len(frame),
                "to_sql_rows_per_s": {m: round(r) for m, r in to_sql_rates.items()},
            },
            "ratios": {
                "ours_vs_raw_copy": round(ours / copy_rate, 3),
                "ours_vs_best_to_sql": round(ours / best_to_sql, 2),
            },
        }))


if __name__ == "__main__":
    main()
