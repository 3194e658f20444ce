"""Reference look-ups answered from the database: units as of a date, successors, location."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, text

from loaders.reference import level_of
from schemas.temporal import in_force

_UNIT_COLUMNS = """u.code, u.level, u.unit_type, u.name, u.full_name, u.name_en,
                   p.code AS parent_code, u.valid_from, u.valid_to"""
# A unit version is in force on day D when valid_from <= D < valid_to (NULL = open).
_IN_FORCE = in_force("u", ":as_of")


def units_as_of(conn: Connection, as_of: dt.date, level: str | None = None,
                parent: str | None = None) -> list[dict[str, Any]]:
    """Units in force on ``as_of``, optionally of one level and/or under one parent code."""
    rows = conn.execute(text(f"""
        SELECT {_UNIT_COLUMNS}
        FROM ref.admin_unit u LEFT JOIN ref.admin_unit p ON p.id = u.parent_id
        WHERE {_IN_FORCE}
          AND (CAST(:level AS text) IS NULL OR u.level = :level)
          AND (CAST(:parent AS text) IS NULL OR p.code = :parent)
        ORDER BY u.level, u.code"""), {"as_of": as_of, "level": level, "parent": parent})
    return [dict(r._mapping) for r in rows]


def successors(conn: Connection, code: str) -> list[dict[str, Any]]:
    """Every version of the unit with ``code``, with what it became and came from.

    A code can name different units over time (the 2025 reorganisation re-used
    codes), so the answer lists each version with its own validity.
    """
    level = level_of(code)
    versions = conn.execute(text(f"""
        SELECT u.id, {_UNIT_COLUMNS}
        FROM ref.admin_unit u LEFT JOIN ref.admin_unit p ON p.id = u.parent_id
        WHERE u.code = :code AND (CAST(:level AS text) IS NULL OR u.level = :level)
        ORDER BY u.valid_from NULLS FIRST"""), {"code": code, "level": level}).all()
    out = []
    for version in versions:
        item = {k: v for k, v in version._mapping.items() if k != "id"}
        item["successors"] = _linked(conn, version.id, "old_unit_id", "new_unit_id")
        item["predecessors"] = _linked(conn, version.id, "new_unit_id", "old_unit_id")
        out.append(item)
    return out


def _linked(conn: Connection, unit_id: int, this_side: str, other_side: str
            ) -> list[dict[str, Any]]:
    rows = conn.execute(text(f"""
        SELECT u.code, u.level, u.full_name, u.valid_from, u.valid_to,
               c.change_type, c.effective_date, c.whole_unit
        FROM ref.admin_unit_change c JOIN ref.admin_unit u ON u.id = c.{other_side}
        WHERE c.{this_side} = :id
        ORDER BY u.code"""), {"id": unit_id})
    return [dict(r._mapping) for r in rows]


def locate(conn: Connection, lon: float, lat: float, as_of: dt.date) -> list[dict[str, Any]]:
    """The units in force on ``as_of`` whose boundary covers the point, top level first."""
    rows = conn.execute(text(f"""
        SELECT {_UNIT_COLUMNS}
        FROM ref.admin_unit u LEFT JOIN ref.admin_unit p ON p.id = u.parent_id
        JOIN ref.admin_level l ON l.code = u.level
        WHERE {_IN_FORCE}
          AND ST_Covers(u.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
        ORDER BY l.rank"""), {"as_of": as_of, "lon": lon, "lat": lat})
    return [dict(r._mapping) for r in rows]


def boundaries_in_force(conn: Connection, as_of: dt.date) -> int:
    """How many units in force on ``as_of`` have a boundary (0: locate cannot answer)."""
    return int(conn.execute(text(f"""
        SELECT count(*) FROM ref.admin_unit u WHERE {_IN_FORCE} AND u.geom IS NOT NULL"""),
        {"as_of": as_of}).scalar_one())
