"""The database errors a user can act on, said in a sentence with the command that helps.

Commands catch SQLAlchemy's errors at the front door and ask ``explain`` for a message;
anything it does not recognise is a fault of mdr and keeps its traceback.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError


def explain(exc: DBAPIError, url: str | None) -> str | None:
    """What went wrong and what to do, or None when the error is not a user's to fix."""
    detail = str(exc.orig).strip()
    where = make_url(url).render_as_string(hide_password=True) if url else "the database"
    if exc.connection_invalidated or "connection failed" in detail \
            or "could not connect" in detail or "Connection refused" in detail:
        first = detail.splitlines()[0] if detail else type(exc.orig).__name__
        return (f"mdr cannot reach {where} ({first}). Start the database — `mdr db up` for "
                "the embedded one — or set MDR_DATABASE_URL to one that runs.")
    if 'extension "postgis' in detail and ("not available" in detail
                                           or "could not open" in detail):
        return ("PostGIS is not installed for the PostgreSQL server that holds the database. "
                "Install it there (on Debian: `apt-get install postgresql-<major>-postgis-3`, "
                "which `make install` runs for the local server), then `mdr db migrate`.")
    return None
