"""Source readers are format-generic: text out, nested JSON as JSON, profiles as YAML files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loaders.sources.population_layout import from_mapped
from loaders.sources.readers import Profile, SourceError, read_records


def write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_nested_json_values_come_out_as_json_text(tmp_path: Path) -> None:
    geometry = {"type": "Point", "coordinates": [105.85, 21.03]}
    path = write_jsonl(tmp_path / "f.jsonl", [
        {"code": "00070", "geometry": geometry, "tags": ["a", "b"], "n": 3, "ok": True,
         "blank": None}])
    [(number, record)] = list(read_records(path, Profile()))
    assert number == 1 and isinstance(record, dict)
    assert json.loads(record["geometry"]) == geometry
    assert json.loads(record["tags"]) == ["a", "b"]
    assert (record["n"], record["ok"], record["blank"]) == ("3", "true", "")
    # The same through a profile that maps the columns.
    profile = Profile(columns={"geometry": "geom"})
    [(_, mapped)] = list(read_records(path, profile))
    assert mapped == {"geom": json.dumps(geometry, separators=(",", ":"))}


def test_the_reader_splits_no_names_the_population_layout_does(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "f.jsonl", [{"HoTen": "Trần Thị Hoa"}])
    generic = Profile(columns={"HoTen": "full_name"})
    assert [r for _, r in read_records(path, generic)] == [{"full_name": "Trần Thị Hoa"}]
    population = Profile(columns={"HoTen": "full_name"}, layout=from_mapped)
    assert [r for _, r in read_records(path, population)] == [
        {"family_name": "Trần", "middle_name": "Thị", "given_name": "Hoa"}]


def test_a_profile_is_a_yaml_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="path of a YAML profile"):
        Profile.load("province-export")
    path = tmp_path / "p.yaml"
    path.write_text("name: p\ncolumns:\n  A: national_id\n", encoding="utf-8")
    assert Profile.load(str(path)).columns == {"A": "national_id"}


def test_a_bounded_cache_forgets_its_oldest_entries_beyond_its_size() -> None:
    from loaders.checks import BoundedCache

    cache: BoundedCache[str, int] = BoundedCache(3)
    for i, key in enumerate("abcde"):
        cache[key] = i
    assert list(cache) == ["c", "d", "e"]
    cache["d"] = 10  # replacing a held key forgets nothing
    assert dict(cache) == {"c": 2, "d": 10, "e": 4}
