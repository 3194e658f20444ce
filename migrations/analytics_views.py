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
    only for views without pseudonyms, which need the key of a refresh."""
    populated = op.get_bind().execute(sa.text(
        "SELECT ispopulated FROM pg_matviews WHERE schemaname = 'analytics' "
        "AND matviewname = :name"), {"name": name}).scalar()
    op.execute(f"DROP MATERIALIZED VIEW analytics.{name}")
    create()
    if populated:
        op.execute(f"REFRESH MATERIALIZED VIEW analytics.{name}")


PERSON = "Pseudonym of the person (stable while the key is kept)."
VALID_FROM = "First day this was true."
VALID_TO = "First day it was no longer true; NULL while true."

# Cells counting fewer persons than this show no count (NULL) in the aggregate views: a
# cell of 1 to 4 (the two women of a commune aged 95) can point at someone, which is why
# statistical offices suppress small cells, 5 being a common threshold for tables of
# counts. It is set here, in the views' definitions, and not in a setting: it is the
# schema's rule of disclosure, the same on the primary and every replica, and changing it
# is a reviewed migration that redefines the views (as 0018 did to apply it).
SMALL_CELL = 5


def counted(smallest_count: int | None) -> str:
    """The number of rows of a group, or NULL when it is below ``smallest_count``."""
    if smallest_count is None:
        return "count(*)::int"
    return f"CASE WHEN count(*) >= {smallest_count} THEN count(*)::int END"


def population_by_commune(smallest_count: int | None) -> None:
    """Living persons by commune, sex and age group, cells below ``smallest_count``
    suppressed (0012 made it without, 0018 with ``SMALL_CELL``)."""
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
