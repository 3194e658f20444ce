"""Batched reads of unit versions, their changes and boundaries, by surrogate id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from graphql_api.types.reference import AdminUnit, UnitChange
from schemas.reference_queries import unit_boundaries, unit_changes, units_by_id

if TYPE_CHECKING:
    from graphql_api.context import Context


async def load_units(ctx: Context, ids: list[int]) -> list[AdminUnit | None]:
    found = {r.id: AdminUnit.from_row(r) for r in await ctx.read(units_by_id(ids))}
    return [found.get(i) for i in ids]


async def load_changes(ctx: Context, direction: Literal["successors", "predecessors"],
                       ids: list[int]) -> list[list[UnitChange]]:
    found: dict[int, list[UnitChange]] = {}
    for r in await ctx.read(unit_changes(ids, direction)):
        found.setdefault(r.of_id, []).append(UnitChange(
            unit=AdminUnit.from_row(r), change_type=r.change_type,
            effective_date=r.effective_date, whole_unit=r.whole_unit))
    return [found.get(i, []) for i in ids]


async def load_boundaries(ctx: Context, ids: list[int]) -> list[str | None]:
    found = {r.id: r.geojson for r in await ctx.read(unit_boundaries(ids))}
    return [found.get(i) for i in ids]
