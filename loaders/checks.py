"""Set-based checks and merges every registry's load needs, written once.

* units: the unit a code names on a day (codes were re-used in 2025, so a code
  and a date name a unit), and the rejections when there is none;
* codes: a coded field whose value is not in its reference table;
* :func:`upsert`: ``INSERT ... ON CONFLICT`` that touches only rows whose
  values differ and says what it inserted and updated;
* :class:`BoundedCache`: what a row-by-row check remembers of the values it has
  seen, within a bound.

The checks work on a :class:`~loaders.base.FileStage`'s staging table, where
``s`` is the staged row.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, text

from loaders import reasons
from loaders.base import FileStage
from schemas.periods import in_force


def unit_at(alias: str, code_sql: str, day_sql: str, level: str = "commune") -> str:
    """Join condition: ``alias`` is the ``level`` unit with code ``code_sql`` in force on
    ``day_sql``. At most one version of a code is in force on a day (an exclusion
    constraint says so), so it finds at most one unit."""
    return (f"{alias}.level = '{level}' AND {alias}.code = {code_sql} "
            f"AND {in_force(alias, day_sql)}")


def current_unit(alias: str) -> str:
    """SQL: the unit ``alias`` stands for today: itself while in force, else the one unit
    it went into whole; NULL for a unit split between several successors (which one an
    address is in cannot be told from the code)."""
    return f"""CASE WHEN {alias}.valid_to IS NULL THEN {alias}.id
                    ELSE (SELECT c.new_unit_id FROM ref.admin_unit_change c
                          WHERE c.old_unit_id = {alias}.id AND c.whole_unit
                            AND NOT EXISTS (SELECT 1 FROM ref.admin_unit_change o
                                            WHERE o.old_unit_id = {alias}.id
                                              AND o.new_unit_id <> c.new_unit_id))
               END"""


def set_unit_at(table: str, target: str, code: str, day: str, level: str = "commune") -> str:
    """UPDATE that sets ``target`` to the unit with code ``code`` in force on ``day``."""
    return (f"UPDATE {table} s SET {target} = u.id FROM ref.admin_unit u "
            f"WHERE {unit_at('u', f's.{code}', f's.{day}', level)}")


def unit_exists(code_sql: str, level: str = "commune") -> str:
    """Condition: some version of a ``level`` unit has code ``code_sql``."""
    return (f"EXISTS (SELECT 1 FROM ref.admin_unit u WHERE u.level = '{level}' "
            f"AND u.code = {code_sql})")


def reject_units_not_found(stage: FileStage, field: str, code: str, unit: str, day: str,
                           level: str = "commune") -> None:
    """Reject staged rows whose ``code`` names no unit, or none in force on ``day``.

    ``unit`` is the column already set to the unit in force (``set_unit_at``);
    a blank code is not checked here (required fields are the row checker's).
    """
    stage.reject_where(
        reasons.UNKNOWN_ADMIN_UNIT, field,
        f"s.{code} IS NOT NULL AND NOT {unit_exists(f's.{code}', level)}", f"s.{code}",
        columns={"code": f"s.{code}"}, level=level, period="",
        outcome="check it against the list of units (mdr ref units)")
    stage.reject_where(
        reasons.ADMIN_UNIT_NOT_IN_FORCE, field, f"s.{code} IS NOT NULL AND s.{unit} IS NULL",
        f"s.{code}", columns={"day": f"s.{day}"})


def reject_unknown_codes(stage: FileStage, field: str, column: str, table: str, what: str,
                         expected: str, *, required: bool = False) -> None:
    """Reject staged rows whose ``column`` is not a code of ``table`` (e.g. ``ref.country``).

    ``what`` names the field and ``expected`` the codes for the message; a blank
    value passes unless ``required``.
    """
    blank_passes = "" if required else f"s.{column} IS NOT NULL AND "
    stage.reject_where(
        reasons.UNKNOWN_CODE, field,
        f"{blank_passes}NOT EXISTS (SELECT 1 FROM {table} x WHERE x.code = s.{column})",
        f"s.{column}", what=what, expected=expected)


def upsert(conn: Connection, target: str, columns: Sequence[str], key: Sequence[str],
           select: str, *, compare: Sequence[str] | None = None, touch: str = "",
           params: dict[str, Any] | None = None,
           changed_table: str | None = None) -> tuple[int, int]:
    """``INSERT INTO target (columns) select ON CONFLICT (key)`` updating only rows that differ.

    ``compare``: the columns whose difference makes an update (default: all but
    the key); ``touch``: extra assignments of an update (e.g. ``updated_at =
    now()``); ``changed_table``: a table whose one column receives the first key
    column of every row inserted or updated. Returns (inserted, updated); rows
    neither inserted nor updated are unchanged.
    """
    changing = [c for c in columns if c not in key]
    compare = list(compare if compare is not None else changing)
    assignments = ", ".join([f"{c} = EXCLUDED.{c}" for c in changing] + ([touch] if touch else []))
    on_conflict = (f"DO UPDATE SET {assignments} "
                   f"WHERE ({', '.join(f't.{c}' for c in compare)}) "
                   f"IS DISTINCT FROM ({', '.join(f'EXCLUDED.{c}' for c in compare)})"
                   if compare else "DO NOTHING")
    noted = (f", noted AS (INSERT INTO {changed_table} SELECT {key[0]} FROM merged)"
             if changed_table else "")
    statement = f"""
        WITH merged AS (
            INSERT INTO {target} AS t ({', '.join(columns)})
            {select}
            ON CONFLICT ({', '.join(key)}) {on_conflict}
            RETURNING {key[0]}, (xmax = 0) AS inserted
        ){noted}
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
        FROM merged"""
    inserted, updated = conn.execute(text(statement), params or {}).one()
    return int(inserted), int(updated)


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(dict[K, V]):
    """A dict that forgets its oldest entries beyond ``size``.

    A check that depends only on a few values of a row (a key, a period) is made once
    per distinct value and remembered; a file with more distinct values than ``size``
    has the oldest checked again rather than held for the whole load, so the memory a
    load needs stays bounded whatever the file holds.
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __setitem__(self, key: K, value: V) -> None:
        if len(self) >= self.size and key not in self:
            del self[next(iter(self))]  # insertion order: the oldest first
        super().__setitem__(key, value)
