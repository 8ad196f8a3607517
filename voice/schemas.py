"""Structs for citizen voice: instruments, survey waves, invitations, answers, comments,
deletions and results."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar, Literal
from uuid import UUID

import msgspec

from contracts.errors import Problem
from contracts.schemas import Code, Input, Name, Output
from effect.schemas import Advice, ContractEffect
from voice.instruments import Instrument, Measure, Texts

Timepoint = Literal["enrolment", "exit", "days_after_enrolment"]
# How an answer reached Virker: the participant's own link, or a provider recording it.
Mode = Literal["web", "paper", "conversation", "phone"]
RecordedMode = Literal["paper", "conversation", "phone"]
CommentStatus = Literal["none", "pending", "approved", "rejected", "removed"]
Comment = Annotated[str, msgspec.Meta(max_length=2_000)]
Statement = Annotated[str, msgspec.Meta(min_length=3, max_length=4_000)]
Licence = Annotated[str, msgspec.Meta(min_length=10, max_length=2_000)]
MAX_INVITATIONS = 10_000
# Column names of a batch of answers; an instrument's items may not take them.
RESERVED = frozenset({"pseudonym", "anonymous", "mode", "submitted_on", "comment"})


# Instruments ------------------------------------------------------------------------------


class ItemIn(Input, kw_only=True):
    code: Code
    text: Texts
    minimum: int = 0
    maximum: int
    low_label: Texts | None = None
    high_label: Texts | None = None
    reverse: bool = False


class MeasureIn(Input, kw_only=True):
    code: Code
    name: Texts
    minimum: float
    maximum: float
    better: Literal["higher", "lower"] = "higher"


class InstrumentIn(Input, kw_only=True):
    """An instrument the commissioner holds a licence for. Virker keeps its items for the
    commissioner's own contracts only and states the licence note wherever it is used."""

    code: Code
    name: Name
    licence: Licence
    attribution: Licence
    introduction: Texts | None = None
    items: Annotated[list[ItemIn], msgspec.Meta(min_length=1, max_length=60)]
    scoring: Literal["sum", "mean"]
    factor: Annotated[float, msgspec.Meta(gt=0, le=1000)] = 1.0
    measure: MeasureIn


class InstrumentOut(Output, kw_only=True):
    code: str
    owner_id: UUID | None
    instrument: Instrument


# Waves ------------------------------------------------------------------------------------


class WaveIn(Input, kw_only=True):
    free_text: ClassVar[tuple[str, ...]] = ("title",)

    title: Name
    instrument: Code
    timepoint: Timepoint
    days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None
    opens_on: dt.date
    closes_on: dt.date
    link_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 30
    retention_days: Annotated[int, msgspec.Meta(ge=0, le=3650)] = 365


class WaveOut(Output, kw_only=True):
    id: UUID
    contract_id: UUID
    title: str
    instrument: str
    instrument_name: str
    timepoint: Timepoint
    days: int | None
    opens_on: dt.date
    closes_on: dt.date
    link_days: int
    retention_days: int
    comments_deleted_on: dt.date
    status: Literal["scheduled", "open", "closed"]
    invitations: int
    responses: int
    you_said: str | None = None
    we_did: str | None = None
    answered_at: dt.datetime | None = None


class AnswerBackIn(Input, kw_only=True):
    """"You said, we did": what the commissioner heard in a wave and what it did about it."""

    masked_text: ClassVar[tuple[str, ...]] = ("you_said", "we_did")

    you_said: Statement
    we_did: Statement


# Invitations ------------------------------------------------------------------------------


class InvitationsIn(Input, kw_only=True):
    pseudonyms: Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=200)]],
                          msgspec.Meta(min_length=1, max_length=MAX_INVITATIONS)]


class InvitationRow(Output, kw_only=True, omit_defaults=True):
    row: int
    pseudonym: str
    status: Literal["created", "rejected"]
    link: str | None = None
    expires_on: dt.date | None = None
    errors: list[Problem] = []


class InvitationsReport(Output, kw_only=True):
    """One link per participant. The links are shown this once: Virker keeps only a hash of
    each, and cannot show them again."""

    wave_id: UUID
    rows: int
    created: int
    rejected: int
    results: list[InvitationRow]


# Answers ----------------------------------------------------------------------------------


class AnswerIn(Input, kw_only=True):
    """What a participant sends through a link."""

    answers: dict[str, int | None]
    anonymous: bool = False
    comment: Comment | None = None


class Questionnaire(Output, kw_only=True):
    """What a link shows: the wave, the instrument in the chosen language, and the
    statement of what is collected."""

    wave_id: UUID
    title: str
    contract_title: str
    commissioner: str
    provider: str
    language: str
    instrument: Instrument
    expires_on: dt.date
    # The day this wave's comments are deleted (docs/citizen-voice.md, retention).
    comments_deleted_on: dt.date
    you_said: str | None = None
    we_did: str | None = None


class AnswerReceipt(Output, kw_only=True):
    wave_id: UUID
    anonymous: bool
    submitted_on: dt.date
    comment_masked: bool = False


class CommentOut(Output, kw_only=True):
    id: UUID
    wave_id: UUID
    submitted_on: dt.date
    mode: Mode
    anonymous: bool
    comment: str
    status: CommentStatus
    moderated_by: str | None = None
    moderated_on: dt.date | None = None


class ModerationIn(Input, kw_only=True):
    status: Literal["approved", "rejected"]


class DeletionIn(Input, kw_only=True):
    pseudonym: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class DeletionOut(Output, kw_only=True):
    contract_id: UUID
    pseudonym: str
    responses: int
    requested_by: str
    deleted_at: dt.datetime


# Results ----------------------------------------------------------------------------------


class MeasureResult(Output, kw_only=True):
    """One measure of one wave (or one group of it): how many answered it, the mean (or the
    share answering yes) with its 95 % interval; blank when fewer than k answered."""

    code: str
    name: str
    kind: Literal["mean", "share"]
    better: Literal["higher", "lower"]
    minimum: float
    maximum: float
    n: int | None
    value: float | None
    low: float | None
    high: float | None
    suppressed: bool = False
    suppression: str = ""


class GroupResult(Output, kw_only=True):
    dimension: str
    value: str
    respondents: int | None
    measures: list[MeasureResult]
    suppressed: bool = False
    suppression: str = ""


class WaveResult(Output, kw_only=True):
    wave_id: UUID
    title: str
    instrument: str
    instrument_name: str
    attribution: str
    timepoint: Timepoint
    days: int | None
    opens_on: dt.date
    closes_on: dt.date
    invited: int
    responded: int
    anonymous: int | None
    response_rate: float | None
    response_rate_low: float | None
    response_rate_high: float | None
    measures: list[MeasureResult]
    groups: list[GroupResult]
    you_said: str | None = None
    we_did: str | None = None


class ChangeResult(Output, kw_only=True):
    """The change in a measure between two waves of one instrument, for the pseudonyms who
    answered both (anonymous answers cannot be paired), with its 95 % t interval."""

    from_wave_id: UUID
    to_wave_id: UUID
    measure: str
    name: str
    better: Literal["higher", "lower"]
    n: int | None
    mean: float | None
    low: float | None
    high: float | None
    suppressed: bool = False


class ContinuityPoint(Output, kw_only=True):
    """The share of respondents who have one contact person, per quarter of answering."""

    quarter: str
    n: int | None
    share: float | None
    low: float | None
    high: float | None
    suppressed: bool = False


class VoiceResults(Output, kw_only=True):
    contract_id: UUID
    k: int
    language: str
    waves: list[WaveResult]
    changes: list[ChangeResult]
    continuity: list[ContinuityPoint]
    method: str
    never_a_payment: str = ("Citizen voice informs decisions; it never triggers, changes or "
                            "delays a payment.")


__all__ = ["Instrument", "Measure", "Texts"]


# Citizen voice beside the effect figures and the advice ------------------------------------


class ContractEffectWithVoice(ContractEffect, kw_only=True, omit_defaults=True):
    """A contract's effect figures, every one exactly as `ContractEffect` gives it, with the
    contract's citizen voice beside them (absent while the contract has no survey wave);
    the voice changes none of them."""

    voice: VoiceResults | None = None


class VoiceFigure(Output, kw_only=True):
    """One citizen-voice figure in the advice's context: how many answered, the share or mean
    with its 95 % interval; blank when suppressed."""

    n: int | None
    value: float | None
    low: float | None
    high: float | None
    suppressed: bool = False


class VoiceContext(Output, kw_only=True):
    """What the participants of one contract said, beside the advice on it: respondents to
    Virker's relational questions, the share who have one contact person, and how much it
    helped (0-10). Context for the person deciding; it changes neither band nor shift."""

    contract_id: UUID
    reference: str
    own: bool
    respondents: int | None
    contact_person: VoiceFigure
    helped: VoiceFigure


class AdviceWithVoice(Advice, kw_only=True):
    """The allocation advice, every field exactly as `Advice` gives it, with a citizen-voice
    context per contract advised on (`voice`, in the order of `units`)."""

    voice: list[VoiceContext] = []
    voice_note: str = ""
