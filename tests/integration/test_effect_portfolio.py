"""A commissioner's portfolio: every contract's effect counted in one query, the same figures
as each contract's own."""

from __future__ import annotations

import datetime as dt

from contracts.identity import Principal
from effect import service
from tests import effect_data as data
from tests.helpers import org, principal

D = dt.date


async def test_the_portfolio_shows_each_contract_as_its_own_effect_does(db):
    await data.metric("ips_employment", "employment.entry")
    await data.metric("housing_entry", "housing.entry")
    commissioner, other = await org("municipality"), await org("municipality")
    ids = []
    for i, (metric, n, achieved) in enumerate([("ips_employment", 60, 21),
                                               ("housing_entry", 40, 10),
                                               ("ips_employment", 0, 0)]):
        provider = await org("ngo")
        cid = await data.contract(commissioner, provider, metric, reference=f"P-{i}",
                                  line=dict(horizon_days=90, target=30))
        if n:
            await data.people(cid, n=n, achieved=achieved, enrolled_on=D(2025, 3, 1),
                              metric_code=metric, age_band="18-29", cohort="A")
        ids.append(cid)
    elsewhere = await data.contract(other, await org("ngo"), "ips_employment")
    await data.people(elsewhere, n=10, achieved=2, enrolled_on=D(2025, 3, 1),
                      metric_code="ips_employment")

    me = principal(commissioner, "commissioner")
    as_of = D(2026, 11, 26)
    portfolio = await service.portfolio_effect(me, as_of=as_of)
    assert [e.contract_id for e in portfolio] == ids  # by reference; not the other's
    for effect in portfolio:
        alone = await service.contract_effect(me, effect.contract_id, as_of=as_of)
        assert effect == alone
    first = portfolio[0].lines[0].total
    assert (first.observed, first.achieved, first.target) == (60, 21, 30)
    assert portfolio[2].lines[0].total.observed == 0
    assert portfolio[2].lines[0].total.rate is None

    admin = Principal(organisation_id=other, role="admin", label="admin")
    assert len(await service.portfolio_effect(admin, as_of=as_of)) == 4
