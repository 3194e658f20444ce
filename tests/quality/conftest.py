"""The quality tests' fixtures: a template holding the clean population, and fresh copies."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from mdr.cluster import LocalCluster
from tests.conftest import create_database, drop_database
from tests.factories.population_quality import build_clean_population
from tests.quality.support import write


@pytest.fixture(scope="module")
def population_template(cluster: LocalCluster, ref_template: str) -> Iterator[str]:
    """A template database: reference data and the clean population."""
    name = f"tpl_population_{uuid.uuid4().hex[:8]}"
    url = create_database(cluster, name, template=ref_template)

    write(url, build_clean_population)
    yield name
    drop_database(cluster, name)


@pytest.fixture
def db_url(clone_db: Callable[[str], str], population_template: str) -> str:
    """A fresh copy of the clean population (administrator URL)."""
    return clone_db(population_template)
