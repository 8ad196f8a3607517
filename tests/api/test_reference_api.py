"""The reference library through the API: what others paid for an outcome and how they
validated it, by sector, country, words and price range; prices in their own currency and,
with the ECB rate and its day, in the currency asked for, or said to have no rate; one
project in full; the sectors; the rates on record. And the designer's "What did others
pay?" panel, with and without JavaScript."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from lxml import html as lxml_html

from core.clock import now
from core.ids import new_id
from opendata import rates
from opendata.tables import ReferenceMetric, ReferencePrice, ReferenceProject
from tests.web.helpers import fragment, sign_in

SOURCE = "INDIGO Impact Bond Dataset v2 (CSV), data pulled 2025-05-20"
# Rates of one day, as the ECB's history writes them.
RATES = "Date,USD,DKK,GBP,\n2025-05-20,1.1278,7.4600,0.8500,\n"

# Four projects shaped like INDIGO's: Argentina (ARS, no ECB rate), a British employment
# contract (GBP), a Danish one (DKK, one outcome priced) and a Portuguese one (EUR).
PROJECTS = [
    dict(code="INDIGO-POJ-0001", name="Proyecto Joven", country="AR",
         policy_sectors="Employment and training", start_text="2018-12", end_text="2021",
         currency="ARS", intervention="Job training and placement for vulnerable youth.",
         metrics=[
             dict(metric_id="outcomemetric2",
                  definition="Job placement\xa0(vulnerable person)\nParticipant finds a job",
                  target="Access to a formal and registered job",
                  validation_method="Pre-post analysis", data_source="New data collected",
                  policy_sector="Employment and training",
                  prices=[("ARS", 4_211_600, 225_740_000)]),
         ]),
    dict(code="INDIGO-POJ-0193", name="Mental Health and Employment Partnership",
         country="GB", policy_sectors="Employment and training; Health",
         start_text="2020-04", end_text="current", currency="GBP",
         intervention="Individual Placement and Support for people with mental illness.",
         metrics=[
             dict(metric_id="outcomemetric1", definition="Job start",
                  validation_method="Simple Ex-post verification ",
                  data_source="Employment contract, pay slip",
                  policy_sector="Employment and training", prices=[("GBP", 50_000, None)]),
             dict(metric_id="outcomemetric2",
                  definition="Employment sustained for 13 weeks (at least 16 hours a week)",
                  validation_method="Simple Ex-post verification ",
                  data_source="Existing administrative data",
                  policy_sector="Employment and training",
                  prices=[("GBP", 200_000, 40_000_000)]),
             dict(metric_id="outcomemetric10", definition="Improved wellbeing (WEMWBS)",
                  validation_method="Pre-post analysis", data_source="New data collected",
                  policy_sector="Health", prices=[]),
         ]),
    dict(code="INDIGO-POJ-0313",
         name="Comprehensive employment intervention for mentally vulnerable citizens",
         country="DK", policy_sectors="Employment and training", start_text="2024-01",
         end_text="2026-06", currency="DKK",
         intervention="Based on the IPS method.",
         metrics=[
             dict(metric_id="outcomemetric1",
                  definition="Ordinary employment of at least 15 hours a week, sustained "
                             "for 3 months", validation_method="",
                  data_source="Existing administrative data", prices=[("DKK", 3_500_000, None)]),
         ]),
    dict(code="INDIGO-POJ-0315", name="Escolhas", country="PT", policy_sectors="Education",
         start_text="2021-09", end_text="2023-07", currency="EUR",
         intervention="Mentoring in school.",
         metrics=[
             dict(metric_id="outcomemetric1", definition="Completion of the school year",
                  validation_method="Historical comparison", data_source="School records",
                  prices=[("EUR", 154_200, None)]),
         ]),
]


async def add_projects(projects: list[dict] = PROJECTS) -> None:
    """The reference projects, as the importer writes them."""
    for p in projects:
        pid = new_id()
        # `data` as opendata.indigo keeps it.
        data = {"code": p["code"], "name": p["name"],
                "payers": [{"organisations": [{"id": "INDIGO-ORG-0171",
                                               "name": "Department for Work and Pensions"}],
                            "role": "Government/Public Sector/Public Bank",
                            "max_payment": {"currency": p["currency"], "amount": 86_896_600}}],
                "providers": [{"id": "serviceprovision1", "organisations": [
                    {"id": "INDIGO-ORG-0807", "name": "Working Well Trust"}],
                    "role": "Nonprofit/NGO"}],
                "results": [{"metric_id": m["metric_id"], "type": "Interim",
                             "achieved": "1171"} for m in p["metrics"][:1]],
                "outcome_payments": {"actual": [{"metric_id": "outcomemetric1", "money": {
                    "currency": p["currency"], "amount": 50_000}}]},
                "sources": [{"id": "source1", "name": "Annual report",
                             "url": "https://example.org/report.pdf"}],
                "source": SOURCE}
        await ReferenceProject.insert(ReferenceProject(
            id=pid, code=p["code"], name=p["name"], stage="Implementation",
            country=p["country"], policy_sectors=p["policy_sectors"],
            intervention=p["intervention"], start_text=p["start_text"],
            start_on=dt.date.fromisoformat(p["start_text"] + "-01"),
            end_text=p["end_text"], end_on=None, currency=p["currency"], source=SOURCE,
            data=json.dumps(data), content_hash="0" * 64, imported_at=now()))
        for m in p["metrics"]:
            await ReferenceMetric.insert(ReferenceMetric(
                id=new_id(), project=pid, metric_id=m["metric_id"],
                definition=m["definition"], target=m.get("target", ""),
                validation_method=m["validation_method"], data_source=m["data_source"],
                policy_sector=m.get("policy_sector", "")))
            for currency, amount, most in m["prices"]:
                await ReferencePrice.insert(ReferencePrice(
                    id=new_id(), project=pid, metric_id=m["metric_id"], currency=currency,
                    amount=amount, max_amount=most))


async def add_rates(tmp_path: Path, text: str = RATES) -> None:
    path = tmp_path / "eurofxref-hist.csv"
    path.write_text(text)
    await rates.import_rates(path)


def found(r) -> list[tuple[str, str]]:
    assert r.status_code == 200, r.text
    return [(h["project_code"], h["metric_id"]) for h in r.json()["items"]]


@pytest.fixture
async def library(db, world, tmp_path):
    await add_projects()
    await add_rates(tmp_path)
    return world


async def test_what_others_paid_for_a_sustained_job_and_how_they_validated_it(api, library):
    boss = library.headers("commissioner")
    r = await api.get("/api/v1/reference/projects", params={"q": "employment sustained"},
                      headers=boss)
    assert found(r) == [("INDIGO-POJ-0193", "outcomemetric2"),
                        ("INDIGO-POJ-0313", "outcomemetric1")]
    hit = r.json()["items"][0]
    assert hit["project_name"] == "Mental Health and Employment Partnership"
    assert hit["validation_method"] == "Simple Ex-post verification "
    assert hit["data_source"] == "Existing administrative data"
    assert hit["sectors"] == ["Employment and training", "Health"]
    assert (hit["country"], hit["start"], hit["end"]) == ("GB", "2020-04", "current")
    assert hit["prices"] == [{"amount": 200_000, "currency": "GBP", "max_amount": 40_000_000,
                              "description": "", "notes": "", "converted": None,
                              "no_rate": None}]

    # "job" in any case, also where the definition writes it with a no-break space nearby;
    # every word must occur, in the definition, target, validation method or data source.
    assert found(await api.get("/api/v1/reference/projects", params={"q": "JOB"},
                               headers=boss)) == [("INDIGO-POJ-0001", "outcomemetric2"),
                                                  ("INDIGO-POJ-0193", "outcomemetric1")]
    assert found(await api.get("/api/v1/reference/projects",
                               params={"q": "job administrative"}, headers=boss)) == []
    assert found(await api.get("/api/v1/reference/projects",
                               params={"q": "pay slip"}, headers=boss)) == [
        ("INDIGO-POJ-0193", "outcomemetric1")]


async def test_sector_and_country_filter_and_the_sectors_are_listed(api, library):
    boss = library.headers("provider")  # any signed-in user reads the library
    r = await api.get("/api/v1/reference/sectors", headers=boss)
    assert r.json() == [
        {"sector": "Education", "projects": 1, "metrics": 1},
        {"sector": "Employment and training", "projects": 3, "metrics": 4},
        {"sector": "Health", "projects": 1, "metrics": 1}]
    # A metric's own sector decides; a metric without one takes its project's.
    assert found(await api.get("/api/v1/reference/projects",
                               params={"sector": "health"}, headers=boss)) == [
        ("INDIGO-POJ-0193", "outcomemetric10")]
    assert found(await api.get("/api/v1/reference/projects",
                               params={"sector": "Employment and training", "country": "dk"},
                               headers=boss)) == [("INDIGO-POJ-0313", "outcomemetric1")]
    assert found(await api.get("/api/v1/reference/projects", params={"sector": "Housing"},
                               headers=boss)) == []
    # Metrics sort by their number within a project: 2 before 10.
    assert found(await api.get("/api/v1/reference/projects", params={"country": "GB"},
                               headers=boss)) == [("INDIGO-POJ-0193", "outcomemetric1"),
                                                  ("INDIGO-POJ-0193", "outcomemetric2"),
                                                  ("INDIGO-POJ-0193", "outcomemetric10")]
    assert found(await api.get("/api/v1/reference/projects",
                               params={"country": "GB", "priced": "true"}, headers=boss)) \
        == [("INDIGO-POJ-0193", "outcomemetric1"), ("INDIGO-POJ-0193", "outcomemetric2")]


async def test_prices_in_the_currency_asked_for_with_the_rate_or_said_to_have_none(
        api, library):
    boss = library.headers("commissioner")
    r = await api.get("/api/v1/reference/projects", params={"currency": "DKK",
                                                            "priced": "true"}, headers=boss)
    by = {(h["project_code"], h["metric_id"]): h["prices"][0] for h in r.json()["items"]}
    # 2,000.00 GBP = 2,000 / 0.8500 × 7.4600 DKK = 17,552.941… DKK.
    sustained = by[("INDIGO-POJ-0193", "outcomemetric2")]
    assert (sustained["amount"], sustained["currency"]) == (200_000, "GBP")
    assert sustained["converted"] == {
        "amount": 1_755_294, "currency": "DKK", "rate": "8.7765", "rate_on": "2025-05-20",
        "statement": "1 GBP = 8.7765 DKK, ECB reference rate of 2025-05-20",
        "source_per_eur": "0.8500", "target_per_eur": "7.4600"}
    # The ECB quotes no Argentine peso: the price stays in ARS and says why.
    peso = by[("INDIGO-POJ-0001", "outcomemetric2")]
    assert peso["converted"] is None
    assert peso["no_rate"].startswith("no exchange rate between ARS and DKK is on record")
    # A price in the currency asked for needs no rate.
    own = by[("INDIGO-POJ-0313", "outcomemetric1")]
    assert (own["amount"], own["converted"], own["no_rate"]) == (3_500_000, None, None)
    # The euro is the ECB's base: 1,542.00 EUR × 7.4600 = 11,503.32 DKK.
    assert by[("INDIGO-POJ-0315", "outcomemetric1")]["converted"]["amount"] == 1_150_332


async def test_a_price_range_in_one_currency_compares_prices_in_any(api, library):
    boss = library.headers("commissioner")

    async def between(low, high, currency="DKK"):
        params = {"currency": currency}
        params.update({k: v for k, v in (("min_price", low), ("max_price", high))
                       if v is not None})
        return found(await api.get("/api/v1/reference/projects", params=params,
                                   headers=boss))

    # 4,000 to 20,000 DKK: £500 (4,388.24 kr.), £2,000 (17,552.94 kr.) and 1,542 EUR
    # (11,503.32 kr.); not 35,000 kr., and not the peso price, which has no rate.
    assert await between(400_000, 2_000_000) == [
        ("INDIGO-POJ-0193", "outcomemetric1"), ("INDIGO-POJ-0193", "outcomemetric2"),
        ("INDIGO-POJ-0315", "outcomemetric1")]
    # The ends are included: £500 is 438,824 øre.
    assert await between(438_824, 438_824) == [("INDIGO-POJ-0193", "outcomemetric1")]
    assert await between(None, 438_823) == []
    assert await between(3_000_000, None) == [("INDIGO-POJ-0313", "outcomemetric1")]
    # In pesos, only the peso price compares.
    assert await between(0, None, "ARS") == [("INDIGO-POJ-0001", "outcomemetric2")]


async def test_pages_follow_the_cursor_to_the_end(api, library):
    boss = library.headers("commissioner")
    everything = found(await api.get("/api/v1/reference/projects", headers=boss))
    assert len(everything) == 6
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await api.get("/api/v1/reference/projects", params=params, headers=boss)
        page = r.json()
        assert len(page["items"]) <= 2
        seen += found(r)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything
    # A filtered search pages through what matches.
    r = await api.get("/api/v1/reference/projects", params={"q": "job", "limit": 1},
                      headers=boss)
    assert found(r) == [("INDIGO-POJ-0001", "outcomemetric2")]
    r = await api.get("/api/v1/reference/projects",
                      params={"q": "job", "limit": 1, "cursor": r.json()["next_cursor"]},
                      headers=boss)
    assert found(r) == [("INDIGO-POJ-0193", "outcomemetric1")]
    assert r.json()["next_cursor"] is None


@pytest.mark.parametrize(("params", "status", "code"), [
    ({"min_price": 1000}, 422, "currency_required"),
    ({"min_price": 9, "max_price": 1, "currency": "DKK"}, 422, "price_range_inverted"),
    ({"currency": "XQX"}, 422, "unknown_currency"),
    ({"currency": "dkk"}, 400, "validation_error"),
    ({"min_price": -1, "currency": "DKK"}, 400, "validation_error"),
    ({"cursor": "not-a-cursor"}, 422, "invalid_cursor"),
    ({"cursor": "0196f0a8-0000-7000-8000-000000000000"}, 422, "invalid_cursor"),
    ({"limit": 0}, 400, "validation_error"),
])
async def test_a_search_that_cannot_be_answered_says_why(api, library, params, status, code):
    r = await api.get("/api/v1/reference/projects", params=params,
                      headers=library.headers("commissioner"))
    assert r.status_code == status, r.text
    assert r.json()["code"] == code


async def test_one_project_with_everything_and_its_source(api, library):
    boss = library.headers("auditor")
    r = await api.get("/api/v1/reference/projects/INDIGO-POJ-0193",
                      params={"currency": "EUR"}, headers=boss)
    assert r.status_code == 200, r.text
    p = r.json()
    assert (p["code"], p["country"], p["sectors"]) == (
        "INDIGO-POJ-0193", "GB", ["Employment and training", "Health"])
    assert p["source"] == SOURCE
    assert "Government Outcomes Lab" in p["attribution"]
    assert [m["metric_id"] for m in p["metrics"]] == ["outcomemetric1", "outcomemetric2",
                                                      "outcomemetric10"]
    # £500 in euros: 500 / 0.8500 = 588.235… EUR.
    assert p["metrics"][0]["prices"][0]["converted"]["amount"] == 58_824
    assert p["metrics"][2]["prices"] == []
    # What the importer kept of the payers, providers, results, payments and evidence.
    assert p["results"] == [{"metric_id": "outcomemetric1", "type": "Interim",
                             "achieved": "1171"}]
    assert p["payers"][0]["organisations"][0]["name"] == "Department for Work and Pensions"
    assert p["payers"][0]["max_payment"] == {"currency": "GBP", "amount": 86_896_600}
    assert p["providers"][0]["organisations"][0]["name"] == "Working Well Trust"
    assert p["outcome_payments"]["actual"][0]["money"]["amount"] == 50_000
    assert p["sources"][0]["url"] == "https://example.org/report.pdf"

    r = await api.get("/api/v1/reference/projects/INDIGO-POJ-9999", headers=boss)
    assert r.status_code == 404 and r.json()["code"] == "reference_project_not_found"
    r = await api.get("/api/v1/reference/projects/INDIGO-POJ-0193",
                      params={"currency": "XQX"}, headers=boss)
    assert r.status_code == 422 and r.json()["code"] == "unknown_currency"


async def test_the_rates_on_record_are_listed_and_the_library_is_for_signed_in_users(
        api, library):
    r = await api.get("/api/v1/reference/rates", headers=library.headers("provider"))
    assert r.status_code == 200
    body = r.json()
    assert body["base"] == "EUR" and "ECB" in body["source"]
    assert [(c["currency"], c["last_on"], c["latest_per_eur"]) for c in body["currencies"]] \
        == [("DKK", "2025-05-20", "7.4600"), ("GBP", "2025-05-20", "0.8500"),
            ("USD", "2025-05-20", "1.1278")]
    for path in ("/api/v1/reference/projects", "/api/v1/reference/sectors",
                 "/api/v1/reference/rates", "/api/v1/reference/projects/INDIGO-POJ-0193"):
        assert (await api.get(path)).status_code == 401


async def test_without_rates_every_price_says_it_has_none(api, world):
    await add_projects()
    r = await api.get("/api/v1/reference/projects",
                      params={"currency": "DKK", "q": "job start"},
                      headers=world.headers("commissioner"))
    price = r.json()["items"][0]["prices"][0]
    assert price["converted"] is None
    assert "no exchange rate between GBP and DKK is on record" in price["no_rate"]
    r = await api.get("/api/v1/reference/rates", headers=world.headers("commissioner"))
    assert r.json()["currencies"] == []


INDIGO = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "indigo"


async def test_what_others_paid_for_a_sustained_job_in_the_real_indigo_dataset(
        api, world, tmp_path):
    if not (INDIGO / "projects.csv").exists():
        pytest.skip(f"the INDIGO dataset is not at {INDIGO.resolve()}")
    from opendata.indigo import import_indigo

    await import_indigo(INDIGO)
    await add_rates(tmp_path)
    boss = world.headers("commissioner")
    r = await api.get("/api/v1/reference/projects", params={
        "q": "employment sustained", "priced": "true", "currency": "DKK", "limit": 200},
        headers=boss)
    hits = r.json()["items"]
    assert len(hits) >= 10
    for hit in hits:
        text = " ".join((hit["definition"], hit["target"], hit["validation_method"],
                         hit["data_source"])).casefold()
        assert "employment" in text and "sustained" in text
    # The British contracts' prices, in kroner at the rate of the day on record.
    gbp = [p for h in hits for p in h["prices"] if p["currency"] == "GBP"]
    assert gbp and all(p["converted"]["statement"] == "1 GBP = 8.7765 DKK, ECB reference "
                                                      "rate of 2025-05-20" for p in gbp)
    assert "Employment and training" in {h["policy_sector"] or h["sectors"][0] for h in hits}

    # "How did they validate it?": Argentina's job placement, by a pre-post analysis of new
    # data, paid 42,116 pesos, which the ECB gives no rate for.
    r = await api.get("/api/v1/reference/projects", params={
        "q": "job placement", "country": "AR", "currency": "DKK"}, headers=boss)
    placement = r.json()["items"][0]
    assert (placement["project_code"], placement["metric_id"]) == ("INDIGO-POJ-0001",
                                                                   "outcomemetric2")
    assert (placement["validation_method"], placement["data_source"]) == (
        "Pre-post analysis", "New data collected")
    price = placement["prices"][0]
    assert (price["amount"], price["currency"], price["converted"]) == (4_211_600, "ARS",
                                                                         None)
    assert price["no_rate"].startswith("no exchange rate between ARS and DKK")

    sectors = {s["sector"] for s in (await api.get("/api/v1/reference/sectors",
                                                   headers=boss)).json()}
    assert {"Employment and training", "Health", "Homelessness", "Education",
            "Child and family welfare", "Criminal justice"} <= sectors
    r = await api.get("/api/v1/reference/projects/INDIGO-POJ-0193", headers=boss)
    project = r.json()
    assert "Government Outcomes Lab" in project["source"]
    assert project["providers"] and project["payers"] and project["results"]


# The designer's panel ----------------------------------------------------------------------


def tree(r):
    return lxml_html.fromstring(r.text)


async def test_the_designer_shows_what_others_paid_with_and_without_javascript(api, library):
    await sign_in(api, library.ids["commissioner"], "commissioner")
    # Without JavaScript: the panel's GET form reloads the designer with the search.
    r = await api.get("/contracts/new", params={"rq": "employment sustained"})
    assert r.status_code == 200, r.text
    page = tree(r)
    form = page.get_element_by_id("reference-search")
    assert (form.get("method"), form.get("action")) == ("get", "/contracts/new")
    rows = page.xpath('//*[@id="reference-results"]//tr[@class="reference"]')
    assert [row.get("data-project") for row in rows] == ["INDIGO-POJ-0193", "INDIGO-POJ-0313"]
    first = " ".join(rows[0].text_content().split()).replace("\xa0", " ")
    # Its own price, the price in the contract's currency with the rate and its day, and
    # how the outcome was validated. The Danish commissioner reads in English here.
    assert "£2,000.00" in first and "DKK 17,552.94" in first
    assert "1 GBP = 8.7765 DKK, ECB reference rate of 20 May 2025" in first
    assert "Simple Ex-post verification" in first
    link = rows[0].xpath(".//a")[0].get("href")
    assert link == "/contracts/new/reference/INDIGO-POJ-0193"

    # With HTMX: the fragment alone, in the currency the designer's form holds.
    r = await fragment(api, "/contracts/new/reference?rq=job&currency=EUR")
    assert r.status_code == 200 and "<html" not in r.text
    rows = tree(r).xpath('//tr[@class="reference"]')
    assert [row.get("data-project") for row in rows] == ["INDIGO-POJ-0001", "INDIGO-POJ-0193"]
    text = " ".join(rows[0].text_content().split())
    assert "No exchange rate from ARS to EUR is on record." in text
    assert "€588.24" in " ".join(rows[1].text_content().split())
    # A browser without HTMX asking for the fragment is sent to the designer.
    r = await api.get("/contracts/new/reference?rq=job")
    assert r.status_code == 303 and r.headers["location"] == "/contracts/new?rq=job"
    r = await fragment(api, "/contracts/new/reference?rq=housing+first")
    assert "No priced outcome in the reference library matches" in r.text

    # Only commissioners design.
    await sign_in(api, library.ids["provider"], "provider")
    assert (await fragment(api, "/contracts/new/reference?rq=job")).status_code == 403
    assert (await api.get("/contracts/new/reference/INDIGO-POJ-0193")).status_code == 403


async def test_the_designer_panel_finds_nothing_in_an_empty_library(api, world):
    await sign_in(api, world.ids["commissioner"], "commissioner")
    r = await api.get("/contracts/new", params={"rq": "job"})
    assert r.status_code == 200
    assert "No priced outcome in the reference library matches “job”" in r.text
    r = await api.get("/contracts/new")
    assert tree(r).xpath('//*[@id="reference-results"]//tr') == []


async def test_a_nul_character_in_a_search_is_refused_not_searched_for(api, library):
    boss = library.headers("commissioner")
    for name in ("sector", "country", "q"):
        r = await api.get("/api/v1/reference/projects", params={name: "DK\x00"}, headers=boss)
        assert r.status_code == 400, (name, r.text)
        assert r.json()["code"] == "invalid_character"
