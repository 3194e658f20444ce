"""Analytics without identities: pseudonymised persons and the first aggregates

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 16:40:00

The ``analytics`` schema is what ``mdr_analyst`` reads, on a replica. Persons appear
there under a pseudonym: an HMAC-SHA256 of the personal number whose key is kept
outside the database (``MDR_PSEUDONYM_KEY_FILE``) and handed to the refresh for the
length of its transaction only, so nobody who can read the database can recompute or
reverse a pseudonym. Person-level objects are therefore materialized views, computed
when ``etl.refresh_analytics()`` runs (``mdr analytics refresh``, also run after each
load), concurrently so that analysts' queries are never blocked.

The shared machinery comes first; then one section per registry. A registry added
later writes its own section in its own migration: materialized views in
``analytics`` that read base tables (not other materialized views), each with a
unique index so it can be refreshed concurrently; ``etl.refresh_analytics()`` finds
every materialized view in the schema by itself.
"""

from collections.abc import Sequence

from alembic import op

from migrations.analytics_views import (
    KEY_SETTING,
    PERSON,
    VALID_FROM,
    VALID_TO,
    matview,
    population_by_commune,
    quoted,
    refresh_function,
)

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def shared_machinery() -> None:
    op.execute("RESET ROLE")
    op.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public")
    op.execute("SET LOCAL ROLE mdr_owner")

    op.execute("""
        CREATE TABLE etl.pseudonym_key (
          fingerprint text NOT NULL,
          first_used_at timestamptz NOT NULL DEFAULT now(),
          CONSTRAINT pk_pseudonym_key PRIMARY KEY (fingerprint)
        )""")
    op.execute("COMMENT ON TABLE etl.pseudonym_key IS 'A fingerprint (an HMAC of a fixed "
               "text) of the key the analytics pseudonyms were made with, so that a refresh "
               "with another key is refused instead of changing every pseudonym; the key "
               "itself is never stored.'")
    op.execute("COMMENT ON COLUMN etl.pseudonym_key.fingerprint IS 'HMAC-SHA256 of a fixed "
               "text under the key, hex.'")
    op.execute("COMMENT ON COLUMN etl.pseudonym_key.first_used_at IS 'When a refresh first "
               "used the key.'")

    # The pseudonym of an identifier under the key of the refresh running now; outside a
    # refresh the key is unset and this fails.
    op.execute(f"""
        CREATE FUNCTION etl.pseudonym(identifier text) RETURNS text
        LANGUAGE sql STABLE STRICT
        SET search_path = pg_catalog, pg_temp
        RETURN substr(encode(public.hmac(identifier, current_setting('{KEY_SETTING}'),
                                         'sha256'), 'hex'), 1, 32)""")
    op.execute("REVOKE ALL ON FUNCTION etl.pseudonym(text) FROM PUBLIC")
    op.execute("COMMENT ON FUNCTION etl.pseudonym(text) IS 'Stable pseudonym (32 hex digits "
               "of an HMAC-SHA256) of an identifier, under the key of the running refresh.'")

    refresh_function(by_registry=False)

    # The province of a unit version: its parent, or its parent's parent (before 2025
    # communes sat under districts).
    op.execute("""
        CREATE VIEW etl.unit_province AS
        SELECT u.id AS unit_id, u.code AS unit_code, u.name AS unit_name,
               coalesce(CASE WHEN p.level = 'province' THEN p.code END,
                        CASE WHEN g.level = 'province' THEN g.code END) AS province_code
        FROM ref.admin_unit u
        LEFT JOIN ref.admin_unit p ON p.id = u.parent_id
        LEFT JOIN ref.admin_unit g ON g.id = p.parent_id""")
    op.execute("COMMENT ON VIEW etl.unit_province IS 'Each administrative unit version with "
               "the code of the province it belonged to.'")
    for column, text in {"unit_id": "The unit version (ref.admin_unit.id).",
                         "unit_code": "Its code.", "unit_name": "Its short name.",
                         "province_code": "Code of the province it belonged to during its "
                         "validity."}.items():
        op.execute(f"COMMENT ON COLUMN etl.unit_province.{column} IS {quoted(text)}")


def population() -> None:
    current = "superseded_at IS NULL"
    matview("person", "Persons without names or numbers: pseudonym, birth year, sex, "
            "status, and the commune of permanent residence on the refresh day.", f"""
        SELECT etl.pseudonym(p.national_id) AS person,
               extract(year FROM p.birth_date)::int AS birth_year,
               p.sex, p.status,
               extract(year FROM p.death_date)::int AS death_year,
               u.province_code, u.unit_code AS commune_code, u.unit_name AS commune_name
        FROM population.person p
        LEFT JOIN population.residence r
          ON r.national_id = p.national_id AND r.kind = 'permanent' AND r.{current}
         AND r.valid_from <= current_date AND coalesce(r.valid_to, 'infinity') > current_date
        LEFT JOIN etl.unit_province u ON u.unit_id = r.unit_id""",
            "person", {
                "person": PERSON, "birth_year": "Year of birth.", "sex": "Sex (ref.sex).",
                "status": "Alive or deceased (ref.person_status).",
                "death_year": "Year of death, if deceased.",
                "province_code": "Province of permanent residence on the refresh day.",
                "commune_code": "Commune of permanent residence on the refresh day.",
                "commune_name": "Name of that commune."})
    matview("residence", "Residence over time by pseudonym: the commune of a person at "
            "any date (rows valid on that date), as the registry knows it now.", f"""
        SELECT etl.pseudonym(r.national_id) AS person, r.kind, u.province_code,
               u.unit_code AS commune_code, r.valid_from, r.valid_to
        FROM population.residence r JOIN etl.unit_province u ON u.unit_id = r.unit_id
        WHERE r.{current}""",
            "person, kind, valid_from", {
                "person": PERSON, "kind": "Permanent or temporary.",
                "province_code": "Province of the commune.",
                "commune_code": "Commune, as the unit in force on valid_from.",
                "valid_from": VALID_FROM, "valid_to": VALID_TO})
    matview("household_member", "Households and their members by pseudonym, over time.", f"""
        SELECT etl.pseudonym(h.household_code) AS household,
               etl.pseudonym(m.national_id) AS person, m.relation, m.valid_from, m.valid_to
        FROM population.household_member m JOIN population.household h ON h.id = m.household_id
        WHERE m.{current}""",
            "person, valid_from", {
                "household": "Pseudonym of the household.", "person": PERSON,
                "relation": "Relation to the head (ref.household_relation).",
                "valid_from": VALID_FROM, "valid_to": VALID_TO})
    matview("family_link", "Father, mother and spouse links by pseudonym, over time.", f"""
        SELECT etl.pseudonym(f.national_id) AS person, f.relation,
               etl.pseudonym(f.related_id) AS related_person, f.valid_from, f.valid_to
        FROM population.family_link f WHERE f.{current}""",
            "person, relation, valid_from", {
                "person": PERSON, "relation": "What the related person is to them.",
                "related_person": "Pseudonym of the related person.",
                "valid_from": VALID_FROM, "valid_to": VALID_TO})
    population_by_commune(smallest_count=None)


def upgrade() -> None:
    shared_machinery()
    population()


def downgrade() -> None:
    for name in ("population_by_commune", "family_link", "household_member", "residence",
                 "person"):
        op.execute(f"DROP MATERIALIZED VIEW IF EXISTS analytics.{name}")
    op.execute("DROP VIEW IF EXISTS etl.unit_province")
    op.execute("DROP FUNCTION IF EXISTS etl.refresh_analytics()")
    op.execute("DROP FUNCTION IF EXISTS etl.pseudonym(text)")
    op.execute("DROP TABLE IF EXISTS etl.pseudonym_key")
