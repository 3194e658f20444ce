"""Vietnamese text: one Unicode form, and a comparison key blind to tone-mark placement."""

from __future__ import annotations

import unicodedata

# Combining marks that carry the five Vietnamese tones (the sixth tone is unmarked).
TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")


def clean(value: str) -> str:
    """NFC, trimmed, inner whitespace collapsed: how every text field is stored."""
    if not value:
        return ""
    if not value.isascii():  # ASCII is already NFC; most fields are codes and dates
        value = unicodedata.normalize("NFC", value)
    return " ".join(value.split())


def name_key(value: str) -> str:
    """A key under which two spellings of one name compare equal.

    Sources differ in Unicode form (NFC/NFD), case, spacing and where the tone
    mark sits ("Hoà" and "Hòa", "Thuỷ" and "Thủy"). The key moves each word's
    tone mark to the end of the word, so placement stops mattering while the
    tone itself still does ("Hòa" and "Hóa" stay different).
    """
    words = []
    for word in clean(value).casefold().split(" "):
        decomposed = unicodedata.normalize("NFD", word)
        tones = "".join(ch for ch in decomposed if ch in TONE_MARKS)
        bare = "".join(ch for ch in decomposed if ch not in TONE_MARKS)
        words.append(unicodedata.normalize("NFC", bare) + tones)
    return " ".join(words)
