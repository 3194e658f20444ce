"""Land load speed: `mdr load land` against ogr2ogr and against the schema's own ceiling.

Run from the project root: `.venv/bin/python bench/load_land.py [--scale N]`.
It starts its own PostgreSQL cluster under var/, generates N parcels as GeoJSON
(tiling real communes), and measures in one run

* ours: `mdr load land parcels.geojson` with every geometry check on (validity,
  overlaps, inside the commune, area), as a separate process; the overlap check's
  own seconds come from the load's summary;
* ogr2ogr (GDAL from the OS packages) loading the same file into a PostGIS table,
  the tool a GIS user would pick instead, which checks nothing;
* the ceiling: the rows our load finally wrote (``land.parcel`` and
  ``land.parcel_version``) COPYed back into the same, emptied tables, with the same
  constraints and indexes;
* ours as a first load with ``--bulk`` (the registry emptied again: constraints and
  indexes built after the data), the same checks on;

and prints one JSON object with the figures (each load's seconds per step, from its
summary) and the ratios ours / reference (rates).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from support import bench_cluster, migrated_with_reference, run_mdr

from fixtures.land_generator import generate_land

TABLES = ("land.parcel", "land.parcel_version")
"""What a parcel load writes, in the order the foreign keys need."""


def ogr2ogr(conninfo: str, path: Path) -> float:
    """Seconds for ogr2ogr to load the file into a new PostGIS table (with its GiST index)."""
    started = time.perf_counter()
    subprocess.run(
        ["ogr2ogr", "-f", "PostgreSQL", f"PG:{conninfo}", str(path), "-nln", "public.bench_ogr",
         "-nlt", "PROMOTE_TO_MULTI", "-lco", "GEOMETRY_NAME=geom", "-lco", "SPATIAL_INDEX=GIST",
         "--config", "PG_USE_COPY", "YES"],
        check=True, capture_output=True)
    return time.perf_counter() - started


def ceiling(conninfo: str) -> tuple[float, int]:
    """Seconds to COPY the loaded rows back into the emptied tables; the rows copied."""
    with tempfile.TemporaryDirectory() as folder, psycopg.connect(conninfo) as conn:
        dumps = {}
        for table in TABLES:
            dumps[table] = Path(folder) / f"{table}.bin"
            with conn.cursor() as cur, dumps[table].open("wb") as out, cur.copy(
                    f"COPY {table} TO STDOUT (FORMAT binary)") as copy:
                for block in copy:
                    out.write(block)
        conn.execute("TRUNCATE land.parcel, land.parcel_version, land.parcel_lineage, "
                     "land.rrr CASCADE")
        conn.commit()
        started = time.perf_counter()
        for table in TABLES:
            with conn.cursor() as cur, dumps[table].open("rb") as source, cur.copy(
                    f"COPY {table} FROM STDIN (FORMAT binary)") as copy:
                while block := source.read(1 << 20):
                    copy.write(block)
        conn.commit()
        seconds = time.perf_counter() - started
        rows = conn.execute("SELECT count(*) FROM land.parcel_version").fetchone()
    return seconds, int(rows[0]) if rows else 0


def empty_registry(conninfo: str) -> None:
    """Empty the land registry again (after the ceiling refilled it)."""
    with psycopg.connect(conninfo) as conn:
        conn.execute("TRUNCATE land.parcel, land.parcel_version, land.parcel_lineage, "
                     "land.rrr CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=100_000, help="parcels to load")
    args = parser.parse_args()
    with bench_cluster("load-land") as (cluster, work):
        url = migrated_with_reference(cluster)
        data = work / "data"
        generated = generate_land(data, args.scale, seed=1, persons=50)
        parcels = data / "parcels.geojson"

        summary, ours_seconds = run_mdr(url, "load", "land", str(parcels),
                                        "--effective-date", "2026-01-01")

        conninfo = cluster.conninfo(database="mdr")
        ogr_seconds = ogr2ogr(conninfo, parcels)
        ceiling_seconds, ceiling_rows = ceiling(conninfo)
        empty_registry(conninfo)
        bulk_summary, bulk_seconds = run_mdr(url, "load", "land", str(parcels), "--bulk",
                                             "--effective-date", "2026-01-01")

        rows = summary["read"]
        print(json.dumps({
            "bench": "load_land",
            "scale": args.scale,
            "figures": {
                "parcels": rows,
                "file_mb": round(parcels.stat().st_size / 1e6, 1),
                "generate_seconds": round(generated.seconds, 2),
                "ours_seconds": round(ours_seconds, 2),
                "ours_parcels_per_s": round(rows / ours_seconds),
                "ours_summary": {k: summary[k] for k in ("inserted", "rejected", "status")},
                "ours_step_seconds": summary["details"].get("steps_s", {}),
                "ours_check_seconds": summary["details"].get("check_seconds", {}),
                "overlap_check_seconds": summary["details"].get("check_seconds", {})
                .get("overlap"),
                "ogr2ogr_seconds": round(ogr_seconds, 2),
                "ogr2ogr_parcels_per_s": round(rows / ogr_seconds),
                "ceiling_seconds": round(ceiling_seconds, 2),
                "ceiling_rows": ceiling_rows,
                "ceiling_parcels_per_s": round(ceiling_rows / ceiling_seconds),
                "bulk_seconds": round(bulk_seconds, 2),
                "bulk_summary": {k: bulk_summary[k] for k in ("inserted", "rejected", "status")},
                "bulk_step_seconds": bulk_summary["details"].get("steps_s", {}),
            },
            "ratios": {
                "ours_vs_ogr2ogr": round(ogr_seconds / ours_seconds, 3),
                "ours_vs_ceiling": round(ceiling_seconds / ours_seconds, 3),
                "bulk_vs_ogr2ogr": round(ogr_seconds / bulk_seconds, 3),
                "bulk_vs_ceiling": round(ceiling_seconds / bulk_seconds, 3),
            },
        }))


if __name__ == "__main__":
    main()
