"""A visitor without an account reads what works, in Danish, on a phone: Holbæk publishes its
IPS contract (INDIGO-POJ-0313 of the demo) through the JSON API; the visitor finds the
outcome on /what-works, opens it, and reads the contract's price, its rate with the interval,
the funnel plot and what the participants said, all in Danish and without sideways
scrolling. Both pages pass axe-core with no serious or critical violation."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from opendata.publication import PARTS
from tests.browser.helpers import (
    COMMISSIONER,
    DANISH_MONEY,
    check_accessibility,
    press,
    shot,
    visit,
)

pytestmark = pytest.mark.browser

PHONE = dict(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
             has_touch=True, locale="da-DK")


@pytest.fixture
def visitor(browser, live_server):
    """A phone (390 × 844, touch) in Danish, signed in to nothing."""
    context = browser.new_context(base_url=live_server.url, **PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.problems = []
    page.on("response", lambda r: r.status >= 400 and not r.request.is_navigation_request()
            and not r.url.endswith("/favicon.ico")
            and page.problems.append(f"{r.request.method} {r.url}: {r.status}"))
    # A failed load is reported above with its address (the browser's own favicon aside).
    page.on("console", lambda m: m.type == "error"
            and not m.text.startswith("Failed to load resource")
            and page.problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: page.problems.append(f"uncaught: {e}"))
    yield page
    context.close()


def fits_the_screen(page) -> None:
    """No sideways scrolling: nothing is wider than the phone (a mobile browser would
    otherwise lay the page out wider and zoom out)."""
    wide = page.evaluate("() => document.documentElement.scrollWidth")
    screen = PHONE["viewport"]["width"]
    assert wide <= screen, f"the page is {wide} px wide on a {screen} px screen"


def test_a_visitor_reads_what_works_in_danish_on_a_phone(visitor, scene):
    contract = scene.contract("INDIGO-POJ-0313")
    scene.api("holbaek").call("PUT", f"/contracts/{contract['id']}/publication",
                              json={"parts": dict.fromkeys(PARTS, "public")})
    page = visitor

    visit(page, "/what-works")
    expect(page.locator("html")).to_have_attribute("lang", "da")
    expect(page.locator("h1")).to_have_text("Hvad virker")
    expect(page.get_by_role("link", name="Log ind")).to_be_visible()
    fits_the_screen(page)
    shot(page, "visitor what-works da phone")
    check_accessibility(page, "visitor /what-works")

    with page.expect_navigation():
        page.get_by_role("link", name=re.compile(r"^Kategori ")).first.click()
    expect(page.locator("h1")).to_have_text(re.compile(r"^Hvad virker: "))
    row = page.locator(f"tr#contract-{contract['reference']}")
    expect(row).to_be_visible()
    # The price in Danish kroner, the rate with its 95 % interval in Danish numbers.
    expect(row.locator("td[data-label='Pris pr. resultat']")).to_have_text(DANISH_MONEY)
    expect(row.locator("td[data-label='Andel (95 %-interval)']")).to_have_text(
        re.compile(r"\d+,\d %\s*\(\d+,\d %–\d+,\d %\)|færre end 5|ingen observeret endnu"))
    expect(page.get_by_role("heading", name="Tragtdiagram", exact=True)).to_be_visible()
    expect(page.locator("figure svg[role=img]")).to_be_visible()
    expect(page.get_by_role("heading", name="Sådan læses et tragtdiagram")).to_be_visible()
    expect(page.get_by_role("heading", name="Hvorfor der ingen rangliste er")).to_be_visible()
    # The IPS participants' answers, as the demo has them.
    expect(page.get_by_role("heading", name="Hvad deltagerne sagde")).to_be_visible()
    fits_the_screen(page)
    shot(page, "visitor what-works subject da phone")
    check_accessibility(page, "visitor /what-works/subject")
    assert not page.problems, page.problems

    # The data behind it, for anyone.
    csv = page.request.get(page.url.split("?")[0] + ".csv")
    assert csv.status == 200 and csv.text().startswith("subject,reference,")
    assert contract["reference"] in csv.text()


def test_a_commissioner_publishes_a_contract_after_confirming(new_page, session_of, scene):
    contract = scene.new_contract(f"PUB-{int(time.time() * 1000) % 10**9}")
    page = new_page(storage_state=session_of(COMMISSIONER))
    visit(page, f"/contracts/{contract['id']}")
    with page.expect_navigation():
        page.get_by_role("link", name="What is public").click()
    expect(page.locator("h1")).to_contain_text("What is public")
    shot(page, "commissioner publication")
    check_accessibility(page, "commissioner publication")

    page.get_by_label("Public: The contract").check()
    page.get_by_label("Public: Results").check()
    press(page, "Save what is public")
    # Nothing is public before the commissioner confirms.
    expect(page.get_by_role("heading", name="Publish these parts?")).to_be_visible()
    shot(page, "commissioner publication confirm")
    check_accessibility(page, "commissioner publication confirm")
    assert {p["part"] for p in scene.api("holbaek").get(
        f"/contracts/{contract['id']}/publication")["parts"] if p["status"] == "public"} \
        == set()
    press(page, "^Publish$")
    expect(page.locator(".flash")).to_contain_text("Saved")
    parts = scene.api("holbaek").get(f"/contracts/{contract['id']}/publication")["parts"]
    assert {p["part"] for p in parts if p["status"] == "public"} == {"contract", "results"}
    assert not page.problems, page.problems
