"""Every party's consent: acceptances of a draft's terms and of variations.

What this module keeps:
- A contract becomes active only when every commissioner named in its current version has
  accepted that version. A variation of the draft is a new version: acceptances of an
  earlier one do not count for it.
- A variation is a proposal. It applies once everyone it affects (`rules.acceptances_needed`)
  has accepted, onto the version it was proposed against and no other; applying one, or
  activating or closing the contract, supersedes every other pending proposal.
- An administrator may acknowledge an auditor's removal in the auditor's place, never accept
  for a commissioner. An organisation a proposal adds may see and accept that proposal
  before it is a party.
- Every acceptance is a row with who and when; rows are never edited (triggers).

Functions that decide take the contract row read under its lock (`service.locked`) inside
the caller's `write_transaction()`; they are steps of the doors in `ledger.commitments`
(activate, vary, accept), which also post the money, and change a contract's status or
version only when called from there. The doors of this module are `accept_version` and
`withdraw`, which commit no money.
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID

import msgspec

from contracts import service
from contracts.errors import Conflict, Forbidden, Invalid, NotFound, Problem
from contracts.identity import Principal
from contracts.rules import BINDING, acceptances_needed, check_effective_on, next_status
from contracts.schemas import AcceptanceOut, PartyRef, ProposalOut, VariationIn
from contracts.tables import (
    Contract,
    ContractAcceptance,
    ContractParty,
    ContractProposal,
    ContractVersion,
)
from core.clock import now
from core.database import write_transaction
from core.ids import new_id

_required_decoder = msgspec.json.Decoder(list[PartyRef])
_encoder = msgspec.json.Encoder()


# Activation --------------------------------------------------------------------------------


async def accept_version(principal: Principal, contract_id: UUID, version: int
                         ) -> AcceptanceOut:
    """The caller's organisation accepts `version` of a draft, the terms it will activate
    on. Accepting again changes nothing."""
    async with write_transaction():
        row = await service.locked(principal, contract_id, "commissioner")
        if row["status"] != "draft":
            raise Conflict("only a draft's terms are accepted this way; a variation is "
                           "accepted through its proposal", code="contract_not_draft")
        if version != row["version"]:
            raise Conflict(f"the draft is at version {row['version']} now; read it and "
                           "accept that version", code="version_changed")
        return await _accept_version(principal, row)


async def accept_for_activation(principal: Principal, row: dict) -> list[Problem]:
    """Check that the draft `row` may be activated, record the caller's acceptance of its
    version, and return one problem per commissioner still to accept (none: it may be
    activated, which `ledger.commitments.activate` does, with the commitment)."""
    if next_status(row["status"], "activate") is None:
        raise Conflict(f"a {row['status']} contract cannot activate", code="invalid_transition")
    terms = await service.current_terms(row["id"], row["version"])
    await service.validate_terms(terms, row["currency"], provider_id=row["provider"],
                                 for_activation=True)
    await _accept_version(principal, row)
    accepted = {r["organisation"] for r in await ContractAcceptance.select(
        ContractAcceptance.organisation).where(
        (ContractAcceptance.contract == row["id"])
        & (ContractAcceptance.version == row["version"]))}
    missing = [Problem(code="acceptance_missing", field=f"terms.commissioners[{i}]",
                       message=f"organisation {c.organisation_id} has not accepted version "
                               f"{row['version']}")
               for i, c in enumerate(terms.commissioners) if c.organisation_id not in accepted]
    return missing


async def _accept_version(principal: Principal, row: dict) -> AcceptanceOut:
    found = await ContractAcceptance.select().where(
        (ContractAcceptance.contract == row["id"])
        & (ContractAcceptance.version == row["version"])
        & (ContractAcceptance.organisation == principal.organisation_id)
        & ContractAcceptance.proposal.is_null()).first()
    if found is None:
        found = dict(id=new_id(), contract=row["id"], version=row["version"], proposal=None,
                     organisation=principal.organisation_id, role="commissioner",
                     accepted_by=principal.label,
                     accepted_by_organisation=principal.organisation_id, accepted_at=now())
        await ContractAcceptance.insert(ContractAcceptance(**found))
    return _acceptance_out(found)


# Variations --------------------------------------------------------------------------------


async def propose(principal: Principal, row: dict, data: VariationIn, *, today: dt.date,
                  paid_until: dt.date | None) -> tuple[UUID, bool]:
    """Record a variation of the contract `row` proposed by the caller (a commissioner that
    stays one), with the caller's acceptance. Returns its id and whether it is ready to
    apply, i.e. nobody else's acceptance is needed."""
    if row["status"] == "closed":
        raise Conflict("a closed contract cannot be varied", code="contract_closed")
    await service.validate_terms(data.terms, row["currency"], provider_id=row["provider"],
                                 for_activation=row["status"] != "draft")
    if principal.organisation_id not in {c.organisation_id for c in data.terms.commissioners}:
        raise Invalid("a variation cannot remove your own organisation",
                      code="creator_not_commissioner")
    effective_on = data.effective_on or today
    _check_effective(effective_on, today=today, paid_until=paid_until)
    before = await service.current_terms(row["id"], row["version"])
    required = sorted(acceptances_needed(before, data.terms, binding=row["status"] in BINDING),
                      key=lambda p: (p[1], str(p[0])))
    proposal_id, at = new_id(), now()
    await ContractProposal.insert(ContractProposal(
        id=proposal_id, contract=row["id"], base_version=row["version"],
        terms=service.encode_terms(data.terms), reason=data.reason, effective_on=effective_on,
        status="pending",
        required=_encoder.encode([PartyRef(organisation_id=o, role=r)
                                  for o, r in required]).decode(),
        proposer=principal.organisation_id, proposed_by=principal.label, proposed_at=at))
    await _record(principal, row["id"], proposal_id, principal.organisation_id, "commissioner")
    proposal = await proposal_row(row["id"], proposal_id)
    return proposal_id, not await _awaiting(proposal)


async def accept(principal: Principal, contract_id: UUID, proposal_id: UUID
                 ) -> tuple[dict, dict, bool]:
    """Record the caller's acceptance of a proposal, under the contract's lock (taken
    here). Returns the contract row, the proposal row and whether it is now ready to apply.

    A commissioner or an auditor accepts for its own organisation when the proposal needs
    it; an administrator acknowledges the auditors' removals. Accepting again changes
    nothing."""
    await service.lock(contract_id)
    proposal = await proposal_row(contract_id, proposal_id)
    rel = await _standing(principal, contract_id, proposal)
    row = await Contract.select().where(Contract.id == contract_id).first()
    required = _required(proposal)
    if rel == "admin":
        mine = [p for p in required if p.role == "auditor"]
        if not mine:
            raise Forbidden("an administrator acknowledges an auditor's removal; only the "
                            "commissioners accept for themselves", code="admin_cannot_accept")
    else:
        mine = [p for p in required
                if p.organisation_id == principal.organisation_id and p.role == rel]
        if not mine:
            raise Forbidden("this variation does not need your organisation's acceptance",
                            code="not_affected")
    awaiting = await _awaiting(proposal)
    todo = [p for p in mine if p in awaiting]
    if not todo:
        return row, proposal, False  # accepted before: nothing changes
    if proposal["status"] == "superseded" or (
            proposal["status"] == "pending" and proposal["base_version"] != row["version"]):
        raise Conflict("the contract was varied since this was proposed; propose again",
                       code="proposal_outdated")
    if proposal["status"] != "pending":
        raise Conflict(f"the proposal is {proposal['status']}", code="proposal_closed")
    if row["status"] == "closed":
        raise Conflict("a closed contract cannot be varied", code="contract_closed")
    for p in todo:
        await _record(principal, contract_id, proposal_id, p.organisation_id,
                      "admin" if rel == "admin" else p.role)
    return row, proposal, len(todo) == len(awaiting)


async def apply(principal: Principal, row: dict, proposal: dict, *, today: dt.date,
                paid_until: dt.date | None) -> tuple[int, dt.date]:
    """Make the accepted `proposal` the contract's next version, effective on its date or
    today, whichever is later. Returns the new version and its effective date."""
    on = max(proposal["effective_on"], today)
    _check_effective(on, today=today, paid_until=paid_until)
    version, at = row["version"] + 1, now()
    updated = await Contract.update({Contract.version: version}).where(
        (Contract.id == row["id"]) & (Contract.version == proposal["base_version"])
    ).returning(Contract.id)
    if not updated:
        raise Conflict("the contract was varied since this was proposed; propose again",
                       code="proposal_outdated")
    terms = service.decode_terms(proposal["terms"])
    await ContractVersion.insert(ContractVersion(
        id=new_id(), contract=row["id"], version=version, reason=proposal["reason"],
        effective_on=on, terms=proposal["terms"], recorded_at=at,
        recorded_by=proposal["proposed_by"]))
    await ContractParty.delete().where(ContractParty.contract == row["id"])
    await service.write_parties(row["id"], row["provider"], terms)
    await ContractProposal.update({
        ContractProposal.status: "applied", ContractProposal.decided_at: at,
        ContractProposal.decided_by: principal.label,
        ContractProposal.applied_version: version,
    }).where(ContractProposal.id == proposal["id"])
    await service.supersede_proposals(row["id"], principal.label)
    return version, on


async def withdraw(principal: Principal, contract_id: UUID, proposal_id: UUID
                   ) -> ProposalOut:
    """The proposing organisation takes back a pending proposal."""
    async with write_transaction():
        await service.locked(principal, contract_id, "commissioner")
        proposal = await proposal_row(contract_id, proposal_id)
        if proposal["proposer"] != principal.organisation_id:
            raise Forbidden("only the organisation that proposed a variation withdraws it",
                            code="proposer_only")
        if proposal["status"] != "pending":
            raise Conflict(f"the proposal is {proposal['status']}", code="proposal_closed")
        await ContractProposal.update({
            ContractProposal.status: "withdrawn", ContractProposal.decided_at: now(),
            ContractProposal.decided_by: principal.label,
        }).where(ContractProposal.id == proposal_id)
    return await proposal_out(contract_id, proposal_id)


def _check_effective(on: dt.date, *, today: dt.date, paid_until: dt.date | None) -> None:
    problems = check_effective_on(on, today=today, paid_until=paid_until)
    if problems:
        raise Invalid(problems[0].message, code=problems[0].code, problems=problems)


# Reading -----------------------------------------------------------------------------------


async def list_acceptances(principal: Principal, contract_id: UUID) -> list[AcceptanceOut]:
    await service.relation(principal, contract_id)
    rows = await ContractAcceptance.select().where(
        ContractAcceptance.contract == contract_id).order_by(
        ContractAcceptance.accepted_at, ContractAcceptance.id)
    return [_acceptance_out(r) for r in rows]


async def list_proposals(principal: Principal, contract_id: UUID) -> list[ProposalOut]:
    """Every proposal of the contract, oldest first; to an organisation that is not yet a
    party, the proposals that need its acceptance."""
    rows = await ContractProposal.select().where(
        ContractProposal.contract == contract_id).order_by(
        ContractProposal.proposed_at, ContractProposal.id)
    try:
        await service.relation(principal, contract_id)
    except NotFound:
        rows = [r for r in rows if _asks(principal, r)]
        if not rows:
            raise
    return [await _out(r) for r in rows]


async def get_proposal(principal: Principal, contract_id: UUID, proposal_id: UUID
                       ) -> ProposalOut:
    proposal = await proposal_row(contract_id, proposal_id)
    await _standing(principal, contract_id, proposal)
    return await _out(proposal)


async def proposal_out(contract_id: UUID, proposal_id: UUID) -> ProposalOut:
    return await _out(await proposal_row(contract_id, proposal_id))


async def _out(proposal: dict) -> ProposalOut:
    contract = await Contract.select().where(Contract.id == proposal["contract"]).first()
    acceptances = [_acceptance_out(r) for r in await _acceptance_rows(proposal["id"])]
    return ProposalOut(
        id=proposal["id"], contract_id=proposal["contract"], status=proposal["status"],
        base_version=proposal["base_version"], reason=proposal["reason"],
        effective_on=proposal["effective_on"], terms=service.decode_terms(proposal["terms"]),
        required=_required(proposal), acceptances=acceptances,
        awaiting=_missing(_required(proposal), acceptances),
        proposed_by=proposal["proposed_by"], proposed_at=proposal["proposed_at"],
        decided_at=proposal["decided_at"], decided_by=proposal["decided_by"],
        applied_version=proposal["applied_version"],
        contract=await service.contract_out(contract))


async def proposal_row(contract_id: UUID, proposal_id: UUID) -> dict:
    row = await ContractProposal.select().where(
        (ContractProposal.id == proposal_id) & (ContractProposal.contract == contract_id)
    ).first()
    if row is None:
        raise NotFound("no such proposal", code="proposal_not_found")
    return row


async def _standing(principal: Principal, contract_id: UUID, proposal: dict) -> str:
    """How the caller relates to the proposal: its relation to the contract, or, for an
    organisation the proposal would add, the role it is asked to accept in."""
    try:
        _, rel = await service.relation(principal, contract_id)
        return rel
    except NotFound:
        if _asks(principal, proposal):
            return principal.role
        raise NotFound("no such proposal", code="proposal_not_found") from None


def _asks(principal: Principal, proposal: dict) -> bool:
    return PartyRef(organisation_id=principal.organisation_id,
                    role=principal.role) in _required(proposal)


def _required(proposal: dict) -> list[PartyRef]:
    return _required_decoder.decode(proposal["required"])


async def _acceptance_rows(proposal_id: UUID) -> list[dict]:
    return await ContractAcceptance.select().where(
        ContractAcceptance.proposal == proposal_id).order_by(
        ContractAcceptance.accepted_at, ContractAcceptance.id)


async def _awaiting(proposal: dict) -> list[PartyRef]:
    rows = await _acceptance_rows(proposal["id"])
    return _missing(_required(proposal), [_acceptance_out(r) for r in rows])


def _missing(required: list[PartyRef], acceptances: list[AcceptanceOut]) -> list[PartyRef]:
    # An administrator's acknowledgement stands in for the auditor's.
    given = {(a.organisation_id, "auditor" if a.role == "admin" else a.role)
             for a in acceptances}
    return [p for p in required if (p.organisation_id, p.role) not in given]


async def _record(principal: Principal, contract_id: UUID, proposal_id: UUID,
                  organisation: UUID, role: str) -> None:
    await ContractAcceptance.insert(ContractAcceptance(
        id=new_id(), contract=contract_id, version=None, proposal=proposal_id,
        organisation=organisation, role=role, accepted_by=principal.label,
        accepted_by_organisation=principal.organisation_id, accepted_at=now()))


def _acceptance_out(r: dict) -> AcceptanceOut:
    return AcceptanceOut(
        id=r["id"], contract_id=r["contract"], version=r["version"], proposal_id=r["proposal"],
        organisation_id=r["organisation"], role=r["role"], accepted_by=r["accepted_by"],
        accepted_by_organisation_id=r["accepted_by_organisation"],
        accepted_at=r["accepted_at"])
