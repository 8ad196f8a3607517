"""Citizen-voice results through the services, on both engines: waves, links and answers
made through `voice.service` (a participant's own link, a provider's batch), the figures read
through `voice.figures` by each party, and nothing of it touching a claim, a payment or the
journal."""

import datetime as dt

import msgspec
import pytest

from contracts.errors import NotFound
from core.clock import now
from ledger.tables import JournalEntry, Posting
from outcomes import intake
from outcomes.parsing import parse_rows
from outcomes.tables import Claim, ContractUsage, PaymentRun
from tests.effect_data import people
from tests.helpers import active_contract, partnership, principal, world
from voice import figures, service
from voice.instruments import LIBRARY
from voice.schemas import AnswerIn, InvitationsIn, WaveIn


def today() -> dt.date:
    return now().date()


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


async def wave(commissioner, contract, instrument: str = "relational",
               timepoint: str = "enrolment", title: str = "At the start", **extra):
    body = {"title": title, "instrument": instrument, "timepoint": timepoint,
            "opens_on": str(today() - dt.timedelta(days=1)),
            "closes_on": str(today() + dt.timedelta(days=30)), **extra}
    return await service.create_wave(commissioner, contract, msgspec.convert(body, WaveIn))


async def answer_all(provider, wave_id, answers: dict[str, dict | None],
                     anonymous: tuple[str, ...] = ()):
    """One link per pseudonym, answered with its answers (None: not answered)."""
    report = await service.invite(provider, wave_id, InvitationsIn(pseudonyms=list(answers)),
                                  "https://virker.example")
    assert report.rejected == 0, report
    for row in report.results:
        given = answers[row.pseudonym]
        if given is not None:
            await service.answer(token_of(row.link), AnswerIn(
                answers=given, anonymous=row.pseudonym in anonymous))
    return report


async def on_paper(provider, contract, wave_id, rows: list[dict], key: str):
    struct = service.row_struct(LIBRARY["relational"])
    parsed = parse_rows(msgspec.json.encode(rows), "application/json", struct, 10_000)
    sub = intake.Submission(principal=provider, contract_id=contract, kind="responses",
                            idempotency_key=key, body_hash=key)
    report, _ = await service.record_answers(sub, wave_id, parsed)
    assert all(r.status == "accepted" for r in report.results), report
    return report


def measure(result, code):
    return next(m for m in result.measures if m.code == code)


async def setup():
    """Twelve participants: eight in cohort A, four in B."""
    w = await world()
    contract = await active_contract(w)
    enrolled = today() - dt.timedelta(days=100)
    await people(contract, n=8, achieved=0, enrolled_on=enrolled, metric_code="employment",
                 prefix="va", cohort="A", area="Køge")
    await people(contract, n=4, achieved=0, enrolled_on=enrolled, metric_code="employment",
                 prefix="vb", cohort="B", area="Køge")
    commissioner = principal(w.ids["commissioner"], "commissioner")
    provider = principal(w.ids["provider"], "provider")
    return w, contract, commissioner, provider


A = [f"va-{i}" for i in range(8)]
B = [f"vb-{i}" for i in range(4)]


async def test_the_parties_read_rates_scores_breakdowns_change_and_continuity(db):
    w, contract, commissioner, provider = await setup()
    start = await wave(commissioner, contract, title="At the start")
    end = await wave(commissioner, contract, timepoint="exit", title="On leaving")
    # At the start: the eight of A and three of B answer through their links (one of B
    # anonymously), helped 2, 3, ..., and most have one contact person.
    helped = dict(zip(A + B, [2, 3, 4, 5, 6, 7, 8, 9, 5, 5, 5, 5], strict=True))
    answers = {p: {"contact_person": int(i != 0), "helped": helped[p]}
               for i, p in enumerate(A + B[:3])}
    await answer_all(provider, start.id, {**answers, B[3]: None}, anonymous=(B[2],))
    # On leaving: five of A through links, and on paper one of A, one of B and an
    # anonymous answer.
    await answer_all(provider, end.id, {p: {"contact_person": 1, "helped": helped[p] + 2}
                                        for p in A[:5]})
    await on_paper(provider, contract, end.id, [
        {"pseudonym": A[5], "mode": "paper", "submitted_on": str(today()),
         "contact_person": 1, "helped": helped[A[5]] + 2},
        {"pseudonym": B[0], "mode": "conversation", "submitted_on": str(today()),
         "contact_person": 0, "helped": 1},
        {"anonymous": True, "mode": "paper", "submitted_on": str(today()),
         "contact_person": 1, "helped": 10}], "paper-1")

    for reader in (commissioner, provider, principal(w.ids["auditor"], "auditor"),
                   principal(w.ids["admin"], "admin")):
        voice = await figures.contract_voice(reader, contract, "nb")
        first, last = voice.waves
        assert (first.title, last.title) == ("At the start", "On leaving")
        assert (first.invited, first.responded, first.anonymous) == (12, 11, None)
        assert first.response_rate == pytest.approx(11 / 12, abs=1e-6)
        assert first.response_rate_low < 11 / 12 < first.response_rate_high
        assert (last.invited, last.responded) == (5, 8)
        assert last.response_rate is None  # more answered than links were given
        h = measure(first, "helped")
        values = [helped[p] for p in A + B[:3]]
        assert h.n == 11 and h.value == pytest.approx(sum(values) / 11, abs=1e-6)
        assert h.name == "Hvor mye det hjalp (0-10)"
        contact = measure(first, "contact_person")
        assert contact.n == 11 and contact.value == pytest.approx(10 / 11, abs=1e-6)
        cohorts = {g.value: g for g in first.groups if g.dimension == "cohort"}
        # B answered under a pseudonym twice (fewer than k): hidden, and so is A, since
        # responded less A would give B and the anonymous answer back.
        assert cohorts["B"].respondents is None and cohorts["B"].suppression == "small_cell"
        assert cohorts["A"].respondents is None
        # The change for the five of A who answered both through a link and one on paper.
        [change] = [c for c in voice.changes if c.measure == "helped"]
        assert (change.from_wave_id, change.to_wave_id) == (start.id, end.id)
        # Six of A answered both and gained 2 each; B's one pair counts too (5 -> 1).
        assert change.n == 7 and change.mean == pytest.approx((6 * 2 - 4) / 7, abs=1e-6)
        [point] = voice.continuity  # everything answered today
        assert point.n == 19 and point.share == pytest.approx(17 / 19, abs=1e-6)
        assert "never changes a payment" in voice.method


async def test_a_stranger_finds_no_results(db):
    w, contract, commissioner, provider = await setup()
    await wave(commissioner, contract)
    for who, role in (("other_provider", "provider"), ("other_commissioner", "commissioner"),
                      ("other_auditor", "auditor")):
        with pytest.raises(NotFound):
            await figures.contract_voice(principal(w.ids[who], role), contract)


async def test_a_partner_reads_its_own_participants_answers_only(db):
    w = await world()
    contract = await partnership(w)
    enrolled = today() - dt.timedelta(days=100)
    await people(contract, n=6, achieved=0, enrolled_on=enrolled, metric_code="employment",
                 prefix="pa", organisation=w.ids["partner_a"])
    await people(contract, n=7, achieved=0, enrolled_on=enrolled, metric_code="employment",
                 prefix="ld", organisation=w.ids["provider"])
    commissioner = principal(w.ids["commissioner"], "commissioner")
    lead = principal(w.ids["provider"], "provider")
    partner = principal(w.ids["partner_a"], "provider")
    start = await wave(commissioner, contract)
    await answer_all(partner, start.id, {f"pa-{i}": {"helped": 9} for i in range(6)})
    await answer_all(lead, start.id, {f"ld-{i}": {"helped": 1} for i in range(7)})

    own = (await figures.contract_voice(partner, contract)).waves[0]
    assert (own.invited, own.responded) == (6, 6)
    assert measure(own, "helped").value == 9.0
    everyone = (await figures.contract_voice(lead, contract)).waves[0]
    assert (everyone.invited, everyone.responded) == (13, 13)
    assert measure(everyone, "helped").value == pytest.approx((6 * 9 + 7) / 13, abs=1e-6)
    assert (await figures.contract_voice(commissioner, contract)).waves[0].responded == 13
    # The other partner has no participant of its own here: nothing, but not an error.
    other = (await figures.contract_voice(principal(w.ids["partner_b"], "provider"),
                                          contract)).waves[0]
    assert (other.invited, other.responded) == (0, 0)
    assert measure(other, "helped").value is None


async def ledger_state(contract) -> list:
    return [sorted(map(repr, await table.select().where(table.contract == contract)))
            for table in (Claim, JournalEntry, ContractUsage, PaymentRun)] + [
        sorted(map(repr, await Posting.select()))]


async def test_answers_change_no_claim_payment_or_journal_entry(db):
    w, contract, commissioner, provider = await setup()
    await people(contract, n=5, achieved=3, enrolled_on=today() - dt.timedelta(days=120),
                 metric_code="employment", prefix="vc", status="accepted")
    before = await ledger_state(contract)
    assert before[0]  # the claims are there to be left alone
    start = await wave(commissioner, contract)
    await answer_all(provider, start.id, {p: {"contact_person": 1, "helped": 10} for p in A})
    await on_paper(provider, contract, start.id, [
        {"pseudonym": p, "mode": "phone", "submitted_on": str(today()), "helped": 0}
        for p in B], "paper-2")
    await figures.contract_voice(commissioner, contract)
    await figures.effect_with_voice(commissioner, contract)
    assert await ledger_state(contract) == before
