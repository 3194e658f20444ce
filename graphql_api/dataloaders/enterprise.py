"""Batched reads of enterprises and their parts on a day, and of a person's roles: one
statement per batch of keys.

Keys are (code, day) pairs sent as two arrays and unnested into rows ``k(code, day)``,
as in the population loaders. An enterprise reaches a resolver only through
:func:`load_enterprises`, which records the read; a person's number leaves only through
:func:`load_representatives`, :func:`load_owners` and :func:`load_roles`, each of which
records a read of that person's role in the audit trail (their ``accessLog``) before
the data leaves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text

from graphql_api.audit import Access, record
from graphql_api.context import Context
from graphql_api.dataloaders.keyed import keys_table, read_outcome, rows_by_key
from graphql_api.types.enterprise import (
    WELLFORMED_CODE,
    BusinessLine,
    CharterCapital,
    DependentUnit,
    Enterprise,
    EnterpriseFacts,
    EnterpriseKey,
    EnterpriseName,
    EnterpriseRole,
    EnterpriseStatus,
    HeadOffice,
    LegalRepresentative,
    Owner,
    RoleKind,
)
from loaders.rules.identifiers import NATIONAL_ID
from schemas.temporal import current_on

_KEYS = keys_table("id")


def _on(alias: str) -> str:
    return current_on(alias, "k.day")


# At most one row of each fact per enterprise and day (exclusion constraints).
_ENTERPRISES = text(f"""
    SELECT k.id, k.day, e.founding_date,
           n.name, n.foreign_name, n.abbreviation, n.valid_from AS name_since,
           f.legal_form, s.status, s.successor_code,
           h.address_line, h.unit_id, h.valid_from AS office_since,
           c.amount, c.currency, c.valid_from AS capital_since
    FROM {_KEYS}
    JOIN enterprise.enterprise e ON e.code = k.id AND e.founding_date <= k.day
    LEFT JOIN enterprise.enterprise_name n ON n.enterprise_code = e.code AND {_on("n")}
    LEFT JOIN enterprise.enterprise_form f ON f.enterprise_code = e.code AND {_on("f")}
    LEFT JOIN enterprise.enterprise_status s ON s.enterprise_code = e.code AND {_on("s")}
    LEFT JOIN enterprise.head_office h ON h.enterprise_code = e.code AND {_on("h")}
    LEFT JOIN enterprise.charter_capital c ON c.enterprise_code = e.code AND {_on("c")}""")
_LINES = text(f"""
    SELECT k.id, k.day, x.industry_code, i.name_en AS industry, x.is_main, x.valid_from
    FROM {_KEYS} JOIN enterprise.business_line x ON x.enterprise_code = k.id AND {_on("x")}
    JOIN ref.industry i ON i.code = x.industry_code
    ORDER BY x.is_main DESC, x.industry_code""")
_REPRESENTATIVES = text(f"""
    SELECT k.id, k.day, x.national_id, x.title, x.valid_from
    FROM {_KEYS}
    JOIN enterprise.legal_representative x ON x.enterprise_code = k.id AND {_on("x")}
    ORDER BY x.valid_from, x.national_id""")
_OWNERS = text(f"""
    SELECT k.id, k.day, x.owner_national_id, x.owner_enterprise_code, x.share, x.valid_from
    FROM {_KEYS} JOIN enterprise.ownership x ON x.enterprise_code = k.id AND {_on("x")}
    ORDER BY x.share DESC, x.owner_national_id, x.owner_enterprise_code""")
_BRANCHES = text(f"""
    SELECT k.id, k.day, d.code, d.kind, x.name, x.address_line, x.unit_id, x.valid_from
    FROM {_KEYS} JOIN enterprise.dependent_unit d ON d.parent_code = k.id
    JOIN enterprise.dependent_unit_office x ON x.dependent_unit_code = d.code AND {_on("x")}
    ORDER BY d.code""")
# A person's roles on a day: representations and holdings, oldest first.
_ROLES = text(f"""
    SELECT k.id, k.day, 'legal_representative' AS kind, x.enterprise_code, x.title,
           NULL::numeric AS share, x.valid_from
    FROM {_KEYS}
    JOIN enterprise.legal_representative x ON x.national_id = k.id AND {_on("x")}
    UNION ALL
    SELECT k.id, k.day, 'owner', x.enterprise_code, NULL, x.share, x.valid_from
    FROM {_KEYS} JOIN enterprise.ownership x ON x.owner_national_id = k.id AND {_on("x")}
    ORDER BY 7, 4""")


async def _by_key(ctx: Context, statement: Any, keys: Sequence[EnterpriseFacts]
                  ) -> dict[EnterpriseFacts, list[Any]]:
    return await rows_by_key(ctx, statement, keys, "id")


async def load_enterprises(ctx: Context, keys: list[EnterpriseKey]) -> list[Enterprise | None]:
    """The enterprises as of their days (None when unknown then), each read audited."""
    # A malformed code cannot be in the registry (and a NUL cannot even be sent).
    asked = [(k.code, k.day) for k in keys if WELLFORMED_CODE.fullmatch(k.code)]
    found = await _by_key(ctx, _ENTERPRISES, asked)
    enterprises = [_enterprise(found[(k.code, k.day)][0]) if (k.code, k.day) in found
                   else None for k in keys]
    await record(ctx, [Access(k.operation, k.code, read_outcome(
        e is not None, WELLFORMED_CODE.fullmatch(k.code) is not None))
                       for k, e in zip(keys, enterprises, strict=True)])
    return enterprises


def _enterprise(row: Any) -> Enterprise:
    return Enterprise(
        day=row.day, code=row.id, founding_date=row.founding_date,
        name=None if row.name is None else EnterpriseName(
            name=row.name, foreign_name=row.foreign_name, abbreviation=row.abbreviation,
            since=row.name_since),
        legal_form=row.legal_form,
        status=None if row.status is None else EnterpriseStatus(row.status),
        successor_code=row.successor_code,
        head_office=None if row.unit_id is None else HeadOffice(
            unit_id=row.unit_id, address_line=row.address_line, since=row.office_since),
        charter_capital=None if row.amount is None else CharterCapital(
            amount=row.amount, currency=row.currency, since=row.capital_since))


async def load_lines(ctx: Context, keys: list[EnterpriseFacts]) -> list[list[BusinessLine]]:
    found = await _by_key(ctx, _LINES, keys)
    return [[BusinessLine(industry_code=r.industry_code, industry=r.industry, main=r.is_main,
                          since=r.valid_from) for r in found.get(k, ())] for k in keys]


async def load_representatives(ctx: Context, keys: list[EnterpriseFacts]
                               ) -> list[list[LegalRepresentative]]:
    """Each enterprise's representatives on its day; each a read of that person's role."""
    found = await _by_key(ctx, _REPRESENTATIVES, keys)
    await record(ctx, [Access("enterprise.representatives", r.national_id, "read")
                       for k in keys for r in found.get(k, ())])
    return [[LegalRepresentative(national_id=r.national_id, title=r.title, since=r.valid_from)
             for r in found.get(k, ())] for k in keys]


async def load_owners(ctx: Context, keys: list[EnterpriseFacts]) -> list[list[Owner]]:
    """Each enterprise's owners on its day; a person owner's is a read of their role."""
    found = await _by_key(ctx, _OWNERS, keys)
    await record(ctx, [Access("enterprise.owners", r.owner_national_id, "read")
                       for k in keys for r in found.get(k, ())
                       if r.owner_national_id is not None])
    return [[Owner(day=r.day, national_id=r.owner_national_id,
                   enterprise_code=r.owner_enterprise_code, share=r.share, since=r.valid_from)
             for r in found.get(k, ())] for k in keys]


async def load_branches(ctx: Context, keys: list[EnterpriseFacts]
                        ) -> list[list[DependentUnit]]:
    found = await _by_key(ctx, _BRANCHES, keys)
    return [[DependentUnit(unit_id=r.unit_id, code=r.code, kind=r.kind, name=r.name,
                           address_line=r.address_line, since=r.valid_from)
             for r in found.get(k, ())] for k in keys]


async def load_roles(ctx: Context, keys: list[EnterpriseFacts]) -> list[list[EnterpriseRole]]:
    """The roles each person held on each day; every look-up is recorded as a read of
    that person's roles (``enterprisesOf``), found or not."""
    asked = [k for k in keys if NATIONAL_ID.fullmatch(k[0])]
    found = await _by_key(ctx, _ROLES, asked)
    # Whom the roles are of is known (a person without roles has none): every well-formed
    # number is a read, as a malformed one is recorded invalid.
    wellformed = [NATIONAL_ID.fullmatch(k[0]) is not None for k in keys]
    await record(ctx, [Access("enterprisesOf", k[0], read_outcome(ok, ok))
                       for k, ok in zip(keys, wellformed, strict=True)])
    return [[EnterpriseRole(day=r.day, kind=RoleKind(r.kind), enterprise_code=r.enterprise_code,
                            title=r.title, share=r.share, since=r.valid_from)
             for r in found.get(k, ())] for k in keys]
