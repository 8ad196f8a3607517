"""A commissioner drafts, varies and runs a contract through the JSON API."""

from __future__ import annotations

import datetime as dt

from core.clock import now
from tests.helpers import contract_body, terms


async def test_draft_activate_vary_and_read_history(api, world):
    w = world
    boss = w.headers("commissioner")
    body = contract_body(w.ids["provider"], [(w.ids["commissioner"], 7000),
                                             (w.ids["co_commissioner"], 3000)],
                         [w.ids["auditor"]], reference="INDIGO-POJ-0263")
    r = await api.post("/api/v1/contracts", json=body, headers=boss)
    assert r.status_code == 201, r.text
    contract = r.json()
    assert contract["status"] == "draft" and contract["version"] == 1
    assert contract["terms"]["cap"] == {"amount": 100_000_000, "currency": "DKK"}
    cid = contract["id"]

    r = await api.post(f"/api/v1/contracts/{cid}/activate", json={"reason": "signed"},
                       headers=boss)
    assert r.status_code == 409 and r.json()["code"] == "acceptance_missing"
    r = await api.post(f"/api/v1/contracts/{cid}/acceptances", json={"version": 1},
                       headers=w.headers("co_commissioner"))
    assert r.status_code == 201, r.text
    r = await api.post(f"/api/v1/contracts/{cid}/activate", json={"reason": "signed"},
                       headers=boss)
    assert r.json()["status"] == "active"
    r = await api.post(f"/api/v1/contracts/{cid}/activate", headers=boss)
    assert r.status_code == 409 and r.json()["code"] == "invalid_transition"

    varied_terms = terms([(w.ids["commissioner"], 7000), (w.ids["co_commissioner"], 3000)],
                         [w.ids["auditor"]], cap={"amount": 150_000_000, "currency": "DKK"})
    effective = (now().date() + dt.timedelta(days=30)).isoformat()
    r = await api.post(f"/api/v1/contracts/{cid}/variations",
                       json={"reason": "top-up from the fund", "effective_on": effective,
                             "terms": varied_terms}, headers=boss)
    assert r.status_code == 202 and r.json()["status"] == "pending", r.text
    proposal = r.json()
    assert proposal["awaiting"] == [{"organisation_id": str(w.ids["co_commissioner"]),
                                     "role": "commissioner"}]
    r = await api.post(f"/api/v1/contracts/{cid}/proposals/{proposal['id']}/accept",
                       headers=w.headers("co_commissioner"))
    assert r.status_code == 200 and r.json()["status"] == "applied", r.text
    assert r.json()["contract"]["version"] == 2 and r.json()["applied_version"] == 2
    r = await api.post(f"/api/v1/contracts/{cid}/variations",
                       json={"reason": "", "terms": varied_terms}, headers=boss)
    assert r.status_code == 400  # a variation needs its reason

    history = (await api.get(f"/api/v1/contracts/{cid}/variations",
                             headers=w.headers("auditor"))).json()
    assert [(v["version"], v["terms"]["cap"]["amount"]) for v in history] == [
        (1, 100_000_000), (2, 150_000_000)]
    assert history[1]["reason"] == "top-up from the fund"
    assert history[1]["effective_on"] == effective
    events = (await api.get(f"/api/v1/contracts/{cid}/events", headers=boss)).json()
    assert [e["to_status"] for e in events] == ["draft", "active"]


async def test_contracts_page_by_cursor_and_filter_by_status(api, world):
    w = world
    boss = w.headers("commissioner")
    created = []
    for i in range(5):
        body = contract_body(w.ids["provider"], [(w.ids["commissioner"], 10_000)],
                             reference=f"PAGE-{i}")
        created.append((await api.post("/api/v1/contracts", json=body, headers=boss)).json())
    await api.post(f"/api/v1/contracts/{created[0]['id']}/activate", headers=boss)

    seen, cursor = [], None
    while True:
        url = "/api/v1/contracts?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await api.get(url, headers=boss)).json()
        assert len(page["items"]) <= 2
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(w.contracts["own"])] + [c["id"] for c in created]

    active = (await api.get("/api/v1/contracts?status=active", headers=boss)).json()
    assert [c["reference"] for c in active["items"]] == ["PAGE-0"]


async def test_variation_may_not_remove_the_commissioner_making_it(api, world):
    w = world
    cid = w.contracts["own"]
    r = await api.post(f"/api/v1/contracts/{cid}/variations", json={
        "reason": "hand over", "terms": terms([(w.ids["co_commissioner"], 10_000)])},
        headers=w.headers("commissioner"))
    assert r.status_code == 422 and r.json()["code"] == "creator_not_commissioner"
    r = await api.get(f"/api/v1/contracts/{cid}", headers=w.headers("commissioner"))
    assert r.json()["version"] == 1


async def test_a_contract_cannot_be_delivered_by_a_municipality_as_such(api, world):
    w = world
    body = contract_body(w.ids["other_commissioner"], [(w.ids["commissioner"], 10_000)])
    r = await api.post("/api/v1/contracts", json=body, headers=w.headers("commissioner"))
    assert r.status_code == 422
    assert r.json()["errors"][0] == {"code": "not_a_provider", "field": "provider_id",
                                     "message": "a municipality cannot deliver a contract"}
