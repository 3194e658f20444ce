"""Helpers for quality tests: write into a database as an old system would, run the suite."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import NullPool

from mdr.db import Role, role_url
from quality.run import QualityReport, run_quality
from quality.suites import population
from tests.factories.population_quality import AS_OF

RULES = [rule.name for rule in population.rules(AS_OF)]
PROVINCES = {"001", "015", "079"}
"""The provinces of the clean population's households."""


def write(url: str, work: Callable[[Connection], None]) -> None:
    """Write straight into the database as its administrator, the way an old system or a
    manual fix would."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            work(conn)
    finally:
        engine.dispose()


def check(url: str, *, store: bool = True, by_province: bool = True,
          registry: str = "population", as_of: dt.date = AS_OF) -> QualityReport:
    """Run a registry's suite as mdr_loader, the role `mdr quality run` uses."""
    return run_quality(role_url(url, Role.LOADER), [registry], as_of=as_of, store=store,
                       by_province=by_province)
