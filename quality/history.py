"""Stored quality results over time: the latest scores per registry and province and
their trend, as ``mdr quality report`` and the HTML report show them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, text


@dataclass(frozen=True)
class RunScore:
    """One finished quality run of a registry."""

    run_id: int
    started_at: dt.datetime
    as_of: dt.date
    passed: int
    failed: int
    score: float


@dataclass(frozen=True)
class ProvinceScore:
    code: str
    passed: int
    failed: int
    failed_rules: list[str]

    @property
    def score(self) -> float:
        total = self.passed + self.failed
        return self.passed / total if total else 1.0


@dataclass(frozen=True)
class RegistryHistory:
    """A registry's latest runs (newest first) and the latest run's details."""

    registry: str
    runs: list[RunScore]
    failed_rules: list[str]
    provinces: list[ProvinceScore]
    """Of the latest run, worst first."""

    @property
    def latest(self) -> RunScore:
        return self.runs[0]

    @property
    def change(self) -> float | None:
        """Latest score minus the one before; None after a single run."""
        return self.runs[0].score - self.runs[1].score if len(self.runs) > 1 else None


def quality_history(conn: Connection, last: int = 5) -> list[RegistryHistory]:
    """Every registry's ``last`` finished runs and the details of its latest one."""
    runs: dict[str, list[RunScore]] = {}
    for registry, *score in conn.execute(text("""
            SELECT registry, id, started_at, as_of, passed, failed, score
            FROM (SELECT *, row_number() OVER (PARTITION BY registry ORDER BY id DESC) AS n
                  FROM etl.quality_run WHERE finished_at IS NOT NULL) r
            WHERE n <= :last ORDER BY registry, id DESC"""), {"last": last}):
        runs.setdefault(registry, []).append(RunScore(*score))
    histories = []
    for registry, scores in runs.items():
        latest = scores[0].run_id
        failed = list(conn.execute(text(
            "SELECT rule FROM etl.quality_result WHERE run_id = :run AND province_code IS NULL "
            "AND NOT passed ORDER BY rule"), {"run": latest}).scalars())
        provinces = [ProvinceScore(code, passed, failed_count, list(rules)) for
                     code, passed, failed_count, rules in conn.execute(text("""
            SELECT province_code, count(*) FILTER (WHERE passed),
                   count(*) FILTER (WHERE NOT passed),
                   coalesce(array_agg(rule ORDER BY rule) FILTER (WHERE NOT passed), '{}')
            FROM etl.quality_result WHERE run_id = :run AND province_code IS NOT NULL
            GROUP BY province_code"""), {"run": latest})]
        provinces.sort(key=lambda p: (p.score, p.code))
        histories.append(RegistryHistory(registry, scores, failed, provinces))
    return histories
