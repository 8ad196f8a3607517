"""Publication control over the API, on both engines: a contract's parties read what of it is
public (GET /api/v1/contracts/{id}/publication), its commissioners decide (PUT), and the
public figures (GET /api/v1/what-works/…) follow at once, for a reader without a key."""

from __future__ import annotations

from opendata.publication import PARTS
from tests.helpers import active_contract


def path(cid) -> str:
    return f"/api/v1/contracts/{cid}/publication"


async def test_parties_read_and_the_commissioner_decides(api, world):
    cid = world.contracts["own"]
    for who in ("commissioner", "co_commissioner", "provider", "auditor"):
        r = await api.get(path(cid), headers=world.headers(who))
        assert r.status_code == 200, (who, r.text)
        body = r.json()
        assert body["contract_id"] == str(cid)
        assert [p["part"] for p in body["parts"]] == list(PARTS)
        assert {p["status"] for p in body["parts"]} == {"private"}
        assert all(p["decided_by"] is None and p["meaning"] for p in body["parts"])

    r = await api.put(path(cid), headers=world.headers("commissioner"),
                      json={"parts": {"contract": "public", "results": "public"}})
    assert r.status_code == 200, r.text
    parts = {p["part"]: p for p in r.json()["parts"]}
    assert parts["contract"]["status"] == parts["results"]["status"] == "public"
    assert parts["rate_card"]["status"] == "private"
    assert parts["results"]["decided_by"].startswith("key:")
    assert parts["results"]["decided_at"]
    # What one commissioner decided, the others read; the parts not named keep theirs.
    r = await api.put(path(cid), headers=world.headers("co_commissioner"),
                      json={"parts": {"results": "private"}})
    assert r.status_code == 200
    r = await api.get(path(cid), headers=world.headers("provider"))
    status = {p["part"]: p["status"] for p in r.json()["parts"]}
    assert status == {**dict.fromkeys(PARTS, "private"), "contract": "public"}


async def test_only_a_commissioner_of_the_contract_decides(api, world):
    cid = world.contracts["own"]
    body = {"parts": {"contract": "public"}}
    r = await api.put(path(cid), headers=world.headers("provider"), json=body)
    assert r.status_code == 403 and r.json()["code"] == "commissioner_only"
    r = await api.put(path(cid), headers=world.headers("auditor"), json=body)
    assert r.status_code == 403 and r.json()["code"] == "read_only"
    # Another contract's parties do not learn that it exists.
    for who in ("other_commissioner", "other_provider"):
        r = await api.get(path(cid), headers=world.headers(who))
        assert r.status_code == 404 and r.json()["code"] == "contract_not_found"
        r = await api.put(path(cid), headers=world.headers(who), json=body)
        assert r.status_code == 404
    r = await api.get(path("00000000-0000-4000-8000-000000000000"),
                      headers=world.headers("admin"))
    assert r.status_code == 404
    assert (await api.get(path(cid))).status_code == 401
    r = await api.get(path(cid), headers=world.headers("commissioner"))
    assert {p["status"] for p in r.json()["parts"]} == {"private"}


async def test_a_part_virker_does_not_publish_is_refused(api, world):
    cid = world.contracts["own"]
    r = await api.put(path(cid), headers=world.headers("commissioner"),
                      json={"parts": {"contract": "public", "participants": "public"}})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "unknown_part"
    assert [e["field"] for e in problem["errors"]] == ["parts.participants"]
    # Nothing of the request was recorded.
    r = await api.get(path(cid), headers=world.headers("commissioner"))
    assert {p["status"] for p in r.json()["parts"]} == {"private"}
    r = await api.put(path(cid), headers=world.headers("commissioner"),
                      json={"parts": {"contract": "maybe"}})
    assert r.status_code == 400 and r.json()["code"] == "validation_error"


async def test_the_public_figures_follow_what_was_published_without_a_key(api, world):
    r = await api.get("/api/v1/what-works")
    assert r.status_code == 200 and r.json() == []
    r = await api.get("/api/v1/what-works/housing_entry")
    assert r.status_code == 200
    assert r.json()["units"] == [] and r.json()["small_cell_k"] == 5
    cid = world.contracts["other"]  # a draft: never shown, whatever is published
    r = await api.put(path(cid), headers=world.headers("other_commissioner"),
                      json={"parts": dict.fromkeys(PARTS, "public")})
    assert r.status_code == 200
    assert (await api.get("/api/v1/what-works/housing_entry")).json()["units"] == []
    active = await active_contract(world)
    r = await api.put(path(active), headers=world.headers("commissioner"),
                      json={"parts": {"contract": "public", "rate_card": "public"}})
    assert r.status_code == 200
    subjects = {s["code"]: s["contracts"] for s in (await api.get("/api/v1/what-works")).json()}
    assert subjects == {"employment": 1, "housing_entry": 1, "housing_sustained_3m": 1,
                        "pss_reduction": 1, "self_employment": 1}
    [unit] = (await api.get("/api/v1/what-works/housing_entry")).json()["units"]
    assert unit["published"] == ["contract", "rate_card"]
    assert unit["price"] == {"amount": 1_500_000, "currency": "DKK"}
    assert (unit["target"], unit["rate"], unit["observed"]) == (None, None, None)
    r = await api.get("/api/v1/what-works/nothing_like_it")
    assert r.status_code == 404 and r.json()["code"] == "subject_not_found"
