"""Enterprise verification, the enterprise registry's part of the verification kit
(graphql_api/verification.py): its claim, its look-up and a comparison per field; and the
look-ups: an enterprise as of a day, its published register entry, a person's roles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asyncpg.pool import PoolConnectionProxy

from graphql_api.context import Context
from graphql_api.types.enterprise import (
    WELLFORMED_CODE,
    Enterprise,
    EnterpriseClaim,
    EnterpriseKey,
    EnterpriseRole,
    EnterpriseStatus,
    EnterpriseVerification,
    PublicEnterprise,
)
from graphql_api.types.verification import FieldMatch
from graphql_api.verification import Registry, verification_fields, version_on
from loaders.rules.text import name_key

# The registry's current knowledge of each asked-for enterprise, whatever the day: every
# version of its names, head office (the code of its commune: the unit in force when the
# version began, so a code names the unit it named that day, though the 2025
# reorganisation re-used codes), status, and each representative's period. The
# day is applied in Python (version_on), so whether an enterprise is found cannot depend
# on it. Parallel arrays, each in the order of the versions' start.
_LOOKUP = """
    SELECT e.code, n.starts AS name_starts, n.keys AS name_keys, n.foreign AS foreign_names,
           h.starts AS office_starts, h.units AS office_units,
           s.starts AS status_starts, s.statuses,
           r.starts AS rep_starts, r.ends AS rep_ends, r.ids AS rep_ids
    FROM enterprise.enterprise e
    CROSS JOIN LATERAL (
        SELECT array_agg(x.valid_from ORDER BY x.valid_from) AS starts,
               array_agg(x.name_key ORDER BY x.valid_from) AS keys,
               array_agg(x.foreign_name ORDER BY x.valid_from) AS foreign
        FROM enterprise.enterprise_name x
        WHERE x.enterprise_code = e.code AND x.superseded_at IS NULL) n
    CROSS JOIN LATERAL (
        SELECT array_agg(x.valid_from ORDER BY x.valid_from) AS starts,
               array_agg(u.code ORDER BY x.valid_from) AS units
        FROM enterprise.head_office x JOIN ref.admin_unit u ON u.id = x.unit_id
        WHERE x.enterprise_code = e.code AND x.superseded_at IS NULL) h
    CROSS JOIN LATERAL (
        SELECT array_agg(x.valid_from ORDER BY x.valid_from) AS starts,
               array_agg(x.status ORDER BY x.valid_from) AS statuses
        FROM enterprise.enterprise_status x
        WHERE x.enterprise_code = e.code AND x.superseded_at IS NULL) s
    CROSS JOIN LATERAL (
        SELECT array_agg(x.valid_from) AS starts, array_agg(x.valid_to) AS ends,
               array_agg(x.national_id) AS ids
        FROM enterprise.legal_representative x
        WHERE x.enterprise_code = e.code AND x.superseded_at IS NULL) r
    WHERE e.code = ANY($1::text[])"""


@dataclass(frozen=True)
class _Known:
    names: list[tuple[dt.date, frozenset[str]]]
    """Versions of the names' comparison keys (Vietnamese and foreign), oldest first."""
    offices: list[tuple[dt.date, str]]
    """Versions of the head office: its commune's code."""
    statuses: list[tuple[dt.date, str]]
    representatives: list[tuple[dt.date, frozenset[str]]]
    """Who represented the enterprise, from each day the set changed."""


def _versions(starts: Sequence[dt.date] | None, values: Sequence[Any] | None
              ) -> list[tuple[dt.date, Any]]:
    return list(zip(starts or (), values or (), strict=True))


def _who_when(starts: Sequence[dt.date] | None, ends: Sequence[dt.date | None] | None,
              ids: Sequence[str] | None) -> list[tuple[dt.date, frozenset[str]]]:
    """Periods of persons' roles as versions of the set holding them: one version from each
    day a period starts or ends (a day after the last period ends has the empty set)."""
    periods = list(zip(starts or (), ends or (), ids or (), strict=True))
    days = sorted({start for start, _, _ in periods}
                  | {end for _, end, _ in periods if end is not None})
    return [(day, frozenset(who for start, end, who in periods
                            if start <= day and (end is None or end > day))) for day in days]


async def _look_up(conn: PoolConnectionProxy[Any], codes: list[str]) -> dict[str, _Known]:
    known = {}
    for row in await conn.fetch(_LOOKUP, codes):
        # The Vietnamese name's key is stored; the foreign name's is worked out here.
        names = [(start, frozenset((key, name_key(foreign)) if foreign else (key,)))
                 for start, (key, foreign) in _versions(
                     row["name_starts"], list(zip(row["name_keys"] or (),
                                                  row["foreign_names"] or (), strict=True)))]
        known[row["code"]] = _Known(
            names=names,
            offices=_versions(row["office_starts"], row["office_units"]),
            statuses=_versions(row["status_starts"], row["statuses"]),
            representatives=_who_when(row["rep_starts"], row["rep_ends"], row["rep_ids"]))
    return known


def _compare(claim: EnterpriseClaim, known: _Known, day: dt.date) -> list[FieldMatch]:
    fields = []
    if claim.name is not None:
        names = version_on(known.names, day)
        fields.append(FieldMatch(field="name",
                                 match=names is not None and name_key(claim.name) in names))
    if claim.legal_representative_id is not None:
        who = version_on(known.representatives, day)
        fields.append(FieldMatch(field="legalRepresentativeId",
                                 match=who is not None and claim.legal_representative_id in who))
    if claim.head_office_unit_code is not None:
        unit = version_on(known.offices, day)
        fields.append(FieldMatch(field="headOfficeUnitCode",
                                 match=claim.head_office_unit_code == unit))
    return fields


def _status(known: _Known, day: dt.date) -> EnterpriseStatus:
    status = version_on(known.statuses, day)
    return EnterpriseStatus.ACTIVE if status is None else EnterpriseStatus(status)


ENTERPRISES = verification_fields(
    Registry(subject="code", wellformed=WELLFORMED_CODE, look_up=_look_up, compare=_compare,
             status=_status,
             answer=lambda subject, **rest: EnterpriseVerification(code=subject, **rest)),
    claim=EnterpriseClaim, answer=EnterpriseVerification, scope="verify:enterprise",
    one="verifyEnterprise", many="verifyEnterprises",
    one_description="Check one claim about an enterprise: yes or no per field.",
    many_description="Check a batch of enterprise claims with one round trip.")
"""``verifyEnterprise`` and ``verifyEnterprises``, and their compiled-path entries."""


async def enterprise(ctx: Context, code: str, as_of: dt.date | None) -> Enterprise | None:
    """The enterprise as of ``as_of`` (default today), or None; the read is audited."""
    return await ctx.loaders.enterprise.load(EnterpriseKey(code, as_of or dt.date.today()))


async def public_enterprise(ctx: Context, code: str, as_of: dt.date | None
                            ) -> PublicEnterprise | None:
    """What the business register publishes of the enterprise on the day: code, name,
    status, head office and main line; nothing about any person."""
    found = await ctx.loaders.enterprise.load(
        EnterpriseKey(code, as_of or dt.date.today(), "publicEnterprise"))
    if found is None:
        return None
    return PublicEnterprise(day=found.day, code=found.code,
                            name=found.name.name if found.name else None, status=found.status,
                            head_office=found.head_office)


async def enterprises_of(ctx: Context, national_id: str, as_of: dt.date | None
                         ) -> list[EnterpriseRole]:
    """The roles the person held on the day; the look-up is recorded in their access log."""
    return await ctx.loaders.roles.load((national_id, as_of or dt.date.today()))
