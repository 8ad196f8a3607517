"""Citizen voice through the services, on both engines: waves, single-use links, anonymous
answers that cannot be tied to anyone, batches recorded by a provider, deletion on request,
and retention of free text."""

import datetime as dt

import msgspec
import pytest

from contracts.errors import Forbidden, Gone, Invalid, NotFound
from core.clock import now
from outcomes import intake
from tests.effect_data import people
from tests.helpers import active_contract, principal, world
from voice import service, tokens
from voice.schemas import AnswerIn, DeletionIn, InvitationsIn, WaveIn
from voice.tables import Invitation, Response, VoiceDeletion


def today() -> dt.date:
    return now().date()


async def setup(instrument: str = "who5", **wave):
    w = await world()
    contract = await active_contract(w)
    ids = await people(contract, n=6, achieved=0, enrolled_on=today() - dt.timedelta(days=100),
                       metric_code="employment", prefix="vp")
    commissioner = principal(w.ids["commissioner"], "commissioner")
    provider = principal(w.ids["provider"], "provider")
    body = {"title": "Six months in", "instrument": instrument, "timepoint": "enrolment",
            "opens_on": str(today() - dt.timedelta(days=1)),
            "closes_on": str(today() + dt.timedelta(days=30)), **wave}
    created = await service.create_wave(commissioner, contract, msgspec.convert(body, WaveIn))
    return w, contract, ids, commissioner, provider, created


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


WHO5 = {"cheerful": 3, "calm": 2, "active": 4, "rested": 1, "interest": 5}


async def test_a_link_takes_one_answer_under_the_pseudonym(db):
    w, contract, ids, commissioner, provider, wave = await setup()
    report = await service.invite(provider, wave.id, InvitationsIn(pseudonyms=["vp-0", "vp-1"]),
                                  "https://virker.example")
    assert report.created == 2
    token = token_of(report.results[0].link)
    assert tokens.looks_like_token(token)
    # Virker keeps the hash, never the token, and no participant id in the clear.
    stored = await Invitation.select().where(Invitation.wave == wave.id)
    assert all(token not in str(r) for r in stored)
    assert all(str(ids[0]) not in str(r) and ids[0].hex not in str(r) for r in stored)

    page = await service.questionnaire(token, "da")
    assert page.instrument.code == "who5"
    receipt = await service.answer(token, AnswerIn(answers=WHO5))
    assert not receipt.anonymous
    row = await Response.select().where(Response.wave == wave.id).first()
    assert row["participant"] == ids[0]
    assert msgspec.json.decode(row["scores"]) == {"index": 60.0, "poor_wellbeing": 0.0}

    with pytest.raises(Gone) as used:
        await service.answer(token, AnswerIn(answers=WHO5))
    assert used.value.code == "invitation_used"
    with pytest.raises(Gone):
        await service.questionnaire(token, "da")
    assert await Response.count().where(Response.wave == wave.id) == 1
    listed = await service.waves(commissioner, contract)
    assert [(x.invitations, x.responses, x.status) for x in listed] == [(2, 1, "open")]
    assert (await service.get_wave(provider, wave.id)).responses == 1


async def test_anonymous_answers_carry_nothing_that_leads_to_the_participant(db):
    w, contract, ids, commissioner, provider, wave = await setup()
    report = await service.invite(provider, wave.id, InvitationsIn(pseudonyms=["vp-2"]),
                                  "https://virker.example")
    token = token_of(report.results[0].link)
    await service.answer(token, AnswerIn(answers=WHO5, anonymous=True))
    response = await Response.select().where(Response.wave == wave.id).first()
    invitation = await Invitation.select().where(Invitation.wave == wave.id).first()
    assert response["participant"] is None
    # Nothing in either row names the participant, and the answer's id is not time-ordered.
    for row in (response, invitation):
        text = str(row)
        assert str(ids[2]) not in text and ids[2].hex not in text and "vp-2" not in text
    assert response["id"].version == 4 and invitation["id"].version == 4
    assert isinstance(response["submitted_on"], dt.date)
    assert not isinstance(response["submitted_on"], dt.datetime)


async def test_expired_unknown_and_malformed_links_open_nothing(db):
    w, contract, ids, commissioner, provider, wave = await setup(link_days=1)
    report = await service.invite(provider, wave.id, InvitationsIn(pseudonyms=["vp-3"]),
                                  "https://virker.example")
    token = token_of(report.results[0].link)
    await Invitation.update({Invitation.expires_on: today() - dt.timedelta(days=1)}).where(
        Invitation.wave == wave.id)
    with pytest.raises(Gone) as expired:
        await service.answer(token, AnswerIn(answers=WHO5))
    assert expired.value.code == "invitation_expired"
    for guess in (tokens.new_token(), token[:-1] + ("A" if token[-1] != "A" else "B"),
                  "x" * 43, "short", "../../etc/passwd"):
        with pytest.raises(NotFound):
            await service.questionnaire(guess, "en")


async def test_who_may_do_what_and_what_a_wave_refuses(db):
    w, contract, ids, commissioner, provider, wave = await setup()
    with pytest.raises(Forbidden):
        await service.invite(commissioner, wave.id, InvitationsIn(pseudonyms=["vp-0"]), "")
    other = principal(w.ids["other_provider"], "provider")
    with pytest.raises(NotFound):
        await service.invite(other, wave.id, InvitationsIn(pseudonyms=["vp-0"]), "")
    report = await service.invite(provider, wave.id, InvitationsIn(
        pseudonyms=["vp-0", "vp-0", "nobody", "010190-1234"]), "https://v.example")
    assert [r.status for r in report.results] == ["created", "rejected", "rejected",
                                                  "rejected"]
    assert [r.errors[0].code for r in report.results[1:]] == [
        "duplicate_pseudonym", "participant_not_found", "personal_identifier"]
    assert "010190" not in msgspec.json.encode(report).decode()
    with pytest.raises(Invalid):
        await service.create_wave(commissioner, contract, msgspec.convert(dict(
            title="x", instrument="who5", timepoint="days_after_enrolment",
            opens_on=str(today()), closes_on=str(today())), WaveIn))
    with pytest.raises(NotFound):
        await service.create_wave(commissioner, contract, msgspec.convert(dict(
            title="x", instrument="wemwbs", timepoint="exit",
            opens_on=str(today()), closes_on=str(today())), WaveIn))


async def test_a_wave_days_after_enrolment_waits_for_each_participant(db):
    w, contract, ids, commissioner, provider, wave = await setup(
        timepoint="days_after_enrolment", days=180)
    report = await service.invite(provider, wave.id, InvitationsIn(pseudonyms=["vp-0"]), "")
    assert report.results[0].errors[0].code == "not_yet_due"


async def test_out_of_range_answers_are_refused_and_the_link_stays_usable(db):
    w, contract, ids, commissioner, provider, wave = await setup()
    report = await service.invite(provider, wave.id, InvitationsIn(pseudonyms=["vp-4"]), "")
    token = token_of(report.results[0].link)
    with pytest.raises(Invalid) as bad:
        await service.answer(token, AnswerIn(answers={**WHO5, "calm": 6}))
    assert bad.value.code == "answer_out_of_range"
    with pytest.raises(Invalid):
        await service.answer(token, AnswerIn(answers={"unknown": 1}))
    await service.answer(token, AnswerIn(answers=WHO5))


async def test_a_provider_records_paper_answers_in_a_batch(db):
    w, contract, ids, commissioner, provider, wave = await setup()
    struct = service.row_struct(service.library.WHO5)
    d = str(today())
    body = msgspec.json.encode([
        {"pseudonym": "vp-0", "mode": "paper", "submitted_on": d, **WHO5},
        {"anonymous": True, "mode": "conversation", "submitted_on": d, **WHO5,
         "comment": "Min kontakt ringer på 12 34 56 78"},
        {"pseudonym": "vp-0", "mode": "paper", "submitted_on": d, **WHO5},
        {"pseudonym": "vp-1", "mode": "paper", "submitted_on": d, "cheerful": 9},
    ])
    from outcomes.parsing import parse_rows
    rows = parse_rows(body, "application/json", struct, 10_000)
    sub = intake.Submission(principal=provider, contract_id=contract, kind="responses",
                            idempotency_key="paper-1", body_hash="h1")
    report, replayed = await service.record_answers(sub, wave.id, rows)
    assert [r.status for r in report.results] == ["accepted", "accepted", "rejected",
                                                  "rejected"]
    assert report.results[1].id is None and report.results[1].ref is None
    assert report.results[2].errors[0].code == "already_answered"
    assert report.results[3].errors[0].code == "answer_out_of_range"
    again, replayed = await service.record_answers(sub, wave.id, rows)
    assert replayed and again.batch_id == report.batch_id
    assert await Response.count().where(Response.wave == wave.id) == 2
    comment = (await service.comments(commissioner, contract))[0]
    assert "12 34 56 78" not in comment.comment and comment.status == "pending"


async def test_answers_are_deleted_on_request_and_the_deletion_recorded(db):
    w, contract, ids, commissioner, provider, wave = await setup()
    report = await service.invite(provider, wave.id, InvitationsIn(pseudonyms=["vp-5"]), "")
    await service.answer(token_of(report.results[0].link), AnswerIn(answers=WHO5,
                         comment="Det hjalp"))
    out = await service.delete_answers(provider, contract, DeletionIn(pseudonym="vp-5"))
    assert out.responses == 1
    assert await Response.count().where(Response.participant == ids[5]) == 0
    record = await VoiceDeletion.select().first()
    assert record["pseudonym"] == "vp-5" and record["responses"] == 1
    assert "hjalp" not in str(record) and "cheerful" not in str(record)
    with pytest.raises(Exception, match="append-only"):
        await VoiceDeletion.delete(force=True)
    with pytest.raises(NotFound):
        await service.delete_answers(provider, contract, DeletionIn(pseudonym="nobody"))


async def test_free_text_is_deleted_when_the_retention_period_ends(db):
    w, contract, ids, commissioner, provider, wave = await setup(retention_days=10)
    report = await service.invite(provider, wave.id, InvitationsIn(pseudonyms=["vp-1"]), "")
    await service.answer(token_of(report.results[0].link), AnswerIn(answers=WHO5,
                         comment="Godt forløb"))
    assert await service.apply_retention(today()) == 0
    assert len(await service.comments(commissioner, contract)) == 1
    later = wave.closes_on + dt.timedelta(days=10)
    assert await service.apply_retention(later) == 1
    row = await Response.select().where(Response.wave == wave.id).first()
    assert row["comment"] is None and row["comment_status"] == "removed"
    assert msgspec.json.decode(row["scores"])["index"] == 60.0
    assert await service.apply_retention(later) == 0
