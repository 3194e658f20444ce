"""Readers of source files: CSV and JSON Lines (optionally gzip), mapped by a profile.

Readers know formats, not registries: every value comes out as text, and a JSON
value that is itself an object or a list (a GeoJSON geometry, an SDMX key) as its
JSON text. A profile (a YAML file, given by its path) maps a source layout to a
registry's canonical fields:

    name: province-export-2024
    format: csv            # csv or jsonl; default from the file name
    delimiter: ";"         # csv only; default ","
    encoding: utf-8-sig    # default utf-8-sig (a BOM is skipped)
    columns:               # source column -> canonical field
      SoDinhDanh: national_id
      HoTen: full_name     # the registry's layout may split it (population does)
    values:                # per canonical field: source value -> canonical value
      sex: {Nam: male, "Nữ": female}
    defaults:              # canonical field -> value when the source has none
      nationality: VN
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

Layout = Callable[[dict[str, str]], dict[str, str]]
"""A registry's last step for mapped records (e.g. splitting a full name into its parts)."""


class SourceError(ValueError):
    """A source file or profile that cannot be read at all (not a row problem)."""


@dataclass(frozen=True)
class Profile:
    """How to read one source layout."""

    name: str = "canonical"
    format: str | None = None
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    layout: Layout | None = None

    @classmethod
    def load(cls, path_name: str | None, layout: Layout | None = None) -> Profile:
        """The profile in the YAML file at ``path_name`` (None: the canonical layout).

        ``layout`` is the registry's own step for records the profile mapped.
        """
        if not path_name:
            return cls(layout=layout)
        path = Path(path_name)
        if not path.is_file():
            raise SourceError(f"Profile {path_name!r} not found: give the path of a YAML "
                              "profile file.")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise SourceError(f"Profile {path} must be a YAML mapping.")
        unknown = set(data) - {"name", "format", "delimiter", "encoding", "columns", "values",
                               "defaults"}
        if unknown:
            raise SourceError(f"Profile {path} has unknown keys: {', '.join(sorted(unknown))}.")
        return cls(
            name=str(data.get("name", path.stem)),
            format=data.get("format"),
            delimiter=str(data.get("delimiter", ",")),
            encoding=str(data.get("encoding", "utf-8-sig")),
            columns={str(k): str(v) for k, v in (data.get("columns") or {}).items()},
            values={str(k): {str(a): str(b) for a, b in v.items()}
                    for k, v in (data.get("values") or {}).items()},
            defaults={str(k): str(v) for k, v in (data.get("defaults") or {}).items()},
            layout=layout,
        )

    def apply(self, raw: dict[str, Any]) -> dict[str, str]:
        """One source record as canonical fields (text, unnormalised)."""
        if not (self.columns or self.values or self.defaults):
            # The canonical layout: nothing to map (the hot path of large loads).
            return {k: v if v.__class__ is str else as_text(v) for k, v in raw.items()}
        row: dict[str, str] = {}
        for key, value in raw.items():
            target = self.columns.get(key, key if not self.columns else None)
            if target is None:
                continue
            text = value if value.__class__ is str else as_text(value)
            row[target] = self.values.get(target, {}).get(text, text)
        for key, value in self.defaults.items():
            if not row.get(key):
                row[key] = value
        return self.layout(row) if self.layout is not None else row


def as_text(value: Any) -> str:
    """A source value as text: None is blank, objects and lists are their JSON text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _open(path: Path, encoding: str) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=encoding, newline="")
    return path.open(encoding=encoding, newline="")


def source_format(path: Path, profile: Profile) -> str:
    if profile.format:
        return profile.format
    suffixes = [s for s in path.suffixes if s != ".gz"]
    ext = suffixes[-1] if suffixes else ""
    if ext in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if ext in (".csv", ".txt", ".tsv"):
        return "csv"
    raise SourceError(f"Cannot tell the format of {path.name}: name it .csv or .jsonl, or give "
                      "a profile with `format:`.")


def read_records(path: Path, profile: Profile) -> Iterator[tuple[int, dict[str, str] | str]]:
    """(row number, canonical record) for each data row; a str instead of a record is a
    row that could not be parsed at all, with the reason."""
    fmt = source_format(path, profile)
    try:
        with _open(path, profile.encoding) as handle:
            if fmt == "csv":
                reader = csv.DictReader(handle, delimiter=profile.delimiter)
                number = 0
                while True:
                    number += 1
                    try:
                        raw = next(reader)
                    except StopIteration:
                        break
                    except csv.Error as exc:  # e.g. a NUL byte: that row only is lost
                        yield number, f"The row cannot be read as CSV ({exc})."
                        continue
                    if None in raw:
                        yield number, "The row has more fields than the header."
                        continue
                    yield number, profile.apply(raw)
            else:
                for number, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        raw = json.loads(line)
                    except json.JSONDecodeError as exc:
                        yield number, f"The line is not valid JSON ({exc.msg})."
                        continue
                    if not isinstance(raw, dict):
                        yield number, "The line is not a JSON object."
                        continue
                    yield number, profile.apply(raw)
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path.name} is not valid {profile.encoding} text "
                          f"(byte {exc.start}); convert it or set `encoding:` in a profile."
                          ) from None
