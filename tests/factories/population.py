"""Population records as a province sends them (snapshot and event rows), and the API's sample."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine

from loaders.base import Options
from loaders.population import load_population
from loaders.sources.population_layout import EVENT_FIELDS, SNAPSHOT_FIELDS
from tests.factories import Seed, write_csv

HANOI_WARD = "00070"        # Phường Hoàn Kiếm since 2025-07-01
TRUC_BACH = "00004"         # before 2025-07-01: Phường Trúc Bạch, went whole into Ba Đình
CONG_VI = "00007"           # before 2025-07-01: Phường Cống Vị, split between two wards


def person(national_id: str, **fields: str) -> dict[str, str]:
    """A snapshot row of a man living in Hà Nội; ``fields`` override any column."""
    row = {name: "" for name in SNAPSHOT_FIELDS}
    row.update(national_id=national_id, family_name="Nguyễn", middle_name="Văn",
               given_name="An", sex="male", birth_date="1980-05-01", nationality="VN",
               ethnic_group="01", address="12 Phố Hàng Bông", commune_code=HANOI_WARD,
               residence_since="2026-01-01", household_id="HH-1", relation_to_head="head")
    row.update(fields)
    return row


def event(event_type: str, national_id: str, event_date: str, **fields: str) -> dict[str, str]:
    """An event row; ``fields`` fill the columns the event type needs."""
    row = {f: "" for f in EVENT_FIELDS}
    row.update(event_type=event_type, national_id=national_id, event_date=event_date, **fields)
    return row


FAMILY = [
    person("001080000001", spouse_id="001182000002"),
    person("001182000002", family_name="Trần", middle_name="Thị", given_name="Hoa",
           sex="female", birth_date="09/07/1982", relation_to_head="spouse",
           spouse_id="001080000001"),
    person("001210000003", middle_name="Minh", given_name="Khôi", birth_date="2010-03-15",
           relation_to_head="child", father_id="001080000001", mother_id="001182000002"),
    person("001080000004", given_name="Bình", commune_code=TRUC_BACH,
           residence_since="2010-01-01", household_id="HH-2"),
]
"""A couple and their son in one household; a man in another, in a pre-2025 ward."""


def _load_family(loader: Engine, folder: Path) -> None:
    load_population(loader, write_csv(folder / "p.csv", SNAPSHOT_FIELDS, FAMILY),
                    Options(dt.date(2026, 1, 1)))
    death = event("death", "001080000004", "2026-03-01")
    load_population(loader, write_csv(folder / "e.csv", EVENT_FIELDS, [death]),
                    Options(dt.date(2026, 6, 1)))


POPULATION_FAMILY: Seed = _load_family
"""The population sample: ``FAMILY`` loaded as of 2026-01-01, then the death of
001080000004 on 2026-03-01."""


def load_snapshot(url: str, folder: Path, name: str, rows: list[dict[str, str]]) -> None:
    """Loads ``rows`` as a snapshot file (as of 2026-01-01) into the database at ``url``, as
    the loader, and checks that the load committed."""
    from mdr import db
    from mdr.settings import Settings

    loader = db.make_engine(url, Settings.from_env({}), role=db.Role.LOADER, pool_size=1)
    try:
        result = load_population(loader, write_csv(folder / name, SNAPSHOT_FIELDS, rows),
                                 Options(dt.date(2026, 1, 1)))
    finally:
        loader.dispose()
    assert result.status == "committed", result.message
