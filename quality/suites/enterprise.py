"""The enterprise registry's quality suite, and its consistency with the population registry.

Rules run as SQL in the database (Great Expectations query assets), like the
population suite's. "Current" means the registry's current knowledge
(``superseded_at IS NULL``) and, for facts that change, valid on the run's
``as_of`` day. An enterprise belongs to the province of its head office on that
day (2025 provinces for days since 2025-07-01).

The cross-registry consistency scores (``Consistency``) are computed per province:
representatives who have died since, head offices in units that no longer exist and
left no successor, and persons holding a role on a day the population registry has no
residence for them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from great_expectations.expectations.core.expect_column_values_to_be_between import (
    ExpectColumnValuesToBeBetween,
)
from great_expectations.expectations.core.expect_column_values_to_be_unique import (
    ExpectColumnValuesToBeUnique,
)
from great_expectations.expectations.core.unexpected_rows_expectation import (
    UnexpectedRowsExpectation,
)
from great_expectations.expectations.expectation import Expectation

from quality.suites.base import Batch, Consistency, Rule, Suite
from schemas.enterprise import check_digit_holds
from schemas.reference import REORGANISATION_2025
from schemas.temporal import current_on, in_force

REGISTRY = "enterprise"
PROVINCE_BASIS = (
    "An enterprise's province is the province of its head office on the day of the run; its "
    "representatives, owners and offices count with it."
)
ADULT = "interval '18 years'"
VERSIONED = ("enterprise_name", "enterprise_form", "head_office", "charter_capital",
             "business_line", "legal_representative", "ownership", "enterprise_status")


def _date(day: dt.date) -> str:
    return f"DATE '{day.isoformat()}'"


def province_of(code: str, day: str) -> str:
    """SQL: the province of enterprise ``code``'s head office on ``day`` (NULL without one)."""
    return f"""(SELECT CASE WHEN p.level = 'district' THEN
                            (SELECT g.code FROM ref.admin_unit g WHERE g.id = p.parent_id)
                       ELSE p.code END
                FROM enterprise.head_office h
                JOIN ref.admin_unit u ON u.id = h.unit_id
                JOIN ref.admin_unit p ON p.id = u.parent_id
                WHERE h.enterprise_code = {code} AND {current_on('h', day)} LIMIT 1)"""


def ended_on(code: str) -> str:
    """SQL: the day enterprise ``code`` ended (its first final status), or NULL."""
    return f"""(SELECT min(st.valid_from) FROM enterprise.enterprise_status st
                JOIN ref.enterprise_status k ON k.code = st.status AND k.final
                WHERE st.enterprise_code = {code} AND st.superseded_at IS NULL)"""


def batches(as_of: dt.date) -> tuple[Batch, ...]:
    day = _date(as_of)
    return (
        Batch("enterprise", f"""
            SELECT e.code, e.founding_date, {ended_on('e.code')} AS ended_on,
                   {province_of('e.code', day)} AS province_code
            FROM enterprise.enterprise AS e"""),
        Batch("head_office", f"""
            SELECT h.id, h.enterprise_code, h.unit_id, h.valid_from,
                   {province_of('h.enterprise_code', day)} AS province_code
            FROM enterprise.head_office AS h WHERE h.superseded_at IS NULL"""),
        Batch("representative", f"""
            SELECT r.id, r.enterprise_code, r.national_id, r.valid_from,
                   {province_of('r.enterprise_code', day)} AS province_code
            FROM enterprise.legal_representative AS r WHERE r.superseded_at IS NULL"""),
        Batch("dependent_unit", f"""
            SELECT d.code, d.parent_code,
                   {province_of('d.parent_code', day)} AS province_code
            FROM enterprise.dependent_unit AS d"""),
    )


def _rule(name: str, batch: str, message: str, expectation: type[Expectation],
          **kwargs: Any) -> Rule:
    return Rule(name=name, batch=batch, expectation=expectation(**kwargs, meta={"rule": name}),
                message=message)


def _rows(name: str, batch: str, message: str, query: str) -> Rule:
    """A rule whose query returns the offending rows (see the population suite's): a query
    with a JOIN names its own alias for ``{batch}``, one without refers to bare columns."""
    return _rule(name, batch, message, UnexpectedRowsExpectation, unexpected_rows_query=query)


def rules(as_of: dt.date) -> tuple[Rule, ...]:
    day = _date(as_of)
    # A head office re-expressed in the successor unit on 2025-07-01 is the reorganisation's
    # doing, not a change of the enterprise.
    later_versions = " UNION ALL ".join(
        f"SELECT enterprise_code, valid_from FROM enterprise.{t} WHERE superseded_at IS NULL"
        + (f" AND valid_from <> {_date(REORGANISATION_2025)}" if t == "head_office" else "")
        for t in VERSIONED)
    return (
        _rule("enterprise-code-unique", "enterprise",
              "An enterprise code belongs to one enterprise.",
              ExpectColumnValuesToBeUnique, column="code"),
        _rows("enterprise-code-check-digit", "enterprise",
              "The tenth digit of an enterprise code is its check digit; the code is wrong.",
              # GE fills {batch} only: the regex's own braces are doubled.
              "SELECT code FROM {batch} WHERE NOT ("
              + check_digit_holds("code").replace("{", "{{").replace("}", "}}") + ")"),
        _rule("founding-not-future", "enterprise",
              "Nothing is founded after today; correct the founding date.",
              ExpectColumnValuesToBeBetween, column="founding_date", max_value=as_of),
        _rows("one-main-line", "enterprise",
              "An enterprise that has not ended has exactly one main business line today; "
              "register the main line.", f"""
              SELECT code FROM {{batch}}
              WHERE (ended_on IS NULL OR ended_on > {day}) AND founding_date <= {day}
                AND (SELECT count(*) FROM enterprise.business_line AS l
                     WHERE l.enterprise_code = code AND l.is_main
                       AND {current_on('l', day)}) <> 1"""),
        _rows("shares-at-most-100", "enterprise",
              "The owners' shares of an enterprise add up to at most 100% today; correct the "
              "shares.", f"""
              SELECT code FROM {{batch}}
              WHERE (SELECT sum(o.share) FROM enterprise.ownership AS o
                     WHERE o.enterprise_code = code AND {current_on('o', day)}) > 100"""),
        _rows("nothing-after-end", "enterprise",
              "Nothing about an enterprise changes after it ended (dissolved, bankrupt, merged, "
              "split) but its record; correct the dates or the status.", f"""
              SELECT code FROM {{batch}}
              WHERE ended_on IS NOT NULL AND EXISTS (
                    SELECT 1 FROM ({later_versions}) AS v
                    WHERE v.enterprise_code = code AND v.valid_from > ended_on)"""),
        _rows("no-ownership-cycle", "enterprise",
              "No enterprise owns itself through other enterprises today; correct the owners.",
              f"""
              WITH RECURSIVE owns AS (
                  SELECT o.owner_enterprise_code AS owner, o.enterprise_code AS owned
                  FROM enterprise.ownership AS o
                  WHERE o.owner_enterprise_code IS NOT NULL AND {current_on('o', day)}),
              walk(start, here, depth) AS (
                  SELECT owned, owner, 1 FROM owns
                  UNION
                  SELECT w.start, o.owner, w.depth + 1 FROM walk AS w
                  JOIN owns AS o ON o.owned = w.here
                  WHERE w.here <> w.start AND w.depth < 64)
              SELECT e.code FROM {{batch}} AS e
              WHERE e.code IN (SELECT start FROM walk WHERE here = start)"""),
        _rows("head-office-in-force", "head_office",
              "A head office is in a commune in force on the day it starts; use the commune "
              "as it was then (see `mdr ref successors`).", f"""
              SELECT h.id, h.enterprise_code FROM {{batch}} AS h
              LEFT JOIN ref.admin_unit AS u
                ON u.id = h.unit_id AND u.level = 'commune' AND {in_force('u', 'h.valid_from')}
              WHERE u.id IS NULL"""),
        _rows("representative-living-adult-at-start", "representative",
              "A legal representative is a living adult when the role starts; correct the "
              "representative or the date.", f"""
              SELECT r.id, r.national_id FROM {{batch}} AS r
              JOIN population.person AS p ON p.national_id = r.national_id
              WHERE p.birth_date + {ADULT} > r.valid_from OR p.death_date <= r.valid_from"""),
        _rows("unit-parent-known", "dependent_unit",
              "A dependent unit's code starts with its parent's; the unit or the parent is "
              "wrong.", "SELECT code FROM {batch} WHERE left(code, 10) <> parent_code"),
    )


def consistency(as_of: dt.date) -> tuple[Consistency, ...]:
    """The cross-registry scores: (checked, inconsistent) per province."""
    day = _date(as_of)
    alive_enterprise = f"""(SELECT e.code FROM enterprise.enterprise e
                            WHERE ({ended_on('e.code')}) IS NULL
                               OR ({ended_on('e.code')}) > {day})"""

    def per_province(rows: str, bad: str) -> str:
        return f"""SELECT {province_of('x.enterprise_code', day)} AS province_code,
                          count(*), count(*) FILTER (WHERE {bad})
                   FROM ({rows}) AS x GROUP BY 1"""

    return (
        Consistency(
            "representatives-alive",
            "The representatives of an enterprise that has not ended are alive today in the "
            "population registry; register the new representative.",
            per_province(f"""SELECT r.enterprise_code, p.death_date
                             FROM enterprise.legal_representative AS r
                             JOIN population.person AS p ON p.national_id = r.national_id
                             WHERE {current_on('r', day)}
                               AND r.enterprise_code IN {alive_enterprise}""",
                         f"x.death_date <= {day}")),
        Consistency(
            "head-office-unit-exists",
            "A head office is in a unit that exists today or went into a successor; record "
            "the office in the unit that replaced it.",
            per_province(f"""SELECT h.enterprise_code, u.id AS unit_id,
                                    {in_force('u', day)} AS in_force
                             FROM enterprise.head_office AS h
                             JOIN ref.admin_unit AS u ON u.id = h.unit_id
                             WHERE {current_on('h', day)}""",
                         "NOT x.in_force AND NOT EXISTS (SELECT 1 FROM ref.admin_unit_change c "
                         "WHERE c.old_unit_id = x.unit_id)")),
        Consistency(
            "roles-match-residence",
            "A person who holds a role in an enterprise today (representative or owner) has "
            "a residence today in the population registry; one of the two registries is out "
            "of date.",
            per_province(f"""SELECT r.enterprise_code, r.national_id
                             FROM enterprise.legal_representative AS r
                             WHERE {current_on('r', day)}
                             UNION ALL
                             SELECT o.enterprise_code, o.owner_national_id
                             FROM enterprise.ownership AS o
                             WHERE o.owner_national_id IS NOT NULL AND {current_on('o', day)}""",
                         f"""NOT EXISTS (SELECT 1 FROM population.residence AS s
                                         WHERE s.national_id = x.national_id
                                           AND {current_on('s', day)})""")),
    )


def provinces_query(as_of: dt.date) -> str:
    """The provinces enterprises have their head office in today, with their names."""
    return f"""
        SELECT k.code, u.full_name AS name
        FROM (SELECT DISTINCT {province_of('e.code', _date(as_of))} AS code
              FROM enterprise.enterprise AS e) AS k
        LEFT JOIN ref.admin_unit AS u
          ON u.level = 'province' AND u.code = k.code AND {in_force('u', _date(as_of))}
        WHERE k.code IS NOT NULL ORDER BY k.code"""


def suite(as_of: dt.date) -> Suite:
    """The enterprise suite for a run that takes ``as_of`` as today."""
    return Suite(REGISTRY, batches(as_of), rules(as_of), provinces_query(as_of), PROVINCE_BASIS,
                 consistency(as_of))
