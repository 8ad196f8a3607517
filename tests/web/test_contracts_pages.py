"""The contracts list and a contract's overview: achievement against target, payments
against each commissioner's share of the cap, the pipeline, effect, variations as a diff of
terms, the status history and the documents; and the actions taken from it."""

from __future__ import annotations

import datetime as dt

import lxml.html

from api.web import contracts as contract_pages
from core.clock import now
from reports.formats import money
from tests.api.test_intake import claim, enrolments
from tests.helpers import active_contract, key, line
from tests.web.helpers import csrf, post_form, sign_in


def html(r):
    return lxml.html.fromstring(r.text)


def text(el) -> str:
    return " ".join(el.text_content().split()).replace("\xa0", " ")


def dkk(amount: int) -> str:
    """Money as the tests' reader (English) sees it."""
    return money(amount, "DKK", "en").replace("\xa0", " ")


async def paid_contract(api, w):
    """An active contract whose entry line expects 10 outcomes: four participants achieved
    it, their claims approved and paid in one run (drafted and approved by two people)."""
    card = [line("entry", "housing_entry", 15_000, window={"start_day": 0, "end_day": 365},
                 target=10),
            line("job", "employment", 35_000, target=4)]
    cid = await active_contract(w, sampling_rate_bp=0, rate_card=card)
    p = w.headers("provider")
    r = await api.post(f"/api/v1/contracts/{cid}/participants",
                       json=enrolments("A-1", "A-2", "A-3", "A-4", "A-5"), headers=p)
    assert r.status_code == 201, r.text
    r = await api.post(f"/api/v1/contracts/{cid}/claims", headers={**p, "Idempotency-Key": "1"},
                       json=[claim(f"c{i}", f"A-{i}", "housing_entry", "2024-03-01")
                             for i in range(1, 5)])
    ids = [x["id"] for x in r.json()["results"]]
    boss = w.headers("commissioner")
    assert (await api.post(f"/api/v1/contracts/{cid}/samples", headers=boss)).status_code == 201
    r = await api.post(f"/api/v1/contracts/{cid}/approvals", json={"claim_ids": ids},
                       headers=boss)
    assert r.status_code == 200, r.text
    r = await api.post(f"/api/v1/contracts/{cid}/payment-runs",
                       json={"period_from": "2024-01-01", "period_to": "2024-12-31"},
                       headers={**boss, "Idempotency-Key": "run-1"})
    run = r.json()["id"]
    checker = {"Authorization": f"Bearer {await key(w.ids['commissioner'])}"}
    r = await api.post(f"/api/v1/payment-runs/{run}/approve", headers=checker)
    assert r.status_code == 200, r.text
    r = await api.post(f"/api/v1/payment-runs/{run}/pay", headers=boss)
    assert r.json()["status"] == "paid", r.text
    return cid


async def test_the_overview_shows_achieved_against_target_and_paid_against_cap(api, world):
    w = world
    cid = await paid_contract(api, w)
    await sign_in(api, w.ids["commissioner"], "commissioner")
    r = await api.get(f"/contracts/{cid}")
    assert r.status_code == 200, r.text
    page = html(r)
    entry = page.xpath("//tr[@class='progress-row'][@data-line='entry']")[0]
    assert entry.xpath(".//div[contains(@class,'bar')]/span/@style") == ["width: 40.0%"]
    assert [text(td) for td in entry.xpath("./td[@class='num']")] == ["4", "10 (40 %)"]
    job = page.xpath("//tr[@class='progress-row'][@data-line='job']")[0]
    assert job.xpath(".//div[contains(@class,'bar')]/span/@style") == ["width: 0.0%"]

    # Each commissioner paid its share of the 60.000 kr. paid, against its share of the cap.
    rows = {text(tr.xpath("./th")[0]): [text(td) for td in tr.xpath("./td")]
            for tr in page.xpath("//tr[@class='paid-row']")}
    assert len(rows) == 2
    shares = sorted(rows.values(), key=lambda cells: cells[0], reverse=True)
    assert shares[0][0] == "60 %" and shares[0][3:] == [dkk(3_600_000), dkk(60_000_000)]
    assert shares[1][0] == "40 %" and shares[1][3:] == [dkk(2_400_000), dkk(40_000_000)]
    assert shares[0][2] == dkk(3_600_000)  # approved (accrued)
    bar = page.xpath("//tr[@class='paid-row']//div[@class='bar']/span/@style")
    assert bar == ["width: 6.0%", "width: 6.0%"]
    # The pipeline: five enrolled; effect with its interval; the chart; the documents.
    assert "5 deltagere" in r.text or "5 participants" in r.text
    assert page.xpath("//span[@class='interval']")
    assert page.xpath(f"//img[@src='/contracts/{cid}/effect.svg']")
    assert page.xpath(f"//form[@action='/contracts/{cid}/statement.pdf']")
    assert page.xpath(f"//a[@href='/contracts/{cid}/effect.pdf']")
    svg = await api.get(f"/contracts/{cid}/effect.svg")
    assert svg.status_code == 200 and svg.text.lstrip().startswith("<?xml")
    assert svg.headers["content-type"].startswith("image/svg+xml")


async def test_a_variation_reads_as_old_to_new_and_is_accepted_from_the_overview(api, world):
    w = world
    cid = await active_contract(w)
    body = (await api.get(f"/api/v1/contracts/{cid}", headers=w.headers("commissioner"))).json()
    terms = {**body["terms"], "cap": {"amount": 120_000_000, "currency": "DKK"}}
    r = await api.post(f"/api/v1/contracts/{cid}/variations",
                       json={"reason": "more participants", "terms": terms},
                       headers=w.headers("commissioner"))
    assert r.status_code == 202, r.text
    await sign_in(api, w.ids["commissioner"], "commissioner")
    await api.post("/language", data={"lang": "en", "next": "/", "_csrf_token": csrf(api)})
    page = html(await api.get(f"/contracts/{cid}"))
    proposal = page.xpath("//div[contains(@class,'proposal')]")[0]
    cap = next(tr for tr in proposal.xpath(".//tr") if tr.xpath("./th[text()='Cap']"))
    en = lambda amount: money(amount, "DKK", "en").replace("\xa0", " ")  # noqa: E731
    assert text(cap.xpath(".//del")[0]) == en(100_000_000)
    assert text(cap.xpath(".//ins")[0]) == en(120_000_000)
    assert "→" in text(cap)
    assert "Waiting for:" in text(proposal) and "(commissioner)" in text(proposal)
    # The proposer's organisation has accepted: no button for it, only a withdrawal.
    assert not proposal.xpath(".//form[contains(@action,'/accept')]")
    assert proposal.xpath(".//form[contains(@action,'/withdraw')]")

    await sign_in(api, w.ids["co_commissioner"], "commissioner")
    page = html(await api.get(f"/contracts/{cid}"))
    accept = page.xpath("//div[contains(@class,'proposal')]//form[contains(@action,'/accept')]")
    r = await post_form(api, accept[0].get("action"))
    assert r.status_code == 303 and r.headers["location"] == f"/contracts/{cid}?done=accepted"
    got = await api.get(f"/api/v1/contracts/{cid}", headers=w.headers("commissioner"))
    assert got.json()["version"] == 2 and got.json()["terms"]["cap"]["amount"] == 120_000_000
    page = html(await api.get(f"/contracts/{cid}?done=accepted"))
    assert page.xpath("//p[@class='flash']")
    version = page.xpath("//div[@class='version']")[0]  # the newest first
    assert "more participants" in text(version)
    assert [text(d) for d in version.xpath(".//del")] == [money(100_000_000, "DKK", "en")
                                                           .replace("\xa0", " ")]


async def test_the_list_shows_the_callers_contracts_by_status_a_page_at_a_time(
        api, world, monkeypatch):
    w = world
    active = await active_contract(w)
    await sign_in(api, w.ids["commissioner"], "commissioner")
    r = await api.get("/contracts")
    assert r.status_code == 200
    links = html(r).xpath("//table//a/@href")
    assert set(links) == {f"/contracts/{w.contracts['own']}", f"/contracts/{active}"}
    assert f"/contracts/{w.contracts['other']}" not in r.text
    r = await api.get("/contracts?status=draft")
    assert html(r).xpath("//table//a/@href") == [f"/contracts/{w.contracts['own']}"]
    assert html(r).xpath("//a[@aria-current='page']/@href")[-1] == "/contracts?status=draft"
    empty = await api.get("/contracts?status=closed")
    assert not html(empty).xpath("//table") and "/contracts/new" in empty.text

    monkeypatch.setattr(contract_pages, "PAGE_SIZE", 1)
    first = html(await api.get("/contracts"))
    assert len(first.xpath("//tbody/tr")) == 1
    following = first.xpath("//nav[@class='pager']/a/@href")[0]
    second = html(await api.get(following))
    assert len(second.xpath("//tbody/tr")) == 1
    assert set(first.xpath("//tbody//a/@href") + second.xpath("//tbody//a/@href")) == {
        f"/contracts/{w.contracts['own']}", f"/contracts/{active}"}
    assert not second.xpath("//nav[@class='pager']")

    # Someone who is no party to any contract is told what to do next.
    await sign_in(api, w.ids["co_commissioner"], "auditor")
    assert not html(await api.get("/contracts")).xpath("//table")


async def test_a_contract_is_not_found_by_a_non_party_and_read_only_for_other_parties(
        api, world):
    w = world
    cid = await active_contract(w)
    await sign_in(api, w.ids["other_commissioner"], "commissioner")
    r = await api.get(f"/contracts/{cid}", headers={"Accept": "text/html"})
    assert r.status_code == 404 and "<html" in r.text
    r = await post_form(api, f"/contracts/{cid}/transition",
                        {"action": "suspend", "reason": "looking"})
    assert r.status_code == 404
    for org, role in (("provider", "provider"), ("auditor", "auditor")):
        await sign_in(api, w.ids[org], role)
        r = await api.get(f"/contracts/{cid}")
        assert r.status_code == 200, role
        assert not html(r).xpath("//form[@method='post'][contains(@action,'/contracts/')]")
        r = await post_form(api, f"/contracts/{cid}/transition",
                            {"action": "suspend", "reason": "looking"})
        assert r.status_code == 403, role
    await sign_in(api, w.ids["admin"], "admin")
    assert (await api.get(f"/contracts/{cid}")).status_code == 200


async def test_a_commissioner_suspends_and_closes_with_a_reason_and_a_confirmation(api, world):
    w = world
    cid = await active_contract(w)
    await sign_in(api, w.ids["commissioner"], "commissioner")
    await api.post("/language", data={"lang": "en", "next": "/", "_csrf_token": csrf(api)})
    r = await post_form(api, f"/contracts/{cid}/transition",
                        {"action": "suspend", "reason": "provider under review"})
    assert r.status_code == 303 and r.headers["location"].endswith("done=suspend")
    status = lambda: api.get(f"/api/v1/contracts/{cid}", headers=w.headers("commissioner"))  # noqa: E731
    assert (await status()).json()["status"] == "suspended"
    r = await post_form(api, f"/contracts/{cid}/transition",
                        {"action": "close", "reason": "ended"})
    assert r.status_code == 422 and "cannot be undone" in r.text
    assert (await status()).json()["status"] == "suspended"
    r = await post_form(api, f"/contracts/{cid}/transition",
                        {"action": "suspend", "reason": "again"})
    assert r.status_code == 409 and "invalid_transition" in r.text
    r = await post_form(api, f"/contracts/{cid}/transition",
                        {"action": "close", "reason": "ended", "confirm": "yes"})
    assert r.status_code == 303
    assert (await status()).json()["status"] == "closed"
    page = html(await api.get(f"/contracts/{cid}"))
    history = [text(tr) for tr in page.xpath("//section[@aria-labelledby='events-h']//tbody/tr")]
    assert len(history) == 4 and "provider under review" in history[2]
    assert not page.xpath(f"//a[@href='/contracts/{cid}/vary']")


async def test_documents_are_the_apis_for_the_session(api, world):
    w = world
    cid = await active_contract(w)
    await sign_in(api, w.ids["auditor"], "auditor")
    tomorrow = now().date() + dt.timedelta(days=1)
    r = await api.get(f"/contracts/{cid}/statement.pdf?from=&to={tomorrow}")
    assert r.status_code == 422 and "period_in_future" in r.text and "<html" in r.text
    r = await api.get(f"/contracts/{cid}/statement.pdf?to=31-12-2024")
    assert r.status_code == 422
    yesterday = now().date() - dt.timedelta(days=1)
    r = await api.get(f"/contracts/{cid}/statement.pdf?from={yesterday}&to={yesterday}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    r = await api.get(f"/contracts/{cid}/effect.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert r.headers["content-disposition"].startswith('attachment; filename="effect-')
    await sign_in(api, w.ids["other_auditor"], "auditor")
    assert (await api.get(f"/contracts/{cid}/statement.pdf")).status_code == 404
    assert (await api.get(f"/contracts/{cid}/effect.pdf")).status_code == 404
