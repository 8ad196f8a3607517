"""Many organisations on one Virker at once, on PostgreSQL: a realistic mix over HTTP against
`virker serve --workers N`, approvals across 50 contracts against approvals on one, the
journal's lock probed directly, and a soak.

The world (made through the services, the one door for each step): 5 municipalities
commission 50 contracts, one provider each; every contract names one audit firm; each
municipality has a web user and two API keys (the one who drafts a payment run may not
approve it); each contract has run for a while (200 claims drawn, verified where sampled,
approved and paid in one run) and has 2,000 participants enrolled for what comes next.

The mix, on loopback, a fixed number of clients (`--concurrency`), each taking the next job
as soon as its last is done, or jobs arriving at a fixed rate (`--rate`), until
`--duration` seconds or `--max-requests` requests:
- providers (36 %): a batch of 50 employment claims for participants enrolled earlier
  (POST /api/v1/contracts/{id}/claims), and a batch of 500 participants enrolled
  (…/participants) when all earlier ones have a claim;
- commissioners (36 %): the next step on one of their contracts: a verification draw of
  the claims waiting (…/samples), verifying one sampled claim (/claims/{id}/verify),
  approving 20 claims (…/approvals, accrued in the journal), or, at 60 approved claims, a
  payment run drafted with one key, approved and paid with the other;
- auditors (1 %): a contract's statement (…/statement.pdf, rendered by the report workers);
- web pages (27 %): a signed-in commissioner's work queue, contracts, a contract, its
  batches, a claim, the payments and a payment run.
The clients keep each contract's steps in order (a draw must know which claims it drew), as
one provider's system and one commissioner's office would; any answer that is not 2xx, or
a batch with a rejected row, is an error and fails the run. Where the server's autovacuum
is off (development machines), the benchmark runs ANALYZE every minute in its place.

Then (not in a soak) approvals alone: the same clients approve groups of claims made
beforehand, first spread over the 50 contracts, then all on one contract of as many claims.

The lock probe (no HTTP): K processes (K = 1, 2, 4, 8, 16), each with its own connection,
approve groups of claims on contracts of their own through `outcomes.verification.approve`,
the path the API takes; the time to take the journal's append lock (an advisory lock per
contract's chain, ledger.posting lock_chains) and the time it is held (taken → commit) are
measured around it in the probe's processes. Then how long one approval of 1, 10 and 100
claims holds it.

    flock /tmp/bench.lock .venv/bin/python -m benchmarks.load [--workers 2]
        [--concurrency 16] [--duration 60] [--max-requests N] [--rate R]
        [--skip-approvals] [--skip-probe] [--probe-only] [--keep]
    .venv/bin/python -m benchmarks.load --soak   (30 minutes at 10 jobs/s; the RSS of
        every server process every 10 s; the first 5 minutes are warm-up; passes with no
        error and no growth beyond 10 % after warm-up)
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

import httpx

from benchmarks.common import (
    backend_pids,
    command_line,
    cpu_seconds,
    drop,
    logged_server,
    machine,
    machine_busy_seconds,
    process_cpu,
    process_tree,
    recreate,
    rss_mb,
)

NAME, SOAK_NAME = "virker_bench_load", "virker_bench_load_soak"
PASSWORD = "load-benchmark-passphrase-2026"
REASON = "eIndkomst extract checked"
PERIOD = {"period_from": "2024-01-01", "period_to": "2025-12-31"}
# uvicorn closes a connection idle for 5 s; a client that keeps it as long may send a
# request just as it closes (httpx does not retry). Browsers retry such a request; these
# clients let idle connections go sooner instead.
KEEPALIVE = 2.0
# Who does what, in shares of the jobs.
WEIGHTS = {"provider": 36, "commissioner": 36, "auditor": 1, "page": 27}
PAGES = ["/queue", "/contracts", "/contracts/{contract}", "/contracts/{contract}/batches",
         "/claims/{claim}", "/payments", "/payment-runs/{run}"]


# The world: organisations, people, contracts --------------------------------------------------


def achieved(n: int) -> dt.date:
    return dt.date(2024, 3, 1) + dt.timedelta(days=n % 480)


async def _contract(reference: str, provider, commissioner, auditor, sampling_bp: int):
    import msgspec

    from contracts import service
    from contracts.identity import Principal
    from contracts.schemas import ContractIn
    from ledger import commitments

    money = {"currency": "DKK"}
    contract = await service.create_contract(None, msgspec.convert(dict(
        reference=reference, title=f"Employment support {reference}",
        provider_id=str(provider), currency="DKK",
        terms=dict(service_period={"start": "2024-01-01", "end": "2026-12-31"},
                   enrolment_period={"start": "2024-01-01", "end": "2026-06-30"},
                   claims_deadline="2030-12-31", cap={"amount": 10**13, **money},
                   commissioners=[{"organisation_id": str(commissioner), "share_bp": 10_000}],
                   auditor_ids=[str(auditor)], sampling_rate_bp=sampling_bp,
                   rate_card=[dict(code="job", metric_code="employment",
                                   price={"amount": 3_500_000, **money})])), ContractIn))
    await commitments.activate(Principal(organisation_id=commissioner, role="commissioner",
                                         label="load: activation"), contract.id, "benchmark")
    return contract.id


async def _enrol(provider, contract_id, names: list[str]) -> None:
    from outcomes import intake
    from outcomes.schemas import ParticipantIn

    for start in range(0, len(names), 10_000):
        key = f"enrol-{names[start]}"
        report, _ = await intake.submit_participants(intake.Submission(
            principal=provider, contract_id=contract_id, kind="participants",
            idempotency_key=key, body_hash=key), [
            (n, ParticipantIn(pseudonym=name, enrolled_on=dt.date(2024, 2, 1)), [])
            for n, name in enumerate(names[start:start + 10_000])])
        if report.rejected:
            raise RuntimeError(f"enrolment refused: {report.results[0]}")


async def _claim(provider, contract_id, names: list[str]) -> list[str]:
    """Employment claims for `names`, 1,000 a batch; their ids."""
    from outcomes import intake
    from outcomes.schemas import ClaimIn

    ids = []
    for start in range(0, len(names), 1_000):
        key = f"claims-{names[start]}"
        report, _ = await intake.submit_claims(intake.Submission(
            principal=provider, contract_id=contract_id, kind="claims",
            idempotency_key=key, body_hash=key), [
            (n, ClaimIn(client_ref=f"c-{name}", pseudonym=name, metric_code="employment",
                        achieved_on=achieved(start + n), evidence_ref=f"eindkomst-{name}"), [])
            for n, name in enumerate(names[start:start + 1_000])])
        if report.rejected:
            raise RuntimeError(f"claims refused: {report.results[0]}")
        ids += [str(r.id) for r in report.results]
    return ids


async def _approvable(boss, contract_id, ids: list[str]) -> list[str]:
    """Draw the verification sample; the claims it passed by (approvable at once)."""
    from outcomes import verification

    draw = await verification.draw_sample(boss, contract_id, None)
    chosen = {str(c) for c in draw.selected_claim_ids}
    return [c for c in ids if c not in chosen]


async def _history(provider, boss, checker, contract_id, names: list[str]) -> None:
    """What a contract that has run for a while has behind it: claims for `names` drawn,
    the sampled ones verified, all approved and paid in one run."""
    from uuid import UUID

    from outcomes import payments, verification
    from outcomes.schemas import PaymentRunIn

    ids = [UUID(c) for c in await _claim(provider, contract_id, names)]
    draw = await verification.draw_sample(boss, contract_id, None)
    for claim in draw.selected_claim_ids:
        await verification.decide(boss, claim, "verify", REASON)
    await verification.approve(boss, contract_id, ids, "approved")
    run, _ = await payments.create_run(boss, contract_id, PaymentRunIn(
        period_from=dt.date(2024, 1, 1), period_to=dt.date(2025, 12, 31)), None, "history")
    await payments.approve_run(checker, run.id)
    await payments.pay_run(checker, run.id)


async def seed(url: str, contracts: int = 50, commissioners: int = 5,
               participants: int = 2_000, approval_claims: int = 1_000,
               history: int = 200) -> dict:
    """Migrate and make the world (see the module's docstring): on each contract `history`
    claims already paid, `participants` enrolled for the providers to claim for, and, for
    the approvals alone, `approval_claims` drawn claims (as many in all on one more
    contract). Returns what the clients need to know, JSON-able."""
    from uuid import UUID

    import msgspec

    from contracts import directory, library
    from contracts.identity import Principal
    from contracts.schemas import ApiKeyIn, MetricIn, OrganisationIn, UserIn
    from core.database import bind, make_engine, migrate

    engine = make_engine(url)
    bind(engine)
    await engine.start_connection_pool(min_size=1, max_size=4)
    try:
        await migrate()
        await library.create_metric(None, msgspec.convert(dict(
            code="employment", name="Employment", definition="d", unit="participant",
            kind="event", evidence_required="e", verification_source="admin_data"),
            MetricIn))
        audit = await directory.create_organisation(None, OrganisationIn(
            name="Revision A/S", kind="audit_firm", identifier="DK-CVR-95000001"))
        world: dict = {"auditor": (await directory.create_api_key(None, ApiKeyIn(
            label="load: auditor", organisation_id=audit.id, role="auditor"))).key,
            "commissioners": [], "contracts": []}
        for c in range(commissioners):
            org = await directory.create_organisation(None, OrganisationIn(
                name=f"Kommune {c}", kind="municipality", identifier=f"DK-CVR-9600{c:04d}"))
            email = f"sofie{c}@kommune{c}.example"
            await directory.create_user(None, UserIn(
                organisation_id=org.id, email=email, display_name=f"Sofie {c}",
                role="commissioner", password=PASSWORD))
            keys = [(await directory.create_api_key(None, ApiKeyIn(
                label=f"load: {who}", organisation_id=org.id, role="commissioner"))).key
                for who in ("maker", "checker")]
            world["commissioners"].append({"org": str(org.id), "email": email,
                                           "maker": keys[0], "checker": keys[1]})
        for i in range(contracts + 1):
            boss_index = i % commissioners
            boss_org = UUID(world["commissioners"][boss_index]["org"])
            org = await directory.create_organisation(None, OrganisationIn(
                name=f"Provider {i}", kind="ngo", identifier=f"DK-CVR-9700{i:04d}"))
            key = (await directory.create_api_key(None, ApiKeyIn(
                label="load: provider", organisation_id=org.id, role="provider"))).key
            one = i == contracts  # the one contract the approvals alone are compared with
            cid = await _contract(f"LOAD-{'ONE' if one else i}", org.id, boss_org, audit.id,
                                  1_000)
            provider = Principal(organisation_id=org.id, role="provider", label="load")
            boss = Principal(organisation_id=boss_org, role="commissioner", label="load")
            checker = Principal(organisation_id=boss_org, role="commissioner",
                                label="load: checker")
            mine = [f"L{i:02d}-{n:06d}" for n in range(0 if one else participants)]
            drawn = [f"A{i:02d}-{n:06d}"
                     for n in range(approval_claims * (contracts if one else 1))]
            past = [f"H{i:02d}-{n:06d}" for n in range(0 if one else history)]
            await _enrol(provider, cid, past + mine + drawn)
            if past:
                await _history(provider, boss, checker, cid, past)
            ready = await _approvable(boss, cid, await _claim(provider, cid, drawn)) \
                if drawn else []
            side = {"id": str(cid), "provider": key, "provider_org": str(org.id),
                    "commissioner": boss_index, "enrolled": len(mine), "approvable": ready}
            if one:
                world["one"] = side
            else:
                world["contracts"].append(side)
        await engine.run_ddl("ANALYZE")
        return world
    finally:
        await engine.close_connection_pool()


# Measuring ----------------------------------------------------------------------------------


async def autovacuum_is_off(url: str) -> bool:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SHOW autovacuum") == "off"
    finally:
        await conn.close()


async def analyze(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def analyze_every(url: str, seconds: float, stop: asyncio.Event) -> None:
    """ANALYZE every `seconds` while the load runs, when the server's autovacuum is off (as
    on development machines): with statistics taken while the journal was small, the
    planner keeps scanning whole tables (the journal's balance trigger, foreign keys) long
    after they have grown, which no production server with autovacuum would do."""
    if not await autovacuum_is_off(url):
        return
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), seconds)
        except TimeoutError:
            await analyze(url)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


@dataclass
class Tally:
    """Round trips (ms) and errors per kind of request."""

    ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    requests: int = 0
    accrued: int = 0
    lag: list[float] = field(default_factory=list)
    seconds: float = 0.0
    exhausted: bool = False  # nothing left to do: the run ends early
    began: float = 0.0
    timeline: list[tuple[float, float]] = field(default_factory=list)  # (started, ms)

    def error(self, kind: str, what: str) -> None:
        self.errors[kind] += 1
        if len(self.examples) < 20:
            self.examples.append(f"{kind}: {what}")

    async def call(self, client: httpx.AsyncClient, kind: str, method: str, url: str,
                   expect: tuple[int, ...] = (200, 201), **kw) -> httpx.Response | None:
        self.requests += 1
        started = time.perf_counter()
        try:
            r = await client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            self.error(kind, f"{method} {url}: {type(exc).__name__} {exc}")
            return None
        ms = (time.perf_counter() - started) * 1000
        if r.status_code not in expect:
            self.error(kind, f"{method} {url}: {r.status_code} {r.text[:300]}")
            return None
        self.ms[kind].append(ms)
        self.timeline.append((started - self.began, ms))
        return r


# The mix ------------------------------------------------------------------------------------


@dataclass
class Side:
    """One contract as its provider's system and its commissioner's office know it."""

    index: int
    id: str
    provider_key: str
    boss: int
    enrolled: int
    claimed: int = 0
    undrawn: list[str] = field(default_factory=list)
    to_verify: list[str] = field(default_factory=list)
    approvable: list[str] = field(default_factory=list)
    unpaid: int = 0
    claims: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class Settings:
    concurrency: int = 16
    duration: float = 60.0
    max_requests: int = 10**9
    rate: float | None = None
    batch: int = 50
    enrol_batch: int = 500
    approve_group: int = 20
    pay_at: int = 60
    seed: int = 15
    weights: dict[str, int] = field(default_factory=lambda: dict(WEIGHTS))
    database: str | None = None  # ANALYZE it every minute if autovacuum is off


class Mix:
    def __init__(self, base: str, world: dict, settings: Settings, tally: Tally):
        self.base, self.world, self.s, self.t = base, world, settings, tally
        self.rng = random.Random(settings.seed)
        self.sides = [Side(index=i, id=c["id"], provider_key=c["provider"],
                           boss=c["commissioner"], enrolled=c["enrolled"])
                      for i, c in enumerate(world["contracts"])]
        self.api = httpx.AsyncClient(base_url=base + "/api/v1", timeout=300, limits=httpx.Limits(
            max_connections=settings.concurrency * 2,
            max_keepalive_connections=settings.concurrency * 2, keepalive_expiry=KEEPALIVE))
        self.pages: list[httpx.AsyncClient] = []

    async def sign_in(self) -> None:
        for boss in self.world["commissioners"]:
            client = httpx.AsyncClient(base_url=self.base, timeout=300,
                                       headers={"Accept": "text/html"},
                                       limits=httpx.Limits(keepalive_expiry=KEEPALIVE))
            await client.get("/login")
            r = await client.post("/login", data={
                "email": boss["email"], "password": PASSWORD,
                "_csrf_token": client.cookies.get("csrftoken", "")})
            if r.status_code != 303:
                raise RuntimeError(f"{boss['email']} could not sign in: {r.status_code}")
            self.pages.append(client)

    async def close(self) -> None:
        for client in (self.api, *self.pages):
            await client.aclose()

    def _auth(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def _key(self, side: Side, who: str = "maker") -> dict[str, str]:
        return self._auth(self.world["commissioners"][side.boss][who])

    # Providers

    async def provider(self, side: Side) -> None:
        async with side.lock:
            if side.claimed + self.s.batch > side.enrolled:
                names = [f"L{side.index:02d}-{n:06d}"
                         for n in range(side.enrolled, side.enrolled + self.s.enrol_batch)]
                r = await self.t.call(self.api, "enrol", "POST",
                                      f"/contracts/{side.id}/participants",
                                      headers=self._auth(side.provider_key),
                                      json=[{"pseudonym": p, "enrolled_on": "2024-02-01"}
                                            for p in names])
                if r is not None and self._clean(r, "enrol"):
                    side.enrolled += len(names)
                return
            first = side.claimed
            rows = [{"client_ref": f"c-L{side.index:02d}-{n:06d}",
                     "pseudonym": f"L{side.index:02d}-{n:06d}", "metric_code": "employment",
                     "achieved_on": achieved(n).isoformat(),
                     "evidence_ref": f"eindkomst-{n}"}
                    for n in range(first, first + self.s.batch)]
            r = await self.t.call(self.api, "claims", "POST", f"/contracts/{side.id}/claims",
                                  headers={**self._auth(side.provider_key),
                                           "Idempotency-Key": f"load-{side.index}-{first}"},
                                  json=rows)
            side.claimed += len(rows)  # a refused batch is not sent again
            if r is not None and self._clean(r, "claims"):
                ids = [row["id"] for row in r.json()["results"]]
                side.undrawn += ids
                side.claims = (side.claims + ids[:5])[-50:]

    def _clean(self, r: httpx.Response, kind: str) -> bool:
        report = r.json()
        if report["rejected"]:
            bad = next(x for x in report["results"] if x["status"] == "rejected")
            self.t.error(kind, f"{report['rejected']} rows rejected, e.g. {bad}")
            return False
        return True

    # Commissioners

    async def commissioner(self, side: Side) -> bool:
        """The next step on `side`; False when it has nothing to do."""
        async with side.lock:
            if side.to_verify:
                claim = side.to_verify.pop()
                if await self.t.call(self.api, "verify", "POST", f"/claims/{claim}/verify",
                                     headers=self._key(side), json={"reason": REASON}):
                    side.approvable.append(claim)
            elif side.unpaid >= self.s.pay_at:
                await self._pay(side)
            elif side.approvable:
                group = side.approvable[:self.s.approve_group]
                del side.approvable[:len(group)]
                if await self.t.call(self.api, "approve", "POST",
                                     f"/contracts/{side.id}/approvals",
                                     headers=self._key(side),
                                     json={"claim_ids": group, "reason": "approved"}):
                    side.unpaid += len(group)
                    self.t.accrued += len(group)
            elif side.undrawn:
                waiting, side.undrawn = side.undrawn, []
                r = await self.t.call(self.api, "draw", "POST", f"/contracts/{side.id}/samples",
                                      headers=self._key(side), json={})
                if r is not None:
                    draw = r.json()
                    if draw["population"] != len(waiting):
                        self.t.error("draw", f"drew from {draw['population']} claims, "
                                             f"{len(waiting)} were waiting")
                    chosen = set(draw["selected_claim_ids"])
                    side.to_verify += [c for c in waiting if c in chosen]
                    side.approvable += [c for c in waiting if c not in chosen]
            else:
                return False
            return True

    async def _pay(self, side: Side) -> None:
        r = await self.t.call(self.api, "run: draft", "POST",
                              f"/contracts/{side.id}/payment-runs", json=PERIOD,
                              headers={**self._key(side, "maker"),
                                       "Idempotency-Key": f"run-{side.index}-{len(side.runs)}"})
        if r is None:
            return
        run = r.json()
        if run["claims"] != side.unpaid:
            self.t.error("run: draft", f"the run has {run['claims']} claims, "
                                       f"{side.unpaid} were approved and unpaid")
        side.unpaid = 0
        side.runs.append(run["id"])
        if await self.t.call(self.api, "run: approve", "POST",
                             f"/payment-runs/{run['id']}/approve",
                             headers=self._key(side, "checker")):
            await self.t.call(self.api, "run: pay", "POST", f"/payment-runs/{run['id']}/pay",
                              headers=self._key(side, "checker"))

    # Auditors and the web UI

    async def auditor(self) -> None:
        side = self.rng.choice(self.sides)
        r = await self.t.call(self.api, "statement.pdf", "GET",
                              f"/contracts/{side.id}/statement.pdf",
                              headers=self._auth(self.world["auditor"]))
        if r is not None and not r.content.startswith(b"%PDF"):
            self.t.error("statement.pdf", "the answer is not a PDF")

    async def page(self) -> None:
        boss = self.rng.randrange(len(self.pages))
        side = self.rng.choice([s for s in self.sides if s.boss == boss])
        page = self.rng.choice(PAGES)
        if "{claim}" in page and not side.claims:
            page = "/contracts/{contract}"
        if "{run}" in page and not side.runs:
            page = "/payments"
        path = page.format(contract=side.id, claim=self.rng.choice(side.claims or [""]),
                           run=self.rng.choice(side.runs or [""]))
        await self.t.call(self.pages[boss], "page " + page.replace("{contract}", "{id}"),
                          "GET", path, expect=(200,))

    async def job(self) -> None:
        who = self.rng.choices(list(self.s.weights), weights=list(self.s.weights.values()))[0]
        if who == "commissioner":
            for _ in range(5):
                if await self.commissioner(self.rng.choice(self.sides)):
                    return
            who = "provider"
        if who == "provider":
            await self.provider(self.rng.choice(self.sides))
        elif who == "auditor":
            await self.auditor()
        else:
            await self.page()


async def drive(job, tally: Tally, s: Settings) -> None:
    """Run `job` from `s.concurrency` clients until the time or the count is up: each
    client starts its next job when its last is done, or (with `s.rate`) jobs arrive at that
    rate and wait for a free client; `tally.lag` is how late each started."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    tally.began = time.perf_counter()
    stop = asyncio.Event()
    analyzer = asyncio.create_task(analyze_every(s.database, 60, stop)) if s.database \
        else None
    try:
        await _drive(job, tally, s, loop, start)
    finally:
        stop.set()
        if analyzer is not None:
            await analyzer
    tally.seconds = loop.time() - start


async def _drive(job, tally: Tally, s: Settings, loop, start: float) -> None:
    deadline = start + s.duration

    def more() -> bool:
        return (loop.time() < deadline and tally.requests < s.max_requests
                and not tally.exhausted)

    if s.rate is None:
        async def client() -> None:
            while more():
                await job()

        await asyncio.gather(*(client() for _ in range(s.concurrency)))
    else:
        free = asyncio.Semaphore(s.concurrency)
        pending: set[asyncio.Task] = set()

        async def one(at: float) -> None:
            async with free:
                tally.lag.append(loop.time() - at)
                await job()

        n = 0
        while True:
            at = start + n / s.rate
            await asyncio.sleep(max(0.0, at - loop.time()))
            if not more():
                break
            task = asyncio.create_task(one(at))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n += 1
        if pending:
            await asyncio.gather(*pending)


async def run_mix(base: str, world: dict, s: Settings, tally: Tally) -> Mix:
    mix = Mix(base, world, s, tally)
    try:
        await mix.sign_in()
        await drive(mix.job, tally, s)
    finally:
        await mix.close()
    return mix


# Approvals alone ----------------------------------------------------------------------------


async def approvals(base: str, world: dict, spread: bool, s: Settings, group: int) -> Tally:
    """The clients approve groups of `group` drawn claims for `s.duration` seconds (or until
    the claims run out): spread over the 50 contracts in turn, or all on the one."""
    sides = world["contracts"] if spread else [world["one"]]
    queues = [[(c, c["approvable"][i:i + group]) for i in range(0, len(c["approvable"]),
                                                                  group)] for c in sides]
    order = iter([g for turn in zip_longest(*queues) for g in turn if g is not None])
    tally = Tally()
    async with httpx.AsyncClient(base_url=base + "/api/v1", timeout=300,
                                 limits=httpx.Limits(keepalive_expiry=KEEPALIVE)) as api:
        async def job() -> None:
            side, ids = next(order, (None, None))
            if side is None:
                tally.exhausted = True
                return
            key = world["commissioners"][side["commissioner"]]["maker"]
            if await tally.call(api, "approve", "POST", f"/contracts/{side['id']}/approvals",
                                headers={"Authorization": f"Bearer {key}"},
                                json={"claim_ids": ids, "reason": "approved"}):
                tally.accrued += len(ids)

        await drive(job, tally, s)
    return tally


# The journal lock, probed directly ----------------------------------------------------------


async def seed_probe(url: str, world: dict, levels: list[int], per_level: int,
                     hold_sizes: list[int], hold_reps: int) -> dict:
    """Contracts for the probe (sampling rate 0: every claim is approvable once drawn): K
    fresh ones for each level K, `per_level` claims shared among them, and one for the hold
    times."""
    from uuid import UUID

    from contracts.identity import Principal
    from core.database import bind, make_engine

    engine = make_engine(url)
    bind(engine)
    await engine.start_connection_pool(min_size=1, max_size=4)
    boss_org = UUID(world["commissioners"][0]["org"])
    org = UUID(world["contracts"][0]["provider_org"])
    try:
        from contracts.tables import Organisation

        audit = (await Organisation.select(Organisation.id).where(
            Organisation.kind == "audit_firm").first())["id"]
        provider = Principal(organisation_id=org, role="provider", label="probe")
        boss = Principal(organisation_id=boss_org, role="commissioner", label="probe")
        made: dict = {"boss": str(boss_org), "levels": {}, "hold": None}
        n = 0

        async def contract(claims: int) -> dict:
            nonlocal n
            n += 1
            cid = await _contract(f"PROBE-{n}", org, boss_org, audit, 0)
            names = [f"Q{n:02d}-{k:06d}" for k in range(claims)]
            await _enrol(provider, cid, names)
            return {"id": str(cid), "claims": await _approvable(
                boss, cid, await _claim(provider, cid, names))}

        for k in levels:
            made["levels"][k] = [await contract(per_level // k) for _ in range(k)]
        made["hold"] = await contract(sum(hold_sizes) * (hold_reps + 1))
        await engine.run_ddl("ANALYZE")
        return made
    finally:
        await engine.close_connection_pool()


async def _as_the_server_does(connection) -> None:
    """No reset query when a connection goes back to the pool, as in the server's pool
    (api.app.keep_session)."""


def _probe_process(url: str, boss: str, work: list[tuple[str, list[str]]], seconds: float,
                   barrier, results) -> None:
    results.put(asyncio.run(_probe(url, boss, work, seconds, barrier)))


async def _probe(url: str, boss: str, work: list[tuple[str, list[str]]], seconds: float,
                 barrier) -> dict:
    """Approve `work` (contract, claim ids) one group after the other for `seconds`, the
    first group before the barrier, to warm up. Per approval: claims, total, time to take
    the journal lock, time it was held (taken → committed) and, of that, time in `post`."""
    from uuid import UUID

    from contracts.identity import Principal
    from core.database import bind, make_engine
    from ledger import posting
    from outcomes import verification

    engine = make_engine(url)
    bind(engine)
    await engine.start_connection_pool(min_size=1, max_size=2, reset=_as_the_server_does)
    marks: dict[str, float] = {}
    take_lock, post = posting.lock_chains, verification.post

    async def timed_lock(*args, **kwargs) -> None:
        marks["asked"] = time.perf_counter()
        await take_lock(*args, **kwargs)
        marks["taken"] = time.perf_counter()

    async def posted(entries):
        done = await post(entries)
        marks["posted"] = time.perf_counter()
        return done

    posting.lock_chains, verification.post = timed_lock, posted
    principal = Principal(organisation_id=UUID(boss), role="commissioner", label="probe")
    rows, groups = [], len(work)
    try:
        (cid, ids), *work = work
        await verification.approve(principal, UUID(cid), [UUID(c) for c in ids], "warm-up")
        await asyncio.to_thread(barrier.wait)
        began = time.perf_counter()
        for cid, ids in work:
            if time.perf_counter() - began >= seconds:
                break
            started = time.perf_counter()
            await verification.approve(principal, UUID(cid), [UUID(c) for c in ids], "probe")
            done = time.perf_counter()
            rows.append((len(ids), done - started, marks["taken"] - marks["asked"],
                         done - marks["taken"], marks["posted"] - marks["taken"]))
        return {"rows": rows, "seconds": time.perf_counter() - began, "groups": groups}
    finally:
        await engine.close_connection_pool()


def probe_level(url: str, boss: str, works: list[list[tuple[str, list[str]]]],
                seconds: float) -> list[dict]:
    """One process per work list, started together; their results."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(works) + 1), ctx.Queue()
    procs = [ctx.Process(target=_probe_process, args=(url, boss, w, seconds, barrier, results))
             for w in works]
    for p in procs:
        p.start()
    barrier.wait(timeout=600)
    out = [results.get(timeout=600 + min(seconds, 3600)) for _ in procs]
    for p in procs:
        p.join()
    return out


def probe(url: str, world: dict, levels: list[int], seconds: float, group: int,
          per_level: int, hold_sizes: list[int], hold_reps: int) -> dict:
    made = asyncio.run(seed_probe(url, world, levels, per_level, hold_sizes, hold_reps))
    table = []
    for k in levels:
        asyncio.run(analyze(url))  # as autovacuum would have, as the journal grew
        works = [[(c["id"], c["claims"][i:i + group])
                  for i in range(0, len(c["claims"]), group)] for c in made["levels"][k]]
        results = probe_level(url, made["boss"], works, seconds)
        rows = [r for res in results for r in res["rows"]]
        wall = max(res["seconds"] for res in results)
        busy = sum(r[1] for r in rows)
        table.append(dict(
            k=k, accruals=sum(r[0] for r in rows), approvals=len(rows), wall=wall,
            rate=sum(r[0] for r in rows) / wall,
            p50=pct([r[1] * 1000 for r in rows], 50), p99=pct([r[1] * 1000 for r in rows], 99),
            wait_share=sum(r[2] for r in rows) / busy if busy else 0.0,
            lock_busy=sum(r[3] for r in rows) / wall,
            hold_ms=statistics.median(r[3] * 1000 for r in rows) if rows else 0.0,
            ran_out=any(len(res["rows"]) + 1 >= res["groups"] for res in results)))
    asyncio.run(analyze(url))
    hold = made["hold"]
    ids, work, at = hold["claims"], [], 0
    for size in [hold_sizes[0]] + hold_sizes * hold_reps:
        work.append((hold["id"], ids[at:at + size]))
        at += size
    rows = probe_level(url, made["boss"], [work], 10**9)[0]["rows"]
    holds = {}
    for size in hold_sizes:
        mine = [r for r in rows if r[0] == size]
        holds[size] = dict(total=statistics.median(r[1] for r in mine) * 1000,
                           hold=statistics.median(r[3] for r in mine) * 1000,
                           post=statistics.median(r[4] for r in mine) * 1000,
                           commit=statistics.median(r[3] - r[4] for r in mine) * 1000)
    return {"levels": table, "holds": holds, "group": group}


# Memory of the server's processes -----------------------------------------------------------


def memory(pid: int) -> dict[str, dict[int, float]]:
    """RSS (MB) of the server's processes: the master and its uvicorn workers, and the
    report workers below them (replaced after a number of documents, so apart)."""
    out: dict[str, dict[int, float]] = {"server": {}, "reports": {}}
    for p, depth in process_tree(pid).items():
        if "resource_tracker" in command_line(p):
            continue
        try:
            out["server" if depth <= 1 else "reports"][p] = rss_mb(p)
        except (OSError, RuntimeError):
            pass
    return out


async def sample_memory(pid: int, every: float, samples: list, stop: asyncio.Event) -> None:
    began = time.monotonic()
    while not stop.is_set():
        samples.append((time.monotonic() - began, memory(pid)))
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            pass


async def soak_mix(base: str, pid: int, world: dict, s: Settings, tally: Tally,
                   every: float) -> list:
    samples: list = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_memory(pid, every, samples, stop))
    try:
        await run_mix(base, world, s, tally)
    finally:
        stop.set()
        await sampler
    samples.append((samples[-1][0] + every if samples else 0.0, memory(pid)))
    return samples


# The report ---------------------------------------------------------------------------------


def cpu_snapshot(pid: int, database: str) -> tuple:
    mine = os.times()
    return (cpu_seconds(pid), mine.user + mine.system, machine_busy_seconds(), time.monotonic(),
            {p: process_cpu(p) for p in asyncio.run(backend_pids(database))})


def print_cpu(before: tuple, after: tuple) -> None:
    """Where the machine's CPU went between two snapshots. PostgreSQL: the backends
    connected to the benchmark's database at the end (a report worker's connection that
    closed before is missed)."""
    wall = after[3] - before[3]
    server = after[0]["server"] - before[0]["server"]
    reports = after[0]["reports"] - before[0]["reports"]
    client = after[1] - before[1]
    busy = after[2] - before[2]
    pg = sum(cpu - before[4].get(p, 0.0) for p, cpu in after[4].items())
    cores = os.cpu_count() or 1
    idle = max(0.0, cores * wall - busy)
    print(f"CPU in that time ({cores} cores × {wall:.0f} s = {cores * wall:.0f} s): server "
          f"workers {server:.0f} s, report workers {reports:.0f} s, PostgreSQL backends "
          f"{pg:.0f} s, this load client {client:.0f} s, anything else on the machine "
          f"{busy - server - reports - client - pg:.0f} s, idle {idle:.0f} s")


def print_tally(title: str, t: Tally) -> None:
    print(f"\n{title}: {t.requests:,} requests in {t.seconds:.1f} s "
          f"({t.requests / t.seconds:,.1f}/s), {sum(t.errors.values())} errors")
    print(f"{'kind':<30} {'count':>7} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for kind in sorted(set(t.ms) | set(t.errors), key=lambda k: -len(t.ms.get(k, []))):
        ms = t.ms.get(kind, [])
        print(f"{kind:<30} {len(ms):>7} {len(ms) / t.seconds:>7.1f} {pct(ms, 50):>8.1f} "
              f"{pct(ms, 99):>8.1f} {t.errors.get(kind, 0):>6}")
    if t.lag:
        print(f"jobs started late (fixed rate, all clients busy): p50 {pct(t.lag, 50) * 1000:.0f}"
              f" ms, p99 {pct(t.lag, 99) * 1000:.0f} ms, max {max(t.lag) * 1000:.0f} ms")
    for example in t.examples[:10]:
        print("  error:", example)


def print_probe(result: dict) -> None:
    g = result["group"]
    print(f"\nThe journal's append lock, probed directly: K processes approving groups of "
          f"{g} claims on contracts of their own")
    print(f"{'K':>3} {'accruals/s':>10} {'approvals':>9} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'hold ms':>7} {'waiting':>7} {'lock busy':>9}")
    for r in result["levels"]:
        print(f"{r['k']:>3} {r['rate']:>10,.0f} {r['approvals']:>9} {r['p50']:>7.1f} "
              f"{r['p99']:>7.1f} {r['hold_ms']:>7.2f} {r['wait_share']:>7.0%} "
              f"{r['lock_busy']:>9.0%}{'  (ran out of claims)' if r['ran_out'] else ''}")
    print("waiting: share of the approvals' time spent waiting for an append lock; lock "
          "busy: time any append lock was held, over the wall time (above 100 %: locks of "
          "different chains held at once)")
    print(f"\n{'claims':>6} {'approval ms':>11} {'lock held ms':>12} {'in post':>8} "
          f"{'then to commit':>14} {'ceiling accruals/s':>18}")
    for size, h in result["holds"].items():
        print(f"{size:>6} {h['total']:>11.2f} {h['hold']:>12.2f} {h['post']:>8.2f} "
              f"{h['commit']:>14.2f} {size / h['hold'] * 1000:>18,.0f}")
    print("ceiling: claims per approval / time the lock is held, the most one chain's lock "
          "lets through, whatever the number of cores")


def print_windows(t: Tally, width: float) -> None:
    """Requests and their round trips in windows of `width` seconds: does the service slow
    down as the data grows?"""
    print(f"\n{'minutes':>9} {'requests':>8} {'req/s':>6} {'p50 ms':>7} {'p99 ms':>7}")
    windows: dict[int, list[float]] = defaultdict(list)
    for at, ms in t.timeline:
        windows[int(at // width)].append(ms)
    for w in sorted(windows):
        ms = windows[w]
        print(f"{w * width / 60:>4.0f}–{(w + 1) * width / 60:<4.0f} {len(ms):>8} "
              f"{len(ms) / width:>6.1f} {pct(ms, 50):>7.1f} {pct(ms, 99):>7.1f}")


def print_memory(samples: list, warmup: float, path: Path) -> float:
    """The server's memory after warm-up; returns the growth (max over first)."""
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["seconds", "server_mb", "report_workers_mb", "processes"])
        for at, m in samples:
            w.writerow([f"{at:.0f}", f"{sum(m['server'].values()):.1f}",
                        f"{sum(m['reports'].values()):.1f}",
                        " ".join(f"{p}:{v:.0f}" for p, v in sorted(m["server"].items()))])
    after = [(at, m) for at, m in samples if at >= warmup] or samples[-1:]
    totals = [sum(m["server"].values()) for _, m in after]
    first, top, end = totals[0], max(totals), totals[-1]
    growth = (top - first) / first
    print(f"\nserver RSS (master + uvicorn workers), {len(samples)} samples, "
          f"{len(after)} after {warmup:.0f} s of warm-up (all in {path}):")
    print(f"  start {first:.0f} MB, max {top:.0f} MB, end {end:.0f} MB, growth "
          f"{growth:+.1%} (max over start), {(end - first) / first:+.1%} (end over start)")
    for p in sorted(after[0][1]["server"]):
        seen = [m["server"][p] for _, m in after if p in m["server"]]
        print(f"  pid {p}: start {seen[0]:.0f} MB, max {max(seen):.0f} MB, end {seen[-1]:.0f} MB"
              f" ({(max(seen) - seen[0]) / seen[0]:+.1%})")
    reports = [sum(m["reports"].values()) for _, m in after]
    print(f"  report workers (replaced every 20 documents): max {max(reports):.0f} MB together")
    return growth


# Running it ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--concurrency", type=int, default=16, help="clients at once")
    parser.add_argument("--duration", type=float, help="seconds of the mix [60; soak 1800]")
    parser.add_argument("--max-requests", type=int, default=10**9)
    parser.add_argument("--rate", type=float, help="jobs a second (fixed arrival rate) "
                                                   "[closed loop; soak 10]")
    parser.add_argument("--contracts", type=int, default=50)
    parser.add_argument("--commissioners", type=int, default=5)
    parser.add_argument("--history", type=int, default=200,
                        help="claims already paid on each contract before the mix")
    parser.add_argument("--participants", type=int, default=2_000,
                        help="enrolled on each contract before the mix")
    parser.add_argument("--approval-claims", type=int, default=1_000,
                        help="drawn claims on each contract for the approvals alone "
                             "(as many in all on the one contract)")
    parser.add_argument("--approval-seconds", type=float, default=15)
    parser.add_argument("--probe-k", default="1,2,4,8,16")
    parser.add_argument("--probe-seconds", type=float, default=5)
    parser.add_argument("--probe-group", type=int, default=10)
    parser.add_argument("--probe-claims", type=int, default=15_000,
                        help="claims for each K, shared among its K contracts")
    parser.add_argument("--skip-approvals", action="store_true")
    parser.add_argument("--skip-probe", action="store_true")
    parser.add_argument("--probe-only", action="store_true")
    parser.add_argument("--soak", action="store_true")
    parser.add_argument("--warmup", type=float, default=300, help="soak: seconds not judged")
    parser.add_argument("--every", type=float, default=10, help="soak: seconds between samples")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    if args.soak:
        args.skip_approvals = args.skip_probe = True
    name = SOAK_NAME if args.soak else NAME
    s = Settings(concurrency=args.concurrency,
                 duration=args.duration or (1800 if args.soak else 60),
                 max_requests=args.max_requests,
                 rate=args.rate or (10 if args.soak else None))
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    env = {"VIRKER_CHECKPOINT_KEY": str(folder / "signing.key")}
    levels = [int(k) for k in args.probe_k.split(",")]

    print(f"machine: {machine()}; PostgreSQL 15; `virker serve --workers {args.workers}`; "
          f"server log {folder / 'server.log'}", flush=True)
    url = asyncio.run(recreate(name))
    s.database = url
    if asyncio.run(autovacuum_is_off(url)):
        print("autovacuum is off on this PostgreSQL: the benchmark runs ANALYZE every minute "
              "while the load runs, as autovacuum would")
    os.environ.update(env)  # checkpoints written while seeding, signed with the server's key
    failed = False
    try:
        started = time.perf_counter()
        world = asyncio.run(seed(url, args.contracts, args.commissioners,
                                 args.participants,
                                 0 if args.skip_approvals or args.probe_only
                                 else args.approval_claims,
                                 args.history))
        print(f"seeded {args.contracts} contracts in {time.perf_counter() - started:.0f} s",
              flush=True)
        if not args.probe_only:
            failed = run_http(url, name, world, args, s, folder, env)
        if not args.skip_probe:
            print_probe(probe(url, world, levels, args.probe_seconds, args.probe_group,
                              args.probe_claims, [1, 10, 100], 20))
    finally:
        if not args.keep:
            asyncio.run(drop(name))
    sys.exit(1 if failed else 0)


def run_http(url: str, name: str, world: dict, args, s: Settings, folder: Path,
             env: dict) -> bool:
    """The mix (or the soak), then the approvals alone; True when anything failed."""
    failed = False
    with logged_server(url, folder / "server.log", args.workers, env) as (base, pid):
        tally = Tally()
        what = (f"{s.concurrency} clients, " + (f"{s.rate:g} jobs/s" if s.rate
                                               else "closed loop") +
                f", {s.duration:.0f} s or {s.max_requests:,} requests")
        print(f"\nmix: {len(world['contracts'])} contracts, {len(world['commissioners'])} "
              f"commissioners, weights {WEIGHTS}; {what}", flush=True)
        before = cpu_snapshot(pid, name)
        if args.soak:
            samples = asyncio.run(soak_mix(base, pid, world, s, tally, args.every))
        else:
            asyncio.run(run_mix(base, world, s, tally))
        after = cpu_snapshot(pid, name)
        print_tally("The mix", tally)
        print_cpu(before, after)
        print(f"accrued in the mix: {tally.accrued:,} claims, {tally.accrued / tally.seconds:,.0f}"
              " accruals/s", flush=True)
        failed = bool(tally.errors)
        if args.soak:
            print_windows(tally, 300)
            growth = print_memory(samples, args.warmup, folder / "rss.csv")
            ok = not tally.errors and growth <= 0.10
            print(f"soak: {'PASS' if ok else 'FAIL'} (no errors and growth ≤ 10 % after "
                  "warm-up)")
            failed = failed or not ok
        if not args.skip_approvals:
            alone = Settings(concurrency=s.concurrency, duration=args.approval_seconds,
                             database=url)
            group = args.probe_group
            rates = {}
            for spread in (True, False):
                before = cpu_snapshot(pid, name)
                t = asyncio.run(approvals(base, world, spread, alone, group))
                after = cpu_snapshot(pid, name)
                where = (f"across {len(world['contracts'])} contracts" if spread
                         else "on one contract")
                print_tally(f"Approvals of {group} claims {where}", t)
                rates[spread] = t.accrued / t.seconds
                print_cpu(before, after)
                print(f"accruals/s {where}: {rates[spread]:,.0f}", flush=True)
                failed = failed or bool(t.errors)
            print(f"across/one: {rates[True] / rates[False]:.2f}")
    return failed


if __name__ == "__main__":
    main()
