"""What parallel maintenance workers give the index builds of a bulk load.

Run from the project root: `.venv/bin/python bench/index_builds.py [--rows N]`. In its
own cluster it fills a table shaped like population.residence with N rows, then builds,
inside one transaction as a bulk load does (``loaders.bulk``), with
``max_parallel_maintenance_workers`` 0 and then one per core:

* a btree index on the person's number (as ``ix_residence_national_id``);
* the exclusion constraint on overlapping validity (as ``ex_residence_period``: GiST).

Ratios: each build's time without workers over its time with them (above 1: the workers
help; about 1: the build has no parallel mode, as GiST in PostgreSQL 15). It prints one
JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import psycopg
from support import bench_cluster

from loaders.bulk import MAINTENANCE_WORK_MEM

BUILDS = {
    "btree": "CREATE INDEX ix_bench_national_id ON bench_residence (national_id)",
    "gist": "ALTER TABLE bench_residence ADD CONSTRAINT ex_bench_period EXCLUDE USING gist "
            "((national_id::bigint) WITH =, kind WITH =, "
            "daterange(valid_from, valid_to) WITH &&)",
}


def build_seconds(conninfo: str, statement: str, workers: int) -> float:
    """Seconds of one build in a transaction that is then rolled back."""
    with psycopg.connect(conninfo) as conn:
        conn.execute(f"SET LOCAL max_parallel_maintenance_workers = {workers}")
        conn.execute(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
        started = time.perf_counter()
        conn.execute(statement)
        seconds = time.perf_counter() - started
        conn.rollback()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the table")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with bench_cluster("index-builds") as (cluster, _):
        conninfo = cluster.conninfo()
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
            # Persons' numbers in random order, a current residence each and a closed
            # earlier one for every third person.
            conn.execute("""
                CREATE TABLE bench_residence AS
                SELECT lpad((g * 7919 %% 1000000007)::text, 12, '0') AS national_id,
                       'permanent'::text AS kind,
                       date '1950-01-01' + g %% 20000 AS valid_from,
                       CASE WHEN g %% 3 = 0 THEN date '2025-07-01' END AS valid_to
                FROM generate_series(1, %s) AS g ORDER BY random()""", (args.rows,))
            conn.execute("VACUUM ANALYZE bench_residence")
        seconds = {f"{kind}_{label}": build_seconds(conninfo, statement, workers)
                   for kind, statement in BUILDS.items()
                   for label, workers in (("no_workers", 0), ("workers", cores))}
    print(json.dumps({
        "bench": "index_builds",
        "rows": args.rows,
        "figures": {"cores": cores,
                    **{f"{name}_seconds": round(s, 2) for name, s in seconds.items()}},
        "ratios": {f"{kind}_no_workers_vs_workers": round(
            seconds[f"{kind}_no_workers"] / seconds[f"{kind}_workers"], 2) for kind in BUILDS},
    }))


if __name__ == "__main__":
    main()
