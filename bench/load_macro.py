"""Macro load speed: `mdr load macro` of SDMX-CSV against the schema's ceiling and sdmx1.

Run from the project root: `.venv/bin/python bench/load_macro.py [--scale N]`. It
starts its own PostgreSQL cluster under var/, loads the ECB exchange-rate structure,
writes N observations of that structure as SDMX-CSV 2.0 (monthly series of the
currencies ref knows, 240 months each), and measures in one run

* (a) ours: `mdr load macro` (parse, checks against the structure, staging,
  duplicate check, releases, series, observations, run record) as its own process;
* (b) the schema's ceiling: the rows (a) finally wrote to macro.release,
  macro.series and macro.observation, COPYed straight into the same tables (same
  constraints and indexes) of a database as it was before (a);
* (c) what an analyst would otherwise write: sdmx1 reading the file with the
  structure, `sdmx.to_pandas`, then `DataFrame.to_sql` (method "multi"), on at most
  100,000 observations (its rate does not depend on the size);

and prints one JSON object with rows/s for each and the ratios ours / reference.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import logging
import time
from pathlib import Path
from typing import Any

import psycopg
import sdmx
from sqlalchemy import create_engine
from support import ROOT, bench_cluster, create_database, migrated_with_reference, run_mdr, timed

from loaders.base import Options
from loaders.macro import load_macro
from mdr import db
from mdr.settings import Settings

STRUCTURE = ROOT / "fixtures" / "sdmx" / "ECB_EXR_1_structure.xml"
MONTHS = 240
PEER_ROWS = 100_000
TYPES = ("SP00", "EN00", "ERC0", "ERP0", "NRC0", "NRD0", "NRP0", "RR00", "SP01", "SP02")
TABLES = ("etl.load_run", "macro.release", "macro.series", "macro.observation")


def write_csv(path: Path, rows: int, currencies: list[str]) -> None:
    """``rows`` observations as SDMX-CSV 2.0, series after series, 240 months each."""
    keys = [(c, t) for t in TYPES for c in currencies]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["STRUCTURE", "STRUCTURE_ID", "ACTION", "FREQ", "CURRENCY",
                         "CURRENCY_DENOM", "EXR_TYPE", "EXR_SUFFIX", "TIME_PERIOD",
                         "OBS_VALUE", "OBS_STATUS"])
        written = 0
        for serial in range(len(keys) * 10):
            currency, kind = keys[serial % len(keys)]
            suffix = "AEPRS"[serial // len(keys) % 5] + str(serial // (len(keys) * 5))
            for month in range(MONTHS):
                if written == rows:
                    return
                period = f"{2000 + month // 12}-{month % 12 + 1:02d}"
                writer.writerow(["datastructure", "ECB:ECB_EXR1(1.0)", "I", "M", currency,
                                 "EUR", kind, suffix, period,
                                 f"{1 + (serial * 7 + month) % 1000 / 997:.6f}", "A"])
                written += 1
    if written < rows:
        raise SystemExit(f"--scale {rows} is more than this generator's series hold")


def dump(conninfo: str, run_id: int) -> dict[str, bytes]:
    """The rows the load wrote (binary COPY): its run record and the registry's tables."""
    out = {}
    with psycopg.connect(conninfo) as conn:
        for table in TABLES:
            rows = f"(SELECT * FROM {table} WHERE id = {run_id})" if table == "etl.load_run" \
                else table
            buffer = io.BytesIO()
            with conn.cursor() as cur, cur.copy(f"COPY {rows} TO STDOUT (FORMAT binary)") as cp:
                for block in cp:
                    buffer.write(block)
            out[table] = buffer.getvalue()
    return out


def restore(conninfo: str, rows: dict[str, bytes]) -> None:
    """The ceiling: the same rows COPYed into the same tables, in one transaction."""
    with psycopg.connect(conninfo) as conn:
        for table in TABLES:
            with conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN (FORMAT binary)") \
                    as cp:
                cp.write(rows[table])


def sdmx1_to_sql(path: Path, url: str) -> int:
    """What an analyst would write: sdmx1 → pandas → to_sql; the rows written."""
    structures: Any = sdmx.read_sdmx(STRUCTURE)
    message: Any = sdmx.read_sdmx(path, structure=structures.structure["ECB_EXR1"])
    frame = sdmx.to_pandas(message.data[0]).reset_index()
    engine = create_engine(url)
    try:
        frame.to_sql("bench_sdmx1", engine, index=False, if_exists="replace", method="multi",
                     chunksize=1_000)
    finally:
        engine.dispose()
    return len(frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=1_000_000, help="observations to load")
    args = parser.parse_args()
    logging.getLogger("sdmx").setLevel(logging.ERROR)  # "no column for attribute ..."
    settings = Settings.from_env({})
    with bench_cluster("load-macro") as (cluster, work):
        url = migrated_with_reference(cluster)
        loader = db.make_engine(url, settings, role=db.Role.LOADER)
        load_macro(loader, STRUCTURE, Options(effective_date=dt.date.today()))
        with loader.connect() as conn:
            currencies = [c for (c,) in conn.exec_driver_sql(
                "SELECT code FROM ref.currency WHERE code <> 'EUR' ORDER BY code LIMIT 60")]
        loader.dispose()
        data = work / "data.csv"
        write_csv(data, args.scale, currencies)
        peer_file = work / "peer.csv"
        write_csv(peer_file, min(args.scale, PEER_ROWS), currencies)
        create_database(cluster, "before_load", "mdr")

        summary, ours_seconds = run_mdr(url, "load", "macro", str(data),
                                        "--effective-date", "2026-01-01")

        rows = dump(cluster.conninfo(database="mdr"), int(summary["run_id"]))
        ceiling_seconds = timed(restore, cluster.conninfo(database="before_load"), rows)

        started = time.perf_counter()
        peer_rows = sdmx1_to_sql(peer_file, url)
        peer_seconds = time.perf_counter() - started

        read = summary["read"]
        ours, ceiling, peer = (read / ours_seconds, read / ceiling_seconds,
                               peer_rows / peer_seconds)
        print(json.dumps({
            "bench": "load_macro",
            "scale": args.scale,
            "figures": {
                "observations": read,
                "ours_seconds": round(ours_seconds, 2),
                "ours_rows_per_s": round(ours),
                "ours_summary": {k: summary[k] for k in ("inserted", "rejected", "status")},
                "ceiling_seconds": round(ceiling_seconds, 2),
                "ceiling_rows_per_s": round(ceiling),
                "sdmx1_to_sql_rows": peer_rows,
                "sdmx1_to_sql_seconds": round(peer_seconds, 2),
                "sdmx1_to_sql_rows_per_s": round(peer),
            },
            "ratios": {
                "ours_vs_ceiling": round(ours / ceiling, 3),
                "ours_vs_sdmx1_to_sql": round(ours / peer, 2),
            },
        }))


if __name__ == "__main__":
    main()
