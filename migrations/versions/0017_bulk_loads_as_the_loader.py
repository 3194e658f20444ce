"""Let a bulk load run as the loader: constraints set aside and restored by the owner

A bulk first load drops the foreign keys, exclusion constraints and plain indexes of
the tables it fills and builds them again after the data (``loaders/bulk.py``). Only
a table's owner may alter it, so bulk loads used to run as ``mdr_owner``, which may
do anything to the schema. These two functions, owned by ``mdr_owner``, do that one
thing for ``mdr_loader``:

* ``etl.set_aside_constraints(tables)`` records the definitions of those constraints
  and indexes of the given registry tables in ``etl.set_aside`` and drops them;
* ``etl.restore_constraints()`` builds again everything its transaction set aside
  (indexes first: the foreign keys' checks and the exclusion checks use them) and
  answers how long each build took.

The definitions never pass through the caller, so the loader cannot have anything
else built. A transaction that sets constraints aside cannot commit without
restoring them: a deferred trigger on ``etl.set_aside`` fails the commit while any
of its rows are left. Rolled back, the drops and the rows vanish together.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "set_aside",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True),
                  comment="Row key."),
        sa.Column("xact", sa.BigInteger(), server_default=sa.text("txid_current()"),
                  nullable=False, comment="The transaction that set it aside."),
        sa.Column("target", postgresql.REGCLASS(), nullable=False, comment="Its table."),
        sa.Column("name", sa.Text(), nullable=False, comment="Its name."),
        sa.Column("kind", sa.String(1), nullable=False,
                  comment="i: a plain index; f: a foreign key; x: an exclusion constraint."),
        sa.Column("definition", sa.Text(), nullable=False,
                  comment="Its definition, as PostgreSQL prints it."),
        sa.CheckConstraint("kind IN ('i', 'f', 'x')", name=op.f("ck_set_aside_kind_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_set_aside")),
        schema="etl",
        comment="Constraints and indexes a bulk load dropped and must build again before "
        "its transaction commits (empty between loads).")
    op.execute("""
        CREATE FUNCTION etl.set_aside_left() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM etl.set_aside WHERE id = NEW.id) THEN
                RAISE EXCEPTION '% of % was set aside and not restored', NEW.name, NEW.target
                    USING HINT = 'Call etl.restore_constraints() before committing.';
            END IF;
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE CONSTRAINT TRIGGER restored_before_commit AFTER INSERT ON etl.set_aside
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION etl.set_aside_left()""")
    op.execute("""
        CREATE FUNCTION etl.set_aside_constraints(tables regclass[]) RETURNS void
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
        DECLARE
            each_table regclass;
            item record;
        BEGIN
            -- Only the registries' tables: those the loader may write, outside the
            -- schema of the loads' own records.
            FOREACH each_table IN ARRAY tables LOOP
                IF NOT has_table_privilege('mdr_loader', each_table, 'INSERT')
                   OR (SELECT relnamespace = 'etl'::regnamespace FROM pg_class
                       WHERE oid = each_table) THEN
                    RAISE EXCEPTION '% is not a table of a registry', each_table;
                END IF;
            END LOOP;
            INSERT INTO etl.set_aside (target, name, kind, definition)
            SELECT conrelid::regclass, conname::text, contype::text, pg_get_constraintdef(oid)
            FROM pg_constraint
            WHERE conrelid = ANY(tables) AND contype IN ('f', 'x')
            UNION ALL
            -- Indexes that back no constraint.
            SELECT i.indrelid::regclass, c.relname::text, 'i', pg_get_indexdef(i.indexrelid)
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = ANY(tables)
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
            ORDER BY 3, 1, 2;
            FOR item IN SELECT * FROM etl.set_aside
                        WHERE xact = txid_current() AND set_aside.target = ANY(tables)
                        ORDER BY id LOOP
                IF item.kind = 'i' THEN
                    EXECUTE format('DROP INDEX %I.%I',
                                   (SELECT relnamespace::regnamespace::text FROM pg_class
                                    WHERE oid = item.target), item.name);
                ELSE
                    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', item.target,
                                   item.name);
                END IF;
            END LOOP;
        END $$""")
    op.execute("""
        CREATE FUNCTION etl.restore_constraints()
        RETURNS TABLE (name text, seconds double precision)
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
        DECLARE
            item record;
            started timestamptz;
        BEGIN
            -- Indexes first, then foreign keys, then exclusion constraints.
            FOR item IN SELECT * FROM etl.set_aside WHERE xact = txid_current()
                        ORDER BY CASE kind WHEN 'i' THEN 0 WHEN 'f' THEN 1 ELSE 2 END, id
                        LOOP
                started := clock_timestamp();
                IF item.kind = 'i' THEN
                    EXECUTE item.definition;
                ELSE
                    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', item.target,
                                   item.name, item.definition);
                END IF;
                DELETE FROM etl.set_aside WHERE id = item.id;
                name := item.name;
                seconds := extract(epoch FROM clock_timestamp() - started);
                RETURN NEXT;
            END LOOP;
        END $$""")
    for function in ("etl.set_aside_constraints(regclass[])", "etl.restore_constraints()"):
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO mdr_loader")


def downgrade() -> None:
    op.execute("DROP FUNCTION etl.restore_constraints()")
    op.execute("DROP FUNCTION etl.set_aside_constraints(regclass[])")
    op.execute("DROP TABLE etl.set_aside")
    op.execute("DROP FUNCTION etl.set_aside_left()")
