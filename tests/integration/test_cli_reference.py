"""The `mdr ref` look-ups and `mdr load ref` through the command line, with --json."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner

from mdr.cli import app


@pytest.fixture
def mdr(shared_ref_url: str) -> Callable[..., Any]:
    def run(*args: str) -> Any:
        result = CliRunner().invoke(app, [*args, "--json"],
                                    env={"MDR_DATABASE_URL": shared_ref_url})
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    return run


def test_units_as_of(mdr: Callable[..., Any]) -> None:
    assert mdr("ref", "units", "--as-of", "2025-07-01", "--level", "province")["count"] == 34
    assert mdr("ref", "units", "--as-of", "2020-01-01", "--level", "province")["count"] == 63


def test_successors_of_15(mdr: Callable[..., Any]) -> None:
    versions = mdr("ref", "successors", "15")["versions"]
    assert [v["full_name"] for v in versions] == ["Tỉnh Yên Bái", "Tỉnh Lào Cai"]
    assert versions[0]["successors"][0]["code"] == "15"
    assert {p["code"] for p in versions[1]["predecessors"]} == {"10", "15"}


def test_locate(mdr: Callable[..., Any]) -> None:
    units = mdr("ref", "locate", "105.8542", "21.0285", "--as-of", "2025-07-01")["units"]
    assert [u["full_name"] for u in units] == ["Thành phố Hà Nội", "Phường Hoàn Kiếm"]


def test_load_ref_summary(clone_db: Callable[[str], str], ref_template: str) -> None:
    result = CliRunner().invoke(app, ["load", "ref", "--json"],
                                env={"MDR_DATABASE_URL": clone_db(ref_template)})
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {"run_id", "registry", "status", "read", "inserted", "updated", "unchanged",
            "rejected", "rejected_by_reason", "seconds"} <= set(summary)
    assert summary["status"] == "committed"
    assert summary["unchanged"] == summary["read"]


def test_a_bad_date_is_a_usage_error_not_a_traceback(shared_ref_url: str) -> None:
    result = CliRunner().invoke(app, ["ref", "units", "--as-of", "1/7/2025"],
                                env={"MDR_DATABASE_URL": shared_ref_url})
    assert result.exit_code == 2
    assert "2025-07-01" in result.output
