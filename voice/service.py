"""Citizen voice: instruments, survey waves, invitation links, answers (through a link or
recorded by a provider), comments and their moderation, deletion on request, and retention.

Who does what: the commissioner adds instruments, opens waves, moderates comments and
answers back ("you said, we did"); the provider (lead or partner, for its own participants)
asks for links and records answers given on paper or in conversation; a participant answers
through a link without an account. Any party of the contract reads the results
(voice.results), which never change a payment. docs/citizen-voice.md has the data flow.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from uuid import UUID

import msgspec
from piccolo.query.functions.aggregate import Count

from contracts import personal
from contracts import service as contracts
from contracts.errors import Conflict, Forbidden, Gone, Invalid, NotFound, Problem
from contracts.identity import Principal
from contracts.tables import Contract, Organisation
from core.clock import now
from core.database import bulk_insert, is_unique_violation, write_transaction
from core.ids import new_id
from outcomes import intake
from outcomes import queries as outcome_queries
from outcomes.pseudonyms import pseudonym_problem
from outcomes.schemas import BatchReport, RowResult
from outcomes.tables import Participant
from voice import instruments as library
from voice import masking, tokens
from voice.instruments import AnswerError, Instrument
from voice.schemas import (
    RESERVED,
    AnswerBackIn,
    AnswerIn,
    AnswerReceipt,
    CommentOut,
    DeletionIn,
    DeletionOut,
    InstrumentIn,
    InstrumentOut,
    InvitationRow,
    InvitationsIn,
    InvitationsReport,
    ModerationIn,
    Questionnaire,
    WaveIn,
    WaveOut,
)
from voice.tables import Instrument as InstrumentRow
from voice.tables import Invitation, Response, SurveyWave, VoiceDeletion

_json = msgspec.json.Encoder()


def _today() -> dt.date:
    return now().date()


def random_id() -> UUID:
    """Ids of invitations and answers: random, so that their order tells nothing."""
    return uuid.uuid4()


# Instruments ------------------------------------------------------------------------------


def _decode(definition: str) -> Instrument:
    return msgspec.json.decode(definition, type=Instrument)


async def instruments(principal: Principal) -> list[InstrumentOut]:
    """Virker's own instruments, and those the caller's organisation added."""
    out = [InstrumentOut(code=i.code, owner_id=None, instrument=i)
           for i in library.LIBRARY.values()]
    rows = await InstrumentRow.select(InstrumentRow.code, InstrumentRow.organisation,
                                      InstrumentRow.definition).where(
        InstrumentRow.organisation == principal.organisation_id).order_by(InstrumentRow.code)
    out += [InstrumentOut(code=r["code"], owner_id=r["organisation"],
                          instrument=_decode(r["definition"])) for r in rows]
    return out


async def add_instrument(principal: Principal, body: InstrumentIn) -> InstrumentOut:
    if principal.role not in ("commissioner", "admin"):
        raise Forbidden("only a commissioner adds an instrument it holds a licence for",
                        code="commissioner_only")
    problems = [Problem(code="reserved_item_code", field=f"items[{i}].code",
                        message=f"{item.code!r} names a column of a batch of answers; "
                                "choose another code")
                for i, item in enumerate(body.items) if item.code in RESERVED]
    problems += [Problem(code="invalid_scale", field=f"items[{i}].maximum",
                         message="the highest answer must be above the lowest")
                 for i, item in enumerate(body.items) if item.maximum <= item.minimum]
    if body.code in library.LIBRARY:
        problems.append(Problem(code="instrument_exists", field="code",
                                message=f"{body.code} is one of Virker's own instruments"))
    if len({i.code for i in body.items}) != len(body.items):
        problems.append(Problem(code="duplicate_item", field="items",
                                message="two items have the same code"))
    if problems:
        raise Invalid("the instrument cannot be added as it is", code=problems[0].code,
                      problems=problems)
    instrument = library.custom(
        body.code, body.name, body.licence, body.attribution,
        [library.Item(code=i.code, text=i.text, minimum=i.minimum, maximum=i.maximum,
                      low_label=i.low_label, high_label=i.high_label, reverse=i.reverse)
         for i in body.items],
        body.scoring, body.factor,
        library.Measure(code=body.measure.code, name=body.measure.name,
                        minimum=body.measure.minimum, maximum=body.measure.maximum,
                        better=body.measure.better),
        introduction=body.introduction)
    try:
        async with write_transaction():
            await InstrumentRow.insert(InstrumentRow(
                id=new_id(), organisation=principal.organisation_id, code=body.code,
                name=body.name, licence=body.licence,
                definition=_json.encode(instrument).decode(), created_at=now(),
                created_by=principal.label))
    except Exception as exc:
        if is_unique_violation(exc):
            raise Conflict(f"your organisation already has an instrument {body.code}; "
                           "instruments are not changed once added: give a new version "
                           "its own code", code="instrument_exists") from None
        raise
    return InstrumentOut(code=body.code, owner_id=principal.organisation_id,
                         instrument=instrument)


async def instrument_of(code: str, owner: UUID | None) -> Instrument:
    if owner is None:
        found = library.LIBRARY.get(code)
        if found is None:
            raise NotFound(f"no instrument {code}", code="instrument_not_found")
        return found
    row = await InstrumentRow.select(InstrumentRow.definition).where(
        (InstrumentRow.organisation == owner) & (InstrumentRow.code == code)).first()
    if row is None:
        raise NotFound(f"no instrument {code}", code="instrument_not_found")
    return _decode(row["definition"])


async def _resolve(principal: Principal, code: str) -> tuple[Instrument, UUID | None]:
    if code in library.LIBRARY:
        return library.LIBRARY[code], None
    return await instrument_of(code, principal.organisation_id), principal.organisation_id


# Waves ------------------------------------------------------------------------------------


def comments_deleted_on(wave: dict) -> dt.date:
    """The day a wave's free text is deleted: its retention period after it closes."""
    return wave["closes_on"] + dt.timedelta(days=wave["retention_days"])


def _status(wave: dict, today: dt.date) -> str:
    if today < wave["opens_on"]:
        return "scheduled"
    return "open" if today <= wave["closes_on"] else "closed"


async def _wave_out(wave: dict, counts: dict | None = None) -> WaveOut:
    instrument = await instrument_of(wave["instrument_code"], wave["instrument_owner"])
    if counts is None:
        counts = await _counts([wave["id"]])
    invited, responded = counts.get(wave["id"], (0, 0))
    return WaveOut(
        id=wave["id"], contract_id=wave["contract"], title=wave["title"],
        instrument=wave["instrument_code"], instrument_name=instrument.name,
        timepoint=wave["timepoint"], days=wave["days"], opens_on=wave["opens_on"],
        closes_on=wave["closes_on"], link_days=wave["link_days"],
        retention_days=wave["retention_days"], comments_deleted_on=comments_deleted_on(wave),
        status=_status(wave, _today()), invitations=invited, responses=responded,
        you_said=wave["you_said"], we_did=wave["we_did"], answered_at=wave["answered_at"])


async def _counts(wave_ids: Sequence[UUID]) -> dict[UUID, tuple[int, int]]:
    if not wave_ids:
        return {}
    ids = list(wave_ids)
    invited = await Invitation.select(Invitation.wave, Count(Invitation.id, alias="n")).where(
        Invitation.wave.is_in(ids)).group_by(Invitation.wave)
    answered = await Response.select(Response.wave, Count(Response.id, alias="n")).where(
        Response.wave.is_in(ids)).group_by(Response.wave)
    a = {r["wave"]: r["n"] for r in answered}
    out = {r["wave"]: (r["n"], a.get(r["wave"], 0)) for r in invited}
    for w, n in a.items():
        out.setdefault(w, (0, n))
    return out


async def create_wave(principal: Principal, contract_id: UUID, body: WaveIn) -> WaveOut:
    await contracts.require_commissioner(principal, contract_id)
    problems = []
    if body.closes_on < body.opens_on:
        problems.append(Problem(code="wave_dates", field="closes_on",
                                message="a wave closes on or after the day it opens"))
    if body.timepoint == "days_after_enrolment" and body.days is None:
        problems.append(Problem(code="days_required", field="days",
                                message="say how many days after enrolment to ask"))
    if body.timepoint != "days_after_enrolment" and body.days is not None:
        problems.append(Problem(code="days_not_allowed", field="days",
                                message="days go with the timepoint days_after_enrolment"))
    if problems:
        raise Invalid("the wave cannot be opened as it is", code=problems[0].code,
                      problems=problems)
    instrument, owner = await _resolve(principal, body.instrument)
    row = dict(id=new_id(), contract=contract_id, title=body.title,
               instrument_code=instrument.code, instrument_owner=owner,
               timepoint=body.timepoint, days=body.days, opens_on=body.opens_on,
               closes_on=body.closes_on, link_days=body.link_days,
               retention_days=body.retention_days, created_at=now(),
               created_by=principal.label, you_said=None, we_did=None, answered_at=None,
               answered_by=None, comments_removed_on=None)
    async with write_transaction():
        await SurveyWave.insert(SurveyWave(**row))
    return await _wave_out(row, {})


async def waves(principal: Principal, contract_id: UUID) -> list[WaveOut]:
    await contracts.relation(principal, contract_id)
    rows = await SurveyWave.select().where(SurveyWave.contract == contract_id).order_by(
        SurveyWave.opens_on).order_by(SurveyWave.id)
    counts = await _counts([r["id"] for r in rows])
    return [await _wave_out(r, counts) for r in rows]


async def wave_row(principal: Principal, wave_id: UUID, role: str | None = None) -> dict:
    """The wave, when the caller may see its contract (and holds `role` on it)."""
    row = await SurveyWave.select().where(SurveyWave.id == wave_id).first()
    if row is None:
        raise NotFound("no such survey wave", code="wave_not_found")
    try:
        if role is None:
            await contracts.relation(principal, row["contract"])
        else:
            await contracts.require_role(principal, row["contract"], role)
    except NotFound:
        raise NotFound("no such survey wave", code="wave_not_found") from None
    return row


async def get_wave(principal: Principal, wave_id: UUID) -> WaveOut:
    return await _wave_out(await wave_row(principal, wave_id))


async def answer_back(principal: Principal, wave_id: UUID, body: AnswerBackIn) -> WaveOut:
    """Publish "you said, we did" for a wave (again, to improve it: the last one stands)."""
    wave = await wave_row(principal, wave_id, "commissioner")
    at = now()
    async with write_transaction():
        await SurveyWave.update({SurveyWave.you_said: body.you_said,
                                 SurveyWave.we_did: body.we_did,
                                 SurveyWave.answered_at: at,
                                 SurveyWave.answered_by: principal.label}).where(
            SurveyWave.id == wave_id)
    wave.update(you_said=body.you_said, we_did=body.we_did, answered_at=at)
    return await _wave_out(wave)


# Invitations ------------------------------------------------------------------------------


def _rejected_invitation(i: int, pseudonym: str, code: str, message: str) -> InvitationRow:
    return InvitationRow(row=i, pseudonym=personal.mask(pseudonym), status="rejected",
                         errors=[Problem(code=code, field="pseudonym", message=message)])


async def invite(principal: Principal, wave_id: UUID, body: InvitationsIn,
                 base_url: str) -> InvitationsReport:
    """One single-use link per participant, for the provider to deliver. The links are in
    this answer only: Virker keeps each token's hash and the participant's id sealed with
    it (voice.tokens), never the link itself."""
    wave = await wave_row(principal, wave_id, "provider")
    contract, scope = await contracts.scope_of(principal, wave["contract"])
    today = _today()
    if _status(wave, today) != "open":
        raise Conflict(f"the wave is open from {wave['opens_on']} to {wave['closes_on']}; "
                       "links are given only while it is open", code="wave_not_open")
    wanted = list(dict.fromkeys(p for p in body.pseudonyms if pseudonym_problem(p) is None))
    known = {r["pseudonym"]: r for r in await Participant.select(
        Participant.id, Participant.pseudonym, Participant.enrolled_on).where(
        outcome_queries.participants_of(contract, scope)
        & Participant.pseudonym.is_in(wanted or [""]))}
    expires_on = min(today + dt.timedelta(days=wave["link_days"]), wave["closes_on"])
    results: list[InvitationRow] = []
    rows: list[dict] = []
    seen: set[str] = set()
    for i, pseudonym in enumerate(body.pseudonyms, start=1):
        problem = pseudonym_problem(pseudonym)
        participant = known.get(pseudonym)
        if problem is not None:
            results.append(_rejected_invitation(i, pseudonym, *problem))
        elif pseudonym in seen:
            results.append(_rejected_invitation(
                i, pseudonym, "duplicate_pseudonym", "this pseudonym is already in the list"))
        elif participant is None:
            results.append(_rejected_invitation(
                i, pseudonym, "participant_not_found",
                "no participant of yours has this pseudonym on the contract"))
        elif participant["enrolled_on"] > today:
            results.append(_rejected_invitation(
                i, pseudonym, "not_yet_enrolled", "the participant is not enrolled yet"))
        elif (due := _due(wave, participant)) is not None and due > today:
            results.append(_rejected_invitation(
                i, pseudonym, "not_yet_due",
                f"this wave asks {wave['days']} days after enrolment: from {due}"))
        else:
            token = tokens.new_token()
            rows.append(dict(id=random_id(), wave=wave_id, token_hash=tokens.token_hash(token),
                             sealed=tokens.seal(token, participant["id"]),
                             issued_by=principal.organisation_id, issued_on=today,
                             expires_on=expires_on, used_on=None))
            results.append(InvitationRow(row=i, pseudonym=pseudonym, status="created",
                                         link=f"{base_url.rstrip('/')}/voice/{token}",
                                         expires_on=expires_on))
        seen.add(pseudonym)
    async with write_transaction():
        await bulk_insert(Invitation, rows)
    return InvitationsReport(wave_id=wave_id, rows=len(results), created=len(rows),
                             rejected=len(results) - len(rows), results=results)


# Answering through a link -----------------------------------------------------------------


# The answer's path is the one a thousand participants may take at once: written out in SQL
# rather than built by the ORM per request.
_INVITATION = (
    "SELECT i.id, i.wave, i.sealed, i.expires_on, i.used_on, w.closes_on, w.contract, "
    "w.instrument_code, w.instrument_owner FROM voice_invitation i "
    "JOIN survey_wave w ON w.id = i.wave WHERE i.token_hash = {}")
_RESPONSE_COLUMNS = ("id, wave, contract, participant, mode, submitted_on, answers, scores, "
                     "comment, comment_status, moderated_by, moderated_on, recorded_by")
_USE = "UPDATE voice_invitation SET used_on = {} WHERE id = {} AND used_on IS NULL"
# PostgreSQL: the link used up and the answer stored in one statement, which is atomic.
_USE_AND_STORE = (
    f"WITH used AS ({_USE} RETURNING id) INSERT INTO voice_response ({_RESPONSE_COLUMNS}) "
    "SELECT {}, {}, {}, {}, 'web', {}, {}, {}, {}, {}, NULL, NULL, NULL FROM used "
    "RETURNING id")
_STORE = (f"INSERT INTO voice_response ({_RESPONSE_COLUMNS}) "
          "VALUES ({}, {}, {}, {}, 'web', {}, {}, {}, {}, {}, NULL, NULL, NULL)")


async def _use_and_store(invitation: dict, today: dt.date, values: list) -> bool:
    """Use the link up and store the answer, both or neither; False when the link was used
    meanwhile."""
    engine = Invitation._meta.db
    if engine.engine_type == "postgres":
        return bool(await Invitation.raw(_USE_AND_STORE, today, invitation["id"], *values))
    async with write_transaction():
        used = await Invitation.raw(_USE + " RETURNING id", today, invitation["id"])
        if not used:
            return False
        await Invitation.raw(_STORE, *values)
    return True


async def _invitation(token: str) -> dict:
    """The invitation a token opens, or why it opens none: 404 for a token Virker never
    gave, 410 for one used or expired (the wave's own close included)."""
    if not tokens.looks_like_token(token):
        raise NotFound("this link is not one Virker gave", code="invitation_not_found")
    rows = await Invitation.raw(_INVITATION, tokens.token_hash(token))
    row = rows[0] if rows else None
    if row is None:
        raise NotFound("this link is not one Virker gave", code="invitation_not_found")
    if row["used_on"] is not None:
        raise Gone("this link has been used: each link takes one answer",
                   code="invitation_used")
    today = _today()
    if row["expires_on"] < today or row["closes_on"] < today:
        raise Gone("this link has expired", code="invitation_expired")
    return row


async def questionnaire(token: str, language: str) -> Questionnaire:
    invitation = await _invitation(token)
    wave = await SurveyWave.select().where(SurveyWave.id == invitation["wave"]).first()
    contract = await Contract.select(Contract.title, Contract.provider).where(
        Contract.id == wave["contract"]).first()
    commissioners = await contracts.commissioner_ids(wave["contract"])
    names = {r["id"]: r["name"] for r in await Organisation.select(
        Organisation.id, Organisation.name).where(
        Organisation.id.is_in([contract["provider"], *commissioners]))}
    return Questionnaire(
        wave_id=wave["id"], title=wave["title"], contract_title=contract["title"],
        commissioner=", ".join(names[c] for c in commissioners if c in names),
        provider=names.get(contract["provider"], ""), language=language,
        instrument=await instrument_of(wave["instrument_code"], wave["instrument_owner"]),
        expires_on=min(invitation["expires_on"], wave["closes_on"]),
        comments_deleted_on=comments_deleted_on(wave),
        you_said=wave["you_said"], we_did=wave["we_did"])


def _checked(instrument: Instrument, answers: dict) -> tuple[dict[str, int], dict]:
    try:
        kept = library.check(instrument, answers)
    except AnswerError as exc:
        field = "answers" if exc.item == "answers" else f"answers.{exc.item}"
        raise Invalid(exc.message, code=exc.code,
                      problems=[Problem(code=exc.code, field=field, message=exc.message)]
                      ) from None
    return kept, library.score(instrument, kept)


def _comment(text: str | None) -> tuple[str | None, str, bool]:
    """The comment as kept (identifiers and names masked), its status, whether masked."""
    if text is None or not text.strip():
        return None, "none", False
    kept = masking.mask_comment(text.strip())
    return kept, "pending", kept != text.strip()


async def answer(token: str, body: AnswerIn) -> AnswerReceipt:
    """Record one answer through a link, which is then used up. Anonymous: the answer
    carries no pseudonym, and nothing recorded ties it to the link it came through."""
    invitation = await _invitation(token)
    instrument = await instrument_of(invitation["instrument_code"],
                                     invitation["instrument_owner"])
    kept, scores = _checked(instrument, body.answers)
    comment, status, masked = _comment(body.comment)
    participant = None if body.anonymous else tokens.unseal(token, invitation["sealed"])
    today = _today()
    values = [random_id(), invitation["wave"], invitation["contract"], participant, today,
              _json.encode(kept).decode(), _json.encode(scores).decode(), comment, status]
    try:
        stored = await _use_and_store(invitation, today, values)
    except Exception as exc:
        if is_unique_violation(exc):
            raise Conflict("you have already answered this survey", code="already_answered"
                           ) from None
        raise
    if not stored:
        raise Gone("this link has been used: each link takes one answer",
                   code="invitation_used")
    return AnswerReceipt(wave_id=invitation["wave"], anonymous=body.anonymous,
                         submitted_on=today,
                         comment_masked=masked)


# Answers recorded by a provider -----------------------------------------------------------


def row_struct(instrument: Instrument) -> type[msgspec.Struct]:
    """The row of a batch of answers for `instrument`: who (a pseudonym, or anonymous), how,
    when, a comment, and one column per item of the instrument."""
    from contracts.schemas import Input
    from voice.schemas import Comment, RecordedMode

    fields = [("pseudonym", str | None, None), ("anonymous", bool, False),
              ("mode", RecordedMode), ("submitted_on", dt.date),
              ("comment", Comment | None, None)]
    fields += [(item.code, int | None, None) for item in instrument.items]
    return msgspec.defstruct(f"{instrument.code}_answer", fields, bases=(Input,),
                             kw_only=True, forbid_unknown_fields=True, frozen=True)


async def record_answers(sub: intake.Submission, wave_id: UUID, rows: list
                         ) -> tuple[BatchReport, bool]:
    """A provider's batch of answers collected on paper, by phone or in conversation: the
    same per-row report and Idempotency-Key replay as a batch of claims."""
    wave = await wave_row(sub.principal, wave_id, "provider")
    if wave["contract"] != sub.contract_id:
        raise NotFound("no such survey wave", code="wave_not_found")
    instrument = await instrument_of(wave["instrument_code"], wave["instrument_owner"])
    items = [i.code for i in instrument.items]

    async def process(sub, contract, rows, batch_id, at):
        scope = await contracts.provider_scope(sub.principal, contract)
        named = [r[1].pseudonym for r in rows if r[1] is not None and r[1].pseudonym]
        people = {r["pseudonym"]: r for r in await Participant.select(
            Participant.id, Participant.pseudonym, Participant.enrolled_on).where(
            outcome_queries.participants_of(contract, scope)
            & Participant.pseudonym.is_in(named or [""]))}
        known = {p: r["id"] for p, r in people.items()}
        answered = {r["participant"] for r in await Response.select(
            Response.participant).where(
            (Response.wave == wave_id) & Response.participant.is_in(
                list(known.values()) or [random_id()]))}
        today = at.date()
        results: list[RowResult] = []
        new_rows: list[dict] = []
        for i, row, problems in rows:
            if row is None:
                results.append(RowResult(row=i, status="rejected", errors=problems))
                continue
            ref = None if row.anonymous else row.pseudonym
            errors = _row_errors(row, wave, today, known, answered)
            due = _due(wave, people.get(row.pseudonym)) if not row.anonymous else None
            if not errors and due is not None and row.submitted_on < due:
                errors.append(Problem(code="not_yet_due", field="submitted_on",
                                      message=f"this wave asks {wave['days']} days after "
                                              f"enrolment: from {due}"))
            kept = scores = None
            if not errors:
                try:
                    kept = library.check(instrument, {c: getattr(row, c) for c in items})
                    scores = library.score(instrument, kept)
                except AnswerError as exc:
                    field = exc.item if exc.item != "answers" else ", ".join(items)
                    errors.append(Problem(code=exc.code, field=field, message=exc.message))
            if errors:
                results.append(RowResult(row=i, status="rejected",
                                         ref=personal.mask(ref) if ref else None,
                                         errors=errors))
                continue
            participant = None if row.anonymous else known[row.pseudonym]
            if participant is not None:
                answered.add(participant)
            comment, status, _ = _comment(row.comment)
            response_id = random_id()
            new_rows.append(dict(
                id=response_id, wave=wave_id, contract=wave["contract"],
                participant=participant, mode=row.mode, submitted_on=row.submitted_on,
                answers=_json.encode(kept).decode(), scores=_json.encode(scores).decode(),
                comment=comment, comment_status=status, moderated_by=None, moderated_on=None,
                recorded_by=sub.principal.organisation_id))
            # An anonymous answer's id is not given back, nor kept in the stored report:
            # the row number of the provider's file must not lead to it.
            results.append(RowResult(row=i, status="accepted", ref=ref,
                                     id=None if row.anonymous else response_id))
        return results, Response, new_rows

    return await intake.submit_batch(sub, rows, process)


def _due(wave: dict, participant: dict | None) -> dt.date | None:
    """The first day a wave asked days after enrolment may ask `participant`."""
    if wave["timepoint"] != "days_after_enrolment" or participant is None:
        return None
    return participant["enrolled_on"] + dt.timedelta(days=wave["days"])


def _row_errors(row, wave: dict, today: dt.date, known: dict, answered: set) -> list[Problem]:
    errors = []
    if row.anonymous and row.pseudonym:
        errors.append(Problem(code="anonymous_with_pseudonym", field="pseudonym",
                              message="an anonymous answer carries no pseudonym; leave it "
                                      "empty"))
    elif not row.anonymous:
        problem = pseudonym_problem(row.pseudonym) if row.pseudonym else (
            "pseudonym_required", "give the participant's pseudonym, or mark the answer "
                                  "anonymous")
        if problem is not None:
            errors.append(Problem(code=problem[0], field="pseudonym", message=problem[1]))
        elif row.pseudonym not in known:
            errors.append(Problem(code="participant_not_found", field="pseudonym",
                                  message="no participant of yours has this pseudonym on "
                                          "the contract"))
        elif known[row.pseudonym] in answered:
            errors.append(Problem(code="already_answered", field="pseudonym",
                                  message="this participant has already answered the wave"))
    if not wave["opens_on"] <= row.submitted_on <= min(wave["closes_on"], today):
        errors.append(Problem(code="outside_wave", field="submitted_on",
                              message=f"the wave ran from {wave['opens_on']} to "
                                      f"{wave['closes_on']}; an answer is dated within it "
                                      "and not in the future"))
    return errors


# Comments ---------------------------------------------------------------------------------


async def comments(principal: Principal, contract_id: UUID, *, wave_id: UUID | None = None,
                   status: str | None = None) -> list[CommentOut]:
    """Comments of the contract's waves, identifiers and names already masked. The
    contract's parties read them all; only approved ones may go further (open data)."""
    await contracts.relation(principal, contract_id)
    where = (Response.contract == contract_id) & Response.comment.is_not_null()
    if wave_id is not None:
        where &= Response.wave == wave_id
    if status is not None:
        where &= Response.comment_status == status
    rows = await Response.select(
        Response.id, Response.wave, Response.submitted_on, Response.mode,
        Response.participant, Response.comment, Response.comment_status,
        Response.moderated_by, Response.moderated_on,
        Response.wave.closes_on.as_alias("closes_on"),
        Response.wave.retention_days.as_alias("retention_days")).where(where).order_by(
        Response.submitted_on, ascending=False).order_by(Response.id)
    today = _today()
    return [CommentOut(id=r["id"], wave_id=r["wave"], submitted_on=r["submitted_on"],
                       mode=r["mode"], anonymous=r["participant"] is None,
                       comment=r["comment"], status=r["comment_status"],
                       moderated_by=r["moderated_by"], moderated_on=r["moderated_on"])
            for r in rows if comments_deleted_on(r) > today]


async def moderate(principal: Principal, response_id: UUID, body: ModerationIn) -> CommentOut:
    row = await Response.select(Response.contract, Response.comment).where(
        Response.id == response_id).first()
    if row is None or row["comment"] is None:
        raise NotFound("no such comment", code="comment_not_found")
    try:
        await contracts.require_commissioner(principal, row["contract"])
    except NotFound:
        raise NotFound("no such comment", code="comment_not_found") from None
    async with write_transaction():
        await Response.update({Response.comment_status: body.status,
                               Response.moderated_by: principal.label,
                               Response.moderated_on: _today()}).where(
            Response.id == response_id)
    found = [c for c in await comments(principal, row["contract"])
             if c.id == response_id]
    if not found:
        raise NotFound("no such comment", code="comment_not_found")
    return found[0]


# Deletion and retention -------------------------------------------------------------------


async def delete_answers(principal: Principal, contract_id: UUID, body: DeletionIn
                         ) -> DeletionOut:
    """Delete every answer a participant gave under their pseudonym, at their request, and
    record that it was done (who asked, when, how many), never what the answers were.
    Anonymous answers carry no pseudonym: nobody can find them, so they stay."""
    contract, scope = await contracts.scope_of(principal, contract_id)
    if principal.role not in ("commissioner", "provider", "admin"):
        raise Forbidden("the contract's commissioner or provider deletes answers on a "
                        "participant's request", code="commissioner_or_provider_only")
    participant = await Participant.select(Participant.id).where(
        outcome_queries.participants_of(contract, scope)
        & (Participant.pseudonym == body.pseudonym)).first()
    if participant is None:
        raise NotFound("no participant has this pseudonym on the contract",
                       code="participant_not_found")
    at = now()
    async with write_transaction():
        gone = await Response.delete().where(
            (Response.contract == contract_id)
            & (Response.participant == participant["id"])).returning(Response.id)
        await VoiceDeletion.insert(VoiceDeletion(
            id=new_id(), contract=contract_id, pseudonym=body.pseudonym,
            responses=len(gone), requested_by=principal.label,
            organisation=principal.organisation_id, deleted_at=at))
    return DeletionOut(contract_id=contract_id, pseudonym=body.pseudonym,
                       responses=len(gone), requested_by=principal.label, deleted_at=at)


async def deletions(principal: Principal, contract_id: UUID) -> list[DeletionOut]:
    await contracts.relation(principal, contract_id)
    rows = await VoiceDeletion.select().where(VoiceDeletion.contract == contract_id).order_by(
        VoiceDeletion.deleted_at)
    return [DeletionOut(contract_id=r["contract"], pseudonym=r["pseudonym"],
                        responses=r["responses"], requested_by=r["requested_by"],
                        deleted_at=r["deleted_at"]) for r in rows]


async def apply_retention(today: dt.date | None = None) -> int:
    """Delete the free text of every wave whose retention period has run out; returns how
    many comments were deleted. The scores stay; the comments do not."""
    today = today or _today()
    due = [w["id"] for w in await SurveyWave.select(
        SurveyWave.id, SurveyWave.closes_on, SurveyWave.retention_days).where(
        SurveyWave.comments_removed_on.is_null()) if comments_deleted_on(w) <= today]
    if not due:
        return 0
    async with write_transaction():
        removed = await Response.update({Response.comment: None,
                                         Response.comment_status: "removed"}).where(
            Response.wave.is_in(due) & Response.comment.is_not_null()).returning(Response.id)
        await SurveyWave.update({SurveyWave.comments_removed_on: today}).where(
            SurveyWave.id.is_in(due))
    return len(removed)
