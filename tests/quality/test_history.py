"""`mdr quality report`: the latest scores per registry and province, and their trend."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from mdr.cli import app
from mdr.db import Role, role_url
from quality.run import run_quality
from tests.factories.population_quality import AS_OF, build_clean_population, nid


def test_report_shows_the_latest_scores_their_trend_and_the_worst_province(
        clone_db: Callable[[str], str], ref_template: str) -> None:
    url = clone_db(ref_template)
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        build_clean_population(conn)
    run_quality(role_url(url, Role.LOADER), ["population"], as_of=AS_OF)
    with engine.begin() as conn:  # two heads in the Hà Nội household
        conn.execute(text("UPDATE population.household_member SET relation = 'head' "
                          "WHERE national_id = :nid"), {"nid": nid("B")})
    engine.dispose()
    second = run_quality(role_url(url, Role.LOADER), ["population"], as_of=AS_OF)

    result = CliRunner().invoke(app, ["quality", "report", "--json"],
                                env={"MDR_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    population = json.loads(result.stdout)["registries"]["population"]
    rules = second.registry("population").score.passed + 1
    assert [r["score"] for r in population["runs"]] == pytest.approx([(rules - 1) / rules, 1.0])
    assert population["latest"]["run_id"] == second.registry("population").run_id
    assert population["change"] == pytest.approx(-1 / rules)
    assert population["failed_rules"] == ["household-one-head"]
    worst, *others = population["provinces"]
    assert (worst["code"], worst["failed_rules"]) == ("001", ["household-one-head"])
    assert worst["score"] < 1.0 and all(p["score"] == 1.0 for p in others)

    text_form = CliRunner().invoke(app, ["quality", "report"], env={"MDR_DATABASE_URL": url})
    assert text_form.exit_code == 0, text_form.output
    assert "trend (oldest first): 1.000 → " in text_form.stdout
    assert "province 001" in text_form.stdout and "household-one-head" in text_form.stdout
