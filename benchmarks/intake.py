"""Claims intake over HTTP on PostgreSQL against the physical limit: raw asyncpg COPY.

Both load the same 100,000 claims in batches of 1,000. The baseline decodes each batch with
msgspec and COPYs it into the claim table of an identical database; Virker takes each batch
as a provider would, over HTTP, checks every claim against the payment rules inside the
contract's lock, writes claims and report in one transaction and answers with the report.
Then, on a fresh server process, the peak memory while taking one 10,000-claim request.

    .venv/bin/python -m benchmarks.intake [--claims 100000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import time
import uuid

import asyncpg
import httpx
import msgspec

from benchmarks.common import claim_rows, drop, machine, recreate, rss_mb, seed, server
from outcomes.schemas import ClaimIn

BENCH, BASE, MEM = "virker_bench_intake", "virker_bench_intake_base", "virker_bench_intake_mem"


async def baseline(url: str, contract_id: uuid.UUID, bodies: list[bytes]) -> float:
    conn = await asyncpg.connect(url)
    try:
        ids = {r["pseudonym"]: r["id"] for r in await conn.fetch(
            "SELECT id, pseudonym FROM participant WHERE contract = $1", contract_id)}
        decoder = msgspec.json.Decoder(list[ClaimIn])
        columns = ["id", "contract", "participant", "batch", "client_ref", "line_code",
                   "metric_code", "achieved_on", "value", "evidence_ref", "amount",
                   "currency", "status", "submitted_at", "sample"]
        started = time.perf_counter()
        for body in bodies:
            at = dt.datetime.now(dt.UTC)
            records = [(uuid.uuid4(), contract_id, ids[c.pseudonym], None, c.client_ref,
                        "job", c.metric_code, c.achieved_on, None, c.evidence_ref, 3_500_000,
                        "DKK", "accepted", at, None) for c in decoder.decode(body)]
            async with conn.transaction():
                await conn.copy_records_to_table("claim", columns=columns, records=records)
        return time.perf_counter() - started
    finally:
        await conn.close()


def over_http(base: str, key: str, contract_id, bodies: list[bytes]) -> float:
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    url = f"{base}/api/v1/contracts/{contract_id}/claims"
    with httpx.Client(timeout=120) as client:
        started = time.perf_counter()
        for n, body in enumerate(bodies):
            r = client.post(url, content=body, headers={**headers, "Idempotency-Key": f"b{n}"})
            if r.status_code != 201 or r.json()["rejected"]:
                raise RuntimeError(f"batch {n}: {r.status_code} {r.text[:300]}")
        return time.perf_counter() - started


def peak_memory(url: str, key: str, contract_id) -> tuple[float, float, float]:
    body = msgspec.json.encode(claim_rows(0, 10_000, "fit_for_work"))
    with server(url) as (base, pid):
        headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
        httpx.get(f"{base}/api/v1/contracts", headers=headers)  # warm up
        before = rss_mb(pid)
        started = time.perf_counter()
        r = httpx.post(f"{base}/api/v1/contracts/{contract_id}/claims", content=body,
                       headers={**headers, "Idempotency-Key": "mem"}, timeout=300)
        took = time.perf_counter() - started
        assert r.status_code == 201 and r.json()["accepted"] == 10_000, r.text[:300]
        return before, rss_mb(pid, "VmHWM"), took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    args = parser.parse_args()
    n, size = args.claims, args.batch

    url = asyncio.run(recreate(BENCH))
    ids = asyncio.run(seed(url, participants=max(n, 10_000)))
    base_url = asyncio.run(recreate(BASE, template=BENCH))
    mem_url = asyncio.run(recreate(MEM, template=BENCH))
    bodies = [msgspec.json.encode(claim_rows(i, size)) for i in range(0, n, size)]

    copy_s = asyncio.run(baseline(base_url, ids["contract_id"], bodies))
    with server(url) as (base, _):
        http_s = over_http(base, ids["key"], ids["contract_id"], bodies)
    before, peak, took = peak_memory(mem_url, ids["key"], ids["contract_id"])
    for name in (BENCH, BASE, MEM):
        asyncio.run(drop(name))

    copy_rate, http_rate = n / copy_s, n / http_s
    print(f"machine: {machine()}")
    print(f"claims: {n} in batches of {size}")
    print(f"baseline (msgspec decode + asyncpg COPY): {copy_s:.2f} s, {copy_rate:,.0f} claims/s")
    print(f"virker intake over HTTP:                  {http_s:.2f} s, {http_rate:,.0f} claims/s")
    print(f"ratio intake/baseline: {http_rate / copy_rate:.2f} (target >= 0.5)")
    print(f"one 10,000-claim request: {took:.2f} s; server RSS before {before:.0f} MB, "
          f"peak {peak:.0f} MB (target <= 200 MB)")


if __name__ == "__main__":
    main()
