"""What the migrations that add analytics views share: one materialized view with its
unique index (which the concurrent refresh needs), comments and the analyst's grant; the
small-cell rule of the views that count persons, and the definitions of those views."""

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op


def quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def matview(name: str, comment: str, query: str, unique: str,
            columns: dict[str, str]) -> None:
    """One materialized view of the analytics schema, empty until the first refresh."""
    op.execute(f"CREATE MATERIALIZED VIEW analytics.{name} AS {query} WITH NO DATA")
    op.execute(f"CREATE UNIQUE INDEX ux_{name} ON analytics.{name} ({unique})")
    op.execute(f"COMMENT ON MATERIALIZED VIEW analytics.{name} IS {quoted(comment)}")
    for column, text in columns.items():
        op.execute(f"COMMENT ON COLUMN analytics.{name}.{column} IS {quoted(text)}")
    op.execute(f"GRANT SELECT ON analytics.{name} TO mdr_analyst")


def redefine(name: str, create: Callable[[], None]) -> None:
    """Replaces a materialized view of the analytics schema by what ``create`` makes, and
    fills it at once if the old one was filled, so analysts never meet an empty view;
    only for views without pseudonyms, which need the key of a refresh. Whoever could
    read the old view can read the new one (``mdr_summary_reader`` reads the summaries
    by a grant on each, which the drop would otherwise take away)."""
    bind = op.get_bind()
    populated = bind.execute(sa.text(
        "SELECT ispopulated FROM pg_matviews WHERE schemaname = 'analytics' "
        "AND matviewname = :name"), {"name": name}).scalar()
    readers = bind.execute(sa.text(
        "SELECT DISTINCT a.grantee::regrole::text FROM pg_class c, aclexplode(c.relacl) a "
        "WHERE c.oid = format('analytics.%I', CAST(:name AS text))::regclass "
        "AND a.privilege_type = 'SELECT' AND a.grantee NOT IN (0, c.relowner)"),
        {"name": name}).scalars().all()
    op.execute(f"DROP MATERIALIZED VIEW analytics.{name}")
    create()
    for reader in readers:  # as regrole writes it: quoted where the name needs it
        op.execute(f"GRANT SELECT ON analytics.{name} TO {reader}")
    if populated:
        op.execute(f"REFRESH MATERIALIZED VIEW analytics.{name}")


KEY_SETTING = "mdr.pseudonym_key"
"""The setting a refresh hands the pseudonym key in, for its transaction only."""

# The materialized views that read a table of the schema ``registry``, directly or
# through other views (pg_depend records what each view's rewrite rule reads).
_READS_REGISTRY = """
              AND (registry IS NULL OR EXISTS (
                WITH RECURSIVE reads(rel) AS (
                  SELECT d.refobjid FROM pg_rewrite r
                  JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                   AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class
                  WHERE r.ev_class = format('analytics.%I', matviewname)::regclass
                  UNION
                  SELECT d.refobjid FROM reads x
                  JOIN pg_rewrite r ON r.ev_class = x.rel
                  JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                   AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class)
                SELECT 1 FROM reads x JOIN pg_class c ON c.oid = x.rel
                JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = registry))"""


def refresh_function(by_registry: bool) -> None:
    """``etl.refresh_analytics()``: refreshes every materialized view of the analytics
    schema (0012); ``by_registry`` (0016) adds an argument, the schema of the registry a
    load changed, and refreshes only the views that read it (NULL: every view)."""
    signature = "etl.refresh_analytics(registry text DEFAULT NULL)" if by_registry else \
        "etl.refresh_analytics()"
    only = _READS_REGISTRY if by_registry else ""
    op.execute(f"""
        CREATE FUNCTION {signature}
        RETURNS TABLE (view_name text, seconds double precision)
        LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        AS $$
        DECLARE
          key text := current_setting('{KEY_SETTING}', true);
          print text;
          mv record;
          started timestamptz;
        BEGIN
          IF key IS NULL OR length(key) < 32 THEN
            RAISE EXCEPTION 'the pseudonym key is not set for this refresh'
              USING HINT = 'Run mdr analytics refresh, which reads it from MDR_PSEUDONYM_KEY_FILE.';
          END IF;
          print := encode(public.hmac('mdr pseudonym key fingerprint', key, 'sha256'), 'hex');
          INSERT INTO etl.pseudonym_key (fingerprint)
            SELECT print WHERE NOT EXISTS (SELECT 1 FROM etl.pseudonym_key);
          IF NOT EXISTS (SELECT 1 FROM etl.pseudonym_key WHERE fingerprint = print) THEN
            RAISE EXCEPTION 'the pseudonym key differs from the one the analytics were made with'
              USING HINT = 'Use the key file of this database (MDR_PSEUDONYM_KEY_FILE).';
          END IF;
          FOR mv IN SELECT matviewname, ispopulated FROM pg_matviews
                    WHERE schemaname = 'analytics'{only} ORDER BY matviewname LOOP
            started := clock_timestamp();
            IF mv.ispopulated THEN
              EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.%I',
                             mv.matviewname);
            ELSE
              EXECUTE format('REFRESH MATERIALIZED VIEW analytics.%I', mv.matviewname);
            END IF;
            view_name := mv.matviewname;
            seconds := extract(epoch FROM clock_timestamp() - started);
            RETURN NEXT;
          END LOOP;
        END $$""")
    called = "etl.refresh_analytics(text)" if by_registry else "etl.refresh_analytics()"
    # Whoever refreshes chooses the key the pseudonyms are made with: never an analyst.
    op.execute(f"REVOKE ALL ON FUNCTION {called} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {called} TO mdr_loader")
    comment = ("Refreshes every materialized view in analytics (concurrently once "
               "populated) with the pseudonym key set for the transaction; returns the "
               "seconds each took.")
    if by_registry:
        comment = ("Refreshes the materialized views in analytics that read the schema "
                   "registry (every view when NULL), concurrently once populated, with the "
                   "pseudonym key set for the transaction; returns the seconds each took.")
    op.execute(f"COMMENT ON FUNCTION {called} IS {quoted(comment)}")


PERSON = "Pseudonym of the person (stable while the key is kept)."
VALID_FROM = "First day this was true."
VALID_TO = "First day it was no longer true; NULL while true."

# Cells counting fewer persons than this show no count (NULL) in the aggregate views: a
# cell of 1 to 4 (the two women of a commune aged 95) can point at someone, which is why
# statistical offices suppress small cells, 5 being a common threshold for tables of
# counts. It is set here, in the views' definitions, and not in a setting: it is the
# schema's rule of disclosure, the same on the primary and every replica, and changing it
# is a reviewed migration that redefines the views (as 0015 did to apply it).
SMALL_CELL = 5


def counted(smallest_count: int | None) -> str:
    """The number of rows of a group, or NULL when it is below ``smallest_count``."""
    if smallest_count is None:
        return "count(*)::int"
    return f"CASE WHEN count(*) >= {smallest_count} THEN count(*)::int END"


def population_by_commune(smallest_count: int | None) -> None:
    """Living persons by commune, sex and age group, cells below ``smallest_count``
    suppressed (0012 made it without, 0015 with ``SMALL_CELL``)."""
    current = "superseded_at IS NULL"
    persons = "Number of living persons."
    if smallest_count is not None:
        persons += (f" NULL when fewer than {smallest_count}: such a cell could point at "
                    "someone, so it is suppressed (the row stays, the count is hidden).")
    matview("population_by_commune", "Living persons by commune of permanent residence, "
            "sex and five-year age group, on the refresh day.", f"""
        SELECT current_date AS as_of, u.province_code, u.unit_id AS commune_id,
               u.unit_code AS commune_code, u.unit_name AS commune_name, p.sex,
               CASE WHEN a.years >= 85 THEN '85+'
                    ELSE (a.years / 5 * 5) || '-' || (a.years / 5 * 5 + 4) END AS age_group,
               {counted(smallest_count)} AS persons
        FROM population.person p
        CROSS JOIN LATERAL (SELECT extract(year FROM age(current_date, p.birth_date))::int
                            AS years) a
        JOIN population.residence r
          ON r.national_id = p.national_id AND r.kind = 'permanent' AND r.{current}
         AND r.valid_from <= current_date AND coalesce(r.valid_to, 'infinity') > current_date
        JOIN etl.unit_province u ON u.unit_id = r.unit_id
        WHERE p.status = 'alive' AND p.birth_date <= current_date
        GROUP BY u.province_code, u.unit_id, u.unit_code, u.unit_name, p.sex, 7""",
            "commune_id, sex, age_group", {
                "as_of": "The day the counts speak for (the refresh day).",
                "province_code": "Province.", "commune_id": "The commune's unit version "
                "(ref.admin_unit.id).", "commune_code": "Commune code.",
                "commune_name": "Commune name.", "sex": "Sex.",
                "age_group": "Completed years of age, in five-year groups (85+ last).",
                "persons": persons})
