"""SQL conditions on the periods of versioned rows, importable without the models (loads
build their statements with them; ``schemas.temporal`` re-exports them)."""

from __future__ import annotations


def current_on(alias: str, day: str) -> str:
    """SQL: the registry's current knowledge of a bitemporal row, valid on ``day``."""
    return (f"{alias}.superseded_at IS NULL AND {alias}.valid_from <= {day} "
            f"AND ({alias}.valid_to IS NULL OR {alias}.valid_to > {day})")


def in_force(alias: str, day: str) -> str:
    """SQL: a version with a validity period (NULL bounds open) in force on ``day``."""
    return (f"({alias}.valid_from IS NULL OR {alias}.valid_from <= {day}) "
            f"AND ({alias}.valid_to IS NULL OR {alias}.valid_to > {day})")
