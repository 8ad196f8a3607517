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
                   reference: str | None = None,
                   commissioners: list[tuple[UUID, int]] | None = None,
                   auditors: list[UUID] = (), **terms) -> UUID:
    """An active contract paying `price` kroner for `metric_code` on line "outcome"
    (`cap` in minor units). `commissioners` with their shares in basis points replace the
    single `commissioner` paying it all; each of them accepts the terms, the first
    activates them."""
    card = [dict(code="outcome", metric_code=metric_code,
                 price={"amount": price * 100, "currency": "DKK"}, **(line or {}))]
    payers = commissioners or [(commissioner, 10_000)]
    body = contract_body(provider, payers, list(auditors), reference=reference)
    body["terms"].update(
        service_period={"start": "2023-01-01", "end": "2028-12-31"},
        enrolment_period={"start": "2023-01-01", "end": "2028-06-30"},
        claims_deadline="2029-06-30", cap={"amount": cap, "currency": "DKK"},
        per_participant_cap=None, rate_card=card, **terms)
    created = await service.create_contract(None, msgspec.convert(body, ContractIn))
    for org_id, _ in payers:
        await consent.accept_version(principal(org_id, "commissioner"), created.id,
                                     created.version)
    await commitments.activate(principal(payers[0][0], "commissioner"), created.id, "signed")
    return created.id


async def people(contract_id: UUID, *, n: int, achieved: int, enrolled_on: dt.date,
                 line_code: str = "outcome", metric_code: str, price: int = 10_000,
                 status: str = "paid", age_band: str | None = None, area: str | None = None,
                 cohort: str | None = None, organisation: UUID | None = None,
                 prefix: str | None = None, achieved_after: int = 30,
                 values: list[str] | None = None) -> list[UUID]:
    """`n` participants enrolled on `enrolled_on`, the first `achieved` of whom have a claim
    for the line in `status`, achieved `achieved_after` days after enrolment; `values` are
    the measured changes of a score line's claims, one per claim."""
    if values is not None and len(values) != achieved:
        raise ValueError("one value per claim")
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
                achieved_on=enrolled_on + dt.timedelta(days=achieved_after),
                value=None if values is None else values[i],
                evidence_ref="doc", amount=price * 100, currency="DKK", status=status,
                submitted_at=at, sample=None))
    async with write_transaction():
        await bulk_insert(Participant, rows)
        if claims:
            await bulk_insert(Claim, claims)
    return ids


# A field of providers delivering the same outcome, whose right answer is known (plain
# binomial limits around a pooled rate of about 28.5 %): reference → (observed, achieved),
# half enrolled 250 days before today and half 130 days before (two quarters, both within
# the last four, so that all of them are next period's volume), observed after 90 days.
FIELD = {
    "R-1": (200, 60),   # 30 %: inside, maintain
    "R-2": (200, 74),   # 37 %: above the 95 % limit (34.8 %), below 99.8 % (38.4 %): expand
    "R-3": (200, 62),   # 31 %: maintain
    "R-4": (200, 58),   # 29 %: maintain
    "R-5": (200, 28),   # 14 %: below the 99.8 % limit (18.7 %): review
    "R-6": (200, 60),   # 30 %: maintain
    "R-7": (20, 6),     # too few observed: insufficient evidence
}
FIELD_DAYS_AGO = (250, 130)
FIELD_LINE = dict(horizon_days=90, target=70, max_count=150)


async def field(metric_code: str, commissioner_of: dict[str, UUID], default: UUID, *,
                price: int = 10_000) -> dict[str, Delivery]:
    """The FIELD's contracts, each with a provider of its own, commissioned by
    `commissioner_of[reference]` or else `default`. The references are not in the order of
    the rates, so that a listing by reference is told apart from a ranking."""
    out = {}
    today = now().date()
    first, second = (today - dt.timedelta(days=d) for d in FIELD_DAYS_AGO)
    for reference, (n, x) in FIELD.items():
        commissioner = commissioner_of.get(reference, default)
        provider = await org("ngo", f"Provider {reference}")
        cid = await contract(commissioner, provider, metric_code, price=price,
                             reference=reference, line=dict(FIELD_LINE))
        for enrolled_on, size, achieved in ((first, n // 2, x // 2),
                                            (second, n - n // 2, x - x // 2)):
            await people(cid, n=size, achieved=achieved, enrolled_on=enrolled_on,
                         metric_code=metric_code, price=price, organisation=provider)
        out[reference] = Delivery(contract_id=cid, provider_id=provider,
                                  commissioner_id=commissioner, line_code="outcome")
    return out


__all__ = ["FIELD", "FIELD_DAYS_AGO", "FIELD_LINE", "Delivery", "contract", "field", "metric",
           "org", "people"]
