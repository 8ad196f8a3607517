"""The public "what works" pages, read without an account, on both engines: the outcomes
with public contracts, an outcome's contracts listed by reference with their prices, rates
with intervals, the funnel plot and what participants said, as HTML, CSV and JSON with the
same numbers as the staff comparison gives a reader who is party to none of the contracts;
the Atom feed; nothing private anywhere, small cells suppressed; the page's language. And a
commissioner's page deciding what of a contract is public."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import lxml.html
import msgspec

from api.web import i18n
from core.clock import now
from opendata import publication
from opendata.publication import PARTS, PublicationIn
from outcomes.tables import Participant
from tests import effect_data as data
from tests.helpers import key, org, principal
from tests.web.helpers import post_form, sign_in
from voice import service as voice
from voice.schemas import AnswerBackIn, AnswerIn, InvitationsIn, WaveIn

M = "ips_employment"
CATEGORY = "employment.entry"
ATOM = "{http://www.w3.org/2005/Atom}"
EVERYTHING = dict.fromkeys(PARTS, "public")
WHO5 = {"cheerful": 3, "calm": 3, "active": 4, "rested": 2, "interest": 4}  # index 64
# P-1's price (12,345 kr.) is private: it must not be written anywhere, in any form.
PRIVATE_PRICE = re.compile(r"12[,.\u00a0\u202f ]345|12345\.00|1234500")
YOU_SAID = "The meetings were too far away from where you live."
WE_DID = "We now meet you at the library in your own town."


def today() -> dt.date:
    return now().date()


async def publish(commissioner, cid, parts: dict[str, str]) -> None:
    await publication.decide(principal(commissioner, "commissioner"), cid,
                             PublicationIn(parts=parts))


async def answer(provider, wave_id, pseudonyms: list[str], answers: dict) -> None:
    report = await voice.invite(principal(provider, "provider"), wave_id,
                                InvitationsIn(pseudonyms=pseudonyms), "https://virker.example")
    assert report.rejected == 0, report
    for row in report.results:
        await voice.answer(row.link.rsplit("/", 1)[1], AnswerIn(answers=answers))


async def published() -> SimpleNamespace:
    """The field of tests/effect_data.py (R-1 to R-7) and S-9 (3 of 40 achieved: a small
    cell), commissioned by Y and published in full; P-1, priced at 12,345 kr., published
    without its rate card; Q-1 of X, whose contract is private (its rate card public, which
    shows nothing). R-1 asked its participants twice: six answered WHO-5 (with Y's "you
    said, we did"), three the relational questions."""
    await data.metric(M, CATEGORY)
    x = await org("municipality", "Municipality X")
    y = await org("municipality", "Municipality Y")
    field = await data.field(M, {}, y)
    long_ago = today() - dt.timedelta(days=200)
    s9_provider = await org("ngo", "Provider S-9")
    s9 = await data.contract(y, s9_provider, M, reference="S-9", line=dict(data.FIELD_LINE))
    await data.people(s9, n=40, achieved=3, enrolled_on=long_ago, metric_code=M,
                      organisation=s9_provider)
    p1_provider = await org("ngo", "Provider P-1")
    p1 = await data.contract(y, p1_provider, M, price=12_345, reference="P-1",
                             line=dict(data.FIELD_LINE))
    await data.people(p1, n=50, achieved=15, enrolled_on=long_ago, metric_code=M,
                      price=12_345, organisation=p1_provider)
    q1_provider = await org("ngo", "Secret Provider Q-1")
    q1 = await data.contract(x, q1_provider, M, price=54_321, reference="Q-1",
                             line=dict(data.FIELD_LINE))
    await data.people(q1, n=10, achieved=0, enrolled_on=today(), metric_code=M,
                      organisation=q1_provider)
    for delivery in field.values():
        await publish(y, delivery.contract_id, EVERYTHING)
    await publish(y, s9, EVERYTHING)
    await publish(y, p1, {**EVERYTHING, "rate_card": "private"})
    await publish(x, q1, {"rate_card": "public", "results": "public"})

    # R-1's participants speak (enrolled today: its effect figures do not change).
    r1 = field["R-1"]
    await data.people(r1.contract_id, n=9, achieved=0, enrolled_on=today(), metric_code=M,
                      organisation=r1.provider_id, prefix="zz-voice")
    boss = principal(y, "commissioner")
    days = {"opens_on": str(today() - dt.timedelta(days=1)),
            "closes_on": str(today() + dt.timedelta(days=30))}
    well = await voice.create_wave(boss, r1.contract_id, msgspec.convert(
        {"title": "Well-being at the start", "instrument": "who5", "timepoint": "enrolment",
         **days}, WaveIn))
    few = await voice.create_wave(boss, r1.contract_id, msgspec.convert(
        {"title": "Three answers", "instrument": "relational", "timepoint": "enrolment",
         **days}, WaveIn))
    await answer(r1.provider_id, well.id, [f"zz-voice-{i}" for i in range(6)], WHO5)
    await answer(r1.provider_id, few.id, [f"zz-voice-{i}" for i in range(6, 9)],
                 {"contact_person": 1, "helped": 9})
    await voice.answer_back(boss, well.id, AnswerBackIn(you_said=YOU_SAID, we_did=WE_DID))

    z = await org("municipality", "Municipality Z")
    return SimpleNamespace(field=field, x=x, y=y, s9=s9, p1=p1, q1=q1,
                           z_h={"Authorization": f"Bearer {await key(z)}"})


def page(r) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(r.text)


def text(el) -> str:
    return " ".join(el.text_content().split()).replace("\xa0", " ").replace("\u202f", " ")


def cells(doc, reference: str) -> dict[str, str]:
    """The table row of a contract: each cell's text by its label."""
    row = doc.xpath(f"//tr[@id='contract-{reference}']")
    assert row, f"no row for {reference}"
    return {td.get("data-label"): text(td) for td in row[0].xpath("./td")}


def csv_rows(r) -> dict[str, dict[str, str]]:
    return {row["reference"]: row for row in csv.DictReader(io.StringIO(r.text))}


def _shown(value) -> str:
    return "" if value is None else str(value)


async def everything_public(api) -> dict[str, str]:
    """Every public answer an anonymous reader can get, by its address."""
    api.cookies.clear()
    out = {}
    for path in ("/what-works", f"/what-works/{M}", f"/what-works/{CATEGORY}",
                 f"/what-works/{M}.csv", f"/what-works/{M}.json",
                 f"/what-works/{CATEGORY}.csv", f"/what-works/{CATEGORY}.json",
                 "/what-works/feed.atom", "/api/v1/what-works", f"/api/v1/what-works/{M}",
                 f"/what-works/{M}?lang=da"):
        r = await api.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        out[path] = r.text
    return out


# The pages -----------------------------------------------------------------------------------


async def test_a_visitor_finds_the_outcomes_with_public_contracts(api, db):
    await published()
    api.cookies.clear()
    r = await api.get("/what-works")
    assert r.status_code == 200, r.text
    doc = page(r)
    assert text(doc.xpath("//h1")[0]) == "What works"
    # Nobody is signed in: the page offers to, and shows no staff navigation.
    assert doc.xpath("//a[@href='/login']") and not doc.xpath("//nav//a[@href='/queue']")
    rows = {text(tr.xpath("./td")[0]): text(tr.xpath("./td")[1])
            for tr in doc.xpath("//table[contains(@class,'subjects')]/tbody/tr")}
    # R-1 to R-7, S-9 and P-1: Q-1's contract is private, so it is not counted.
    assert rows == {f"Category {CATEGORY}": "9",
                    f"↳ {M.replace('_', ' ')} {M}": "9"}
    assert doc.xpath(f"//a[@href='/what-works/{CATEGORY}']")
    # The feed is announced to feed readers.
    assert doc.xpath("//link[@rel='alternate'][@type='application/atom+xml']")


async def test_html_csv_json_and_the_staff_comparison_give_the_same_numbers(api, db):
    s = await published()
    staff = (await api.get(f"/api/v1/comparisons/{M}", headers=s.z_h)).json()
    api.cookies.clear()
    figures = (await api.get(f"/what-works/{M}.json")).json()
    assert figures == (await api.get(f"/api/v1/what-works/{M}")).json()
    table = csv_rows(await api.get(f"/what-works/{M}.csv"))
    doc = page(await api.get(f"/what-works/{M}"))

    # Listed by reference, never by rate; Q-1 is not there.
    references = [u["reference"] for u in figures["units"]]
    assert references == ["P-1", "R-1", "R-2", "R-3", "R-4", "R-5", "R-6", "R-7", "S-9"]
    assert [tr.get("id") for tr in doc.xpath("//table[contains(@class,'stack')]/tbody/tr")] \
        == [f"contract-{r}" for r in references]
    assert list(table) == references

    # Every contract the public sees has public results: the pooled rate and the limits
    # are those the staff see, Q-1 (nobody observed yet) making no difference.
    assert figures["pooled_rate"] == staff["pooled_rate"] is not None
    theirs = {u["reference"]: u for u in staff["units"]}
    for u in figures["units"]:
        them = theirs[u["reference"]]
        f = them["figures"]
        for name in ("enrolled", "observed", "achieved", "rate", "rate_low", "rate_high",
                     "progress", "uplift", "uplift_low", "uplift_high"):
            assert u[name] == f[name], (u["reference"], name)
        assert (u["position"], u["limits"]) == (them["position"], them["limits"])
        assert u["suppressed"] == f["suppressed"]
        if u["reference"] != "P-1":
            assert u["price"] == them["price"]
            assert (u["paid"], u["cost_per_outcome"]) == (f["paid"], f["cost_per_outcome"])
        # The CSV: the same numbers, money in kroner.
        row = table[u["reference"]]
        for name in ("enrolled", "observed", "achieved", "rate", "rate_low", "rate_high",
                     "progress", "target"):
            assert row[name] == _shown(u[name]), (u["reference"], name)
        assert row["price"] == ("" if u["price"] is None
                                else f"{u['price']['amount'] // 100}.00")
        assert row["position"] == (u["position"] or "")
        # The page: the same numbers, as an English reader writes them.
        shown = cells(doc, u["reference"])
        if u["rate"] is not None:
            assert shown["Observed"] == i18n.number(u["observed"])
            assert shown["Achieved"] == i18n.number(u["achieved"])
            assert shown["Rate (95 % interval)"] == (
                f"{i18n.percent(u['rate'], 1)} ({i18n.percent(u['rate_low'], 1)}–"
                f"{i18n.percent(u['rate_high'], 1)})").replace("\xa0", " ")
        if u["price"] is not None:
            assert shown["Price per outcome"] == i18n.money(
                u["price"]["amount"], "DKK").replace("\xa0", " ")
    r2 = cells(doc, "R-2")
    assert r2["Position against the limits"] == "above the 95 % limit"
    assert cells(doc, "R-5")["Position against the limits"] == "below the 99.8 % limit"
    assert cells(doc, "R-1")["Target"].startswith("70")

    # The funnel plot: our own SVG, inline and named, the contracts with published results
    # and no small cell drawn (S-9 is not).
    svg = doc.xpath("//figure//*[local-name()='svg']")
    assert svg and svg[0].get("role") == "img"
    assert "Funnel plot of ips_employment" in svg[0].get("aria-label")
    labels = [text(g) for g in svg[0].xpath(".//*[starts-with(@id,'funnel-label-')]")]
    assert sorted(labels) == ["P-1", "R-1", "R-2", "R-3", "R-4", "R-5", "R-6", "R-7"]
    # How to read it, and why nothing is ranked.
    assert doc.xpath("//h3[.='How to read a funnel plot']")
    assert doc.xpath("//h3[.='Why there is no ranking']")


async def test_a_category_page_lists_each_contracts_outcome(api, db):
    await published()
    api.cookies.clear()
    by_metric = (await api.get(f"/what-works/{M}.json")).json()
    by_category = (await api.get(f"/what-works/{CATEGORY}.json")).json()
    assert by_category["subject_kind"] == "category" and by_category["metric_codes"] == [M]
    assert by_category["units"] == by_metric["units"]
    r = await api.get(f"/what-works/{CATEGORY}")
    assert r.status_code == 200 and "What works: employment.entry" in r.text
    r = await api.get("/what-works/no_such_outcome")
    assert r.status_code == 404 and "subject_not_found" in r.text
    r = await api.get("/api/v1/what-works/no_such_outcome")
    assert r.status_code == 404 and r.json()["code"] == "subject_not_found"


# Nothing private, no small cell ---------------------------------------------------------------


async def test_nothing_private_appears_anywhere(api, db):
    s = await published()
    answers = await everything_public(api)
    pseudonyms = [r["pseudonym"] for r in await Participant.select(Participant.pseudonym)]
    assert len(pseudonyms) == 1_329
    for path, body in answers.items():
        # A contract whose contract part is private appears nowhere, its rate card public
        # or not.
        assert "Q-1" not in body and "Secret Provider" not in body, path
        assert str(s.q1) not in body, path
        # P-1 is public without its rate card: no price, and no money that would give it
        # back (cost per outcome, paid).
        assert not PRIVATE_PRICE.search(body), (path, PRIVATE_PRICE.search(body))
        # No participant, ever.
        assert not [p for p in pseudonyms if p in body], path
        assert "zz-voice" not in body, path
    p1 = next(u for u in (await api.get(f"/what-works/{M}.json")).json()["units"]
              if u["reference"] == "P-1")
    assert p1["published"] == ["contract", "targets", "results", "payments", "voice"]
    assert (p1["price"], p1["paid"], p1["cost_per_outcome"]) == (None, None, None)
    assert p1["rate"] == 0.3 and p1["target"] == 70
    doc = page(await api.get(f"/what-works/{M}"))
    assert cells(doc, "P-1")["Price per outcome"] == "not published"
    assert cells(doc, "P-1")["Cost per outcome"] == "not published"
    row = csv_rows(await api.get(f"/what-works/{M}.csv"))["P-1"]
    assert (row["price"], row["paid"], row["cost_per_outcome"]) == ("", "", "")

    # Taking the results back takes the rates off every page at once.
    await publish(s.y, s.p1, {"results": "private"})
    p1 = next(u for u in (await api.get(f"/what-works/{M}.json")).json()["units"]
              if u["reference"] == "P-1")
    assert (p1["observed"], p1["achieved"], p1["rate"]) == (None, None, None)
    assert cells(page(await api.get(f"/what-works/{M}")), "P-1")["Observed"] == \
        "not published"
    # Taking the contract back takes it off altogether.
    await publish(s.y, s.p1, {"contract": "private"})
    for path, body in (await everything_public(api)).items():
        assert "P-1" not in body, path


async def test_small_cells_are_suppressed_on_the_public_pages(api, db):
    await published()
    api.cookies.clear()
    s9 = next(u for u in (await api.get(f"/what-works/{M}.json")).json()["units"]
              if u["reference"] == "S-9")
    # 3 of 40 achieved: the 3 is hidden, and with it everything that would give it back:
    # the rate and its interval, the position, the money paid for them, the cost per
    # outcome. The 37 who did not achieve are never a figure of their own.
    assert s9["suppressed"] is True and s9["observed"] == 40
    for name in ("achieved", "rate", "rate_low", "rate_high", "progress", "position",
                 "limits", "paid", "cost_per_outcome"):
        assert s9[name] is None, name
    assert s9["cost_per_outcome_undefined"] == "suppressed"
    shown = cells(page(await api.get(f"/what-works/{M}")), "S-9")
    assert shown["Achieved"] == "fewer than 5"
    assert shown["Rate (95 % interval)"] == "fewer than 5"
    assert shown["Cost per outcome"] == "fewer than 5"
    assert shown["Observed"] == "40"
    assert "37" not in " ".join(shown.values())
    row = csv_rows(await api.get(f"/what-works/{M}.csv"))["S-9"]
    assert (row["achieved"], row["rate"], row["paid"], row["suppressed"]) == \
        ("", "", "", "true")
    # The pooled rate leaves S-9 out: with it, the rate and the other contracts' counts
    # would give its 3 back.
    figures = (await api.get(f"/what-works/{M}.json")).json()
    shown_units = [u for u in figures["units"] if not u["suppressed"]]
    pooled = sum(u["achieved"] for u in shown_units) / sum(u["observed"] for u in
                                                           shown_units)
    assert abs(figures["pooled_rate"] - pooled) < 1e-6


async def test_what_participants_said_is_public_with_small_cells_hidden(api, db):
    await published()
    api.cookies.clear()
    figures = (await api.get(f"/what-works/{M}.json")).json()
    [r1] = figures["voice"]
    assert r1["reference"] == "R-1"
    waves = {w["title"]: w for w in r1["waves"]}
    well, few = waves["Well-being at the start"], waves["Three answers"]
    index = next(m for m in well["measures"] if m["code"] == "index")
    assert (index["n"], index["value"]) == (6, 64.0)
    assert (well["you_said"], well["we_did"]) == (YOU_SAID, WE_DID)
    assert well["responded"] == 6 and well["response_rate"] == 1.0
    # Three answers: no count, no rate, no score.
    assert few["responded"] is None and few["response_rate"] is None
    assert all(m["n"] in (None, 0) and m["value"] is None for m in few["measures"])
    doc = page(await api.get(f"/what-works/{M}"))
    section = doc.xpath("//section[.//h3[.='R-1']]")[0]
    said = text(section)
    assert YOU_SAID in said and WE_DID in said
    assert "64.0" in said
    [three] = section.xpath(".//h4[contains(., 'Three answers')]/following-sibling::table[1]")
    assert "fewer than 5" in text(three) and "9.0" not in text(three)
    assert "fewer than 5" in text(section.xpath(
        ".//h4[contains(., 'Three answers')]/following-sibling::p[1]")[0])


# The feed ------------------------------------------------------------------------------------


async def test_the_atom_feed_is_valid_and_lists_what_was_published(api, db):
    s = await published()
    api.cookies.clear()
    r = await api.get("/what-works/feed.atom")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(r.content)
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{name}") is not None and root.find(f"{ATOM}{name}").text
    assert root.find(f"{ATOM}author/{ATOM}name").text == "Virker"
    assert root.find(f"{ATOM}link[@rel='self']").get("href").endswith("/what-works/feed.atom")
    entries = root.findall(f"{ATOM}entry")
    # The newest 50 of the 53 parts published and standing (six of and S-9 each,
    # five of P-1, none of Q-1).
    assert len(entries) == 50
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
    ids = set()
    for entry in entries:
        for name in ("id", "title", "updated", "summary"):
            found = entry.find(f"{ATOM}{name}")
            assert found is not None and found.text, name
        assert stamp.match(entry.find(f"{ATOM}updated").text)
        assert entry.find(f"{ATOM}id").text.startswith("urn:uuid:")
        ids.add(entry.find(f"{ATOM}id").text)
        link = entry.find(f"{ATOM}link").get("href")
        assert link.startswith("http://testserver.local/what-works/")
    assert len(ids) == len(entries)
    titles = [e.find(f"{ATOM}title").text for e in entries]
    assert "R-1: the results published" in titles
    assert "P-1: the rate card published" not in titles
    assert not [t for t in titles if "Q-1" in t]
    # Newest first: a part published now leads the feed.
    await publish(s.y, s.p1, {"rate_card": "public"})
    root = ET.fromstring((await api.get("/what-works/feed.atom")).content)
    first = root.find(f"{ATOM}entry")
    assert first.find(f"{ATOM}title").text == "P-1: the rate card published"
    assert first.find(f"{ATOM}link").get("href").endswith(f"/what-works/{CATEGORY}#contract-P-1")
    assert root.find(f"{ATOM}updated").text == first.find(f"{ATOM}updated").text


# The language --------------------------------------------------------------------------------


async def test_the_pages_speak_the_readers_language(api, db):
    await published()
    api.cookies.clear()
    r = await api.get("/what-works", headers={"Accept-Language": "da-DK,da;q=0.9,en;q=0.5"})
    doc = page(r)
    assert doc.get("lang") == "da" and text(doc.xpath("//h1")[0]) == "Hvad virker"
    r = await api.get(f"/what-works/{M}", headers={"Accept-Language": "da"})
    doc = page(r)
    shown = cells(doc, "S-9")
    assert shown["Opnået"] == "færre end 5"
    assert cells(doc, "R-1")["Pris pr. resultat"] == "10.000,00 kr."
    # A link on the page chooses the language, and the page's links keep it.
    r = await api.get(f"/what-works/{M}?lang=nb", headers={"Accept-Language": "da"})
    doc = page(r)
    assert doc.get("lang") == "nb"
    assert doc.xpath(f"//a[@href='/what-works/{M}.csv?lang=nb']")
    r = await api.get("/what-works", headers={"Accept-Language": "fr"})
    assert page(r).get("lang") == "en"
    feed = ET.fromstring((await api.get("/what-works/feed.atom?lang=da")).content)
    assert feed.get("{http://www.w3.org/XML/1998/namespace}lang") == "da"
    assert "R-1: resultaterne offentliggjort" in [
        e.find(f"{ATOM}title").text for e in feed.findall(f"{ATOM}entry")]


# The commissioner's publication page ----------------------------------------------------------


async def test_a_commissioner_publishes_after_confirming_and_takes_back_at_once(api, db):
    await data.metric(M, CATEGORY)
    y = await org("municipality", "Municipality Y")
    provider = await org("ngo", "Provider T-1")
    cid = await data.contract(y, provider, M, reference="T-1", line=dict(data.FIELD_LINE))
    await sign_in(api, y, "commissioner", name="Yrsa Commissioner")
    r = await api.get(f"/contracts/{cid}")
    assert f'href="/contracts/{cid}/publication"' in r.text
    r = await api.get(f"/contracts/{cid}/publication")
    assert r.status_code == 200, r.text
    doc = page(r)
    rows = doc.xpath("//table[contains(@class,'stack')]/tbody/tr")
    assert [text(tr.xpath("./th")[0]) for tr in rows] == [
        "The contract", "Rate card", "Targets", "Results", "Payments", "Citizen voice"]
    assert all("private" in text(tr) and "not decided yet" in text(tr) for tr in rows)
    assert len(doc.xpath("//input[@type='checkbox'][@name='public']")) == 6

    # Ticking parts asks first, and publishes nothing yet.
    r = await post_form(api, f"/contracts/{cid}/publication",
                        {"public": ["contract", "results"]})
    assert r.status_code == 200
    confirm = page(r).xpath("//section[contains(@class,'confirm')]")[0]
    assert "Publish these parts?" in text(confirm)
    assert [text(li).split(":")[0] for li in confirm.xpath(".//li")] == ["The contract",
                                                                         "Results"]
    assert await publication.public_parts(cid) == set()
    # Confirming publishes them, with who and when.
    r = await post_form(api, f"/contracts/{cid}/publication",
                        {"public": ["contract", "results"], "confirmed": "yes"})
    assert r.status_code == 303 and r.headers["location"].endswith("publication?done=1")
    assert await publication.public_parts(cid) == {"contract", "results"}
    doc = page(await api.get(r.headers["location"]))
    assert "Saved" in text(doc.xpath("//p[@class='flash']")[0])
    results = next(tr for tr in doc.xpath("//table[contains(@class,'stack')]/tbody/tr")
                   if text(tr.xpath("./th")[0]) == "Results")
    assert "public" in text(results) and "user:commissioner" in text(results)
    assert results.xpath(".//input[@checked]")
    r = await api.get(f"/what-works/{M}.json")
    assert [u["reference"] for u in r.json()["units"]] == ["T-1"]

    # Taking a part back needs no confirmation.
    r = await post_form(api, f"/contracts/{cid}/publication", {"public": ["contract"]})
    assert r.status_code == 303
    assert await publication.public_parts(cid) == {"contract"}
    # A part Virker does not publish is refused, and nothing changes.
    r = await post_form(api, f"/contracts/{cid}/publication",
                        {"public": ["contract", "participants"], "confirmed": "yes"})
    assert r.status_code == 422 and "unknown_part" in r.text
    assert await publication.public_parts(cid) == {"contract"}


async def test_other_parties_read_the_publication_page_and_outsiders_do_not(api, db):
    await data.metric(M, CATEGORY)
    y = await org("municipality", "Municipality Y")
    provider = await org("ngo", "Provider T-2")
    cid = await data.contract(y, provider, M, reference="T-2", line=dict(data.FIELD_LINE))
    await sign_in(api, provider, "provider")
    r = await api.get(f"/contracts/{cid}/publication")
    assert r.status_code == 200
    doc = page(r)
    assert not doc.xpath("//input[@type='checkbox']")
    assert "Only the contract's commissioners decide" in text(doc)
    r = await post_form(api, f"/contracts/{cid}/publication",
                        {"public": ["contract"], "confirmed": "yes"})
    assert r.status_code == 403
    assert await publication.public_parts(cid) == set()
    outsider = await org("municipality", "Municipality W")
    await sign_in(api, outsider, "commissioner")
    assert (await api.get(f"/contracts/{cid}/publication")).status_code == 404
    r = await post_form(api, f"/contracts/{cid}/publication",
                        {"public": ["contract"], "confirmed": "yes"})
    assert r.status_code == 404
