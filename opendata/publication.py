"""What of a contract its commissioners publish: per part, public or private (INDIGO's field
status), private until a commissioner decides otherwise.

The parts (PARTS) are what the exports and the public "what works" pages are made of; each
export writes a part only when it is public, and a participant never leaves in any part
(figures are aggregates, suppressed below k). Decisions are append-only: the latest per
contract and part stands, and the decisions to publish make the public feed.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal
from uuid import UUID

from contracts import service as contracts
from contracts.errors import Invalid, Problem
from contracts.identity import Principal
from contracts.schemas import Input, Output
from core.clock import now
from core.database import write_transaction
from core.ids import new_id
from opendata.tables import Publication

Status = Literal["public", "private"]

# Part → what it makes public.
PARTS: dict[str, str] = {
    "contract": "that the contract exists: its reference, title, parties, dates, status, "
                "currency and cap (without it, nothing else of the contract is shown)",
    "rate_card": "the rate card: each outcome's metric, definition, price and its rules",
    "targets": "the agreed targets and baselines per outcome",
    "results": "outcomes achieved, rates with intervals and effect (suppressed below k)",
    "payments": "the payments made, from the journal (dates and amounts per payment run)",
    "voice": "citizen-voice response rates and scores (suppressed below k) and the "
             "commissioner's \"you said, we did\"",
}


class PublicationIn(Input, kw_only=True):
    """Public or private for some parts; the parts not named keep their status."""

    parts: dict[str, Status]


class PartOut(Output, kw_only=True):
    part: str
    status: Status
    meaning: str
    decided_by: str | None = None
    decided_at: dt.datetime | None = None


class PublicationOut(Output, kw_only=True):
    contract_id: UUID
    parts: list[PartOut]


async def latest(contract_ids: list[UUID] | None = None) -> dict[UUID, dict[str, dict]]:
    """The standing decision per contract and part ({contract: {part: row}})."""
    query = Publication.select().order_by(Publication.decided_at).order_by(Publication.id)
    if contract_ids is not None:
        if not contract_ids:
            return {}
        query = query.where(Publication.contract.is_in(contract_ids))
    out: dict[UUID, dict[str, dict]] = {}
    for row in await query:
        out.setdefault(row["contract"], {})[row["field"]] = row
    return out


async def public_parts(contract_id: UUID) -> set[str]:
    """The parts of the contract that are public now. Without `contract`, none is."""
    rows = (await latest([contract_id])).get(contract_id, {})
    parts = {p for p, r in rows.items() if r["status"] == "public"}
    return parts if "contract" in parts else set()


async def public_contracts() -> dict[UUID, set[str]]:
    """Every contract with a public part, and its public parts."""
    out = {}
    for cid, rows in (await latest()).items():
        parts = {p for p, r in rows.items() if r["status"] == "public"}
        if "contract" in parts:
            out[cid] = parts
    return out


def _out(contract_id: UUID, rows: dict[str, dict]) -> PublicationOut:
    return PublicationOut(contract_id=contract_id, parts=[
        PartOut(part=p, status=rows[p]["status"] if p in rows else "private", meaning=m,
                decided_by=rows[p]["decided_by"] if p in rows else None,
                decided_at=rows[p]["decided_at"] if p in rows else None)
        for p, m in PARTS.items()])


async def publication(principal: Principal, contract_id: UUID) -> PublicationOut:
    await contracts.relation(principal, contract_id)
    return _out(contract_id, (await latest([contract_id])).get(contract_id, {}))


async def decide(principal: Principal, contract_id: UUID, body: PublicationIn
                 ) -> PublicationOut:
    """A commissioner of the contract publishes parts of it, or takes them back."""
    await contracts.require_commissioner(principal, contract_id)
    unknown = [p for p in body.parts if p not in PARTS]
    if unknown:
        raise Invalid("Virker publishes a contract in these parts: " + ", ".join(PARTS),
                      code="unknown_part",
                      problems=[Problem(code="unknown_part", field=f"parts.{p}",
                                        message="not a part Virker publishes")
                                for p in unknown])
    current = (await latest([contract_id])).get(contract_id, {})
    at = now()
    rows = [dict(id=new_id(), contract=contract_id, field=part, status=status,
                 decided_by=principal.label, decided_at=at)
            for part, status in body.parts.items()
            if current.get(part, {}).get("status", "private") != status]
    if rows:
        async with write_transaction():
            await Publication.insert(*[Publication(**r) for r in rows])
    return await publication(principal, contract_id)


async def feed(limit: int = 50) -> list[dict]:
    """The latest decisions to publish a part that is still public, newest first, of
    contracts whose `contract` part is public: what the Atom feed lists."""
    public = await public_contracts()
    rows = await Publication.select().where(Publication.status == "public").order_by(
        Publication.decided_at, ascending=False).order_by(Publication.id, ascending=False)
    standing = await latest(list(public))
    out = []
    for row in rows:
        cid = row["contract"]
        if cid in public and standing[cid][row["field"]]["id"] == row["id"]:
            out.append(row)
        if len(out) >= limit:
            break
    return out
