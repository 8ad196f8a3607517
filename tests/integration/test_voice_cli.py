"""Retention of citizen-voice comments: `virker voice-retention` deletes the free text of
waves past their retention period and prints how many comments went; the server does the
same as it starts, and starts even when that fails. And the access log never holds a link's
token."""

from __future__ import annotations

import datetime as dt
import logging
import os

import msgspec

from core.clock import now
from tests.effect_data import people
from tests.helpers import active_contract, principal, world
from tests.integration.test_cli import virker
from voice import service
from voice.schemas import AnswerIn, InvitationsIn, WaveIn
from voice.tables import Response, SurveyWave

WHO5 = {"cheerful": 3, "calm": 2, "active": 4, "rested": 1, "interest": 5}


async def commented_wave(retention_days: int = 30) -> dict:
    """A wave with one answer and its comment, closed longer ago than `retention_days`."""
    w = await world()
    contract = await active_contract(w)
    today = now().date()
    await people(contract, n=2, achieved=0, enrolled_on=today - dt.timedelta(days=100),
                 metric_code="employment", prefix="rt")
    wave = await service.create_wave(
        principal(w.ids["commissioner"], "commissioner"), contract, msgspec.convert(dict(
            title="Exit", instrument="who5", timepoint="exit", opens_on=str(today),
            closes_on=str(today), retention_days=retention_days), WaveIn))
    report = await service.invite(principal(w.ids["provider"], "provider"), wave.id,
                                  InvitationsIn(pseudonyms=["rt-0"]), "https://v.example")
    await service.answer(report.results[0].link.rsplit("/", 1)[1],
                         AnswerIn(answers=WHO5, comment="Det hjalp at blive spurgt"))
    closed = today - dt.timedelta(days=retention_days + 1)
    await SurveyWave.update({SurveyWave.opens_on: closed, SurveyWave.closes_on: closed}
                            ).where(SurveyWave.id == wave.id)
    return {"wave": wave.id}


async def comments() -> list:
    return [r["comment"] for r in await Response.select(Response.comment)]


async def test_the_command_deletes_comments_past_retention_and_says_how_many(db):
    await commented_wave()
    assert await comments() == ["Det hjalp at blive spurgt"]
    helped = virker("voice-retention", "--help", url=db.url)
    assert "Usage: virker voice-retention" in helped.stdout
    out = virker("voice-retention", url=db.url)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"
    assert "1 comment past retention deleted" in out.stderr
    assert await comments() == [None]
    # The scores stay, and a second run finds nothing to do.
    row = await Response.select(Response.scores, Response.comment_status).first()
    assert msgspec.json.decode(row["scores"])["index"] == 60.0
    assert row["comment_status"] == "removed"
    again = virker("voice-retention", url=db.url)
    assert again.returncode == 0 and again.stdout.strip() == "0"


async def test_the_command_keeps_comments_within_retention(db):
    await commented_wave(retention_days=30)
    await SurveyWave.update({SurveyWave.closes_on: now().date()}).where(
        SurveyWave.retention_days == 30)
    out = virker("voice-retention", url=db.url)
    assert out.returncode == 0 and out.stdout.strip() == "0"
    assert await comments() == ["Det hjalp at blive spurgt"]


def app_for(db):
    from api.app import create_app
    from core.settings import Settings

    settings = Settings.from_env({"VIRKER_DATABASE_URL": db.url,
                                  "VIRKER_SECRET_KEY": os.environ["VIRKER_SECRET_KEY"],
                                  "VIRKER_CHECKPOINT_INTERVAL": "0"})
    return create_app(settings, db.engine)


async def test_the_server_applies_retention_as_it_starts(db):
    await commented_wave()
    app = app_for(db)
    async with app.lifespan():
        assert await comments() == [None]


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def test_the_server_starts_when_retention_fails(db, monkeypatch):
    await commented_wave()

    async def broken(today=None):
        raise RuntimeError("disk full")

    monkeypatch.setattr(service, "apply_retention", broken)
    app = app_for(db)
    kept = Kept()
    logging.getLogger("virker.voice").addHandler(kept)
    try:
        async with app.lifespan():
            started = True
    finally:
        logging.getLogger("virker.voice").removeHandler(kept)
    assert started
    assert kept.messages == ["voice retention failed at start-up"]
    assert await comments() == ["Det hjalp at blive spurgt"]


async def test_the_access_log_never_holds_a_links_token(db):
    app_for(db)  # the app puts its filter on uvicorn's access log
    token = "wIUqGJn33PsCNhIUwOxA4rDtRNkbt9rnzUJaYI2r-ac"
    access = logging.getLogger("uvicorn.access")
    lines = []
    for path in (f"/api/v1/answer/{token}?lang=da", f"/under/a/prefix/voice/{token}"):
        record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                                   '%s - "%s %s HTTP/%s" %d',
                                   ("127.0.0.1:5000", "GET", path, "1.1", 200), None)
        assert all(f.filter(record) for f in access.filters)
        lines.append(record.getMessage())
    assert lines == ['127.0.0.1:5000 - "GET /api/v1/answer/…?lang=da HTTP/1.1" 200',
                     '127.0.0.1:5000 - "GET /under/a/prefix/voice/… HTTP/1.1" 200']
