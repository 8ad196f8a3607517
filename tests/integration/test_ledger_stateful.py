"""The test net for money bugs. Hypothesis drives one contract at a time through its whole
money flow (tests/property/books.py: claims, verification samples, approvals, payment runs,
clawbacks of approved and of paid claims, variations of cap and shares, suspensions, and on
PostgreSQL two steps at once from two connections) and checks the books after every step
(tests/property/invariants.py). A step may be refused only as the state before it says it
must be; any other error, an unbalanced entry among them, fails the run. The last two tests
bend the money on purpose and show that the run then fails.

Profiles, chosen by VIRKER_HYPOTHESIS_PROFILE:
- `ci` (the default, `make test`): derandomised, so every run draws the same steps; about
  half a minute per engine on two cores.
- `long` (`make test-long`): random, many more and longer examples
  (VIRKER_HYPOTHESIS_EXAMPLES, default 200); a failing example is saved under .hypothesis/
  and tried first on the next run.

Reproducing a failing run:
1. The failure ends with the failing steps as a program (`state = Books()`,
   `state.contract(...)`, `state.approve(...)`, …), shrunk to a short one, and a failed
   invariant names the claim and the entry. That program is the bug's story.
2. Below it Hypothesis prints `@reproduce_failure('<version>', b'<blob>')` (print_blob):
   put that line above `class Books` in tests/property/books.py and rerun the same command
   with the same VIRKER_HYPOTHESIS_PROFILE and VIRKER_TEST_DATABASE_URL, e.g.
   `VIRKER_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/pytest
   -p no:cacheprovider tests/integration/test_ledger_stateful.py -k "whatever and postgres"`.
3. A `long` run prints its seed first ("seed N"; pytest shows it with a failure): rerun with
   `make test-long SEED=N` (that is, `--hypothesis-seed=N`) to draw the same examples again.
   The `ci` profile ignores seeds: every run is that run again.
The steps decide the state alone (sampling is all or nothing, races are settled the same way
whichever side wins), so a replay finds the same state, except that on PostgreSQL the side
that wins a race, and so what its events say, may differ.
"""

from __future__ import annotations

import asyncio
import os
import random

import pytest
from hypothesis import HealthCheck, Phase, settings

from ledger import entries
from ledger.posting import LedgerError
from tests.property import books
from tests.property.running import EVENTS

COMMON = dict(deadline=None, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
PROFILES = {
    "ci": settings(derandomize=True, database=None, max_examples=12,
                   stateful_step_count=50, **COMMON),
    "long": settings(max_examples=int(os.environ.get("VIRKER_HYPOTHESIS_EXAMPLES", "200")),
                     stateful_step_count=100, **COMMON),
}
PROFILE = os.environ.get("VIRKER_HYPOTHESIS_PROFILE", "ci")

# The paths that must have run, or the net has a hole: each line is one path, taken by any
# of its steps (the events `books.note` records).
MONEY_PATHS = [
    ("claim accepted",),
    ("approve: done",),
    ("approve: refused not_approvable",),
    ("pay run: done", "pay approved run: done", "race pay+pay: pay done",
     "race approve+pay: pay done"),
    ("clawback approved: done", "race clawback+clawback: clawback approved done"),
    ("clawback paid: done", "race clawback+pay: clawback paid done",
     "race clawback+clawback: clawback paid done"),
    ("clawback approved in run: refused in_payment_run",),
    ("accept variation: done", "accept pending variation: done"),
    ("vary: refused cap_below_accrued", "accept pending variation: refused cap_below_accrued",
     "race accept+approve: accept refused cap_below_accrued"),
    ("suspend: done",),
    ("resume: done",),
    ("submit: refused contract_not_active",),
]


async def run_machine(db, machine_settings: settings, seed: int | str | None = None
                      ) -> None:
    await asyncio.to_thread(books.run_machine, machine_settings, db, seed)


def long_run_seed(config: pytest.Config) -> int | str | None:
    """The seed of a `long` run: --hypothesis-seed's, else a new one (printed, so that a
    failing run can be run again)."""
    if PROFILE != "long":
        return None
    given = config.getoption("hypothesis_seed", None)
    chosen = (int(given) if given.isdigit() else given) if given else random.randrange(2**32)
    print(f"\nseed {chosen}: rerun with --hypothesis-seed={chosen} (make test-long "
          f"SEED={chosen})")
    return chosen


async def test_the_books_hold_whatever_happens(db, request):
    EVENTS.clear()
    await run_machine(db, PROFILES[PROFILE], long_run_seed(request.config))
    print(f"\n{db.kind}, profile {PROFILE}:")
    for what, n in sorted(EVENTS.items()):
        print(f"  {n:6d}  {what}")
    missing = [path for path in MONEY_PATHS if not any(EVENTS[step] for step in path)]
    assert not missing, f"these paths never ran: {missing}"
    # Every contract got claims in, and money moved on a good part of them.
    contracts = EVENTS["contract"]
    assert EVENTS["contract with claims accepted"] == contracts
    assert EVENTS["contract with claims paid"] * 4 >= contracts, "too few contracts paid"
    if db.kind == "postgres":
        raced = {e.split(":")[0] for e in EVENTS
                 if e.startswith("race ") and not e.endswith("none to be had")}
        assert len(raced) >= 4, f"too few kinds of simultaneous steps ran: {raced}"


# The net must catch the bugs it is for: with the money bent on purpose, the run fails, and
# says how to get there. No shrinking: the first failure is proof enough.

PROOF = settings(PROFILES["ci"], max_examples=20, stateful_step_count=30,
                 phases=[Phase.generate], report_multiple_bugs=False, print_blob=False)


def steps_of(failure: pytest.ExceptionInfo) -> str:
    return "\n".join(getattr(failure.value, "__notes__", []))


async def test_an_unbalanced_clawback_fails_the_run(db, monkeypatch):
    real = entries.clawback

    def drops_a_leg(*args, **kwargs):
        entry = real(*args, **kwargs)
        entry.legs = entry.legs[:-1]
        return entry

    monkeypatch.setattr(entries, "clawback", drops_a_leg)
    with pytest.raises(LedgerError) as failure:
        await run_machine(db, PROOF)
    assert failure.value.code == "entry_unbalanced" and "clawback:" in failure.value.message
    assert "state = Books()" in steps_of(failure)  # the steps that lead there


async def test_a_payment_to_the_wrong_commissioner_fails_the_run(db, monkeypatch):
    """Balanced, hash-chained and verifiable, and still wrong: each commissioner's payable
    is settled with the other's part. Only the invariants can tell."""
    real = entries.payment

    def swaps_parts(contract, currency, parts, *args, **kwargs):
        orgs = [org for org, _ in parts][::-1]
        return real(contract, currency, [(o, a) for o, (_, a) in zip(orgs, parts, strict=True)],
                    *args, **kwargs)

    monkeypatch.setattr(entries, "payment", swaps_parts)
    with pytest.raises(AssertionError, match="not the parts it accrued") as failure:
        await run_machine(db, PROOF)
    assert "state = Books()" in steps_of(failure)
