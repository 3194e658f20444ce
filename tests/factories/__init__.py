"""Record factories per registry, and what they share: CSV files and database seeds."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

Seed = Callable[[Engine, Path], None]
"""One registry's sample: loads it through ``loader`` (an engine of the loader role),
writing any source files it needs under ``folder`` with names of its own."""


def write_csv(path: Path, fields: tuple[str, ...], rows: list[dict[str, str]]) -> Path:
    """A CSV file with a header of ``fields`` and ``rows``; returns ``path``."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path
