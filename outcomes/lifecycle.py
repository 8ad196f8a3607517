"""The one writer of a claim's status.

Every step a claim takes after intake (sampled, verified, disputed, approved, paid,
reversed) goes through `move`, which follows `rules.CLAIM_TRANSITIONS`, records one event
per claim with who, when and why, and moves the contract's usage totals when a claim enters
or leaves the counted statuses. The doors that call it (`verification`, `payments`) hold the
contract's lock and decide first; `move` checks again that each claim is where the caller
read it, so that a decision taken on a stale read changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from uuid import UUID

from contracts.errors import Conflict
from contracts.identity import Principal
from core.database import any_of, bulk_insert
from core.ids import new_id
from outcomes import usage
from outcomes.rules import COUNTED, next_claim_status, transition_refusal
from outcomes.tables import Claim, ClaimEvent

CHUNK = 5_000


async def move(contract_id: UUID, claims: Sequence[Mapping], action: str, reason: str,
               principal: Principal, at: dt.datetime) -> None:
    """Move `claims` of the contract (each a row with `id` and `status` as read under the
    contract's lock; with `line_code` and `amount` when the step changes what counts) on by
    `action`. Inside the caller's `write_transaction()`. Raises Conflict
    `invalid_transition` when a claim may not take the step, and `concurrent_change` when
    one is no longer in the status it was read in."""
    by_status: dict[str, list[Mapping]] = defaultdict(list)
    for claim in claims:
        refused = transition_refusal(claim["status"], action)
        if refused is not None:
            raise Conflict(refused[1], code=refused[0])
        by_status[claim["status"]].append(claim)
    counted: dict[str, tuple[int, int]] = {}
    for source, group in by_status.items():
        target = next_claim_status(source, action)
        assert target is not None
        ids = [c["id"] for c in group]
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i:i + CHUNK]
            moved = await Claim.update({Claim.status: target}).where(
                any_of(Claim.id, chunk) & (Claim.contract == contract_id)
                & (Claim.status == source)).returning(Claim.id)
            if len(moved) != len(chunk):
                raise Conflict("a claim changed at the same time; try again",
                               code="concurrent_change")
        if (source in COUNTED) != (target in COUNTED):
            sign = 1 if target in COUNTED else -1
            for c in group:
                n, amount = counted.get(c["line_code"], (0, 0))
                counted[c["line_code"]] = (n + sign, amount + sign * c["amount"])
    await bulk_insert(ClaimEvent, [
        dict(id=new_id(), claim=c["id"], from_status=c["status"],
             to_status=next_claim_status(c["status"], action), reason=reason,
             recorded_at=at, recorded_by=principal.label) for c in claims])
    await usage.add(contract_id, counted)
