"""The web UI's pages against the JSON API calls that return the same data, on PostgreSQL:
first with the demo alone, then with a contract of 100,000 claims added to it.

`virker serve` (one uvicorn worker) on a free loopback port; each page fetched by a client
signed in as the user who works on it (session cookie), each API call with that
organisation's demo key; page and call alternate, after warm-up, and the median of the
round trips over loopback is the figure (client, server and database share the 2 cores).

The big contract (Holbæk Kommune commissions Holbæk Jobcenter's IPS-teamet, metric
`employment`, so it joins the employment.entry comparison) is made through the services,
the one door for each step, as a year of use would leave it: 100,000 participants enrolled
in 10 batches, 100,000 claims in 100 batches of 1,000, a 10 % verification sample (a few
hundred decided, the rest waiting in the work queue), the other claims approved, a payment
run over 2024 drafted, approved by a second person and paid, and one over 2025 waiting in
draft.

    .venv/bin/python -m benchmarks.pages [--claims 100000] [--runs 15] [--demo-only]
        [--keep]   (keep the database: virker_bench_pages)
    .venv/bin/python -m benchmarks.pages --profile '/payment-runs/{run}' [--as ROLE]
        (where one page's time goes, on the database --keep left)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

from benchmarks.common import ROOT, drop, free_port, machine, recreate

NAME = "virker_bench_pages"
PASSWORD = "virker-demo-2026"  # api.demo.PASSWORD
USERS = {"commissioner": "sofie@holbaek.example", "provider": "peter@ips-holbaek.example",
         "auditor": "karen@revision.example", "admin": "admin@virker.example"}
KEYS = {"commissioner": "vk_demo_holbaek_key", "provider": "vk_demo_ips_key",
        "auditor": "vk_demo_revision_key", "admin": "vk_demo_operator_key"}
BIG = "BENCH-PAGES-100K"
SUBJECT = "employment.entry"

# (page, the API calls that return what the page shows, who). The first call is the one
# the issue pairs the page with; the others are what a client of the API would fetch as well
# to show the same page (the page's other sections). {contract}, {claim}, {pseudonym},
# {run}, {batch}: of the contract measured (the demo's INDIGO-POJ-0313, then the big one).
PAIRS = [
    ("/queue", ["/contracts/{contract}/claims?status=sampled&count=true",
                "/contracts?count=true",
                "/contracts/{contract}/claims?status=verified&count=true&limit=1",
                "/contracts/{contract}/payment-runs"], "commissioner"),
    ("/claims/{claim}", ["/claims/{claim}", "/contracts/{contract}",
                         "/contracts/{contract}/claims?participant={pseudonym}&count=true"],
     "commissioner"),
    ("/contracts", ["/contracts?count=true"], "commissioner"),
    ("/contracts/{contract}", ["/contracts/{contract}/effect", "/contracts/{contract}",
                               "/contracts/{contract}/balance",
                               "/contracts/{contract}/variations",
                               "/contracts/{contract}/proposals",
                               "/contracts/{contract}/events"], "commissioner"),
    ("/contracts/new", ["/metrics", "/organisations"], "commissioner"),
    ("/contracts/{contract}/vary", ["/contracts/{contract}", "/metrics", "/organisations"],
     "commissioner"),
    ("/payments", ["/contracts/{contract}/payment-runs", "/contracts?count=true"],
     "commissioner"),
    ("/payment-runs/{run}", ["/payment-runs/{run}", "/payment-runs/{run}/claims",
                             "/contracts/{contract}"], "commissioner"),
    ("/contracts/{contract}/batches", ["/contracts/{contract}/batches?count=true",
                                       "/contracts/{contract}"], "commissioner"),
    ("/batches/{batch}", ["/batches/{batch}"], "commissioner"),
    ("/contracts/{contract}/participants", ["/contracts/{contract}/participants?count=true",
                                            "/contracts/{contract}/claims?count=true",
                                            "/contracts/{contract}"], "commissioner"),
    ("/compare", ["/metrics", "/contracts?count=true"], "commissioner"),
    (f"/compare/{SUBJECT}", [f"/comparisons/{SUBJECT}", f"/advice/{SUBJECT}",
                             f"/advice/{SUBJECT}/decisions",
                             f"/comparisons/{SUBJECT}/funnel.svg"], "commissioner"),
    ("/audit", ["/contracts?count=true", "/contracts/{contract}/balance"], "auditor"),
    ("/provider", ["/contracts?count=true"], "provider"),
    ("/provider/keys", ["/api-keys"], "provider"),
    ("/admin", ["/users", "/organisations", "/api-keys"], "admin"),
]


# The server and its clients ---------------------------------------------------------------


def environment(url: str, folder: Path) -> dict[str, str]:
    return {**os.environ, "VIRKER_DATABASE_URL": url, "VIRKER_ENV": "development",
            "VIRKER_SECRET_KEY": "benchmark-" + secrets.token_hex(24),
            "VIRKER_CHECKPOINT_KEY": str(folder / "signing.key"),
            "VIRKER_CHECKPOINT_INTERVAL": "0"}


def virker(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "virker"), *args]


@contextmanager
def serving(env: dict[str, str], folder: Path):
    """`virker serve` on a free port, its output in a file (a pipe nobody reads would
    stop it once full)."""
    port = free_port()
    log = (folder / "server.log").open("ab")
    proc = subprocess.Popen(virker("serve", "--port", str(port)), env=env, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("the server did not start; see " + str(folder / "server.log"))
        if proc.poll() is not None:
            raise RuntimeError("the server stopped; see " + str(folder / "server.log"))
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def signed_in(base: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=120, headers={"Accept": "text/html"})
    client.get("/login")
    r = client.post("/login", data={"email": email, "password": PASSWORD,
                                    "_csrf_token": client.cookies.get("csrftoken", "")})
    if r.status_code != 303:
        raise RuntimeError(f"{email} could not sign in: {r.status_code}")
    client.post("/language", data={"lang": "en", "next": "/",
                                   "_csrf_token": client.cookies.get("csrftoken", "")})
    return client


def keyed(base: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=base + "/api/v1", timeout=120,
                        headers={"Authorization": f"Bearer {key}"})


def ids_of(api: httpx.Client, reference: str) -> dict[str, str]:
    """The contract `reference` and one of its claims (a sampled one when there is one),
    its first payment run and its first claims batch."""
    cursor, contract = None, None
    while contract is None:
        page = api.get("/contracts", params={"limit": 200, **({"cursor": cursor} if cursor
                                                              else {})}).json()
        contract = next((c for c in page["items"] if c["reference"] == reference), None)
        cursor = page.get("next_cursor")
        if contract is None and not cursor:
            raise RuntimeError(f"no contract {reference}")
    cid = contract["id"]
    claims = (api.get(f"/contracts/{cid}/claims", params={"status": "sampled", "limit": 1})
              .json()["items"]
              or api.get(f"/contracts/{cid}/claims", params={"limit": 1}).json()["items"])
    runs = api.get(f"/contracts/{cid}/payment-runs").json()
    batches = api.get(f"/contracts/{cid}/batches",
                      params={"kind": "claims", "limit": 1}).json()["items"]
    return {"contract": cid, "claim": claims[0]["id"], "pseudonym": claims[0]["pseudonym"],
            "run": runs[0]["id"], "batch": batches[0]["id"]}


def timed(client: httpx.Client, path: str) -> tuple[float, int, int]:
    started = time.perf_counter()
    r = client.get(path)
    return (time.perf_counter() - started) * 1000, r.status_code, len(r.content)


def measure(base: str, ids: dict[str, str], runs: int) -> list[dict]:
    """Per page: the median round trip of the page, of its first API call, and of all its
    API calls one after the other, taken in turn `runs` times after two to warm up."""
    pages = {role: signed_in(base, email) for role, email in USERS.items()}
    apis = {role: keyed(base, key) for role, key in KEYS.items()}
    results = []
    try:
        for page_path, api_paths, role in PAIRS:
            page = page_path.format(**ids)
            calls = [a.format(**ids) for a in api_paths]
            page_ms, first_ms, all_ms = [], [], []
            status = size = 0
            for n in range(runs + 2):
                ms, status, size = timed(pages[role], page)
                if status != 200:
                    break
                each = []
                for call in calls:
                    a_ms, a_status, _ = timed(apis[role], call)
                    if a_status != 200:
                        raise RuntimeError(f"GET /api/v1{call}: {a_status}")
                    each.append(a_ms)
                if n >= 2:
                    page_ms.append(ms)
                    first_ms.append(each[0])
                    all_ms.append(sum(each))
            results.append(dict(
                page=page_path, api=api_paths[0], calls=len(api_paths), role=role,
                status=status, page_kb=size / 1024,
                page_ms=statistics.median(page_ms) if page_ms else None,
                api_ms=statistics.median(first_ms) if first_ms else None,
                all_ms=statistics.median(all_ms) if all_ms else None))
    finally:
        for c in (*pages.values(), *apis.values()):
            c.close()
    return results


async def load_demo(url: str) -> None:
    """`virker migrate` and `virker demo`, with a connection pool (the CLI has none)."""
    from api.demo import load_demo as load
    from core.database import bind, make_engine, migrate

    engine = make_engine(url)
    bind(engine)
    await engine.start_connection_pool(min_size=1, max_size=4)
    try:
        await migrate()
        await load()
    finally:
        await engine.close_connection_pool()


# The contract of 100,000 claims ------------------------------------------------------------


async def big_contract(url: str, n: int) -> None:

    import msgspec

    from contracts import service
    from contracts.identity import Principal
    from contracts.schemas import ContractIn
    from contracts.tables import Organisation
    from core.database import bind, make_engine
    from ledger import commitments
    from outcomes import intake, payments, verification
    from outcomes.schemas import ClaimIn, ParticipantIn, PaymentRunIn
    from outcomes.tables import Claim

    engine = make_engine(url)
    bind(engine)
    await engine.start_connection_pool(min_size=1, max_size=4)
    try:
        org = {r["identifier"]: r["id"] for r in await Organisation.select(
            Organisation.id, Organisation.identifier)}
        holbaek, ips = org["DK-CVR-90000004"], org["DK-CVR-90000008"]
        revision = org["DK-CVR-90000009"]
        money = {"currency": "DKK"}
        contract = await service.create_contract(None, msgspec.convert(dict(
            reference=BIG, title="IPS employment support at scale – Holbæk",
            provider_id=str(ips), currency="DKK",
            terms=dict(service_period={"start": "2024-01-01", "end": "2026-12-31"},
                       enrolment_period={"start": "2024-01-01", "end": "2025-12-31"},
                       claims_deadline="2027-06-30", cap={"amount": 10**13, **money},
                       commissioners=[{"organisation_id": str(holbaek), "share_bp": 10_000}],
                       auditor_ids=[str(revision)], sampling_rate_bp=1_000,
                       rate_card=[dict(code="job", metric_code="employment",
                                       price={"amount": 3_500_000, **money},
                                       window={"start_day": 0, "end_day": 540},
                                       target=n // 3, horizon_days=365,
                                       baseline=dict(kind="historical", rate_bp=2_100,
                                                     source="Holbæk's own figures"))])),
            ContractIn))
        cid = contract.id
        boss = Principal(organisation_id=holbaek, role="commissioner",
                         label="user:sofie@holbaek.example")
        checker = Principal(organisation_id=holbaek, role="commissioner",
                            label="bench: second commissioner")
        provider = Principal(organisation_id=ips, role="provider", label="bench")
        await commitments.activate(boss, cid, "benchmark")

        def sub(kind: str, key: str) -> intake.Submission:
            return intake.Submission(principal=provider, contract_id=cid, kind=kind,
                                     idempotency_key=key, body_hash=key)

        ages = ("18-24", "25-29", "30-39", "40-49", "50-59")
        started = time.perf_counter()
        for start in range(0, n, 10_000):
            await intake.submit_participants(sub("participants", f"enrol-{start}"), [
                (i, ParticipantIn(pseudonym=f"BIG-{i:06d}",
                                  enrolled_on=dt.date(2024, 1, 2) + dt.timedelta(days=i % 60),
                                  age_band=ages[i % 5], area="Holbæk by", cohort="2024"), [])
                for i in range(start, min(n, start + 10_000))])
        for start in range(0, n, 1_000):
            await intake.submit_claims(sub("claims", f"claims-{start}"), [
                (i, ClaimIn(client_ref=f"big-{i:06d}", pseudonym=f"BIG-{i:06d}",
                            metric_code="employment",
                            achieved_on=dt.date(2024, 3, 1) + dt.timedelta(days=i % 480),
                            evidence_ref=f"eindkomst-{i:06d}"), [])
                for i in range(start, min(n, start + 1_000))])
        print(f"  intake of {n:,} participants and claims: {time.perf_counter() - started:.0f} s",
              flush=True)
        started = time.perf_counter()
        draw = await verification.draw_sample(boss, cid, "bench-pages-2025")
        for k, claim_id in enumerate(draw.selected_claim_ids[:300]):
            await verification.decide(boss, claim_id, "dispute" if k % 6 == 0 else "verify",
                                      "eIndkomst extract checked")
        fresh = [r["id"] for r in await Claim.select(Claim.id).where(
            (Claim.contract == cid) & (Claim.status == "accepted")).order_by(Claim.id)]
        for start in range(0, len(fresh), 20_000):
            await verification.approve(boss, cid, fresh[start:start + 20_000], "benchmark")
        print(f"  sample and approval: {time.perf_counter() - started:.0f} s", flush=True)
        started = time.perf_counter()
        run, _ = await payments.create_run(boss, cid, PaymentRunIn(
            period_from=dt.date(2024, 1, 1), period_to=dt.date(2024, 12, 31)), None, "2024")
        await payments.approve_run(checker, run.id)
        await payments.pay_run(checker, run.id)
        await payments.create_run(boss, cid, PaymentRunIn(
            period_from=dt.date(2025, 1, 1), period_to=dt.date(2025, 6, 30)), None, "2025")
        print(f"  payment runs: {time.perf_counter() - started:.0f} s", flush=True)
        await engine.run_ddl("ANALYZE")
    finally:
        await engine.close_connection_pool()


# The report -------------------------------------------------------------------------------


def report(title: str, results: list[dict], limit_ms: float | None) -> None:
    """Ratios against the first call and against all the calls that show the same data;
    the target is judged on the latter (and, at 100,000 claims, on the page's own time)."""
    print(f"\n{title}")
    print(f"{'page':<36} {'ms':>7} {'kB':>5}  {'first API call (/api/v1)':<52} {'ms':>6} "
          f"{'ratio':>6}  {'calls':>5} {'ms':>6} {'ratio':>6}  target")
    for r in results:
        if r["page_ms"] is None:
            print(f"{r['page']:<36} {'-':>7} {'':>5}  {r['api']:<52}  page answers "
                  f"{r['status']}")
            continue
        first, whole = r["page_ms"] / r["api_ms"], r["page_ms"] / r["all_ms"]
        ok = whole <= 1.5 and (limit_ms is None or r["page_ms"] < limit_ms)
        print(f"{r['page']:<36} {r['page_ms']:>7.1f} {r['page_kb']:>5.0f}  {r['api']:<52} "
              f"{r['api_ms']:>6.1f} {first:>6.2f}  {r['calls']:>5} {r['all_ms']:>6.1f} "
              f"{whole:>6.2f}  {'✓' if ok else '✗'}")


async def profile(url: str, path: str, role: str, runs: int = 3) -> None:
    """Where a page's time goes: the app in this process (no HTTP), the page fetched `runs`
    times under cProfile; the functions of Virker and the template engine that took most."""
    import cProfile
    import io
    import pstats

    from api.app import create_app
    from core.database import make_engine
    from core.settings import Settings

    settings = Settings.from_env({"VIRKER_DATABASE_URL": url, "VIRKER_ENV": "development",
                                  "VIRKER_SECRET_KEY": "benchmark-" + "x" * 32,
                                  "VIRKER_CHECKPOINT_INTERVAL": "0"})
    engine = make_engine(url)
    await engine.start_connection_pool(min_size=1, max_size=4)
    app = create_app(settings, engine, manage_pool=False)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
            await c.get("/login")
            await c.post("/login", data={"email": USERS[role], "password": PASSWORD,
                                         "_csrf_token": c.cookies.get("csrftoken", "")})
            await c.post("/language", data={"lang": "en", "next": "/",
                                            "_csrf_token": c.cookies.get("csrftoken", "")})
            with keyed_async(transport) as api:
                ids = await async_ids_of(api, BIG)
            address = path.format(**ids)
            await c.get(address)  # warm
            prof = cProfile.Profile()
            started = time.perf_counter()
            prof.enable()
            for _ in range(runs):
                r = await c.get(address)
            prof.disable()
            print(f"{address}: {r.status_code}, {(time.perf_counter() - started) / runs * 1000:.0f}"
                  " ms a request under the profiler")
            out = io.StringIO()
            stats = pstats.Stats(prof, stream=out).sort_stats("cumulative")
            stats.print_stats(r"(api|contracts|outcomes|ledger|effect|reports|core)/|jinja2/"
                              r"environment|piccolo/query/base|asyncpg/connection", 45)
            print(out.getvalue())
    finally:
        await engine.close_connection_pool()


@contextmanager
def keyed_async(transport):
    yield httpx.AsyncClient(transport=transport, base_url="http://bench/api/v1",
                            headers={"Authorization": f"Bearer {KEYS['commissioner']}"})


async def async_ids_of(api: httpx.AsyncClient, reference: str) -> dict[str, str]:
    page = (await api.get("/contracts", params={"limit": 200})).json()
    cid = next(c["id"] for c in page["items"] if c["reference"] == reference)
    claim = (await api.get(f"/contracts/{cid}/claims",
                           params={"status": "sampled", "limit": 1})).json()["items"][0]
    run = (await api.get(f"/contracts/{cid}/payment-runs")).json()[0]
    batch = (await api.get(f"/contracts/{cid}/batches",
                           params={"kind": "claims", "limit": 1})).json()["items"][0]
    return {"contract": cid, "claim": claim["id"], "pseudonym": claim["pseudonym"],
            "run": run["id"], "batch": batch["id"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--demo-only", action="store_true")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--profile", metavar="PAGE",
                        help="profile one page (e.g. '/payment-runs/{run}') on the database "
                             "an earlier run with --keep left; --as ROLE (commissioner)")
    parser.add_argument("--as", dest="role", default="commissioner")
    args = parser.parse_args()
    if args.profile:
        from benchmarks.common import db_url

        asyncio.run(profile(db_url(NAME), args.profile, args.role))
        return

    folder = Path(tempfile.mkdtemp(prefix="virker-bench-pages-"))
    url = asyncio.run(recreate(NAME))
    env = environment(url, folder)
    # Checkpoints written here (after each paid run) with the key the server trusts.
    os.environ.update({k: env[k] for k in ("VIRKER_CHECKPOINT_KEY",
                                            "VIRKER_CHECKPOINT_INTERVAL")})
    asyncio.run(load_demo(url))
    print(f"machine: {machine()}")
    try:
        with serving(env, folder) as base:
            with keyed(base, KEYS["commissioner"]) as api:
                ids = ids_of(api, "INDIGO-POJ-0313")
            demo = measure(base, ids, args.runs)
        report("With the demo (INDIGO-POJ-0313, 190 claims; lists over all of Holbæk's "
               "contracts):", demo, None)
        if args.demo_only:
            return
        print(f"\nadding a contract of {args.claims:,} claims ...", flush=True)
        asyncio.run(big_contract(url, args.claims))
        with serving(env, folder) as base:
            with keyed(base, KEYS["commissioner"]) as api:
                ids = ids_of(api, BIG)
            big = measure(base, ids, args.runs)
        report(f"With a contract of {args.claims:,} claims ({BIG}) added:", big, 200.0)
        print("\ntargets: every page within 1.5 × its API call; under 200 ms at "
              f"{args.claims:,} claims. Median of {args.runs} round trips over loopback.")
    finally:
        if not args.keep:
            asyncio.run(drop(NAME))


if __name__ == "__main__":
    main()
