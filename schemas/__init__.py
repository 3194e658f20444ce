"""SQLAlchemy models of every registry.

The models are imported when first asked for: ``schemas.metadata`` (the complete
metadata, as migrations compare it) imports every module, ``schemas.land`` its own.
A load or command that needs only the plain values (``schemas.constants``,
``schemas.periods``) starts without the ORM and GeoAlchemy.
"""

from __future__ import annotations

import importlib
from typing import Any

MODULES = ("audit", "enterprise", "etl", "land", "macro", "population", "reference")

__all__ = ["SCHEMAS", "Base", "metadata", *MODULES]


def __getattr__(name: str) -> Any:
    if name in MODULES:
        return importlib.import_module(f"schemas.{name}")
    if name in ("SCHEMAS", "Base", "metadata"):
        for module in MODULES:
            importlib.import_module(f"schemas.{module}")
        from schemas.base import SCHEMAS, Base

        return {"SCHEMAS": SCHEMAS, "Base": Base, "metadata": Base.metadata}[name]
    raise AttributeError(f"module 'schemas' has no attribute {name!r}")
