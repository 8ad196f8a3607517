"""The demo's citizen voice: what the participants of the IPS employment contracts said.

Each IPS contract asks WHO-5 at enrolment and again 180 days after, and Virker's relational
questions (one contact person, asked what matters, how much it helped) 90 days after
enrolment. Most answers were given on paper or in conversation and recorded by the provider
in batches (`voice.service.record_answers`, the door providers use); some arrive today
through links (`invite` and `answer`), a few of them anonymously and with comments in which
Virker masks names and phone numbers. Holbæk adds a questionnaire of its own and answers one
wave back ("you said, we did"). The Odsherred pilot has too few answers to show: its scores
are suppressed.

Answers are drawn from `random.Random(SEED)`, one stream per contract, so the demo shows the
same figures on every load and either engine. Citizen voice changes no payment: the effect
demo's money is the same with or without it.
"""

from __future__ import annotations

import datetime as dt
import random
from uuid import UUID

import msgspec

from contracts import service as contracts_service
from contracts.identity import Principal
from contracts.tables import Contract
from core.clock import now
from outcomes import intake
from outcomes.parsing import parse_rows
from outcomes.tables import Participant
from voice import service
from voice.schemas import (
    AnswerBackIn,
    AnswerIn,
    InstrumentIn,
    InvitationsIn,
    ModerationIn,
    WaveIn,
)

SEED = 77
OPENS = dt.date(2024, 1, 1)
CLOSES = dt.date(2027, 6, 30)

# reference → (share answering, WHO-5 mean change after 180 days in index points, share
# with one contact person at the start, and how much more by 2026)
SITES = {
    "INDIGO-POJ-0313": (0.7, 9.0, 0.55, 0.30),
    "INDIGO-POJ-0312": (0.6, 6.0, 0.50, 0.20),
    "NAE-IPS-2024": (0.55, 5.0, 0.60, 0.10),
    "KAL-IPS-2024": (0.5, 1.0, 0.40, 0.05),
    "ODS-IPS-2025": (0.12, 4.0, 0.50, 0.10),
}

COMMENTS = [
    ("Min kontaktperson Mette ringede altid tilbage. Det gjorde en forskel.", False),
    ("Jeg fik hjælp til at skrive en ansøgning, og nu har jeg job. Ring gerne på 22 33 44 55.",
     True),
    ("Det var svært i starten, men jeg følte mig hørt.", True),
    ("For mange skift af medarbejdere i foråret.", False),
]

HOLBAEK_INSTRUMENT = {
    "code": "holbaek-hverdag", "name": "Holbæks hverdagsspørgsmål",
    "licence": "Holbæk Kommune's own questions, free to use in Holbæk's contracts.",
    "attribution": "Holbæk Kommune, Center for Arbejdsmarked (2024).",
    "items": [
        {"code": "routine", "maximum": 4,
         "text": {"da": "Jeg har en fast rytme i min hverdag", "nb": "Jeg har en fast rytme "
                  "i hverdagen", "en": "I have a steady rhythm in my daily life"}},
        {"code": "someone", "maximum": 4,
         "text": {"da": "Jeg har nogen at tale med, når det er svært", "nb": "Jeg har noen å "
                  "snakke med når det er vanskelig", "en": "I have someone to talk to when "
                  "things are hard"}},
    ],
    "scoring": "mean", "factor": 25.0,
    "measure": {"code": "everyday", "minimum": 0, "maximum": 100,
                "name": {"da": "Hverdagen (0-100)", "nb": "Hverdagen (0-100)",
                         "en": "Everyday life (0-100)"}},
}


def _clip(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))


def _who5(rng: random.Random, centre: float) -> dict:
    return {code: _clip(rng.gauss(centre, 0.9), 0, 5)
            for code in ("cheerful", "calm", "active", "rested", "interest")}


async def _wave(boss: Principal, cid: UUID, title: str, instrument: str, timepoint: str,
                days: int | None = None) -> UUID:
    body = {"title": title, "instrument": instrument, "timepoint": timepoint,
            "opens_on": str(OPENS), "closes_on": str(CLOSES), "retention_days": 365,
            **({"days": days} if days else {})}
    return (await service.create_wave(boss, cid, msgspec.convert(body, WaveIn))).id


async def _record(provider: Principal, cid: UUID, wave_id: UUID, instrument: str,
                  rows: list[dict], key: str) -> None:
    if not rows:
        return
    struct = service.row_struct(service.library.LIBRARY[instrument])
    parsed = parse_rows(msgspec.json.encode(rows), "application/json", struct, 10_000)
    await service.record_answers(intake.Submission(
        principal=provider, contract_id=cid, kind="responses", idempotency_key=key,
        body_hash=key), wave_id, parsed)


async def load(users: dict[str, str]) -> None:
    """Waves and answers on every IPS contract. `users`: the demo user who acts for each
    commissioning organisation (by id)."""
    today = now().date()
    by_ref = {r["reference"]: r for r in await Contract.select(
        Contract.id, Contract.reference, Contract.provider)}
    for reference, (share, change, contact, gain) in SITES.items():
        contract = by_ref.get(reference)
        if contract is None:
            continue
        cid = contract["id"]
        lead = (await contracts_service.commissioner_ids(cid))[0]
        boss = Principal(organisation_id=lead, role="commissioner",
                         label=f"user:{users.get(str(lead), 'demo')}")
        provider = Principal(organisation_id=contract["provider"], role="provider",
                             label="demo")
        rng = random.Random(f"{SEED}-{reference}")  # noqa: S311 - demo data, not a secret
        people = await Participant.select(Participant.pseudonym, Participant.enrolled_on
                                          ).where(Participant.contract == cid
                                                  ).order_by(Participant.pseudonym)
        start = await _wave(boss, cid, "WHO-5 ved opstart", "who5", "enrolment")
        later = await _wave(boss, cid, "WHO-5 efter et halvt år", "who5",
                            "days_after_enrolment", 180)
        met = await _wave(boss, cid, "Blev du mødt? (efter 90 dage)", "relational",
                          "days_after_enrolment", 90)
        first, second, relational = [], [], []
        for p in people:
            enrolled = p["enrolled_on"]
            centre = rng.uniform(1.6, 2.6)
            asked = enrolled + dt.timedelta(days=rng.randint(0, 14))
            if rng.random() < share and OPENS <= asked < today:
                first.append({"pseudonym": p["pseudonym"], "mode": "paper",
                              "submitted_on": str(asked), **_who5(rng, centre)})
            asked = enrolled + dt.timedelta(days=180 + rng.randint(0, 20))
            if rng.random() < share * 0.8 and asked < today:
                second.append({"pseudonym": p["pseudonym"], "mode": "conversation",
                               "submitted_on": str(asked),
                               **_who5(rng, centre + change / 20)})
            asked = enrolled + dt.timedelta(days=90 + rng.randint(0, 20))
            if rng.random() < share and asked < today:
                years = (asked - OPENS).days / 365
                yes = rng.random() < min(0.95, contact + gain * years / 2.5)
                relational.append({
                    "pseudonym": p["pseudonym"], "mode": rng.choice(["paper", "phone"]),
                    "submitted_on": str(asked), "contact_person": int(yes),
                    "asked_what_matters": int(rng.random() < (0.8 if yes else 0.5)),
                    "helped": _clip(rng.gauss(7.8 if yes else 6.0, 1.6), 0, 10)})
        await _record(provider, cid, start, "who5", first, f"demo-voice-{reference}-1")
        await _record(provider, cid, later, "who5", second, f"demo-voice-{reference}-2")
        await _record(provider, cid, met, "relational", relational,
                      f"demo-voice-{reference}-3")
        if reference == "INDIGO-POJ-0313":
            await _holbaek(boss, provider, cid, met, people, {r["pseudonym"] for r in
                                                              relational})


async def _holbaek(boss: Principal, provider: Principal, cid: UUID, wave_id: UUID,
                   people: list[dict], answered: set[str]) -> None:
    """Links answered today, comments to moderate, an instrument of Holbæk's own and an
    answer back."""
    today = now().date()
    due = [p["pseudonym"] for p in people if p["pseudonym"] not in answered
           and p["enrolled_on"] + dt.timedelta(days=90) <= today][:len(COMMENTS) + 2]
    report = await service.invite(provider, wave_id, InvitationsIn(pseudonyms=due),
                                  "http://127.0.0.1:8000")
    links = [r.link.rsplit("/", 1)[1] for r in report.results if r.link]
    for i, token in enumerate(links[:len(COMMENTS)]):
        comment, anonymous = COMMENTS[i]
        await service.answer(token, AnswerIn(
            answers={"contact_person": int(i != 3), "asked_what_matters": 1,
                     "helped": 9 - i}, anonymous=anonymous, comment=comment))
    shown = await service.comments(boss, cid, wave_id=wave_id)
    for c in shown[:2]:
        await service.moderate(boss, c.id, ModerationIn(status="approved"))
    await service.answer_back(boss, wave_id, AnswerBackIn(
        you_said="I sagde, at det hjælper at have én fast kontaktperson, men at der var for "
                 "mange skift af medarbejdere i foråret.",
        we_did="Fra august har hver deltager én navngiven kontaktperson, og en afløser "
               "introduceres personligt ved ferie og sygdom."))
    await service.add_instrument(boss, msgspec.convert(HOLBAEK_INSTRUMENT, InstrumentIn))
