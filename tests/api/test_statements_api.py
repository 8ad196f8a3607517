"""Statements and remittances over HTTP: who may fetch them, periods checked, and rendering
that does not hold up other requests."""

from __future__ import annotations

import asyncio
import datetime as dt
import io

import pikepdf

from outcomes import payments
from outcomes.schemas import PaymentRunIn
from tests.integration.test_statements import busy_contract


async def test_the_contracts_parties_fetch_the_statement_and_no_one_else(api, world):
    w = world
    cid, *_ = await busy_contract(w)
    path = f"/api/v1/contracts/{cid}/statement.pdf?from=2024-01-01&to={dt.date.today()}"
    for role in ("auditor", "commissioner", "co_commissioner", "provider", "admin"):
        r = await api.get(path, headers=w.headers(role))
        assert r.status_code == 200, (role, r.text)
        assert r.headers["content-type"] == "application/pdf"
        assert "attachment; filename=" in r.headers["content-disposition"]
        with pikepdf.open(io.BytesIO(r.content)) as doc:
            assert doc.open_metadata()["pdfaid:part"] == "3"
    for role in ("other_auditor", "other_commissioner", "other_provider"):
        r = await api.get(path, headers=w.headers(role))
        assert r.status_code == 404, role
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "contract_not_found"
    assert (await api.get(path)).status_code == 401


async def test_the_period_is_checked(api, world):
    w = world
    cid, *_ = await busy_contract(w)
    base = f"/api/v1/contracts/{cid}/statement.pdf"
    r = await api.get(f"{base}?from=2025-01-01&to=2024-01-01", headers=w.headers("auditor"))
    assert r.status_code == 422 and r.json()["code"] == "invalid_period"
    for bad in ("from=2024-13-01", "to=yesterday", "from=2024-02-30"):
        r = await api.get(f"{base}?{bad}", headers=w.headers("auditor"))
        assert r.status_code == 400, bad
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_the_remittance_is_for_paid_runs_and_the_contracts_parties(api, world):
    w = world
    *_, run_id = await busy_contract(w)
    r = await api.get(f"/api/v1/payment-runs/{run_id}/remittance.pdf",
                      headers=w.headers("provider"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    with pikepdf.open(io.BytesIO(r.content)) as doc:
        assert set(doc.attachments) == {"remittance.csv"}
    r = await api.get(f"/api/v1/payment-runs/{run_id}/remittance.pdf",
                      headers=w.headers("other_provider"))
    assert r.status_code == 404 and r.json()["code"] == "payment_run_not_found"
    # A run that is not paid yet has no remittance.
    _, draft = await _approved_unpaid(w)
    r = await api.get(f"/api/v1/payment-runs/{draft.id}/remittance.pdf",
                      headers=w.headers("provider"))
    assert r.status_code == 409 and r.json()["code"] == "run_not_paid"


async def _approved_unpaid(w):
    from tests.integration.test_ledger import approved_claims

    cid, _, boss = await approved_claims(w, 1)
    run, _ = await payments.create_run(boss, cid, PaymentRunIn(
        period_from=dt.date(2024, 1, 1), period_to=dt.date(2024, 12, 31)), None, "d")
    return cid, run


async def test_other_requests_go_on_while_a_statement_renders(api, world):
    w = world
    cid, *_ = await busy_contract(w)
    rendering = asyncio.create_task(api.get(f"/api/v1/contracts/{cid}/statement.pdf",
                                            headers=w.headers("auditor")))
    await asyncio.sleep(0.05)  # the statement request is in the renderer now
    balance = await api.get(f"/api/v1/contracts/{cid}/balance", headers=w.headers("auditor"))
    assert balance.status_code == 200
    assert not rendering.done()  # answered while the statement was still being rendered
    assert (await rendering).status_code == 200
