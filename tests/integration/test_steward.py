"""A steward's day: the load history, and rejected rows exported, fixed and loaded again."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from loaders.sources.population_layout import SNAPSHOT_FIELDS
from mdr.cli import app
from tests.factories import write_csv
from tests.factories.population import FAMILY, person


def mdr(url: str, *args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--json"], env={"MDR_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_rejected_rows_export_fix_and_resubmit(clone_db: Callable[[str], str],
                                               ref_template: str, tmp_path: Path) -> None:
    url = clone_db(ref_template)
    bad = [person("001080000021", sex="x"), person("001080000022", birth_date="1980-02-30")]
    source = write_csv(tmp_path / "province.csv", SNAPSHOT_FIELDS, FAMILY + bad)
    first = mdr(url, "load", "population", str(source), "--effective-date", "2026-06-01",
                "--reject-threshold", "0.5")
    assert (first["inserted"], first["rejected"]) == (4, 2)

    listed = mdr(url, "runs", "--registry", "population")["runs"]
    assert [r["id"] for r in listed] == [first["run_id"]]
    run = listed[0]
    assert (run["status"], run["read"], run["inserted"], run["rejected"]) == (
        "committed", 6, 4, 2)
    assert run["rejected_by_reason"] == {"invalid-date": 1, "invalid-sex": 1}
    assert "@" in run["started_by"] and len(run["source_sha256"]) == 64

    fixed = tmp_path / "fixed.csv"
    exported = mdr(url, "rejects", "export", str(first["run_id"]), "--out", str(fixed))
    assert (exported["rows"], exported["missing"]) == (2, 0)
    with fixed.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # The source's own columns, then why each row was rejected.
    assert list(rows[0]) == [*SNAPSHOT_FIELDS, "reject_reason", "reject_message"]
    assert [(r["national_id"], r["reject_reason"]) for r in rows] == [
        ("001080000021", "invalid-sex"), ("001080000022", "invalid-date")]
    assert "1980-02-30" in rows[1]["reject_message"]

    rows[0]["sex"] = "male"
    rows[1]["birth_date"] = "1980-02-28"
    with fixed.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    again = mdr(url, "load", "population", str(fixed), "--effective-date", "2026-06-01")
    assert (again["status"], again["inserted"], again["updated"], again["rejected"]) == (
        "committed", 2, 0, 0)
    # Nothing else changed: the first file, loaded again, finds all six as they are.
    source.write_text(source.read_text(encoding="utf-8").replace(",x,", ",male,")
                      .replace("1980-02-30", "1980-02-28"), encoding="utf-8")
    whole = mdr(url, "load", "population", str(source), "--effective-date", "2026-06-01")
    assert (whole["inserted"], whole["updated"], whole["unchanged"]) == (0, 0, 6)


def test_exporting_an_unknown_run_says_what_to_do(shared_ref_url: str,
                                                   tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["rejects", "export", "999999", "--out",
                                      str(tmp_path / "x.csv")],
                                env={"MDR_DATABASE_URL": shared_ref_url})
    assert result.exit_code == 1
    assert "no load run 999999" in result.output and "mdr runs" in result.output
