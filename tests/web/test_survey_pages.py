"""Citizen voice in the web UI: the contract's waves and results for each of its parties,
the commissioner opening waves, adding a licensed instrument, moderating comments (HTMX and
plain posts), answering back and deleting on request; the provider asking for links (shown
once) and recording answers from a CSV; the auditor reading; and the panel on the contract
overview, the provider's and the auditor's pages."""

from __future__ import annotations

import datetime as dt
import re

import lxml.html
import msgspec

from core.clock import now
from tests.effect_data import people
from tests.helpers import active_contract, principal
from tests.web.helpers import csrf, fragment, post_form, sign_in
from voice import service
from voice.schemas import AnswerIn, InvitationsIn, WaveIn
from voice.tables import Invitation

WHO5 = {"cheerful": 3, "calm": 2, "active": 4, "rested": 1, "interest": 5}
RELATIONAL = {"contact_person": 1, "asked_what_matters": 1, "helped": 8}
LINK = re.compile(r"https?://[^\s<\"]+/voice/([A-Za-z0-9_-]{20,})")


def today() -> dt.date:
    return now().date()


def html(r):
    return lxml.html.fromstring(r.text)


def text(el) -> str:
    return " ".join(el.text_content().split()).replace("\xa0", " ")


def field_error(page, name: str) -> str:
    """The problem shown beside the form field `name`."""
    found = page.xpath(f"//*[@name='{name}']/ancestor::div[contains(@class,'field')][1]"
                       "//p[@class='field-error']")
    return " ".join(text(e) for e in found)


async def contract_with_people(w, n: int = 8):
    cid = await active_contract(w)
    await people(cid, n=n, achieved=0, enrolled_on=today() - dt.timedelta(days=100),
                 metric_code="employment", prefix="vp")
    return cid


async def wave(w, cid, instrument: str = "who5", title: str = "Six months in"):
    body = {"title": title, "instrument": instrument, "timepoint": "enrolment",
            "opens_on": str(today() - dt.timedelta(days=1)),
            "closes_on": str(today() + dt.timedelta(days=30))}
    return await service.create_wave(principal(w.ids["commissioner"], "commissioner"), cid,
                                     msgspec.convert(body, WaveIn))


async def answered(w, wave_id, pseudonyms: list[str], comments: dict[int, str] | None = None,
                   anonymous: int = 0, answers: dict | None = None):
    """Links for `pseudonyms`, each answered with `answers` (WHO5's by default; the first
    `anonymous` of them anonymously; `comments` by position)."""
    report = await service.invite(principal(w.ids["provider"], "provider"), wave_id,
                                  InvitationsIn(pseudonyms=pseudonyms), "https://v.example")
    for i, row in enumerate(report.results):
        token = row.link.rsplit("/", 1)[1]
        await service.answer(token, AnswerIn(answers=answers or WHO5, anonymous=i < anonymous,
                                             comment=(comments or {}).get(i)))


# The commissioner ---------------------------------------------------------------------------


async def test_a_commissioner_opens_a_wave_with_problems_shown_beside_their_fields(api, world):
    w = world
    cid = await contract_with_people(w)
    await sign_in(api, w.ids["commissioner"], "commissioner")
    r = await api.get(f"/contracts/{cid}/voice")
    assert r.status_code == 200, r.text
    page = html(r)
    assert "No survey wave yet" in text(page.xpath("//main")[0])
    assert "never triggers, changes or delays a payment" in r.text
    assert page.xpath(f"//a[@href='/contracts/{cid}/voice/waves/new']")

    r = await api.get(f"/contracts/{cid}/voice/waves/new")
    assert r.status_code == 200, r.text
    page = html(r)
    codes = page.xpath("//select[@name='instrument']//option/@value")
    assert {"who5", "ons4", "gas", "relational"} <= set(codes)
    assert "Public domain; the source must be named." in r.text  # the licence, stated

    # What cannot be read is refused beside its field, and what was typed is kept.
    r = await post_form(api, f"/contracts/{cid}/voice/waves", {
        "title": "", "instrument": "who5", "timepoint": "days_after_enrolment", "days": "abc",
        "opens_on": "2026-13-01", "closes_on": str(today()), "link_days": "900",
        "retention_days": "365"})
    assert r.status_code == 422, r.text
    page = html(r)
    assert "Fill this in" in field_error(page, "title")
    assert "whole number" in field_error(page, "days")
    assert "YYYY-MM-DD" in field_error(page, "opens_on")
    assert "From 1 to 365" in field_error(page, "link_days")
    assert page.xpath("//input[@name='days']/@value") == ["abc"]
    assert page.xpath("//input[@name='timepoint'][@checked]/@value") == ["days_after_enrolment"]
    # What the service refuses too: a wave that closes before it opens; days missing.
    r = await post_form(api, f"/contracts/{cid}/voice/waves", {
        "title": "At exit", "instrument": "who5", "timepoint": "days_after_enrolment",
        "days": "", "opens_on": str(today()), "closes_on": str(today() - dt.timedelta(days=3)),
        "link_days": "30", "retention_days": "365"})
    assert r.status_code == 422, r.text
    page = html(r)
    assert "closes on or after the day it opens" in field_error(page, "closes_on")
    assert "how many days after enrolment" in field_error(page, "days")

    r = await post_form(api, f"/contracts/{cid}/voice/waves", {
        "title": "Six months in", "instrument": "who5", "timepoint": "enrolment", "days": "",
        "opens_on": str(today() - dt.timedelta(days=1)),
        "closes_on": str(today() + dt.timedelta(days=30)), "link_days": "30",
        "retention_days": "365"})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/contracts/{cid}/voice?done=opened"
    r = await api.get(r.headers["location"])
    page = html(r)
    assert "The survey wave is open" in text(page.xpath("//p[@class='flash']")[0])
    row = page.xpath("//tr[@class='voice-wave']")[0]
    assert "Six months in" in text(row) and "WHO-5" in text(row) and "open" in text(row)
    assert "at enrolment" in text(row)


async def test_the_response_rate_and_scores_with_intervals_and_fewer_than_k_hidden(api, world):
    w = world
    cid = await contract_with_people(w)
    big = await wave(w, cid)
    small = await wave(w, cid, "relational", "How you were met")
    await answered(w, big.id, [f"vp-{i}" for i in range(6)], anonymous=1)
    report = await service.invite(principal(w.ids["provider"], "provider"), big.id,
                                  InvitationsIn(pseudonyms=["vp-6", "vp-7"]), "https://v.example")
    assert report.created == 2  # 8 links, 6 answers
    await answered(w, small.id, ["vp-0", "vp-1"], answers=RELATIONAL)
    await sign_in(api, w.ids["commissioner"], "commissioner")
    r = await api.get(f"/contracts/{cid}/voice")
    assert r.status_code == 200, r.text
    page = html(r)
    row = page.xpath(f"//tr[@data-wave='{big.id}']")[0]
    cells = [text(td) for td in row.xpath("./td")]
    assert cells[3:5] == ["8", "6"]
    assert cells[5].startswith("75 %") and re.search(r"\(\d+ %–\d+ %\)", cells[5])
    result = page.xpath(f"//section[@id='wave-{big.id}']")[0]
    assert "fewer than 5 answered anonymously" in text(result)  # one did
    index = result.xpath(".//tr[@data-measure='index']")[0]
    # WHO-5: (3+2+4+1+5) × 4 = 60 for everyone; the interval collapses onto it.
    assert text(index.xpath("./td")[-1]).startswith("60.0")
    assert text(index.xpath("./td")[1]) == "6"
    # Two answers: no score is shown, for anyone.
    tiny = page.xpath(f"//section[@id='wave-{small.id}']")[0]
    assert "fewer than 5" in text(tiny)
    assert not re.search(r"\d+ %", text(tiny.xpath(".//table[@class='measures']/tbody")[0]))
    # The attributions and the statement that voice never pays.
    assert "World Health Organization" in r.text
    assert "never triggers, changes or delays a payment" in r.text
    # The overview shows the same, shorter, with a link here.
    r = await api.get(f"/contracts/{cid}")
    page = html(r)
    panel = page.xpath("//section[@class='voice-panel']")[0]
    row = panel.xpath(f".//tr[@data-wave='{big.id}']")[0]
    assert [text(td) for td in row.xpath("./td")][1:3] == ["8", "6"]
    assert "75 %" in text(row) and "60.0" in text(row)
    assert panel.xpath(f".//a[@href='/contracts/{cid}/voice']")


async def test_each_party_sees_its_own_work_and_nobody_else_sees_anything(api, world):
    w = world
    cid = await contract_with_people(w)
    made = await wave(w, cid)
    await answered(w, made.id, ["vp-0"], comments={0: "Godt forløb"})
    links = f"/contracts/{cid}/voice/waves/{made.id}/links"
    answers = f"/contracts/{cid}/voice/waves/{made.id}/answers"
    back = f"/contracts/{cid}/voice/waves/{made.id}/answer-back"
    comment = (await service.comments(principal(w.ids["commissioner"], "commissioner"),
                                      cid))[0]

    await sign_in(api, w.ids["provider"], "provider")
    r = await api.get(f"/contracts/{cid}/voice")
    assert r.status_code == 200
    page = html(r)
    assert page.xpath(f"//a[@href='{links}']") and page.xpath(f"//a[@href='{answers}']")
    assert not page.xpath(f"//a[@href='/contracts/{cid}/voice/waves/new']")
    assert not page.xpath(f"//a[@href='{back}']")
    for path in (f"/contracts/{cid}/voice/waves/new", back,
                 f"/contracts/{cid}/voice/instruments/new"):
        assert (await api.get(path)).status_code == 403, path
    r = await post_form(api, f"/contracts/{cid}/voice/waves", {
        "title": "Mine", "instrument": "who5", "timepoint": "exit",
        "opens_on": str(today()), "closes_on": str(today())})
    assert r.status_code == 403 and "You may not do this" in r.text
    r = await post_form(api, f"/contracts/{cid}/voice/comments/{comment.id}",
                        {"status": "approved"})
    assert r.status_code == 403
    r = await api.get(f"/contracts/{cid}/voice/comments")
    assert "Godt forløb" in r.text and not html(r).xpath("//form[@class='moderation']")

    await sign_in(api, w.ids["commissioner"], "commissioner")
    for path in (links, answers):
        assert (await api.get(path)).status_code == 403, path
    assert (await post_form(api, links, {"pseudonyms": "vp-1"})).status_code == 403

    await sign_in(api, w.ids["auditor"], "auditor")
    r = await api.get(f"/contracts/{cid}/voice")
    assert r.status_code == 200 and "Six months in" in r.text
    page = html(r)
    assert not page.xpath(f"//a[@href='{links}' or @href='{back}']")
    assert "nothing here can be changed from an auditor's account" in r.text
    r = await api.get(f"/contracts/{cid}/voice/comments")
    assert r.status_code == 200 and not html(r).xpath("//form[@class='moderation']")
    r = await api.get(f"/contracts/{cid}/voice/deletions")
    assert r.status_code == 200 and not html(r).xpath("//input[@name='pseudonym']")
    r = await post_form(api, f"/contracts/{cid}/voice/deletions",
                        {"pseudonym": "vp-0", "confirm": "yes"})
    assert r.status_code == 403
    assert (await post_form(api, f"/contracts/{cid}/voice/comments/{comment.id}",
                            {"status": "rejected"})).status_code == 403

    await sign_in(api, w.ids["other_commissioner"], "commissioner")
    for path in (f"/contracts/{cid}/voice", f"/contracts/{cid}/voice/comments",
                 f"/contracts/{cid}/voice/deletions", back):
        assert (await api.get(path)).status_code == 404, path


# The provider -----------------------------------------------------------------------------


async def test_links_are_shown_once_and_never_again(api, world, db):
    w = world
    cid = await contract_with_people(w)
    made = await wave(w, cid)
    path = f"/contracts/{cid}/voice/waves/{made.id}/links"
    await sign_in(api, w.ids["provider"], "provider")
    r = await api.get(path)
    assert r.status_code == 200 and "shown once" in r.text
    assert not LINK.search(r.text)

    r = await post_form(api, path, {"pseudonyms": "", "format": "page"})
    assert r.status_code == 422
    assert "at least one pseudonym" in field_error(html(r), "pseudonyms")

    r = await post_form(api, path, {"pseudonyms": "pseudonym\nvp-0\nvp-1\nnobody\nvp-1\n",
                                    "format": "page"})
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    tokens = LINK.findall(r.text)
    page = html(r)
    rows = page.xpath("//tr[contains(@class,'link-row')]")
    assert [text(tr.xpath("./th")[0]) for tr in rows] == ["vp-0", "vp-1", "nobody", "vp-1"]
    made_links = {t for t in tokens}
    assert len(made_links) == 2
    assert "No participant has this pseudonym" in text(rows[2])
    assert "already in the list" in text(rows[3])
    assert "Copy the links now" in r.text
    # Each link opens the questionnaire; Virker kept a hash, not the token.
    for token in made_links:
        assert (await service.questionnaire(token, "en")).wave_id == made.id
    stored = str(await Invitation.select().where(Invitation.wave == made.id))
    assert not any(token in stored for token in made_links)
    # A second visit shows the form, and no link.
    r = await api.get(path)
    assert r.status_code == 200 and not LINK.search(r.text)
    r = await api.get(f"/contracts/{cid}/voice")
    assert not any(token in r.text for token in made_links)
    assert "2" in text(html(r).xpath(f"//tr[@data-wave='{made.id}']/td")[3])

    # A wave that has not opened gives no link.
    later = await service.create_wave(
        principal(w.ids["commissioner"], "commissioner"), cid, msgspec.convert(
            {"title": "Later", "instrument": "who5", "timepoint": "exit",
             "opens_on": str(today() + dt.timedelta(days=3)),
             "closes_on": str(today() + dt.timedelta(days=30))}, WaveIn))
    r = await post_form(api, f"/contracts/{cid}/voice/waves/{later.id}/links",
                        {"pseudonyms": "vp-4", "format": "page"})
    assert r.status_code == 409 and not LINK.search(r.text)
    assert "only while the wave is open" in field_error(html(r), "pseudonyms")

    # As a CSV file, made in the same answer.
    r = await post_form(api, path, {"pseudonyms": "vp-2\nvp-3\n=cmd", "format": "csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    lines = r.text.strip().splitlines()
    assert lines[0] == "pseudonym,link,expires_on,problem"
    assert lines[1].startswith("vp-2,") and LINK.search(lines[1])
    assert lines[1].endswith(f",{min(today() + dt.timedelta(days=30), made.closes_on)},")
    assert lines[3].startswith("'=cmd,,,\"invalid_pseudonym")  # never read as a formula


async def test_a_provider_records_answers_from_a_csv_and_sees_each_row(api, world):
    w = world
    cid = await contract_with_people(w)
    made = await wave(w, cid)
    path = f"/contracts/{cid}/voice/waves/{made.id}/answers"
    await sign_in(api, w.ids["provider"], "provider")
    r = await api.get(path)
    assert r.status_code == 200
    assert "I have felt cheerful and in good spirits" in r.text  # the item of each column
    r = await api.get(path.replace("/answers", "/answers.csv"))
    assert r.text.strip() == ("pseudonym,anonymous,mode,submitted_on,comment,cheerful,calm,"
                              "active,rested,interest")
    d = today().isoformat()
    body = ("pseudonym,anonymous,mode,submitted_on,comment,cheerful,calm,active,rested,"
            "interest\n"
            f"vp-0,false,paper,{d},Ring til Mette på 22 33 44 55,3,2,4,1,5\n"
            f",true,conversation,{d},,3,2,4,1,5\n"
            f"vp-1,false,paper,{d},,9,2,4,1,5\n"
            f"nobody,false,paper,{d},,3,2,4,1,5\n").encode()
    upload = {"file": ("answers.csv", body, "text/csv")}
    r = await api.post(path, data={"_csrf_token": csrf(api)}, files=upload)
    assert r.status_code == 201, r.text
    page = html(r)
    assert "4 rows: 2 recorded, 2 refused" in text(page.xpath("//p[@class='summary']")[0])
    rows = page.xpath("//table[@class='answer-report']/tbody/tr")
    assert [tr.get("class") for tr in rows] == ["row-accepted", "row-accepted",
                                                 "row-rejected", "row-rejected"]
    assert "anonymous" in text(rows[1])
    assert "cheerful" in text(rows[2]) and "answer_out_of_range" in text(rows[2])
    assert "No participant has this pseudonym" in text(rows[3])
    # The same file again: its first report, nothing recorded twice.
    r = await api.post(path, data={"_csrf_token": csrf(api)}, files=upload)
    assert r.status_code == 200 and "was sent before" in r.text
    assert (await service.get_wave(principal(w.ids["provider"], "provider"),
                                   made.id)).responses == 2
    # Nothing chosen; columns Virker does not take.
    r = await api.post(path, data={"_csrf_token": csrf(api)})
    assert r.status_code == 422 and "Choose a CSV file" in r.text
    r = await api.post(path, data={"_csrf_token": csrf(api)},
                       files={"file": ("x.csv", b"name,cpr\nAnna,1\n", "text/csv")})
    assert r.status_code == 422 and "Nothing was recorded" in r.text


async def test_the_provider_pages_list_the_waves_with_their_work(api, world):
    w = world
    cid = await contract_with_people(w)
    made = await wave(w, cid)
    await sign_in(api, w.ids["provider"], "provider")
    r = await api.get(f"/provider/contracts/{cid}")
    assert r.status_code == 200, r.text
    page = html(r)
    row = page.xpath(f"//tr[@data-wave='{made.id}']")[0]
    assert "Six months in" in text(row)
    assert row.xpath(f".//a[@href='/contracts/{cid}/voice/waves/{made.id}/links']")
    assert row.xpath(f".//a[@href='/contracts/{cid}/voice/waves/{made.id}/answers']")
    await sign_in(api, w.ids["auditor"], "auditor")
    r = await api.get(f"/audit/contracts/{cid}")
    assert html(r).xpath(f"//a[@href='/contracts/{cid}/voice']")


# Comments, answering back, deletion --------------------------------------------------------


async def test_comments_are_moderated_with_htmx_and_without(api, world):
    w = world
    cid = await contract_with_people(w)
    made = await wave(w, cid)
    await answered(w, made.id, ["vp-0", "vp-1", "vp-2"],
                   comments={0: "Min kontakt ringer på 22 33 44 55", 1: "Det hjalp meget",
                             2: "Alt for lang ventetid"}, anonymous=1)
    await sign_in(api, w.ids["commissioner"], "commissioner")
    r = await api.get(f"/contracts/{cid}/voice")
    assert "Moderate comments (3 waiting)" in r.text
    r = await api.get(f"/contracts/{cid}/voice/comments")
    assert r.status_code == 200
    page = html(r)
    rows = page.xpath("//tr[@class='comment']")
    assert len(rows) == 3
    assert "22 33 44 55" not in r.text  # masked before it was kept
    assert sum("anonymous" in text(tr) for tr in rows) == 1
    first = rows[0]
    comment_id = first.get("id").removeprefix("comment-")
    action = f"/contracts/{cid}/voice/comments/{comment_id}"
    form = first.xpath(".//form")[0]
    assert form.get("action") == action and form.get("hx-post") == action

    # With HTMX: the list comes back; the comment has left the queue, the counts follow.
    r = await post_form(api, action, {"status": "approved", "back": "pending"}, htmx=True)
    assert r.status_code == 200, r.text
    assert "<html" not in r.text
    listed = html(r)
    assert listed.get("id") == "comments"
    assert "The comment is approved" in text(listed.xpath(".//p[@class='flash']")[0])
    assert not listed.xpath(f".//tr[@id='comment-{comment_id}']")
    assert len(listed.xpath(".//tr[@class='comment']")) == 2
    tabs = {a.get("href").split("status=")[1]: text(a) for a in listed.xpath(".//ul/li/a")}
    assert tabs["approved"].endswith("1") and tabs["pending"].endswith("2")
    r = await api.get(f"/contracts/{cid}/voice/comments?status=approved")
    row = html(r).xpath(f"//tr[@id='comment-{comment_id}']")[0]
    assert "approved" in text(row) and "Approve" not in text(row) and "Reject" in text(row)
    assert "@virker.example" in text(row) and "user:" not in text(row)  # who decided

    # Without JavaScript: the form posts, and the list comes back with what was done.
    second = rows[1].get("id").removeprefix("comment-")
    r = await post_form(api, f"/contracts/{cid}/voice/comments/{second}",
                        {"status": "rejected", "back": "pending"})
    assert r.status_code == 303
    assert r.headers["location"].startswith(
        f"/contracts/{cid}/voice/comments?status=pending&done=rejected")
    r = await api.get(r.headers["location"])
    page = html(r)
    assert "The comment is rejected" in text(page.xpath("//p[@class='flash']")[0])
    assert len(page.xpath("//tr[@class='comment']")) == 1  # one still waiting
    r = await api.get(f"/contracts/{cid}/voice/comments?status=approved")
    assert len(html(r).xpath("//tr[@class='comment']")) == 1
    # The filter by wave comes as a fragment for HTMX.
    r = await fragment(api, f"/contracts/{cid}/voice/comments?status=all&wave={made.id}")
    assert r.status_code == 200 and "<html" not in r.text
    assert len(html(r).xpath("//tr[@class='comment']")) == 3
    r = await post_form(api, action, {"status": "deleted"})
    assert r.status_code == 422
    # Another contract's address for the comment finds nothing.
    other = await active_contract(w)
    r = await post_form(api, f"/contracts/{other}/voice/comments/{comment_id}",
                        {"status": "rejected"})
    assert r.status_code == 404


async def test_you_said_we_did_is_published_per_wave(api, world):
    w = world
    cid = await contract_with_people(w)
    made = await wave(w, cid)
    path = f"/contracts/{cid}/voice/waves/{made.id}/answer-back"
    await sign_in(api, w.ids["commissioner"], "commissioner")
    r = await api.get(path)
    assert r.status_code == 200
    r = await post_form(api, path, {"you_said": "ok", "we_did": ""})
    assert r.status_code == 422
    page = html(r)
    assert "at least a sentence" in field_error(page, "you_said")
    assert "at least a sentence" in field_error(page, "we_did")
    assert page.xpath("//textarea[@name='you_said']/text()") == ["ok"]
    r = await post_form(api, path, {
        "you_said": "Waiting times were too long; call Anna on 22 33 44 55.",
        "we_did": "We opened a drop-in every Tuesday."})
    assert r.status_code == 303
    r = await api.get(r.headers["location"])
    card = html(r).xpath(f"//section[@id='wave-{made.id}']//div[contains(@class,'you-said')]")
    assert card and "drop-in every Tuesday" in text(card[0])
    assert "22 33 44 55" not in r.text  # masked, as every reason is


async def test_a_participants_answers_are_deleted_on_request_and_the_deletion_recorded(
        api, world):
    w = world
    cid = await contract_with_people(w)
    made = await wave(w, cid)
    await answered(w, made.id, ["vp-0", "vp-1"])
    path = f"/contracts/{cid}/voice/deletions"
    await sign_in(api, w.ids["commissioner"], "commissioner")
    r = await api.get(path)
    assert r.status_code == 200 and "No deletion yet" in r.text
    r = await post_form(api, path, {"pseudonym": "vp-0"})
    assert r.status_code == 422
    assert "Tick the box" in field_error(html(r), "confirm")
    assert html(r).xpath("//input[@name='pseudonym']/@value") == ["vp-0"]
    r = await post_form(api, path, {"pseudonym": "nobody", "confirm": "yes"})
    assert r.status_code == 404
    assert "No participant has this pseudonym" in field_error(html(r), "pseudonym")
    r = await post_form(api, path, {"pseudonym": "vp-0", "confirm": "yes"})
    assert r.status_code == 201, r.text
    page = html(r)
    done = page.xpath("//div[contains(@class,'deleted')]")[0]
    assert "1 answer of vp-0 is deleted" in text(done)
    record = page.xpath("//table[@class='deletions']/tbody/tr")
    assert len(record) == 1 and "vp-0" in text(record[0])
    assert (await service.get_wave(principal(w.ids["commissioner"], "commissioner"),
                                   made.id)).responses == 1
    await sign_in(api, w.ids["auditor"], "auditor")
    r = await api.get(path)
    assert "vp-0" in text(html(r).xpath("//table[@class='deletions']")[0])


async def test_a_commissioner_adds_a_licensed_instrument_and_opens_a_wave_with_it(api, world):
    w = world
    cid = await contract_with_people(w)
    await sign_in(api, w.ids["commissioner"], "commissioner")
    path = f"/contracts/{cid}/voice/instruments"
    form = {"code": "swemwbs-7", "name": "SWEMWBS (7 items)",
            "licence": "Licensed to the municipality by Warwick Medical School until 2028.",
            "attribution": "SWEMWBS © University of Warwick 2006, all rights reserved.",
            "scoring": "sum", "factor": "1", "measure_da": "Mentalt velbefindende",
            "measure_nb": "Mental velvære", "measure_en": "Mental well-being",
            "better": "higher",
            "items": ("optimistic | 1 | 5 | Jeg har følt mig optimistisk | Jeg har følt meg "
                      "optimistisk | I've been feeling optimistic\n"
                      "useful | 1 | five | Nyttig | Nyttig | Useful\n"
                      "relaxed | 1 | 5 | Afslappet | Avslappet\n")}
    r = await post_form(api, path, form)
    assert r.status_code == 422, r.text
    said = field_error(html(r), "items")
    assert "Line 3" in said and "whole number" in said
    form["items"] = ("optimistic | 1 | 5 | Jeg har følt mig optimistisk | Jeg har følt meg "
                     "optimistisk | I've been feeling optimistic\n"
                     "useful | 1 | 5 | Jeg har følt mig nyttig | Jeg har følt meg nyttig | "
                     "I've been feeling useful\n")
    r = await post_form(api, path, form)
    assert r.status_code == 303, r.text
    r = await api.get(r.headers["location"])
    page = html(r)
    assert "The instrument is added" in r.text
    chosen = page.xpath("//select[@name='instrument']//option[@selected]")
    assert [o.get("value") for o in chosen] == ["swemwbs-7"]
    assert chosen[0].getparent().get("label") == "Licensed by your organisation"
    assert "Warwick Medical School" in r.text
    # The code is taken now: said beside the code.
    r = await post_form(api, path, form)
    assert r.status_code == 409
    assert "code is taken" in field_error(html(r), "code")
    # A provider has none of this.
    await sign_in(api, w.ids["provider"], "provider")
    assert (await post_form(api, path, form)).status_code == 403


async def test_the_pages_speak_danish_with_danish_formats(api, world):
    w = world
    cid = await contract_with_people(w)
    made = await wave(w, cid)
    await answered(w, made.id, [f"vp-{i}" for i in range(5)])
    await sign_in(api, w.ids["commissioner"], "commissioner", lang="da")
    r = await api.get(f"/contracts/{cid}/voice")
    assert r.status_code == 200
    page = html(r)
    assert page.xpath("//html/@lang") == ["da"]
    assert "Borgernes stemme" in text(page.xpath("//h1")[0])
    row = page.xpath(f"//tr[@data-wave='{made.id}']")[0]
    assert "100 %" in text(row) and "ved indskrivning" in text(row)
    index = page.xpath(f"//section[@id='wave-{made.id}']//tr[@data-measure='index']")[0]
    assert text(index.xpath("./td")[-1]).startswith("60,0")
    assert "Den udløser, ændrer eller udskyder aldrig en betaling." in r.text
