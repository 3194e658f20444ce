"""The macro-economy registry's quality suite: Great Expectations rules run as SQL.

Most rules look at the latest vintage of every period (``latest``): periods
complete between a series' first and last, series still present in their
flow's latest period, provinces summing to the national figure, a province's
cells summing to its total, and the derived population, active enterprises and
parcel area equal to what their registries hold. Two look at the vintages
themselves: a release never dated after today, and a stored revision that
really changes something (a release repeating a value is noise, and an
overwritten value would leave no second row at all).

``province_code`` is the series' REF_AREA (NULL where it has none), so each
province of 2025 a series is about is scored on its own: its periods, its cells
against its total, its derived figures against the registries. Provinces summing
to the national figure is a rule of the national rows, scored for the registry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from great_expectations.expectations.core.expect_column_values_to_be_between import (
    ExpectColumnValuesToBeBetween,
)

from quality.suites.base import Batch, Rule, Suite, rows_rule, rule, sql_date
from schemas.reference import REORGANISATION_2025
from schemas.temporal import current_on, in_force

REGISTRY = "macro"
NATIONAL = "VN"
TOLERANCE = 0.001
"""Provinces may differ from the national figure by this share (rounding), or by 0.5."""
TOTAL = "_T"
PROVINCE_BASIS = ("A series' province is its reference area (REF_AREA), scored for the "
                  "provinces of 2025; national series count only in the registry's score.")
AREA_TOLERANCE_HA = 0.001
"""Derived parcel area is rounded to the square metre per cell; a hectare's thousandth
covers the rounding of a province total."""

_OBSERVATION = """
    SELECT f.agency || ':' || f.code AS dataflow, f.code AS flow_code, s.series_key,
           s.dimensions, o.period, o.period_start, o.value, o.status, o.attributes,
           r.release_date, s.dimensions ->> 'REF_AREA' AS province_code"""
_FROM = """
    FROM macro.observation o JOIN macro.release r ON r.id = o.release_id
    JOIN macro.series s ON s.id = o.series_id JOIN macro.dataflow f ON f.id = s.dataflow_id"""


def batches() -> tuple[Batch, ...]:
    return (
        Batch("latest", f"""{_OBSERVATION}
            FROM (SELECT DISTINCT ON (o.series_id, o.period) o.*, r.release_date AS released
                  FROM macro.observation o JOIN macro.release r ON r.id = o.release_id
                  ORDER BY o.series_id, o.period, r.release_date DESC) o
            JOIN macro.release r ON r.id = o.release_id
            JOIN macro.series s ON s.id = o.series_id
            JOIN macro.dataflow f ON f.id = s.dataflow_id"""),
        Batch("vintage", f"""{_OBSERVATION},
                   lag(o.value) OVER w AS previous_value, lag(o.status) OVER w AS previous_status,
                   lag(o.attributes) OVER w AS previous_attributes,
                   row_number() OVER w AS vintage_number
            {_FROM}
            WINDOW w AS (PARTITION BY o.series_id, o.period ORDER BY r.release_date)"""),
        Batch("release", """
            SELECT r.id, r.release_date, NULL::text AS province_code FROM macro.release r"""),
    )


_MONTHS = ("((date_part('year', max(period_start)) - date_part('year', min(period_start))) * 12"
           " + date_part('month', max(period_start)) - date_part('month', min(period_start)))")


def rules(as_of: dt.date) -> tuple[Rule, ...]:
    """Every macro rule, fresh for one run on ``as_of``."""
    return (
        rows_rule(
            "periods-complete", "latest",
            "A yearly, quarterly or monthly series has a value for every period between its "
            "first and its last; load the missing periods (status M where there is no value).",
            f"""
            SELECT dataflow, series_key FROM {{batch}}
            WHERE dimensions ->> 'FREQ' IN ('A', 'Q', 'M')
            GROUP BY dataflow, series_key, dimensions ->> 'FREQ'
            HAVING count(DISTINCT period) <> CASE dimensions ->> 'FREQ'
                WHEN 'A' THEN {_MONTHS} / 12 + 1 WHEN 'Q' THEN {_MONTHS} / 3 + 1
                ELSE {_MONTHS} + 1 END"""),
        rows_rule(
            "series-in-latest-period", "latest",
            "A series with a value in its flow's second-latest period has one in the latest "
            "(of the same frequency); publish the missing series or a value of 0 / status M.",
            """
            SELECT l.dataflow, l.series_key FROM {batch} AS l
            JOIN (SELECT b.dataflow, b.dimensions ->> 'FREQ' AS freq,
                         (array_agg(DISTINCT b.period_start ORDER BY b.period_start DESC))[1]
                             AS last_start,
                         (array_agg(DISTINCT b.period_start ORDER BY b.period_start DESC))[2]
                             AS previous_start
                  FROM {batch} AS b GROUP BY 1, 2) AS p
              ON p.dataflow = l.dataflow AND p.freq IS NOT DISTINCT FROM l.dimensions ->> 'FREQ'
            WHERE l.period_start = p.previous_start
              AND NOT EXISTS (SELECT 1 FROM macro.observation o
                              JOIN macro.series s ON s.id = o.series_id
                              JOIN macro.dataflow f ON f.id = s.dataflow_id
                              WHERE f.agency || ':' || f.code = l.dataflow
                                AND s.series_key = l.series_key
                                AND o.period_start = p.last_start)"""),
        rows_rule(
            "provinces-sum-to-national", "latest",
            f"The provinces of a series add up to its national figure ({NATIONAL}) within "
            f"{TOLERANCE:.1%}; correct the provincial or the national value in a new "
            "release.", f"""
            SELECT n.dataflow, n.series_key, n.period, n.value, p.total FROM {{batch}} AS n
            JOIN (SELECT b.dataflow, b.period, b.dimensions - 'REF_AREA' AS rest,
                         sum(b.value) AS total
                  FROM {{batch}} AS b WHERE b.dimensions ->> 'REF_AREA' <> '{NATIONAL}'
                  GROUP BY 1, 2, 3) AS p
              ON p.dataflow = n.dataflow AND p.period = n.period
             AND p.rest = n.dimensions - 'REF_AREA'
            WHERE n.dimensions ->> 'REF_AREA' = '{NATIONAL}'
              AND abs(p.total - n.value) > greatest(0.5, {TOLERANCE} * abs(n.value))"""),
        rows_rule(
            "province-cells-sum-to-total", "latest",
            f"The cells of an area (its series whose other dimensions are not totals) add up "
            f"to its total ({TOTAL} in every other dimension) within {TOLERANCE:.1%}; "
            "correct the cells or the total in a new release.", f"""
            SELECT t.dataflow, t.series_key, t.period, t.value, c.total FROM {{batch}} AS t
            JOIN (SELECT b.dataflow, b.period, b.dimensions ->> 'REF_AREA' AS area,
                         sum(b.value) AS total
                  FROM {{batch}} AS b
                  WHERE NOT EXISTS (SELECT 1 FROM jsonb_each_text({_OTHER_DIMS.format('b')}) e
                                    WHERE e.value = '{TOTAL}')
                  GROUP BY 1, 2, 3) AS c
              ON c.dataflow = t.dataflow AND c.period = t.period
             AND c.area IS NOT DISTINCT FROM t.dimensions ->> 'REF_AREA'
            WHERE EXISTS (SELECT 1 FROM jsonb_each_text({_OTHER_DIMS.format('t')}))
              AND NOT EXISTS (SELECT 1 FROM jsonb_each_text({_OTHER_DIMS.format('t')}) e
                              WHERE e.value <> '{TOTAL}')
              AND abs(c.total - t.value) > greatest(0.5, {TOLERANCE} * abs(t.value))"""),
        derived_matches(
            "derived-population-matches-registry", "POP_PROV_2025",
            "The derived population of a 2025 province equals the persons the population "
            "registry has living there on the reference date",
            lambda day: f"""
                SELECT r.unit_id, 1 AS weight FROM population.person p
                JOIN population.residence r ON r.national_id = p.national_id
                 AND r.kind = 'permanent' AND {current_on('r', day)}
                WHERE p.birth_date <= {day}
                  AND (p.death_date IS NULL OR p.death_date > {day})""", tolerance=0),
        derived_matches(
            "derived-enterprises-match-registry", "ENT_PROV_2025",
            "The derived count of active enterprises of a 2025 province equals the "
            "enterprises the enterprise registry has active with their head office there "
            "on the reference date",
            lambda day: f"""
                SELECT h.unit_id, 1 AS weight FROM enterprise.enterprise_status s
                JOIN enterprise.head_office h ON h.enterprise_code = s.enterprise_code
                 AND {current_on('h', day)}
                WHERE s.status = 'active' AND {current_on('s', day)}""", tolerance=0),
        derived_matches(
            "derived-land-area-matches-registry", "LAND_PROV_2025",
            "The derived parcel area of a 2025 province equals the geodesic area of the "
            "current parcels the land registry has there on the reference date",
            lambda day: f"""
                SELECT v.unit_id, ST_Area(v.geom::geography) / 10000 AS weight
                FROM land.parcel_version v
                WHERE v.unit_id IS NOT NULL AND {current_on('v', day)}""",
            tolerance=AREA_TOLERANCE_HA),
        rows_rule(
            "revision-changes-something", "vintage",
            "A later vintage of a period is stored only when it changes the value, status or "
            "attributes; a repeated value is not a revision (find the load that stored it).",
            """
            SELECT dataflow, series_key, period, release_date FROM {batch}
            WHERE vintage_number > 1
              AND (value, status, attributes)
                  IS NOT DISTINCT FROM (previous_value, previous_status, previous_attributes)"""),
        rule("release-not-in-future", "release",
               "No release is dated after today; correct the release date of the load.",
               ExpectColumnValuesToBeBetween, column="release_date", max_value=as_of),
    )


_OTHER_DIMS = "{0}.dimensions - 'REF_AREA' - 'FREQ'"
"""The dimensions of a batch row (alias in braces) other than its area and frequency."""


def provinces_2025(unit: str) -> str:
    """SQL array: the codes of the 2025 provinces the commune ``unit`` (an admin_unit
    alias) lies in: its own for a 2025 commune, its successors' for an earlier one (more
    than one when it was split between provinces)."""
    reorganised = sql_date(REORGANISATION_2025)
    return f"""array(
        SELECT DISTINCT pu.code FROM ref.admin_unit pu
        WHERE pu.level = 'province' AND pu.valid_from = {reorganised}
          AND pu.id IN (SELECT {unit}.parent_id WHERE {unit}.valid_from = {reorganised}
                        UNION ALL
                        SELECT nc.parent_id FROM ref.admin_unit_change ch
                        JOIN ref.admin_unit nc ON nc.id = ch.new_unit_id
                        WHERE ch.old_unit_id = {unit}.id))"""


def derived_matches(name: str, flow: str, demand: str, subjects: Callable[[str], str], *,
                    tolerance: float) -> Rule:
    """A derived flow's province totals against the registry it is derived from.

    ``subjects(day)`` selects (unit_id, weight) of the subjects standing on ``day`` (SQL),
    the observation's reference date. A subject in a commune split between provinces
    may count in any of them, so a total passes between the sure subjects' weight and
    that plus the uncertain ones'.
    """
    query = subjects("d.period_start")
    reorganised = sql_date(REORGANISATION_2025)
    return rows_rule(
        name, "latest",
        f"{demand} (a subject still recorded in a pre-2025 commune counts in its "
        "successors' province; one split between provinces may count in either); re-run "
        "`mdr macro derive` for that date.", f"""
        SELECT o.series_key, o.period, o.value, c.sure, c.maybe FROM {{batch}} AS o
        LEFT JOIN (
            SELECT d.period_start, p.code,
                   coalesce(sum(x.weight) FILTER (WHERE x.n = 1), 0) AS sure,
                   coalesce(sum(x.weight) FILTER (WHERE x.n > 1), 0) AS maybe
            FROM (SELECT DISTINCT b.period_start FROM {{batch}} AS b
                  WHERE b.flow_code = '{flow}') AS d
            CROSS JOIN LATERAL (
                SELECT s.weight, cardinality(k.codes) AS n, k.codes
                FROM ({query}) AS s
                JOIN ref.admin_unit cu ON cu.id = s.unit_id
                CROSS JOIN LATERAL (SELECT {provinces_2025('cu')} AS codes) AS k) AS x
            CROSS JOIN LATERAL unnest(x.codes) AS p(code)
            GROUP BY 1, 2) AS c
          ON c.period_start = o.period_start AND c.code = o.dimensions ->> 'REF_AREA'
        WHERE o.flow_code = '{flow}' AND o.period_start >= {reorganised}
          AND NOT EXISTS (SELECT 1 FROM jsonb_each_text({_OTHER_DIMS.format('o')}) e
                          WHERE e.value <> '{TOTAL}')
          AND o.dimensions ->> 'REF_AREA' <> '{NATIONAL}'
          AND NOT o.value BETWEEN coalesce(c.sure, 0) - {tolerance}
                              AND coalesce(c.sure, 0) + coalesce(c.maybe, 0) + {tolerance}""")


def provinces_query(as_of: dt.date) -> str:
    """The 2025 provinces in force on ``as_of`` that some series is about, with names."""
    return f"""
        SELECT DISTINCT u.code, u.full_name AS name
        FROM macro.series s
        JOIN ref.admin_unit u ON u.level = 'province' AND u.code = s.dimensions ->> 'REF_AREA'
         AND u.valid_from = {sql_date(REORGANISATION_2025)} AND {in_force('u', sql_date(as_of))}
        ORDER BY u.code"""


def suite(as_of: dt.date) -> Suite:
    """The macro suite for a run that takes ``as_of`` as today."""
    return Suite(REGISTRY, batches(), rules(as_of), provinces_query(as_of), PROVINCE_BASIS)
