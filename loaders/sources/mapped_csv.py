"""Plain long or wide CSV read as SDMX observations through a mapping profile.

A statistical table that is not SDMX-CSV (a spreadsheet export, a ministry's
table) is mapped to a dataflow by a YAML profile; its observations then go
through the same checks and merge as any SDMX message:

    name: exr-monthly-wide
    dataflow: ECB:ECB_EXR1(1.0)   # the dataflow the rows belong to
    layout: wide                  # long: one observation a row; wide: one a period column
    delimiter: ","                # default ","
    encoding: utf-8-sig           # default utf-8-sig
    dimensions:                   # dimension -> source column
      CURRENCY: currency
    fixed:                        # dimension -> the value of every row
      FREQ: M
    period: month                 # long: the period column
    value: rate                   # long: the value column
    periods: [2023-10, 2023-11]   # wide: the period columns (default: every unmapped one)
    attributes:                   # attribute -> source column
      OBS_STATUS: status
    fixed_attributes:             # attribute -> the value of every row
      UNIT_MULT: "0"
    release_date: published       # optional: the column of each row's release date

In a wide file a blank cell is no observation; in a long file a blank value is a
missing value, as in SDMX-CSV. A column the profile names that the file lacks
refuses the file whole; a value that does not fit the structure (a period column
that is no period, a code outside its list) is a row rejected with its reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from loaders.sources.readers import Profile, SourceError, read_profile_file, read_records
from loaders.sources.sdmx_messages import DataMessage, FlowRef, ObsRecord, parse_ref

_KEYS = {"name", "dataflow", "layout", "delimiter", "encoding", "dimensions", "fixed",
         "period", "value", "periods", "attributes", "fixed_attributes", "release_date"}


@dataclass(frozen=True)
class MappingProfile:
    """How the columns of a plain CSV map to a dataflow's components."""

    name: str
    dataflow: FlowRef
    layout: str
    dimensions: dict[str, str]
    fixed: dict[str, str] = field(default_factory=dict)
    period: str | None = None
    value: str | None = None
    periods: tuple[str, ...] | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    fixed_attributes: dict[str, str] = field(default_factory=dict)
    release_date: str | None = None
    delimiter: str = ","
    encoding: str = "utf-8-sig"

    @classmethod
    def load(cls, path_name: str) -> MappingProfile:
        path, data = read_profile_file(path_name, _KEYS)
        flow = parse_ref(str(data.get("dataflow", "")))
        if flow is None:
            raise SourceError(f"Profile {path} must name its dataflow as AGENCY:ID(VERSION).")
        layout = str(data.get("layout", "long"))
        if layout not in ("long", "wide"):
            raise SourceError(f"Profile {path}: layout is long or wide, not {layout!r}.")
        if layout == "long" and not (data.get("period") and data.get("value")):
            raise SourceError(f"Profile {path}: a long layout names its period and value "
                              "columns.")

        def mapping(key: str) -> dict[str, str]:
            return {str(k): str(v) for k, v in (data.get(key) or {}).items()}

        periods = data.get("periods")
        return cls(
            name=str(data.get("name", path.stem)), dataflow=flow, layout=layout,
            dimensions=mapping("dimensions"), fixed=mapping("fixed"),
            period=_optional(data.get("period")), value=_optional(data.get("value")),
            periods=tuple(str(p) for p in periods) if periods else None,
            attributes=mapping("attributes"), fixed_attributes=mapping("fixed_attributes"),
            release_date=_optional(data.get("release_date")),
            delimiter=str(data.get("delimiter", ",")),
            encoding=str(data.get("encoding", "utf-8-sig")))

    def named_columns(self) -> list[str]:
        """The source columns the profile maps (other than wide period columns)."""
        named = [*self.dimensions.values(), *self.attributes.values()]
        named += [c for c in (self.period, self.value, self.release_date) if c]
        return named


def _optional(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def read_mapped(path: Path, mapping: MappingProfile) -> DataMessage:
    """The observations of a plain CSV, as its mapping profile reads them."""
    return DataMessage(_records(path, mapping))


def _records(path: Path, mapping: MappingProfile) -> Iterator[ObsRecord | tuple[int, str]]:
    source = Profile(name=mapping.name, format="csv", delimiter=mapping.delimiter,
                     encoding=mapping.encoding)
    period_columns: list[str] | None = None
    number = 0
    for number, rec in read_records(path, source):
        line = number + 1  # the header is line 1
        if isinstance(rec, str):
            yield (line, rec)
            continue
        if period_columns is None:
            period_columns = _check_columns(path, mapping, list(rec))
        key = {**mapping.fixed, **{d: rec[c] for d, c in mapping.dimensions.items()}}
        attributes = {**mapping.fixed_attributes,
                      **{a: rec[c] for a, c in mapping.attributes.items() if rec[c]}}
        release = rec[mapping.release_date] if mapping.release_date else None
        if mapping.layout == "long":
            assert mapping.period and mapping.value
            yield ObsRecord(line, mapping.dataflow, key, rec[mapping.period],
                            rec[mapping.value], attributes, release)
            continue
        for column in period_columns:
            cell = rec[column]
            if cell.strip():
                yield ObsRecord(line, mapping.dataflow, dict(key), column.strip(), cell,
                                dict(attributes), release)
    if number == 0:
        raise SourceError(f"{path.name} has no data rows.")


def _check_columns(path: Path, mapping: MappingProfile, header: list[str]) -> list[str]:
    """The wide layout's period columns; a column the profile names that the file lacks
    refuses the file (every row would be wrong the same way)."""
    missing = [c for c in mapping.named_columns() if c not in header]
    if mapping.periods:
        missing += [c for c in mapping.periods if c not in header]
    if missing:
        raise SourceError(
            f"{path.name} lacks the column(s) {', '.join(missing)} that profile "
            f"{mapping.name} names; its columns are {', '.join(header)}.")
    if mapping.layout == "long":
        return []
    named = set(mapping.named_columns())
    return list(mapping.periods) if mapping.periods else [c for c in header if c not in named]
