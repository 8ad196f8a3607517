"""The contract designer: a draft typed into a form without JavaScript becomes exactly the
terms the API then reports; problems are shown next to their field with what was typed
kept; the metric search and the liability preview as HTMX fragments; activation waits for
every commissioner and says for whom; a variation is proposed from the same editor."""

from __future__ import annotations

import lxml.html

from api.web import forms
from reports.formats import money
from tests.helpers import active_contract
from tests.web.helpers import csrf, fragment, post_form, sign_in


def html(r):
    return lxml.html.fromstring(r.text)


def text(el) -> str:
    return " ".join(el.text_content().split()).replace("\xa0", " ")


def dkk(amount: int) -> str:
    return money(amount, "DKK", "da").replace("\xa0", " ")


def typed(w, **over) -> dict:
    """A draft as a Danish commissioner types it: amounts in kroner with Danish separators,
    rates in per cent, three rate card lines (per outcome, a score, a cohort)."""
    form = {
        "reference": "KBH-2025-007", "title": "Bolig først", "intervention": "Housing first",
        "provider_id": str(w.ids["provider"]), "currency": "DKK",
        "service_start": "2025-01-01", "service_end": "2027-12-31",
        "enrolment_start": "2025-01-01", "enrolment_end": "2026-12-31",
        "claims_deadline": "2028-03-31", "cap": "2.000.000", "per_participant_cap": "75.000",
        "sampling_rate": "12,5", "partner_payment": "by_claimant",
        "commissioner-0-org": str(w.ids["commissioner"]), "commissioner-0-share": "60",
        "commissioner-1-org": str(w.ids["co_commissioner"]), "commissioner-1-share": "40",
        "auditor": str(w.ids["auditor"]),
        "line-0-metric": "housing_entry", "line-0-code": "entry", "line-0-kind": "outcome",
        "line-0-price": "15.000,50", "line-0-anchor": "enrolment", "line-0-start_day": "0",
        "line-0-end_day": "365", "line-0-max_claims": "1", "line-0-max_count": "100",
        "line-0-target": "40", "line-0-horizon": "365", "line-0-baseline_kind": "historical",
        "line-0-baseline_rate": "22,5", "line-0-baseline_source": "Kommunens egne tal",
        "line-1-metric": "pss_reduction", "line-1-code": "pss", "line-1-kind": "outcome",
        "line-1-price": "10.000", "line-1-anchor": "enrolment", "line-1-start_day": "330",
        "line-1-end_day": "400", "line-1-max_claims": "1", "line-1-threshold": "2,5",
        "line-1-max_amount": "250.000", "line-1-exclusivity": "wellbeing",
        "line-2-metric": "housing_entry", "line-2-code": "cohort-entry", "line-2-kind": "cohort",
        "line-2-price": "5.000", "line-2-max_claims": "1", "line-2-cohort": "2025-A",
        "line-2-evaluation_on": "2026-06-30", "line-2-cohort_threshold": "50",
        "line-3-metric": "", "line-3-code": "", "line-3-kind": "outcome", "line-3-price": "",
        "line-3-anchor": "enrolment", "line-3-max_claims": "1",
    }
    form.update(over)
    return form


EXPECTED_TERMS = {
    "service_period": {"start": "2025-01-01", "end": "2027-12-31"},
    "enrolment_period": {"start": "2025-01-01", "end": "2026-12-31"},
    "claims_deadline": "2028-03-31",
    "cap": {"amount": 200_000_000, "currency": "DKK"},
    "per_participant_cap": {"amount": 7_500_000, "currency": "DKK"},
    "sampling_rate_bp": 1250, "partners": [], "partner_payment": "by_claimant",
    "rate_card": [
        {"code": "entry", "metric_code": "housing_entry",
         "price": {"amount": 1_500_050, "currency": "DKK"},
         "window": {"anchor": "enrolment", "start_day": 0, "end_day": 365},
         "prerequisite_metric": None, "exclusivity_group": None,
         "max_claims_per_participant": 1, "max_count": 100, "max_amount": None,
         "threshold": None, "kind": "outcome", "target": 40,
         "baseline": {"kind": "historical", "rate_bp": 2250, "source": "Kommunens egne tal",
                      "n": None},
         "horizon_days": 365, "cohort": None, "evaluation_on": None,
         "cohort_threshold_bp": None},
        {"code": "pss", "metric_code": "pss_reduction",
         "price": {"amount": 1_000_000, "currency": "DKK"},
         "window": {"anchor": "enrolment", "start_day": 330, "end_day": 400},
         "prerequisite_metric": None, "exclusivity_group": "wellbeing",
         "max_claims_per_participant": 1, "max_count": None,
         "max_amount": {"amount": 25_000_000, "currency": "DKK"}, "threshold": "2.5",
         "kind": "outcome", "target": None, "baseline": None, "horizon_days": None,
         "cohort": None, "evaluation_on": None, "cohort_threshold_bp": None},
        {"code": "cohort-entry", "metric_code": "housing_entry",
         "price": {"amount": 500_000, "currency": "DKK"}, "window": None,
         "prerequisite_metric": None, "exclusivity_group": None,
         "max_claims_per_participant": 1, "max_count": None, "max_amount": None,
         "threshold": None, "kind": "cohort", "target": None, "baseline": None,
         "horizon_days": None, "cohort": "2025-A", "evaluation_on": "2026-06-30",
         "cohort_threshold_bp": 5000},
    ],
}


async def test_a_draft_is_saved_exactly_as_typed_in_danish(api, world):
    w = world
    await sign_in(api, w.ids["commissioner"], "commissioner", lang="da")
    page = await api.get("/contracts/new")
    assert page.status_code == 200 and '<html lang="da">' in page.text
    own = html(page).xpath("//select[@name='commissioner-0-org']/option[@selected]/@value")
    assert own == [str(w.ids["commissioner"])]
    r = await post_form(api, "/contracts/new", typed(w))
    assert r.status_code == 303, r.text
    cid = r.headers["location"].split("/")[2].split("?")[0]
    got = (await api.get(f"/api/v1/contracts/{cid}", headers=w.headers("commissioner"))).json()
    assert got["status"] == "draft" and got["reference"] == "KBH-2025-007"
    assert got["title"] == "Bolig først" and got["provider_id"] == str(w.ids["provider"])
    terms = got["terms"]
    assert terms["commissioners"] == [
        {"organisation_id": str(w.ids["commissioner"]), "share_bp": 6000},
        {"organisation_id": str(w.ids["co_commissioner"]), "share_bp": 4000}]
    assert terms["auditor_ids"] == [str(w.ids["auditor"])]
    assert {k: v for k, v in terms.items()
            if k not in ("commissioners", "auditor_ids")} == EXPECTED_TERMS
    overview = await api.get(r.headers["location"])
    assert overview.status_code == 200 and html(overview).xpath("//p[@class='flash']")


async def test_a_problem_is_shown_next_to_its_field_and_what_was_typed_is_kept(api, world):
    w = world
    await sign_in(api, w.ids["commissioner"], "commissioner", lang="da")
    r = await post_form(api, "/contracts/new", typed(
        w, enrolment_start="2024-06-01", **{"line-1-start_day": "400", "line-1-end_day": "30"}))
    assert r.status_code == 422
    page = html(r)
    enrolment = page.get_element_by_id(forms.anchor("terms.enrolment_period"))
    assert "enrolment must lie within the service period" in text(enrolment)
    window = page.get_element_by_id(forms.anchor("terms.rate_card[1].window"))
    assert "the window ends before it starts" in text(window)
    assert window.xpath("ancestor::details/@open")  # unfolded to show it
    # Only there, and listed above the form with a link to it.
    assert r.text.count("the window ends before it starts") == 2
    links = page.xpath("//div[@id='problems']//a/@href")
    assert f"#{forms.anchor('terms.rate_card[1].window')}" in links
    # Everything typed is still there, as typed.
    assert page.xpath("//input[@name='line-0-price']/@value") == ["15.000,50"]
    assert page.xpath("//input[@name='enrolment_start']/@value") == ["2024-06-01"]
    assert page.xpath("//input[@name='reference']/@value") == ["KBH-2025-007"]
    assert page.xpath("//select[@name='line-1-metric']/option[@selected]/@value") == [
        "pss_reduction"]
    assert page.xpath("//input[@name='auditor'][@checked]/@value") == [str(w.ids["auditor"])]

    # What cannot be read at all is said next to it too, in the reader's terms.
    r = await post_form(api, "/contracts/new", typed(
        w, cap="to millioner", **{"line-0-price": "15.000,505", "commissioner-1-share": "",
                                  "line-2-code": "Cohort Entry"}))
    assert r.status_code == 422
    page = html(r)
    assert "15.000,50" in text(page.get_element_by_id(forms.anchor("terms.cap")))
    price = page.get_element_by_id(forms.anchor("terms.rate_card[0].price"))
    assert price.xpath(".//p[@class='field-error']")
    assert price.xpath(".//input/@aria-invalid") == ["true"]
    share = page.get_element_by_id(forms.anchor("terms.commissioners[1].share_bp"))
    assert share.xpath(".//p[@class='field-error']")
    code = page.get_element_by_id(forms.anchor("terms.rate_card[2].code"))
    assert "_ . -" in text(code.xpath(".//p[@class='field-error']")[0])
    assert code.xpath(".//input/@value") == ["Cohort Entry"]
    listed = (await api.get("/api/v1/contracts", headers=w.headers("commissioner"))).json()
    assert "KBH-2025-007" not in {c["reference"] for c in listed["items"]}

    # A reference already taken is said at the reference.
    assert (await post_form(api, "/contracts/new", typed(w))).status_code == 303
    r = await post_form(api, "/contracts/new", typed(w))
    assert r.status_code == 409
    assert "is taken" in text(html(r).get_element_by_id(forms.anchor("reference")))


async def test_lines_are_added_and_removed_without_javascript(api, world):
    w = world
    await sign_in(api, w.ids["commissioner"], "commissioner", lang="da")
    form = typed(w, add_line="1")
    r = await post_form(api, "/contracts/new", form)
    assert r.status_code == 200
    page = html(r)
    # The three lines typed, the empty one, and one more.
    assert len(page.xpath("//fieldset[contains(@class,'line')]")) == 5
    assert page.xpath("//input[@name='line-2-cohort']/@value") == ["2025-A"]
    r = await post_form(api, "/contracts/new", {**typed(w), "add_metric": "employment",
                                                 "line-1-remove": "1"})
    page = html(r)
    codes = page.xpath("//input[substring(@name, string-length(@name) - 4) = '-code']/@value")
    assert codes == ["entry", "cohort-entry", "employment", ""]  # and the empty line
    assert page.xpath("//select[@name='line-2-metric']/option[@selected]/@value") == [
        "employment"]
    # "Check" finds no problem and saves nothing.
    r = await post_form(api, "/contracts/new", {**typed(w), "check": "1"})
    assert r.status_code == 200 and html(r).xpath("//p[@class='flash']")
    listed = (await api.get("/api/v1/contracts", headers=w.headers("commissioner"))).json()
    assert "KBH-2025-007" not in {c["reference"] for c in listed["items"]}


async def test_the_metric_search_filters_as_a_fragment_and_without_javascript(api, world):
    w = world
    await sign_in(api, w.ids["commissioner"], "commissioner", lang="da")
    r = await fragment(api, "/contracts/new/metrics?q=housing")
    assert r.status_code == 200 and "<html" not in r.text
    codes = html(r).xpath("//tr[@class='metric']/@data-code")
    assert codes == ["housing_entry", "housing_sustained_3m"]
    r = await fragment(api, "/contracts/new/metrics?q=nothing+like+it")
    assert not html(r).xpath("//tr[@class='metric']") and "nothing like it" in r.text
    r = await api.get("/contracts/new/metrics?q=employ")
    assert r.status_code == 303 and r.headers["location"] == "/contracts/new?q=employ"
    page = html(await api.get("/contracts/new?q=employ"))
    assert page.xpath("//tr[@class='metric']/@data-code") == ["employment", "self_employment"]
    assert page.xpath("//input[@name='q']/@value") == ["employ"]
    # The full library stays in every line's choice of metric.
    assert len(page.xpath("//select[@name='line-0-metric']/option")) == 6


async def test_the_liability_preview_sums_what_is_typed(api, world):
    w = world
    await sign_in(api, w.ids["commissioner"], "commissioner", lang="da")
    form = {"currency": "DKK", "cap": "1.000.000",
            "line-0-code": "a", "line-0-metric": "housing_entry", "line-0-price": "15.000",
            "line-0-max_count": "10", "line-0-target": "8",
            "line-1-code": "b", "line-1-metric": "employment", "line-1-price": "2.000,50",
            "line-1-max_amount": "30.000", "line-1-target": "4",
            "line-1-max_count": "1000"}
    r = await post_form(api, "/contracts/new/preview", form, htmx=True)
    assert r.status_code == 200 and "<html" not in r.text
    figures = {dd.get("data-figure"): text(dd) for dd in html(r).xpath("//dd")}
    assert figures["cap"] == dkk(100_000_000)
    assert figures["lines"] == dkk(18_000_000)  # 10 × 15.000 + 30.000 (its max amount)
    assert figures["maximum"] == dkk(18_000_000)  # less than the cap: every line is limited
    assert figures["targets"].startswith(dkk(12_800_200))  # 8 × 15.000 + 4 × 2.000,50
    # A line without a limit of its own leaves the cap as the most the contract pays.
    r = await post_form(api, "/contracts/new/preview",
                        {**form, "line-2-code": "c", "line-2-price": "100"}, htmx=True)
    figures = {dd.get("data-figure"): text(dd) for dd in html(r).xpath("//dd")}
    assert figures["maximum"] == dkk(100_000_000)
    assert figures["lines"].startswith(dkk(18_000_000) + " (1 ")


async def test_activation_waits_for_every_commissioner_and_says_for_whom(api, world):
    w = world
    await sign_in(api, w.ids["commissioner"], "commissioner", lang="da")
    r = await post_form(api, "/contracts/new", typed(w))
    overview = r.headers["location"].split("?")[0]
    cid = overview.split("/")[2]
    page = html(await api.get(overview))
    activate = page.xpath(f"//form[@action='/contracts/{cid}/activate']")
    assert activate
    r = await post_form(api, f"/contracts/{cid}/activate", {"reason": "signed"})
    assert r.status_code == 409
    problem = html(r).get_element_by_id("problem")
    co_name = (await api.get(f"/api/v1/organisations/{w.ids['co_commissioner']}",
                             headers=w.headers("admin"))).json()["name"]
    assert [text(li) for li in problem.xpath(".//li")] == [co_name]
    status = lambda: api.get(f"/api/v1/contracts/{cid}", headers=w.headers("commissioner"))  # noqa: E731
    assert (await status()).json()["status"] == "draft"
    await sign_in(api, w.ids["co_commissioner"], "commissioner", lang="da")
    r = await post_form(api, f"/contracts/{cid}/activate", {"reason": "agreed"})
    assert r.status_code == 303 and r.headers["location"].endswith("done=activated")
    assert (await status()).json()["status"] == "active"


async def test_a_variation_is_proposed_from_the_editor_holding_the_current_terms(api, world):
    w = world
    cid = await active_contract(w)
    await sign_in(api, w.ids["commissioner"], "commissioner", lang="da")
    await api.post("/language", data={"lang": "en", "next": "/", "_csrf_token": csrf(api)})
    r = await api.get(f"/contracts/{cid}/vary")
    assert r.status_code == 200
    page = html(r)
    form = {el.get("name"): el.get("value") or "" for el in page.xpath(
        "//form[@id='designer']//input[@type!='checkbox' and @type!='hidden']")}
    form.update({el.get("name"): (el.xpath("./option[@selected]/@value") or [""])[0]
                 for el in page.xpath("//form[@id='designer']//select")})
    form["auditor"] = str(w.ids["auditor"])
    assert form["cap"] == "1,000,000" and form["line-0-price"] == "15,000"
    form.pop("q", None)
    r = await post_form(api, f"/contracts/{cid}/vary", {**form, "cap": "1,200,000"})
    assert r.status_code == 422  # no reason given
    assert "Fill this in" in text(html(r).get_element_by_id(forms.anchor("reason")))
    r = await post_form(api, f"/contracts/{cid}/vary",
                        {**form, "cap": "1,200,000", "reason": "more participants"})
    assert r.status_code == 303, r.text
    result = await api.get(r.headers["location"])
    page = html(result)
    assert "(commissioner)" in text(page.xpath("//ul[@class='awaiting']")[0])
    cap = next(tr for tr in page.xpath("//tr") if tr.xpath("./th[text()='Cap']"))
    assert "1,000,000.00" in text(cap.xpath(".//del")[0])
    assert "1,200,000.00" in text(cap.xpath(".//ins")[0])
    assert len(page.xpath("//table[@class='diff']/tbody/tr")) == 1  # nothing else changed
    proposals = (await api.get(f"/api/v1/contracts/{cid}/proposals",
                               headers=w.headers("commissioner"))).json()
    assert [(p["status"], p["terms"]["cap"]["amount"]) for p in proposals] == [
        ("pending", 120_000_000)]


async def test_a_drafts_change_applies_at_once(api, world):
    w = world
    cid = w.contracts["own"]
    await sign_in(api, w.ids["commissioner"], "commissioner", lang="da")
    page = html(await api.get(f"/contracts/{cid}/vary"))
    assert page.xpath("//input[@name='reason']/@value")  # a reason is offered
    form = {el.get("name"): el.get("value") or "" for el in page.xpath(
        "//form[@id='designer']//input[@type!='checkbox' and @type!='hidden']")}
    form.update({el.get("name"): (el.xpath("./option[@selected]/@value") or [""])[0]
                 for el in page.xpath("//form[@id='designer']//select")})
    form.pop("q", None)
    form.update({"auditor": str(w.ids["auditor"]), "line-1-remove": "1"})
    r = await post_form(api, f"/contracts/{cid}/vary", form)
    assert r.status_code == 303, r.text
    assert html(await api.get(r.headers["location"])).xpath("//p[@class='flash']")
    got = (await api.get(f"/api/v1/contracts/{cid}", headers=w.headers("commissioner"))).json()
    assert got["version"] == 2 and [x["code"] for x in got["terms"]["rate_card"]] == ["entry"]


async def test_only_commissioners_design_and_only_their_own_contracts(api, world):
    w = world
    own = w.contracts["own"]
    for org, role in (("provider", "provider"), ("auditor", "auditor"), ("admin", "admin")):
        await sign_in(api, w.ids[org], role)
        assert (await api.get("/contracts/new")).status_code == 403, role
        assert (await post_form(api, "/contracts/new", typed(w))).status_code == 403, role
        assert (await api.get(f"/contracts/{own}/vary")).status_code == 403, role
        r = await post_form(api, "/contracts/new/preview", {"cap": "1"}, htmx=True)
        assert r.status_code == 403, role
    await sign_in(api, w.ids["other_commissioner"], "commissioner", lang="da")
    assert (await api.get(f"/contracts/{own}/vary")).status_code == 404
    r = await post_form(api, f"/contracts/{own}/vary", {"reason": "mine now"})
    assert r.status_code == 404


def test_amounts_and_rates_are_read_as_the_reader_writes_them():
    def reader(lang):
        return forms.Reader(lang, "DKK", lambda message, **values: message % values
                            if values else message)

    da, en, nb = reader("da"), reader("en"), reader("nb")
    assert da.money("15.000,50", "x") == {"amount": 1_500_050, "currency": "DKK"}
    assert da.money("15000", "x")["amount"] == 1_500_000
    assert en.money("15,000.50", "x")["amount"] == 1_500_050
    assert nb.money("15 000,50", "x")["amount"] == 1_500_050
    assert nb.money("15\u00a0000,50", "x")["amount"] == 1_500_050
    assert da.money("0,01", "x")["amount"] == 1
    assert da.money("999.999.999.999,99", "x")["amount"] == 99_999_999_999_999
    assert da.basis_points("12,5", "x") == 1250 and en.basis_points("33.33 %", "x") == 3333
    assert da.decimal_text("2,5", "x") == "2.5" and da.decimal_text("5", "x") == "5"
    for bad in ("15.000,505", "-1", "abc", "1e3", "NaN", "15,000.50"):
        r = reader("da")
        assert r.money(bad, "terms.cap") is None, bad
        assert [p.field for p in r.problems] == ["terms.cap"], bad
    assert forms.show_amount(1_500_050, "DKK", "da") == "15.000,50"
    assert forms.show_amount(1_500_000, "DKK", "en") == "15,000"
    assert forms.show_percent(1250, "da") == "12,5"
