"""What must hold of a contract's books after every step, read back from the database.

`observe` reads one contract as it is now: its terms, participants, claims, payment runs,
proposals and every posting of its journal entries. `check` compares them with each other,
independently of the services that wrote them:

- every entry balances, the whole journal's trial balance is zero, and its hash chain
  verifies from raw rows (`ledger.verify`): after every step the entries since the head
  proved before, and the whole journal at the end of a run;
- each claim's status agrees with the journal: no entry before approval; an approved claim
  has one accrual, a paid one an accrual and one payment (`pay:<claim>`, so no claim is paid
  twice), a reversed one a clawback after them;
- the commissioners' parts of an accrual sum to the claim's amount, are split by shares
  that were in force, and its payment and clawback move exactly those parts back;
- accrued, payable, paid and receivable are what the claims say they are, accrued stays
  within the current cap and each participant within the per-participant cap, and the
  running totals the cap checks read (`outcomes.usage`) are those of the counted claims;
- what each commissioner has committed (committed + accrued) is its share of the cap;
- a payment run holds what it says, and only a paid run's claims are paid.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from uuid import UUID

from contracts import service as contracts
from contracts.schemas import ContractTerms
from contracts.tables import Contract, ContractProposal
from ledger.balances import trial_balance
from ledger.tables import Posting
from ledger.verify import JournalState, engine_dsn, verify
from outcomes.rules import COUNTED
from outcomes.tables import Claim, ContractUsage, Participant, PaymentRun, PaymentRunLine

UNAPPROVED = ("accepted", "sampled", "verified", "disputed")
Legs = dict[tuple[str, UUID], int]  # (account code, commissioner) → amount


@dataclass
class Seen:
    """One contract as the database holds it after a step."""

    contract: dict
    terms: ContractTerms
    participants: list[dict]
    claims: list[dict]
    runs: list[dict]
    lines: list[dict]
    proposals: list[dict]
    legs: dict[str, Legs]  # entry idempotency key → its postings
    entries: dict[str, tuple[str, int]]  # key → (kind, seq)
    usage: dict[str, tuple[int, int]]  # rate card line → running (claims, amount)

    def claims_in(self, *statuses: str) -> list[dict]:
        return [c for c in self.claims if c["status"] in statuses]

    def in_run(self) -> set[UUID]:
        return {line["claim"] for line in self.lines}

    @property
    def accrued(self) -> int:
        return sum(c["amount"] for c in self.claims_in("approved", "paid"))

    def shares(self) -> dict[UUID, int]:
        return {c.organisation_id: c.share_bp for c in self.terms.commissioners}


async def observe(cid: UUID) -> Seen:
    """Read in one transaction, on one connection (a connection per query is slow)."""
    async with Contract._meta.db.transaction():
        return await _observe(cid)


async def _observe(cid: UUID) -> Seen:
    contract = await Contract.select().where(Contract.id == cid).first()
    terms = await contracts.current_terms(cid, contract["version"])
    legs: dict[str, Legs] = defaultdict(lambda: defaultdict(int))
    entries = {}
    for p in await Posting.select(
            Posting.entry.idempotency_key.as_alias("key"), Posting.entry.kind.as_alias("kind"),
            Posting.entry.seq.as_alias("seq"), Posting.account.code.as_alias("code"),
            Posting.account.organisation.as_alias("org"),
            Posting.account.contract.as_alias("account_contract"), Posting.amount,
            Posting.currency).where(Posting.entry.contract == cid):
        assert p["account_contract"] == cid and p["currency"] == "DKK", p
        legs[p["key"]][(p["code"], p["org"])] += p["amount"]
        entries[p["key"]] = (p["kind"], p["seq"])
    return Seen(
        contract=contract, terms=terms,
        participants=await Participant.select(
            Participant.id, Participant.pseudonym, Participant.enrolled_on).where(
            Participant.contract == cid).order_by(Participant.pseudonym),
        claims=await Claim.select(
            Claim.id, Claim.client_ref, Claim.status, Claim.amount, Claim.participant,
            Claim.participant.pseudonym.as_alias("pseudonym"), Claim.achieved_on,
            Claim.sample, Claim.line_code).where(Claim.contract == cid).order_by(Claim.id),
        runs=await PaymentRun.select().where(PaymentRun.contract == cid).order_by(
            PaymentRun.id),
        lines=await PaymentRunLine.select(
            PaymentRunLine.run, PaymentRunLine.claim, PaymentRunLine.amount).where(
            PaymentRunLine.run.contract == cid),
        proposals=await ContractProposal.select(
            ContractProposal.id, ContractProposal.status, ContractProposal.base_version,
            ContractProposal.terms).where(ContractProposal.contract == cid).order_by(
            ContractProposal.id),
        legs={k: dict(v) for k, v in legs.items()}, entries=entries,
        usage={r["line_code"]: (r["claims"], r["amount"]) for r in await ContractUsage.select(
            ContractUsage.line_code, ContractUsage.claims, ContractUsage.amount).where(
            ContractUsage.contract == cid)})


def split(amount: int, shares: dict[UUID, int]) -> dict[UUID, int]:
    """The parts the tests expect; every amount and cap they use divides exactly."""
    assert all(amount * bp % 10_000 == 0 for bp in shares.values())
    return {org: amount * bp // 10_000 for org, bp in shares.items() if bp}


def moves(parts: dict[UUID, int], **signs: int) -> Legs:
    """The legs of an entry that moves `parts` by `signs` (account code → +1 or −1)."""
    return {(code, org): sign * amount for org, amount in parts.items()
            for code, sign in signs.items()}


def check(seen: Seen, shares_in_force: list[dict[UUID, int]]) -> None:
    """Everything in the module docstring that concerns this contract."""
    claims = {c["id"]: c for c in seen.claims}
    assert seen.contract["status"] in ("active", "suspended"), seen.contract["status"]
    for key, legs in seen.legs.items():
        assert sum(legs.values()) == 0, f"{key} does not balance: {legs}"
        prefix, _, rest = key.partition(":")
        kind = {"commit": "commitment", "accrue": "accrual", "pay": "payment",
                "clawback": "clawback"}.get(prefix)
        assert seen.entries[key][0] == kind, f"{key} is a {seen.entries[key][0]}"
        if prefix != "commit":
            assert UUID(rest) in claims, f"{key} names no claim of this contract"

    totals: dict[str, int] = defaultdict(int)
    for c in seen.claims:
        accrual, payment, clawback = (seen.legs.get(f"{p}:{c['id']}")
                                      for p in ("accrue", "pay", "clawback"))
        what = f"{c['status']} claim {c['client_ref']}"
        if c["status"] in UNAPPROVED:
            assert accrual is None and payment is None and clawback is None, what
            continue
        assert accrual is not None, f"{what} has no accrual"
        parts = {org: a for (code, org), a in accrual.items() if code == "accrued"}
        assert sum(parts.values()) == c["amount"] and all(a > 0 for a in parts.values()), \
            f"{what}: the commissioners' parts {parts} do not make {c['amount']}"
        assert any(parts == split(c["amount"], s) for s in shares_in_force), \
            f"{what}: {parts} is no split by shares that were in force"
        assert accrual == moves(parts, accrued=1, payable=-1, budget=1, committed=-1), what
        seq = seen.entries[f"accrue:{c['id']}"][1]
        if payment is not None:
            assert payment == moves(parts, payable=1, paid=-1), \
                f"{what}: paid {payment}, not the parts it accrued"
            assert seen.entries[f"pay:{c['id']}"][1] > seq, f"{what}: paid before accrued"
            seq = seen.entries[f"pay:{c['id']}"][1]
            totals["paid"] += c["amount"]
        if c["status"] == "approved":
            assert payment is None and clawback is None, what
            totals["payable"] += c["amount"]
        elif c["status"] == "paid":
            assert payment is not None and clawback is None, what
        else:
            assert c["status"] == "reversed" and clawback is not None, what
            owed = "receivable" if payment is not None else "payable"
            assert clawback == moves(parts, accrued=-1, **{owed: 1}, budget=-1, committed=1), \
                f"{what}: clawed back {clawback}, not the parts it accrued"
            assert seen.entries[f"clawback:{c['id']}"][1] > seq, what
            if payment is not None:
                totals["receivable"] += c["amount"]

    balance: dict[str, int] = defaultdict(int)
    by_org: dict[UUID, int] = defaultdict(int)
    for legs in seen.legs.values():
        for (code, org), amount in legs.items():
            balance[code] += amount
            if code in ("committed", "accrued"):
                by_org[org] += amount
    assert balance["accrued"] == seen.accrued, (balance["accrued"], seen.accrued)
    assert -balance["payable"] == totals["payable"]
    assert -balance["paid"] == totals["paid"]
    assert balance["receivable"] == totals["receivable"]
    assert seen.accrued <= seen.terms.cap.amount, "accrued beyond the cap"
    wanted = split(seen.terms.cap.amount, seen.shares())
    assert {o: a for o, a in by_org.items() if a} == wanted, \
        f"committed per commissioner {dict(by_org)}, not the shares of the cap {wanted}"
    counted: dict[str, tuple[int, int]] = {}
    for c in seen.claims_in(*COUNTED):
        n, amount = counted.get(c["line_code"], (0, 0))
        counted[c["line_code"]] = (n + 1, amount + c["amount"])
    assert {k: v for k, v in seen.usage.items() if v != (0, 0)} == counted, \
        f"the running totals {seen.usage} are not the counted claims' {counted}"
    per_participant: dict[UUID, int] = defaultdict(int)
    for c in seen.claims_in("approved", "paid"):
        per_participant[c["participant"]] += c["amount"]
    assert all(a <= seen.terms.per_participant_cap.amount for a in per_participant.values())

    run_of = {}
    for line in seen.lines:
        assert line["claim"] not in run_of, f"claim {line['claim']} is in two payment runs"
        run_of[line["claim"]] = line["run"]
        assert line["amount"] == claims[line["claim"]]["amount"]
    for r in seen.runs:
        members = [line["claim"] for line in seen.lines if line["run"] == r["id"]]
        assert len(members) == r["claims"]
        assert sum(claims[m]["amount"] for m in members) == r["total"]
        for m in members:
            assert r["period_from"] <= claims[m]["achieved_on"] <= r["period_to"]
            if r["status"] == "paid":
                assert claims[m]["status"] in ("paid", "reversed") and f"pay:{m}" in seen.legs
            else:
                assert claims[m]["status"] == "approved", f"{claims[m]} in a {r['status']} run"
    runs = {r["id"]: r for r in seen.runs}
    for c in seen.claims:
        if f"pay:{c['id']}" in seen.legs:
            assert runs[run_of[c["id"]]]["status"] == "paid", f"{c} paid outside a paid run"
    for p in seen.proposals:
        if p["status"] == "pending":
            assert p["base_version"] == seen.contract["version"], "a stale proposal is pending"


async def check_journal(since: JournalState | None = None) -> JournalState:
    """The journal of all contracts: its trial balance is zero, and its chain verifies from
    raw rows, wholly or from `since`, the head a verification before has proved (taking
    that head's balances on). Returns the head proved now."""
    assert all(v == 0 for v in (await trial_balance()).values()), await trial_balance()
    report = await verify(engine_dsn(), since=since)
    assert report.ok, report.first_mismatch or report.trial_balance
    return JournalState(seq=report.head_seq, head_hash=report.head_hash,
                        accounts=report.accounts, heads=report.heads)


def paid_claims(seen: Seen) -> int:
    return sum(1 for c in seen.claims if f"pay:{c['id']}" in seen.legs)


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
