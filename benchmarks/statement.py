"""Auditor statements for contracts with 1,000, 10,000 and 100,000 claims on PostgreSQL:
time and peak memory of one statement each, rendered the way the server renders it (a
worker process that reads the data itself and runs WeasyPrint).

Every claim is taken in through intake, a 10 % sample drawn, all approved and paid in one
payment run, so the period holds two journal entries per claim; then the database gathers
its statistics (ANALYZE), as autovacuum would have done on a server. The smallest contract
is the baseline: the ratios show how far time and memory grow with the contract's size.

    .venv/bin/python -m benchmarks.statement [--sizes 1000,10000,100000] [--keep]

`--keep` leaves each size's database in place and uses it again on the next run (drop them
with `--drop`), to measure a change without taking the claims in again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys

import asyncpg

from benchmarks.common import ADMIN_URL, db_url, drop, machine, recreate
from benchmarks.ledger import approved, pay

NAME = "virker_bench_statement"

# Run in a fresh process, as a report worker: imports first (a worker imports once), then
# one statement, timed in parts; peak RSS from the kernel.
WORKER = r"""
import datetime as dt, json, os, sys, time, uuid
t0 = time.perf_counter()
from reports import pool, snapshot
import reports.assembly, reports.chart, reports.render, weasyprint
imported = time.perf_counter() - t0
url, cid = sys.argv[1], uuid.UUID(sys.argv[2])
tick = os.sysconf("SC_CLK_TCK")

def cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick

def busy():  # CPU seconds the whole machine has been busy
    values = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / tick

# The database's share: the CPU of each backend the statement's snapshot connects to.
backends, connect, close = {}, snapshot.Snapshot._connect, snapshot.Snapshot._close
async def counted_connect(self):
    conn = await connect(self)
    pid = await conn.fetchval("SELECT pg_backend_pid()")
    backends[pid] = cpu(pid)
    return conn
async def counted_close(self):
    for pid, start in list(backends.items()):
        backends[pid] = cpu(pid) - start
    await close(self)
snapshot.Snapshot._connect, snapshot.Snapshot._close = counted_connect, counted_close

timings = {}
b0, c0 = busy(), time.process_time()
body = pool.statement_job(url, cid, dt.date(2024, 1, 1), dt.date.today(), timings)
worker_cpu, machine = time.process_time() - c0, busy() - b0
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
db_cpu = sum(backends.values())
print(json.dumps({"imports": imported, **timings, "peak_mb": hwm / 1024, "bytes": len(body),
                  "total": timings["assemble"] + timings["html"] + timings["pdf"],
                  "worker_cpu": worker_cpu, "db_cpu": db_cpu,
                  "others_cpu": max(0.0, machine - worker_cpu - db_cpu)}))
"""


def measure(url: str, cid) -> dict:
    out = subprocess.run([sys.executable, "-c", WORKER, url, str(cid)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


async def prepared(name: str, n: int, keep: bool) -> tuple[str, str]:
    """The database `name` holding a contract of `n` paid claims (made anew unless `keep`
    finds one), its statistics gathered; returns its URL and the contract's id."""
    url = db_url(name)
    if keep:
        try:
            conn = await asyncpg.connect(url)
        except asyncpg.InvalidCatalogNameError:
            pass
        else:
            try:
                cid = await conn.fetchval("SELECT id FROM contract LIMIT 1")
            finally:
                await conn.close()
            if cid is not None:
                return url, str(cid)
    url = await recreate(name)
    cid, boss = await approved(url, n)
    await pay(cid, boss)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return url, str(cid)


async def drop_kept(sizes: list[int]) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        for n in sizes:
            await conn.execute(f'DROP DATABASE IF EXISTS "{NAME}_{n}" WITH (FORCE)')
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--keep", action="store_true",
                        help="keep each size's database, and use a kept one again")
    parser.add_argument("--drop", action="store_true", help="drop the kept databases")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.drop:
        asyncio.run(drop_kept(sizes))
        return
    results = []
    for n in sizes:
        name = f"{NAME}_{n}" if args.keep else NAME
        url, cid = asyncio.run(prepared(name, n, args.keep))
        results.append((n, measure(url, cid)))
        if not args.keep:
            asyncio.run(drop(name))
    base = results[0][1]
    print(f"machine: {machine()}")
    print(f"{'claims':>8} {'entries':>8} {'assemble':>9} {'html':>6} {'layout':>7} "
          f"{'embed':>6} {'total':>7} {'x base':>7} {'peak MB':>8} {'x base':>7} "
          f"{'attached':>9} {'pdf MB':>7} {'cpu:worker':>11} {'db':>6} {'others':>7}")
    for n, r in results:
        print(f"{n:>8,} {r['entries']:>8,} {r['assemble']:>8.2f}s {r['html']:>5.2f}s "
              f"{r['layout']:>6.2f}s {r['embed']:>5.2f}s {r['total']:>6.2f}s "
              f"{r['total'] / base['total']:>7.1f} {r['peak_mb']:>8.0f} "
              f"{r['peak_mb'] / base['peak_mb']:>7.1f} {r['attached_mb']:>8.1f}M "
              f"{r['bytes'] / 2**20:>7.1f} {r['worker_cpu']:>10.2f}s {r['db_cpu']:>5.2f}s "
              f"{r['others_cpu']:>6.2f}s")
    print("targets: at most 3 s and 300 MB for every size; worker start-up (imports, once per "
          f"worker) {base['imports']:.2f} s is not counted")
    print("cpu: seconds of CPU used meanwhile by the worker (its threads included), by the "
          "database backends of its snapshot, and by everything else on the machine")


if __name__ == "__main__":
    main()
