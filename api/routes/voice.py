"""Citizen voice: instruments, survey waves, links for participants, answers through a link
or recorded by a provider, comments and their moderation, deletion on request, and the
results. docs/citizen-voice.md has the data flow.

The two routes under /api/v1/answer/{token} are public: the token in the link is the
participant's one capability, so they take no API key, and they answer with
`Cache-Control: no-store` and `Referrer-Policy: no-referrer`, errors included. No problem
and no log line written by Virker holds the token (api.errors cuts it out of the path).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from api.auth import principal_of
from api.errors import EXCEPTION_HANDLERS, without_token
from api.routes.outcomes import BATCH, BATCH_BODY_LIMIT, _answer, _submission
from contracts.errors import Invalid, NotFound
from contracts.schemas import Input
from outcomes.parsing import parse_rows
from outcomes.schemas import MAX_ROWS, BatchReport
from voice import figures, service
from voice.instruments import Instrument
from voice.schemas import (
    MAX_INVITATIONS,
    RESERVED,
    AnswerBackIn,
    AnswerIn,
    AnswerReceipt,
    CommentOut,
    CommentStatus,
    DeletionIn,
    DeletionOut,
    InstrumentIn,
    InstrumentOut,
    InvitationsIn,
    InvitationsReport,
    ModerationIn,
    Questionnaire,
    VoiceResults,
    WaveIn,
    WaveOut,
)

Language = Literal["da", "nb", "en"]
ResultsLang = Annotated[Language, QueryParameter(
    description="the language of the names of measures and the method (da, nb or en)")]
AnswerLang = Annotated[Language, QueryParameter(
    description="the participant's language: da, nb or en")]
# 10,000 pseudonyms of 200 characters, each written as a \uXXXX escape, fit.
INVITATIONS_BODY_LIMIT = MAX_INVITATIONS * (200 * 6 + 10)
# What the public answers carry, errors included: kept in no cache, and the link (the
# token) is sent to no other site as a Referer.
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


# The row struct of each instrument, made once: instruments do not change once added, and a
# struct made anew for each batch would stay in the parsers' caches.
_ROWS: dict[bytes, type[msgspec.Struct]] = {}


def rows_of(instrument: Instrument) -> type[msgspec.Struct]:
    key = msgspec.json.encode(instrument)
    if key not in _ROWS:
        _ROWS[key] = service.row_struct(instrument)
    return _ROWS[key]


def answer_row() -> type[msgspec.Struct]:
    """The columns every batch of answers has, whatever its instrument (for the document:
    each item of the wave's instrument adds a column)."""
    shape = service.row_struct(service.library.RELATIONAL)
    fields = [(f.name, f.type) if f.required else (f.name, f.type, f.default)
              for f in msgspec.structs.fields(shape) if f.name in RESERVED]
    return msgspec.defstruct("AnswerRow", fields, bases=(Input,), kw_only=True)


class VoiceController(Controller):
    path = "/api/v1"
    tags = ["citizen voice"]

    @get("/instruments", summary="The questionnaires you may use: Virker's own (ONS4, WHO-5, "
                                 "Goal Attainment Scaling, relational questions) and those "
                                 "your organisation added, with items, scoring and licence")
    async def instruments(self, request: Request) -> list[InstrumentOut]:
        return await service.instruments(principal_of(request))

    @post("/instruments",
          summary="Add an instrument your organisation holds a licence for (commissioners)",
          description="Its items in Danish, Norwegian and English, its scoring and its licence "
                      "note. An instrument is not changed once added: a new version gets a "
                      "code of its own (409 `instrument_exists`). 422 `instrument_exists` for "
                      "a code Virker ships, `reserved_item_code`, `invalid_scale`, "
                      "`duplicate_item`.")
    async def add_instrument(self, request: Request, data: JSONBody[InstrumentIn]
                             ) -> InstrumentOut:
        return await service.add_instrument(principal_of(request), data)

    @get("/contracts/{contract_id:uuid}/waves", summary="The contract's survey waves, with "
                                                        "how many were invited and answered")
    async def waves(self, request: Request, contract_id: FromPath[UUID]) -> list[WaveOut]:
        return await service.waves(principal_of(request), contract_id)

    @post("/contracts/{contract_id:uuid}/waves",
          summary="Open a survey wave (commissioners): an instrument, a timepoint (at "
                  "enrolment, at exit, or N days after enrolment), open and close dates",
          description="`link_days`: how long a link stays usable (never past the close); "
                      "`retention_days`: how long after the close comments are kept.")
    async def create_wave(self, request: Request, contract_id: FromPath[UUID],
                          data: JSONBody[WaveIn]) -> WaveOut:
        return await service.create_wave(principal_of(request), contract_id, data)

    @get("/waves/{wave_id:uuid}", summary="One survey wave")
    async def wave(self, request: Request, wave_id: FromPath[UUID]) -> WaveOut:
        return await service.get_wave(principal_of(request), wave_id)

    @post("/waves/{wave_id:uuid}/answer-back", status_code=200,
          summary="Publish \"you said, we did\" for a wave (commissioners)",
          description="Shown to participants who answer afterwards and beside the wave's "
                      "results. Published again, the last one stands. Identifiers in the "
                      "text are masked.")
    async def answer_back(self, request: Request, wave_id: FromPath[UUID],
                          data: JSONBody[AnswerBackIn]) -> WaveOut:
        return await service.answer_back(principal_of(request), wave_id, data)

    @post("/waves/{wave_id:uuid}/invitations", request_max_body_size=INVITATIONS_BODY_LIMIT,
          summary="One single-use link per participant, for the provider to deliver "
                  "(providers)",
          description="Up to 10,000 pseudonyms of your participants on the contract, while "
                      "the wave is open (409 `wave_not_open` otherwise). The links are shown "
                      "only in this answer: Virker keeps a hash of each, never the link, and "
                      "cannot show them again. Each link opens the questionnaire once, until "
                      "its `expires_on`. A pseudonym that gets no link is rejected in the "
                      "report with its reason. Links begin with the address this request "
                      "was sent to.")
    async def invite(self, request: Request, wave_id: FromPath[UUID],
                     data: JSONBody[InvitationsIn]) -> InvitationsReport:
        base = str(request.base_url).rstrip("/")
        return await service.invite(principal_of(request), wave_id, data, base)

    @post("/contracts/{contract_id:uuid}/waves/{wave_id:uuid}/responses", opt=BATCH,
          request_max_body_size=BATCH_BODY_LIMIT,
          summary="Record answers given on paper, by phone or in conversation (providers; "
                  "JSON array or text/csv) with an Idempotency-Key",
          description="Columns: pseudonym (or anonymous=true and no pseudonym), mode (paper, "
                      "conversation or phone), submitted_on, comment, and one per item code "
                      "of the wave's instrument (GET /instruments). Up to "
                      f"{MAX_ROWS} rows. The answer is a report with one result per row; an "
                      "anonymous answer's id is not given.")
    async def record(self, request: Request, contract_id: FromPath[UUID],
                     wave_id: FromPath[UUID]) -> Response[BatchReport]:
        sub, body, media_type = await _submission(request, contract_id, "responses")
        if not sub.idempotency_key:
            raise Invalid("answers need an Idempotency-Key header, so that a retry cannot "
                          "record them twice", code="idempotency_key_required")
        wave = await service.wave_row(sub.principal, wave_id, "provider")
        if wave["contract"] != contract_id:
            raise NotFound("no such survey wave", code="wave_not_found")
        instrument = await service.instrument_of(wave["instrument_code"],
                                                 wave["instrument_owner"])
        rows = parse_rows(body, media_type, rows_of(instrument), MAX_ROWS)
        return _answer(*await service.record_answers(sub, wave_id, rows))

    @get("/contracts/{contract_id:uuid}/comments",
         summary="Comments given with answers, identifiers and names masked, newest first",
         description="For the contract's parties. Only approved comments go beyond the "
                     "contract. Comments past their wave's retention are gone.")
    async def comments(self, request: Request, contract_id: FromPath[UUID],
                       wave_id: FromQuery[UUID | None] = None,
                       status: FromQuery[CommentStatus | None] = None) -> list[CommentOut]:
        return await service.comments(principal_of(request), contract_id, wave_id=wave_id,
                                      status=status)

    @post("/comments/{response_id:uuid}/moderation", status_code=200,
          summary="Approve or reject a comment (commissioners)")
    async def moderate(self, request: Request, response_id: FromPath[UUID],
                       data: JSONBody[ModerationIn]) -> CommentOut:
        return await service.moderate(principal_of(request), response_id, data)

    @get("/contracts/{contract_id:uuid}/voice-deletions",
         summary="Deletions of a participant's answers on request: who asked, when, how many")
    async def deletions(self, request: Request, contract_id: FromPath[UUID]
                        ) -> list[DeletionOut]:
        return await service.deletions(principal_of(request), contract_id)

    @post("/contracts/{contract_id:uuid}/voice-deletions",
          summary="Delete every answer a participant gave under their pseudonym, on their "
                  "request (commissioners and providers)",
          description="The deletion is recorded without the answers. Anonymous answers "
                      "carry no pseudonym and cannot be found.")
    async def delete(self, request: Request, contract_id: FromPath[UUID],
                     data: JSONBody[DeletionIn]) -> DeletionOut:
        return await service.delete_answers(principal_of(request), contract_id, data)

    @get("/contracts/{contract_id:uuid}/voice",
         summary="Citizen voice of a contract: per wave the response rate and the scores "
                 "with their 95 % intervals, change between waves for the same pseudonyms, "
                 "and continuity (one contact person) over time",
         description="For the contract's parties. Scores about fewer than `small_cell_k` "
                     "people are suppressed for every reader. Citizen voice never changes a "
                     "payment.")
    async def voice(self, request: Request, contract_id: FromPath[UUID],
                    lang: ResultsLang = "en") -> VoiceResults:
        return await figures.contract_voice(principal_of(request), contract_id, language=lang)


# The public answer ------------------------------------------------------------------------

PUBLIC = {"exclude_from_auth": True}


def _private(handler: Any) -> Any:
    def handle(request: Request, exc: Exception) -> Response:
        response = handler(request, exc)
        response.headers.update(PRIVATE)
        return response

    return handle


class AnswerController(Controller):
    """A participant answers through the link a provider gave them: no account, no key."""

    path = "/api/v1/answer"
    tags = ["citizen voice: answering"]
    opt = PUBLIC
    exception_handlers = {cls: _private(h) for cls, h in EXCEPTION_HANDLERS.items()}

    @get("/{token:str}", opt=PUBLIC,
         summary="The questionnaire a link opens (public: the link is the key)",
         description="The wave, the instrument in the language asked for, who is asking and "
                     "until when. 404 `invitation_not_found` for a link Virker never gave; "
                     "410 `invitation_used` once the link has taken its answer, "
                     "`invitation_expired` after its expiry or the wave's close.")
    async def questionnaire(self, token: FromPath[str],
                            lang: AnswerLang = "en") -> Response[Questionnaire]:
        return Response(await service.questionnaire(token, lang), headers=PRIVATE)

    @post("/{token:str}", opt=PUBLIC,
          summary="Answer through a link, once (public: the link is the key)",
          description="`answers` maps item codes to whole numbers on each item's scale "
                      "(422 `unknown_item`, `answer_out_of_range`, `no_answers`); an item may "
                      "be left out. `anonymous`: the answer is kept without the pseudonym, "
                      "and nothing kept ties it to the link. A comment's identifiers and "
                      "names are masked before it is kept. The link takes one answer: 410 "
                      "`invitation_used` afterwards.")
    async def answer(self, token: FromPath[str], data: JSONBody[AnswerIn]
                     ) -> Response[AnswerReceipt]:
        return Response(await service.answer(token, data), status_code=201, headers=PRIVATE)


class TokenFilter(logging.Filter):
    """Cut a link's token out of the access log's lines (uvicorn's `"GET /path HTTP/1.1"`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(without_token(a) if isinstance(a, str) else a
                                for a in record.args)
        return True


def hide_tokens_in_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, TokenFilter) for f in access.filters):
        access.addFilter(TokenFilter())

