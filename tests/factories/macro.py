"""SDMX messages for the macro-economy tests: the shipped samples and small SDMX-CSV files."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from mdr.settings import PROJECT_ROOT

SDMX = PROJECT_ROOT / "fixtures" / "sdmx"
ECB_STRUCTURE = SDMX / "ECB_EXR_1_structure.xml"
ECB_USD = SDMX / "ECB_EXR_1_M.USD.EUR.SP00.A.xml"
JSON_EXR = SDMX / "v3_json_data_exr-time-series.json"
CSV_NA_MAIN = SDMX / "v3_csv_example-01.csv"
NA_MAIN_STRUCTURE = SDMX / "ESTAT_NA_MAIN_structure.xml"

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
