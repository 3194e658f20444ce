"""Set-based bitemporal merge: "from this day on, the facts are these".

A source speaks for a subject (a person, a person's permanent residence, ...)
from some day on — its *scope* — and states the versions valid from then. The
merge compares what the registry currently believes for that stretch of time
with what the source says; only where they differ does it supersede the
registry's rows (record time ends now), keep their part before the scope's day
(re-recorded with a closed validity), and record the new versions. A source
that says the same thing again therefore changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text


@dataclass(frozen=True)
class Versioned:
    """One bitemporal table and the queries that give its scope and new versions."""

    table: str
    subject: tuple[str, ...]
    """Columns naming the subject; the first is the person's national_id."""
    values: tuple[str, ...]
    """Columns whose values are versioned."""
    scope: str
    """SELECT subject..., since — from which day the source speaks for the subject."""
    versions: str
    """SELECT subject..., values..., valid_from, valid_to — what it says from then on."""


def _columns(fact: Versioned, stamp: dict[str, str] | None) -> tuple[str, str, str, str, str]:
    """What a merge's statements are written with: the subject's and the values' column
    lists, the join of two aliases ``a`` and ``b`` on the subject, and the stamped
    columns with their values (each list led by a comma, empty without a stamp)."""
    stamp = stamp or {}
    return (", ".join(fact.subject), ", ".join(fact.values),
            " AND ".join(f"a.{c} = b.{c}" for c in fact.subject),
            "".join(f", {column}" for column in stamp),
            "".join(f", {value}" for value in stamp.values()))


def _runner(conn: Connection, params: dict[str, Any]) -> Callable[[str], Any]:
    """Runs one statement of a merge with its parameters."""
    return lambda sql: conn.execute(text(sql), params)


def apply_versions(conn: Connection, fact: Versioned, params: dict[str, Any],
                   changed_table: str, stamp: dict[str, str] | None = None,
                   all_new: bool = False) -> int:
    """Merge one fact; adds the subjects (first column) whose history changed to
    ``changed_table``. ``stamp``: columns set on every row it writes and never compared
    (such as ``{"load_run_id": ":run_id"}``), column to SQL expression. ``all_new``: the
    caller knows the table holds no row of any subject in scope (their persons are new
    to the registry), so nothing is compared or superseded: the versions are inserted."""
    subj, vals, on, stamped, stamps = _columns(fact, stamp)
    run = _runner(conn, params)

    run(f"""CREATE TEMP TABLE v_versions ON COMMIT DROP AS
            SELECT * FROM ({fact.versions}) AS v({subj}, {vals}, valid_from, valid_to)""")
    run(f"""CREATE TEMP TABLE v_scope ON COMMIT DROP AS
            SELECT {subj}, min(since) AS since
            FROM ({fact.scope}) AS s({subj}, since) GROUP BY {subj}""")
    # Statistics of what the merge joins and filters on; the values (boundaries, say) are
    # only compared, and theirs would take longest to gather.
    run(f"ANALYZE v_versions ({subj}, valid_from, valid_to)")
    run("ANALYZE v_scope")
    # Each version ends where the next one (or a later scope day, such as a death) begins.
    run(f"""
        WITH cuts AS (
            SELECT {subj}, at, lead(at) OVER (PARTITION BY {subj} ORDER BY at) AS next
            FROM (SELECT {subj}, valid_from AS at FROM v_versions
                  UNION SELECT {subj}, since FROM v_scope) AS c)
        UPDATE v_versions a SET valid_to = b.next
        FROM cuts b
        WHERE {on} AND b.at = a.valid_from AND b.next IS NOT NULL
          AND (a.valid_to IS NULL OR a.valid_to > b.next)""")
    run("DELETE FROM v_versions WHERE valid_to IS NOT NULL AND valid_to <= valid_from")
    if all_new:
        return _insert_new(conn, fact, params, changed_table, stamp or {})
    # Subjects the registry holds nothing current for (a first load) need no comparison.
    run(f"""
        CREATE TEMP TABLE v_known ON COMMIT DROP AS
        SELECT a.* FROM v_scope a
        WHERE EXISTS (SELECT 1 FROM {fact.table} b
                      WHERE {on} AND b.superseded_at IS NULL
                        AND (b.valid_to IS NULL OR b.valid_to > a.since))""")
    run("ANALYZE v_known")
    run(f"""
        CREATE TEMP TABLE v_changed ON COMMIT DROP AS
        SELECT a.* FROM v_scope a
        WHERE EXISTS (SELECT 1 FROM v_versions b WHERE {on})
          AND NOT EXISTS (SELECT 1 FROM v_known b WHERE {on})""")
    run(f"""
        INSERT INTO v_changed
        WITH want AS (
            SELECT {', '.join(f'a.{c}' for c in fact.subject)},
                   array_agg(ROW({', '.join(f'b.{c}' for c in fact.values)},
                                 b.valid_from, b.valid_to)::text
                             ORDER BY b.valid_from) FILTER (WHERE b.valid_from IS NOT NULL) AS w
            FROM v_known a LEFT JOIN v_versions b ON {on}
            GROUP BY {', '.join(f'a.{c}' for c in fact.subject)}),
        have AS (
            SELECT {', '.join(f'a.{c}' for c in fact.subject)},
                   array_agg(ROW({', '.join(f'b.{c}' for c in fact.values)},
                                 GREATEST(b.valid_from, a.since), b.valid_to)::text
                             ORDER BY b.valid_from) AS h
            FROM v_known a JOIN {fact.table} b ON {on}
            WHERE b.superseded_at IS NULL AND (b.valid_to IS NULL OR b.valid_to > a.since)
            GROUP BY {', '.join(f'a.{c}' for c in fact.subject)})
        SELECT a.* FROM v_known a
        JOIN want b ON {on}
        LEFT JOIN have c ON {' AND '.join(f'c.{c} = b.{c}' for c in fact.subject)}
        WHERE b.w IS DISTINCT FROM c.h""")
    changed = int(run("SELECT count(*) FROM v_changed").scalar_one())
    if changed:
        run(f"""
            CREATE TEMP TABLE v_cut ON COMMIT DROP AS
            WITH cut AS (
                UPDATE {fact.table} a SET superseded_at = now()
                FROM v_changed b
                WHERE {on} AND a.superseded_at IS NULL
                  AND (a.valid_to IS NULL OR a.valid_to > b.since)
                RETURNING {', '.join(f'a.{c}' for c in (*fact.subject, *fact.values))},
                          a.valid_from, a.valid_to, b.since)
            SELECT * FROM cut""")
        # What the registry knew about the time before the scope's day still holds.
        run(f"""INSERT INTO {fact.table} ({subj}, {vals}, valid_from, valid_to{stamped})
                SELECT {subj}, {vals}, valid_from, since{stamps} FROM v_cut
                WHERE valid_from < since""")
        run(f"""INSERT INTO {fact.table} ({subj}, {vals}, valid_from, valid_to{stamped})
                SELECT {', '.join(f'a.{c}' for c in (*fact.subject, *fact.values))},
                       a.valid_from, a.valid_to{stamps}
                FROM v_versions a JOIN v_changed b ON {on}""")
        run(f"INSERT INTO {changed_table} SELECT DISTINCT {fact.subject[0]} FROM v_changed")
        run("DROP TABLE v_cut")
    run("DROP TABLE v_versions, v_scope, v_known, v_changed")
    return changed


def _insert_new(conn: Connection, fact: Versioned, params: dict[str, Any], changed_table: str,
                stamp: dict[str, str]) -> int:
    """The end of ``apply_versions`` for subjects the table holds no row of: each one with
    versions is changed, and its versions are inserted, as the comparison would find."""
    subj, vals, on, stamped, stamps = _columns(fact, stamp)
    run = _runner(conn, params)

    changed = int(run(f"""
        WITH changed AS (
            SELECT a.* FROM v_scope a WHERE EXISTS (SELECT 1 FROM v_versions b WHERE {on})),
        listed AS (INSERT INTO {changed_table}
                   SELECT DISTINCT {fact.subject[0]} FROM changed RETURNING 1)
        SELECT count(*) FROM changed""").scalar_one())
    run(f"""INSERT INTO {fact.table} ({subj}, {vals}, valid_from, valid_to{stamped})
            SELECT {', '.join(f'a.{c}' for c in (*fact.subject, *fact.values))},
                   a.valid_from, a.valid_to{stamps}
            FROM v_versions a WHERE EXISTS (SELECT 1 FROM v_scope b WHERE {on})""")
    run("DROP TABLE v_versions, v_scope")
    return changed


def insert_first_versions(conn: Connection, fact: Versioned, params: dict[str, Any],
                          stamp: dict[str, str] | None = None) -> int:
    """The versions of subjects the table holds no row of, one version each (the source
    names each subject once): inserted as they are, in the order ``fact.versions`` gives
    them, with nothing to cut or compare (``apply_versions`` would find each one changed
    and insert it unchanged). Returns the rows inserted."""
    subj, vals, _, stamped, stamps = _columns(fact, stamp)
    return int(conn.execute(text(f"""
        INSERT INTO {fact.table} ({subj}, {vals}, valid_from, valid_to{stamped})
        SELECT {subj}, {vals}, valid_from, valid_to{stamps}
        FROM ({fact.versions}) AS v({subj}, {vals}, valid_from, valid_to)"""), params).rowcount)
