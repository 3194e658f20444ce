"""Vietnamese text: one Unicode form, and a comparison key blind to tone-mark placement."""

from __future__ import annotations

import functools
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
    return " ".join(map(_word_key, clean(value).casefold().split(" ")))


@functools.lru_cache(maxsize=65_536)
def _word_key(word: str) -> str:
    # Names are made of few distinct words (surnames, middle and given names repeat
    # across millions of people), so each word's key is worked out once.
    decomposed = unicodedata.normalize("NFD", word)
    tones = "".join(ch for ch in decomposed if ch in TONE_MARKS)
    bare = "".join(ch for ch in decomposed if ch not in TONE_MARKS)
    return unicodedata.normalize("NFC", bare) + tones
