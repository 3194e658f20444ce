"""``mdr load macro``: SDMX structure and data messages into the macro-economy registry.

A plain long or wide CSV loads too, through a mapping profile (``--profile``;
``loaders.sources.mapped_csv``): its rows become the same observations.

A structure message (data structure definitions, code lists, dataflows) is
read by ``sdmx1`` and merged as it is: an SDMX artefact's version is immutable,
so one already held is left alone. A data message (SDMX-ML, SDMX-JSON, SDMX-CSV;
``loaders.sources.sdmx_messages``) is checked row by row against the structure
of its dataflow (the key's dimensions, codes against code lists, the period
against the frequency, the value, the release date), COPYed into staging,
checked for duplicates in SQL, and merged as a release: an observation is added
only where it changes what the previous release said, so a release loaded twice
adds nothing and a revision is a new row beside the old one. The run itself
(lock, threshold, one transaction, run record) is ``loaders.base.run_load``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from loaders import reasons
from loaders.base import (
    FileStage,
    LoadResult,
    Options,
    Progress,
    RegistryLoader,
    RowChecker,
    Stage,
    copy_rows,
    run_load,
    sha256,
)
from loaders.rules.periods import describe, period_start
from loaders.rules.text import has_control_characters
from loaders.sources.mapped_csv import MappingProfile, read_mapped
from loaders.sources.readers import Profile, SourceError
from loaders.sources.sdmx_messages import FlowRef, ObsRecord, message_format, read_data

REGISTRY = "macro"

REF_CODELISTS = {"CL_CURRENCY": "ref.currency", "CL_AREA_ISO": "ref.country",
                 "CL_SEX": "ref.sex", "CL_INDUSTRY": "ref.industry"}
"""Code lists that ``ref`` already holds: a structure naming one re-uses the ref table."""

ROLES = {"FREQ": "frequency", "REF_AREA": "area", "SEX": "sex", "AGE": "age",
         "ACTIVITY": "industry", "INDUSTRY": "industry", "LAND_USE": "land-use"}
"""What a dimension id means to mdr (SDMX cross-domain concepts)."""

COPY_BATCH = 50_000
_MISSING = {"", "NaN", "nan", "NA"}
_ROOT = re.compile(r"<(?:\w+:)?(Structure|GenericData|StructureSpecificData|\w+)[\s>]")


# -- structures ---------------------------------------------------------------------------------


@dataclass
class Flow:
    """A dataflow with what its rows are checked against."""

    id: int
    ref: str
    structure: str
    dimensions: list[str]
    time_dimension: str
    attached: dict[str, str]
    """Attribute id -> dataset, series or observation."""
    codes: dict[str, frozenset[str] | None] = field(default_factory=dict)
    """Dimension or attribute id -> its codes; None: not coded or the codes are not held."""
    codelists: dict[str, str] = field(default_factory=dict)


def structure_codes(conn: Connection, codelist_id: int | None) -> frozenset[str] | None:
    """The codes of a code list (from its ref table where it re-uses one); None when the
    registry holds none of them (an external list: its codes cannot be checked)."""
    if codelist_id is None:
        return None
    ref_table = conn.execute(text("SELECT ref_table FROM macro.codelist WHERE id = :id"),
                             {"id": codelist_id}).scalar_one()
    own = conn.execute(text("SELECT code FROM macro.code WHERE codelist_id = :id"),
                       {"id": codelist_id}).scalars()
    rows = list(own)
    if ref_table:
        # ref tables are named by the registry itself, never by a message; a list that
        # re-uses one may add codes of its own (totals such as _T).
        rows += conn.execute(text(f"SELECT DISTINCT code FROM {ref_table}")).scalars()
    codes = frozenset(rows)
    return codes or None


def find_flow(conn: Connection, ref: FlowRef) -> Flow | None:
    """The dataflow a message names, or the one of the structure it names.

    A message that names both an unknown dataflow and a known structure states
    the link between them: the dataflow is registered over that structure.
    """
    flow_id = None
    if ref.kind == "dataflow":
        flow_id = conn.execute(text(
            "SELECT id FROM macro.dataflow WHERE agency = :a AND code = :c AND version = :v"),
            {"a": ref.agency, "c": ref.code, "v": ref.version}).scalar()
    structure = ref if ref.kind == "structure" else ref.structure
    if flow_id is None and structure is not None:
        dsd = conn.execute(text(
            "SELECT id, name FROM macro.data_structure WHERE agency = :a AND code = :c "
            "AND version = :v"),
            {"a": structure.agency, "c": structure.code, "v": structure.version}).first()
        if dsd is not None:
            target = ref if ref.kind == "dataflow" else structure
            flow_id = ensure_dataflow(conn, target.agency, target.code, target.version,
                                      dsd.name, dsd.id)
    if flow_id is None:
        return None
    return load_flow(conn, int(flow_id))


def ensure_dataflow(conn: Connection, agency: str, code: str, version: str,
                    name: str | None, structure_id: int) -> int:
    conn.execute(text("INSERT INTO macro.agency (code) VALUES (:a) ON CONFLICT DO NOTHING"),
                 {"a": agency})
    conn.execute(text(
        "INSERT INTO macro.dataflow (agency, code, version, name, structure_id) "
        "VALUES (:a, :c, :v, :n, :s) ON CONFLICT (agency, code, version) DO NOTHING"),
        {"a": agency, "c": code, "v": version, "n": name, "s": structure_id})
    return int(conn.execute(text(
        "SELECT id FROM macro.dataflow WHERE agency = :a AND code = :c AND version = :v"),
        {"a": agency, "c": code, "v": version}).scalar_one())


def load_flow(conn: Connection, flow_id: int) -> Flow:
    row = conn.execute(text("""
        SELECT f.agency || ':' || f.code || '(' || f.version || ')' AS ref,
               d.agency || ':' || d.code || '(' || d.version || ')' AS structure,
               d.id AS structure_id, d.time_dimension
        FROM macro.dataflow f JOIN macro.data_structure d ON d.id = f.structure_id
        WHERE f.id = :id"""), {"id": flow_id}).one()
    dims = conn.execute(text("""
        SELECT m.code, m.codelist_id, c.code AS codelist FROM macro.dimension m
        LEFT JOIN macro.codelist c ON c.id = m.codelist_id
        WHERE m.structure_id = :s ORDER BY m.position"""), {"s": row.structure_id}).all()
    attrs = conn.execute(text("""
        SELECT a.code, a.codelist_id, a.attached_to, c.code AS codelist FROM macro.attribute a
        LEFT JOIN macro.codelist c ON c.id = a.codelist_id
        WHERE a.structure_id = :s"""), {"s": row.structure_id}).all()
    flow = Flow(flow_id, row.ref, row.structure, [d.code for d in dims], row.time_dimension,
                {a.code: a.attached_to for a in attrs})
    for component in (*dims, *attrs):
        flow.codes[component.code] = structure_codes(conn, component.codelist_id)
        flow.codelists[component.code] = component.codelist or ""
    return flow


class StructureStage(Stage):
    """A structure message: agencies, code lists, data structures and dataflows."""

    def __init__(self, conn: Connection, checker: RowChecker, options: Options | None,
                 run_id: int, path: Path) -> None:
        super().__init__(conn, checker, options, run_id)
        self.path = path
        self.message: Any = None

    def read(self, progress: Progress | None) -> int:
        import sdmx

        try:
            self.message = sdmx.read_sdmx(self.path)
        except Exception as exc:
            raise SourceError(f"{self.path.name} cannot be read as an SDMX structure message: "
                              f"{exc}") from exc
        if not hasattr(self.message, "structure") or hasattr(self.message, "data"):
            raise SourceError(f"{self.path.name} is not a structure message; load data with "
                              "--kind data.")
        m = self.message
        return len(m.codelist) + len(m.structure) + len(m.dataflow)

    def merge(self) -> tuple[int, int, int]:
        inserted = unchanged = 0
        m = self.message
        for codelist in m.codelist.values():
            new = self._codelist(codelist)
            inserted, unchanged = inserted + new, unchanged + (not new)
        for dsd in m.structure.values():
            new = self._structure(dsd)
            inserted, unchanged = inserted + new, unchanged + (not new)
        for flow in m.dataflow.values():
            dsd = flow.structure
            structure_id = self._structure_id(_maintainer(dsd), dsd.id, dsd.version or "1.0")
            if structure_id is None:
                continue
            existed = self._exists("dataflow", _maintainer(flow), flow.id, flow.version)
            ensure_dataflow(self.conn, _maintainer(flow), flow.id, flow.version or "1.0",
                            _name(flow), structure_id)
            inserted, unchanged = inserted + (not existed), unchanged + existed
        # A structure published without a dataflow gets one of the same id, so its data
        # (which then names the structure only) has somewhere to go.
        for dsd in m.structure.values():
            if not any(f.structure is dsd or getattr(f.structure, "id", None) == dsd.id
                       for f in m.dataflow.values()):
                structure_id = self._structure_id(_maintainer(dsd), dsd.id, dsd.version)
                assert structure_id is not None
                ensure_dataflow(self.conn, _maintainer(dsd), dsd.id, dsd.version, _name(dsd),
                                structure_id)
        self.details = {"code_lists": len(m.codelist), "structures": len(m.structure),
                        "dataflows": len(m.dataflow)}
        return inserted, 0, unchanged

    def _exists(self, table: str, agency: str, code: str, version: str | None) -> bool:
        return bool(self.sql(f"SELECT EXISTS (SELECT 1 FROM macro.{table} WHERE agency = :a "
                             "AND code = :c AND version = :v)",
                             a=agency, c=code, v=version or "1.0").scalar_one())

    def _structure_id(self, agency: str, code: str, version: str) -> int | None:
        found = self.sql("SELECT id FROM macro.data_structure WHERE agency = :a AND code = :c "
                         "AND version = :v", a=agency, c=code, v=version).scalar()
        return None if found is None else int(found)

    def _codelist_id(self, codelist: Any) -> int:
        agency, version = _maintainer(codelist), codelist.version or "1.0"
        self.sql("INSERT INTO macro.agency (code) VALUES (:a) ON CONFLICT DO NOTHING", a=agency)
        self.sql("""INSERT INTO macro.codelist (agency, code, version, name, ref_table)
                    VALUES (:a, :c, :v, :n, :r) ON CONFLICT (agency, code, version) DO NOTHING""",
                 a=agency, c=codelist.id, v=version, n=_name(codelist),
                 r=REF_CODELISTS.get(codelist.id))
        return int(self.sql("SELECT id FROM macro.codelist WHERE agency = :a AND code = :c "
                            "AND version = :v", a=agency, c=codelist.id, v=version).scalar_one())

    def _codelist(self, codelist: Any) -> bool:
        existed = self._exists("codelist", _maintainer(codelist), codelist.id, codelist.version)
        list_id = self._codelist_id(codelist)
        codes = [(list_id, code.id, _name(code),
                  getattr(getattr(code, "parent", None), "id", None))
                 for code in codelist.items.values()]
        if codes:
            self.sql("CREATE TEMP TABLE IF NOT EXISTS stage_code (codelist_id int, code text, "
                     "name text, parent_code text) ON COMMIT DROP")
            self.sql("TRUNCATE stage_code")
            copy_rows(self.conn, "stage_code", ("codelist_id", "code", "name", "parent_code"),
                      codes)
            added = self.sql("""INSERT INTO macro.code (codelist_id, code, name, parent_code)
                                SELECT * FROM stage_code ON CONFLICT DO NOTHING""").rowcount
            existed = existed and not added
        return not existed

    def _structure(self, dsd: Any) -> bool:
        agency, version = _maintainer(dsd), dsd.version or "1.0"
        if self._structure_id(agency, dsd.id, version) is not None:
            return False
        self.sql("INSERT INTO macro.agency (code) VALUES (:a) ON CONFLICT DO NOTHING", a=agency)
        time_dims = [d.id for d in dsd.dimensions.components
                     if type(d).__name__ == "TimeDimension"]
        structure_id = int(self.sql(
            "INSERT INTO macro.data_structure (agency, code, version, name, time_dimension) "
            "VALUES (:a, :c, :v, :n, :t) RETURNING id", a=agency, c=dsd.id, v=version,
            n=_name(dsd), t=time_dims[0] if time_dims else "TIME_PERIOD").scalar_one())
        position = 0
        for dim in dsd.dimensions.components:
            if dim.id in time_dims:
                continue
            position += 1
            self.sql("""INSERT INTO macro.dimension (structure_id, code, position, codelist_id,
                                                     role)
                        VALUES (:s, :c, :p, :l, :r)""",
                     s=structure_id, c=dim.id, p=position, l=self._enumeration(dim),
                     r=ROLES.get(dim.id))
        for attr in dsd.attributes.components:
            relation = type(getattr(attr, "related_to", None)).__name__
            attached = {"PrimaryMeasureRelationship": "observation",
                        "NoSpecifiedRelationship": "dataset"}.get(relation, "series")
            self.sql("""INSERT INTO macro.attribute (structure_id, code, codelist_id,
                                                     attached_to, mandatory)
                        VALUES (:s, :c, :l, :a, :m)""",
                     s=structure_id, c=attr.id, l=self._enumeration(attr), a=attached,
                     m="mandatory" in str(getattr(attr, "usage_status", "")))
        return True

    def _enumeration(self, component: Any) -> int | None:
        representation = getattr(component, "local_representation", None)
        codelist = getattr(representation, "enumerated", None)
        return None if codelist is None else self._codelist_id(codelist)


def _maintainer(artefact: Any) -> str:
    return str(getattr(getattr(artefact, "maintainer", None), "id", None) or "SDMX")


def _name(artefact: Any) -> str | None:
    name = getattr(artefact, "name", None)
    return str(name) if name is not None and str(name) else None


# -- data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    """A reason found once for what many rows share (a series key, its attributes)."""

    reason: reasons.Reason
    column: str
    value: str | None
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Described:
    """What rows of one series key and attribute set stage alike."""

    key: str
    dimensions: str
    series_attributes: str
    status: str | None
    attributes: str
    frequency: str | None


class ObservationChecker(RowChecker):
    """Checks observations against their dataflow's structure.

    A national file repeats a few thousand series keys and a few hundred periods over
    millions of rows: what depends only on them (the key against the structure, codes,
    the period against the frequency, the release date) is checked once per distinct
    value and remembered, so each row costs its value's parse.
    """

    def __init__(self, source: str, effective_date: dt.date, conn: Connection) -> None:
        super().__init__(source, effective_date)
        self.conn = conn
        self.release_default = effective_date
        self.flows: dict[FlowRef, Flow | None] = {}
        self.described: dict[tuple[Any, ...], Described | Rejection] = {}
        self.starts: dict[tuple[str, str | None], dt.date | None] = {}
        self.releases: dict[str, dt.date | None] = {}
        self._last: tuple[FlowRef | None, Flow | None] = (None, None)

    def flow(self, ref: FlowRef) -> Flow | None:
        if ref not in self.flows:
            self.flows[ref] = find_flow(self.conn, ref)
        return self.flows[ref]

    def row(self, rec: ObsRecord) -> tuple[Any, ...] | None:
        """The staged tuple of a valid observation, or None (its issue recorded)."""
        n = rec.row
        ref = rec.flow
        if ref is self._last[0] and ref is not None:
            flow = self._last[1]
        else:
            flow = self.flow(ref) if ref is not None else None
            self._last = (ref, flow)
        if flow is None:
            self.reject(reasons.UNKNOWN_DATAFLOW, n, "dataflow", str(rec.flow or "(none)"))
            return None
        if rec.action != "I" and rec.action.upper() in ("D", "DELETE"):
            self.reject(reasons.UNSUPPORTED_ACTION, n, "action", rec.action)
            return None
        signature = (flow.id, tuple(rec.key.items()), tuple(rec.attributes.items()))
        series = self.described.get(signature)
        if series is None:
            series = self.described[signature] = describe_series(flow, rec)
        if isinstance(series, Rejection):
            self.reject(series.reason, n, series.column, series.value, **series.params)
            return None
        start = self._start(rec.period, series.frequency)
        if start is None:
            if has_control_characters(rec.period):
                self.reject(reasons.INVALID_TEXT, n, "row", None)
            else:
                self.reject(reasons.PERIOD_NOT_OF_FREQUENCY, n, flow.time_dimension,
                            rec.period, expected=describe(series.frequency))
            return None
        value: float | None = None
        if rec.value not in _MISSING:
            try:
                value = float(rec.value)
            except ValueError:
                value = None
            if value is None or value != value or value in (float("inf"), float("-inf")):
                self.reject(reasons.NON_NUMERIC_VALUE, n, "OBS_VALUE", rec.value)
                return None
            if has_control_characters(rec.value):
                self.reject(reasons.INVALID_TEXT, n, "row", None)
                return None
        release = self.release_default
        if rec.release is not None:
            parsed = self.releases.get(rec.release, dt.date.min)
            if parsed is dt.date.min:
                parsed = self.releases[rec.release] = _release_date(rec.release)
            if parsed is None:
                self.reject(reasons.MISSING_RELEASE_DATE, n, "release date", rec.release)
                return None
            release = parsed
        return (n, flow.id, series.key, series.dimensions, series.series_attributes,
                rec.period, start, value, series.status, series.attributes, release)

    def _start(self, period: str, frequency: str | None) -> dt.date | None:
        cached = (period, frequency)
        start = self.starts.get(cached, dt.date.min)
        if start is dt.date.min:
            start = None if has_control_characters(period) else period_start(period, frequency)
            self.starts[cached] = start
        return start


def describe_series(flow: Flow, rec: ObsRecord) -> Described | Rejection:
    """A series key and attribute set checked against the flow's structure: what its
    rows stage, or why they are rejected."""
    if has_control_characters("".join((*rec.key.values(), *rec.attributes.values()))):
        return Rejection(reasons.INVALID_TEXT, "row", None)
    if list(rec.key) != flow.dimensions and set(rec.key) != set(flow.dimensions):
        missing = sorted(set(flow.dimensions) - set(rec.key))
        extra = sorted(set(rec.key) - set(flow.dimensions))
        problem = "; ".join(p for p in (f"missing {', '.join(missing)}" if missing else "",
                                        f"unknown {', '.join(extra)}" if extra else "") if p)
        return Rejection(reasons.INVALID_SERIES_KEY, "key", ".".join(rec.key.values()),
                         {"structure": flow.structure, "problem": problem,
                          "expected": ".".join(flow.dimensions)})
    for component, code in (*rec.key.items(), *rec.attributes.items()):
        codes = flow.codes.get(component)
        if codes is not None and code not in codes:
            return Rejection(reasons.UNKNOWN_DIMENSION_CODE, component, code,
                             {"codelist": flow.codelists.get(component) or "its code list"})
    series_attrs = {k: v for k, v in rec.attributes.items()
                    if flow.attached.get(k, "series") != "observation"}
    obs_attrs = {k: v for k, v in rec.attributes.items()
                 if flow.attached.get(k) == "observation" and k != "OBS_STATUS"}
    return Described(".".join(rec.key[d] for d in flow.dimensions),
                     json.dumps({d: rec.key[d] for d in flow.dimensions}),
                     json.dumps(series_attrs), rec.attributes.get("OBS_STATUS"),
                     json.dumps(obs_attrs) if obs_attrs else "{}", rec.key.get("FREQ"))


def _release_date(value: str) -> dt.date | None:
    """A release date from ``YYYY-MM-DD`` or an ISO timestamp (its day as written)."""
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


class DataStage(FileStage):
    """A data message, staged as observations and merged as releases."""

    checker: ObservationChecker
    table = "stage_obs"
    columns = ("row_number", "dataflow_id", "series_key", "dimensions", "series_attributes",
               "period", "period_start", "value", "status", "attributes", "release_date")

    def __init__(self, *args: Any, mapping: MappingProfile | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mapping = mapping
        self.sql("""
            CREATE TEMP TABLE stage_obs (
                row_number int, dataflow_id int, series_key text,
                -- the same for every row of a series: parsed as JSON once a series, on merge
                dimensions text, series_attributes text,
                period text, period_start date, value float8,
                status text, attributes jsonb, release_date date, reject text
            ) ON COMMIT DROP""")

    def read(self, progress: Progress | None) -> int:
        message = read_mapped(self.path, self.mapping) if self.mapping is not None \
            else read_data(self.path, self._structure_for)
        if message.prepared:
            prepared = _release_date(message.prepared)
            if prepared is not None:
                self.checker.release_default = prepared
        read = 0
        # Rows are checked between COPYs, not inside one: checking may look up a
        # dataflow, which needs the connection the COPY holds.
        batch: list[tuple[Any, ...]] = []
        for rec in message.records:
            read += 1
            if progress is not None and read % 10_000 == 0:
                progress(read)
            if isinstance(rec, tuple):
                self.checker.reject(reasons.UNREADABLE_ROW, rec[0], problem=rec[1])
                continue
            staged = self.checker.row(rec)
            if staged is not None:
                batch.append(staged)
            if len(batch) >= COPY_BATCH:
                copy_rows(self.conn, self.table, self.columns, batch)
                batch.clear()
        copy_rows(self.conn, self.table, self.columns, batch)
        if progress is not None:
            progress(read)
        if read == 0:
            raise SourceError(f"{self.path.name} holds no observations; nothing was loaded.")
        return read

    def _structure_for(self, ref: FlowRef) -> Any:
        """An ``sdmx1`` structure for a structure-specific message, built from the registry."""
        flow = self.checker.flow(ref)
        if flow is None:
            return None
        from sdmx.model import common, v21

        agency, code = flow.structure.split("(")[0].split(":")
        dsd = v21.DataStructureDefinition(id=code, maintainer=common.Agency(id=agency))
        for dim in flow.dimensions:
            dsd.dimensions.getdefault(dim)
        dsd.dimensions.getdefault(flow.time_dimension, cls=common.TimeDimension)
        dsd.measures.getdefault("OBS_VALUE")
        for attribute in flow.attached:
            dsd.attributes.getdefault(attribute)
        return dsd

    def check(self) -> None:
        self.sql("ANALYZE stage_obs")
        # Duplicates are found in one hashed aggregate; the index that names each one's
        # rows is built only when there are any.
        self.sql("""CREATE TEMP TABLE stage_dup ON COMMIT DROP AS
                    SELECT dataflow_id, series_key, period, release_date FROM stage_obs
                    GROUP BY 1, 2, 3, 4 HAVING count(*) > 1""")
        if not self.sql("SELECT EXISTS (SELECT 1 FROM stage_dup)").scalar_one():
            return
        self.sql("CREATE INDEX ON stage_obs (dataflow_id, series_key, period, release_date)")
        same = ("o.dataflow_id = s.dataflow_id AND o.series_key = s.series_key "
                "AND o.period = s.period AND o.release_date = s.release_date")
        self.reject_where(
            reasons.DUPLICATE_OBSERVATION, "period",
            "(s.dataflow_id, s.series_key, s.period, s.release_date) IN "
            "(SELECT * FROM stage_dup)",
            "s.series_key",
            columns={"period": "s.period", "release": "s.release_date",
                     "rows": f"(SELECT string_agg(o.row_number::text, ', ' ORDER BY "
                             f"o.row_number) FROM stage_obs o WHERE {same})"})

    def merge(self) -> tuple[int, int, int]:
        self.sql("DELETE FROM stage_obs WHERE reject IS NOT NULL")
        return merge_release(self, "stage_obs")


def merge_release(stage: Stage, staged: str) -> tuple[int, int, int]:
    """Merge staged observations (the columns of ``DataStage``) as releases: the releases
    and series they need, then :func:`merge_observations`."""
    stage.sql(f"""INSERT INTO macro.release (dataflow_id, release_date, load_run_id)
                  SELECT DISTINCT dataflow_id, release_date, :run_id FROM {staged}
                  ON CONFLICT (dataflow_id, release_date) DO NOTHING""")
    stage.sql(f"""
        INSERT INTO macro.series AS t (dataflow_id, series_key, dimensions, attributes)
        SELECT DISTINCT ON (dataflow_id, series_key) dataflow_id, series_key,
               dimensions::jsonb, series_attributes::jsonb
        FROM {staged} ORDER BY dataflow_id, series_key, release_date DESC, row_number DESC
        ON CONFLICT (dataflow_id, series_key) DO UPDATE
        SET attributes = t.attributes || EXCLUDED.attributes
        WHERE NOT t.attributes @> EXCLUDED.attributes""")
    return merge_observations(stage, staged)


def merge_observations(stage: Stage, staged: str) -> tuple[int, int, int]:
    """Add the staged observations as their releases' rows where they change what the
    previous release said; (new periods, revisions, unchanged).

    ``staged`` has dataflow_id, series_key, period, period_start, value, status,
    attributes and release_date; the releases and series exist. The previous
    release of a row is the latest one on or before its release date, in the
    registry or earlier in the same file.
    """
    # The previous release of every row in one set-based join (not a lookup per row):
    # the registry's observations of the staged series and periods, latest first.
    stage.sql(f"""
        CREATE TEMP TABLE resolved ON COMMIT DROP AS
        WITH x AS MATERIALIZED (
            SELECT s.period, s.period_start, s.value, s.status, s.attributes,
                   s.release_date, se.id AS series_id, r.id AS release_id
            FROM {staged} s
            JOIN macro.series se ON se.dataflow_id = s.dataflow_id
                                AND se.series_key = s.series_key
            JOIN macro.release r ON r.dataflow_id = s.dataflow_id
                                AND r.release_date = s.release_date),
        prev AS (
            SELECT DISTINCT ON (x.series_id, x.period, x.release_date)
                   x.series_id, x.period, x.release_date, o.value, o.status, o.attributes,
                   o.release_id
            FROM x JOIN macro.observation o ON o.series_id = x.series_id
                                           AND o.period = x.period
            JOIN macro.release pr ON pr.id = o.release_id AND pr.release_date <= x.release_date
            ORDER BY x.series_id, x.period, x.release_date, pr.release_date DESC)
        SELECT x.*, p.value AS prev_value, p.status AS prev_status,
               p.attributes AS prev_attributes, p.release_id AS prev_release,
               lag(x.release_id) OVER w AS file_prev_release,
               lag(x.value) OVER w AS file_prev_value, lag(x.status) OVER w AS file_prev_status,
               lag(x.attributes) OVER w AS file_prev_attributes
        FROM x LEFT JOIN prev p ON p.series_id = x.series_id AND p.period = x.period
                               AND p.release_date = x.release_date
        WINDOW w AS (PARTITION BY x.series_id, x.period ORDER BY x.release_date)""")
    stage.sql("""
        UPDATE resolved SET prev_value = file_prev_value, prev_status = file_prev_status,
                            prev_attributes = file_prev_attributes,
                            prev_release = file_prev_release
        WHERE file_prev_release IS NOT NULL""")
    counts = stage.sql("""
        WITH changed AS (
            INSERT INTO macro.observation AS t (series_id, period, release_id, period_start,
                                                value, status, attributes)
            SELECT series_id, period, release_id, period_start, value, status, attributes
            FROM resolved
            WHERE prev_release IS NULL
               OR (value, status, attributes)
                  IS DISTINCT FROM (prev_value, prev_status, prev_attributes)
            -- in key order: the index is filled page by page, not at random
            ORDER BY series_id, period, release_id
            ON CONFLICT (series_id, period, release_id) DO UPDATE
            SET value = EXCLUDED.value, status = EXCLUDED.status,
                attributes = EXCLUDED.attributes
            RETURNING (xmax = 0) AS inserted)
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
               (SELECT count(*) FROM resolved)
        FROM changed""").one()
    new_periods = int(stage.sql("""SELECT count(*) FROM resolved WHERE prev_release IS NULL
                                   """).scalar_one())
    total = int(counts[2])
    changed = int(counts[0]) + int(counts[1])
    # A release that changed nothing is no release: the same file twice adds nothing.
    stage.sql("""DELETE FROM macro.release r WHERE r.load_run_id = :run_id
                 AND NOT EXISTS (SELECT 1 FROM macro.observation o WHERE o.release_id = r.id)""")
    stage.details["releases"] = [str(d) for d in stage.sql(
        "SELECT DISTINCT r.release_date FROM resolved x JOIN macro.release r "
        "ON r.id = x.release_id ORDER BY 1").scalars()]
    return new_periods, changed - new_periods, total - changed


# -- the load -----------------------------------------------------------------------------------


def message_kind(path: Path, requested: str | None) -> str:
    """structure or data: as asked, or from the file (an XML structure message says so)."""
    if requested:
        return requested
    if message_format(path) == "xml":
        with path.open("rb") as handle:
            head = handle.read(4096).decode("utf-8", "replace")
        root = _ROOT.search(head)
        if root is not None and root.group(1) == "Structure":
            return "structure"
    return "data"


def load_macro(engine: Engine, path: Path, options: Options,
               progress: Progress | None = None) -> LoadResult:
    """Load one SDMX structure or data message; commits whole or leaves the registry
    untouched."""
    kind = message_kind(path, options.kind)
    # A plain CSV is read through its mapping profile; an SDMX message needs none.
    mapping = MappingProfile.load(options.profile) if options.profile else None

    def make_stage(conn: Connection, run_id: int) -> Stage:
        if kind == "structure":
            return StructureStage(conn, RowChecker(path.name, options.effective_date), options,
                                  run_id, path)
        checker = ObservationChecker(path.name, options.effective_date, conn)
        return DataStage(conn, checker, options, run_id, path, Profile(), mapping=mapping)

    return run_load(engine, REGISTRY, str(path), make_stage, options=options,
                    progress=progress, source_sha256=sha256(path),
                    profile=mapping.name if mapping else None,
                    details={"kind": kind})


LOADER = RegistryLoader(
    REGISTRY, "an SDMX structure or data message (SDMX-ML 2.1, SDMX-JSON, SDMX-CSV)",
    load_macro, kinds=("structure", "data"))
