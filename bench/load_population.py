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
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402

from bench.common import cluster_with_reference, timed  # noqa: E402
from fixtures.generator import generate_population  # noqa: E402
from loaders.sources.population_layout import SNAPSHOT_FIELDS  # noqa: E402

TO_SQL_ROWS = 100_000


def raw_copy(conninfo: str, path: Path) -> None:
    columns = ", ".join(f"{c} text" for c in SNAPSHOT_FIELDS[1:])
    with psycopg.connect(conninfo) as conn:
        conn.execute(f"CREATE TABLE bench_raw (national_id text PRIMARY KEY, {columns})")
        with conn.cursor() as cur, cur.copy(
            "COPY bench_raw FROM STDIN WITH (FORMAT csv, HEADER true)"
        ) as copy, path.open("rb") as handle:
            while block := handle.read(1 << 20):
                copy.write(block)


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
    work = ROOT / "var" / f"bench-load-population-{os.getpid()}"
    with cluster_with_reference(work) as cluster:
        url = cluster.url()
        data = work / "data"
        generated = generate_population(data, args.scale, seed=1)
        persons = data / "persons.csv"

        env = {**os.environ, "MDR_DATABASE_URL": url}
        started = time.perf_counter()
        run = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "mdr"), "load", "population", str(persons),
             "--effective-date", "2026-01-01", "--json"],
            env=env, capture_output=True, text=True, check=False)
        ours_seconds = time.perf_counter() - started
        if run.returncode != 0:
            raise SystemExit(f"mdr load population failed:\n{run.stderr}")
        summary = json.loads(run.stdout)
        peak_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

        copy_seconds = timed(raw_copy, cluster.conninfo(database="mdr"), persons)
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
