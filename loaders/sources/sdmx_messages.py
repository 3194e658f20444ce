"""Readers of SDMX data messages: each observation comes out as one :class:`ObsRecord`.

* SDMX-ML 2.1 (generic and structure-specific) and SDMX-JSON 1.0 are parsed by
  the ``sdmx1`` library;
* SDMX-JSON 2.0, which that library does not read, is walked here: it is plain
  JSON whose series and observations index the value lists of its structure;
* SDMX-CSV 1.0 (first column DATAFLOW) and 2.0 (STRUCTURE, STRUCTURE_ID, ACTION)
  are read in bulk with the csv module, as fields: a record is built only for a key
  and attribute set not seen before (:class:`CsvLayout`).

Readers know formats, not the registry: every value comes out as text, and the
loader checks it against the data structure.
"""

from __future__ import annotations

import csv
import io
import json
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loaders.sources.readers import SourceError

RELEASE_COLUMNS = ("UPDATED", "RELEASE_DATE")
"""SDMX-CSV columns read as the row's release date (not as attributes)."""

_REF = re.compile(r"(?:[^=]*=)?([A-Za-z0-9_@.-]+):([A-Za-z0-9_@-]+)\(([^)]*)\)")


@dataclass(frozen=True)
class FlowRef:
    """What a message says its data is: a dataflow, or only a data structure."""

    agency: str
    code: str
    version: str
    kind: str = "dataflow"
    """``dataflow`` or ``structure``."""
    structure: FlowRef | None = None
    """The structure a message names beside its dataflow (it states the link)."""

    def __str__(self) -> str:
        return f"{self.agency}:{self.code}({self.version})"


def parse_ref(text: str, kind: str = "dataflow") -> FlowRef | None:
    """``AGENCY:ID(VERSION)`` or an SDMX URN ending in it; None when it is neither."""
    match = _REF.fullmatch(text.strip())
    if match is None:
        return None
    return FlowRef(match.group(1), match.group(2), match.group(3) or "1.0", kind)


@dataclass(slots=True)
class ObsRecord:
    """One observation as a message gives it."""

    row: int
    """Row (CSV) or observation number (1-based, in message order)."""
    flow: FlowRef | None
    key: dict[str, str]
    period: str
    value: str
    attributes: dict[str, str] = field(default_factory=dict)
    release: str | None = None
    """The release date as the row gives it; None when the message gives none per row."""
    action: str = "I"


@dataclass
class DataMessage:
    """The observations of a message, and what its header says."""

    records: Iterator[ObsRecord | tuple[int, str]]
    """Records, or (row, problem) for a row that cannot be read."""
    prepared: str | None = None
    """The header's preparation time (ISO text), taken as the release date."""
    time_dimension: str = "TIME_PERIOD"
    layout: CsvLayout | None = None
    """SDMX-CSV: where a row's parts are, for reading :attr:`rows` without records."""
    rows: Iterator[tuple[int, list[str] | str]] | None = None
    """SDMX-CSV: each row's number and fields (or a problem), the same rows as records."""


StructureFor = Callable[[FlowRef], Any]
"""Given a message's structure reference, an ``sdmx1`` DataStructureDefinition (or None)."""


def message_format(path: Path) -> str:
    """xml, json or csv, from the file name, else from its first byte."""
    suffix = path.suffix.lower()
    if suffix in (".xml", ".json", ".csv"):
        return suffix[1:]
    with path.open("rb") as handle:
        head = handle.read(64).lstrip()
    return "xml" if head.startswith(b"<") else "json" if head.startswith(b"{") else "csv"


def read_data(path: Path, structure_for: StructureFor) -> DataMessage:
    """The observations of an SDMX data message in any of the formats above."""
    kind = message_format(path)
    if kind == "csv":
        return read_csv(path)
    if kind == "json":
        with path.open("rb") as handle:
            document = json.load(handle)
        if isinstance(document, dict) and "data" in document:
            return read_json_2(document)
    return read_with_sdmx1(path, structure_for)


# -- sdmx1: SDMX-ML and SDMX-JSON 1.0 -----------------------------------------------------------


def read_with_sdmx1(path: Path, structure_for: StructureFor) -> DataMessage:
    import sdmx

    try:
        message = sdmx.read_sdmx(path)
    except Exception as first:  # a structure-specific message cannot be read without its DSD
        reference = _structure_reference(path)
        dsd = structure_for(reference) if reference else None
        if dsd is None:
            raise SourceError(f"{path.name} cannot be read as SDMX ({first}); if it is "
                              "structure-specific data, load its structure first.") from first
        try:
            message = sdmx.read_sdmx(path, structure=dsd)
        except Exception as exc:
            raise SourceError(f"{path.name} cannot be read as SDMX: {exc}") from exc
    if not hasattr(message, "data"):
        raise SourceError(f"{path.name} is a structure message, not data; load it with "
                          "--kind structure.")
    prepared = getattr(message.header, "prepared", None)
    flow = _message_flow(message)
    return DataMessage(_sdmx1_records(message, flow),
                       prepared.isoformat() if prepared is not None else None)


def _structure_reference(path: Path) -> FlowRef | None:
    """The structure a structure-specific message names in its header (its URN)."""
    with path.open("rb") as handle:
        head = handle.read(8192).decode("utf-8", "replace")
    for kind, pattern in (("dataflow", r"Dataflow=([^<\"\s]+)"),
                          ("structure", r"DataStructure=([^<\"\s]+)")):
        match = re.search(pattern, head)
        if match:
            return parse_ref(match.group(1), kind)
    return None


def _message_flow(message: Any) -> FlowRef | None:
    flow = getattr(message, "dataflow", None)
    structure = getattr(message, "structure", None)
    structure_ref = None
    if structure is not None and getattr(structure, "id", None):
        structure_ref = FlowRef(_maintainer(structure), structure.id,
                                structure.version or "1.0", "structure")
    if flow is not None and getattr(flow, "id", None):
        return FlowRef(_maintainer(flow), flow.id, flow.version or "1.0", "dataflow",
                       structure_ref)
    return structure_ref


def _maintainer(artefact: Any) -> str:
    maintainer = getattr(artefact, "maintainer", None)
    return str(getattr(maintainer, "id", None) or "")


def _sdmx1_records(message: Any, flow: FlowRef | None) -> Iterator[ObsRecord]:
    number = 0
    for dataset in message.data:
        dataset_attributes = {k: str(v.value) for k, v in dataset.attrib.items()}
        for series_key, observations in dataset.series.items():
            key = {k: str(v.value) for k, v in series_key.values.items()}
            series_attributes = {**dataset_attributes,
                                 **{k: str(v.value) for k, v in series_key.attrib.items()}}
            for obs in observations:
                number += 1
                yield _sdmx1_record(number, flow, key, series_attributes, obs)
        for obs in dataset.obs:
            if obs.series_key is not None:
                continue  # already read with its series
            number += 1
            key = {k: str(v.value) for k, v in obs.key.values.items()}
            yield _sdmx1_record(number, flow, key, dataset_attributes, obs)


def _sdmx1_record(number: int, flow: FlowRef | None, key: dict[str, str],
                  inherited: dict[str, str], obs: Any) -> ObsRecord:
    time = {k: str(v.value) for k, v in (obs.dimension.values.items() if obs.dimension else ())}
    period = next(iter(time.values()), "")
    key = {k: v for k, v in key.items() if k not in time}
    attributes = {**inherited, **{k: str(v.value) for k, v in obs.attached_attribute.items()}}
    value = "" if obs.value is None else str(obs.value)
    return ObsRecord(number, flow, key, period, value, attributes)


# -- SDMX-JSON 2.0 ------------------------------------------------------------------------------


def read_json_2(document: dict[str, Any]) -> DataMessage:
    """An SDMX-JSON 2.0 data message: series and observations index their structure's lists."""
    data = document.get("data") or {}
    structures = data.get("structures") or []
    datasets = data.get("dataSets") or []
    if not structures or not isinstance(datasets, list):
        raise SourceError("The SDMX-JSON message has no structure or no data sets.")
    prepared = (document.get("meta") or {}).get("prepared")
    return DataMessage(_json_records(structures, datasets), prepared)


def _json_records(structures: list[dict[str, Any]], datasets: list[dict[str, Any]]
                  ) -> Iterator[ObsRecord]:
    number = 0
    for dataset in datasets:
        structure = structures[int(dataset.get("structure", 0))]
        flow = _json_flow(structure)
        dims = structure.get("dimensions") or {}
        attrs = structure.get("attributes") or {}
        fixed = {d["id"]: d["values"][0]["id"] for d in dims.get("dataSet", []) if d["values"]}
        fixed_attributes = {a["id"]: _attribute_text(a["values"][0])
                            for a in attrs.get("dataSet", []) if a.get("values")}
        series_dims = dims.get("series", [])
        time_dims = dims.get("observation", [])
        for key_text, series in (dataset.get("series") or {}).items():
            indexes = [int(i) for i in key_text.split(":")] if key_text else []
            key = dict(fixed)
            for dim, index in zip(series_dims, indexes, strict=False):
                key[dim["id"]] = dim["values"][index]["id"]
            series_attributes = dict(fixed_attributes)
            series_attributes.update(_indexed(attrs.get("series", []),
                                              series.get("attributes") or []))
            for obs_key, obs in (series.get("observations") or {}).items():
                number += 1
                period = time_dims[0]["values"][int(obs_key)]["id"] if time_dims else ""
                value = "" if not obs or obs[0] is None else str(obs[0])
                attributes = {**series_attributes,
                              **_indexed(attrs.get("observation", []), obs[1:])}
                yield ObsRecord(number, flow, key, period, value, attributes)


def _json_flow(structure: dict[str, Any]) -> FlowRef | None:
    refs = {link.get("rel"): parse_ref(link.get("urn", ""))
            for link in structure.get("links") or [] if link.get("urn")}
    dsd = refs.get("datastructure")
    dsd = FlowRef(dsd.agency, dsd.code, dsd.version, "structure") if dsd else None
    flow = refs.get("dataflow")
    if flow is not None:
        return FlowRef(flow.agency, flow.code, flow.version, "dataflow", dsd)
    return dsd


def _indexed(attributes: list[dict[str, Any]], indexes: list[Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for attribute, index in zip(attributes, indexes, strict=False):
        if index is not None and int(index) < len(attribute.get("values") or []):
            out[attribute["id"]] = _attribute_text(attribute["values"][int(index)])
    return out


def _attribute_text(value: dict[str, Any]) -> str:
    return str(value.get("id", value.get("value", value.get("name", ""))))


# -- SDMX-CSV 1.0 and 2.0 -----------------------------------------------------------------------


def read_csv(path: Path) -> DataMessage:
    """SDMX-CSV: the header tells 1.0 (DATAFLOW) from 2.0 (STRUCTURE, STRUCTURE_ID, ACTION)."""
    handle = path.open("r", encoding="utf-8-sig", newline="")
    reader = csv.reader(handle)
    header = next(reader, None)
    if not header:
        handle.close()
        raise SourceError(f"{path.name} is empty: an SDMX-CSV file starts with its header.")
    header = [h.split(":", 1)[0].strip() for h in header]  # "FREQ: Frequency" -> FREQ
    first = header[0].upper()
    if first not in ("DATAFLOW", "STRUCTURE"):
        handle.close()
        raise SourceError(f"{path.name} is not SDMX-CSV: its first column is {header[0]!r}, "
                          "not DATAFLOW (1.0) or STRUCTURE (2.0).")
    try:
        layout = CsvLayout.of(header, version_2=first == "STRUCTURE")
    except SourceError:
        handle.close()
        raise
    rows = _csv_rows(handle, reader, len(header))
    return DataMessage((layout.record(n, row) if isinstance(row, list) else (n, row)
                        for n, row in rows), layout=layout, rows=rows)


@dataclass(frozen=True)
class CsvLayout:
    """Where an SDMX-CSV file keeps each part of an observation.

    A national file repeats a few thousand keys over millions of rows, so a row is
    read as its fields: :attr:`signature` picks what the checks depend on (the
    structure reference, action, key and attributes), and a record is built only for
    a signature not seen before.
    """

    version_2: bool
    header: list[str]
    key_columns: list[int]
    attribute_columns: list[int]
    time_at: int
    value_at: int
    release_at: int | None
    signature: Callable[[list[str]], tuple[str, ...]]

    @classmethod
    def of(cls, header: list[str], *, version_2: bool) -> CsvLayout:
        skip = 3 if version_2 else 1
        try:
            value_at = header.index("OBS_VALUE")
        except ValueError:
            raise SourceError("The SDMX-CSV header has no OBS_VALUE column.") from None
        time_at = header.index("TIME_PERIOD") if "TIME_PERIOD" in header else None
        release_at = next((i for i, h in enumerate(header) if h in RELEASE_COLUMNS), None)
        # Before OBS_VALUE: the dimensions (the time dimension last); after it: attributes.
        key_columns = [i for i in range(skip, value_at) if i != time_at]
        if time_at is None:
            time_at = value_at - 1
            key_columns = key_columns[:-1]
        attribute_columns = [i for i in range(value_at + 1, len(header)) if i != release_at]
        picked = [*range(skip), *key_columns, *attribute_columns]
        return cls(version_2, header, key_columns, attribute_columns, time_at, value_at,
                   release_at, operator.itemgetter(*picked) if len(picked) > 1
                   else lambda row: (row[picked[0]],))

    def record(self, number: int, row: list[str]) -> ObsRecord:
        header = self.header
        ref_text = row[1] if self.version_2 else row[0]
        kind = "structure" if self.version_2 and row[0].lower() == "datastructure" \
            else "dataflow"
        return ObsRecord(
            number, parse_ref(ref_text, kind), {header[i]: row[i] for i in self.key_columns},
            row[self.time_at], row[self.value_at],
            {header[i]: row[i] for i in self.attribute_columns if row[i]},
            self.release(row), self.action(row))

    def release(self, row: list[str]) -> str | None:
        return row[self.release_at] if self.release_at is not None else None

    def action(self, row: list[str]) -> str:
        return (row[2] or "I") if self.version_2 else "I"


def _csv_rows(handle: io.TextIOBase, reader: Any, width: int
              ) -> Iterator[tuple[int, list[str] | str]]:
    """Each row's number and fields, or a problem for a row of the wrong width."""
    try:
        for number, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != width:
                yield number, f"Row {number} has {len(row)} fields; the header has {width}."
                continue
            yield number, row
    finally:
        handle.close()
