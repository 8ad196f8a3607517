"""Providers enrol participants and submit claims through the API; the report says, row by
row, what was accepted and why the rest was not."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from outcomes.tables import Claim, IntakeBatch, Participant
from tests.helpers import active_contract

ENROLLED = "2024-02-01"


def enrolments(*pseudonyms: str, on: str = ENROLLED) -> list[dict]:
    return [{"pseudonym": p, "enrolled_on": on, "age_band": "18-24", "area": "Roskilde"}
            for p in pseudonyms]


def claim(ref: str, pseudonym: str, metric: str, on: str, **extra) -> dict:
    return {"client_ref": ref, "pseudonym": pseudonym, "metric_code": metric,
            "achieved_on": on, "evidence_ref": f"doc-{ref}", **extra}


async def setup(api, w, *pseudonyms: str, **terms):
    cid = await active_contract(w, **terms)
    if pseudonyms:
        r = await api.post(f"/api/v1/contracts/{cid}/participants",
                           json=enrolments(*pseudonyms), headers=w.headers("provider"))
        assert r.status_code == 201, r.text
    return cid


def post_claims(api, w, cid, rows, key=None, who="provider", **kw):
    headers = {**w.headers(who), "Idempotency-Key": key or uuid.uuid4().hex}
    return api.post(f"/api/v1/contracts/{cid}/claims", json=rows, headers=headers, **kw)


async def test_enrolment_is_idempotent_and_refuses_changed_dates(api, world):
    w = world
    cid = await setup(api, w)
    url = f"/api/v1/contracts/{cid}/participants"
    r = await api.post(url, json=enrolments("ROS-1", "ROS-2"), headers=w.headers("provider"))
    assert [x["status"] for x in r.json()["results"]] == ["created", "created"]
    r = await api.post(url, json=enrolments("ROS-1") + enrolments("ROS-2", on="2024-03-01"),
                       headers=w.headers("provider"))
    report = r.json()
    assert [x["status"] for x in report["results"]] == ["unchanged", "rejected"]
    assert report["results"][1]["errors"][0]["code"] == "enrolment_conflict"
    assert await Participant.count() == 2
    enrolled = (await api.get(url, headers=w.headers("commissioner"))).json()["items"]
    assert {(p["pseudonym"], p["enrolled_on"]) for p in enrolled} == {
        ("ROS-1", ENROLLED), ("ROS-2", ENROLLED)}


async def test_personal_identifiers_never_become_participants(api, world):
    w = world
    cid = await setup(api, w)
    rows = enrolments("0101901234", "010190-1234", "01019012345", "AB123456C",
                      "Jens Hansen", "ROS-7")
    r = await api.post(f"/api/v1/contracts/{cid}/participants", json=rows,
                       headers=w.headers("provider"))
    results = r.json()["results"]
    assert [x["errors"][0]["code"] if x.get("errors") else x["status"] for x in results] == [
        "personal_identifier"] * 4 + ["invalid_pseudonym", "created"]
    assert "0101901234" not in r.text  # the report does not echo the identifier either
    assert [p["pseudonym"] for p in await Participant.select(Participant.pseudonym)] == [
        "ROS-7"]


async def test_csv_enrolment_and_unknown_columns_are_refused_whole(api, world):
    w = world
    cid = await setup(api, w)
    url = f"/api/v1/contracts/{cid}/participants"
    csv_headers = {**w.headers("provider"), "content-type": "text/csv"}
    bad = "pseudonym,enrolled_on,first_name,last_name\nROS-1,2024-02-01,Jens,Hansen\n"
    r = await api.post(url, content=bad.encode(), headers=csv_headers)
    assert r.status_code == 422 and r.json()["code"] == "unknown_columns"
    assert {e["field"] for e in r.json()["errors"]} == {"first_name", "last_name"}
    assert await Participant.count() == 0
    good = "\ufeffpseudonym,enrolled_on,age_band\nROS-1,2024-02-01,18-24\nROS-2,2024-02-30,\n"
    r = await api.post(url, content=good.encode(), headers=csv_headers)
    assert r.status_code == 201
    results = r.json()["results"]
    assert results[0]["status"] == "created"
    assert results[1]["errors"][0]["field"] == "enrolled_on"


async def test_claims_report_row_by_row(api, world):
    w = world
    cid = await setup(api, w, "ROS-1", "ROS-2")
    rows = [
        claim("c1", "ROS-1", "housing_entry", "2024-03-01"),
        claim("c2", "ROS-1", "housing_sustained_3m", "2024-06-05"),
        claim("c3", "ROS-2", "housing_sustained_3m", "2024-06-05"),
        claim("c4", "ROS-9", "employment", "2024-05-01"),
        claim("c5", "ROS-2", "employment", "01-05-2024"),  # not ISO 8601: refused
        claim("c6", "ROS-2", "employment", "2024-05-01"),
        claim("c7", "ROS-2", "self_employment", "2024-06-01"),
    ]
    r = await post_claims(api, w, cid, rows)
    assert r.status_code == 201, r.text
    report = r.json()
    assert (report["rows"], report["accepted"], report["rejected"]) == (7, 3, 4)
    outcome = [(x.get("ref"), x["status"], [e["code"] for e in x.get("errors", [])])
               for x in report["results"]]
    assert outcome == [
        ("c1", "accepted", []),
        ("c2", "accepted", []),
        ("c3", "rejected", ["prerequisite_missing"]),
        ("c4", "rejected", ["not_enrolled"]),
        (None, "rejected", ["invalid_field"]),
        ("c6", "accepted", []),
        ("c7", "rejected", ["exclusive_conflict", "participant_cap_reached"]),
    ]
    assert report["results"][0]["amount"] == {"amount": 1_500_000, "currency": "DKK"}
    assert await Claim.count() == 3


async def test_same_key_same_body_replays_and_different_body_conflicts(api, world):
    w = world
    cid = await setup(api, w, "ROS-1")
    rows = [claim("c1", "ROS-1", "housing_entry", "2024-03-01")]
    first = await post_claims(api, w, cid, rows, key="batch-1")
    again = await post_claims(api, w, cid, rows, key="batch-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    other = await post_claims(api, w, cid, [claim("c2", "ROS-1", "employment", "2024-03-01")],
                              key="batch-1")
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert await Claim.count() == 1 and await IntakeBatch.count() == 2  # enrolment + claims


async def test_client_ref_returns_the_existing_claim_or_conflicts(api, world):
    w = world
    cid = await setup(api, w, "ROS-1")
    rows = [claim("c1", "ROS-1", "housing_entry", "2024-03-01")]
    first = (await post_claims(api, w, cid, rows)).json()["results"][0]
    again = (await post_claims(api, w, cid, rows)).json()["results"][0]
    assert again["status"] == "accepted" and again["id"] == first["id"]
    changed = [claim("c1", "ROS-1", "housing_entry", "2024-03-02")]
    result = (await post_claims(api, w, cid, changed)).json()["results"][0]
    assert result["errors"][0]["code"] == "client_ref_conflict"
    assert await Claim.count() == 1


async def test_claims_need_an_idempotency_key_and_the_right_content_type(api, world):
    w = world
    cid = await setup(api, w, "ROS-1")
    url = f"/api/v1/contracts/{cid}/claims"
    rows = [claim("c1", "ROS-1", "housing_entry", "2024-03-01")]
    r = await api.post(url, json=rows, headers=w.headers("provider"))
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_required"
    r = await api.post(url, content=b"<claims/>", headers={
        **w.headers("provider"), "Idempotency-Key": "k", "content-type": "application/xml"})
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"
    r = await api.post(url, json={"client_ref": "c1"}, headers={
        **w.headers("provider"), "Idempotency-Key": "k2"})
    assert r.status_code == 422 and r.json()["code"] == "not_an_array"
    assert await Claim.count() == 0


async def test_too_many_rows_and_too_many_bytes_get_413(api, world):
    w = world
    cid = await setup(api, w, "ROS-1")
    rows = [claim(f"c{i}", "ROS-1", "housing_entry", "2024-03-01") for i in range(10_001)]
    r = await post_claims(api, w, cid, rows)
    assert r.status_code == 413 and r.json()["code"] == "too_many_rows"
    huge = b"[" + b" " * (9 * 1024 * 1024) + b"]"
    r = await api.post(f"/api/v1/contracts/{cid}/claims", content=huge, headers={
        **w.headers("provider"), "Idempotency-Key": "big", "content-type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    assert await Claim.count() == 0


async def test_csv_claims_with_score_values(api, world):
    w = world
    cid = await setup(api, w, "ROS-1", "ROS-2", "ROS-3")
    body = ("client_ref,pseudonym,metric_code,achieved_on,value,evidence_ref\n"
            "s1,ROS-1,pss_reduction,2025-01-31,-6,pss-form-1\n"
            "s2,ROS-2,pss_reduction,2025-02-01,-2,pss-form-2\n"
            "s3,ROS-3,pss_reduction,2025-02-02,lots,pss-form-3\n")
    r = await api.post(f"/api/v1/contracts/{cid}/claims", content=body.encode(), headers={
        **w.headers("provider"), "Idempotency-Key": "csv-1", "content-type": "text/csv"})
    assert r.status_code == 201, r.text
    codes = [[e["code"] for e in x.get("errors", [])] for x in r.json()["results"]]
    assert codes == [[], ["below_threshold"], ["invalid_field"]]


async def test_only_the_provider_submits_and_strangers_see_nothing(api, world):
    w = world
    cid = await setup(api, w, "ROS-1")
    rows = [claim("c1", "ROS-1", "housing_entry", "2024-03-01")]
    assert (await post_claims(api, w, cid, rows, who="commissioner")).status_code == 403
    assert (await post_claims(api, w, cid, rows, who="auditor")).status_code == 403
    assert (await post_claims(api, w, cid, rows, who="other_provider")).status_code == 404
    r = await api.get(f"/api/v1/contracts/{cid}/claims", headers=w.headers("other_provider"))
    assert r.status_code == 404


async def test_draft_contracts_take_no_claims(api, world):
    w = world
    r = await post_claims(api, w, w.contracts["own"], [
        claim("c1", "ROS-1", "housing_entry", "2024-03-01")])
    assert r.status_code == 409 and r.json()["code"] == "contract_not_active"


async def test_claims_list_filters_and_pages_and_shows_history(api, world):
    w = world
    cid = await setup(api, w, "ROS-1", "ROS-2", "ROS-3")
    rows = [claim(f"e{i}", f"ROS-{i}", "housing_entry", f"2024-03-0{i}") for i in (1, 2, 3)]
    rows.append(claim("j1", "ROS-1", "employment", "2024-04-01"))
    await post_claims(api, w, cid, rows)
    url = f"/api/v1/contracts/{cid}/claims"
    boss = w.headers("commissioner")
    got = (await api.get(f"{url}?metric=housing_entry&achieved_from=2024-03-02",
                         headers=boss)).json()
    assert [c["client_ref"] for c in got["items"]] == ["e2", "e3"]
    got = (await api.get(f"{url}?participant=ROS-1", headers=boss)).json()
    assert {c["client_ref"] for c in got["items"]} == {"e1", "j1"}
    pages, cursor = [], None
    while True:
        page = (await api.get(f"{url}?limit=3" + (f"&cursor={cursor}" if cursor else ""),
                              headers=boss)).json()
        pages.append([c["client_ref"] for c in page["items"]])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == [["e1", "e2", "e3"], ["j1"]]
    one = (await api.get(f"/api/v1/claims/{got['items'][0]['id']}", headers=boss)).json()
    assert one["history"][0]["to_status"] == "accepted"
    assert (await api.get(f"{url}?status=nonsense", headers=boss)).status_code == 400


@pytest.mark.parametrize("value", ["1e400", "NaN"])
async def test_odd_numbers_are_rejected_per_row(api, world, value):
    w = world
    cid = await setup(api, w, "ROS-1")
    when = (dt.date(2024, 2, 1) + dt.timedelta(days=365)).isoformat()
    r = await post_claims(api, w, cid, [claim("s1", "ROS-1", "pss_reduction", when,
                                              value=value)])
    assert r.status_code == 201
    assert r.json()["results"][0]["status"] == "rejected"
