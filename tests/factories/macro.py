"""SDMX messages for the macro-economy tests: the shipped samples and small SDMX-CSV files."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine

from loaders.base import Options
from loaders.macro import load_macro
from loaders.macro_derived import derive
from mdr.settings import PROJECT_ROOT
from tests.factories import Seed

SDMX = PROJECT_ROOT / "fixtures" / "sdmx"
ECB_STRUCTURE = SDMX / "ECB_EXR_1_structure.xml"
ECB_USD = SDMX / "ECB_EXR_1_M.USD.EUR.SP00.A.xml"
JSON_EXR = SDMX / "v3_json_data_exr-time-series.json"
CSV_NA_MAIN = SDMX / "v3_csv_example-01.csv"
NA_MAIN_STRUCTURE = SDMX / "ESTAT_NA_MAIN_structure.xml"
EXR_LONG, EXR_LONG_PROFILE = SDMX / "exr_monthly_long.csv", SDMX / "exr_monthly_long.profile.yaml"
EXR_WIDE, EXR_WIDE_PROFILE = SDMX / "exr_monthly_wide.csv", SDMX / "exr_monthly_wide.profile.yaml"
EXR_WIDE_AS_SDMX = SDMX / "exr_monthly.sdmx.csv"

EXR_HEADER = ("DATAFLOW", "FREQ", "CURRENCY", "CURRENCY_DENOM", "EXR_TYPE", "EXR_SUFFIX",
              "TIME_PERIOD", "OBS_VALUE", "OBS_STATUS", "UPDATED")


def exr_row(period: str, value: str, *, currency: str = "USD", freq: str = "M",
            status: str = "A", updated: str = "2024-03-01") -> tuple[str, ...]:
    """One SDMX-CSV 1.0 row of the ECB exchange-rate structure (its dataflow ECB_EXR1)."""
    return ("ECB:ECB_EXR1(1.0)", freq, currency, "EUR", "SP00", "A", period, value, status,
            updated)


def write_sdmx_csv(path: Path, rows: Sequence[Sequence[str]],
                   header: Sequence[str] = EXR_HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


REVISED_PERIOD, REVISED_VALUE, REVISION_DAY = "2019-12", 1.2345, "2024-03-01"
"""The revision the sample's second release makes to the ECB's USD/EUR series."""


def _load_samples(loader: Engine, folder: Path) -> None:
    day = Options(dt.date(2026, 1, 1))
    for path in (ECB_STRUCTURE, ECB_USD, JSON_EXR, NA_MAIN_STRUCTURE, CSV_NA_MAIN):
        assert load_macro(loader, path, day).status == "committed", path
    revision = write_sdmx_csv(folder / "exr_revision.csv", [
        exr_row(REVISED_PERIOD, str(REVISED_VALUE), status="P", updated=REVISION_DAY)])
    assert load_macro(loader, revision, day).updated == 1
    assert derive(loader, dt.date(2026, 1, 1), "2025", dt.date(2026, 2, 1)).inserted > 0


MACRO_SAMPLES: Seed = _load_samples
"""The shipped SDMX messages, a second release of the USD/EUR series revising 2019-12,
and the derived population (after ``POPULATION_FAMILY``) as of 2026-01-01."""
