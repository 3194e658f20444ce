"""The canonical input layout of the population registry (what `mdr load population` reads
without a profile, and what `mdr fixtures generate population` writes).

Two kinds of file, each as CSV (UTF-8, header row) or JSON Lines (one object a line,
the same keys):

* a **snapshot** (``persons.csv`` / ``persons.jsonl``): one row per person, as a
  province's register stands on the load's effective date;
* an **event file** (``events.csv`` / ``events.jsonl``): births, deaths, moves, name
  changes, marriages and divorces, one row per event.

Field conventions:

* dates: ISO ``YYYY-MM-DD``; the loader also accepts the Vietnamese forms
  ``DD/MM/YYYY`` and ``DD-MM-YYYY`` (and ``DD.MM.YYYY``);
* ``sex``: ``male`` / ``female`` (the loader also accepts ``Nam`` / ``Nữ``);
* unit codes (``birth_place_code``, ``commune_code``, ``place_code``): the commune
  code in force on the date the field refers to (birth date, ``residence_since``,
  event date): a pre-2025 5-digit code for dates before 2025-07-01, a 2025 code after;
* person references (``father_id``, ``mother_id``, ``spouse_id``): national ids of
  persons in the same file or already in the registry; blank when unknown;
* text may arrive in NFC or NFD and with either tone-mark placement; the loader
  stores NFC;
* a profile may map a single ``full_name`` field instead of the three parts: it is
  split (:func:`split_full_name`) when ``given_name`` is not given.

The reasons a row is rejected for are in ``loaders/reasons.py`` (``mdr reasons
--registry population``).
"""

from __future__ import annotations

SNAPSHOT_FIELDS: tuple[str, ...] = (
    "national_id",        # 12 digits
    "family_name",        # họ (required)
    "middle_name",        # tên đệm (may be blank)
    "given_name",         # tên (required)
    "sex",                # male / female (required)
    "birth_date",         # required
    "birth_place_code",   # commune in force on birth_date (may be blank)
    "nationality",        # ISO 3166-1 alpha-2, blank means VN
    "ethnic_group",       # statistics office code 01-54 (may be blank)
    "death_date",         # blank while alive
    "address",            # permanent address line (required)
    "commune_code",       # permanent residence commune in force on residence_since (required)
    "residence_since",    # start of the permanent residence (required)
    "household_id",       # household number in the residence register (may be blank)
    "relation_to_head",   # head, spouse, child, parent, grandchild, sibling, other
    "father_id",
    "mother_id",
    "spouse_id",
)

REQUIRED_SNAPSHOT_FIELDS: tuple[str, ...] = (
    "national_id", "family_name", "given_name", "sex", "birth_date", "address",
    "commune_code", "residence_since",
)

EVENT_FIELDS: tuple[str, ...] = (
    "event_type",        # birth, death, marriage, divorce, residence-change, name-change
    "national_id",       # the person the event is about
    "event_date",
    "place_code",        # commune in force on event_date (may be blank)
    "source_document",   # e.g. the civil-status register entry (may be blank)
    # residence-change: the new permanent address
    "address",
    "commune_code",
    # name-change: the new name
    "family_name",
    "middle_name",
    "given_name",
    # marriage / divorce: the other person
    "spouse_id",
)

EVENT_TYPES: tuple[str, ...] = (
    "birth", "death", "marriage", "divorce", "residence-change", "name-change",
)



def split_full_name(full_name: str) -> dict[str, str]:
    """A full name's parts, in Vietnamese order: family name first, given name last,
    middle names between (for sources that give one name field)."""
    words = full_name.split()
    if not words:
        return {"family_name": "", "middle_name": "", "given_name": ""}
    if len(words) == 1:
        return {"family_name": "", "middle_name": "", "given_name": words[0]}
    return {"family_name": words[0], "middle_name": " ".join(words[1:-1]),
            "given_name": words[-1]}


def from_mapped(row: dict[str, str]) -> dict[str, str]:
    """A record a profile mapped, in the canonical layout: a single full name (when the
    parts are not given) split into family, middle and given name."""
    if "full_name" in row and not row.get("given_name"):
        row.update(split_full_name(row.pop("full_name")))
    return row
