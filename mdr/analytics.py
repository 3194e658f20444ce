"""The analytics schema's refresh, and the pseudonym key it is made with.

The key never enters the database: it is read from ``MDR_PSEUDONYM_KEY_FILE`` (made on
first use under ``var/secrets``), set for the refresh transaction only, and the
database keeps just a fingerprint, to refuse a refresh with another key.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from sqlalchemy import Engine, text

from mdr.settings import Settings


def pseudonym_key(settings: Settings) -> str:
    """The key of the pseudonyms: read from its file, which is made on first use."""
    path = settings.pseudonym_key_path
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Created readable by its owner only, before anything is written into it.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip()


REFRESH_AFTER_SHARE = 0.01
"""A load refreshes its registry's analytics views at once when it wrote at least this
share of the registry's rows. A refresh recomputes the views from the whole registry, so
after a small delta into a large registry it would cost what the registry holds, not what
the delta changed (two and a half minutes for 1,000 events against 1,000,000 persons,
hours at the national scale). Such loads leave the refresh to ``mdr analytics refresh``,
run on a schedule: the views show the registry on their refresh day anyway."""


def worth_refreshing(engine: Engine, registry: str, written: int) -> bool:
    """Whether a load that wrote ``written`` rows into ``registry`` refreshes its views now
    (the registry's size is the planner's estimate: no table is counted)."""
    with engine.connect() as conn:
        held = conn.execute(text("""
            SELECT coalesce(sum(greatest(reltuples, 0)), 0) FROM pg_class
            WHERE relnamespace = to_regnamespace(:registry) AND relkind IN ('r', 'p')"""),
                            {"registry": registry}).scalar_one()
    return written >= REFRESH_AFTER_SHARE * float(held)


def refresh(engine: Engine, settings: Settings,
            registry: str | None = None) -> list[dict[str, Any]]:
    """Refresh the materialized views of ``analytics`` that read ``registry``'s schema, or
    every one (concurrently: readers are not blocked), as ``engine``'s role, which must be
    the loader's or the owner's; the views and the seconds each took."""
    with engine.begin() as conn:
        # A refresh reads whole registries: after a national first load it takes minutes,
        # past the statement timeout meant for interactive commands.
        conn.execute(text("SET LOCAL statement_timeout = 0"))
        # The views' queries look dear to the planner (geodesic areas, pseudonyms), which
        # then JIT-compiles them: at 100,000 parcels compiling took 1.5 s of the land
        # views' 1.6 s refresh, whose work is a few hundred milliseconds.
        conn.execute(text("SET LOCAL jit = off"))
        conn.execute(text("SELECT set_config('mdr.pseudonym_key', :key, true)"),
                     {"key": pseudonym_key(settings)})
        rows = conn.execute(text("SELECT view_name, seconds "
                                 "FROM etl.refresh_analytics(CAST(:registry AS text))"),
                            {"registry": registry})
        return [{"view": view, "seconds": round(seconds, 3)} for view, seconds in rows]
