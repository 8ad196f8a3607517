"""Batch intake of participants and outcome claims.

Guarantees:
- A batch is one transaction: its accepted rows and its report are recorded together, or
  nothing is (a crash or a dropped connection leaves no partial batch).
- Idempotency: the same Idempotency-Key with the same body returns the first report and
  creates nothing; with a different body it is refused. Keys never expire.
- `client_ref` is unique per contract: resubmitting an accepted claim returns it; the same
  ref with other content is rejected as `client_ref_conflict`.
- Writes to one contract are serialised (row lock on PostgreSQL, IMMEDIATE on SQLite), and
  limits are checked inside that lock, so simultaneous batches cannot overshoot a cap.
- In a partnership each provider enrols and claims for its own participants: a participant
  belongs to the provider that enrolled it (`Participant.organisation`). A claim for a
  participant of another provider is refused as `not_enrolled`, exactly as for a pseudonym
  nobody enrolled. Pseudonyms stay unique per contract, across the partners: enrolling one
  another provider enrolled is refused as `participant_conflict`, naming neither that
  provider nor anything it recorded (that the pseudonym is taken is the price of one
  pseudonym space per contract). The same holds for `client_ref`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from uuid import UUID

import msgspec
from piccolo.table import Table

from contracts import service as contracts
from contracts.errors import Conflict, Invalid, Problem
from contracts.identity import Principal
from contracts.library import metrics_by_code
from contracts.money import Money
from core.clock import now
from core.database import (
    any_of,
    bulk_insert,
    custom_plans,
    is_unique_violation,
    write_transaction,
)
from core.ids import new_id
from outcomes import usage
from outcomes.parsing import Row
from outcomes.pseudonyms import pseudonym_problem
from outcomes.queries import decode_report
from outcomes.rules import (
    COUNTED,
    Claimed,
    ClaimStatus,
    Enrolment,
    PastClaim,
    check_claim,
    check_enrolment,
    parse_value,
)
from outcomes.schemas import BatchReport, ClaimIn, ParticipantIn, RowResult
from outcomes.tables import Claim, IntakeBatch, Participant

# What processing a batch yields: one result per row, and the new rows to insert once the
# batch itself is recorded (they refer to it).
Processed = tuple[list[RowResult], type[Table], list[dict]]

_report_encoder = msgspec.json.Encoder()


class Submission(msgspec.Struct, frozen=True, kw_only=True):
    """Who sent which batch to which contract, under which key."""

    principal: Principal
    contract_id: UUID
    kind: str
    idempotency_key: str | None
    body_hash: str


async def submit_participants(sub: Submission, rows: list[Row[ParticipantIn]]
                              ) -> tuple[BatchReport, bool]:
    return await _submit(sub, rows, _enrol)


async def submit_claims(sub: Submission, rows: list[Row[ClaimIn]]) -> tuple[BatchReport, bool]:
    if not sub.idempotency_key:
        raise Invalid("claims need an Idempotency-Key header, so that a retry cannot "
                      "claim twice", code="idempotency_key_required")
    return await _submit(sub, rows, _claim)


async def _submit(sub: Submission, rows: list, process) -> tuple[BatchReport, bool]:
    """Record one batch under its Idempotency-Key (a replay returns the first report): lock
    the contract, let `process(sub, contract, rows, batch_id, at)` judge the rows, and insert
    the batch with its report and the new rows it yields, in one transaction. Citizen-voice
    batches of answers go the same way (voice.service)."""
    await contracts.require_role(sub.principal, sub.contract_id, "provider")
    replay = await _replay(sub)
    if replay is not None:
        return replay, True
    try:
        async with write_transaction():
            # Status, version and terms are read after the lock: a suspension or variation
            # that committed while this batch waited is what the batch is judged by.
            contract = await contracts.locked(sub.principal, sub.contract_id, "provider")
            replay = await _replay(sub)  # a twin may have finished while we waited
            if replay is not None:
                return replay, True
            if contract["status"] != "active":
                raise Conflict(f"the contract is {contract['status']}; it takes submissions "
                               "only while active", code="contract_not_active")
            batch_id, at = new_id(), now()
            results, table, new_rows = await process(sub, contract, rows, batch_id, at)
            accepted = sum(r.status in ("accepted", "created", "unchanged") for r in results)
            report = BatchReport(batch_id=batch_id, kind=sub.kind, contract_id=sub.contract_id,
                                 received_at=at, rows=len(rows), accepted=accepted,
                                 rejected=len(rows) - accepted, results=results)
            await IntakeBatch.insert(IntakeBatch(
                id=batch_id, contract=sub.contract_id,
                organisation=sub.principal.organisation_id, kind=sub.kind,
                idempotency_key=sub.idempotency_key or str(batch_id),
                body_hash=sub.body_hash, report=_report_encoder.encode(report).decode(),
                rows=len(rows), accepted=accepted, received_at=at))
            await bulk_insert(table, new_rows)
    except Exception as exc:
        if is_unique_violation(exc):
            replay = await _replay(sub)
            if replay is not None:
                return replay, True
        raise
    return report, False


async def _replay(sub: Submission) -> BatchReport | None:
    if not sub.idempotency_key:
        return None
    row = await IntakeBatch.select(IntakeBatch.body_hash, IntakeBatch.report).where(
        (IntakeBatch.contract == sub.contract_id)
        & (IntakeBatch.organisation == sub.principal.organisation_id)
        & (IntakeBatch.kind == sub.kind)
        & (IntakeBatch.idempotency_key == sub.idempotency_key)).first()
    if row is None:
        return None
    if row["body_hash"] != sub.body_hash:
        raise Conflict("this Idempotency-Key was used for a different request",
                       code="idempotency_key_reused")
    return decode_report(row["report"])


def _rejected(i: int, ref: str | None, problems: list[Problem],
              metric: str | None = None) -> RowResult:
    return RowResult(row=i, status="rejected", ref=ref, metric_code=metric, errors=problems)


# Participants ------------------------------------------------------------------------------


def _owner(sub: Submission, contract: dict) -> UUID:
    """The provider a submission acts for: the caller's organisation (the lead's or a
    partner's); anyone else who could submit stands in for the lead."""
    if sub.principal.role == "provider":
        return sub.principal.organisation_id
    return contract["provider"]


def _foreign(known: dict, owner: UUID, contract: dict) -> bool:
    """Whether the participant row `known` was enrolled by another provider than `owner`
    (a row from before partnerships, without an organisation, is the lead's)."""
    return (known.get("organisation") or contract["provider"]) != owner


async def _enrol(sub: Submission, contract: dict, rows: list[Row[ParticipantIn]],
                 batch_id: UUID, at: dt.datetime) -> Processed:
    terms = await contracts.current_terms(sub.contract_id, contract["version"])
    owner = _owner(sub, contract)
    wanted = {p.pseudonym for _, p, _ in rows if p is not None}
    existing = {r["pseudonym"]: r for r in await Participant.select().where(
        (Participant.contract == sub.contract_id)
        & Participant.pseudonym.is_in(list(wanted) or [""]))}
    results, new = [], []
    for i, p, problems in rows:
        if p is None:
            results.append(_rejected(i, None, problems))
            continue
        known = existing.get(p.pseudonym)
        if known is not None and _foreign(known, owner, contract):
            results.append(_taken(i, p.pseudonym))
            continue
        verdict, problems = check_enrolment(terms, _enrolment(p), known and _enrolment(known))
        if verdict == "rejected":
            # A refused pseudonym is not echoed back: it may be a personal identifier.
            ref = p.pseudonym if problems[0].field != "pseudonym" else None
            results.append(_rejected(i, ref, problems))
        elif verdict == "unchanged":
            results.append(RowResult(row=i, status="unchanged", id=known["id"],
                                     ref=p.pseudonym))
        else:
            row = dict(id=new_id(), contract=sub.contract_id, pseudonym=p.pseudonym,
                       enrolled_on=p.enrolled_on, age_band=p.age_band, area=p.area,
                       cohort=p.cohort, created_at=at, organisation=owner)
            existing[p.pseudonym] = row
            new.append(row)
            results.append(RowResult(row=i, status="created", id=row["id"], ref=p.pseudonym))
    return results, Participant, new


def _taken(i: int, pseudonym: str) -> RowResult:
    """A pseudonym another provider of the partnership enrolled: refused without a word of
    who, when or with what. Its own rules come first: a pseudonym that breaks them is not
    echoed back."""
    bad = pseudonym_problem(pseudonym)
    if bad:
        return _rejected(i, None, [Problem(code=bad[0], field="pseudonym", message=bad[1])])
    return _rejected(i, pseudonym, [Problem(
        code="participant_conflict", field="pseudonym",
        message=f"{pseudonym} is enrolled on this contract already; the providers of a "
                "partnership share one pseudonym space, so choose another")])


def _enrolment(p: ParticipantIn | dict) -> Enrolment:
    if isinstance(p, dict):
        return Enrolment(pseudonym=p["pseudonym"], enrolled_on=p["enrolled_on"],
                         age_band=p["age_band"], area=p["area"], cohort=p["cohort"])
    return Enrolment(pseudonym=p.pseudonym, enrolled_on=p.enrolled_on, age_band=p.age_band,
                     area=p.area, cohort=p.cohort)


# Claims ------------------------------------------------------------------------------------


async def _claim(sub: Submission, contract: dict, rows: list[Row[ClaimIn]], batch_id: UUID,
                 at: dt.datetime) -> Processed:
    cid, currency = sub.contract_id, contract["currency"]
    terms = await contracts.current_terms(cid, contract["version"])
    metrics = await metrics_by_code({line.metric_code for line in terms.rate_card})
    claims = [c for _, c, _ in rows if c is not None]
    pseudonyms = list({c.pseudonym for c in claims}) or [""]
    refs = list({c.client_ref for c in claims}) or [""]

    # Only the caller's own participants: another provider's is not enrolled, for it.
    owner = _owner(sub, contract)
    mine = Participant.organisation == owner
    if owner == contract["provider"]:
        mine |= Participant.organisation.is_null()

    async with custom_plans():
        participants = {r["pseudonym"]: r for r in await Participant.select(
            Participant.id, Participant.pseudonym, Participant.enrolled_on).where(
            (Participant.contract == cid) & any_of(Participant.pseudonym, pseudonyms)
            & mine)}
        by_ref = {r["client_ref"]: r for r in await Claim.select(
            Claim.id, Claim.client_ref, Claim.participant, Claim.metric_code,
            Claim.achieved_on, Claim.value, Claim.evidence_ref, Claim.line_code,
            Claim.amount).where(
            (Claim.contract == cid) & any_of(Claim.client_ref, refs))}
        history: dict[UUID, list[PastClaim]] = defaultdict(list)
        ids = [p["id"] for p in participants.values()]
        if ids:
            for r in await Claim.select(Claim.participant, Claim.line_code, Claim.metric_code,
                                        Claim.achieved_on, Claim.amount).where(
                    (Claim.contract == cid) & any_of(Claim.participant, ids)
                    & Claim.status.is_in(list(COUNTED))):
                history[r["participant"]].append(PastClaim(r["line_code"], r["metric_code"],
                                                           r["achieved_on"], r["amount"]))
    totals = await usage.load(cid)

    today = at.date()
    results, new = [], []
    for i, c, problems in rows:
        if c is None:
            results.append(_rejected(i, None, problems))
            continue
        try:
            value = parse_value(c.value)
        except ValueError as exc:
            results.append(_rejected(i, c.client_ref, [Problem(
                code="invalid_field", field="value", message=str(exc))], c.metric_code))
            continue
        bad = pseudonym_problem(c.pseudonym)
        if bad:
            results.append(_rejected(i, c.client_ref, [Problem(
                code=bad[0], field="pseudonym", message=bad[1])], c.metric_code))
            continue
        seen = by_ref.get(c.client_ref)
        participant = participants.get(c.pseudonym)
        if seen is not None:
            results.append(_same_claim(i, c, value, participant, seen, currency))
            continue
        past = history[participant["id"]] if participant else []
        decision = check_claim(terms, metrics, Claimed(c.metric_code, c.achieved_on, value),
                               participant["enrolled_on"] if participant else None, past,
                               totals, today)
        if not decision.accepted:
            results.append(_rejected(i, c.client_ref, decision.errors, c.metric_code))
            continue
        line = decision.line
        assert line is not None and participant is not None
        claim_id = new_id()
        text_value = None if value is None else str(value)
        new.append(dict(id=claim_id, contract=cid, participant=participant["id"],
                        batch=batch_id, client_ref=c.client_ref, line_code=line.code,
                        metric_code=c.metric_code, achieved_on=c.achieved_on,
                        value=text_value, evidence_ref=c.evidence_ref,
                        amount=decision.amount, currency=currency,
                        status=ClaimStatus.ACCEPTED.value,
                        submitted_at=at, sample=None))
        by_ref[c.client_ref] = dict(id=claim_id, client_ref=c.client_ref,
                                    participant=participant["id"], metric_code=c.metric_code,
                                    achieved_on=c.achieved_on, value=text_value,
                                    evidence_ref=c.evidence_ref, line_code=line.code,
                                    amount=decision.amount)
        past.append(PastClaim(line.code, c.metric_code, c.achieved_on, decision.amount))
        totals.add(line.code, decision.amount)
        results.append(RowResult(row=i, status="accepted", id=claim_id, ref=c.client_ref,
                                 line_code=line.code, metric_code=c.metric_code,
                                 amount=Money(amount=decision.amount, currency=currency)))
    added: dict[str, tuple[int, int]] = {}
    for row in new:
        claims, amount = added.get(row["line_code"], (0, 0))
        added[row["line_code"]] = (claims + 1, amount + row["amount"])
    await usage.add(cid, added)
    return results, Claim, new


def _same_claim(i: int, c: ClaimIn, value, participant: dict | None, seen: dict,
                currency: str) -> RowResult:
    same = (participant is not None and seen["participant"] == participant["id"]
            and seen["metric_code"] == c.metric_code
            and seen["achieved_on"] == c.achieved_on and seen["evidence_ref"] == c.evidence_ref
            and seen["value"] == (None if value is None else str(value)))
    if not same:
        return _rejected(i, c.client_ref, [Problem(
            code="client_ref_conflict", field="client_ref",
            message=f"{c.client_ref} was already used for a different claim")], c.metric_code)
    return RowResult(row=i, status="accepted", id=seen["id"], ref=c.client_ref,
                     line_code=seen["line_code"], metric_code=seen["metric_code"],
                     amount=Money(amount=seen["amount"], currency=currency))


submit_batch = _submit
