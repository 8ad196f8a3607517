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

A batch costs few round trips, because providers send thousands of rows a minute: before
the lock, one query (`admit`) reads the API key, the caller's standing on the contract and
any batch already recorded under the key; under the lock, one reads the contract as it is
now with its terms, the caller's standing and that batch again; one reads the participants,
the earlier claims by `client_ref` and the participants' history
(`queries.claim_lookups`); the claims go in by binary COPY.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import NamedTuple
from uuid import UUID

import msgspec
from piccolo.table import Table

from contracts import service as contracts
from contracts.directory import LAST_USED_RESOLUTION
from contracts.errors import Conflict, Forbidden, Invalid, NotFound, Problem, Unauthenticated
from contracts.identity import Principal, hash_api_key
from contracts.library import metrics_by_code
from contracts.money import Money
from contracts.tables import ApiKey, Contract
from core.clock import now
from core.database import (
    any_of,
    bulk_insert,
    insert_records,
    is_unique_violation,
    write_transaction,
)
from core.ids import new_id
from outcomes import usage
from outcomes.parsing import Row
from outcomes.pseudonyms import pseudonym_problem
from outcomes.queries import EarlierClaim, claim_lookups, decode_report
from outcomes.rules import (
    ClaimStatus,
    Enrolment,
    PastClaim,
    RateCard,
    check_enrolment,
    parse_value,
)
from outcomes.schemas import BatchReport, ClaimIn, ParticipantIn, RowResult
from outcomes.tables import Claim, IntakeBatch, Participant


class ClaimRecord(NamedTuple):
    """A new claim as it is written: the claim table's columns, in its order."""

    id: UUID
    contract: UUID
    participant: UUID
    batch: UUID
    client_ref: str
    line_code: str
    metric_code: str
    achieved_on: dt.date
    value: str | None
    evidence_ref: str
    amount: int
    currency: str
    status: str
    submitted_at: dt.datetime
    sample: UUID | None


# What processing a batch yields: one result per row, and the new rows to insert once the
# batch itself is recorded (they refer to it), as dicts or as records of the table's columns.
Processed = tuple[list[RowResult], type[Table], list[dict] | list[ClaimRecord]]

_report_encoder = msgspec.json.Encoder()


class Submission(msgspec.Struct, frozen=True, kw_only=True):
    """Who sent which batch to which contract, under which key."""

    principal: Principal
    contract_id: UUID
    kind: str
    idempotency_key: str | None
    body_hash: str


# Before the lock -----------------------------------------------------------------------------


class Admission(msgspec.Struct, frozen=True, kw_only=True):
    """What one query read, before the contract's lock, of a batch sent with an API key:
    who sends it, whether that caller is a party to the contract (in its role), and the
    batch already recorded under its Idempotency-Key, if any (body hash and report)."""

    principal: Principal
    contract_id: UUID
    kind: str
    idempotency_key: str | None
    contract_found: bool
    party: bool
    earlier: tuple[str, str] | None

    def fits(self, sub: Submission) -> bool:
        return (self.principal == sub.principal and self.contract_id == sub.contract_id
                and self.kind == sub.kind and self.idempotency_key == sub.idempotency_key)


_ADMIT = """
SELECT k.id, k.organisation, k.role, k.prefix, k.revoked_at, k.last_used_at,
       c.id AS contract,
       EXISTS (SELECT 1 FROM contract_party p WHERE p.contract = c.id
               AND p.organisation = k.organisation AND p.role = k.role) AS party,
       b.body_hash, b.report
FROM api_key k
LEFT JOIN contract c ON c.id = {}
LEFT JOIN intake_batch b ON b.contract = c.id AND b.organisation = k.organisation
     AND b.kind = {} AND b.idempotency_key = {}
WHERE k.key_hash = {}
"""


async def admit(key: str, contract_id: UUID, kind: str, idempotency_key: str | None
                ) -> Admission:
    """Authenticate the API key `key` as `contracts.directory.authenticate_api_key` does
    (the same refusal, the same last-used time) and, in the same query, read the caller's
    standing on the contract and the batch of `kind` recorded under `idempotency_key`."""
    rows = await ApiKey.raw(_ADMIT, contract_id, kind, idempotency_key, hash_api_key(key))
    row = rows[0] if rows else None
    if row is None or row["revoked_at"] is not None:
        raise Unauthenticated("the API key is unknown or revoked", code="invalid_api_key")
    used = now()
    last = row["last_used_at"]
    if last is None or used - last > LAST_USED_RESOLUTION:
        await ApiKey.update({ApiKey.last_used_at: used}).where(ApiKey.id == row["id"])
    principal = Principal(organisation_id=row["organisation"], role=row["role"],
                          api_key_id=row["id"], label=f"key:{row['prefix']}")
    earlier = None if row["body_hash"] is None else (row["body_hash"], row["report"])
    return Admission(principal=principal, contract_id=contract_id, kind=kind,
                     idempotency_key=idempotency_key, contract_found=row["contract"] is not None,
                     party=bool(row["party"]), earlier=earlier)


def _require_role(principal: Principal, role: str, found: bool, party: bool) -> None:
    """What `contracts.service.require_role` decides, from what was read: 404 when the
    caller may not see the contract, 403 when it may but does not hold `role` on it."""
    if not found or not (principal.is_admin or party):
        raise NotFound("no such contract", code="contract_not_found")
    if (principal.role if not principal.is_admin else "admin") != role:
        raise Forbidden(f"only the contract's {role} may do this",
                        code=contracts.ROLE_ONLY[role])


def _replayed(sub: Submission, earlier: tuple[str, str] | None) -> BatchReport | None:
    """The first report of the batch recorded under the submission's key (`earlier`: its
    body hash and report), or None; refused when that batch had another body."""
    if earlier is None:
        return None
    if earlier[0] != sub.body_hash:
        raise Conflict("this Idempotency-Key was used for a different request",
                       code="idempotency_key_reused")
    return decode_report(earlier[1])


async def _replay(sub: Submission) -> BatchReport | None:
    if not sub.idempotency_key:
        return None
    row = await IntakeBatch.select(IntakeBatch.body_hash, IntakeBatch.report).where(
        (IntakeBatch.contract == sub.contract_id)
        & (IntakeBatch.organisation == sub.principal.organisation_id)
        & (IntakeBatch.kind == sub.kind)
        & (IntakeBatch.idempotency_key == sub.idempotency_key)).first()
    return None if row is None else _replayed(sub, (row["body_hash"], row["report"]))


# Under the lock ------------------------------------------------------------------------------

_CONTRACT_COLUMNS = [c._meta.db_column_name for c in Contract._meta.columns]
_LOCKED = f"""
SELECT {", ".join(f"c.{name}" for name in _CONTRACT_COLUMNS)},
       EXISTS (SELECT 1 FROM contract_party p WHERE p.contract = c.id
               AND p.organisation = {{}} AND p.role = {{}}) AS _party,
       v.terms AS _terms, b.body_hash AS _body_hash, b.report AS _report
FROM contract c
LEFT JOIN contract_version v ON v.contract = c.id AND v.version = c.version
LEFT JOIN intake_batch b ON b.contract = c.id AND b.organisation = {{}}
     AND b.kind = {{}} AND b.idempotency_key = {{}}
WHERE c.id = {{}}
"""  # noqa: S608 (column names from the table definition; values are parameters)


async def _locked(sub: Submission, role: str) -> tuple[dict, BatchReport | None]:
    """Take the contract's lock, then read in one query the contract as it is now with its
    current terms (decoded, under "terms"), the caller's standing on it, and the batch
    recorded under the submission's key: (contract row, that batch's report or None).
    Status, version, terms and standing are what the batch is judged by, read after the
    lock: a suspension, variation or change of partners that committed while the batch
    waited counts."""
    await contracts.lock(sub.contract_id)
    org = sub.principal.organisation_id
    rows = await Contract.raw(_LOCKED, org, sub.principal.role, org, sub.kind,
                              sub.idempotency_key, sub.contract_id)
    row = rows[0] if rows else None
    _require_role(sub.principal, role, row is not None, bool(row and row["_party"]))
    assert row is not None
    earlier = None if row["_body_hash"] is None else (row["_body_hash"], row["_report"])
    replay = _replayed(sub, earlier) if sub.idempotency_key else None
    contract = {name: row[name] for name in _CONTRACT_COLUMNS}
    contract["terms"] = contracts.decode_terms(row["_terms"])
    return contract, replay


# Batches -------------------------------------------------------------------------------------


async def submit_participants(sub: Submission, rows: list[Row[ParticipantIn]],
                              admission: Admission | None = None
                              ) -> tuple[BatchReport, bool]:
    return await _submit(sub, rows, _enrol, admission)


async def submit_claims(sub: Submission, rows: list[Row[ClaimIn]],
                        admission: Admission | None = None) -> tuple[BatchReport, bool]:
    if not sub.idempotency_key:
        raise Invalid("claims need an Idempotency-Key header, so that a retry cannot "
                      "claim twice", code="idempotency_key_required")
    return await _submit(sub, rows, _claim, admission)


async def _submit(sub: Submission, rows: list, process,
                  admission: Admission | None = None) -> tuple[BatchReport, bool]:
    """Record one batch under its Idempotency-Key (a replay returns the first report): lock
    the contract, let `process(sub, contract, rows, batch_id, at)` judge the rows, and insert
    the batch with its report and the new rows it yields, in one transaction. Citizen-voice
    batches of answers go the same way (voice.service). `admission`, when it is this
    submission's, stands for the checks before the lock."""
    if admission is not None and admission.fits(sub):
        _require_role(sub.principal, "provider", admission.contract_found, admission.party)
        replay = _replayed(sub, admission.earlier) if sub.idempotency_key else None
    else:
        await contracts.require_role(sub.principal, sub.contract_id, "provider")
        replay = await _replay(sub)
    if replay is not None:
        return replay, True
    try:
        async with write_transaction():
            contract, replay = await _locked(sub, "provider")
            if replay is not None:  # a twin finished while this batch waited
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
            if new_rows and isinstance(new_rows[0], tuple):
                await insert_records(table, new_rows[0]._fields, new_rows)
            else:
                await bulk_insert(table, new_rows)
    except Exception as exc:
        if is_unique_violation(exc):
            replay = await _replay(sub)
            if replay is not None:
                return replay, True
        raise
    return report, False


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
    terms = contract["terms"]
    owner = _owner(sub, contract)
    wanted = list({p.pseudonym for _, p, _ in rows if p is not None})
    existing = {r["pseudonym"]: r for r in await Participant.select().where(
        (Participant.contract == sub.contract_id)
        & any_of(Participant.pseudonym, wanted))} if wanted else {}
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

_ACCEPTED = ClaimStatus.ACCEPTED.value


async def _claim(sub: Submission, contract: dict, rows: list[Row[ClaimIn]], batch_id: UUID,
                 at: dt.datetime) -> Processed:
    cid, currency, terms = sub.contract_id, contract["currency"], contract["terms"]
    card = RateCard(terms, await metrics_by_code({ln.metric_code for ln in terms.rate_card}))
    totals = await usage.load(cid)
    claims = [c for _, c, _ in rows if c is not None]
    # Only the caller's own participants: another provider's is not enrolled, for it.
    owner = _owner(sub, contract)
    lookup = asyncio.ensure_future(claim_lookups(
        cid, list({c.pseudonym for c in claims}), list({c.client_ref for c in claims}), owner,
        with_unowned=owner == contract["provider"]))
    # While the database looks the rows up, each row's own form is checked here.
    await asyncio.sleep(0)  # the lookup's query goes out first
    try:
        forms = [_own_form(i, c, problems) for i, c, problems in rows]
    except BaseException:
        lookup.cancel()
        await asyncio.gather(lookup, return_exceptions=True)
        raise
    found = await lookup
    participants, by_ref, history = found.participants, found.by_ref, found.history

    today = at.date()
    results: list[RowResult] = []
    new: list[ClaimRecord] = []
    prices: dict[int, Money] = {}  # one Money per amount, shared by the rows that show it
    for (i, c, _), (rejected, value, claim_id) in zip(rows, forms, strict=True):
        if rejected is not None:
            results.append(rejected)
            continue
        seen = by_ref.get(c.client_ref)
        participant = participants.get(c.pseudonym)
        if seen is not None:
            results.append(_same_claim(i, c, value, participant, seen, currency))
            continue
        participant_id, enrolled_on = participant if participant else (None, None)
        past = history.get(participant_id, ())
        decision = card.check(c.metric_code, c.achieved_on, value, enrolled_on, past, totals,
                              today)
        if decision.errors:
            results.append(_rejected(i, c.client_ref, decision.errors, c.metric_code))
            continue
        line, amount = decision.line, decision.amount
        assert line is not None and participant_id is not None
        record = ClaimRecord(claim_id, cid, participant_id, batch_id, c.client_ref, line.code,
                             c.metric_code, c.achieved_on, None if value is None else str(value),
                             c.evidence_ref, amount, currency, _ACCEPTED, at, None)
        new.append(record)
        by_ref[c.client_ref] = record
        history.setdefault(participant_id, []).append(
            PastClaim(line.code, c.metric_code, c.achieved_on, amount))
        totals.add(line.code, amount)
        price = prices.get(amount)
        if price is None:
            price = prices[amount] = Money(amount=amount, currency=currency)
        results.append(RowResult(row=i, status="accepted", id=record.id, ref=c.client_ref,
                                 line_code=line.code, metric_code=c.metric_code, amount=price))
    added: dict[str, tuple[int, int]] = {}
    for record in new:
        claims_so_far, amount_so_far = added.get(record.line_code, (0, 0))
        added[record.line_code] = (claims_so_far + 1, amount_so_far + record.amount)
    await usage.add(cid, added)
    return results, Claim, new


def _own_form(i: int, c: ClaimIn | None, problems: list[Problem]
              ) -> tuple[RowResult | None, Decimal | None, UUID | None]:
    """What a row says by itself, before anything is looked up: its rejection (a row that
    did not decode, a value that is no number, a pseudonym that cannot be one), or its value
    and the id it will have if it is accepted."""
    if c is None:
        return _rejected(i, None, problems), None, None
    try:
        value = parse_value(c.value)
    except ValueError as exc:
        return _rejected(i, c.client_ref, [Problem(
            code="invalid_field", field="value", message=str(exc))], c.metric_code), None, None
    bad = pseudonym_problem(c.pseudonym)
    if bad:
        return _rejected(i, c.client_ref, [Problem(
            code=bad[0], field="pseudonym", message=bad[1])], c.metric_code), None, None
    return None, value, new_id()


def _same_claim(i: int, c: ClaimIn, value, participant: tuple[UUID, dt.date] | None,
                seen: EarlierClaim | ClaimRecord, currency: str) -> RowResult:
    same = (participant is not None and seen.participant == participant[0]
            and seen.metric_code == c.metric_code
            and seen.achieved_on == c.achieved_on and seen.evidence_ref == c.evidence_ref
            and seen.value == (None if value is None else str(value)))
    if not same:
        return _rejected(i, c.client_ref, [Problem(
            code="client_ref_conflict", field="client_ref",
            message=f"{c.client_ref} was already used for a different claim")], c.metric_code)
    return RowResult(row=i, status="accepted", id=seen.id, ref=c.client_ref,
                     line_code=seen.line_code, metric_code=seen.metric_code,
                     amount=Money(amount=seen.amount, currency=currency))


submit_batch = _submit
