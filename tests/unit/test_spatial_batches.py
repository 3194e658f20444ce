"""Spatial files are read a batch at a time: the memory a parcel load's reading takes does not
grow with the file, and the batch path stages or rejects rows as the row path does."""

from __future__ import annotations

import datetime as dt
import json
import tracemalloc
from pathlib import Path

from shapely.geometry import mapping

from loaders.land import LandChecker
from loaders.sources.readers import Profile
from loaders.sources.spatial import open_spatial
from tests.factories.land import bowtie, parcel, square, write_parcels

BATCH = 500
SMALL = 1_000
LARGE = 10 * SMALL


def parcels_file(folder: Path, count: int) -> Path:
    rows = [parcel("00070", str(n), square(105.85 + (n % 100) * 0.0003,
                                           21.03 + (n // 100) * 0.0003),
                   address=f"Số {n} phố Hàng Bông") for n in range(1, count + 1)]
    return write_parcels(folder / f"parcels-{count}.geojson", rows)


def peak_bytes_reading(path: Path) -> tuple[int, int, int]:
    """(peak bytes the Python heap held while reading and validating every feature,
    features read, largest batch)."""
    checker = LandChecker(path.name, dt.date(2026, 1, 1))
    read = largest = 0
    tracemalloc.start()
    try:
        with open_spatial(path, Profile(), batch_size=BATCH) as layer:
            for batch in layer.batches():
                largest = max(largest, len(batch))
                read += sum(1 for _ in checker.parcel_rows(batch))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, read, largest


def test_reading_a_file_ten_times_larger_takes_about_the_same_memory(tmp_path: Path) -> None:
    small = parcels_file(tmp_path, SMALL)
    large = parcels_file(tmp_path, LARGE)
    small_peak, small_read, small_batch = peak_bytes_reading(small)
    large_peak, large_read, large_batch = peak_bytes_reading(large)
    assert (small_read, large_read) == (SMALL, LARGE)
    assert small_batch == large_batch == BATCH
    # Held whole, the large file's features alone would take ten times what the small
    # file's do (several MB more); read a batch at a time, the peak barely moves.
    assert large_peak < 1.3 * small_peak, (small_peak, large_peak)


def test_the_batch_path_stages_and_rejects_as_the_row_path_does(tmp_path: Path) -> None:
    rows = [parcel("00070", "1", square(105.85, 21.03)),
            parcel("00070", "2", square(105.86, 21.03), declared_area_m2="1.234,5"),
            parcel("00070", "3", square(105.87, 21.03), declared_area_m2="-4"),
            parcel("00070", "4", square(105.88, 21.03), valid_from="30/02/2026"),
            parcel("00070", "5", square(105.89, 21.03), parcel_number=""),
            parcel("00070", "6", bowtie(105.90, 21.03), address="  Phố \t Huế \x01"),
            parcel("00070", "7", square(105.91, 21.03), parents="00070/1/1; 00070/1/2"),
            parcel("00070", "8", square(105.92, 21.03), parents="00070-1-1"),
            parcel("00070", "9", square(105.93, 21.03), address="  Phố   Huế ",
                   valid_from="")]
    path = write_parcels(tmp_path / "mixed.geojson", rows)
    by_batch = LandChecker(path.name, dt.date(2026, 1, 1))
    by_row = LandChecker(path.name, dt.date(2026, 1, 1))
    with open_spatial(path, Profile(), batch_size=4) as layer:
        batched = [row for batch in layer.batches() for row in by_batch.parcel_rows(batch)]
    with open_spatial(path, Profile()) as layer:
        one_by_one = [row for number, rec, wkb in layer.features()
                      if (row := by_row.parcel_row(number, rec, wkb)) is not None]
    assert batched == one_by_one
    assert [row[0] for row in batched] == [1, 2, 7, 9]
    assert batched[1][5] == 1234.5
    assert batched[2][8] == ["00070/1/1", "00070/1/2"]
    assert batched[3][6] == "Phố Huế" and batched[3][7] == dt.date(2026, 1, 1)
    assert [(i.row, i.slug) for i in by_batch.issues] == \
        [(i.row, i.slug) for i in by_row.issues] == [
            (3, "missing-required-field"), (4, "invalid-date"),
            (5, "missing-required-field"), (6, "invalid-text"), (8, "unknown-parcel")]


def test_a_column_of_days_is_read_as_iso_dates_and_a_missing_day_as_blank(
        tmp_path: Path) -> None:
    # Written as plain GeoJSON, as the generator and most tools write it: GDAL reads a
    # property whose values all look like days as a column of dates.
    days = ["2025-11-08", None, "2026-02-28"]
    features = [{"type": "Feature", "properties": {
        "commune_code": "00070", "map_sheet": "1", "parcel_number": str(n), "land_use": "ODT",
        "declared_area_m2": "430", "valid_from": day},
        "geometry": mapping(square(105.85 + n * 0.0003, 21.03))}
        for n, day in enumerate(days, start=1)]
    path = tmp_path / "days.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    with open_spatial(path, Profile()) as layer:
        (batch,) = list(layer.batches())
    assert batch.columns["valid_from"] == ["2025-11-08", "", "2026-02-28"]
    staged = list(LandChecker(path.name, dt.date(2026, 1, 1)).parcel_rows(batch))
    assert [row[7] for row in staged] == [dt.date(2025, 11, 8), dt.date(2026, 1, 1),
                                          dt.date(2026, 2, 28)]
