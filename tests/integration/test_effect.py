"""Effect figures from the database: counts, rates with intervals, money per outcome,
comparison with suppression, advice and the forecast, on both engines."""

from __future__ import annotations

import datetime as dt

import pytest

from effect import service
from tests import effect_data as data
from tests.helpers import org, principal

D = dt.date


async def test_a_contracts_rate_counts_only_observed_participants(db):
    await data.metric("ips_employment", "employment.entry")
    commissioner, provider = await org("municipality"), await org("ngo")
    cid = await data.contract(commissioner, provider, "ips_employment",
                              line=dict(horizon_days=180, target=40,
                                        baseline=dict(kind="historical", rate_bp=2000,
                                                      source="the municipality's 2022 rate")))
    # 50 observed (enrolled a year ago), 7 of them employed; 20 recent, 3 employed already.
    await data.people(cid, n=50, achieved=7, enrolled_on=D(2025, 6, 1),
                      metric_code="ips_employment", age_band="18-29")
    await data.people(cid, n=20, achieved=3, enrolled_on=D(2026, 10, 1),
                      metric_code="ips_employment", age_band="30-49")
    effect = await service.contract_effect(principal(commissioner, "commissioner"), cid,
                                           as_of=D(2026, 11, 26))
    total = effect.lines[0].total
    assert (total.enrolled, total.observed, total.achieved) == (70, 50, 7)
    assert total.rate == pytest.approx(0.14)
    assert (total.rate_low, total.rate_high) == pytest.approx((0.0695, 0.2619), abs=1e-4)
    assert total.progress == pytest.approx(7 / 40)
    assert total.uplift == pytest.approx(0.14 - 0.20)
    assert total.uplift_method == "one_sample"
    # Paid for all ten who achieved: 100,000 kroner, 10,000 per outcome; fewer than the
    # baseline predicts, so no cost per additional outcome.
    assert total.paid.amount == 10 * 1_000_000
    assert total.cost_per_outcome.amount == 1_000_000
    assert total.cost_per_additional is None
    assert total.cost_per_additional_undefined == "no_uplift"
    ages = {p.value: p.figures for p in effect.lines[0].parts if p.dimension == "age_band"}
    assert (ages["18-29"].observed, ages["30-49"].observed) == (50, 0)
