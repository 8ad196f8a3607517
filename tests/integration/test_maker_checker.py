"""Maker and checker: whoever drafted a payment run (a person, or an API key) cannot approve
it, unless the organisation allows one person alone; then the run says it was approved
alone. On both engines, through the service and through the API."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
import pytest

from contracts import directory
from contracts.errors import Conflict, Forbidden, NotFound
from outcomes import payments, verification
from outcomes.schemas import PaymentRunIn
from tests.helpers import key, principal, world
from tests.web.commissioner_data import drawn

PERIOD = PaymentRunIn(period_from=dt.date(2024, 1, 1), period_to=dt.date(2024, 12, 31))


async def draft(w, n: int = 2):
    cid, ids = await drawn(w, n, sampled=False)
    maker = principal(w.ids["commissioner"], "commissioner")
    await verification.approve(maker, cid, ids, "")
    run, _ = await payments.create_run(maker, cid, PERIOD, None, "h")
    return cid, run, maker


async def test_the_maker_of_a_run_is_not_its_checker(db):
    w = await world()
    cid, run, maker = await draft(w)
    with pytest.raises(Conflict) as refused:
        await payments.approve_run(maker, run.id)
    assert refused.value.code == "same_person"
    assert (await payments.get_run(maker, run.id)).status == "draft"
    checker = msgspec.structs.replace(maker, label="test:checker")
    out = await payments.approve_run(checker, run.id)
    assert (out.status, out.approved_by, out.approved_alone) == (
        "approved", "test:checker", False)
    # Approved, it stays approved whoever asks again; the maker pays.
    assert (await payments.approve_run(maker, run.id)).approved_by == "test:checker"
    paid = await payments.pay_run(maker, run.id)
    assert paid.status == "paid" and paid.approved_alone is False


async def test_one_person_alone_where_the_organisation_allows_it_and_recorded_so(db):
    w = await world()
    admin = principal(w.ids["admin"], "admin")
    cid, run, maker = await draft(w)
    with pytest.raises(Forbidden) as not_admin:
        await directory.set_single_approver(maker, w.ids["commissioner"], True)
    assert not_admin.value.code == "admin_only"
    with pytest.raises(NotFound):
        await directory.set_single_approver(admin, uuid.UUID(int=1), True)
    assert await directory.single_approver(w.ids["commissioner"]) is False
    assert await directory.set_single_approver(admin, w.ids["commissioner"], True) is True
    assert await directory.single_approver(w.ids["commissioner"]) is True
    # The setting is the approver's organisation's: the co-commissioner's is unchanged.
    assert await directory.single_approver(w.ids["co_commissioner"]) is False
    out = await payments.approve_run(maker, run.id)
    assert out.status == "approved" and out.approved_alone is True
    assert out.approved_by == out.created_by == maker.label
    # Forbidden again, the next run needs a second person once more.
    await directory.set_single_approver(admin, w.ids["commissioner"], False)
    cid2, run2, _ = await draft(w)
    with pytest.raises(Conflict) as refused:
        await payments.approve_run(maker, run2.id)
    assert refused.value.code == "same_person"
    # What was approved alone stays recorded so.
    assert (await payments.get_run(maker, run.id)).approved_alone is True


async def test_an_api_key_that_drafted_cannot_approve_with_the_same_key(api, world):
    w = world
    cid, ids = await drawn(w, 1, sampled=False)
    boss = w.headers("commissioner")
    r = await api.post(f"/api/v1/contracts/{cid}/approvals", json={"claim_ids": [str(ids[0])]},
                       headers=boss)
    assert r.status_code == 200
    r = await api.post(f"/api/v1/contracts/{cid}/payment-runs",
                       json={"period_from": "2024-01-01", "period_to": "2024-12-31"},
                       headers={**boss, "Idempotency-Key": "run-1"})
    run = r.json()
    assert run["created_by"].startswith("key:") and run["approved_alone"] is False
    r = await api.post(f"/api/v1/payment-runs/{run['id']}/approve", headers=boss)
    assert r.status_code == 409 and r.json()["code"] == "same_person"
    second = {"Authorization": f"Bearer {await key(w.ids['commissioner'])}"}
    r = await api.post(f"/api/v1/payment-runs/{run['id']}/approve", headers=second)
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert r.json()["approved_by"] != run["created_by"] and r.json()["approved_alone"] is False
