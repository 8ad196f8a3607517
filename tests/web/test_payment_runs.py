"""Payment runs in the browser: drafted for a period, every line and the journal entries
paying it posts, approved by a second person (maker-checker) or, where the organisation
allows it, by one person alone, recorded as such; paid, with its remittance."""

from __future__ import annotations

import re

from contracts import directory
from outcomes import verification
from tests.helpers import principal
from tests.web.commissioner_data import ENTRY, boss, drawn
from tests.web.helpers import post_form, sign_in, sign_in_as

PERIOD = {"period_from": "2024-01-01", "period_to": "2024-12-31"}


async def approved(w, n: int, prefix: str = "P"):
    cid, ids = await drawn(w, n, sampled=False, prefix=prefix)
    await verification.approve(boss(w), cid, ids, "")
    return cid, ids


async def run_json(api, w, run_id: str) -> dict:
    r = await api.get(f"/api/v1/payment-runs/{run_id}", headers=w.headers("commissioner"))
    assert r.status_code == 200, r.text
    return r.json()


def squash(html: str) -> str:
    return re.sub(r"\s+", " ", html)


async def test_the_maker_cannot_check_a_second_person_approves_then_it_is_paid(api, world):
    w = world
    cid, ids = await approved(w, 3)
    maker = await sign_in(api, w.ids["commissioner"], "commissioner", "Mette Holm")
    form = await api.get(f"/contracts/{cid}/payments/new")
    assert form.status_code == 200 and 'name="period_from"' in form.text
    r = await post_form(api, f"/contracts/{cid}/payments/new", PERIOD)
    assert r.status_code == 303
    run_url = r.headers["location"]
    run_id = run_url.rsplit("/", 1)[1]
    page = squash((await api.get(run_url)).text)
    # Every line, and the journal entries per commissioner (60 % and 40 % of 45,000 kr.).
    assert page.count('href="/claims/') == 3
    assert "Paying will post 3 payment entries" in page
    assert "DKK 27,000.00" in page and "DKK 18,000.00" in page
    assert "You drafted this run. Another person must approve it" in page

    refused = await post_form(api, f"{run_url}/approve")
    assert refused.status_code == 409
    assert "You drafted this payment run, so someone else must approve it" in refused.text
    assert "same_person" in refused.text
    assert (await run_json(api, w, run_id))["status"] == "draft"

    await sign_in(api, w.ids["commissioner"], "commissioner", "Jonas Berg")
    page = (await api.get(run_url)).text
    assert "You drafted" not in page
    r = await post_form(api, f"{run_url}/approve")
    assert r.status_code == 303 and r.headers["location"] == run_url
    out = await run_json(api, w, run_id)
    assert out["status"] == "approved" and out["approved_alone"] is False
    assert out["created_by"] == f"user:{maker}" and out["approved_by"] != out["created_by"]
    page = squash((await api.get(run_url)).text)
    assert "alone" not in page and "Pay 3 claims: DKK 45,000.00" in page
    assert "<details>" in page  # paying asks first

    # The maker may pay once someone else has approved.
    await sign_in_as(api, maker)
    r = await post_form(api, f"{run_url}/pay")
    assert r.status_code == 303
    out = await run_json(api, w, run_id)
    assert out["status"] == "paid" and out["total"]["amount"] == 3 * ENTRY
    page = squash((await api.get(run_url)).text)
    assert "Paying posted 3 payment entries" in page
    assert f'href="{run_url}/remittance.pdf"' in page
    pdf = await api.get(f"{run_url}/remittance.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    r = await api.get(f"/api/v1/claims/{ids[0]}", headers=w.headers("commissioner"))
    assert r.json()["status"] == "paid"


async def test_an_organisation_may_let_one_person_approve_alone_and_it_shows(api, world):
    w = world
    cid, _ = await approved(w, 1)
    admin = principal(w.ids["admin"], "admin")
    assert await directory.set_single_approver(admin, w.ids["commissioner"], True) is True
    await sign_in(api, w.ids["commissioner"], "commissioner", "Mette Holm")
    r = await post_form(api, f"/contracts/{cid}/payments/new", PERIOD)
    run_url = r.headers["location"]
    assert "Your organisation allows one person alone" in (await api.get(run_url)).text
    r = await post_form(api, f"{run_url}/approve")
    assert r.status_code == 303
    out = await run_json(api, w, run_url.rsplit("/", 1)[1])
    assert out["status"] == "approved" and out["approved_alone"] is True
    assert out["approved_by"] == out["created_by"]
    assert "alone, as the organisation allows" in (await api.get(run_url)).text
    listed = await api.get("/payments?status=approved")
    assert "(alone)" in listed.text


async def test_drafting_shows_its_problems_next_to_the_fields(api, world):
    w = world
    cid, _ = await approved(w, 1)
    await sign_in(api, w.ids["commissioner"], "commissioner")
    await api.get(f"/contracts/{cid}/payments/new")
    r = await post_form(api, f"/contracts/{cid}/payments/new",
                        {"period_from": "2024-12-31", "period_to": "2024-01-01"})
    assert r.status_code == 422
    field = r.text.split('id="period_to"')[1]
    assert "The period ends before it starts." in field and "period_inverted" in field
    r = await post_form(api, f"/contracts/{cid}/payments/new",
                        {"period_from": "", "period_to": "2024-01-01"})
    assert r.status_code == 422
    assert "Give a date" in r.text.split('id="period_from"')[1]
    r = await post_form(api, f"/contracts/{cid}/payments/new",
                        {"period_from": "2020-01-01", "period_to": "2020-12-31"})
    assert r.status_code == 409
    assert "There are no approved, unpaid claims achieved in this period." in r.text
    # The values given stay in the form.
    assert 'value="2020-01-01"' in r.text


async def test_the_list_filters_by_status_and_pages(api, world):
    w = world
    await sign_in(api, w.ids["commissioner"], "commissioner")
    empty = await api.get("/payments")
    assert empty.status_code == 200 and "No payment run yet" in empty.text
    first, _ = await approved(w, 1, "A")
    second, _ = await approved(w, 1, "B")
    for cid in (first, second):
        r = await post_form(api, f"/contracts/{cid}/payments/new", PERIOD)
        assert r.status_code == 303
    listed = await api.get("/payments")
    assert "2 payment runs" in listed.text and listed.text.count('href="/payment-runs/') == 2
    drafts = await api.get("/payments?status=draft")
    assert drafts.text.count('href="/payment-runs/') == 2
    paid = await api.get("/payments?status=paid")
    assert "No payment run is paid." in paid.text
    chooser = await api.get(f"/payments/new?contract={first}")
    assert chooser.status_code == 303
    assert chooser.headers["location"] == f"/contracts/{first}/payments/new"


async def test_who_may_see_and_move_a_payment_run(api, world):
    w = world
    cid, _ = await approved(w, 1)
    await sign_in(api, w.ids["commissioner"], "commissioner")
    r = await post_form(api, f"/contracts/{cid}/payments/new", PERIOD)
    run_url = r.headers["location"]
    for org, role in (("provider", "provider"), ("auditor", "auditor")):
        await sign_in(api, w.ids[org], role)
        for path in ("/payments", run_url, f"/contracts/{cid}/payments/new"):
            assert (await api.get(path)).status_code == 403, (role, path)
        assert (await post_form(api, f"{run_url}/approve")).status_code == 403, role
    await sign_in(api, w.ids["other_commissioner"], "commissioner")
    assert (await api.get(run_url)).status_code == 404
    assert (await api.get(f"/contracts/{cid}/payments/new")).status_code == 404
    assert (await post_form(api, f"{run_url}/approve")).status_code == 404
    assert "No payment run yet" in (await api.get("/payments")).text
    # Not paid yet: no remittance.
    await sign_in(api, w.ids["co_commissioner"], "commissioner")
    assert (await api.get(f"{run_url}/remittance.pdf")).status_code == 409
    # The co-commissioner is a second person: it approves.
    assert (await post_form(api, f"{run_url}/approve")).status_code == 303
