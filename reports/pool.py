"""Statements are rendered in worker processes, outside the server's event loop.

WeasyPrint holds the CPU for a second or more per document and keeps the memory it used, so
a worker reads the data itself (its own database connection; nothing large crosses between
processes but the finished PDF), renders, and is replaced after a number of documents.
Workers are started with `spawn`: a fork of a server with open connections and a running
event loop is not safe.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from uuid import UUID

from contracts.errors import Unavailable

TASKS_PER_WORKER = 20

_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()
_bound: str | None = None


def workers() -> int:
    return max(1, int(os.environ.get("VIRKER_REPORT_WORKERS", "2")))


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(max_workers=workers(),
                                        mp_context=multiprocessing.get_context("spawn"),
                                        max_tasks_per_child=TASKS_PER_WORKER)
        return _pool


def shutdown() -> None:
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = None


def _bind(url: str) -> None:
    global _bound
    if _bound != url:
        from core.database import bind, make_engine

        bind(make_engine(url))
        _bound = url


def statement_job(url: str, contract_id: UUID, period_from: dt.date, period_to: dt.date,
                  timings: dict[str, float] | None = None) -> bytes:
    """In a worker (or in-process for the command line): read and render one statement.

    The cyclic garbage collector is paused meanwhile: a large contract makes millions of
    short-lived rows that hold no cycles, and repeated collections over them cost more
    than the work itself."""
    from reports.assembly import assemble
    from reports.chart import outcomes_chart
    from reports.render import html, listing, pdf

    _bind(url)
    gc.disable()
    try:
        t = time.perf_counter()
        s = asyncio.run(assemble(contract_id, period_from, period_to))
        t_assemble = time.perf_counter() - t
        t = time.perf_counter()
        document = html("statement.html", s=s, chart=outcomes_chart(s.monthly, s.currency),
                        attachments=listing(s.attachments))
        t_html = time.perf_counter() - t
        t = time.perf_counter()
        body = pdf(document, s.attachments)
        if timings is not None:
            timings.update(assemble=t_assemble, html=t_html, pdf=time.perf_counter() - t,
                           claims=s.totals.received, entries=s.proof.period_entries,
                           attached_mb=sum(len(a.data) for a in s.attachments) / 2**20)
        return body
    finally:
        gc.enable()
        gc.collect()


def remittance_job(url: str, run_id: UUID) -> bytes:
    from reports.assembly import remittance
    from reports.render import remittance_pdf

    _bind(url)
    return remittance_pdf(asyncio.run(remittance(run_id)))


async def run(job, *args) -> bytes:
    """Run `job(*args)` in the pool; the event loop serves other requests meanwhile."""
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_executor(), job, *args)
    except BrokenProcessPool:
        shutdown()  # the next request starts fresh workers
        raise Unavailable("the document could not be rendered; try again",
                          code="rendering_failed") from None
