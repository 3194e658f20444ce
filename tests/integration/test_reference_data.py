"""Reference data as loaded by `mdr load ref`: versioned units, the crosswalk, code lists."""

import datetime as dt

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from schemas.reference_queries import locate, successors, units_as_of

BEFORE = dt.date(2020, 1, 1)
AFTER = dt.date(2025, 7, 1)


@pytest.mark.parametrize(
    ("day", "level", "count"),
    [(AFTER, "province", 34), (BEFORE, "province", 63), (AFTER, "commune", 3321),
     (BEFORE, "commune", 10599), (BEFORE, "district", 705), (AFTER, "district", 0),
     (dt.date(2025, 6, 30), "province", 63)],
)
def test_units_in_force_on_a_date(conn: Connection, day: dt.date, level: str, count: int) -> None:
    assert len(units_as_of(conn, day, level)) == count


def test_communes_of_a_province_after_2025(conn: Connection) -> None:
    hanoi = units_as_of(conn, AFTER, "commune", parent="01")
    assert len(hanoi) == 126
    assert all(u["parent_code"] == "01" for u in hanoi)


def test_province_15_was_yen_bai_and_is_now_lao_cai(conn: Connection) -> None:
    old, new = successors(conn, "15")
    assert (old["full_name"], old["valid_to"]) == ("Tỉnh Yên Bái", AFTER)
    assert [s["code"] for s in old["successors"]] == ["15"]
    assert old["successors"][0]["full_name"] == "Tỉnh Lào Cai"
    assert (new["full_name"], new["valid_from"]) == ("Tỉnh Lào Cai", AFTER)
    assert {(p["code"], p["full_name"]) for p in new["predecessors"]} == {
        ("10", "Tỉnh Lào Cai"), ("15", "Tỉnh Yên Bái")}
    assert {p["change_type"] for p in new["predecessors"]} == {"merge"}


def test_commune_code_00004_changed_meaning(conn: Connection) -> None:
    old, new = successors(conn, "00004")
    assert old["full_name"] == "Phường Trúc Bạch"
    assert new["full_name"] == "Phường Ba Đình"
    assert [s["code"] for s in old["successors"]] == ["00004"]
    assert {"00004", "00013"} <= {p["code"] for p in new["predecessors"]}


def test_a_split_commune_maps_to_several_new_ones_as_partial(conn: Connection) -> None:
    # Phường Cống Vị (00007) was divided between Ngọc Hà (00008) and Giảng Võ (00025).
    (old, _new) = successors(conn, "00007")[0], None
    assert old["full_name"] == "Phường Cống Vị"
    assert {s["code"] for s in old["successors"]} == {"00008", "00025"}
    assert {s["change_type"] for s in old["successors"]} == {"split"}
    assert {s["whole_unit"] for s in old["successors"]} == {False}


def test_locate_a_point_in_hanoi(conn: Connection) -> None:
    units = locate(conn, 105.8542, 21.0285, AFTER)
    assert [(u["level"], u["code"]) for u in units] == [("province", "01"), ("commune", "00070")]
    assert units[1]["full_name"] == "Phường Hoàn Kiếm"
    # No boundaries are held for the pre-2025 units.
    assert locate(conn, 105.8542, 21.0285, BEFORE) == []


def test_overlapping_versions_of_one_code_are_impossible(conn: Connection) -> None:
    with pytest.raises(IntegrityError, match="ex_admin_unit_code_period"):
        conn.execute(text("""
            INSERT INTO ref.admin_unit (code, level, unit_type, name, full_name, valid_from)
            VALUES ('01', 'province', 'tinh', 'Hà Nội', 'Tỉnh Hà Nội', DATE '2026-01-01')"""))


def test_code_lists_are_loaded(conn: Connection) -> None:
    def count(table: str) -> int:
        return int(conn.execute(text(f"SELECT count(*) FROM ref.{table}")).scalar_one())

    assert count("ethnic_group") == 54
    assert count("country") >= 249
    assert count("currency") >= 150
    assert conn.execute(text("SELECT name_en FROM ref.industry WHERE code = '0112'")
                        ).scalar_one() == "Growing of rice"
    assert conn.execute(text("SELECT parent_code FROM ref.land_use_type WHERE code = 'ODT'")
                        ).scalar_one() == "PNN"
    assert conn.execute(text("SELECT name FROM ref.country WHERE code = 'VN'")).scalar_one()


def test_every_table_and_column_is_documented(conn: Connection) -> None:
    undocumented = conn.execute(text("""
        SELECT c.table_schema || '.' || c.table_name || '.' || c.column_name
        FROM information_schema.columns c
        JOIN pg_class t ON t.relname = c.table_name
        JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = c.table_schema
        WHERE c.table_schema IN ('ref', 'etl')
          AND (col_description(t.oid, c.ordinal_position) IS NULL
               OR obj_description(t.oid, 'pg_class') IS NULL)""")).scalars().all()
    assert undocumented == []
