"""Outcome contracts: creation, visibility, variations and the lifecycle.

Who sees a contract: its providers (the lead, `Contract.provider`, and the partners named in
its terms), its commissioners, the auditors assigned to it, and administrators (read only).
Anyone else is told it does not exist (404). Among those who see it, only its commissioners
change it; others get 403.

A partnership shares one contract, one rate card and one pseudonym space, not its people: a
partner sees the contract, its terms and the partnership's aggregate figures, and only the
participants it enrolled, their claims and its own batches. The lead answers for the contract
and sees every participant, as commissioners, auditors and administrators do.
`provider_scope` says which organisation's participants a caller may see; every query of
participants, claims or batches applies it, and `row_of_contract` does for a single row given
the column that names the row's owner.

Terms are versions: version 1 is what the draft was created with, each variation adds the
next version with its reason. Nothing agreed is ever overwritten. Activation and variation
need the parties' consent: they go through `ledger.commitments` and `contracts.consent`;
suspension, resumption and closing through `transition`. `record_transition` alone writes
a contract's status.

Terms are written from the strict input struct and read back with its lenient twin
(`StoredTerms`), so that a replica one version behind reads terms a newer one stored.
`row_of_contract` is the one way to fetch a row that belongs to a contract (a claim, a
payment run, a batch) for a caller: a row of a contract the caller may not see does not
exist for it, exactly as the contract does not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal
from uuid import UUID

import msgspec
from piccolo.columns import Column
from piccolo.table import Table

from contracts.directory import existing_organisations
from contracts.errors import Conflict, Forbidden, Invalid, NotFound, Problem
from contracts.identity import Principal
from contracts.library import metrics_by_code
from contracts.rules import check_terms, next_status
from contracts.schemas import (
    ContractEventOut,
    ContractIn,
    ContractOut,
    ContractTerms,
    ContractVersionOut,
    CountedPage,
    StoredTerms,
)
from contracts.tables import (
    Contract,
    ContractEvent,
    ContractParty,
    ContractProposal,
    ContractVersion,
)
from core.clock import now
from core.database import is_unique_violation, write_transaction
from core.ids import new_id

_encoder = msgspec.json.Encoder()
_stored_terms = msgspec.json.Decoder(StoredTerms)

PROVIDER_KINDS = {"ngo", "social_enterprise", "municipal_unit", "company"}
# The code each role's refusal carries, spelt out so that every code can be found in the
# source (contracts.reasons lists them).
ROLE_ONLY = {"commissioner": "commissioner_only", "provider": "provider_only",
             "auditor": "auditor_only", "admin": "admin_only"}


def encode_terms(terms: ContractTerms) -> str:
    return _encoder.encode(terms).decode()


def decode_terms(text: str) -> ContractTerms:
    """Stored terms, read leniently: fields a newer version added are ignored."""
    return msgspec.convert(_stored_terms.decode(text), ContractTerms, from_attributes=True)


# Reading -----------------------------------------------------------------------------------


async def relation(principal: Principal, contract_id: UUID) -> tuple[dict, str]:
    """The contract row and how the caller relates to it; NotFound when it may not see it."""
    row = await Contract.select().where(Contract.id == contract_id).first()
    if row is None:
        raise NotFound("no such contract", code="contract_not_found")
    if principal.is_admin:
        return row, "admin"
    party = await ContractParty.exists().where(
        (ContractParty.contract == contract_id)
        & (ContractParty.organisation == principal.organisation_id)
        & (ContractParty.role == principal.role))
    if not party:
        raise NotFound("no such contract", code="contract_not_found")
    return row, principal.role


async def require_commissioner(principal: Principal, contract_id: UUID) -> dict:
    return await require_role(principal, contract_id, "commissioner")


async def row_of_contract(principal: Principal, table: type[Table], row_id: UUID, code: str,
                          *, role: str | None = None, columns: Sequence[Column] = (),
                          owner: Column | None = None) -> dict:
    """The row `row_id` of `table` (a table with a `contract` column), when the caller may
    see that contract and, given `role`, holds that role on it (403 otherwise). NotFound
    with `code` (e.g. `claim_not_found`) when there is no such row or the caller may not see
    its contract. `columns` selects less than the whole row; the contract is always read.

    `owner` is the column naming the provider a row belongs to (a batch's organisation, a
    claim's participant's organisation): a partner of the contract finds only its own rows
    (`provider_scope`), another's is not found either."""
    what = code.removesuffix("_not_found").replace("_", " ")
    contract = table._meta.get_column_by_name("contract")
    wanted = [*columns, *([] if any(c is contract for c in columns) else [contract])
              ] if columns else []
    if owner is not None:
        wanted = [*(wanted or table.all_columns()), owner.as_alias("_owner")]
    row = await table.select(*wanted).where(table._meta.primary_key == row_id).first()
    if row is None:
        raise NotFound(f"no such {what}", code=code)
    try:
        if role is None:
            contract_row, _ = await relation(principal, row["contract"])
        else:
            contract_row = await require_role(principal, row["contract"], role)
        if owner is not None:
            scope = await provider_scope(principal, contract_row)
            if scope is not None and (row.pop("_owner") or contract_row["provider"]) != scope:
                raise NotFound(f"no such {what}", code=code)
            row.pop("_owner", None)
    except NotFound:
        raise NotFound(f"no such {what}", code=code) from None
    return row


async def provider_scope(principal: Principal, contract_row: dict) -> UUID | None:
    """The organisation whose participants (and their claims, and the batches it sent) the
    caller may see on the contract `contract_row`; None means all of them. The lead provider,
    commissioners, auditors and administrators see all; a partner sees its own. Call it after
    `relation` (or `require_role`) let the caller in: it decides what of the contract is
    visible, not whether the contract is."""
    if principal.is_admin or principal.role != "provider":
        return None
    if principal.organisation_id == contract_row["provider"]:
        return None
    return principal.organisation_id


async def scope_of(principal: Principal, contract_id: UUID) -> tuple[dict, UUID | None]:
    """`relation` and `provider_scope` in one: the contract row (NotFound when the caller
    may not see it) and the organisation whose participants it may see (None: all)."""
    row, _ = await relation(principal, contract_id)
    return row, await provider_scope(principal, row)


def partner_ids(terms: ContractTerms) -> list[UUID]:
    """The partners of a contract's terms, in the order the terms name them."""
    return [p.organisation_id for p in terms.partners]


async def get_contract(principal: Principal, contract_id: UUID) -> ContractOut:
    row, _ = await relation(principal, contract_id)
    return await contract_out(row)


async def current_terms(contract_id: UUID, version: int) -> ContractTerms:
    text = await ContractVersion.select(ContractVersion.terms).where(
        (ContractVersion.contract == contract_id) & (ContractVersion.version == version)
    ).first()
    return decode_terms(text["terms"])


async def terms_at(contract_id: UUID, at: dt.datetime) -> ContractTerms:
    """The contract's terms as they stood at `at`: the last version recorded by then (the
    first, for a moment before the contract was drafted)."""
    row = await ContractVersion.select(ContractVersion.terms).where(
        (ContractVersion.contract == contract_id) & (ContractVersion.recorded_at <= at)
    ).order_by(ContractVersion.version, ascending=False).first()
    if row is None:
        row = await ContractVersion.select(ContractVersion.terms).where(
            ContractVersion.contract == contract_id).order_by(ContractVersion.version).first()
    return decode_terms(row["terms"])


async def list_contracts(principal: Principal, *, status: str | None = None,
                         cursor: UUID | None = None, limit: int = 50, count: bool = False
                         ) -> CountedPage[ContractOut]:
    """The contracts the caller is a party to (all, for administrators), by id; `count`
    adds how many match the filter in all."""
    where = None
    if not principal.is_admin:
        ids = await ContractParty.select(ContractParty.contract).where(
            (ContractParty.organisation == principal.organisation_id)
            & (ContractParty.role == principal.role))
        if not ids:
            return CountedPage(items=[], total=0 if count else None)
        where = Contract.id.is_in([r["contract"] for r in ids])
    if status is not None:
        where = Contract.status == status if where is None else where & (
            Contract.status == status)
    total = None
    if count:
        query = Contract.count()
        total = await (query.where(where) if where is not None else query)
    query = Contract.select().order_by(Contract.id).limit(limit + 1)
    if where is not None:
        query = query.where(where)
    if cursor is not None:
        query = query.where(Contract.id > cursor)
    rows = await query
    more = len(rows) > limit
    rows = rows[:limit]
    items = [await contract_out(r) for r in rows]
    return CountedPage(items=items, next_cursor=str(rows[-1]["id"]) if more else None,
                       total=total)


async def list_versions(principal: Principal, contract_id: UUID) -> list[ContractVersionOut]:
    await relation(principal, contract_id)
    rows = await ContractVersion.select().where(
        ContractVersion.contract == contract_id).order_by(ContractVersion.version)
    return [ContractVersionOut(version=r["version"], reason=r["reason"],
                               effective_on=r["effective_on"], recorded_at=r["recorded_at"],
                               recorded_by=r["recorded_by"], terms=decode_terms(r["terms"]))
            for r in rows]


async def list_events(principal: Principal, contract_id: UUID) -> list[ContractEventOut]:
    await relation(principal, contract_id)
    rows = await ContractEvent.select().where(
        ContractEvent.contract == contract_id).order_by(ContractEvent.recorded_at)
    return [ContractEventOut(from_status=r["from_status"], to_status=r["to_status"],
                             reason=r["reason"], recorded_at=r["recorded_at"],
                             recorded_by=r["recorded_by"]) for r in rows]


async def contract_out(row: dict) -> ContractOut:
    terms = await current_terms(row["id"], row["version"])
    return ContractOut(id=row["id"], reference=row["reference"], title=row["title"],
                       intervention=row["intervention"], provider_id=row["provider"],
                       currency=row["currency"], status=row["status"], version=row["version"],
                       created_at=row["created_at"], terms=terms)


# Writing -----------------------------------------------------------------------------------


async def create_contract(principal: Principal | None, data: ContractIn) -> ContractOut:
    """A draft contract; `principal` None is the command line (demo data)."""
    if principal is not None:
        if principal.role != "commissioner":
            raise Forbidden("only commissioners create contracts", code="commissioner_only")
        if principal.organisation_id not in {c.organisation_id for c in data.terms.commissioners}:
            raise Invalid("you must be one of the contract's commissioners",
                          code="creator_not_commissioner",
                          problems=[Problem(code="creator_not_commissioner",
                                            field="terms.commissioners",
                                            message="name your own organisation as a "
                                                    "commissioner")])
    await validate_terms(data.terms, data.currency, provider_id=data.provider_id,
                         for_activation=False)
    contract_id, at = new_id(), now()
    by = principal.label if principal else "cli"
    try:
        async with write_transaction():
            await Contract.insert(Contract(
                id=contract_id, reference=data.reference, title=data.title,
                intervention=data.intervention, provider=data.provider_id,
                currency=data.currency, status="draft", version=1, created_at=at))
            await ContractVersion.insert(ContractVersion(
                id=new_id(), contract=contract_id, version=1, reason="draft created",
                effective_on=data.terms.service_period.start, terms=encode_terms(data.terms),
                recorded_at=at, recorded_by=by))
            await write_parties(contract_id, data.provider_id, data.terms)
            await ContractEvent.insert(ContractEvent(
                id=new_id(), contract=contract_id, from_status=None, to_status="draft",
                reason="created", recorded_at=at, recorded_by=by))
    except Exception as exc:
        if is_unique_violation(exc):
            raise Conflict(f"contract reference {data.reference} is taken",
                           code="reference_taken") from exc
        raise
    row = await Contract.select().where(Contract.id == contract_id).first()
    return await contract_out(row)


async def transition(principal: Principal, contract_id: UUID,
                     action: Literal["suspend", "resume", "close"], reason: str) -> ContractOut:
    """The door to suspend, resume or close a contract. Activation commits funds and needs
    every commissioner's acceptance: it has its own door, `ledger.commitments.activate`."""
    if action == "activate":
        raise ValueError("activate through ledger.commitments.activate")
    async with write_transaction():
        row = await locked(principal, contract_id, "commissioner")
        await record_transition(principal, row, action, reason)
    return await get_contract(principal, contract_id)


async def record_transition(principal: Principal, row: dict, action: str, reason: str) -> str:
    """Move the contract `row` (read under its lock) on by `action`; returns the new status.
    The one writer of a contract's status, called by the doors `transition` and
    `ledger.commitments.activate`."""
    target = next_status(row["status"], action)
    if target is None:
        raise Conflict(f"a {row['status']} contract cannot {action}", code="invalid_transition")
    updated = await Contract.update({Contract.status: target}).where(
        (Contract.id == row["id"]) & (Contract.status == row["status"])
    ).returning(Contract.id)
    if not updated:
        raise Conflict("the contract changed at the same time; try again",
                       code="concurrent_change")
    await ContractEvent.insert(ContractEvent(
        id=new_id(), contract=row["id"], from_status=row["status"], to_status=target,
        reason=reason, recorded_at=now(), recorded_by=principal.label))
    if row["status"] == "draft" or target == "closed":
        # A draft's proposals were accepted by the draft's rules, which ask less than
        # binding terms do; a closed contract is varied no more.
        await supersede_proposals(row["id"], principal.label)
    return target


async def supersede_proposals(contract_id: UUID, by: str) -> None:
    """Every pending proposal of the contract is superseded: the terms or the status it was
    proposed under have changed."""
    await ContractProposal.update({
        ContractProposal.status: "superseded", ContractProposal.decided_at: now(),
        ContractProposal.decided_by: by,
    }).where((ContractProposal.contract == contract_id)
             & (ContractProposal.status == "pending"))


async def validate_terms(terms: ContractTerms, currency: str, *, provider_id: UUID,
                 for_activation: bool) -> None:
    metrics = await metrics_by_code({line.metric_code for line in terms.rate_card})
    problems = check_terms(terms, currency, metrics, for_activation=for_activation)
    commissioner_ids = {c.organisation_id for c in terms.commissioners}
    known = await existing_organisations(
        commissioner_ids | set(terms.auditor_ids) | {provider_id} | set(partner_ids(terms)))
    if provider_id not in known:
        problems.append(Problem(code="unknown_organisation", field="provider_id",
                                message=f"organisation {provider_id} does not exist"))
    elif known[provider_id] not in PROVIDER_KINDS:
        problems.append(Problem(code="not_a_provider", field="provider_id",
                                message=f"a {known[provider_id]} cannot deliver a contract"))
    for i, c in enumerate(terms.commissioners):
        if c.organisation_id not in known:
            problems.append(Problem(code="unknown_organisation",
                                    field=f"terms.commissioners[{i}].organisation_id",
                                    message=f"organisation {c.organisation_id} does not exist"))
    for i, a in enumerate(terms.auditor_ids):
        if a not in known:
            problems.append(Problem(code="unknown_organisation", field=f"terms.auditor_ids[{i}]",
                                    message=f"organisation {a} does not exist"))
    for i, p in enumerate(terms.partners):
        field, org = f"terms.partners[{i}].organisation_id", p.organisation_id
        if org == provider_id:
            problems.append(Problem(code="partner_is_lead", field=field,
                                    message="the lead provider delivers the contract already; "
                                            "name only the other providers as partners"))
        elif org not in known:
            problems.append(Problem(code="unknown_organisation", field=field,
                                    message=f"organisation {org} does not exist"))
        elif known[org] not in PROVIDER_KINDS:
            problems.append(Problem(code="not_a_provider", field=field,
                                    message=f"a {known[org]} cannot deliver a contract"))
    if problems:
        raise Invalid("the contract terms are not valid", code="invalid_terms",
                      problems=problems)


async def write_parties(contract_id: UUID, provider_id: UUID, terms: ContractTerms) -> None:
    """Who may see the contract, from its terms: the lead and each partner as `provider`
    (the lead is told apart by `Contract.provider`, see `provider_scope`), the commissioners
    with their shares, the auditors. A variation deletes the rows and writes them again."""
    rows = [ContractParty(id=new_id(), contract=contract_id, organisation=provider_id,
                          role="provider")]
    rows += [ContractParty(id=new_id(), contract=contract_id, organisation=org,
                           role="provider") for org in dict.fromkeys(partner_ids(terms))
             if org != provider_id]
    rows += [ContractParty(id=new_id(), contract=contract_id, organisation=c.organisation_id,
                           role="commissioner", share_bp=c.share_bp) for c in terms.commissioners]
    rows += [ContractParty(id=new_id(), contract=contract_id, organisation=a, role="auditor")
             for a in terms.auditor_ids]
    await ContractParty.insert(*rows)


async def lock(contract_id: UUID) -> None:
    """Serialise writes to one contract. Call inside `write_transaction()`.

    PostgreSQL: a row lock on the contract, held to the end of the transaction. SQLite:
    the IMMEDIATE transaction already holds the database's single write lock.
    """
    if Contract._meta.db.engine_type == "postgres":
        await Contract.raw("SELECT id FROM contract WHERE id = {} FOR UPDATE", contract_id)


async def locked(principal: Principal, contract_id: UUID, role: str) -> dict:
    """Take the contract's lock, then check the caller's `role` on the contract as it is
    now and return its row as it is now. Call inside `write_transaction()`.

    Every decision about money reads status, version and terms from this row: a value read
    before the lock may already have been changed by a suspension or a variation.
    """
    await lock(contract_id)
    return await require_role(principal, contract_id, role)


async def require_role(principal: Principal, contract_id: UUID, role: str) -> dict:
    """The contract, when the caller holds `role` on it; 404 if it may not see it, else 403."""
    row, rel = await relation(principal, contract_id)
    if rel != role:
        raise Forbidden(f"only the contract's {role} may do this", code=ROLE_ONLY[role])
    return row


async def commissioner_ids(contract_id: UUID) -> list[UUID]:
    """Every organisation that has commissioned the contract in any version of its terms."""
    ids: dict[UUID, None] = {}
    for r in await ContractVersion.select(ContractVersion.terms).where(
            ContractVersion.contract == contract_id).order_by(ContractVersion.version):
        for c in decode_terms(r["terms"]).commissioners:
            ids[c.organisation_id] = None
    return list(ids)
