"""``mdr load population``: snapshots and event files into the population registry.

extract (CSV / JSON Lines, through a profile) → normalise (NFC, whitespace, dates in
ISO and Vietnamese forms, sex words) → validate each row (identifier rules, dates)
→ COPY valid rows into staging → set-based checks in SQL (duplicates, units in
force at their dates, the 2025 crosswalk, codes, family references) → merge with
history (``loaders.history``) in one transaction holding the registry's lock →
record the run and its rejected rows.

Counts: for a snapshot, persons inserted (new), updated (any of their facts changed)
and unchanged; for an event file, events inserted (newly recorded, with their
effects applied) and unchanged (already recorded).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from loaders.base import (
    LoadFailed,
    LoadResult,
    RowIssue,
    copy_rows,
    finish_run,
    start_run,
    take_registry_lock,
    timed,
)
from loaders.history import Versioned, apply_versions
from loaders.rules.identifiers import check_personal_number
from loaders.rules.text import clean, name_key
from loaders.sources.population_layout import (
    EVENT_TYPES,
    REQUIRED_SNAPSHOT_FIELDS,
    SNAPSHOT_FIELDS,
)
from loaders.sources.readers import Profile, ReadLimits, SourceError, read_records
from schemas.temporal import in_force

REGISTRY = "population"
REORGANISATION = dt.date(2025, 7, 1)
MAX_AGE_YEARS = 125
DEFAULT_REJECT_THRESHOLD = 0.10

_DATE_DMY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})")
_DATE_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SEX_WORDS = {"male": "male", "female": "female", "nam": "male", "nữ": "female", "nu": "female",
              "m": "male", "f": "female"}


class AbortedLoad(Exception):
    """Raised inside the load transaction to roll it back on purpose."""


@dataclass(frozen=True)
class Options:
    """How one load runs."""

    effective_date: dt.date
    reject_threshold: float = DEFAULT_REJECT_THRESHOLD
    profile: str | None = None
    kind: str | None = None  # snapshot or events; None: from the file's header
    limits: ReadLimits = dataclasses.field(default_factory=ReadLimits)
    """Bounds on records and decompressed size (settings MDR_LOAD_MAX_*)."""


def parse_date(value: str) -> dt.date | str | None:
    """A date from ISO or Vietnamese day-first forms; None when blank; a str when invalid."""
    if not value:
        return None
    match = _DATE_ISO.fullmatch(value)
    if match:
        year, month, day = (int(g) for g in match.groups())
    else:
        match = _DATE_DMY.fullmatch(value)
        if not match:
            return f"{value!r} is not a date (use YYYY-MM-DD or DD/MM/YYYY)"
        day, month, year = (int(g) for g in match.groups())
    try:
        return dt.date(year, month, day)
    except ValueError:
        return f"{value!r} is not a date that exists"


def years_between(earlier: dt.date, later: dt.date) -> int:
    return later.year - earlier.year - ((later.month, later.day) < (earlier.month, earlier.day))


# -- rows: normalise and validate ------------------------------------------------------------


class RowChecker:
    """Normalises and validates rows of one file, collecting RowIssues."""

    def __init__(self, source: str, effective_date: dt.date, province_codes: set[str]) -> None:
        self.source = source
        self.effective_date = effective_date
        self.province_codes = province_codes
        self.issues: list[RowIssue] = []

    def reject(self, row: int, slug: str, field: str | None, value: str | None,
               message: str) -> None:
        self.issues.append(RowIssue(slug, message, row, field, value, self.source))

    def dates(self, number: int, rec: dict[str, str], fields: Iterable[str]
              ) -> dict[str, dt.date | None] | None:
        out: dict[str, dt.date | None] = {}
        for name in fields:
            parsed = parse_date(rec.get(name, ""))
            if isinstance(parsed, str):
                self.reject(number, "invalid-date", name, rec.get(name), f"{name}: {parsed}.")
                return None
            out[name] = parsed
        return out

    def text_ok(self, number: int, rec: dict[str, str]) -> bool:
        """Reject control characters (a NUL cannot even be stored) instead of failing."""
        if not _CONTROL.search("".join(rec.values())):
            return True
        for name, value in rec.items():
            if _CONTROL.search(value):
                self.reject(number, "invalid-text", name, value.encode("unicode_escape")
                            .decode("ascii"), f"{name} contains control characters; "
                            "remove them and resubmit the row.")
                return False
        return True

    def snapshot_row(self, number: int, rec: dict[str, str]) -> tuple[Any, ...] | None:
        """A staged tuple for a valid snapshot row, or None (issue recorded)."""
        rec = {k: clean(rec.get(k) or "") for k in SNAPSHOT_FIELDS}
        if not self.text_ok(number, rec):
            return None
        for name in REQUIRED_SNAPSHOT_FIELDS:
            if not rec[name]:
                self.reject(number, "missing-required-field", name, "",
                            f"{name} is required and is blank; fill it in and resubmit the row.")
                return None
        sex = _SEX_WORDS.get(rec["sex"].casefold())
        if sex is None:
            self.reject(number, "invalid-sex", "sex", rec["sex"],
                        f"Sex {rec['sex']!r} is neither male nor female.")
            return None
        dates = self.dates(number, rec, ("birth_date", "death_date", "residence_since"))
        if dates is None:
            return None
        birth, death, since = dates["birth_date"], dates["death_date"], dates["residence_since"]
        assert birth is not None and since is not None
        for violation in check_personal_number(rec["national_id"], sex=sex, birth_date=birth,
                                               province_codes=self.province_codes):
            self.reject(number, violation.slug, violation.field, rec["national_id"],
                        violation.message)
            return None
        if birth > self.effective_date:
            self.reject(number, "birth-in-future", "birth_date", str(birth),
                        f"Birth date {birth} is after the load's effective date "
                        f"{self.effective_date}.")
            return None
        if death is not None and death < birth:
            self.reject(number, "birth-after-death", "death_date", str(death),
                        f"Death date {death} is before the birth date {birth}.")
            return None
        if death is None and years_between(birth, self.effective_date) > MAX_AGE_YEARS:
            self.reject(number, "implausible-age", "birth_date", str(birth),
                        f"A living person born {birth} would be over {MAX_AGE_YEARS}; check the "
                        "birth date or record the death.")
            return None
        if since < birth:
            self.reject(number, "invalid-date", "residence_since", str(since),
                        f"Residence since {since} is before the birth date {birth}.")
            return None
        for name in ("father_id", "mother_id", "spouse_id"):
            if rec[name] and rec[name] == rec["national_id"]:
                self.reject(number, "unknown-related-person", name, rec[name],
                            f"{name} is the person's own number.")
                return None
        full_name = " ".join(p for p in (rec["family_name"], rec["middle_name"],
                                         rec["given_name"]) if p)
        return (
            number, rec["national_id"], rec["family_name"], rec["middle_name"] or None,
            rec["given_name"], full_name, name_key(full_name), sex, birth,
            rec["birth_place_code"] or None,
            (rec["nationality"] or "VN").upper(), rec["ethnic_group"] or None, death,
            rec["address"], rec["commune_code"], since, rec["household_id"] or None,
            rec["relation_to_head"] or None, rec["father_id"] or None, rec["mother_id"] or None,
            rec["spouse_id"] or None,
        )

    def event_row(self, number: int, rec: dict[str, str]) -> tuple[Any, ...] | None:
        rec = {k: clean(v or "") for k, v in rec.items()}
        if not self.text_ok(number, rec):
            return None
        event_type = rec.get("event_type", "")
        if event_type not in EVENT_TYPES:
            self.reject(number, "unknown-code", "event_type", event_type,
                        f"Event type {event_type!r} is not one of {', '.join(EVENT_TYPES)}.")
            return None
        needed = {"residence-change": ("address", "commune_code"),
                  "name-change": ("family_name", "given_name"),
                  "marriage": ("spouse_id",), "divorce": ("spouse_id",)}.get(event_type, ())
        for name in ("national_id", "event_date", *needed):
            if not rec.get(name):
                self.reject(number, "missing-required-field", name, "",
                            f"{name} is required for a {event_type} event and is blank.")
                return None
        dates = self.dates(number, rec, ("event_date",))
        if dates is None:
            return None
        day = dates["event_date"]
        assert day is not None
        if day > self.effective_date:
            self.reject(number, "invalid-date", "event_date", str(day),
                        f"Event date {day} is after the load's effective date.")
            return None
        return (number, event_type, rec["national_id"], day, rec.get("place_code") or None,
                rec.get("source_document") or None, rec.get("address") or None,
                rec.get("commune_code") or None, rec.get("family_name") or None,
                rec.get("middle_name") or None, rec.get("given_name") or None,
                rec.get("spouse_id") or None)


# -- the load ---------------------------------------------------------------------------------


def file_kind(path: Path, profile: Profile, requested: str | None,
              limits: ReadLimits | None = None) -> str:
    if requested:
        return requested
    for _, first in read_records(path, profile, limits):
        if isinstance(first, dict):
            return "events" if "event_type" in first else "snapshot"
        break
    return "snapshot"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def legacy_province_codes(conn: Connection) -> set[str]:
    """Three-digit birth-registration prefixes: the pre-2025 provinces."""
    rows = conn.execute(text("SELECT '0' || code FROM ref.admin_unit WHERE level = 'province' "
                             "AND valid_to = :d"), {"d": REORGANISATION}).scalars()
    return set(rows)


def load_population(engine: Engine, path: Path, options: Options,
                    progress: Callable[[int], None] | None = None) -> LoadResult:
    """Load one snapshot or event file; commits whole or leaves the registry untouched."""
    profile = Profile.load(options.profile)
    result = LoadResult(REGISTRY)
    result.run_id = start_run(engine, REGISTRY, str(path), source_sha256=sha256(path),
                              profile=profile.name, effective_date=options.effective_date)
    try:
        kind = file_kind(path, profile, options.kind, options.limits)
        result.details["kind"] = kind
        with timed(result), engine.begin() as conn:
            take_registry_lock(conn, REGISTRY, result.run_id)
            checker = RowChecker(path.name, options.effective_date, legacy_province_codes(conn))
            staging = SnapshotStage if kind == "snapshot" else EventStage
            stage = staging(conn, checker, options, result.run_id)
            result.read = stage.copy_in(path, profile, progress)
            stage.check()
            result.issues = checker.issues
            rejected = result.rejected
            if result.read and rejected / result.read > options.reject_threshold:
                result.status = "aborted"
                result.message = (
                    f"{rejected} of {result.read} rows ({rejected / result.read:.1%}) were "
                    f"rejected, more than the threshold of {options.reject_threshold:.0%}; "
                    "nothing was applied. Fix the rejected rows and resubmit the file.")
                raise AbortedLoad
            counts = stage.merge()
            result.add(counts)
            result.status = "committed"
    except AbortedLoad:
        pass
    except SourceError as exc:
        # The file cannot be read to its end: none of it is applied (the transaction
        # rolled back), and its rows are not judged one by one.
        result.status = "aborted"
        result.message = str(exc)
    except Exception as exc:
        result.status = "failed"
        result.message = f"{type(exc).__name__}: {exc}"
        finish_run(engine, result)
        raise LoadFailed(result) from exc
    finish_run(engine, result)
    return result


class Stage:
    """Staging for one file: COPY in, check in SQL, merge."""

    table = ""
    copy_table = ""
    """Where the rows are copied; the table itself when empty."""
    columns: tuple[str, ...] = ()

    def __init__(self, conn: Connection, checker: RowChecker, options: Options,
                 run_id: int) -> None:
        self.conn = conn
        self.checker = checker
        self.options = options
        self.run_id = run_id

    def sql(self, statement: str, **params: Any) -> Any:
        return self.conn.execute(text(statement), {"eff": self.options.effective_date,
                                                   "reorg": REORGANISATION,
                                                   "run_id": self.run_id, **params})

    def validate(self, number: int, rec: dict[str, str]) -> tuple[Any, ...] | None:
        raise NotImplementedError

    def copy_in(self, path: Path, profile: Profile,
                progress: Callable[[int], None] | None) -> int:
        read = 0

        def rows() -> Iterable[tuple[Any, ...]]:
            nonlocal read
            for number, rec in read_records(path, profile, self.options.limits):
                read += 1
                if progress is not None and read % 10_000 == 0:
                    progress(read)
                if isinstance(rec, str):
                    self.checker.reject(number, "unreadable-row", None, None, rec)
                    continue
                staged = self.validate(number, rec)
                if staged is not None:
                    yield staged

        copy_rows(self.conn, self.copy_table or self.table, self.columns, rows())
        if progress is not None:
            progress(read)
        return read

    def reject_where(self, slug: str, field: str, condition: str, message_sql: str,
                     value_sql: str | None = None, **params: Any) -> int:
        """Mark staged rows matching ``condition`` rejected (first reason wins)."""
        rows = self.sql(f"""
            UPDATE {self.table} s SET reject = :slug
            WHERE s.reject IS NULL AND ({condition})
            RETURNING s.row_number, {value_sql or 'NULL'}::text, {message_sql}""",
                        slug=slug, **params).all()
        for number, value, message in rows:
            self.checker.reject(number, slug, field, value, message)
        return len(rows)

    def check(self) -> None:
        raise NotImplementedError

    def merge(self) -> tuple[int, int, int]:
        raise NotImplementedError


def set_unit_at(table: str, target: str, code: str, day: str) -> str:
    """UPDATE that sets ``target`` to the commune with code ``code`` in force on ``day``.

    At most one version of a code is in force on a day (an exclusion constraint
    says so), so the join finds at most one unit.
    """
    return f"""UPDATE {table} s SET {target} = u.id FROM ref.admin_unit u
               WHERE u.level = 'commune' AND u.code = s.{code}
                 AND {in_force("u", f"s.{day}")}"""


def unit_exists(code_sql: str) -> str:
    return (f"EXISTS (SELECT 1 FROM ref.admin_unit u WHERE u.level = 'commune' "
            f"AND u.code = {code_sql})")


class SnapshotStage(Stage):
    table = "stage_person"
    copy_table = "stage_person_in"
    columns = ("row_number", "national_id", "family_name", "middle_name", "given_name",
               "full_name", "name_key", "sex", "birth_date", "birth_place_code", "nationality",
               "ethnic_group", "death_date", "address", "commune_code", "residence_since",
               "household_code", "relation", "father_id", "mother_id", "spouse_id")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql("""
            CREATE TEMP TABLE stage_person_in (
                row_number int, national_id text, family_name text, middle_name text,
                given_name text, full_name text, name_key text, sex text, birth_date date,
                birth_place_code text,
                nationality text, ethnic_group text, death_date date, address text,
                commune_code text, residence_since date, household_code text, relation text,
                father_id text, mother_id text, spouse_id text
            ) ON COMMIT DROP""")

    def validate(self, number: int, rec: dict[str, str]) -> tuple[Any, ...] | None:
        return self.checker.snapshot_row(number, rec)

    def check(self) -> None:
        # One pass adds what the checks and the merge need to the copied rows: the
        # communes in force at the residence and birth dates, the residence's commune
        # after 2025-07-01 (a commune split between several successors has none: it
        # cannot be resolved here), and whether the person is new. The registry does
        # not change before the merge: this load holds its lock.
        self.sql(f"""
            CREATE TEMP TABLE stage_person ON COMMIT DROP AS
            SELECT s.*, NULL::text AS reject, b.id AS birth_place_unit_id, u.id AS unit_id,
                   CASE WHEN u.valid_to IS NULL THEN u.id
                        ELSE (SELECT c.new_unit_id FROM ref.admin_unit_change c
                              WHERE c.old_unit_id = u.id AND c.whole_unit
                                AND NOT EXISTS (SELECT 1 FROM ref.admin_unit_change o
                                                WHERE o.old_unit_id = u.id
                                                  AND o.new_unit_id <> c.new_unit_id))
                   END AS current_unit_id,
                   NOT EXISTS (SELECT 1 FROM population.person p
                               WHERE p.national_id = s.national_id) AS is_new
            FROM stage_person_in s
            LEFT JOIN ref.admin_unit u
              ON u.level = 'commune' AND u.code = s.commune_code
             AND {in_force("u", "s.residence_since")}
            LEFT JOIN ref.admin_unit b
              ON b.level = 'commune' AND b.code = s.birth_place_code
             AND {in_force("b", "s.birth_date")}""")
        self.sql("CREATE INDEX ON stage_person (national_id)")
        self.sql("ANALYZE stage_person")
        self.reject_where(
            "duplicate-national-id", "national_id",
            "s.national_id IN "
            "(SELECT national_id FROM stage_person GROUP BY 1 HAVING count(*) > 1)",
            "'Personal number ' || s.national_id || ' appears on several rows of the file; "
            "none of them was loaded. Keep the right row and resubmit.'", "s.national_id")
        for code, day, field, target in (("commune_code", "residence_since", "commune_code",
                                          "unit_id"),
                                         ("birth_place_code", "birth_date", "birth_place_code",
                                          "birth_place_unit_id")):
            self.reject_where(
                "unknown-admin-unit", field,
                f"s.{code} IS NOT NULL AND NOT {unit_exists(f's.{code}')}",
                f"'Commune code ' || s.{code} || ' does not exist; check it against the list "
                "of units (mdr ref units).'", f"s.{code}")
            self.reject_where(
                "admin-unit-not-in-force", field,
                f"s.{code} IS NOT NULL AND s.{target} IS NULL",
                f"'Commune code ' || s.{code} || ' was not in force on ' || s.{day} || "
                f"'; give the code in force on that date.'", f"s.{code}")
        # Residences that began before the 2025 reorganisation and go on after it need the
        # successor unit.
        self.reject_where(
            "ambiguous-commune-successor", "commune_code",
            "s.unit_id IS NOT NULL AND s.current_unit_id IS NULL AND "
            "(s.death_date IS NULL OR s.death_date > :reorg)",
            "'Commune ' || s.commune_code || ' was divided on 2025-07-01 and the address does "
            "not say which new commune it is in; give the 2025 commune code and a residence "
            "date from 2025-07-01.'", "s.commune_code")
        self.reject_where(
            "unknown-code", "ethnic_group",
            "s.ethnic_group IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM ref.ethnic_group e WHERE e.code = s.ethnic_group)",
            "'Ethnic group ' || s.ethnic_group || ' is not one of the codes 01-54.'",
            "s.ethnic_group")
        self.reject_where(
            "unknown-code", "nationality",
            "NOT EXISTS (SELECT 1 FROM ref.country c WHERE c.code = s.nationality)",
            "'Nationality ' || s.nationality || ' is not an ISO 3166 alpha-2 code.'",
            "s.nationality")
        self.reject_where(
            "unknown-code", "relation_to_head",
            "s.relation IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM ref.household_relation r WHERE r.code = s.relation)",
            "'Relation ' || s.relation || ' is not one of head, spouse, child, parent, "
            "grandchild, sibling, other.'", "s.relation")
        self._check_family()

    def _check_family(self) -> None:
        # A rejected row can leave its relatives pointing at nobody: repeat until stable.
        for _ in range(5):
            found = 0
            for field, column in (("father_id", "father_id"), ("mother_id", "mother_id"),
                                  ("spouse_id", "spouse_id")):
                found += self.reject_where(
                    "unknown-related-person", field,
                    f"""s.{column} IS NOT NULL
                        AND NOT EXISTS (SELECT 1 FROM stage_person o
                                        WHERE o.national_id = s.{column} AND o.reject IS NULL)
                        AND NOT EXISTS (SELECT 1 FROM population.person p
                                        WHERE p.national_id = s.{column})""",
                    f"'{field} ' || s.{column} || ' is neither in this file nor in the "
                    "registry; load that person first or leave the field blank.'",
                    f"s.{column}")
            for field, column in (("father_id", "father_id"), ("mother_id", "mother_id")):
                found += self.reject_where(
                    "parent-younger-than-child", field,
                    f"""EXISTS (SELECT 1 FROM (SELECT o.birth_date FROM stage_person o
                                               WHERE o.national_id = s.{column}
                                                 AND o.reject IS NULL
                                               UNION ALL
                                               SELECT p.birth_date FROM population.person p
                                               WHERE p.national_id = s.{column}) parent
                                WHERE parent.birth_date > s.birth_date - interval '12 years')""",
                    f"'{field} ' || s.{column} || ' is not at least 12 years older than the "
                    "person; one of the two birth dates or the link is wrong.'",
                    f"s.{column}")
            if not found:
                break

    def merge(self) -> tuple[int, int, int]:
        self.sql("DELETE FROM stage_person WHERE reject IS NOT NULL")
        staged = int(self.sql("SELECT count(*) FROM stage_person").scalar_one())
        self.sql("CREATE TEMP TABLE changed (national_id text) ON COMMIT DROP")
        inserted = int(self.sql("""
            WITH merged AS (
                INSERT INTO population.person AS p (national_id, sex, birth_date,
                    birth_place_unit_id, nationality, ethnic_group, status, death_date,
                    load_run_id)
                SELECT national_id, sex, birth_date, birth_place_unit_id, nationality,
                       ethnic_group, CASE WHEN death_date IS NULL THEN 'alive'
                                          ELSE 'deceased' END, death_date, :run_id
                FROM stage_person
                ON CONFLICT (national_id) DO UPDATE SET
                    sex = EXCLUDED.sex, birth_date = EXCLUDED.birth_date,
                    birth_place_unit_id = EXCLUDED.birth_place_unit_id,
                    nationality = EXCLUDED.nationality, ethnic_group = EXCLUDED.ethnic_group,
                    status = EXCLUDED.status, death_date = EXCLUDED.death_date,
                    load_run_id = EXCLUDED.load_run_id, updated_at = now()
                WHERE (p.sex, p.birth_date, p.birth_place_unit_id, p.nationality,
                       p.ethnic_group, p.status, p.death_date)
                      IS DISTINCT FROM
                      (EXCLUDED.sex, EXCLUDED.birth_date, EXCLUDED.birth_place_unit_id,
                       EXCLUDED.nationality, EXCLUDED.ethnic_group, EXCLUDED.status,
                       EXCLUDED.death_date)
                RETURNING national_id, (xmax = 0) AS inserted
            ), noted AS (INSERT INTO changed SELECT national_id FROM merged)
            SELECT count(*) FILTER (WHERE inserted) FROM merged""").scalar_one())
        self._merge_history()
        updated = int(self.sql("""
            SELECT count(DISTINCT c.national_id) FROM changed c
            JOIN stage_person s USING (national_id) WHERE NOT s.is_new""").scalar_one())
        return (inserted, updated, staged - inserted - updated)

    def _merge_history(self) -> None:
        self.sql("""INSERT INTO population.household (household_code)
                    SELECT DISTINCT household_code FROM stage_person
                    WHERE household_code IS NOT NULL
                    ON CONFLICT (household_code) DO NOTHING""")
        # Each versioned fact: from which day the file speaks for it, and what it says
        # from then on. A new person's name holds from birth; an existing person's
        # differing name is a change as of the effective date.
        facts = [
            Versioned(
                "population.person_name", ("national_id",),
                ("family_name", "middle_name", "given_name", "full_name", "name_key"),
                scope="""SELECT national_id, CASE WHEN is_new THEN birth_date ELSE :eff END
                         FROM stage_person""",
                versions="""SELECT national_id, family_name, middle_name, given_name,
                                   full_name, name_key,
                                   CASE WHEN is_new THEN birth_date ELSE :eff END, NULL::date
                            FROM stage_person""",
            ),
            Versioned(
                "population.residence", ("national_id", "kind"),
                ("address_line", "unit_id"),
                scope="SELECT national_id, 'permanent', residence_since FROM stage_person",
                # Before 2025-07-01 the residence is in the old unit, after it in the
                # successor; it ends with the person's death.
                versions="""
                    SELECT national_id, 'permanent', address, unit_id, residence_since,
                           CASE WHEN unit_id <> current_unit_id THEN
                                     LEAST(CAST(:reorg AS date), death_date)
                                ELSE death_date END
                    FROM stage_person
                    UNION ALL
                    SELECT national_id, 'permanent', address, current_unit_id,
                           CAST(:reorg AS date), death_date
                    FROM stage_person
                    WHERE unit_id <> current_unit_id
                      AND (death_date IS NULL OR death_date > :reorg)""",
            ),
            Versioned(
                "population.household_member", ("national_id",), ("household_id", "relation"),
                scope="SELECT national_id, residence_since FROM stage_person",
                versions="""SELECT s.national_id, h.id, coalesce(s.relation, 'other'),
                                   s.residence_since, s.death_date
                            FROM stage_person s
                            JOIN population.household h ON h.household_code = s.household_code
                            WHERE s.death_date IS NULL OR s.death_date > s.residence_since""",
            ),
            Versioned(
                "population.family_link", ("national_id", "relation"), ("related_id",),
                scope="""SELECT national_id, rel, CASE WHEN rel = 'spouse' THEN :eff
                                                       ELSE birth_date END
                         FROM stage_person,
                              unnest(ARRAY['father', 'mother', 'spouse']) AS rel""",
                versions="""SELECT national_id, rel, related, CASE WHEN rel = 'spouse' THEN :eff
                                                                   ELSE birth_date END,
                                   NULL::date
                            FROM stage_person,
                                 LATERAL (VALUES ('father', father_id), ('mother', mother_id),
                                                 ('spouse', spouse_id)) AS l(rel, related)
                            WHERE related IS NOT NULL""",
            ),
        ]
        for fact in facts:
            apply_versions(self.conn, fact, {"eff": self.options.effective_date,
                                             "reorg": REORGANISATION}, changed_table="changed")


class EventStage(Stage):
    table = "stage_event"
    columns = ("row_number", "event_type", "national_id", "event_date", "place_code",
               "source_document", "address", "commune_code", "family_name", "middle_name",
               "given_name", "spouse_id")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql("""
            CREATE TEMP TABLE stage_event (
                row_number int, event_type text, national_id text, event_date date,
                place_code text, source_document text, address text, commune_code text,
                family_name text, middle_name text, given_name text, spouse_id text,
                reject text, place_unit_id int, unit_id int
            ) ON COMMIT DROP""")

    def validate(self, number: int, rec: dict[str, str]) -> tuple[Any, ...] | None:
        return self.checker.event_row(number, rec)

    def check(self) -> None:
        self.reject_where(
            "unknown-person", "national_id",
            "NOT EXISTS (SELECT 1 FROM population.person p WHERE p.national_id = s.national_id)",
            "'Personal number ' || s.national_id || ' is not in the registry; load the "
            "person (snapshot) before their events.'", "s.national_id")
        self.reject_where(
            "unknown-related-person", "spouse_id", "s.spouse_id = s.national_id",
            "'The spouse is the person''s own number; give the other person''s number.'",
            "s.spouse_id")
        self.reject_where(
            "unknown-related-person", "spouse_id",
            "s.spouse_id IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM population.person p WHERE p.national_id = s.spouse_id)",
            "'Spouse ' || s.spouse_id || ' is not in the registry.'", "s.spouse_id")
        for code, target, field in (("place_code", "place_unit_id", "place_code"),
                                    ("commune_code", "unit_id", "commune_code")):
            self.sql(set_unit_at("stage_event", target, code, "event_date"))
            self.reject_where(
                "unknown-admin-unit", field,
                f"s.{code} IS NOT NULL AND NOT {unit_exists(f's.{code}')}",
                f"'Commune code ' || s.{code} || ' does not exist.'", f"s.{code}")
            self.reject_where(
                "admin-unit-not-in-force", field, f"s.{code} IS NOT NULL AND s.{target} IS NULL",
                f"'Commune code ' || s.{code} || ' was not in force on ' || s.event_date || '.'",
                f"s.{code}")
        self.reject_where(
            "birth-after-death", "event_date",
            "s.event_type = 'death' AND EXISTS (SELECT 1 FROM population.person p "
            "WHERE p.national_id = s.national_id AND p.birth_date > s.event_date)",
            "'The death date ' || s.event_date || ' is before the birth date.'", "s.event_date")
        self._check_conflicts()

    def _check_conflicts(self) -> None:
        """Reject what the file says twice, or says in two ways, before the merge meets it
        as a violated constraint: one event per person, type and day (life_event's key);
        one name, one permanent residence and one spouse from a day on (the exclusion
        constraints of person_name, residence and family_link); one death."""
        self.sql("CREATE INDEX ON stage_event (national_id, event_type, event_date)")
        self.sql("CREATE INDEX ON stage_event (spouse_id, event_date)")
        self.sql("ANALYZE stage_event")
        facts = ("place_code, source_document, address, commune_code, family_name, "
                 "middle_name, given_name, spouse_id")
        same_key = ("o.national_id = s.national_id AND o.event_type = s.event_type "
                    "AND o.event_date = s.event_date")
        rows_of = ("(SELECT string_agg(o.row_number::text, ', ' ORDER BY o.row_number) "
                   "FROM stage_event o WHERE o.reject IS NULL AND {})")
        # Two rows for one person, type and day that say different things: which is right
        # cannot be told here, so neither is loaded.
        self.reject_where(
            "conflicting-events", "event_type",
            f"""(s.national_id, s.event_type, s.event_date) IN (
                    SELECT national_id, event_type, event_date FROM stage_event
                    WHERE reject IS NULL GROUP BY 1, 2, 3
                    HAVING count(DISTINCT ({facts})) > 1)""",
            f"'The file gives different ' || s.event_type || ' events of ' || s.national_id "
            f"|| ' on ' || s.event_date || ' (on rows ' || {rows_of.format(same_key)} || '); "
            "none of them was loaded. Keep the right one and resubmit it.'",
            "s.event_type")
        self.reject_where(
            "conflicting-events", "event_date",
            """s.event_type = 'death' AND s.national_id IN (
                    SELECT national_id FROM stage_event
                    WHERE reject IS NULL AND event_type = 'death'
                    GROUP BY 1 HAVING count(DISTINCT event_date) > 1)""",
            "'The file gives ' || s.national_id || ' several death dates (on rows ' || "
            + rows_of.format("o.national_id = s.national_id AND o.event_type = 'death'")
            + " || '); none of them was loaded. Keep the right one and resubmit it.'",
            "s.event_date")
        # A marriage or divorce speaks for both spouses: on one day a person marries or
        # divorces one other person, once (both spouses may report it).
        sides = """SELECT row_number, event_type, event_date, national_id AS who,
                          spouse_id AS other
                   FROM stage_event WHERE reject IS NULL
                     AND event_type IN ('marriage', 'divorce')
                   UNION ALL
                   SELECT row_number, event_type, event_date, spouse_id, national_id
                   FROM stage_event WHERE reject IS NULL
                     AND event_type IN ('marriage', 'divorce')"""
        self.reject_where(
            "conflicting-events", "spouse_id",
            f"""s.event_type IN ('marriage', 'divorce') AND s.row_number IN (
                    WITH sides AS ({sides})
                    SELECT x.row_number FROM sides x
                    JOIN (SELECT who, event_date FROM sides GROUP BY 1, 2
                          HAVING count(DISTINCT (event_type, other)) > 1) g
                      USING (who, event_date))""",
            f"'The file gives ' || s.national_id || ' or ' || s.spouse_id || ' more than one "
            f"marriage or divorce on ' || s.event_date || ' (on rows ' || "
            f"(WITH sides AS ({sides}) SELECT string_agg(DISTINCT x.row_number::text, ', ') "
            "FROM sides x WHERE x.event_date = s.event_date "
            "AND x.who IN (s.national_id, s.spouse_id)) || '); none of them was loaded. "
            "Keep the right one and resubmit it.'",
            "s.spouse_id")
        # Identical copies: the first counts, the others are pointed out.
        self.reject_where(
            "duplicate-event", "event_type",
            f"""EXISTS (SELECT 1 FROM stage_event o
                        WHERE {same_key} AND o.reject IS NULL
                          AND o.row_number < s.row_number)""",
            f"'The row repeats row ' || (SELECT min(o.row_number) FROM stage_event o "
            f"WHERE {same_key}) || ' of the file; only the first copy counts. Remove the "
            "others.'",
            "s.event_type")
        # A marriage to someone who is married to another person on that day, in the
        # registry or by an earlier marriage of this file, unless this file ends that
        # marriage (a divorce or a death) in between.
        self.sql("""
            CREATE TEMP TABLE marriage_side ON COMMIT DROP AS
            SELECT row_number, who, other, event_date AS day
            FROM stage_event,
                 LATERAL (VALUES (national_id, spouse_id), (spouse_id, national_id))
                 AS w(who, other)
            WHERE reject IS NULL AND event_type = 'marriage'""")
        # What ends a marriage: a divorce of the two (b the other spouse) or a death (b '').
        self.sql("""
            CREATE TEMP TABLE marriage_end ON COMMIT DROP AS
            SELECT a, b, event_date AS day
            FROM stage_event,
                 LATERAL (VALUES (national_id, spouse_id), (spouse_id, national_id)) AS w(a, b)
            WHERE reject IS NULL AND event_type = 'divorce'
            UNION ALL
            SELECT national_id, '', event_date FROM stage_event
            WHERE reject IS NULL AND event_type = 'death'""")
        self.sql("CREATE INDEX ON marriage_side (who, day)")
        self.sql("CREATE INDEX ON marriage_end (a, b, day)")
        self.sql("ANALYZE marriage_side")
        self.sql("ANALYZE marriage_end")
        self.sql("""
            CREATE TEMP TABLE married_elsewhere ON COMMIT DROP AS
            SELECT m.row_number, m.who, l.partner
            FROM marriage_side m
            JOIN LATERAL (
                SELECT f.related_id AS partner, f.valid_from AS since
                FROM population.family_link f
                -- "IS TRUE": the relation is no index condition. With statistics from
                -- before a large load, the planner would otherwise scan the exclusion
                -- constraint's index for every spouse link, once per marriage.
                WHERE f.national_id = m.who AND (f.relation = 'spouse') IS TRUE
                  AND f.superseded_at IS NULL AND f.valid_from <= m.day
                  AND (f.valid_to IS NULL OR f.valid_to > m.day)
                UNION ALL
                SELECT o.other, o.day FROM marriage_side o
                WHERE o.who = m.who AND o.day < m.day) AS l ON l.partner <> m.other
            WHERE NOT EXISTS (SELECT 1 FROM marriage_end e WHERE e.a = m.who
                                AND e.b = l.partner AND e.day BETWEEN l.since AND m.day)
              AND NOT EXISTS (SELECT 1 FROM marriage_end e WHERE e.a = m.who
                                AND e.b = '' AND e.day BETWEEN l.since AND m.day)
              AND NOT EXISTS (SELECT 1 FROM marriage_end e WHERE e.a = l.partner
                                AND e.b = '' AND e.day BETWEEN l.since AND m.day)
              AND NOT EXISTS (SELECT 1 FROM population.person p
                              WHERE p.national_id = l.partner AND p.death_date <= m.day)""")
        self.reject_where(
            "already-married", "spouse_id",
            "s.row_number IN (SELECT row_number FROM married_elsewhere)",
            "(SELECT 'On ' || s.event_date || ' ' || m.who || ' is still married to ' || "
            "m.partner || ' (no divorce or death ends that marriage first); load the "
            "divorce or death with this marriage, or correct the row.' "
            "FROM married_elsewhere m WHERE m.row_number = s.row_number "
            "ORDER BY m.who, m.partner LIMIT 1)",
            "s.spouse_id")

    def merge(self) -> tuple[int, int, int]:
        self.sql("DELETE FROM stage_event WHERE reject IS NOT NULL")
        staged = int(self.sql("SELECT count(*) FROM stage_event").scalar_one())
        self.sql("CREATE TEMP TABLE changed (national_id text) ON COMMIT DROP")
        self.sql("""
            WITH d AS (
                UPDATE population.person p SET status = 'deceased', death_date = s.event_date,
                       updated_at = now(), load_run_id = :run_id
                FROM stage_event s
                WHERE s.event_type = 'death' AND s.national_id = p.national_id
                  AND p.death_date IS DISTINCT FROM s.event_date
                RETURNING p.national_id)
            INSERT INTO changed SELECT national_id FROM d""")
        names = [(r[0], r[1], r[2], r[3], r[4]) for r in self.sql(
            "SELECT national_id, event_date, family_name, middle_name, given_name "
            "FROM stage_event WHERE event_type = 'name-change'")]
        self.sql("""CREATE TEMP TABLE stage_names (national_id text, since date,
                    family_name text, middle_name text, given_name text, full_name text,
                    name_key text) ON COMMIT DROP""")
        copy_rows(self.conn, "stage_names", ("national_id", "since", "family_name",
                                             "middle_name", "given_name", "full_name",
                                             "name_key"),
                  ((nid, day, fam, mid, giv, full, name_key(full))
                   for nid, day, fam, mid, giv in names
                   for full in [" ".join(p for p in (fam, mid, giv) if p)]))
        facts = [
            Versioned("population.person_name", ("national_id",),
                      ("family_name", "middle_name", "given_name", "full_name", "name_key"),
                      scope="SELECT national_id, since FROM stage_names",
                      versions="""SELECT national_id, family_name, middle_name, given_name,
                                         full_name, name_key, since, NULL::date
                                  FROM stage_names"""),
            Versioned("population.residence", ("national_id", "kind"),
                      ("address_line", "unit_id"),
                      scope="""SELECT national_id, 'permanent', event_date FROM stage_event
                               WHERE event_type IN ('residence-change', 'death')""",
                      versions="""SELECT national_id, 'permanent', address, unit_id,
                                         event_date, NULL::date
                                  FROM stage_event WHERE event_type = 'residence-change'"""),
            Versioned("population.household_member", ("national_id",),
                      ("household_id", "relation"),
                      scope="""SELECT national_id, event_date FROM stage_event
                               WHERE event_type = 'death'""",
                      versions="SELECT NULL, NULL::bigint, NULL, NULL::date, NULL::date "
                               "WHERE false"),
            Versioned("population.family_link", ("national_id", "relation"), ("related_id",),
                      # A marriage or divorce speaks for both spouses; a death ends the
                      # marriage for the survivor too.
                      scope="""SELECT who, 'spouse', event_date FROM stage_event,
                                      LATERAL (VALUES (national_id), (spouse_id)) AS w(who)
                               WHERE event_type IN ('marriage', 'divorce')
                               UNION ALL
                               SELECT who, 'spouse', s.event_date
                               FROM stage_event s
                               JOIN population.family_link f
                                 ON f.national_id = s.national_id AND f.relation = 'spouse'
                                AND f.superseded_at IS NULL AND f.valid_to IS NULL,
                                    LATERAL (VALUES (s.national_id), (f.related_id)) AS w(who)
                               WHERE s.event_type = 'death'""",
                      # Both spouses may report one marriage: one version each.
                      versions="""SELECT DISTINCT who, 'spouse', other, event_date,
                                         NULL::date
                                  FROM stage_event,
                                       LATERAL (VALUES (national_id, spouse_id),
                                                       (spouse_id, national_id)) AS w(who, other)
                                  WHERE event_type = 'marriage'"""),
        ]
        for fact in facts:
            apply_versions(self.conn, fact, {"eff": self.options.effective_date,
                                             "reorg": REORGANISATION}, changed_table="changed")
        inserted = int(self.sql("""
            WITH added AS (
                INSERT INTO population.life_event (national_id, event_type, event_date,
                    place_unit_id, related_id, source_document, load_run_id)
                SELECT national_id, event_type, event_date, coalesce(place_unit_id, unit_id),
                       spouse_id, source_document, :run_id
                FROM stage_event
                ON CONFLICT (national_id, event_type, event_date) DO NOTHING
                RETURNING national_id)
            SELECT count(*) FROM added""").scalar_one())
        # An event is new or already recorded: its effects came with its first recording.
        return (inserted, 0, staged - inserted)
