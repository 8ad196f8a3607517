"""Claims intake over HTTP on PostgreSQL against the physical limit: raw asyncpg COPY.

Both load the same 100,000 claims in batches of 1,000. The baseline decodes each batch with
msgspec and COPYs it into the claim table of an identical database; Virker takes each batch
as a provider would, over HTTP, checks every claim against the payment rules inside the
contract's lock, writes claims and report in one transaction and answers with the report
(which the client reads with msgspec, as the baseline reads its batches). Beside the times,
the CPU each side spent per batch: the server process and the database's backends (read
from /proc, so they hold on a busy machine where wall-clock times do not). Then, on a fresh
server process, the peak memory while taking one 10,000-claim request.

    .venv/bin/python -m benchmarks.intake [--claims 100000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import msgspec

from benchmarks.common import (
    ADMIN_URL,
    claim_rows,
    drop,
    machine,
    recreate,
    rss_mb,
    seed,
    server,
)
from outcomes.schemas import ClaimIn

BENCH, BASE, MEM = "virker_bench_intake", "virker_bench_intake_base", "virker_bench_intake_mem"


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def database_cpu(url: str, database: str) -> float:
    """CPU time used so far by the PostgreSQL backends connected to `database` (this
    machine's server only); 0 where /proc does not show them."""
    conn = await asyncpg.connect(url)
    try:
        pids = [r["pid"] for r in await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database)]
    finally:
        await conn.close()
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:  # another machine's server, or a backend that has just ended
            pass
    return total


async def baseline(url: str, contract_id: uuid.UUID, bodies: list[bytes]) -> tuple[float, float]:
    """Seconds for the baseline, and the CPU seconds its database backend spent."""
    conn = await asyncpg.connect(url)
    try:
        ids = {r["pseudonym"]: r["id"] for r in await conn.fetch(
            "SELECT id, pseudonym FROM participant WHERE contract = $1", contract_id)}
        decoder = msgspec.json.Decoder(list[ClaimIn])
        columns = ["id", "contract", "participant", "batch", "client_ref", "line_code",
                   "metric_code", "achieved_on", "value", "evidence_ref", "amount",
                   "currency", "status", "submitted_at", "sample"]
        backend = cpu_seconds(await conn.fetchval("SELECT pg_backend_pid()"))
        started = time.perf_counter()
        for body in bodies:
            at = dt.datetime.now(dt.UTC)
            records = [(uuid.uuid4(), contract_id, ids[c.pseudonym], None, c.client_ref,
                        "job", c.metric_code, c.achieved_on, None, c.evidence_ref, 3_500_000,
                        "DKK", "accepted", at, None) for c in decoder.decode(body)]
            async with conn.transaction():
                await conn.copy_records_to_table("claim", columns=columns, records=records)
        took = time.perf_counter() - started
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        return took, cpu_seconds(pid) - backend
    finally:
        await conn.close()


class Report(msgspec.Struct):
    rejected: int


def over_http(base: str, key: str, contract_id, bodies: list[bytes], server_pid: int,
              url: str, database: str) -> tuple[float, float, float]:
    """Seconds for Virker, and the CPU seconds its server process and its database backends
    spent meanwhile."""
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    target = f"{base}/api/v1/contracts/{contract_id}/claims"
    report = msgspec.json.Decoder(Report)
    with httpx.Client(timeout=120) as client:
        client.get(f"{base}/api/v1/contracts", headers=headers)  # the pool's first connection
        server, db = cpu_seconds(server_pid), asyncio.run(database_cpu(url, database))
        started = time.perf_counter()
        for n, body in enumerate(bodies):
            r = client.post(target, content=body,
                            headers={**headers, "Idempotency-Key": f"b{n}"})
            if r.status_code != 201 or report.decode(r.content).rejected:
                raise RuntimeError(f"batch {n}: {r.status_code} {r.text[:300]}")
        took = time.perf_counter() - started
        return (took, cpu_seconds(server_pid) - server,
                asyncio.run(database_cpu(url, database)) - db)


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

    copy_s, copy_db = asyncio.run(baseline(base_url, ids["contract_id"], bodies))
    with server(url) as (base, pid):
        http_s, http_server, http_db = over_http(base, ids["key"], ids["contract_id"], bodies,
                                                 pid, ADMIN_URL, BENCH)
    before, peak, took = peak_memory(mem_url, ids["key"], ids["contract_id"])
    for name in (BENCH, BASE, MEM):
        asyncio.run(drop(name))

    copy_rate, http_rate = n / copy_s, n / http_s
    per = 1000 / len(bodies)  # milliseconds per batch, from seconds
    print(f"machine: {machine()}")
    print(f"claims: {n} in batches of {size}")
    print(f"baseline (msgspec decode + asyncpg COPY): {copy_s:.2f} s, {copy_rate:,.0f} claims/s; "
          f"per batch {copy_s * per:.1f} ms, database CPU {copy_db * per:.1f} ms")
    print(f"virker intake over HTTP:                  {http_s:.2f} s, {http_rate:,.0f} claims/s; "
          f"per batch {http_s * per:.1f} ms, server CPU {http_server * per:.1f} ms, "
          f"database CPU {http_db * per:.1f} ms")
    print(f"ratio intake/baseline: {http_rate / copy_rate:.2f} (target >= 0.5)")
    print(f"one 10,000-claim request: {took:.2f} s; server RSS before {before:.0f} MB, "
          f"peak {peak:.0f} MB (target <= 200 MB)")


if __name__ == "__main__":
    main()
