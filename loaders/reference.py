"""``mdr load ref``: administrative units old and new, the 2025 crosswalk, code lists.

Everything is read from ``fixtures/reference`` (and pycountry's ISO lists),
checked, staged with COPY and merged in one transaction (``loaders.base.run_load``),
so a second run changes nothing and reports every row unchanged.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import gettext
import gzip
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pycountry
from sqlalchemy import Connection, Engine, text

from loaders import reasons
from loaders.base import (
    LoadResult,
    Options,
    Progress,
    RegistryLoader,
    RowChecker,
    RowIssue,
    Stage,
    copy_rows,
    run_load,
)
from loaders.checks import upsert
from loaders.rules.text import clean, name_key
from mdr.settings import Settings
from schemas.reference import REORGANISATION_2025

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "reference"
REGISTRY = "ref"

# How each source spells a unit's kind, mapped to ref.admin_unit_type codes.
LEGACY_TYPES = {
    "province": {"tinh": "tinh", "thanh-pho": "thanh_pho_tw"},
    "district": {"quan": "quan", "huyen": "huyen", "thi-xa": "thi_xa",
                 "thanh-pho": "thanh_pho_tinh"},
    "commune": {"xa": "xa", "phuong": "phuong", "thi-tran": "thi_tran"},
}
TYPES_2025 = {1: "thanh_pho_tw", 2: "tinh", 3: "phuong", 4: "xa", 5: "dac_khu"}


@dataclass(frozen=True)
class UnitRow:
    level: str
    code: str
    unit_type: str
    name: str
    full_name: str
    name_en: str | None
    parent_level: str | None
    parent_code: str | None
    valid_from: dt.date | None
    valid_to: dt.date | None
    geojson: str | None


@dataclass(frozen=True)
class ChangeRow:
    level: str
    old_code: str
    new_code: str
    whole_unit: bool | None
    by_merges: bool
    by_splits: bool
    renamed: bool


def _read_json(path: Path) -> Any:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def _read_csv(path: Path) -> list[dict[str, str | None]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [{k: (clean(v) or None) for k, v in row.items()} for row in csv.DictReader(handle)]


# -- extract and validate -----------------------------------------------------------------------


def read_units(base: Path, issues: list[RowIssue]) -> list[UnitRow]:
    """All unit versions: the pre-2025 three levels and the 2025 two levels."""
    units: list[UnitRow] = []
    legacy_files = {"province": "legacy_tinh_tp", "district": "legacy_quan_huyen",
                    "commune": "legacy_xa_phuong"}
    parent_level = {"province": None, "district": "province", "commune": "district"}
    for level, stem in legacy_files.items():
        source = f"admin_units/{stem}.json.gz"
        for position, (code, item) in enumerate(_read_json(base / source).items(), start=1):
            unit_type = LEGACY_TYPES[level].get(item["type"])
            if unit_type is None:
                issues.append(reasons.UNKNOWN_UNIT_TYPE.issue(
                    row=position, field="type", value=item["type"], source=source,
                    level=level, code=code))
                continue
            units.append(UnitRow(
                level, code, unit_type, clean(item["name"]), clean(item["name_with_type"]), None,
                parent_level[level], item.get("parent_code"), None, REORGANISATION_2025, None,
            ))

    source = "admin_units/units_2025.json.gz"
    provinces = _read_json(base / source)
    for position, province in enumerate(provinces, start=1):
        rows = [(province, "province", None)] + [(w, "commune", province["Code"])
                                                 for w in province["Wards"]]
        for item, level, parent in rows:
            unit_type = TYPES_2025.get(item["AdministrativeUnitId"])
            if unit_type is None:
                issues.append(reasons.UNKNOWN_UNIT_TYPE.issue(
                    row=position, field="AdministrativeUnitId",
                    value=str(item["AdministrativeUnitId"]), source=source, level=level,
                    code=item["Code"]))
                continue
            units.append(UnitRow(
                level, item["Code"], unit_type, clean(item["Name"]), clean(item["FullName"]),
                clean(item["NameEn"]), "province" if parent else None, parent,
                REORGANISATION_2025, None, None,
            ))
    units = _attach_boundaries(base, units, issues)
    _check_official_provinces(base, units, issues)
    _check_parents(units, issues)
    return units


def _attach_boundaries(base: Path, units: list[UnitRow], issues: list[RowIssue]) -> list[UnitRow]:
    geometry: dict[tuple[str, str], str] = {}
    for level, stem in (("province", "provinces_2025"), ("commune", "communes_2025_simplified")):
        source = f"boundaries/{stem}.geojson.gz"
        for feature in _read_json(base / source)["features"]:
            geometry[(level, feature["properties"]["code"])] = json.dumps(feature["geometry"])
    current = {(u.level, u.code) for u in units if u.valid_from == REORGANISATION_2025}
    for level, code in sorted(set(geometry) - current):
        issues.append(reasons.UNKNOWN_ADMIN_UNIT.issue(
            field="code", value=code, source="boundaries", level=level, code=code,
            period=f" from {REORGANISATION_2025}", outcome="its boundary was not loaded"))
    out = []
    for unit in units:
        if unit.valid_from == REORGANISATION_2025:
            geojson = geometry.get((unit.level, unit.code))
            if geojson is None:
                issues.append(reasons.MISSING_GEOMETRY.issue(
                    field="code", value=unit.code, source="boundaries", level=unit.level,
                    code=unit.code, name=unit.full_name))
            unit = UnitRow(**{**unit.__dict__, "geojson": geojson})
        out.append(unit)
    return out


def _check_official_provinces(base: Path, units: list[UnitRow], issues: list[RowIssue]) -> None:
    source = "admin_units/provinces_2025_official.csv"
    listed = {u.code: u for u in units
              if u.level == "province" and u.valid_from == REORGANISATION_2025}
    official = _read_csv(base / source)
    for position, row in enumerate(official, start=1):
        code, name = row["Mã số"] or "", row["Tên 34 tỉnh sau sáp nhập"] or ""
        unit = listed.get(code)
        if unit is None:
            issues.append(reasons.DIFFERS_FROM_OFFICIAL_LIST.issue(
                row=position, field="Mã số", value=code, source=source, code=code,
                problem=f"({name}) is in the official list but missing from the 2025 unit "
                        "list"))
        elif name_key(unit.full_name) != name_key(name) and name_key(unit.name) != name_key(name):
            issues.append(reasons.DIFFERS_FROM_OFFICIAL_LIST.issue(
                row=position, field="Tên", value=name, source=source, code=code,
                problem=f"is named {unit.full_name!r} in the unit list but {name!r} in the "
                        "official list"))
    for code in sorted(set(listed) - {r["Mã số"] for r in official}):
        issues.append(reasons.DIFFERS_FROM_OFFICIAL_LIST.issue(
            field="code", value=code, source=source, code=code,
            problem="is in the 2025 unit list but not in the official list"))


def _check_parents(units: list[UnitRow], issues: list[RowIssue]) -> None:
    known = {(u.level, u.code, u.valid_from) for u in units}
    for unit in units:
        if unit.parent_code and (unit.parent_level, unit.parent_code, unit.valid_from) not in known:
            issues.append(reasons.UNKNOWN_PARENT_UNIT.issue(
                field="parent_code", value=unit.parent_code, source="admin_units",
                level=unit.level, code=unit.code, name=unit.full_name))


# Type words that lead a unit's full name; the longest first, as "Thành phố" and
# "Thị xã" begin like other words would.
_TYPE_WORDS = tuple(sorted((name_key(w) for w in (
    "Thành phố", "Thị trấn", "Thị xã", "Đặc khu", "Phường", "Quận", "Huyện", "Tỉnh", "Xã")),
    key=len, reverse=True))


def unit_type_and_name(full_name: str) -> tuple[str, str]:
    """(type word, proper name) as comparison keys: "Phường 04" gives ("phường", "4").

    Numbered wards are written with and without a leading zero ("Phường 4", "Phường
    04"); the number is kept as a number so both read the same.
    """
    key = name_key(full_name)
    kind = next((w for w in _TYPE_WORDS if key.startswith(w + " ")), "")
    proper = key[len(kind):].strip()
    return kind, " ".join(str(int(w)) if w.isdigit() else w for w in proper.split(" "))


def _name_disagreement(stated: str, unit: UnitRow) -> reasons.Reason | None:
    """How the crosswalk's name for a unit disagrees with the unit list's, if it does.

    A different proper name is worth a steward's look; a different type word alone
    ("Xã" against "Phường") is a commune promoted around the reorganisation, reported
    apart so the name differences are not lost among them.
    """
    stated_kind, stated_name = unit_type_and_name(stated)
    listed_kind, listed_name = unit_type_and_name(unit.full_name)
    if stated_name != listed_name:
        return reasons.CROSSWALK_NAME_MISMATCH
    if stated_kind and stated_kind != listed_kind:
        return reasons.CROSSWALK_TYPE_MISMATCH
    return None


def read_crosswalk(base: Path, units: list[UnitRow], issues: list[RowIssue]) -> list[ChangeRow]:
    """Pairs (old unit → new unit) stated by either list, with their agreement checked."""
    old = {(u.level, u.code): u for u in units if u.valid_to == REORGANISATION_2025}
    new = {(u.level, u.code): u for u in units if u.valid_from == REORGANISATION_2025}
    merges_src = "admin_units/crosswalk_2025_merges.json.gz"
    splits_src = "admin_units/crosswalk_2025_splits.json.gz"
    by_merges: dict[tuple[str, str, str], str] = {}   # (level, old, new) -> full/partial
    by_splits: set[tuple[str, str, str]] = set()
    names: dict[tuple[str, str, str], str] = {}        # (age, level, code) -> name in crosswalk

    for province in _read_json(base / merges_src)["data"]:
        names[("new", "province", province["level1_id"])] = province["name"]
        for item in province["merges"]:
            by_merges[("province", item["old_id"], province["level1_id"])] = item["type"]
            names[("old", "province", item["old_id"])] = item["name"]
        for commune in province["level2s"]:
            names[("new", "commune", commune["level2_id"])] = commune["name"]
            for item in commune["merges"]:
                by_merges[("commune", item["old_id"], commune["level2_id"])] = item["type"]
                names[("old", "commune", item["old_id"])] = item["name"]
    for province in _read_json(base / splits_src)["data"]:
        for item in province["splits"]:
            by_splits.add(("province", province["level1_id"], item["new_id"]))
        for commune in province["level3s"]:
            for item in commune["splits"]:
                by_splits.add(("commune", commune["level3_id"], item["new_id"]))

    successors: dict[tuple[str, str], set[str]] = defaultdict(set)
    for level, old_code, new_code in set(by_merges) | by_splits:
        successors[(level, old_code)].add(new_code)

    changes: list[ChangeRow] = []
    for level, old_code, new_code in sorted(set(by_merges) | by_splits):
        pair = (level, old_code, new_code)
        where = merges_src if pair in by_merges else splits_src
        value = f"{old_code}→{new_code}"
        missing = [(age, code) for age, code, table in (("old", old_code, old),
                                                         ("new", new_code, new))
                   if (level, code) not in table]
        if missing:
            age, code = missing[0]
            when = "before" if age == "old" else "from"
            issues.append(reasons.UNKNOWN_ADMIN_UNIT.issue(
                field=f"{age}_code", value=value, source=where, level=level, code=code,
                period=f" {when} {REORGANISATION_2025}",
                outcome=f"the crosswalk's pair {value} was not loaded"))
            continue
        stated_full = by_merges.get(pair)
        implied_whole = len(successors[(level, old_code)]) == 1
        whole: bool | None = implied_whole if stated_full is None else stated_full == "full"
        if stated_full is not None and whole != implied_whole:
            whole = None
            issues.append(reasons.CROSSWALK_CONFLICT.issue(
                field="type", value=value, source=merges_src, stated=stated_full,
                old_code=old_code, successors=len(successors[(level, old_code)])))
        if (pair in by_merges) != (pair in by_splits):
            only = "merge" if pair in by_merges else "split"
            issues.append(reasons.CROSSWALK_ONE_SIDED.issue(
                field="pair", value=value, source=where, only=only, level=level))
        for age, code, table in (("old", old_code, old), ("new", new_code, new)):
            stated = names.get((age, level, code))
            if stated:
                listed = table[(level, code)]
                disagreement = _name_disagreement(stated, listed)
                if disagreement is not None:
                    issues.append(disagreement.issue(
                        field="name", value=stated, source=where, what=f"{age} {level} {code}",
                        listed=listed.full_name))
        renamed = name_key(old[(level, old_code)].name) != name_key(new[(level, new_code)].name)
        changes.append(ChangeRow(level, old_code, new_code, whole, pair in by_merges,
                                 pair in by_splits, renamed))

    mapped_old = {(c.level, c.old_code) for c in changes}
    mapped_new = {(c.level, c.new_code) for c in changes}
    for (level, code), unit in sorted(old.items()):
        if level != "district" and (level, code) not in mapped_old:
            issues.append(reasons.UNMAPPED_UNIT.issue(
                field="code", value=code, source="crosswalk", name=unit.full_name, level=level,
                code=code, period=f"in force until {REORGANISATION_2025 - dt.timedelta(days=1)}",
                counterpart="successor", consequence="records that refer to it cannot be "
                "moved to a 2025 unit automatically"))
    for (level, code), unit in sorted(new.items()):
        if (level, code) not in mapped_new:
            issues.append(reasons.UNMAPPED_UNIT.issue(
                field="code", value=code, source="crosswalk", name=unit.full_name, level=level,
                code=code, period=f"in force from {REORGANISATION_2025}",
                counterpart="predecessor", consequence="where it came from is not recorded"))
    return changes


def read_code_lists(base: Path) -> dict[str, list[dict[str, Any]]]:
    """Rows for each code-list table, in load order (referenced tables first)."""
    lists: dict[str, list[dict[str, Any]]] = {}
    for name in ("admin_level", "admin_unit_type", "admin_change_type", "ethnic_group",
                 "land_use_type", "legal_form", "sex", "person_status", "residence_kind",
                 "household_relation", "family_relation", "life_event_type", "api_scope",
                 "enterprise_status", "dependent_unit_kind", "representative_title"):
        lists[name] = _read_csv(base / "code_lists" / f"{name}.csv")
    lists["industry"] = list(_isic_rows(_read_json(base / "code_lists" / "isic4_en.json.gz")))
    vietnamese = _iso_translation("iso3166-1")
    lists["country"] = [
        {"code": c.alpha_2, "alpha_3": c.alpha_3, "numeric": c.numeric, "name_en": c.name,
         "name": _translated(vietnamese, c.name)}
        for c in pycountry.countries
    ]
    vietnamese = _iso_translation("iso4217")
    lists["currency"] = [
        {"code": c.alpha_3, "numeric": getattr(c, "numeric", None), "name_en": c.name,
         "name": _translated(vietnamese, c.name)}
        for c in pycountry.currencies
    ]
    return lists


def _isic_rows(tree: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for section in tree["sections"]:
        code = section["section"].upper()
        yield {"code": code, "depth": 1, "parent_code": None, "name_en": section["description"]}
        for division in section["divisions"]:
            yield {"code": division["division"], "depth": 2, "parent_code": code,
                   "name_en": division["description"]}
            for group in division["groups"]:
                yield {"code": group["group"], "depth": 3, "parent_code": division["division"],
                       "name_en": group["description"]}
                for klass in group["classes"]:
                    yield {"code": klass["class"], "depth": 4, "parent_code": group["group"],
                           "name_en": klass["description"]}


def _iso_translation(domain: str) -> gettext.NullTranslations:
    return gettext.translation(domain, pycountry.LOCALES_DIR, languages=["vi"], fallback=True)


def _translated(translation: gettext.NullTranslations, english: str) -> str | None:
    local = translation.gettext(english)
    return local if local != english else None


# -- stage and merge -------------------------------------------------------------------------


def merge_table(conn: Connection, table: str, key: tuple[str, ...],
                rows: list[dict[str, Any]]) -> tuple[int, int, int]:
    """Upsert rows into ``ref.<table>``; returns (inserted, updated, unchanged)."""
    if not rows:
        return (0, 0, 0)
    columns = tuple(rows[0])
    stage = f"stage_{table}"
    conn.execute(text(f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS "
                      f"SELECT {', '.join(columns)} FROM ref.{table} WITH NO DATA"))
    copy_rows(conn, stage, columns, (tuple(r[c] for c in columns) for r in rows))
    return _upsert(conn, f"ref.{table}", columns, key, f"SELECT {', '.join(columns)} FROM {stage}",
                   len(rows), timed=table not in UNTIMED_TABLES)


def _upsert(conn: Connection, target: str, columns: tuple[str, ...], key: tuple[str, ...],
            select: str, staged: int, params: dict[str, Any] | None = None,
            timed: bool = True) -> tuple[int, int, int]:
    """``checks.upsert`` with the record time touched; (inserted, updated, unchanged)."""
    inserted, updated = upsert(conn, target, columns, key, select, params=params,
                               touch="recorded_at = now()" if timed else "")
    return (inserted, updated, staged - inserted - updated)


def merge_units(conn: Connection, units: list[UnitRow]) -> tuple[int, int, int]:
    columns = ("level", "code", "unit_type", "name", "full_name", "name_en", "parent_level",
               "parent_code", "valid_from", "valid_to", "geojson")
    conn.execute(text("""
        CREATE TEMP TABLE stage_unit (
            level text, code text, unit_type text, name text, full_name text, name_en text,
            parent_level text, parent_code text, valid_from date, valid_to date, geojson text
        ) ON COMMIT DROP"""))
    copy_rows(conn, "stage_unit", columns, (tuple(u.__dict__[c] for c in columns) for u in units))
    totals = [0, 0, 0]
    # Parents first, so each level can look its parent's id up by code and period.
    for level in ("province", "district", "commune"):
        staged = sum(1 for u in units if u.level == level)
        counts = _upsert(
            conn, "ref.admin_unit",
            ("level", "code", "unit_type", "name", "full_name", "name_en", "parent_id",
             "valid_from", "valid_to", "geom"),
            ("level", "code", "valid_from"),
            """SELECT s.level, s.code, s.unit_type, s.name, s.full_name, s.name_en, p.id,
                      s.valid_from, s.valid_to,
                      ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(s.geojson), 4326))
               FROM stage_unit s
               LEFT JOIN ref.admin_unit p
                 ON p.level = s.parent_level AND p.code = s.parent_code
                AND p.valid_from IS NOT DISTINCT FROM s.valid_from
               WHERE s.level = :level""",
            staged, {"level": level},
        )
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
    return (totals[0], totals[1], totals[2])


def invalid_geometries(conn: Connection) -> list[RowIssue]:
    rows = conn.execute(text("""
        SELECT level, code, ST_IsValidReason(geom) FROM ref.admin_unit
        WHERE geom IS NOT NULL AND NOT ST_IsValid(geom)""")).all()
    return [reasons.INVALID_GEOMETRY.issue(field="geom", value=code, source="boundaries",
                                           level=level, code=code, why=why)
            for level, code, why in rows]


def merge_changes(conn: Connection, changes: list[ChangeRow]) -> tuple[int, int, int]:
    columns = ("level", "old_code", "new_code", "whole_unit", "by_merges", "by_splits", "renamed")
    conn.execute(text("""
        CREATE TEMP TABLE stage_change (
            level text, old_code text, new_code text, whole_unit boolean, by_merges boolean,
            by_splits boolean, renamed boolean
        ) ON COMMIT DROP"""))
    copy_rows(conn, "stage_change", columns,
              (tuple(c.__dict__[k] for k in columns) for c in changes))
    params = {"eff": REORGANISATION_2025}
    # Pairs a corrected crosswalk no longer states are withdrawn.
    conn.execute(text("""
        DELETE FROM ref.admin_unit_change c
        USING ref.admin_unit o, ref.admin_unit n
        WHERE c.effective_date = :eff AND o.id = c.old_unit_id AND n.id = c.new_unit_id
          AND NOT EXISTS (SELECT 1 FROM stage_change s WHERE s.level = o.level
                          AND s.old_code = o.code AND s.new_code = n.code)"""), params)
    return _upsert(
        conn, "ref.admin_unit_change",
        ("old_unit_id", "new_unit_id", "change_type", "effective_date", "whole_unit",
         "stated_by_merges", "stated_by_splits"),
        ("old_unit_id", "new_unit_id"),
        """SELECT old_id, new_id,
                  CASE WHEN successors > 1 THEN 'split'
                       WHEN predecessors > 1 THEN 'merge'
                       WHEN old_code <> new_code THEN 'recode'
                       WHEN renamed THEN 'rename'
                       ELSE 'continue' END,
                  CAST(:eff AS date), whole_unit, by_merges, by_splits
           FROM (SELECT o.id AS old_id, n.id AS new_id, s.old_code, s.new_code, s.renamed,
                        s.whole_unit, s.by_merges, s.by_splits,
                        count(*) OVER (PARTITION BY o.id) AS successors,
                        count(*) OVER (PARTITION BY n.id) AS predecessors
                 FROM stage_change s
                 JOIN ref.admin_unit o ON o.level = s.level AND o.code = s.old_code
                                      AND o.valid_to = :eff
                 JOIN ref.admin_unit n ON n.level = s.level AND n.code = s.new_code
                                      AND n.valid_from = :eff) AS pairs""",
        len(changes), params,
    )


# -- the load ------------------------------------------------------------------------------


CODE_LIST_KEYS = {name: ("code",) for name in (
    "admin_level", "admin_unit_type", "admin_change_type", "ethnic_group", "land_use_type",
    "legal_form", "industry", "country", "currency", "sex", "person_status", "residence_kind",
    "household_relation", "family_relation", "life_event_type", "api_scope",
    "enterprise_status", "dependent_unit_kind", "representative_title")}
# Small vocabularies of mdr's own, which carry no record time.
UNTIMED_TABLES = ("admin_level", "admin_unit_type", "admin_change_type")


class ReferenceStage(Stage):
    """The whole reference data set: read and checked in Python, staged and merged in SQL."""

    def __init__(self, conn: Connection, checker: RowChecker, run_id: int, base: Path) -> None:
        super().__init__(conn, checker, None, run_id)
        self.base = base
        self.code_lists: dict[str, list[dict[str, Any]]] = {}
        self.units: list[UnitRow] = []
        self.changes: list[ChangeRow] = []

    def read(self, progress: Progress | None) -> int:
        issues = self.checker.issues
        self.code_lists = read_code_lists(self.base)
        self.units = read_units(self.base, issues)
        self.changes = read_crosswalk(self.base, self.units, issues)
        return sum(map(len, self.code_lists.values())) + len(self.units) + len(self.changes)

    def merge(self) -> tuple[int, int, int]:
        totals = (0, 0, 0)
        merges: list[tuple[str, Callable[[], tuple[int, int, int]]]] = [
            *((name, functools.partial(merge_table, self.conn, name, CODE_LIST_KEYS[name], rows))
              for name, rows in self.code_lists.items()),
            ("admin_unit", functools.partial(merge_units, self.conn, self.units)),
            ("admin_unit_change", functools.partial(merge_changes, self.conn, self.changes)),
        ]
        for name, merge in merges:
            counts = merge()
            self.details[name] = dict(zip(("inserted", "updated", "unchanged"), counts,
                                          strict=True))
            totals = (totals[0] + counts[0], totals[1] + counts[1], totals[2] + counts[2])
        self.checker.issues.extend(invalid_geometries(self.conn))
        return totals


def load_reference(engine: Engine, base: Path = REFERENCE_DIR) -> LoadResult:
    """Load all reference data in one transaction; safe to repeat."""
    return run_load(engine, REGISTRY, str(base),
                    lambda conn, run_id: ReferenceStage(conn, RowChecker(REGISTRY), run_id, base))


def _load(engine: Engine, path: Path, options: Options, progress: Progress | None) -> LoadResult:
    return load_reference(engine, path)


LOADER = RegistryLoader(
    REGISTRY, "the reference data shipped in fixtures/reference",
    _load, default_path=REFERENCE_DIR)


def prepare_database(url: str, settings: Settings) -> LoadResult:
    """Bring a new database at ``url`` (as its administrator) to the migration head and
    load the reference data: ready for the registries' loads."""
    from alembic import command as alembic_command

    from mdr import db

    alembic_command.upgrade(db.alembic_config(url), "head")
    loader = db.make_engine(url, settings, role=db.Role.LOADER)
    try:
        return load_reference(loader)
    finally:
        loader.dispose()
