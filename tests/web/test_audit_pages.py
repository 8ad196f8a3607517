"""The auditor's pages: its assigned contracts, a statement for any period, whether the
journal verifies (and where it first does not), and the latest signed checkpoint."""

from __future__ import annotations

import datetime as dt
import re

from core.clock import now
from ledger import checkpoints
from ledger.verify import engine_dsn
from tests.helpers import active_contract, org
from tests.integration.test_tamper import Hostile
from tests.web.helpers import fragment, sign_in


async def audited(w):
    """An active contract the world's auditor audits (its activation committed the cap: the
    journal has entries), and a checkpoint signed with the server's key."""
    cid = await active_contract(w)
    signed, report = await checkpoints.create(checkpoints.key_path(), engine_dsn())
    assert report.ok
    return cid, report


async def test_the_auditor_sees_its_contracts_the_checkpoint_and_the_journal_verify(api, world):
    w = world
    cid, report = await audited(w)
    await sign_in(api, w.ids["auditor"], "auditor")
    r = await api.get("/audit")
    assert r.status_code == 200, r.text
    assert f'href="/audit/contracts/{cid}"' in r.text
    assert f'action="/audit/contracts/{cid}/statement.pdf"' in r.text
    assert str(w.contracts["other"]) not in r.text  # another auditor's contract
    # The checkpoint: its entry, head hash, key and totals of the audited contracts only.
    checkpoint = r.text[r.text.index("Latest signed checkpoint"):]
    assert report.head_hash in checkpoint
    key_id = checkpoints.trusted_key(None)[:16]
    assert f"<code>{key_id}…</code>" in checkpoint
    assert "Totals of the contracts you audit" in checkpoint and "committed" in checkpoint
    # The verification loads by itself (HTMX) or by the link, and says OK.
    assert 'hx-get="/audit/verification"' in r.text
    r = await fragment(api, "/audit/verification")
    assert r.status_code == 200 and "<html" not in r.text
    assert "OK: the journal verifies." in r.text and report.head_hash in r.text
    r = await api.get("/audit/verification")
    assert r.status_code == 200 and "<html" in r.text and "OK: the journal verifies." in r.text


async def test_verification_names_the_first_entry_that_does_not_match(api, world, db):
    w = world
    await audited(w)
    hostile = Hostile(db.kind, db.url, db.url[len("sqlite:///"):] if db.kind == "sqlite" else "")
    await hostile.disarm()
    await hostile.run("UPDATE journal_entry SET memo = 'rewritten' WHERE seq = 1")
    await sign_in(api, w.ids["auditor"], "auditor")
    r = await api.get("/audit/verification")
    assert r.status_code == 200
    assert "The journal does not verify." in r.text
    assert re.search(r"First entry that does not match</dt><dd>1 ", r.text)


async def test_an_empty_audit_says_what_comes(api, world):
    await sign_in(api, await org("audit_firm"), "auditor")
    r = await api.get("/audit")
    assert r.status_code == 200
    assert "You are not assigned to any contract yet" in r.text
    # No checkpoint yet (or, before any was signed in this test session, no key either).
    assert ("No checkpoint signed with the trusted key has been written yet." in r.text
            or "No public key is configured" in r.text)


async def test_only_auditors_and_administrators_have_the_audit_pages(api, world):
    w = world
    cid, _ = await audited(w)
    for who, role in (("commissioner", "commissioner"), ("provider", "provider")):
        await sign_in(api, w.ids[who], role)
        for path in ("/audit", "/audit/verification", f"/audit/contracts/{cid}",
                     f"/audit/contracts/{cid}/statement.pdf"):
            r = await api.get(path)
            assert r.status_code == 403, (who, path)
    await sign_in(api, w.ids["other_auditor"], "auditor")
    assert (await api.get(f"/audit/contracts/{cid}")).status_code == 404
    assert (await api.get(f"/audit/contracts/{cid}/statement.pdf")).status_code == 404
    await sign_in(api, w.ids["admin"], "admin")
    r = await api.get("/audit")
    assert r.status_code == 200 and "Totals of the whole ledger" in r.text
    assert (await api.get(f"/audit/contracts/{cid}")).status_code == 200


async def test_a_statement_for_a_period_and_a_period_refused_next_to_its_field(api, world):
    w = world
    cid, _ = await audited(w)
    await sign_in(api, w.ids["auditor"], "auditor")
    r = await api.get(f"/audit/contracts/{cid}")
    assert r.status_code == 200 and 'name="from"' in r.text and 'name="to"' in r.text
    tomorrow = now().date() + dt.timedelta(days=1)
    r = await api.get(f"/audit/contracts/{cid}/statement.pdf",
                      params={"from": "2024-01-01", "to": tomorrow.isoformat()})
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]
    assert re.search(r'name="to"[^>]*>\s*<p class="field-error"[^>]*>the period ends on',
                     r.text)
    assert f'value="{tomorrow.isoformat()}"' in r.text  # what was asked is shown back
    r = await api.get(f"/audit/contracts/{cid}/statement.pdf",
                      params={"from": "2024-01-01", "to": "2024-03-31"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    assert 'filename="statement-' in r.headers["content-disposition"]
