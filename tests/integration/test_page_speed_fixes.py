"""The pages' slow parts made fast give the same figures as before, on both engines:
a payment run's journal summed in SQL against the sum of each claim's accrual parts in
Python (the old computation, kept here as the reference), and the comparison page's
comparison and advice from one read against the two separate calls."""

from __future__ import annotations

import datetime as dt

import msgspec

from core.clock import now
from effect import service
from ledger.balances import accrual_parts
from outcomes import payments, verification
from outcomes.schemas import PaymentRunIn
from outcomes.tables import PaymentRunLine
from tests import effect_data as data
from tests.helpers import org, principal
from tests.helpers import world as build_world
from tests.web.commissioner_data import drawn

PERIOD = PaymentRunIn(period_from=dt.date(2024, 1, 1), period_to=dt.date(2024, 12, 31))


async def old_run_journal(run_id) -> tuple[int, list[tuple], int]:
    """run_journal's figures as it computed them before: every claim's accrual parts read
    into Python and summed per commissioner."""
    claims = [r["claim"] for r in await PaymentRunLine.select(PaymentRunLine.claim).where(
        PaymentRunLine.run == run_id)]
    parts = await accrual_parts(claims)
    per: dict = {}
    for claim in claims:
        for o, amount in parts.get(claim, (None, []))[1]:
            per[o] = per.get(o, 0) + amount
    return (len(claims), sorted(per.items(), key=lambda p: -p[1]),
            sum(1 for c in claims if c not in parts))


def figures(journal: payments.RunJournal) -> tuple[int, list[tuple], int]:
    return (journal.entries, [(c.organisation_id, c.amount.amount)
                              for c in journal.commissioners], journal.unaccrued)


async def test_a_runs_journal_sums_in_sql_what_each_claims_accrual_parts_sum_to(db):
    w = await build_world()  # its contracts have two commissioners, 60 % and 40 %
    cid, ids = await drawn(w, 7, sampled=False)
    maker = principal(w.ids["commissioner"], "commissioner")
    await verification.approve(maker, cid, ids, "")
    run, _ = await payments.create_run(maker, cid, PERIOD, None, "h")

    journal = await payments.run_journal(maker, run.id)
    assert figures(journal) == await old_run_journal(run.id)
    assert journal.entries == 7 and journal.unaccrued == 0 and not journal.posted
    assert [c.organisation_id for c in journal.commissioners] == [
        w.ids["commissioner"], w.ids["co_commissioner"]]
    total = sum(c.amount.amount for c in journal.commissioners)
    assert [c.amount.amount for c in journal.commissioners] == [total * 6 // 10,
                                                                total * 4 // 10]
    assert {c.amount.currency for c in journal.commissioners} == {"DKK"}

    # Approved and paid, the same figures, now posted.
    checker = msgspec.structs.replace(maker, label="test:checker")
    await payments.approve_run(checker, run.id)
    await payments.pay_run(maker, run.id)
    paid = await payments.run_journal(maker, run.id)
    assert paid.posted and figures(paid) == figures(journal)


async def test_comparison_and_advice_from_one_read_equal_the_two_calls(db):
    m = "ips_employment"
    await data.metric(m, "employment.entry")
    commissioner = await org("municipality")
    other = await org("municipality")
    deliveries = await data.field(m, {"R-2": other}, commissioner)
    today = now().date()
    readers = [principal(commissioner, "commissioner"), principal(other, "commissioner"),
               principal(deliveries["R-1"].provider_id, "provider")]
    for reader in readers:
        for subject in (m, "employment.entry"):
            for by in (None, "quarter"):
                for shift in (0.05, 0.10):
                    both = await service.comparison_and_advice(
                        reader, subject, by=by, shift_share=shift, as_of=today)
                    alone = await service.comparison(reader, subject, by=by, as_of=today)
                    assert msgspec.to_builtins(both[0]) == msgspec.to_builtins(alone)
                    if reader.role != "commissioner":
                        assert both[1] is None
                        continue
                    advice = await service.advise(reader, subject, shift_share=shift,
                                                  as_of=today)
                    assert msgspec.to_builtins(both[1]) == msgspec.to_builtins(advice)
