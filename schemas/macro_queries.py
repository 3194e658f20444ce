"""Read queries of the macro-economy registry, shared by the GraphQL API and the SDMX
REST endpoint: dataflows, series by SDMX key, observations as published on a day, and
the releases (vintages) of a series.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT

from loaders.rules.periods import period_start

_CODE = re.compile(r"[A-Za-z0-9_@$-]+")
_VERSION = re.compile(r"\d+(?:\.\d+){0,2}|latest|\*|\+")


class BadRequest(ValueError):
    """A flow, key or period the caller must correct (the message says how)."""


@dataclass(frozen=True)
class FlowQuery:
    """A dataflow as an SDMX URL names it: ``ID``, ``AGENCY,ID`` or ``AGENCY,ID,VERSION``."""

    code: str
    agency: str | None = None
    version: str | None = None

    @classmethod
    def parse(cls, text_: str) -> FlowQuery:
        parts = [p.strip() for p in text_.replace(":", ",").split(",")]
        if not 1 <= len(parts) <= 3 or not all(_CODE.fullmatch(p) for p in parts[:2]) \
                or (len(parts) == 3 and not _VERSION.fullmatch(parts[2])):
            raise BadRequest(f"{text_[:80]!r} is not a dataflow reference; write ID, "
                             "AGENCY,ID or AGENCY,ID,VERSION.")
        if len(parts) == 1:
            return cls(parts[0])
        version = parts[2] if len(parts) == 3 and _VERSION.fullmatch(parts[2]) \
            and parts[2][0].isdigit() else None
        return cls(parts[1], parts[0], version)


def key_pattern(key: str | None) -> str | None:
    """An SDMX key (``M.USD+GBP..A``: an empty part is any code, ``+`` is or) as a POSIX
    regular expression over ``series.series_key``; None for every series."""
    if key is None or key in ("", "all", "ALL"):
        return None
    parts = []
    for part in key.split("."):
        codes = [c for c in part.split("+") if c]
        if not all(_CODE.fullmatch(c) for c in codes):
            raise BadRequest(f"The key {key[:80]!r} holds something that is no code; codes are "
                             "letters, digits, _ @ $ -, separated by . (dimensions) and + "
                             "(alternatives).")
        parts.append("(" + "|".join(re.escape(c) for c in codes) + ")" if codes else "[^.]*")
    return "^" + r"\.".join(parts) + "$"


def period_bounds(start: str | None, end: str | None) -> tuple[dt.date | None, dt.date | None]:
    """The first days of ``startPeriod`` and ``endPeriod`` (any SDMX period)."""
    out: list[dt.date | None] = []
    for name, value in (("startPeriod", start), ("endPeriod", end)):
        if not value:
            out.append(None)
            continue
        day = period_start(value, None)
        if day is None:
            raise BadRequest(f"{name} {value[:40]!r} is not an SDMX period (2024, 2024-Q1, "
                             "2024-03, 2024-03-01).")
        out.append(day)
    return out[0], out[1]


DATAFLOWS = text("""
    SELECT f.id, f.agency, f.code, f.version, f.name, d.agency AS structure_agency,
           d.code AS structure_code, d.version AS structure_version, d.time_dimension,
           (SELECT coalesce(json_agg(json_build_object('id', m.code, 'position', m.position,
                                                       'codelist', c.code, 'role', m.role)
                                     ORDER BY m.position), '[]')
            FROM macro.dimension m LEFT JOIN macro.codelist c ON c.id = m.codelist_id
            WHERE m.structure_id = d.id) AS dimensions,
           (SELECT coalesce(json_agg(json_build_object('id', a.code, 'codelist', c.code,
                                                       'attachedTo', a.attached_to)
                                     ORDER BY a.code), '[]')
            FROM macro.attribute a LEFT JOIN macro.codelist c ON c.id = a.codelist_id
            WHERE a.structure_id = d.id) AS attributes
    FROM macro.dataflow f JOIN macro.data_structure d ON d.id = f.structure_id
    ORDER BY f.agency, f.code, f.version""")


def find_dataflow(flow: FlowQuery) -> TextClause:
    """The dataflows matching ``flow`` (the latest version first)."""
    return text("""
        SELECT f.id, f.agency, f.code, f.version, d.time_dimension,
               array(SELECT m.code FROM macro.dimension m WHERE m.structure_id = d.id
                     ORDER BY m.position) AS dimensions
        FROM macro.dataflow f JOIN macro.data_structure d ON d.id = f.structure_id
        WHERE f.code = :code AND (CAST(:agency AS text) IS NULL OR f.agency = :agency)
          AND (CAST(:version AS text) IS NULL OR f.version = :version)
        ORDER BY f.version DESC LIMIT 1""").bindparams(
        code=flow.code, agency=flow.agency, version=flow.version)


def series_page(flow_id: int, pattern: str | None, after: str | None,
                limit: int) -> TextClause:
    """Series of a dataflow whose key matches ``pattern``, by key, after ``after``."""
    return text("""
        SELECT s.id, s.series_key, s.dimensions, s.attributes FROM macro.series s
        WHERE s.dataflow_id = :flow
          AND (CAST(:pattern AS text) IS NULL OR s.series_key ~ :pattern)
          AND (CAST(:after AS text) IS NULL OR s.series_key > :after)
        ORDER BY s.series_key LIMIT :limit""").bindparams(
        flow=flow_id, pattern=pattern, after=after, limit=limit)


def observations_as_of(series_ids: list[int], as_of: dt.date | None,
                       start: dt.date | None, end: dt.date | None, limit: int) -> TextClause:
    """Each period's value as published on ``as_of``: from the latest release on or before
    it (the latest of all when ``as_of`` is None)."""
    return text("""
        SELECT DISTINCT ON (o.series_id, o.period_start, o.period)
               o.series_id, o.period, o.value, o.status, o.attributes, r.release_date
        FROM macro.observation o JOIN macro.release r ON r.id = o.release_id
        WHERE o.series_id = ANY(:ids)
          AND (CAST(:as_of AS date) IS NULL OR r.release_date <= :as_of)
          AND (CAST(:start AS date) IS NULL OR o.period_start >= :start)
          AND (CAST(:end AS date) IS NULL OR o.period_start <= :end)
        ORDER BY o.series_id, o.period_start, o.period, r.release_date DESC
        LIMIT :limit""").bindparams(
        bindparam("ids", series_ids, type_=ARRAY(BIGINT)), as_of=as_of, start=start, end=end,
        limit=limit)


def revisions(series_ids: list[int], period: str | None) -> TextClause:
    """Every release's row of the series (of one period when given), oldest first."""
    return text("""
        SELECT o.series_id, o.period, o.value, o.status, o.attributes, r.release_date
        FROM macro.observation o JOIN macro.release r ON r.id = o.release_id
        WHERE o.series_id = ANY(:ids) AND (CAST(:period AS text) IS NULL OR o.period = :period)
        ORDER BY o.series_id, o.period_start, o.period, r.release_date""").bindparams(
        bindparam("ids", series_ids, type_=ARRAY(BIGINT)), period=period)


def vintages(series_ids: list[int]) -> TextClause:
    """The releases that published or revised each series, oldest first."""
    return text("""
        SELECT o.series_id, r.release_date, count(*) AS observations
        FROM macro.observation o JOIN macro.release r ON r.id = o.release_id
        WHERE o.series_id = ANY(:ids)
        GROUP BY o.series_id, r.release_date ORDER BY o.series_id, r.release_date""").bindparams(
        bindparam("ids", series_ids, type_=ARRAY(BIGINT)))


def grouped(rows: Any) -> dict[int, list[Any]]:
    """Rows with a ``series_id``, by series."""
    out: dict[int, list[Any]] = {}
    for row in rows:
        out.setdefault(row.series_id, []).append(row)
    return out
