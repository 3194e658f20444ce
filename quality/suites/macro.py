"""The macro-economy registry's quality suite: Great Expectations rules run as SQL.

Most rules look at the latest vintage of every period (``latest``): periods
complete between a series' first and last, series still present in their
flow's latest period, provinces summing to the national figure, and the derived
population equal to the population registry's own count. Two look at the
vintages themselves: a release never dated after today, and a stored revision
that really changes something (a release repeating a value is noise, and an
overwritten value would leave no second row at all).

``province_code`` is the series' REF_AREA (NULL where it has none); the suite
scores no provinces separately, since its provinces are dimension codes.
"""

from __future__ import annotations

import datetime as dt

from great_expectations.expectations.core.expect_column_values_to_be_between import (
    ExpectColumnValuesToBeBetween,
)

from quality.suites.base import Batch, Rule, Suite, rows_rule, rule, sql_date
from schemas.reference import REORGANISATION_2025

REGISTRY = "macro"
NATIONAL = "VN"
TOLERANCE = 0.001
"""Provinces may differ from the national figure by this share (rounding), or by 0.5."""

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
    reorganised = sql_date(REORGANISATION_2025)
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
            "derived-population-matches-registry", "latest",
            "The derived population of a 2025 province equals the persons the population "
            "registry has living there on the reference date (a residence still in a "
            "pre-2025 commune counts in its successors' province; one split between "
            "provinces may count in either); re-run `mdr macro derive` for that date.", f"""
            SELECT o.series_key, o.period, o.value, c.sure, c.maybe FROM {{batch}} AS o
            CROSS JOIN LATERAL (
                SELECT count(*) FILTER (WHERE cardinality(x.provinces) = 1) AS sure,
                       count(*) FILTER (WHERE cardinality(x.provinces) > 1) AS maybe
                FROM (SELECT array(
                          SELECT DISTINCT pu.code FROM ref.admin_unit pu
                          WHERE pu.level = 'province' AND pu.valid_from = {reorganised}
                            AND pu.id IN (
                                SELECT cu.parent_id WHERE cu.valid_from = {reorganised}
                                UNION ALL
                                SELECT nc.parent_id FROM ref.admin_unit_change ch
                                JOIN ref.admin_unit nc ON nc.id = ch.new_unit_id
                                WHERE ch.old_unit_id = cu.id)) AS provinces
                      FROM population.person p
                      JOIN population.residence r ON r.national_id = p.national_id
                       AND r.kind = 'permanent' AND r.superseded_at IS NULL
                       AND r.valid_from <= o.period_start
                       AND (r.valid_to IS NULL OR r.valid_to > o.period_start)
                      JOIN ref.admin_unit cu ON cu.id = r.unit_id
                      WHERE p.birth_date <= o.period_start
                        AND (p.death_date IS NULL OR p.death_date > o.period_start)) AS x
                WHERE o.dimensions ->> 'REF_AREA' = ANY (x.provinces)) AS c
            WHERE o.flow_code = 'POP_PROV_2025' AND o.period_start >= {reorganised}
              AND o.dimensions ->> 'SEX' = '_T' AND o.dimensions ->> 'AGE' = '_T'
              AND o.dimensions ->> 'REF_AREA' <> '{NATIONAL}'
              AND NOT o.value BETWEEN c.sure AND c.sure + c.maybe"""),
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


def suite(as_of: dt.date) -> Suite:
    """The macro suite for a run that takes ``as_of`` as today."""
    return Suite(REGISTRY, batches(), rules(as_of))
