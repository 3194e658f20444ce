"""Definitions that are written once and hold in the database as the models say."""

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

import schemas
from schemas.etl import RUN_STATUSES


def test_life_events_carry_no_order_column_that_nothing_writes(conn: Connection) -> None:
    columns = set(conn.execute(text(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'population' AND table_name = 'life_event'")).scalars())
    assert "sequence" not in columns
    assert columns == set(schemas.metadata.tables["population.life_event"].columns.keys())


def test_a_load_run_stands_only_as_run_statuses_says(conn: Connection) -> None:
    insert = text("INSERT INTO etl.load_run (registry, source, status) "
                  "VALUES ('population', 'x.csv', :status)")
    for status in RUN_STATUSES:
        conn.execute(insert, {"status": status})
    with pytest.raises(IntegrityError, match="ck_load_run_status"), conn.begin_nested():
        conn.execute(insert, {"status": "done"})
