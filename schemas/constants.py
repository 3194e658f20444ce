"""Values of the schemas that loads and commands need, importable without the models.

A load imports this instead of the models' modules, which bring SQLAlchemy's ORM and
GeoAlchemy (most of a second of a command's start); the models re-export them.
"""

from __future__ import annotations

import datetime as dt

REORGANISATION_2025 = dt.date(2025, 7, 1)
"""The day the 2025 reorganisation took effect: the three-tier units end, the two-tier
units begin, and the crosswalk (``admin_unit_change``) maps the one onto the other."""

RRR_TYPES = {
    # code: (LADM class, Vietnamese name, English name)
    "land-use-right": ("right", "Quyền sử dụng đất", "Land-use right"),
    "asset-ownership": ("right", "Quyền sở hữu tài sản gắn liền với đất",
                        "Ownership of assets attached to the land"),
    "mortgage": ("restriction", "Thế chấp", "Mortgage"),
    "easement": ("restriction", "Quyền đối với thửa đất liền kề", "Easement"),
    "planning-restriction": ("restriction", "Hạn chế theo quy hoạch", "Planning restriction"),
}
