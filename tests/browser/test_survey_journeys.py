"""Citizen voice in Chromium, as the people who do it: Sofie Dahl (Holbæk Kommune) opens a
survey wave; Peter at IPS-teamet asks for the links, shown once; a participant answers one
of them on the public page; Sofie sees the response rate and moderates the comment. Each
step is checked by what the page shows, and axe checks every page of it.

The journey works on a contract of its own, made through the JSON API first; the
demo's INDIGO-POJ-0313, whose participants have answered for two years, is the page of
results with figures to look at.
"""

from __future__ import annotations

import datetime as dt
import re
import time

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.helpers import (
    AUDITOR,
    COMMISSIONER,
    PROVIDER,
    button,
    check_accessibility,
    field,
    main_text,
    press,
    problem_shown,
    shot,
    sign_in,
    visit,
)

pytestmark = pytest.mark.browser

RELATIONAL = {"contact_person": 1, "asked_what_matters": 1, "helped": 9}


def unique(prefix: str) -> str:
    return f"{prefix}-{int(time.time() * 1000) % 10**9}"


def looked_at(page, name: str) -> None:
    """A screenshot of the page, and axe's check of it (no serious or critical violation),
    and nothing the browser complained of."""
    shot(page, name)
    check_accessibility(page, name)
    assert not page.problems, f"errors in the browser on {page.url}: {page.problems}"


def enrolled(scene, contract_id: str, prefix: str, n: int) -> list[str]:
    """`n` participants enrolled a month ago by IPS-teamet, by pseudonym."""
    on = dt.date.today() - dt.timedelta(days=30)
    pseudonyms = [f"{prefix}-{i:02d}" for i in range(n)]
    scene.api("ips").csv(f"/contracts/{contract_id}/participants",
                         "pseudonym,enrolled_on\n" + "".join(f"{p},{on}\n" for p in pseudonyms),
                         f"{prefix}-enrol")
    return pseudonyms


def test_a_wave_is_opened_its_links_given_once_answered_and_its_comment_moderated(
        new_page, scene, live_server):
    reference = unique("WEB-VOICE")
    contract = scene.new_contract(reference)
    cid = contract["id"]
    pseudonyms = enrolled(scene, cid, reference.lower(), 6)

    # Sofie opens a wave: a missing title is said beside the field first.
    sofie = new_page()
    sign_in(sofie, COMMISSIONER)
    visit(sofie, f"/contracts/{cid}")
    expect(sofie.locator("section.voice-panel")).to_contain_text("No survey wave yet")
    sofie.locator("section.voice-panel").get_by_role(
        "link", name=re.compile("Citizen voice of")).click()
    expect(sofie.get_by_role("heading", level=1)).to_contain_text("Citizen voice")
    looked_at(sofie, "voice-empty")
    button(sofie, r"^Open a survey wave$").click()
    expect(sofie.get_by_role("heading", level=1)).to_have_text("Open a survey wave")
    field(sofie, r"^Questionnaire").select_option("relational")
    press(sofie, r"^Open the wave$")
    title = sofie.locator(".field", has=sofie.locator("[name='title']"))
    expect(title.locator(".field-error")).to_contain_text("Fill this in")
    assert "not opened yet" in problem_shown(sofie)
    looked_at(sofie, "voice-wave-form-problem")
    field(sofie, r"^Title").fill("Three months in")
    press(sofie, r"^Open the wave$")
    expect(sofie).to_have_url(re.compile(rf"/contracts/{cid}/voice\?done=opened$"))
    expect(sofie.get_by_role("status")).to_contain_text("The survey wave is open")
    row = sofie.locator("tr.voice-wave", has_text="Three months in")
    expect(row).to_contain_text("open")
    looked_at(sofie, "voice-wave-opened")
    wave_id = row.get_attribute("data-wave")
    assert wave_id

    # Peter asks for the links: shown once, on the page that answers.
    peter = new_page()
    sign_in(peter, PROVIDER)
    visit(peter, f"/provider/contracts/{cid}")
    waves = peter.locator(f"tr[data-wave='{wave_id}']")
    expect(waves).to_contain_text("Three months in")
    looked_at(peter, "provider-contract-with-a-wave")
    waves.get_by_role("link", name=re.compile("Ask for links")).click()
    expect(peter.get_by_role("heading", level=1)).to_contain_text("Ask for links")
    looked_at(peter, "voice-links-form")
    field(peter, r"^Pseudonyms").fill("\n".join([*pseudonyms, "nobody-here"]))
    press(peter, r"^Make the links$")
    expect(peter.get_by_role("heading", level=1)).to_contain_text("Links for Three months in")
    expect(peter.locator("main")).to_contain_text("6 links made, 1 refused")
    refused = peter.locator("tr.link-row", has_text="nobody-here")
    expect(refused).to_contain_text("No participant has this pseudonym")
    links = peter.locator("code.link").all_inner_texts()
    assert len(links) == 6 and all(f"{live_server.url}/voice/" in link for link in links)
    looked_at(peter, "voice-links-shown-once")
    visit(peter, f"/contracts/{cid}/voice/waves/{wave_id}/links")
    assert not any(link in peter.content() for link in links)  # never shown again

    # A participant answers the first link on the public page, with a comment.
    person = new_page()
    person.set_viewport_size({"width": 390, "height": 844})
    person.goto(links[0])
    for code, value in RELATIONAL.items():
        person.locator("label", has=person.locator(
            f"input[name='{code}'][value='{value}']")).first.click()
    person.locator("textarea[name='comment']").fill(
        "Mette ringede altid tilbage. Ring til mig på 22 33 44 55.")
    person.get_by_role("button", name=re.compile("Send")).click()
    person.wait_for_load_state("networkidle")
    assert "/voice/" in person.url and links[0] not in person.url
    shot(person, "voice-answered-by-a-participant")
    # Five more answer through the public API, so that there are figures to show.
    for link in links[1:]:
        token = link.rsplit("/", 1)[1]
        r = httpx.post(f"{live_server.url}/api/v1/answer/{token}",
                       json={"answers": RELATIONAL}, timeout=30)
        assert r.status_code == 201, r.text

    # Sofie sees the response rate, and moderates the comment, its phone number masked.
    visit(sofie, f"/contracts/{cid}/voice")
    row = sofie.locator(f"tr.voice-wave[data-wave='{wave_id}']")
    expect(row).to_contain_text("100 %")
    expect(sofie.locator(f"#wave-{wave_id}")).to_contain_text("Has one contact person")
    looked_at(sofie, "voice-results-with-response-rate")
    button(sofie, r"Moderate comments \(1 waiting\)").click()
    comment = sofie.locator("tr.comment").first
    expect(comment).to_contain_text("ringede altid tilbage")  # the name masked too
    assert "22 33 44 55" not in comment.inner_text()
    looked_at(sofie, "voice-comments-to-moderate")
    comment_id = comment.get_attribute("id")
    comment.get_by_role("button", name=re.compile("^Approve")).click()
    # HTMX swaps the list in place: the comment has left the queue, the counts follow.
    expect(sofie.locator("#comments [role=status]")).to_contain_text("The comment is approved")
    expect(sofie.locator(f"#{comment_id}")).to_have_count(0)
    expect(sofie.get_by_role("link", name=re.compile(r"^Approved\s+1"))).to_be_visible()
    assert "done=" not in sofie.url  # no page was loaded
    looked_at(sofie, "voice-comment-approved")
    sofie.get_by_role("link", name=re.compile(r"^Approved\s+1")).click()
    approved = sofie.locator(f"#{comment_id}")
    expect(approved.locator(".status")).to_have_text("approved")
    expect(approved.get_by_role("button", name=re.compile("^Approve"))).to_have_count(0)

    # "You said, we did", then shown with the wave.
    visit(sofie, f"/contracts/{cid}/voice/waves/{wave_id}/answer-back")
    looked_at(sofie, "voice-answer-back-form")
    field(sofie, r"^You said").fill("You told us that your contact person calls back.")
    field(sofie, r"^We did").fill("We keep one contact person for each of you.")
    press(sofie, r"^Publish$")
    expect(sofie.locator(f"#wave-{wave_id} .you-said")).to_contain_text("one contact person")


def audited_contract(scene, reference: str) -> str:
    """Holbæk commissions IPS-teamet, with Kommunernes Revision as auditor; active."""
    money = lambda kroner: {"amount": kroner * 100, "currency": "DKK"}  # noqa: E731
    holbaek = scene.api("holbaek")
    made = holbaek.post("/contracts", dict(
        reference=reference, title=f"Browser test {reference}",
        provider_id=scene.org("DK-CVR-90000008"), currency="DKK",
        terms=dict(service_period={"start": "2025-01-01", "end": "2027-12-31"},
                   enrolment_period={"start": "2025-01-01", "end": "2027-06-30"},
                   claims_deadline="2028-06-30", cap=money(1_000_000),
                   commissioners=[{"organisation_id": scene.org("DK-CVR-90000004"),
                                   "share_bp": 10_000}],
                   auditor_ids=[scene.org("DK-CVR-90000009")],
                   rate_card=[dict(code="job", metric_code="employment", price=money(35_000),
                                   window={"start_day": 0, "end_day": 540})])))
    holbaek.post(f"/contracts/{made['id']}/activate", {"reason": "signed by both parties"})
    return made["id"]


def test_paper_answers_deletion_and_the_auditors_reading(new_page, scene):
    reference = unique("WEB-PAPER")
    cid = audited_contract(scene, reference)
    pseudonyms = enrolled(scene, cid, reference.lower(), 2)
    today = dt.date.today()
    wave = scene.api("holbaek").post(f"/contracts/{cid}/waves", dict(
        title="At the start", instrument="who5", timepoint="enrolment",
        opens_on=str(today - dt.timedelta(days=5)), closes_on=str(today + dt.timedelta(days=20))))

    peter = new_page()
    sign_in(peter, PROVIDER)
    visit(peter, f"/contracts/{cid}/voice/waves/{wave['id']}/answers")
    expect(peter.get_by_role("heading", level=1)).to_contain_text("Record answers from paper")
    looked_at(peter, "voice-answers-form")
    header = "pseudonym,anonymous,mode,submitted_on,comment,cheerful,calm,active,rested,interest"
    rows = [f"{pseudonyms[0]},false,paper,{today},,3,3,3,3,3",
            f"{pseudonyms[1]},false,paper,{today},,3,3,3,3,9"]
    peter.locator("input[type=file]").set_input_files(files=[{
        "name": "answers.csv", "mimeType": "text/csv",
        "buffer": ("\n".join([header, *rows]) + "\n").encode()}])
    press(peter, r"^Record the answers$")
    expect(peter.locator("p.summary")).to_contain_text("2 rows: 1 recorded, 1 refused")
    expect(peter.locator("tr.row-rejected")).to_contain_text("interest")
    looked_at(peter, "voice-answers-report")

    # Deleted on the participant's request: the box must be ticked.
    visit(peter, f"/contracts/{cid}/voice/deletions")
    field(peter, r"^Pseudonym").fill(pseudonyms[0])
    press(peter, r"^Delete the answers$")
    confirm = peter.locator(".field", has=peter.locator("[name='confirm']"))
    expect(confirm.locator(".field-error")).to_contain_text("Tick the box")
    peter.locator("input[name='confirm']").check()
    press(peter, r"^Delete the answers$")
    expect(peter.locator(".deleted")).to_contain_text(f"1 answer of {pseudonyms[0]} is deleted")
    looked_at(peter, "voice-deleted-on-request")

    # The auditor reads the results and the record, and has no button to press.
    karen = new_page()
    sign_in(karen, AUDITOR)
    visit(karen, f"/audit/contracts/{cid}")
    karen.get_by_role("link", name=re.compile("^Citizen voice of")).click()
    expect(karen.get_by_role("heading", level=1)).to_contain_text("Citizen voice")
    expect(karen.locator("main")).to_contain_text("nothing here can be changed")
    assert not karen.get_by_role("link", name=re.compile("Ask for links|Publish")).count()
    looked_at(karen, "voice-results-auditor")
    visit(karen, f"/contracts/{cid}/voice/deletions")
    expect(karen.locator("table.deletions")).to_contain_text(pseudonyms[0])
    assert not karen.locator("input[name='pseudonym']").count()
    looked_at(karen, "voice-deletions-auditor")


def test_the_demo_contracts_results_read_with_their_figures(new_page, scene):
    contract = scene.contract("INDIGO-POJ-0313")
    page = new_page()
    sign_in(page, COMMISSIONER)
    visit(page, f"/contracts/{contract['id']}/voice")
    main = main_text(page)
    assert "never triggers, changes or delays a payment" in main
    expect(page.locator("table.measures").first).to_be_visible()
    expect(page.locator("figure.voice-chart svg")).to_be_visible()
    expect(page.locator("table.continuity")).to_be_visible()
    looked_at(page, "voice-demo-results")
    visit(page, f"/contracts/{contract['id']}")
    expect(page.locator("section.voice-panel")).to_be_visible()
    shot(page, "contract-overview-with-citizen-voice")
    visit(page, f"/contracts/{contract['id']}/voice/instruments/new")
    looked_at(page, "voice-instrument-form")
    visit(page, f"/contracts/{contract['id']}/voice/comments?status=all")
    looked_at(page, "voice-demo-comments")
