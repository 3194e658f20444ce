"""Enterprise rows before the database: amounts, lists, codes; and the generator's files."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixtures.enterprise_generator import generate_enterprises
from loaders.enterprise import EnterpriseChecker, _amount
from mdr.cli import app
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


def _generate(registry: str, count: int, seed: int, out: Path) -> None:
    outcome = CliRunner().invoke(app, ["fixtures", "generate", registry, "--count", str(count),
                                       "--seed", str(seed), "--out", str(out)])
    assert outcome.exit_code == 0, outcome.output


def test_enterprises_generated_alone_refer_to_the_persons_already_in_the_folder(
        tmp_path: Path) -> None:
    _generate("population", 300, 4, tmp_path)
    persons_file = (tmp_path / "persons.csv").read_bytes()
    with (tmp_path / "persons.csv").open(encoding="utf-8") as handle:
        persons = {row["national_id"] for row in csv.DictReader(handle)}
    _generate("enterprise", 20, 9, tmp_path)
    # The population is reused as it was, not replaced by one made for the enterprises.
    assert (tmp_path / "persons.csv").read_bytes() == persons_file
    with (tmp_path / "enterprises.csv").open(encoding="utf-8") as handle:
        firms = list(csv.DictReader(handle))
    people = {entry.split(":")[0] for firm in firms
              for column in ("representatives", "owners") if firm[column]
              for entry in firm[column].split(";")}
    individuals = {p for p in people if len(p) == 12}  # owners may be enterprises too
    assert firms and individuals and individuals <= persons


def test_enterprises_generated_alone_into_an_empty_folder_bring_their_persons(
        tmp_path: Path) -> None:
    _generate("enterprise", 20, 9, tmp_path)
    with (tmp_path / "persons.csv").open(encoding="utf-8") as handle:
        assert sum(1 for _ in csv.DictReader(handle)) == 200  # the fewest it makes
