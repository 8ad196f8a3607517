"""Contracts with participants and outcomes made to order, for the effect tests.

Participants and claims are written straight into their tables (as intake would have left
them), so that a test can say exactly how many participants of which kind achieved what;
the contracts themselves are made and activated through the services.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from uuid import UUID

import msgspec

from contracts import consent, library, service
from contracts.schemas import ContractIn, MetricIn
from core.clock import now
from core.database import bulk_insert, write_transaction
from core.ids import new_id
from ledger import commitments
from outcomes.tables import Claim, Participant
from tests.helpers import contract_body, org, principal


async def metric(code: str, category: str | None = None, kind: str = "event", **extra) -> None:
    await library.create_metric(None, msgspec.convert(dict(
        code=code, name=code.replace("_", " "), definition="…", unit="participant",
        evidence_required="a document", verification_source="admin_data", kind=kind,
        category=category, **extra), MetricIn))


@dataclass
class Delivery:
    """One provider's contract for one metric line."""

    contract_id: UUID
    provider_id: UUID
    commissioner_id: UUID
    line_code: str


async def contract(commissioner: UUID, provider: UUID, metric_code: str, *, price: int = 10_000,
                   line: dict | None = None, cap: int = 100_000_000,
                   reference: str | None = None, **terms) -> UUID:
    """An active contract paying `price` kroner for `metric_code` on line "outcome"."""
    card = [dict(code="outcome", metric_code=metric_code,
                 price={"amount": price * 100, "currency": "DKK"}, **(line or {}))]
    body = contract_body(provider, [(commissioner, 10_000)], reference=reference)
    body["terms"].update(
        service_period={"start": "2023-01-01", "end": "2028-12-31"},
        enrolment_period={"start": "2023-01-01", "end": "2028-06-30"},
        claims_deadline="2029-06-30", cap={"amount": cap, "currency": "DKK"},
        per_participant_cap=None, rate_card=card, **terms)
    created = await service.create_contract(None, msgspec.convert(body, ContractIn))
    await consent.accept_version(principal(commissioner, "commissioner"), created.id,
                                 created.version)
    await commitments.activate(principal(commissioner, "commissioner"), created.id, "signed")
    return created.id


async def people(contract_id: UUID, *, n: int, achieved: int, enrolled_on: dt.date,
                 line_code: str = "outcome", metric_code: str, price: int = 10_000,
                 status: str = "paid", age_band: str | None = None, area: str | None = None,
                 cohort: str | None = None, organisation: UUID | None = None,
                 prefix: str | None = None, achieved_after: int = 30) -> list[UUID]:
    """`n` participants enrolled on `enrolled_on`, the first `achieved` of whom have a claim
    for the line in `status`, achieved `achieved_after` days after enrolment."""
    prefix = prefix or f"p{new_id().hex[-10:]}"
    rows, claims, ids = [], [], []
    at = now()
    for i in range(n):
        pid = new_id()
        ids.append(pid)
        rows.append(dict(id=pid, contract=contract_id, pseudonym=f"{prefix}-{i}",
                         enrolled_on=enrolled_on, age_band=age_band, area=area, cohort=cohort,
                         created_at=at, organisation=organisation))
        if i < achieved:
            claims.append(dict(
                id=new_id(), contract=contract_id, participant=pid, batch=None,
                client_ref=f"{prefix}-{i}-c", line_code=line_code, metric_code=metric_code,
                achieved_on=enrolled_on + dt.timedelta(days=achieved_after), value=None,
                evidence_ref="doc", amount=price * 100, currency="DKK", status=status,
                submitted_at=at, sample=None))
    async with write_transaction():
        await bulk_insert(Participant, rows)
        if claims:
            await bulk_insert(Claim, claims)
    return ids


__all__ = ["Delivery", "contract", "metric", "org", "people"]
