"""Reference look-ups answered from the database: units as of a date, successors, location.

The reference model's read queries, beside the model (``schemas/reference.py``)
as each registry's are: SQLAlchemy Core selects built here once and run by both
callers, the CLI on a sync connection (the functions below) and the GraphQL
API on an async one (``graphql_api/resolvers/reference.py``). Every select of
units returns the columns of :data:`UNIT_FIELDS` plus ``id`` and ``parent_id``,
which the API needs to follow links and the CLI leaves out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import Connection, Select, Table, func, literal, null, select, text, tuple_

from schemas.reference import AdminLevel, AdminUnit, AdminUnitChange, level_of
from schemas.temporal import in_force

UNIT_FIELDS = ("code", "level", "unit_type", "name", "full_name", "name_en", "parent_code",
               "valid_from", "valid_to")
LINK_FIELDS = ("change_type", "effective_date", "whole_unit")

_unit = AdminUnit.__table__.alias("u")
_parent = AdminUnit.__table__.alias("p")
_change = AdminUnitChange.__table__.alias("c")
_level = AdminLevel.__table__.alias("l")


def _units() -> Select[Any]:
    """Unit versions with their parent's code; ``u`` is the unit, ``p`` the parent."""
    u, p = _unit.c, _parent.c
    return (select(u.id, u.parent_id, u.code, u.level, u.unit_type, u.name, u.full_name,
                   u.name_en, p.code.label("parent_code"), u.valid_from, u.valid_to)
            .select_from(_unit.outerjoin(_parent, _parent.c.id == _unit.c.parent_id)))


def _in_force_on(day: dt.date, alias: str = "u") -> Any:
    return text(in_force(alias, ":as_of")).bindparams(as_of=day)


def units_in_force(as_of: dt.date, level: str | None = None, parent: str | None = None,
                   *, after: tuple[str, str] | None = None, limit: int | None = None
                   ) -> Select[Any]:
    """Units in force on ``as_of`` (of one level, under one parent code), by level and code.

    ``after`` (a level and a code) and ``limit`` give one page of a keyset
    pagination: (level, code) is unique on any day, so it is a stable order.
    """
    stmt = _units().where(_in_force_on(as_of))
    if level is not None:
        stmt = stmt.where(_unit.c.level == level)
    if parent is not None:
        stmt = stmt.where(_parent.c.code == parent)
    if after is not None:
        stmt = stmt.where(tuple_(_unit.c.level, _unit.c.code) > tuple_(*map(literal, after)))
    return stmt.order_by(_unit.c.level, _unit.c.code).limit(limit)


def unit_versions(code: str) -> Select[Any]:
    """Every version of the unit with ``code``, oldest first.

    A code can name different units over time (the 2025 reorganisation re-used
    codes), so each version comes with its own validity.
    """
    stmt = _units().where(_unit.c.code == code)
    level = level_of(code)
    if level is not None:
        stmt = stmt.where(_unit.c.level == level)
    return stmt.order_by(_unit.c.valid_from.asc().nulls_first())


def unit_changes(unit_ids: Sequence[int],
                 direction: Literal["successors", "predecessors"]) -> Select[Any]:
    """For each of ``unit_ids``, the unit versions it became or came from, by code.

    The column ``of_id`` says which of ``unit_ids`` a row belongs to.
    """
    this_side, other_side = ((_change.c.old_unit_id, _change.c.new_unit_id)
                             if direction == "successors"
                             else (_change.c.new_unit_id, _change.c.old_unit_id))
    return (_units().add_columns(this_side.label("of_id"), _change.c.change_type,
                                 _change.c.effective_date, _change.c.whole_unit)
            .join(_change, other_side == _unit.c.id)
            .where(this_side.in_(unit_ids))
            .order_by(this_side, _unit.c.code))


def units_covering(lon: float, lat: float, as_of: dt.date) -> Select[Any]:
    """The units in force on ``as_of`` whose boundary covers the point, top level first."""
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    return (_units().join(_level, _level.c.code == _unit.c.level)
            .where(_in_force_on(as_of), func.ST_Covers(_unit.c.geom, point))
            .order_by(_level.c.rank, _unit.c.code))


def units_by_id(ids: Sequence[int]) -> Select[Any]:
    """The unit versions with these surrogate ids (the API follows links with them)."""
    return _units().where(_unit.c.id.in_(ids))


def unit_boundaries(ids: Sequence[int]) -> Select[Any]:
    """The boundaries of these unit versions as GeoJSON text (6 decimals: about 0.1 m)."""
    return (select(_unit.c.id, func.ST_AsGeoJSON(_unit.c.geom, 6).label("geojson"))
            .where(_unit.c.id.in_(ids), _unit.c.geom.is_not(None)))


def code_list_entries(table: Table, as_of: dt.date | None = None) -> Select[Any]:
    """The entries of a code list (in use on ``as_of`` when given), by code."""
    x = table.alias("x")
    parent = x.c.parent_code if "parent_code" in x.c else null().label("parent_code")
    stmt = select(x.c.code, x.c.name, x.c.name_en, parent, x.c.valid_from, x.c.valid_to)
    if as_of is not None:
        stmt = stmt.where(_in_force_on(as_of, "x"))
    return stmt.order_by(x.c.code)


def _fields(row: Any, names: Sequence[str]) -> dict[str, Any]:
    return {name: row._mapping[name] for name in names}


def units_as_of(conn: Connection, as_of: dt.date, level: str | None = None,
                parent: str | None = None) -> list[dict[str, Any]]:
    """Units in force on ``as_of``, optionally of one level and/or under one parent code."""
    return [_fields(r, UNIT_FIELDS) for r in conn.execute(units_in_force(as_of, level, parent))]


def successors(conn: Connection, code: str) -> list[dict[str, Any]]:
    """Every version of the unit with ``code``, with what it became and came from."""
    versions = conn.execute(unit_versions(code)).all()
    ids = [v.id for v in versions]
    links: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for direction in ("successors", "predecessors"):
        by_unit: dict[int, list[dict[str, Any]]] = {}
        for row in conn.execute(unit_changes(ids, direction)):
            by_unit.setdefault(row.of_id, []).append(
                _fields(row, ("code", "level", "full_name", "valid_from", "valid_to",
                              *LINK_FIELDS)))
        links[direction] = by_unit
    return [{**_fields(v, UNIT_FIELDS),
             "successors": links["successors"].get(v.id, []),
             "predecessors": links["predecessors"].get(v.id, [])} for v in versions]


def locate(conn: Connection, lon: float, lat: float, as_of: dt.date) -> list[dict[str, Any]]:
    """The units in force on ``as_of`` whose boundary covers the point, top level first."""
    return [_fields(r, UNIT_FIELDS) for r in conn.execute(units_covering(lon, lat, as_of))]


def boundaries_in_force(conn: Connection, as_of: dt.date) -> int:
    """How many units in force on ``as_of`` have a boundary (0: locate cannot answer)."""
    return int(conn.execute(
        select(func.count()).select_from(_unit)
        .where(_in_force_on(as_of), _unit.c.geom.is_not(None))).scalar_one())
