"""Dates as sources write them, and the control characters no field may hold."""

import datetime as dt

from loaders.rules.dates import parse_date, years_between
from loaders.rules.text import escaped, has_control_characters


def test_iso_and_vietnamese_day_first_forms_read_alike() -> None:
    for written in ("1982-07-09", "09/07/1982", "9-7-1982", "09.07.1982"):
        assert parse_date(written) == dt.date(1982, 7, 9), written
    assert parse_date("") is None


def test_a_date_that_cannot_be_read_or_does_not_exist_says_so() -> None:
    assert parse_date("1982/07/09") == "is not a date (use YYYY-MM-DD or DD/MM/YYYY)"
    assert parse_date("2023-02-30") == "is not a date that exists"
    assert parse_date("31/04/2020") == "is not a date that exists"


def test_ages_count_whole_years() -> None:
    assert years_between(dt.date(2000, 3, 1), dt.date(2026, 2, 28)) == 25
    assert years_between(dt.date(2000, 3, 1), dt.date(2026, 3, 1)) == 26


def test_control_characters_but_tabs_and_line_ends_are_refused() -> None:
    assert has_control_characters("12\x00 Phố Huế") and has_control_characters("An\x07")
    assert not has_control_characters("Phố Huế\tHà Nội\r\n")
    assert escaped("12\x00 Huế") == "12\\x00 Hu\\u1ebf"
