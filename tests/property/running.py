"""How the ledger's state machine runs its steps: one event loop per run, refusals
expected by class and code, and events counted.

`expect` is the heart of the test net: a step passes only if it succeeds, or is refused
exactly as the state before it says it must be. Every other error, an unbalanced entry
(`ledger.posting.LedgerError`) or a database's IntegrityError among them, propagates and
fails the run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Iterable, Iterator
from typing import Any

from hypothesis import event

from contracts.errors import DomainError

# Every path taken, counted across a run, so that the tests can show which ran; each is
# also a Hypothesis event.
EVENTS: Counter[str] = Counter()
Refusal = tuple[type[DomainError], str]

_loop: asyncio.AbstractEventLoop | None = None


def note(what: str) -> None:
    EVENTS[what] += 1
    event(what)


@contextlib.contextmanager
def own_loop() -> Iterator[None]:
    """An event loop for the steps of one run (in a thread that has none), so that a
    PostgreSQL connection pool can last the run."""
    global _loop
    _loop = asyncio.new_event_loop()
    try:
        yield
    finally:
        _loop.close()
        _loop = None


def run(coro: Awaitable[Any]) -> Any:
    """Run a step's work on the run's loop."""
    assert _loop is not None, "steps run inside own_loop()"
    return _loop.run_until_complete(coro)


async def expect(step: str, call: Awaitable[Any], refusal: Refusal | None = None) -> Any:
    """Await `call`: it must succeed, or, when `refusal` is given, be refused with exactly
    that class and code. Anything else propagates and fails the run."""
    try:
        result = await call
    except DomainError as exc:
        if refusal is None or (type(exc), exc.code) != refusal:
            raise
        note(f"{step}: refused {exc.code}")
        return exc
    assert refusal is None, f"{step}: expected {refusal[1]}, but it went through"
    note(f"{step}: done")
    return result


async def together(name: str, *calls: tuple[str, Awaitable[Any], Iterable[Refusal]]
                   ) -> list[Any]:
    """Run `calls` at once, each in its own transaction on its own connection. Each may be
    refused only as its refusals say, whichever runs first."""
    out = await asyncio.gather(*(c for _, c, _ in calls), return_exceptions=True)
    for (step, _, allowed), result in zip(calls, out, strict=True):
        if isinstance(result, BaseException):
            if not (isinstance(result, DomainError)
                    and (type(result), result.code) in set(allowed)):
                raise result
            note(f"race {name}: {step} refused {result.code}")
        else:
            note(f"race {name}: {step} done")
    return out
