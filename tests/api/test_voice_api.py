"""Citizen voice over HTTP: the commissioner opens a wave, the provider asks for links and
records paper answers, a participant answers through a public link without an account, the
commissioner moderates and answers back. A link opens once, cannot be guessed and expires;
every refusal is problem+json with a stable code, and no answer carries the link's token."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from core.clock import now
from outcomes.tables import IntakeBatch
from tests.effect_data import people
from tests.helpers import active_contract
from voice import tokens
from voice.tables import Invitation, Response, SurveyWave

PROBLEM = "application/problem+json"
WHO5 = {"cheerful": 3, "calm": 2, "active": 4, "rested": 1, "interest": 5}


def today() -> dt.date:
    return now().date()


def problem_of(r, status: int, *codes: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers
    body = r.json()
    assert body["code"] in codes, body
    return body


def private(r) -> None:
    """A public answer's headers: kept in no cache, the link sent to no other site."""
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"


async def setup(api, w, *, instrument: str = "who5", contract=None, **wave):
    contract = contract or await active_contract(w)
    await people(contract, n=6, achieved=0, enrolled_on=today() - dt.timedelta(days=100),
                 metric_code="employment", prefix=f"vp{str(contract)[:4]}")
    body = {"title": "Six months in", "instrument": instrument, "timepoint": "enrolment",
            "opens_on": str(today() - dt.timedelta(days=1)),
            "closes_on": str(today() + dt.timedelta(days=30)), **wave}
    r = await api.post(f"/api/v1/contracts/{contract}/waves", json=body,
                       headers=w.headers("commissioner"))
    assert r.status_code == 201, r.text
    return contract, r.json()


def pseudonyms(contract, *numbers: int) -> list[str]:
    return [f"vp{str(contract)[:4]}-{n}" for n in numbers]


async def links(api, w, contract, wave, *numbers: int) -> list[str]:
    r = await api.post(f"/api/v1/waves/{wave['id']}/invitations",
                       json={"pseudonyms": pseudonyms(contract, *numbers)},
                       headers=w.headers("provider"))
    assert r.status_code == 201, r.text
    assert r.json()["created"] == len(numbers), r.text
    return [row["link"] for row in r.json()["results"]]


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


# The whole flow ----------------------------------------------------------------------------


async def test_a_wave_from_opening_to_answer_back(api, world):
    w = world
    r = await api.get("/api/v1/instruments", headers=w.headers("commissioner"))
    assert {"ons4", "who5", "gas", "relational"} <= {i["code"] for i in r.json()}
    contract, wave = await setup(api, w)
    assert (wave["status"], wave["instrument_name"]) == ("open", "WHO-5 Well-Being Index")
    listed = await api.get(f"/api/v1/contracts/{contract}/waves", headers=w.headers("auditor"))
    assert [x["id"] for x in listed.json()] == [wave["id"]]

    first, second = await links(api, w, contract, wave, 0, 1)
    # The links point at the address the provider called, for the participant's page.
    assert first.startswith("http://testserver.local/voice/")
    token = token_of(first)

    page = await api.get(f"/api/v1/answer/{token}?lang=da")  # no API key
    assert page.status_code == 200, page.text
    private(page)
    assert page.json()["language"] == "da"
    assert page.json()["instrument"]["code"] == "who5"
    assert len(page.json()["instrument"]["items"]) == 5

    receipt = await api.post(f"/api/v1/answer/{token}", json={
        "answers": WHO5, "comment": "Min kontakt ringer på 12 34 56 78, det hjælper"})
    assert receipt.status_code == 201, receipt.text
    private(receipt)
    assert receipt.json()["comment_masked"] is True
    assert receipt.json()["anonymous"] is False

    comments = await api.get(f"/api/v1/contracts/{contract}/comments?status=pending",
                             headers=w.headers("commissioner"))
    [comment] = comments.json()
    assert "12 34 56 78" not in comment["comment"] and "hjælper" in comment["comment"]
    r = await api.post(f"/api/v1/comments/{comment['id']}/moderation",
                       json={"status": "approved"}, headers=w.headers("commissioner"))
    assert r.status_code == 200 and r.json()["status"] == "approved"
    r = await api.get(f"/api/v1/contracts/{contract}/comments",
                      params={"status": "pending", "wave_id": wave["id"]},
                      headers=w.headers("provider"))
    assert r.json() == []

    r = await api.post(f"/api/v1/waves/{wave['id']}/answer-back", headers=w.headers(
        "commissioner"), json={"you_said": "Flere ville have én fast kontakt",
                               "we_did": "Hver deltager har nu én kontaktperson"})
    assert r.status_code == 200 and r.json()["we_did"].startswith("Hver")
    # The next participant reads the answer back before answering.
    later = await api.get(f"/api/v1/answer/{token_of(second)}")
    assert later.json()["you_said"] == "Flere ville have én fast kontakt"

    r = await api.get(f"/api/v1/waves/{wave['id']}", headers=w.headers("auditor"))
    assert (r.json()["invitations"], r.json()["responses"]) == (2, 1)
    results = await api.get(f"/api/v1/contracts/{contract}/voice?lang=nb",
                            headers=w.headers("commissioner"))
    assert results.status_code == 200, results.text
    [figures] = results.json()["waves"]
    assert (figures["invited"], figures["responded"]) == (2, 1)
    # One answer: its scores are not shown to anyone.
    assert all(m["value"] is None for m in figures["measures"])

    deleted = await api.post(f"/api/v1/contracts/{contract}/voice-deletions",
                             json={"pseudonym": pseudonyms(contract, 0)[0]},
                             headers=w.headers("provider"))
    assert deleted.status_code == 201 and deleted.json()["responses"] == 1
    record = await api.get(f"/api/v1/contracts/{contract}/voice-deletions",
                           headers=w.headers("commissioner"))
    assert [(d["pseudonym"], d["responses"]) for d in record.json()] == [
        (pseudonyms(contract, 0)[0], 1)]
    assert await Response.count() == 0


async def test_an_anonymous_answer_keeps_no_participant(api, world):
    w = world
    contract, wave = await setup(api, w)
    [link] = await links(api, w, contract, wave, 2)
    r = await api.post(f"/api/v1/answer/{token_of(link)}",
                       json={"answers": WHO5, "anonymous": True})
    assert r.status_code == 201 and r.json()["anonymous"] is True
    row = await Response.select().first()
    assert row["participant"] is None and row["mode"] == "web"


# Links: once, unguessable, expiring -------------------------------------------------------


async def test_a_link_takes_one_answer_and_then_says_it_was_used(api, world):
    w = world
    contract, wave = await setup(api, w)
    [link] = await links(api, w, contract, wave, 0)
    token = token_of(link)
    assert (await api.post(f"/api/v1/answer/{token}", json={"answers": WHO5})
            ).status_code == 201
    for r in (await api.post(f"/api/v1/answer/{token}", json={"answers": WHO5}),
              await api.get(f"/api/v1/answer/{token}")):
        problem_of(r, 410, "invitation_used")
        private(r)
        assert token not in r.text
    assert await Response.count() == 1


async def test_an_expired_link_is_gone(api, world):
    w = world
    contract, wave = await setup(api, w)
    [link] = await links(api, w, contract, wave, 3)
    await Invitation.update({Invitation.expires_on: today() - dt.timedelta(days=1)}).where(
        Invitation.wave == uuid.UUID(wave["id"]))
    token = token_of(link)
    for r in (await api.get(f"/api/v1/answer/{token}"),
              await api.post(f"/api/v1/answer/{token}", json={"answers": WHO5})):
        problem_of(r, 410, "invitation_expired")
        private(r)
        assert token not in r.text
    # So is every link of a wave that has closed.
    [other] = await links(api, w, contract, wave, 4)
    await SurveyWave.update({SurveyWave.closes_on: today() - dt.timedelta(days=1)}).where(
        SurveyWave.id == uuid.UUID(wave["id"]))
    problem_of(await api.get(f"/api/v1/answer/{token_of(other)}"), 410, "invitation_expired")
    assert await Response.count() == 0


GARBAGE = [
    "A" * 43,  # well-formed, never given
    "short",
    "x" * 10_000,
    "ø" * 43,
    "%F0%9F%98%80" * 11,
    "%00",
    "abc%00def",
    "..%2F..%2Fetc%2Fpasswd",
    "%2E%2E",
    "a%20b",
    "null",
    "%FF%FE",
]


@pytest.mark.parametrize("token", GARBAGE)
async def test_a_guessed_or_garbled_link_opens_nothing(api, world, token):
    w = world
    contract, wave = await setup(api, w)
    await links(api, w, contract, wave, 0)
    for r in (await api.get(f"/api/v1/answer/{token}"),
              await api.post(f"/api/v1/answer/{token}", json={"answers": WHO5})):
        assert r.status_code in (400, 404), r.text
        assert r.headers["content-type"].startswith(PROBLEM)
        assert r.json()["code"] in ("invitation_not_found", "not_found",
                                    "malformed_request"), r.text
        if len(token) > 5:
            assert token not in r.text
    assert await Response.count() == 0


async def test_random_well_formed_tokens_are_not_found(api, world):
    w = world
    contract, wave = await setup(api, w)
    [link] = await links(api, w, contract, wave, 0)
    real = token_of(link)
    near = real[:-1] + ("A" if real[-1] != "A" else "B")
    for guess in [tokens.new_token() for _ in range(20)] + [near]:
        r = await api.get(f"/api/v1/answer/{guess}")
        problem_of(r, 404, "invitation_not_found")
        private(r)
        assert guess not in r.text
    assert (await api.get(f"/api/v1/answer/{real}")).status_code == 200


async def test_the_token_stays_out_of_problems_for_any_method_or_path(api, world):
    w = world
    contract, wave = await setup(api, w)
    [link] = await links(api, w, contract, wave, 0)
    token = token_of(link)
    for r in (await api.put(f"/api/v1/answer/{token}", json={}),
              await api.get(f"/api/v1/answer/{token}/more"),
              await api.post(f"/api/v1/answer/{token}", content=b"{",
                             headers={"content-type": "application/json"}),
              await api.post(f"/api/v1/answer/{token}", content=b"answers=1",
                             headers={"content-type": "application/x-www-form-urlencoded"})):
        assert 400 <= r.status_code < 500, r.text
        assert r.headers["content-type"].startswith(PROBLEM)
        assert token not in r.text


# Hostile answers ---------------------------------------------------------------------------


@pytest.mark.parametrize("body,status,code", [
    (b"{", 400, "malformed_request"),
    (b"[]", 400, "validation_error"),
    (b'{"answers": "all good"}', 400, "validation_error"),
    (b'{"answers": {"cheerful": "three"}}', 400, "validation_error"),
    (b'{"answers": {"cheerful": 3.5}}', 400, "validation_error"),
    (b'{"answers": {"cheerful": 3}, "anonymous": "yes"}', 400, "validation_error"),
    (b'{"answers": {"cheerful": 3}, "name": "Jens"}', 400, "validation_error"),
    (b'{"answers": {"cheerful": 3}, "comment": "a\\u0000b"}', 400, "invalid_character"),
    (b'{"answers": {"cheerful": 1' + b"0" * 400 + b"}}", 422, "answer_out_of_range"),
    (b'{"answers": {"cheerful": -1' + b"0" * 40 + b"}}", 422, "answer_out_of_range"),
    (b'{"answers": {"pss": 3}}', 422, "unknown_item"),
    (b'{"answers": {}}', 422, "no_answers"),
    (b'{"answers": ' + b'{"a":' * 5_000 + b"1" + b"}" * 5_001, 400, "invalid_json"),
    (b'{"answers": {"cheerful": 3}, "comment": "' + b"x" * 2_001 + b'"}', 400,
     "validation_error"),
])
async def test_hostile_answers_are_refused_and_the_link_stays_usable(api, world, body, status,
                                                                     code):
    w = world
    contract, wave = await setup(api, w)
    [link] = await links(api, w, contract, wave, 0)
    token = token_of(link)
    r = await api.post(f"/api/v1/answer/{token}", content=body,
                       headers={"content-type": "application/json"})
    problem_of(r, status, code)
    private(r)
    assert token not in r.text
    assert await Response.count() == 0
    assert (await api.post(f"/api/v1/answer/{token}", json={"answers": WHO5})
            ).status_code == 201


@pytest.mark.parametrize("lang", ["de", "", "%00", "da%00"])
async def test_a_language_virker_does_not_speak_is_400(api, world, lang):
    w = world
    contract, wave = await setup(api, w)
    [link] = await links(api, w, contract, wave, 0)
    r = await api.get(f"/api/v1/answer/{token_of(link)}?lang={lang}")
    problem_of(r, 400, "validation_error", "invalid_character")


# Batches of answers given on paper --------------------------------------------------------


def paper(contract, *rows: dict) -> list[dict]:
    return [{"mode": "paper", "submitted_on": str(today()), **row} for row in rows]


async def test_paper_answers_in_json_and_csv_with_a_report_per_row(api, world):
    w = world
    contract, wave = await setup(api, w)
    p = pseudonyms(contract, 0, 1, 2, 3)
    url = f"/api/v1/contracts/{contract}/waves/{wave['id']}/responses"
    rows = paper(contract, {"pseudonym": p[0], **WHO5},
                 {"anonymous": True, "mode": "conversation", **WHO5,
                  "comment": "ring 12 34 56 78"},
                 {"pseudonym": p[0], **WHO5},
                 {"pseudonym": p[1], **WHO5, "calm": 9},
                 {"pseudonym": "nobody-here", **WHO5},
                 {"pseudonym": p[2], **WHO5, "submitted_on": "2001-01-01"})
    headers = {**w.headers("provider"), "Idempotency-Key": "paper-1"}
    first = await api.post(url, json=rows, headers=headers)
    assert first.status_code == 201, first.text
    assert first.headers["idempotent-replayed"] == "false"
    report = first.json()
    assert report["kind"] == "responses"
    assert [(x["status"], [e["code"] for e in x.get("errors", [])])
            for x in report["results"]] == [
        ("accepted", []), ("accepted", []), ("rejected", ["already_answered"]),
        ("rejected", ["answer_out_of_range"]), ("rejected", ["participant_not_found"]),
        ("rejected", ["outside_wave"])]
    assert "id" not in report["results"][1]  # an anonymous answer's id is not given
    again = await api.post(url, json=rows, headers=headers)
    assert (again.status_code, again.headers["idempotent-replayed"]) == (200, "true")
    assert again.json() == report
    other = await api.post(url, json=rows[:1], headers=headers)
    problem_of(other, 409, "idempotency_key_reused")
    assert await Response.count() == 2

    csv = ("pseudonym;anonymous;mode;submitted_on;cheerful;calm;active;rested;interest;"
           f"comment\n{p[3]};;phone;{today()};5;5;5;5;5;Godt\n"
           f";true;paper;{today()};1;1;1;1;1;\n"
           f"{p[1]};;letter;{today()};1;1;1;1;1;\n")
    r = await api.post(url, content=csv.encode(), headers={
        **w.headers("provider"), "Idempotency-Key": "paper-2", "content-type": "text/csv"})
    assert r.status_code == 201, r.text
    assert [x["status"] for x in r.json()["results"]] == ["accepted", "accepted", "rejected"]
    assert r.json()["results"][2]["errors"][0]["field"] == "mode"
    modes = sorted(x["mode"] for x in await Response.select(Response.mode))
    assert modes == ["conversation", "paper", "paper", "phone"]
    assert await IntakeBatch.count().where(IntakeBatch.kind == "responses") == 2


async def test_a_batch_needs_a_key_known_columns_and_its_own_wave(api, world):
    w = world
    contract, wave = await setup(api, w)
    url = f"/api/v1/contracts/{contract}/waves/{wave['id']}/responses"
    rows = paper(contract, {"pseudonym": pseudonyms(contract, 0)[0], **WHO5})
    problem_of(await api.post(url, json=rows, headers=w.headers("provider")), 422,
               "idempotency_key_required")
    headers = {**w.headers("provider"), "Idempotency-Key": "k-1"}
    r = await api.post(url, json=[{**rows[0], "name": "Jens Hansen"}], headers=headers)
    assert problem_of(r, 422, "unknown_columns")["errors"][0]["field"] == "name"
    csv = f"pseudonym,mode,submitted_on,cpr\nx,paper,{today()},0101901234\n"
    r = await api.post(url, content=csv.encode(),
                       headers={**headers, "content-type": "text/csv"})
    problem_of(r, 422, "unknown_columns")
    assert "0101901234" not in r.text
    # Another contract's wave, named under this contract, is not found.
    elsewhere, their_wave = await setup(api, w)
    r = await api.post(f"/api/v1/contracts/{contract}/waves/{their_wave['id']}/responses",
                       json=rows, headers=headers)
    problem_of(r, 404, "wave_not_found")
    r = await api.post(url, json=rows, headers={**w.headers("other_provider"),
                                                "Idempotency-Key": "k-1"})
    problem_of(r, 404, "wave_not_found")
    r = await api.post(url, json=rows, headers={**w.headers("commissioner"),
                                                "Idempotency-Key": "k-1"})
    problem_of(r, 403, "provider_only")
    assert await Response.count() == 0


# Who may do what ---------------------------------------------------------------------------


async def test_each_party_does_its_own_part_and_strangers_see_nothing(api, world):
    w = world
    contract, wave = await setup(api, w)
    body = {"title": "Exit", "instrument": "ons4", "timepoint": "exit",
            "opens_on": str(today()), "closes_on": str(today())}
    url = f"/api/v1/contracts/{contract}/waves"
    problem_of(await api.post(url, json=body, headers=w.headers("provider")), 403,
               "commissioner_only")
    problem_of(await api.post(url, json=body, headers=w.headers("auditor")), 403, "read_only")
    problem_of(await api.post(url, json=body, headers=w.headers("other_commissioner")), 404,
               "contract_not_found")
    invite = f"/api/v1/waves/{wave['id']}/invitations"
    some = {"pseudonyms": pseudonyms(contract, 0)}
    problem_of(await api.post(invite, json=some, headers=w.headers("commissioner")), 403,
               "provider_only")
    problem_of(await api.post(invite, json=some, headers=w.headers("other_provider")), 404,
               "wave_not_found")
    problem_of(await api.get(f"/api/v1/waves/{wave['id']}",
                             headers=w.headers("other_commissioner")), 404, "wave_not_found")
    for path in ("waves", "comments", "voice-deletions", "voice"):
        problem_of(await api.get(f"/api/v1/contracts/{contract}/{path}",
                                 headers=w.headers("other_provider")), 404,
                   "contract_not_found")
        assert (await api.get(f"/api/v1/contracts/{contract}/{path}",
                              headers=w.headers("auditor"))).status_code == 200, path
    problem_of(await api.post(f"/api/v1/waves/{wave['id']}/answer-back", json={
        "you_said": "abc", "we_did": "def"}, headers=w.headers("provider")), 403,
        "commissioner_only")
    deletion = {"pseudonym": pseudonyms(contract, 0)[0]}
    problem_of(await api.post(f"/api/v1/contracts/{contract}/voice-deletions", json=deletion,
                              headers=w.headers("auditor")), 403, "read_only")
    r = await api.post(f"/api/v1/contracts/{contract}/voice-deletions", json=deletion,
                       headers=w.headers("commissioner"))
    assert r.status_code == 201 and r.json()["responses"] == 0

    [link] = await links(api, w, contract, wave, 1)
    await api.post(f"/api/v1/answer/{token_of(link)}",
                   json={"answers": WHO5, "comment": "Tak"})
    [comment] = (await api.get(f"/api/v1/contracts/{contract}/comments",
                               headers=w.headers("auditor"))).json()
    moderation = f"/api/v1/comments/{comment['id']}/moderation"
    problem_of(await api.post(moderation, json={"status": "approved"},
                              headers=w.headers("provider")), 403, "commissioner_only")
    problem_of(await api.post(moderation, json={"status": "approved"},
                              headers=w.headers("other_commissioner")), 404,
               "comment_not_found")
    problem_of(await api.post(moderation, json={"status": "published"},
                              headers=w.headers("commissioner")), 400, "validation_error")
    # An auditor answering through a link is just someone with the link.
    [link] = await links(api, w, contract, wave, 2)
    r = await api.post(f"/api/v1/answer/{token_of(link)}", json={"answers": WHO5},
                       headers=w.headers("auditor"))
    assert r.status_code == 201, r.text


ITEM = {"code": "q1", "text": {"da": "Hvordan?", "nb": "Hvordan?", "en": "How?"},
        "minimum": 1, "maximum": 7}
LICENCE = "Licensed to the commissioner for its own contracts, 2026."


def instrument(**over) -> dict:
    return {"code": "wemwbs_x", "name": "A licensed scale", "licence": LICENCE,
            "attribution": "Its authors, with their permission.", "items": [ITEM],
            "scoring": "sum", "measure": {"code": "total", "minimum": 1, "maximum": 7,
                                          "name": {"da": "I alt", "nb": "I alt",
                                                   "en": "Total"}}, **over}


async def test_commissioners_add_licensed_instruments_their_own_alone_see(api, world):
    w = world
    url = "/api/v1/instruments"
    problem_of(await api.post(url, json=instrument(), headers=w.headers("provider")), 403,
               "commissioner_only")
    problem_of(await api.post(url, json=instrument(), headers=w.headers("auditor")), 403,
               "read_only")
    r = await api.post(url, json=instrument(), headers=w.headers("commissioner"))
    assert r.status_code == 201, r.text
    assert r.json()["owner_id"] == str(w.ids["commissioner"])
    problem_of(await api.post(url, json=instrument(), headers=w.headers("commissioner")),
               409, "instrument_exists")
    problem_of(await api.post(url, json=instrument(code="who5"),
                              headers=w.headers("commissioner")), 422, "instrument_exists")
    problem_of(await api.post(url, json=instrument(code="x2", items=[{**ITEM,
                              "code": "mode"}]), headers=w.headers("commissioner")), 422,
               "reserved_item_code")
    problem_of(await api.post(url, json=instrument(code="x3", items=[{**ITEM, "maximum": 1}]),
                              headers=w.headers("commissioner")), 422, "invalid_scale")
    mine = {i["code"] for i in (await api.get(url, headers=w.headers("commissioner"))).json()}
    theirs = {i["code"] for i in (await api.get(url, headers=w.headers(
        "other_commissioner"))).json()}
    assert "wemwbs_x" in mine and "wemwbs_x" not in theirs and "who5" in theirs
    # A wave of the commissioner's own instrument, and a batch answering its item.
    contract, wave = await setup(api, w, instrument="wemwbs_x")
    r = await api.post(f"/api/v1/contracts/{contract}/waves/{wave['id']}/responses",
                       json=paper(contract, {"anonymous": True, "q1": 6}),
                       headers={**w.headers("provider"), "Idempotency-Key": "own-1"})
    assert r.json()["accepted"] == 1, r.text


# Hostile input on the signed-in routes ----------------------------------------------------


def wave_body(**over) -> dict:
    return {"title": "T", "instrument": "who5", "timepoint": "exit",
            "opens_on": str(today()), "closes_on": str(today()), **over}


@pytest.mark.parametrize("body,status,code", [
    (b"{", 400, "malformed_request"),
    (b'{"title": 5}', 400, "validation_error"),
    (None, 400, "validation_error"),  # an unknown field
    ({"link_days": 10 ** 30}, 400, "validation_error"),
    ({"retention_days": -1}, 400, "validation_error"),
    ({"opens_on": "9999-12-31", "closes_on": "9999-12-31"}, 400, "validation_error"),
    ({"title": "Jens 010190-1234"}, 422, "personal_identifier"),
    ({"title": "T\u0000"}, 400, "invalid_character"),
    ({"timepoint": "days_after_enrolment"}, 422, "days_required"),
    ({"closes_on": "2000-01-01"}, 422, "wave_dates"),
    ({"instrument": "nope"}, 404, "instrument_not_found"),
    (b"[" * 100_000 + b"]" * 100_000, 400, "invalid_json"),
])
async def test_hostile_wave_bodies_are_4xx_problems(api, world, body, status, code):
    w = world
    contract = await active_contract(w)
    url = f"/api/v1/contracts/{contract}/waves"
    headers = {**w.headers("commissioner"), "content-type": "application/json"}
    if isinstance(body, dict):
        r = await api.post(url, json=wave_body(**body), headers=headers)
    elif body is None:
        r = await api.post(url, json={**wave_body(), "cpr": "x"}, headers=headers)
    else:
        r = await api.post(url, content=body, headers=headers)
    problem_of(r, status, code)
    assert await SurveyWave.count() == 0


@pytest.mark.parametrize("body,status,code", [
    ({"pseudonyms": []}, 400, "validation_error"),
    ({"pseudonyms": "vp-1"}, 400, "validation_error"),
    ({"pseudonyms": [["vp-1"]]}, 400, "validation_error"),
    ({"pseudonyms": ["x" * 201]}, 400, "validation_error"),
    ({"pseudonyms": ["vp\u00001"]}, 400, "invalid_character"),
    ({"pseudonyms": ["vp-1"], "phone": "12345678"}, 400, "validation_error"),
    ({"pseudonyms": [f"p{i}" for i in range(10_001)]}, 400, "validation_error"),
])
async def test_hostile_requests_for_links_are_4xx_problems(api, world, body, status, code):
    w = world
    contract, wave = await setup(api, w)
    r = await api.post(f"/api/v1/waves/{wave['id']}/invitations", json=body,
                       headers=w.headers("provider"))
    problem_of(r, status, code)
    assert await Invitation.count() == 0


async def test_ten_thousand_pseudonyms_fit_in_one_request(api, world):
    w = world
    contract, wave = await setup(api, w)
    names = pseudonyms(contract, 0) + [f"unknown-{i:05d}-" + "x" * 150 for i in range(9_999)]
    r = await api.post(f"/api/v1/waves/{wave['id']}/invitations",
                       json={"pseudonyms": names}, headers=w.headers("provider"))
    assert r.status_code == 201, r.text[:500]
    assert (r.json()["rows"], r.json()["created"]) == (10_000, 1)


@pytest.mark.parametrize("query", ["status=published", "wave_id=not-a-uuid", "status=%00",
                                   "wave_id=" + "9" * 500])
async def test_bad_comment_filters_are_400(api, world, query):
    w = world
    contract, _ = await setup(api, w)
    r = await api.get(f"/api/v1/contracts/{contract}/comments?{query}",
                      headers=w.headers("commissioner"))
    problem_of(r, 400, "validation_error", "invalid_character")


@pytest.mark.parametrize("path", [
    "/api/v1/waves/not-a-uuid", "/api/v1/waves/%00",
    "/api/v1/waves/0b1e6c52-3f0e-4d8a-9a51-6f7d2f0c9e11",
    "/api/v1/comments/5d2a8e07-41c9-4b6e-8f3a-2c9b7e6d1a40/moderation",
])
async def test_unknown_or_garbled_ids_are_404(api, world, path):
    w = world
    if path.endswith("moderation"):
        r = await api.post(path, json={"status": "approved"},
                           headers=w.headers("commissioner"))
    else:
        r = await api.get(path, headers=w.headers("commissioner"))
    problem_of(r, 404, "not_found", "wave_not_found", "comment_not_found")
