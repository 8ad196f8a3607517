"""Balances, payment runs, clawbacks and the journal check through HTTP, role by role."""

from __future__ import annotations

import datetime as dt

from tests.api.test_intake import claim, enrolments
from tests.helpers import active_contract


async def paid_contract(api, w):
    """Four approved claims, one payment run paid, one clawback."""
    cid = await active_contract(w, sampling_rate_bp=0)
    p = w.headers("provider")
    await api.post(f"/api/v1/contracts/{cid}/participants",
                   json=enrolments("A-1", "A-2", "A-3", "A-4"), headers=p)
    r = await api.post(f"/api/v1/contracts/{cid}/claims", headers={**p, "Idempotency-Key": "1"},
                       json=[claim(f"c{i}", f"A-{i}", "housing_entry", "2024-03-01")
                             for i in range(1, 5)])
    ids = [x["id"] for x in r.json()["results"]]
    boss = w.headers("commissioner")
    assert (await api.post(f"/api/v1/contracts/{cid}/samples", headers=boss)).status_code == 201
    r = await api.post(f"/api/v1/contracts/{cid}/approvals", json={"claim_ids": ids},
                       headers=boss)
    assert r.status_code == 200 and r.json()["accrued"]["amount"] == 6_000_000
    return cid, ids


async def test_a_commissioner_pays_through_the_api_and_everyone_sees_the_balance(api, world):
    w = world
    cid, ids = await paid_contract(api, w)
    boss = w.headers("commissioner")
    body = {"period_from": "2024-01-01", "period_to": "2024-12-31"}
    r = await api.post(f"/api/v1/contracts/{cid}/payment-runs", json=body,
                       headers={**boss, "Idempotency-Key": "run-1"})
    assert r.status_code == 201
    run = r.json()
    again = await api.post(f"/api/v1/contracts/{cid}/payment-runs", json=body,
                           headers={**boss, "Idempotency-Key": "run-1"})
    assert again.status_code == 200 and again.json()["id"] == run["id"]
    other = await api.post(f"/api/v1/contracts/{cid}/payment-runs",
                           json={**body, "period_to": "2024-06-30"},
                           headers={**boss, "Idempotency-Key": "run-1"})
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    for who, expected in [("provider", 403), ("auditor", 403), ("other_commissioner", 404)]:
        r = await api.post(f"/api/v1/payment-runs/{run['id']}/approve", headers=w.headers(who))
        assert r.status_code == expected, who
    # The co-commissioner checks what the commissioner's key drafted (maker-checker).
    assert (await api.post(f"/api/v1/payment-runs/{run['id']}/approve",
                           headers=w.headers("co_commissioner"))).json()["status"] == "approved"
    paid = await api.post(f"/api/v1/payment-runs/{run['id']}/pay", headers=boss)
    assert paid.json()["status"] == "paid" and paid.json()["total"]["amount"] == 6_000_000
    r = await api.post(f"/api/v1/claims/{ids[0]}/clawback", json={"reason": "moved out"},
                       headers=boss)
    assert r.status_code == 200 and r.json()["status"] == "reversed"
    assert [h["to_status"] for h in r.json()["history"]] == [
        "accepted", "approved", "paid", "reversed"]

    for who in ("commissioner", "co_commissioner", "provider", "auditor"):
        b = await api.get(f"/api/v1/contracts/{cid}/balance", headers=w.headers(who))
        assert b.status_code == 200, who
        assert {k: b.json()[k] for k in ("committed", "accrued", "clawed_back", "paid",
                                         "receivable", "remaining")} == {
            "committed": 100_000_000, "accrued": 6_000_000, "clawed_back": 1_500_000,
            "paid": 6_000_000, "receivable": 1_500_000, "remaining": 95_500_000}
    r = await api.get(f"/api/v1/contracts/{cid}/balance?on=2023-12-31", headers=boss)
    assert r.json()["committed"] == 0
    r = await api.get(f"/api/v1/contracts/{cid}/balance", headers=w.headers("other_provider"))
    assert r.status_code == 404


async def test_organisation_balances_are_their_own(api, world):
    w = world
    await paid_contract(api, w)
    me = w.ids["co_commissioner"]
    r = await api.get(f"/api/v1/organisations/{me}/balance",
                      headers=w.headers("co_commissioner"))
    assert r.status_code == 200
    assert r.json()["balances"]["DKK"]["accrued"] == 6_000_000 * 4000 // 10_000
    r = await api.get(f"/api/v1/organisations/{me}/balance", headers=w.headers("provider"))
    assert r.status_code == 404
    today = dt.date.today().isoformat()
    r = await api.get(f"/api/v1/organisations/{me}/balance?on={today}",
                      headers=w.headers("admin"))
    assert r.status_code == 200


async def test_auditors_verify_the_journal_and_others_may_not(api, world):
    w = world
    await paid_contract(api, w)
    r = await api.get("/api/v1/ledger/verify", headers=w.headers("auditor"))
    assert r.status_code == 200
    report = r.json()
    assert report["ok"] and report["entries"] >= 3 and report["first_mismatch"] is None
    # An auditor sees the chain's integrity, and amounts only of its own contracts.
    assert "trial_balance" not in report and "totals" not in report
    r = await api.get("/api/v1/ledger/verify", headers=w.headers("admin"))
    assert r.json()["trial_balance"] == {"DKK": 0}
    r = await api.get("/api/v1/ledger/verify", headers=w.headers("provider"))
    assert r.status_code == 403 and r.json()["code"] == "auditor_only"


async def test_a_variation_commits_the_difference(api, world):
    w = world
    cid, _ = await paid_contract(api, w)
    boss = w.headers("commissioner")
    current = (await api.get(f"/api/v1/contracts/{cid}", headers=boss)).json()["terms"]
    bigger = {**current, "cap": {"amount": 120_000_000, "currency": "DKK"}}
    r = await api.post(f"/api/v1/contracts/{cid}/variations",
                       json={"reason": "top-up from the fund", "terms": bigger}, headers=boss)
    # A bigger cap commits the co-commissioner's money too: it waits for its acceptance.
    assert r.status_code == 202, r.text
    b = (await api.get(f"/api/v1/contracts/{cid}/balance", headers=boss)).json()
    assert b["committed"] == 100_000_000
    r = await api.post(f"/api/v1/contracts/{cid}/proposals/{r.json()['id']}/accept",
                       headers=w.headers("co_commissioner"))
    assert r.status_code == 200 and r.json()["status"] == "applied", r.text
    b = (await api.get(f"/api/v1/contracts/{cid}/balance", headers=boss)).json()
    assert b["committed"] == 120_000_000 and b["remaining"] == 114_000_000
    too_small = {**current, "cap": {"amount": 5_000_000, "currency": "DKK"}}
    r = await api.post(f"/api/v1/contracts/{cid}/variations",
                       json={"reason": "cut", "terms": too_small}, headers=boss)
    assert r.status_code == 422 and r.json()["code"] == "cap_below_accrued"
