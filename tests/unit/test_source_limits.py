"""Readers refuse a file whose structure breaks, and bound what one record may cost."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path

import pytest

from loaders.sources.readers import Profile, ReadLimits, UnreadableSource, read_records

HEADER = "national_id,family_name,address\n"


def records(path: Path, limits: ReadLimits | None = None, profile: Profile | None = None
            ) -> list[tuple[int, object]]:
    return list(read_records(path, profile or Profile(), limits))


def test_a_row_inside_an_oversized_quoted_field_is_never_read_as_a_row(tmp_path: Path) -> None:
    smuggled = "001080000666,Evil,1 Phố Huế"
    first = "001080000001,Nguyễn,2 Phố Huế\n"
    text = (HEADER + first + '001080000002,Trần,"' + "x" * 140_000 + "\n" + smuggled
            + '\nrest"\n001080000003,Lê,3 Phố Huế\n')
    path = tmp_path / "p.csv"
    path.write_text(text, encoding="utf-8")
    seen: list[tuple[int, object]] = []
    with pytest.raises(UnreadableSource) as caught:
        for item in read_records(path, Profile()):
            seen.append(item)
    assert seen == [(1, {"national_id": "001080000001", "family_name": "Nguyễn",
                         "address": "2 Phố Huế"})]
    error = caught.value
    assert (error.row, error.line) == (2, 3)
    assert error.offset == len((HEADER + first).encode())
    assert f"row 2 (line 3, byte {error.offset})" in str(error)


@pytest.mark.parametrize("broken", [
    '001080000002,"Trần" Thị,2 Phố Huế\n',       # text after a closing quote
    '001080000002,Trần,"2 Phố Huế\n001080000003,Lê,3 Phố Huế\n',  # a quote never closed
])
def test_broken_quoting_refuses_the_file(tmp_path: Path, broken: str) -> None:
    path = tmp_path / "p.csv"
    path.write_text(HEADER + "001080000001,Nguyễn,1 Phố Huế\n" + broken, encoding="utf-8")
    with pytest.raises(UnreadableSource, match=r"row 2 \(line 3, byte"):
        records(path)


def test_a_record_past_the_cap_refuses_the_file_with_bounded_memory(tmp_path: Path) -> None:
    # 32 MiB of one line in a gzip of a few tens of KiB; the cap is 64 KiB.
    path = tmp_path / "p.csv.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(HEADER.encode() + b"001080000001,Nguyen,")
        for _ in range(32):
            handle.write(b"x" * (1 << 20))
        handle.write(b"\n")
    limits = ReadLimits(max_record_bytes=64 << 10)
    tracemalloc.start()
    try:
        with pytest.raises(UnreadableSource, match="longer than 65,536 bytes") as caught:
            records(path, limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (caught.value.row, caught.value.line) == (1, 2)
    assert peak < 4 << 20


def test_a_quoted_record_spanning_lines_counts_as_one_record(tmp_path: Path) -> None:
    lines = "\n".join("y" * 1000 for _ in range(100))
    path = tmp_path / "p.csv"
    path.write_text(HEADER + f'001080000001,Nguyễn,"{lines}"\n', encoding="utf-8")
    with pytest.raises(UnreadableSource, match="longer than 65,536 bytes"):
        records(path, ReadLimits(max_record_bytes=64 << 10))
    assert len(records(path, ReadLimits(max_record_bytes=128 << 10))) == 1


def test_a_gzip_that_expands_past_its_cap_refuses_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl.gz"
    row = json.dumps({"national_id": "001080000001", "address": "1 Phố Huế"}) + "\n"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(row * 50_000)
    assert len(records(path)) == 50_000
    compressed = path.stat().st_size
    by_ratio = ReadLimits(max_expansion=10, expansion_floor_bytes=0)
    with pytest.raises(UnreadableSource, match="expands to more than") as caught:
        records(path, by_ratio)
    assert 10 * compressed - len(row) < caught.value.offset <= 10 * compressed
    with pytest.raises(UnreadableSource, match="expands to more than 100,000 bytes"):
        records(path, ReadLimits(max_decompressed_bytes=100_000))


def test_a_damaged_gzip_refuses_the_file(tmp_path: Path) -> None:
    whole = gzip.compress((HEADER + "001080000001,Nguyễn,1 Phố Huế\n" * 1000).encode())
    path = tmp_path / "p.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(UnreadableSource, match="compressed stream is damaged"):
        records(path)


def test_bytes_in_another_encoding_are_reported_at_their_offset(tmp_path: Path) -> None:
    good = "".join(f"0010800{n:05d},Nguyễn,{n} Phố Hàng Bông\n" for n in range(1, 1001))
    bad = "001080001001,Lê Văn Đông,1 Hàng Bông\n".encode("cp1258")
    head = (HEADER + good).encode("utf-8")
    path = tmp_path / "p.csv"
    path.write_bytes(head + bad + b"001080001002,Le,1 Pho Hue\n")
    offset = len(head) + next(i for i, b in enumerate(bad) if b >= 0x80)
    assert offset > 34_000
    with pytest.raises(UnreadableSource) as caught:
        records(path)
    assert (caught.value.row, caught.value.line, caught.value.offset) == (1001, 1002, offset)
    assert f"row 1001 (line 1002, byte {offset})" in str(caught.value)
    # The same file read as what it is, in a profile: nothing wrong.
    assert len(records(path, profile=Profile(encoding="cp1258"))) == 1002


def test_json_lines_report_their_line(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_bytes(b'{"national_id": "001080000001"}\n\n{"address": "\xff"}\n')
    with pytest.raises(UnreadableSource, match=r"row 3 \(line 3, byte 46\)"):
        records(path)


def test_an_encoding_whose_lines_are_not_bytes_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(HEADER, encoding="utf-16")
    with pytest.raises(Exception, match="convert the file to UTF-8"):
        records(path, profile=Profile(encoding="utf-16"))
    with pytest.raises(Exception, match="Unknown encoding"):
        records(path, profile=Profile(encoding="klingon"))
