"""``mdr load enterprise``: snapshots and change files into the enterprise registry.

extract (CSV / JSON Lines, through a profile) → normalise (NFC, whitespace, dates,
amounts, list fields) → validate each row (code and check digit, dates, one main line,
shares) → COPY valid rows into staging → set-based checks in SQL (duplicates, codes,
communes in force, and the cross-registry ones: representatives and person owners
exist in the population registry and are alive and adult on the day; enterprise owners,
parents and successors exist and are active; no ownership cycle; nothing changes after
an enterprise ended) → merge with history (``loaders.history``); the run itself (lock,
threshold, one transaction, run record) is ``loaders.base.run_load``.

Every row speaks for its enterprise (or dependent unit) from a day on: a snapshot's
new enterprise from its founding, a snapshot's known enterprise from the load's
effective date, a change row from its ``change_date``. Counts are of enterprises and
units: inserted (new), updated (any fact changed), unchanged.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from loaders import reasons
from loaders.base import (
    FileStage,
    LoadResult,
    Options,
    Progress,
    RegistryLoader,
    RowChecker,
    kind_by_first_record,
    run_load,
    sha256,
)
from loaders.checks import (
    current_unit,
    reject_units_not_found,
    reject_unknown_codes,
    unit_at,
    upsert,
)
from loaders.history import Versioned, apply_versions
from loaders.rules.identifiers import NATIONAL_ID, check_enterprise_code
from loaders.rules.text import clean, name_key
from loaders.sources.enterprise_layout import (
    CHANGE_FIELDS,
    LIST_SEPARATOR,
    PAIR_SEPARATOR,
    REQUIRED_ENTERPRISE_FIELDS,
    REQUIRED_FIELDS,
    SNAPSHOT_FIELDS,
)
from loaders.sources.readers import Profile, ReadLimits
from schemas.reference import REORGANISATION_2025

REGISTRY = "enterprise"
ADULT_YEARS = 18
_ENTERPRISE_CODE = re.compile(r"[0-9]{10}")
_AMOUNT = re.compile(r"[0-9]{1,3}(?:([.,])[0-9]{3}(?:\1[0-9]{3})*)?|[0-9]+(?:\.[0-9]{1,2})?")


# -- rows: normalise and validate ------------------------------------------------------------


class EnterpriseChecker(RowChecker):
    """Normalises and validates the rows of an enterprise file."""

    def __init__(self, source: str, effective_date: dt.date, changes: bool) -> None:
        super().__init__(source, effective_date)
        self.effective_date: dt.date = effective_date
        self.changes = changes

    def row(self, number: int, rec: dict[str, str]) -> tuple[Any, ...] | None:
        """A staged tuple for a valid row, or None (issue recorded)."""
        fields = CHANGE_FIELDS if self.changes else SNAPSHOT_FIELDS
        rec = {k: clean(str(rec.get(k) or "")) for k in fields}
        if not self.text_ok(number, rec):
            return None
        is_unit = len(rec["code"]) > 10
        required = (*REQUIRED_FIELDS, *(("unit_kind",) if is_unit else REQUIRED_ENTERPRISE_FIELDS),
                    *(("change_date",) if self.changes else ()))
        for name in required:
            if not rec[name]:
                self.reject(reasons.MISSING_REQUIRED_FIELD, number, name, "",
                            context=" for a dependent unit" if is_unit else "")
                return None
        for violation in check_enterprise_code(rec["code"]):
            self.reject(reasons.get(violation.slug), number, violation.field, rec["code"],
                        rule=violation.message)
            return None
        dates = self.dates(number, rec, ("founding_date", "status_since", "address_since",
                                         *(("change_date",) if self.changes else ())))
        if dates is None:
            return None
        founded = dates["founding_date"]
        assert founded is not None
        if founded > self.effective_date:
            self.reject(reasons.INVALID_DATE, number, "founding_date", str(founded),
                        problem=f"is after the load's effective date {self.effective_date}")
            return None
        day = dates.get("change_date")
        for name in ("status_since", "address_since", "change_date"):
            value = dates.get(name)
            if value is not None and value < founded:
                self.reject(reasons.INVALID_DATE, number, name, str(value),
                            problem=f"is before the founding date {founded}")
                return None
            if value is not None and value > self.effective_date:
                self.reject(reasons.INVALID_DATE, number, name, str(value),
                            problem=f"is after the load's effective date {self.effective_date}")
                return None
        lists = self.lists(number, rec)
        if lists is None:
            return None
        lines, rep_ids, rep_titles, owner_ids, owner_shares, capital = lists
        return (
            number, rec["code"], is_unit, day, rec["unit_kind"] or None, rec["name"],
            rec["foreign_name"] or None, rec["abbreviation"] or None, name_key(rec["name"]),
            rec["legal_form"] or None, founded, rec["status"] or "active",
            dates["status_since"], rec["successor_code"] or None, rec["address"],
            rec["commune_code"], dates["address_since"], capital,
            (rec["currency"] or "VND").upper() if capital is not None else None,
            lines, rep_ids, rep_titles, owner_ids, owner_shares,
        )

    def lists(self, number: int, rec: dict[str, str]) -> tuple[Any, ...] | None:
        """Lines, representatives, owners and capital, read; None when one cannot be."""
        main = _split(rec["main_line"])
        if len(main) > 1:
            self.reject(reasons.TWO_MAIN_LINES, number, "main_line", rec["main_line"])
            return None
        lines = main + [c for c in _split(rec["other_lines"]) if c not in main]
        rep_ids: list[str] = []
        rep_titles: list[str] = []
        for item in _split(rec["representatives"]):
            person, _, title = item.partition(PAIR_SEPARATOR)
            if not NATIONAL_ID.fullmatch(person.strip()) or not title.strip():
                self._bad_list(number, "representatives", rec, item,
                               "each entry is a 12-digit personal number, ':' and a title")
                return None
            if person.strip() not in rep_ids:
                rep_ids.append(person.strip())
                rep_titles.append(title.strip())
        owner_ids: list[str] = []
        owner_shares: list[Decimal] = []
        for item in _split(rec["owners"]):
            owner, _, share_text = item.partition(PAIR_SEPARATOR)
            owner = owner.strip()
            share = _decimal(share_text.strip().replace(",", "."))
            if (not (NATIONAL_ID.fullmatch(owner) or _ENTERPRISE_CODE.fullmatch(owner))
                    or share is None or not 0 < share <= 100 or owner in owner_ids):
                self._bad_list(number, "owners", rec, item,
                               "each entry is a 12-digit personal number or a 10-digit "
                               "enterprise code, ':' and a share from 0 to 100, once")
                return None
            owner_ids.append(owner)
            owner_shares.append(share)
        if sum(owner_shares) > 100:
            self.reject(reasons.SHARES_OVER_100, number, "owners", str(sum(owner_shares)))
            return None
        capital = None
        if rec["capital"]:
            capital = _amount(rec["capital"])
            if capital is None:
                self._bad_list(number, "capital", rec, rec["capital"],
                               "an amount is digits, with '.' or ',' between thousands")
                return None
        return lines, rep_ids, rep_titles, owner_ids, owner_shares, capital

    def _bad_list(self, number: int, field: str, rec: dict[str, str], item: str,
                  rule: str) -> None:
        """Reject the row for a list entry (or amount) that cannot be read; returns None."""
        self.reject(reasons.INVALID_LIST, number, field, rec[field],
                    problem=f"{item!r} cannot be read ({rule})")


def _split(value: str) -> list[str]:
    return [p.strip() for p in value.split(LIST_SEPARATOR) if p.strip()]


def _decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _amount(value: str) -> Decimal | None:
    """An amount as sources write it: ``1000000000``, ``1.000.000.000`` or ``1,000,000,000``."""
    value = value.replace(" ", "")
    match = _AMOUNT.fullmatch(value)
    if match is None:
        return None
    return _decimal(value.replace(match.group(1), "") if match.group(1) else value)


# -- the load ---------------------------------------------------------------------------------


def file_kind(path: Path, profile: Profile, requested: str | None,
              limits: ReadLimits | None = None) -> str:
    """snapshot or changes: as asked, or from the first record's fields."""
    return kind_by_first_record(path, profile, requested, limits, "change_date", "changes")


def load_enterprise(engine: Engine, path: Path, options: Options,
                    progress: Progress | None = None) -> LoadResult:
    """Load one snapshot or change file; commits whole or leaves the registry untouched."""
    profile = Profile.load(options.profile)
    kind = file_kind(path, profile, options.kind, options.limits)

    def make_stage(conn: Connection, run_id: int) -> EnterpriseStage:
        checker = EnterpriseChecker(path.name, options.effective_date, kind == "changes")
        return EnterpriseStage(conn, checker, options, run_id, path, profile)

    return run_load(engine, REGISTRY, str(path), make_stage, options=options, progress=progress,
                    source_sha256=sha256(path), profile=profile.name, details={"kind": kind})


LOADER = RegistryLoader(
    REGISTRY, "a snapshot or change file of enterprises and their dependent units",
    load_enterprise, kinds=("snapshot", "changes"))


# The first final status (dissolved, bankrupt, merged, split) of an enterprise by a day.
_ENDED = """SELECT st.status, st.valid_from FROM enterprise.enterprise_status st
            JOIN ref.enterprise_status k ON k.code = st.status AND k.final
            WHERE st.enterprise_code = {code} AND st.superseded_at IS NULL
              AND st.valid_from <= {day}
            ORDER BY st.valid_from LIMIT 1"""


# Facts dated by a column of their own: what, that column, its flag and end columns, the
# day it holds from, the values a repeat restates, and the rows that carry it. A unit's
# office row also carries its closing, so a unit restates its office only with its status.
_PERIODS = (
    ("head office", "address_since", "office_repeat", "office_to", "address_since",
     "address, commune_code, CASE WHEN is_unit THEN name END, "
     "CASE WHEN is_unit THEN status END", "true"),
    ("status", "status_since", "status_repeat", "status_to", "coalesce(status_since, day)",
     "status, successor_code", "NOT is_unit"),
)

# For a change row ``s``: the day the registry's own period of the fact in force on the
# row's day began. A head office continues across 2025-07-01 when only its commune's
# name changed, so its period began with the version before.
_REGISTRY_SINCE = {
    "head office": """
        SELECT coalesce(p.valid_from, h.valid_from) FROM enterprise.head_office h
        LEFT JOIN enterprise.head_office p
               ON p.enterprise_code = h.enterprise_code AND p.superseded_at IS NULL
              AND p.valid_to = h.valid_from AND h.valid_from = CAST(:reorg AS date)
              AND p.address_line = h.address_line
        WHERE h.enterprise_code = s.code AND h.superseded_at IS NULL
          AND h.valid_from <= s.day AND (h.valid_to IS NULL OR h.valid_to > s.day)""",
    "status": """
        SELECT st.valid_from FROM enterprise.enterprise_status st
        WHERE st.enterprise_code = s.code AND st.superseded_at IS NULL
          AND st.valid_from <= s.day AND (st.valid_to IS NULL OR st.valid_to > s.day)""",
}


class EnterpriseStage(FileStage):
    checker: EnterpriseChecker
    table = "stage_enterprise"
    copy_table = "stage_enterprise_in"
    columns = ("row_number", "code", "is_unit", "change_date", "unit_kind", "name",
               "foreign_name", "abbreviation", "name_key", "legal_form", "founding_date",
               "status", "status_since", "successor_code", "address", "commune_code",
               "address_since", "capital", "currency", "lines", "rep_ids", "rep_titles",
               "owner_ids", "owner_shares")
    sql_params = {"reorg": REORGANISATION_2025, "adult": f"{ADULT_YEARS} years"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source_fields = CHANGE_FIELDS if self.checker.changes else SNAPSHOT_FIELDS
        self.sql("""
            CREATE TEMP TABLE stage_enterprise_in (
                row_number int, code text, is_unit boolean, change_date date, unit_kind text,
                name text, foreign_name text, abbreviation text, name_key text,
                legal_form text, founding_date date, status text, status_since date,
                successor_code text, address text, commune_code text, address_since date,
                capital numeric(20, 2), currency text, lines text[], rep_ids text[],
                rep_titles text[], owner_ids text[], owner_shares numeric(7, 4)[]
            ) ON COMMIT DROP""")

    def validate(self, number: int, rec: dict[str, str]) -> tuple[Any, ...] | None:
        return self.checker.row(number, rec)

    def check(self) -> None:
        # The day each row speaks from, the day the next row of its enterprise does (change
        # files), and the commune of its head office in force then and today.
        self.sql("""
            CREATE TEMP TABLE stage_enterprise ON COMMIT DROP AS
            SELECT s.*, NULL::text AS reject, left(s.code, 10) AS parent_code,
                   NULL::int AS unit_id, NULL::int AS current_unit_id,
                   NOT EXISTS (SELECT 1 FROM enterprise.enterprise e WHERE e.code = s.code)
                   AND NOT EXISTS (SELECT 1 FROM enterprise.dependent_unit d
                                   WHERE d.code = s.code) AS is_new,
                   NULL::date AS day, NULL::date AS next_day,
                   false AS office_repeat, NULL::date AS office_to,
                   false AS status_repeat, NULL::date AS status_to
            FROM stage_enterprise_in s""")
        self.sql("""UPDATE stage_enterprise SET
                        day = coalesce(change_date, CASE WHEN is_new THEN founding_date
                                                         ELSE CAST(:eff AS date) END)""")
        self.sql("UPDATE stage_enterprise SET address_since = day WHERE address_since IS NULL")
        place = f"""UPDATE stage_enterprise s SET unit_id = u.id,
                            current_unit_id = {current_unit("u")}
                     FROM ref.admin_unit u
                     WHERE {unit_at("u", "s.commune_code", "s.address_since")}"""
        self.sql(place)
        # A unit's name is versioned with its office, but ``address_since`` dates the
        # office only. A row that keeps the office the registry records and renames the
        # unit speaks from its own day (not from when the unit moved in); one that
        # restates the name the unit took since it moved in, from that renaming.
        renamed = self.sql("""
            UPDATE stage_enterprise s
               SET address_since = CASE WHEN o.name IS DISTINCT FROM s.name THEN s.day
                                        ELSE o.valid_from END
            FROM enterprise.dependent_unit_office o
            WHERE s.is_unit AND o.dependent_unit_code = s.code
              AND o.superseded_at IS NULL AND o.valid_from <= s.day
              AND (o.valid_to IS NULL OR o.valid_to > s.day)
              AND o.address_line = s.address AND o.unit_id IN (s.unit_id, s.current_unit_id)
              AND CASE WHEN o.name IS DISTINCT FROM s.name THEN s.address_since < s.day
                       ELSE s.address_since < o.valid_from AND EXISTS (
                           SELECT 1 FROM enterprise.dependent_unit_office p
                           WHERE p.dependent_unit_code = o.dependent_unit_code
                             AND p.superseded_at IS NULL AND p.valid_to = o.valid_from
                             AND p.address_line = o.address_line AND p.name <> o.name) END
            RETURNING s.row_number""").all()
        if renamed:
            self.sql(f"{place} AND s.row_number = ANY(:renamed)",
                     renamed=[number for (number,) in renamed])
        self.sql("CREATE INDEX ON stage_enterprise (code)")
        self.sql("ANALYZE stage_enterprise")
        self._check_rows()
        self._check_references()
        self._check_periods()
        self.sql("""UPDATE stage_enterprise s SET next_day = n.next_day
                    FROM (SELECT row_number, lead(day) OVER (PARTITION BY code ORDER BY day)
                                 AS next_day
                          FROM stage_enterprise WHERE reject IS NULL) n
                    WHERE n.row_number = s.row_number""")

    def _check_rows(self) -> None:
        if self.checker.changes:
            self.reject_where(reasons.UNKNOWN_ENTERPRISE, "code", "s.is_new", "s.code")
            self.reject_where(
                reasons.DUPLICATE_ENTERPRISE_CODE, "code",
                "(s.code, s.change_date) IN (SELECT code, change_date FROM stage_enterprise "
                "GROUP BY 1, 2 HAVING count(*) > 1)", "s.code")
        else:
            self.reject_where(
                reasons.DUPLICATE_ENTERPRISE_CODE, "code",
                "s.code IN (SELECT code FROM stage_enterprise GROUP BY 1 HAVING count(*) > 1)",
                "s.code")
        reject_units_not_found(self, "commune_code", "commune_code", "unit_id", "address_since")
        self.reject_where(
            reasons.AMBIGUOUS_COMMUNE_SUCCESSOR, "commune_code",
            "s.unit_id IS NOT NULL AND s.current_unit_id IS NULL", "s.commune_code")
        reject_unknown_codes(self, "legal_form", "legal_form", "ref.legal_form", "Legal form",
                             "DNTN, TNHH1, TNHH2, CP, HD, HTX, LHHTX, HKD, DNNN")
        reject_unknown_codes(self, "status", "status", "ref.enterprise_status", "Status",
                             "active, suspended, dissolving, dissolved, bankrupt, merged, split",
                             required=True)
        reject_unknown_codes(self, "unit_kind", "unit_kind", "ref.dependent_unit_kind",
                             "Unit kind", "branch, rep_office, location")
        reject_unknown_codes(self, "currency", "currency", "ref.currency", "Currency",
                             "ISO 4217 codes")
        self.reject_where(
            reasons.UNKNOWN_CODE, "representatives",
            "EXISTS (SELECT 1 FROM unnest(s.rep_titles) t WHERE NOT EXISTS "
            "(SELECT 1 FROM ref.representative_title r WHERE r.code = t))",
            "(SELECT t FROM unnest(s.rep_titles) t WHERE NOT EXISTS "
            "(SELECT 1 FROM ref.representative_title r WHERE r.code = t) LIMIT 1)",
            what="Representative title",
            expected="director, general_director, chair_council, chair_board, ...")
        self.reject_where(
            reasons.UNKNOWN_INDUSTRY_CODE, "main_line",
            "EXISTS (SELECT 1 FROM unnest(s.lines) l WHERE NOT EXISTS "
            "(SELECT 1 FROM ref.industry i WHERE i.code = l))",
            "(SELECT l FROM unnest(s.lines) l WHERE NOT EXISTS "
            "(SELECT 1 FROM ref.industry i WHERE i.code = l) LIMIT 1)")
        self.reject_where(
            reasons.MISSING_REQUIRED_FIELD, "successor_code",
            "s.status = 'merged' AND s.successor_code IS NULL", "''",
            context=" for a merged enterprise")
        # Nothing changes after an enterprise ended but its record: a row of a later day
        # must say what the registry says (a snapshot that repeats it changes nothing).
        ended = _ENDED.format(code="s.code", day="s.day - 1")
        self.reject_where(
            reasons.CHANGE_AFTER_DISSOLUTION, "code",
            f"""NOT s.is_new AND EXISTS ({ended}) AND (
                  s.status IS DISTINCT FROM (SELECT st.status FROM enterprise.enterprise_status st
                      WHERE st.enterprise_code = s.code AND st.superseded_at IS NULL
                        AND st.valid_to IS NULL)
                  OR s.name_key IS DISTINCT FROM (SELECT n.name_key
                      FROM enterprise.enterprise_name n WHERE n.enterprise_code = s.code
                        AND n.superseded_at IS NULL AND n.valid_to IS NULL)
                  OR s.address IS DISTINCT FROM (SELECT h.address_line
                      FROM enterprise.head_office h WHERE h.enterprise_code = s.code
                        AND h.superseded_at IS NULL AND h.valid_to IS NULL))""",
            "s.code",
            columns={"status": f"(SELECT e.status FROM ({ended}) e)",
                     "ended": f"(SELECT e.valid_from FROM ({ended}) e)", "day": "s.day"})
        # Within a change file: a row dated after an earlier row of the file ended it.
        self.reject_where(
            reasons.CHANGE_AFTER_DISSOLUTION, "code",
            """EXISTS (SELECT 1 FROM stage_enterprise o JOIN ref.enterprise_status k
                         ON k.code = o.status AND k.final
                       WHERE o.code = s.code AND o.reject IS NULL
                         AND coalesce(o.status_since, o.day) < s.day
                         AND o.row_number <> s.row_number)""",
            "s.code",
            columns={"status": "(SELECT o.status FROM stage_enterprise o JOIN "
                               "ref.enterprise_status k ON k.code = o.status AND k.final "
                               "WHERE o.code = s.code ORDER BY o.day LIMIT 1)",
                     "ended": "(SELECT coalesce(o.status_since, o.day) FROM stage_enterprise o "
                              "JOIN ref.enterprise_status k ON k.code = o.status AND k.final "
                              "WHERE o.code = s.code ORDER BY o.day LIMIT 1)",
                     "day": "s.day"})

    def _check_periods(self) -> None:
        """The head office and the status are dated by their own ``since`` column, which
        may lie before the row's day. A row restating the office (status) of the row
        before it is no change; one giving another from before that row's day
        contradicts it and is rejected. Then each period ends at the next change's day."""
        for fact, field, flag, end, since, values, rows in _PERIODS:
            window = "WINDOW w AS (PARTITION BY code ORDER BY day)"
            periods = f"""SELECT row_number, code, {since} AS since, lag(day) OVER w AS earlier,
                                 lag(row_number) OVER w IS NOT NULL
                                 AND ROW({values}) IS NOT DISTINCT FROM lag(ROW({values})) OVER w
                                 AS repeat
                          FROM stage_enterprise WHERE reject IS NULL AND {rows} {window}"""
            # Rejecting a row makes its neighbours adjacent: repeat until nothing conflicts.
            while True:
                self.sql(f"CREATE TEMP TABLE stage_period ON COMMIT DROP AS {periods}")
                found = self.reject_where(
                    reasons.CONFLICTING_PERIOD, field,
                    "s.row_number IN (SELECT row_number FROM stage_period "
                    "WHERE NOT repeat AND since < earlier)", "s.code",
                    columns={"since": "(SELECT since FROM stage_period p "
                                      "WHERE p.row_number = s.row_number)",
                             "earlier": "(SELECT earlier FROM stage_period p "
                                        "WHERE p.row_number = s.row_number)"},
                    fact=fact)
                if self.checker.changes:
                    found += self._reject_back_dated(fact, field, since)
                if not found:
                    break
                self.sql("DROP TABLE stage_period")
            self.sql(f"""UPDATE stage_enterprise s SET {flag} = p.repeat FROM stage_period p
                         WHERE p.row_number = s.row_number""")
            self.sql("DROP TABLE stage_period")
            self.sql(f"""UPDATE stage_enterprise s SET {end} = n.next_day
                         FROM (SELECT row_number, lead(day) OVER w AS next_day
                               FROM stage_enterprise WHERE reject IS NULL AND NOT {flag}
                               {window}) n
                         WHERE n.row_number = s.row_number""")

    def _reject_back_dated(self, fact: str, field: str, since: str) -> int:
        """A change file's first row of an enterprise for ``fact`` may date it back into
        the registry's current period, not before it: that would silently replace
        history the registry has recorded (a snapshot row may correct it)."""
        # ``since`` names the staged row's columns: it stays outside the subquery.
        registry = f"({_REGISTRY_SINCE[fact]})"
        return int(self.reject_where(
            reasons.BACK_DATED_CHANGE, field,
            f"""NOT s.is_unit AND s.row_number IN (SELECT row_number FROM stage_period
                                                   WHERE earlier IS NULL)
                AND {since} < {registry}""", "s.code",
            columns={"since": since, "earlier": registry}, fact=fact))

    def _check_references(self) -> None:
        """Cross-registry checks: persons alive and adult on the day, enterprises known
        and active; then the references to rows this load rejects, until none is left."""
        self.sql("""
            CREATE TEMP TABLE stage_role ON COMMIT DROP AS
            SELECT s.row_number, s.code, s.day, r.who, r.kind
            FROM stage_enterprise s,
                 LATERAL (SELECT id, 'representative' FROM unnest(s.rep_ids) id
                          UNION ALL SELECT id, 'owner' FROM unnest(s.owner_ids) id)
                 AS r(who, kind)""")
        self.sql("CREATE INDEX ON stage_role (row_number)")
        self.sql("ANALYZE stage_role")
        first = ("(SELECT r.who FROM stage_role r LEFT JOIN population.person p "
                 "ON p.national_id = r.who WHERE r.row_number = s.row_number "
                 "AND r.kind = '{kind}' AND length(r.who) = 12 AND {cond} "
                 "ORDER BY r.who LIMIT 1)")
        person_of = ("(SELECT p.{col} FROM population.person p WHERE p.national_id = "
                     + "{who})")
        for kind, unknown, deceased in (
                ("representative", reasons.UNKNOWN_REPRESENTATIVE,
                 reasons.REPRESENTATIVE_DECEASED),
                ("owner", reasons.UNKNOWN_OWNER, reasons.OWNER_DECEASED)):
            field = "representatives" if kind == "representative" else "owners"
            missing = first.format(kind=kind, cond="p.national_id IS NULL")
            self.reject_where(unknown, field, f"{missing} IS NOT NULL", missing,
                              why="not in the population registry")
            dead = first.format(kind=kind, cond="p.death_date <= r.day")
            self.reject_where(deceased, field, f"{dead} IS NOT NULL", dead,
                              columns={"death_date": person_of.format(col="death_date",
                                                                      who=dead),
                                       "day": "s.day"})
        minor = first.format(kind="representative",
                             cond="p.birth_date > r.day - CAST(:adult AS interval)")
        self.reject_where(reasons.REPRESENTATIVE_MINOR, "representatives",
                          f"{minor} IS NOT NULL", minor,
                          columns={"birth_date": person_of.format(col="birth_date", who=minor),
                                   "day": "s.day"})
        self._check_enterprise_owners()
        self._check_cycles()

    def _check_enterprise_owners(self) -> None:
        # A rejected row can leave a unit without its parent, a merger without its
        # successor or an owner unknown, and their rejection others: repeat until a pass
        # rejects nothing more (each pass rejects at least one row, so it ends).
        # Each condition is a pair of anti-joins (NOT EXISTS ... AND NOT EXISTS ...), which
        # the planner runs as hash joins over the whole file, not as a probe per row.
        unknown = ("NOT EXISTS (SELECT 1 FROM stage_enterprise o WHERE o.code = {c} "
                   "AND o.reject IS NULL AND NOT o.is_unit) AND NOT EXISTS "
                   "(SELECT 1 FROM enterprise.enterprise e WHERE e.code = {c})")
        owners_unknown = ("SELECT r.row_number, r.who FROM stage_role r "
                          "WHERE r.kind = 'owner' AND length(r.who) = 10 AND "
                          + unknown.format(c="r.who"))
        while True:
            found = self.reject_where(
                reasons.UNKNOWN_PARENT_ENTERPRISE, "code",
                f"s.is_unit AND {unknown.format(c='s.parent_code')}", "s.code",
                columns={"parent": "s.parent_code"})
            found += self.reject_where(
                reasons.UNKNOWN_SUCCESSOR, "successor_code",
                f"s.successor_code IS NOT NULL AND {unknown.format(c='s.successor_code')}",
                "s.successor_code")
            found += self.reject_where(
                reasons.UNKNOWN_OWNER, "owners",
                f"s.row_number IN (SELECT row_number FROM ({owners_unknown}) AS u)",
                f"(SELECT min(u.who) FROM ({owners_unknown}) AS u "
                "WHERE u.row_number = s.row_number)",
                why="neither an enterprise of this file nor of the registry")
            if not found:
                break
        # An owner enterprise must be active on the day: neither ended in the registry
        # nor by its own row of this file.
        enterprise_owners = ("SELECT r.row_number, r.who FROM stage_role r "
                             "WHERE r.kind = 'owner' AND length(r.who) = 10 AND ")
        ended_owners = (
            enterprise_owners + "EXISTS (" + _ENDED.format(code="r.who", day="r.day") + ")"
            " UNION " + enterprise_owners
            + "EXISTS (SELECT 1 FROM stage_enterprise o JOIN ref.enterprise_status k "
            "ON k.code = o.status AND k.final WHERE o.code = r.who AND o.reject IS NULL "
            "AND coalesce(o.status_since, o.day) <= r.day)")
        self.reject_where(reasons.OWNER_NOT_ACTIVE, "owners",
                          f"s.row_number IN (SELECT row_number FROM ({ended_owners}) AS u)",
                          f"(SELECT min(u.who) FROM ({ended_owners}) AS u "
                          "WHERE u.row_number = s.row_number)",
                          columns={"day": "s.day"}, status="no longer active")

    def _check_cycles(self) -> None:
        """Reject the rows whose enterprise would own itself, through the file's owners and
        the registry's current ones for enterprises the file does not restate."""
        self.sql("""
            CREATE TEMP TABLE stage_owns ON COMMIT DROP AS
            SELECT r.who AS owner, r.code AS owned FROM stage_role r
            JOIN stage_enterprise s ON s.row_number = r.row_number AND s.reject IS NULL
            WHERE r.kind = 'owner' AND length(r.who) = 10
              AND s.next_day IS NULL
            UNION
            SELECT o.owner_enterprise_code, o.enterprise_code FROM enterprise.ownership o
            WHERE o.owner_enterprise_code IS NOT NULL AND o.superseded_at IS NULL
              AND o.valid_to IS NULL
              AND NOT EXISTS (SELECT 1 FROM stage_enterprise s
                              WHERE s.code = o.enterprise_code AND s.reject IS NULL)""")
        self.sql("""
            CREATE TEMP TABLE stage_cycle ON COMMIT DROP AS
            WITH RECURSIVE walk(start, here, path) AS (
                SELECT owned, owner, ARRAY[owned, owner] FROM stage_owns
                UNION ALL
                SELECT w.start, o.owner, w.path || o.owner
                FROM walk w JOIN stage_owns o ON o.owned = w.here
                WHERE o.owner <> ALL (w.path[2:]) AND w.here <> w.start
                  AND cardinality(w.path) < 64)
            SELECT DISTINCT ON (start) start, array_to_string(path, ' → ') AS path
            FROM walk WHERE here = start ORDER BY start, cardinality(path)""")
        self.reject_where(
            reasons.OWNERSHIP_CYCLE, "owners",
            "s.code IN (SELECT start FROM stage_cycle)", "s.code",
            columns={"path": "(SELECT c.path FROM stage_cycle c WHERE c.start = s.code)"})

    # -- merge ---------------------------------------------------------------------------

    def merge(self) -> tuple[int, int, int]:
        self.sql("DELETE FROM stage_enterprise WHERE reject IS NOT NULL")
        self.sql("ANALYZE stage_enterprise")
        staged = int(self.sql("SELECT count(DISTINCT code) FROM stage_enterprise").scalar_one())
        self.sql("CREATE TEMP TABLE changed (code text) ON COMMIT DROP")
        inserted, _ = upsert(
            self.conn, "enterprise.enterprise", ("code", "founding_date", "load_run_id"),
            ("code",),
            """SELECT DISTINCT ON (code) code, founding_date, :run_id FROM stage_enterprise
               WHERE NOT is_unit ORDER BY code, day""",
            compare=("founding_date",), params={"run_id": self.run_id}, changed_table="changed")
        units, _ = upsert(
            self.conn, "enterprise.dependent_unit",
            ("code", "parent_code", "kind", "founding_date", "load_run_id"), ("code",),
            """SELECT DISTINCT ON (code) code, parent_code, unit_kind, founding_date, :run_id
               FROM stage_enterprise WHERE is_unit ORDER BY code, day""",
            compare=("kind", "founding_date"), params={"run_id": self.run_id},
            changed_table="changed")
        for fact in self._facts():
            apply_versions(self.conn, fact, {"eff": self.checker.effective_date,
                                             "reorg": REORGANISATION_2025},
                           changed_table="changed")
        updated = int(self.sql("""
            SELECT count(DISTINCT c.code) FROM changed c
            WHERE NOT EXISTS (SELECT 1 FROM stage_enterprise s
                              WHERE s.code = c.code AND s.is_new)""").scalar_one())
        return (inserted + units, updated, staged - inserted - units - updated)

    def _facts(self) -> list[Versioned]:
        firms = "FROM stage_enterprise WHERE NOT is_unit"

        def plain(table: str, values: tuple[str, ...], select: str,
                  where: str = "") -> Versioned:
            return Versioned(
                f"enterprise.{table}", ("enterprise_code",), values,
                scope=f"SELECT code, day {firms}",
                versions=f"SELECT code, {select}, day, next_day {firms} {where}")

        def role(table: str, subject: str, value: str, members: str) -> Versioned:
            # A row states all of its enterprise's lines, representatives or owners
            # (``members``: rows (k, v) of the staged row s): the registry's current ones
            # that the row leaves out end on its day.
            return Versioned(
                f"enterprise.{table}", ("enterprise_code", subject), (value,),
                scope=f"""SELECT s.code, l.k, s.day FROM stage_enterprise s,
                                 LATERAL ({members}) AS l(k, v) WHERE NOT s.is_unit
                          UNION ALL
                          SELECT s.code, t.{subject}, s.day FROM stage_enterprise s
                          JOIN enterprise.{table} t ON t.enterprise_code = s.code
                           AND t.{subject} IS NOT NULL AND t.superseded_at IS NULL
                           AND (t.valid_to IS NULL OR t.valid_to > s.day)
                          WHERE NOT s.is_unit""",
                versions=f"""SELECT s.code, l.k, l.v, s.day, s.next_day
                             FROM stage_enterprise s, LATERAL ({members}) AS l(k, v)
                             WHERE NOT s.is_unit""")

        def offices(key: str, values: str, rows: str, end: str) -> str:
            # Before 2025-07-01 an office is in the old commune, after it in the successor.
            return f"""SELECT {key}, {values}, unit_id, address_since,
                              CASE WHEN unit_id <> current_unit_id
                                   THEN least(CAST(:reorg AS date), {end}) ELSE {end} END
                       {rows}
                       UNION ALL
                       SELECT {key}, {values}, current_unit_id, CAST(:reorg AS date), {end}
                       {rows} AND unit_id <> current_unit_id
                              AND ({end} IS NULL OR {end} > :reorg)"""

        return [
            plain("enterprise_name", ("name", "foreign_name", "abbreviation", "name_key"),
                  "name, foreign_name, abbreviation, name_key"),
            plain("enterprise_form", ("legal_form",), "legal_form"),
            plain("charter_capital", ("amount", "currency"), "capital, currency",
                  "AND capital IS NOT NULL"),
            # A new enterprise is active from its founding until its status says otherwise.
            Versioned(
                "enterprise.enterprise_status", ("enterprise_code",),
                ("status", "successor_code"),
                scope=f"""SELECT code, CASE WHEN is_new THEN founding_date
                                            ELSE least(day, coalesce(status_since, day)) END
                          {firms} AND NOT status_repeat""",
                versions=f"""SELECT code, status, successor_code,
                                    CASE WHEN is_new AND change_date IS NULL THEN
                                         coalesce(status_since, founding_date)
                                    ELSE coalesce(status_since, day) END, status_to {firms}
                                AND NOT status_repeat
                             UNION ALL
                             SELECT code, 'active', NULL, founding_date, status_since {firms}
                               AND is_new AND status <> 'active'
                               AND status_since > founding_date"""),
            Versioned(
                "enterprise.head_office", ("enterprise_code",), ("address_line", "unit_id"),
                scope=f"SELECT code, least(day, address_since) {firms} AND NOT office_repeat",
                versions=offices("code", "address", f"{firms} AND NOT office_repeat",
                                 "office_to")),
            role("business_line", "industry_code", "is_main",
                 "SELECT c, n = 1 FROM unnest(s.lines) WITH ORDINALITY AS u(c, n)"),
            role("legal_representative", "national_id", "title",
                 "SELECT * FROM unnest(s.rep_ids, s.rep_titles)"),
            role("ownership", "owner_national_id", "share",
                 "SELECT * FROM unnest(s.owner_ids, s.owner_shares) AS u(id, share) "
                 "WHERE length(id) = 12"),
            role("ownership", "owner_enterprise_code", "share",
                 "SELECT * FROM unnest(s.owner_ids, s.owner_shares) AS u(id, share) "
                 "WHERE length(id) = 10"),
            # A unit's name and office; a closed unit's last office ends when it closed.
            Versioned(
                "enterprise.dependent_unit_office", ("dependent_unit_code",),
                ("name", "address_line", "unit_id"),
                scope="SELECT code, least(day, address_since) FROM stage_enterprise "
                      "WHERE is_unit AND NOT office_repeat",
                versions=offices(
                    "code", "name, address",
                    "FROM stage_enterprise WHERE is_unit AND NOT office_repeat",
                    "coalesce(office_to, CASE WHEN status <> 'active' THEN status_since END)")),
        ]
