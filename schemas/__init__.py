"""SQLAlchemy models of every registry; importing this package completes the metadata."""

from schemas import audit, etl, macro, population, reference
from schemas.base import SCHEMAS, Base

metadata = Base.metadata

__all__ = ["SCHEMAS", "Base", "audit", "etl", "macro", "metadata", "population", "reference"]
