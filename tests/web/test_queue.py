"""The work queue: what needs a commissioner now, with the right counts, across the
contracts it commissions; bulk verification and approval after a confirmation, with what
the API then reports."""

from __future__ import annotations

import datetime as dt
import re

from outcomes import payments, verification
from outcomes.schemas import PaymentRunIn
from tests.helpers import active_contract
from tests.web.commissioner_data import boss, claims, drawn
from tests.web.helpers import fragment, post_form, sign_in


def counts(html: str) -> dict[str, int]:
    return {tab: int(n) for tab, n in re.findall(r'data-tab="(\w+)">(\d+)<', html)}


def selectable(html: str) -> list[str]:
    return re.findall(r'name="claim" value="([0-9a-f-]+)" id=', html)


async def status(api, w, claim_id) -> str:
    r = await api.get(f"/api/v1/claims/{claim_id}", headers=w.headers("commissioner"))
    assert r.status_code == 200, r.text
    return r.json()["status"]


async def test_the_queue_shows_what_needs_action_with_its_counts(api, world):
    w = world
    today = dt.date.today()
    sampled, sampled_ids = await drawn(w, 3, sampled=True, prefix="A")
    ready, ready_ids = await drawn(w, 2, sampled=False, prefix="B")
    # Near its cap: 15,000 of 16,000 kr. accrued (94 %), and drafted into a payment run.
    full, full_ids = await drawn(w, 1, sampled=False, prefix="C",
                                 cap={"amount": 1_600_000, "currency": "DKK"},
                                 per_participant_cap={"amount": 1_500_000, "currency": "DKK"})
    await verification.approve(boss(w), full, full_ids, "")
    await payments.create_run(boss(w), full, PaymentRunIn(
        period_from=dt.date(2024, 1, 1), period_to=dt.date(2024, 12, 31)), None, "h")
    # Near its claims deadline (20 days left), nothing claimed.
    await active_contract(w, service_period={"start": "2024-01-01",
                                             "end": str(today + dt.timedelta(days=5))},
                          claims_deadline=str(today + dt.timedelta(days=20)))
    # A batch with two of its three rows rejected (unknown participants).
    await claims(w, ready, 1, "E", extra=[
        dict(client_ref=f"x{i}", pseudonym=f"NOBODY-{i}", metric_code="housing_entry",
             achieved_on="2024-03-01", evidence_ref="lease") for i in (1, 2)])

    await sign_in(api, w.ids["commissioner"], "commissioner", "Mette Holm")
    page = await api.get("/queue")
    assert page.status_code == 200
    assert counts(page.text) == {"verify": 3, "approve": 2, "runs": 1, "batches": 1,
                                 "contracts": 2}
    assert sorted(selectable(page.text)) == sorted(str(i) for i in sampled_ids)
    assert f'href="/claims/{sampled_ids[0]}"' in page.text
    approve = await api.get("/queue?tab=approve")
    assert sorted(selectable(approve.text)) == sorted(str(i) for i in ready_ids)
    runs = await api.get("/queue?tab=runs")
    assert "/payment-runs/" in runs.text and "commissioner" in runs.text
    batches = await api.get("/queue?tab=batches")
    assert "/batches/" in batches.text and re.search(r'class="num">67\s*%<', batches.text)
    near = await api.get("/queue?tab=contracts")
    assert "near the cap" in near.text and "20 days left" in near.text

    # The co-commissioner's users see the same work; another commissioner none of it.
    await sign_in(api, w.ids["co_commissioner"], "commissioner")
    assert counts((await api.get("/queue")).text)["verify"] == 3
    await sign_in(api, w.ids["other_commissioner"], "commissioner")
    empty = await api.get("/queue")
    assert set(counts(empty.text).values()) == {0}
    assert "No claim is waiting for verification" in empty.text
    assert "No payment run is waiting" in (await api.get("/queue?tab=runs")).text


async def test_bulk_approval_asks_first_then_approves_per_contract(api, world):
    w = world
    first, first_ids = await drawn(w, 2, sampled=False, prefix="B")
    second, second_ids = await drawn(w, 1, sampled=False, prefix="C")
    chosen = [str(i) for i in first_ids + second_ids]
    await sign_in(api, w.ids["commissioner"], "commissioner")
    await api.get("/queue?tab=approve")
    confirm = await post_form(api, "/queue/confirm", {"action": "approve", "claim": chosen})
    assert confirm.status_code == 200
    assert "Approve 3 claims?" in confirm.text and "On 2 contracts" in confirm.text
    assert "Yes, approve 3 claims" in confirm.text
    assert {await status(api, w, c) for c in chosen} == {"accepted"}  # nothing done yet

    done = await post_form(api, "/queue/approve", {"claim": chosen, "reason": ""})
    assert done.status_code == 303
    assert done.headers["location"] == "/queue?tab=approve&done=approved&n=3"
    after = await api.get(done.headers["location"])
    assert "3 claims approved." in after.text and counts(after.text)["approve"] == 0
    assert {await status(api, w, c) for c in chosen} == {"approved"}
    r = await api.get(f"/api/v1/contracts/{first}/balance", headers=w.headers("commissioner"))
    assert r.json()["accrued"] == 2 * 1_500_000


async def test_a_contract_whose_claims_cannot_all_be_approved_is_held_back_alone(api, world):
    w = world
    ready, ready_ids = await drawn(w, 1, sampled=False, prefix="B")
    sampled, sampled_ids = await drawn(w, 1, sampled=True, prefix="A")
    await sign_in(api, w.ids["commissioner"], "commissioner")
    await api.get("/queue")
    r = await post_form(api, "/queue/approve",
                        {"claim": [str(ready_ids[0]), str(sampled_ids[0])], "reason": ""})
    assert r.status_code == 409
    assert "1 claim approved." in r.text and "not_verified" in r.text
    assert await status(api, w, ready_ids[0]) == "approved"
    assert await status(api, w, sampled_ids[0]) == "sampled"


async def test_bulk_verification_needs_a_reason_and_a_selection(api, world):
    w = world
    _, ids = await drawn(w, 2, sampled=True)
    await sign_in(api, w.ids["commissioner"], "commissioner")
    await api.get("/queue")
    nothing = await post_form(api, "/queue/confirm", {"action": "verify"})
    assert nothing.status_code == 422 and "Choose at least one claim." in nothing.text
    chosen = [str(i) for i in ids]
    confirm = await post_form(api, "/queue/confirm", {"action": "verify", "claim": chosen})
    assert "Verify 2 claims?" in confirm.text and 'name="reason"' in confirm.text
    bare = await post_form(api, "/queue/verify", {"claim": chosen, "reason": ""})
    assert bare.status_code == 422
    assert re.search(r'<textarea id="reason"[^>]*aria-describedby="reason-error"', bare.text)
    assert 'class="field-error" id="reason-error"' in bare.text
    assert {await status(api, w, c) for c in chosen} == {"sampled"}
    done = await post_form(api, "/queue/verify", {"claim": chosen,
                                                   "reason": "tenancy agreements seen"})
    assert done.headers["location"] == "/queue?tab=verify&done=verified&n=2"
    assert {await status(api, w, c) for c in chosen} == {"verified"}
    # Verified, they wait in the next tab.
    approve = await api.get("/queue?tab=approve")
    assert sorted(selectable(approve.text)) == sorted(chosen)
    r = await api.get(f"/api/v1/claims/{ids[0]}", headers=w.headers("commissioner"))
    assert r.json()["history"][-1]["reason"] == "tenancy agreements seen"


async def test_only_commissioners_work_the_queue_and_administrators_read_it(api, world):
    w = world
    _, ids = await drawn(w, 2, sampled=True)
    for org, role in (("provider", "provider"), ("auditor", "auditor")):
        await sign_in(api, w.ids[org], role)
        assert (await api.get("/queue")).status_code == 403, role
        r = await post_form(api, "/queue/confirm", {"action": "verify",
                                                     "claim": [str(ids[0])]})
        assert r.status_code == 403, role
    await sign_in(api, w.ids["admin"], "admin")
    page = await api.get("/queue")
    assert page.status_code == 200 and counts(page.text)["verify"] == 2
    assert not selectable(page.text) and "/queue/confirm" not in page.text
    r = await post_form(api, "/queue/approve", {"claim": [str(ids[0])]})
    assert r.status_code == 403 and await status(api, w, ids[0]) == "sampled"


async def test_the_queue_pages_by_cursor_and_tabs_come_as_fragments(api, world):
    w = world
    await drawn(w, 55, sampled=True)
    await sign_in(api, w.ids["commissioner"], "commissioner")
    first = await api.get("/queue?tab=verify")
    assert counts(first.text)["verify"] == 55 and len(selectable(first.text)) == 50
    more = re.search(r'href="(/queue\?tab=verify&amp;cursor=[0-9a-f-]+)"', first.text)
    assert more
    second = await api.get(more.group(1).replace("&amp;", "&"))
    assert len(selectable(second.text)) == 5
    assert not set(selectable(second.text)) & set(selectable(first.text))
    assert "cursor=" not in second.text.split('id="queue"')[1]

    part = await fragment(api, "/queue?tab=runs")
    assert part.status_code == 200 and "<html" not in part.text
    assert part.text.lstrip().startswith('<div id="queue">')
    assert 'aria-current="page">Payment runs to approve' in part.text
    restored = await api.get("/queue?tab=runs", headers={"HX-Request": "true",
                                                         "HX-History-Restore-Request": "true"})
    assert "<html" in restored.text
    bad = await api.get("/queue?tab=verify&cursor=nonsense")
    assert bad.status_code == 422

