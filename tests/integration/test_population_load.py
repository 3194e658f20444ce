"""`mdr load population`: validation with reasons, history, idempotence, all-or-nothing."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gzip
import json
import threading
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy import event as sa_event
from typer.testing import CliRunner

from loaders import population
from loaders.base import LoadFailed, LoadResult, Options
from loaders.population import load_population
from loaders.sources.population_layout import EVENT_FIELDS, SNAPSHOT_FIELDS
from loaders.sources.readers import ReadLimits
from mdr import db
from mdr.cli import app
from mdr.settings import Settings
from tests.factories import write_csv
from tests.factories.population import CONG_VI, FAMILY, HANOI_WARD, event, person

EFFECTIVE = dt.date(2026, 6, 1)
BAD = [
    (person("001280000005"), "sex-digit-mismatch"),
    (person("001080000006", birth_date="2010-02-30"), "invalid-date"),
    (person("001080000007", commune_code="99999"), "unknown-admin-unit"),
    (person("001080000008", commune_code=CONG_VI), "admin-unit-not-in-force"),
    (person("001080000009", commune_code=CONG_VI, residence_since="2010-01-01"),
     "ambiguous-commune-successor"),
    (person("001080000010", family_name=""), "missing-required-field"),
    (person("001080000011", death_date="1970-01-01"), "birth-after-death"),
    (person("001080000012", father_id="001080099999"), "unknown-related-person"),
]


@pytest.fixture
def registry(clone_db: Callable[[str], str], ref_template: str,
             settings: Settings) -> Iterator[Engine]:
    engine = db.make_engine(clone_db(ref_template), settings, role=db.Role.LOADER)
    yield engine
    engine.dispose()


def load(engine: Engine, path: Path, effective: dt.date = EFFECTIVE,
         **options: Any) -> LoadResult:
    return load_population(engine, path, Options(effective_date=effective, **options))


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def test_bad_rows_are_rejected_for_their_reason_and_the_rest_loads(
        registry: Engine, tmp_path: Path) -> None:
    rows = FAMILY + [row for row, _ in BAD]
    result = load(registry, write_csv(tmp_path / "p.csv", SNAPSHOT_FIELDS, rows),
                  reject_threshold=1.0)
    assert result.status == "committed"
    assert result.inserted == len(FAMILY)
    by_row = {i.row: i.slug for i in result.issues}
    expected = {len(FAMILY) + n: slug for n, (_, slug) in enumerate(BAD, start=1)}
    assert by_row == expected
    with registry.connect() as conn:
        stored = {(r.row_number, r.reason) for r in conn.execute(text(
            "SELECT row_number, reason FROM etl.rejected_row WHERE run_id = :id"),
            {"id": result.run_id})}
    assert stored == set(expected.items())
    assert scalar(registry, "SELECT count(*) FROM population.person") == len(FAMILY)


def test_a_second_run_changes_nothing(registry: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", SNAPSHOT_FIELDS, FAMILY)
    first = load(registry, path)
    recorded = scalar(registry, "SELECT max(recorded_at) FROM population.residence")
    second = load(registry, path)
    assert (first.inserted, first.updated) == (len(FAMILY), 0)
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, len(FAMILY))
    assert scalar(registry, "SELECT max(recorded_at) FROM population.residence") == recorded


def test_a_pre_2025_commune_continues_in_its_successor(registry: Engine, tmp_path: Path) -> None:
    load(registry, write_csv(tmp_path / "p.csv", SNAPSHOT_FIELDS, FAMILY))
    with registry.connect() as conn:
        history = conn.execute(text("""
            SELECT u.full_name, r.valid_from, r.valid_to FROM population.residence r
            JOIN ref.admin_unit u ON u.id = r.unit_id
            WHERE r.national_id = '001080000004' ORDER BY r.valid_from""")).all()
    assert [tuple(h) for h in history] == [
        ("Phường Trúc Bạch", dt.date(2010, 1, 1), dt.date(2025, 7, 1)),
        ("Phường Ba Đình", dt.date(2025, 7, 1), None),
    ]


def test_names_are_stored_in_nfc(registry: Engine, tmp_path: Path) -> None:
    nfd = [person("001080000001", given_name=unicodedata.normalize("NFD", "Khôi"),
                  household_id="")]
    load(registry, write_csv(tmp_path / "p.csv", SNAPSHOT_FIELDS, nfd))
    assert scalar(registry, "SELECT given_name FROM population.person_name") == "Khôi"


def test_too_many_rejections_abort_without_touching_the_registry(
        registry: Engine, tmp_path: Path) -> None:
    rows = [person("001080000001")] + [row for row, _ in BAD]
    result = load(registry, write_csv(tmp_path / "p.csv", SNAPSHOT_FIELDS, rows))
    assert result.status == "aborted"
    assert "threshold" in (result.message or "")
    assert scalar(registry, "SELECT count(*) FROM population.person") == 0
    assert scalar(registry, "SELECT status FROM etl.load_run WHERE id = :id",
                  id=result.run_id) == "aborted"
    assert scalar(registry, "SELECT count(*) FROM etl.rejected_row WHERE run_id = :id",
                  id=result.run_id) == len(BAD)


def test_a_load_that_fails_midway_leaves_the_registry_as_it_was(
        registry: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_csv(tmp_path / "p.csv", SNAPSHOT_FIELDS, FAMILY)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("power cut")

    # Persons are already inserted when the history merge starts.
    monkeypatch.setattr(population.SnapshotStage, "_merge_history", crash)
    with pytest.raises(LoadFailed, match="power cut") as caught:
        load(registry, path)
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert caught.value.result.status == "failed"
    assert scalar(registry, "SELECT count(*) FROM population.person") == 0
    assert scalar(registry, "SELECT status FROM etl.load_run ORDER BY id DESC LIMIT 1"
                  ) == "failed"


def test_concurrent_loads_are_serialised(registry: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", SNAPSHOT_FIELDS, FAMILY)
    results: list[LoadResult] = []
    threads = [threading.Thread(target=lambda: results.append(load(registry, path)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted((r.inserted, r.unchanged) for r in results) == [(0, len(FAMILY)),
                                                                  (len(FAMILY), 0)]


def test_events_keep_history_answerable_as_of_any_date(registry: Engine, tmp_path: Path) -> None:
    # The register as it stood on 2026-01-01, then what happened since.
    load(registry, write_csv(tmp_path / "p.csv", SNAPSHOT_FIELDS, FAMILY), dt.date(2026, 1, 1))
    events = [
        {"event_type": "residence-change", "national_id": "001080000004",
         "event_date": "2026-03-01", "address": "9 Phố Huế", "commune_code": HANOI_WARD,
         "source_document": "CT-2026-1"},
        {"event_type": "name-change", "national_id": "001210000003", "event_date": "2026-02-01",
         "family_name": "Nguyễn", "middle_name": "Minh", "given_name": "Khoa"},
        {"event_type": "death", "national_id": "001080000001", "event_date": "2026-04-01",
         "place_code": HANOI_WARD},
    ]
    path = write_csv(tmp_path / "e.csv", EVENT_FIELDS,
                     [{f: e.get(f, "") for f in EVENT_FIELDS} for e in events])
    first = load(registry, path)
    assert (first.status, first.inserted, first.rejected) == ("committed", 3, 0)
    again = load(registry, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)

    def lived_at(address: str, on: str, known: str) -> list[str]:
        with registry.connect() as conn:
            return list(conn.execute(text("""
                SELECT national_id FROM population.residence
                WHERE address_line = :address
                  AND valid_from <= CAST(:on AS date)
                  AND coalesce(valid_to, 'infinity') > CAST(:on AS date)
                  AND recorded_at <= CAST(:known AS timestamptz)
                  AND coalesce(superseded_at, 'infinity') > CAST(:known AS timestamptz)
                ORDER BY 1"""), {"address": address, "on": on, "known": known}).scalars())

    now = "2100-01-01"
    assert lived_at("5 Phố Huế", "2026-01-01", now) == []
    assert lived_at("9 Phố Huế", "2026-05-01", now) == ["001080000004"]
    assert lived_at("12 Phố Hàng Bông", "2026-03-01", now) == [
        "001080000001", "001182000002", "001210000003"]
    # After his death he lives nowhere; before it the registry still says he lived there.
    assert lived_at("12 Phố Hàng Bông", "2026-05-01", now) == ["001182000002", "001210000003"]
    # As the registry knew it before the events were loaded, he still lived there.
    with registry.connect() as conn:
        before_events = conn.execute(text(
            "SELECT min(finished_at) FROM etl.load_run WHERE registry = 'population' "
            "AND status = 'committed'")).scalar()
    assert "001080000001" in lived_at("12 Phố Hàng Bông", "2026-05-01", str(before_events))
    assert scalar(registry, "SELECT status FROM population.person "
                            "WHERE national_id = '001080000001'") == "deceased"
    assert scalar(registry, """SELECT full_name FROM population.person_name
                               WHERE national_id = '001210000003' AND superseded_at IS NULL
                                 AND valid_to IS NULL""") == "Nguyễn Minh Khoa"
    # The widow's marriage ended with the death.
    assert scalar(registry, """SELECT valid_to FROM population.family_link
                               WHERE national_id = '001182000002' AND relation = 'spouse'
                                 AND superseded_at IS NULL""") == dt.date(2026, 4, 1)


def test_an_event_for_an_unknown_person_is_rejected(registry: Engine, tmp_path: Path) -> None:
    row = {f: "" for f in EVENT_FIELDS}
    row.update(event_type="death", national_id="001080000099", event_date="2026-01-01")
    result = load(registry, write_csv(tmp_path / "e.csv", EVENT_FIELDS, [row]),
                  reject_threshold=1.0)
    assert result.rejected_by_reason == {"unknown-person": 1}


def test_another_layout_through_a_profile(registry: Engine, tmp_path: Path) -> None:
    profile = tmp_path / "province.yaml"
    profile.write_text(
        "name: province-export\n"
        "format: jsonl\n"
        "columns:\n"
        "  SoDinhDanh: national_id\n  HoTen: full_name\n  GioiTinh: sex\n"
        "  NgaySinh: birth_date\n  DiaChi: address\n  MaXa: commune_code\n"
        "  CuTruTu: residence_since\n"
        "values:\n  sex: {Nam: male, 'Nữ': female}\n"
        "defaults:\n  nationality: VN\n", encoding="utf-8")
    records = [
        {"SoDinhDanh": "001182000002", "HoTen": "Trần Thị Hoa", "GioiTinh": "Nữ",
         "NgaySinh": "09/07/1982", "DiaChi": "3 Hàng Gai", "MaXa": HANOI_WARD,
         "CuTruTu": "2025-08-01", "Ignored": "x"},
        {"SoDinhDanh": "001080000001", "HoTen": "Lê An", "GioiTinh": "Nam",
         "NgaySinh": "1980-05-01", "DiaChi": "3 Hàng Gai", "MaXa": HANOI_WARD,
         "CuTruTu": "2025-08-01"},
    ]
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n",
                    encoding="utf-8")
    result = load(registry, path, profile=str(profile))
    assert (result.status, result.inserted, result.rejected) == ("committed", 2, 0)
    with registry.connect() as conn:
        names = conn.execute(text("SELECT family_name, middle_name, given_name "
                                  "FROM population.person_name ORDER BY national_id")).all()
    assert [tuple(n) for n in names] == [("Lê", None, "An"), ("Trần", "Thị", "Hoa")]


def test_broken_bytes_and_control_characters_reject_their_row_only(
        registry: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", SNAPSHOT_FIELDS, [
        person("001080000001"),
        person("001080000021", address="12\x00 Phố Huế"),
        person("001080000022", given_name="An\x07"),
    ])
    result = load(registry, path, reject_threshold=1.0)
    assert result.status == "committed"
    assert result.inserted == 1
    assert result.rejected_by_reason == {"invalid-text": 2}
    assert {i.field for i in result.issues} == {"address", "given_name"}


def test_a_rejected_root_rejects_a_chain_of_seven_generations_row_by_row(
        registry: Engine, tmp_path: Path) -> None:
    # One father chain, one row a generation; the root's birth date does not exist, so
    # each son in turn points at a father who is not loaded (six passes of the check).
    years = (1900, 1920, 1940, 1960, 1980, 2000, 2020)
    ids = [f"001{(y // 100 - 19) * 2}{y % 100:02d}0001{n:02d}" for n, y in enumerate(years)]
    chain = [person(ids[0], birth_date="1900-02-30", household_id="")]
    chain += [person(nid, birth_date=f"{year}-01-01", father_id=ids[n], household_id="")
              for n, (nid, year) in enumerate(zip(ids[1:], years[1:], strict=True))]
    rows = [*FAMILY, *reversed(chain)]
    result = load(registry, write_csv(tmp_path / "p.csv", SNAPSHOT_FIELDS, rows),
                  reject_threshold=1.0)
    assert result.status == "committed"
    assert result.inserted == len(FAMILY)
    by_id = {i.value: i.slug for i in result.issues if i.field == "father_id"}
    assert by_id == {father: "unknown-related-person" for father in ids[:-1]}
    assert result.rejected_by_reason == {"invalid-date": 1, "unknown-related-person": 6}
    assert scalar(registry, "SELECT count(*) FROM population.person") == len(FAMILY)


class Killed(BaseException):
    """The process dies: nothing after this point reaches the database."""


def test_a_load_killed_right_after_its_commit_is_reported_committed(
        registry: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", SNAPSHOT_FIELDS,
                     [*FAMILY, person("001280000005")])  # one row rejected
    commits = 0

    def count_commit(conn: Any) -> None:
        nonlocal commits
        commits += 1

    def die_after_the_load_committed(conn: Any) -> None:
        # The first commit records the run's start, the second is the load itself.
        if commits >= 2:
            raise Killed

    sa_event.listen(registry, "commit", count_commit)
    sa_event.listen(registry, "begin", die_after_the_load_committed)
    try:
        with contextlib.suppress(Killed):
            load(registry, path, reject_threshold=1.0)
    finally:
        sa_event.remove(registry, "commit", count_commit)
        sa_event.remove(registry, "begin", die_after_the_load_committed)
    assert commits >= 2
    # The next load closes runs that died midway; this one had finished its work.
    again = load(registry, path, reject_threshold=1.0)
    assert (again.inserted, again.unchanged) == (0, len(FAMILY))
    with registry.connect() as conn:
        runs = conn.execute(text(
            "SELECT r.status, r.inserted, r.rejected, "
            "       (SELECT count(*) FROM etl.rejected_row x WHERE x.run_id = r.id) "
            "FROM etl.load_run r WHERE r.registry = 'population' ORDER BY r.id")).all()
    assert [tuple(r) for r in runs] == [("committed", len(FAMILY), 1, 1),
                                        ("committed", 0, 1, 1)]


# -- a file is refused whole when its structure breaks ---------------------------------------


def csv_line(row: dict[str, str]) -> str:
    return ",".join(row[f] for f in SNAPSHOT_FIELDS)


def test_a_person_smuggled_inside_an_oversized_field_is_not_loaded(
        registry: Engine, tmp_path: Path) -> None:
    header = ",".join(SNAPSHOT_FIELDS) + "\n"
    first = csv_line(person("001080000001", household_id="")) + "\n"
    carrier = person("001080000004", household_id="")
    carrier["address"] = ('"' + "x" * 140_000 + "\n"
                          + csv_line(person("001080000013", household_id="")) + '\n12 Huế"')
    path = tmp_path / "p.csv"
    path.write_text(header + first + csv_line(carrier) + "\n"
                    + csv_line(person("001080000015", household_id="")) + "\n",
                    encoding="utf-8")
    result = load(registry, path, reject_threshold=1.0)
    assert result.status == "aborted"
    assert f"row 2 (line 3, byte {len((header + first).encode())})" in (result.message or "")
    assert scalar(registry, "SELECT count(*) FROM population.person") == 0
    assert scalar(registry, "SELECT status || ': ' || message FROM etl.load_run WHERE id = :id",
                  id=result.run_id) == f"aborted: {result.message}"


def test_a_gzip_past_its_caps_aborts_the_load(registry: Engine, tmp_path: Path) -> None:
    path = tmp_path / "p.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SNAPSHOT_FIELDS)
        writer.writeheader()
        writer.writerows([person("001080000001", household_id="")] * 2000)
    small = ReadLimits(max_decompressed_bytes=50_000)
    result = load(registry, path, reject_threshold=1.0, limits=small)
    assert result.status == "aborted"
    assert "expands to more than 50,000 bytes" in (result.message or "")
    long_line = ReadLimits(max_record_bytes=100)
    result = load(registry, path, reject_threshold=1.0, limits=long_line)
    assert (result.status, result.read) == ("aborted", 0)
    assert "longer than 100 bytes" in (result.message or "")
    assert scalar(registry, "SELECT count(*) FROM population.person") == 0


def test_a_row_in_another_encoding_is_reported_at_its_true_offset(
        registry: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", SNAPSHOT_FIELDS,
                     [person(f"0010800{n:05d}", household_id="") for n in range(1, 301)])
    head = path.read_bytes()
    bad = (csv_line(person("001080000301", family_name="Lê", address="12 Hàng Bông",
                           household_id="")) + "\n"
           ).encode("cp1258")
    path.write_bytes(head + bad)
    offset = len(head) + bad.index("ê".encode("cp1258"))
    assert offset > 30_000
    result = load(registry, path, reject_threshold=1.0)
    assert result.status == "aborted"
    assert f"row 301 (line 302, byte {offset})" in (result.message or "")
    assert scalar(registry, "SELECT count(*) FROM population.person") == 0


# -- conflicting facts in one file are rejected rows ------------------------------------------


SINGLES = [
    person("001080000013", given_name="Cường", household_id="HH-3"),
    person("001182000014", family_name="Lê", middle_name="Thị", given_name="Mai",
           sex="female", birth_date="1982-01-01", household_id="HH-4"),
    person("001182000016", family_name="Phạm", middle_name="Thị", given_name="Lan",
           sex="female", birth_date="1982-02-01", household_id="HH-5"),
]


def load_events(registry: Engine, tmp_path: Path, events: list[dict[str, str]]) -> LoadResult:
    """Loads FAMILY and SINGLES as of 2026-01-01, then the events (any share rejected)."""
    load(registry, write_csv(tmp_path / "p.csv", SNAPSHOT_FIELDS, FAMILY + SINGLES),
         dt.date(2026, 1, 1))
    return load(registry, write_csv(tmp_path / "e.csv", EVENT_FIELDS, events),
                reject_threshold=1.0)


MOVE = {"address": "9 Phố Huế", "commune_code": HANOI_WARD}
CONFLICTS = {
    "two marriages on one day": [
        event("marriage", "001080000013", "2026-03-01", spouse_id="001182000014"),
        event("marriage", "001080000013", "2026-03-01", spouse_id="001182000016"),
    ],
    "two persons marrying one spouse on one day": [
        event("marriage", "001182000014", "2026-03-01", spouse_id="001080000013"),
        event("marriage", "001080000004", "2026-03-01", spouse_id="001182000014"),
    ],
    "a marriage and a divorce of one couple on one day": [
        event("marriage", "001080000013", "2026-03-01", spouse_id="001182000014"),
        event("divorce", "001182000014", "2026-03-01", spouse_id="001080000013"),
    ],
    "two name changes on one day": [
        event("name-change", "001210000003", "2026-02-01", family_name="Nguyễn",
              given_name="Khoa"),
        event("name-change", "001210000003", "2026-02-01", family_name="Nguyễn",
              given_name="Khang"),
    ],
    "two residence changes on one day": [
        event("residence-change", "001080000004", "2026-02-01", **MOVE),
        event("residence-change", "001080000004", "2026-02-01", **{**MOVE, "address": "1 Huế"}),
    ],
    "two deaths on different days": [
        event("death", "001080000004", "2026-02-01"),
        event("death", "001080000004", "2026-02-02"),
    ],
}


@pytest.mark.parametrize("events", CONFLICTS.values(), ids=CONFLICTS.keys())
def test_conflicting_events_are_rejected_and_the_rest_loads(
        registry: Engine, tmp_path: Path, events: list[dict[str, str]]) -> None:
    fine = event("residence-change", "001080000001", "2026-02-15", **MOVE)
    result = load_events(registry, tmp_path, [*events, fine])
    assert result.status == "committed", result.message
    assert result.rejected_by_reason == {"conflicting-events": len(events)}
    assert {i.row for i in result.issues} == set(range(1, len(events) + 1))
    assert all("row" in i.message for i in result.issues)
    assert result.inserted == 1
    assert scalar(registry, "SELECT count(*) FROM population.life_event") == 1


def test_a_repeated_event_is_rejected_and_the_first_loads(
        registry: Engine, tmp_path: Path) -> None:
    change = event("name-change", "001210000003", "2026-02-01", family_name="Nguyễn",
                   given_name="Khoa")
    move = event("residence-change", "001080000004", "2026-02-01", **MOVE)
    result = load_events(registry, tmp_path, [change, move, change, move, change])
    assert result.status == "committed", result.message
    assert sorted((i.row, i.slug) for i in result.issues) == [
        (3, "duplicate-event"), (4, "duplicate-event"), (5, "duplicate-event")]
    assert result.inserted == 2


def test_a_marriage_reported_by_both_spouses_is_one_marriage(
        registry: Engine, tmp_path: Path) -> None:
    result = load_events(registry, tmp_path, [
        event("marriage", "001080000013", "2026-03-01", spouse_id="001182000014"),
        event("marriage", "001182000014", "2026-03-01", spouse_id="001080000013"),
    ])
    assert (result.status, result.inserted, result.rejected) == ("committed", 2, 0)
    assert scalar(registry, """SELECT count(*) FROM population.family_link
                               WHERE relation = 'spouse' AND superseded_at IS NULL
                                 AND valid_from = '2026-03-01'""") == 2


def test_a_marriage_to_oneself_is_rejected(registry: Engine, tmp_path: Path) -> None:
    result = load_events(registry, tmp_path, [
        event("marriage", "001080000013", "2026-03-01", spouse_id="001080000013")])
    assert result.status == "committed", result.message
    assert result.rejected_by_reason == {"unknown-related-person": 1}


def test_a_marriage_to_someone_married_that_day_is_rejected(
        registry: Engine, tmp_path: Path) -> None:
    # 001182000002 is married to 001080000001 (the snapshot, from 2026-01-01).
    bigamy = event("marriage", "001080000013", "2026-03-01", spouse_id="001182000002")
    result = load_events(registry, tmp_path, [bigamy])
    assert result.rejected_by_reason == {"already-married": 1}
    assert scalar(registry, "SELECT count(*) FROM population.life_event") == 0
    # After a divorce in the same file, the marriage is fine.
    divorce = event("divorce", "001080000001", "2026-02-01", spouse_id="001182000002")
    result = load(registry, write_csv(tmp_path / "e2.csv", EVENT_FIELDS, [divorce, bigamy]),
                  reject_threshold=1.0)
    assert (result.status, result.inserted, result.rejected) == ("committed", 2, 0)


# -- the command line: one JSON object, and no traceback, whatever happens -------------------


def mdr_load(url: str, *args: str) -> tuple[int, dict[str, Any], str]:
    """`mdr load population ... --json`: exit status, the JSON object, stderr."""
    result = CliRunner().invoke(app, ["load", "population", *args, "--json"],
                                env={"MDR_DATABASE_URL": url})
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.output
    return result.exit_code, json.loads(lines[0]), result.stderr


def test_an_unexpected_failure_still_prints_its_summary(
        clone_db: Callable[[str], str], ref_template: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("power cut\nwith a second line")

    monkeypatch.setattr(population.SnapshotStage, "_merge_history", crash)
    path = write_csv(tmp_path / "p.csv", SNAPSHOT_FIELDS, FAMILY)
    status, summary, stderr = mdr_load(clone_db(ref_template), str(path),
                                       "--effective-date", "2026-06-01")
    assert status == 1
    assert summary["status"] == "failed" and isinstance(summary["run_id"], int)
    assert "RuntimeError: power cut" in summary["message"]
    assert f"id {summary['run_id']}" in summary["message"]
    assert "second line" not in summary["message"]
    assert "Traceback" not in stderr


def test_an_unreadable_file_prints_an_aborted_summary(
        clone_db: Callable[[str], str], ref_template: str, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(",".join(SNAPSHOT_FIELDS) + '\n001080000001,"Nguyễn" Văn\n',
                    encoding="utf-8")
    url = clone_db(ref_template)
    status, summary, stderr = mdr_load(url, str(path))
    assert (status, summary["status"]) == (1, "aborted")
    assert "row 1 (line 2, byte" in summary["message"]
    assert "Traceback" not in stderr
    env = {"MDR_DATABASE_URL": url, "MDR_LOAD_MAX_RECORD_BYTES": "10"}
    result = CliRunner().invoke(app, ["load", "population", str(path), "--json"], env=env)
    assert result.exit_code == 1
    assert "longer than 10 bytes" in json.loads(result.stdout)["message"]


def test_a_load_that_cannot_start_prints_a_failed_summary(
        shared_ref_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", SNAPSHOT_FIELDS, FAMILY)
    status, summary, stderr = mdr_load(shared_ref_url, str(path), "--profile", "no-such")
    assert (status, summary["status"], summary["run_id"]) == (1, "failed", None)
    assert "Profile 'no-such' not found" in summary["message"]
    assert "Traceback" not in stderr


def test_names_no_person_could_carry_are_rejected_with_their_own_reason(
        registry: Engine, tmp_path: Path) -> None:
    attack = "Robert'); DROP TABLE person;--"
    rows = [*FAMILY, person("001080000031", given_name=attack),
            person("001080000032", middle_name="Văn\u200b"),
            person("001080000033", family_name="H'Hen", given_name="Niê")]
    result = load(registry, write_csv(tmp_path / "p.csv", SNAPSHOT_FIELDS, rows),
                  reject_threshold=1.0)
    assert result.status == "committed" and result.inserted == len(FAMILY) + 1
    rejected = {(i.row, i.slug, i.field) for i in result.issues}
    assert rejected == {(5, "invalid-name", "given_name"), (6, "invalid-name", "middle_name")}
    message = next(i.message for i in result.issues if i.row == 5)
    assert "')'" in message and "cannot be a name" in message

    renamed = load(registry, write_csv(tmp_path / "e.csv", EVENT_FIELDS, [
        event("name-change", "001080000001", "2026-05-01", family_name="Nguyễn",
              given_name=attack)]), reject_threshold=1.0)
    assert [(i.slug, i.field) for i in renamed.issues] == [("invalid-name", "given_name")]
    assert scalar(registry, "SELECT count(*) FROM population.person_name "
                            "WHERE given_name LIKE '%DROP%'") == 0
