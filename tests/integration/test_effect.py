"""Effect figures from the database: counts, rates with intervals, money per outcome,
comparison with suppression, advice and the forecast, on both engines.

Every contract here is built to order (tests/effect_data.py), so that each figure has an
answer known before the test runs: so many participants observed, so many achieved.
"""

from __future__ import annotations

import datetime as dt
import math

import msgspec
import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from contracts.tables import AdviceDecision
from core.clock import now
from effect import service
from effect.schemas import AdviceDecisionIn, ContractEffect, Figures
from tests import effect_data as data
from tests.helpers import org, principal

D = dt.date
AS_OF = D(2026, 11, 26)
LONG_AGO = D(2025, 3, 1)  # observed on AS_OF for any horizon up to 635 days
RECENT = D(2026, 10, 1)  # observed on AS_OF for no horizon above 56 days
PRICE = 1_000_000  # 10,000 kroner in øre, the builder's default price
M = "ips_employment"


def near(value):
    """Rates and intervals are given to six decimals."""
    return pytest.approx(value, abs=1e-6)


async def parties(metric: str = M, **extra) -> tuple:
    await data.metric(metric, "employment.entry", **extra)
    return await org("municipality"), await org("ngo")


async def effect_of(commissioner, cid, as_of: dt.date = AS_OF) -> ContractEffect:
    return await service.contract_effect(principal(commissioner, "commissioner"), cid,
                                         as_of=as_of)


def parts(effect: ContractEffect, dimension: str) -> dict[str, Figures]:
    return {p.value: p.figures for p in effect.lines[0].parts if p.dimension == dimension}


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


async def test_without_a_horizon_a_participant_is_observed_once_its_window_has_closed(db):
    commissioner, provider = await parties()
    window = dict(start_day=0, end_day=365)
    by_window = await data.contract(commissioner, provider, M, line=dict(window=window))
    by_horizon = await data.contract(commissioner, provider, M,
                                     line=dict(window=window, horizon_days=180))
    for cid in (by_window, by_horizon):
        # 400, 200 and 30 days before the day the figures are for.
        for days, n, achieved in ((400, 30, 9), (200, 20, 4), (30, 10, 1)):
            await data.people(cid, n=n, achieved=achieved, metric_code=M,
                              enrolled_on=AS_OF - dt.timedelta(days=days), achieved_after=20)
    line = (await effect_of(commissioner, by_window)).lines[0]
    assert line.horizon_days == 365
    assert (line.total.enrolled, line.total.observed, line.total.achieved) == (60, 30, 9)
    assert line.total.rate == near(9 / 30)
    # A stated horizon wins over the window.
    line = (await effect_of(commissioner, by_horizon)).lines[0]
    assert line.horizon_days == 180
    assert (line.total.enrolled, line.total.observed, line.total.achieved) == (60, 50, 13)


async def test_only_a_standing_claim_counts_as_an_outcome(db):
    commissioner, provider = await parties()
    cid = await data.contract(commissioner, provider, M, line=dict(horizon_days=180))
    for status, n in (("accepted", 2), ("sampled", 2), ("verified", 2), ("approved", 3),
                      ("paid", 5), ("disputed", 4), ("reversed", 3)):
        await data.people(cid, n=n, achieved=n, status=status, enrolled_on=LONG_AGO,
                          metric_code=M)
    await data.people(cid, n=39, achieved=0, enrolled_on=LONG_AGO, metric_code=M)
    total = (await effect_of(commissioner, cid)).lines[0].total
    # 60 observed; 14 stand; the 4 disputed and the 3 reversed achieved nothing (yet).
    assert (total.observed, total.achieved) == (60, 14)
    assert total.rate == near(14 / 60)
    assert total.accrued.amount == 8 * PRICE  # approved and paid
    assert total.paid.amount == 5 * PRICE


async def test_uplift_against_a_comparison_group_has_newcombes_interval(db):
    commissioner, provider = await parties()
    group = await data.contract(commissioner, provider, M, line=dict(
        horizon_days=180, baseline=dict(kind="comparison_group", rate_bp=2000, n=150,
                                        source="a matched group of 150, 2022")))
    fixed = await data.contract(commissioner, provider, M, line=dict(
        horizon_days=180, baseline=dict(kind="historical", rate_bp=2000,
                                        source="the municipality's 2022 rate")))
    for cid in (group, fixed):
        await data.people(cid, n=80, achieved=28, enrolled_on=LONG_AGO, metric_code=M)

    line = (await effect_of(commissioner, group)).lines[0]
    assert (line.baseline.kind, line.baseline.rate, line.baseline.n) == (
        "comparison_group", 0.2, 150)
    g = line.total
    low, high = confint_proportions_2indep(28, 80, 30, 150, method="newcomb", compare="diff")
    assert g.uplift_method == "newcombe"
    assert g.uplift == near(28 / 80 - 0.2)
    assert (g.uplift_low, g.uplift_high) == near((low, high))
    # 28 achieved where the baseline predicts 16: 12 additional outcomes for 28 payments.
    assert g.additional == near(12)
    assert g.cost_per_outcome.amount == PRICE
    assert g.cost_per_additional.amount == round(28 * PRICE / 12)

    f = (await effect_of(commissioner, fixed)).lines[0].total
    low, high = proportion_confint(28, 80, alpha=0.05, method="wilson")
    assert f.uplift_method == "one_sample"
    assert (f.uplift_low, f.uplift_high) == near((low - 0.2, high - 0.2))
    # A comparison group is itself a sample: its interval is the wider one.
    assert g.uplift_high - g.uplift_low > f.uplift_high - f.uplift_low


async def test_cost_per_outcome_of_a_flat_price_is_the_price_whatever_stage_claims_are_at(db):
    """Ten outcomes achieved at 10,000 kroner each cost 10,000 kroner per outcome, whether
    the commissioner has paid for five of them yet or for all ten."""
    commissioner, provider = await parties()
    cid = await data.contract(commissioner, provider, M, line=dict(horizon_days=180))
    for status in ("paid", "approved", "accepted"):
        await data.people(cid, n=5, achieved=5, status=status, enrolled_on=LONG_AGO,
                          metric_code=M)
    await data.people(cid, n=25, achieved=0, enrolled_on=LONG_AGO, metric_code=M)
    total = (await effect_of(commissioner, cid)).lines[0].total
    assert total.achieved == 15 and total.paid.amount == 5 * PRICE
    assert total.cost_per_outcome.amount == PRICE


async def test_an_early_success_does_not_make_each_additional_outcome_dearer(db):
    """Cost per additional outcome is what was paid for the observed participants over the
    outcomes they achieved beyond the baseline. Participants enrolled last month who found
    work at once are not in the effect yet; their payments must not be in its cost."""
    commissioner, provider = await parties()
    cid = await data.contract(commissioner, provider, M, line=dict(
        horizon_days=180, baseline=dict(kind="comparison_group", rate_bp=2000, n=200,
                                        source="a matched group of 200")))
    await data.people(cid, n=50, achieved=20, enrolled_on=LONG_AGO, metric_code=M)
    before = (await effect_of(commissioner, cid)).lines[0].total
    # 20 achieved where the baseline predicts 10, for 20 payments: 2 prices per additional.
    assert before.cost_per_additional.amount == 2 * PRICE
    await data.people(cid, n=10, achieved=5, enrolled_on=RECENT, metric_code=M)
    after = (await effect_of(commissioner, cid)).lines[0].total
    assert (after.observed, after.achieved, after.additional) == (50, 20, near(10))
    assert after.cost_per_additional.amount == 2 * PRICE


async def test_each_cost_that_does_not_exist_says_why_and_no_figure_is_a_number_it_is_not(db):
    commissioner, provider = await parties()
    baseline = dict(kind="historical", rate_bp=2000, source="the 2022 rate")
    nothing_yet = await data.contract(commissioner, provider, M,
                                      line=dict(horizon_days=180, target=20, baseline=baseline))
    no_baseline = await data.contract(commissioner, provider, M, line=dict(horizon_days=180))
    nobody_observed = await data.contract(commissioner, provider, M,
                                          line=dict(horizon_days=180, baseline=baseline))
    await data.people(nothing_yet, n=40, achieved=0, enrolled_on=LONG_AGO, metric_code=M)
    await data.people(no_baseline, n=40, achieved=10, enrolled_on=LONG_AGO, metric_code=M)
    await data.people(nobody_observed, n=10, achieved=0, enrolled_on=RECENT, metric_code=M)

    effect = await effect_of(commissioner, nothing_yet)
    t = effect.lines[0].total
    assert (t.observed, t.achieved, t.rate, t.progress) == (40, 0, 0.0, 0.0)
    assert t.cost_per_outcome is None and t.cost_per_outcome_undefined == "no_outcomes"
    assert t.cost_per_additional is None and t.cost_per_additional_undefined == "no_uplift"
    assert {"no_outcomes", "no_baseline", "no_uplift"} <= set(effect.undefined)

    t = (await effect_of(commissioner, no_baseline)).lines[0].total
    assert t.cost_per_outcome.amount == PRICE and t.cost_per_outcome_undefined == ""
    assert t.uplift is None and t.uplift_method == ""
    assert t.cost_per_additional is None and t.cost_per_additional_undefined == "no_baseline"

    effect = await effect_of(commissioner, nobody_observed)
    t = effect.lines[0].total
    assert (t.enrolled, t.observed) == (10, 0)
    assert (t.rate, t.rate_low, t.rate_high, t.uplift, t.uplift_low) == (None,) * 5
    assert t.cost_per_outcome is None and t.cost_per_outcome_undefined == "no_outcomes"
    assert t.cost_per_additional is None and t.cost_per_additional_undefined == "no_uplift"
    # Whatever is shown is a finite number: no NaN or infinity reaches a reader.
    for figures in [t, *(p.figures for p in effect.lines[0].parts)]:
        for name, value in msgspec.structs.asdict(figures).items():
            assert not isinstance(value, float) or math.isfinite(value), name


async def test_breakdowns_by_age_area_cohort_and_quarter_add_up_to_the_total(db):
    commissioner, provider = await parties()
    cid = await data.contract(commissioner, provider, M,
                              line=dict(horizon_days=180, target=30))
    for enrolled_on, age, area, cohort, n, achieved, status in (
            (D(2025, 2, 10), "18-29", "Aarhus", "spring", 30, 9, "paid"),
            (D(2025, 8, 10), "30-49", "Odense", "autumn", 25, 5, "approved"),
            (D(2025, 8, 20), "18-29", None, None, 12, 2, "paid"),
            (D(2026, 4, 1), "50+", "Aarhus", "spring", 15, 6, "accepted"),
            (D(2026, 10, 1), "30-49", "Aalborg", "autumn", 10, 3, "paid")):
        await data.people(cid, n=n, achieved=achieved, enrolled_on=enrolled_on, status=status,
                          metric_code=M, age_band=age, area=area, cohort=cohort)
    effect = await effect_of(commissioner, cid)
    total = effect.lines[0].total
    assert (total.enrolled, total.observed, total.achieved) == (92, 82, 22)
    assert (total.accrued.amount, total.paid.amount) == (19 * PRICE, 14 * PRICE)
    for dimension in ("age_band", "area", "cohort", "quarter"):
        table = parts(effect, dimension)
        for name in ("enrolled", "observed", "achieved"):
            assert sum(getattr(f, name) for f in table.values()) == getattr(total, name), (
                dimension, name)
        for name in ("accrued", "paid"):
            assert sum(getattr(f, name).amount for f in table.values()) == \
                getattr(total, name).amount, (dimension, name)
        # A part's target is the contract's, not a share of it: no progress per part.
        assert all(f.progress is None for f in table.values())
    assert set(parts(effect, "quarter")) == {"2025Q1", "2025Q3", "2026Q2", "2026Q4"}
    assert set(parts(effect, "area")) == {"Aarhus", "Odense", "Aalborg", "(not given)"}
    ages = parts(effect, "age_band")
    assert (ages["18-29"].observed, ages["18-29"].achieved) == (42, 11)
    assert ages["18-29"].rate == near(11 / 42)
    # One provider: no provider breakdown.
    assert parts(effect, "provider") == {}


async def test_a_score_line_shows_the_mean_change_with_its_t_interval(db):
    commissioner, provider = await parties("pss_reduction", kind="score_change",
                                           direction="decrease")
    cid = await data.contract(commissioner, provider, "pss_reduction",
                              line=dict(threshold="5", horizon_days=180))
    standing = ["-6", "-8", "-5", "-10", "-7.5", "-12"]
    await data.people(cid, n=20, achieved=6, values=standing, enrolled_on=LONG_AGO,
                      metric_code="pss_reduction")
    # A disputed or reversed measurement is not in the mean.
    await data.people(cid, n=2, achieved=2, values=["-30", "-25"], status="disputed",
                      enrolled_on=LONG_AGO, metric_code="pss_reduction")
    await data.people(cid, n=1, achieved=1, values=["-40"], status="reversed",
                      enrolled_on=LONG_AGO, metric_code="pss_reduction")
    score = (await effect_of(commissioner, cid)).lines[0].score
    values = np.array([float(v) for v in standing])
    low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(),
                                 scale=stats.sem(values))
    assert score.n == 6
    assert score.mean == near(values.mean())
    assert (score.low, score.high) == near((low, high))
    assert score.threshold == "5"


async def test_a_partnership_shows_each_providers_part_and_a_partner_only_its_own(db):
    await data.metric(M)
    commissioner = await org("municipality")
    lead = await org("ngo", "Lead NGO")
    a, b = await org("social_enterprise", "Partner A"), await org("municipal_unit", "Partner B")
    cid = await data.contract(commissioner, lead, M, line=dict(horizon_days=180),
                              partners=[{"organisation_id": str(a)},
                                        {"organisation_id": str(b)}])
    for who, n, achieved in ((lead, 30, 10), (a, 20, 6), (b, 15, 5)):
        await data.people(cid, n=n, achieved=achieved, enrolled_on=LONG_AGO, metric_code=M,
                          organisation=who)

    effect = await effect_of(commissioner, cid)
    providers = parts(effect, "provider")
    assert {name: (f.observed, f.achieved) for name, f in providers.items()} == {
        "Lead NGO": (30, 10), "Partner A": (20, 6), "Partner B": (15, 5)}
    total = effect.lines[0].total
    assert (total.observed, total.achieved) == (65, 21)

    # The lead answers for the contract and sees every part.
    as_lead = await service.contract_effect(principal(lead, "provider"), cid, as_of=AS_OF)
    assert set(parts(as_lead, "provider")) == {"Lead NGO", "Partner A", "Partner B"}
    # A partner sees the partnership's figures and its own part, not the other partners'.
    as_a = await service.contract_effect(principal(a, "provider"), cid, as_of=AS_OF)
    assert {name: (f.observed, f.achieved) for name, f in parts(as_a, "provider").items()} \
        == {"Partner A": (20, 6)}
    assert (as_a.lines[0].total.observed, as_a.lines[0].total.achieved) == (65, 21)


# Funnel and advice on a field whose right answer is known ---------------------------------


async def test_the_funnel_and_the_advice_find_the_strong_and_the_weak_and_rank_nobody(db):
    await data.metric(M, "employment.entry")
    commissioner = await org("municipality")
    await data.field(M, {}, commissioner)
    today = now().date()
    reader = principal(commissioner, "commissioner")

    comparison = await service.comparison(reader, M, as_of=today)
    assert [u.reference for u in comparison.units] == sorted(data.FIELD)
    assert {u.reference: u.position for u in comparison.units} == {
        "R-1": "inside", "R-2": "above_95", "R-3": "inside", "R-4": "inside",
        "R-5": "below_998", "R-6": "inside", "R-7": "inside"}
    x = sum(a for _, a in data.FIELD.values())
    n = sum(o for o, _ in data.FIELD.values())
    assert comparison.pooled_rate == near(x / n)

    for subject in (M, "employment.entry"):
        advice = await service.advise(reader, subject, as_of=today)
        units = {u.reference: u for u in advice.units}
        assert [u.reference for u in advice.units] == sorted(data.FIELD), subject
        assert {r: u.band for r, u in units.items()} == {
            "R-1": "maintain", "R-2": "expand", "R-3": "maintain", "R-4": "maintain",
            "R-5": "review", "R-6": "maintain", "R-7": "insufficient_evidence"}, subject
        assert all(u.quarters == 2 for u in advice.units)
        assert {r: u.volume for r, u in units.items()} == {
            r: o for r, (o, _) in data.FIELD.items()}
        # 10 % of the reviewed contract's 200 move to the one that expands; none is lost.
        assert {r: u.volume_change for r, u in units.items() if u.volume_change} == {
            "R-2": 20, "R-5": -20}
        assert sum(u.volume_change for u in advice.units) == 0
        assert "30 observed participants" in units["R-7"].evidence
    # A smaller shift moves less, and still nothing is lost.
    advice = await service.advise(reader, M, shift_share=0.05, as_of=today)
    assert {u.reference: u.volume_change for u in advice.units if u.volume_change} == {
        "R-2": 10, "R-5": -10}


async def test_a_decision_is_kept_as_it_was_made(db):
    """A decision on advice is a record: the database refuses to change or delete it."""
    await data.metric(M, "employment.entry")
    commissioner = await org("municipality")
    field = await data.field(M, {}, commissioner)
    made = await service.decide(principal(commissioner, "commissioner"), M, AdviceDecisionIn(
        contract_id=field["R-5"].contract_id, decision="override",
        justification="The provider changed its team leader in the spring."))
    assert made.decision == "overridden" and made.band == "review"
    for sql in ("UPDATE advice_decision SET decision = 'accepted'",
                "UPDATE advice_decision SET justification = 'nothing to see'",
                "DELETE FROM advice_decision"):
        with pytest.raises(Exception, match="append-only"):
            await AdviceDecision.raw(sql)
    rows = await AdviceDecision.select()
    assert [(r["decision"], r["justification"]) for r in rows] == [
        ("overridden", "The provider changed its team leader in the spring.")]
