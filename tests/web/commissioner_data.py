"""Claims for the commissioner's pages to show: enrolled and claimed by the provider,
drawn for verification by the commissioner, through the services as the API does it."""

from __future__ import annotations

import datetime as dt
import itertools
from uuid import UUID

import msgspec

from contracts.identity import Principal
from outcomes import intake, verification
from outcomes.schemas import ClaimIn, ParticipantIn
from tests.helpers import World, active_contract, principal

ENROLLED = dt.date(2024, 2, 1)
ENTRY = 1_500_000  # the housing-entry line's price, in øre
_keys = itertools.count(1)


def boss(w: World) -> Principal:
    return principal(w.ids["commissioner"], "commissioner")


def provider(w: World) -> Principal:
    return principal(w.ids["provider"], "provider")


async def claims(w: World, cid: UUID, n: int, prefix: str = "P", *, extra: list | None = None
                 ) -> list[UUID]:
    """`n` participants `prefix`-1… enrolled, each with a housing-entry claim a month later;
    `extra` rows are claimed in the same batch. Returns the accepted claims' ids."""
    key = next(_keys)
    await intake.submit_participants(intake.Submission(
        principal=provider(w), contract_id=cid, kind="participants", idempotency_key=None,
        body_hash=f"p{key}"), [(i, ParticipantIn(pseudonym=f"{prefix}-{i}", enrolled_on=ENROLLED),
                                [])
                               for i in range(1, n + 1)])
    rows = [ClaimIn(client_ref=f"{prefix.lower()}{i}-entry", pseudonym=f"{prefix}-{i}",
                    metric_code="housing_entry", achieved_on=ENROLLED + dt.timedelta(days=30),
                    evidence_ref=f"lease-{i}") for i in range(1, n + 1)]
    rows += [msgspec.convert(r, ClaimIn) for r in extra or []]
    report, _ = await intake.submit_claims(intake.Submission(
        principal=provider(w), contract_id=cid, kind="claims", idempotency_key=f"k{key}",
        body_hash=f"c{key}"), [(i, r, []) for i, r in enumerate(rows, start=1)])
    return [r.id for r in report.results if r.status == "accepted"]


async def drawn(w: World, n: int, *, sampled: bool, prefix: str = "P", **terms
                ) -> tuple[UUID, list[UUID]]:
    """A new active contract with `n` claims through a verification draw: all of them
    sampled (`sampled`), or none (each ready to approve)."""
    cid = await active_contract(w, sampling_rate_bp=10_000 if sampled else 0, **terms)
    ids = await claims(w, cid, n, prefix)
    await verification.draw_sample(boss(w), cid, "seed-0000")
    return cid, ids
