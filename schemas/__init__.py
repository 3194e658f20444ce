"""SQLAlchemy models of every registry; importing this package completes the metadata."""

from schemas import audit, enterprise, etl, land, macro, population, reference
from schemas.base import SCHEMAS, Base

metadata = Base.metadata

__all__ = ["SCHEMAS", "Base", "audit", "enterprise", "etl", "land", "macro", "metadata",
           "population", "reference"]
