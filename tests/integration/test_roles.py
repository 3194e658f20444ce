"""Least privilege: each role can do its job and nothing more."""

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError

from mdr.db import Role

INSERT_UNIT = text("""INSERT INTO ref.admin_unit (code, level, unit_type, name, full_name)
                      VALUES ('99', 'province', 'tinh', 'X', 'Tỉnh X')""")


def test_api_role_reads_reference_data_but_cannot_write_it(
        role_engine: Callable[[Role], Engine]) -> None:
    with role_engine(Role.API).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ref.admin_unit")).scalar_one() > 0
        with pytest.raises(ProgrammingError, match="permission denied"):
            conn.execute(INSERT_UNIT)


@pytest.mark.parametrize("statement", [
    "UPDATE ref.admin_unit SET name = 'X' WHERE code = '01'",
    "DELETE FROM ref.admin_unit_change",
    "DELETE FROM etl.load_run",
    "CREATE TABLE ref.intruder (id int)",
    "CREATE TABLE public.intruder (id int)",
])
def test_api_role_cannot_change_anything(role_engine: Callable[[Role], Engine],
                                         statement: str) -> None:
    with role_engine(Role.API).connect() as conn, pytest.raises(ProgrammingError,
                                                                match="permission denied"):
        conn.execute(text(statement))


def test_analyst_cannot_read_registries_or_reference_tables(
        role_engine: Callable[[Role], Engine]) -> None:
    with role_engine(Role.ANALYST).connect() as conn:
        for table in ("ref.admin_unit", "etl.rejected_row"):
            with pytest.raises(ProgrammingError, match="permission denied"):
                conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))
            conn.rollback()


def test_loader_writes_reference_data_but_cannot_change_the_schema(
        role_engine: Callable[[Role], Engine]) -> None:
    with role_engine(Role.LOADER).connect() as conn:
        transaction = conn.begin()
        conn.execute(INSERT_UNIT)
        transaction.rollback()
        with pytest.raises(ProgrammingError, match=r"permission denied|must be owner"):
            conn.execute(text("ALTER TABLE ref.admin_unit ADD COLUMN intruder int"))


def test_schema_objects_belong_to_the_owner_role(role_engine: Callable[[Role], Engine]) -> None:
    with role_engine(Role.API).connect() as conn:
        owners = set(conn.execute(text(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname IN ('ref', 'etl')"
        )).scalars())
    assert owners == {"mdr_owner"}
