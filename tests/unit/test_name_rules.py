"""The rule for the characters of a person's name."""

from __future__ import annotations

import unicodedata

import pytest

from loaders.rules.names import MAX_NAME_PART, name_problem


@pytest.mark.parametrize("name", [
    "Nguyễn", "Văn An", "Trần Thị Hoà", "Hòa", "Ngô Bảo Châu", "H'Hen Niê", "Y-Moan Ênuôl",
    "Ksor", "O'Brien", "Jean-Pierre", "Đặng", "Lê Ánh Dương", "Mộng Điệp", "José",
    "Владимир", "明", "H’Hen",
])
def test_real_names_are_accepted(name: str) -> None:
    assert name_problem(unicodedata.normalize("NFC", name)) is None


@pytest.mark.parametrize(("value", "said"), [
    ("Robert'); DROP TABLE person;--", "')'"),
    ("An2", "'2'"),
    ("<script>", "'<'"),
    ("Hoa\u200b", "U+200B"),
    ("\u202eAn", "U+202E"),
    ("An.", "'.'"),
    ("An_Binh", "'_'"),
    ("'An", "apostrophe or hyphen"),
    ("An-", "apostrophe or hyphen"),
    ("An--Binh", "apostrophe or hyphen"),
])
def test_what_no_name_holds_is_refused_with_the_character(value: str, said: str) -> None:
    problem = name_problem(value)
    assert problem is not None and said in problem


def test_a_name_part_has_a_length_limit() -> None:
    assert name_problem("A" * MAX_NAME_PART) is None
    problem = name_problem("A" * (MAX_NAME_PART + 1))
    assert problem is not None and str(MAX_NAME_PART) in problem


def test_decomposed_marks_after_a_letter_are_letters_too() -> None:
    # A letter with a mark that has no composed form stays two characters in NFC.
    assert name_problem(unicodedata.normalize("NFC", "Ha\u0304n")) is None
