"""Auditor statements for contracts with 1,000, 10,000 and 100,000 claims on PostgreSQL:
time and peak memory of one statement each, rendered the way the server renders it (a
worker process that reads the data itself and runs WeasyPrint).

Every claim is taken in through intake, a 10 % sample drawn, all approved and paid in one
payment run, so the period holds two journal entries per claim. The smallest contract is
the baseline: the ratios show how far time and memory grow with the contract's size.

    .venv/bin/python -m benchmarks.statement [--sizes 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys

from benchmarks.common import drop, machine, recreate
from benchmarks.ledger import approved, pay

NAME = "virker_bench_statement"

# Run in a fresh process, as a report worker: imports first (a worker imports once), then
# one statement, timed in parts; peak RSS from the kernel.
WORKER = r"""
import datetime as dt, json, sys, time, uuid
t0 = time.perf_counter()
from reports import pool
import reports.assembly, reports.chart, reports.render, weasyprint
imported = time.perf_counter() - t0
url, cid = sys.argv[1], uuid.UUID(sys.argv[2])
timings = {}
body = pool.statement_job(url, cid, dt.date(2024, 1, 1), dt.date.today(), timings)
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"imports": imported, **timings, "peak_mb": hwm / 1024, "bytes": len(body),
                  "total": timings["assemble"] + timings["html"] + timings["pdf"]}))
"""


def measure(url: str, cid) -> dict:
    out = subprocess.run([sys.executable, "-c", WORKER, url, str(cid)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args()
    results = []
    for n in [int(s) for s in args.sizes.split(",")]:
        url = asyncio.run(recreate(NAME))
        cid, boss = asyncio.run(approved(url, n))
        asyncio.run(pay(cid, boss))
        results.append((n, measure(url, cid)))
        asyncio.run(drop(NAME))
    base = results[0][1]
    print(f"machine: {machine()}")
    print(f"{'claims':>8} {'entries':>8} {'assemble':>9} {'html':>6} {'pdf':>6} {'total':>7} "
          f"{'x base':>7} {'peak MB':>8} {'x base':>7} {'attached':>9} {'pdf MB':>7}")
    for n, r in results:
        print(f"{n:>8,} {r['entries']:>8,} {r['assemble']:>8.2f}s {r['html']:>5.2f}s "
              f"{r['pdf']:>5.2f}s {r['total']:>6.2f}s {r['total'] / base['total']:>7.1f} "
              f"{r['peak_mb']:>8.0f} {r['peak_mb'] / base['peak_mb']:>7.1f} "
              f"{r['attached_mb']:>8.1f}M {r['bytes'] / 2**20:>7.1f}")
    print("targets: at most 3 s and 300 MB for every size; worker start-up (imports, once per "
          f"worker) {base['imports']:.2f} s is not counted")


if __name__ == "__main__":
    main()
