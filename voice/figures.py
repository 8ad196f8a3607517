"""Citizen-voice results as the contract's parties read them, in the effect figures and
beside the allocation advice.

The answers of a contract are read in one query (with their participant's cohort, age band
and area) and every figure is computed by `voice.results`. Access is the effect figures':
the contract's parties see its results (NotFound for anyone else); a partner of a
partnership sees the results of its own participants only, computed the same way (the
answers they gave under their pseudonym and those the partner recorded itself, against the
links it gave). Scores about fewer than k respondents are suppressed for every reader.

Citizen voice informs decisions; nothing here reads or writes a claim, a payment or the
journal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from uuid import UUID

import msgspec
import pandas as pd
from piccolo.query.functions.aggregate import Count

from contracts import service as contracts
from contracts.identity import Principal
from core.settings import get_settings
from effect import service as effect
from effect import suppression
from effect.schemas import ContractEffect
from voice import results
from voice.instruments import LIBRARY, Instrument
from voice.schemas import (
    AdviceWithVoice,
    ContractEffectWithVoice,
    VoiceContext,
    VoiceFigure,
    VoiceResults,
)
from voice.tables import Instrument as InstrumentRow
from voice.tables import Invitation, Response, SurveyWave


def _k() -> int:
    return get_settings().small_cell_k


async def _instruments(waves: Sequence[dict]) -> dict[tuple[str, UUID | None], Instrument]:
    """The instrument of each wave: Virker's own, or one its commissioner added."""
    out: dict[tuple[str, UUID | None], Instrument] = {}
    added = {(w["instrument_code"], w["instrument_owner"]) for w in waves
             if w["instrument_owner"] is not None}
    for code in {w["instrument_code"] for w in waves if w["instrument_owner"] is None}:
        if code in LIBRARY:
            out[(code, None)] = LIBRARY[code]
    if added:
        rows = await InstrumentRow.select(
            InstrumentRow.organisation, InstrumentRow.code, InstrumentRow.definition).where(
            InstrumentRow.organisation.is_in(list({o for _, o in added})))
        for r in rows:
            key = (r["code"], r["organisation"])
            if key in added:
                out[key] = msgspec.json.decode(r["definition"], type=Instrument)
    return out


async def _invited(wave_ids: Sequence[UUID], scope: UUID | None) -> dict[str, int]:
    if not wave_ids:
        return {}
    where = Invitation.wave.is_in(list(wave_ids))
    if scope is not None:
        where &= Invitation.issued_by == scope
    rows = await Invitation.select(
        Invitation.wave, Count(Invitation.id, alias="n")).where(where).group_by(
        Invitation.wave)
    return {str(r["wave"]): int(r["n"]) for r in rows}


def _scope_condition(contract: dict, scope: UUID | None):
    """Which answers a partner sees: its own participants' and those it recorded itself."""
    if scope is None:
        return None
    # (The lead provider sees every answer: `provider_scope` gives it no scope.)
    own = Response.participant.organisation == scope
    return own | (Response.participant.is_null() & (Response.recorded_by == scope))


async def answers(contract: dict, scope: UUID | None) -> pd.DataFrame:
    """Every answer of the contract (in `scope`), one query: see `results.answers_frame`."""
    where = Response.contract == contract["id"]
    condition = _scope_condition(contract, scope)
    if condition is not None:
        where &= condition
    rows = await Response.select(
        Response.wave, Response.participant, Response.submitted_on, Response.scores,
        Response.participant.cohort.as_alias("cohort"),
        Response.participant.age_band.as_alias("age_band"),
        Response.participant.area.as_alias("area")).where(where)
    scores = msgspec.json.decode(
        "[" + ",".join(r["scores"] or "{}" for r in rows) + "]", type=list[dict[str, float]])
    for r in rows:
        day = r["submitted_on"]
        if isinstance(day, str):
            r["submitted_on"] = dt.date.fromisoformat(day[:10])
    return results.answers_frame(rows, scores)


async def waves_of(contract_id: UUID, scope: UUID | None) -> list[results.Wave]:
    rows = await SurveyWave.select().where(SurveyWave.contract == contract_id).order_by(
        SurveyWave.opens_on).order_by(SurveyWave.id)
    found = await _instruments(rows)
    invited = await _invited([r["id"] for r in rows], scope)
    out = []
    for r in rows:
        instrument = found.get((r["instrument_code"], r["instrument_owner"]))
        if instrument is None:
            continue
        out.append(results.Wave(
            id=r["id"], title=r["title"], instrument=instrument, timepoint=r["timepoint"],
            days=r["days"], opens_on=r["opens_on"], closes_on=r["closes_on"],
            invited=invited.get(str(r["id"]), 0), you_said=r["you_said"],
            we_did=r["we_did"]))
    return out


async def contract_voice(principal: Principal, contract_id: UUID, language: str = "en"
                         ) -> VoiceResults:
    """The citizen-voice results of a contract for one of its parties (NotFound for anyone
    else); a partner sees its own participants'. `language` names the measures (da, nb,
    en)."""
    contract, scope = await contracts.scope_of(principal, contract_id)
    language = language if language in ("da", "nb", "en") else "en"
    waves = await waves_of(contract_id, scope)
    frame = await answers(contract, scope)
    return results.build(contract_id, waves, frame, k=_k(), language=language)


# In the effect figures --------------------------------------------------------------------


async def effect_with_voice(principal: Principal, contract_id: UUID, *,
                            as_of: dt.date | None = None, language: str = "en"
                            ) -> ContractEffectWithVoice:
    """`effect.service.contract_effect` with the contract's citizen voice beside it: every
    effect figure exactly as there, and `voice` (None while the contract has no survey
    wave), which changes none of them."""
    figures: ContractEffect = await effect.contract_effect(principal, contract_id, as_of=as_of)
    voice = await contract_voice(principal, contract_id, language)
    return with_voice(figures, voice)


def with_voice(figures: ContractEffect, voice: VoiceResults) -> ContractEffectWithVoice:
    return ContractEffectWithVoice(**msgspec.structs.asdict(figures),
                                   voice=voice if voice.waves else None)


# Beside the allocation advice -------------------------------------------------------------


CONTEXT_NOTE = ("Citizen voice is context for the person deciding: it changes neither the "
                "band nor the shift, nor any payment.")


async def _relational(contract_ids: Sequence[UUID]) -> pd.DataFrame:
    """The answers to Virker's relational questions on these contracts: contract and the
    contact-person and helped scores, one query."""
    columns = ["contract", "contact_person", "helped"]
    if not contract_ids:
        return pd.DataFrame(columns=columns)
    rows = await Response.select(Response.contract, Response.scores).where(
        Response.contract.is_in(list(contract_ids))
        & (Response.wave.instrument_code == "relational")
        & Response.wave.instrument_owner.is_null())
    scores = msgspec.json.decode(
        "[" + ",".join(r["scores"] or "{}" for r in rows) + "]", type=list[dict[str, float]])
    return pd.DataFrame({
        "contract": [str(r["contract"]) for r in rows],
        "contact_person": [s.get("contact_person", float("nan")) for s in scores],
        "helped": [s.get("helped", float("nan")) for s in scores]}, columns=columns)


def voice_context(frame: pd.DataFrame, contract_ids: Sequence[UUID], references: dict,
                  own: set[str], k: int) -> list[VoiceContext]:
    """Per contract: respondents to the relational questions, the share with one contact
    person and how much it helped (0-10), each with its 95 % interval. Scores about fewer
    than k respondents are hidden for everyone; for a contract the reader is not a party to,
    as in the effect comparison, the count of respondents too, and the share where those
    with or without a contact person are fewer than k."""
    out = []
    for cid in contract_ids:
        key = str(cid)
        mine = "*" in own or key in own
        rows = frame[frame["contract"] == key]
        contact = results.describe(rows["contact_person"], pd.Series(0, index=rows.index),
                                   "share")
        helped = results.describe(rows["helped"], pd.Series(0, index=rows.index), "mean")
        yes = float(rows["contact_person"].sum(skipna=True))
        c = contact.iloc[0].to_dict() if len(contact) else {"n": 0}
        h = helped.iloc[0].to_dict() if len(helped) else {"n": 0}
        # Everyone: no score about fewer than k respondents.
        shares = pd.DataFrame([{"enrolled": c["n"], "n": c["n"], "mean": c.get("mean"),
                                "low": c.get("low"), "high": c.get("high")}])
        means = pd.DataFrame([{"enrolled": h["n"], "n": h["n"], "mean": h.get("mean"),
                               "low": h.get("low"), "high": h.get("high")}])
        if not mine:
            # Outside the parties: the effect comparison's rule for x of n.
            shares = shares.assign(observed=c["n"], achieved=round(yes))
        shares = suppression.suppress(shares, k=k).iloc[0]
        means = suppression.suppress(means, k=k).iloc[0]
        respondents = len(rows)
        hide_count = not mine and 0 < respondents < k
        out.append(VoiceContext(
            contract_id=cid, reference=references.get(key, ""), own=mine,
            respondents=None if hide_count else respondents,
            contact_person=_figure(shares), helped=_figure(means)))
    return out


def _figure(row: pd.Series) -> VoiceFigure:
    return VoiceFigure(n=results._int(row.get("n")), value=results._num(row.get("mean")),
                       low=results._num(row.get("low")), high=results._num(row.get("high")),
                       suppressed=bool(row.get("suppressed", False)))


async def advise_with_voice(principal: Principal, subject: str, *, shift_share: float = 0.10,
                            as_of: dt.date | None = None) -> AdviceWithVoice:
    """`effect.service.advise` with, per contract advised on, a small citizen-voice context.
    The bands, evidence, volumes and shifts are exactly those of `advise`: the voice is
    read after them and changes none."""
    advice = await effect.advise(principal, subject, shift_share=shift_share, as_of=as_of)
    ids = list(dict.fromkeys(u.contract_id for u in advice.units))
    references = {str(u.contract_id): u.reference for u in advice.units}
    own = {str(u.contract_id) for u in advice.units if u.own}
    if principal.is_admin:
        own = {"*"}
    frame = await _relational(ids)
    return AdviceWithVoice(**msgspec.structs.asdict(advice),
                           voice=voice_context(frame, ids, references, own, _k()),
                           voice_note=CONTEXT_NOTE)
