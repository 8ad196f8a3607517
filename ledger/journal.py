"""The journal's rules, pure: canonical bytes of an entry, its hash, and the balance check.

docs/ledger.md gives the byte layout so that an auditor can re-implement the check:

    canonical(entry) = JSON array, UTF-8, no whitespace:
      [1, seq, id, kind, effective_on, recorded_at, contract, idempotency_key, reverses,
       memo, [[account, currency, amount], ...]]
    hash(entry) = sha256(bytes.fromhex(prev_hash) || canonical(entry)), as lowercase hex
    prev_hash of the first entry = 64 zeros

Postings are listed sorted by (account, currency, amount). Dates are YYYY-MM-DD, the
recording time is UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ, ids are lowercase UUIDs, absent
values are null, amounts are integers in minor units.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from uuid import UUID

import msgspec

FORMAT_VERSION = 1
GENESIS = "0" * 64
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class PostingLine:
    account: UUID
    currency: str
    amount: int


@dataclass(frozen=True, slots=True)
class EntryFacts:
    seq: int
    id: UUID
    kind: str
    effective_on: dt.date
    recorded_at: dt.datetime
    contract: UUID | None
    idempotency_key: str
    reverses: UUID | None
    memo: str
    postings: tuple[PostingLine, ...]


def timestamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(e: EntryFacts) -> bytes:
    postings = sorted((str(p.account), p.currency, p.amount) for p in e.postings)
    return _encode([
        FORMAT_VERSION, e.seq, str(e.id), e.kind, e.effective_on.isoformat(),
        timestamp(e.recorded_at), None if e.contract is None else str(e.contract),
        e.idempotency_key, None if e.reverses is None else str(e.reverses), e.memo,
        [list(p) for p in postings],
    ])


def chain_hash(prev_hash: str, e: EntryFacts) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical(e)).hexdigest()


def imbalance(postings: tuple[PostingLine, ...] | list[PostingLine]) -> dict[str, int]:
    """Per currency, how far the postings are from summing to zero (empty when balanced)."""
    totals: dict[str, int] = defaultdict(int)
    for p in postings:
        totals[p.currency] += p.amount
    return {c: t for c, t in totals.items() if t != 0}


def check_entry(postings: tuple[PostingLine, ...] | list[PostingLine]) -> str | None:
    """Why the postings cannot form an entry, or None."""
    if len(postings) < 2:
        return "an entry needs two or more postings"
    off = imbalance(postings)
    if off:
        return "the postings do not balance: " + ", ".join(
            f"{amount:+d} {currency}" for currency, amount in sorted(off.items()))
    return None
