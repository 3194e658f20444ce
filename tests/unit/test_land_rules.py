"""The land loader's row rules: areas in either decimal notation, shares in any usual form."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from loaders.land import file_kind, parse_number, parse_share
from loaders.sources.readers import Profile, SourceError
from loaders.sources.spatial import is_spatial, open_spatial


@pytest.mark.parametrize(("text", "number"), [
    ("1234.5", 1234.5), ("1,234.5", 1234.5), ("1.234,5", 1234.5), ("1234,5", 1234.5),
    ("86 000", 86000.0), ("abc", None), ("", None)])
def test_areas_read_in_either_decimal_notation(text: str, number: float | None) -> None:
    assert parse_number(text) == number


@pytest.mark.parametrize(("text", "share"), [
    ("0.5", Fraction(1, 2)), ("50%", Fraction(1, 2)), ("1/3", Fraction(1, 3)), ("1", 1),
    ("0", "is not above 0 and at most 1"), ("1.5", "is not above 0 and at most 1"),
    ("half", "is not a number"), ("1/0", "is not a number")])
def test_shares_are_fractions_of_the_whole(text: str, share: Fraction | str) -> None:
    assert parse_share(text) == share


def test_the_kind_of_file_follows_its_suffix_through_gzip() -> None:
    assert file_kind(Path("a.geojson.gz"), None) == "parcels"
    assert file_kind(Path("a.gpkg"), None) == "parcels"
    assert file_kind(Path("rights.csv"), None) == "rights"
    assert file_kind(Path("rights.csv"), "parcels") == "parcels"
    assert not is_spatial(Path("rights.jsonl.gz"))


def test_a_file_gdal_cannot_read_is_refused_with_its_name(tmp_path: Path) -> None:
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    refused = pytest.raises(SourceError, match=r"broken\.geojson cannot be read as a spatial file")
    with refused, open_spatial(broken, Profile()) as layer:
        list(layer.batches())
