"""Dataloaders, one module per registry; built once per request (``Context.loaders``).

Resolvers of nested fields ask a loader for one key; the loader gathers the
keys asked for in the same pass and answers them with one statement, so a
query costs a number of statements bounded by its shape, not by its data.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from graphql_api.dataloaders import enterprise, population, reference
from graphql_api.types.enterprise import (
    BusinessLine,
    DependentUnit,
    Enterprise,
    EnterpriseFacts,
    EnterpriseKey,
    EnterpriseRole,
    LegalRepresentative,
    Owner,
)
from graphql_api.types.population import (
    FamilyLink,
    HouseholdMembership,
    Person,
    PersonKey,
    PersonName,
    Residence,
)
from graphql_api.types.reference import AdminUnit, UnitChange

if TYPE_CHECKING:
    from graphql_api.context import Context

FactKey = population.FactKey


@dataclass(frozen=True)
class Loaders:
    person: DataLoader[PersonKey, Person | None]
    person_name: DataLoader[FactKey, PersonName | None]
    residences: DataLoader[FactKey, list[Residence]]
    household: DataLoader[FactKey, HouseholdMembership | None]
    family: DataLoader[FactKey, list[FamilyLink]]
    unit: DataLoader[int, AdminUnit | None]
    successors: DataLoader[int, list[UnitChange]]
    predecessors: DataLoader[int, list[UnitChange]]
    boundary: DataLoader[int, str | None]
    enterprise: DataLoader[EnterpriseKey, Enterprise | None]
    business_lines: DataLoader[EnterpriseFacts, list[BusinessLine]]
    representatives: DataLoader[EnterpriseFacts, list[LegalRepresentative]]
    owners: DataLoader[EnterpriseFacts, list[Owner]]
    branches: DataLoader[EnterpriseFacts, list[DependentUnit]]
    roles: DataLoader[EnterpriseFacts, list[EnterpriseRole]]
    """A person's roles in enterprises, by (national_id, day)."""

    @classmethod
    def for_request(cls, ctx: Context) -> Loaders:
        return cls(
            person=DataLoader(partial(population.load_persons, ctx)),
            person_name=DataLoader(partial(population.load_names, ctx)),
            residences=DataLoader(partial(population.load_residences, ctx)),
            household=DataLoader(partial(population.load_households, ctx)),
            family=DataLoader(partial(population.load_family, ctx)),
            unit=DataLoader(partial(reference.load_units, ctx)),
            successors=DataLoader(partial(reference.load_changes, ctx, "successors")),
            predecessors=DataLoader(partial(reference.load_changes, ctx, "predecessors")),
            boundary=DataLoader(partial(reference.load_boundaries, ctx)),
            enterprise=DataLoader(partial(enterprise.load_enterprises, ctx)),
            business_lines=DataLoader(partial(enterprise.load_lines, ctx)),
            representatives=DataLoader(partial(enterprise.load_representatives, ctx)),
            owners=DataLoader(partial(enterprise.load_owners, ctx)),
            branches=DataLoader(partial(enterprise.load_branches, ctx)),
            roles=DataLoader(partial(enterprise.load_roles, ctx)),
        )
