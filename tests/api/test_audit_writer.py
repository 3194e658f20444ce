"""The audit writer: records of concurrent requests share one INSERT; a failed write fails
exactly the requests it carried, and the writer goes on."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import make_url

from graphql_api.app import _driver_dsn
from graphql_api.audit_writer import AuditWriter, new_reference
from graphql_api.connections import DriverPool


def test_concurrent_records_share_a_commit_and_a_failure_stays_with_its_batch(
        api_db: tuple[str, dict[str, str]]) -> None:
    dsn = make_url(api_db[0]).set(drivername="postgresql").render_as_string(False)

    async def scenario() -> None:
        pool = DriverPool(_driver_dsn(api_db[0]), 4, {})
        writer = AuditWriter(pool)
        admin = await asyncpg.connect(dsn)
        client_id = await admin.fetchval(
            "SELECT id FROM audit.api_client WHERE name = 'verifier'")
        await admin.close()
        try:
            good = [new_reference() for _ in range(20)]
            await asyncio.gather(*(writer.record(client_id, "verifyPerson", [ref],
                                                 ["001182000002"], ["match"])
                                   for ref in good))
            bad = new_reference()
            with pytest.raises(asyncpg.ForeignKeyViolationError):
                await writer.record(-1, "verifyPerson", [bad], ["001182000002"], ["match"])
            after = new_reference()
            await writer.record(client_id, "verifyPerson", [after], ["001182000002"], ["match"])
        finally:
            await writer.close()
            await pool.close()
        check = await asyncpg.connect(dsn)
        try:
            rows = await check.fetch(
                "SELECT reference, xmin::text AS tx FROM audit.access_record "
                "WHERE reference = ANY($1::uuid[])", [*good, bad, after])
        finally:
            await check.close()
        written = {r["reference"]: r["tx"] for r in rows}
        assert set(written) == {*good, after}  # the failed record alone is missing
        assert len({written[g] for g in good}) < len(good)  # concurrent ones shared commits

    asyncio.run(scenario())
