"""A participant answers on their phone: the link their provider gave them opens the
questionnaire in Danish, on a phone-sized screen, with JavaScript off; they tap their answers,
send them and are thanked in Danish; the link then takes no second answer. The form page
passes axe-core with no serious or critical violation, has large text and large targets,
and fits the screen without sideways scrolling."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import check_accessibility, shot

pytestmark = pytest.mark.browser

PHONE = dict(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
             has_touch=True, locale="da-DK")
# WHO-5 in its Danish wording: the answer tapped for each statement.
ANSWERS = {"cheerful": "Det meste af tiden", "calm": "Lidt mere end halvdelen af tiden",
           "active": "Lidt mindre end halvdelen af tiden", "rested": "Lidt af tiden",
           "interest": "Hele tiden"}


def links(scene, n: int) -> tuple[str, list[str]]:
    """A new contract of Holbæk's (Danish) with IPS-teamet, `n` participants enrolled, a
    WHO-5 wave open today and one link per participant, through the JSON API as the
    commissioner and the provider would ask for them. Returns the wave's id and the links."""
    stamp = f"{int(time.time() * 1000) % 10**9}"
    contract = scene.new_contract(f"VOICE-{stamp}")
    ips, holbaek = scene.api("ips"), scene.api("holbaek")
    today = dt.date.today()
    enrolled = "pseudonym,enrolled_on\n" + "".join(
        f"v{stamp}-{i},{today - dt.timedelta(days=60)}\n" for i in range(n))
    ips.csv(f"/contracts/{contract['id']}/participants", enrolled, f"voice-{stamp}")
    wave = holbaek.post(f"/contracts/{contract['id']}/waves", dict(
        title="Tre måneder efter start", instrument="who5", timepoint="enrolment",
        opens_on=str(today - dt.timedelta(days=1)), closes_on=str(today + dt.timedelta(days=30)),
        link_days=14, retention_days=180))
    report = ips.post(f"/waves/{wave['id']}/invitations",
                      {"pseudonyms": [f"v{stamp}-{i}" for i in range(n)]})
    assert report["created"] == n, report
    return wave["id"], [r["link"] for r in report["results"]]


@pytest.fixture
def phone(browser, live_server):
    """A phone (390 × 844, touch) in Danish; `phone(javascript=False)`."""
    contexts = []

    def make(javascript: bool = False):
        context = browser.new_context(base_url=live_server.url, java_script_enabled=javascript,
                                      **PHONE)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        # As tests/browser/conftest.py watches a page: what it loads that is not there (the
        # browser's own /favicon.ico aside), and errors other than those loads.
        page.problems = []
        page.on("response", lambda r: r.status >= 400 and not r.request.is_navigation_request()
                and not r.url.endswith("/favicon.ico")
                and page.problems.append(f"{r.request.method} {r.url}: {r.status}"))
        page.on("console", lambda m: m.type == "error"
                and not m.text.startswith("Failed to load resource")
                and page.problems.append(m.text))
        return page

    yield make
    for context in contexts:
        context.close()


def test_a_participant_answers_who5_on_a_phone_in_danish_without_javascript(phone, scene):
    wave_id, (link, _) = links(scene, 2)
    page = phone(javascript=False)
    response = page.goto(link)
    assert response.status == 200, page.content()[:500]
    assert response.headers["referrer-policy"] == "no-referrer"
    assert page.locator("html").get_attribute("lang") == "da"
    expect(page.locator("h1")).to_have_text("Et par spørgsmål til dig")
    about = page.locator("section.about")
    expect(about).to_contain_text("det er frivilligt at svare")
    expect(about).to_contain_text("anonymt")
    expect(page.get_by_text("Hvordan har du haft det i de sidste to uger?")).to_be_visible()

    for code, answer in ANSWERS.items():
        question = page.locator(f"#q-{code}")
        option = question.get_by_label(answer, exact=True)
        option.tap() if code == "cheerful" else option.check()
        expect(option).to_be_checked()
    page.get_by_label("Kommentar (frivillig)").fill("Min kontaktperson lytter, og det hjælper.")
    shot(page, "voice-answer-who5-phone-da")
    with page.expect_navigation():
        page.get_by_role("button", name="Send mine svar").tap()

    assert re.search(r"/voice/thanks\?lang=da$", page.url), page.url
    expect(page.locator("h1")).to_have_text("Tak for dine svar")
    expect(page.get_by_role("status")).to_contain_text("Vi har modtaget dine svar")
    shot(page, "voice-thanks-phone-da")
    assert not page.problems, page.problems
    wave = scene.api("holbaek").get(f"/waves/{wave_id}")
    assert wave["responses"] == 1

    # The link has done its work: opened again, it says so and asks nothing.
    response = page.goto(link)
    assert response.status == 410
    expect(page.locator("h1")).to_have_text("Dette link er allerede brugt")
    expect(page.locator("fieldset")).to_have_count(0)


def test_the_answer_page_is_accessible_and_made_for_a_phone(phone, scene):
    _, (_, link) = links(scene, 2)
    page = phone(javascript=True)  # axe runs in the page
    response = page.goto(link)
    assert response.status == 200
    shot(page, "voice-form-phone-da")
    expect(page.locator("h1")).to_have_count(1)
    check_accessibility(page, "voice-form-phone-da")
    size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert size >= 18, f"the text is {size}px"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "it scrolls sideways"
    heights = page.locator("label.option").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().height)")
    assert heights and min(heights) >= 44, f"targets smaller than 44px: {min(heights)}"
    # A language of one's own, by a link to the same page.
    with page.expect_navigation():
        page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("A few questions for you")

    # Sent with nothing answered: the problem is said at the top and the form kept.
    page.get_by_label("Answer anonymously").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("alert")).to_contain_text("Answer at least one question")
    expect(page.get_by_label("Answer anonymously")).to_be_checked()
    check_accessibility(page, "voice-form-problem-phone-en")
    shot(page, "voice-form-problem-phone-en")
    assert not page.problems, page.problems
