"""Outcome payments by funds as 360Giving grants.

A fund (an organisation of kind outcome_fund, or a foundation) that commissions a contract
with others pays its share by a grant, not by a contract of its own: 360Giving, the
standard grant-makers publish in, is how such funding is read. One grant per fund and
contract: its share of the contract's cap as the amount awarded, the provider as the
recipient, the fund as the funder, the service period as the planned dates, awarded when
the contract was activated; with the `payments` part public, what the fund has paid so far
as the amount disbursed. Contracts without a fund among their commissioners give no grant.
A grant's id is the settings' grant prefix (360G-virker- by default), the fund's
organisation identifier and the contract's id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from contracts.money import split_by_shares
from core.clock import now
from core.settings import get_settings
from opendata.facts import (
    GRANT_MAKERS,
    ContractFacts,
    Party,
    major,
    moment,
    publisher,
)

VERSION = "1.4"


def grant_id(f: ContractFacts, fund: Party) -> str:
    return f"{get_settings().grant_prefix}{fund.identifier}-{f.id}"


def _organisation(party: Party) -> dict:
    return {"id": party.identifier, "name": party.name, "addressCountry": party.country}


def grants(f: ContractFacts) -> list[dict]:
    """The grants of one contract: one per fund among its commissioners."""
    t = f.terms
    shares = split_by_shares(t.cap.amount, [bp for _, bp in f.commissioners])
    paid = f.paid_by()
    out = []
    for (party, share_bp), share in zip(f.commissioners, shares, strict=True):
        if party.kind not in GRANT_MAKERS:
            continue
        grant: dict[str, Any] = {
            "id": grant_id(f, party),
            "title": f.title,
            "description": (f.intervention or f.title) + (
                f" Outcome payments under contract {f.reference}: the fund pays "
                f"{share_bp / 100:g} % of each outcome the contract pays for, up to its "
                "share of the contract's cap."),
            "currency": f.currency,
            "amountAwarded": major(share, f.currency),
            "awardDate": (f.activated_at or f.created_at).date().isoformat(),
            "plannedDates": [{"startDate": t.service_period.start.isoformat(),
                              "endDate": t.service_period.end.isoformat()}],
            "recipientOrganization": [_organisation(f.provider)],
            "fundingOrganization": [_organisation(party)],
            "grantProgramme": [{"title": "Outcome-based contracts"}],
        }
        if f.shows("payments"):
            grant["amountDisbursed"] = major(paid.get(party.id, 0), f.currency)
        out.append(grant)
    return out


async def package(facts: Sequence[ContractFacts], *, uri: str | None = None,
                  published: dt.datetime | None = None) -> dict:
    """The 360Giving package of these contracts' grants (possibly none: the caller says
    so rather than publish an empty package)."""
    published = published or now()
    out: dict[str, Any] = {
        "version": VERSION,
        "title": "Outcome payments by funds",
        "issued": moment(published),
        "publisher": {"name": await publisher(facts)},
        "grants": [g for f in facts for g in grants(f)],
    }
    if uri:
        out["identifier"] = uri
    license_ = get_settings().data_license
    if license_:
        out["license"] = license_
    return out
