"""What the migrations that add analytics views share: one materialized view with its
unique index (which the concurrent refresh needs), comments and the analyst's grant."""

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


PERSON = "Pseudonym of the person (stable while the key is kept)."
VALID_FROM = "First day this was true."
VALID_TO = "First day it was no longer true; NULL while true."
