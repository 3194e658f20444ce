"""Alembic migrations: the database's one history."""
