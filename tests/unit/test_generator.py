"""The synthetic population generator: deterministic, consistent, and its defects as labelled."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from fixtures.generator import (
    ACCEPTED_KINDS,
    DEFECT_KINDS,
    REJECTED_KINDS,
    generate_population,
    other_tone_placement,
)
from loaders.reasons import for_registry
from loaders.rules.identifiers import check_personal_number
from loaders.sources.population_layout import EVENT_FIELDS, SNAPSHOT_FIELDS

UNITS = Path(__file__).resolve().parents[2] / "fixtures" / "reference" / "admin_units"
REORGANISATION = dt.date(2025, 7, 1)
EFFECTIVE = dt.date(2026, 1, 1)
COUNT, RATE = 2000, 0.05
Row = dict[str, str]


@dataclass(frozen=True)
class Units:
    """The reference lists, read here independently of the generator."""

    legacy: dict[str, Any]
    codes_2025: frozenset[str]
    birth_provinces: frozenset[str]
    province_of: dict[str, str]          # pre-2025 commune → PPP
    whole_successor: dict[str, str]      # pre-2025 commune that went whole into one 2025 commune
    split: frozenset[str]                # pre-2025 communes with several successors


@dataclass(frozen=True)
class Output:
    rows: list[Row]
    events: list[Row]
    labels: dict[int, Row]               # 1-based row number → defects.csv line

    def clean(self) -> dict[int, Row]:
        return {n: r for n, r in enumerate(self.rows, 1) if n not in self.labels}


def _json(name: str) -> Any:
    with gzip.open(UNITS / name, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def _csv(path: Path) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _read(out: Path) -> Output:
    labels = {int(line["row"]): line for line in _csv(out / "defects.csv")} \
        if (out / "defects.csv").exists() else {}
    return Output(_csv(out / "persons.csv"), _csv(out / "events.csv"), labels)


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _adult_on(birth: dt.date, day: dt.date) -> bool:
    return (day.year - birth.year, day.month, day.day) >= (18, birth.month, birth.day)


@pytest.fixture(scope="module")
def units() -> Units:
    legacy = _json("legacy_xa_phuong.json.gz")
    districts = _json("legacy_quan_huyen.json.gz")
    successors: dict[str, set[str]] = defaultdict(set)
    kinds: dict[tuple[str, str], str] = {}
    for province in _json("crosswalk_2025_merges.json.gz")["data"]:
        for commune in province["level2s"]:
            for item in commune["merges"]:
                successors[item["old_id"]].add(commune["level2_id"])
                kinds[(item["old_id"], commune["level2_id"])] = item["type"]
    for province in _json("crosswalk_2025_splits.json.gz")["data"]:
        for commune in province["level3s"]:
            for item in commune["splits"]:
                successors[commune["level3_id"]].add(item["new_id"])
    whole = {old: next(iter(new)) for old, new in successors.items()
             if len(new) == 1 and kinds.get((old, next(iter(new)))) == "full"}
    return Units(
        legacy=legacy,
        codes_2025=frozenset(w["Code"] for p in _json("units_2025.json.gz") for w in p["Wards"]),
        birth_provinces=frozenset("0" + code for code in _json("legacy_tinh_tp.json.gz")),
        province_of={c: "0" + districts[u["parent_code"]]["parent_code"]
                     for c, u in legacy.items()},
        whole_successor=whole,
        split=frozenset(old for old, new in successors.items() if len(new) > 1),
    )


@pytest.fixture(scope="module")
def flawed(tmp_path_factory: pytest.TempPathFactory) -> Output:
    out = tmp_path_factory.mktemp("flawed")
    generate_population(out, COUNT, seed=42, defect_rate=RATE)
    return _read(out)


@pytest.fixture(scope="module")
def flawless(tmp_path_factory: pytest.TempPathFactory) -> Output:
    out = tmp_path_factory.mktemp("flawless")
    generate_population(out, COUNT, seed=7)
    return _read(out)


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_ones(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate_population(tmp_path / name, 500, seed=seed, defect_rate=0.1)
    first, again, other = (_files(tmp_path / n) for n in "abc")
    assert first == again
    assert set(first) == {"persons.csv", "events.csv", "defects.csv"}
    assert all(first[name] != other[name] for name in first)


def test_exactly_count_rows_under_the_canonical_headers(tmp_path: Path) -> None:
    summary = generate_population(tmp_path, 300, seed=1)
    with (tmp_path / "persons.csv").open(encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == list(SNAPSHOT_FIELDS)
    with (tmp_path / "events.csv").open(encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == list(EVENT_FIELDS)
    assert len(_read(tmp_path).rows) == 300
    assert summary.count == 300 and summary.defects == {}
    assert summary.files == [str(tmp_path / "persons.csv"), str(tmp_path / "events.csv")]


@pytest.mark.parametrize("count", [0, 1, 2, 5, 13])
def test_a_last_household_cut_short_still_refers_only_to_rows_in_the_file(
        tmp_path: Path, count: int) -> None:
    generate_population(tmp_path, count, seed=count)
    rows = _read(tmp_path).rows
    assert len(rows) == count
    ids = {r["national_id"] for r in rows}
    assert all(r[f] in ids for r in rows for f in ("father_id", "mother_id", "spouse_id") if r[f])


def test_a_stale_defect_list_is_removed_when_no_defects_are_asked_for(tmp_path: Path) -> None:
    generate_population(tmp_path, 100, seed=1, defect_rate=0.2)
    generate_population(tmp_path, 100, seed=1)
    assert not (tmp_path / "defects.csv").exists()


@pytest.mark.parametrize(("count", "rate"), [(-1, 0.0), (10, -0.1), (10, 0.9)])
def test_impossible_arguments_are_refused(tmp_path: Path, count: int, rate: float) -> None:
    with pytest.raises(ValueError):
        generate_population(tmp_path, count, seed=1, defect_rate=rate)


def test_every_clean_personal_number_agrees_with_the_person(flawed: Output, flawless: Output,
                                                            units: Units) -> None:
    for output in (flawed, flawless):
        clean = output.clean()
        ids = Counter(r["national_id"] for r in clean.values())
        assert max(ids.values()) == 1
        for row in clean.values():
            assert check_personal_number(row["national_id"], province_codes=units.birth_provinces,
                                         sex=row["sex"], birth_date=_date(row["birth_date"])) == []


def test_clean_rows_are_complete_dated_in_order_and_nfc(flawed: Output) -> None:
    for row in flawed.clean().values():
        assert all(row[f] for f in ("family_name", "given_name", "sex", "address",
                                    "commune_code", "household_id", "relation_to_head"))
        birth, since = _date(row["birth_date"]), _date(row["residence_since"])
        assert birth <= since <= EFFECTIVE
        if row["death_date"]:
            assert since <= _date(row["death_date"]) <= EFFECTIVE
        for f in ("family_name", "middle_name", "given_name", "address"):
            assert unicodedata.is_normalized("NFC", row[f])


def test_commune_codes_are_those_in_force_on_the_date_they_refer_to(flawless: Output,
                                                                    units: Units) -> None:
    births_here_before_2025 = 0
    for row in flawless.rows:
        code, since = row["commune_code"], _date(row["residence_since"])
        if since >= REORGANISATION:
            assert code in units.codes_2025
        else:   # a pre-2025 commune that went whole into one 2025 commune
            assert code in units.whole_successor
        place, birth = row["birth_place_code"], _date(row["birth_date"])
        if place and birth >= REORGANISATION:
            assert place in units.codes_2025
        elif place:
            assert place in units.legacy
            # The number's first digits: the province where the birth was registered.
            assert units.province_of[place] == row["national_id"][:3]
            births_here_before_2025 += 1
    assert births_here_before_2025 > COUNT / 2


def test_parents_are_18_years_older_and_spouses_adult_partners(flawed: Output) -> None:
    clean = flawed.clean()
    by_id = {r["national_id"]: r for r in clean.values()}
    parents = spouses = 0
    for row in clean.values():
        birth = _date(row["birth_date"])
        for field, sex in (("father_id", "male"), ("mother_id", "female")):
            if row[field]:
                parent = by_id[row[field]]
                assert parent["sex"] == sex
                assert _adult_on(_date(parent["birth_date"]), birth)
                parents += 1
        if row["spouse_id"]:
            spouse = by_id[row["spouse_id"]]
            assert spouse["spouse_id"] == row["national_id"]
            assert spouse["sex"] != row["sex"]
            assert _adult_on(birth, EFFECTIVE)
            spouses += 1
    assert parents > COUNT / 3 and spouses > COUNT / 5


def test_siblings_are_ten_months_apart_and_moves_spread_over_the_years(flawless: Output) -> None:
    births: dict[str, list[dt.date]] = defaultdict(list)
    for row in flawless.rows:
        if row["mother_id"]:
            births[row["mother_id"]].append(_date(row["birth_date"]))
    gaps = [(b - a).days for days in births.values() for a, b in pairwise(sorted(days))]
    assert gaps and min(gaps) >= 300
    moved = [_date(r["residence_since"]) for r in flawless.rows
             if r["residence_since"] != r["birth_date"]]
    assert 0.2 < len(moved) / len(flawless.rows) < 0.8
    assert len({day.year // 10 for day in moved}) >= 5


def test_household_members_share_address_and_commune(flawless: Output, units: Units) -> None:
    households: dict[str, list[Row]] = defaultdict(list)
    for row in flawless.rows:
        households[row["household_id"]].append(row)
    for members in households.values():
        assert len({m["address"] for m in members}) == 1
        # One place: the same code, or its pre-2025 and 2025 codes for members who came
        # before and after the reorganisation (a baby born since).
        places = {m["commune_code"] if _date(m["residence_since"]) >= REORGANISATION
                  else units.whole_successor[m["commune_code"]] for m in members}
        assert len(places) == 1
        assert [m["relation_to_head"] for m in members].count("head") == 1
    assert max(len(m) for m in households.values()) >= 5


def test_events_agree_with_the_snapshot(flawed: Output) -> None:
    by_id = {r["national_id"]: r for r in flawed.clean().values()}
    kinds = Counter(e["event_type"] for e in flawed.events)
    assert {"birth", "death", "marriage", "residence-change"} <= set(kinds)
    for event in flawed.events:
        person = by_id[event["national_id"]]   # labelled rows have no events
        assert _date(event["event_date"]) <= EFFECTIVE
        if event["event_type"] == "death":
            assert event["event_date"] == person["death_date"]
        elif event["event_type"] == "birth":
            assert event["event_date"] == person["birth_date"]
            assert event["place_code"] == person["birth_place_code"]
        elif event["event_type"] == "residence-change":
            assert event["event_date"] == person["residence_since"]
            assert (event["address"], event["commune_code"]) == (person["address"],
                                                                 person["commune_code"])
        elif event["event_type"] == "marriage":
            assert event["spouse_id"] == person["spouse_id"] and event["spouse_id"] in by_id
    deceased = sum(1 for r in by_id.values() if r["death_date"])
    assert kinds["death"] == deceased > 0


def test_about_the_asked_share_of_rows_is_labelled_over_every_kind(flawed: Output) -> None:
    assert abs(len(flawed.labels) - RATE * COUNT) <= 0.1 * RATE * COUNT
    kinds = Counter(line["defect"] for line in flawed.labels.values())
    assert set(kinds) == set(DEFECT_KINDS)
    assert max(kinds.values()) - min(kinds.values()) <= 3   # spread evenly
    for line in flawed.labels.values():
        assert line["file"] == "persons.csv"
        assert line["national_id"] == flawed.rows[int(line["row"]) - 1]["national_id"]
        expected = "normalised" if line["defect"] in ACCEPTED_KINDS else line["defect"]
        assert line["expected_reason"] == expected
    assert set(REJECTED_KINDS) <= {r.slug for r in for_registry("population")}


def test_nobody_refers_to_a_labelled_row(flawed: Output) -> None:
    labelled = {flawed.rows[n - 1]["national_id"] for n in flawed.labels}
    for row in flawed.clean().values():
        assert not {row["father_id"], row["mother_id"], row["spouse_id"]} & labelled
    assert not {e["national_id"] for e in flawed.events} & labelled
    assert not {e["spouse_id"] for e in flawed.events} & labelled


def _has_defect(kind: str, row: Row, rows: list[Row], units: Units) -> bool:
    since = row["residence_since"]
    if kind == "sex-digit-mismatch":
        found = check_personal_number(row["national_id"], province_codes=units.birth_provinces,
                                      sex=row["sex"], birth_date=_date(row["birth_date"]))
        return [v.slug for v in found] == ["sex-digit-mismatch"]
    if kind == "invalid-date":
        with pytest.raises(ValueError):
            _date(row["birth_date"])
        return re.fullmatch(r"\d{4}-\d\d-\d\d", row["birth_date"]) is not None
    if kind == "unknown-admin-unit":
        return row["commune_code"] not in units.legacy.keys() | units.codes_2025
    if kind == "admin-unit-not-in-force":
        return (_date(since) >= REORGANISATION and row["commune_code"] in units.legacy
                and row["commune_code"] not in units.codes_2025)
    if kind == "ambiguous-commune-successor":
        return _date(since) < REORGANISATION and row["commune_code"] in units.split
    if kind == "duplicate-national-id":
        return sum(r["national_id"] == row["national_id"] for r in rows) == 2
    if kind == "missing-required-field":
        return row["family_name"] == "" or row["commune_code"] == ""
    if kind == "birth-after-death":
        return _date(row["death_date"]) < _date(row["birth_date"])
    if kind == "nfd-text":
        text = row["family_name"] + row["address"]
        return unicodedata.is_normalized("NFD", text) and not unicodedata.is_normalized("NFC",
                                                                                         text)
    if kind == "tone-mark-placement":
        words = f"{row['middle_name']} {row['given_name']}".split()
        return any(other_tone_placement(w) for w in words)
    if kind == "dmy-date":
        return re.fullmatch(r"\d\d/\d\d/\d{4}", row["birth_date"]) is not None
    raise AssertionError(f"no check for {kind}")


def test_each_labelled_row_really_has_its_defect(flawed: Output, units: Units) -> None:
    for number, line in flawed.labels.items():
        row = flawed.rows[number - 1]
        assert _has_defect(line["defect"], row, flawed.rows, units), (line, row)


def test_a_duplicate_labels_both_rows(flawed: Output) -> None:
    duplicated = Counter(flawed.rows[n - 1]["national_id"] for n, line in flawed.labels.items()
                         if line["defect"] == "duplicate-national-id")
    assert duplicated and set(duplicated.values()) == {2}
    all_ids = Counter(r["national_id"] for r in flawed.rows)
    assert {i for i, n in all_ids.items() if n > 1} == set(duplicated)


def test_before_the_reorganisation_every_code_is_a_pre_2025_one(tmp_path: Path,
                                                                 units: Units) -> None:
    generate_population(tmp_path, 1000, seed=2, defect_rate=0.1,
                        effective_date=dt.date(2024, 1, 1))
    output = _read(tmp_path)
    for row in output.clean().values():
        assert row["commune_code"] in units.whole_successor
    kinds = Counter(line["defect"] for line in output.labels.values())
    assert "ambiguous-commune-successor" not in kinds   # no successor is needed yet
    assert kinds["admin-unit-not-in-force"] > 0
    for number, line in output.labels.items():
        row = output.rows[number - 1]
        if line["defect"] == "admin-unit-not-in-force":   # a 2025 code, not yet in force
            assert row["commune_code"] in units.codes_2025 - units.legacy.keys()
            assert _date(row["residence_since"]) < REORGANISATION


@pytest.mark.parametrize(("word", "other"), [
    ("Hòa", "Hoà"), ("Hoà", "Hòa"), ("Thủy", "Thuỷ"), ("Thuý", "Thúy"), ("Khỏe", "Khoẻ"),
    ("Quý", None), ("Hoàng", None), ("Hoa", None), ("Tuấn", None),
])
def test_the_other_tone_placement(word: str, other: str | None) -> None:
    assert other_tone_placement(word) == other


def test_the_population_looks_like_viet_nam(tmp_path: Path) -> None:
    generate_population(tmp_path, 20_000, seed=5)
    rows = _read(tmp_path).rows
    ages = [EFFECTIVE.year - _date(r["birth_date"]).year for r in rows]
    assert 0.20 < sum(a < 15 for a in ages) / len(ages) < 0.29        # 2019: about 24%
    assert 0.10 < sum(a >= 60 for a in ages) / len(ages) < 0.16       # 2019: about 12%
    assert 0.40 < sum(25 <= a < 55 for a in ages) / len(ages) < 0.50
    sexes = Counter(r["sex"] for r in rows)
    assert 0.95 < sexes["male"] / sexes["female"] < 1.03
    young = Counter(r["sex"] for r in rows if _date(r["birth_date"]).year > 2005)
    assert 1.04 < young["male"] / young["female"] < 1.18
    women = [r for r in rows if r["sex"] == "female"]
    men = [r for r in rows if r["sex"] == "male"]
    first_middle = {id(r): (r["middle_name"].split() or [""])[0] for r in rows}
    assert not any(first_middle[id(r)] == "Văn" for r in women)
    assert not any(first_middle[id(r)] == "Thị" for r in men)
    assert sum(first_middle[id(r)] == "Thị" for r in women) > len(women) / 5
    assert sum(first_middle[id(r)] == "Văn" for r in men) > len(men) / 10
    provinces = Counter(r["household_id"][2:4] for r in rows)
    assert len(provinces) == 34
