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
    crs: EPSG:3405         # spatial files only: the CRS of a file that states none
    units: national        # national (codes of mdr's unit list) or as-given (another
                           # country's cadastre: codes kept as given, not located)

A file is read as written, never guessed at: lines are read as bytes, bounded by
``ReadLimits``, and decoded one by one, so every record's line and byte offset are known.
A CSV record that breaks the quoting rules, a record or a decompressed stream past its
limit, bytes that are not text in the file's encoding, a damaged gzip stream: each raises
``UnreadableSource`` naming the row, line and byte offset, and reading stops there (what
follows might be read out of step, e.g. a row hidden inside a quoted field).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import yaml

Layout = Callable[[dict[str, str]], dict[str, str]]
"""A registry's last step for mapped records (e.g. splitting a full name into its parts)."""


class SourceError(ValueError):
    """A source file or profile that cannot be read at all (not a row problem)."""


def read_profile_file(path_name: str, keys: set[str]) -> tuple[Path, dict[str, Any]]:
    """The YAML mapping of a profile file, refused with a steward's message when the
    file is missing, is not a mapping or has keys other than ``keys``."""
    path = Path(path_name)
    if not path.is_file():
        raise SourceError(f"Profile {path_name!r} not found: give the path of a YAML "
                          "profile file.")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise SourceError(f"Profile {path} must be a YAML mapping.")
    unknown = set(data) - keys
    if unknown:
        raise SourceError(f"Profile {path} has unknown keys: {', '.join(sorted(unknown))}.")
    return path, data


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
    crs: str | None = None
    units: str = "national"
    layout: Layout | None = None

    @classmethod
    def load(cls, path_name: str | None, layout: Layout | None = None) -> Profile:
        """The profile in the YAML file at ``path_name`` (None: the canonical layout).

        ``layout`` is the registry's own step for records the profile mapped.
        """
        if not path_name:
            return cls(layout=layout)
        path, data = read_profile_file(path_name, {
            "name", "format", "delimiter", "encoding", "columns", "values", "defaults", "crs",
            "units"})
        units = str(data.get("units", "national"))
        if units not in ("national", "as-given"):
            raise SourceError(f"Profile {path}: units must be national or as-given, not "
                              f"{units!r}.")
        return cls(
            name=str(data.get("name", path.stem)),
            format=data.get("format"),
            delimiter=str(data.get("delimiter", ",")),
            encoding=str(data.get("encoding", "utf-8-sig")),
            columns={str(k): str(v) for k, v in (data.get("columns") or {}).items()},
            values={str(k): {str(a): str(b) for a, b in v.items()}
                    for k, v in (data.get("values") or {}).items()},
            defaults={str(k): str(v) for k, v in (data.get("defaults") or {}).items()},
            crs=str(data["crs"]) if data.get("crs") else None,
            units=units,
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


MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True)
class ReadLimits:
    """How much one source file may make the loader read. Lines are read as bytes up to
    these bounds, so memory stays bounded whatever the file holds; a file past a bound is
    refused whole (nothing of it is loaded)."""

    max_record_bytes: int = 4 * MiB
    """Longest record, in bytes: a JSON line, or a CSV record with the line breaks in its
    quoted fields (``MDR_LOAD_MAX_RECORD_BYTES``)."""
    max_decompressed_bytes: int = 64 * GiB
    """Most bytes a compressed (``.gz``) file may expand to
    (``MDR_LOAD_MAX_DECOMPRESSED_BYTES``)."""
    max_expansion: int = 100
    """A compressed file may also expand to at most this many times its own size
    (``MDR_LOAD_MAX_EXPANSION``; CSV and JSON Lines of registry data compress 5-20 times):
    a gzip bomb stops early..."""
    expansion_floor_bytes: int = 64 * MiB
    """... but a small file may always expand to this many bytes."""

    def decompressed_cap(self, compressed_size: int) -> int:
        return min(self.max_decompressed_bytes,
                   max(self.max_expansion * compressed_size, self.expansion_floor_bytes))


class UnreadableSource(SourceError):
    """The file's structure cannot be read past some point (broken quoting, an oversized
    record, bytes that are not text in the file's encoding, a damaged gzip stream). The
    reader never resumes after it: what follows could be read out of step (a row smuggled
    inside a quoted field), so the whole file is refused."""

    def __init__(self, message: str, row: int | None, line: int, offset: int) -> None:
        super().__init__(message)
        self.row = row
        """The record being read (data rows from 1; None for a CSV header)."""
        self.line = line
        """The line of the file (from 1) where the problem is."""
        self.offset = offset
        """Its byte offset in the file (from 0; in the decompressed stream of a .gz)."""


class _Problem(Exception):
    """Raised by _Lines; read_records adds the row and file name."""

    def __init__(self, reason: str, line: int, offset: int) -> None:
        super().__init__(reason)
        self.line = line
        self.offset = offset


class _Lines:
    """The lines of a source read as bytes, each decoded on its own: every line is bounded
    (``readline(limit)``), and the byte offset and line number of every record are known
    without asking the stream."""

    def __init__(self, raw: IO[bytes], encoding: str, limits: ReadLimits, total_cap: int,
                 compressed: bool, records_are_lines: bool) -> None:
        self.raw = raw
        self.limits = limits
        self.total_cap = total_cap
        self.compressed = compressed
        self.records_are_lines = records_are_lines
        self.encoding = encoding
        # A BOM is skipped at the start of the file only.
        self.first_encoding = encoding
        self.rest_encoding = "utf-8" if codecs.lookup(encoding).name == "utf-8-sig" else encoding
        self.offset = 0
        """Bytes read so far."""
        self.line = 0
        """Lines read so far."""
        self.record_offset = 0
        self.record_line = 1

    def mark(self) -> None:
        """The next line read begins a record."""
        self.record_offset = self.offset
        self.record_line = self.line + 1

    def __iter__(self) -> Iterator[str]:
        readline = self.raw.readline
        cap = self.limits.max_record_bytes
        total_cap = self.total_cap
        encoding = self.first_encoding
        per_line = self.records_are_lines
        while True:
            if per_line:
                self.record_offset = self.offset
                self.record_line = self.line + 1
            try:
                data = readline(cap + 1)
            except (OSError, EOFError, zlib.error) as exc:
                what = "the compressed stream is damaged" if self.compressed else \
                    "the file cannot be read"
                raise _Problem(f"{what} ({exc})", self.line + 1, self.offset) from None
            if not data:
                return
            start = self.offset
            self.offset += len(data)
            self.line += 1
            if self.offset - self.record_offset > cap:
                raise _Problem(
                    f"the record is longer than {cap:,} bytes, the most a record may have "
                    "(MDR_LOAD_MAX_RECORD_BYTES); a quote that is never closed makes the rest "
                    "of a file one record", self.record_line, self.record_offset)
            if self.offset > total_cap:
                raise _Problem(
                    f"the file expands to more than {total_cap:,} bytes, the most a "
                    "compressed file of its size may hold (MDR_LOAD_MAX_DECOMPRESSED_BYTES, "
                    "MDR_LOAD_MAX_EXPANSION); split it or load it uncompressed",
                    self.line, start)
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise _Problem(
                    f"the bytes are not valid {self.rest_encoding} text ({exc.reason}); convert "
                    "the file or set `encoding:` in a profile", self.line,
                    start + exc.start) from None
            encoding = self.rest_encoding
            yield text


def _open_binary(path: Path) -> tuple[IO[bytes], bool]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb")), True
    return path.open("rb"), False


def source_encoding(encoding: str) -> str:
    """The profile's encoding, if lines of it can be told apart as bytes."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise SourceError(f"Unknown encoding {encoding!r} (try utf-8, cp1258 or latin-1)."
                          ) from None
    sample = '\n\r,;\t"{}'
    if sample.encode(encoding, errors="replace").removeprefix(codecs.BOM_UTF8) != \
            sample.encode("ascii"):
        raise SourceError(f"Encoding {encoding!r} is not supported: line breaks must be the "
                          "byte \\n (as in UTF-8, cp1258 or latin-1); convert the file to "
                          "UTF-8.")
    return encoding


def read_records(path: Path, profile: Profile, limits: ReadLimits | None = None
                 ) -> Iterator[tuple[int, dict[str, str] | str]]:
    """(row number, canonical record) for each data row; a str instead of a record is a
    row that could not be parsed at all, with the reason.

    A file whose structure breaks (see ``UnreadableSource``) raises that error, naming
    the row, the line and the byte offset; the rows before it have been yielded, so a
    caller must discard the whole file.
    """
    limits = limits or ReadLimits()
    fmt = source_format(path, profile)
    encoding = source_encoding(profile.encoding)
    raw, compressed = _open_binary(path)
    total_cap = limits.decompressed_cap(path.stat().st_size) if compressed else 1 << 62
    lines = _Lines(raw, encoding, limits, total_cap, compressed, records_are_lines=fmt != "csv")
    number = 0
    with raw:
        try:
            if fmt == "csv":
                yield from _csv_records(lines, profile)
            else:
                for text in lines:
                    number = lines.line
                    if not text.strip():
                        continue
                    try:
                        record = json.loads(text)
                    except json.JSONDecodeError as exc:
                        yield number, f"The line is not valid JSON ({exc.msg})."
                        continue
                    if not isinstance(record, dict):
                        yield number, "The line is not a JSON object."
                        continue
                    yield number, profile.apply(record)
        except _CsvProblem as exc:
            raise _unreadable(path, exc.row, exc.problem) from None
        except _Problem as exc:
            raise _unreadable(path, exc.line if fmt != "csv" else None, exc) from None


class _CsvProblem(Exception):
    def __init__(self, row: int | None, problem: _Problem) -> None:
        super().__init__(str(problem))
        self.row = row
        self.problem = problem


def _csv_records(lines: _Lines, profile: Profile) -> Iterator[tuple[int, dict[str, str] | str]]:
    # strict: a quote that is not closed where it should be is an error, not a guess.
    reader = csv.reader(lines, delimiter=profile.delimiter, strict=True)
    number: int | None = None

    def problem(exc: Exception) -> _CsvProblem:
        if isinstance(exc, _Problem):
            return _CsvProblem(number, exc)
        reason = str(exc)
        if "field larger than field limit" in reason:
            reason = (f"a field is longer than {csv.field_size_limit():,} characters, which "
                      "no field of this layout may be; a quote that is never closed makes "
                      "the following lines one field")
        elif "new-line character seen in unquoted field" in reason:
            reason = "a line ends in a lone carriage return; convert the line ends to \\n"
        else:
            reason = f"the CSV structure is broken ({reason})"
        return _CsvProblem(number, _Problem(reason, lines.record_line, lines.record_offset))

    try:
        header = next(reader, None)
        while header == []:
            header = next(reader, None)
    except (csv.Error, _Problem) as exc:
        raise problem(exc) from None
    if header is None:
        return
    width = len(header)
    number = 0
    while True:
        lines.mark()
        try:
            row = next(reader)
            while not row:
                lines.mark()
                row = next(reader)
        except StopIteration:
            return
        except (csv.Error, _Problem) as exc:
            number += 1
            raise problem(exc) from None
        number += 1
        if len(row) > width:
            yield number, "The row has more fields than the header."
            continue
        if len(row) < width:
            row += [""] * (width - len(row))
        yield number, profile.apply(dict(zip(header, row, strict=True)))


def _unreadable(path: Path, row: int | None, problem: _Problem) -> UnreadableSource:
    where = f"row {row}" if row is not None else "the header"
    return UnreadableSource(
        f"{path.name} cannot be read past {where} (line {problem.line}, byte "
        f"{problem.offset}): {problem}. Nothing of the file was loaded.",
        row, problem.line, problem.offset)
