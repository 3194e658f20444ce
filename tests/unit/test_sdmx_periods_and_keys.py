"""SDMX time periods against frequencies, and SDMX keys as the endpoint reads them."""

from __future__ import annotations

import datetime as dt

import pytest

from loaders.rules.periods import frequency_of, period_start
from loaders.sources.sdmx_messages import parse_ref
from schemas.macro_queries import BadRequest, FlowQuery, key_pattern


@pytest.mark.parametrize(("period", "frequency", "start"), [
    ("2024", "A", dt.date(2024, 1, 1)),
    ("2024-S2", "S", dt.date(2024, 7, 1)),
    ("2023-Q4", "Q", dt.date(2023, 10, 1)),
    ("1999-01", "M", dt.date(1999, 1, 1)),
    ("2024-W09", "W", dt.date(2024, 2, 26)),
    ("2013-01-18", "D", dt.date(2013, 1, 18)),
])
def test_periods_of_each_frequency_start_on_their_first_day(period: str, frequency: str,
                                                             start: dt.date) -> None:
    assert period_start(period, frequency) == start
    assert frequency_of(period) == frequency


@pytest.mark.parametrize(("period", "frequency"), [
    ("2023-13", "M"), ("2023-Q5", "Q"), ("2023-02-30", "D"), ("2023-Q1", "M"),
    ("2023-01", "A"), ("23", None), ("2023/01", None),
])
def test_periods_that_are_not_of_the_frequency_are_refused(period: str,
                                                           frequency: str | None) -> None:
    assert period_start(period, frequency) is None


def test_keys_become_patterns_and_flows_references() -> None:
    pattern = key_pattern("M.USD+GBP..A")
    assert pattern == r"^(M)\.(USD|GBP)\.[^.]*\.(A)$"
    assert key_pattern("all") is None
    with pytest.raises(BadRequest):
        key_pattern("M.US'D")
    assert FlowQuery.parse("ECB,EXR,1.0") == FlowQuery("EXR", "ECB", "1.0")
    assert FlowQuery.parse("EXR") == FlowQuery("EXR")
    ref = parse_ref("urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=ECB:EXR(1.0)")
    assert ref is not None and str(ref) == "ECB:EXR(1.0)"
