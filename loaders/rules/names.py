"""Which characters a person's name may hold.

A name part (family, middle or given name) is one or more words separated by single
spaces. A word is letters, and may join runs of letters with an apostrophe or a hyphen:
the Ê Đê and Jrai names of the Central Highlands are written so ("H'Hen Niê",
"Y-Moan"), as are some foreign names ("O'Brien", "Jean-Pierre"). Letters are those of
any script, in NFC (Vietnamese letters with their marks are single characters then),
with combining marks allowed after a letter for the few that have no composed form.
Digits, other punctuation, symbols and control or invisible characters are not part of
anyone's name: a value holding them is a data error (or an attack), not a name.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_PART = 100
"""Characters in one name part; the longest real names are far shorter."""

_LETTER = r"(?:[^\W\d_][\u0300-\u036f]*)"
_WORD = re.compile(rf"{_LETTER}+(?:['’\-]{_LETTER}+)*")


def name_problem(value: str) -> str | None:
    """Why ``value`` (already cleaned: NFC, single spaces) cannot be a name part, or None."""
    if len(value) > MAX_NAME_PART:
        return f"it is {len(value)} characters long; a name part holds at most {MAX_NAME_PART}"
    for word in value.split(" "):
        if not _WORD.fullmatch(word):
            odd = sorted({ch for ch in word if not (ch.isalpha() or unicodedata.combining(ch))
                          and ch not in "'’-"})
            shown = ", ".join(repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"
                              for ch in odd)
            if shown:
                return f"it holds {shown}, which no name contains"
            return (f"{word!r} has an apostrophe or hyphen that does not join two runs of "
                    "letters")
    return None
