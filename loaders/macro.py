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
import math
import re
from collections.abc import Callable, Iterator
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
from loaders.checks import BoundedCache
from loaders.rules.periods import describe, period_start
from loaders.rules.text import has_control_characters
from loaders.sources.mapped_csv import MappingProfile, read_mapped
from loaders.sources.readers import Profile, SourceError
from loaders.sources.sdmx_messages import (
    DataMessage,
    FlowRef,
    ObsRecord,
    message_format,
    read_data,
)

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


@dataclass
class Described:
    """What rows of one series key and attribute set (a signature) stage alike: they
    point to its number in ``stage_sig`` instead of repeating it."""

    number: int
    flow_id: int
    key: str
    dimensions: str
    series_attributes: str
    status: str | None
    attributes: str
    frequency: str | None
    staged: bool = False
    """Whether a row of it has been staged (and so it is, or is about to be, in stage_sig)."""
    prefix: str = ""
    """``<TAB>dataflow id<TAB>number<TAB>``: its part of each staged line."""


CHECK_CACHE = 100_000
"""How many distinct signatures, periods and release dates a load remembers checking."""
_UNSEEN: Any = object()


class ObservationChecker(RowChecker):
    """Checks observations against their dataflow's structure.

    A national file repeats a few thousand series keys and a few hundred periods over
    millions of rows: what depends only on them (the dataflow, the action, the key
    against the structure, codes, the period against the frequency, the release date)
    is checked once per distinct value and remembered (within :data:`CHECK_CACHE`), so
    each row costs its value's parse.
    """

    def __init__(self, source: str, effective_date: dt.date, conn: Connection) -> None:
        super().__init__(source, effective_date)
        self.conn = conn
        self.release_default = effective_date.isoformat()
        self.flows: BoundedCache[FlowRef, Flow | None] = BoundedCache(CHECK_CACHE)
        self.signatures: BoundedCache[tuple[Any, ...], Described | Rejection] = \
            BoundedCache(CHECK_CACHE)
        self.starts: BoundedCache[tuple[str, str | None], str | None] = \
            BoundedCache(CHECK_CACHE)
        self.releases: BoundedCache[str, str | None] = BoundedCache(CHECK_CACHE)
        self.described = 0
        self.pending: list[Described] = []
        """Signatures whose first row was staged since the last flush to stage_sig."""

    def flow(self, ref: FlowRef) -> Flow | None:
        found = self.flows.get(ref, _UNSEEN)
        if found is _UNSEEN:
            found = self.flows[ref] = find_flow(self.conn, ref)
        return found  # type: ignore[no-any-return]

    def row(self, number: int, signature: tuple[Any, ...],
            record: Callable[[int, Any], ObsRecord], source: Any, period: str, value: str,
            release: str | None) -> str | None:
        """The staged line (COPY text) of a valid observation, or None (its issue recorded).

        ``signature`` is what the row's checks depend on besides period, value and
        release; ``record(number, source)`` builds the row's record, asked only for a
        signature not seen before.
        """
        signed = self.signatures.get(signature)
        if signed is None:
            signed = self.signatures[signature] = self.sign(record(number, source))
        if signed.__class__ is Rejection:
            assert isinstance(signed, Rejection)
            self.reject(signed.reason, number, signed.column, signed.value, **signed.params)
            return None
        assert isinstance(signed, Described)
        frequency = signed.frequency
        # The period and its first day, as they go into the staged line.
        when = self.starts.get((period, frequency), _UNSEEN)
        if when is _UNSEEN:
            when = self.starts[(period, frequency)] = self._start(period, frequency)
        if when is None:
            if has_control_characters(period):
                self.reject(reasons.INVALID_TEXT, number, "row", None)
            else:
                self.reject(reasons.PERIOD_NOT_OF_FREQUENCY, number, self._time(signed),
                            period, expected=describe(frequency))
            return None
        number_text = r"\N"
        if value not in _MISSING:
            try:
                parsed = float(value)
            except ValueError:
                parsed = math.nan
            if not math.isfinite(parsed):
                self.reject(reasons.NON_NUMERIC_VALUE, number, "OBS_VALUE", value)
                return None
            # float() skips surrounding whitespace, some of it control characters.
            printable = value.isprintable()
            if not printable and has_control_characters(value):
                self.reject(reasons.INVALID_TEXT, number, "row", None)
                return None
            # The text as written is what PostgreSQL reads the same double from, unless
            # Python alone reads it (digits grouped by _, a tab) or it underflows to 0.
            number_text = value if printable and parsed != 0.0 and "_" not in value \
                else repr(parsed)
        released: str | None = self.release_default
        if release is not None:
            released = self.releases.get(release, _UNSEEN)
            if released is _UNSEEN:
                day = _release_date(release)
                released = self.releases[release] = None if day is None else day.isoformat()
            if released is None:
                self.reject(reasons.MISSING_RELEASE_DATE, number, "release date", release)
                return None
        if not signed.staged:
            signed.staged = True
            self.pending.append(signed)
        return f"{number}{signed.prefix}{when}{number_text}\t{released}\n"

    def sign(self, rec: ObsRecord) -> Described | Rejection:
        """A record's dataflow, action, key and attributes checked: what its rows stage,
        or why they are rejected."""
        flow = self.flow(rec.flow) if rec.flow is not None else None
        if flow is None:
            return Rejection(reasons.UNKNOWN_DATAFLOW, "dataflow", str(rec.flow or "(none)"))
        if rec.action != "I" and rec.action.upper() in ("D", "DELETE"):
            return Rejection(reasons.UNSUPPORTED_ACTION, "action", rec.action)
        described = describe_series(flow, rec)
        if isinstance(described, Described):
            self.described += 1
            described.number = self.described
            described.prefix = f"\t{described.flow_id}\t{described.number}\t"
        return described

    def _time(self, signed: Described) -> str:
        flow = next((f for f in self.flows.values() if f is not None
                     and f.id == signed.flow_id), None)
        return flow.time_dimension if flow is not None else "TIME_PERIOD"

    @staticmethod
    def _start(period: str, frequency: str | None) -> str | None:
        """``period<TAB>first day<TAB>`` for the staged line, or None: not of the frequency."""
        if has_control_characters(period):
            return None
        start = period_start(period, frequency)
        return None if start is None else f"{period}\t{start.isoformat()}\t"


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
    return Described(0, flow.id, ".".join(rec.key[d] for d in flow.dimensions),
                     json.dumps({d: rec.key[d] for d in flow.dimensions}),
                     json.dumps(series_attrs), rec.attributes.get("OBS_STATUS"),
                     json.dumps(obs_attrs) if obs_attrs else "{}", rec.key.get("FREQ"))


def _release_date(value: str) -> dt.date | None:
    """A release date from ``YYYY-MM-DD`` or an ISO timestamp (its day as written)."""
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


STAGE_TABLES = """
    CREATE TEMP TABLE {sigs} (
        sig int, dataflow_id int, series_key text,
        -- parsed as JSON once a series, on merge
        dimensions text, series_attributes text, status text, attributes jsonb
    ) ON COMMIT DROP;
    CREATE TEMP TABLE {obs} (
        row_number int, dataflow_id int, sig int, period text, period_start date,
        value float8, release_date date, reject text
    ) ON COMMIT DROP"""
"""Observations staged lean: what rows of one signature share (series key, attributes,
status) is in the signatures' table once, and each observation points to it."""
SIG_COLUMNS = ("sig", "dataflow_id", "series_key", "dimensions", "series_attributes", "status",
               "attributes")
OBS_COLUMNS = ("row_number", "dataflow_id", "sig", "period", "period_start", "value",
               "release_date")


class DataStage(FileStage):
    """A data message, staged as observations and merged as releases."""

    checker: ObservationChecker
    table = "stage_obs"
    columns = OBS_COLUMNS

    def __init__(self, *args: Any, mapping: MappingProfile | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mapping = mapping
        for statement in STAGE_TABLES.format(sigs="stage_sig", obs="stage_obs").split(";"):
            self.sql(statement)

    def read(self, progress: Progress | None) -> int:
        message = read_mapped(self.path, self.mapping) if self.mapping is not None \
            else read_data(self.path, self._structure_for)
        if message.prepared:
            prepared = _release_date(message.prepared)
            if prepared is not None:
                self.checker.release_default = prepared.isoformat()
        read = 0
        # Rows are checked between COPYs, not inside one: checking may look up a
        # dataflow, which needs the connection the COPY holds.
        lines: list[str] = []
        row = self.checker.row
        for _number, staged in self._lines(message, row):
            read += 1
            if progress is not None and read % 10_000 == 0:
                progress(read)
            if staged is not None:
                lines.append(staged)
                if len(lines) >= COPY_BATCH:
                    self._flush(lines)
        self._flush(lines)
        if progress is not None:
            progress(read)
        if read == 0:
            raise SourceError(f"{self.path.name} holds no observations; nothing was loaded.")
        return read

    def _lines(self, message: DataMessage, row: Callable[..., str | None]
               ) -> Iterator[tuple[int, str | None]]:
        """Each row's number and staged line (None: rejected or unreadable)."""
        reject = self.checker.reject
        layout = message.layout
        if layout is not None and message.rows is not None:
            # SDMX-CSV: fields, no record per row.
            sign, time_at, value_at = layout.signature, layout.time_at, layout.value_at
            release_at = layout.release_at
            for number, fields in message.rows:
                if isinstance(fields, str):
                    reject(reasons.UNREADABLE_ROW, number, problem=fields)
                    yield number, None
                    continue
                yield number, row(number, sign(fields), layout.record, fields, fields[time_at],
                                  fields[value_at],
                                  fields[release_at] if release_at is not None else None)
            return
        for rec in message.records:
            if isinstance(rec, tuple):
                reject(reasons.UNREADABLE_ROW, rec[0], problem=rec[1])
                yield rec[0], None
                continue
            signature = (rec.flow, rec.action, tuple(rec.key.items()),
                         tuple(rec.attributes.items()))
            yield rec.row, row(rec.row, signature, _itself, rec, rec.period, rec.value,
                               rec.release)

    def _flush(self, lines: list[str]) -> None:
        """COPY the signatures first staged since the last flush, then the lines."""
        pending = self.checker.pending
        copy_rows(self.conn, "stage_sig", SIG_COLUMNS,
                  [(d.number, d.flow_id, d.key, d.dimensions, d.series_attributes, d.status,
                    d.attributes) for d in pending])
        pending.clear()
        if lines:
            copy_text(self.conn, "stage_obs", OBS_COLUMNS, "".join(lines))
            lines.clear()

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
        self.sql("ANALYZE stage_sig")
        # Signatures of one series key (differing in attributes) are one series, numbered
        # by its first signature; usually each key has one, and the rows need no join.
        self.sql("""CREATE TEMP TABLE sig_series ON COMMIT DROP AS
                    SELECT sig, min(sig) OVER (PARTITION BY dataflow_id, series_key)
                               AS series_no
                    FROM stage_sig""")
        one_each = self.sql("SELECT bool_and(sig = series_no) FROM sig_series").scalar()
        series_of = "o.sig" if one_each is not False else \
            "(SELECT m.series_no FROM sig_series m WHERE m.sig = o.sig)"
        # Duplicates are found in one hashed aggregate; the index that names each one's
        # rows is built only when there are any.
        self.sql(f"""CREATE TEMP TABLE stage_dup ON COMMIT DROP AS
                     SELECT {series_of} AS series_no, o.period, o.release_date
                     FROM stage_obs o GROUP BY 1, 2, 3 HAVING count(*) > 1""")
        if not self.sql("SELECT EXISTS (SELECT 1 FROM stage_dup)").scalar_one():
            return
        self.sql("CREATE INDEX ON stage_obs (sig, period, release_date)")
        self.sql("CREATE INDEX ON sig_series (sig)")
        series = "(SELECT m.series_no FROM sig_series m WHERE m.sig = s.sig)"
        same = (f"o.sig IN (SELECT m.sig FROM sig_series m WHERE m.series_no = {series}) "
                "AND o.period = s.period AND o.release_date = s.release_date")
        self.reject_where(
            reasons.DUPLICATE_OBSERVATION, "period",
            f"({series}, s.period, s.release_date) IN (SELECT * FROM stage_dup)",
            "(SELECT g.series_key FROM stage_sig g WHERE g.sig = s.sig)",
            columns={"period": "s.period", "release": "s.release_date",
                     "rows": f"(SELECT string_agg(o.row_number::text, ', ' ORDER BY "
                             f"o.row_number) FROM stage_obs o WHERE {same})"})

    def merge(self) -> tuple[int, int, int]:
        if self.sql("DELETE FROM stage_obs WHERE reject IS NOT NULL").rowcount:
            # A signature all of whose rows were duplicates makes no series.
            self.sql("DELETE FROM stage_sig g WHERE NOT EXISTS "
                     "(SELECT 1 FROM stage_obs o WHERE o.sig = g.sig)")
        return merge_release(self, "stage_obs", "stage_sig")


def _itself(number: int, rec: ObsRecord) -> ObsRecord:
    return rec


def copy_text(conn: Connection, table: str, columns: tuple[str, ...], data: str) -> None:
    """COPY lines already in COPY's text format (tab-separated, \\N for NULL) into a table."""
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write(data)


def merge_release(stage: Stage, observations: str, signatures: str) -> tuple[int, int, int]:
    """Merge staged observations as releases: the releases and series they need, then
    :func:`merge_observations`.

    ``observations`` has the :data:`OBS_COLUMNS`, ``signatures`` the :data:`SIG_COLUMNS`
    (see :data:`STAGE_TABLES`).
    """
    stage.sql(f"""CREATE TEMP TABLE staged_release ON COMMIT DROP AS
                  SELECT DISTINCT dataflow_id, release_date FROM {observations}""")
    stage.sql("""INSERT INTO macro.release (dataflow_id, release_date, load_run_id)
                 SELECT dataflow_id, release_date, :run_id FROM staged_release
                 ON CONFLICT (dataflow_id, release_date) DO NOTHING""")
    # A series' attributes are those of its latest release's last row: looked up only
    # for a key staged with more than one attribute set.
    several = stage.sql(f"""SELECT count(*) > count(DISTINCT (dataflow_id, series_key))
                            FROM {signatures}""").scalar_one()
    latest = "g.sig"
    if several:
        stage.sql(f"""CREATE TEMP TABLE sig_latest ON COMMIT DROP AS
                      SELECT sig, release_date, max(row_number) AS row_number
                      FROM {observations} GROUP BY 1, 2""")
        latest = ("(SELECT max(l.release_date) FROM sig_latest l WHERE l.sig = g.sig) DESC, "
                  "(SELECT max(l.row_number) FROM sig_latest l WHERE l.sig = g.sig "
                  " AND l.release_date = (SELECT max(k.release_date) FROM sig_latest k "
                  "                      WHERE k.sig = g.sig)) DESC")
    stage.sql(f"""
        INSERT INTO macro.series AS t (dataflow_id, series_key, dimensions, attributes)
        SELECT DISTINCT ON (g.dataflow_id, g.series_key) g.dataflow_id, g.series_key,
               g.dimensions::jsonb, g.series_attributes::jsonb
        FROM {signatures} g ORDER BY g.dataflow_id, g.series_key, {latest}
        ON CONFLICT (dataflow_id, series_key) DO UPDATE
        SET attributes = t.attributes || EXCLUDED.attributes
        WHERE NOT t.attributes @> EXCLUDED.attributes""")
    stage.sql(f"""CREATE TEMP TABLE sig_target ON COMMIT DROP AS
                  SELECT g.sig, se.id AS series_id, g.status, g.attributes
                  FROM {signatures} g JOIN macro.series se
                    ON se.dataflow_id = g.dataflow_id AND se.series_key = g.series_key""")
    stage.sql("ANALYZE sig_target")
    # Series the registry holds no observation of (a first load) have nothing to revise.
    history = bool(stage.sql("""SELECT EXISTS (SELECT 1 FROM sig_target m
                                JOIN macro.observation o ON o.series_id = m.series_id)"""
                             ).scalar_one())
    return merge_observations(stage, f"""
        SELECT o.period, o.period_start, o.value, m.status, m.attributes, o.release_date,
               m.series_id, r.id AS release_id
        FROM {observations} o JOIN sig_target m ON m.sig = o.sig
        JOIN macro.release r ON r.dataflow_id = o.dataflow_id
                            AND r.release_date = o.release_date""",
                              several_releases=bool(stage.sql(
                                  "SELECT count(*) > 1 FROM staged_release").scalar_one()),
                              history=history)


def merge_observations(stage: Stage, staged: str, *, several_releases: bool = True,
                       history: bool = True) -> tuple[int, int, int]:
    """Add the staged observations as their releases' rows where they change what the
    previous release said; (new periods, revisions, unchanged).

    ``staged`` is a query of period, period_start, value, status, attributes,
    release_date, series_id and release_id. The previous release of a row is the
    latest one on or before its release date, in the registry (with ``history``) or
    earlier in the same file (with ``several_releases``); with neither, every row is a
    new period and goes straight in.
    """
    if not several_releases and not history:
        inserted = stage.sql(f"""
            INSERT INTO macro.observation (series_id, period, release_id, period_start,
                                           value, status, attributes)
            SELECT series_id, period, release_id, period_start, value, status, attributes
            FROM ({staged}) AS x
            ORDER BY series_id, period, release_id""").rowcount
        stage.details["releases"] = [str(d) for d in stage.sql(
            "SELECT DISTINCT release_date FROM staged_release ORDER BY 1").scalars()]
        return inserted, 0, 0
    # The previous release of every row in one set-based join (not a lookup per row):
    # the registry's observations of the staged series and periods, latest first.
    in_file = """, lag(x.release_id) OVER w AS file_prev_release,
               lag(x.value) OVER w AS file_prev_value, lag(x.status) OVER w AS file_prev_status,
               lag(x.attributes) OVER w AS file_prev_attributes""" if several_releases else ""
    window = ("WINDOW w AS (PARTITION BY x.series_id, x.period ORDER BY x.release_date)"
              if several_releases else "")
    stage.sql(f"""
        CREATE TEMP TABLE resolved ON COMMIT DROP AS
        WITH x AS MATERIALIZED ({staged}),
        prev AS (
            SELECT DISTINCT ON (x.series_id, x.period, x.release_date)
                   x.series_id, x.period, x.release_date, o.value, o.status, o.attributes,
                   o.release_id
            FROM x JOIN macro.observation o ON o.series_id = x.series_id
                                           AND o.period = x.period
            JOIN macro.release pr ON pr.id = o.release_id AND pr.release_date <= x.release_date
            ORDER BY x.series_id, x.period, x.release_date, pr.release_date DESC)
        SELECT x.*, p.value AS prev_value, p.status AS prev_status,
               p.attributes AS prev_attributes, p.release_id AS prev_release{in_file}
        FROM x LEFT JOIN prev p ON p.series_id = x.series_id AND p.period = x.period
                               AND p.release_date = x.release_date
        {window}""")
    if several_releases:
        stage.sql("""
            UPDATE resolved SET prev_value = file_prev_value, prev_status = file_prev_status,
                                prev_attributes = file_prev_attributes,
                                prev_release = file_prev_release
            WHERE file_prev_release IS NOT NULL""")
    changed = ("(prev_release IS NULL OR (value, status, attributes) "
               "IS DISTINCT FROM (prev_value, prev_status, prev_attributes))")
    # A row of a release the registry already holds for that period revises it in place;
    # every other change is a plain insert, no conflict to look for.
    inserted = stage.sql(f"""
        INSERT INTO macro.observation (series_id, period, release_id, period_start, value,
                                       status, attributes)
        SELECT series_id, period, release_id, period_start, value, status, attributes
        FROM resolved
        WHERE {changed} AND prev_release IS DISTINCT FROM release_id
        -- in key order: the index is filled page by page, not at random
        ORDER BY series_id, period, release_id""").rowcount
    updated = stage.sql("""
        UPDATE macro.observation t
        SET value = r.value, status = r.status, attributes = r.attributes
        FROM resolved r
        WHERE r.prev_release = r.release_id
          AND (r.value, r.status, r.attributes)
              IS DISTINCT FROM (r.prev_value, r.prev_status, r.prev_attributes)
          AND t.series_id = r.series_id AND t.period = r.period
          AND t.release_id = r.release_id""").rowcount
    total, new_periods = stage.sql("""SELECT count(*), count(*) FILTER (
                                          WHERE prev_release IS NULL) FROM resolved""").one()
    changed_rows = inserted + updated
    # A release that changed nothing is no release: the same file twice adds nothing.
    stage.sql("""DELETE FROM macro.release r WHERE r.load_run_id = :run_id
                 AND NOT EXISTS (SELECT 1 FROM macro.observation o WHERE o.release_id = r.id)""")
    stage.details["releases"] = [str(d) for d in stage.sql(
        "SELECT DISTINCT r.release_date FROM resolved x JOIN macro.release r "
        "ON r.id = x.release_id ORDER BY 1").scalars()]
    return int(new_periods), changed_rows - int(new_periods), int(total) - changed_rows


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
