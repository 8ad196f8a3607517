"""Cohort evaluations through HTTP: the commissioner evaluates once (201, then 200 with the
same evaluation), every party reads them, and a refusal is a problem with its code."""

from __future__ import annotations

import datetime as dt

from tests.integration.test_cohorts import PRICE, cohort_line, rate_card, stress_contract

EVALUATE = "/api/v1/contracts/{}/cohorts/{}/evaluation"


async def test_the_commissioner_evaluates_once_and_every_party_reads_it(api, world):
    w = world
    cid, _ = await stress_contract(w, completed=35)
    boss = w.headers("commissioner")
    first = await api.post(EVALUATE.format(cid, "cohort-85"), headers=boss)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["n"], body["achieved"], body["rate_bp"], body["reached"]) == (
        40, 35, 8750, True)
    assert body["amount"] == {"amount": 40 * PRICE, "currency": "DKK"}
    again = await api.post(EVALUATE.format(cid, "cohort-85"), headers=boss)
    assert again.status_code == 200 and again.json() == body

    for who in ("commissioner", "co_commissioner", "provider", "auditor"):
        r = await api.get(f"/api/v1/contracts/{cid}/cohort-evaluations",
                          headers=w.headers(who))
        assert r.status_code == 200 and r.json() == [body], who
        b = await api.get(f"/api/v1/contracts/{cid}/balance", headers=w.headers(who))
        assert b.json()["accrued"] == 40 * PRICE, who
    r = await api.get(f"/api/v1/contracts/{cid}/claims?status=approved&count=true",
                      headers=w.headers("provider"))
    assert r.json()["total"] == 40
    assert {c["line_code"] for c in r.json()["items"]} == {"cohort-85"}


async def test_who_may_evaluate_and_what_is_refused(api, world):
    w = world
    cid, _ = await stress_contract(w, completed=35, rate_card=rate_card(
        cohort_line(), cohort_line("cohort-2030", evaluation_on=dt.date(2030, 1, 31))))
    url = EVALUATE.format(cid, "cohort-85")
    for who, status, code in [("provider", 403, "commissioner_only"),
                              ("auditor", 403, "read_only"),
                              ("other_commissioner", 404, "contract_not_found")]:
        r = await api.post(url, headers=w.headers(who))
        assert (r.status_code, r.json()["code"]) == (status, code), who
    boss = w.headers("commissioner")
    for line_code, status, code in [("cohort-2030", 409, "cohort_not_due"),
                                    ("completion", 409, "not_a_cohort_line"),
                                    ("no-such-line", 404, "line_not_found"),
                                    ("Cohort%00", 404, "line_not_found")]:
        r = await api.post(EVALUATE.format(cid, line_code), headers=boss)
        assert (r.status_code, r.json()["code"]) == (status, code), line_code
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await api.get(f"/api/v1/contracts/{cid}/cohort-evaluations", headers=boss)
    assert r.json() == []


async def test_a_cohort_the_cap_cannot_hold_is_refused_whole(api, world):
    w = world
    cid, _ = await stress_contract(w, completed=35, cap={"amount": 35_000_000,
                                                         "currency": "DKK"},
                                   per_participant_cap=None)
    boss = w.headers("commissioner")
    r = await api.post(EVALUATE.format(cid, "cohort-85"), headers=boss)
    assert (r.status_code, r.json()["code"]) == (409, "cap_reached")
    assert r.json()["errors"][0]["field"] == "line_code"
    b = await api.get(f"/api/v1/contracts/{cid}/balance", headers=boss)
    assert b.json()["accrued"] == 0
