"""Reuse: a draft contract made from a reference project through the door every draft goes
through. Its outcomes go into the metric library (mapped to the library's own codes where
they are the same outcome), its prices become the rate card, converted into the contract's
currency at the ECB rate on record, and the contract cites the project. Refused, nothing is
written; made, the draft is changed in the designer as any draft."""

from __future__ import annotations

import msgspec
import pytest
from lxml import html as lxml_html

from contracts import library
from contracts.schemas import MetricIn
from contracts.tables import Contract, Metric
from tests.api.test_reference_api import SOURCE, add_projects, add_rates
from tests.web.helpers import csrf, sign_in


def body(w, **over) -> dict:
    out = dict(reference="HOL-2026-IPS", provider_id=str(w.ids["provider"]), currency="DKK",
               service_period={"start": "2026-01-01", "end": "2027-12-31"},
               enrolment_period={"start": "2026-01-01", "end": "2027-06-30"},
               claims_deadline="2028-03-31", cap={"amount": 500_000_000, "currency": "DKK"})
    out.update(over)
    return out


async def draft(api, w, code: str, who: str = "commissioner", **over):
    return await api.post(f"/api/v1/reference/projects/{code}/draft", json=body(w, **over),
                          headers=w.headers(who))


@pytest.fixture
async def refs(db, world, tmp_path):
    await add_projects()
    await add_rates(tmp_path)
    return world


async def test_a_draft_takes_the_projects_rate_card_in_kroner_and_cites_it(api, refs):
    w = refs
    r = await draft(api, w, "INDIGO-POJ-0193")
    assert r.status_code == 201, r.text
    out = r.json()
    contract = out["contract"]
    assert (contract["status"], contract["version"], contract["currency"]) == ("draft", 1,
                                                                               "DKK")
    assert contract["title"] == "Mental Health and Employment Partnership"
    assert contract["terms"]["commissioners"] == [
        {"organisation_id": str(w.ids["commissioner"]), "share_bp": 10_000}]
    # £500 and £2,000 at 0.8500 GBP and 7.4600 DKK per euro: 4,388.24 and 17,552.94 kr.;
    # the line's most, £400,000, is 3,510,588.24 kr.
    card = [(line["code"], line["metric_code"], line["price"]["amount"],
             (line["max_amount"] or {}).get("amount")) for line in contract["terms"]["rate_card"]]
    assert card == [("indigo-poj-0193-m1", "indigo-poj-0193-m1", 438_824, None),
                    ("indigo-poj-0193-m2", "indigo-poj-0193-m2", 1_755_294, 351_058_824)]
    assert {line["price"]["currency"] for line in contract["terms"]["rate_card"]} == {"DKK"}
    # Every outcome of the project is in the library now; the unpriced one without a line.
    assert out["metrics"] == [
        {"metric_id": "outcomemetric1", "code": "indigo-poj-0193-m1", "how": "added",
         "line": "indigo-poj-0193-m1"},
        {"metric_id": "outcomemetric2", "code": "indigo-poj-0193-m2", "how": "added",
         "line": "indigo-poj-0193-m2"},
        {"metric_id": "outcomemetric10", "code": "indigo-poj-0193-m10", "how": "added",
         "line": None}]
    sustained = await library.get_metric("indigo-poj-0193-m2")
    assert sustained.definition == ("Employment sustained for 13 weeks (at least 16 hours a "
                                    "week)")
    assert sustained.name == sustained.definition
    assert sustained.evidence_required == ("Simple Ex-post verification; data source: Existing "
                                           "administrative data (as INDIGO-POJ-0193 "
                                           "validated it)")
    assert sustained.verification_source == "admin_data"
    assert (sustained.kind, sustained.unit) == ("event", "participant")
    assert (await library.get_metric("indigo-poj-0193-m1")).verification_source == \
        "provider_evidence"
    # The contract cites the project, the data's source and the rate it was converted at.
    statement = "1 GBP = 8.7765 DKK, ECB reference rate of 2025-05-20"
    assert out["conversions"] == [statement]
    assert out["based_on"] == ("Based on reference project INDIGO-POJ-0193 \u201cMental Health "
                               f"and Employment Partnership\u201d, {SOURCE}.")
    intervention = contract["intervention"]
    assert intervention.startswith("Individual Placement and Support for people with mental "
                                   "illness.\n\nBased on reference project INDIGO-POJ-0193")
    assert SOURCE in intervention and statement in intervention
    assert "indigo-poj-0193-m10" in intervention  # named as an outcome left to price

    # It is a draft as any other: the API shows it, its version holds the same terms.
    r = await api.get(f"/api/v1/contracts/{contract['id']}", headers=w.headers("provider"))
    assert r.status_code == 200 and r.json()["terms"] == contract["terms"]


async def test_the_same_outcome_is_mapped_to_the_librarys_own_code(api, refs):
    w = refs
    # The library has the job start already, written with other case and spacing.
    await library.create_metric(None, msgspec.convert(dict(
        code="ips_job_start", name="Job start", definition="job  START.", unit="participant",
        kind="event", evidence_required="an employment contract",
        verification_source="provider_evidence"), MetricIn))
    before = await Metric.count()
    # The commissioner says the sustained job is the library's `employment`.
    r = await draft(api, w, "INDIGO-POJ-0193", metric_map={"outcomemetric2": "employment"})
    assert r.status_code == 201, r.text
    out = r.json()
    assert [(m["metric_id"], m["code"], m["how"]) for m in out["metrics"]] == [
        ("outcomemetric1", "ips_job_start", "same_definition"),
        ("outcomemetric2", "employment", "mapped"),
        ("outcomemetric10", "indigo-poj-0193-m10", "added")]
    assert [(line["code"], line["metric_code"]) for line in
            out["contract"]["terms"]["rate_card"]] == [("ips_job_start", "ips_job_start"),
                                                       ("employment", "employment")]
    assert await Metric.count() == before + 1

    # A second draft from the project finds every outcome in the library: nothing is added.
    r = await draft(api, w, "INDIGO-POJ-0193", reference="HOL-2027-IPS")
    assert r.status_code == 201, r.text
    assert [(m["code"], m["how"]) for m in r.json()["metrics"]] == [
        ("ips_job_start", "same_definition"), ("indigo-poj-0193-m2", "added"),
        ("indigo-poj-0193-m10", "same_definition")]
    assert await Metric.count() == before + 2


async def test_a_project_in_the_contracts_currency_needs_no_rate(api, world):
    await add_projects()  # and no rates at all
    r = await draft(api, world, "INDIGO-POJ-0313")
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["conversions"] == []
    assert [line["price"] for line in out["contract"]["terms"]["rate_card"]] == [
        {"amount": 3_500_000, "currency": "DKK"}]
    # Without a validation method, the evidence is left for the parties to agree.
    metric = await library.get_metric("indigo-poj-0313-m1")
    assert metric.evidence_required == ("data source: Existing administrative data (as "
                                        "INDIGO-POJ-0313 validated it)")
    # A project in pounds, with no rate on record, is refused.
    r = await draft(api, world, "INDIGO-POJ-0193", reference="OTHER-1")
    assert r.status_code == 422 and r.json()["code"] == "no_exchange_rate"


async def test_a_refused_draft_writes_nothing(api, refs):
    w = refs
    metrics, contracts = await Metric.count(), await Contract.count()

    async def refused(code: str, status: int, expected: str, who: str = "commissioner",
                      **over) -> dict:
        r = await draft(api, w, code, who, **over)
        assert r.status_code == status, r.text
        assert r.json()["code"] == expected, r.text
        assert (await Metric.count(), await Contract.count()) == (metrics, contracts)
        return r.json()

    # The ECB quotes no peso: a project in ARS cannot be priced in kroner.
    problem = await refused("INDIGO-POJ-0001", 422, "no_exchange_rate")
    assert problem["errors"][0]["field"] == "currency"
    assert "ARS" in problem["detail"] and "virker import-rates" in problem["detail"]
    await refused("INDIGO-POJ-9999", 404, "reference_project_not_found")
    await refused("INDIGO-POJ-0193", 403, "commissioner_only", who="provider")
    await refused("INDIGO-POJ-0193", 403, "read_only", who="auditor")
    problem = await refused("INDIGO-POJ-0193", 422, "unknown_reference_metric",
                            metric_map={"outcomemetric9": "employment"})
    assert problem["errors"][0]["field"] == "metric_map.outcomemetric9"
    await refused("INDIGO-POJ-0193", 422, "unknown_metric",
                  metric_map={"outcomemetric1": "no_such_metric"})
    problem = await refused("INDIGO-POJ-0001", 422, "invalid_reference_draft",
                            metric_map={"outcomemetric9": "employment"})
    assert {e["code"] for e in problem["errors"]} == {"unknown_reference_metric",
                                                      "no_exchange_rate"}
    await refused("INDIGO-POJ-0193", 422, "unknown_currency", currency="ARS",
                  cap={"amount": 1, "currency": "ARS"})
    # The terms are checked as any draft's, after the metrics are planned: the metrics the
    # draft would have added are not added either.
    problem = await refused("INDIGO-POJ-0193", 422, "invalid_terms",
                            service_period={"start": "2027-12-31", "end": "2026-01-01"})
    assert "period_inverted" in {e["code"] for e in problem["errors"]}
    await refused("INDIGO-POJ-0193", 422, "invalid_terms",
                  cap={"amount": 100, "currency": "EUR"})
    await refused("INDIGO-POJ-0193", 422, "creator_not_commissioner", commissioners=[
        {"organisation_id": str(w.ids["co_commissioner"]), "share_bp": 10_000}])
    await refused("INDIGO-POJ-0193", 400, "validation_error", cap=None)
    await refused("INDIGO-POJ-0193", 400, "validation_error", surprise=1)
    first = await draft(api, w, "INDIGO-POJ-0193")
    assert first.status_code == 201
    metrics, contracts = await Metric.count(), await Contract.count()
    await refused("INDIGO-POJ-0193", 409, "reference_taken")


# In the web UI -----------------------------------------------------------------------------


def text(r) -> str:
    return " ".join(lxml_html.fromstring(r.text).text_content().split()).replace("\xa0", " ")


async def test_a_draft_made_on_its_page_is_then_changed_in_the_designer(api, refs):
    w = refs
    await sign_in(api, w.ids["commissioner"], "commissioner", lang="da")
    r = await api.get("/contracts/new/reference/INDIGO-POJ-0193")
    assert r.status_code == 200, r.text
    page = text(r)
    assert "Mental Health and Employment Partnership" in page and SOURCE in page
    # The form is in the commissioner's currency, and shows the prices in it.
    assert "4.388,24 kr." in page and "17.552,94 kr." in page
    form = {"reference": "HOL-2026-IPS", "title": "IPS i Holbæk",
            "provider_id": str(w.ids["provider"]), "currency": "DKK",
            "service_start": "2026-01-01", "service_end": "2027-12-31",
            "enrolment_start": "2026-01-01", "enrolment_end": "2027-06-30",
            "claims_deadline": "2028-03-31", "cap": "", "_csrf_token": csrf(api)}
    r = await api.post("/contracts/new/reference/INDIGO-POJ-0193", data=form)
    assert r.status_code == 422
    assert "Udfyld" in text(r) or "Fill this in" in text(r)
    assert await Contract.count() == 2  # the world's two

    r = await api.post("/contracts/new/reference/INDIGO-POJ-0193",
                       data={**form, "cap": "5.000.000"})
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert location.endswith("/vary")
    created = await Contract.select().where(Contract.reference == "HOL-2026-IPS").first()
    assert location == f"/contracts/{created['id']}/vary"
    assert created["title"] == "IPS i Holbæk"
    # The designer holds the draft's lines at their converted prices, ready to change.
    r = await api.get(location)
    assert r.status_code == 200
    tree = lxml_html.fromstring(r.text)
    assert tree.get_element_by_id("in-line-0-price").get("value") == "4.388,24"
    assert tree.get_element_by_id("in-line-1-price").get("value") == "17.552,94"
    assert tree.get_element_by_id("in-line-1-code").get("value") == "indigo-poj-0193-m2"
    # Its "What did others pay?" panel searches in the draft's currency, reloading the page.
    assert tree.get_element_by_id("reference-search").get("action") == location
    r = await api.get(location, params={"rq": "job start", "currency": "DKK"})
    rows = lxml_html.fromstring(r.text).xpath('//tr[@class="reference"]')
    assert [row.get("data-project") for row in rows] == ["INDIGO-POJ-0193"]
    assert "4.388,24 kr." in " ".join(rows[0].text_content().split()).replace("\xa0", " ")

    # A project whose prices cannot be converted says so on the form.
    r = await api.post("/contracts/new/reference/INDIGO-POJ-0001",
                       data={**form, "reference": "AR-1", "cap": "5.000.000"})
    assert r.status_code == 422
    assert "virker import-rates" in text(r)
