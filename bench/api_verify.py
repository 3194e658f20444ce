"""Verification speed: `mdr serve` against PostGraphile v4 and pgbench, on one database.

Run from the project root: `.venv/bin/python bench/api_verify.py [--scale N]`.
In one run, on a registry of N generated persons (default 1,000,000), it measures

* mdr: `mdr serve` in its production configuration answering `verifyPerson` for
  random existing and non-existing numbers with name, birth date and sex claims
  (authentication, limits and audit records included), and `verifyPersons` with
  batches of 1,000 claims;
* PostGraphile v4 (installed from npm into bench/.peers/, which git ignores) in its
  recommended production options, twice: doing the same job, verification as a team
  using PostGraphile would build it (a SQL function that looks the person up, compares
  the claimed fields and writes the audit record, bench/api_verify_peer.sql, exposed as
  a mutation), and answering the plain look-up a caller would compare itself (the
  person by primary key with its current names; no audit record);
* the database alone: pgbench with the equivalent prepared SELECT, one key and
  1,000 keys per statement;

with the same wrk load (threads, connections, duration) for both servers, and
prints one JSON object: requests/s and p50/p99 latency for each, the pgbench
figures, and the ratios the targets are stated in. Before the load runs, mdr and the
function-based peer answer the same claims, and must answer them alike.

Preparing a million persons takes several minutes; `--keep` keeps the prepared
cluster under var/ so that later runs with the same scale start at once.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import unicodedata
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from alembic import command as alembic_command  # noqa: E402
from support import run_mdr  # noqa: E402

from fixtures.generator import generate_population  # noqa: E402
from loaders.reference import load_reference  # noqa: E402
from loaders.rules.dates import parse_date  # noqa: E402
from loaders.rules.identifiers import enterprise_check_digit  # noqa: E402
from loaders.rules.text import name_key  # noqa: E402
from mdr import db  # noqa: E402
from mdr.cluster import SUPERUSER, LocalCluster, find_bindir, free_port  # noqa: E402
from mdr.settings import Settings  # noqa: E402

POSTGRAPHILE_VERSION = "4.14.1"
PEERS = ROOT / "bench" / ".peers"
LUA = ROOT / "bench" / "api_verify.lua"
PEER_SQL = ROOT / "bench" / "api_verify_peer.sql"
PEER_SCHEMA = "verification_peer"
BATCH = 1_000
AS_OF = "2026-01-01"

VERIFY_ONE = """query Verify($claim: PersonClaim!) {
  verifyPerson(claim: $claim) { found match status fields { field match } reference }
}"""
VERIFY_MANY = """query VerifyMany($claims: [PersonClaim!]!) {
  verifyPersons(claims: $claims) { nationalId found match status fields { field match } reference }
}"""
# What PostGraphile needs to return for the caller to make the same comparison.
POSTGRAPHILE_ONE = """query Person($id: String!) {
  personByNationalId(nationalId: $id) {
    sex birthDate deathDate
    personNamesByNationalId(condition: {supersededAt: null}) {
      nodes { fullName validFrom validTo }
    }
  }
}"""
# The same job as verifyPerson: PostGraphile's mutation for the peer's SQL function.
POSTGRAPHILE_VERIFY = """mutation Verify($input: VerifyPersonInput!) {
  verifyPerson(input: $input) {
    personVerification {
      found match status fullNameMatch birthDateMatch sexMatch reference
    }
  }
}"""

VERIFY_ENTERPRISE = """query Verify($claim: EnterpriseClaim!) {
  verifyEnterprise(claim: $claim) { found match status fields { field match } reference }
}"""
POSTGRAPHILE_VERIFY_ENTERPRISE = """mutation Verify($input: VerifyEnterpriseInput!) {
  verifyEnterprise(input: $input) {
    enterpriseVerification {
      found match status nameMatch legalRepresentativeIdMatch headOfficeUnitCodeMatch
      reference
    }
  }
}"""


@dataclass(frozen=True)
class Job:
    """One verification, as mdr serves it and as the function-based peer does."""

    name: str
    """Figure and ratio names: ``verify_person``."""
    field: str
    """The root field, the same name in both servers: ``verifyPerson``."""
    query: str
    """mdr's query for one claim (``$claim``)."""
    peer_query: str
    """The peer's mutation (``$input``)."""
    peer_payload: str
    """The field of the mutation's payload holding the answer."""
    columns: dict[str, str]
    """mdr's name of each claimed field: the peer's column answering it."""
    peer_input: Callable[[dict[str, Any]], dict[str, Any]]
    """A claim as the peer's function takes it."""
    name_field: str
    """The claim's name, which both must compare in any spelling."""
    spoil: Callable[[dict[str, Any]], dict[str, Any]]
    """The claim with one field made wrong, for a mismatch."""

    def body(self, claim: dict[str, Any]) -> dict[str, Any]:
        return {"query": self.query, "variables": {"claim": claim}}

    def peer_body(self, claim: dict[str, Any]) -> dict[str, Any]:
        return {"query": self.peer_query, "variables": {"input": self.peer_input(claim)}}


PERSON = Job(
    name="verify_person", field="verifyPerson", query=VERIFY_ONE,
    peer_query=POSTGRAPHILE_VERIFY, peer_payload="personVerification",
    columns={"fullName": "fullNameMatch", "birthDate": "birthDateMatch", "sex": "sexMatch"},
    # The peer takes sex as the registry's code, as a SQL function would.
    peer_input=lambda c: {**c, "sex": c["sex"].lower()} if c.get("sex") else dict(c),
    name_field="fullName",
    spoil=lambda c: {**c, "birthDate": (dt.date.fromisoformat(c["birthDate"])
                                        + dt.timedelta(days=1)).isoformat()})
ENTERPRISE = Job(
    name="verify_enterprise", field="verifyEnterprise", query=VERIFY_ENTERPRISE,
    peer_query=POSTGRAPHILE_VERIFY_ENTERPRISE, peer_payload="enterpriseVerification",
    columns={"name": "nameMatch", "legalRepresentativeId": "legalRepresentativeIdMatch",
             "headOfficeUnitCode": "headOfficeUnitCodeMatch"},
    peer_input=dict, name_field="name",
    spoil=lambda c: {**c, "legalRepresentativeId": "001099000000"})

# pgbench: the same look-up as mdr's, by primary key; keys come from a numbered table.
PGBENCH_LOOKUP = """SELECT p.national_id, p.sex, p.birth_date, p.death_date,
       n.valid_from, n.name_key
FROM population.person p
LEFT JOIN population.person_name n ON n.national_id = p.national_id AND n.superseded_at IS NULL
"""
PGBENCH_ONE = """\\set i random(1, {n})
""" + PGBENCH_LOOKUP + """WHERE p.national_id =
  (SELECT national_id FROM public.bench_key WHERE i = :i);
"""
PGBENCH_BATCH = """\\set i random(1, {last})
""" + PGBENCH_LOOKUP + """WHERE p.national_id = ANY(ARRAY(SELECT national_id FROM public.bench_key
                                WHERE i BETWEEN :i AND :i + {span}));
"""


# -- tools -------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    """wrk from the OS packages, installed when missing (as root)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("bench/api_verify.py needs wrk: apt-get install -y wrk")
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "wrk"],
                   check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return shutil.which("wrk") or "wrk"


def ensure_postgraphile() -> Path:
    """PostGraphile v4, pinned, under bench/.peers/postgraphile."""
    folder = PEERS / "postgraphile"
    binary = folder / "node_modules" / ".bin" / "postgraphile"
    if binary.exists():
        return binary
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text(json.dumps(
        {"private": True, "dependencies": {"postgraphile": POSTGRAPHILE_VERSION}}, indent=2))
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                   cwd=folder, check=True, stdout=subprocess.DEVNULL)
    return binary


# -- the registry under test --------------------------------------------------------------------


def prepare(work: Path, scale: int) -> tuple[LocalCluster, Path]:
    """A durable cluster holding ``scale`` generated persons, loaded by `mdr load`."""
    cluster = LocalCluster(work / "pg")
    cluster.start()
    persons = work / "data" / "persons.csv"
    url = cluster.url()
    alembic_command.upgrade(db.alembic_config(url), "head")  # a kept cluster may be behind
    if (work / "ready").exists():
        return cluster, persons
    loader = db.make_engine(url, Settings.from_env({}), role=db.Role.LOADER)
    load_reference(loader)
    loader.dispose()
    generate_population(work / "data", scale, seed=1)
    run_mdr(url, "load", "population", str(persons), "--effective-date", AS_OF)
    with psycopg.connect(cluster.conninfo(database="mdr"), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    (work / "ready").write_text(f"{scale}\n")
    return cluster, persons


def sample_claims(persons: Path, count: int, seed: int) -> list[dict[str, Any]]:
    """Claims as a caller sends them: half about registered persons (as registered), half
    about numbers the registry does not hold."""
    rng = random.Random(seed)
    known: list[dict[str, Any]] = []
    with persons.open(newline="", encoding="utf-8") as handle:
        for seen, row in enumerate(csv.DictReader(handle)):
            birth = parse_date(row["birth_date"])
            if not isinstance(birth, dt.date):
                continue
            claim = {"nationalId": row["national_id"],
                     "fullName": " ".join(p for p in (row["family_name"], row["middle_name"],
                                                      row["given_name"]) if p),
                     "birthDate": birth.isoformat(), "sex": row["sex"].upper()}
            if len(known) < count // 2:
                known.append(claim)
            elif (j := rng.randrange(seen + 1)) < len(known):
                known[j] = claim
    registered = {c["nationalId"] for c in known}
    unknown = []
    while len(unknown) < count - len(known):
        number = f"0{rng.randrange(1, 97):02d}{rng.randrange(10**9):09d}"
        if number not in registered:
            unknown.append({**rng.choice(known), "nationalId": number})
    claims = known + unknown
    rng.shuffle(claims)
    return claims


def install_peer(cluster: LocalCluster, client_id: int) -> None:
    """The peer's functions (bench/api_verify_peer.sql), as the administrator; the API
    role, which PostGraphile logs in as, may call them and nothing more."""
    api = db.Role.API.value
    with psycopg.connect(cluster.conninfo(database="mdr"), autocommit=True) as conn:
        conn.execute(PEER_SQL.read_text(encoding="utf-8"))  # type: ignore[arg-type]
        conn.execute(f"""CREATE FUNCTION {PEER_SCHEMA}.client_id() RETURNS integer
                         LANGUAGE sql IMMUTABLE AS 'SELECT {int(client_id)}'""")
        conn.execute(f"COMMENT ON FUNCTION {PEER_SCHEMA}.client_id() IS '@omit'")
        conn.execute(f"GRANT USAGE ON SCHEMA {PEER_SCHEMA} TO {api}")
        conn.execute(f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {PEER_SCHEMA} TO {api}")


FORMS = ("Công ty TNHH", "Công ty Cổ phần", "Doanh nghiệp tư nhân", "Hợp tác xã")
WORDS = ("Hoa Sen", "Sông Hồng", "Thành Công", "Phú Quý", "Việt Tiến", "Minh Phát", "Đại Dương",
         "Hưng Thịnh", "An Khang", "Trường Sơn", "Bình Minh", "Hải Âu")


def enterprise_claims(cluster: LocalCluster, persons: Path, count: int, seed: int
                      ) -> list[dict[str, Any]]:
    """``count`` enterprises, written into the registry's tables once (COPY) unless the
    cluster holds them already, and claims about them as a caller sends them: half about
    registered enterprises (their name, representative and head office's commune on the
    day), half about codes the registry does not hold.

    A fifth changed their name and a third their representative since founding, a tenth
    were dissolved: the comparison as of the day has history to look through.
    """
    rng = random.Random(seed)
    with persons.open(newline="", encoding="utf-8") as handle:
        people = [row["national_id"] for _, row in zip(range(4 * count),
                                                       csv.DictReader(handle), strict=False)]
    with psycopg.connect(cluster.conninfo(database="mdr"), autocommit=True) as conn:
        communes = conn.execute(
            "SELECT id, code FROM ref.admin_unit WHERE level = 'commune' AND valid_to IS NULL "
            "ORDER BY code").fetchall()
        loaded = conn.execute("SELECT count(*) FROM enterprise.enterprise").fetchone()
    tables: dict[str, list[tuple[Any, ...]]] = {
        "enterprise (code, founding_date)": [],
        "enterprise_name (enterprise_code, name, name_key, valid_from, valid_to)": [],
        "enterprise_status (enterprise_code, status, valid_from, valid_to)": [],
        "head_office (enterprise_code, address_line, unit_id, valid_from)": [],
        "legal_representative (enterprise_code, national_id, title, valid_from, valid_to)": []}
    rows = list(tables.values())
    known: list[dict[str, Any]] = []
    serial = 0
    while len(known) < count:
        serial += 1
        digit = enterprise_check_digit(f"01{serial:07d}")
        if digit is None:
            continue
        code = f"01{serial:07d}{digit}"
        founded = dt.date(2000, 1, 1) + dt.timedelta(days=rng.randrange(9000))
        changed = founded + dt.timedelta(days=rng.randrange(1, 2000))
        name = f"{rng.choice(FORMS)} {rng.choice(WORDS)} {serial}"
        rows[0].append((code, founded))
        if rng.random() < 0.2:
            rows[1].append((code, f"{name} cũ", name_key(f"{name} cũ"), founded, changed))
            rows[1].append((code, name, name_key(name), changed, None))
        else:
            rows[1].append((code, name, name_key(name), founded, None))
        unit_id, unit_code = rng.choice(communes)
        rows[3].append((code, f"{rng.randrange(1, 300)} Đường Số {rng.randrange(1, 40)}",
                        unit_id, founded))
        representative = rng.choice(people)
        if rng.random() < 0.33:
            rows[4].append((code, rng.choice(people), "director", founded, changed))
            rows[4].append((code, representative, "director", changed, None))
        else:
            rows[4].append((code, representative, "director", founded, None))
        if rng.random() < 0.1:
            rows[2].append((code, "active", founded, changed))
            rows[2].append((code, "dissolved", changed, None))
        else:
            rows[2].append((code, "active", founded, None))
        known.append({"code": code, "name": name, "legalRepresentativeId": representative,
                      "headOfficeUnitCode": unit_code})
    if not loaded or not loaded[0]:
        with psycopg.connect(cluster.conninfo(database="mdr")) as conn:
            for table, values in tables.items():
                with conn.cursor().copy(f"COPY enterprise.{table} FROM STDIN") as copy:
                    for value in values:
                        copy.write_row(value)
        with psycopg.connect(cluster.conninfo(database="mdr"), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    unknown = []
    while len(unknown) < count:
        serial += 1
        digit = enterprise_check_digit(f"02{serial:07d}")
        if digit is not None:
            unknown.append({**rng.choice(known), "code": f"02{serial:07d}{digit}"})
    claims = known[:count // 2] + unknown[:count - count // 2]
    rng.shuffle(claims)
    return claims


def write_bodies(path: Path, bodies: Iterator[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for body in bodies:
            handle.write(json.dumps(body, ensure_ascii=False) + "\n")
    return path


# -- servers and load ---------------------------------------------------------------------------


def wait_for(port: int, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not start in {seconds} s")


def cpu_seconds(group: int | None = None, parent: int | None = None) -> float:
    """CPU time used so far by the processes of a process group (a server and its
    workers), or by a process and its children (the database and its backends)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid = int(stat.parent.name)
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, ValueError):
            continue
        # After the command: state, ppid, pgrp, ...; utime and stime at 11 and 12.
        if int(fields[2]) == group or pid == parent or int(fields[1]) == parent:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postmaster(cluster: LocalCluster) -> int:
    return int((cluster.data_dir / "postmaster.pid").read_text().split()[0])


@contextmanager
def server(command: Sequence[str], port: int, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(port, process)
        yield f"http://127.0.0.1:{port}/graphql", process.pid
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def post(url: str, body: str, key: str | None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=body.encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.load(response)
    return answer


def check_answers(url: str, bodies: Path, key: str | None, expect: str) -> None:
    """A few requests by hand first: the load must get answers, not errors."""
    for line in bodies.read_text(encoding="utf-8").splitlines()[:5]:
        answer = post(url, line, key)
        if answer.get("errors") or expect not in answer.get("data", {}):
            raise SystemExit(f"{url} did not answer as expected: {str(answer)[:500]}")


def wrk(url: str, bodies: Path, key: str | None, args: argparse.Namespace,
        group: int, database: int) -> dict[str, Any]:
    """One load run; with the server's and the database's CPU time per request, which
    the machine's other work does not change as much as it changes requests/s."""
    cpu_before, db_before = cpu_seconds(group=group), cpu_seconds(parent=database)
    run = subprocess.run(
        [ensure_wrk(), f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
         "--timeout", "10s", "-s", str(LUA), url, "--", str(bodies), key or ""],
        capture_output=True, text=True, check=True)
    line = next(x for x in run.stdout.splitlines() if x.startswith("WRK "))
    raw = json.loads(line[4:])
    seconds = raw["duration_us"] / 1e6
    cpu = cpu_seconds(group=group) - cpu_before
    db_cpu = cpu_seconds(parent=database) - db_before
    return {"requests": raw["requests"], "requests_per_s": round(raw["requests"] / seconds),
            "server_cpu_ms_per_request": round(1000 * cpu / max(1, raw["requests"]), 3),
            "database_cpu_ms_per_request": round(1000 * db_cpu / max(1, raw["requests"]), 3),
            "p50_ms": round(raw["p50_us"] / 1000, 2), "p99_ms": round(raw["p99_us"] / 1000, 2),
            "errors": raw["errors"], "non_2xx": raw["non_2xx"]}


def pgbench(cluster: LocalCluster, script: str, args: argparse.Namespace,
            work: Path) -> dict[str, Any]:
    path = work / "pgbench.sql"
    path.write_text(script)
    run = subprocess.run(
        [str(find_bindir(Settings.from_env({}).pg_bindir) / "pgbench"), "-n", "-M", "prepared",
         f"-c{args.connections}", f"-j{args.threads}", f"-T{args.duration}", "-f", str(path),
         "-h", "127.0.0.1", "-p", str(cluster.configured_port()), "-U", SUPERUSER, "mdr"],
        capture_output=True, text=True, check=True)
    tps = float(re.search(r"tps = ([\d.]+)", run.stdout).group(1))  # type: ignore[union-attr]
    latency = float(re.search(r"latency average = ([\d.]+) ms",  # type: ignore[union-attr]
                              run.stdout).group(1))
    return {"statements_per_s": round(tps), "latency_avg_ms": latency}


def make_key_table(cluster: LocalCluster, claims: list[dict[str, Any]]) -> None:
    with psycopg.connect(cluster.conninfo(database="mdr"), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS public.bench_key")
        conn.execute("CREATE TABLE public.bench_key (i int PRIMARY KEY, national_id text)")
        with conn.cursor().copy("COPY public.bench_key FROM STDIN") as copy:
            for i, claim in enumerate(claims, 1):
                copy.write_row((i, claim["nationalId"]))
        conn.execute("ANALYZE public.bench_key")


def api_key(url: str, name: str, scopes: str) -> str:
    registered, _ = run_mdr(url, "clients", "add", name, "--scopes", scopes)
    key: str = registered["key"]
    return key


def client_id(cluster: LocalCluster, name: str) -> int:
    with psycopg.connect(cluster.conninfo(database="mdr")) as conn:
        row = conn.execute("SELECT id FROM audit.api_client WHERE name = %s", (name,)).fetchone()
    assert row is not None, name
    return int(row[0])


def answers(url: str, key: str | None, bodies: list[dict[str, Any]],
            path: Sequence[str]) -> list[dict[str, Any]]:
    """The server's answers to the bodies, one by one, each taken at ``path`` in data."""
    found = []
    for body in bodies:
        answer: Any = post(url, json.dumps(body), key)
        if answer.get("errors"):
            raise SystemExit(f"{url} answered {body} with errors: {answer['errors']}")
        answer = answer["data"]
        for step in path:
            answer = answer[step]
        found.append(answer)
    return found


def agreement_claims(job: Job, claims: list[dict[str, Any]], count: int = 30
                     ) -> list[dict[str, Any]]:
    """Claims on which mdr and the peer must agree: some as sampled (found or not), some
    with the name spelt differently (decomposed, upper case: still a match), some with
    a field made wrong (a mismatch)."""
    out = []
    for i, claim in enumerate(claims[:count]):
        if i % 3 == 1 and claim.get(job.name_field):
            claim = {**claim, job.name_field: unicodedata.normalize(
                "NFD", claim[job.name_field]).upper()}
        elif i % 3 == 2:
            claim = job.spoil(claim)
        out.append(claim)
    return out


def check_agreement(ours: list[dict[str, Any]], theirs: list[dict[str, Any]],
                    claims: list[dict[str, Any]], columns: dict[str, str]) -> None:
    """mdr and the function-based peer answered the same claims alike (found, match, status
    and each claimed field), or the bench stops: otherwise they would do different jobs.
    ``columns``: mdr's field name: the peer's column."""
    for claim, mine, peer in zip(claims, ours, theirs, strict=True):
        fields = {f["field"]: f["match"] for f in mine["fields"]}
        if mine["found"] != peer["found"] or mine["match"] != peer["match"] \
                or mine["status"] != peer["status"] \
                or any(peer[columns[f]] != m for f, m in fields.items()):
            raise SystemExit(f"mdr and the peer answer {claim} differently: {mine} {peer}")


# -- the run --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=1_000_000, help="persons in the registry")
    parser.add_argument("--duration", type=int, default=20, help="seconds per load run")
    parser.add_argument("--threads", type=int, default=2, help="wrk and pgbench threads")
    parser.add_argument("--connections", type=int, default=16,
                        help="wrk connections and pgbench clients")
    # The database and the load generator share the machine with the server: on two
    # cores one worker answers more single verifications than two (less contention),
    # two answer more batches. Half the cores is the default; say --workers to change it.
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 1) // 2),
                        help="mdr serve worker processes (default: half the cores)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the prepared cluster under var/ for the next run")
    args = parser.parse_args()

    wrk_binary = ensure_wrk()
    postgraphile = ensure_postgraphile()
    work = ROOT / "var" / f"bench-api-verify-{args.scale}"
    cluster, persons = prepare(work, args.scale)
    try:
        claims = sample_claims(persons, min(20_000, max(2 * BATCH, args.scale)), seed=2)
        make_key_table(cluster, claims)
        enterprises = enterprise_claims(cluster, persons, max(1_000, args.scale // 10), seed=3)
        url = cluster.url()
        scopes = "verify:person,verify:enterprise"
        key = api_key(url, f"bench-{os.getpid()}", scopes)
        peer_client = f"bench-peer-{os.getpid()}"
        api_key(url, peer_client, scopes)
        install_peer(cluster, client_id(cluster, peer_client))
        jobs = [(PERSON, claims), (ENTERPRISE, enterprises)]
        runs = work / "runs"
        runs.mkdir(exist_ok=True)
        many = write_bodies(runs / "mdr-many.jsonl", (
            {"query": VERIFY_MANY, "variables": {"claims": claims[i:i + BATCH]}}
            for i in range(0, len(claims) - BATCH + 1, BATCH)))
        peer = write_bodies(runs / "postgraphile-one.jsonl", (
            {"query": POSTGRAPHILE_ONE, "variables": {"id": c["nationalId"]}} for c in claims))
        bodies = {job.name: (write_bodies(runs / f"mdr-{job.name}.jsonl", (
                                 job.body(c) for c in job_claims)),
                             write_bodies(runs / f"postgraphile-{job.name}.jsonl", (
                                 job.peer_body(c) for c in job_claims)),
                             agreement_claims(job, job_claims))
                  for job, job_claims in jobs}

        mdr_port, peer_port = free_port(), free_port()
        warm_up = argparse.Namespace(**{**vars(args), "duration": min(2, args.duration)})
        database = postmaster(cluster)
        mdr_env = {**os.environ, "MDR_DATABASE_URL": url,
                   # The limiters (requests and claims per client) stay on, set high
                   # enough not to refuse the bench's load; every other bound keeps its
                   # production default.
                   "MDR_API_RATE_LIMIT": "1000000", "MDR_API_CLAIM_RATE": "100000000"}
        figures: dict[str, Any] = {"claims_sampled": len(claims),
                                   "enterprises": max(1_000, args.scale // 10),
                                   "enterprise_claims_sampled": len(enterprises),
                                   "mdr_workers": args.workers,
                                   "wrk": {"threads": args.threads,
                                           "connections": args.connections,
                                           "duration_s": args.duration, "binary": wrk_binary}}
        ours: dict[str, list[dict[str, Any]]] = {}
        with server([str(ROOT / ".venv" / "bin" / "mdr"), "serve", "--port", str(mdr_port),
                     "--workers", str(args.workers)], mdr_port, mdr_env) as (endpoint, group):
            check_answers(endpoint, many, key, "verifyPersons")
            for job, _ in jobs:
                one, _, agree = bodies[job.name]
                check_answers(endpoint, one, key, job.field)
                ours[job.name] = answers(endpoint, key, [job.body(c) for c in agree],
                                         (job.field,))
                wrk(endpoint, one, key, warm_up, group, database)
                figures[f"mdr_{job.name}"] = wrk(endpoint, one, key, args, group, database)
            batch = wrk(endpoint, many, key, args, group, database)
            batch["claims_per_s"] = batch["requests_per_s"] * BATCH
            figures["mdr_verify_persons_1000"] = batch
        peer_url = db.role_url(url, db.Role.API).replace("postgresql+psycopg://", "postgres://")
        with server([str(postgraphile), "-c", peer_url, "-s", f"population,{PEER_SCHEMA}",
                     "--host", "127.0.0.1", "--port", str(peer_port),
                     # The options PostGraphile's documentation recommends for production.
                     "--retry-on-init-fail", "--dynamic-json",
                     "--no-setof-functions-contain-nulls", "--no-ignore-rbac",
                     "--extended-errors", "errcode", "--disable-graphiql",
                     "--enable-query-batching", "--disable-query-log",
                     "--legacy-relations", "omit"], peer_port, dict(os.environ)
                    ) as (endpoint, group):
            for job, _ in jobs:
                _, peer_one, agree = bodies[job.name]
                check_answers(endpoint, peer_one, None, job.field)
                check_agreement(ours[job.name], answers(
                    endpoint, None, [job.peer_body(c) for c in agree],
                    (job.field, job.peer_payload)), agree, job.columns)
                wrk(endpoint, peer_one, None, warm_up, group, database)
                figures[f"postgraphile_{job.name}"] = wrk(endpoint, peer_one, None, args, group,
                                                          database)
            check_answers(endpoint, peer, None, "personByNationalId")
            wrk(endpoint, peer, None, warm_up, group, database)
            figures["postgraphile_person_lookup"] = wrk(endpoint, peer, None, args, group,
                                                        database)
        figures["pgbench_one"] = pgbench(cluster, PGBENCH_ONE.format(n=len(claims)), args, work)
        batch_db = pgbench(cluster, PGBENCH_BATCH.format(last=len(claims) - BATCH + 1,
                                                         span=BATCH - 1), args, work)
        batch_db["keys_per_s"] = batch_db["statements_per_s"] * BATCH
        figures["pgbench_batch_1000"] = batch_db

        def ratio(ours: str, reference: str, unit: str = "requests_per_s") -> float:
            return round(float(figures[ours][unit]) / float(max(1, figures[reference][unit])), 3)

        ratios = {f"{job.name}_vs_postgraphile_function":
                  ratio(f"mdr_{job.name}", f"postgraphile_{job.name}") for job, _ in jobs}
        ratios["verify_person_vs_postgraphile_lookup"] = ratio(
            "mdr_verify_person", "postgraphile_person_lookup")
        ratios["verify_person_vs_pgbench_one"] = round(
            figures["mdr_verify_person"]["requests_per_s"]
            / max(1, figures["pgbench_one"]["statements_per_s"]), 3)
        ratios["verify_persons_vs_pgbench_batch"] = round(
            batch["claims_per_s"] / max(1, batch_db["keys_per_s"]), 3)
        targets = {f"{job.name}_vs_postgraphile_function": ">= 1.0" for job, _ in jobs}
        targets.update({f"{job.name}_p99_ms": "<= 10" for job, _ in jobs})
        targets.update({"verify_persons_claims_per_s": ">= 100000",
                        "verify_persons_vs_pgbench_batch": ">= 0.25"})
        print(json.dumps({"bench": "api_verify", "scale": args.scale, "figures": figures,
                          "ratios": ratios, "targets": targets}, indent=2))
    finally:
        if args.keep:
            cluster.stop()
        else:
            cluster.destroy()
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
