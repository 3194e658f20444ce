"""``mdr load population``: snapshots and event files into the population registry.

extract (CSV / JSON Lines, through a profile) → normalise (NFC, whitespace, dates in
ISO and Vietnamese forms, sex words) → validate each row (identifier rules, dates)
→ COPY valid rows into staging → set-based checks in SQL (duplicates, units in
force at their dates, the 2025 crosswalk, codes, family references) → merge with
history (``loaders.history``); the run itself (lock, threshold, one transaction, run
record) is ``loaders.base.run_load``.

Counts: for a snapshot, persons inserted (new), updated (any of their facts changed)
and unchanged; for an event file, events inserted (newly recorded, with their
effects applied) and unchanged (already recorded).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from loaders import reasons
from loaders.base import (
    FileStage,
    LoadResult,
    Options,
    Progress,
    RegistryLoader,
    RowChecker,
    copy_rows,
    kind_by_first_record,
    load_file,
)
from loaders.checks import (
    current_unit,
    reject_units_not_found,
    reject_unknown_codes,
    set_unit_at,
    unit_at,
    upsert,
)
from loaders.history import Versioned, apply_versions
from loaders.rules.dates import years_between
from loaders.rules.identifiers import check_personal_number
from loaders.rules.names import name_problem
from loaders.rules.text import clean, name_key
from loaders.sources.population_layout import (
    EVENT_FIELDS,
    EVENT_TYPES,
    REQUIRED_SNAPSHOT_FIELDS,
    SNAPSHOT_FIELDS,
    from_mapped,
)
from loaders.sources.readers import Profile, ReadLimits
from schemas.reference import REORGANISATION_2025

REGISTRY = "population"
MAX_AGE_YEARS = 125

_SEX_WORDS = {"male": "male", "female": "female", "nam": "male", "nữ": "female", "nu": "female",
              "m": "male", "f": "female"}


# -- rows: normalise and validate ------------------------------------------------------------


class PersonChecker(RowChecker):
    """Normalises and validates the rows of a population file."""

    def __init__(self, source: str, effective_date: dt.date, province_codes: set[str]) -> None:
        super().__init__(source, effective_date)
        self.effective_date: dt.date = effective_date
        self.province_codes = province_codes

    def snapshot_row(self, number: int, rec: dict[str, str]) -> tuple[Any, ...] | None:
        """A staged tuple for a valid snapshot row, or None (issue recorded)."""
        rec = {k: clean(rec.get(k) or "") for k in SNAPSHOT_FIELDS}
        if not self.text_ok(number, rec):
            return None
        for name in REQUIRED_SNAPSHOT_FIELDS:
            if not rec[name]:
                self.reject(reasons.MISSING_REQUIRED_FIELD, number, name, "", context="")
                return None
        if not self.names_ok(number, rec):
            return None
        sex = _SEX_WORDS.get(rec["sex"].casefold())
        if sex is None:
            self.reject(reasons.INVALID_SEX, number, "sex", rec["sex"])
            return None
        dates = self.dates(number, rec, ("birth_date", "death_date", "residence_since"))
        if dates is None:
            return None
        birth, death, since = dates["birth_date"], dates["death_date"], dates["residence_since"]
        assert birth is not None and since is not None
        for violation in check_personal_number(rec["national_id"], sex=sex, birth_date=birth,
                                               province_codes=self.province_codes):
            self.reject(reasons.get(violation.slug), number, violation.field,
                        rec["national_id"], rule=violation.message)
            return None
        if birth > self.effective_date:
            self.reject(reasons.BIRTH_IN_FUTURE, number, "birth_date", str(birth),
                        effective_date=self.effective_date)
            return None
        if death is not None and death < birth:
            self.reject(reasons.BIRTH_AFTER_DEATH, number, "death_date", str(death),
                        birth_date=birth)
            return None
        if death is None and years_between(birth, self.effective_date) > MAX_AGE_YEARS:
            self.reject(reasons.IMPLAUSIBLE_AGE, number, "birth_date", str(birth),
                        max_age=MAX_AGE_YEARS)
            return None
        if since < birth:
            self.reject(reasons.INVALID_DATE, number, "residence_since", str(since),
                        problem=f"is before the birth date {birth}")
            return None
        for name in ("father_id", "mother_id", "spouse_id"):
            if rec[name] and rec[name] == rec["national_id"]:
                self.reject(reasons.UNKNOWN_RELATED_PERSON, number, name, rec[name],
                            why="it is the person's own number")
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

    def names_ok(self, number: int, rec: dict[str, str]) -> bool:
        """Reject a name part holding what no name holds (loaders/rules/names.py)."""
        for field in ("family_name", "middle_name", "given_name"):
            value = rec.get(field) or ""
            problem = name_problem(value) if value else None
            if problem is not None:
                self.reject(reasons.INVALID_NAME, number, field, value, problem=problem)
                return False
        return True

    def event_row(self, number: int, rec: dict[str, str]) -> tuple[Any, ...] | None:
        """A staged tuple for a valid event row, or None (issue recorded)."""
        rec = {k: clean(v or "") for k, v in rec.items()}
        if not self.text_ok(number, rec):
            return None
        event_type = rec.get("event_type", "")
        if event_type not in EVENT_TYPES:
            self.reject(reasons.UNKNOWN_CODE, number, "event_type", event_type,
                        what="Event type", expected=", ".join(EVENT_TYPES))
            return None
        needed = {"residence-change": ("address", "commune_code"),
                  "name-change": ("family_name", "given_name"),
                  "marriage": ("spouse_id",), "divorce": ("spouse_id",)}.get(event_type, ())
        for name in ("national_id", "event_date", *needed):
            if not rec.get(name):
                self.reject(reasons.MISSING_REQUIRED_FIELD, number, name, "",
                            context=f" for a {event_type} event")
                return None
        if event_type == "name-change" and not self.names_ok(number, rec):
            return None
        dates = self.dates(number, rec, ("event_date",))
        if dates is None:
            return None
        day = dates["event_date"]
        assert day is not None
        if day > self.effective_date:
            self.reject(reasons.INVALID_DATE, number, "event_date", str(day),
                        problem=f"is after the load's effective date {self.effective_date}")
            return None
        return (number, event_type, rec["national_id"], day, rec.get("place_code") or None,
                rec.get("source_document") or None, rec.get("address") or None,
                rec.get("commune_code") or None, rec.get("family_name") or None,
                rec.get("middle_name") or None, rec.get("given_name") or None,
                rec.get("spouse_id") or None)


# -- the load ---------------------------------------------------------------------------------


def file_kind(path: Path, profile: Profile, requested: str | None,
              limits: ReadLimits | None = None) -> str:
    """snapshot or events: as asked, or from the first record's fields."""
    return kind_by_first_record(path, profile, requested, limits, "event_type", "events")


def legacy_province_codes(conn: Connection) -> set[str]:
    """Three-digit birth-registration prefixes: the pre-2025 provinces."""
    rows = conn.execute(text("SELECT '0' || code FROM ref.admin_unit WHERE level = 'province' "
                             "AND valid_to = :d"), {"d": REORGANISATION_2025}).scalars()
    return set(rows)


def load_population(engine: Engine, path: Path, options: Options,
                    progress: Progress | None = None) -> LoadResult:
    """Load one snapshot or event file; commits whole or leaves the registry untouched."""
    profile = Profile.load(options.profile, layout=from_mapped)
    kind = file_kind(path, profile, options.kind, options.limits)
    return load_file(
        engine, REGISTRY, path, options, progress, profile, kind,
        SnapshotStage if kind == "snapshot" else EventStage,
        lambda conn: PersonChecker(path.name, options.effective_date,
                                   legacy_province_codes(conn)))


LOADER = RegistryLoader(
    REGISTRY, "a snapshot or event file of persons",
    load_population, kinds=("snapshot", "events"))


class _PopulationStage(FileStage):
    checker: PersonChecker
    sql_params = {"reorg": REORGANISATION_2025}
    registry_tables = ("population.person", "population.person_name", "population.residence",
                       "population.household", "population.household_member",
                       "population.family_link", "population.life_event")

    @property
    def effective_date(self) -> dt.date:
        return self.checker.effective_date


class SnapshotStage(_PopulationStage):
    table = "stage_person"
    source_fields = SNAPSHOT_FIELDS
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
                   {current_unit("u")} AS current_unit_id,
                   NOT EXISTS (SELECT 1 FROM population.person p
                               WHERE p.national_id = s.national_id) AS is_new
            FROM stage_person_in s
            LEFT JOIN ref.admin_unit u ON {unit_at("u", "s.commune_code", "s.residence_since")}
            LEFT JOIN ref.admin_unit b ON {unit_at("b", "s.birth_place_code", "s.birth_date")}""")
        self.sql("CREATE INDEX ON stage_person (national_id)")
        self.sql("ANALYZE stage_person")
        self.reject_where(
            reasons.DUPLICATE_NATIONAL_ID, "national_id",
            "s.national_id IN "
            "(SELECT national_id FROM stage_person GROUP BY 1 HAVING count(*) > 1)",
            "s.national_id")
        reject_units_not_found(self, "commune_code", "commune_code", "unit_id",
                               "residence_since")
        reject_units_not_found(self, "birth_place_code", "birth_place_code",
                               "birth_place_unit_id", "birth_date")
        # Residences that began before the 2025 reorganisation and go on after it need the
        # successor unit.
        self.reject_where(
            reasons.AMBIGUOUS_COMMUNE_SUCCESSOR, "commune_code",
            "s.unit_id IS NOT NULL AND s.current_unit_id IS NULL AND "
            "(s.death_date IS NULL OR s.death_date > :reorg)", "s.commune_code")
        reject_unknown_codes(self, "ethnic_group", "ethnic_group", "ref.ethnic_group",
                             "Ethnic group", "the codes 01-54")
        reject_unknown_codes(self, "nationality", "nationality", "ref.country", "Nationality",
                             "ISO 3166 alpha-2 codes", required=True)
        reject_unknown_codes(self, "relation_to_head", "relation", "ref.household_relation",
                             "Relation", "head, spouse, child, parent, grandchild, sibling, "
                             "other")
        self._check_family()

    def _check_family(self) -> None:
        # A rejected row can leave its relatives pointing at nobody, and their rejection
        # their own relatives: repeat until a pass rejects nothing more (a chain of n
        # generations takes n passes; each pass rejects at least one row, so it ends).
        while True:
            found = 0
            for column in ("father_id", "mother_id", "spouse_id"):
                found += self.reject_where(
                    reasons.UNKNOWN_RELATED_PERSON, column,
                    f"""s.{column} IS NOT NULL
                        AND NOT EXISTS (SELECT 1 FROM stage_person o
                                        WHERE o.national_id = s.{column} AND o.reject IS NULL)
                        AND NOT EXISTS (SELECT 1 FROM population.person p
                                        WHERE p.national_id = s.{column})""",
                    f"s.{column}", why="neither in this file nor in the registry")
            for column in ("father_id", "mother_id"):
                found += self.reject_where(
                    reasons.PARENT_YOUNGER_THAN_CHILD, column,
                    f"""EXISTS (SELECT 1 FROM (SELECT o.birth_date FROM stage_person o
                                               WHERE o.national_id = s.{column}
                                                 AND o.reject IS NULL
                                               UNION ALL
                                               SELECT p.birth_date FROM population.person p
                                               WHERE p.national_id = s.{column}) parent
                                WHERE parent.birth_date > s.birth_date - interval '12 years')""",
                    f"s.{column}")
            if not found:
                break

    def merge(self) -> tuple[int, int, int]:
        self.sql("DELETE FROM stage_person WHERE reject IS NOT NULL")
        staged = int(self.sql("SELECT count(*) FROM stage_person").scalar_one())
        self.sql("CREATE TEMP TABLE changed (national_id text) ON COMMIT DROP")
        # A file of persons all new to the registry (a first load of the registry or of a
        # province) has no history to compare with: its versions are inserted as they are.
        all_new = not self.sql(
            "SELECT EXISTS (SELECT 1 FROM stage_person WHERE NOT is_new)").scalar_one()
        if all_new:
            self.details["all_new"] = True
        inserted, _ = upsert(
            self.conn, "population.person",
            ("national_id", "sex", "birth_date", "birth_place_unit_id", "nationality",
             "ethnic_group", "status", "death_date", "load_run_id"), ("national_id",),
            """SELECT national_id, sex, birth_date, birth_place_unit_id, nationality,
                      ethnic_group, CASE WHEN death_date IS NULL THEN 'alive'
                                         ELSE 'deceased' END, death_date, :run_id
               FROM stage_person""",
            compare=("sex", "birth_date", "birth_place_unit_id", "nationality", "ethnic_group",
                     "status", "death_date"),
            touch="updated_at = now()", params={"run_id": self.run_id},
            changed_table="changed")
        self._merge_history(all_new)
        updated = int(self.sql("""
            SELECT count(DISTINCT c.national_id) FROM changed c
            JOIN stage_person s USING (national_id) WHERE NOT s.is_new""").scalar_one())
        return (inserted, updated, staged - inserted - updated)

    def _merge_history(self, all_new: bool) -> None:
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
            apply_versions(self.conn, fact, {"eff": self.effective_date,
                                             "reorg": REORGANISATION_2025},
                           changed_table="changed", all_new=all_new)


class EventStage(_PopulationStage):
    table = "stage_event"
    source_fields = EVENT_FIELDS
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
            reasons.UNKNOWN_PERSON, "national_id",
            "NOT EXISTS (SELECT 1 FROM population.person p WHERE p.national_id = s.national_id)",
            "s.national_id")
        self.reject_where(
            reasons.UNKNOWN_RELATED_PERSON, "spouse_id", "s.spouse_id = s.national_id",
            "s.spouse_id", why="the person's own number")
        self.reject_where(
            reasons.UNKNOWN_RELATED_PERSON, "spouse_id",
            "s.spouse_id IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM population.person p WHERE p.national_id = s.spouse_id)",
            "s.spouse_id", why="not in the registry")
        for code, target in (("place_code", "place_unit_id"), ("commune_code", "unit_id")):
            self.sql(set_unit_at("stage_event", target, code, "event_date"))
            reject_units_not_found(self, code, code, target, "event_date")
        self.reject_where(
            reasons.BIRTH_AFTER_DEATH, "event_date",
            "s.event_type = 'death' AND EXISTS (SELECT 1 FROM population.person p "
            "WHERE p.national_id = s.national_id AND p.birth_date > s.event_date)",
            "s.event_date", columns={"birth_date": "(SELECT p.birth_date FROM population.person "
                                                   "p WHERE p.national_id = s.national_id)"})
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
            reasons.CONFLICTING_EVENTS, "event_type",
            f"""(s.national_id, s.event_type, s.event_date) IN (
                    SELECT national_id, event_type, event_date FROM stage_event
                    WHERE reject IS NULL GROUP BY 1, 2, 3
                    HAVING count(DISTINCT ({facts})) > 1)""",
            "s.event_type",
            columns={"what": "'different ' || s.event_type || ' events of ' || s.national_id "
                             "|| ' on ' || s.event_date",
                     "rows": rows_of.format(same_key)})
        self.reject_where(
            reasons.CONFLICTING_EVENTS, "event_date",
            """s.event_type = 'death' AND s.national_id IN (
                    SELECT national_id FROM stage_event
                    WHERE reject IS NULL AND event_type = 'death'
                    GROUP BY 1 HAVING count(DISTINCT event_date) > 1)""",
            "s.event_date",
            columns={"what": "'several death dates of ' || s.national_id",
                     "rows": rows_of.format(
                         "o.national_id = s.national_id AND o.event_type = 'death'")})
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
            reasons.CONFLICTING_EVENTS, "spouse_id",
            f"""s.event_type IN ('marriage', 'divorce') AND s.row_number IN (
                    WITH sides AS ({sides})
                    SELECT x.row_number FROM sides x
                    JOIN (SELECT who, event_date FROM sides GROUP BY 1, 2
                          HAVING count(DISTINCT (event_type, other)) > 1) g
                      USING (who, event_date))""",
            "s.spouse_id",
            columns={"what": "'more than one marriage or divorce of ' || s.national_id || "
                             "' or ' || s.spouse_id || ' on ' || s.event_date",
                     "rows": f"(WITH sides AS ({sides}) "
                             "SELECT string_agg(DISTINCT x.row_number::text, ', ') "
                             "FROM sides x WHERE x.event_date = s.event_date "
                             "AND x.who IN (s.national_id, s.spouse_id))"})
        # Identical copies: the first counts, the others are pointed out.
        self.reject_where(
            reasons.DUPLICATE_EVENT, "event_type",
            f"""EXISTS (SELECT 1 FROM stage_event o
                        WHERE {same_key} AND o.reject IS NULL
                          AND o.row_number < s.row_number)""",
            "s.event_type",
            columns={"first": f"(SELECT min(o.row_number) FROM stage_event o WHERE {same_key})"})
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
        first_found = ("(SELECT m.{} FROM married_elsewhere m WHERE m.row_number = s.row_number "
                       "ORDER BY m.who, m.partner LIMIT 1)")
        self.reject_where(
            reasons.ALREADY_MARRIED, "spouse_id",
            "s.row_number IN (SELECT row_number FROM married_elsewhere)",
            "s.spouse_id",
            columns={"day": "s.event_date", "who": first_found.format("who"),
                     "partner": first_found.format("partner")})

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
            apply_versions(self.conn, fact, {"eff": self.effective_date,
                                             "reorg": REORGANISATION_2025},
                           changed_table="changed")
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
