"""``mdr macro derive``: indicators computed from the registries, published as a release.

Each derivation is a :class:`Derivation`: a dataflow of mdr's own (agency MDR),
what it counts (:class:`Subjects`: persons, enterprises, parcels, each standing
in a commune on the reference date) and the SQL that aggregates them by province
in one unit set. :data:`DERIVATIONS` holds population by province, sex and
five-year age group; active enterprises by industry section (ISIC/VSIC section
of the main business line) and province of the head office; parcel area
(geodesic, in hectares) by land use and province.

The figures are merged like a loaded release (``loaders.macro.merge_release``),
under the same lock and run record, so a re-run for the same date and data
changes nothing and adds no vintage.

Unit sets. ``2025``: the 34 provinces in force since 2025-07-01; ``legacy``: the
63 before. A person's residence on the reference date is a commune of the set
in force that day; when that is the other set, the 2025 crosswalk
(``ref.admin_unit_change``) carries it across; the same holds for a head office
or a parcel recorded in a commune of the other set. A commune whose counterparts
lie in one province of the other set goes there. A commune split between
provinces needs a choice, and the subject's own record makes it where it can:
its commune on the other side of 2025-07-01 (the day before for legacy units,
the day itself for 2025 units) when that is one of the counterparts. Where the
record cannot say (the person moved, or was born, after the change; the parcel
was surveyed after it), the subject goes to the counterpart province with the
lowest code and the observation is marked E (estimated), and the summary counts
them (``allocated_by_rule``, per derivation): an area weight would be no better
without legacy boundaries, which mdr does not hold.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from loaders.base import LoadResult, RowChecker, Stage, run_load
from loaders.macro import REGISTRY, ROLES, STAGE_TABLES, ensure_dataflow, merge_release
from schemas.macro import OBSERVATION_STATUSES
from schemas.reference import REORGANISATION_2025
from schemas.temporal import current_on

AGENCY = "MDR"
UNIT_SETS = ("2025", "legacy")
AGE_GROUPS = [f"Y{a}T{a + 4}" for a in range(0, 100, 5)] + ["Y_GE100"]
TOTAL = "_T"
UNKNOWN = "_U"
NATIONAL = "VN"
COMMON_CODES = {"CL_FREQ": {"D": "Daily (a stock on the reference date)"},
                "CL_AREA_VN": {NATIONAL: "Viet Nam (all provinces)"},
                "CL_OBS_STATUS": OBSERVATION_STATUSES,
                "CL_UNIT_MEASURE": {"PS": "Persons", "HA": "Hectares", "ENT": "Enterprises"}}
"""Codes every derived flow's code lists hold (SDMX cross-domain ones and mdr's own)."""


@dataclass(frozen=True)
class Subjects:
    """What a derivation counts: each one standing in a commune on the reference date."""

    table: str
    """Name of the temporary table of the subjects with their province."""
    rows: str
    """SELECT subject, unit_id, <what the derivation groups or sums> for ``:day``;
    unit_id is the commune as recorded (of the unit set in force when recorded)."""
    unit_on: str
    """SQL: the commune of subject ``l.subject`` on ``:other`` (or NULL), the record's own
    answer to a split commune across the reorganisation."""


@dataclass(frozen=True)
class Derivation:
    """One derived dataflow per unit set, computed by ``observations``."""

    code: str
    """Dataflow id stem; the unit set is appended (POP_PROV_2025, POP_PROV_LEGACY)."""
    name: str
    structure: str
    dimensions: tuple[tuple[str, str, str | None], ...]
    """(dimension id, code list id, ref table it re-uses or None), in key order."""
    unit: str
    """UNIT_MEASURE of every series."""
    subjects: Subjects
    observations: str
    """SELECT province_code (NULL: national), <one column per dimension after REF_AREA,
    NULL: total>, value, estimated over the subjects' table, with :day bound: every cell,
    every province's total, every national cell and the national total."""
    codes: dict[str, dict[str, str]]
    """Codes of its own code lists beyond :data:`COMMON_CODES` (totals, unknown)."""


AREA = (("FREQ", "CL_FREQ", None), ("REF_AREA", "CL_AREA_VN", "ref.admin_unit"))
"""The dimensions every derived flow begins with: a stock on a day, in an area."""


def by_province_and(table: str, groups: tuple[str, ...], value: str) -> str:
    """The observations of subjects placed in ``table``: ``value`` for every cell of
    province and ``groups``, every province's total, every national cell and the national
    total (a NULL group is its total, _T; a NULL province the nation, VN)."""
    cells = ", ".join(f"coalesce({g}, '{TOTAL}')" for g in groups)
    listed = ", ".join(groups)
    return f"""
        SELECT coalesce(province_code, '{NATIONAL}'), {cells}, {value}, bool_or(estimated)
        FROM {table}
        GROUP BY GROUPING SETS ((province_code, {listed}), (province_code), ({listed}), ())"""


PERSONS = Subjects(
    table="person_province",
    rows=f"""
        SELECT p.national_id AS subject, r.unit_id, p.sex,
               CASE WHEN date_part('year', age(:day, p.birth_date)) >= 100 THEN 'Y_GE100'
                    ELSE 'Y' || date_part('year', age(:day, p.birth_date))::int / 5 * 5
                         || 'T' || date_part('year', age(:day, p.birth_date))::int / 5 * 5 + 4
               END AS age_group
        FROM population.person p
        JOIN population.residence r ON r.national_id = p.national_id
         AND r.kind = 'permanent' AND {current_on('r', ':day')}
        WHERE p.birth_date <= :day AND (p.death_date IS NULL OR p.death_date > :day)""",
    unit_on=f"""SELECT o.unit_id FROM population.residence o WHERE o.national_id = l.subject
                AND o.kind = 'permanent' AND {current_on('o', ':other')}""")

POPULATION = Derivation(
    code="POP_PROV", name="Population by province, sex and five-year age group",
    structure="DSD_POP",
    dimensions=(*AREA, ("SEX", "CL_SEX", "ref.sex"), ("AGE", "CL_AGE_5Y", None)),
    unit="PS",
    subjects=PERSONS,
    observations=by_province_and(PERSONS.table, ("sex", "age_group"), "count(*)::float8"),
    codes={"CL_SEX": {TOTAL: "Total"},
           "CL_AGE_5Y": {**{g: g for g in AGE_GROUPS}, TOTAL: "Total"}},
)

ENTERPRISES = Subjects(
    table="enterprise_province",
    # Active on the day, at its head office that day, in the ISIC section of its main
    # business line then (VSIC follows ISIC down to classes; the section is the root).
    rows=f"""
        WITH RECURSIVE up AS (
            SELECT code, code AS ancestor, parent_code FROM ref.industry
            UNION ALL
            SELECT up.code, i.code, i.parent_code FROM up JOIN ref.industry i
              ON i.code = up.parent_code)
        SELECT e.code AS subject, h.unit_id, coalesce(sec.ancestor, '{UNKNOWN}') AS section
        FROM enterprise.enterprise e
        JOIN enterprise.enterprise_status s ON s.enterprise_code = e.code
         AND s.status = 'active' AND {current_on('s', ':day')}
        JOIN enterprise.head_office h ON h.enterprise_code = e.code
         AND {current_on('h', ':day')}
        LEFT JOIN enterprise.business_line b ON b.enterprise_code = e.code AND b.is_main
         AND {current_on('b', ':day')}
        LEFT JOIN up sec ON sec.code = b.industry_code AND sec.parent_code IS NULL""",
    unit_on=f"""SELECT o.unit_id FROM enterprise.head_office o
                WHERE o.enterprise_code = l.subject AND {current_on('o', ':other')}""")

ACTIVE_ENTERPRISES = Derivation(
    code="ENT_PROV", name="Active enterprises by industry section and province",
    structure="DSD_ENT",
    dimensions=(*AREA, ("ACTIVITY", "CL_ACTIVITY", "ref.industry")),
    unit="ENT",
    subjects=ENTERPRISES,
    observations=by_province_and(ENTERPRISES.table, ("section",), "count(*)::float8"),
    codes={"CL_ACTIVITY": {TOTAL: "Total", UNKNOWN: "No main business line recorded"}},
)

PARCELS = Subjects(
    table="parcel_province",
    # Parcels of a foreign cadastre (no commune of mdr's) are no province's.
    rows=f"""
        SELECT v.parcel_id AS subject, v.unit_id,
               coalesce(v.land_use, '{UNKNOWN}') AS land_use,
               ST_Area(v.geom::geography)::numeric AS area_m2
        FROM land.parcel_version v
        WHERE {current_on('v', ':day')} AND v.unit_id IS NOT NULL""",
    unit_on=f"""SELECT o.unit_id FROM land.parcel_version o
                WHERE o.parcel_id = l.subject AND {current_on('o', ':other')}""")

PARCEL_AREA = Derivation(
    code="LAND_PROV", name="Parcel area by land use and province (geodesic, hectares)",
    structure="DSD_LAND",
    dimensions=(*AREA, ("LAND_USE", "CL_LAND_USE", "ref.land_use_type")),
    unit="HA",
    subjects=PARCELS,
    # Summed exactly and rounded to the square metre, so the same parcels give the same
    # figure whatever order the sum runs in (a re-run must not look like a revision).
    observations=by_province_and(PARCELS.table, ("land_use",),
                                 "round(coalesce(sum(area_m2), 0) / 10000, 4)::float8"),
    codes={"CL_LAND_USE": {TOTAL: "Total", UNKNOWN: "Land use not recorded"}},
)

DERIVATIONS = (POPULATION, ACTIVE_ENTERPRISES, PARCEL_AREA)


def flow_code(derivation: Derivation, units: str) -> str:
    return f"{derivation.code}_{units.upper()}"


class DeriveStage(Stage):
    """Counts the derived observations into staging, then merges them as a release."""

    def __init__(self, conn: Connection, checker: RowChecker, run_id: int, as_of: dt.date,
                 units: str, release_date: dt.date) -> None:
        super().__init__(conn, checker, None, run_id)
        self.as_of, self.units, self.release_date = as_of, units, release_date

    def read(self, progress: Any) -> int:
        self.sql("""CREATE TEMP TABLE derived_obs (
                        row_number int, dataflow_id int, series_key text, dimensions jsonb,
                        series_attributes jsonb, period text, period_start date,
                        value float8, status text, attributes jsonb, release_date date
                    ) ON COMMIT DROP""")
        _unit_provinces(self, self.units)
        total = 0
        allocated: dict[str, int] = {}
        for derivation in DERIVATIONS:
            _place(self, derivation.subjects, self.as_of, self.units)
            flow_id = ensure_structure(self.conn, derivation, self.units)
            dims = [d for d, _, _ in derivation.dimensions if d not in ("FREQ", "REF_AREA")]
            names = ", ".join(["area", *dims, "value", "estimated"])
            keys = " || '.' || ".join(["'D'", "area", *dims])
            objects = ", ".join(["'REF_AREA', area", *(f"'{d}', {d}" for d in dims)])
            total += self.sql(f"""
                INSERT INTO derived_obs
                SELECT row_number() OVER (), CAST(:flow AS int), {keys},
                       jsonb_build_object('FREQ', 'D', {objects}),
                       jsonb_build_object('UNIT_MEASURE', CAST(:unit AS text)), :period,
                       :day, value,
                       CASE WHEN estimated THEN 'E' ELSE 'A' END, '{{}}'::jsonb, :released
                FROM ({derivation.observations}) AS d({names})""",
                flow=flow_id, unit=derivation.unit, period=self.as_of.isoformat(),
                day=self.as_of, released=self.release_date).rowcount
            # A cell that had subjects and has none now is revised to 0, not left as it was.
            self.sql("""
                INSERT INTO derived_obs
                SELECT 0, s.dataflow_id, s.series_key, s.dimensions, s.attributes, :period,
                       :day, 0, 'A', '{}'::jsonb, :released
                FROM macro.series s
                WHERE s.dataflow_id = :flow
                  AND EXISTS (SELECT 1 FROM macro.observation o
                              WHERE o.series_id = s.id AND o.period = :period)
                  AND NOT EXISTS (SELECT 1 FROM derived_obs d WHERE d.dataflow_id = :flow
                                    AND d.series_key = s.series_key)""",
                     flow=flow_id, period=self.as_of.isoformat(), day=self.as_of,
                     released=self.release_date)
            allocated[derivation.code] = int(self.sql(
                f"SELECT count(*) FROM {derivation.subjects.table} WHERE estimated"
            ).scalar_one())
        self.details = {"as_of": self.as_of.isoformat(), "units": self.units,
                        "observations": total,
                        "allocated_by_rule": allocated[POPULATION.code],
                        "allocated_by_rule_by_flow": allocated}
        return total

    def merge(self) -> tuple[int, int, int]:
        # Staged as a loaded message is (loaders.macro.STAGE_TABLES): every derived row is
        # a series of its own, so each is its own signature.
        for statement in STAGE_TABLES.format(sigs="derived_sig", obs="derived_lean").split(";"):
            self.sql(statement)
        self.sql("""CREATE TEMP TABLE derived_numbered ON COMMIT DROP AS
                    SELECT row_number() OVER () AS sig, * FROM derived_obs""")
        self.sql("""INSERT INTO derived_sig
                    SELECT sig, dataflow_id, series_key, dimensions::text,
                           series_attributes::text, status, attributes
                    FROM derived_numbered""")
        self.sql("""INSERT INTO derived_lean
                    SELECT row_number, dataflow_id, sig, period, period_start, value,
                           release_date
                    FROM derived_numbered""")
        return merge_release(self, "derived_lean", "derived_sig")


def _unit_provinces(stage: Stage, units: str) -> None:
    """``unit_province``: every commune with its province and whether it is of ``units``."""
    # The provinces of each unit set: 2025 units begin on the reorganisation day, legacy
    # units end on it.
    in_set = "u.valid_from = :reorg" if units == "2025" else "u.valid_to = :reorg"
    stage.sql(f"""
        CREATE TEMP TABLE unit_province ON COMMIT DROP AS
        SELECT c.id AS unit_id, coalesce(d.parent_id, d.id) AS province_id,
               (SELECT count(*) > 0 FROM ref.admin_unit u WHERE u.id = c.id AND {in_set})
                   AS in_set
        FROM ref.admin_unit c JOIN ref.admin_unit d ON d.id = c.parent_id
        WHERE c.level = 'commune'""", reorg=REORGANISATION_2025)
    stage.sql("CREATE INDEX ON unit_province (unit_id)")


def _place(stage: Stage, subjects: Subjects, day: dt.date, units: str) -> None:
    """``subjects.table``: every subject standing on ``day`` with its columns, its province
    in the unit set (``province_id``, ``province_code``) and whether the province was
    chosen by rule (``estimated``)."""
    # The other side of the reorganisation, for a subject whose commune is of the other set.
    other_day = REORGANISATION_2025 - dt.timedelta(days=1) if units == "legacy" \
        else REORGANISATION_2025
    forward = units == "2025"
    stage.sql(f"""
        CREATE TEMP TABLE {subjects.table} ON COMMIT DROP AS
        WITH standing AS ({subjects.rows}),
        placed AS (
            SELECT l.*, up.in_set, up.province_id AS own_province,
                   (SELECT array_agg(DISTINCT cp.province_id ORDER BY cp.province_id)
                    FROM ref.admin_unit_change x
                    JOIN unit_province cp
                      ON cp.unit_id = {'x.new_unit_id' if forward else 'x.old_unit_id'}
                    WHERE {'x.old_unit_id' if forward else 'x.new_unit_id'} = l.unit_id)
                       AS counterparts,
                   (SELECT op.province_id FROM unit_province op
                    WHERE op.unit_id = ({subjects.unit_on})) AS other_side
            FROM standing l JOIN unit_province up ON up.unit_id = l.unit_id)
        SELECT placed.*, chosen.province_id, pu.code AS province_code,
               NOT in_set AND cardinality(counterparts) > 1
                   AND NOT (other_side = ANY (counterparts)) IS TRUE AS estimated
        FROM placed
        CROSS JOIN LATERAL (SELECT CASE
            WHEN in_set THEN own_province
            WHEN cardinality(counterparts) = 1 THEN counterparts[1]
            WHEN other_side = ANY (counterparts) THEN other_side
            ELSE counterparts[1] END AS province_id) chosen
        JOIN ref.admin_unit pu ON pu.id = chosen.province_id""",
              day=day, other=other_day)


def ensure_structure(conn: Connection, derivation: Derivation, units: str) -> int:
    """The derivation's structure, code lists and dataflow for ``units``; its id."""
    def sql(statement: str, **params: Any) -> Any:
        return conn.execute(text(statement), params)

    sql("INSERT INTO macro.agency (code, name) VALUES (:a, 'mdr, from the registries') "
        "ON CONFLICT DO NOTHING", a=AGENCY)
    refs = {cl: ref for _, cl, ref in derivation.dimensions}
    lists: dict[str, int] = {}
    for codelist, codes in {**COMMON_CODES, **derivation.codes}.items():
        sql("""INSERT INTO macro.codelist (agency, code, version, name, ref_table)
               VALUES (:a, :c, '1.0', :n, :r) ON CONFLICT DO NOTHING""",
            a=AGENCY, c=codelist, n=codelist, r=refs.get(codelist))
        lists[codelist] = int(sql("SELECT id FROM macro.codelist WHERE agency = :a AND "
                                  "code = :c AND version = '1.0'", a=AGENCY,
                                  c=codelist).scalar_one())
        for code, name in codes.items():
            sql("INSERT INTO macro.code (codelist_id, code, name) VALUES (:l, :c, :n) "
                "ON CONFLICT DO NOTHING", l=lists[codelist], c=code, n=name)
    structure = sql("SELECT id FROM macro.data_structure WHERE agency = :a AND code = :c",
                    a=AGENCY, c=derivation.structure).scalar()
    if structure is None:
        structure = sql("""INSERT INTO macro.data_structure (agency, code, version, name)
                           VALUES (:a, :c, '1.0', :n) RETURNING id""",
                        a=AGENCY, c=derivation.structure, n=derivation.name).scalar_one()
        for position, (dim, codelist, _) in enumerate(derivation.dimensions, start=1):
            sql("""INSERT INTO macro.dimension (structure_id, code, position, codelist_id, role)
                   VALUES (:s, :d, :p, :l, :r)""", s=structure, d=dim, p=position,
                l=lists[codelist], r=ROLES.get(dim))
        for attribute, codelist, attached in (("UNIT_MEASURE", "CL_UNIT_MEASURE", "series"),
                                              ("OBS_STATUS", "CL_OBS_STATUS", "observation")):
            sql("""INSERT INTO macro.attribute (structure_id, code, codelist_id, attached_to,
                                                mandatory)
                   VALUES (:s, :c, :l, :t, true)""", s=structure, c=attribute,
                l=lists[codelist], t=attached)
    label = "the 34 provinces since 2025-07-01" if units == "2025" \
        else "the 63 provinces before 2025-07-01"
    return ensure_dataflow(conn, AGENCY, flow_code(derivation, units), "1.0",
                           f"{derivation.name} ({label})", int(structure))


def derive(engine: Engine, as_of: dt.date, units: str = "2025",
           release_date: dt.date | None = None) -> LoadResult:
    """Compute every derivation for ``as_of`` in ``units`` and publish it as a release
    dated ``release_date`` (default today); nothing new when nothing changed."""
    if units not in UNIT_SETS:
        raise ValueError(f"Unit set {units!r} is not one of {', '.join(UNIT_SETS)}.")
    released = release_date or dt.date.today()

    def make_stage(conn: Connection, run_id: int) -> Stage:
        return DeriveStage(conn, RowChecker("derive"), run_id, as_of, units, released)

    return run_load(engine, REGISTRY, f"derive {as_of} ({units} units)", make_stage,
                    details={"kind": "derived"})
