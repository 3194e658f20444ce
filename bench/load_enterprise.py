"""Enterprise load speed: `mdr load enterprise` against the schema's own ceiling and raw COPY.

Run from the project root: `.venv/bin/python bench/load_enterprise.py [--scale N]`.
It starts its own PostgreSQL cluster under var/, generates N enterprises (with their
representatives, owners, lines and branches) whose people are a generated population
of N persons, loads the population (not timed), and measures

* (a) ours: `mdr load enterprise` of the snapshot (validation, staging, set-based and
  cross-registry checks, history, run record) as its own process, with its peak memory;
* (b) the schema's ceiling: the rows (a) wrote, already normalised, COPYed straight
  into the same tables, with the same constraints and indexes, in one transaction of a
  copy of the database as it was before (a);
* (c) a raw COPY of the input file into a bare table keyed by the enterprise code;

and prints one JSON object: enterprises/s for each, ours / ceiling and ours / raw COPY.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import psycopg
from sqlalchemy import Engine
from support import (
    bench_cluster,
    create_database,
    migrated_with_reference,
    peak_child_rss_mb,
    raw_copy,
    run_mdr,
)

from fixtures.enterprise_generator import BASE_YEARS, generate_enterprises
from fixtures.generator import generate_population
from loaders.base import Options
from loaders.population import load_population
from loaders.sources.enterprise_layout import SNAPSHOT_FIELDS
from mdr import db
from mdr.settings import Settings

EFFECTIVE = dt.date(2026, 1, 1)
BASE = EFFECTIVE.replace(year=EFFECTIVE.year - BASE_YEARS)
# What the load writes, in an order the foreign keys accept.
TABLES = ("etl.load_run", "enterprise.enterprise", "enterprise.dependent_unit",
          "enterprise.enterprise_name", "enterprise.enterprise_form",
          "enterprise.enterprise_status", "enterprise.head_office", "enterprise.charter_capital",
          "enterprise.business_line", "enterprise.legal_representative", "enterprise.ownership",
          "enterprise.dependent_unit_office")


def dump(conninfo: str, folder: Path) -> int:
    """The rows the load wrote, one binary COPY file per table; the row count."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = 0
    with psycopg.connect(conninfo) as conn:
        for table in TABLES:
            where = " WHERE registry = 'enterprise'" if table == "etl.load_run" else ""
            with (folder / table).open("wb") as out, conn.cursor() as cur, cur.copy(
                    f"COPY (SELECT * FROM {table}{where}) TO STDOUT (FORMAT binary)") as copy:
                for block in copy:
                    out.write(block)
            count = conn.execute(f"SELECT count(*) FROM {table}{where}").fetchone()
            rows += count[0] if count else 0
    return rows


def ceiling(conninfo: str, folder: Path) -> float:
    """COPY the dumped rows into the same tables in one transaction; seconds."""
    started = time.perf_counter()
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        for table in TABLES:
            with cur.copy(f"COPY {table} FROM STDIN (FORMAT binary)") as copy, \
                    (folder / table).open("rb") as handle:
                while block := handle.read(1 << 20):
                    copy.write(block)
    return time.perf_counter() - started


def load_people(url: str, persons: Path) -> None:
    loader: Engine = db.make_engine(url, Settings.from_env({}), role=db.Role.LOADER)
    try:
        result = load_population(loader, persons, Options(EFFECTIVE))
        if result.status != "committed":
            raise SystemExit(f"the population did not load: {result.message}")
    finally:
        loader.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=200_000, help="enterprises to load")
    args = parser.parse_args()
    with bench_cluster("load-enterprise") as (cluster, work):
        data = work / "data"
        generate_population(data, max(args.scale, 1000), seed=1, effective_date=EFFECTIVE)
        started = time.perf_counter()
        generated = generate_enterprises(data, args.scale, seed=1,
                                         effective_date=EFFECTIVE,
                                         with_population=False)
        generate_seconds = time.perf_counter() - started
        snapshot = data / "enterprises.csv"
        base_url = migrated_with_reference(cluster, "before")
        load_people(base_url, data / "persons.csv")
        ours_url = create_database(cluster, "ours", template="before")
        create_database(cluster, "ceiling", template="before")

        summary, ours_seconds = run_mdr(ours_url, "load", "enterprise", str(snapshot),
                                        "--effective-date", BASE.isoformat())
        peak_rss_mb = peak_child_rss_mb()
        written = dump(cluster.conninfo(database="ours"), work / "rows")
        ceiling_seconds = ceiling(cluster.conninfo(database="ceiling"), work / "rows")
        copy_seconds = raw_copy(cluster.conninfo(database="ceiling"), snapshot, SNAPSHOT_FIELDS)

        rows = summary["read"]
        ours, top, raw = rows / ours_seconds, rows / ceiling_seconds, rows / copy_seconds
        print(json.dumps({
            "bench": "load_enterprise",
            "scale": args.scale,
            "figures": {
                "rows": rows,
                "rows_written": written,
                "generate_seconds": round(generate_seconds, 2),
                "generated_defects": generated.defects,
                "ours_seconds": round(ours_seconds, 2),
                "ours_rows_per_s": round(ours),
                "ours_peak_rss_mb": round(peak_rss_mb),
                "ours_summary": {k: summary[k] for k in ("inserted", "rejected", "status")},
                "ceiling_seconds": round(ceiling_seconds, 2),
                "ceiling_rows_per_s": round(top),
                "raw_copy_seconds": round(copy_seconds, 2),
                "raw_copy_rows_per_s": round(raw),
            },
            "ratios": {
                "ours_vs_ceiling": round(ours / top, 3),
                "ours_vs_raw_copy": round(ours / raw, 3),
            },
        }))


if __name__ == "__main__":
    main()
