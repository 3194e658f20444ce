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
  stores NFC.
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

# Reason slugs the loader gives rejected rows; the generator labels its defects with them.
REASONS: dict[str, str] = {
    "missing-required-field": "A required field is blank.",
    "invalid-date": "A date that does not exist or cannot be read (e.g. 2023-02-30).",
    "invalid-personal-number": "The personal number is not 12 digits.",
    "unknown-birth-province": "The first 3 digits are not a province where births are registered.",
    "sex-digit-mismatch": "Digit 4 does not agree with the sex and birth century.",
    "birth-year-mismatch": "Digits 5-6 are not the last two digits of the birth year.",
    "invalid-sex": "Sex is neither male nor female.",
    "birth-in-future": "The birth date is after the load's effective date.",
    "birth-after-death": "The death date is before the birth date.",
    "implausible-age": "The person would be older than 125.",
    "unknown-admin-unit": "The commune code does not exist at all.",
    "admin-unit-not-in-force": "The commune code exists but was not in force on the date given.",
    "ambiguous-commune-successor": "A pre-2025 commune was split; its 2025 successor cannot be "
                                   "chosen without the address being checked.",
    "duplicate-national-id": "Two rows of the file carry the same personal number.",
    "unknown-code": "A coded field (ethnic group, nationality, relation) is not in its list.",
    "unknown-related-person": "A father, mother or spouse id is neither in the file nor in "
                              "the registry.",
    "parent-younger-than-child": "A parent is born after, or less than 12 years before, the child.",
    "unknown-person": "An event names a person who is not in the registry.",
    "invalid-text": "A field contains control characters (such as NUL).",
    "unreadable-row": "The row cannot be parsed at all (broken CSV or JSON).",
    "conflicting-events": "Rows of one file give one person different events of one type on "
                          "one day (two marriages, names, moves), two marriages or divorces "
                          "on one day, or two death dates; none of them is loaded.",
    "duplicate-event": "The row repeats an earlier row of the file; only the first copy "
                       "counts.",
    "already-married": "A marriage to someone who is married to another person on that day, "
                       "in the registry or by an earlier marriage of the file, with no divorce "
                       "or death ending it first.",
}
