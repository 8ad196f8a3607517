"""Documents over HTTP on both engines: statements cover days that are over and write money
for their reader; a contract's batches are listed with their validation reports; lists
count what matches when asked."""

from __future__ import annotations

import datetime as dt
import io
import uuid

import msgspec
from pypdf import PdfReader

from contracts import consent, service
from contracts.schemas import ContractIn
from core.clock import now
from ledger import commitments
from tests.api.test_intake import claim, enrolments
from tests.helpers import active_contract, contract_body, intake_terms, principal


def text_of(pdf: bytes) -> str:
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    return text.replace("\xa0", " ")


def in_currency(value, currency: str):
    if isinstance(value, dict):
        return {k: currency if k == "currency" else in_currency(v, currency)
                for k, v in value.items()}
    if isinstance(value, list):
        return [in_currency(v, currency) for v in value]
    return value


async def gbp_contract(w) -> uuid.UUID:
    """A contract in pounds between the world's commissioners and provider, active."""
    shares = [(w.ids["commissioner"], 6000), (w.ids["co_commissioner"], 4000)]
    body = contract_body(w.ids["provider"], shares, [w.ids["auditor"]])
    body["currency"] = "GBP"
    body["terms"] = in_currency(intake_terms(shares, [w.ids["auditor"]]), "GBP")
    contract = await service.create_contract(None, msgspec.convert(body, ContractIn))
    await consent.accept_version(principal(w.ids["co_commissioner"], "commissioner"),
                                 contract.id, contract.version)
    await commitments.activate(principal(w.ids["commissioner"], "commissioner"), contract.id,
                               "signed")
    return contract.id


async def test_a_statement_period_may_not_end_in_the_future(api, world):
    cid = await active_contract(world)
    tomorrow = now().date() + dt.timedelta(days=1)
    r = await api.get(f"/api/v1/contracts/{cid}/statement.pdf?to={tomorrow}",
                      headers=world.headers("auditor"))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "period_in_future"


async def test_money_is_written_for_the_currency_and_the_readers_language(api, world):
    cid = await gbp_contract(world)
    url = f"/api/v1/contracts/{cid}/statement.pdf"
    r = await api.get(url, headers=world.headers("auditor"))
    assert r.status_code == 200, r.text
    text = text_of(r.content)
    assert "£1,000,000.00" in text  # the cap, committed
    assert "1.000.000,00 GBP" not in text and "øre" not in text
    assert "minor units" in text
    r = await api.get(f"{url}?lang=da", headers=world.headers("auditor"))
    assert "1.000.000,00 £" in text_of(r.content)
    r = await api.get(f"{url}?lang=de", headers=world.headers("auditor"))
    assert r.status_code == 400 and r.json()["code"] == "validation_error"
    dkk = await active_contract(world)
    r = await api.get(f"/api/v1/contracts/{dkk}/statement.pdf",
                      headers=world.headers("auditor"))
    assert "1.000.000,00 kr." in text_of(r.content)


async def test_a_contracts_batches_are_listed_with_their_reports(api, world):
    w = world
    cid = await active_contract(w)
    r = await api.post(f"/api/v1/contracts/{cid}/participants",
                       json=enrolments("ROS-1", "ROS-2"), headers=w.headers("provider"))
    assert r.status_code == 201
    on = "2024-03-01"
    r = await api.post(f"/api/v1/contracts/{cid}/claims", json=[
        claim("c1", "ROS-1", "housing_entry", on), claim("c2", "ROS-404", "housing_entry", on)],
        headers={**w.headers("provider"), "Idempotency-Key": "march"})
    claims_batch = r.json()["batch_id"]
    url = f"/api/v1/contracts/{cid}/batches"

    listed = (await api.get(url, headers=w.headers("commissioner"))).json()
    assert [(b["kind"], b["status"], b["rows"], b["accepted"], b["rejected"])
            for b in listed["items"]] == [("participants", "accepted", 2, 2, 0),
                                          ("claims", "partial", 2, 1, 1)]
    assert listed["items"][1]["idempotency_key"] == "march"
    assert listed["items"][0]["idempotency_key"] is None  # sent without one
    assert listed["total"] is None  # counted only when asked
    for query, kinds in [("kind=claims", ["claims"]), ("status=accepted", ["participants"]),
                         ("status=partial", ["claims"]), ("status=rejected", [])]:
        page = (await api.get(f"{url}?{query}", headers=w.headers("auditor"))).json()
        assert [b["kind"] for b in page["items"]] == kinds, query
    first = (await api.get(f"{url}?limit=1&count=true", headers=w.headers("provider"))).json()
    assert first["total"] == 2 and len(first["items"]) == 1
    second = (await api.get(f"{url}?limit=1&cursor={first['next_cursor']}",
                            headers=w.headers("provider"))).json()
    assert [b["id"] for b in second["items"]] == [claims_batch]
    assert second["next_cursor"] is None

    detail = (await api.get(f"/api/v1/batches/{claims_batch}",
                            headers=w.headers("auditor"))).json()
    assert detail["status"] == "partial"
    assert [(x["status"], [e["code"] for e in x.get("errors", [])])
            for x in detail["report"]["results"]] == [("accepted", []),
                                                      ("rejected", ["not_enrolled"])]
    for who in ("other_provider", "other_commissioner", "other_auditor"):
        r = await api.get(f"/api/v1/batches/{claims_batch}", headers=w.headers(who))
        assert r.status_code == 404 and r.json()["code"] == "batch_not_found", who
        r = await api.get(url, headers=w.headers(who))
        assert r.status_code == 404 and r.json()["code"] == "contract_not_found", who
    r = await api.get(f"/api/v1/batches/{uuid.uuid4()}", headers=w.headers("auditor"))
    assert r.status_code == 404 and r.json()["code"] == "batch_not_found"


async def test_lists_count_what_matches_when_asked(api, world):
    w = world
    await active_contract(w)
    r = await api.get("/api/v1/contracts?count=true&limit=1", headers=w.headers("commissioner"))
    page = r.json()
    # The world's draft and the new active contract.
    assert page["total"] == 2 and len(page["items"]) == 1 and page["next_cursor"]
    r = await api.get("/api/v1/contracts?count=true&status=active",
                      headers=w.headers("commissioner"))
    assert r.json()["total"] == 1
    r = await api.get("/api/v1/contracts", headers=w.headers("commissioner"))
    assert r.json()["total"] is None
    r = await api.get("/api/v1/contracts?count=true", headers=w.headers("other_provider"))
    assert r.json()["total"] == 1  # its own contract only


async def test_claims_and_participants_count_what_matches_when_asked(api, world):
    w = world
    cid = await active_contract(w)
    await api.post(f"/api/v1/contracts/{cid}/participants",
                   json=enrolments("ROS-1", "ROS-2", "ROS-3"), headers=w.headers("provider"))
    on = "2024-03-01"
    await api.post(f"/api/v1/contracts/{cid}/claims", json=[
        claim("c1", "ROS-1", "housing_entry", on), claim("c2", "ROS-2", "housing_entry", on)],
        headers={**w.headers("provider"), "Idempotency-Key": "march"})
    base = f"/api/v1/contracts/{cid}"
    page = (await api.get(f"{base}/participants?count=true&limit=2",
                          headers=w.headers("commissioner"))).json()
    assert page["total"] == 3 and len(page["items"]) == 2 and page["next_cursor"]
    page = (await api.get(f"{base}/claims?count=true&limit=1&status=accepted",
                          headers=w.headers("commissioner"))).json()
    assert page["total"] == 2 and len(page["items"]) == 1
    page = (await api.get(f"{base}/claims?count=true&status=paid",
                          headers=w.headers("commissioner"))).json()
    assert page["total"] == 0 and page["items"] == []
    page = (await api.get(f"{base}/claims", headers=w.headers("commissioner"))).json()
    assert page["total"] is None
