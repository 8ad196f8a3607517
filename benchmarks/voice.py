"""Citizen voice: 1,000 participants answering at once over HTTP on PostgreSQL, against the
raw insert of the same answers.

Seeds one contract with 1,000 participants, opens a WHO-5 wave and hands out one link each
(through the service, as a provider's request would). Then:

- baseline: the same 1,000 answers (already scored) written as 1,000 single-row INSERTs,
  each in its own transaction, sent at once over a pool of as many connections as the
  server has (10): what it costs at least to store 1,000 independent answers;
- Virker: 1,000 clients POST their answer to /api/v1/answer/{token} at the same moment
  (one connection each); each request checks the link, uses it up, checks and scores the
  answers and stores them in one transaction.

Prints both rates, their ratio (target >= 0.3) and the latency percentiles of the answers
(target p99 < 200 ms), then checks that every link took exactly one answer. A burst of 1,000
at the same instant queues behind the server's throughput, so its latencies are mostly
waiting; a second run, on a copy of the same database, lets the same 1,000 answers arrive at
a steady `--rate` a second (100 by default, 1,000 in ten seconds) and reports their latency.

    .venv/bin/python -m benchmarks.voice [--participants 1000] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import time
import uuid

import asyncpg
import httpx
import msgspec

from benchmarks.common import drop, machine, recreate, seed, server

BENCH, BASE, PACED = "virker_bench_voice", "virker_bench_voice_base", "virker_bench_voice_paced"
ANSWER = {"cheerful": 3, "calm": 2, "active": 4, "rested": 1, "interest": 5}


async def prepare(url: str, participants: int) -> tuple[list[str], dict]:
    """The seeded contract, a WHO-5 wave open today, and one link per participant."""
    from contracts.identity import Principal
    from core.database import make_engine
    from voice import service
    from voice.schemas import InvitationsIn, WaveIn

    ids = await seed(url, participants=participants)
    engine = make_engine(url)
    commissioners = await engine.run_ddl(
        f"SELECT organisation FROM contract_party WHERE contract = '{ids['contract_id']}' "
        "AND role = 'commissioner'")
    boss = Principal(organisation_id=commissioners[0]["organisation"], role="commissioner",
                     label="bench")
    ngo = Principal(organisation_id=ids["provider_id"], role="provider", label="bench")
    today = dt.date.today()
    wave = await service.create_wave(boss, ids["contract_id"], msgspec.convert(dict(
        title="Benchmark", instrument="who5", timepoint="enrolment",
        opens_on=str(today - dt.timedelta(days=1)),
        closes_on=str(today + dt.timedelta(days=30))), WaveIn))
    report = await service.invite(ngo, wave.id, InvitationsIn(
        pseudonyms=[f"P-{i}" for i in range(participants)]), "http://bench")
    tokens = [r.link.rsplit("/", 1)[1] for r in report.results]
    await engine.run_ddl("ANALYZE")
    return tokens, {**ids, "wave_id": wave.id}


async def baseline(url: str, ids: dict, participants: int) -> float:
    """1,000 single-row inserts of the scored answers, each committed on its own, at once."""
    pool = await asyncpg.create_pool(url, min_size=10, max_size=10)
    rows = await pool.fetch("SELECT id FROM participant WHERE contract = $1",
                            ids["contract_id"])
    answers = msgspec.json.encode(ANSWER).decode()
    scores = msgspec.json.encode({"index": 60.0, "poor_wellbeing": 0.0}).decode()
    today = dt.date.today()

    async def one(participant) -> None:
        async with pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO voice_response (id, wave, contract, participant, mode, "
                "submitted_on, answers, scores, comment, comment_status, recorded_by) "
                "VALUES ($1, $2, $3, $4, 'web', $5, $6, $7, NULL, 'none', NULL)",
                uuid.uuid4(), ids["wave_id"], ids["contract_id"], participant, today,
                answers, scores)

    started = time.perf_counter()
    await asyncio.gather(*(one(r["id"]) for r in rows[:participants]))
    took = time.perf_counter() - started
    await pool.close()
    return took


async def paced(base: str, tokens: list[str], rate: float) -> tuple[float, list[float],
                                                                   list[int]]:
    """The same answers arriving at `rate` a second, each on its own connection."""
    body = msgspec.json.encode({"answers": ANSWER})
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        await client.get("/health")
        started = time.perf_counter()

        async def one(i: int, token: str) -> tuple[float, int]:
            await asyncio.sleep(i / rate)
            t0 = time.perf_counter()
            r = await client.post(f"/api/v1/answer/{token}", content=body,
                                  headers={"content-type": "application/json"})
            return time.perf_counter() - t0, r.status_code

        done = await asyncio.gather(*(one(i, t) for i, t in enumerate(tokens)))
        took = time.perf_counter() - started
    return took, [d[0] for d in done], [d[1] for d in done]


async def over_http(base: str, tokens: list[str]) -> tuple[float, list[float], list[int]]:
    body = msgspec.json.encode({"answers": ANSWER})
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        await client.get("/health")
        start = asyncio.Event()

        async def one(token: str) -> tuple[float, int]:
            await start.wait()
            t0 = time.perf_counter()
            r = await client.post(f"/api/v1/answer/{token}", content=body,
                                  headers={"content-type": "application/json"})
            return time.perf_counter() - t0, r.status_code

        tasks = [asyncio.create_task(one(t)) for t in tokens]
        await asyncio.sleep(0.5)
        started = time.perf_counter()
        start.set()
        done = await asyncio.gather(*tasks)
        took = time.perf_counter() - started
    return took, [d[0] for d in done], [d[1] for d in done]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def answered(url: str, wave_id) -> tuple[int, int]:
    conn = await asyncpg.connect(url)
    try:
        responses = await conn.fetchval("SELECT count(*) FROM voice_response WHERE wave = $1",
                                        wave_id)
        used = await conn.fetchval(
            "SELECT count(*) FROM voice_invitation WHERE wave = $1 AND used_on IS NOT NULL",
            wave_id)
    finally:
        await conn.close()
    return responses, used


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rate", type=float, default=100.0,
                        help="answers a second in the paced run")
    args = parser.parse_args()
    n = args.participants

    url = asyncio.run(recreate(BENCH))
    tokens, ids = asyncio.run(prepare(url, n))
    base_url = asyncio.run(recreate(BASE, template=BENCH))
    paced_url = asyncio.run(recreate(PACED, template=BENCH))
    raw_s = asyncio.run(baseline(base_url, ids, n))
    with server(url, workers=args.workers) as (base, _):
        http_s, latencies, statuses = asyncio.run(over_http(base, tokens))
    with server(paced_url, workers=args.workers) as (base, _):
        paced_s, paced_latencies, paced_statuses = asyncio.run(paced(base, tokens, args.rate))
    responses, used = asyncio.run(answered(url, ids["wave_id"]))
    for name in (BENCH, BASE, PACED):
        asyncio.run(drop(name))

    raw_rate, http_rate = n / raw_s, n / http_s
    ms = [x * 1000 for x in latencies]
    print(f"machine: {machine()}")
    print(f"participants answering at once: {n}; server workers: {args.workers}")
    print(f"baseline (single-row INSERT each committed, 10 connections): {raw_s:.2f} s, "
          f"{raw_rate:,.0f} answers/s")
    print(f"virker over HTTP (POST /api/v1/answer/{{token}}):             {http_s:.2f} s, "
          f"{http_rate:,.0f} answers/s")
    print(f"ratio virker/baseline: {http_rate / raw_rate:.2f} (target >= 0.3)")
    print(f"latency per answer: p50 {percentile(ms, 50):.0f} ms, p90 {percentile(ms, 90):.0f} "
          f"ms, p99 {percentile(ms, 99):.0f} ms, max {max(ms):.0f} ms (target p99 < 200 ms); "
          f"mean {statistics.mean(ms):.0f} ms")
    pms = [x * 1000 for x in paced_latencies]
    print(f"paced: the same {n} answers arriving at {args.rate:.0f}/s over "
          f"{n / args.rate:.0f} s: took {paced_s:.2f} s; latency p50 {percentile(pms, 50):.0f} "
          f"ms, p90 {percentile(pms, 90):.0f} ms, p99 {percentile(pms, 99):.0f} ms, max "
          f"{max(pms):.0f} ms (target p99 < 200 ms); statuses "
          f"{ {s: paced_statuses.count(s) for s in sorted(set(paced_statuses))} }")
    print(f"statuses: { {s: statuses.count(s) for s in sorted(set(statuses))} }; "
          f"answers stored {responses}, links used {used}")


if __name__ == "__main__":
    main()
