"""Citizen voice: instruments a commissioner added, survey waves, invitations, responses, and
the record of answers deleted on request.

What the tables do not hold, on purpose (docs/citizen-voice.md): no contact detail, no name,
no token (only its SHA-256), and no link from an invitation to its participant that the
database alone could read (the participant's id is sealed with a key only the token gives).
Ids of invitations and responses are random (UUIDv4) and their times are days, so that
neither id order nor a timestamp ties an anonymous answer to the link it came through.
"""

from piccolo.columns import (
    UUID,
    Date,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from contracts.tables import Contract, Organisation
from outcomes.tables import Participant


class Instrument(Table, tablename="voice_instrument"):
    """An instrument a commissioner holds a licence for; append-only. `definition` is the
    msgspec JSON of voice.instruments.Instrument."""

    id = UUID(primary_key=True)
    organisation = ForeignKey(references=Organisation, null=False)
    code = Varchar(length=64)
    name = Varchar(length=200)
    licence = Text()
    definition = Text()
    created_at = Timestamptz()
    created_by = Varchar(length=100)


class SurveyWave(Table, tablename="survey_wave"):
    id = UUID(primary_key=True)
    contract = ForeignKey(references=Contract, null=False)
    title = Varchar(length=200)
    instrument_code = Varchar(length=64)
    # Set for an instrument a commissioner added: whose it is.
    instrument_owner = ForeignKey(references=Organisation, null=True, default=None)
    timepoint = Varchar(length=32)
    days = Integer(null=True, default=None)
    opens_on = Date()
    closes_on = Date()
    link_days = Integer(default=30)
    retention_days = Integer(default=365)
    created_at = Timestamptz()
    created_by = Varchar(length=100)
    you_said = Text(null=True, default=None)
    we_did = Text(null=True, default=None)
    answered_at = Timestamptz(null=True, default=None)
    answered_by = Varchar(length=100, null=True, default=None)
    comments_removed_on = Date(null=True, default=None)


class Invitation(Table, tablename="voice_invitation"):
    id = UUID(primary_key=True)
    wave = ForeignKey(references=SurveyWave, null=False)
    token_hash = Varchar(length=64, unique=True)
    # The participant's id XOR a key derived from the token (voice.tokens.seal).
    sealed = Varchar(length=32)
    issued_by = ForeignKey(references=Organisation, null=False)
    issued_on = Date()
    expires_on = Date()
    used_on = Date(null=True, default=None)


class Response(Table, tablename="voice_response"):
    id = UUID(primary_key=True)
    wave = ForeignKey(references=SurveyWave, null=False)
    contract = ForeignKey(references=Contract, null=False)
    # None for an anonymous answer.
    participant = ForeignKey(references=Participant, null=True, default=None)
    mode = Varchar(length=16)
    submitted_on = Date()
    # JSON: {item code: whole number} and {measure code: number}.
    answers = Text()
    scores = Text()
    comment = Text(null=True, default=None)
    comment_status = Varchar(length=16, default="none")
    moderated_by = Varchar(length=100, null=True, default=None)
    moderated_on = Date(null=True, default=None)
    # The provider that recorded a paper or spoken answer (None: the participant online).
    recorded_by = ForeignKey(references=Organisation, null=True, default=None)


class VoiceDeletion(Table, tablename="voice_deletion"):
    """Answers deleted at a participant's request: who asked, when, how many; never what
    they were. Append-only."""

    id = UUID(primary_key=True)
    contract = ForeignKey(references=Contract, null=False)
    pseudonym = Varchar(length=64)
    responses = Integer()
    requested_by = Varchar(length=100)
    organisation = ForeignKey(references=Organisation, null=False)
    deleted_at = Timestamptz()
