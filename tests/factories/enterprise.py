"""The API's enterprise sample: two companies around the sample family (tests.factories.
population), written straight into the registry's tables as the loader role.

Hoa Sen (``HOA_SEN``) was founded on 2010-01-01 as a multi-member LLC with its head office
in Phường Trúc Bạch (a pre-2025 ward that went whole into Phường Ba Đình), changed its name
and became a joint-stock company on 2024-01-01; An represented it until 2023-06-01, Hoa
since; An and Hoa own it 60/40; it has a branch in Phường Hoàn Kiếm since 2025-07-01. Hoa
Sen owns all of Sen Vàng (``SEN_VANG``), founded 2015-03-01, which An represents and which
was dissolved on 2025-01-01.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, text

from loaders.rules.text import name_key
from tests.factories import Seed

HOA_SEN = "0101234565"
SEN_VANG = "0107654326"
UNREGISTERED = "0105556669"  # a valid check digit, no such enterprise
AN, HOA, KHOI = "001080000001", "001182000002", "001210000003"
HOA_SEN_OLD_NAME = "Công ty TNHH Hoa Sen"
HOA_SEN_NAME = "Công ty Cổ phần Hoa Sen"
HOA_SEN_FOREIGN = "Hoa Sen Joint Stock Company"
TRUC_BACH, HANOI_WARD = "00004", "00070"

_UNIT = "(SELECT id FROM ref.admin_unit WHERE code = :unit AND level = 'commune' " \
        "AND (valid_from IS NULL OR valid_from <= :since) " \
        "AND (valid_to IS NULL OR valid_to > :since))"

_ROWS: list[tuple[str, list[dict[str, object]]]] = [
    ("INSERT INTO enterprise.enterprise (code, founding_date) VALUES (:code, :since)", [
        {"code": HOA_SEN, "since": "2010-01-01"}, {"code": SEN_VANG, "since": "2015-03-01"}]),
    ("INSERT INTO enterprise.enterprise_name (enterprise_code, name, foreign_name, "
     "abbreviation, name_key, valid_from, valid_to) VALUES (:code, :name, :foreign, :abbr, "
     ":key, :since, :until)", [  # :key is filled in from :name (name_key)
         {"code": HOA_SEN, "name": HOA_SEN_OLD_NAME, "foreign": None, "abbr": None,
          "since": "2010-01-01", "until": "2024-01-01"},
         {"code": HOA_SEN, "name": HOA_SEN_NAME, "foreign": HOA_SEN_FOREIGN, "abbr": "HSC",
          "since": "2024-01-01", "until": None},
         {"code": SEN_VANG, "name": "Công ty TNHH Sen Vàng", "foreign": None, "abbr": None,
          "since": "2015-03-01", "until": None}]),
    ("INSERT INTO enterprise.enterprise_form (enterprise_code, legal_form, valid_from, "
     "valid_to) VALUES (:code, :form, :since, :until)", [
         {"code": HOA_SEN, "form": "TNHH2", "since": "2010-01-01", "until": "2024-01-01"},
         {"code": HOA_SEN, "form": "CP", "since": "2024-01-01", "until": None},
         {"code": SEN_VANG, "form": "TNHH1", "since": "2015-03-01", "until": None}]),
    ("INSERT INTO enterprise.enterprise_status (enterprise_code, status, valid_from, "
     "valid_to) VALUES (:code, :status, :since, :until)", [
         {"code": HOA_SEN, "status": "active", "since": "2010-01-01", "until": None},
         {"code": SEN_VANG, "status": "active", "since": "2015-03-01", "until": "2025-01-01"},
         {"code": SEN_VANG, "status": "dissolved", "since": "2025-01-01", "until": None}]),
    (f"INSERT INTO enterprise.head_office (enterprise_code, address_line, unit_id, "
     f"valid_from) VALUES (:code, :address, {_UNIT}, CAST(:since AS date))", [
         {"code": HOA_SEN, "address": "5 Phố Trúc Bạch", "unit": TRUC_BACH,
          "since": "2010-01-01"},
         {"code": SEN_VANG, "address": "12 Phố Hàng Bông", "unit": TRUC_BACH,
          "since": "2015-03-01"}]),
    ("INSERT INTO enterprise.charter_capital (enterprise_code, amount, currency, valid_from) "
     "VALUES (:code, :amount, 'VND', :since)", [
         {"code": HOA_SEN, "amount": 5_000_000_000, "since": "2010-01-01"},
         {"code": SEN_VANG, "amount": 1_000_000_000, "since": "2015-03-01"}]),
    ("INSERT INTO enterprise.business_line (enterprise_code, industry_code, is_main, "
     "valid_from) VALUES (:code, :industry, :main, :since)", [
         {"code": HOA_SEN, "industry": "4711", "main": True, "since": "2010-01-01"},
         {"code": HOA_SEN, "industry": "5610", "main": False, "since": "2010-01-01"},
         {"code": SEN_VANG, "industry": "5610", "main": True, "since": "2015-03-01"}]),
    ("INSERT INTO enterprise.legal_representative (enterprise_code, national_id, title, "
     "valid_from, valid_to) VALUES (:code, :person, :title, :since, :until)", [
         {"code": HOA_SEN, "person": AN, "title": "director", "since": "2010-01-01",
          "until": "2023-06-01"},
         {"code": HOA_SEN, "person": HOA, "title": "general_director", "since": "2023-06-01",
          "until": None},
         {"code": SEN_VANG, "person": AN, "title": "director", "since": "2015-03-01",
          "until": "2025-01-01"}]),
    ("INSERT INTO enterprise.ownership (enterprise_code, owner_national_id, "
     "owner_enterprise_code, share, valid_from) VALUES (:code, :person, :owner, :share, "
     ":since)", [
         {"code": HOA_SEN, "person": AN, "owner": None, "share": 60, "since": "2010-01-01"},
         {"code": HOA_SEN, "person": HOA, "owner": None, "share": 40, "since": "2010-01-01"},
         {"code": SEN_VANG, "person": None, "owner": HOA_SEN, "share": 100,
          "since": "2015-03-01"}]),
    ("INSERT INTO enterprise.dependent_unit (code, parent_code, kind, founding_date) "
     "VALUES (:code, :parent, 'branch', :since)", [
         {"code": f"{HOA_SEN}-001", "parent": HOA_SEN, "since": "2025-07-01"}]),
    (f"INSERT INTO enterprise.dependent_unit_office (dependent_unit_code, name, "
     f"address_line, unit_id, valid_from) VALUES (:code, :name, :address, {_UNIT}, "
     f"CAST(:since AS date))", [
         {"code": f"{HOA_SEN}-001", "name": "Chi nhánh Hoàn Kiếm", "address": "3 Phố Huế",
          "unit": HANOI_WARD, "since": "2025-07-01"}]),
]


def _load_sample(loader: Engine, folder: Path) -> None:
    with loader.begin() as conn:
        for statement, rows in _ROWS:
            for row in rows:
                values = {k: dt.date.fromisoformat(v) if k in ("since", "until") and
                          isinstance(v, str) else v for k, v in row.items()}
                if ":key" in statement:
                    values["key"] = name_key(str(row["name"]))
                conn.execute(text(statement), values)


ENTERPRISE_SAMPLE: Seed = _load_sample
"""The enterprise sample; needs the population sample (its persons) loaded first."""
