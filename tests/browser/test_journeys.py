"""A commissioner's jobs, done in Chromium the way a person does them, each step checked by
what the page shows, and what the page did checked by what the JSON API then reports.

Sofie Dahl (Holbæk Kommune) is the commissioner; Holbæk's second commissioner checks the
payment runs she drafts. Each journey that changes data works on a contract of its own,
made through the JSON API first, so the journeys may run in any order.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import (
    COMMISSIONER,
    DANISH_DATE,
    DANISH_MONEY,
    PASSWORD,
    UUID_RE,
    button,
    choose_language,
    field,
    main_text,
    named,
    press,
    problem_shown,
    set_value,
    shot,
    sign_in,
    sign_out,
    uuid_in,
    visit,
)

pytestmark = pytest.mark.browser

COMMISSIONER_NAV = ["/queue", "/contracts", "/payments", "/compare", "/contracts/new"]


def unique(prefix: str) -> str:
    return f"{prefix}-{int(time.time() * 1000) % 10**9}"


# Signing in ---------------------------------------------------------------------------------


def test_a_commissioner_signs_in_and_lands_where_she_was_going(page):
    visit(page, "/queue", expect_status=None)
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fqueue$"))
    shot(page, "sign-in")
    page.locator("#email").fill(COMMISSIONER)
    page.locator("#password").fill("not the password")
    page.locator("form[action='/login'] [type=submit]").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong email or password")
    expect(page.locator("#email")).to_have_value(COMMISSIONER)
    shot(page, "sign-in-wrong-password")

    page.locator("#password").fill(PASSWORD)
    page.locator("form[action='/login'] [type=submit]").click()
    expect(page).to_have_url(re.compile(r"/queue$"))
    choose_language(page, "en")
    expect(page.locator("header")).to_contain_text("Sofie Dahl")
    expect(page.locator("header")).to_contain_text("Holbæk Kommune")
    nav = page.get_by_role("navigation", name="Sections")
    for href in COMMISSIONER_NAV:
        expect(nav.locator(f"a[href='{href}']")).to_be_visible()
    expect(nav.locator("a[href='/queue']")).to_have_attribute("aria-current", "page")
    expect(page.locator("h1")).to_have_count(1)
    shot(page, "work-queue-after-sign-in")

    sign_out(page)
    visit(page, "/queue", expect_status=None)
    expect(page).to_have_url(re.compile(r"/login"))


# Design, activate and vary a contract --------------------------------------------------------


def test_a_commissioner_designs_activates_and_varies_a_contract(page, scene):
    reference = unique("WEB-DESIGN")
    holbaek, ips = scene.org("DK-CVR-90000004"), scene.org("DK-CVR-90000008")
    sign_in(page, COMMISSIONER)
    visit(page, "/contracts/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Design a contract")
    shot(page, "designer-empty")
    # The designer's fields by their names (api/web/forms.py documents them).
    for name, value in [("reference", reference),
                        ("title", "Job support for young people – browser test"),
                        ("provider_id", ips), ("service_start", "2026-01-01"),
                        ("service_end", "2027-12-31"), ("enrolment_start", "2026-01-01"),
                        ("enrolment_end", "2027-06-30"),
                        # Before the service period ends: refused, next to the field.
                        ("claims_deadline", "2026-06-30"), ("cap", "2000000"),
                        ("commissioner-0-org", holbaek), ("commissioner-0-share", "100")]:
        set_value(named(page, name), value)
    # A line from the metric library, found by searching it.
    page.get_by_role("searchbox", name="Search by code, name or").fill("employment")
    add = page.get_by_role("button", name="Add a line for employment", exact=True)
    expect(add).to_be_visible()
    shot(page, "designer-metric-search")
    add.click()
    page.wait_for_load_state("networkidle")
    expect(named(page, "line-0-metric")).to_have_value("employment")
    set_value(named(page, "line-0-price"), "35000")
    # The maximum liability, worked out from what is typed.
    expect(page.locator("#liability [data-figure=maximum]")).to_contain_text("2,000,000.00")
    press(page, r"^save the draft")
    deadline = page.locator(".field", has=page.locator("[name='claims_deadline']"))
    expect(deadline.locator(".field-error")).to_contain_text(re.compile(r"deadline", re.I))
    expect(page.get_by_role("alert")).to_contain_text(re.compile(r"deadline", re.I))
    shot(page, "designer-problem-next-to-its-field")
    set_value(named(page, "claims_deadline"), "2028-06-30")
    press(page, r"^save the draft")
    expect(page).to_have_url(re.compile(rf"/contracts/{UUID_RE}(\?.*)?$"))
    contract_id = uuid_in(page.url)
    main = page.locator("main")
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    expect(main.locator("dl .status").first).to_contain_text(re.compile(r"draft", re.I))
    expect(main).to_contain_text("2,000,000.00")
    shot(page, "contract-draft")
    api = scene.api("holbaek")
    made = api.get(f"/contracts/{contract_id}")
    assert made["reference"] == reference and made["status"] == "draft"
    assert [line["metric_code"] for line in made["terms"]["rate_card"]] == ["employment"]
    assert made["terms"]["cap"] == {"amount": 200_000_000, "currency": "DKK"}
    assert made["terms"]["rate_card"][0]["price"] == {"amount": 3_500_000, "currency": "DKK"}

    press(page, r"accept the terms and activate")
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"active", re.I))
    shot(page, "contract-active")
    assert api.get(f"/contracts/{contract_id}")["status"] == "active"

    button(page, r"propose a variation").click()
    expect(page).to_have_url(re.compile(rf"/contracts/{contract_id}/vary$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Propose a variation")
    set_value(named(page, "cap"), "2500000")
    set_value(named(page, "reason"), "The council added 500,000 kr. for 2027")
    shot(page, "vary-form")
    press(page, r"^propose the variation")
    # Holbæk alone commissions it: the variation applies at once, its diff readable.
    expect(page).to_have_url(re.compile(rf"/contracts/{contract_id}/proposals/{UUID_RE}$"))
    main = page.locator("main")
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"applied", re.I))
    expect(main.locator(".diff-removed", has_text="2,000,000").first).to_be_visible()
    expect(main.locator(".diff-added", has_text="2,500,000").first).to_be_visible()
    shot(page, "variation-applied")
    visit(page, f"/contracts/{contract_id}")
    expect(main.locator(".version").first).to_contain_text(
        "The council added 500,000 kr. for 2027")
    varied = api.get(f"/contracts/{contract_id}")
    assert varied["version"] == 2
    assert varied["terms"]["cap"]["amount"] == 250_000_000


# Review and verify sampled claims; approve them in bulk -------------------------------------


def test_a_commissioner_verifies_sampled_claims_and_approves_them_in_bulk(page, scene):
    reference = unique("WEB-REVIEW")
    contract = scene.new_contract(reference, sampling_rate_bp=10_000)
    scene.claims_for(contract["id"], reference, 3)
    sampled = scene.sampled(contract["id"])
    assert len(sampled) == 3
    first, second, third = sorted(sampled, key=lambda c: c["pseudonym"])

    sign_in(page, COMMISSIONER)
    visit(page, "/queue")
    main = page.locator("main")
    expect(main.locator("h1")).to_have_text("Work queue")
    for claim in sampled:
        expect(main.locator("tr", has_text=claim["pseudonym"])).to_have_count(1)
    shot(page, "queue-to-verify")

    # The first claim, reviewed on its own page: its participant, the rules it passed, the
    # evidence reference and its history; verified with what was checked.
    page.locator(f"a[href='/claims/{first['id']}']").click()
    expect(page).to_have_url(re.compile(rf"/claims/{first['id']}$"))
    expect(main).to_contain_text(first["pseudonym"])
    expect(main).to_contain_text(first["evidence_ref"])
    expect(main.get_by_role("heading", name=re.compile("payment rules", re.I))).to_be_visible()
    expect(main.locator("#claim-status")).to_contain_text(re.compile("sampled", re.I))
    shot(page, "claim-review")
    field(page, r"what was checked").fill("eIndkomst extract checked: 12 hours a week")
    press(page, r"^verify")
    expect(main.locator("#claim-status")).to_contain_text(re.compile("verified", re.I))
    expect(main.locator("#status-panel")).to_contain_text("12 hours a week")  # its history
    shot(page, "claim-verified")

    # The second is disputed, which needs a reason.
    visit(page, f"/claims/{second['id']}")
    press(page, r"^dispute")
    assert problem_shown(page)
    field(page, r"why the evidence").fill("the payslip does not show 10 hours a week")
    press(page, r"^dispute")
    expect(main.locator("#claim-status")).to_contain_text(re.compile("disputed", re.I))

    # The third, verified from the queue in bulk (a bulk of one).
    visit(page, "/queue?tab=verify")
    main.locator("tr", has_text=third["pseudonym"]).get_by_role("checkbox").check()
    press(page, r"verify the selected", confirm=r"yes, verify 1 claim")
    expect(main.locator("[role=status]")).to_contain_text("1 claim verified")
    status = {c["id"]: c["status"] for c in scene.claims(contract["id"])}
    assert status == {first["id"]: "verified", second["id"]: "disputed",
                      third["id"]: "verified"}

    # Both verified claims approved at once: selected, counted, confirmed.
    visit(page, "/queue?tab=approve")
    for claim in (first, third):
        main.locator("tr", has_text=claim["pseudonym"]).get_by_role("checkbox").check()
    shot(page, "queue-to-approve-selected")
    press(page, r"approve the selected")
    expect(page.get_by_role("heading", level=1)).to_have_text("Approve 2 claims?")
    expect(main).to_contain_text(reference)
    expect(main).to_contain_text("70,000.00")
    shot(page, "queue-approve-confirmation")
    press(page, r"yes, approve 2 claims")
    expect(main.locator("[role=status]")).to_contain_text("2 claims approved")
    shot(page, "queue-approved")
    status = {c["id"]: c["status"] for c in scene.claims(contract["id"])}
    assert status == {first["id"]: "approved", second["id"]: "disputed",
                      third["id"]: "approved"}


# Payment runs: maker and checker ------------------------------------------------------------


def test_a_payment_run_is_drafted_by_one_commissioner_and_approved_by_another(
        new_page, scene):
    reference = unique("WEB-PAY")
    contract = scene.new_contract(reference, sampling_rate_bp=0)
    scene.approved_claims(contract["id"], reference, 3)
    checker = scene.checker()
    api = scene.api("holbaek")

    page = new_page()
    sign_in(page, COMMISSIONER)
    visit(page, "/payments")
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment runs")
    field(page, r"draft a payment run for").select_option(contract["id"])
    press(page, r"choose the period")
    expect(page).to_have_url(re.compile(rf"/contracts/{contract['id']}/payments/new$"))
    field(page, r"achieved from").fill("2025-01-01")
    field(page, r"achieved to").fill("2025-12-31")
    shot(page, "payment-run-draft-form")
    press(page, r"draft the payment run")
    expect(page).to_have_url(re.compile(rf"/payment-runs/{UUID_RE}$"))
    run_id = uuid_in(page.url)
    main = page.locator("main")
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("draft", re.I))
    # Every line, and the journal entries the run will post: 3 × 35,000 kr.
    for n in range(3):
        expect(main).to_contain_text(f"{reference}-{n:03d}")
    expect(main).to_contain_text("105,000.00")
    expect(page.get_by_role("heading", name=re.compile(r"journal", re.I))).to_be_visible()
    expect(main).to_contain_text("Paying will post 3 payment entries")
    shot(page, "payment-run-draft")

    # The maker cannot check her own run.
    press(page, r"approve the payment run")
    expect(main.locator(".field-error, [role=alert]").first).to_contain_text(
        "someone else must approve it")
    shot(page, "payment-run-same-person-refused")
    assert api.get(f"/payment-runs/{run_id}")["status"] == "draft"
    sign_out(page)

    other = new_page()
    sign_in(other, checker)
    visit(other, f"/payment-runs/{run_id}")
    press(other, r"approve the payment run")
    main = other.locator("main")
    expect(other.get_by_role("heading", level=1)).to_contain_text(re.compile("approved", re.I))
    run = api.get(f"/payment-runs/{run_id}")
    assert run["status"] == "approved" and run["approved_by"] != run["created_by"]
    shot(other, "payment-run-approved")

    press(other, r"^pay the run", confirm=r"^pay 3 claims")
    expect(other.get_by_role("heading", level=1)).to_contain_text(re.compile("paid", re.I))
    expect(main.locator("a[href$='remittance.pdf']")).to_be_visible()
    shot(other, "payment-run-paid")
    assert api.get(f"/payment-runs/{run_id}")["status"] == "paid"


# Effect and advice --------------------------------------------------------------------------


def test_a_commissioner_reads_the_effect_and_accepts_an_advice(page, scene):
    contract = scene.contract("INDIGO-POJ-0313")
    sign_in(page, COMMISSIONER)
    visit(page, f"/contracts/{contract['id']}")
    main = page.locator("main")
    expect(page.get_by_role("heading", level=1)).to_contain_text("INDIGO-POJ-0313")
    # Achieved against target, one bar per line; paid against the cap per commissioner;
    # the effect with its 95 % interval; the documents.
    expect(main.get_by_role("heading", name="Achieved against target")).to_be_visible()
    expect(main.locator(".bar").first).to_be_visible()
    expect(main.get_by_role("heading", name="Paid against the cap")).to_be_visible()
    expect(main.locator("tr", has_text="Den Sociale Investeringsfond").first).to_be_visible()
    expect(main.get_by_role("heading", name="Effect", exact=True)).to_be_visible()
    expect(main.locator(".interval").first).to_contain_text(re.compile(r"\d+(\.\d)? %"))
    expect(main.locator("a[href$='effect.pdf']")).to_be_visible()
    expect(main.locator("form[action$='statement.pdf']")).to_be_visible()
    shot(page, "contract-overview-effect")

    visit(page, "/compare")
    page.locator("a[href='/compare/employment.entry']").first.click()
    expect(page).to_have_url(re.compile(r"/compare/employment\.entry$"))
    # The funnel plot (the same SVG as the PDF) and the table beside it, never a ranking.
    expect(main.locator("figure svg").first).to_be_visible()
    table = main.locator("table").first
    for reference in ("INDIGO-POJ-0313", "INDIGO-POJ-0312", "KAL-IPS-2024"):
        expect(table).to_contain_text(reference)
    expect(main.get_by_role("heading", name="Allocation advice")).to_be_visible()
    shot(page, "compare-employment")

    mine = main.locator(f"#decide-{contract['id']}")
    expect(mine).to_contain_text(re.compile(r"maintain", re.I))
    press(page, r"accept the advice", within=mine)
    # The decision, recorded, with the variation it implies drafted for review.
    expect(page).to_have_url(re.compile(rf"/compare/employment\.entry/decisions/{UUID_RE}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("INDIGO-POJ-0313")
    expect(main.locator("dl")).to_contain_text(re.compile("accepted", re.I))
    shot(page, "advice-accepted")
    decisions = scene.api("holbaek").get("/advice/employment.entry/decisions")
    assert any(d["contract_id"] == contract["id"] and d["decision"] == "accepted"
               for d in decisions), decisions


# Danish -------------------------------------------------------------------------------------


def test_a_commissioner_reads_virker_in_danish(page, scene):
    contract = scene.contract("INDIGO-POJ-0313")
    run = scene.payment_run(contract["id"])
    sign_in(page, COMMISSIONER)
    visit(page, f"/contracts/{contract['id']}")
    choose_language(page, "da")
    expect(page).to_have_url(re.compile(rf"/contracts/{contract['id']}$"))  # stays put
    expect(page.locator("html")).to_have_attribute("lang", "da")
    # Danish numbers, money and dates (Babel, for the reader's language).
    text = main_text(page)
    assert DANISH_MONEY.search(text), f"no Danish money (1.500,00 kr.) on the page: {text[:500]}"
    assert DANISH_DATE.search(text), f"no Danish date (26. nov. 2026) on the page: {text[:500]}"
    shot(page, "contract-overview-danish")
    visit(page, f"/payment-runs/{run['id']}")
    assert DANISH_MONEY.search(main_text(page)), main_text(page)[:500]
    shot(page, "payment-run-danish")
    # The choice is remembered: signed in again, she reads Danish.
    sign_out(page)
    sign_in(page, COMMISSIONER, lang=None)
    expect(page.locator("html")).to_have_attribute("lang", "da")
    # Danish words (the translators' catalogue, api/web/locale/da).
    header = page.locator("header")
    expect(header.get_by_role("link", name="Kontrakter")).to_be_visible()
    expect(header.locator("form[action='/logout'] [type=submit]")).to_have_text(
        re.compile(r"Log (ud|af)"))
    choose_language(page, "en")
