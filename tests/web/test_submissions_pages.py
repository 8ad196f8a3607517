"""Submissions in the browser: a contract's batches with their status and counts, a batch's
validation report with its rejections grouped by reason, and the participants with their
outcomes. For the contract's parties; a partner sees its own, as the API scopes it."""

from __future__ import annotations

import re
import uuid

from tests.helpers import active_contract, partnership
from tests.web.helpers import fragment, sign_in

ENROLLED = "2024-02-01"


def enrolments(*pseudonyms: str) -> list[dict]:
    return [{"pseudonym": p, "enrolled_on": ENROLLED, "age_band": "18-24", "area": "Roskilde"}
            for p in pseudonyms]


def claim(ref: str, pseudonym: str, metric: str = "housing_entry",
          on: str = "2024-03-01") -> dict:
    return {"client_ref": ref, "pseudonym": pseudonym, "metric_code": metric,
            "achieved_on": on, "evidence_ref": f"doc-{ref}"}


async def send(api, w, cid, kind: str, rows: list[dict], who: str = "provider") -> dict:
    headers = {**w.headers(who), "Idempotency-Key": uuid.uuid4().hex}
    r = await api.post(f"/api/v1/contracts/{cid}/{kind}", json=rows, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def submitted(api, w):
    """A contract with three participants, two claims accepted and three rejected: two not
    enrolled, one not on the rate card."""
    cid = await active_contract(w)
    await send(api, w, cid, "participants", enrolments("ROS-1", "ROS-2", "ROS-3"))
    report = await send(api, w, cid, "claims", [
        claim("ref-c1", "ROS-1"), claim("ref-c2", "ROS-2"), claim("ref-c3", "NOBODY-1"),
        claim("ref-c4", "NOBODY-2"), claim("ref-c5", "ROS-3", metric="no_such_metric")])
    assert (report["accepted"], report["rejected"]) == (2, 3)
    return cid, report["batch_id"]


def cells(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>|\s+", " ", c).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)]


async def test_the_batches_of_a_contract_with_their_counts_and_a_filter(api, world):
    w = world
    cid, batch_id = await submitted(api, w)
    await sign_in(api, w.ids["commissioner"], "commissioner")
    r = await api.get(f"/contracts/{cid}/batches")
    assert r.status_code == 200, r.text
    assert "2 batches" in r.text
    assert f'href="/batches/{batch_id}"' in r.text
    assert "partial" in r.text and "accepted" in r.text
    row = next(c for c in r.text.split("<tr>") if f"/batches/{batch_id}" in c)
    assert [x for x in cells(row) if x.isdigit()] == ["5", "2", "3"]
    r = await api.get(f"/contracts/{cid}/batches", params={"status": "partial"})
    assert "1 batch" in r.text and f"/batches/{batch_id}" in r.text
    r = await api.get(f"/contracts/{cid}/batches", params={"status": "rejected"})
    assert "No batch matches these filters." in r.text
    # HTMX asks for the rows alone.
    r = await fragment(api, f"/contracts/{cid}/batches?status=partial")
    assert r.status_code == 200 and "<html" not in r.text and 'id="batch-rows"' in r.text


async def test_an_empty_contract_says_how_batches_arrive(api, world):
    w = world
    cid = await active_contract(w)
    await sign_in(api, w.ids["provider"], "provider")
    r = await api.get(f"/contracts/{cid}/batches")
    assert r.status_code == 200 and "No batch has been sent yet" in r.text
    r = await api.get(f"/contracts/{cid}/participants")
    assert r.status_code == 200 and "Nobody is enrolled yet" in r.text


async def test_the_batches_are_paginated(api, world):
    from api.web import submissions

    w = world
    cid = await active_contract(w)
    for i in range(3):
        await send(api, w, cid, "participants", enrolments(f"P-{i}"))
    await sign_in(api, w.ids["commissioner"], "commissioner")
    old, submissions.PAGE = submissions.PAGE, 2
    try:
        first = await api.get(f"/contracts/{cid}/batches")
        assert "3 batches" in first.text
        link = re.search(r'href="(/contracts/[^"]+/batches\?cursor=[^"]+)"', first.text)
        assert link, first.text
        second = await api.get(link.group(1).replace("&amp;", "&"))
        shown = set(re.findall(r'href="/batches/([0-9a-f-]+)"', first.text))
        more = set(re.findall(r'href="/batches/([0-9a-f-]+)"', second.text))
        assert len(shown) == 2 and len(more) == 1 and not shown & more
    finally:
        submissions.PAGE = old


async def test_a_batch_report_groups_its_rejections_by_reason(api, world):
    w = world
    cid, batch_id = await submitted(api, w)
    await sign_in(api, w.ids["provider"], "provider")
    r = await api.get(f"/batches/{batch_id}")
    assert r.status_code == 200, r.text
    text = r.text
    assert "5 rows: 2 accepted, 3 rejected" in text
    # Each reason with its count, its meaning and the rows it refused.
    assert re.search(r"<code>not_enrolled</code>.*?no participant with this pseudonym.*?"
                     r'<td class="num">2</td>', text, re.S)
    assert re.search(r"<code>not_on_rate_card</code>.*?not on the contract's rate card.*?"
                     r'<td class="num">1</td>', text, re.S)
    assert text.index("not_enrolled") < text.index("not_on_rate_card")  # the most first
    assert "ref-c3" in text and "ref-c4" in text and "ref-c5" in text
    assert "ref-c1" not in text
    # One reason's rows alone.
    r = await api.get(f"/batches/{batch_id}", params={"reason": "not_enrolled"})
    assert "Rows rejected for not_enrolled" in r.text and "ref-c3" in r.text
    assert "ref-c5" not in r.text


async def test_a_batch_with_every_row_accepted_has_nothing_to_correct(api, world):
    w = world
    cid = await active_contract(w)
    report = await send(api, w, cid, "participants", enrolments("ROS-1"))
    await sign_in(api, w.ids["auditor"], "auditor")
    r = await api.get(f"/batches/{report['batch_id']}")
    assert r.status_code == 200 and "Every row was accepted" in r.text


async def test_the_participants_with_their_outcomes_and_a_search(api, world):
    w = world
    cid, _ = await submitted(api, w)
    await sign_in(api, w.ids["commissioner"], "commissioner")
    r = await api.get(f"/contracts/{cid}/participants")
    assert r.status_code == 200, r.text
    assert "3 participants" in r.text
    row = next(c for c in r.text.split("<tr>") if "ROS-1" in c)
    assert "housing_entry" in row and "accepted" in row and "Roskilde" in row
    row = next(c for c in r.text.split("<tr>") if "ROS-3" in c)
    assert "none yet" in row
    r = await api.get(f"/contracts/{cid}/participants", params={"pseudonym": "ROS-2"})
    assert "1 participant" in r.text and "ROS-2" in r.text and "ROS-1" not in r.text
    r = await api.get(f"/contracts/{cid}/participants", params={"pseudonym": "ZZZ"})
    assert "No participant of this contract has the pseudonym ZZZ" in r.text
    r = await fragment(api, f"/contracts/{cid}/participants?pseudonym=ROS-1")
    assert "<html" not in r.text and 'id="participant-rows"' in r.text and "ROS-1" in r.text


async def test_only_the_contracts_parties_see_its_submissions(api, world):
    w = world
    cid, batch_id = await submitted(api, w)
    for who, role in (("commissioner", "commissioner"), ("co_commissioner", "commissioner"),
                      ("provider", "provider"), ("auditor", "auditor"), ("admin", "admin")):
        await sign_in(api, w.ids[who], role)
        for path in (f"/contracts/{cid}/batches", f"/batches/{batch_id}",
                     f"/contracts/{cid}/participants"):
            r = await api.get(path)
            assert r.status_code == 200, (who, path, r.text)
    for who, role in (("other_commissioner", "commissioner"), ("other_provider", "provider"),
                      ("other_auditor", "auditor")):
        await sign_in(api, w.ids[who], role)
        for path in (f"/contracts/{cid}/batches", f"/batches/{batch_id}",
                     f"/contracts/{cid}/participants"):
            r = await api.get(path)
            assert r.status_code == 404, (who, path)
            assert "Not found" in r.text


async def test_a_partner_sees_its_own_batches_and_participants(api, world):
    w = world
    cid = await partnership(w)
    mine = await send(api, w, cid, "participants", enrolments("A-1"), who="partner_a")
    theirs = await send(api, w, cid, "participants", enrolments("B-1"), who="partner_b")
    await sign_in(api, w.ids["partner_a"], "provider")
    r = await api.get(f"/contracts/{cid}/batches")
    assert f"/batches/{mine['batch_id']}" in r.text
    assert f"/batches/{theirs['batch_id']}" not in r.text
    assert (await api.get(f"/batches/{theirs['batch_id']}")).status_code == 404
    r = await api.get(f"/contracts/{cid}/participants")
    assert "A-1" in r.text and "B-1" not in r.text
    # The lead sees both, each batch with who sent it.
    await sign_in(api, w.ids["provider"], "provider")
    r = await api.get(f"/contracts/{cid}/batches")
    assert f"/batches/{mine['batch_id']}" in r.text
    assert f"/batches/{theirs['batch_id']}" in r.text and "Sent by" in r.text
