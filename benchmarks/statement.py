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
import datetime as dt
import json
import subprocess
import sys

from benchmarks.common import drop, machine, recreate
from benchmarks.ledger import approved, pay

NAME = "virker_bench_statement"

# Run in a fresh process, as a report worker: imports first (a worker imports once), then
# one statement, timed in parts; peak RSS from the kernel.
WORKER = r"""
import asyncio, datetime as dt, json, sys, time, uuid
t0 = time.perf_counter()
from contracts.database import bind, make_engine
from reports.assembly import assemble
from reports.chart import outcomes_chart
from reports.render import html, listing, pdf
import weasyprint
imported = time.perf_counter() - t0
url, cid = sys.argv[1], uuid.UUID(sys.argv[2])
bind(make_engine(url))
t = time.perf_counter()
s = asyncio.run(assemble(cid, dt.date(2024, 1, 1), dt.date.today()))
t_assemble = time.perf_counter() - t
t = time.perf_counter()
doc = html("statement.html", s=s, chart=outcomes_chart(s.monthly, s.currency),
           attachments=listing(s.attachments))
t_html = time.perf_counter() - t
t = time.perf_counter()
body = pdf(doc, s.attachments)
t_pdf = time.perf_counter() - t
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"imports": imported, "assemble": t_assemble, "html": t_html, "pdf": t_pdf,
                  "total": t_assemble + t_html + t_pdf, "peak_mb": hwm / 1024,
                  "bytes": len(body), "claims": s.totals.received,
                  "attached_mb": sum(len(a.data) for a in s.attachments) / 2**20,
                  "entries": s.proof.period_entries}))
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
    print(f"machine: {machine()}, {dt.date.today()}")
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
