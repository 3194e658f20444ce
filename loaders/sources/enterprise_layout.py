"""The canonical input layout of the enterprise registry (what `mdr load enterprise` reads
without a profile, and what `mdr fixtures generate enterprise` writes).

Two kinds of file, each as CSV (UTF-8, header row) or JSON Lines (the same keys):

* a **snapshot** (``enterprises.csv``): one row per enterprise or dependent unit, as
  the business register stands on the load's effective date; what differs from the
  registry changed on that date (a new enterprise's facts hold from its founding);
* a **change file** (``enterprise_changes.csv``): the same fields plus ``change_date``,
  one row per change, each row stating the enterprise as it stood from that day.

Field conventions:

* ``code``: the 10-digit enterprise code, or ``NNNNNNNNNN-NNN`` for a dependent unit
  (then ``unit_kind`` is branch, rep_office or location, and the fields of an
  enterprise's legal form, capital, lines and roles stay blank);
* dates ISO ``YYYY-MM-DD`` or ``DD/MM/YYYY``; ``status_since`` and ``address_since``
  say from when the status and the head office hold (default: the row's day);
* ``commune_code``: the commune in force on ``address_since``;
* ``main_line``: one industry code (ISIC Rev. 4 class, which VSIC follows);
  ``other_lines``: codes separated by ``;``;
* ``representatives``: ``national_id:title`` pairs separated by ``;`` (titles from
  ``ref.representative_title``);
* ``owners``: ``owner:share`` pairs separated by ``;``, the owner a 12-digit personal
  number or a 10-digit enterprise code, the share in percent;
* ``capital``: digits, with ``.`` or ``,`` as thousands separators accepted.

The reasons a row is rejected for are in ``loaders/reasons.py`` (``mdr reasons
--registry enterprise``).
"""

from __future__ import annotations

SNAPSHOT_FIELDS: tuple[str, ...] = (
    "code", "unit_kind", "name", "foreign_name", "abbreviation", "legal_form",
    "founding_date", "status", "status_since", "successor_code", "address", "commune_code",
    "address_since", "capital", "currency", "main_line", "other_lines", "representatives",
    "owners",
)
CHANGE_FIELDS: tuple[str, ...] = ("change_date", *SNAPSHOT_FIELDS)

REQUIRED_FIELDS: tuple[str, ...] = ("code", "name", "founding_date", "address", "commune_code")
REQUIRED_ENTERPRISE_FIELDS: tuple[str, ...] = ("legal_form", "main_line", "representatives")
LIST_SEPARATOR = ";"
PAIR_SEPARATOR = ":"
