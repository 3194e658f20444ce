"""The crosswalk reader reports disagreements between its two lists instead of guessing."""

import datetime as dt
import gzip
import json
from dataclasses import replace
from pathlib import Path

from loaders.base import RowIssue
from loaders.reference import ChangeRow, UnitRow, read_crosswalk
from schemas.reference import REORGANISATION_2025, level_of


def unit(code: str, name: str, new: bool) -> UnitRow:
    return UnitRow(
        level="commune", code=code, unit_type="xa", name=name, full_name=f"Xã {name}",
        name_en=None, parent_level=None, parent_code=None,
        valid_from=REORGANISATION_2025 if new else None,
        valid_to=None if new else REORGANISATION_2025, geojson=None,
    )


def write(base: Path, merges: list[dict[str, object]], splits: list[dict[str, object]]) -> None:
    folder = base / "admin_units"
    folder.mkdir(parents=True)
    for name, data in (("merges", merges), ("splits", splits)):
        with gzip.open(folder / f"crosswalk_2025_{name}.json.gz", "wt", encoding="utf-8") as f:
            json.dump({"data": data}, f)


def province(level1: str, communes: list[dict[str, object]], key: str) -> dict[str, object]:
    return {"level1_id": level1, "name": "Tỉnh X", "merges": [], "splits": [], key: communes}


def test_conflicting_flags_and_one_sided_pairs_are_reported(tmp_path: Path) -> None:
    units = [unit("00001", "An", False), unit("00002", "Bình", False), unit("00003", "Cư", False),
             unit("10001", "An Bình", True), unit("10002", "Hòa", True),
             unit("10003", "Mới", True)]
    merges = [province("01", [
        # The merge list says all of 00001 went into 10001 ...
        {"level2_id": "10001", "name": "Xã An Bình", "merges": [
            {"old_id": "00001", "name": "Xã An", "type": "full"},
            {"old_id": "00002", "name": "Xã Bình", "type": "full"},
        ]},
        {"level2_id": "10002", "name": "Xã Hoà", "merges": [
            {"old_id": "00003", "name": "Xã Cư", "type": "full"},
            {"old_id": "99999", "name": "Xã Ma", "type": "full"},
        ]},
    ], "level2s")]
    splits = [province("01", [
        # ... but the split list sends 00001 to two new communes.
        {"level3_id": "00001", "splits": [{"new_id": "10001"}, {"new_id": "10002"}]},
        {"level3_id": "00002", "splits": [{"new_id": "10001"}]},
        {"level3_id": "00003", "splits": [{"new_id": "10002"}]},
    ], "level3s")]
    write(tmp_path, merges, splits)
    issues: list[RowIssue] = []
    changes = read_crosswalk(tmp_path, units, issues)
    by_pair = {(c.old_code, c.new_code): c for c in changes}

    assert by_pair[("00001", "10001")].whole_unit is None           # sources disagree
    assert by_pair[("00002", "10001")].whole_unit is True
    assert by_pair[("00001", "10002")].by_splits and not by_pair[("00001", "10002")].by_merges
    assert ("99999", "10002") not in by_pair                          # unknown code: not loaded
    slugs = {(i.slug, i.value) for i in issues}
    assert ("crosswalk-conflict", "00001→10001") in slugs
    assert ("crosswalk-one-sided", "00001→10002") in slugs
    assert ("unknown-admin-unit", "99999→10002") in slugs
    assert ("unmapped-unit", "10003") in slugs
    # "Hoà" and "Hòa" are one name written two ways: no mismatch is reported for it.
    assert not any(i.slug == "crosswalk-name-mismatch" and i.value == "Xã Hoà" for i in issues)
    assert next(i for i in issues if i.value == "99999→10002").rejected
    assert isinstance(changes[0], ChangeRow)


def test_names_are_compared_as_names(tmp_path: Path) -> None:
    units = [replace(unit("00011", "4", False), unit_type="phuong", full_name="Phường 04"),
             unit("00012", "Tân Liễu", False), unit("00013", "Hòa Chính", False),
             replace(unit("10011", "4", True), unit_type="phuong", full_name="Phường 4")]
    merges = [province("01", [{"level2_id": "10011", "name": "Phường 4", "merges": [
        {"old_id": "00011", "name": "Phường 4", "type": "full"},          # 4 and 04: one name
        {"old_id": "00012", "name": "Phường Tân Liễu", "type": "full"},   # promoted
        {"old_id": "00013", "name": "Xã Hòa Phú", "type": "full"},        # another name
    ]}], "level2s")]
    splits = [province("01", [{"level3_id": code, "splits": [{"new_id": "10011"}]}
                              for code in ("00011", "00012", "00013")], "level3s")]
    write(tmp_path, merges, splits)
    issues: list[RowIssue] = []
    read_crosswalk(tmp_path, units, issues)
    flagged = {(i.slug, i.value) for i in issues if i.field == "name"}
    assert flagged == {("crosswalk-type-mismatch", "Phường Tân Liễu"),
                       ("crosswalk-name-mismatch", "Xã Hòa Phú")}
    assert not any(i.rejected for i in issues if i.field == "name")


def test_level_of_reads_the_code_length() -> None:
    assert level_of("15") == "province"
    assert level_of("001") == "district"
    assert level_of("00004") == "commune"
    assert level_of("1x") is None
    assert dt.date(2025, 7, 1) == REORGANISATION_2025
