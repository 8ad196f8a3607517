"""Claim review: the claim, its participant's other claims, the payment rules it passed
with their values, its status history, and the actions its status allows; an action
swaps the status panel with HTMX and redirects back without it."""

from __future__ import annotations

import re

from outcomes import verification
from tests.web.commissioner_data import boss, claims, drawn
from tests.web.helpers import fragment, post_form, sign_in

SUSTAINED = dict(client_ref="p1-sustained", pseudonym="P-1", metric_code="housing_sustained_3m",
                 achieved_on="2024-06-15", evidence_ref="lease-renewal-1")


async def status(api, w, claim_id) -> str:
    r = await api.get(f"/api/v1/claims/{claim_id}", headers=w.headers("commissioner"))
    return r.json()["status"]


async def test_the_review_shows_the_claim_its_rules_its_participant_and_its_history(api, world):
    w = world
    cid, ids = await drawn(w, 2, sampled=True)
    # The participant's second outcome, sustained housing, comes after its first.
    [sustained] = await claims(w, cid, 0, extra=[SUSTAINED])
    await sign_in(api, w.ids["commissioner"], "commissioner", "Mette Holm")
    page = await api.get(f"/claims/{sustained}")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.text)
    assert "Claim p1-sustained" in text and "lease-renewal-1" in text
    assert "DKK 20,000.00" in text  # Danish for a Danish municipality's user
    # Each rule of its line, with the values the terms set.
    for rule in ("Rate card line", "Window", "Prerequisite", "Duration", "Claims per participant",
                 "Per-participant cap", "Contract cap"):
        assert f"<td>{rule}</td>" in text, rule
    assert "Achieved 91 to 151 days after the prerequisite housing_entry" in text
    assert "Needs an accepted housing_entry claim first" in text
    assert "Sustained for at least 91 days" in text
    # The participant's other claim on the contract, and the history so far.
    assert f'href="/claims/{ids[0]}"' in text and "p1-entry" in text
    assert "met the contract&#39;s payment rules" in text
    # Not drawn yet: nothing to do but wait.
    assert "Waiting for a verification draw" in text and "/verify" not in text

    sampled = await api.get(f"/claims/{ids[1]}")
    assert 'action="/claims/' in sampled.text
    assert f'/claims/{ids[1]}/verify"' in sampled.text
    assert f'/claims/{ids[1]}/dispute"' in sampled.text
    assert f'/claims/{ids[1]}/approve"' not in sampled.text
    assert "No other claim for this participant" in sampled.text
    assert "drawn for verification" in sampled.text


async def test_disputing_needs_a_reason_shown_next_to_the_field(api, world):
    w = world
    _, ids = await drawn(w, 1, sampled=True)
    await sign_in(api, w.ids["commissioner"], "commissioner")
    await api.get(f"/claims/{ids[0]}")
    r = await post_form(api, f"/claims/{ids[0]}/dispute", {"reason": ""})
    assert r.status_code == 422
    assert re.search(r'<textarea id="dispute-reason"[^>]*aria-describedby="reason-error"',
                     r.text)
    panel = r.text.split('id="dispute-reason"')[1]
    assert 'class="field-error" id="reason-error">Give the reason in a few words.' in panel
    assert await status(api, w, ids[0]) == "sampled"
    # With HTMX only the panel comes back, with the error in it (as 200: HTMX swaps in no
    # error answer).
    r = await post_form(api, f"/claims/{ids[0]}/dispute", {"reason": "x"}, htmx=True)
    assert r.status_code == 200 and "<html" not in r.text and 'id="reason-error"' in r.text
    r = await post_form(api, f"/claims/{ids[0]}/dispute",
                        {"reason": "the lease is not signed"})
    assert r.status_code == 303 and r.headers["location"] == f"/claims/{ids[0]}"
    assert await status(api, w, ids[0]) == "disputed"
    page = await api.get(f"/claims/{ids[0]}")
    assert "the lease is not signed" in page.text
    # A disputed claim may still be verified, not disputed again.
    assert f'/claims/{ids[0]}/verify"' in page.text
    assert f'/claims/{ids[0]}/dispute"' not in page.text


async def test_verify_swaps_the_panel_and_approve_redirects_back(api, world):
    w = world
    _, ids = await drawn(w, 1, sampled=True)
    await sign_in(api, w.ids["commissioner"], "commissioner")
    await api.get(f"/claims/{ids[0]}")
    r = await post_form(api, f"/claims/{ids[0]}/verify", {"reason": "lease seen"}, htmx=True)
    assert r.status_code == 200 and "<html" not in r.text
    assert r.text.lstrip().startswith('<section class="card" id="status-panel"')
    assert "status-verified" in r.text and "Verified." in r.text
    assert f'/claims/{ids[0]}/approve"' in r.text
    assert await status(api, w, ids[0]) == "verified"
    r = await post_form(api, f"/claims/{ids[0]}/approve", {"reason": ""})
    assert r.status_code == 303 and r.headers["location"] == f"/claims/{ids[0]}"
    assert await status(api, w, ids[0]) == "approved"
    page = await api.get(f"/claims/{ids[0]}")
    assert "Nothing to do: the claim is approved." in page.text
    # Asked again (a second tab), the step is refused and said why.
    r = await post_form(api, f"/claims/{ids[0]}/verify", {"reason": "again"}, htmx=True)
    assert r.status_code == 200 and "invalid_transition" in r.text
    assert "status-approved" in r.text
    r = await post_form(api, f"/claims/{ids[0]}/verify", {"reason": "again"})
    assert r.status_code == 409 and "invalid_transition" in r.text


async def test_a_claim_passed_over_by_the_draw_is_approved_from_its_page(api, world):
    w = world
    _, ids = await drawn(w, 1, sampled=False)
    await sign_in(api, w.ids["commissioner"], "commissioner")
    page = await api.get(f"/claims/{ids[0]}")
    assert "drawn, not selected" in page.text and f'/claims/{ids[0]}/approve"' in page.text
    r = await post_form(api, f"/claims/{ids[0]}/approve", {"reason": "ok"}, htmx=True)
    assert r.status_code == 200 and "status-approved" in r.text


async def test_who_may_review_a_claim(api, world):
    w = world
    cid, ids = await drawn(w, 1, sampled=True)
    for org, role in (("provider", "provider"), ("auditor", "auditor")):
        await sign_in(api, w.ids[org], role)
        assert (await api.get(f"/claims/{ids[0]}")).status_code == 403, role
        r = await post_form(api, f"/claims/{ids[0]}/verify", {"reason": "looks fine"})
        assert r.status_code == 403, role
    await sign_in(api, w.ids["other_commissioner"], "commissioner")
    r = await api.get(f"/claims/{ids[0]}")
    assert r.status_code == 404 and "claim_not_found" in r.text
    r = await post_form(api, f"/claims/{ids[0]}/verify", {"reason": "looks fine"})
    assert r.status_code == 404
    assert await status(api, w, ids[0]) == "sampled"
    await sign_in(api, w.ids["admin"], "admin")
    r = await api.get(f"/claims/{ids[0]}")
    assert r.status_code == 200 and "/verify" not in r.text
    assert (await fragment(api, f"/claims/{ids[0]}")).status_code == 200
    # The co-commissioner decides as well.
    await sign_in(api, w.ids["co_commissioner"], "commissioner")
    await api.get(f"/claims/{ids[0]}")
    r = await post_form(api, f"/claims/{ids[0]}/verify", {"reason": "looks fine"})
    assert r.status_code == 303 and await status(api, w, ids[0]) == "verified"
    await verification.approve(boss(w), cid, ids, "")
