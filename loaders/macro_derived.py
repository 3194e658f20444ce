"""``mdr macro derive``: indicators computed from the registries, published as a release.

Each derivation is a :class:`Derivation`: a dataflow of mdr's own (agency MDR)
and the SQL that counts its observations for a reference date in one unit set.
Population by province, sex and five-year age group is the first; enterprises
by industry section and province and parcel area by land use and province add
one ``Derivation`` each to :data:`DERIVATIONS` when their registries exist.

The figures are merged like a loaded release (``loaders.macro.merge_release``),
under the same lock and run record, so a re-run for the same date and data
changes nothing and adds no vintage.

Unit sets. ``2025``: the 34 provinces in force since 2025-07-01; ``legacy``: the
63 before. A person's residence on the reference date is a commune of the set
in force that day; when that is the other set, the 2025 crosswalk
(``ref.admin_unit_change``) carries it across. A commune whose counterparts lie
in one province of the other set goes there. A commune split between provinces
needs a choice, and the person's own record makes it where it can: their
residence on the other side of 2025-07-01 (the day before for legacy units, the
day itself for 2025 units) when that is one of the counterparts. Where the record
cannot say (the person moved, or was born, after the change), the person goes to
the counterpart province with the lowest code and the observation is marked E
(estimated), and the summary counts them (``allocated_by_rule``): an area weight
would be no better without legacy boundaries, which mdr does not hold.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from loaders.base import LoadResult, RowChecker, Stage, run_load
from loaders.macro import REGISTRY, ROLES, ensure_dataflow, merge_release
from schemas.macro import OBSERVATION_STATUSES
from schemas.reference import REORGANISATION_2025

AGENCY = "MDR"
UNIT_SETS = ("2025", "legacy")
AGE_GROUPS = [f"Y{a}T{a + 4}" for a in range(0, 100, 5)] + ["Y_GE100"]
TOTAL = "_T"
NATIONAL = "VN"


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
    observations: str
    """SELECT province_code, <one column per dimension after REF_AREA>, value, estimated
    over ``person_province`` (see :func:`_person_provinces`), with :day bound."""


POPULATION = Derivation(
    code="POP_PROV", name="Population by province, sex and five-year age group",
    structure="DSD_POP",
    dimensions=(("FREQ", "CL_FREQ", None), ("REF_AREA", "CL_AREA_VN", "ref.admin_unit"),
                ("SEX", "CL_SEX", "ref.sex"), ("AGE", "CL_AGE_5Y", None)),
    unit="PS",
    observations=f"""
        SELECT coalesce(province_code, '{NATIONAL}'), coalesce(sex, '{TOTAL}'),
               coalesce(age_group, '{TOTAL}'), count(*)::float8, bool_or(estimated)
        FROM person_province
        GROUP BY GROUPING SETS ((province_code, sex, age_group), (province_code), ())""",
)

DERIVATIONS = (POPULATION,)


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
        _person_provinces(self, self.as_of, self.units)
        total = 0
        for derivation in DERIVATIONS:
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
            # A cell that had people and has none now is revised to 0, not left as it was.
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
        self.details = {"as_of": self.as_of.isoformat(), "units": self.units,
                        "observations": total, "allocated_by_rule": int(self.sql(
                            "SELECT count(*) FROM person_province WHERE estimated"
                        ).scalar_one())}
        return total

    def merge(self) -> tuple[int, int, int]:
        return merge_release(self, "derived_obs")


def _person_provinces(stage: Stage, day: dt.date, units: str) -> None:
    """``person_province``: every person living on ``day`` with their province in the
    unit set, sex, five-year age group and whether the province was chosen by rule."""
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
    # The other side of the reorganisation, for a person whose commune is of the other set.
    other_day = REORGANISATION_2025 - dt.timedelta(days=1) if units == "legacy" \
        else REORGANISATION_2025
    forward = units == "2025"
    stage.sql(f"""
        CREATE TEMP TABLE person_province ON COMMIT DROP AS
        WITH living AS (
            SELECT p.national_id, p.sex, r.unit_id,
                   least(date_part('year', age(:day, p.birth_date))::int / 5 * 5, 100) AS age5
            FROM population.person p
            JOIN population.residence r ON r.national_id = p.national_id
             AND r.kind = 'permanent' AND r.superseded_at IS NULL
             AND r.valid_from <= :day AND (r.valid_to IS NULL OR r.valid_to > :day)
            WHERE p.birth_date <= :day AND (p.death_date IS NULL OR p.death_date > :day)),
        placed AS (
            SELECT l.*, up.in_set, up.province_id AS own_province,
                   (SELECT array_agg(DISTINCT cp.province_id ORDER BY cp.province_id)
                    FROM ref.admin_unit_change x
                    JOIN unit_province cp
                      ON cp.unit_id = {'x.new_unit_id' if forward else 'x.old_unit_id'}
                    WHERE {'x.old_unit_id' if forward else 'x.new_unit_id'} = l.unit_id)
                       AS counterparts,
                   (SELECT op.province_id FROM population.residence o
                    JOIN unit_province op ON op.unit_id = o.unit_id
                    WHERE o.national_id = l.national_id AND o.kind = 'permanent'
                      AND o.superseded_at IS NULL AND o.valid_from <= :other
                      AND (o.valid_to IS NULL OR o.valid_to > :other)) AS other_side
            FROM living l JOIN unit_province up ON up.unit_id = l.unit_id)
        SELECT national_id, sex,
               CASE WHEN age5 >= 100 THEN 'Y_GE100' ELSE 'Y' || age5 || 'T' || (age5 + 4) END
                   AS age_group,
               chosen.province_id, pu.code AS province_code,
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
    own_codes = {"CL_FREQ": {"D": "Daily (a stock on the reference date)"},
                 "CL_AREA_VN": {NATIONAL: "Viet Nam (all provinces)"},
                 "CL_SEX": {TOTAL: "Total"},
                 "CL_AGE_5Y": {**{g: g for g in AGE_GROUPS}, TOTAL: "Total"},
                 "CL_OBS_STATUS": OBSERVATION_STATUSES,
                 "CL_UNIT_MEASURE": {"PS": "Persons", "HA": "Hectares", "ENT": "Enterprises"}}
    refs = {cl: ref for _, cl, ref in derivation.dimensions}
    lists: dict[str, int] = {}
    for codelist, codes in own_codes.items():
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
