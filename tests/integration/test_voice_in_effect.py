"""Citizen voice beside the effect figures, the allocation advice and in the effect report,
on both engines: the effect and the advice stay exactly what they were, and the report
prints the figures GET /contracts/{id}/voice gives."""

import datetime as dt
import json
import re

import msgspec
import pytest

from effect import service as effects
from reports.effect import (
    VOICE_LANGUAGE,
    change,
    contract_report,
    decimal,
    percent,
    portfolio_report,
    report_pdf,
)
from tests.effect_data import field, people
from tests.helpers import principal, world
from tests.integration.test_effect_documents import (
    attachments_of,
    effect_contract,
    text_of,
    written,
)
from tests.integration.test_voice_results import answer_all, wave
from voice import figures
from voice.instruments import LIBRARY

WHO5 = {"cheerful": 3, "calm": 3, "active": 4, "rested": 2, "interest": 4}  # index 64


async def heard_contract(w):
    """The effect report's contract (R-1 to R-12, age bands 18-24 up to R-8 and 25-29 after,
    areas alternating) with three waves: the relational questions at the start (R-1 to
    R-10 answer) and on leaving (R-1 to R-6), and WHO-5 at the start (R-1 to R-6)."""
    cid = await effect_contract(w)
    boss = principal(w.ids["commissioner"], "commissioner")
    provider = principal(w.ids["provider"], "provider")
    start = await wave(boss, cid, title="At the start")
    end = await wave(boss, cid, timepoint="exit", title="On leaving")
    well = await wave(boss, cid, instrument="who5", title="Well-being")
    await answer_all(provider, start.id, {
        f"R-{i}": {"contact_person": int(i > 2), "helped": i % 6 + 3} if i <= 10 else None
        for i in range(1, 13)})
    await answer_all(provider, end.id, {
        f"R-{i}": {"contact_person": 1, "helped": i % 6 + 5} for i in range(1, 7)})
    await answer_all(provider, well.id, {f"R-{i}": WHO5 for i in range(1, 7)})
    return cid


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


async def test_the_effect_figures_stay_and_the_voice_is_beside_them(db):
    w = await world()
    cid = await effect_contract(w)
    reader = principal(w.ids["commissioner"], "commissioner")
    plain = await effects.contract_effect(reader, cid)
    without = await figures.effect_with_voice(reader, cid)
    # No survey wave yet: no voice, and the JSON is exactly the effect's.
    assert without.voice is None
    assert msgspec.to_builtins(without) == msgspec.to_builtins(plain)
    boss = principal(w.ids["commissioner"], "commissioner")
    start = await wave(boss, cid)
    await answer_all(principal(w.ids["provider"], "provider"), start.id,
                     {f"R-{i}": {"helped": 7} for i in range(1, 7)})
    both = await figures.effect_with_voice(reader, cid, language="da")
    data = msgspec.to_builtins(both)
    voice = data.pop("voice")
    assert data == msgspec.to_builtins(plain)
    assert voice == msgspec.to_builtins(await figures.contract_voice(reader, cid, "da"))
    assert voice["waves"][0]["responded"] == 6


async def test_the_report_prints_the_citizen_voice_the_api_gives(db):
    w = await world()
    cid = await heard_contract(w)
    reader = principal(w.ids["commissioner"], "commissioner")
    report = await contract_report(reader, cid)
    assert report.lang == "da"
    pdf = report_pdf(report)
    files = attachments_of(pdf)
    assert set(files) == {"effect.json", "forecast.json", "figures.csv", "voice.json"}
    voice = await figures.contract_voice(reader, cid, VOICE_LANGUAGE)
    assert json.loads(files["voice.json"]) == msgspec.to_builtins(voice)
    assert json.loads(files["effect.json"]) == msgspec.to_builtins(
        await figures.effect_with_voice(reader, cid))

    text = flat(text_of(pdf))
    body = text[text.index("Citizen voice"):]
    assert voice.never_a_payment in body
    titled = {x.title: x for x in voice.waves}
    start, end, well = (titled[t] for t in ("At the start", "On leaving", "Well-being"))
    # Waves by opening day, then timepoint: the two at enrolment before the exit.
    assert voice.waves[2] is end
    # The waves with their response rates.
    assert (start.invited, start.responded) == (12, 10)
    assert re.search(rf"At the start Virker relational questions at enrolment .*? 12 10 0 "
                     rf"{written(percent(start.response_rate, 'da'))}", body)
    # The measures with their intervals (in Danish numbers: the contract pays in DKK).
    helped = next(m for m in start.measures if m.code == "helped")
    assert helped.n == 10 and not helped.suppressed
    assert re.search(rf"How much it helped \(0-10\) 10 {written(decimal(helped.value, 'da'))} "
                     rf"{written(decimal(helped.low, 'da'))} to "
                     rf"{written(decimal(helped.high, 'da'))}", body)
    index = next(m for m in well.measures if m.code == "index")
    assert index.value == 64.0 and written(decimal(64.0, "da")) in body
    # The age band 25-29 answered twice: hidden, and 18-24 with it (the total would give
    # it back); the areas hold five each and are shown.
    ages = {g.value: g for g in start.groups if g.dimension == "age_band"}
    assert ages["25-29"].respondents is None and ages["18-24"].respondents is None
    assert "25-29 fewer than 5" in body
    assert "18-24 suppressed (protects a cell of fewer than 5)" in body
    areas = {g.value: g for g in start.groups if g.dimension == "area"}
    assert areas["Køge"].respondents == 5 and areas["Roskilde"].respondents == 5
    # The change between the timepoints, for the six who answered both.
    [moved] = [c for c in voice.changes if c.measure == "helped"]
    assert moved.n == 6 and moved.mean == pytest.approx(2.0)
    assert f"At the start On leaving How much it helped (0-10) 6 {change(2.0, 'da')}" in body
    # Continuity: 8 of 10 at the start and 6 of 6 on leaving have one contact person.
    [point] = voice.continuity
    assert point.n == 16 and point.share == pytest.approx(14 / 16)
    assert f"{point.quarter} 16 {written(percent(point.share, 'da'))}".replace("\\", "") \
        in body
    # The instruments' attributions and the method.
    assert LIBRARY["who5"].attribution in body
    assert voice.method[:100] in body


async def test_the_api_gives_the_same_voice_in_the_effect_and_in_the_report(api, world):
    w = world
    cid = await heard_contract(w)
    for role in ("commissioner", "provider", "auditor"):
        headers = w.headers(role)
        voice = (await api.get(f"/api/v1/contracts/{cid}/voice", headers=headers)).json()
        effect = (await api.get(f"/api/v1/contracts/{cid}/effect", headers=headers)).json()
        assert effect.pop("voice") == voice, role
        r = await api.get(f"/api/v1/contracts/{cid}/effect.pdf", headers=headers)
        assert r.status_code == 200, r.text
        assert json.loads(attachments_of(r.content)["voice.json"]) == voice, role
        danish = (await api.get(f"/api/v1/contracts/{cid}/effect?lang=da",
                                headers=headers)).json()
        assert danish["voice"]["waves"][0]["measures"][2]["name"] == \
            "Hvor meget det hjalp (0-10)"
        assert {k: v for k, v in danish.items() if k != "voice"} == effect


async def test_the_advice_gets_voice_as_context_and_keeps_its_bands(db):
    w = await world()
    boss = principal(w.ids["commissioner"], "commissioner")
    other = principal(w.ids["other_commissioner"], "commissioner")
    deliveries = await field("employment", {"R-2": w.ids["other_commissioner"],
                                            "R-4": w.ids["other_commissioner"]},
                             w.ids["commissioner"])
    enrolled = dt.date.today() - dt.timedelta(days=100)

    async def heard(reference, who, answers):
        d = deliveries[reference]
        await people(d.contract_id, n=len(answers), achieved=0, enrolled_on=enrolled,
                     metric_code="employment", prefix=f"v{reference}",
                     organisation=d.provider_id)
        created = await wave(who, d.contract_id)
        await answer_all(principal(d.provider_id, "provider"), created.id,
                         {f"v{reference}-{i}": a for i, a in enumerate(answers)})

    # Ours: eight answers. Another's: six, two of whom have no contact person; another's
    # again: three. Ours again: three.
    await heard("R-1", boss, [{"contact_person": 1, "helped": 8}] * 6
                + [{"contact_person": 0, "helped": 2}] * 2)
    await heard("R-2", other, [{"contact_person": 1, "helped": 6}] * 4
                + [{"contact_person": 0, "helped": 4}] * 2)
    await heard("R-4", other, [{"contact_person": 1, "helped": 9}] * 3)
    await heard("R-3", boss, [{"contact_person": 1, "helped": 9}] * 3)

    plain = await effects.advise(boss, "employment", shift_share=0.07)
    advised = await figures.advise_with_voice(boss, "employment", shift_share=0.07)
    data = msgspec.to_builtins(advised)
    context = {c["reference"]: c for c in data.pop("voice")}
    assert data.pop("voice_note")
    # Bands, evidence, volumes and the shift: exactly the advice's.
    assert data == msgspec.to_builtins(plain)
    assert [u.band for u in advised.units] == [u.band for u in plain.units]
    assert {u.band for u in plain.units} >= {"expand", "review"}
    assert list(context) == [u.reference for u in plain.units]

    ours = context["R-1"]
    assert ours["own"] and ours["respondents"] == 8
    assert ours["contact_person"]["value"] == 0.75 and ours["contact_person"]["n"] == 8
    assert ours["contact_person"]["low"] < 0.75 < ours["contact_person"]["high"]
    assert ours["helped"]["value"] == pytest.approx(6.5)
    # Another's contract, as in the comparison: the two without a contact person are
    # fewer than k, so the share is hidden; the mean of six is shown.
    theirs = context["R-2"]
    assert not theirs["own"] and theirs["respondents"] == 6
    assert theirs["contact_person"]["suppressed"] and theirs["contact_person"]["value"] is None
    assert theirs["helped"]["value"] == pytest.approx(16 / 3, abs=1e-6)
    # Three answers: their scores are hidden for everyone, their count from strangers.
    small = context["R-4"]
    assert small["respondents"] is None and small["helped"]["value"] is None
    mine_small = context["R-3"]
    assert mine_small["respondents"] == 3 and mine_small["helped"]["suppressed"]
    assert mine_small["helped"]["value"] is None
    # No answers at all: nothing to show, nothing hidden.
    assert context["R-5"]["respondents"] == 0 and context["R-5"]["helped"]["n"] == 0


async def test_a_portfolio_report_has_each_heard_contracts_voice(db):
    w = await world()
    cid = await heard_contract(w)
    boss = principal(w.ids["commissioner"], "commissioner")
    report = await portfolio_report(boss, w.ids["commissioner"])
    pdf = report_pdf(report)
    files = attachments_of(pdf)
    voice = await figures.contract_voice(boss, cid, VOICE_LANGUAGE)
    # One contract with survey waves among the portfolio's: its voice, as GET /voice.
    assert json.loads(files["voice.json"]) == [msgspec.to_builtins(voice)]
    effects_json = json.loads(files["effect.json"])
    heard = [e for e in effects_json if "voice" in e]
    assert [e["contract_id"] for e in heard] == [str(cid)]
    text = flat(text_of(pdf))
    assert text.count("Citizen voice informs decisions; it never triggers") == 1
    assert "Change between timepoints" in text
