"""The provider's pages: its contracts (as lead or partner), the rate card it works under,
its payment runs with their remittances, and its API keys: created with the key shown once,
working against the API, and refused once revoked."""

from __future__ import annotations

import datetime as dt
import re

from contracts.identity import Principal
from outcomes import payments
from outcomes.schemas import PaymentRunIn
from tests.helpers import active_contract, key, org, partnership
from tests.integration.test_ledger import ENROLLED, approved_claims
from tests.web.helpers import post_form, sign_in


async def test_a_provider_sees_its_contracts_and_the_rate_card_it_works_under(api, world):
    w = world
    cid = await active_contract(w)
    await sign_in(api, w.ids["provider"], "provider")
    r = await api.get("/provider")
    assert r.status_code == 200, r.text
    row = next(x for x in r.text.split("<tr") if f"/provider/contracts/{cid}" in x)
    assert "lead provider" in row and f'href="/contracts/{cid}/batches"' in row
    assert str(w.contracts["other"]) not in r.text
    r = await api.get(f"/provider/contracts/{cid}")
    assert r.status_code == 200, r.text
    card = r.text[r.text.index("The rate card you work under"):r.text.index("Batches and")]
    entry = next(x for x in card.split("<tr") if "<code>entry</code>" in x)
    assert "housing entry" in entry and re.search(r"15[.,]000", entry)
    assert "achieved from day 0 to day 365 after enrolment" in entry
    sustained = next(x for x in card.split("<tr") if "<code>sustained-3m</code>" in x)
    assert "achieved from day 91 to day 151 after the prerequisite" in sustained
    assert "needs housing entry first" in sustained
    job = next(x for x in card.split("<tr") if "<code>job</code>" in x)
    assert "one line of the group work per participant" in job
    pss = next(x for x in card.split("<tr") if "<code>pss</code>" in x)
    assert "the score must move by at least 5" in pss
    assert f'href="/contracts/{cid}/participants"' in r.text
    assert "No payment run yet" in r.text


async def test_a_partner_sees_the_partnership_as_partner(api, world):
    w = world
    cid = await partnership(w)
    await sign_in(api, w.ids["partner_a"], "provider")
    r = await api.get("/provider")
    row = next(x for x in r.text.split("<tr") if f"/provider/contracts/{cid}" in x)
    assert "partner" in row and "lead provider" not in row
    r = await api.get(f"/provider/contracts/{cid}")
    assert r.status_code == 200 and "a partner: you see your own" in r.text


async def test_an_empty_provider_is_told_what_comes(api, db):
    await sign_in(api, await org("ngo"), "provider")
    r = await api.get("/provider")
    assert "Your organisation delivers no contract yet" in r.text
    r = await api.get("/provider/keys")
    assert "No API key yet" in r.text


async def paid_run(w):
    cid, _, boss = await approved_claims(w, 2)
    run, _ = await payments.create_run(boss, cid, PaymentRunIn(
        period_from=ENROLLED, period_to=dt.date(2030, 1, 1)), None, "h")
    checker = Principal(organisation_id=w.ids["commissioner"], role="commissioner",
                        label="test:checker")
    await payments.approve_run(checker, run.id)
    await payments.pay_run(boss, run.id)
    return cid, run.id


async def test_payments_with_their_remittance(api, world):
    w = world
    cid, run_id = await paid_run(w)
    await sign_in(api, w.ids["provider"], "provider")
    r = await api.get(f"/provider/contracts/{cid}")
    link = f"/provider/payment-runs/{run_id}/remittance.pdf"
    assert f'href="{link}"' in r.text
    row = next(x for x in r.text.split("<tr") if link in x)
    assert "paid" in row and re.search(r"30[.,]000", row)  # 2 claims of 15,000 kroner
    r = await api.get(link)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    # Nobody else's remittance, and not for other roles here.
    await sign_in(api, w.ids["other_provider"], "provider")
    assert (await api.get(link)).status_code == 404
    assert (await api.get(f"/provider/contracts/{cid}")).status_code == 404
    await sign_in(api, w.ids["commissioner"], "commissioner")
    assert (await api.get(link)).status_code == 403


async def test_only_providers_have_the_provider_pages(api, world):
    w = world
    cid = await active_contract(w)
    for who, role in (("commissioner", "commissioner"), ("auditor", "auditor"),
                      ("admin", "admin")):
        await sign_in(api, w.ids[who], role)
        for path in ("/provider", f"/provider/contracts/{cid}", "/provider/keys"):
            assert (await api.get(path)).status_code == 403, (who, path)
        r = await post_form(api, "/provider/keys", {"label": "sneaky"})
        assert r.status_code == 403


async def test_an_api_key_is_shown_once_works_and_is_refused_once_revoked(api, world):
    w = world
    await sign_in(api, w.ids["provider"], "provider")
    r = await post_form(api, "/provider/keys", {"label": "Case system"})
    assert r.status_code == 201, r.text
    shown = re.search(r'id="new-key" type="text" readonly value="([^"]+)"', r.text)
    assert shown and "only time Virker shows it" in r.text
    secret = shown.group(1)
    assert r.headers["cache-control"] == "no-store"
    bearer = {"Authorization": f"Bearer {secret}"}
    assert (await api.get("/api/v1/contracts", headers=bearer)).status_code == 200
    # Never again: the list shows its label, its prefix and when it was last used.
    r = await api.get("/provider/keys")
    assert secret not in r.text and "Case system" in r.text
    row = next(x for x in r.text.split("<tr") if "Case system" in x)
    assert "never" not in row  # used just now
    revoke = re.search(r'action="(/provider/keys/[0-9a-f-]+/revoke)"', row).group(1)
    r = await post_form(api, revoke)
    assert r.status_code == 303 and r.headers["location"] == "/provider/keys?done=revoked"
    r = await api.get("/api/v1/contracts", headers=bearer)
    assert r.status_code == 401 and r.json()["code"] == "invalid_api_key"
    r = await api.get("/provider/keys?done=revoked")
    assert "The API key is revoked" in r.text and "Revoked keys" in r.text


async def test_a_key_needs_a_label_and_another_organisations_key_cannot_be_revoked(api, world):
    w = world
    await key(w.ids["other_provider"])
    await sign_in(api, w.ids["provider"], "provider")
    r = await post_form(api, "/provider/keys", {"label": ""})
    assert r.status_code == 422
    assert re.search(r'id="label"[^>]*>.*?<p class="field-error"', r.text, re.S)
    admin = {"Authorization": f"Bearer {w.keys['admin']}"}
    others = (await api.get("/api/v1/api-keys",
                            params={"organisation_id": str(w.ids["other_provider"])},
                            headers=admin)).json()
    r = await post_form(api, f"/provider/keys/{others[0]['id']}/revoke")
    assert r.status_code == 404
