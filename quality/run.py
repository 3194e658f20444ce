"""Run the registries' quality suites against the database, score them and store the results.

Scores: per registry, ``passed / total`` over its expectations; for the
population registry also per province. A person's province is the PPP prefix
of the national id (the province where the birth was registered, in its
pre-2025 numbering), not the province of the current residence, because:

* every person has one, fixed for life, so a province's score over time
  follows the same people and does not jump when people move;
* it needs no look-up that could itself be wrong (a residence whose commune
  is invalid would otherwise be scored in no province, or the wrong one);
* it is stable across the 2025 reorganisation, which merged the 63 provinces
  into 34: the prefixes keep the old 63, so older scores stay comparable.

The cost is that a province's score describes the people registered at birth
there, wherever they live now. Rows that do not belong to a person (a
household) take their head's prefix. Each province is scored by running the
same expectations on the same batches restricted to one ``province_code``, so
a registry-wide result and its per-province results cannot disagree on what a
rule means. On a full-size registry those restricted runs want an index on the
prefix (``substr(national_id, 1, 3)``) of the large tables; without one each
province's run scans the whole table.

Results go to ``etl.quality_run`` and ``etl.quality_result`` (``schemas/etl.py``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

# Imported for its side effect: it registers PostGIS types with SQLAlchemy, without which
# Great Expectations' SQL datasource fails on reflecting tables with geometry columns.
import geoalchemy2  # noqa: F401
import great_expectations as gx
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from sqlalchemy import Engine, insert, inspect, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from mdr.db import make_engine
from mdr.settings import Settings
from quality.suites import SUITES
from quality.suites.base import PROVINCE_COLUMN, Consistency, Suite
from schemas.etl import QualityResult, QualityRun


class QualityStorageError(RuntimeError):
    """The database has no tables to store quality results in."""


@dataclass(frozen=True)
class RuleResult:
    """The outcome of one rule, over a registry or one of its provinces."""

    rule: str
    message: str
    """What the rule demands and what to do about a violation."""
    passed: bool
    unexpected_count: int | None
    """Rows breaking the rule; None when the check could not run."""
    observed_value: dict[str, Any] | None = None
    """Great Expectations' result summary, JSON-ready."""
    error: str | None = None
    """Why the check could not be evaluated (it then counts as failed)."""

    @property
    def consistency(self) -> float | None:
        """The share of consistent rows, for a cross-registry consistency score."""
        value = (self.observed_value or {}).get("consistency")
        return float(value) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class Score:
    """Passed and failed expectations of a set of results."""

    passed: int
    failed: int

    @property
    def score(self) -> float:
        """passed / total; 1.0 for an empty set (it breaks no rule)."""
        total = self.passed + self.failed
        return self.passed / total if total else 1.0

    @classmethod
    def of(cls, results: Sequence[RuleResult]) -> Score:
        """Count the passed and failed results."""
        passed = sum(1 for r in results if r.passed)
        return cls(passed, len(results) - passed)

    def as_dict(self) -> dict[str, Any]:
        """``{passed, failed, score}``, the score rounded to 4 places."""
        return {"passed": self.passed, "failed": self.failed, "score": round(self.score, 4)}


class Scored:
    """Results of a set of rules, with their score and the rules that failed."""

    results: tuple[RuleResult, ...]

    @property
    def score(self) -> Score:
        """The passed and failed expectations."""
        return Score.of(self.results)

    @property
    def failed_rules(self) -> list[str]:
        """Names of the rules that failed, in suite order."""
        return [r.rule for r in self.results if not r.passed]


@dataclass(frozen=True)
class ProvinceResult(Scored):
    """The rules over one province's rows."""

    code: str
    name: str | None
    results: tuple[RuleResult, ...]


@dataclass(frozen=True)
class RegistryResult(Scored):
    """One registry's run: the rules over the whole registry, and per province."""

    registry: str
    as_of: dt.date
    started_at: dt.datetime
    finished_at: dt.datetime
    results: tuple[RuleResult, ...]
    provinces: tuple[ProvinceResult, ...] = ()
    province_basis: str | None = None
    """How rows were assigned to provinces."""
    run_id: int | None = None
    """Row of ``etl.quality_run`` holding this result; None when not stored."""

    def result(self, rule: str) -> RuleResult:
        """The registry-wide result of one rule."""
        for found in self.results:
            if found.rule == rule:
                return found
        raise KeyError(f"{self.registry} has no rule {rule!r}")

    def as_dict(self) -> dict[str, Any]:
        """``{passed, failed, score, failed_rules, run_id, provinces}``."""
        return {
            **self.score.as_dict(),
            "failed_rules": self.failed_rules,
            "run_id": self.run_id,
            "provinces": {
                p.code: {**p.score.as_dict(), "name": p.name, "failed_rules": p.failed_rules}
                for p in self.provinces
            },
        }


@dataclass(frozen=True)
class QualityReport:
    """All registries of one `mdr quality run`; ``ok`` decides the exit status."""

    as_of: dt.date
    registries: tuple[RegistryResult, ...]

    @property
    def ok(self) -> bool:
        """False when any expectation failed (or could not run) over any registry."""
        return all(not r.failed_rules for r in self.registries)

    def registry(self, name: str) -> RegistryResult:
        """The result of one registry."""
        for found in self.registries:
            if found.registry == name:
                return found
        raise KeyError(f"the report holds no registry {name!r}")

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` summary: ``{ok, as_of, registries: {name: {passed, failed, score,
        failed_rules, run_id, provinces}}}``."""
        return {
            "ok": self.ok,
            "as_of": self.as_of.isoformat(),
            "registries": {r.registry: r.as_dict() for r in self.registries},
        }


def registry_names(requested: Sequence[str]) -> list[str]:
    """The registries to check, in suite order; ``all`` means every registry with a suite."""
    if not requested:
        raise ValueError(f"Name the registries to check: {', '.join(SUITES)} (or all).")
    if "all" in requested:
        return list(SUITES)
    unknown = [name for name in requested if name not in SUITES]
    if unknown:
        raise ValueError(
            f"No quality suite for {', '.join(map(repr, unknown))}; registries with a suite: "
            f"{', '.join(SUITES)} (or all)."
        )
    return [name for name in SUITES if name in requested]


def run_quality(engine_url: str, registries: list[str], *, as_of: dt.date | None = None,
                by_province: bool = True, store: bool = True,
                settings: Settings | None = None) -> QualityReport:
    """Run the suites of ``registries`` against the database at ``engine_url``.

    The URL's user needs to read the registries and ``ref`` and, with ``store``,
    to write ``etl`` (``mdr_loader`` does). ``as_of`` is the day the checks take
    as today (default: the machine's today). With ``by_province`` the suites
    that define provinces are also scored per province. A failing expectation is
    a result, not an exception; exceptions mean the checks could not run (and
    the stored run then keeps the error).
    """
    names = registry_names(registries)
    day = as_of or dt.date.today()
    settings = settings or Settings()
    engine = make_engine(engine_url, settings, pool_size=1)
    try:
        if store:
            _require_storage(engine)
        return _run_suites(engine_url, engine, settings, names, day, by_province=by_province,
                           store=store)
    finally:
        engine.dispose()


def _run_suites(engine_url: str, engine: Engine, settings: Settings, names: list[str],
                day: dt.date, *, by_province: bool, store: bool) -> QualityReport:
    # Great Expectations prints a few notices with print() (an UnexpectedRowsExpectation
    # without {batch}, for one); `--json` output must stay one JSON object on stdout, so
    # whatever it prints, from building expectations to running them, goes to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        checker = _Checker(engine_url, engine, settings)
        done = []
        for name in names:
            suite = SUITES[name](day)
            run_id = _start_run(engine, name, day) if store else None
            try:
                result = checker.check(suite, day, by_province=by_province)
            except Exception as exc:
                if run_id is not None:
                    # Best effort: when the database itself is the problem, the original
                    # error is the one worth seeing.
                    with contextlib.suppress(SQLAlchemyError):
                        _record_error(engine, run_id, exc)
                raise
            if run_id is not None:
                _store(engine, run_id, result)
            done.append(replace(result, run_id=run_id))
        return QualityReport(day, tuple(done))


class _Checker:
    """One Great Expectations context and SQL datasource for all suites of a run."""

    def __init__(self, engine_url: str, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        config = DataContextConfig(
            # In memory only: no great_expectations/ folder, no temporary docs site.
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            # tqdm bars would clutter a scheduler's log; they are off, not redirected.
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        )
        self.context = gx.get_context(mode="ephemeral", project_config=config)
        # The same session settings as mdr's own engines (mdr.db.make_engine).
        options = f"-c statement_timeout={settings.statement_timeout_ms} -c timezone=UTC"
        # `kwargs` (passed to create_engine) is a field of every SQL datasource, but the
        # typed signature of add_postgres leaves it out.
        self.datasource = self.context.data_sources.add_postgres(  # type: ignore[call-arg]
            "mdr", connection_string=engine_url,
            kwargs={"connect_args": {"options": options, "application_name": "mdr-quality"}},
        )

    def check(self, suite: Suite, as_of: dt.date, *, by_province: bool) -> RegistryResult:
        """Run one suite over the whole registry and, when asked, per province."""
        started = dt.datetime.now(dt.UTC)
        expectations = self._expectation_suites(suite)
        scores = self._consistency(suite)
        results = self._run(suite, expectations, None) + scores.get(None, ())
        provinces: list[ProvinceResult] = []
        if by_province and suite.provinces_query is not None:
            for code, name in self._provinces(suite.provinces_query):
                provinces.append(ProvinceResult(
                    code, name, self._run(suite, expectations, code)
                    + scores.get(code, _consistent(suite.consistency))))
        return RegistryResult(
            registry=suite.registry, as_of=as_of, started_at=started,
            finished_at=dt.datetime.now(dt.UTC), results=results, provinces=tuple(provinces),
            province_basis=suite.province_basis,
        )

    def _expectation_suites(self, suite: Suite) -> dict[str, gx.ExpectationSuite]:
        """One GE expectation suite per batch that has rules, shared by all its runs."""
        made: dict[str, gx.ExpectationSuite] = {}
        for batch in suite.batches:
            rules = suite.rules_of(batch.name)
            if rules:
                made[batch.name] = self.context.suites.add(
                    gx.ExpectationSuite(f"{suite.registry}.{batch.name}",
                                        expectations=[rule.expectation for rule in rules])
                )
        return made

    def _run(self, suite: Suite, expectations: dict[str, gx.ExpectationSuite],
             province: str | None) -> tuple[RuleResult, ...]:
        """Validate every batch, over all its rows or over one province's."""
        found: dict[str, RuleResult] = {}
        for batch in suite.batches:
            if batch.name not in expectations:
                continue
            name, query = f"{suite.registry}.{batch.name}", batch.query
            if province is not None:
                # One query asset per province rather than a batch partitioned on the column:
                # GE lists a partitioned asset's values (a scan) before every run, and fails
                # on a province with no rows in the batch. The code is quoted as a literal
                # (standard_conforming_strings is on by default).
                name = f"{name}.{province}"
                literal = "'" + province.replace("'", "''") + "'"
                query = (f"SELECT * FROM ({query}) AS batch_rows "
                         f"WHERE batch_rows.{PROVINCE_COLUMN} = {literal}")
            asset = self.datasource.add_query_asset(name, query=query)
            definition = self.context.validation_definitions.add(gx.ValidationDefinition(
                name=name, data=asset.add_batch_definition_whole_table(name),
                suite=expectations[batch.name],
            ))
            outcome = definition.run(result_format="SUMMARY")
            messages = {rule.name: rule.message for rule in suite.rules_of(batch.name)}
            for validation in outcome.results:
                config = validation.expectation_config
                assert config is not None and config.meta, "GE returned a result without its rule"
                rule = config.meta["rule"]
                found[rule] = _rule_result(rule, messages[rule], validation.to_json_dict())
        # Suite order, so reports and stored rows read the same from run to run.
        return tuple(found[rule.name] for rule in suite.rules if rule.name in found)

    def _consistency(self, suite: Suite) -> dict[str | None, tuple[RuleResult, ...]]:
        """Each consistency score over the registry (key None) and per province."""
        counts: dict[str | None, dict[str, tuple[int, int]]] = {}
        with self.engine.connect() as conn:
            for measure in suite.consistency:
                total = [0, 0]
                for province, checked, inconsistent in conn.execute(text(measure.query)):
                    counts.setdefault(province, {})[measure.name] = (checked, inconsistent)
                    total[0] += checked
                    total[1] += inconsistent
                counts.setdefault(None, {})[measure.name] = (total[0], total[1])
        return {province: tuple(_consistency_result(m.name, m.message, *found.get(m.name, (0, 0)))
                                for m in suite.consistency)
                for province, found in counts.items()}

    def _provinces(self, query: str) -> list[tuple[str, str | None]]:
        with self.engine.connect() as conn:
            return [(str(code), name) for code, name in conn.execute(text(query))
                    if code is not None]


def _rule_result(rule: str, message: str, validation: dict[str, Any]) -> RuleResult:
    """Read one Great Expectations validation result (its JSON form)."""
    error = _exception_message(validation.get("exception_info"))
    summary: dict[str, Any] = validation.get("result") or {}
    passed = bool(validation.get("success")) and error is None
    unexpected = summary.get("unexpected_count")
    observed = summary.get("observed_value")
    if unexpected is None and isinstance(observed, int) and not isinstance(observed, bool):
        # UnexpectedRowsExpectation reports the offending rows' count as its observed value.
        unexpected = observed
    if unexpected is None and passed:
        unexpected = 0  # GE gives no count for a column with no values; none broke the rule
    # A round trip through JSON turns what GE left as dates or decimals into plain values.
    observed_value = json.loads(json.dumps(summary, default=str)) if summary else None
    return RuleResult(rule, message, passed, unexpected if error is None else None,
                      observed_value, error)


def _consistency_result(name: str, message: str, checked: int,
                        inconsistent: int) -> RuleResult:
    score = 1.0 - inconsistent / checked if checked else 1.0
    return RuleResult(name, message, inconsistent == 0, inconsistent,
                      {"checked": checked, "inconsistent": inconsistent,
                       "consistency": round(score, 4)})


def _consistent(measures: Sequence[Consistency]) -> tuple[RuleResult, ...]:
    """The scores of a province none of whose rows a measure checked."""
    return tuple(_consistency_result(m.name, m.message, 0, 0) for m in measures)


def _exception_message(info: Any) -> str | None:
    """The message of a check that raised; GE nests the info per metric at times."""
    if not isinstance(info, dict):
        return None
    if "raised_exception" in info:
        if not info.get("raised_exception"):
            return None
        return str(info.get("exception_message") or "the check raised an error")
    for nested in info.values():
        message = _exception_message(nested)
        if message is not None:
            return message
    return None


def _require_storage(engine: Engine) -> None:
    inspector = inspect(engine)
    missing = [t for t in ("quality_run", "quality_result")
               if not inspector.has_table(t, schema="etl")]
    if missing:
        raise QualityStorageError(
            f"The database has no {', '.join('etl.' + t for t in missing)} to store quality "
            "results in. Run `mdr db migrate` to bring the schema up to date, or run the "
            "checks without storing them."
        )


def _start_run(engine: Engine, registry: str, as_of: dt.date) -> int:
    # Its own transaction: the row stays, finished_at NULL, if the checks die.
    with Session(engine) as session, session.begin():
        run = QualityRun(registry_name=registry, as_of=as_of, engine_version=gx.__version__)
        session.add(run)
        session.flush()
        return run.id


def _store(engine: Engine, run_id: int, result: RegistryResult) -> None:
    rows = [_row(run_id, r, None) for r in result.results]
    rows += [_row(run_id, r, p.code) for p in result.provinces for r in p.results]
    score = result.score
    with Session(engine) as session, session.begin():
        if rows:
            session.execute(insert(QualityResult), rows)
        session.execute(
            update(QualityRun).where(QualityRun.id == run_id).values(
                passed=score.passed, failed=score.failed, score=score.score,
                finished_at=result.finished_at,
            )
        )


def _row(run_id: int, result: RuleResult, province: str | None) -> dict[str, Any]:
    return {
        "run_id": run_id, "rule": result.rule, "province_code": province,
        "passed": result.passed, "unexpected_count": result.unexpected_count,
        "observed_value": result.observed_value, "error": result.error,
    }


def _record_error(engine: Engine, run_id: int, exc: Exception) -> None:
    with Session(engine) as session, session.begin():
        session.execute(
            update(QualityRun).where(QualityRun.id == run_id)
            .values(error=f"{type(exc).__name__}: {exc}")
        )
