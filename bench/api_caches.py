"""What the parse/validation caches save on a repeated verifyPerson.

Run from the project root: `.venv/bin/python bench/api_caches.py [--scale N]`.
It starts its own PostgreSQL cluster under var/, migrates it, registers a client,
and sends N verifyPerson requests (the same query text, a different number each
time, as an integrating service does; nobody is registered, so each is answered
"not found" after the same index look-up) through the whole application in-process
(httpx's ASGI transport: key check, rate limiter, limits, resolver, audit insert)
through the general executor, once with the caches and once without, and, for
scale, through the compiled plans that answer verifications by default (they parse
and validate a document once on their own), in alternating halves. It prints one
JSON object with requests/s for each and the ratio cached / uncached.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from alembic import command as alembic_command  # noqa: E402
from sqlalchemy import text  # noqa: E402

from graphql_api.app import GraphQLFirst, create_app  # noqa: E402
from graphql_api.auth import create_client  # noqa: E402
from mdr import db  # noqa: E402
from mdr.cluster import LocalCluster  # noqa: E402
from mdr.settings import Settings  # noqa: E402

QUERY = """query Verify($claim: PersonClaim!, $asOf: Date) {
  verifyPerson(claim: $claim, asOf: $asOf) {
    nationalId found match status reference fields { field match } } }"""
WARM_UP = 20


async def rate(app: GraphQLFirst, key: str, requests: int) -> float:
    """Requests per second for ``requests`` sequential verifications."""
    headers = {"Authorization": f"Bearer {key}"}
    async with app.lifespan(), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:

        async def ask(i: int) -> None:
            claim = {"nationalId": f"001182{i % 1_000_000:06d}", "fullName": "Trần Thị Hoa",
                     "birthDate": "1982-07-09"}
            response = await client.post("/graphql", headers=headers, json={
                "query": QUERY, "variables": {"claim": claim, "asOf": "2026-01-01"}})
            if response.status_code != 200 or "errors" in response.json():
                raise SystemExit(f"verifyPerson failed: {response.text}")

        for i in range(WARM_UP):
            await ask(i)
        started = time.perf_counter()
        for i in range(requests):
            await ask(i)
        return requests / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=1_000,
                        help="verifyPerson requests per variant")
    args = parser.parse_args()
    work = ROOT / "var" / f"bench-api-caches-{os.getpid()}"
    cluster = LocalCluster(work / "pg")
    try:
        cluster.start()
        url = cluster.url()
        alembic_command.upgrade(db.alembic_config(url), "head")
        admin = db.make_engine(url, Settings.from_env({}), pool_size=1)
        with admin.begin() as conn:
            # The one code the client needs; the reference load would bring it with the
            # rest of the code lists and admin units, which the figure does not depend on.
            conn.execute(text("INSERT INTO ref.api_scope (code, name_en) "
                              "VALUES ('verify:person', 'Verify persons')"))
            key = create_client(conn, "bench", ["verify:person"])
        admin.dispose()
        # The rate limiters stay in the path, set far above what one client sends here.
        settings = Settings.from_env({"MDR_DATABASE_URL": url, "MDR_API_RATE_LIMIT": "1000000",
                                      "MDR_API_CLAIM_RATE": "100000000"})
        # The general executor with and without the caches; and, for scale, the compiled
        # plans that answer verifications by default without the general executor.
        variants = {"cached": {"compile_operations": False, "caches": True},
                    "uncached": {"compile_operations": False, "caches": False},
                    "compiled": {"compile_operations": True, "caches": True}}
        totals = dict.fromkeys(variants, 0.0)
        # Alternating halves, so drift on a shared machine hits all alike.
        for _ in range(2):
            for variant, options in variants.items():
                app = create_app(settings, **options)
                totals[variant] += asyncio.run(rate(app, key, max(1, args.scale // 2))) / 2
        print(json.dumps({
            "bench": "api_caches",
            "scale": args.scale,
            "figures": {
                "requests_per_variant": 2 * max(1, args.scale // 2),
                "cached_requests_per_s": round(totals["cached"], 1),
                "uncached_requests_per_s": round(totals["uncached"], 1),
                "compiled_requests_per_s": round(totals["compiled"], 1),
            },
            "ratios": {"cached_vs_uncached": round(totals["cached"] / totals["uncached"], 3)},
        }))
    finally:
        cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
