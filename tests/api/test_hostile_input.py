"""Input meant to hurt: NUL characters, JSON nested a thousand deep, dates at the ends of the
calendar, money that is not an integer, and personal data in every free-text field. Each is
a 4xx problem+json with a stable code, never a 500; nothing is stored; and the offending
value comes back in no response and stays in no stored report.

What the published document refuses (a NUL in a text, a date outside 1900–2200, "1e3" as
money) is 400; what it cannot say (a CPR number in a title, 1000.0 as money, an integer by
JSON Schema's rules) is 422."""

from __future__ import annotations

import uuid

import pytest

from contracts.tables import ApiKey, Contract, Metric
from outcomes.tables import Claim, IntakeBatch, Participant
from tests.api.test_intake import claim, enrolments, post_claims, setup
from tests.helpers import contract_body

CPR = "010190-1234"


def problem_of(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == code, body
    return body


def contract(w, **over) -> dict:
    return {**contract_body(w.ids["provider"], [(w.ids["commissioner"], 10_000)],
                            reference="HOSTILE-1"), **over}


# NUL characters ----------------------------------------------------------------------------


async def test_a_nul_in_an_api_key_label_or_a_title_is_400_and_nothing_is_kept(api, world):
    w = world
    keys = await ApiKey.count()
    r = await api.post("/api/v1/api-keys", json={"label": "ops\u0000key"},
                       headers=w.headers("provider"))
    body = problem_of(r, 400, "invalid_character")
    assert body["errors"][0]["field"] == "label"
    assert await ApiKey.count() == keys
    contracts = await Contract.count()
    r = await api.post("/api/v1/contracts", json=contract(w, title="Housing\u0000first"),
                       headers=w.headers("commissioner"))
    assert problem_of(r, 400, "invalid_character")["errors"][0]["field"] == "title"
    assert await Contract.count() == contracts


async def test_a_nul_in_a_pseudonym_refuses_the_batch(api, world):
    w = world
    cid = await setup(api, w)
    rows = enrolments("ROS-1", "ROS\u00002")
    r = await api.post(f"/api/v1/contracts/{cid}/participants", json=rows,
                       headers=w.headers("provider"))
    body = problem_of(r, 400, "invalid_character")
    assert body["errors"][0]["field"] == "pseudonym" and "row 2" in body["errors"][0]["message"]
    assert await Participant.count() == 0 and await IntakeBatch.count() == 0


async def test_a_nul_in_a_csv_cell_refuses_the_file_with_its_line(api, world):
    w = world
    cid = await setup(api, w)
    body = b"pseudonym,enrolled_on\nROS-1,2024-02-01\nROS-\x002,2024-02-01\n"
    r = await api.post(f"/api/v1/contracts/{cid}/participants", content=body,
                       headers={**w.headers("provider"), "content-type": "text/csv"})
    problem = problem_of(r, 400, "invalid_character")
    assert "line 3" in problem["detail"]
    assert await Participant.count() == 0


@pytest.mark.parametrize("path", [
    "/api/v1/metrics/%00",
    "/api/v1/metrics/housing%00entry",
])
async def test_a_nul_in_a_path_parameter_is_a_4xx_problem(api, world, path):
    r = await api.get(path, headers=world.headers("commissioner"))
    assert r.status_code in (400, 404), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] in ("invalid_character", "metric_not_found")


async def test_a_nul_in_a_query_parameter_is_400(api, world):
    w = world
    cid = await setup(api, w)
    for query in ("participant=ROS%001", "metric=housing%00entry"):
        r = await api.get(f"/api/v1/contracts/{cid}/claims?{query}",
                          headers=w.headers("commissioner"))
        problem_of(r, 400, "invalid_character")


# Deep JSON ---------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("shape", ["arrays", "objects"])
async def test_json_nested_a_thousand_deep_is_400_invalid_json(api, world, depth, shape):
    w = world
    body = ("[" * depth + "]" * depth if shape == "arrays"
            else '{"a":' * depth + "1" + "}" * depth).encode()
    assert depth > 1_000 or len(body) < 7_000
    headers = {"content-type": "application/json"}
    r = await api.post("/api/v1/contracts", content=body,
                       headers={**w.headers("commissioner"), **headers})
    problem_of(r, 400, "invalid_json")
    cid = w.contracts["own"]
    for kind in ("participants", "claims"):
        r = await api.post(f"/api/v1/contracts/{cid}/{kind}", content=body, headers={
            **w.headers("provider"), **headers, "Idempotency-Key": uuid.uuid4().hex})
        # An object is refused for what it is before its depth is looked at.
        if shape == "arrays":
            problem_of(r, 400, "invalid_json")
        else:
            problem_of(r, 422, "not_an_array")
    rows = b"[" + b'{"pseudonym": ' + b"[" * depth + b"]" * depth + b"}]"
    r = await api.post(f"/api/v1/contracts/{cid}/participants", content=rows,
                       headers={**w.headers("provider"), **headers})
    problem_of(r, 400, "invalid_json")


# Dates at the ends of the calendar ---------------------------------------------------------


@pytest.mark.parametrize("query", ["from=0001-01-01&to=2024-12-31",
                                   "from=2024-01-01&to=9999-12-31",
                                   "from=0001-01-01&to=0001-01-01",
                                   "from=9999-12-31&to=9999-12-31"])
async def test_a_statement_period_at_the_ends_of_the_calendar_is_422(api, world, query):
    w = world
    cid = await setup(api, w)
    r = await api.get(f"/api/v1/contracts/{cid}/statement.pdf?{query}",
                      headers=w.headers("auditor"))
    problem_of(r, 422, "invalid_period")


async def test_dates_at_the_ends_of_the_calendar_are_refused_where_sent(api, world):
    w = world
    cid = await setup(api, w, "ROS-1")
    r = await api.post(f"/api/v1/contracts/{cid}/participants",
                       json=enrolments("ROS-2", on="9999-12-31"), headers=w.headers("provider"))
    assert r.status_code == 201
    assert r.json()["results"][0]["errors"][0] == {
        "code": "invalid_date", "field": "enrolled_on",
        "message": "Virker takes dates from 1900-01-01 to 2200-12-31"}
    r = await post_claims(api, w, cid, [claim("c1", "ROS-1", "housing_entry", "0001-01-01")])
    assert r.json()["results"][0]["errors"][0]["code"] == "invalid_date"
    r = await api.post(f"/api/v1/contracts/{cid}/payment-runs", json={
        "period_from": "0001-01-01", "period_to": "9999-12-31"},
        headers=w.headers("commissioner"))
    assert problem_of(r, 400, "validation_error")["errors"][0]["field"] == "period_from"
    body = contract(w)
    body["terms"]["claims_deadline"] = "9999-12-31"
    r = await api.post("/api/v1/contracts", json=body, headers=w.headers("commissioner"))
    assert problem_of(r, 400, "validation_error")["errors"][0] == {
        "code": "invalid_date", "field": "terms.claims_deadline",
        "message": "Virker takes dates from 1900-01-01 to 2200-12-31"}


# Money -------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount,status,code", [
    ("1e3", 400, "validation_error"), ("1000", 400, "validation_error"),
    (10.5, 400, "validation_error"),
    # Integers by JSON Schema's rules, which the published document follows: a rule of
    # Virker's (money is written as an integer), so 422.
    (1e3, 422, "invalid_terms"), (1000.0, 422, "invalid_terms"),
])
async def test_money_that_is_not_an_integer_is_refused(api, world, amount, status, code):
    w = world
    body = contract(w)
    body["terms"]["cap"]["amount"] = amount
    r = await api.post("/api/v1/contracts", json=body, headers=w.headers("commissioner"))
    problem = problem_of(r, status, code)
    assert problem["errors"][0]["field"] == "terms.cap.amount"
    assert "whole number of minor units" in problem["errors"][0]["message"]
    assert await Contract.count() == 2  # the world's two


# Personal data -----------------------------------------------------------------------------


@pytest.mark.parametrize("field,value", [
    ("client_ref", "c-0101901234"),
    ("client_ref", "c.01.01.90.1234"),
    ("evidence_ref", "mail fra jens#example.dk"),
    ("evidence_ref", "AB-12-34-56-C"),
    ("evidence_ref", "tlf. +45 12 34 56 78"),
    ("metric_code", "010190-1234"),
])
@pytest.mark.parametrize("media", ["json", "csv"])
async def test_a_claim_row_with_personal_data_is_rejected_and_never_echoed(
        api, world, field, value, media):
    w = world
    cid = await setup(api, w, "ROS-1")
    rows = [claim("c1", "ROS-1", "housing_entry", "2024-03-01"),
            {**claim("c2", "ROS-1", "employment", "2024-05-01"), field: value}]
    headers = {**w.headers("provider"), "Idempotency-Key": "pd-1"}
    if media == "json":
        r = await api.post(f"/api/v1/contracts/{cid}/claims", json=rows, headers=headers)
    else:
        columns = list(rows[0])
        text = ",".join(columns) + "\n" + "".join(
            ",".join(f'"{row[c]}"' for c in columns) + "\n" for row in rows)
        r = await api.post(f"/api/v1/contracts/{cid}/claims", content=text.encode(),
                           headers={**headers, "content-type": "text/csv"})
    assert r.status_code == 201, r.text
    results = r.json()["results"]
    assert results[0]["status"] == "accepted"
    assert results[1]["status"] == "rejected"
    assert results[1]["errors"] == [{"code": "personal_identifier", "field": field,
                                     "message": results[1]["errors"][0]["message"]}]
    assert value not in r.text
    stored = await IntakeBatch.select(IntakeBatch.report).where(
        IntakeBatch.kind == "claims").first()
    assert value not in stored["report"] and "personal_identifier" in stored["report"]
    again = await api.get(f"/api/v1/contracts/{cid}/batches/{r.json()['batch_id']}",
                          headers=w.headers("provider"))
    assert again.status_code == 200 and value not in again.text
    assert await Claim.count() == 1


async def test_participant_dimensions_with_personal_data_are_rejected(api, world):
    w = world
    cid = await setup(api, w)
    rows = [{"pseudonym": "ROS-1", "enrolled_on": "2024-02-01", "area": "Jens 12 34 56 78"},
            {"pseudonym": "ROS-2", "enrolled_on": "2024-02-01", "cohort": "nino AB123456C"},
            {"pseudonym": "ROS-3", "enrolled_on": "2024-02-01", "area": "Roskilde"}]
    r = await api.post(f"/api/v1/contracts/{cid}/participants", json=rows,
                       headers=w.headers("provider"))
    results = r.json()["results"]
    assert [(x["status"], [(e["code"], e["field"]) for e in x.get("errors", [])])
            for x in results] == [
        ("rejected", [("personal_identifier", "area")]),
        ("rejected", [("personal_identifier", "cohort")]),
        ("created", [])]
    assert "12 34 56 78" not in r.text and "AB123456C" not in r.text


@pytest.mark.parametrize("path,payload,field", [
    ("/api/v1/api-keys", {"label": "jens.hansen@kommune.dk"}, "label"),
    ("/api/v1/contracts", "title", "title"),
    ("/api/v1/contracts", "intervention", "intervention"),
    ("/api/v1/metrics", {"code": "met", "name": "Met", "definition": "ask 010190.1234",
                         "unit": "person", "kind": "event", "evidence_required": "e",
                         "verification_source": "admin_data"}, "definition"),
])
async def test_free_text_with_personal_data_is_422_naming_the_field(api, world, path, payload,
                                                                   field):
    w = world
    who = "provider" if "api-keys" in path else "commissioner"
    if isinstance(payload, str):
        payload = contract(w, **{payload: f"Kontakt {CPR} på 12 34 56 78"})
    before = (await ApiKey.count(), await Contract.count(), await Metric.count())
    r = await api.post(path, json=payload, headers=w.headers(who))
    problem = problem_of(r, 422, "personal_identifier")
    assert problem["errors"][0]["field"] == field
    assert CPR not in r.text and "010190.1234" not in r.text and "jens.hansen" not in r.text
    assert (await ApiKey.count(), await Contract.count(), await Metric.count()) == before


async def test_an_idempotency_key_or_a_seed_with_personal_data_is_422(api, world):
    w = world
    cid = await setup(api, w, "ROS-1")
    r = await post_claims(api, w, cid, [claim("c1", "ROS-1", "housing_entry", "2024-03-01")],
                          key="jens@example.dk")
    problem = problem_of(r, 422, "personal_identifier")
    assert problem["errors"][0]["field"] == "Idempotency-Key"
    assert "jens@example.dk" not in r.text
    assert await IntakeBatch.count() == 1  # the enrolment only
    r = await api.post(f"/api/v1/contracts/{cid}/samples", json={"seed": "0101901234"},
                       headers=w.headers("commissioner"))
    assert problem_of(r, 422, "personal_identifier")["errors"][0]["field"] == "seed"
    assert "0101901234" not in r.text


async def test_reasons_are_kept_with_personal_data_masked(api, world):
    w = world
    cid = await setup(api, w)
    r = await api.post(f"/api/v1/contracts/{cid}/suspend",
                       json={"reason": f"the provider sent CPR {CPR}; call 12 34 56 78"},
                       headers=w.headers("commissioner"))
    assert r.status_code == 200, r.text
    events = await api.get(f"/api/v1/contracts/{cid}/events",
                           headers=w.headers("commissioner"))
    assert events.json()[-1]["reason"] == (
        "the provider sent CPR [CPR number removed]; call [phone number removed]")
    assert CPR not in events.text


async def test_a_problem_never_echoes_an_identifier_it_was_sent(api, world):
    w = world
    r = await api.get(f"/api/v1/contracts?status={CPR}", headers=w.headers("commissioner"))
    assert r.status_code == 400 and CPR not in r.text
    r = await api.get(f"/api/v1/metrics/{CPR}", headers=w.headers("commissioner"))
    assert r.status_code == 404 and CPR not in r.text
