"""The land registry's quality suite: the loader's geometry rules and LADM's, run as SQL.

"Current" is the registry's current knowledge (``superseded_at IS NULL``) valid
on the run's ``as_of`` day. The tolerances are the loader's (``loaders.land``):
what a load rejects or flags, the suite finds in what is stored, whatever put it
there.

A parcel's province is the province of its commune (the 2025 unit's parent);
parcels of a foreign cadastre, kept with their own commune codes, belong to no
province and count only in the registry's score.
"""

from __future__ import annotations

import datetime as dt

from loaders.land import (
    AREA_TOLERANCE,
    AREA_TOLERANCE_M2,
    OUTSIDE_MAX_SHARE,
    OVERLAP_MIN_AREA_M2,
    OVERLAP_MIN_SHARE,
)
from quality.suites.base import Batch, Rule, Suite, rows_rule, sql_date
from schemas.temporal import current_on

REGISTRY = "land"
PROVINCE_BASIS = ("A parcel's province is the province of the commune it lies in (2025 "
                  "units); a right's is its parcel's.")
HOLDING_RIGHTS = "('land-use-right', 'asset-ownership')"


def batches(as_of: dt.date) -> tuple[Batch, ...]:
    day = sql_date(as_of)
    province = """(SELECT pr.code FROM ref.admin_unit u JOIN ref.admin_unit pr
                     ON pr.id = u.parent_id WHERE u.id = v.unit_id)"""
    return (
        Batch("current_parcel", f"""
            SELECT v.id, v.parcel_id, v.unit_id, v.geom, v.declared_area_m2,
                   {province} AS province_code
            FROM land.parcel_version AS v WHERE {current_on('v', day)}"""),
        Batch("current_right", f"""
            SELECT r.id, r.reference, r.rrr_type, r.parcel_id, r.party_id, r.share,
                   r.mortgaged_reference, r.valid_from,
                   (SELECT {province} FROM land.parcel_version v
                    WHERE v.parcel_id = r.parcel_id AND {current_on('v', day)}) AS province_code
            FROM land.rrr AS r WHERE {current_on('r', day)}"""),
    )


def rules(as_of: dt.date) -> tuple[Rule, ...]:
    day = sql_date(as_of)
    return (
        rows_rule("parcel-geometry-valid", "current_parcel",
                  "A parcel's boundary is a valid polygon; correct the survey or repair it "
                  "(mdr load land --repair).",
                  "SELECT id FROM {batch} WHERE NOT ST_IsValid(geom)"),
        rows_rule("no-overlapping-parcels", "current_parcel",
                  f"Current parcels overlap by at most {OVERLAP_MIN_AREA_M2} m² or "
                  f"{OVERLAP_MIN_SHARE:.0%} of the smaller one; correct a boundary or record "
                  "the split or merge.", f"""
                  SELECT a.parcel_id, b.parcel_id AS other FROM {{batch}} AS a
                  JOIN land.parcel_version AS b
                    ON b.parcel_id <> a.parcel_id AND {current_on('b', day)}
                   AND ST_Intersects(a.geom, b.geom)
                   AND ST_Relate(a.geom, b.geom, 'T********')
                  WHERE ST_Area(ST_Intersection(a.geom, b.geom)::geography)
                        > greatest({OVERLAP_MIN_AREA_M2}, {OVERLAP_MIN_SHARE} * least(
                            ST_Area(a.geom::geography), ST_Area(b.geom::geography)))"""),
        rows_rule("parcel-inside-commune", "current_parcel",
                  f"At most {OUTSIDE_MAX_SHARE:.0%} of a parcel lies outside its commune "
                  "(commune boundaries are simplified); correct the commune or the "
                  "boundary.", f"""
                  SELECT p.id FROM {{batch}} AS p JOIN ref.admin_unit AS u ON u.id = p.unit_id
                  WHERE u.geom IS NOT NULL AND NOT ST_Within(p.geom, u.geom)
                    AND 1 - ST_Area(ST_Intersection(p.geom, u.geom)) / ST_Area(p.geom)
                        > {OUTSIDE_MAX_SHARE}"""),
        rows_rule("area-consistent", "current_parcel",
                  f"The declared area is within {AREA_TOLERANCE:.0%} (or {AREA_TOLERANCE_M2} "
                  "m²) of the boundary's geodesic area; check the certificate or the survey.",
                  f"""
                  SELECT id FROM {{batch}}
                  WHERE abs(declared_area_m2 - ST_Area(geom::geography))
                        > greatest({AREA_TOLERANCE} * ST_Area(geom::geography),
                                   {AREA_TOLERANCE_M2})"""),
        rows_rule("parcel-has-holder", "current_parcel",
                  "Every current parcel has at least one current land-use right or asset "
                  "ownership with a holder; load its certificate.", f"""
                  SELECT p.parcel_id FROM {{batch}} AS p
                  LEFT JOIN land.rrr AS r ON r.parcel_id = p.parcel_id
                   AND r.rrr_type IN {HOLDING_RIGHTS} AND r.party_id IS NOT NULL
                   AND {current_on('r', day)}
                  WHERE r.id IS NULL"""),
        rows_rule("shares-sum-to-one", "current_parcel",
                  "The current land-use rights of a parcel share it whole, and so do the "
                  "members of a group holding one (their shares add up to 1); correct the "
                  "shares or end the right that was transferred.", f"""
                  SELECT p.parcel_id FROM {{batch}} AS p
                  JOIN land.rrr AS r ON r.parcel_id = p.parcel_id
                   AND r.rrr_type = 'land-use-right' AND {current_on('r', day)}
                  GROUP BY p.parcel_id
                  HAVING abs(sum(coalesce(r.share, 1)) - 1) > 0.0001
                     OR bool_or(EXISTS (SELECT 1 FROM land.party_member AS m
                                        WHERE m.group_id = r.party_id
                                        GROUP BY m.group_id
                                        HAVING abs(sum(m.share) - 1) > 0.0001))"""),
        rows_rule("mortgage-on-a-right", "current_right",
                  "A current mortgage burdens a current land-use right or asset ownership of "
                  "the same parcel; end the mortgage or record the right.", f"""
                  SELECT m.id FROM {{batch}} AS m
                  LEFT JOIN land.rrr AS r ON r.reference = m.mortgaged_reference
                   AND r.parcel_id = m.parcel_id AND r.rrr_type IN {HOLDING_RIGHTS}
                   AND {current_on('r', day)}
                  WHERE m.rrr_type = 'mortgage' AND r.id IS NULL"""),
        rows_rule("holder-alive-at-start", "current_right",
                  "A person holding a right (alone or in a group) was born, and not dead, "
                  "on the day the right began, and an enterprise holding one was founded "
                  "and had not ended; correct the holder or the date.", """
                  SELECT r.id FROM {batch} AS r
                  JOIN land.party AS h ON h.id = r.party_id
                  LEFT JOIN land.party_member AS m ON m.group_id = h.id
                  LEFT JOIN land.party AS x ON x.id = m.member_id
                  JOIN population.person AS p
                    ON p.national_id = coalesce(h.national_id, x.national_id)
                  WHERE p.birth_date > r.valid_from OR p.death_date <= r.valid_from
                  UNION
                  SELECT r.id FROM {batch} AS r
                  JOIN land.party AS h ON h.id = r.party_id
                  JOIN enterprise.enterprise AS e ON e.code = h.enterprise_code
                  WHERE e.founding_date > r.valid_from OR EXISTS (
                      SELECT 1 FROM enterprise.enterprise_status AS st
                      JOIN ref.enterprise_status AS k ON k.code = st.status AND k.final
                      WHERE st.enterprise_code = e.code AND st.superseded_at IS NULL
                        AND st.valid_from <= r.valid_from)"""),
    )


def provinces_query() -> str:
    """The provinces parcels lie in, with their names."""
    return """
        SELECT DISTINCT pr.code, pr.full_name AS name
        FROM land.parcel_version v
        JOIN ref.admin_unit u ON u.id = v.unit_id
        JOIN ref.admin_unit pr ON pr.id = u.parent_id
        WHERE v.superseded_at IS NULL
        ORDER BY pr.code"""


def suite(as_of: dt.date) -> Suite:
    """The land suite for a run that takes ``as_of`` as today."""
    return Suite(REGISTRY, batches(as_of), rules(as_of), provinces_query(), PROVINCE_BASIS)
