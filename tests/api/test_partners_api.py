"""A partnership over HTTP on both engines: the lead and two partners enrol and claim for
their own participants; lists, single rows and reports show a partner only its own
participants and the partnership's figures; the payment run and its remittance say what
each provider is owed."""

from __future__ import annotations

import io
import uuid

from pypdf import PdfReader

from tests.api.test_intake import claim, enrolments
from tests.helpers import partnership

ROSTER = {"provider": ["L-1", "L-2"], "partner_a": ["A-1"], "partner_b": ["B-1", "B-2", "B-3"]}
ENTRY = 1_500_000


async def delivered(api, w, **kw) -> tuple[uuid.UUID, dict[str, list[str]]]:
    cid = await partnership(w, sampling_rate_bp=0, **kw)
    claims = {}
    for name, pseudonyms in ROSTER.items():
        r = await api.post(f"/api/v1/contracts/{cid}/participants",
                           json=enrolments(*pseudonyms), headers=w.headers(name))
        assert r.status_code == 201, r.text
        assert [x["status"] for x in r.json()["results"]] == ["created"] * len(pseudonyms)
        r = await api.post(f"/api/v1/contracts/{cid}/claims",
                           json=[claim(f"{name}:{p}", p, "housing_entry", "2024-03-01")
                                 for p in pseudonyms],
                           headers={**w.headers(name), "Idempotency-Key": f"{name}-1"})
        assert r.status_code == 201, r.text
        assert [x["status"] for x in r.json()["results"]] == ["accepted"] * len(pseudonyms)
        claims[name] = [x["id"] for x in r.json()["results"]]
    return cid, claims


def seen(r) -> set[str]:
    assert r.status_code == 200, r.text
    return {item["pseudonym"] for item in r.json()["items"]}


async def test_a_partner_sees_its_own_participants_and_claims_and_nobody_elses(api, world):
    w = world
    cid, claims = await delivered(api, w)
    everyone = {p for names in ROSTER.values() for p in names}
    for name, own in ROSTER.items():
        expected = everyone if name == "provider" else set(own)
        r = await api.get(f"/api/v1/contracts/{cid}/participants?count=true",
                          headers=w.headers(name))
        assert seen(r) == expected and r.json()["total"] == len(expected), name
        r = await api.get(f"/api/v1/contracts/{cid}/claims?count=true", headers=w.headers(name))
        assert seen(r) == expected and r.json()["total"] == len(expected), name
        r = await api.get(f"/api/v1/contracts/{cid}", headers=w.headers(name))
        assert r.status_code == 200 and len(r.json()["terms"]["partners"]) == 2
    for who in ("commissioner", "co_commissioner", "auditor"):
        assert seen(await api.get(f"/api/v1/contracts/{cid}/participants",
                                  headers=w.headers(who))) == everyone, who
        assert seen(await api.get(f"/api/v1/contracts/{cid}/claims",
                                  headers=w.headers(who))) == everyone, who

    # Another partner's claim by id is not found; its owner, the lead and the commissioner
    # find it.
    theirs = claims["partner_b"][0]
    r = await api.get(f"/api/v1/claims/{theirs}", headers=w.headers("partner_a"))
    assert r.status_code == 404 and r.json()["code"] == "claim_not_found"
    for who in ("partner_b", "provider", "commissioner"):
        r = await api.get(f"/api/v1/claims/{theirs}", headers=w.headers(who))
        assert r.status_code == 200 and r.json()["pseudonym"] == "B-1", who

    # So are its batches.
    r = await api.get(f"/api/v1/contracts/{cid}/batches?count=true",
                      headers=w.headers("partner_a"))
    assert {b["organisation_id"] for b in r.json()["items"]} == {str(w.ids["partner_a"])}
    assert r.json()["total"] == 2
    r = await api.get(f"/api/v1/contracts/{cid}/batches?count=true",
                      headers=w.headers("commissioner"))
    assert r.json()["total"] == 6
    batch_b = next(b["id"] for b in r.json()["items"]
                   if b["organisation_id"] == str(w.ids["partner_b"]))
    r = await api.get(f"/api/v1/batches/{batch_b}", headers=w.headers("partner_a"))
    assert r.status_code == 404 and r.json()["code"] == "batch_not_found"
    r = await api.get(f"/api/v1/contracts/{cid}/batches/{batch_b}",
                      headers=w.headers("partner_a"))
    assert r.status_code == 404 and r.json()["code"] == "batch_not_found"


async def test_a_partner_claiming_for_anothers_participant_is_refused(api, world):
    w = world
    cid, _ = await delivered(api, w)
    r = await api.post(f"/api/v1/contracts/{cid}/claims",
                       json=[claim("a:B-1", "B-1", "housing_entry", "2024-03-01"),
                             claim("a:nobody", "NOBODY-9", "housing_entry", "2024-03-01")],
                       headers={**w.headers("partner_a"), "Idempotency-Key": "a-2"})
    assert r.status_code == 201
    results = r.json()["results"]
    assert [[(e["code"], e["field"]) for e in x["errors"]] for x in results] == [
        [("not_enrolled", "pseudonym")]] * 2
    # Enrolling it is refused too, without saying who has it or since when.
    r = await api.post(f"/api/v1/contracts/{cid}/participants", json=enrolments("B-1"),
                       headers=w.headers("partner_a"))
    [row] = r.json()["results"]
    assert row["status"] == "rejected"
    assert [(e["code"], e["field"]) for e in row["errors"]] == [
        ("participant_conflict", "pseudonym")]
    assert "2024-02-01" not in r.text and str(w.ids["partner_b"]) not in r.text


async def test_the_payment_run_says_what_each_provider_is_owed(api, world):
    w = world
    cid, claims = await delivered(api, w, partner_payment="by_split", splits=(2_500, 3_333))
    boss = w.headers("commissioner")
    ids = [c for names in claims.values() for c in names]
    assert (await api.post(f"/api/v1/contracts/{cid}/samples", headers=boss)).status_code == 201
    r = await api.post(f"/api/v1/contracts/{cid}/approvals", json={"claim_ids": ids},
                       headers=boss)
    assert r.status_code == 200, r.text
    r = await api.post(f"/api/v1/contracts/{cid}/payment-runs", headers={
        **boss, "Idempotency-Key": "run-1"},
        json={"period_from": "2024-01-01", "period_to": "2024-12-31"})
    assert r.status_code == 201, r.text
    run = r.json()
    total = 6 * ENTRY
    a, b = total * 2_500 // 10_000, total * 3_333 // 10_000
    expected = [
        {"organisation_id": str(w.ids["provider"]), "role": "lead",
         "amount": {"amount": total - a - b, "currency": "DKK"}},
        {"organisation_id": str(w.ids["partner_a"]), "role": "partner",
         "amount": {"amount": a, "currency": "DKK"}},
        {"organisation_id": str(w.ids["partner_b"]), "role": "partner",
         "amount": {"amount": b, "currency": "DKK"}}]
    assert run["shares"] == expected
    assert sum(s["amount"]["amount"] for s in run["shares"]) == run["total"]["amount"]
    assert (await api.post(f"/api/v1/payment-runs/{run['id']}/approve",
                           headers=w.headers("co_commissioner"))).status_code == 200
    r = await api.post(f"/api/v1/payment-runs/{run['id']}/pay", headers=boss)
    assert r.status_code == 200 and r.json()["shares"] == expected
    # A partner sees the partnership's figures, and the run's claims of its own.
    r = await api.get(f"/api/v1/payment-runs/{run['id']}", headers=w.headers("partner_b"))
    assert r.status_code == 200 and r.json()["shares"] == expected
    r = await api.get(f"/api/v1/payment-runs/{run['id']}/claims",
                      headers=w.headers("partner_b"))
    assert r.status_code == 200 and sorted(r.json()) == sorted(claims["partner_b"])

    r = await api.get(f"/api/v1/payment-runs/{run['id']}/remittance.pdf", headers=boss)
    assert r.status_code == 200, r.text
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    text = text.replace("\xa0", " ")
    section = text[text.index("By provider"):text.index("By outcome")]
    assert "lead" in section and "partner, 25 %" in section and "partner, 33.33 %" in section
    assert "All providers" in section


async def test_a_run_of_a_contract_without_partners_owes_the_lead_everything(api, world):
    from tests.api.test_ledger_api import paid_contract

    w = world
    cid, _ = await paid_contract(api, w)
    r = await api.post(f"/api/v1/contracts/{cid}/payment-runs",
                       json={"period_from": "2024-01-01", "period_to": "2024-12-31"},
                       headers={**w.headers("commissioner"), "Idempotency-Key": "r"})
    assert r.json()["shares"] == [{"organisation_id": str(w.ids["provider"]), "role": "lead",
                                   "amount": r.json()["total"]}]
