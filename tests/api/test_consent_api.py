"""Every party's consent through HTTP: acceptances of a draft, proposed variations, the
auditor's acknowledgement, and variations that cannot reach back into reported balances."""

from __future__ import annotations

import datetime as dt

from core.clock import now
from tests.api.test_intake import claim, enrolments
from tests.helpers import active_contract, contract_body, terms

PROBLEM = "application/problem+json"


def day(offset: int = 0) -> str:
    return (now().date() + dt.timedelta(days=offset)).isoformat()


async def current_terms(api, w, cid) -> dict:
    r = await api.get(f"/api/v1/contracts/{cid}", headers=w.headers("commissioner"))
    return r.json()["terms"]


async def balance(api, w, cid, on: str, who: str = "commissioner") -> dict:
    r = await api.get(f"/api/v1/contracts/{cid}/balance?on={on}", headers=w.headers(who))
    assert r.status_code == 200, r.text
    return r.json()


async def org_committed(api, w, who: str) -> int:
    r = await api.get(f"/api/v1/organisations/{w.ids[who]}/balance", headers=w.headers(who))
    return r.json()["balances"].get("DKK", {}).get("committed", 0)


async def propose(api, w, cid, who: str = "commissioner", **body):
    return await api.post(f"/api/v1/contracts/{cid}/variations",
                          json={"reason": "agreed change", **body}, headers=w.headers(who))


async def accept(api, w, cid, pid, who: str):
    return await api.post(f"/api/v1/contracts/{cid}/proposals/{pid}/accept",
                          headers=w.headers(who))


async def test_a_99_99_percent_co_commissioner_is_not_committed_without_its_acceptance(
        api, world):
    w = world
    a, b = w.ids["commissioner"], w.ids["other_commissioner"]
    body = contract_body(w.ids["provider"], [(a, 1), (b, 9999)], reference="ATTACK-1")
    r = await api.post("/api/v1/contracts", json=body, headers=w.headers("commissioner"))
    cid = r.json()["id"]
    r = await api.post(f"/api/v1/contracts/{cid}/activate", json={"reason": "signed"},
                       headers=w.headers("commissioner"))
    assert r.status_code == 409 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["code"] == "acceptance_missing"
    assert [(e["code"], e["field"]) for e in r.json()["errors"]] == [
        ("acceptance_missing", "terms.commissioners[1]")]
    assert (await balance(api, w, cid, day()))["committed"] == 0
    assert await org_committed(api, w, "other_commissioner") == 0
    r = await api.post(f"/api/v1/contracts/{cid}/participants", json=enrolments("A-1"),
                       headers=w.headers("provider"))
    assert r.status_code == 409 and r.json()["code"] == "contract_not_active"

    r = await api.post(f"/api/v1/contracts/{cid}/acceptances", json={"version": 1},
                       headers=w.headers("other_commissioner"))
    assert r.status_code == 201, r.text
    assert r.json()["organisation_id"] == str(b) and r.json()["accepted_by"].startswith("key:")
    r = await api.post(f"/api/v1/contracts/{cid}/activate", headers=w.headers("commissioner"))
    assert r.status_code == 200 and r.json()["status"] == "active"
    assert await org_committed(api, w, "other_commissioner") == 99_990_000

    listed = (await api.get(f"/api/v1/contracts/{cid}/acceptances",
                            headers=w.headers("provider"))).json()
    assert [(x["organisation_id"], x["version"], x["role"]) for x in listed] == [
        (str(a), 1, "commissioner"), (str(b), 1, "commissioner")]
    assert all(x["accepted_by"].startswith("key:") and x["accepted_at"] for x in listed)


async def test_an_acceptance_names_the_version_it_accepts(api, world):
    w = world
    cid = w.contracts["own"]
    r = await propose(api, w, cid, terms=terms(
        [(w.ids["commissioner"], 6000), (w.ids["co_commissioner"], 4000)], [w.ids["auditor"]],
        cap={"amount": 900_000_000, "currency": "DKK"}))
    assert r.status_code == 201 and r.json()["contract"]["version"] == 2
    r = await api.post(f"/api/v1/contracts/{cid}/acceptances", json={"version": 1},
                       headers=w.headers("co_commissioner"))
    assert r.status_code == 409 and r.json()["code"] == "version_changed"
    r = await api.post(f"/api/v1/contracts/{cid}/acceptances", json={},
                       headers=w.headers("co_commissioner"))
    assert r.status_code == 400


async def test_a_co_commissioner_cannot_vary_the_other_off_the_contract_alone(api, world):
    w = world
    cid = await active_contract(w)
    before = await org_committed(api, w, "commissioner")
    t = await current_terms(api, w, cid)
    r = await propose(api, w, cid, who="co_commissioner", terms={**t, "commissioners": [
        {"organisation_id": str(w.ids["co_commissioner"]), "share_bp": 10_000}]})
    assert r.status_code == 202, r.text
    proposal = r.json()
    assert proposal["status"] == "pending" and proposal["contract"]["version"] == 1
    assert proposal["awaiting"] == [{"organisation_id": str(w.ids["commissioner"]),
                                     "role": "commissioner"}]
    assert [a["organisation_id"] for a in proposal["acceptances"]] == [
        str(w.ids["co_commissioner"])]
    r = await api.get(f"/api/v1/contracts/{cid}", headers=w.headers("commissioner"))
    assert r.status_code == 200 and r.json()["version"] == 1
    assert await org_committed(api, w, "commissioner") == before == 60_000_000

    listed = (await api.get(f"/api/v1/contracts/{cid}/proposals",
                            headers=w.headers("auditor"))).json()
    assert [p["id"] for p in listed] == [proposal["id"]]
    r = await accept(api, w, cid, proposal["id"], "commissioner")
    assert r.status_code == 200 and r.json()["status"] == "applied"
    assert await org_committed(api, w, "commissioner") == 0
    assert await org_committed(api, w, "co_commissioner") == 100_000_000


async def test_the_auditor_acknowledges_its_removal_itself_or_an_admin_does(api, world):
    w = world
    cid = await active_contract(w)
    t = await current_terms(api, w, cid)
    r = await propose(api, w, cid, who="co_commissioner", terms={**t, "auditor_ids": []})
    assert r.status_code == 202
    pid = r.json()["id"]
    r = await accept(api, w, cid, pid, "commissioner")
    assert r.status_code == 403 and r.json()["code"] == "not_affected"
    r = await api.get(f"/api/v1/contracts/{cid}", headers=w.headers("auditor"))
    assert r.status_code == 200
    r = await accept(api, w, cid, pid, "auditor")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "applied" and r.json()["acceptances"][-1]["role"] == "auditor"
    r = await api.get(f"/api/v1/contracts/{cid}", headers=w.headers("auditor"))
    assert r.status_code == 404

    # On another contract an administrator acknowledges in the auditor's place.
    cid = await active_contract(w)
    r = await propose(api, w, cid, terms={**t, "auditor_ids": []})
    pid = r.json()["id"]
    r = await accept(api, w, cid, pid, "admin")
    assert r.status_code == 200 and r.json()["status"] == "applied"
    ack = r.json()["acceptances"][-1]
    assert (ack["role"], ack["organisation_id"], ack["accepted_by_organisation_id"]) == (
        "admin", str(w.ids["auditor"]), str(w.ids["admin"]))
    # …but never for a commissioner.
    r = await propose(api, w, cid, terms={**t, "auditor_ids": [],
                                          "cap": {"amount": 90_000_000, "currency": "DKK"}})
    r = await accept(api, w, cid, r.json()["id"], "admin")
    assert r.status_code == 403 and r.json()["code"] == "admin_cannot_accept"


async def test_a_variation_cannot_take_effect_before_today(api, world):
    w = world
    cid = await active_contract(w)
    t = await current_terms(api, w, cid)
    r = await propose(api, w, cid, effective_on=day(-1),
                      terms={**t, "cap": {"amount": 120_000_000, "currency": "DKK"}})
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["code"] == "effective_in_past"
    assert r.json()["errors"][0]["field"] == "effective_on"


async def test_a_backdated_variation_does_not_move_a_reported_balance(api, world):
    w = world
    cid = await active_contract(w)
    t = await current_terms(api, w, cid)
    days = ["1995-01-01", "2024-06-30", day(-1)]
    reported = [await balance(api, w, cid, d) for d in days]
    r = await propose(api, w, cid, effective_on="1995-01-01",
                      terms={**t, "cap": {"amount": 300_000_000, "currency": "DKK"}})
    assert r.status_code == 422 and r.json()["code"] == "effective_in_past"
    r = await propose(api, w, cid, terms={**t, "cap": {"amount": 120_000_000, "currency": "DKK"}})
    assert r.status_code == 202
    r = await accept(api, w, cid, r.json()["id"], "co_commissioner")
    assert r.status_code == 200 and r.json()["status"] == "applied"
    assert r.json()["effective_on"] == day()
    assert [await balance(api, w, cid, d) for d in days] == reported
    assert (await balance(api, w, cid, day()))["committed"] == 120_000_000


async def test_a_variation_cannot_take_effect_within_a_paid_period(api, world):
    w = world
    cid = await active_contract(w, sampling_rate_bp=0)
    boss = w.headers("commissioner")
    await api.post(f"/api/v1/contracts/{cid}/participants", json=enrolments("A-1"),
                   headers=w.headers("provider"))
    r = await api.post(f"/api/v1/contracts/{cid}/claims",
                       headers={**w.headers("provider"), "Idempotency-Key": "1"},
                       json=[claim("c1", "A-1", "housing_entry", "2024-03-01")])
    ids = [x["id"] for x in r.json()["results"]]
    await api.post(f"/api/v1/contracts/{cid}/samples", headers=boss)
    await api.post(f"/api/v1/contracts/{cid}/approvals", json={"claim_ids": ids}, headers=boss)
    r = await api.post(f"/api/v1/contracts/{cid}/payment-runs",
                       json={"period_from": "2024-01-01", "period_to": day(30)},
                       headers={**boss, "Idempotency-Key": "run-1"})
    run = r.json()["id"]
    await api.post(f"/api/v1/payment-runs/{run}/approve", headers=w.headers("co_commissioner"))
    r = await api.post(f"/api/v1/payment-runs/{run}/pay", headers=boss)
    assert r.json()["status"] == "paid"

    t = await current_terms(api, w, cid)
    bigger = {**t, "cap": {"amount": 120_000_000, "currency": "DKK"}}
    for effective in (None, day(30)):
        body = {"effective_on": effective} if effective else {}
        r = await propose(api, w, cid, terms=bigger, **body)
        assert r.status_code == 422 and r.json()["code"] == "effective_in_paid_period"
    r = await propose(api, w, cid, terms=bigger, effective_on=day(31))
    assert r.status_code == 202 and r.json()["effective_on"] == day(31)


async def test_a_proposal_outdated_by_another_variation_is_refused(api, world):
    w = world
    cid = await active_contract(w)
    t = await current_terms(api, w, cid)
    stale = (await propose(api, w, cid, terms={
        **t, "cap": {"amount": 120_000_000, "currency": "DKK"}})).json()
    r = await propose(api, w, cid, terms={
        **t, "auditor_ids": [*t["auditor_ids"], str(w.ids["other_auditor"])]})
    assert r.status_code == 201 and r.json()["contract"]["version"] == 2
    r = await accept(api, w, cid, stale["id"], "co_commissioner")
    assert r.status_code == 409 and r.json()["code"] == "proposal_outdated"
    r = await api.get(f"/api/v1/contracts/{cid}/proposals/{stale['id']}",
                      headers=w.headers("co_commissioner"))
    assert r.json()["status"] == "superseded"
    assert (await balance(api, w, cid, day()))["committed"] == 100_000_000
