"""``mdr demo``: the main job end to end, on a generated national sample.

The demo drives the same ``mdr`` commands a steward types, shows each before it runs,
and ends with a banner: where the API is, a key, queries ready to paste, the quality
report and how to stop. Every printed query has been sent to the running API once and
answered as the banner says, so what a newcomer pastes works.

What a run leaves in ``var/demo/state.json`` lets the next run reuse it: loads whose
run is still committed in the database are skipped, the key is kept while its client
is active, and a running API is left running. ``mdr demo stop`` stops the API (and the
embedded database).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from string import Template
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from mdr import db
from mdr.output import err
from mdr.settings import PROJECT_ROOT, Settings

DEFAULT_PERSONS = 100_000
PARCELS_PER_PERSON = 0.05
"""The demo's parcels: a few real communes' worth (400 plots each) ..."""
FEWEST_PARCELS = 1_200
"""... and at least three communes."""
SAMPLE_DAY = "2026-01-01"
SDMX = PROJECT_ROOT / "fixtures" / "sdmx"
MACRO_STEPS = {
    "macro-structure": ["load", "macro", str(SDMX / "ECB_EXR_1_structure.xml")],
    "macro-series": ["load", "macro", str(SDMX / "ECB_EXR_1_M.USD.EUR.SP00.A.xml")],
    "derive-2025": ["macro", "derive", "--as-of", SAMPLE_DAY, "--units", "2025"],
    "derive-legacy": ["macro", "derive", "--as-of", SAMPLE_DAY, "--units", "legacy"],
}
"""A real series (the ECB's USD/EUR rate) and the indicators derived from the sample."""
"""The day the generated sample describes (the generator's default)."""
ENTERPRISE_BASE_DAY = "2024-01-01"
"""The day the generated enterprise snapshot describes (two years before the sample's)."""
DEFECT_RATE = 0.01
"""A few labelled defects, so that the steward's side (rejections) has something to show."""
SCOPES = ("verify:person,read:person,audit:read,verify:enterprise,read:enterprise,read:land,"
          "read:macro")
API_START_SECONDS = 60.0


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and what it printed."""


@dataclass
class DemoState:
    """What the last run left, for the next one to reuse."""

    database: str
    persons: int
    seed: int
    runs: dict[str, int] = field(default_factory=dict)
    """Step (ref, persons, events, parcels, rights, ...) → id of its committed load run."""
    quality: dict[str, Any] | None = None
    key: str | None = None
    pid: int | None = None
    port: int | None = None

    @classmethod
    def read(cls, path: Path) -> DemoState | None:
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # The file holds the demo key: readable by its owner only.
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")


@dataclass(frozen=True)
class Example:
    """A query ready to paste, with what its answer shows."""

    title: str
    query: str
    curl: str
    expect: dict[str, Any]
    """The ``data`` the API answered when the demo tried it."""


@dataclass(frozen=True)
class SdmxExample:
    """An SDMX data URL of a flow derived from the registries, ready to paste."""

    title: str
    flow: str
    url: str
    observations: int
    """How many observations the API answered when the demo fetched it."""


@dataclass
class DemoResult:
    api: str
    graphiql: str
    key: str
    database: str
    persons: int
    report: str
    reused: list[str]
    loads: dict[str, dict[str, Any]]
    quality: dict[str, Any] | None
    examples: list[Example]
    persons_run: int | None = None
    """The load run of the sample's persons (some of its rows were rejected on purpose)."""
    sdmx: list[SdmxExample] = field(default_factory=list)
    """An SDMX-CSV data URL of each derived flow the registry publishes."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def demo_parcels(persons: int) -> int:
    """How many parcels the demo lays out for a sample of ``persons``."""
    return max(FEWEST_PARCELS, round(persons * PARCELS_PER_PERSON))
def enterprise_count(persons: int) -> int:
    """Enterprises ``mdr fixtures generate all`` makes for a population of ``persons``."""
    from fixtures.registries import by_name

    return max(1, round(persons * by_name("enterprise").per_person))


def state_path(cfg: Settings) -> Path:
    return cfg.var_dir / "demo" / "state.json"


def run_demo(cfg: Settings, persons: int = DEFAULT_PERSONS, seed: int = 1,
             port: int | None = None) -> DemoResult:
    """Bring everything up (reusing what the last run left) and try the examples."""
    folder = cfg.var_dir / "demo"
    if cfg.embedded:
        _mdr(["db", "up"])
    _mdr(["db", "migrate"])
    url = db.primary_url(cfg)
    database = make_url(url).render_as_string(hide_password=True)
    state = DemoState.read(state_path(cfg))
    if state is None or (state.database, state.persons, state.seed) != (database, persons, seed):
        old_api = state.pid if state else None
        if old_api and _alive(old_api):  # it serves another database or sample
            _stop_process(old_api)
        state = DemoState(database, persons, seed)
    reused: list[str] = []
    loads: dict[str, dict[str, Any]] = {}
    admin = db.make_engine(url, cfg, pool_size=1)
    try:
        db.require_current_schema(admin)
        committed = _committed(admin, state.runs.values())
        if state.runs.get("ref") in committed:
            reused.append("reference data")
        else:
            loads["ref"] = _load(state, "ref", ["load", "ref"])
        data = folder / "data"
        sample = _Sample(state, committed, reused, loads, data, seed)
        # The population and the business register are one consistent set (enterprises'
        # people are its persons): the register as it stood two years earlier, then what
        # changed since.
        population_loaded = sample.ensure(["all", "--count", str(persons)],
                      [f"{persons:,} persons", f"{enterprise_count(persons):,} enterprises"],
                      {"persons": ("population", data / "persons.csv", SAMPLE_DAY),
                       "events": ("population", data / "events.csv", SAMPLE_DAY),
                       "enterprises": ("enterprise", data / "enterprises.csv",
                                       ENTERPRISE_BASE_DAY),
                       "enterprise_changes": ("enterprise", data / "enterprise_changes.csv",
                                              SAMPLE_DAY)})
        # The parcels' holders are the persons just loaded (persons.csv beside).
        parcels = demo_parcels(persons)
        sample.ensure(["land", "--count", str(parcels)], [f"{parcels:,} parcels"],
                      {step: ("land", data / name, SAMPLE_DAY) for step, name in (
                          ("parcels", "parcels.geojson"), ("rights", "rights.csv"),
                          ("parcel_changes", "parcel_changes.geojson"),
                          ("right_changes", "right_changes.csv"))})
        # The derived indicators are the registry's figures: derived again when it changed.
        if not population_loaded and all(state.runs.get(step) in committed
                                         for step in MACRO_STEPS):
            reused.append("macro series and derived indicators")
        else:
            for step, args in MACRO_STEPS.items():
                loads[step] = _load(state, step, args)
            state.quality = None
        report = cfg.var_dir / "reports" / "quality.html"
        if state.quality is not None and report.exists():
            reused.append("quality report")
        else:
            state.quality = _quality(report)
        if state.key is None or not _key_active(admin, state.key):
            state.key = _new_client()
        state.write(state_path(cfg))
        port = _serve(state, port, folder / "api.log", reused)
        state.write(state_path(cfg))
        api = f"http://127.0.0.1:{port}/graphql"
        examples = _examples(admin, api, state.key)
        sdmx = _sdmx_examples(admin, api, state.key)
    finally:
        admin.dispose()
    return DemoResult(api=api, graphiql=api, key=state.key, database=database,
                      persons=persons, report=str(report), reused=reused, loads=loads,
                      quality=state.quality, examples=examples,
                      persons_run=state.runs.get("persons"), sdmx=sdmx)


@dataclass
class _Sample:
    """The generated samples of a run: each generated and loaded, or reused when its loads
    committed in an earlier run."""

    state: DemoState
    committed: set[int]
    reused: list[str]
    loads: dict[str, dict[str, Any]]
    data: Path
    seed: int

    def ensure(self, generate: list[str], what: list[str],
               files: dict[str, tuple[str, Path, str]]) -> bool:
        """``mdr fixtures generate <generate...>``, then each file's load (step: registry,
        path, effective date), unless every one of those loads committed before; whether
        it loaded them."""
        if all(self.state.runs.get(step) in self.committed for step in files):
            self.reused.extend(what)
            return False
        _mdr(["fixtures", "generate", *generate, "--seed", str(self.seed),
              "--defect-rate", str(DEFECT_RATE), "--out", str(self.data)])
        for step, (registry, path, day) in files.items():
            self.loads[step] = _load(self.state, step, ["load", registry, str(path),
                                                        "--effective-date", day])
        self.state.quality = None
        return True


def stop_demo(cfg: Settings) -> list[str]:
    """Stop the demo's API and, when mdr runs its own database, the database."""
    stopped: list[str] = []
    state = DemoState.read(state_path(cfg))
    if state and state.pid and _alive(state.pid):
        _stop_process(state.pid)
        stopped.append(f"the API (pid {state.pid})")
    if state:
        state.pid = None
        state.write(state_path(cfg))
    if cfg.embedded and db.embedded_cluster(cfg).status().running:
        db.embedded_cluster(cfg).stop()
        stopped.append("the embedded database")
    return stopped


# -- the steps --------------------------------------------------------------------------------


def _mdr(args: Sequence[str], *, json_out: bool = False,
         ok_codes: tuple[int, ...] = (0,)) -> dict[str, Any]:
    """Run one ``mdr`` command as a steward would, showing it first; its progress and
    messages reach the terminal, its JSON summary (with ``json_out``) is returned."""
    shown = "mdr " + " ".join(shlex.quote(a) for a in args)
    err.print(f"[bold cyan]$ {shown}[/bold cyan]", highlight=False, soft_wrap=True)
    command = [str(_mdr_executable()), *args, *(["--json"] if json_out else [])]
    done = subprocess.run(command, stdout=subprocess.PIPE if json_out else None,
                          stdin=subprocess.DEVNULL, check=False)
    if done.returncode not in ok_codes:
        raise DemoError(f"`{shown}` failed (exit status {done.returncode}); the lines above "
                        "say why.")
    if not json_out:
        return {}
    payload: dict[str, Any] = json.loads(done.stdout)
    return payload


def _mdr_executable() -> Path:
    return Path(sys.executable).with_name("mdr")


def _load(state: DemoState, step: str, args: list[str]) -> dict[str, Any]:
    summary = _mdr(args, json_out=True)
    if summary.get("status") != "committed":
        raise DemoError(f"The {step} load ended {summary.get('status')}: "
                        f"{summary.get('message')}")
    state.runs[step] = int(summary["run_id"])
    rejected = summary.get("rejected") or 0
    err.print(f"  {summary['read']:,} rows read, {summary['inserted']:,} inserted, "
              f"{summary['unchanged']:,} unchanged, {rejected:,} rejected "
              f"in {summary['seconds']} s", highlight=False)
    return summary


def _quality(report: Path) -> dict[str, Any]:
    # Exit status 1 means an expectation failed: a finding to show, not a demo failure.
    summary = _mdr(["quality", "run", "all", "--report", str(report)], json_out=True,
                   ok_codes=(0, 1))
    for name, registry in summary.get("registries", {}).items():
        err.print(f"  {name}: score {registry['score']:.3f}, {registry['passed']} rules "
                  f"passed, {registry['failed']} failed", highlight=False)
    return summary


def _new_client() -> str:
    name = f"demo-{dt.datetime.now():%Y%m%d-%H%M%S}"
    return str(_mdr(["clients", "add", name, "--scopes", SCOPES], json_out=True)["key"])


def _committed(engine: Engine, run_ids: Any) -> set[int]:
    ids = [int(i) for i in run_ids]
    if not ids:
        return set()
    with engine.connect() as conn:
        return set(conn.execute(text(
            "SELECT id FROM etl.load_run WHERE id = ANY(:ids) AND status = 'committed'"),
            {"ids": ids}).scalars())


def _key_active(engine: Engine, key: str) -> bool:
    """Whether the demo's key is active and holds every scope its examples use (a key of
    an earlier demo may hold fewer)."""
    from graphql_api.auth import hash_key

    with engine.connect() as conn:
        held = conn.execute(text(
            "SELECT s.scope FROM audit.api_client c JOIN audit.api_client_scope s "
            "ON s.client_id = c.id WHERE c.key_hash = :h AND c.revoked_at IS NULL"),
            {"h": hash_key(key)}).scalars().all()
    return set(SCOPES.split(",")) <= set(held)


def _serve(state: DemoState, port: int | None, log: Path, reused: list[str]) -> int:
    """The API's port: the running demo API's, or a new ``mdr serve`` in the background."""
    if state.pid and state.port and _alive(state.pid) and _answers(state.port):
        if port is None or port == state.port:
            reused.append(f"the API on port {state.port}")
            return state.port
        _stop_process(state.pid)
    port = port or _free_port(8000)
    err.print(f"[bold cyan]$ mdr serve --port {port} &[/bold cyan]", highlight=False,
              soft_wrap=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    # Development mode serves GraphiQL; the server only listens on loopback.
    env = {**os.environ, "MDR_API_DEV": "1"}
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [str(_mdr_executable()), "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, env=env,
            start_new_session=True)  # outlives this command, not tied to its terminal
    deadline = time.monotonic() + API_START_SECONDS
    while not _answers(port):
        if process.poll() is not None:
            raise DemoError(f"mdr serve stopped at start (exit status {process.returncode}); "
                            f"see {log}.")
        if time.monotonic() > deadline:
            _stop_process(process.pid)
            raise DemoError(f"mdr serve did not answer within {API_START_SECONDS:.0f} s; "
                            f"see {log}.")
        time.sleep(0.2)
    state.pid, state.port = process.pid, port
    return port


def _answers(port: int) -> bool:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", method="POST",
                                     data=b'{"query": "{ __typename }"}',
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # 401 without a key: it is up
    except OSError:
        return False


def _free_port(preferred: int) -> int:
    for candidate in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise DemoError("No free port on 127.0.0.1.")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _stop_process(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):  # our own child: reap it
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    if _alive(pid):
        os.killpg(pid, signal.SIGKILL)


# -- the examples -----------------------------------------------------------------------------


_PICK = """
    SELECT p.national_id, n.full_name, p.birth_date
    FROM population.person p
    JOIN population.person_name n ON n.national_id = p.national_id
     AND n.superseded_at IS NULL AND n.valid_to IS NULL
    WHERE p.status = 'alive'
      AND EXISTS (SELECT 1 FROM population.residence r
                  WHERE r.national_id = p.national_id AND r.superseded_at IS NULL
                    AND r.valid_from > p.birth_date)
    ORDER BY (SELECT count(*) FROM population.residence r
              WHERE r.national_id = p.national_id AND r.superseded_at IS NULL) DESC,
             p.national_id
    LIMIT 1"""

# An active enterprise with a representative and a head office today, the one with the
# most history first (changes of name, representative or office show asOf at work).
_PICK_ENTERPRISE = """
    SELECT e.code, n.name, r.national_id, u.code AS unit_code
    FROM enterprise.enterprise e
    JOIN enterprise.enterprise_status s ON s.enterprise_code = e.code
     AND s.superseded_at IS NULL AND s.valid_to IS NULL AND s.status = 'active'
    JOIN enterprise.enterprise_name n ON n.enterprise_code = e.code
     AND n.superseded_at IS NULL AND n.valid_to IS NULL
    JOIN enterprise.legal_representative r ON r.enterprise_code = e.code
     AND r.superseded_at IS NULL AND r.valid_to IS NULL
    JOIN enterprise.head_office h ON h.enterprise_code = e.code
     AND h.superseded_at IS NULL AND h.valid_to IS NULL
    JOIN ref.admin_unit u ON u.id = h.unit_id
    ORDER BY (SELECT count(*) FROM enterprise.legal_representative x
              WHERE x.enterprise_code = e.code AND x.superseded_at IS NULL)
           + (SELECT count(*) FROM enterprise.enterprise_name x
              WHERE x.enterprise_code = e.code AND x.superseded_at IS NULL) DESC,
             e.code, r.national_id
    LIMIT 1"""

_LAST_MOVE = """
    SELECT max(valid_from) FROM population.residence
    WHERE national_id = :id AND superseded_at IS NULL"""


def _examples(engine: Engine, api: str, key: str) -> list[Example]:
    """Queries about a person and an enterprise of the sample, each tried once against the
    API."""
    with engine.connect() as conn:
        row = conn.execute(text(_PICK)).first()
        if row is None:
            raise DemoError("The sample holds no living person to show.")
        number, name, born = str(row[0]), str(row[1]), row[2]
        before_move = conn.execute(text(_LAST_MOVE), {"id": number}).scalar_one() \
            - dt.timedelta(days=1)
        firm = conn.execute(text(_PICK_ENTERPRISE)).first()
        if firm is None:
            raise DemoError("The sample holds no active enterprise to show.")
    wrong_birth = born + dt.timedelta(days=1)
    verify = Template('{ verifyPerson(claim: {nationalId: "$id", fullName: "$name", '
                      'birthDate: "$born"}) { found match status fields { field match } '
                      'reference } }')
    look_up = Template('{ person(nationalId: "$id", asOf: "$day") { nationalId birthDate '
                       'status name { fullName } residences { addressLine since '
                       'commune { code name } } } }')
    verify_enterprise = Template(
        '{ verifyEnterprise(claim: {code: "$code", name: "$name", legalRepresentativeId: '
        '"$representative", headOfficeUnitCode: "$unit"}) { found match status '
        'fields { field match } reference } }')
    access_log = Template('{ accessLog(nationalId: "$id", first: 5) { edges { node { at '
                          'client operation outcome } } } }')
    examples = [
        ("A verification that matches: the name in capitals, as many forms write it, "
         "still matches", verify.substitute(id=number, name=name.upper(), born=born)),
        ("A verification that does not match: the claimed birth date is a day off",
         verify.substitute(id=number, name=name, born=wrong_birth)),
        (f"A look-up as of a date: the person on {before_move}, the day before their "
         "latest move, at their earlier address", look_up.substitute(id=number,
                                                                     day=before_move)),
        ("Who has checked or read this person's data (the audit trail)",
         access_log.substitute(id=number)),
        ("An enterprise verification: its name in lower case, its legal representative and "
         "the code of its head office's commune, each answered yes or no",
         verify_enterprise.substitute(code=firm.code, name=firm.name.lower(),
                                      representative=firm.national_id,
                                      unit=firm.unit_code)),
        ("A real series: the ECB's USD/EUR reference rate in 2019, its values and the "
         "releases (vintages) that published them",
         '{ series(flow: "ECB_EXR1", key: "M.USD.EUR.SP00.A", startPeriod: "2019-01", '
         'endPeriod: "2019-12", first: 1) { edges { node { key attributes observations { '
         'period value status releaseDate } vintages { releaseDate observations } } } } }'),
        (f"Derived from the registry: the population of each 2025 province and of the "
         f"country (VN) on {SAMPLE_DAY} (key D.<area>.<sex>.<age>, _T for total)",
         '{ series(flow: "POP_PROV_2025", key: "D.._T._T", first: 40) { edges { node { '
         'key observations { period value status releaseDate } } } } }'),
    ]
    examples += _land_examples(engine)
    out: list[Example] = []
    for title, query in examples:
        data = _ask(api, key, query)
        out.append(Example(title=title, query=query, curl=curl_line(api, key, query),
                           expect=data))
    return out


_PICK_PARCEL = """
    SELECT ST_X(ST_PointOnSurface(v.geom)), ST_Y(ST_PointOnSurface(v.geom)), u.full_name
    FROM land.parcel_version v JOIN ref.admin_unit u ON u.id = v.unit_id
    JOIN land.rrr r ON r.parcel_id = v.parcel_id AND r.superseded_at IS NULL
     AND r.valid_to IS NULL AND r.rrr_type = 'land-use-right'
    JOIN land.party h ON h.id = r.party_id AND h.party_kind = 'group'
    WHERE v.superseded_at IS NULL AND v.valid_to IS NULL
    ORDER BY v.parcel_id LIMIT 1"""

_PICK_SPLIT = """
    SELECT l.child_id FROM land.parcel_lineage l WHERE l.change_kind = 'split'
    ORDER BY l.child_id LIMIT 1"""


def _land_examples(engine: Engine) -> list[tuple[str, str]]:
    """A parcel at a point (held by a couple) and a split parcel's history."""
    with engine.connect() as conn:
        point = conn.execute(text(_PICK_PARCEL)).first()
        split = conn.execute(text(_PICK_SPLIT)).scalar()
    if point is None or split is None:
        raise DemoError("The land sample holds no jointly held parcel or no split to show.")
    lon, lat, commune = round(float(point[0]), 7), round(float(point[1]), 7), point[2]
    at = (f'{{ parcelsAt(lon: {lon}, lat: {lat}, asOf: "{SAMPLE_DAY}") {{ id communeCode '
          'mapSheet parcelNumber landUse declaredAreaM2 geodesicAreaM2 rights { type share '
          'validFrom source { type reference } holder { kind personNumber members { '
          'personNumber share } } } } }')
    history = (f'{{ parcel(id: "{split}", asOf: "2026-06-01") {{ communeCode mapSheet '
               'parcelNumber validFrom cameFrom { communeCode mapSheet parcelNumber change '
               'effectiveDate } geometry } }')
    return [(f"The parcel at a point in {commune} (lon {lon}, lat {lat}) with its holders: "
             "a couple, half each", at),
            ("A parcel split from another: where it came from, and its boundary as GeoJSON",
             history)]


_PUBLISHED = """
    SELECT f.code FROM macro.dataflow f
    WHERE f.agency = :agency
      AND EXISTS (SELECT 1 FROM macro.release r WHERE r.dataflow_id = f.id)"""


def _sdmx_examples(engine: Engine, api: str, key: str) -> list[SdmxExample]:
    """A URL for each derived flow the registry publishes, in its 2025 units: every
    province by the flow's first breakdown, its other dimensions totalled; each fetched
    once as SDMX-CSV."""
    from loaders.macro_derived import AGENCY, AREA, DERIVATIONS, TOTAL, UNIT_SETS, flow_code

    with engine.connect() as conn:
        published = set(conn.execute(text(_PUBLISHED), {"agency": AGENCY}).scalars())
    base = api.removesuffix("/graphql") + "/sdmx/2.1/data"
    out: list[SdmxExample] = []
    for derivation in DERIVATIONS:
        flow = flow_code(derivation, UNIT_SETS[0])
        if flow not in published:
            continue
        first, *others = [dimension for dimension, _, _ in derivation.dimensions[len(AREA):]]
        # FREQ is D; REF_AREA and the first breakdown are left empty: any code.
        series_key = ".".join(["D", "", "", *[TOTAL] * len(others)])
        url = f"{base}/{flow}/{series_key}?format=csv"
        out.append(SdmxExample(
            title=f"{derivation.name}: each province by {first.lower().replace('_', ' ')}",
            flow=flow, url=url, observations=_sdmx_observations(url, key)))
    return out


def _sdmx_observations(url: str, key: str) -> int:
    """How many observations an SDMX-CSV answer holds (a line each after the header)."""
    request = urllib.request.Request(url, headers={"authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            lines = response.read().decode().splitlines()
    except urllib.error.HTTPError as exc:
        raise DemoError(f"The API answered {exc.code} to {url}: "
                        f"{exc.read().decode(errors='replace')[:500]}") from None
    if len(lines) < 2:
        raise DemoError(f"The API answered {url} with no observations.")
    return len(lines) - 1


def curl_line(api: str, key: str, query: str) -> str:
    """A shell line that sends ``query`` to the API with the key."""
    body = json.dumps({"query": query}, ensure_ascii=False)
    return (f"curl -s {api} -H {shlex.quote('Authorization: Bearer ' + key)} "
            f"-H 'content-type: application/json' -d {shlex.quote(body)}")


def _ask(api: str, key: str, query: str) -> dict[str, Any]:
    request = urllib.request.Request(
        api, method="POST", data=json.dumps({"query": query}).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise DemoError(f"The API answered {exc.code} to an example: "
                        f"{exc.read().decode(errors='replace')[:500]}") from None
    if answer.get("errors") or not answer.get("data"):
        raise DemoError(f"The API answered an example with errors: {answer}")
    data: dict[str, Any] = answer["data"]
    return data


def banner(result: DemoResult) -> str:
    """What a newcomer reads when the demo is up (rich markup)."""
    lines = [
        "",
        "[bold green]mdr is running.[/bold green]",
        f"  API        {result.api}  (GraphQL over HTTP; send the key as "
        "'Authorization: Bearer KEY')",
        f"  GraphiQL   {result.graphiql}  (open it in a browser; add the header "
        '{"Authorization": "Bearer KEY"} in its Headers tab)',
        f"  key        {result.key}  (client with {SCOPES})",
        f"  database   {result.database}  ({result.persons:,} generated persons, "
        f"{enterprise_count(result.persons):,} enterprises)",
        f"  quality    {result.report}",
    ]
    if result.reused:
        lines.append(f"  reused     {', '.join(result.reused)}")
    lines += ["", "[bold]Try these (paste them into a shell):[/bold]"]
    for number, example in enumerate(result.examples, start=1):
        lines += ["", f"{number}. {example.title}", example.curl]
    if result.sdmx:
        lines += ["", "[bold]SDMX for statistical tools[/bold] (the figures derived from the "
                  "registries, as SDMX-CSV; drop format=csv for SDMX-JSON):"]
        for derived in result.sdmx:
            lines += ["", f"{derived.title} ({derived.observations:,} observations)",
                      f"curl -s {shlex.quote(derived.url)} "
                      f"-H {shlex.quote('Authorization: Bearer ' + result.key)}"]
    lines += [
        "",
        "[bold]A steward's day:[/bold]",
        "  .venv/bin/mdr runs                      the loads: counts, who, checksums",
    ]
    if result.persons_run is not None:
        lines.append(f"  .venv/bin/mdr rejects export {result.persons_run} --out "
                     "var/demo/rejects.csv   the sample's rejected rows, to fix and reload")
    lines += [
        "  .venv/bin/mdr quality report            scores per registry and province, trend",
        "  .venv/bin/mdr reasons                   what each rejection reason means",
        "  .venv/bin/mdr ref units --as-of 2020-01-01 --level province",
        "",
        "Stop everything with: .venv/bin/mdr demo stop",
    ]
    return "\n".join(lines)
