"""Enterprise rows before the database: amounts, lists, codes; and the generator's files."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from fixtures.enterprise_generator import generate_enterprises
from loaders.enterprise import EnterpriseChecker, _amount
from tests.factories.enterprise import ACME, enterprise


@pytest.mark.parametrize(("text", "amount"), [
    ("1000000000", Decimal(1_000_000_000)), ("1.000.000.000", Decimal(1_000_000_000)),
    ("1,000,000,000", Decimal(1_000_000_000)), ("2500000.50", Decimal("2500000.50")),
    ("1.00.000", None), ("1.000,000", None), ("mười tỷ", None), ("-5", None),
])
def test_amounts_are_read_as_sources_write_them(text: str, amount: Decimal | None) -> None:
    assert _amount(text) == amount


@pytest.mark.parametrize(("fields", "slug"), [
    ({"code": ACME[:9] + str((int(ACME[9]) + 1) % 10)}, "invalid-check-digit"),
    ({"main_line": "4610;4620"}, "two-main-lines"),
    ({"owners": "001080000001:60;001182000002:41"}, "shares-over-100"),
    ({"owners": "001080000001:sáu mươi"}, "invalid-list"),
    ({"representatives": "001080000001"}, "invalid-list"),
    ({"founding_date": "2015-02-30"}, "invalid-date"),
    ({"legal_form": ""}, "missing-required-field"),
])
def test_a_row_breaking_a_rule_is_rejected_for_it(fields: dict[str, str], slug: str) -> None:
    checker = EnterpriseChecker("e.csv", dt.date(2026, 1, 1), changes=False)
    assert checker.row(1, enterprise(ACME, **fields)) is None
    assert [i.slug for i in checker.issues] == [slug]


def test_a_clean_row_is_staged_with_its_lists() -> None:
    checker = EnterpriseChecker("e.csv", dt.date(2026, 1, 1), changes=False)
    staged = checker.row(1, enterprise(ACME, other_lines="4620; 4630",
                                       owners="001080000001:60;0100000001:40"))
    assert staged is not None and checker.issues == []
    assert staged[19:24] == (["4610", "4620", "4630"], ["001080000001"], ["director"],
                             ["001080000001", "0100000001"], [Decimal(60), Decimal(40)])


def test_the_generator_writes_the_same_files_for_the_same_arguments(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        generate_enterprises(tmp_path / folder, 60, seed=3, defect_rate=0.2)
    for name in ("persons.csv", "enterprises.csv", "enterprise_changes.csv",
                 "enterprise_defects.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    with (tmp_path / "a" / "enterprise_defects.csv").open(encoding="utf-8") as handle:
        labels = list(csv.DictReader(handle))
    assert labels and all(label["defect"] == label["expected_reason"] for label in labels)
    with (tmp_path / "a" / "enterprises.csv").open(encoding="utf-8") as handle:
        codes = [row["code"] for row in csv.DictReader(handle)]
    for label in labels:
        if label["file"] == "enterprises.csv":
            assert codes[int(label["row"]) - 1] == label["code"]
