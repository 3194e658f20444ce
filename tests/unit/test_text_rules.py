"""Text normalisation: what makes two spellings of a Vietnamese name the same name."""

import unicodedata

from loaders.rules.text import clean, name_key


def test_clean_gives_nfc_and_single_spaces() -> None:
    nfd = unicodedata.normalize("NFD", "  Nguyễn   Văn\tAn ")
    assert clean(nfd) == "Nguyễn Văn An"
    assert unicodedata.is_normalized("NFC", clean(nfd))


def test_tone_mark_placement_does_not_matter() -> None:
    assert name_key("Hoà Bình") == name_key("Hòa Bình")
    assert name_key("Thuỷ") == name_key("Thủy")
    assert name_key("KHOẺ") == name_key("khỏe")


def test_unicode_form_case_and_spacing_do_not_matter() -> None:
    assert name_key(unicodedata.normalize("NFD", "Trần  Thị Hoa")) == name_key("trần thị hoa")


def test_different_tones_stay_different() -> None:
    assert name_key("Hòa") != name_key("Hóa")
    assert name_key("Lan") != name_key("Lân")
