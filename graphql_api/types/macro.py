"""Macro-economy types of the API: SDMX dataflows, series, observations and vintages."""

from __future__ import annotations

import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON


@strawberry.type(description="A dimension or attribute of a data structure.")
class Component:
    id: str = strawberry.field(description="SDMX id, e.g. REF_AREA or OBS_STATUS.")
    codelist: str | None = strawberry.field(description="Its code list, where coded.")
    position: int | None = strawberry.field(description="Place in the series key "
                                            "(dimensions only).")
    role: str | None = strawberry.field(description="Dimensions: what it means to mdr (area, "
                                        "frequency, sex, ...); attributes: where it is "
                                        "attached (series or observation).")


@strawberry.type(description="A dataflow: what is published under one data structure.")
class Dataflow:
    agency: str
    id: str = strawberry.field(description="SDMX id, e.g. EXR or POP_PROV_2025.")
    version: str
    name: str | None
    structure: str = strawberry.field(description="Its data structure, AGENCY:ID(VERSION).")
    time_dimension: str
    dimensions: list[Component] = strawberry.field(description="In series-key order.")
    attributes: list[Component]

    @classmethod
    def from_row(cls, row: Any) -> Dataflow:
        return cls(
            agency=row.agency, id=row.code, version=row.version, name=row.name,
            structure=f"{row.structure_agency}:{row.structure_code}({row.structure_version})",
            time_dimension=row.time_dimension,
            dimensions=[Component(id=d["id"], codelist=d["codelist"], position=d["position"],
                                  role=d["role"]) for d in row.dimensions],
            attributes=[Component(id=a["id"], codelist=a["codelist"], position=None,
                                  role=a["attachedTo"]) for a in row.attributes])


@strawberry.type(description="A period's value as one release published it.")
class Observation:
    period: str = strawberry.field(description="SDMX time period (2024, 2024-Q1, 2024-03, "
                                   "2024-03-01).")
    value: float | None = strawberry.field(description="The value; null: missing.")
    status: str | None = strawberry.field(description="Observation status (A normal, P "
                                          "provisional, E estimated, F forecast, ...).")
    attributes: JSON = strawberry.field(description="Other observation attributes.")
    release_date: datetime.date = strawberry.field(description="The release (vintage) that "
                                                   "published this value.")

    @classmethod
    def from_row(cls, row: Any) -> Observation:
        return cls(period=row.period, value=row.value, status=row.status,
                   attributes=_json(row.attributes or {}), release_date=row.release_date)


def _json(value: Any) -> JSON:
    """A stored JSON object as the JSON scalar."""
    return value  # type: ignore[no-any-return]


@strawberry.type(description="A release that published or revised a series.")
class Vintage:
    release_date: datetime.date
    observations: int = strawberry.field(description="Values it published or revised.")


@strawberry.type(description="A series: a dataflow and one code per dimension, with its "
                 "observations as published on the day asked and every vintage.")
class Series:
    key: str = strawberry.field(description="Dimension codes in key order, joined by dots.")
    dimensions: JSON = strawberry.field(description="The key as {dimension: code}.")
    attributes: JSON = strawberry.field(description="Series attributes as last released.")
    observations: list[Observation]
    vintages: list[Vintage]
