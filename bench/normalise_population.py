"""Python's cost per person in a population load, and what column-wise normalisation
with pyarrow would take of it.

Run from the project root: `.venv/bin/python bench/normalise_population.py [--scale N]
[--data DIR]`. On N generated persons it measures, in µs per row:

* row_wise: reading the records and validating each as the load does
  (``PersonChecker.snapshot_row``: text cleaned, dates, sex words, identifier rules,
  names, name keys, relatives);
* row_wise_column_part: the same reading and only the part of that work that is one
  operation on every cell of a column: ``clean`` of every field (NFC, whitespace
  collapsed and trimmed) and ``parse_date`` of the three dates;
* column_wise: pyarrow reading the same file and doing that part column by column
  (``utf8_normalize``, a regular expression over Python's whitespace, ``strptime``);
  its result is checked equal to the row-wise one, cell by cell.

Ratios: the column-wise part's speed over the row-wise part's, and the share of the
row-wise cost that part is (the most a column-wise rewrite of the rules could save; the
identifier, name and relative rules, and the first-reason-wins rejections, stay per row).
It prints one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv
from support import ROOT

from fixtures.generator import generate_population
from loaders.population import PersonChecker
from loaders.rules.dates import parse_date
from loaders.rules.text import clean
from loaders.sources.population_layout import SNAPSHOT_FIELDS, from_mapped
from loaders.sources.readers import Profile, read_records

DATES = ("birth_date", "death_date", "residence_since")
# What str.split() splits on: every character Python calls whitespace.
WHITESPACE = "".join(f"\\x{{{ord(c):x}}}" for c in map(chr, range(sys.maxunicode + 1))
                     if c.isspace())


def row_wise(path: Path, profile: Profile, codes: set[str]) -> float:
    checker = PersonChecker(path.name, dt.date(2026, 1, 1), codes)
    started = time.perf_counter()
    for number, rec in read_records(path, profile):
        assert isinstance(rec, dict)
        checker.snapshot_row(number, rec)
    return time.perf_counter() - started


def row_wise_column_part(path: Path, profile: Profile) -> tuple[float, dict[str, list[Any]]]:
    columns: dict[str, list[Any]] = {name: [] for name in SNAPSHOT_FIELDS}
    started = time.perf_counter()
    for _, rec in read_records(path, profile):
        assert isinstance(rec, dict)
        for name in SNAPSHOT_FIELDS:
            value = clean(rec.get(name) or "")
            columns[name].append(parse_date(value) if name in DATES else value)
    return time.perf_counter() - started, columns


def column_wise(path: Path) -> tuple[float, dict[str, list[Any]]]:
    started = time.perf_counter()
    table = csv.read_csv(path, convert_options=csv.ConvertOptions(
        column_types={name: pa.string() for name in SNAPSHOT_FIELDS},
        strings_can_be_null=False))
    columns: dict[str, Any] = {}
    for name in SNAPSHOT_FIELDS:
        text = pc.utf8_normalize(table[name], form="NFC")
        text = pc.replace_substring_regex(text, pattern=f"[{WHITESPACE}]+", replacement=" ")
        text = pc.utf8_trim(text, characters=" ")
        if name in DATES:
            # ISO dates here; a blank or a day-first date is left to the row rules.
            text = pc.cast(pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True),
                           pa.date32())
        columns[name] = text
    seconds = time.perf_counter() - started
    return seconds, {name: column.to_pylist() for name, column in columns.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=100_000, help="persons to generate")
    parser.add_argument("--data", type=Path, default=ROOT / "var" / "bench-data",
                        help="where the generated files are kept and reused")
    args = parser.parse_args()
    data = args.data / f"population-{args.scale}-seed5"
    if not (data / "done").exists():
        generate_population(data, args.scale, seed=5)
        (data / "done").touch()
    path = data / "persons.csv"
    profile = Profile.load(None, layout=from_mapped)
    codes = {f"0{n:02d}" for n in range(1, 100)}  # every legacy province prefix
    rows = args.scale
    whole = row_wise(path, profile, codes)
    part, expected = row_wise_column_part(path, profile)
    columnar, found = column_wise(path)
    differing = sum(a != b for name in SNAPSHOT_FIELDS
                    for a, b in zip(expected[name], found[name], strict=True))
    if differing:
        raise SystemExit(f"column-wise normalisation differs from clean() in {differing} cells")
    us = 1e6 / rows
    print(json.dumps({
        "bench": "normalise_population",
        "scale": rows,
        "figures": {"row_wise_us_per_row": round(whole * us, 1),
                    "row_wise_column_part_us_per_row": round(part * us, 1),
                    "column_wise_us_per_row": round(columnar * us, 1),
                    "cells_compared": rows * len(SNAPSHOT_FIELDS)},
        "ratios": {"column_wise_vs_row_wise_part": round(part / columnar, 2),
                   "column_part_share_of_row_wise": round(part / whole, 2)},
    }))


if __name__ == "__main__":
    main()
