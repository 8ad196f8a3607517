"""Builders for the people and contracts the tests talk about."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import msgspec
from litestar.testing import AsyncTestClient

from contracts import consent, directory, library, service
from contracts.identity import Principal
from contracts.schemas import ApiKeyIn, ContractIn, MetricIn, OrganisationIn
from ledger import commitments

_n = itertools.count(10_000_000)


async def org(kind: str, name: str | None = None) -> UUID:
    n = next(_n)
    out = await directory.create_organisation(
        None, OrganisationIn(name=name or f"{kind} {n}", kind=kind, identifier=f"DK-CVR-{n}"))
    return out.id


async def key(org_id: UUID, role: str | None = None) -> str:
    created = await directory.create_api_key(
        None, ApiKeyIn(label="test", organisation_id=org_id, role=role))
    return created.key


def principal(org_id: UUID, role: str) -> Principal:
    return Principal(organisation_id=org_id, role=role, label=f"test:{role}")


METRICS = {
    "housing_entry": dict(kind="event"),
    "housing_sustained_3m": dict(kind="duration", duration_days=91),
    "employment": dict(kind="event"),
    "self_employment": dict(kind="event"),
    "pss_reduction": dict(kind="score_change", direction="decrease"),
}


async def metrics() -> None:
    for code, extra in METRICS.items():
        await library.create_metric(None, msgspec.convert(dict(
            code=code, name=code.replace("_", " "), definition="…", unit="participant",
            evidence_required="a document", verification_source="admin_data", **extra),
            MetricIn))


def terms(commissioners: list[tuple[UUID, int]], auditors: list[UUID] = (), **over: Any
          ) -> dict:
    base = dict(
        service_period={"start": "2024-01-01", "end": "2025-12-31"},
        enrolment_period={"start": "2024-01-01", "end": "2025-06-30"},
        claims_deadline="2026-03-31",
        cap={"amount": 100_000_000, "currency": "DKK"},
        per_participant_cap={"amount": 5_000_000, "currency": "DKK"},
        commissioners=[{"organisation_id": str(o), "share_bp": s} for o, s in commissioners],
        auditor_ids=[str(a) for a in auditors],
        rate_card=[
            dict(code="entry", metric_code="housing_entry",
                 price={"amount": 1_500_000, "currency": "DKK"},
                 window={"start_day": 0, "end_day": 365}),
            dict(code="sustained-3m", metric_code="housing_sustained_3m",
                 price={"amount": 2_000_000, "currency": "DKK"},
                 prerequisite_metric="housing_entry",
                 window={"anchor": "prerequisite", "start_day": 91, "end_day": 151}),
        ],
    )
    base.update(over)
    return base


def contract_body(provider: UUID, commissioners: list[tuple[UUID, int]],
                  auditors: list[UUID] = (), reference: str | None = None, **over: Any
                  ) -> dict:
    return dict(reference=reference or f"C-{next(_n)}", title="Housing first",
                provider_id=str(provider), currency="DKK",
                terms=terms(commissioners, auditors, **over))


@dataclass
class World:
    """Two contracts with disjoint parties, plus an administrator."""

    ids: dict[str, UUID] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    contracts: dict[str, UUID] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


async def world() -> World:
    await metrics()
    w = World()
    for name, kind in [("admin", "operator"), ("commissioner", "municipality"),
                       ("co_commissioner", "outcome_fund"), ("provider", "ngo"),
                       ("auditor", "audit_firm"), ("other_commissioner", "municipality"),
                       ("other_provider", "social_enterprise"), ("other_auditor", "audit_firm")]:
        w.ids[name] = await org(kind)
        w.keys[name] = await key(w.ids[name])
    own = await service.create_contract(None, msgspec.convert(contract_body(
        w.ids["provider"], [(w.ids["commissioner"], 6000), (w.ids["co_commissioner"], 4000)],
        [w.ids["auditor"]]), ContractIn))
    other = await service.create_contract(None, msgspec.convert(contract_body(
        w.ids["other_provider"], [(w.ids["other_commissioner"], 10_000)],
        [w.ids["other_auditor"]]), ContractIn))
    w.contracts = {"own": own.id, "other": other.id}
    return w


def client(app) -> AsyncTestClient:
    return AsyncTestClient(app=app)


def line(code: str, metric: str, kroner: int, **extra: Any) -> dict:
    return dict(code=code, metric_code=metric, price={"amount": kroner * 100, "currency": "DKK"},
                **extra)


def intake_terms(commissioners: list[tuple[UUID, int]], auditors: list[UUID] = (), **over: Any
                 ) -> dict:
    """Terms with the worked examples' rate card: housing entry and sustainment
    (POJ-0263), employment xor self-employment (POJ-0313), a PSS stress score (POJ-0267)."""
    card = [
        line("entry", "housing_entry", 15_000, window={"start_day": 0, "end_day": 365}),
        line("sustained-3m", "housing_sustained_3m", 20_000,
             prerequisite_metric="housing_entry",
             window={"anchor": "prerequisite", "start_day": 91, "end_day": 151}),
        line("job", "employment", 35_000, exclusivity_group="work"),
        line("own-business", "self_employment", 35_000, exclusivity_group="work"),
        line("pss", "pss_reduction", 10_000, threshold="5",
             window={"start_day": 330, "end_day": 400}),
    ]
    # Open long enough that claims dated today are still within the deadline.
    dates = dict(service_period={"start": "2024-01-01", "end": "2030-06-30"},
                 claims_deadline="2030-12-31")
    return terms(commissioners, auditors, **{"rate_card": card, **dates, **over})


async def active_contract(w: World, **over: Any) -> UUID:
    """A new active contract between the world's commissioner and provider."""
    body = contract_body(w.ids["provider"], [(w.ids["commissioner"], 6000),
                                             (w.ids["co_commissioner"], 4000)],
                         [w.ids["auditor"]])
    body["terms"] = intake_terms([(w.ids["commissioner"], 6000),
                                  (w.ids["co_commissioner"], 4000)], [w.ids["auditor"]], **over)
    contract = await service.create_contract(None, msgspec.convert(body, ContractIn))
    # Each commissioner accepts the terms it commits money under; activating is the
    # commissioner's own acceptance.
    await consent.accept_version(principal(w.ids["co_commissioner"], "commissioner"),
                                 contract.id, contract.version)
    await commitments.activate(principal(w.ids["commissioner"], "commissioner"), contract.id,
                               "signed")
    return contract.id


PARTNERS = (("partner_a", "social_enterprise"), ("partner_b", "municipal_unit"))


async def partnership(w: World, partner_payment: str = "by_claimant",
                      splits: tuple[int, int] | None = None, **over: Any) -> UUID:
    """A new active contract led by the world's provider and delivered with two partners,
    `partner_a` and `partner_b` (added to the world with their API keys), paid
    `partner_payment`, each partner's split given by `splits` (basis points)."""
    for name, kind in PARTNERS:
        if name not in w.ids:
            w.ids[name] = await org(kind, f"{name.replace('_', ' ').title()} {next(_n)}")
            w.keys[name] = await key(w.ids[name])
    partners = [{"organisation_id": str(w.ids[name]),
                 **({"split_bp": splits[i]} if splits else {})}
                for i, (name, _) in enumerate(PARTNERS)]
    return await active_contract(w, partners=partners, partner_payment=partner_payment,
                                 **over)
