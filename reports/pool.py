"""Statements, remittances and effect reports are rendered in worker processes, outside the
server's event loop.

WeasyPrint holds the CPU for a second or more per document and keeps the memory it used, so
a worker reads the data itself (its own database connection; nothing large crosses between
processes but the finished PDF), renders, and is replaced after a number of documents.
Workers are started with `spawn`: a fork of a server with open connections and a running
event loop is not safe.

The workers stop with the application: its lifespan calls `stop`, which lets each worker
finish what it is rendering for a few seconds and then ends it, so that no worker of a
stopped server lives on. A render that the pool could not finish (a worker died, the pool
stopped) is answered as 503 `rendering_failed` or `shutting_down`, never left to the
caller as a cancelled task.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import multiprocessing
import threading
import time
import weakref
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from uuid import UUID

from contracts.errors import Unavailable
from core.settings import get_settings

TASKS_PER_WORKER = 20
STOP_SECONDS = 5.0

log = logging.getLogger("virker.reports")

_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()
_stopped: weakref.WeakSet[ProcessPoolExecutor] = weakref.WeakSet()
_bound: str | None = None


def workers() -> int:
    """How many processes render at once (VIRKER_REPORT_WORKERS, docs/deployment.md)."""
    return get_settings().report_workers


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(max_workers=workers(),
                                        mp_context=multiprocessing.get_context("spawn"),
                                        max_tasks_per_child=TASKS_PER_WORKER)
        return _pool


def _take(pool: ProcessPoolExecutor | None = None) -> ProcessPoolExecutor | None:
    """Take the current pool (or `pool`, if it is still the current one) out of use: the
    next render starts a fresh one."""
    global _pool
    with _lock:
        taken = _pool if pool is None or pool is _pool else None
        if taken is not None:
            _pool = None
        return taken


def shutdown(timeout: float | None = None) -> None:
    """Stop the workers: nothing new starts, queued renders are cancelled, a render under
    way gets `timeout` seconds (STOP_SECONDS) to finish, then its worker is terminated
    (killed if it will not go). Returns when every worker process has ended. Blocks: from
    the event loop, call `stop`."""
    pool = _take()
    if pool is None:
        return
    _stopped.add(pool)
    # The executor does not hand out its processes; reading them is the only way to make
    # sure none outlives it (Python 3.14 adds terminate_workers for this).
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    timeout = STOP_SECONDS if timeout is None else timeout
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            log.warning("report worker %s still busy after %.0f s; terminating it",
                        process.pid, timeout)
            process.terminate()
    for process in processes:
        process.join(2)
        if process.is_alive():
            process.kill()
            process.join()


async def stop() -> None:
    """`shutdown`, off the event loop: for the application's lifespan."""
    await asyncio.to_thread(shutdown)


def _bind(url: str) -> None:
    global _bound
    if _bound != url:
        from core.database import bind, make_engine

        bind(make_engine(url))
        _bound = url


def statement_job(url: str, contract_id: UUID, period_from: dt.date, period_to: dt.date,
                  timings: dict[str, float] | None = None, *, lang: str | None = None,
                  scope: UUID | None = None) -> bytes:
    """In a worker (or in-process for the command line): read and render one statement,
    its money in `lang` (by default the contract's, see `reports.formats`); a partner's
    part of it given its `scope` (`contracts.service.provider_scope`). The attachments'
    temporary files are gone when it returns.

    The cyclic garbage collector is paused meanwhile: what a statement makes holds no
    cycles, and collections over WeasyPrint's boxes cost more than they free."""
    from reports.assembly import assemble
    from reports.render import statement_document

    _bind(url)
    gc.disable()
    s = None
    try:
        t = time.perf_counter()
        s = asyncio.run(assemble(contract_id, period_from, period_to, scope=scope))
        t_assemble = time.perf_counter() - t
        stamps: dict[str, float] = {}
        body = statement_document(s, lang, stamps)
        if timings is not None:
            timings.update(assemble=t_assemble, **stamps,
                           claims=s.totals.received, entries=s.proof.period_entries,
                           attached_mb=sum(a.spooled().size for a in s.attachments) / 2**20)
        return body
    finally:
        if s is not None:
            s.close()
        gc.enable()
        gc.collect()


def remittance_job(url: str, run_id: UUID, *, lang: str | None = None,
                   scope: UUID | None = None) -> bytes:
    """In a worker: read and render one paid run's remittance; a partner's (the claims of
    its own participants alone) given its `scope`."""
    from reports.remittance import remittance
    from reports.render import remittance_pdf

    _bind(url)
    return remittance_pdf(asyncio.run(remittance(run_id, scope=scope)), lang)


def effect_job(url: str, principal, contract_id: UUID, as_of: dt.date, *,
               lang: str | None = None) -> bytes:
    """In a worker: read one contract's effect report through the effect services, as
    `principal` reads it over the API, and render it."""
    from reports.effect import contract_report, report_pdf

    _bind(url)
    return report_pdf(asyncio.run(contract_report(principal, contract_id, as_of=as_of,
                                                  lang=lang)))


def portfolio_effect_job(url: str, principal, owner: UUID, as_of: dt.date, *,
                         lang: str | None = None) -> bytes:
    """In a worker: read and render the effect report of the contracts `owner`
    commissions, as `principal` reads them over the API."""
    from reports.effect import portfolio_report, report_pdf

    _bind(url)
    return report_pdf(asyncio.run(portfolio_report(principal, owner, as_of=as_of,
                                                   lang=lang)))


async def run(job, *args, **kwargs) -> bytes:
    """Run `job(*args, **kwargs)` in the pool; the event loop serves other requests
    meanwhile. A caller that goes away takes its queued render with it."""
    pool = _executor()
    try:
        future = pool.submit(job, *args, **kwargs)
    except (RuntimeError, BrokenProcessPool):  # stopped or broken since it was looked up
        raise _unavailable(pool) from None
    try:
        return await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if future.cancelled() and task is not None and not task.cancelling():
            # The pool cancelled the render (it is stopping), not our caller.
            raise _unavailable(pool) from None
        raise
    except BrokenProcessPool:
        raise _unavailable(pool) from None


def _unavailable(pool: ProcessPoolExecutor) -> Unavailable:
    if pool in _stopped:
        return Unavailable("the server is stopping; try again shortly", code="shutting_down")
    _take(pool)  # a worker died: the next request starts fresh workers
    return Unavailable("the document could not be rendered; try again",
                       code="rendering_failed")
