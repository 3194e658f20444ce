"""Vietnamese text: one Unicode form, and a comparison key blind to tone-mark placement."""

from __future__ import annotations

import functools
import re
import unicodedata

# Combining marks that carry the five Vietnamese tones (the sixth tone is unmarked).
TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")

# C0 controls but tab, line feed and carriage return, and DEL: PostgreSQL cannot store
# a NUL in text, and none of them belongs in a registry's field.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def has_control_characters(value: str) -> bool:
    """Whether ``value`` holds a control character no field may contain."""
    return _CONTROL.search(value) is not None


def escaped(value: str) -> str:
    """``value`` with control and non-ASCII characters escaped, fit to show in a report."""
    return value.encode("unicode_escape").decode("ascii")


def clean(value: str) -> str:
    """NFC, trimmed, inner whitespace collapsed: how every text field is stored."""
    if not value:
        return ""
    if not value.isascii():  # ASCII is already NFC; most fields are codes and dates
        value = unicodedata.normalize("NFC", value)
    return " ".join(value.split())


# Anything clean() could change: a character that is not printable ASCII or a space, two
# spaces in a row, or a space at either end of a value (values are joined by NUL, which
# clean() leaves as it is).
_UNCLEAN = re.compile(r"[^\x00\x21-\x7e ]|  |(?:^|\x00) | (?:\x00|$)")


def clean_all(values: list[str]) -> list[str]:
    """clean() of each value. A column of codes, numbers and dates is usually clean already:
    one scan of the whole column finds that out, and it is returned as it is."""
    if _UNCLEAN.search("\x00".join(values)) is None:
        return values
    return [clean(value) for value in values]


def name_key(value: str) -> str:
    """A key under which two spellings of one name compare equal.

    Sources differ in Unicode form (NFC/NFD), case, spacing and where the tone
    mark sits ("Hoà" and "Hòa", "Thuỷ" and "Thủy"). The key moves each word's
    tone mark to the end of the word, so placement stops mattering while the
    tone itself still does ("Hòa" and "Hóa" stay different).
    """
    return " ".join(map(_key_of, clean(value).casefold().split(" ")))


CACHED_WORD = 32
"""Longer words are keyed each time, never kept: no name has such words, and a cache of
65,536 words of any length is a cache of any size."""


def _key_of(word: str) -> str:
    return _word_key(word) if len(word) <= CACHED_WORD else _uncached_word_key(word)


@functools.lru_cache(maxsize=65_536)
def _word_key(word: str) -> str:
    # Names are made of few distinct words (surnames, middle and given names repeat
    # across millions of people), so each word's key is worked out once.
    return _uncached_word_key(word)


def _uncached_word_key(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    tones = "".join(ch for ch in decomposed if ch in TONE_MARKS)
    bare = "".join(ch for ch in decomposed if ch not in TONE_MARKS)
    return unicodedata.normalize("NFC", bare) + tones
