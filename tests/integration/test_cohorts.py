"""Cohort lines on both engines, worked through the Danish stress-treatment social impact
bond: a price per participant of the cohort, paid only if 85 % of the cohort completed
treatment by the evaluation date. Completions are claimed, one by one, on an outcome line
of the same metric; the cohort line is evaluated, never claimed."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from contracts import library
from contracts import service as contracts
from contracts.errors import Conflict, Forbidden, NotFound
from contracts.schemas import MetricIn
from ledger.balances import contract_balance
from ledger.tables import JournalEntry
from ledger.verify import engine_dsn, verify
from outcomes import cohorts, intake, payments, usage
from outcomes.schemas import ClaimIn, ParticipantIn, PaymentRunIn
from outcomes.tables import Claim, ClaimEvent, CohortEvaluation
from tests.helpers import active_contract, line, principal, world

COMPLETED = "stress_programme_completed"
ENROLLED = dt.date(2024, 2, 1)
EVALUATION_ON = dt.date(2025, 1, 31)
PRICE = 600_000  # 6,000 DKK per participant of the cohort
VIRKER = str(Path(sys.executable).parent / "virker")


def cohort_line(code: str = "cohort-85", threshold_bp: int = 8500,
                evaluation_on: dt.date = EVALUATION_ON, **extra) -> dict:
    return line(code, COMPLETED, PRICE // 100, kind="cohort", cohort="2024-spring",
                evaluation_on=evaluation_on.isoformat(), cohort_threshold_bp=threshold_bp,
                **extra)


def rate_card(*cohort_lines: dict) -> list[dict]:
    completion = line("completion", COMPLETED, 4_000, window={"start_day": 0, "end_day": 730})
    return [completion, *(cohort_lines or [cohort_line()])]


async def stress_contract(w, completed: int, *, cohort: int = 40, **terms):
    """An active contract with `cohort` participants in cohort 2024-spring, `completed` of
    whom completed treatment in time, and some who do not count: enrolled after the
    evaluation date, of another cohort, or completed after the evaluation date."""
    await library.create_metric(None, msgspec.convert(dict(
        code=COMPLETED, name="Completed the stress programme", definition="…",
        kind="event", unit="participant", evidence_required="Attendance record",
        verification_source="provider_evidence"), MetricIn))
    terms.setdefault("rate_card", rate_card())
    cid = await active_contract(w, sampling_rate_bp=0, **terms)
    provider = principal(w.ids["provider"], "provider")
    people = [ParticipantIn(pseudonym=f"S-{i}", enrolled_on=ENROLLED, cohort="2024-spring")
              for i in range(1, cohort + 1)]
    people += [ParticipantIn(pseudonym="LATE-1", enrolled_on=dt.date(2025, 3, 1),
                             cohort="2024-spring"),
               ParticipantIn(pseudonym="AUT-1", enrolled_on=ENROLLED, cohort="2024-autumn")]
    await intake.submit_participants(intake.Submission(
        principal=provider, contract_id=cid, kind="participants", idempotency_key=None,
        body_hash="p"), [(i, p, []) for i, p in enumerate(people)])
    claims = [(f"done-{i}", f"S-{i}", dt.date(2024, 5, 1)) for i in range(1, completed + 1)]
    if completed < cohort:
        claims.append(("done-late", f"S-{completed + 1}", dt.date(2025, 2, 3)))
    claims += [("done-late-enrolled", "LATE-1", dt.date(2025, 4, 1)),
               ("done-autumn", "AUT-1", dt.date(2024, 5, 1))]
    report, _ = await intake.submit_claims(intake.Submission(
        principal=provider, contract_id=cid, kind="claims", idempotency_key="k",
        body_hash="c"), [(i, ClaimIn(client_ref=ref, pseudonym=who, metric_code=COMPLETED,
                                     achieved_on=on, evidence_ref="attendance"), [])
                         for i, (ref, who, on) in enumerate(claims)])
    assert report.rejected == 0, report.results
    return cid, principal(w.ids["commissioner"], "commissioner")


async def journal() -> list[str]:
    return [r["idempotency_key"] for r in await JournalEntry.select(
        JournalEntry.idempotency_key).order_by(JournalEntry.seq)]


async def cohort_claims(cid, code: str = "cohort-85") -> list[dict]:
    return await Claim.select().where((Claim.contract == cid) & (Claim.line_code == code))


async def test_a_cohort_that_reaches_85_percent_is_paid_per_participant(db):
    w = await world()
    cid, boss = await stress_contract(w, completed=35)
    before = await journal()
    out, made = await cohorts.evaluate(boss, cid, "cohort-85")
    assert made
    assert (out.n, out.achieved, out.rate_bp, out.threshold_bp, out.reached) == (
        40, 35, 8750, 8500, True)
    assert (out.claims, out.amount.amount, out.amount.currency) == (40, 40 * PRICE, "DKK")
    assert (out.cohort, out.evaluation_on, out.evaluated_by) == (
        "2024-spring", EVALUATION_ON, boss.label)

    claims = await cohort_claims(cid)
    assert len(claims) == 40
    assert {c["status"] for c in claims} == {"approved"}
    assert {c["amount"] for c in claims} == {PRICE}
    assert {c["achieved_on"] for c in claims} == {EVALUATION_ON}
    assert all(str(out.id) in c["evidence_ref"] and str(out.id) in c["client_ref"]
               for c in claims)
    events = await ClaimEvent.select().where(ClaimEvent.claim.is_in([c["id"] for c in claims]))
    assert {(e["from_status"], e["to_status"]) for e in events} == {("accepted", "approved")}
    assert all(f"cohort evaluation {out.id}" in e["reason"] and "35 of 40" in e["reason"]
               for e in events)

    # Exactly n × price accrued, one accrual per claim, nothing else posted.
    b = await contract_balance(cid, "DKK", dt.date.today())
    assert (b.accrued, b.payable, b.paid) == (40 * PRICE, 40 * PRICE, 0)
    after = await journal()
    assert after[:len(before)] == before
    assert sorted(after[len(before):]) == sorted(f"accrue:{c['id']}" for c in claims)
    kept, recomputed = await usage.load(cid), await usage.recompute(cid)
    assert kept.contract_amount == recomputed.contract_amount
    assert dict(kept.line_count) == dict(recomputed.line_count)
    assert (await verify(engine_dsn())).ok


async def test_evaluating_again_returns_the_same_evaluation_and_changes_nothing(db):
    w = await world()
    cid, boss = await stress_contract(w, completed=35)
    first, _ = await cohorts.evaluate(boss, cid, "cohort-85")
    entries, claims = await journal(), await Claim.count()
    again, made = await cohorts.evaluate(boss, cid, "cohort-85")
    assert not made and again == first
    assert await journal() == entries and await Claim.count() == claims
    assert await cohorts.list_evaluations(boss, cid) == [first]
    assert (await verify(engine_dsn())).ok


async def test_a_cohort_that_misses_records_why_and_pays_nothing(db):
    w = await world()
    cid, boss = await stress_contract(w, completed=33)
    before = await journal()
    out, made = await cohorts.evaluate(boss, cid, "cohort-85")
    assert made
    assert (out.n, out.achieved, out.rate_bp, out.reached) == (40, 33, 8250, False)
    assert (out.claims, out.amount.amount) == (0, 0)
    assert await cohort_claims(cid) == []
    assert await journal() == before
    assert (await contract_balance(cid, "DKK", dt.date.today())).accrued == 0
    # Completions claimed since change nothing: the evaluation is what it was.
    again, made = await cohorts.evaluate(boss, cid, "cohort-85")
    assert not made and again == out


async def test_an_empty_cohort_reaches_nothing(db):
    w = await world()
    cid, boss = await stress_contract(w, completed=0, cohort=0)
    out, _ = await cohorts.evaluate(boss, cid, "cohort-85")
    assert (out.n, out.achieved, out.rate_bp, out.reached, out.claims) == (0, 0, 0, False, 0)


async def test_a_cohort_payment_is_not_another_cohort_lines_achievement(db):
    """85 % pays one line; a second line of the same cohort pays at 95 %. The claims the
    first evaluation created carry the metric, but they are payments: the second still
    sees 35 of 40."""
    w = await world()
    cid, boss = await stress_contract(w, completed=35, rate_card=rate_card(
        cohort_line(), cohort_line("cohort-95", threshold_bp=9500)))
    assert (await cohorts.evaluate(boss, cid, "cohort-85"))[0].reached
    second, _ = await cohorts.evaluate(boss, cid, "cohort-95")
    assert (second.achieved, second.reached, second.claims) == (35, False, 0)
    assert [e.line_code for e in await cohorts.list_evaluations(boss, cid)] == [
        "cohort-85", "cohort-95"]


async def test_a_cohort_is_paid_whole_or_not_at_all_within_the_caps(db):
    """As an approval: a cap that paying every participant would pass refuses the whole
    evaluation with 409 cap_reached, and nothing is recorded. Claims accepted and not yet
    approved keep their room under the cap, as at intake: the 36 completions (144,000 DKK)
    and the cohort's 240,000 DKK do not fit under 350,000 DKK."""
    w = await world()
    cid, boss = await stress_contract(w, completed=35, cap={"amount": 35_000_000,
                                                            "currency": "DKK"},
                                      per_participant_cap=None)
    before = await journal()
    with pytest.raises(Conflict) as refused:
        await cohorts.evaluate(boss, cid, "cohort-85")
    assert refused.value.code == "cap_reached"
    assert [(p.code, p.field) for p in refused.value.problems] == [("cap_reached",
                                                                     "line_code")]
    assert await CohortEvaluation.count() == 0 and await cohort_claims(cid) == []
    assert await journal() == before


async def test_the_lines_maximum_and_each_participants_cap_hold(db):
    w = await world()
    cid, boss = await stress_contract(w, completed=35,
                                      rate_card=rate_card(cohort_line(max_count=39)),
                                      per_participant_cap={"amount": 900_000,
                                                           "currency": "DKK"})
    with pytest.raises(Conflict) as refused:
        await cohorts.evaluate(boss, cid, "cohort-85")
    assert refused.value.code == "cap_reached"
    # 4,000 DKK for completing and 6,000 for the cohort: 10,000 > 9,000 per participant.
    assert sorted((p.code, p.field) for p in refused.value.problems) == [
        ("line_cap_reached", "line_code"), ("participant_cap_reached", "cohort")]
    assert await CohortEvaluation.count() == 0 and await cohort_claims(cid) == []


async def test_a_cohort_is_not_evaluated_before_its_date(db):
    w = await world()
    cid, boss = await stress_contract(w, completed=35, rate_card=rate_card(
        cohort_line(evaluation_on=dt.date(2030, 1, 31))))
    with pytest.raises(Conflict) as refused:
        await cohorts.evaluate(boss, cid, "cohort-85")
    assert refused.value.code == "cohort_not_due"
    assert "2030-01-31" in refused.value.message
    assert await CohortEvaluation.count() == 0


async def test_only_the_commissioner_evaluates_a_cohort_line_of_an_active_contract(db):
    w = await world()
    cid, boss = await stress_contract(w, completed=35)
    with pytest.raises(Forbidden) as refused:
        await cohorts.evaluate(principal(w.ids["provider"], "provider"), cid, "cohort-85")
    assert refused.value.code == "commissioner_only"
    with pytest.raises(NotFound) as missing:
        await cohorts.evaluate(principal(w.ids["other_commissioner"], "commissioner"), cid,
                               "cohort-85")
    assert missing.value.code == "contract_not_found"
    with pytest.raises(NotFound) as missing:
        await cohorts.evaluate(boss, cid, "cohort-90")
    assert missing.value.code == "line_not_found"
    with pytest.raises(Conflict) as refused:
        await cohorts.evaluate(boss, cid, "completion")
    assert refused.value.code == "not_a_cohort_line"
    await contracts.transition(boss, cid, "suspend", "provider under review")
    with pytest.raises(Conflict) as refused:
        await cohorts.evaluate(boss, cid, "cohort-85")
    assert refused.value.code == "contract_not_active"
    await contracts.transition(boss, cid, "resume", "review closed")
    assert (await cohorts.evaluate(boss, cid, "cohort-85"))[0].reached
    # Every party reads the evaluations; the provider may not make one.
    for who in ("commissioner", "co_commissioner", "provider", "auditor"):
        role = "commissioner" if who == "co_commissioner" else who
        assert len(await cohorts.list_evaluations(principal(w.ids[who], role), cid)) == 1
    with pytest.raises(NotFound):
        await cohorts.list_evaluations(principal(w.ids["other_provider"], "provider"), cid)
    assert await CohortEvaluation.count() == 1


async def test_cohort_claims_are_paid_stated_and_clawed_back_like_any_other(db):
    from reports.assembly import assemble

    w = await world()
    cid, boss = await stress_contract(w, completed=35)
    await cohorts.evaluate(boss, cid, "cohort-85")
    run, _ = await payments.create_run(boss, cid, PaymentRunIn(
        period_from=EVALUATION_ON, period_to=EVALUATION_ON), None, "h")
    assert (run.claims, run.total.amount) == (40, 40 * PRICE)
    await payments.approve_run(msgspec.structs.replace(boss, label="test:checker"), run.id)
    await payments.pay_run(boss, run.id)
    one = (await cohort_claims(cid))[0]
    await payments.clawback(boss, one["id"], "the participant was counted in two cohorts")
    b = await contract_balance(cid, "DKK", dt.date.today())
    assert (b.accrued, b.paid, b.clawed_back, b.receivable) == (
        40 * PRICE, 40 * PRICE, PRICE, PRICE)
    statement = await assemble(cid, dt.date(2024, 1, 1), dt.date.today(), attachments=False)
    row = next(r for r in statement.rows if r.metric_code == COMPLETED)
    assert (row.approved_amount, row.paid_amount, row.reversed_amount) == (
        40 * PRICE, 40 * PRICE, PRICE)
    assert all(a == b for _, a, b in statement.checks), statement.checks
    assert (await verify(engine_dsn())).ok


async def test_the_command_line_evaluates_for_the_first_commissioner(db):
    w = await world()
    cid, _ = await stress_contract(w, completed=35)
    env = {**os.environ, "VIRKER_DATABASE_URL": db.url}
    out = subprocess.run([VIRKER, "evaluate-cohort", str(cid), "cohort-85"], env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    evaluation = msgspec.json.decode(out.stdout, type=cohorts.CohortEvaluationOut)
    assert (evaluation.reached, evaluation.claims, evaluation.evaluated_by) == (
        True, 40, "cli")
    assert "35 of 40 (87.50 %), reached" in out.stderr
    again = subprocess.run([VIRKER, "evaluate-cohort", str(cid), "cohort-85"], env=env,
                           capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0 and "nothing changed" in again.stderr
    assert msgspec.json.decode(again.stdout, type=cohorts.CohortEvaluationOut) == evaluation
    refused = subprocess.run([VIRKER, "evaluate-cohort", str(cid), "completion"], env=env,
                             capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode != 0 and "[not_a_cohort_line]" in refused.stderr
