"""The quality suite of each registry, by registry name; add a module here per registry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from quality.suites import enterprise, land, macro, population
from quality.suites.base import Batch, Consistency, Rule, Suite

SuiteFactory = Callable[[dt.date], Suite]
"""Builds a registry's suite for a run that takes the given day as today."""

SUITES: dict[str, SuiteFactory] = {
    population.REGISTRY: population.suite,
    enterprise.REGISTRY: enterprise.suite,
    land.REGISTRY: land.suite,
    macro.REGISTRY: macro.suite,
}

__all__ = ["SUITES", "Batch", "Consistency", "Rule", "Suite", "SuiteFactory"]
