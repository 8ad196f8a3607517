"""The report workers stop with the application, and a render that the pool could not
finish is answered as a problem+json, never dropped."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from contracts.errors import Unavailable
from reports import pool
from tests.helpers import active_contract


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


@pytest.fixture
def small_pool(monkeypatch):
    """A fresh pool of one worker that waits one second for a busy worker when stopped."""
    pool.shutdown()
    monkeypatch.setattr(pool, "workers", lambda: 1)
    monkeypatch.setattr(pool, "STOP_SECONDS", 1.0, raising=False)
    yield
    pool.shutdown()


async def _settle(tasks) -> None:
    for task in tasks:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


async def test_stopping_the_pool_ends_its_workers_even_a_busy_one(small_pool):
    assert await pool.run(os.getpid) != os.getpid()
    busy = asyncio.create_task(pool.run(time.sleep, 60))
    await asyncio.sleep(0.5)
    workers = [p.pid for p in multiprocessing.active_children()]
    assert workers and all(alive(pid) for pid in workers)
    started = time.monotonic()
    await asyncio.to_thread(pool.shutdown)
    try:
        assert not [pid for pid in workers if alive(pid)]
        assert time.monotonic() - started < 10
        with pytest.raises(Unavailable) as refused:
            await asyncio.wait_for(busy, 10)
        assert refused.value.code == "shutting_down"
    finally:
        await _settle([busy])
    # The next render starts a fresh pool.
    assert await pool.run(os.getpid) not in workers


async def test_a_statement_the_stopping_pool_could_not_render_is_a_503_problem(
        api, world, small_pool):
    cid = await active_contract(world)
    # The one worker is busy and its queue full: the statement waits in the pool.
    busy = [asyncio.create_task(pool.run(time.sleep, 60)) for _ in range(4)]
    await asyncio.sleep(0.5)
    statement = asyncio.create_task(api.get(f"/api/v1/contracts/{cid}/statement.pdf",
                                            headers=world.headers("auditor")))
    await asyncio.sleep(1)
    try:
        await asyncio.to_thread(pool.shutdown)
        r = await asyncio.wait_for(statement, 30)
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "shutting_down"
    finally:
        await _settle([*busy, statement])


async def test_the_applications_lifespan_stops_the_pool_off_the_event_loop(small_pool):
    worker = await pool.run(os.getpid)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(tick())
    busy = asyncio.create_task(pool.run(time.sleep, 60))
    await asyncio.sleep(0.3)
    before = ticks
    await pool.stop()  # api.app's lifespan awaits this when the server stops
    assert ticks - before > 10  # the loop went on while a busy worker was given its second
    assert not alive(worker)
    await _settle([busy, ticking])
