"""`person(nationalId, asOf)`: the record as of a day, in a fixed number of queries, audited."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from graphql_api.auth import audit_subject, well_formed_national_id
from graphql_api.connections import snapshot
from graphql_api.context import Context
from graphql_api.types.population import (
    AdminUnit,
    FamilyLink,
    HouseholdMembership,
    Person,
    PersonName,
    PersonStatus,
    Residence,
    Sex,
)
from schemas.temporal import current_on

# Each bitemporal fact as valid on :day, as currently known.
_VALID = current_on("x", ":day")
_QUERIES = {
    "person": "SELECT sex, birth_date, death_date FROM population.person "
              "WHERE national_id = :id AND birth_date <= :day",
    "name": f"SELECT family_name, middle_name, given_name, full_name "
            f"FROM population.person_name x WHERE x.national_id = :id AND {_VALID}",
    "residences": f"""SELECT x.kind, x.address_line, x.valid_from, u.code, u.level,
                             u.full_name, u.name_en, u.valid_from AS u_from, u.valid_to AS u_to
                      FROM population.residence x JOIN ref.admin_unit u ON u.id = x.unit_id
                      WHERE x.national_id = :id AND {_VALID} ORDER BY x.kind""",
    "household": f"""SELECT h.household_code, x.relation,
                            ARRAY(SELECT m.national_id FROM population.household_member m
                                  WHERE m.household_id = x.household_id
                                    AND {current_on("m", ":day")}
                                  ORDER BY m.national_id) AS members
                     FROM population.household_member x
                     JOIN population.household h ON h.id = x.household_id
                     WHERE x.national_id = :id AND {_VALID}""",
    "family": f"""SELECT x.relation, x.related_id FROM population.family_link x
                  WHERE x.national_id = :id AND {_VALID} ORDER BY x.relation""",
}
_RECORD = text("""
    INSERT INTO audit.access_record (reference, client_id, operation, subject, outcome)
    VALUES (:ref, :client, 'person', :subject, :outcome)""")


async def _rows(conn: AsyncConnection, key: str, params: dict[str, Any]) -> list[Any]:
    return list((await conn.execute(text(_QUERIES[key]), params)).all())


async def person(ctx: Context, national_id: str, as_of: dt.date | None) -> Person | None:
    """The person as of ``as_of`` (default today), or None; the read is audited."""
    params = {"id": national_id, "day": as_of or dt.date.today()}
    found, parts, outcome = [], {}, "invalid"
    # A malformed number names nobody; it is not sent to the database (it may hold
    # text PostgreSQL refuses, such as NUL).
    if well_formed_national_id(national_id):
        async with snapshot(ctx.reads) as conn:
            found = await _rows(conn, "person", params)
            parts = {k: await _rows(conn, k, params) for k in _QUERIES if k != "person"} \
                if found else {}
        outcome = "read" if found else "not-found"
    async with ctx.writes.begin() as conn:
        await conn.execute(_RECORD, {"ref": uuid.uuid4(), "client": ctx.client.id,
                                     "subject": audit_subject(national_id),
                                     "outcome": outcome})
    if not found:
        return None
    sex, birth, death = found[0]
    name = parts["name"][0] if parts["name"] else None
    household = parts["household"][0] if parts["household"] else None
    day = params["day"]
    return Person(
        national_id=national_id, sex=Sex(sex), birth_date=birth,
        status=PersonStatus.DECEASED if death and death <= day else PersonStatus.ALIVE,
        death_date=death if death and death <= day else None,
        name=PersonName(family_name=name[0], middle_name=name[1], given_name=name[2],
                        full_name=name[3]) if name else None,
        residences=[Residence(kind=r.kind, address_line=r.address_line, since=r.valid_from,
                              commune=AdminUnit(code=r.code, level=r.level,
                                                full_name=r.full_name, name_en=r.name_en,
                                                valid_from=r.u_from, valid_to=r.u_to))
                    for r in parts["residences"]],
        household=HouseholdMembership(household_code=household[0], relation=household[1],
                                      member_ids=list(household[2])) if household else None,
        family=[FamilyLink(relation=r[0], national_id=r[1]) for r in parts["family"]],
    )
