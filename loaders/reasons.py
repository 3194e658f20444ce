"""The reason catalogue: every reason a load gives a rejected or flagged row, named once.

Each reason has a stable slug (what ``etl.rejected_row.reason`` holds and stewards
filter on), a title, and one message template; a loader emits an issue through
its reason (``UNKNOWN_PERSON.issue(row=7, field="national_id", value=nid)``), so a
slug says the same thing wherever it is raised. ``mdr reasons`` prints the
catalogue. A ``RowIssue`` whose slug is not catalogued cannot be made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.constants import REORGANISATION_2025

POPULATION, REFERENCE, ENTERPRISE, LAND, MACRO = (
    "population", "ref", "enterprise", "land", "macro")


@dataclass(frozen=True)
class RowIssue:
    """One problem with one row (or record) of a source."""

    slug: str
    """Stable reason, e.g. ``unknown-admin-unit``; one of :data:`CATALOGUE`."""
    message: str
    """What is wrong and what to do about it."""
    row: int | None = None
    field: str | None = None
    value: str | None = None
    source: str | None = None
    rejected: bool = True
    """False when the row was loaded anyway and is only flagged."""

    def __post_init__(self) -> None:
        if self.slug not in CATALOGUE:
            raise ValueError(f"Reason {self.slug!r} is not in the catalogue; add it to "
                             "loaders/reasons.py with its title and message.")


@dataclass(frozen=True)
class Reason:
    """A kind of row problem: slug, title and message template (frictionless' error class)."""

    slug: str
    title: str
    template: str
    """``str.format`` template; ``{field}`` and ``{value}`` are the issue's own."""
    registries: tuple[str, ...]
    rejects: bool = True
    """True: the row is not loaded. False: it is loaded and flagged for a steward."""

    def message(self, **params: Any) -> str:
        """The message for one occurrence."""
        return self.template.format(**params)

    def issue(self, *, row: int | None = None, field: str | None = None,
              value: str | None = None, source: str | None = None,
              **params: Any) -> RowIssue:
        """One occurrence of this reason, its message made from the template."""
        return RowIssue(self.slug, self.message(field=field, value=value, **params), row, field,
                        value, source, self.rejects)

    def as_dict(self) -> dict[str, Any]:
        return {"slug": self.slug, "title": self.title, "template": self.template,
                "registries": list(self.registries),
                "disposition": "rejected" if self.rejects else "flagged"}


CATALOGUE: dict[str, Reason] = {}


def _reason(slug: str, title: str, template: str, *registries: str,
            rejects: bool = True) -> Reason:
    assert slug not in CATALOGUE, slug
    reason = CATALOGUE[slug] = Reason(slug, title, template, registries, rejects)
    return reason


def get(slug: str) -> Reason:
    """The reason with this slug (KeyError naming the catalogue when there is none)."""
    try:
        return CATALOGUE[slug]
    except KeyError:
        raise KeyError(f"Reason {slug!r} is not in loaders/reasons.py") from None


def for_registry(registry: str | None = None) -> list[Reason]:
    """The reasons a registry's loads can give (all when ``registry`` is None), by slug."""
    return sorted((r for r in CATALOGUE.values() if registry is None or registry in r.registries),
                  key=lambda r: r.slug)


_REORG = f"{REORGANISATION_2025:%Y-%m-%d}"

# -- any file --------------------------------------------------------------------------------

UNREADABLE_ROW = _reason(
    "unreadable-row", "The row cannot be parsed at all (broken CSV or JSON).",
    "{problem} The row was not loaded; correct it in the file and resubmit it.",
    POPULATION, ENTERPRISE, LAND, MACRO)
INVALID_TEXT = _reason(
    "invalid-text", "A field contains control characters (such as NUL).",
    "{field} contains control characters; remove them and resubmit the row.",
    POPULATION, ENTERPRISE, LAND, MACRO)
MISSING_REQUIRED_FIELD = _reason(
    "missing-required-field", "A required field is blank.",
    "{field} is required{context} and is blank; fill it in and resubmit the row.",
    POPULATION, ENTERPRISE, LAND)
INVALID_DATE = _reason(
    "invalid-date", "A date that does not exist or cannot be read (e.g. 2023-02-30), or that "
    "contradicts another date of the row.",
    "{field} {value!r} {problem}; correct the date and resubmit the row.",
    POPULATION, ENTERPRISE, LAND)
UNKNOWN_CODE = _reason(
    "unknown-code", "A coded field (ethnic group, nationality, relation, event type) is not in "
    "its code list.",
    "{what} {value!r} is not in its code list ({expected}).",
    POPULATION, ENTERPRISE, LAND)
UNKNOWN_ADMIN_UNIT = _reason(
    "unknown-admin-unit", "An administrative unit code that does not exist at all.",
    "No {level} has code {code}{period}; {outcome}.",
    POPULATION, REFERENCE, ENTERPRISE, LAND)
ADMIN_UNIT_NOT_IN_FORCE = _reason(
    "admin-unit-not-in-force", "The unit code exists but was not in force on the date given.",
    "Commune code {value} was not in force on {day}; give the code in force on that date.",
    POPULATION, ENTERPRISE, LAND)

# -- population ------------------------------------------------------------------------------

# The personal-number rules explain themselves (loaders/rules/identifiers.py).
INVALID_PERSONAL_NUMBER = _reason(
    "invalid-personal-number", "The personal number is not 12 digits.", "{rule}", POPULATION)
UNKNOWN_BIRTH_PROVINCE = _reason(
    "unknown-birth-province",
    "The first 3 digits are not a province where births are registered.", "{rule}", POPULATION)
SEX_DIGIT_MISMATCH = _reason(
    "sex-digit-mismatch", "Digit 4 does not agree with the sex and birth century.", "{rule}",
    POPULATION)
BIRTH_YEAR_MISMATCH = _reason(
    "birth-year-mismatch", "Digits 5-6 are not the last two digits of the birth year.", "{rule}",
    POPULATION)
INVALID_NAME = _reason(
    "invalid-name", "A name part holds characters no name holds (digits, punctuation other "
    "than a joining apostrophe or hyphen, symbols, invisible characters).",
    "{field} {value!r} cannot be a name: {problem}. Correct the name and resubmit the row.",
    POPULATION)
INVALID_SEX = _reason(
    "invalid-sex", "Sex is neither male nor female.",
    "Sex {value!r} is neither male nor female (Nam / Nữ are read as such).", POPULATION)
BIRTH_IN_FUTURE = _reason(
    "birth-in-future", "The birth date is after the load's effective date.",
    "Birth date {value} is after the load's effective date {effective_date}.", POPULATION)
BIRTH_AFTER_DEATH = _reason(
    "birth-after-death", "The death date is before the birth date.",
    "Death date {value} is before the birth date {birth_date}; one of the two dates is wrong.",
    POPULATION)
IMPLAUSIBLE_AGE = _reason(
    "implausible-age", "The person would be older than 125.",
    "A living person born {value} would be over {max_age}; check the birth date or record the "
    "death.", POPULATION)
AMBIGUOUS_COMMUNE_SUCCESSOR = _reason(
    "ambiguous-commune-successor", "A pre-2025 commune was split; its 2025 successor cannot be "
    "chosen without the address being checked.",
    "Commune {value} was divided on " + _REORG + " and the address does not say which new "
    "commune it is in; give the 2025 commune code and a residence date from " + _REORG + ".",
    POPULATION, ENTERPRISE)
DUPLICATE_NATIONAL_ID = _reason(
    "duplicate-national-id", "Two rows of the file carry the same personal number.",
    "Personal number {value} appears on several rows of the file; none of them was loaded. "
    "Keep the right row and resubmit.", POPULATION)
UNKNOWN_RELATED_PERSON = _reason(
    "unknown-related-person", "A father, mother or spouse id is neither in the file nor in the "
    "registry.",
    "{field} {value} is not a person this row can be linked to ({why}); load that person "
    "first, correct the number or leave the field blank.", POPULATION)
PARENT_YOUNGER_THAN_CHILD = _reason(
    "parent-younger-than-child", "A parent is born after, or less than 12 years before, the "
    "child.",
    "{field} {value} is not at least 12 years older than the person; one of the two birth "
    "dates or the link is wrong.", POPULATION)
UNKNOWN_PERSON = _reason(
    "unknown-person", "An event names a person who is not in the registry.",
    "Personal number {value} is not in the registry; load the person (snapshot) before their "
    "events.", POPULATION)

CONFLICTING_EVENTS = _reason(
    "conflicting-events", "Rows of one file give one person different events of one type on "
    "one day (two marriages, names, moves), two marriages or divorces on one day, or two "
    "death dates; none of them is loaded.",
    "The file gives {what} (on rows {rows}); none of them was loaded. Keep the right one and "
    "resubmit it.", POPULATION)
DUPLICATE_EVENT = _reason(
    "duplicate-event", "The row repeats an earlier row of the file; only the first copy counts.",
    "The row repeats row {first} of the file; only the first copy counts. Remove the others.",
    POPULATION)
ALREADY_MARRIED = _reason(
    "already-married", "A marriage to someone who is married to another person on that day, "
    "in the registry or by an earlier marriage of the file, with no divorce or death ending "
    "it first.",
    "On {day} {who} is still married to {partner} (no divorce or death ends that marriage "
    "first); load the divorce or death with this marriage, or correct the row.", POPULATION)

# -- land -----------------------------------------------------------------------------------

INVALID_PARCEL_GEOMETRY = _reason(
    "invalid-parcel-geometry", "A parcel's boundary is not a valid polygon (self-intersection, "
    "nested shells, a ring that does not close, ...), is empty, or is not a polygon at all.",
    "The boundary of parcel {value} is not valid: {why}. Correct it in the source, or load "
    "with --repair to have it repaired (ST_MakeValid) and flagged.", LAND)
REPAIRED_GEOMETRY = _reason(
    "repaired-geometry", "An invalid boundary was repaired on load (--repair); the parcel was "
    "loaded and is flagged.",
    "The boundary of parcel {value} was not valid ({why}) and was repaired on load; check the "
    "repaired boundary against the survey.", LAND, rejects=False)
PARCEL_OVERLAP = _reason(
    "parcel-overlap", "A parcel overlaps another current parcel by more than the tolerance "
    "(area and share of the smaller parcel).",
    "Parcel {value} overlaps parcel {other} by {area} m² ({share} of the smaller one), more "
    "than the tolerance; correct one of the boundaries, or record the split or merge that "
    "replaces the other parcel.", LAND)
OUTSIDE_COMMUNE = _reason(
    "outside-commune", "Most of a parcel lies outside the commune it is declared in (the "
    "tolerance allows for the simplified commune boundaries).",
    "Parcel {value} lies {share} outside commune {commune}; check the commune code or the "
    "boundary's coordinates (and their CRS).", LAND)
AREA_MISMATCH = _reason(
    "area-mismatch", "The declared area differs from the area of the boundary (geodesic) by "
    "more than the tolerance; the parcel was loaded and is flagged.",
    "Parcel {value} declares {declared} m² but its boundary measures {measured} m²; check the "
    "certificate or the survey.", LAND, rejects=False)
DUPLICATE_PARCEL = _reason(
    "duplicate-parcel", "Two rows of the file give the same parcel (commune, map sheet, "
    "number), or the same right reference.",
    "{value} appears on several rows of the file; none of them was loaded. Keep the right row "
    "and resubmit.", LAND)
UNKNOWN_PARCEL = _reason(
    "unknown-parcel", "A right, restriction or lineage names a parcel that is neither in the "
    "file nor in the registry on that date.",
    "Parcel {value} is not in the registry on {day}; load the parcel first or correct its "
    "commune, map sheet and number.", LAND)
UNKNOWN_HOLDER = _reason(
    "unknown-holder", "A holder is unknown in the registry that keeps it (a person in the "
    "population registry, an enterprise in the enterprise registry).",
    "{field} {value} is not {what}; load the holder into its registry first or correct the "
    "identifier.", LAND)
HOLDER_NOT_ACTIVE = _reason(
    "holder-not-active", "An enterprise holder was not active on the day the right began "
    "(not yet founded, or ended).",
    "{field} {value} {state} on {day}, the day the right begins; correct the holder or the "
    "date.", LAND)
INVALID_SHARE = _reason(
    "invalid-share", "A share is not a fraction above 0 and at most 1, or a group's members' "
    "shares do not add up to 1.",
    "{field} {value!r} {problem}; give shares as fractions (0.5) or percentages (50%).", LAND)
MORTGAGE_WITHOUT_RIGHT = _reason(
    "mortgage-without-right", "A mortgage burdens no current land-use right or asset "
    "ownership of the same parcel.",
    "Mortgage {value} burdens right {right}, which is not a current right on the same parcel "
    "on {day}; load the right first or correct the reference.", LAND)

# -- enterprise (the identifier rules exist before the registry) -------------------------------

INVALID_ENTERPRISE_CODE = _reason(
    "invalid-enterprise-code", "The enterprise code is not 10 digits (13 with a branch) or "
    "has impossible parts.", "{rule}", ENTERPRISE)
INVALID_CHECK_DIGIT = _reason(
    "invalid-check-digit", "The enterprise code's check digit does not hold.", "{rule}",
    ENTERPRISE)
INVALID_LIST = _reason(
    "invalid-list", "A list field (lines, representatives, owners) or an amount cannot be read.",
    "{field} {value!r}: {problem}; write it as the layout says and resubmit the row.",
    ENTERPRISE)
TWO_MAIN_LINES = _reason(
    "two-main-lines", "The row gives more than one main business line.",
    "main_line {value!r} names several lines; an enterprise has exactly one main line. Keep "
    "one and move the others to other_lines.", ENTERPRISE)
SHARES_OVER_100 = _reason(
    "shares-over-100", "The owners' shares add up to more than 100%.",
    "The shares of the owners add up to {value}%, more than 100%; correct the shares.",
    ENTERPRISE)
UNKNOWN_INDUSTRY_CODE = _reason(
    "unknown-industry-code", "A business line's industry code is not in the classification.",
    "Industry code {value!r} is not a code of the classification (ISIC Rev. 4 classes, which "
    "VSIC follows); correct the code.", ENTERPRISE)
DUPLICATE_ENTERPRISE_CODE = _reason(
    "duplicate-enterprise-code", "Two rows of a snapshot carry the same code.",
    "Code {value} appears on several rows of the file; none of them was loaded. Keep the "
    "right row and resubmit.", ENTERPRISE)
UNKNOWN_ENTERPRISE = _reason(
    "unknown-enterprise", "A change names an enterprise that is not in the registry.",
    "Enterprise {value} is not in the registry; load it (snapshot) before its changes.",
    ENTERPRISE)
UNKNOWN_PARENT_ENTERPRISE = _reason(
    "unknown-parent-enterprise", "A dependent unit's parent is neither in the file nor in "
    "the registry.",
    "The parent {parent} of unit {value} is neither in this file nor in the registry; load "
    "the enterprise first or correct the code.", ENTERPRISE)
UNKNOWN_REPRESENTATIVE = _reason(
    "unknown-representative", "A legal representative is not a person of the population "
    "registry.",
    "Legal representative {value} is not in the population registry; correct the number or "
    "load the person first.", ENTERPRISE)
REPRESENTATIVE_DECEASED = _reason(
    "representative-deceased", "A legal representative had died by the date the role holds "
    "from.",
    "Legal representative {value} died on {death_date}, before the role's date {day}; name "
    "the representative who holds the role.", ENTERPRISE)
REPRESENTATIVE_MINOR = _reason(
    "representative-minor", "A legal representative was under 18 on the date the role holds "
    "from.",
    "Legal representative {value}, born {birth_date}, was under 18 on {day}; a "
    "representative must be an adult.", ENTERPRISE)
UNKNOWN_OWNER = _reason(
    "unknown-owner", "An owner is neither a person of the population registry nor an "
    "enterprise of the file or the registry.",
    "Owner {value} is {why}; correct the number or load the owner first.", ENTERPRISE)
OWNER_DECEASED = _reason(
    "owner-deceased", "A person owner had died by the date the ownership holds from.",
    "Owner {value} died on {death_date}, before {day}; record the heirs as owners.",
    ENTERPRISE)
OWNER_NOT_ACTIVE = _reason(
    "owner-not-active", "An enterprise owner is not active on the date the ownership holds "
    "from.",
    "Owner {value} is {status} on {day}; an enterprise that has ended owns nothing.",
    ENTERPRISE)
UNKNOWN_SUCCESSOR = _reason(
    "unknown-successor", "A merged enterprise names a successor that is neither in the file "
    "nor in the registry.",
    "Successor {value} is neither in this file nor in the registry; load it first or correct "
    "the code.", ENTERPRISE)
OWNERSHIP_CYCLE = _reason(
    "ownership-cycle", "Enterprises would own each other in a circle.",
    "Enterprise {value} would own itself through {path}; correct the owners.", ENTERPRISE)
CONFLICTING_PERIOD = _reason(
    "conflicting-period", "A change dates a new head office or status from before the day "
    "an earlier row of the file for the same enterprise speaks from.",
    "Enterprise {value}: the {fact} given from {since} differs from what the row of {earlier} "
    "says for that day; date it on or after {earlier} or correct the earlier row.",
    ENTERPRISE)
BACK_DATED_CHANGE = _reason(
    "back-dated-change", "A change file dates a head office or status from before the day "
    "the one the registry records began: it would rewrite the registry's history.",
    "Enterprise {value}: the {fact} given from {since} is dated before {earlier}, when the "
    "one the registry records began; a change file does not rewrite history: date it on or "
    "after {earlier}, or correct the history with a snapshot row.",
    ENTERPRISE)
CHANGE_AFTER_DISSOLUTION = _reason(
    "change-after-dissolution", "A change dated after the enterprise ended (dissolved, "
    "bankrupt, merged, split).",
    "Enterprise {value} ended ({status}) on {ended}; nothing about it changes on {day}. "
    "Correct the date or the code.", ENTERPRISE)

# -- reference data --------------------------------------------------------------------------

UNKNOWN_UNIT_TYPE = _reason(
    "unknown-unit-type", "A unit's type is not one of mdr's unit types.",
    "Unit type {value!r} of {level} {code} is not known to mdr; add it to "
    "code_lists/admin_unit_type.csv and to the reader's type map. The unit was not loaded.",
    REFERENCE)
UNKNOWN_PARENT_UNIT = _reason(
    "unknown-parent-unit", "A unit names a parent that is not in the same list.",
    "{level} {code} ({name}) names parent {value}, which is not in the same list; it was "
    "loaded without a parent.", REFERENCE, rejects=False)
MISSING_GEOMETRY = _reason(
    "missing-geometry", "A 2025 unit has no boundary.",
    "No boundary for {level} {code} ({name}); it cannot be located by point.",
    REFERENCE, rejects=False)
INVALID_GEOMETRY = _reason(
    "invalid-geometry", "A boundary is not a valid polygon.",
    "The boundary of {level} {code} is not valid ({why}); it is kept as published, but point "
    "look-ups near it may be wrong.", REFERENCE, rejects=False)
DIFFERS_FROM_OFFICIAL_LIST = _reason(
    "differs-from-official-list", "The 2025 province list and the official list of 34 "
    "disagree.",
    "Province {code} {problem}; check the unit list against the official list of 34.",
    REFERENCE, rejects=False)
CROSSWALK_CONFLICT = _reason(
    "crosswalk-conflict", "The merge list says whole or partial against what the successors "
    "imply.",
    "The merge list says {value} is {stated}, but {old_code} has {successors} successor(s); "
    "loaded with whole_unit unknown.", REFERENCE, rejects=False)
CROSSWALK_ONE_SIDED = _reason(
    "crosswalk-one-sided", "Only one of the merge and split lists states a pair.",
    "Only the {only} list states {level} {value}; loaded, but check it against the official "
    "text.", REFERENCE, rejects=False)
CROSSWALK_NAME_MISMATCH = _reason(
    "crosswalk-name-mismatch", "The crosswalk names a unit otherwise than the unit list.",
    "The crosswalk calls {what} {value!r}, the unit list {listed!r}.", REFERENCE, rejects=False)
CROSSWALK_TYPE_MISMATCH = _reason(
    "crosswalk-type-mismatch", "The crosswalk gives a unit another type word than the unit "
    "list.",
    "The crosswalk calls {what} {value!r}, the unit list {listed!r}: the same name with another "
    "unit type; the unit list's type was loaded.", REFERENCE, rejects=False)
UNMAPPED_UNIT = _reason(
    "unmapped-unit", "A unit has no successor (or predecessor) in the 2025 crosswalk.",
    "{name} ({level} {code}, {period}) has no {counterpart} in the crosswalk; {consequence}.",
    REFERENCE, rejects=False)

# -- macro-economy ---------------------------------------------------------------------------

UNKNOWN_DATAFLOW = _reason(
    "unknown-dataflow", "The data names a dataflow or structure the registry does not hold.",
    "{value} is neither a dataflow nor a data structure of the registry; load its structure "
    "message first (mdr load macro STRUCTURE.xml), then resubmit the data.", MACRO)
INVALID_SERIES_KEY = _reason(
    "invalid-series-key", "A series key lacks a dimension of its data structure or has one "
    "the structure does not know.",
    "The key {value} does not fit structure {structure} ({problem}); its dimensions are "
    "{expected}.", MACRO)
UNKNOWN_DIMENSION_CODE = _reason(
    "unknown-dimension-code", "A dimension or attribute value is not in its code list.",
    "{field} {value!r} is not a code of {codelist}; correct the code or load the code list "
    "that has it.", MACRO)
PERIOD_NOT_OF_FREQUENCY = _reason(
    "period-not-of-frequency", "The time period is not a period of the series' frequency "
    "(or no SDMX period at all).",
    "Period {value!r} is not {expected}; write it as SDMX does (2024, 2024-S1, 2024-Q1, "
    "2024-03, 2024-W09, 2024-03-01).", MACRO)
NON_NUMERIC_VALUE = _reason(
    "non-numeric-value", "The observation value is not a number.",
    "Value {value!r} is not a number; give the value with a dot as decimal separator, or "
    "leave it blank (missing) with status M.", MACRO)
DUPLICATE_OBSERVATION = _reason(
    "duplicate-observation", "Rows of one release give one series' period more than once.",
    "Series {value} has period {period} on several rows of release {release} (rows {rows}); "
    "none of them was loaded. Keep the right one and resubmit.", MACRO)
MISSING_RELEASE_DATE = _reason(
    "missing-release-date", "A row gives no release date (or an unreadable one) for its "
    "vintage.",
    "{field} {value!r} is no release date; every vintage needs the day it was published "
    "(YYYY-MM-DD or a timestamp).", MACRO)
UNSUPPORTED_ACTION = _reason(
    "unsupported-action", "An SDMX-CSV row asks for an action other than adding or "
    "replacing values.",
    "Action {value!r} is not applied: releases are kept, never deleted; publish the "
    "correction as a new release instead.", MACRO)
