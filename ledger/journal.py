"""The journal's rules, pure: what an entry is, its canonical bytes, its hash, the balance
check. No I/O: posting, every verification and every export use these.

docs/ledger.md gives the byte layout so that an auditor can re-implement the check:

    canonical(entry) = JSON array, UTF-8, no whitespace:
      [3, seq, id, kind, effective_on, recorded_at, contract, idempotency_key, reverses,
       memo, [[account, account_contract, account_organisation, account_code, currency,
               amount], ...]]
    hash(entry) = sha256(bytes.fromhex(prev_hash) || canonical(entry)), as lowercase hex

Each contract's entries form one hash chain (format 3): prev_hash is the hash of the same
contract's entry before it (by seq), 64 zeros for its first. Sequence numbers are unique
across the journal and rise within each contract, but need not be consecutive: contracts
append side by side, each under its own lock. Entries recorded before format 3 (the number
where it begins is in `journal_format`) keep format 2: the leading number is 2 and prev_hash
is the hash of the entry before it in the whole journal, whose numbers run 1, 2, 3 …

Each posting carries what gives it its meaning: the account's id and the contract,
organisation and code the account belongs to, so that moving an account to another
organisation or contract changes the bytes of every entry that posted to it. Postings are
listed sorted by (account, currency, amount). Dates are YYYY-MM-DD, the recording time is
UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ, ids are lowercase UUIDs, an entry that reverses nothing
has null there, amounts are integers in minor units. The memo is a generated description
(codes and references); text people typed is kept outside the journal.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from uuid import UUID

import msgspec

FORMAT_VERSION = 3
# The journal-wide chain of the entries recorded before chains per contract.
LEGACY_VERSION = 2
GENESIS = "0" * 64
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class Leg:
    """One side of a business event, before the posting service opens its account."""

    contract: UUID
    organisation: UUID
    code: str
    amount: int
    currency: str


@dataclass(slots=True)
class NewEntry:
    """An entry to append. `note` is free text from a person (a clawback's reason): it is
    kept in the erasable `journal_note` table, never in the hash-chained entry."""

    kind: str
    effective_on: dt.date
    contract: UUID
    idempotency_key: str
    memo: str
    legs: list[Leg] = field(default_factory=list)
    reverses: UUID | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class PostingLine:
    account: UUID
    contract: UUID
    organisation: UUID
    code: str
    currency: str
    amount: int

    def canonical(self) -> tuple[str, str, str, str, str, int]:
        return (str(self.account), str(self.contract), str(self.organisation), self.code,
                self.currency, self.amount)


@dataclass(frozen=True, slots=True)
class EntryFacts:
    seq: int
    id: UUID
    kind: str
    effective_on: dt.date
    recorded_at: dt.datetime
    contract: UUID
    idempotency_key: str
    reverses: UUID | None
    memo: str
    postings: tuple[PostingLine, ...]


def timestamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(seq: int, entry_id: str, kind: str, effective_on: str, recorded_at: str,
                    contract: str, idempotency_key: str, reverses: str | None, memo: str,
                    postings: list[tuple[str, str, str, str, str, int]],
                    version: int = FORMAT_VERSION) -> bytes:
    """The bytes from values already in their text form; `postings` as
    (account, contract, organisation, code, currency, amount) in any order."""
    return _encode([version, seq, entry_id, kind, effective_on, recorded_at, contract,
                    idempotency_key, reverses, memo,
                    sorted(postings, key=lambda p: (p[0], p[4], p[5]))])


def canonical(e: EntryFacts, version: int = FORMAT_VERSION) -> bytes:
    return canonical_bytes(
        e.seq, str(e.id), e.kind, e.effective_on.isoformat(), timestamp(e.recorded_at),
        str(e.contract), e.idempotency_key, None if e.reverses is None else str(e.reverses),
        e.memo, [p.canonical() for p in e.postings], version)


def chain_hash(prev_hash: str, e: EntryFacts, version: int = FORMAT_VERSION) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical(e, version)).hexdigest()


def imbalance(amounts: list[tuple[str, int]]) -> dict[str, int]:
    """Per currency, how far (currency, amount) pairs are from summing to zero (empty when
    balanced)."""
    totals: dict[str, int] = defaultdict(int)
    for currency, amount in amounts:
        totals[currency] += amount
    return {c: t for c, t in totals.items() if t != 0}


def check_entry(amounts: list[tuple[str, int]]) -> str | None:
    """Why postings with these (currency, amount) pairs cannot form an entry, or None."""
    if len(amounts) < 2:
        return "an entry needs two or more postings"
    off = imbalance(amounts)
    if off:
        return "the postings do not balance: " + ", ".join(
            f"{amount:+d} {currency}" for currency, amount in sorted(off.items()))
    return None
