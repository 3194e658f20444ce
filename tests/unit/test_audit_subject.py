"""What the audit trail keeps as the subject of an access."""

from __future__ import annotations

import re

import pytest

from graphql_api.auth import SUBJECT_LENGTH, audit_subject


def test_audit_subjects_keep_malformed_identifiers_distinct() -> None:
    assert audit_subject("001080000001") == "001080000001"
    assert audit_subject("00108000\x000001") == "00108000\\x000001"
    assert audit_subject("00108000\\x000001") != audit_subject("00108000\x000001")
    cut = audit_subject("9" * 100)
    assert len(cut) == 64 and cut.endswith("…") and cut != "9" * 64


@pytest.mark.parametrize(("given", "kept"), [
    ("070077555447\u200b", "070077555447\\u200b"),     # zero-width space
    ("\u202e744555770070", "\\u202e744555770070"),     # right-to-left override
    ("0700775\u200f55447", "0700775\\u200f55447"),     # right-to-left mark
    ("070077555447\x85", "070077555447\\x85"),         # C1 control (next line)
    ("\x9b070077555447", "\\x9b070077555447"),         # C1 control sequence introducer
    ("070077５５５447", "070077\\uff15\\uff15\\uff15447"),  # fullwidth digits
    ("٠١٠٠١٠٩١٠٦", "".join(f"\\u066{d}" for d in "0100109106")),  # Arabic-Indic digits
    ("0701\U0001d7ce", "0701\\U0001d7ce"),             # mathematical bold digit zero
    ("12ab", "12\\x61\\x62"),
    ("a\\b", "\\x61\\x5c\\x62"),
    ("", ""),
])
def test_a_subject_that_is_not_a_number_shows_every_other_character_escaped(
        given: str, kept: str) -> None:
    assert audit_subject(given) == kept
    assert kept.isascii() and kept.isprintable()


ESCAPED = re.compile(r"(?:[0-9]|\\x[0-9a-f]{2}|\\u[0-9a-f]{4}|\\U[0-9a-f]{8})*")


def test_a_long_subject_is_cut_between_escapes_with_a_mark() -> None:
    fullwidth = audit_subject("０７００７７５５５４４７")  # 12 escapes of 6 characters
    assert fullwidth.startswith("\\uff10\\uff17") and fullwidth.endswith("…")
    for given in ("\u200b" * 40, "1" * 60 + "\u200b" * 5, "1" * 100 + "x", "x" + "1" * 100,
                  "1" * 63 + "x", "\U0001d7ce" * 9):
        kept = audit_subject(given)
        assert kept.endswith("…") and len(kept) <= SUBJECT_LENGTH, kept
        assert ESCAPED.fullmatch(kept[:-1]), kept
    assert audit_subject("1" * SUBJECT_LENGTH) == "1" * SUBJECT_LENGTH
