"""Enterprise records as a business-registration office sends them (snapshot and change rows)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine

from loaders.base import Options
from loaders.enterprise import load_enterprise
from loaders.rules.identifiers import enterprise_check_digit
from loaders.sources.enterprise_layout import CHANGE_FIELDS, SNAPSHOT_FIELDS
from tests.factories import Seed, write_csv
from tests.factories.population import HANOI_WARD, TRUC_BACH


def code(first_nine: str) -> str:
    """The enterprise code with these nine digits and its check digit."""
    digit = enterprise_check_digit(first_nine)
    assert digit is not None, f"no valid code starts with {first_nine}"
    return f"{first_nine}{digit}"


ACME = code("010000001")
HOLDING = code("010000002")
SHOP = code("010000004")


def enterprise(enterprise_code: str, **fields: str) -> dict[str, str]:
    """A snapshot row of a limited company in Hà Nội run by 001080000001 of the population
    family; ``fields`` override any column."""
    row = {name: "" for name in SNAPSHOT_FIELDS}
    row.update(code=enterprise_code, name="Công ty TNHH Thương mại An Phú", legal_form="TNHH1",
               founding_date="2015-03-02", status="active", address="5 Phố Tràng Tiền",
               commune_code=TRUC_BACH, address_since="2015-03-02", capital="2.000.000.000",
               currency="VND", main_line="4610", other_lines="4620",
               representatives="001080000001:director", owners="001080000001:100")
    row.update(fields)
    return row


def change(change_date: str, enterprise_code: str, **fields: str) -> dict[str, str]:
    """A change row: the enterprise as it stands from ``change_date``."""
    return {**{f: "" for f in CHANGE_FIELDS}, **enterprise(enterprise_code, **fields),
            "change_date": change_date}


def branch(unit_code: str, **fields: str) -> dict[str, str]:
    row = {name: "" for name in SNAPSHOT_FIELDS}
    row.update(code=unit_code, unit_kind="branch", name="Chi nhánh An Phú Hoàn Kiếm",
               founding_date="2026-01-05", status="active", address="8 Phố Huế",
               commune_code=HANOI_WARD)
    row.update(fields)
    return row


COMPANIES = [
    enterprise(HOLDING, name="Công ty Cổ phần Đầu tư An Phú", legal_form="CP",
               representatives="001182000002:general_director",
               owners="001080000001:60;001182000002:40"),
    enterprise(ACME, owners=f"{HOLDING}:100"),
    branch(f"{ACME}-001"),
]
"""A holding owned by the couple of the population family, the company it owns (run by
the husband), and that company's branch."""


def _load_companies(loader: Engine, folder: Path) -> None:
    load_enterprise(loader, write_csv(folder / "enterprises.csv", SNAPSHOT_FIELDS, COMPANIES),
                    Options(dt.date(2026, 1, 10)))


ENTERPRISE_COMPANIES: Seed = _load_companies
"""The enterprise sample: ``COMPANIES`` loaded as of 2026-01-10 (needs the population
sample, ``POPULATION_FAMILY``, first)."""


# The API's sample: two companies with a history, loaded as a snapshot and a change file.
HOA_SEN = code("010123456")
SEN_VANG = code("010765432")
UNREGISTERED = code("010555666")  # a valid check digit, no such enterprise
AN, HOA, KHOI = "001080000001", "001182000002", "001210000003"
HOA_SEN_OLD_NAME = "Công ty TNHH Hoa Sen"
HOA_SEN_NAME = "Công ty Cổ phần Hoa Sen"
HOA_SEN_FOREIGN = "Hoa Sen Joint Stock Company"
QUAN_THANH = "00013"  # before 2025-07-01: Phường Quán Thánh, went whole into Phường Ba Đình
BA_DINH = "00004"     # since 2025-07-01: Phường Ba Đình

_HOA_SEN = enterprise(HOA_SEN, name=HOA_SEN_OLD_NAME, legal_form="TNHH2",
                      founding_date="2010-01-01", address="5 Phố Quán Thánh",
                      commune_code=QUAN_THANH,
                      address_since="2010-01-01", capital="5.000.000.000", main_line="4711",
                      other_lines="5610", representatives=f"{AN}:director",
                      owners=f"{AN}:60;{HOA}:40")
_SEN_VANG = enterprise(SEN_VANG, name="Công ty TNHH Sen Vàng", founding_date="2015-03-01",
                       address="12 Phố Hàng Bông", address_since="2015-03-01",
                       capital="1.000.000.000", main_line="5610", other_lines="",
                       representatives=f"{AN}:director", owners=f"{HOA_SEN}:100")
# Each change row states the enterprise as it stands from its day; the head office did
# not move, so its rows leave address_since to default to that day.
HISTORY = [
    {**_HOA_SEN, "representatives": f"{HOA}:general_director", "change_date": "2023-06-01",
     "address_since": ""},
    {**_HOA_SEN, "representatives": f"{HOA}:general_director", "name": HOA_SEN_NAME,
     "foreign_name": HOA_SEN_FOREIGN, "abbreviation": "HSC", "legal_form": "CP",
     "change_date": "2024-01-01", "address_since": ""},
    {**_SEN_VANG, "status": "dissolved", "status_since": "2025-01-01",
     "change_date": "2025-01-01", "address_since": ""},
]
"""Hoa Sen: founded 2010-01-01 as a multi-member LLC with its head office in Phường Quán
Thánh (which went whole into Phường Ba Đình on 2025-07-01), represented by An until
2023-06-01 and by Hoa since, renamed and a joint-stock company since 2024-01-01, owned
60/40 by An and Hoa. Sen Vàng: founded 2015-03-01, owned by Hoa Sen, represented by An,
dissolved on 2025-01-01."""


def _load_sample(loader: Engine, folder: Path) -> None:
    load_enterprise(loader, write_csv(folder / "sample.csv", SNAPSHOT_FIELDS,
                                      [_HOA_SEN, _SEN_VANG]), Options(dt.date(2020, 1, 1)))
    load_enterprise(loader, write_csv(folder / "sample_changes.csv", CHANGE_FIELDS, HISTORY),
                    Options(dt.date(2026, 1, 1)))
    hoan_kiem = branch(f"{HOA_SEN}-001", name="Chi nhánh Hoàn Kiếm", address="3 Phố Huế",
                       founding_date="2025-07-01")
    load_enterprise(loader, write_csv(folder / "sample_branch.csv", SNAPSHOT_FIELDS,
                                      [hoan_kiem]), Options(dt.date(2026, 1, 10)))


ENTERPRISE_SAMPLE: Seed = _load_sample
"""The API's enterprise sample, ``HOA_SEN`` and ``SEN_VANG`` with ``HISTORY`` and a branch
(needs ``POPULATION_FAMILY`` first)."""
