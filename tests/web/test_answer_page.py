"""The participant's page (/voice/{token}) through the test client, on both engines: the
questions in the instrument's own words in Danish, Norwegian and English, the plain statement
of what is collected, answering under the pseudonym or anonymously, a link used or expired
(410) or never given (404), problems shown next to their question with the answers kept,
and no 500 whatever is sent."""

from __future__ import annotations

import datetime as dt
import re

import msgspec
import pytest
from babel.dates import format_date

from core.clock import now
from tests.effect_data import people
from tests.helpers import active_contract, principal, world
from voice import service, tokens
from voice.schemas import AnswerBackIn, InvitationsIn, WaveIn
from voice.tables import Invitation, Response

WHO5 = {"cheerful": "3", "calm": "2", "active": "4", "rested": "1", "interest": "5"}
# No Accept-Language at all: the page then speaks the commissioner's language (Danish).
NO_LANGUAGE = {"accept-language": ""}


def today() -> dt.date:
    return now().date()


class Scene(msgspec.Struct, kw_only=True):
    contract: object
    ids: list
    wave: object
    tokens: list[str]
    commissioner: object


async def scene(instrument: str = "who5", n: int = 3, **wave) -> Scene:
    """A Danish commissioner's wave of `instrument` and `n` links, one per participant."""
    w = await world()
    contract = await active_contract(w)
    ids = await people(contract, n=n, achieved=0, enrolled_on=today() - dt.timedelta(days=100),
                       metric_code="employment", prefix="ap")
    commissioner = principal(w.ids["commissioner"], "commissioner")
    provider = principal(w.ids["provider"], "provider")
    body = {"title": "Six months in", "instrument": instrument, "timepoint": "enrolment",
            "opens_on": str(today() - dt.timedelta(days=1)),
            "closes_on": str(today() + dt.timedelta(days=30)), "retention_days": 90, **wave}
    created = await service.create_wave(commissioner, contract, msgspec.convert(body, WaveIn))
    report = await service.invite(provider, created.id, InvitationsIn(
        pseudonyms=[f"ap-{i}" for i in range(n)]), "https://virker.example")
    return Scene(contract=contract, ids=ids, wave=created, commissioner=commissioner,
                 tokens=[r.link.rsplit("/", 1)[1] for r in report.results])


def fieldset(html: str, code: str) -> str:
    """The question's fieldset on the page."""
    start = html.index(f'id="q-{code}"')
    return html[start:html.index("</fieldset>", start)]


def checked(html: str, code: str) -> str | None:
    found = re.search(rf'name="{code}" value="([^"]*)" checked', html)
    return found[1] if found else None


async def test_the_page_asks_in_the_readers_language_with_the_instruments_own_words(api, db):
    s = await scene()
    token = s.tokens[0]
    r = await api.get(f"/voice/{token}", headers=NO_LANGUAGE)
    assert r.status_code == 200, r.text
    assert '<html lang="da">' in r.text
    # WHO-5's Danish wording (its authors') and its six worded answers.
    assert "Jeg har været glad og i godt humør" in r.text
    assert "Hvordan har du haft det i de sidste to uger?" in r.text
    cheerful = fieldset(r.text, "cheerful")
    assert "<legend>" in cheerful
    for words in ("På intet tidspunkt", "Lidt af tiden", "Det meste af tiden", "Hele tiden"):
        assert words in cheerful
    assert cheerful.count('type="radio"') == 7  # six answers and "no answer"
    # The plain statement, in Danish, before the questions.
    statement = r.text[:r.text.index('id="questions"')]
    assert "det er frivilligt at svare" in statement
    assert "anonymt" in statement and "slettes" in statement
    assert "mindst 5 personer" in statement
    deleted_on = s.wave.closes_on + dt.timedelta(days=90)
    assert format_date(deleted_on, "long", locale="da_DK") in statement
    assert format_date(today() + dt.timedelta(days=30), "long", locale="da_DK") in statement
    assert "Navne og numre" in statement
    # Who asks and who helps, by name.
    assert "municipality" in statement and "ngo" in statement
    # The instrument's source is named, as its licence asks.
    assert "WHO-5 Well-Being Index" in r.text

    r = await api.get(f"/voice/{token}?lang=nb")
    assert '<html lang="nb">' in r.text
    assert "Jeg har vært glad og i godt humør" in r.text and "Mesteparten av tiden" in r.text
    assert "det er frivillig å svare" in r.text

    r = await api.get(f"/voice/{token}", headers={"accept-language": "en-GB,en;q=0.8"})
    assert '<html lang="en">' in r.text
    assert "I have felt cheerful and in good spirits" in r.text
    assert "Answering is voluntary" in r.text or "answering is voluntary" in r.text
    assert "Answer anonymously" in r.text and "At most 2,000 characters" in r.text
    # Accept-Language wins over the commissioner's language; ?lang= over both.
    r = await api.get(f"/voice/{token}?lang=da", headers={"accept-language": "en"})
    assert '<html lang="da">' in r.text


async def test_the_page_keeps_the_link_to_itself(api, db):
    s = await scene()
    token = s.tokens[0]
    r = await api.get(f"/voice/{token}?lang=en")
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "noindex" in r.headers["x-robots-tag"]
    assert "set-cookie" not in r.headers  # no session, no CSRF cookie
    assert "script-src 'self';" in r.headers["content-security-policy"]
    # The token is in no link, form or text of the page: links lead to the same page.
    assert token not in r.text
    assert "<script" not in r.text
    for href in re.findall(r'(?:href|action)="([^"]*)"', r.text):
        assert href.startswith(("?lang=", "#", "/static/")), href


async def test_answering_records_the_answer_under_the_pseudonym(api, db):
    s = await scene()
    token = s.tokens[0]
    r = await api.post(f"/voice/{token}?lang=da", data={**WHO5, "comment": "Det hjalp mig"})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/voice/thanks?lang=da"
    assert r.headers["cache-control"] == "no-store"
    row = await Response.select().where(Response.wave == s.wave.id).first()
    assert row["participant"] == s.ids[0] and row["mode"] == "web"
    assert msgspec.json.decode(row["scores"])["index"] == 60.0
    assert row["comment"] == "Det hjalp mig" and row["comment_status"] == "pending"
    thanks = await api.get(r.headers["location"])
    assert thanks.status_code == 200
    assert '<html lang="da">' in thanks.text and "Tak for dine svar" in thanks.text
    assert token not in thanks.text and "Det hjalp" not in thanks.text
    assert thanks.headers["cache-control"] == "no-store"
    assert thanks.headers["referrer-policy"] == "no-referrer"

    # The link is used: it shows no questions again, and takes no second answer.
    again = await api.get(f"/voice/{token}", headers=NO_LANGUAGE)
    assert again.status_code == 410
    assert "Dette link er allerede brugt" in again.text
    assert "Jeg har været glad" not in again.text
    again = await api.post(f"/voice/{token}", data=WHO5, headers={"accept-language": "en"})
    assert again.status_code == 410 and "This link has already been used" in again.text
    assert await Response.count().where(Response.wave == s.wave.id) == 1


async def test_an_anonymous_answer_carries_no_pseudonym(api, db):
    s = await scene()
    r = await api.post(f"/voice/{s.tokens[1]}?lang=en",
                       data={**WHO5, "anonymous": "1", "comment": ""})
    assert r.status_code == 303, r.text
    row = await Response.select().where(Response.wave == s.wave.id).first()
    assert row["participant"] is None and row["comment"] is None
    assert str(s.ids[1]) not in str(row)


async def test_an_expired_link_and_one_never_given_say_so(api, db):
    s = await scene()
    await Invitation.update({Invitation.expires_on: today() - dt.timedelta(days=1)}).where(
        Invitation.wave == s.wave.id)
    r = await api.get(f"/voice/{s.tokens[0]}", headers=NO_LANGUAGE)
    assert r.status_code == 410
    assert "Dette link er udløbet" in r.text and "kontaktperson" in r.text
    r = await api.post(f"/voice/{s.tokens[0]}?lang=nb", data=WHO5)
    assert r.status_code == 410 and "Denne lenken har gått ut" in r.text
    assert await Response.count() == 0
    assert r.headers["x-robots-tag"].startswith("noindex")

    guesses = [tokens.new_token(), s.tokens[1][:-1] + ("A" if s.tokens[1][-1] != "A" else "B"),
               "x" * 43, "short", "..%2F..%2Fetc%2Fpasswd", "%C3%A6%C3%B8%C3%A5", "%00",
               "a" * 5000, "%F0%9F%98%80" * 20, "'%20OR%201=1--"]
    for guess in guesses:
        r = await api.get(f"/voice/{guess}", headers={"accept-language": "en"})
        assert r.status_code == 404, (guess, r.status_code, r.text[:300])
        assert "This link does not work" in r.text
        r = await api.post(f"/voice/{guess}", data=WHO5, headers={"accept-language": "da"})
        assert r.status_code == 404, (guess, r.status_code)
        assert "Dette link virker ikke" in r.text


async def test_problems_are_shown_next_to_their_question_with_the_answers_kept(api, db):
    s = await scene()
    token = s.tokens[0]
    r = await api.post(f"/voice/{token}?lang=en",
                       data={"cheerful": "3", "calm": "9", "active": "", "comment": "Fine"})
    assert r.status_code == 422, r.text
    calm = fieldset(r.text, "calm")
    assert "Choose one of the answers shown" in calm
    assert "Choose one of the answers shown" not in fieldset(r.text, "cheerful")
    assert checked(r.text, "cheerful") == "3"
    assert checked(r.text, "active") == ""  # "no answer", as chosen
    assert checked(r.text, "rested") is None
    assert ">Fine</textarea>" in r.text
    assert 'href="#q-calm"' in r.text  # the summary leads to the question

    r = await api.post(f"/voice/{token}?lang=da", data={"anonymous": "1", "comment": "Hej"})
    assert r.status_code == 422
    assert "Svar på mindst ét spørgsmål" in r.text
    assert 'name="anonymous" value="1" aria-describedby="anonymous-help" checked' in r.text

    r = await api.post(f"/voice/{token}?lang=en", data={**WHO5, "comment": "x" * 2001})
    assert r.status_code == 422
    comment = r.text[r.text.index('class="field comment'):r.text.index("</textarea>")]
    assert "2,001 characters long" in comment and "at most 2,000" in comment
    assert checked(r.text, "interest") == "5"
    assert await Response.count() == 0

    # Nothing was used up: the same link takes the answer once it is right.
    r = await api.post(f"/voice/{token}?lang=en", data={**WHO5, "comment": "x" * 2000})
    assert r.status_code == 303


@pytest.mark.parametrize("instrument", ["ons4", "relational", "gas"])
async def test_every_kind_of_question_has_large_labelled_options(api, db, instrument):
    s = await scene(instrument, n=1)
    r = await api.get(f"/voice/{s.tokens[0]}?lang=en")
    assert r.status_code == 200, r.text
    if instrument == "ons4":
        q = fieldset(r.text, "life_satisfaction")
        assert "Overall, how satisfied are you with your life nowadays?" in q
        assert q.count('type="radio"') == 12  # 0 to 10, and "no answer"
        assert "0 = Not at all" in q and "10 = Completely" in q
        assert '<span class="sr-only"> – Not at all</span>' in q
    elif instrument == "relational":
        q = fieldset(r.text, "contact_person")
        assert q.index(">Yes<") < q.index(">No<")
        assert q.count('type="radio"') == 3
        assert fieldset(r.text, "helped").count('type="radio"') == 12
    else:
        q = fieldset(r.text, "goal_1")
        assert q.count('type="radio"') == 6
        assert "Much less than expected" in q and "Much more than expected" in q
        assert "Think of the goals you set with your contact person" in r.text
    answer = {"ons4": {"life_satisfaction": "7", "anxiety": "2"},
              "relational": {"contact_person": "1", "helped": "9"},
              "gas": {"goal_1": "0", "goal_2": "-1"}}[instrument]
    r = await api.post(f"/voice/{s.tokens[0]}?lang=en", data=answer)
    assert r.status_code == 303, r.text
    row = await Response.select().first()
    assert msgspec.json.decode(row["answers"]) == {k: int(v) for k, v in answer.items()}


async def test_you_said_we_did_is_shown_with_the_questions(api, db):
    s = await scene()
    await service.answer_back(s.commissioner, s.wave.id, AnswerBackIn(
        you_said="Ventetiden var for lang", we_did="Vi har ansat to nye kontaktpersoner"))
    r = await api.get(f"/voice/{s.tokens[0]}", headers=NO_LANGUAGE)
    section = r.text[r.text.index('id="answer-back"'):r.text.index("</section>")]
    assert "Ventetiden var for lang" in section and "to nye kontaktpersoner" in section


HOSTILE = [
    {"cheerful": "3" * 100_000},
    {"cheerful": "٣"},  # an Arabic-Indic three
    {"cheerful": "3\x00", "calm": "\x00"},
    {"cheerful": "1e3", "calm": "NaN", "active": "-0", "rested": " 2 "},
    {"cheerful": "99999999999999999999999999"},
    {"cheerful": ["1", "5", "x"], "calm": ["2", "2"]},
    {"comment": "\x00" * 10, "cheerful": "2"},
    {"comment": "😀" * 1999 + "\u0301\u202e", "cheerful": "2"},
    {"anonymous": ["1", "0"], "cheerful": "2", "comment": "Ring på 12 34 56 78"},
    {"unknown": "5", "answers": "{}", "_csrf_token": "x"},
    {},
]


async def test_no_input_makes_the_page_fail(api, db):
    s = await scene(n=len(HOSTILE) + 8)
    links = iter(s.tokens)
    token = next(links)
    statuses = []
    for data in HOSTILE:
        r = await api.post(f"/voice/{token}", data=data)
        statuses.append(r.status_code)
        assert r.status_code in (303, 422), (data, r.status_code, r.text[:500])
        assert r.status_code == 303 or "text/html" in r.headers["content-type"]
        if r.status_code == 303:  # an answer taken: the next goes through another link
            token = next(links)
    assert statuses.count(303) >= 3 and statuses.count(422) >= 5
    for body, kind in [(b'{"answers": {"cheerful": 3}}', "application/json"),
                       (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
                       (b"--x\r\n", "multipart/form-data"),
                       (b"\xff\xfe\x00" * 100, "application/x-www-form-urlencoded"),
                       (b"cheerful=%ff%fe&calm=%00", "application/x-www-form-urlencoded"),
                       (b"cheerful=" + b"1" * 2_000_000, "application/x-www-form-urlencoded")]:
        r = await api.post(f"/voice/{token}", content=body, headers={"content-type": kind})
        assert r.status_code in (400, 413, 422), (body[:40], r.status_code, r.text[:500])
        assert "text/html" in r.headers["content-type"]
    for query in ("?lang=xx", "?lang=%00", "?lang=da&lang=en", "?lang=" + "d" * 5000):
        r = await api.get(f"/voice/{token}{query}")
        assert r.status_code == 200, (query, r.status_code)
    r = await api.post(f"/voice/{token}?lang=en", data={**WHO5, "comment": "a\x00b\x07c"})
    assert r.status_code == 303
    # A NUL or other control character is never kept.
    rows = await Response.select(Response.comment).where(Response.comment.is_not_null())
    assert [row["comment"] for row in rows if "a" in row["comment"][:1]] == ["abc"]
    assert all("\x00" not in row["comment"] for row in rows)
